// Argument checks shared by every Source implementation.
import { VvfError } from '../errors.js';

/**
 * Throws SOURCE_RANGE unless `[offset, offset + length)` is a valid range of whole bytes
 * inside a source of `size` bytes. Callers compute offsets from untrusted input, so a
 * negative, fractional or oversized request is a typed error, not a bug.
 */
export function checkReadRange(offset: number, length: number, size: number, source: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new VvfError('SOURCE_RANGE', `invalid read of ${length} bytes at ${offset}`, { source });
  }
  if (offset + length > size) {
    throw new VvfError('SOURCE_RANGE', `read of ${length} bytes at ${offset} passes the end (${size} bytes)`, {
      source,
      offset,
    });
  }
}

/** The error every Source throws for a read after close(). */
export function closedError(source: string): VvfError {
  return new VvfError('USAGE', 'read after the source was closed', { source });
}
