// SqliteStore: stored files in an embedded SQLite database (one file, WAL), shared safely by processes.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { VvfError } from '../errors.js';
import type { MetadataStore, StoredFile, StoredFileInfo } from './metadata-store.js';

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** How long a statement waits for another process's lock before failing (SQLITE_BUSY). Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * Most bytes of stored files (compiled form plus recipe JSON) the database keeps; a put
   * past it deletes the least recently used files first. 0: unlimited. Default 1 GiB.
   */
  maxBytes?: number;
  /**
   * A get records that its file was used at most once per this many ms per id: a hot file
   * read on every request must not turn every read into a write. Default 60000.
   */
  touchIntervalMs?: number;
  /** The clock, in milliseconds since the epoch (tests move it). Default `Date.now`. */
  now?: () => number;
}

/** The default {@link SqliteStoreOptions.maxBytes}: 1 GiB. */
export const DEFAULT_SQLITE_MAX_BYTES = 1024 * 1024 * 1024;

/** The schema version this code writes (`PRAGMA user_version`); a database from a newer vvf is refused. */
export const SQLITE_SCHEMA_VERSION = 2;

/**
 * `virtual_files` (version 1): `recipe` is JSON text; `created` is milliseconds since the
 * epoch; `compiled` is `VirtualFile.serialize()`. A rowid table (not WITHOUT ROWID): rows
 * hold blobs far larger than a page.
 *
 * `file_usage` (version 2): per file, its `size` in bytes (of the compiled form) and when it
 * was last `used` (put or get, ms since the epoch), for the quota. A table of its own, not
 * columns of `virtual_files`: SQLite rewrites a whole row, blob and overflow pages
 * included, on any UPDATE, and summing sizes would walk every blob's overflow chain.
 * Every put and delete changes both tables in one transaction.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS virtual_files (
  id TEXT PRIMARY KEY NOT NULL,
  recipe TEXT NOT NULL,
  created INTEGER NOT NULL,
  compiled BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS file_usage (
  id TEXT PRIMARY KEY NOT NULL,
  size INTEGER NOT NULL,
  used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_usage_used ON file_usage (used, id);
`;

/**
 * From version 1: every existing file gets its size and, never having been timed, counts
 * as last used when it was created. length() of a blob reads only the record header.
 */
const FROM_VERSION_1 = `
INSERT OR IGNORE INTO file_usage (id, size, used)
  SELECT id, length(compiled), created FROM virtual_files;
`;

interface Row {
  id: string;
  recipe: string;
  created: number;
  compiled: Buffer;
}

/**
 * A {@link MetadataStore} in an SQLite file. WAL journal, so readers never wait for the
 * writer; a busy timeout, so two processes (two servers, or a server and a CLI) may use
 * the same file at once; `synchronous = NORMAL`, which in WAL mode loses at most the
 * last commits on power loss and never corrupts, fine for a cache that can recompile.
 *
 * better-sqlite3 is synchronous: each call blocks the event loop for one statement,
 * a millisecond or so for a compiled file of a few megabytes.
 */
export class SqliteStore implements MetadataStore {
  /** The database file. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly selectAll: Database.Statement<[], Omit<Row, 'compiled'>>;
  private readonly selectOne: Database.Statement<[string], Row>;
  private readonly selectId: Database.Statement<[string], { id: string }>;
  private readonly upsert: Database.Statement<[string, string, number, Buffer]>;
  private readonly remove: Database.Statement<[string]>;
  private readonly upsertUsage: Database.Statement<[string, number, number]>;
  private readonly touch: Database.Statement<[number, string]>;
  private readonly removeUsage: Database.Statement<[string]>;
  private readonly totalOthers: Database.Statement<[string], { total: number }>;
  private readonly oldestOthers: Database.Statement<[string], { id: string; size: number }>;
  private readonly dropCompiled: Database.Statement<[string]>;
  private readonly resize: Database.Statement<[number, string]>;
  private readonly putTx: Database.Transaction<(file: StoredFile, recipe: string, compiled: Buffer) => boolean>;
  private readonly deleteTx: Database.Transaction<(id: string) => boolean>;
  /** The quota in bytes; 0: none. */
  readonly maxBytes: number;
  private readonly touchIntervalMs: number;
  private readonly now: () => number;
  /** When this process last recorded a use of each id (the throttle of get's writes). */
  private readonly touched = new Map<string, number>();

