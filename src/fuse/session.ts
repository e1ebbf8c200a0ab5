// The FUSE request loop: native threads read requests off /dev/fuse and post them here;
// each is dispatched to the filesystem and answered with exactly one write (a writev of
// header + payload, or one splice of the whole reply), within a deadline. READs of files
// whose bytes are all local are answered on the native threads themselves (native-reads.ts).
import { closeSync, fstatSync, writev, writevSync } from 'node:fs';
import { isVvfError } from '../errors.js';
import { Errno, errnoName, errnoOf, FuseErrno } from './errno.js';
import type { DirEntry, FilePlan, FileRange, FuseFilesystem, ReadPlan, RequestContext } from './filesystem.js';
import {
  cString,
  decodeAccessMask,
  decodeBatchForget,
  decodeFh,
  decodeForget,
  decodeGetxattr,
  decodeInHeader,
  decodeInitIn,
  decodeInterrupt,
  decodeOpenFlags,
  decodeReadIn,
  direntplusSize,
  direntSize,
  direntType,
  encodeAttrOut,
  encodeEntryOut,
  encodeGetxattrOut,
  encodeInitOut,
  encodeNotifyInvalInode,
  encodeOpenOut,
  encodeOutHeader,
  encodeStatfsOut,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  IN_HEADER_SIZE,
  type InHeader,
  InitFlag,
  type InitOut,
  NO_REPLY_OPCODES,
  Opcode,
  OpenFlag,
  OUT_HEADER_SIZE,
  opcodeName,
  WRITING_OPCODES,
  writeDirent,
  writeDirentplus,
} from './kernel-abi.js';
import { type FuseNative, fuseNative, hasNativeReads, type SplicePiece } from './native.js';
import { NativeReads } from './native-reads.js';

/** Pages per request we ask for (FUSE_MAX_PAGES): 256 × 4 KiB, so one READ carries 1 MiB. */
const MAX_PAGES = 256;
/** Pipe sizes tried for spliced replies: a whole 1 MiB reply with its header, else fs.pipe-max-size's default (1 MiB). */
const PIPE_SIZES = [2 << 20, 1 << 20];
/** max_write we announce; nothing is written to a read-only mount, but the read buffer must hold it. */
const MAX_WRITE = 128 << 10;
/** Reader buffer: in header + fuse_write_in (40) + max_write, with room to spare (≥ FUSE_MIN_READ_BUFFER). */
const READ_BUFFER = IN_HEADER_SIZE + 40 + MAX_WRITE + 4096;
/** Background requests (readahead, async reads) the kernel may have in flight at once. */
const MAX_BACKGROUND = 64;
const CONGESTION_THRESHOLD = 48;
const DEFAULT_DEADLINE_MS = 5000;
/** writev takes at most IOV_MAX (1024) buffers; more pieces are joined first. */
const MAX_IOVECS = 1000;
/** READ buffers kept for reuse. */
const MAX_SCRATCH = 16;
/** Pipes kept for spliced replies (one per reply in flight). */
const MAX_PIPES = 16;
/**
 * The most threads reading /dev/fuse. READs answered on them wait for the disk there, so
 * several let cold reads overlap (one thread is always kept for the other requests): a
 * cold sequential reader keeps a dozen or more READs in flight (16 MiB of readahead).
 */
const DEFAULT_READER_THREADS = 32;
/** Reader threads started with the session; more start as READs keep them busy. */
const START_READER_THREADS = 4;
/** How often the reader threads' READ counters are added to the stats (and the metrics' callback). */
const NATIVE_STATS_MS = 1000;

const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const W_OK = 2;

/** Counters of a session, for the caller's metrics and logs. */
export interface FuseStats {
  /** Requests answered (or taken, for those that get no answer) by opcode name. */
  requests: Record<string, number>;
  /** Errors answered, by errno name (`EIO`, `ENOENT`, …). */
  errors: Record<string, number>;
  /** Bytes of READ replies. */
  bytesRead: number;
  /** READ replies written with splice (no copy through user space). */
  splicedReads: number;
  /** READs planned for splice that did not fit the pipe and were copied. */
  spliceFallbacks: number;
  /** Requests whose deadline passed (answered EIO). */
  timeouts: number;
  /** Requests the kernel interrupted (answered EINTR). */
  interrupts: number;
  /** Requests in flight now (READs answered on the reader threads are not counted). */
  inFlight: number;
  /** READs answered on the native reader threads, without the event loop (also in `requests.READ`). */
  nativeReads: number;
  /** READs of files answered natively that went through JS because every other thread was busy. */
  nativeBusy: number;
  /** Reader threads running now. */
  readerThreads: number;
  /** Open files whose READs found a source changed since the file was compiled (answered EIO). */
  sourceChanges: number;
}

