/**
 * Where bytes come from. Every input (local file, HTTP(S) URL, memory) is a Source:
 * a stable identity, a validator that changes when the content may have changed,
 * an exact size, and positional reads.
 */
export interface Source {
  /** Stable identity: an absolute path, a URL, or a name for in-memory data. */
  readonly key: string;
  /** Changes when the content may have changed: size+mtime for files, ETag/Last-Modified for HTTP. */
  readonly validator: string;
  /** Exact size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset`. A read that would pass the end of the
   * source, or that the source answers short, fails with a VvfError: never
   * zero-filled or misplaced bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Like {@link read}, into `target` (exactly `target.length` bytes at `offset`), for
   * callers that reuse buffers. Optional: sources without it are read with `read` and copied.
   */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
  /**
   * The descriptor of an open local file, for a caller that hands file ranges to the
   * kernel (sendfile). Optional: only local files have one. The caller must call
   * `release()` once it has duplicated the descriptor or is done with it, and should call
   * `check()` after the kernel has sent bytes from it: it throws SOURCE_CHANGED if the
   * file no longer has its validator (the bytes sent may then be of another version).
   */
  descriptor?(): Promise<{ fd: number; release(): void; check?(): void }>;
  /** Releases descriptors / connections. Reads after close fail. */
  close(): Promise<void>;
  /** Bytes read so far through this source (for checking metadata reads stay small). */
  readonly bytesRead: number;
  /** Number of read calls so far. */
  readonly readCount: number;
}