  private constructor(path: string, db: Database.Database, opts: Required<Omit<SqliteStoreOptions, 'busyTimeoutMs'>>) {
    this.path = path;
    this.db = db;
    this.maxBytes = opts.maxBytes;
    this.touchIntervalMs = opts.touchIntervalMs;
    this.now = opts.now;
    this.selectAll = db.prepare('SELECT id, recipe, created FROM virtual_files ORDER BY created, id');
    this.selectOne = db.prepare('SELECT id, recipe, created, compiled FROM virtual_files WHERE id = ?');
    this.selectId = db.prepare('SELECT id FROM virtual_files WHERE id = ?');
    this.upsert = db.prepare(
      'INSERT INTO virtual_files (id, recipe, created, compiled) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET recipe = excluded.recipe, created = excluded.created, compiled = excluded.compiled',
    );
    this.remove = db.prepare('DELETE FROM virtual_files WHERE id = ?');
    this.dropCompiled = db.prepare("UPDATE virtual_files SET compiled = x'' WHERE id = ?");
    this.resize = db.prepare('UPDATE file_usage SET size = ? WHERE id = ?');
    this.upsertUsage = db.prepare(
      'INSERT INTO file_usage (id, size, used) VALUES (?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET size = excluded.size, used = excluded.used',
    );
    this.touch = db.prepare('UPDATE file_usage SET used = ? WHERE id = ?');
    this.removeUsage = db.prepare('DELETE FROM file_usage WHERE id = ?');
    this.totalOthers = db.prepare('SELECT COALESCE(SUM(size), 0) AS total FROM file_usage WHERE id <> ?');
    // Files that still hold a compiled form, least recently used first.
    this.oldestOthers = db.prepare('SELECT id, size FROM file_usage WHERE id <> ? AND size > 0 ORDER BY used, id');
    this.deleteTx = db.transaction((id: string) => {
      this.removeUsage.run(id);
      return this.remove.run(id).changes > 0;
    });
    this.putTx = db.transaction((file: StoredFile, recipe: string, compiled: Buffer) => {
      // The quota bounds compiled forms, the cache; recipe rows are the registry itself, bounded by
      // who may register (POST needs the admin token; /dash/ variants by the manifests' representations).
      const size = compiled.byteLength;
      if (this.maxBytes > 0) {
        if (size > this.maxBytes) {
          // Too big for the store at all: only the recipe is kept (the caller holds the file in
          // memory; another instance compiles it again). An older compiled form goes, so the store
          // never answers with what this put meant to replace.
          const now = this.now();
          this.upsert.run(file.id, recipe, file.created, EMPTY);
          this.upsertUsage.run(file.id, 0, now);
          return false;
        }
        // Least recently used first; the file being put is never among them. The total is asked
        // inside the transaction, so another process's puts are counted too.
        let excess = this.totalOthers.get(file.id)!.total + size - this.maxBytes;
        if (excess > 0) {
          const victims: string[] = [];
          for (const row of this.oldestOthers.iterate(file.id)) {
            victims.push(row.id);
            excess -= row.size;
            if (excess <= 0) break;
          }
          // Evicted files keep their recipe row: still registered (listed, served after a compile),
          // only their compiled form is gone. Deleting the row would read as a delete by another
          // instance, and a file registered with POST would stop being served.
          for (const id of victims) {
            this.dropCompiled.run(id);
            this.resize.run(0, id);
            this.touched.delete(id);
          }
        }
      }
      const now = this.now();
      this.upsert.run(file.id, recipe, file.created, compiled);
      this.upsertUsage.run(file.id, size, now);
      this.touched.set(file.id, now);
      return true;
    });
  }

