// TieredStore: a memory LRU in front of a persistent store.
import type { MemoryLruStore } from './memory-lru.js';
import type { MetadataStore, StoredFile, StoredFileInfo } from './metadata-store.js';

/**
 * A {@link MemoryLruStore} over a persistent store. `get` asks memory first, then the
 * persistent store, and keeps what it found in memory; `put` and `delete` go to both,
 * the persistent store first so that memory never holds what failed to persist; `list`
 * lists the persistent store (memory holds only some of it).
 *
 * Memory is not told when another process changes the persistent store: `has` asks the
 * persistent store and drops from memory what is gone there (the registry asks it at most
 * once a second per file it serves). Freshness against the sources does not depend on this
 * (it is checked from the validators in the compiled bytes on every load).
 */
export class TieredStore implements MetadataStore {
  constructor(
    readonly memory: MemoryLruStore,
    readonly persistent: MetadataStore,
  ) {}

  list(): Promise<StoredFileInfo[]> {
    return this.persistent.list();
  }

  async get(id: string): Promise<StoredFile | undefined> {
    const held = await this.memory.get(id);
    if (held) return held;
    const found = await this.persistent.get(id);
    if (found) await this.memory.put(found);
    return found;
  }

  /** Asks the persistent store; an id gone from there (another process deleted it) leaves memory too. */
  async has(id: string): Promise<boolean> {
    const there = await this.persistent.has(id);
    if (!there) await this.memory.delete(id);
    return there;
  }

  async put(file: StoredFile): Promise<void> {
    await this.persistent.put(file);
    await this.memory.put(file);
  }

  async delete(id: string): Promise<boolean> {
    const inMemory = await this.memory.delete(id);
    const persisted = await this.persistent.delete(id);
    return persisted || inMemory;
  }

  /** The persistent store's state: memory is always there. */
  available(): boolean {
    return this.persistent.available?.() ?? true;
  }

  async close(): Promise<void> {
    await Promise.all([this.memory.close(), this.persistent.close()]);
  }
}
