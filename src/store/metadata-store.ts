// MetadataStore: where registered recipes and their compiled virtual files are kept between runs.

/**
 * A registered virtual file as a store keeps it: its id (the recipe id), the recipe, when
 * it was compiled, and its compiled form ({@link VirtualFile.serialize}). Whether the
 * compiled form is still good is decided by the source validators inside it (see
 * `loadIfFresh`), not by the store.
 */
export interface StoredFile {
  /** The recipe id (`recipeId(recipe)`): the same recipe always has the same id. */
  id: string;
  /** The recipe as JSON (whatever `JSON.stringify` keeps). */
  recipe: unknown;
  /** When the file was compiled, in milliseconds since the epoch. */
  created: number;
  /** `VirtualFile.serialize()`. Stores keep this array as given: callers must not change it afterwards. */
  compiled: Uint8Array;
}

/** What {@link MetadataStore.list} gives per file: everything but the compiled bytes. */
export interface StoredFileInfo {
  id: string;
  recipe: unknown;
  created: number;
}

/**
 * Keeps registered files by id. Every method may be called concurrently; `put` of an id
 * that is there already replaces it. After `close`, calls fail with USAGE.
 */
export interface MetadataStore {
  /** The registered files' ids and recipes (no compiled bytes), for listing after a restart; oldest first. */
  list(): Promise<StoredFileInfo[]>;
  get(id: string): Promise<StoredFile | undefined>;
  /** Whether the store holds `id` (without fetching it): how instances learn of another's delete. */
  has(id: string): Promise<boolean>;
  put(file: StoredFile): Promise<void>;
  /** Whether there was such a file. */
  delete(id: string): Promise<boolean>;
  /**
   * Whether the store can be reached right now, without waiting (a connected client's
   * state). Optional: a store in this process (SQLite, memory) is always available.
   */
  available?(): boolean;
  close(): Promise<void>;
}

/** Orders list entries oldest first, then by id, so that every store lists alike. */
export function byCreated(a: StoredFileInfo, b: StoredFileInfo): number {
  return a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