  /**
   * Opens (creating it and its folder if missing) the database at `path`, or `:memory:`
   * for one private to this store. A file that is not a usable database, or one written by
   * a newer schema, fails with USAGE.
   */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    const maxBytes = opts.maxBytes ?? DEFAULT_SQLITE_MAX_BYTES;
    const touchIntervalMs = opts.touchIntervalMs ?? 60_000;
    for (const [name, value] of [
      ['busyTimeoutMs', busyTimeoutMs],
      ['maxBytes', maxBytes],
      ['touchIntervalMs', touchIntervalMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new VvfError('USAGE', `${name} must be a non-negative integer, got ${value}`);
      }
    }
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: busyTimeoutMs });
      // The busy timeout first: switching to WAL and creating the table take locks another process may hold.
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const migrate = db.transaction((d: Database.Database) => {
        const version = d.pragma('user_version', { simple: true }) as number;
        if (version > SQLITE_SCHEMA_VERSION) {
          throw new VvfError(
            'USAGE',
            `metadata store ${path} has schema version ${version}; this vvf knows ${SQLITE_SCHEMA_VERSION}`,
          );
        }
        d.exec(SCHEMA);
        if (version === 1) d.exec(FROM_VERSION_1);
        if (version < SQLITE_SCHEMA_VERSION) d.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
      });
      // IMMEDIATE: two processes creating the schema at once take turns instead of one failing on upgrade.
      migrate.immediate(db);
      return new SqliteStore(path, db, { maxBytes, touchIntervalMs, now: opts.now ?? Date.now });
    } catch (e) {
      db?.close();
      if (e instanceof VvfError) throw e;
      throw new VvfError('USAGE', `cannot open the metadata store ${path}: ${describe(e)}`, {}, { cause: e });
    }
  }

  async list(): Promise<StoredFileInfo[]> {
    this.checkOpen();
    const out: StoredFileInfo[] = [];
    for (const row of this.selectAll.all()) {
      const recipe = parseRecipe(row.recipe);
      if (recipe.ok) out.push({ id: row.id, recipe: recipe.value, created: row.created });
    }
    return out;
  }

  /** The file, or undefined if absent (or its row is unreadable: a cache miss, so the caller recompiles). */
  async get(id: string): Promise<StoredFile | undefined> {
    this.checkOpen();
    const row = this.selectOne.get(id);
    if (!row) return undefined;
    const recipe = parseRecipe(row.recipe);
    if (!recipe.ok) return undefined;
    this.markUsed(id);
    const compiled = new Uint8Array(row.compiled.buffer, row.compiled.byteOffset, row.compiled.byteLength);
    return { id: row.id, recipe: recipe.value, created: row.created, compiled };
  }

  async has(id: string): Promise<boolean> {
    this.checkOpen();
    return this.selectId.get(id) !== undefined;
  }

  async put(file: StoredFile): Promise<void> {
    this.checkOpen();
    const recipe = JSON.stringify(file.recipe);
    if (typeof recipe !== 'string') throw new VvfError('USAGE', `recipe of ${file.id} is not JSON`);
    if (!Number.isSafeInteger(file.created))
      throw new VvfError('USAGE', `created of ${file.id} is not an integer: ${file.created}`);
    const compiled = Buffer.from(file.compiled.buffer, file.compiled.byteOffset, file.compiled.byteLength);
    // IMMEDIATE: the total is read and the victims chosen under the write lock, so two processes
    // putting at once cannot both decide there is room.
    this.putTx.immediate(file, recipe, compiled);
  }

  /**
   * Whether `put` would keep a file of `bytes` (compiled form plus recipe JSON) at all: one
   * larger than the quota is not stored, and the put does not fail (it is a cache).
   */
  fits(bytes: number): boolean {
    return this.maxBytes === 0 || bytes <= this.maxBytes;
  }

  async delete(id: string): Promise<boolean> {
    this.checkOpen();
    this.touched.delete(id);
    return this.deleteTx.immediate(id);
  }

  /** The bytes the quota counts now (compiled forms plus recipes of every file). */
  async totalBytes(): Promise<number> {
    this.checkOpen();
    return this.totalOthers.get('')!.total;
  }

  /** Closes the database (checkpointing the WAL if this is the last connection). Later calls fail with USAGE. */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Records a get as a use, at most once per touchIntervalMs per id (a write per hot read would cost more than the read). */
  private markUsed(id: string): void {
    const now = this.now();
    const last = this.touched.get(id);
    if (last !== undefined && now - last < this.touchIntervalMs) return;
    // A failed touch (the database busy past the timeout) must not fail the read: LRU order is a hint.
    try {
      this.touch.run(now, id);
      // Forgetting everything now and then keeps the map bounded: the cost is one more write per id.
      if (this.touched.size >= MAX_TOUCHED) this.touched.clear();
      this.touched.set(id, now);
    } catch {
      return;
    }
  }

  private checkOpen(): void {
    if (!this.db.open) throw new VvfError('USAGE', `the metadata store ${this.path} is closed`);
  }
}

/** Ids whose last touch {@link SqliteStore} remembers, at most. */
const MAX_TOUCHED = 100_000;
/** The compiled form of a file evicted, or too big to keep: its recipe row stays. */
const EMPTY = Buffer.alloc(0);

function parseRecipe(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
