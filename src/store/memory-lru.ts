// MemoryLruStore: stored files held in memory, least recently used evicted past a byte budget.
import { VvfError } from '../errors.js';
import { byCreated, type MetadataStore, type StoredFile, type StoredFileInfo } from './metadata-store.js';

/** Options of {@link MemoryLruStore}. */
export interface MemoryLruOptions {
  /** Most bytes held: compiled bytes plus each recipe's JSON length. */
  maxBytes: number;
}

interface Entry {
  file: StoredFile;
  cost: number;
}

/**
 * A {@link MetadataStore} in memory, bounded in bytes. An entry costs its compiled bytes
 * plus its recipe's JSON length; putting past `maxBytes` evicts the least recently used
 * (by `get` or `put`) until the rest fits. A file larger than the whole budget is not
 * held at all (and replaces, i.e. drops, an older entry of the same id). `list` lists
 * what is held now.
 */
export class MemoryLruStore implements MetadataStore {
  readonly maxBytes: number;
  /** Map order is recency: least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private held = 0;
  private closed = false;

  constructor(opts: MemoryLruOptions) {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) {
      throw new VvfError('USAGE', `maxBytes must be a non-negative integer, got ${opts.maxBytes}`);
    }
    this.maxBytes = opts.maxBytes;
  }

  /** Bytes held now (as counted against `maxBytes`). */
  get bytes(): number {
    return this.held;
  }

  /** Files held now. */
  get count(): number {
    return this.entries.size;
  }

  /** Whether `id` is held, without counting as a use. */
  async has(id: string): Promise<boolean> {
    this.checkOpen();
    return this.entries.has(id);
  }

  async list(): Promise<StoredFileInfo[]> {
    this.checkOpen();
    return [...this.entries.values()]
      .map(({ file }) => ({ id: file.id, recipe: file.recipe, created: file.created }))
      .sort(byCreated);
  }

  async get(id: string): Promise<StoredFile | undefined> {
    this.checkOpen();
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.file;
  }

  async put(file: StoredFile): Promise<void> {
    this.checkOpen();
    this.remove(file.id);
    const cost = file.compiled.byteLength + (JSON.stringify(file.recipe)?.length ?? 0);
    if (cost > this.maxBytes) return;
    for (const [id, entry] of this.entries) {
      if (this.held + cost <= this.maxBytes) break;
      this.entries.delete(id);
      this.held -= entry.cost;
    }
    this.entries.set(file.id, { file, cost });
    this.held += cost;
  }

  async delete(id: string): Promise<boolean> {
    this.checkOpen();
    return this.remove(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    this.held = 0;
  }

  private remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.held -= entry.cost;
    return true;
  }

  private checkOpen(): void {
    if (this.closed) throw new VvfError('USAGE', 'the memory store is closed');
  }
}
