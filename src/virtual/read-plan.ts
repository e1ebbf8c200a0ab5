// The read plan of a virtual file: which extents a range touches, and how their bytes are fetched (spans read in parallel), planned for a sender, or streamed.
import { Readable } from 'node:stream';
import { HELD } from '../compose/layout.js';
import { VvfError } from '../errors.js';
import { checkReadRange } from '../sources/read-range.js';
import type { Source } from '../sources/source.js';
import type { ExtentTable } from './extent-table.js';
import type { SourceSet } from './opened-sources.js';

/** A piece of a planned range: held bytes, or a range of an opened source. */
export type PlannedPiece = Uint8Array | { index: number; source: Source; offset: number; length: number };

/** Options of {@link VirtualFile.stream}. */
export interface StreamOptions {
  /** Bytes per read (and per chunk pushed). Default 1 MiB. */
  chunkSize?: number;
}

/** Source reads one `read()` keeps in flight at most, so a read over thousands of extents doesn't flood a source. */
const MAX_PARALLEL_READS = 32;
const DEFAULT_CHUNK_SIZE = 1 << 20;
/**
 * Bytes of a source skipped between two extents that are still read together: a
 * fragment's moof and mdat header sit between its chunks and the next fragment's.
 */
const MAX_SPAN_GAP = 64 << 10;
/** Largest single source read made of several extents. */
const MAX_SPAN = 8 << 20;
const EMPTY = new Uint8Array(0);

/** Extents of one source read with one source read: members are (piece index, source offset, length) triples. */
interface Span {
  source: number;
  start: number;
  end: number;
  /** Where the span's bytes go in the caller's buffer. */
  place: number;
  members: number[];
}

/**
 * Calls `visit` for each extent overlapping `[from, to)` (0 <= from < to <= size), in
 * order, with its source index ({@link HELD}: held bytes), the offset of the overlap in that
 * source (or in the held bytes) and its length; extents of a table not checked up front
 * are checked as they are reached.
 */
export function forEachExtent(
  table: ExtentTable,
  from: number,
  to: number,
  visit: (index: number, at: number, length: number) => void,
): void {
  const { ends, sourceIndex, offsets } = table;
  const lazy = !table.validated;
  const first = table.extentAt(from);
  let start = first === 0 ? 0 : ends[first - 1]!;
  for (let i = first; start < to; i++) {
    if (lazy) table.checkExtent(i);
    const end = ends[i]!;
    const a = Math.max(start, from);
    visit(sourceIndex[i]!, offsets[i]! + (a - start), Math.min(end, to) - a);
    start = end;
  }
}

/**
 * Bytes `[from, to)` (0 <= from < to <= size) as pieces in order. Extents of one source
 * that lie close together in it (a fragment's chunks, separated only by its moof) are
 * read with one source read and sliced, whatever other sources' extents sit between
 * them in the virtual file: a 1 MiB range of an interleaved file is then two reads, not
 * one per half-second chunk. With `scratch`, source bytes go into it when they all fit.
 */
export async function readExtents(
  table: ExtentTable,
  sources: SourceSet,
  from: number,
  to: number,
  scratch?: Uint8Array,
): Promise<Uint8Array[]> {
  const pieces: Uint8Array[] = [];
  const spans: Span[] = [];
  // The span each source is growing, by source index.
  const open = new Map<number, Span>();
  forEachExtent(table, from, to, (index, at, length) => {
    if (index === HELD) {
      pieces.push(table.bytes.subarray(at, at + length));
      return;
    }
    let span = open.get(index);
    if (span === undefined || at < span.end || at - span.end > MAX_SPAN_GAP || at + length - span.start > MAX_SPAN) {
      span = { source: index, start: at, end: at, place: 0, members: [] };
      spans.push(span);
      open.set(index, span);
    }
    span.end = at + length;
    span.members.push(pieces.length, at, length);
    pieces.push(EMPTY);
  });
  // Spans go into the caller's buffer, one after another, when they all fit in it.
  let total = 0;
  for (const span of spans) total += span.end - span.start;
  const into = scratch !== undefined && total <= scratch.length;
  let place = 0;
  for (const span of spans) {
    span.place = place;
    place += span.end - span.start;
  }
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < spans.length && !failed) {
      const span = spans[next++]!;
      const length = span.end - span.start;
      let bytes: Uint8Array;
      try {
        bytes = await readSource(
          await sources.get(span.source),
          span.start,
          length,
          into ? scratch.subarray(span.place, span.place + length) : undefined,
        );
      } catch (e) {
        failed = true;
        throw e;
      }
      const m = span.members;
      for (let k = 0; k < m.length; k += 3) {
        const at = m[k + 1]! - span.start;
        pieces[m[k]!] = bytes.subarray(at, at + m[k + 2]!);
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = Math.min(spans.length, MAX_PARALLEL_READS); w > 0; w--) workers.push(worker());
  await Promise.all(workers);
  return pieces;
}

