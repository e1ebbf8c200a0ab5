// The native functions the FUSE face calls (native/fuse.c), typed.
import { VvfError } from '../errors.js';
import { nativeAddon } from '../native/addon.js';

/**
 * A piece of a spliced reply: bytes copied into the pipe, or `[fd, offset, length]` of a
 * file, with what the file must still be once its bytes are in the pipe: `[size, mtime ns,
 * ctime ns, inode]` (else the reply fails ESTALE, nothing sent).
 */
export type SplicePiece = Uint8Array | [number, number, number] | [number, number, number, BigInt64Array];

/** Functions of native/fuse.c. Failures throw an Error with `.code` (`EPERM`, …) and `.errno`. */
export interface FuseNative {
  fuseMount(source: string, target: string, fstype: string, flags: number, data: string): void;
  fuseUmount(target: string, flags: number): void;
  socketPair(): [number, number];
  /** A descriptor received with SCM_RIGHTS, or -1 when none is waiting. */
  recvFd(sock: number): number;
  /**
   * Starts threads reading requests. `onRequest(request, null)` for each request not
   * answered on the threads themselves; `(null, errno)` once when they stop on an error
   * (ENODEV: unmounted); `(null, null, fh)` when a READ answered there found a source of
   * open handle `fh` changed.
   */
  startReader(
    fd: number,
    bufferSize: number,
    onRequest: (request: Buffer | null, errno: number | null, changedFh?: bigint) => void,
    options?: ReaderOptions,
  ): object;
  /** Stops the threads; the handles answered on them are dropped, their descriptors closed. */
  stopReader(handle: object): void;
  spliceReply(fuseFd: number, pipeRead: number, pipeWrite: number, pieces: SplicePiece[], done: (e: Error | null) => void): void;
  replyPipe(bytes: number): [number, number];
  /**
   * A read plan the reader threads answer READs from: extent `i` ends at `ends[i]` (strictly
   * increasing, the last at `size`) and is held bytes (`sources[i]` -1, `offsets[i]` into
   * `held`, which is copied) or a range of source `sources[i]` (< `sourceCount` ≤ 64) at
   * `offsets[i]`. Throws TypeError for a plan that is not consistent.
   */
  fastPlan(
    size: number,
    ends: Float64Array,
    sources: Int32Array,
    offsets: Float64Array,
    held: Uint8Array,
    sourceCount: number,
  ): object;
  /**
   * READs of `fh` are answered on the reader threads from `plan`, with a duplicate of
   * `fds[i]` for source `i` (fstat'ed now: what every READ's bytes are checked against).
   * Needs a reader of 2 or more threads (ENOTCONN otherwise, or once stopped).
   */
  fastOpen(reader: object, fh: bigint, plan: object, fds: Int32Array): void;
  /** Drops `fh`'s plan; its descriptors close now or after the READ in flight on it. Whether it had one. */
  fastRelease(reader: object, fh: bigint): boolean;
  /** Totals of the READs answered on the reader threads (layout: {@link NativeReadStats}). */
  readerStats(reader: object): Float64Array;
}

/** Options of {@link FuseNative.startReader}. */
export interface ReaderOptions {
  /** The most threads reading /dev/fuse (1–64; default 1). READs are answered on them only with 2 or more. */
  threads?: number;
  /** Threads started at once (default min(4, threads)); more start while READs keep all but one busy. */
  startThreads?: number;
  /** Bytes of each thread's reply pipe; 0: READs answered on the threads are copied (pread + writev). */
  pipeSize?: number;
  /** Largest READ answered on the threads (their copy buffer); larger ones go to JS. */
  fastMax?: number;
}

/**
 * Indexes into {@link FuseNative.readerStats}: totals, then per latency bucket its count
 * and the sum of its latencies in nanoseconds, from {@link BUCKETS_AT}, two numbers each.
 */
export const NativeReadStats = {
  reads: 0,
  bytes: 1,
  errors: 2,
  spliced: 3,
  copied: 4,
  /** READs of planned handles passed to JS because every other thread was busy. */
  passed: 5,
  /** Handles that found a source changed. */
  changed: 6,
  /** Threads running now (not a total). */
  threads: 7,
  BUCKETS_AT: 8,
} as const;

/** The addon's FUSE functions, or null when the addon is not built (or predates native/fuse.c). */
export function fuseNativeOrNull(): FuseNative | null {
  const addon = nativeAddon();
  if (addon === null || typeof addon.startReader !== 'function' || typeof addon.fuseMount !== 'function') return null;
  return addon as unknown as FuseNative;
}

/** Whether the addon answers READs on its reader threads (built from a native/fuse.c with fastPlan). */
export function hasNativeReads(native: FuseNative): boolean {
  const n = native as unknown as Record<string, unknown>;
  return typeof n.fastPlan === 'function' && typeof n.fastOpen === 'function' && typeof n.readerStats === 'function';
}

/** The addon's FUSE functions; USAGE naming `npm run build:native` when missing. */
export function fuseNative(): FuseNative {
  const n = fuseNativeOrNull();
  if (n === null) throw new VvfError('USAGE', 'the FUSE mount needs the native addon: run `npm run build:native`');
  return n;
}

/** The errno of an error thrown by the addon (or a Node fs call), if it has one. */
export function errnoCodeOf(e: unknown): string | undefined {
  return e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? undefined) : undefined;
}
