// A bounded pool of open file descriptors shared by FileSources.
import type { FileHandle } from 'node:fs/promises';

/** A descriptor lent to one read; it stays open until `release()`. */
export interface FdLease {
  readonly handle: FileHandle;
  /** Gives the descriptor back to the pool. Call exactly once. */
  release(): void;
}

interface PoolEntry {
  handle: FileHandle | undefined;
  /** Set while the descriptor is being (re)opened, so concurrent reads share one open. */
  opening: Promise<FileHandle> | undefined;
  /** Leases out now; a leased descriptor is never closed under its reader. */
  refs: number;
  /** The owner is gone: close as soon as no lease is out. */
  forgotten: boolean;
}

/**
 * Keeps at most `maxOpen` descriptors open, closing the least recently used idle one
 * when more are needed and letting its owner reopen on demand. Descriptors leased to
 * in-flight reads are never closed, so the pool may pass `maxOpen` briefly when every
 * descriptor is busy; it shrinks back as leases are released.
 */
export class FdPool {
  readonly maxOpen: number;
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<object, PoolEntry>();
  private open = 0;

  constructor(maxOpen = 64) {
    if (!Number.isSafeInteger(maxOpen) || maxOpen < 1) throw new RangeError(`FdPool maxOpen must be >= 1, got ${maxOpen}`);
    this.maxOpen = maxOpen;
  }

  /** Descriptors open now. */
  get openCount(): number {
    return this.open;
  }

  /**
   * Lends `owner`'s descriptor, opening it with `open` if it is not open (first use, or
   * closed by eviction). `open` is where the owner checks the file is still the same.
   */
  async acquire(owner: object, open: () => Promise<FileHandle>): Promise<FdLease> {
    let entry = this.entries.get(owner);
    if (entry === undefined) {
      entry = { handle: undefined, opening: undefined, refs: 0, forgotten: false };
    } else {
      this.entries.delete(owner);
    }
    this.entries.set(owner, entry);
    entry.refs++;
    let handle: FileHandle;
    try {
      handle = entry.handle ?? (await this.openEntry(entry, open));
    } catch (e) {
      entry.refs--;
      if (entry.refs === 0 && entry.handle === undefined && this.entries.get(owner) === entry) this.entries.delete(owner);
      throw e;
    }
    await this.trim();
    const e = entry;
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        e.refs--;
        if (e.refs === 0 && e.forgotten) void this.closeEntry(owner, e);
        else void this.trim();
      },
    };
  }

  /** Closes `owner`'s descriptor (now, or when its last lease is released) and forgets it. */
  async forget(owner: object): Promise<void> {
    const entry = this.entries.get(owner);
    if (entry === undefined) return;
    entry.forgotten = true;
    if (entry.refs === 0) await this.closeEntry(owner, entry);
  }

  /** Closes every idle descriptor. */
  async closeIdle(): Promise<void> {
    const idle = [...this.entries].filter(([, e]) => e.refs === 0);
    await Promise.all(idle.map(([owner, e]) => this.closeEntry(owner, e)));
  }

  private openEntry(entry: PoolEntry, open: () => Promise<FileHandle>): Promise<FileHandle> {
    if (entry.opening === undefined) {
      entry.opening = open().then(
        (handle) => {
          entry.handle = handle;
          entry.opening = undefined;
          this.open++;
          return handle;
        },
        (e: unknown) => {
          entry.opening = undefined;
          throw e;
        },
      );
    }
    return entry.opening;
  }

  /** Closes least recently used idle descriptors until at most maxOpen are open. */
  private async trim(): Promise<void> {
    if (this.open <= this.maxOpen) return;
    const closing: Promise<void>[] = [];
    let excess = this.open - this.maxOpen;
    for (const [owner, entry] of this.entries) {
      if (excess === 0) break;
      if (entry.refs === 0 && entry.handle !== undefined) {
        closing.push(this.closeEntry(owner, entry));
        excess--;
      }
    }
    await Promise.all(closing);
  }

  private async closeEntry(owner: object, entry: PoolEntry): Promise<void> {
    if (this.entries.get(owner) === entry) this.entries.delete(owner);
    const handle = entry.handle;
    if (handle === undefined) return;
    entry.handle = undefined;
    this.open--;
    // A failed close of a read-only descriptor loses nothing; the descriptor is gone either way.
    await handle.close().catch(() => undefined);
  }
}

/** The pool FileSources use unless given another. */
export const defaultFdPool: FdPool = new FdPool(64);