/** Options of {@link FuseSession}. */
export interface FuseSessionOptions {
  /** A request not answered within this is answered EIO (a late result is dropped). Default 5000 ms. */
  deadlineMs?: number;
  /** Called once per answered request: opcode name, milliseconds taken, errno (0 on success). */
  onRequest?: (opcode: string, ms: number, errno: number) => void;
  /** Told about things worth a log line (a failed reply write, the connection ending). */
  log?: (message: string) => void;
  /**
   * Reply to READs whose bytes are in local files with splice(2), without copying them
   * through user space: `auto` (default) when the filesystem has readPlan and the pipes
   * can be made large enough, `off` to always writev.
   */
  splice?: 'auto' | 'off';
  /** Called once the kernel's INIT is answered, with what was agreed. */
  onInit?: (init: InitOut) => void;
  /**
   * The most threads reading /dev/fuse (1–64). With 2 or more (default 32; 4 start, more
   * as READs keep them busy), READs of files whose bytes are all held bytes and local
   * files are answered on those threads without the event loop, up to all threads but one
   * at a time (past that, through JS); 1 sends every request through JS.
   * Such a READ is not under `deadlineMs`, nor answered EINTR on an interrupt: a read of
   * a local file cannot be abandoned midway, so the disk bounds it (as it bounds a read of
   * the file itself); the thread always kept at /dev/fuse answers everything else meanwhile.
   */
  readerThreads?: number;
  /**
   * Pages per READ (FUSE_MAX_PAGES, 1–256). Default: 256 (1 MiB reads), or 248 when
   * replies are spliced through a pipe limited to 1 MiB (fs.pipe-max-size without
   * CAP_SYS_RESOURCE), so that a whole READ's reply fits the pipe.
   */
  maxPages?: number;
}

interface Pending {
  unique: bigint;
  opcode: number;
  started: number;
  timer: NodeJS.Timeout;
  controller: AbortController;
  /** A reply (a splice) is being written: neither the deadline nor an interrupt may answer now. */
  replying: boolean;
  done: boolean;
  /** Runs once the handler has succeeded and its reply (if any) is written: returns a READ's scratch buffer. */
  after?: () => void;
  /** Runs when the handler succeeded but its reply did not reach the kernel: undoes an OPEN. */
  undo?: () => void;
}

/** An open file: the kernel's fh is the session's own number; the filesystem's is kept beside it. */
interface OpenFile {
  nodeid: bigint;
  fsFh: bigint;
  /** Its READs are answered on the reader threads. */
  native: boolean;
}

type Payload = Uint8Array[];

/**
 * Serves a mounted FUSE connection's descriptor with a {@link FuseFilesystem}. Requests
 * are handled concurrently; every one that expects an answer gets exactly one, within
 * the deadline: the result, the error it failed with, EIO when the deadline passes,
 * EINTR when the kernel interrupts it, EIO when the session closes.
 */
export class FuseSession {
  private readonly counters: FuseStats = {
    requests: {},
    errors: {},
    bytesRead: 0,
    splicedReads: 0,
    spliceFallbacks: 0,
    timeouts: 0,
    interrupts: 0,
    inFlight: 0,
    nativeReads: 0,
    nativeBusy: 0,
    readerThreads: 1,
    sourceChanges: 0,
  };
  /** Resolves once the kernel's INIT has been answered. */
  readonly initialized: Promise<InitOut>;
  /** Resolves when the session ends: {@link close}, or the kernel ending the connection (unmounted elsewhere). */
  readonly ended: Promise<void>;
  private readonly fd: number;
  private readonly fs: FuseFilesystem;
  private readonly native: FuseNative;
  private readonly deadlineMs: number;
  private readonly opts: FuseSessionOptions;
  private readonly pending = new Map<bigint, Pending>();
  private readonly dirs = new Map<bigint, DirEntry[]>();
  private nextDirHandle = 1n;
  private reader: object | undefined;
  private closing = false;
  private fdClosed = false;
  private resolveInit!: (init: InitOut) => void;
  private resolveEnded!: () => void;
  private spliceEnabled: boolean;
  private readonly freePipes: [number, number][] = [];
  private readonly scratchPool: Buffer[] = [];
  private pipeCount = 0;
  private readonly pipeWaiters: ((pipe: [number, number] | undefined) => void)[] = [];
  private pipeSize = 0;
  private maxPages: number;
  private readonly maxPagesAsked: number | undefined;
  private splicesInFlight = 0;
  private notifiesInFlight = 0;
  private splicesDone: (() => void) | undefined;
  private closed: Promise<void> | undefined;
  private readonly readerThreads: number;
  private nativeReads: NativeReads | undefined;
  private nativeTimer: NodeJS.Timeout | undefined;
  private readonly openFiles = new Map<bigint, OpenFile>();
  private nextFh = 1n;

