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
}

/** The schema version this code writes (`PRAGMA user_version`); a database from a newer vvf is refused. */
export const SQLITE_SCHEMA_VERSION = 1;

/**
 * The one table. `recipe` is JSON text; `created` is milliseconds since the epoch;
 * `compiled` is `VirtualFile.serialize()`. A rowid table (not WITHOUT ROWID): rows hold
 * blobs far larger than a page.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS virtual_files (
  id TEXT PRIMARY KEY NOT NULL,
  recipe TEXT NOT NULL,
  created INTEGER NOT NULL,
  compiled BLOB NOT NULL
)`;

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

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.selectAll = db.prepare('SELECT id, recipe, created FROM virtual_files ORDER BY created, id');
    this.selectOne = db.prepare('SELECT id, recipe, created, compiled FROM virtual_files WHERE id = ?');
    this.selectId = db.prepare('SELECT id FROM virtual_files WHERE id = ?');
    this.upsert = db.prepare(
      'INSERT INTO virtual_files (id, recipe, created, compiled) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET recipe = excluded.recipe, created = excluded.created, compiled = excluded.compiled',
    );
    this.remove = db.prepare('DELETE FROM virtual_files WHERE id = ?');
  }

  /**
   * Opens (creating it and its folder if missing) the database at `path`, or `:memory:`
   * for one private to this store. A file that is not a usable database, or one written by
   * a newer schema, fails with USAGE.
   */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new VvfError('USAGE', `busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
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
        if (version < SQLITE_SCHEMA_VERSION) d.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
      });
      // IMMEDIATE: two processes creating the schema at once take turns instead of one failing on upgrade.
      migrate.immediate(db);
      return new SqliteStore(path, db);
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
    this.upsert.run(file.id, recipe, file.created, compiled);
  }

  async delete(id: string): Promise<boolean> {
    this.checkOpen();
    return this.remove.run(id).changes > 0;
  }

  /** Closes the database (checkpointing the WAL if this is the last connection). Later calls fail with USAGE. */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private checkOpen(): void {
    if (!this.db.open) throw new VvfError('USAGE', `the metadata store ${this.path} is closed`);
  }
}

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
