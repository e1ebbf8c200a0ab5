import { VvfError } from '../errors.js';
import { Cursor } from '../isobmff/cursor.js';
import { type BoxHeader, readBoxHeader } from '../isobmff/header.js';
import type { Limits } from '../limits.js';
import type { Source } from '../sources/source.js';

/** Top-level boxes whose bytes the demuxer needs; everything else (mdat above all) is skipped. */
export const METADATA_TYPES: ReadonlySet<string> = new Set(['ftyp', 'styp', 'moov', 'moof', 'sidx', 'mfra']);

/** A top-level box: its header, and its bytes (header included) when it is metadata. */
export interface ScannedBox {
  header: BoxHeader;
  bytes?: Uint8Array;
}

export interface ScanOptions {
  limits: Pick<Limits, 'maxBoxes' | 'maxMetadataBytes'>;
  /** Absolute offset to start at (default 0). */
  start?: number;
  /** Absolute end of the region to scan (default the source size). */
  end?: number;
  /** Types whose bytes are read (default METADATA_TYPES). */
  metadataTypes?: ReadonlySet<string>;
  /** Running count of metadata bytes, shared across the scans of one movie. */
  budget?: { metadataBytes: number };
}

/** Bytes read ahead for a box header: enough for a 64-bit size, not more. */
const HEADER_READ = 16;

/**
 * Walks the top-level boxes of a source region reading only what it must: box headers,
 * and the bodies of metadata boxes. A metadata box is read together with the header of
 * the box after it, so a fragment costs two reads (moof header; moof + mdat header) and
 * no read reaches more than 16 bytes past a metadata box.
 */
export async function* scanBoxes(source: Source, opts: ScanOptions): AsyncGenerator<ScannedBox> {
  const end = opts.end ?? source.size;
  const wanted = opts.metadataTypes ?? METADATA_TYPES;
  const budget = opts.budget ?? { metadataBytes: 0 };
  let pos = opts.start ?? 0;
  let buf: Uint8Array = new Uint8Array(0);
  let bufStart = 0;
  let boxes = 0;

  // Makes [at, at+n) available in buf, reading `want` bytes (at least n) when it is not.
  const ensure = async (at: number, n: number, want: number): Promise<void> => {
    if (at >= bufStart && at + n <= bufStart + buf.length) return;
    const length = Math.min(end - at, Math.max(n, want));
    buf = await source.read(at, length);
    bufStart = at;
  };

  while (end - pos >= 8) {
    if (++boxes > opts.limits.maxBoxes) {
      throw new VvfError('STRUCTURE_LIMIT', `more than ${opts.limits.maxBoxes} top-level boxes`, {
        source: source.key,
        offset: pos,
      });
    }
    await ensure(pos, Math.min(HEADER_READ, end - pos), HEADER_READ);
    // A uuid box's header carries 16 more bytes of extended type.
    const at = pos - bufStart;
    if (buf[at + 4] === 0x75 && buf[at + 5] === 0x75 && buf[at + 6] === 0x69 && buf[at + 7] === 0x64) {
      await ensure(pos, Math.min(2 * HEADER_READ, end - pos), 2 * HEADER_READ);
    }
    let header: BoxHeader;
    try {
      header = readBoxHeader(new Cursor(buf, bufStart, '', pos - bufStart), end);
    } catch (e) {
      throw e instanceof VvfError ? e.locate({ source: source.key }) : e;
    }
    if (wanted.has(header.type)) {
      budget.metadataBytes += header.size;
      if (budget.metadataBytes > opts.limits.maxMetadataBytes) {
        throw new VvfError(
          'METADATA_LIMIT',
          `more than ${opts.limits.maxMetadataBytes} bytes of metadata (limit maxMetadataBytes)`,
          {
            source: source.key,
            offset: pos,
            path: header.type,
          },
        );
      }
      // Also fetch the next box's header so the following step needs no read of its own.
      await ensure(pos, header.size, header.size + HEADER_READ);
      const from = pos - bufStart;
      yield { header, bytes: buf.subarray(from, from + header.size) };
    } else {
      yield { header };
    }
    pos += header.size;
  }
}
