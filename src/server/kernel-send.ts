// Zero-copy sending of file ranges to a socket through vvf's native addon (native/send-pieces.c).
import type { Socket } from 'node:net';
import { VvfError } from '../errors.js';
import { nativeAddon } from '../native/addon.js';

/** A body piece for the kernel: held bytes, or [descriptor, offset, length] of a file. */
export type KernelPiece = Uint8Array | [fd: number, offset: number, length: number];

interface Binding {
  sendPieces(
    socketFd: number,
    pieces: KernelPiece[],
    timeoutMs: number,
    callback: (error: (Error & { code?: string }) | null, sent: number) => void,
  ): void;
}

/**
 * The native sender, or null where the addon is not built (`npm run build:native`) or
 * cannot load: serving then copies bytes through user space, as before.
 */
export function kernelSender(): Binding | null {
  const addon = nativeAddon();
  return addon !== null && typeof addon.sendPieces === 'function' ? (addon as unknown as Binding) : null;
}

/**
 * The descriptor of a plain TCP socket, or undefined (TLS, or no descriptor): only then
 * may bytes be written to it behind Node's back.
 */
export function socketDescriptor(socket: Socket | null): number | undefined {
  if (socket === null || 'encrypted' in socket || socket.destroyed) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Writes the pieces to the socket in order, in one job on libuv's thread pool; resolves
 * with the byte count. The socket descriptor is duplicated before this returns; the files'
 * descriptors must stay open until the promise settles. A file that ends early rejects
 * with SOURCE_CHANGED; a client that goes away, or stalls past `timeoutMs`, with CLIENT_GONE.
 */
export function sendToSocket(sender: Binding, socketFd: number, pieces: KernelPiece[], timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    sender.sendPieces(socketFd, pieces, timeoutMs, (error, sent) => {
      if (error === null) resolve(sent);
      else reject(failure(error, sent));
    });
  });
}

function failure(error: Error & { code?: string }, sent: number): VvfError {
  if (error.code === 'ENODATA')
    return new VvfError('SOURCE_CHANGED', `a source file ended early while sending (after ${sent} bytes)`);
  return new VvfError('CLIENT_GONE', `sending failed after ${sent} bytes: ${error.code} ${error.message}`);
}