  constructor(fd: number, fs: FuseFilesystem, opts: FuseSessionOptions = {}) {
    this.fd = fd;
    this.fs = fs;
    this.opts = opts;
    this.native = fuseNative();
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.maxPagesAsked = opts.maxPages === undefined ? undefined : Math.max(1, Math.min(MAX_PAGES, Math.floor(opts.maxPages)));
    this.maxPages = this.maxPagesAsked ?? MAX_PAGES;
    this.spliceEnabled = (opts.splice ?? 'auto') === 'auto' && fs.readPlan !== undefined;
    const threads = Math.floor(opts.readerThreads ?? DEFAULT_READER_THREADS);
    this.readerThreads = Number.isFinite(threads) ? Math.max(1, Math.min(64, threads)) : DEFAULT_READER_THREADS;
    this.initialized = new Promise((resolve) => {
      this.resolveInit = resolve;
    });
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  /** Counters: requests by opcode, errors by errno, bytes read, … (READs answered natively included). */
  get stats(): FuseStats {
    this.syncNativeReads();
    return this.counters;
  }

  /** Starts reading requests. */
  start(): void {
    if (this.reader !== undefined || this.closing) return;
    if (this.spliceEnabled) this.makeFirstPipe();
    const native = this.readerThreads > 1 && this.fs.filePlan !== undefined && hasNativeReads(this.native);
    const reader = this.native.startReader(
      this.fd,
      READ_BUFFER,
      (request, errno, changedFh) => {
        // Called from the addon: an exception here would be uncaught and end the process.
        try {
          if (request !== null) this.onRequest(request);
          else if (changedFh !== undefined) this.onSourceChanged(changedFh);
          else this.onReaderEnd(errno ?? Errno.EIO);
        } catch (e) {
          this.opts.log?.(`FUSE request handling failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
      // READs answered on the threads are spliced through pipes of the size the first one got, or copied.
      {
        threads: native ? this.readerThreads : 1,
        startThreads: Math.min(START_READER_THREADS, this.readerThreads),
        pipeSize: this.spliceEnabled ? this.pipeSize : 0,
        fastMax: this.maxPages * 4096,
      },
    );
    this.reader = reader;
    if (native) {
      this.nativeReads = new NativeReads(this.native, reader);
      this.nativeTimer = setInterval(() => this.syncNativeReads(), NATIVE_STATS_MS);
      this.nativeTimer.unref();
    }
  }

  /** Whether READs of local files are answered on the native reader threads. */
  get nativeReading(): boolean {
    return this.nativeReads !== undefined;
  }

  /** Whether READ replies may be spliced (the filesystem has plans and the pipes could be made). */
  get splicing(): boolean {
    return this.spliceEnabled;
  }

  /**
   * Tells the kernel to drop its cached pages and attributes of a node (its content
   * changed). Written from the thread pool: the kernel may wait on a page a pending
   * READ holds, and that READ is answered from this thread.
   */
  notifyInvalInode(nodeid: bigint): void {
    if (this.fdClosed || this.closing) return;
    this.notifiesInFlight++;
    writev(this.fd, encodeNotifyInvalInode(nodeid), (e) => {
      this.notifiesInFlight--;
      this.backgroundWriteDone();
      // ENOENT: the kernel no longer knows the node, nothing to drop.
      if (e && (e as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log?.(`FUSE notify failed: ${e.message}`);
    });
  }

  /**
   * Ends the session: answers every request in flight EIO, stops reading and closes the
   * descriptor, which ends the kernel's connection (processes still holding files of a
   * lazily unmounted mount then get errors, not a hang). Unmount first: see FuseMount.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.failPending(Errno.EIO);
    this.closing = true;
    // Joins the threads (one answering a READ finishes it first) and closes the handles' descriptors.
    if (this.reader !== undefined) this.native.stopReader(this.reader);
    clearInterval(this.nativeTimer);
    this.syncNativeReads();
    this.openFiles.clear();
    // Writes on the thread pool (splices, notifications) must end before the descriptor's number can be reused.
    while (this.splicesInFlight > 0 || this.notifiesInFlight > 0) {
      await new Promise<void>((resolve) => {
        this.splicesDone = resolve;
      });
    }
    for (const waiter of this.pipeWaiters.splice(0)) waiter(undefined);
    for (const [r, w] of this.freePipes.splice(0)) {
      closeSync(r);
      closeSync(w);
    }
    if (!this.fdClosed) {
      this.fdClosed = true;
      closeSync(this.fd);
    }
    this.resolveEnded();
  }

  /** Answers every request in flight with `errno` now (their late results are dropped). */
  failPending(errno: number): void {
    for (const p of [...this.pending.values()]) {
      if (!p.replying) this.replyError(p, errno);
      p.controller.abort();
    }
  }

  private backgroundWriteDone(): void {
    if (this.splicesInFlight === 0 && this.notifiesInFlight === 0) {
      const done = this.splicesDone;
      this.splicesDone = undefined;
      done?.();
    }
  }

  /**
   * Adds what the reader threads answered since the last sync to the counters, and tells
   * `onRequest` of each READ (with its latency bucket's mean: the metrics' buckets are
   * among the threads' bounds, so each lands in the bucket its own latency would).
   */
  private syncNativeReads(): void {
    if (this.nativeReads === undefined) return;
    const d = this.nativeReads.delta();
    const s = this.counters;
    s.nativeBusy += d.passed;
    s.readerThreads = d.threads;
    if (d.reads === 0) return;
    s.requests.READ = (s.requests.READ ?? 0) + d.reads;
    s.nativeReads += d.reads;
    s.bytesRead += d.bytes;
    s.splicedReads += d.spliced;
    if (d.errors > 0) s.errors.EIO = (s.errors.EIO ?? 0) + d.errors;
    const onRequest = this.opts.onRequest;
    if (onRequest === undefined) return;
    // Which READs failed is not kept per bucket: the errors are told first, with the first latencies.
    let errors = d.errors;
    for (const { ms, count } of d.latencies) {
      for (let i = 0; i < count; i++) onRequest('READ', ms, errors-- > 0 ? Errno.EIO : 0);
    }
  }

  /** A READ on the threads found a source of `fh` changed: its file is to be compiled again. */
  private onSourceChanged(fh: bigint): void {
    this.counters.sourceChanges++;
    const file = this.openFiles.get(fh);
    if (file !== undefined) this.fs.sourceChanged?.(file.nodeid);
  }

  private onReaderEnd(errno: number): void {
    if (!this.closing) this.opts.log?.(`FUSE connection ended (${errnoName(errno)})`);
    void this.close();
  }

  private onRequest(buf: Buffer): void {
    if (this.closing || buf.length < IN_HEADER_SIZE) return;
    const h = decodeInHeader(buf);
    const body = buf.subarray(IN_HEADER_SIZE, Math.min(h.len, buf.length));
    const name = opcodeName(h.opcode);
    if (NO_REPLY_OPCODES.has(h.opcode)) {
      this.counters.requests[name] = (this.counters.requests[name] ?? 0) + 1;
      this.handleNoReply(h, body);
      return;
    }
    const controller = new AbortController();
    const p: Pending = {
      unique: h.unique,
      opcode: h.opcode,
      started: performance.now(),
      controller,
      replying: false,
      done: false,
      timer: setTimeout(() => {
        if (p.done || p.replying) return;
        this.counters.timeouts++;
        this.replyError(p, Errno.EIO);
        controller.abort();
      }, this.deadlineMs),
    };
    this.pending.set(h.unique, p);
    this.counters.inFlight = this.pending.size;
    const ctx: RequestContext = { uid: h.uid, gid: h.gid, pid: h.pid, signal: controller.signal };
    this.dispatch(h, body, ctx, p).then(
      (payload) => {
        if (payload !== undefined && !this.reply(p, 0, payload)) p.undo?.();
        p.after?.();
      },
      // Not `after`: a failed read may still have source reads writing into its scratch buffer.
      (e: unknown) => this.replyError(p, errnoOf(e)),
    );
  }

  private handleNoReply(h: InHeader, body: Buffer): void {
    try {
      if (h.opcode === Opcode.FORGET) {
        this.fs.forget(h.nodeid, decodeForget(body));
      } else if (h.opcode === Opcode.BATCH_FORGET) {
        for (const f of decodeBatchForget(body)) this.fs.forget(f.nodeid, f.nlookup);
      } else if (h.opcode === Opcode.INTERRUPT) {
        // The interrupted request was read before its INTERRUPT; not found = already answered.
        const p = this.pending.get(decodeInterrupt(body));
        // A READ answered on the reader threads is not pending here: it is answered when its
        // bytes are read (the disk bounds that), as FUSE allows for an interrupt.
        if (p !== undefined && !p.replying) {
          this.counters.interrupts++;
          this.replyError(p, Errno.EINTR);
          p.controller.abort();
        }
      }
    } catch (e) {
      this.opts.log?.(`FUSE ${opcodeName(h.opcode)} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Handles one request: a payload to answer with, or undefined when the reply was already written (spliced READ). */
  private async dispatch(h: InHeader, body: Buffer, ctx: RequestContext, p: Pending): Promise<Payload | undefined> {
    const fs = this.fs;
    if (WRITING_OPCODES.has(h.opcode)) throw new FuseErrno(Errno.EROFS);
    switch (h.opcode) {
      case Opcode.INIT:
        return [this.init(body)];
      case Opcode.DESTROY:
        return [];
      case Opcode.LOOKUP: {
        const name = cString(body, 0);
        if (Buffer.byteLength(name) > 255) throw new FuseErrno(Errno.ENAMETOOLONG);
        const entry = await fs.lookup(h.nodeid, name, ctx);
        // A plain ENOENT: the kernel does not cache it, so a file registered next is seen at once.
        if (entry === undefined) throw new FuseErrno(Errno.ENOENT);
        if (p.done) return undefined;
        fs.addReference(entry.nodeid);
        return [encodeEntryOut(entry)];
      }
      case Opcode.GETATTR: {
        const { attr, timeoutMs } = await fs.getattr(h.nodeid, ctx);
        return [encodeAttrOut(attr, timeoutMs)];
      }
      case Opcode.OPEN: {
        const flags = decodeOpenFlags(body);
        if ((flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0) throw new FuseErrno(Errno.EROFS);
        const opened = await fs.open(h.nodeid, ctx);
        return this.open(h.nodeid, opened.fh, opened.keepCache, ctx, p);
      }
      case Opcode.READ:
        return this.read(h, body, ctx, p);
      case Opcode.RELEASE:
        this.release(h.nodeid, decodeFh(body, 0));
        return [];
      case Opcode.FLUSH:
        return [];
      case Opcode.OPENDIR: {
        const listing = await fs.opendir(h.nodeid, ctx);
        const fh = this.nextDirHandle++;
        if (p.done) return undefined;
        this.dirs.set(fh, listing);
        return [encodeOpenOut(fh, 0)];
      }
      case Opcode.READDIR:
      case Opcode.READDIRPLUS:
        return [this.readdir(body, h.opcode === Opcode.READDIRPLUS)];
      case Opcode.RELEASEDIR:
        this.dirs.delete(decodeFh(body, 0));
        return [];
      case Opcode.STATFS:
        return [encodeStatfsOut(await fs.statfs(ctx))];
      case Opcode.GETXATTR: {
        const { size, name } = decodeGetxattr(body);
        const value = await fs.getxattr(h.nodeid, name, ctx);
        if (value === undefined) throw new FuseErrno(Errno.ENODATA);
        return sized(value, size);
      }
      case Opcode.LISTXATTR: {
        const { size } = decodeGetxattr(body);
        const names = await fs.listxattr(h.nodeid, ctx);
        return sized(Buffer.from(names.map((n) => `${n}\0`).join('')), size);
      }
      case Opcode.ACCESS:
        if ((decodeAccessMask(body) & W_OK) !== 0) throw new FuseErrno(Errno.EROFS);
        await fs.getattr(h.nodeid, ctx);
        return [];
      default:
        throw new FuseErrno(Errno.ENOSYS);
    }
  }

  private init(body: Buffer): Buffer {
    const kernel = decodeInitIn(body);
    const wanted =
      InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.DO_READDIRPLUS | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES;
    const init: InitOut = {
      major: FUSE_KERNEL_VERSION,
      minor: Math.min(kernel.minor, FUSE_KERNEL_MINOR_VERSION),
      // The kernel offers its largest; it keeps the smaller of this and the bdi's read_ahead_kb.
      maxReadahead: kernel.maxReadahead,
      flags: (wanted & kernel.flags) >>> 0,
      maxBackground: MAX_BACKGROUND,
      congestionThreshold: CONGESTION_THRESHOLD,
      maxWrite: MAX_WRITE,
      timeGran: 1,
      maxPages: this.maxPages,
    };
    queueMicrotask(() => {
      this.resolveInit(init);
      this.opts.onInit?.(init);
    });
    return encodeInitOut(init);
  }

  /**
   * Answers an OPEN the filesystem accepted: the kernel gets the session's own fh; when
   * the file has a plan, its READs are answered on the reader threads from then on.
   */
  private async open(nodeid: bigint, fsFh: bigint, keepCache: boolean, ctx: RequestContext, p: Pending): Promise<Payload> {
    const fh = this.nextFh++;
    const file: OpenFile = { nodeid, fsFh, native: false };
    const native = this.nativeReads;
    if (native !== undefined && this.fs.filePlan !== undefined && !p.done) {
      let plan: FilePlan | undefined;
      try {
        plan = await this.fs.filePlan(nodeid, ctx);
      } catch {
        plan = undefined; // read through JS, which reports what is wrong
      }
      if (plan !== undefined && !p.done && !this.closing) {
        file.native = await native.open(fh, plan, () => this.fs.sourceChanged?.(nodeid));
      }
    }
    this.openFiles.set(fh, file);
    // Not answered after all (deadline, interrupt, a refused write): the kernel will not RELEASE what it never got.
    p.undo = () => this.release(nodeid, fh);
    return [encodeOpenOut(fh, keepCache ? OpenFlag.KEEP_CACHE : 0)];
  }

  private release(nodeid: bigint, fh: bigint): void {
    const file = this.openFiles.get(fh);
    this.openFiles.delete(fh);
    if (file?.native) this.nativeReads?.release(fh);
    this.fs.release(nodeid, file?.fsFh ?? fh);
  }

  private async read(h: InHeader, body: Buffer, ctx: RequestContext, p: Pending): Promise<Payload | undefined> {
    const { fh: kernelFh, offset, size } = decodeReadIn(body);
    // A READ of a file answered natively comes here only when every other thread was busy.
    const fh = this.openFiles.get(kernelFh)?.fsFh ?? kernelFh;
    const want = Math.min(size, this.maxPages * 4096);
    if (this.spliceEnabled && this.fs.readPlan !== undefined) {
      const plan = await this.fs.readPlan(h.nodeid, fh, offset, want, ctx);
      // The pipe must hold the reply whole (the kernel takes only whole replies from a pipe).
      if (plan !== undefined && pipeSlots(plan) <= this.pipeSize / 4096) {
        if (p.done) return undefined;
        if (await this.spliceRead(p, h.nodeid, plan, want)) return undefined;
        this.counters.spliceFallbacks++;
      }
    }
    // A pooled buffer for the bytes, back in the pool once the reply is written (or the read succeeds late).
    const scratch = this.scratchPool.pop() ?? Buffer.allocUnsafeSlow(this.maxPages * 4096);
    p.after = () => {
      if (this.scratchPool.length < MAX_SCRATCH && scratch.length === this.maxPages * 4096) this.scratchPool.push(scratch);
    };
    const pieces = await this.fs.read(h.nodeid, fh, offset, want, ctx, scratch);
    let total = 0;
    for (const piece of pieces) total += piece.length;
    if (total > want) throw new FuseErrno(Errno.EIO, 'a read produced more bytes than asked');
    return pieces;
  }

  /**
   * Writes a READ reply made of held bytes and file ranges with one splice into
   * /dev/fuse. Returns false, having written nothing, when the reply did not fit the
   * pipe: the caller copies it instead.
   */
  private async spliceRead(p: Pending, nodeid: bigint, plan: ReadPlan, want: number): Promise<boolean> {
    const leases = new Map<FileRange['source'], { fd: number; release(): void; expected: BigInt64Array | undefined }>();
    const pieces: SplicePiece[] = [];
    let total = 0;
    try {
      for (const piece of plan) {
        if (piece instanceof Uint8Array) {
          if (piece.length > 0) pieces.push(piece);
          total += piece.length;
          continue;
        }
        // One lease per file, held (so the descriptor is neither closed nor reused) until the splice is done.
        let lease = leases.get(piece.source);
        if (lease === undefined) {
          const leased = await piece.source.descriptor();
          lease = { fd: leased.fd, release: () => leased.release(), expected: undefined };
          leases.set(piece.source, lease);
          lease.expected = expectedOf(leased);
        }
        pieces.push(
          lease.expected === undefined
            ? [lease.fd, piece.offset, piece.length]
            : [lease.fd, piece.offset, piece.length, lease.expected],
        );
        total += piece.length;
      }
      if (total > want) throw new FuseErrno(Errno.EIO, 'a read plan has more bytes than asked');
      if (p.done) return true;
      const pipe = await this.takePipe();
      if (pipe === undefined) return false;
      if (p.done) {
        this.givePipe(pipe);
        return true;
      }
      p.replying = true;
      this.splicesInFlight++;
      const header = encodeOutHeader(OUT_HEADER_SIZE + total, 0, p.unique);
      const error = await new Promise<Error | null>((resolve) => {
        try {
          this.native.spliceReply(this.fd, pipe[0], pipe[1], [header, ...pieces], resolve);
        } catch (e) {
          resolve(e instanceof Error ? e : new Error(String(e)));
        }
      });
      this.givePipe(pipe);
      this.splicesInFlight--;
      this.backgroundWriteDone();
      p.replying = false;
      if (error === null) {
        this.counters.splicedReads++;
        this.finish(p, 0, total);
        return true;
      }
      const code = (error as NodeJS.ErrnoException).code;
      // Too many pages for the pipe's slots: nothing reached /dev/fuse.
      if (code === 'EAGAIN') return false;
      // A file changed while it was spliced (nothing was sent): EIO, and the file is compiled again.
      if (code === 'ESTALE') {
        this.replyError(p, Errno.EIO);
        this.fs.sourceChanged?.(nodeid);
        return true;
      }
      // Nothing reached the kernel, or it refused the reply (the request is gone): answer EIO, at most refused again.
      this.opts.log?.(`FUSE spliced READ failed: ${error.message}`);
      this.replyError(p, Errno.EIO);
      return true;
    } catch (e) {
      if (isVvfError(e) && e.code === 'SOURCE_CHANGED') this.fs.sourceChanged?.(nodeid);
      throw e;
    } finally {
      for (const lease of leases.values()) lease.release();
    }
  }

  /**
   * Makes the first reply pipe, as large as we may: 2 MiB holds any reply; without
   * CAP_SYS_RESOURCE fs.pipe-max-size (1 MiB by default) is the limit, and READs whose
   * reply does not fit are copied instead. No pipe at all: every reply is copied.
   */
  private makeFirstPipe(): void {
    let last: unknown;
    for (const size of PIPE_SIZES) {
      try {
        this.freePipes.push(this.native.replyPipe(size));
        this.pipeCount = 1;
        this.pipeSize = size;
        // Half the pipe: a READ's file ranges at unaligned offsets, from several sources, and
        // the header take more slots than their pages; near the full pipe (248 of 256
        // pages) three READs in four did not fit and were copied, 2-4x slower cold.
        this.maxPages = this.maxPagesAsked ?? Math.min(MAX_PAGES, size / 4096 / 2);
        return;
      } catch (e) {
        last = e;
      }
    }
    this.spliceEnabled = false;
    this.maxPages = this.maxPagesAsked ?? MAX_PAGES;
    this.opts.log?.(`FUSE replies will be copied, not spliced: ${last instanceof Error ? last.message : String(last)}`);
  }

  private async takePipe(): Promise<[number, number] | undefined> {
    const free = this.freePipes.pop();
    if (free !== undefined) return free;
    if (this.pipeCount < MAX_PIPES) {
      try {
        const pipe = this.native.replyPipe(this.pipeSize);
        this.pipeCount++;
        return pipe;
      } catch (e) {
        this.opts.log?.(`FUSE could not make a reply pipe: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.pipeCount === 0) return undefined;
    return new Promise((resolve) => this.pipeWaiters.push(resolve));
  }

  private givePipe(pipe: [number, number]): void {
    const waiter = this.pipeWaiters.shift();
    if (waiter !== undefined) waiter(pipe);
    else this.freePipes.push(pipe);
  }

  private readdir(body: Buffer, plus: boolean): Buffer {
    const { fh, offset, size } = decodeReadIn(body);
    const listing = this.dirs.get(fh);
    if (listing === undefined) throw new FuseErrno(Errno.EBADF);
    const out = Buffer.alloc(size);
    let at = 0;
    for (let i = offset; i < listing.length; i++) {
      const d = listing[i]!;
      const name = Buffer.from(d.name);
      const need = plus ? direntplusSize(name) : direntSize(name);
      if (at + need > size) break;
      if (plus) {
        at = writeDirentplus(out, at, d.entry, i + 1, name);
        // The kernel takes a reference to every entry but . and .. (fuse_direntplus_link).
        if (d.name !== '.' && d.name !== '..') this.fs.addReference(d.entry.nodeid);
      } else {
        at = writeDirent(out, at, d.entry.attr.ino, i + 1, direntType(d.entry.attr.mode), name);
      }
    }
    return out.subarray(0, at);
  }

  private replyError(p: Pending, errno: number): void {
    if (p.done) return;
    this.write(p, -errno, []);
    this.finish(p, errno, 0);
  }

  /** Writes a reply; false when it did not reach the kernel (already answered, or the write failed). */
  private reply(p: Pending, errno: number, payload: Payload): boolean {
    if (p.done) return false;
    const written = this.write(p, -errno, payload);
    let bytes = 0;
    if (p.opcode === Opcode.READ) for (const piece of payload) bytes += piece.length;
    this.finish(p, errno, bytes);
    return written;
  }

  private finish(p: Pending, errno: number, bytesRead: number): void {
    p.done = true;
    clearTimeout(p.timer);
    this.pending.delete(p.unique);
    const name = opcodeName(p.opcode);
    const s = this.counters;
    s.inFlight = this.pending.size;
    s.requests[name] = (s.requests[name] ?? 0) + 1;
    s.bytesRead += bytesRead;
    if (errno !== 0) {
      const e = errnoName(errno);
      s.errors[e] = (s.errors[e] ?? 0) + 1;
    }
    this.opts.onRequest?.(name, performance.now() - p.started, errno);
  }

  /** The one write of a reply: header and payload in one writev. False when the kernel did not take it. */
  private write(p: Pending, error: number, payload: Payload): boolean {
    if (this.fdClosed) return false;
    let pieces = payload;
    if (pieces.length > MAX_IOVECS) pieces = [Buffer.concat(pieces)];
    let len = OUT_HEADER_SIZE;
    for (const piece of pieces) len += piece.length;
    try {
      writevSync(this.fd, [encodeOutHeader(len, error, p.unique), ...pieces]);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOENT: the kernel already gave up on the request (interrupted, aborted); ENODEV: connection gone.
      if (code !== 'ENOENT' && code !== 'ENODEV') this.opts.log?.(`FUSE reply to ${opcodeName(p.opcode)} failed: ${String(e)}`);
      return false;
    }
  }
}

/**
 * Pipe buffers a spliced reply may take at most: one per page or part of a page each
 * piece spans (a file range's pages are spliced as they lie in the page cache; held bytes
 * are copied into pages from wherever they start), and one for the header.
 */
function pipeSlots(plan: ReadPlan): number {
  let slots = 1;
  for (const p of plan) {
    if (p.length === 0) continue;
    if (p instanceof Uint8Array) slots += Math.ceil(p.length / 4096) + 1;
    else slots += Math.floor((p.offset + p.length - 1) / 4096) - Math.floor(p.offset / 4096) + 1;
  }
  return slots;
}

/**
 * What a leased file must still be once its bytes are in the pipe: its fstat now, taken
 * before the lease's check() passes (so it is the file compiled from: a change before the
 * fstat fails the check, ctime cannot go back). Undefined for a lease without check().
 */
function expectedOf(lease: { fd: number; check?(): void }): BigInt64Array | undefined {
  if (lease.check === undefined) return undefined;
  const st = fstatSync(lease.fd, { bigint: true });
  lease.check();
  return BigInt64Array.of(st.size, st.mtimeNs, st.ctimeNs, BigInt.asIntN(64, st.ino));
}

/** An xattr-style answer: the size for a size-0 probe, ERANGE when the caller's buffer is too small, else the bytes. */
function sized(value: Uint8Array, size: number): Payload {
  if (size === 0) return [encodeGetxattrOut(value.length)];
  if (size < value.length) throw new FuseErrno(Errno.ERANGE);
  return [value];
}
