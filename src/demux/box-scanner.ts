import { VvfError } from '../errors.js';
import { type BoxHeader, readBoxHeaderAt } from '../isobmff/header.js';
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
 * Skipped boxes smaller than this count as a run of small boxes (free, skip, padding,
 * or a hostile file of a million empty boxes): the next header is read ahead in a block
 * twice the run's length so far, up to READ_AHEAD, so a run costs a few reads instead of
 * one per box. A read then goes at most the run's length into whatever follows it.
 */
const SMALL_BOX = 4096;

/** Most boxes in one yielded batch. */
const BATCH = 256;

/**
 * Walks the top-level boxes of a source region reading only what it must: box headers,
 * and the bodies of metadata boxes. A metadata box is read together with the header of
 * the box after it. Where a fragment starts (at the region's start, or after an mdat),
 * one read takes as many bytes as the previous fragment's metadata did (styp, sidx, moof
 * and the mdat header), plus a little: a fragment usually costs one read, and a read goes
 * at most that slack, or the difference from the previous fragment, into sample data.
 * Small fragments are read several at a time (see SMALL_FRAGMENT).
 *
 * Boxes come in batches, in file order: those found between two reads (and before any
 * error), so a run of a million small boxes in one buffer costs no await per box.
 */
export async function* scanBoxes(source: Source, opts: ScanOptions): AsyncGenerator<ScannedBox[]> {
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
  // Bytes of the current run of small skipped boxes (see SMALL_BOX).
  let smallRun = 0;
  // Boxes found since the last yield. Yielded before every read and every error, so
  // the consumer sees them in the same order relative to reads as one at a time.
  let batch: ScannedBox[] = [];

  const covered = (at: number, n: number): boolean => at >= bufStart && at + n <= bufStart + buf.length;
  // Reads [at, at+n), or `want` bytes from `at` when more (never past the end).
  const fill = async (at: number, n: number, want: number): Promise<void> => {
    buf = await source.read(at, Math.min(end - at, Math.max(n, want)));
    bufStart = at;
  };

  while (end - pos >= 8) {
    if (++boxes > opts.limits.maxBoxes) {
      if (batch.length > 0) yield batch;
      batch = [];
      throw new VvfError('STRUCTURE_LIMIT', `more than ${opts.limits.maxBoxes} top-level boxes`, {
        source: source.key,
        offset: pos,
      });
    }
    let ahead = fragmentStart && hint.bytes > 0 ? hint.bytes + FRAGMENT_SLACK : HEADER_READ;
    if (fragmentStart && lastFragmentSpan < SMALL_FRAGMENT) ahead = Math.max(ahead, READ_AHEAD);
    if (smallRun > 0) ahead = Math.max(ahead, Math.min(2 * smallRun, READ_AHEAD));
    fragmentStart = false;
    const headerBytes = Math.min(HEADER_READ, end - pos);
    if (!covered(pos, headerBytes)) {
      if (batch.length > 0) yield batch;
      batch = [];
      await fill(pos, headerBytes, ahead);
    }
    // A uuid box's header carries 16 more bytes of extended type.
    const at = pos - bufStart;
    if (buf[at + 4] === 0x75 && buf[at + 5] === 0x75 && buf[at + 6] === 0x69 && buf[at + 7] === 0x64) {
      const uuidBytes = Math.min(2 * HEADER_READ, end - pos);
      if (!covered(pos, uuidBytes)) {
        if (batch.length > 0) yield batch;
        batch = [];
        await fill(pos, uuidBytes, 2 * HEADER_READ);
      }
    }
    let header: BoxHeader;
    try {
      header = readBoxHeaderAt(buf, pos - bufStart, bufStart, end);
    } catch (e) {
      if (batch.length > 0) yield batch;
      batch = [];
      throw e instanceof VvfError ? e.locate({ source: source.key }) : e;
    }
    if (wanted.has(header.type)) {
      smallRun = 0;
      if (runStart < 0) runStart = pos;
      budget.metadataBytes += header.size;
      if (budget.metadataBytes > opts.limits.maxMetadataBytes) {
        if (batch.length > 0) yield batch;
        batch = [];
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
      if (!covered(pos, header.size)) {
        if (batch.length > 0) yield batch;
        batch = [];
        // Also fetch the next box's header so the following step needs no read of its own.
        await fill(pos, header.size, header.size + HEADER_READ);
      }
      const from = pos - bufStart;
      batch.push({ header, bytes: buf.subarray(from, from + header.size) });
    } else {
      if (header.type === 'mdat') {
        if (runStart >= 0) {
          hint.bytes = pos + header.headerSize - runStart;
          lastFragmentSpan = pos + header.size - runStart;
        }
        fragmentStart = true;
      }
      runStart = -1;
      smallRun = header.size < SMALL_BOX ? smallRun + header.size : 0;
      batch.push({ header });
    }
    pos += header.size;
    // Short batches: a batch held across a whole buffer of tiny boxes would outlive the
    // young generation and make the collector copy it.
    if (batch.length >= BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
