// RedisStore: stored files in a Redis server, shared by every instance behind a load balancer.
import { createClient, RESP_TYPES } from '@redis/client';
import { VvfError } from '../errors.js';
import { redactUrl } from '../sources/redact-url.js';
import { byCreated, type MetadataStore, type StoredFile, type StoredFileInfo } from './metadata-store.js';

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /** Prepended to every key, so several deployments can share one Redis database. Default `vvf:`. */
  prefix?: string;
  /** How long connecting (TCP, TLS, AUTH, SELECT) may take. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** How long one command (a put of a multi-megabyte compiled file included) may take. Default 10000 ms. */
  commandTimeoutMs?: number;
}

/** Replies with bulk strings as Buffers: compiled files are binary, and everything else is read from bytes too. */
const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

function newClient(url: string, connectTimeoutMs: number, commandTimeoutMs: number, everConnected: () => boolean) {
  return createClient({
    url,
    socket: {
      connectTimeout: connectTimeoutMs,
      // The first connection fails at once (the server reports it at start); a lost one is retried for ever,
      // backing off to 2 s, and commands fail fast meanwhile (disableOfflineQueue) rather than piling up.
      reconnectStrategy: (retries: number, cause: Error) => (everConnected() ? Math.min(50 * 2 ** retries, 2000) : cause),
    },
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
  }).withTypeMapping(BUFFERS);
}

type Client = ReturnType<typeof newClient>;

/**
 * A {@link MetadataStore} in Redis. Per file, a hash `<prefix>file:<id>` with the fields
 * `recipe` (JSON), `created` (milliseconds since the epoch, decimal) and `compiled`
 * (`VirtualFile.serialize()`, binary); and one sorted set `<prefix>files` of the ids,
 * scored by `created`, for `list`. `put` and `delete` change both in one MULTI, so no
 * reader sees a file listed but missing, or half written.
 *
 * Nothing expires: Redis should run without an eviction policy that drops these keys
 * (`maxmemory-policy noeviction`, the default), or a file may vanish from under its listing
 * (it is then skipped by `list` and a miss for `get`, so the recipe compiles again).
 *
 * No byte quota here (unlike SqliteStore's `maxBytes`): doing it right needs the total and
 * the LRU order kept in Redis and the eviction done atomically with the put (a Lua script
 * over a `used` sorted set and a size counter), not yet written. Until then, bound the
 * memory with the server's `maxmemory` (a put past it fails with an OOM error instead of
 * evicting) or give Redis a database of its own.
 *
 * Failures to reach the server (refused, timed out, connection lost) are VvfError
 * `STORE_UNAVAILABLE`; a lost connection is re-established in the background.
 */
export class RedisStore implements MetadataStore {
  /** The server's URL with any password replaced, for messages. */
  readonly url: string;
  readonly prefix: string;
  private readonly client: Client;
  private closed = false;

  private constructor(url: string, prefix: string, client: Client) {
    this.url = url;
    this.prefix = prefix;
    this.client = client;
  }

