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
  /**
   * What the last fragment's metadata took (from its first box to the end of the mdat
   * header), shared across the segments of one track so each can be read in one go.
   */
  fragmentHint?: { bytes: number };
}

/** Slack on the read-ahead: a fragment's metadata may be a little larger than the last one's. */
const FRAGMENT_SLACK = 64;

/** Bytes read ahead for a box header: enough for a 64-bit size, not more. */
const HEADER_READ = 16;

/**
 * Fragments smaller than this (moof through mdat) are read in windows of READ_AHEAD
 * bytes, several fragments per read: reading the sample data in between costs less than
 * a read per fragment (an audio track of 2-second fragments is about 32 KB a fragment).
 */
export const SMALL_FRAGMENT = 128 * 1024;
export const READ_AHEAD = 1024 * 1024;

/**
 * Walks the top-level boxes of a source region reading only what it must: box headers,
 * and the bodies of metadata boxes. A metadata box is read together with the header of
 * the box after it. Where a fragment starts (at the region's start, or after an mdat),
 * one read takes as many bytes as the previous fragment's metadata did (styp, sidx, moof
 * and the mdat header), plus a little: a fragment usually costs one read, and a read goes
 * at most that slack, or the difference from the previous fragment, into sample data.
 * Small fragments are read several at a time (see SMALL_FRAGMENT).
 */
export async function* scanBoxes(source: Source, opts: ScanOptions): AsyncGenerator<ScannedBox> {
  const end = opts.end ?? source.size;
  const wanted = opts.metadataTypes ?? METADATA_TYPES;
  const budget = opts.budget ?? { metadataBytes: 0 };
  let pos = opts.start ?? 0;
  let buf: Uint8Array = new Uint8Array(0);
  let bufStart = 0;
  let boxes = 0;
  const hint = opts.fragmentHint ?? { bytes: 0 };
  // Where the current run of metadata boxes began, -1 when not in one.
  let runStart = -1;
  let fragmentStart = true;
  // Bytes from the last fragment's first metadata box to its mdat's end.
  let lastFragmentSpan = Number.POSITIVE_INFINITY;

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
    let ahead = fragmentStart && hint.bytes > 0 ? hint.bytes + FRAGMENT_SLACK : HEADER_READ;
    if (fragmentStart && lastFragmentSpan < SMALL_FRAGMENT) ahead = Math.max(ahead, READ_AHEAD);
    fragmentStart = false;
    await ensure(pos, Math.min(HEADER_READ, end - pos), ahead);
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
      if (runStart < 0) runStart = pos;
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
      if (header.type === 'mdat') {
        if (runStart >= 0) {
          hint.bytes = pos + header.headerSize - runStart;
          lastFragmentSpan = pos + header.size - runStart;
        }
        fragmentStart = true;
      }
      runStart = -1;
      yield { header };
    }
    pos += header.size;
  }
}
