// Local-file Source: positional reads through a pooled descriptor.
import { type BigIntStats, fstatSync } from 'node:fs';
import { type FileHandle, open as openFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { VvfError } from '../errors.js';
import { defaultFdPool, type FdPool } from './fd-pool.js';
import { checkReadRange, closedError } from './read-range.js';
import type { Source } from './source.js';

/** Options of {@link FileSource.open}. */
export interface FileSourceOptions {
  /** Descriptor pool; defaults to the shared {@link defaultFdPool}. */
  pool?: FdPool;
}

/** Largest single positional read; Node caps one read call below 2 GiB. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * A Source over a local regular file. The key is the absolute real path; the validator
 * is `<size>-<mtimeMs>-<ino>-<ctimeMs>` (times exact to the nanosecond). The descriptor
 * lives in an {@link FdPool}: when the pool closes it to make room, the next read reopens
 * the path and fails with SOURCE_CHANGED if the file there is no longer the same.
 *
 * Every read is checked *after* it completes: the descriptor's stat must still give the
 * validator, else the read fails with SOURCE_CHANGED. Bytes that came from a file being
 * rewritten are thus never handed on as if they were the file compiled from: a response
 * built from them is refused or cut. ctime is part of the validator because it cannot be
 * set back (a `touch -r` or utime() restoring mtime still moves ctime).
 */
export class FileSource implements Source {
  readonly key: string;
  readonly validator: string;
  readonly size: number;
  /** The inode opened (decimal), for checks that the path still names this file. */
  readonly inode: string;
  private readonly pool: FdPool;
  private closed = false;
  private bytesReadSoFar = 0;
  private readCountSoFar = 0;
  private readonly reopen = () => this.openChecked();

  private constructor(key: string, validator: string, size: number, inode: string, pool: FdPool) {
    this.key = key;
    this.inode = inode;
    this.validator = validator;
    this.size = size;
    this.pool = pool;
  }

  /**
   * Opens a local file. A missing path fails with SOURCE_NOT_FOUND, an unreadable one or
   * one that is not a regular file with SOURCE_UNREACHABLE, naming the path.
   */
  static async open(path: string, opts?: FileSourceOptions): Promise<FileSource> {
    const pool = opts?.pool ?? defaultFdPool;
    let real: string;
    try {
      real = await realpath(resolve(path));
    } catch (e) {
      throw unreachable(path, e);
    }
    const handle = await openHandle(real);
    let stats: BigIntStats;
    try {
      stats = await statHandle(handle, real);
      if (!stats.isFile()) throw new VvfError('SOURCE_UNREACHABLE', 'not a regular file', { source: real });
      if (stats.size > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new VvfError('NUMBER_TOO_LARGE', `file size ${stats.size} exceeds 2^53`, { source: real });
      }
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    const source = new FileSource(real, validatorOf(stats), Number(stats.size), String(stats.ino), pool);
    // Hand the descriptor we already have to the pool rather than opening the file twice.
    const lease = await pool.acquire(source, async () => handle);
    lease.release();
    return source;
  }

  get bytesRead(): number {
    return this.bytesReadSoFar;
  }

  get readCount(): number {
    return this.readCountSoFar;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    // A plain array with its own buffer: callers may keep it, and compare it with other sources' bytes.
    // Not zero-filled: readInto fills every byte or throws, and serving reads gigabytes.
    const out = length === 0 ? new Uint8Array(0) : new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    await this.readInto(out, offset);
    return out;
  }

  async readInto(target: Uint8Array, offset: number): Promise<void> {
    const length = target.length;
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return;
    const lease = await this.pool.acquire(this, this.reopen);
    try {
      let done = 0;
      while (done < length) {
        const want = Math.min(length - done, MAX_READ_CHUNK);
        let got: number;
        try {
          ({ bytesRead: got } = await lease.handle.read(target, done, want, offset + done));
        } catch (e) {
          throw new VvfError(
            'SOURCE_UNREACHABLE',
            `read failed: ${describe(e)}`,
            { source: this.key, offset: offset + done },
            { cause: e },
          );
        }
        // End of file before the size we saw: the file shrank under us (or the disk lies).
        if (got === 0) throw await this.explainShortRead(lease.handle, offset + done);
        done += got;
        this.bytesReadSoFar += got;
      }
      // After the read, not before: a write that raced with it shows in the stat now.
      this.checkUnchanged(lease.handle.fd, offset);
    } finally {
      lease.release();
    }
  }

  /**
   * The open descriptor, for a caller that hands file ranges to the kernel. The file is
   * checked against its validator (size, mtime, inode, ctime) now, and again by the lease's
   * `check()`, which the caller calls once the kernel has sent the bytes: the kernel sends
   * whatever the file holds, so a file rewritten meanwhile must cut the response.
   */
  async descriptor(): Promise<{ fd: number; release(): void; check(): void }> {
    if (this.closed) throw closedError(this.key);
    // The pool reopens an evicted descriptor and checks the file is still the one we saw.
    const lease = await this.pool.acquire(this, this.reopen);
    const fd = lease.handle.fd;
    try {
      this.checkUnchanged(fd);
    } catch (e) {
      lease.release();
      throw e;
    }
    return { fd, release: () => lease.release(), check: () => this.checkUnchanged(fd) };
  }

  /**
   * Throws SOURCE_CHANGED unless the open file still has the validator it was opened with.
   * fstat(2) on the event loop: about a microsecond, cheaper than a trip to the thread pool.
   */
  private checkUnchanged(fd: number, offset?: number): void {
    let current: string;
    try {
      current = validatorOf(fstatSync(fd, { bigint: true }));
    } catch (e) {
      throw unreachable(this.key, e);
    }
    if (current !== this.validator) {
      throw new VvfError('SOURCE_CHANGED', `file changed (was ${this.validator}, now ${current})`, {
        source: this.key,
        ...(offset !== undefined ? { offset } : {}),
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.forget(this);
  }

  /** Opens the path again (after eviction) and checks it is still the file we saw. */
  private async openChecked(): Promise<FileHandle> {
    const handle = await openHandle(this.key);
    try {
      const stats = await statHandle(handle, this.key);
      const now = validatorOf(stats);
      if (now !== this.validator) {
        throw new VvfError('SOURCE_CHANGED', `file changed (was ${this.validator}, now ${now})`, { source: this.key });
      }
      return handle;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  private async explainShortRead(handle: FileHandle, at: number): Promise<VvfError> {
    const where = { source: this.key, offset: at };
    const stats = await statHandle(handle, this.key).catch(() => undefined);
    if (stats !== undefined && validatorOf(stats) === this.validator) {
      return new VvfError('SOURCE_BAD_RESPONSE', `unexpected end of file at ${at} of ${this.size} bytes`, where);
    }
    const now = stats === undefined ? 'unknown' : `${stats.size} bytes`;
    return new VvfError('SOURCE_CHANGED', `file changed while open (was ${this.size} bytes, now ${now})`, where);
  }
}

/**
 * The validator {@link FileSource} would give the file at `path` now, without opening it;
 * `missing` when it cannot be stat'ed (gone, or no longer reachable).
 */
export async function currentValidator(path: string): Promise<string> {
  try {
    return validatorOf(await stat(path, { bigint: true }));
  } catch {
    return 'missing';
  }
}

/** `<size>-<mtimeMs>-<ino>-<ctimeMs>`, from a bigint stat so that neither times nor a 64-bit inode lose precision. */
function validatorOf(stats: BigIntStats): string {
  return `${stats.size}-${milliseconds(stats.mtimeNs)}-${stats.ino}-${milliseconds(stats.ctimeNs)}`;
}

/** Nanoseconds as exact decimal milliseconds (`1700000000123.456789`). */
function milliseconds(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${sign}${abs / 1_000_000n}${fraction === '' ? '' : `.${fraction}`}`;
}

async function openHandle(path: string): Promise<FileHandle> {
  try {
    return await openFile(path, 'r');
  } catch (e) {
    throw unreachable(path, e);
  }
}

async function statHandle(handle: FileHandle, path: string): Promise<BigIntStats> {
  try {
    return await handle.stat({ bigint: true });
  } catch (e) {
    throw unreachable(path, e);
  }
}

function unreachable(path: string, e: unknown): VvfError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // Nothing there is its own answer (404, ENOENT through the mount), as the source policy gives it.
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new VvfError('SOURCE_NOT_FOUND', `no such file: ${describe(e)}`, { source: path }, { cause: e });
  return new VvfError('SOURCE_UNREACHABLE', `cannot open file: ${describe(e)}`, { source: path }, { cause: e });
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === undefined || e.message.startsWith(code) ? e.message : `${code}: ${e.message}`;
  }
  return String(e);
}
