import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { BufferPool } from './buffer-pool.js';
import { evaluateConditions, httpDate, ifRangeAllows, type Validators } from './conditional.js';
import { sendError } from './errors.js';
import { type ByteRange, contentRange, parseRange, planMultipart, unsatisfiedRange } from './http-ranges.js';
import { type KernelPiece, kernelSender, sendToSocket, socketDescriptor } from './kernel-send.js';

export interface ServeFileOptions {
  cacheControl: string;
  maxRanges: number;
  lastModified: Date;
  /** Bytes per source read while streaming. */
  chunkSize?: number;
  /**
   * Send local files' bytes with sendfile(2) when the native addon is built and the
   * socket is plain TCP (default true): no copy through user space.
   */
  sendfile?: boolean;
  /** How long a client may stop reading before the response is cut (sendfile path; nginx's send_timeout). */
  sendTimeoutMs?: number;
  /** Bytes of a range handed to the kernel per native call (sendfile path; default 8 MiB). */
  sendWindow?: number;
  /** Told the count of body bytes sent behind `res.write` (the sendfile path). */
  onSent?: (bytes: number) => void;
  /**
   * Errors for which serveFile, when nothing has been sent yet, throws instead of answering,
   * so that the caller may answer with another file (a source changed: compiled again).
   */
  throwBeforeStart?: (e: unknown) => boolean;
  /**
   * Etags this file had before a source changed and it was compiled again with other bytes:
   * a request whose If-Match names one of them is told SOURCE_CHANGED in its 412.
   */
  previousEtags?: readonly string[];
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
    const ifMatch = header(req.headers['if-match']) ?? '';
    if (opts.previousEtags?.some((tag) => ifMatch.includes(tag))) {
      // The client holds bytes of the file as it was: say why its condition failed.
      const error = new VvfError('SOURCE_CHANGED', 'a source changed since this etag: the file now has other bytes');
      const text = `${JSON.stringify({ error: error.code, message: error.message })}\n`;
      res.writeHead(412, {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(text);
      return;
    }
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
    if (opts.sendfile !== false && (await sendByKernel(res, file, r, () => res.writeHead(status, out), opts))) return;
    await sendBody(res, file, [{ range: r }], chunk, () => res.writeHead(status, out), undefined, opts.throwBeforeStart);
    return;
  }
  const plan = planMultipart(range.ranges, file.size, file.contentType);
  const out = { ...headers, 'content-type': plan.contentType, 'content-length': plan.length };
  if (head) {
    res.writeHead(206, out).end();
    return;
  }
  await sendBody(res, file, plan.parts, chunk, () => res.writeHead(206, out), plan.tail, opts.throwBeforeStart);
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
/** Room in a read buffer beyond the chunk, for source bytes skipped between extents read together. */
const SLACK = 256 << 10;
/** Idle read buffers kept per chunk size (about 80 MiB with 1 MiB chunks). */
const MAX_IDLE_BUFFERS = 64;
const pools = new Map<number, BufferPool>();

function poolFor(chunk: number): BufferPool {
  let pool = pools.get(chunk);
  if (pool === undefined) {
    pool = new BufferPool(chunk + SLACK, MAX_IDLE_BUFFERS);
    pools.set(chunk, pool);
  }
  return pool;
}

/** A chunk being read: its pieces, and the pooled buffer they are read into. */
interface Pending {
  pieces: Promise<Uint8Array[]>;
  buffer: Uint8Array;
}

/**
 * Streams the parts: each part's head, then its bytes read `chunk` bytes at a time with
 * backpressure. The status line goes out (`start`) only once the first bytes are in hand.
 *
 * Each chunk comes as pieces ({@link VirtualFile.readPieces}): views of a few large
 * source reads (into a pooled buffer) and of the held header bytes, written corked so they
 * leave in one writev. The buffer goes back to the pool once the socket has taken the
 * bytes; a buffer whose read failed or was abandoned is left to the GC, since a read in
 * flight may still write into it. Up to {@link READ_AHEAD} bytes are read ahead while
 * earlier chunks are written, so reads and socket writes overlap.
 */
async function sendBody(
  res: ServerResponse,
  file: VirtualFile,
  parts: { range: ByteRange; head?: Uint8Array }[],
  chunk: number,
  start: () => void,
  tail?: Uint8Array,
  throwBeforeStart?: (e: unknown) => boolean,
): Promise<void> {
  const pool = poolFor(chunk);
  let started = false;
  try {
    for (const part of parts) {
      const end = part.range.end + 1;
      let head = part.head;
      const queue: Pending[] = [];
      let next = part.range.start;
      const readAhead = () => {
        while (next < end && queue.length * chunk < READ_AHEAD) {
          const length = Math.min(chunk, end - next);
          const buffer = pool.take();
          const pieces = file.readPieces(next, length, buffer);
          // Awaited in order below; this only keeps a failure after the client left from being unhandled.
          pieces.catch(() => undefined);
          queue.push({ pieces, buffer });
          next += length;
        }
      };
      readAhead();
      for (let pending = queue.shift(); pending !== undefined; pending = queue.shift()) {
        const pieces = await pending.pieces;
        if (res.destroyed) return;
        if (!started) {
          start();
          started = true;
        }
        readAhead();
        res.cork();
        if (head) {
          res.write(head);
          head = undefined;
        }
        let flowing = true;
        const last = pieces.length - 1;
        const buffer = pending.buffer;
        for (let i = 0; i < last; i++) flowing = res.write(pieces[i]!);
        flowing = res.write(pieces[last]!, (e) => {
          if (!e) pool.give(buffer);
        });
        res.uncork();
        if (!flowing) await drained(res);
        if (res.destroyed) return;
      }
    }
    if (tail) res.write(tail);
    res.end();
  } catch (e) {
    if (!started && throwBeforeStart?.(e)) throw e;
    sendError(res, e);
  }
}

/** Bytes planned and handed to the kernel per native call. */
const SEND_WINDOW = 8 << 20;
const DEFAULT_SEND_TIMEOUT = 60_000;

/**
 * Sends a range with sendfile(2): each window of the range is planned
 * ({@link VirtualFile.planPieces}: held bytes and ranges of opened files) and written by
 * one native call that moves file bytes from the page cache to the socket, as nginx does.
 * Node writes the status line and headers, which reach the kernel before any body byte;
 * nothing else writes to the socket until the last window is done. Returns false, having
 * sent nothing, when this cannot be used (no addon, TLS, a source that is not a local
 * file): the caller then streams through user space.
 */
async function sendByKernel(
  res: ServerResponse,
  file: VirtualFile,
  range: ByteRange,
  start: () => void,
  opts: ServeFileOptions,
): Promise<boolean> {
  const sender = kernelSender();
  // A response waiting behind a pipelined one has no socket yet: it streams as usual.
  const socket = res.socket;
  if (sender === null || socket === null || socketDescriptor(socket) === undefined) return false;
  const end = range.end + 1;
  let at = range.start;
  let started = false;
  try {
    while (at < end) {
      const length = Math.min(opts.sendWindow ?? SEND_WINDOW, end - at);
      const plan = await file.planPieces(at, length);
      // Bytes held in memory alone (the head of the file) go out faster with a plain write.
      if (!started && plan.every((p) => p instanceof Uint8Array)) return false;
      if (!plan.every((p) => p instanceof Uint8Array || p.source.descriptor !== undefined)) {
        if (!started) return false;
        throw new VvfError('BUG', 'a source without a descriptor in the middle of a sendfile response');
      }
      // One descriptor per source, held (so not closed or reused) until the kernel is done.
      const leases = new Map<Source, { fd: number; release(): void; check?(): void }>();
      try {
        const pieces: KernelPiece[] = [];
        for (const p of plan) {
          if (p instanceof Uint8Array) {
            pieces.push(p);
            continue;
          }
          let lease = leases.get(p.source);
          if (lease === undefined) {
            lease = await p.source.descriptor!();
            leases.set(p.source, lease);
          }
          pieces.push([lease.fd, p.offset, p.length]);
        }
        if (res.destroyed) return true;
        if (!started) {
          start();
          started = true;
          res.flushHeaders();
          // Usually the head went straight to the kernel; if Node had to queue it, wait.
          if (socket.writableLength > 0) await headersWritten(socket);
        }
        const fd = socketDescriptor(socket);
        if (fd === undefined || res.destroyed) {
          res.destroy();
          return true;
        }
        opts.onSent?.(await sendToSocket(sender, fd, pieces, opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT));
        // The kernel sent what the files held while it read them: a file rewritten since the
        // leases checked it may have given other bytes, so the response is cut (SOURCE_CHANGED).
        for (const lease of leases.values()) lease.check?.();
      } finally {
        for (const l of leases.values()) l.release();
      }
      at += length;
    }
    res.end();
  } catch (e) {
    if (!started && opts.throwBeforeStart?.(e)) throw e;
    sendError(res, e);
  }
  return true;
}

/** Resolves once everything Node has queued on the socket (the response head) is in the kernel. */
function headersWritten(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.write(EMPTY, () => resolve());
  });
}

const EMPTY = new Uint8Array(0);

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
