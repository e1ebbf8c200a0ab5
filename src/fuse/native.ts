// The native functions the FUSE face calls (native/fuse.c), typed.
import { VvfError } from '../errors.js';
import { nativeAddon } from '../native/addon.js';

/** A piece of a spliced reply: bytes copied into the pipe, or `[fd, offset, length]` of a file. */
export type SplicePiece = Uint8Array | [number, number, number];

/** Functions of native/fuse.c. Failures throw an Error with `.code` (`EPERM`, …) and `.errno`. */
export interface FuseNative {
  fuseMount(source: string, target: string, fstype: string, flags: number, data: string): void;
  fuseUmount(target: string, flags: number): void;
  socketPair(): [number, number];
  /** A descriptor received with SCM_RIGHTS, or -1 when none is waiting. */
  recvFd(sock: number): number;
  /** Starts a thread reading requests; `onRequest(null, errno)` once when it stops on an error (ENODEV: unmounted). */
  startReader(fd: number, bufferSize: number, onRequest: (request: Buffer | null, errno: number | null) => void): object;
  stopReader(handle: object): void;
  spliceReply(fuseFd: number, pipeRead: number, pipeWrite: number, pieces: SplicePiece[], done: (e: Error | null) => void): void;
  replyPipe(bytes: number): [number, number];
}

/** The addon's FUSE functions, or null when the addon is not built (or predates native/fuse.c). */
export function fuseNativeOrNull(): FuseNative | null {
  const addon = nativeAddon();
  if (addon === null || typeof addon.startReader !== 'function' || typeof addon.fuseMount !== 'function') return null;
  return addon as unknown as FuseNative;
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