/**
 * Pieces of `length` bytes in all as one buffer. A lone whole source read is the
 * caller's; held bytes (views of `held`) and slices of a larger read are copied.
 */
export function joinPieces(pieces: readonly Uint8Array[], length: number, held: Uint8Array): Uint8Array {
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  if (only !== undefined && only.buffer !== held.buffer && only.byteLength === only.buffer.byteLength) return only;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * What bytes `[from, to)` are made of, without reading any source: views of the held
 * bytes, and ranges of opened sources (neighbouring extents that are contiguous in their
 * source merged into one range). Sources are opened here, so a source that is gone fails now.
 */
export async function planExtents(table: ExtentTable, sources: SourceSet, from: number, to: number): Promise<PlannedPiece[]> {
  const raw: (Uint8Array | { index: number; offset: number; length: number })[] = [];
  const wanted: number[] = [];
  forEachExtent(table, from, to, (index, at, n) => {
    const last = raw[raw.length - 1];
    if (index === HELD) raw.push(table.bytes.subarray(at, at + n));
    else if (last !== undefined && !(last instanceof Uint8Array) && last.index === index && last.offset + last.length === at)
      last.length += n;
    else {
      raw.push({ index, offset: at, length: n });
      if (!wanted.includes(index)) wanted.push(index);
    }
  });
  const opened = await Promise.all(wanted.map((i) => sources.get(i)));
  return raw.map((p) => (p instanceof Uint8Array ? p : { ...p, source: opened[wanted.indexOf(p.index)]! }));
}

/**
 * A stream of bytes `[start, end)` of `file`. It reads one chunk at a time, only when the
 * consumer asks for more (so a slow consumer holds back the reads); a failed read
 * destroys the stream with its VvfError, so the output is never short without an
 * error. A range outside the file throws SOURCE_RANGE at once.
 */
export function streamRange(
  file: Pick<Source, 'key' | 'size' | 'read'>,
  start: number,
  end: number,
  opts: StreamOptions,
): Readable {
  if (!Number.isSafeInteger(end) || end < start) {
    throw new VvfError('SOURCE_RANGE', `invalid range ${start}-${end}`, { source: file.key });
  }
  checkReadRange(start, end - start, file.size, file.key);
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new VvfError('USAGE', `chunkSize must be a positive integer, got ${chunkSize}`, { source: file.key });
  }
  let position = start;
  return new Readable({
    read() {
      if (position >= end) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, end - position);
      const at = position;
      position += length;
      file.read(at, length).then(
        (bytes) => {
          if (!this.destroyed) this.push(bytes);
        },
        (e: unknown) => {
          this.destroy(e instanceof Error ? e : new VvfError('BUG', `read failed: ${String(e)}`, { source: file.key }));
        },
      );
    },
  });
}

/**
 * One read of `source`, into `target` when given (its length is the read's); anything
 * but exactly `length` bytes is an error.
 */
async function readSource(source: Source, offset: number, length: number, target?: Uint8Array): Promise<Uint8Array> {
  if (target !== undefined && source.readInto !== undefined) {
    await source.readInto(target, offset);
    return target;
  }
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new VvfError('SOURCE_BAD_RESPONSE', `read of ${length} bytes returned ${bytes.length}`, {
      source: source.key,
      offset,
    });
  }
  if (target === undefined) return bytes;
  target.set(bytes);
  return target;
}
