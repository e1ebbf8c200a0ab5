import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { evaluateConditions, httpDate, ifRangeAllows, type Validators } from './conditional.js';
import { sendError } from './errors.js';
import { type ByteRange, contentRange, parseRange, planMultipart, unsatisfiedRange } from './http-ranges.js';

export interface ServeFileOptions {
  cacheControl: string;
  maxRanges: number;
  lastModified: Date;
  /** Bytes per source read while streaming. */
  chunkSize?: number;
}

const CHUNK = 1 << 20;

/**
 * Answers GET or HEAD for a virtual file as nginx answers for a static file: validators,
 * conditional requests, single and multiple ranges, 416. The first bytes are read before
 * the status line is sent, so a source that is down gives a 502/504 with a JSON body;
 * a failure after that cuts the connection, never ending a body short as if complete.
 */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: VirtualFile,
  opts: ServeFileOptions,
): Promise<void> {
  const validators: Validators = { etag: file.etag, lastModified: opts.lastModified };
  const headers: Record<string, string | number> = {
    'accept-ranges': 'bytes',
    etag: file.etag,
    'last-modified': httpDate(opts.lastModified),
    'cache-control': opts.cacheControl,
  };
  const condition = evaluateConditions(
    {
      method: req.method ?? 'GET',
      ...optional('ifMatch', req.headers['if-match']),
      ...optional('ifNoneMatch', req.headers['if-none-match']),
      ...optional('ifModifiedSince', req.headers['if-modified-since']),
      ...optional('ifUnmodifiedSince', req.headers['if-unmodified-since']),
    },
    validators,
  );
  if (condition === 'not-modified') {
    res.writeHead(304, headers).end();
    return;
  }
  if (condition === 'precondition-failed') {
    res.writeHead(412, { ...headers, 'content-length': 0 }).end();
    return;
  }
  const head = req.method === 'HEAD';
  const rangeHeader = ifRangeAllows(header(req.headers['if-range']), validators) ? header(req.headers.range) : undefined;
  const range = parseRange(rangeHeader, file.size, { maxRanges: opts.maxRanges });
  const chunk = opts.chunkSize ?? CHUNK;

  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': unsatisfiedRange(file.size), 'content-length': 0 }).end();
    return;
  }
  if (range.kind === 'none' || range.ranges.length === 1) {
    const r: ByteRange = range.kind === 'none' ? { start: 0, end: file.size - 1 } : range.ranges[0]!;
    const length = file.size === 0 ? 0 : r.end - r.start + 1;
    const status = range.kind === 'none' ? 200 : 206;
    const out = { ...headers, 'content-type': file.contentType, 'content-length': length };
    if (status === 206) Object.assign(out, { 'content-range': contentRange(r, file.size) });
    if (head || length === 0) {
      res.writeHead(status, out).end();
      return;
    }
    await sendBody(res, file, [{ range: r }], chunk, () => res.writeHead(status, out));
    return;
  }
  const plan = planMultipart(range.ranges, file.size, file.contentType);
  const out = { ...headers, 'content-type': plan.contentType, 'content-length': plan.length };
  if (head) {
    res.writeHead(206, out).end();
    return;
  }
  await sendBody(res, file, plan.parts, chunk, () => res.writeHead(206, out), plan.tail);
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function optional<K extends string>(key: K, v: string | string[] | undefined): Partial<Record<K, string>> {
  const h = header(v);
  return h === undefined ? {} : ({ [key]: h } as Record<K, string>);
}

/** Bytes of a body read ahead of the socket: reads proceed while earlier bytes are written. */
const READ_AHEAD = 4 << 20;
/** Reads one response keeps in flight at most (as VirtualFile.read does for one read). */
const MAX_PIECES = 32;
/** Extents shorter than this are read together with their neighbours when those are short too. */
const MIN_PIECE = 64 << 10;

/**
 * Streams the parts: each part's head, then its bytes read piece by piece with
 * backpressure. The status line goes out (`start`) only once the first piece is in hand.
 *
 * A piece does not cross an extent boundary of the virtual file, so its read is one
 * source read whose buffer is written as it is: a read across extents allocates a
 * buffer and copies every piece into it, twice the allocation, which on a fast stream
 * kept V8 in back-to-back major GCs. (Runs of short extents are still read together.)
 * Pieces are at most `chunk` bytes, and up to {@link READ_AHEAD} bytes of them are read
 * ahead while earlier ones are written, so reads and socket writes overlap.
 */
async function sendBody(
  res: ServerResponse,
  file: VirtualFile,
  parts: { range: ByteRange; head?: Uint8Array }[],
  chunk: number,
  start: () => void,
  tail?: Uint8Array,
): Promise<void> {
  const ends = extentEnds(file);
  let started = false;
  try {
    for (const part of parts) {
      const end = part.range.end + 1;
      let head = part.head;
      const queue: Promise<Uint8Array>[] = [];
      let next = part.range.start;
      let ahead = 0;
      const readAhead = () => {
        while (next < end && (queue.length === 0 || (ahead < READ_AHEAD && queue.length < MAX_PIECES))) {
          const limit = Math.min(end, next + chunk);
          let stop = Math.min(limit, extentEnd(ends, next));
          // Short extents side by side (sparse tracks, tiny samples): one read for several, not a read each.
          while (stop < limit && stop - next < MIN_PIECE) {
            const after = Math.min(limit, extentEnd(ends, stop));
            if (after - stop >= MIN_PIECE) break;
            stop = after;
          }
          const read = file.read(next, stop - next);
          // Awaited in order below; this only keeps a failure after the client left from being unhandled.
          read.catch(() => undefined);
          queue.push(read);
          ahead += stop - next;
          next = stop;
        }
      };
      readAhead();
      for (let read = queue.shift(); read !== undefined; read = queue.shift()) {
        const bytes = await read;
        ahead -= bytes.length;
        if (res.destroyed) return;
        if (!started) {
          start();
          started = true;
        }
        if (head) {
          res.write(head);
          head = undefined;
        }
        readAhead();
        if (!res.write(bytes)) await drained(res);
        if (res.destroyed) return;
      }
    }
    if (tail) res.write(tail);
    res.end();
  } catch (e) {
    sendError(res, e);
  }
}

/** The end of every extent of a file, made once per file (VirtualFile keeps its own private). */
const extentEndsOf = new WeakMap<VirtualFile, Float64Array>();

function extentEnds(file: VirtualFile): Float64Array {
  let ends = extentEndsOf.get(file);
  if (ends === undefined) {
    ends = new Float64Array(file.extentCount);
    let i = 0;
    for (const extent of file.extents()) ends[i++] = extent.end;
    extentEndsOf.set(file, ends);
  }
  return ends;
}

/** The end of the extent holding byte `offset`: the first end past it. */
function extentEnd(ends: Float64Array, offset: number): number {
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid]! > offset) hi = mid;
    else lo = mid + 1;
  }
  return ends[lo] ?? Number.POSITIVE_INFINITY;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