  /**
   * Connects to `url` (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for
   * TLS). A URL that is not one fails with USAGE; a server that cannot be reached within
   * `connectTimeoutMs`, or refuses the credentials, with STORE_UNAVAILABLE.
   */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const prefix = opts.prefix ?? 'vvf:';
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    for (const [name, v] of [
      ['connectTimeoutMs', connectTimeoutMs],
      ['commandTimeoutMs', commandTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new VvfError('USAGE', `${name} must be a positive integer, got ${v}`);
    }
    const shown = redactUrl(url);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new VvfError('USAGE', `not a Redis URL: ${shown}`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
      throw new VvfError('USAGE', `a Redis URL starts with redis:// or rediss://, got ${shown}`);

    let connected = false;
    let client: Client;
    try {
      client = newClient(url, connectTimeoutMs, commandTimeoutMs, () => connected);
    } catch (e) {
      throw new VvfError('USAGE', `bad Redis URL ${shown}: ${describe(e)}`, {}, { cause: e });
    }
    // The client emits every socket error; without a listener an EventEmitter would throw it.
    // Commands report their own failures, so the events themselves are not needed.
    client.on('error', () => {});
    // Our own deadline too: a server that accepts and then hangs up mid-handshake can leave connect() pending.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VvfError('STORE_UNAVAILABLE', `timed out after ${connectTimeoutMs} ms`)),
        connectTimeoutMs + 1000,
      );
    });
    try {
      await Promise.race([client.connect(), deadline]);
      connected = true;
    } catch (e) {
      client.destroy();
      throw new VvfError(
        'STORE_UNAVAILABLE',
        `cannot connect to the metadata store: ${describe(e)}`,
        { source: shown },
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
    return new RedisStore(shown, prefix, client);
  }

  /** The key of a file's hash. */
  fileKey(id: string): string {
    return `${this.prefix}file:${id}`;
  }

  /** The key of the sorted set of ids. */
  get indexKey(): string {
    return `${this.prefix}files`;
  }

  async list(): Promise<StoredFileInfo[]> {
    const ids = (await this.run(() => this.client.zRange(this.indexKey, 0, -1))).map((b) => b.toString('utf8'));
    if (ids.length === 0) return [];
    const batch = this.client.multi();
    for (const id of ids) batch.hmGet(this.fileKey(id), ['recipe', 'created']);
    // A pipeline, not a transaction: one round trip, and a file deleted meanwhile is simply skipped.
    const replies = await this.run(() => batch.execAsPipeline());
    const out: StoredFileInfo[] = [];
    ids.forEach((id, i) => {
      const fields = replies[i];
      if (!Array.isArray(fields)) return;
      const info = decode(id, fields[0], fields[1]);
      if (info) out.push(info);
    });
    return out.sort(byCreated);
  }

  /** The file, or undefined if absent (or unreadable: a cache miss, so the caller recompiles). */
  async get(id: string): Promise<StoredFile | undefined> {
    const [recipe, created, compiled] = await this.run(() =>
      this.client.hmGet(this.fileKey(id), ['recipe', 'created', 'compiled']),
    );
    const info = decode(id, recipe, created);
    if (!info || !(compiled instanceof Buffer)) return undefined;
    return { ...info, compiled: new Uint8Array(compiled.buffer, compiled.byteOffset, compiled.byteLength) };
  }

  /** Whether the store has `id`, without fetching it. */
  async has(id: string): Promise<boolean> {
    return (await this.run(() => this.client.exists(this.fileKey(id)))) > 0;
  }

  async put(file: StoredFile): Promise<void> {
    const recipe = JSON.stringify(file.recipe);
    if (typeof recipe !== 'string') throw new VvfError('USAGE', `recipe of ${file.id} is not JSON`);
    if (!Number.isSafeInteger(file.created))
      throw new VvfError('USAGE', `created of ${file.id} is not an integer: ${file.created}`);
    const key = this.fileKey(file.id);
    const compiled = Buffer.from(file.compiled.buffer, file.compiled.byteOffset, file.compiled.byteLength);
    await this.run(() =>
      this.client
        .multi()
        // DEL first: a replaced file keeps no field of the old one.
        .del(key)
        .hSet(key, { recipe, created: String(file.created), compiled })
        .zAdd(this.indexKey, { score: file.created, value: file.id })
        .exec(),
    );
  }

  async delete(id: string): Promise<boolean> {
    const [deleted, unlisted] = await this.run(() => this.client.multi().del(this.fileKey(id)).zRem(this.indexKey, id).exec());
    return Number(deleted) > 0 || Number(unlisted) > 0;
  }

  /** Whether the connection is up (the client reconnects in the background while it is not). */
  available(): boolean {
    return !this.closed && this.client.isReady;
  }

  /** Closes the connection, after the commands already sent are answered. Later calls fail with USAGE. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.isOpen) await this.client.close();
  }

  /** Runs a command, turning the client's failures into VvfError. */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new VvfError('USAGE', `the metadata store ${this.url} is closed`);
    try {
      return await command();
    } catch (e) {
      if (e instanceof VvfError) throw e;
      throw new VvfError('STORE_UNAVAILABLE', `metadata store: ${describe(e)}`, { source: this.url }, { cause: e });
    }
  }
}

/** A file's listing from its hash fields; undefined when they are missing or unreadable. */
function decode(id: string, recipe: unknown, created: unknown): StoredFileInfo | undefined {
  if (!(recipe instanceof Buffer) || !(created instanceof Buffer)) return undefined;
  const ms = Number(created.toString('latin1'));
  if (!Number.isSafeInteger(ms)) return undefined;
  try {
    return { id, recipe: JSON.parse(recipe.toString('utf8')) as unknown, created: ms };
  } catch {
    return undefined;
  }
}

export { redactUrl };

function describe(e: unknown): string {
  if (e instanceof VvfError) return e.detail;
  if (e instanceof Error) return e.message || e.constructor.name;
  return String(e);
}
