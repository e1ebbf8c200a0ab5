import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import { Cursor } from '../isobmff/cursor.js';
import { type BoxHeader, readBoxHeader } from '../isobmff/header.js';
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

/**
 * Walks the top-level boxes of a source region reading only what it must: box headers,
 * and the bodies of metadata boxes. Reads are sized from the last metadata box seen, so
 * a moof and the mdat header after it usually arrive in one read.
 */
export async function* scanBoxes(source: Source, opts: ScanOptions): AsyncGenerator<ScannedBox> {
  const end = opts.end ?? source.size;
  const wanted = opts.metadataTypes ?? METADATA_TYPES;
  const budget = opts.budget ?? { metadataBytes: 0 };
  let pos = opts.start ?? 0;
  let buf: Uint8Array = new Uint8Array(0);
  let bufStart = 0;
  let ahead = 64;
  let boxes = 0;
  let previous = '';

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
    // After an mdat comes the next fragment: read as much as the last moof took, so
    // the moof and the mdat header behind it arrive together.
    await ensure(pos, Math.min(32, end - pos), previous === 'mdat' ? ahead : 64);
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
      await ensure(pos, header.size, header.size + Math.min(32, end - pos - header.size));
      const from = pos - bufStart;
      ahead = Math.max(64, header.size + 64);
      yield { header, bytes: buf.subarray(from, from + header.size) };
    } else {
      yield { header };
    }
    pos += header.size;
    previous = header.type;
  }
}
