// RedisStore: stored files in a Redis server, shared by every instance behind a load balancer.
import { createHash } from 'node:crypto';
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
  /**
   * Most bytes of compiled forms the store keeps, every instance's together; a put past it
   * drops the least recently used compiled forms first (their recipes stay). 0: unlimited.
   * Default 1 GiB, as SQLite's.
   */
  maxBytes?: number;
  /**
   * A get records that its file was used at most once per this many ms per id (per
   * process): a hot file must not turn every read into a write. Default 60000.
   */
  touchIntervalMs?: number;
  /** The clock of that throttle, in ms (tests move it). Default `Date.now`. */
  now?: () => number;
}

/** The default {@link RedisStoreOptions.maxBytes}: 1 GiB. */
export const DEFAULT_REDIS_MAX_BYTES = 1024 * 1024 * 1024;

/** A Lua script, run by its SHA1 (sent whole only when the server does not have it yet). */
interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// The quota's bookkeeping, beside each file's hash: `used` (sorted set: id → last use, in
// server microseconds), `sizes` (hash: id → bytes of its compiled form) and `bytes` (their
// sum). Only files that hold a compiled form are in `used` and `sizes`. Every change to them
// runs in a script, so instances sharing the server never interleave inside one. Times come
// from the server's clock (TIME), not each instance's. Victims' keys are built in the script
// from the prefix: fine on one server, not on a Redis Cluster (neither is the MULTI of put).

/** Sets `bytes` (and `used`, `sizes`) from the stored files when `bytes` is missing: a store written before the quota. */
const REBUILD = `
local function rebuild(filesKey, usedKey, sizesKey, bytesKey, filePrefix)
  redis.call('DEL', usedKey, sizesKey)
  local total = 0
  local ids = redis.call('ZRANGE', filesKey, 0, -1, 'WITHSCORES')
  for i = 1, #ids, 2 do
    local n = redis.call('HSTRLEN', filePrefix .. ids[i], 'compiled')
    if n > 0 then
      redis.call('HSET', sizesKey, ids[i], n)
      redis.call('ZADD', usedKey, tonumber(ids[i + 1]) * 1000, ids[i])
      total = total + n
    end
  end
  redis.call('SET', bytesKey, total)
  return total
end
`;

/**
 * KEYS: file, files, used, sizes, bytes. ARGV: id, recipe, created, compiled, maxBytes, file key prefix.
 * Replaces the file; with a quota, first drops the least recently used other compiled forms
 * until this one fits, and stores only the recipe of a file larger than the quota.
 * Returns {kept (1 or 0), compiled forms dropped}.
 */
const PUT = script(`${REBUILD}
local fileKey, filesKey, usedKey, sizesKey, bytesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, recipe, created, compiled = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxBytes, filePrefix = tonumber(ARGV[5]), ARGV[6]
local total = tonumber(redis.call('GET', bytesKey))
if total == nil then total = rebuild(filesKey, usedKey, sizesKey, bytesKey, filePrefix) end
total = total - (tonumber(redis.call('HGET', sizesKey, id)) or 0)
redis.call('HDEL', sizesKey, id)
redis.call('ZREM', usedKey, id)
local size = string.len(compiled)
local kept = 1
local dropped = 0
if maxBytes > 0 and size > maxBytes then
  compiled = ''
  size = 0
  kept = 0
elseif maxBytes > 0 then
  while total + size > maxBytes do
    local oldest = redis.call('ZRANGE', usedKey, 0, 0)
    if #oldest == 0 then break end
    local victim = oldest[1]
    total = total - (tonumber(redis.call('HGET', sizesKey, victim)) or 0)
    redis.call('ZREM', usedKey, victim)
    redis.call('HDEL', sizesKey, victim)
    if redis.call('EXISTS', filePrefix .. victim) == 1 then
      redis.call('HSET', filePrefix .. victim, 'compiled', '')
    end
    dropped = dropped + 1
  end
end
redis.call('DEL', fileKey)
redis.call('HSET', fileKey, 'recipe', recipe, 'created', created, 'compiled', compiled)
redis.call('ZADD', filesKey, created, id)
if size > 0 then
  local t = redis.call('TIME')
  redis.call('ZADD', usedKey, t[1] * 1000000 + t[2], id)
  redis.call('HSET', sizesKey, id, size)
end
redis.call('SET', bytesKey, total + size)
return {kept, dropped}
`);

/**
 * KEYS: file, files, used, sizes, bytes. ARGV: id. Deletes the file and its bookkeeping;
 * the last file's delete removes the counters too. Returns 1 if there was such a file.
 */
const DELETE = script(`
local fileKey, filesKey, usedKey, sizesKey, bytesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id = ARGV[1]
local size = tonumber(redis.call('HGET', sizesKey, id)) or 0
local found = redis.call('DEL', fileKey) + redis.call('ZREM', filesKey, id)
redis.call('ZREM', usedKey, id)
redis.call('HDEL', sizesKey, id)
if redis.call('ZCARD', filesKey) == 0 then
  redis.call('DEL', usedKey, sizesKey, bytesKey)
elseif size > 0 and redis.call('EXISTS', bytesKey) == 1 then
  redis.call('DECRBY', bytesKey, size)
end
if found > 0 then return 1 end
return 0
`);

/** KEYS: used. ARGV: id. Marks a file that holds a compiled form as used now (XX: an evicted or deleted one is not added back). */
const TOUCH = script(`
local t = redis.call('TIME')
return redis.call('ZADD', KEYS[1], 'XX', t[1] * 1000000 + t[2], ARGV[1])
`);

const SCRIPTS = [PUT, DELETE, TOUCH];

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
 * The quota (`maxBytes`, as SqliteStore's) bounds the compiled forms of every instance
 * together: a put past it empties the `compiled` field of the least recently used files
 * (put, or get recorded at most once a minute per id and process), in the same script as
 * the put, so two instances putting at once cannot both decide there is room. An evicted
 * file keeps its hash and listing: still registered, compiled again when asked for. A file
 * larger than the quota is stored as its recipe only. The bookkeeping keys are `used`,
 * `sizes` and `bytes` under the prefix (see the scripts); a store written before them is
 * counted on its first put.
 *
 * Nothing expires: Redis should run without an eviction policy that drops these keys
 * (`maxmemory-policy noeviction`, the default). Its own eviction is no quota: a file whose
 * hash it dropped reads as deleted, and one it kept may lose its listing. Give Redis a
 * `maxmemory` above this quota plus the recipes, or none.
 *
 * Failures to reach the server (refused, timed out, connection lost) are VvfError
 * `STORE_UNAVAILABLE`; a lost connection is re-established in the background.
 */
export class RedisStore implements MetadataStore {
  /** The server's URL with any password replaced, for messages. */
  readonly url: string;
  readonly prefix: string;
  /** The quota in bytes of compiled forms; 0: none. */
  readonly maxBytes: number;
  private readonly client: Client;
  private readonly touchIntervalMs: number;
  private readonly now: () => number;
  /** When this process last recorded a use of each id (the throttle of get's writes). */
  private readonly touched = new Map<string, number>();
  private closed = false;

  private constructor(
    url: string,
    prefix: string,
    client: Client,
    opts: { maxBytes: number; touchIntervalMs: number; now: () => number },
  ) {
    this.url = url;
    this.prefix = prefix;
    this.client = client;
    this.maxBytes = opts.maxBytes;
    this.touchIntervalMs = opts.touchIntervalMs;
    this.now = opts.now;
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
    const maxBytes = opts.maxBytes ?? DEFAULT_REDIS_MAX_BYTES;
    const touchIntervalMs = opts.touchIntervalMs ?? 60_000;
    for (const [name, v] of [
      ['connectTimeoutMs', connectTimeoutMs],
      ['commandTimeoutMs', commandTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new VvfError('USAGE', `${name} must be a positive integer, got ${v}`);
    }
    for (const [name, v] of [
      ['maxBytes', maxBytes],
      ['touchIntervalMs', touchIntervalMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new VvfError('USAGE', `${name} must be a non-negative integer, got ${v}`);
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
      // Loaded now, so that commands sent one after another run in that order: a script
      // sent whole after a NOSCRIPT reply would run after commands sent meanwhile.
      await Promise.race([Promise.all(SCRIPTS.map((s) => client.scriptLoad(s.lua))), deadline]);
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
    return new RedisStore(shown, prefix, client, { maxBytes, touchIntervalMs, now: opts.now ?? Date.now });
  }

  /** The key of a file's hash. */
  fileKey(id: string): string {
    return `${this.prefix}file:${id}`;
  }

  /** The key of the sorted set of ids. */
  get indexKey(): string {
    return `${this.prefix}files`;
  }

  /** The keys every script is given: a file's hash, the listing, and the quota's bookkeeping. */
  private scriptKeys(id: string): string[] {
    return [this.fileKey(id), this.indexKey, `${this.prefix}used`, `${this.prefix}sizes`, `${this.prefix}bytes`];
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

  /**
   * The file, or undefined if absent (or unreadable: a cache miss, so the caller recompiles).
   * A file whose compiled form the quota dropped comes with an empty one.
   */
  async get(id: string): Promise<StoredFile | undefined> {
    // Sent together (one round trip); the touch changes nothing for an absent or evicted file.
    const [[recipe, created, compiled]] = await this.run(() =>
      Promise.all([this.client.hmGet(this.fileKey(id), ['recipe', 'created', 'compiled']), this.markUsed(id)]),
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
    const compiled = Buffer.from(file.compiled.buffer, file.compiled.byteOffset, file.compiled.byteLength);
    // The script replaces the whole hash (a replaced file keeps no field of the old one) and lists it.
    await this.run(() =>
      this.eval(PUT, this.scriptKeys(file.id), [
        file.id,
        recipe,
        String(file.created),
        compiled,
        String(this.maxBytes),
        this.fileKey(''),
      ]),
    );
    this.remember(file.id, this.now());
  }

  /**
   * Whether `put` would keep a compiled form of `bytes` at all: one larger than the quota is
   * not stored (only its recipe), and the put does not fail (it is a cache).
   */
  fits(bytes: number): boolean {
    return this.maxBytes === 0 || bytes <= this.maxBytes;
  }

  async delete(id: string): Promise<boolean> {
    this.touched.delete(id);
    return Number(await this.run(() => this.eval(DELETE, this.scriptKeys(id), [id]))) > 0;
  }

  /** The bytes the quota counts now: compiled forms of every file, every instance's puts included. */
  async totalBytes(): Promise<number> {
    const total = await this.run(() => this.client.get(`${this.prefix}bytes`));
    return total === null ? 0 : Number(total.toString('latin1'));
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

  /** Records a get as a use, at most once per touchIntervalMs per id; never fails the read (LRU order is a hint). */
  private async markUsed(id: string): Promise<void> {
    const now = this.now();
    const last = this.touched.get(id);
    if (last !== undefined && now - last < this.touchIntervalMs) return;
    this.remember(id, now);
    await this.eval(TOUCH, [`${this.prefix}used`], [id]).catch(() => {});
  }

  private remember(id: string, now: number): void {
    // Forgetting everything now and then keeps the map bounded: the cost is one more write per id.
    if (this.touched.size >= MAX_TOUCHED) this.touched.clear();
    this.touched.set(id, now);
  }

  /** Runs a script by its SHA1, sending it whole when the server does not know it (new, restarted, or flushed). */
  private async eval(s: Script, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await this.client.evalSha(s.sha, { keys, arguments: args });
    } catch (e) {
      if (!(e instanceof Error && e.message.startsWith('NOSCRIPT'))) throw e;
      return await this.client.eval(s.lua, { keys, arguments: args });
    }
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

/** Ids whose last touch {@link RedisStore} remembers, at most. */
const MAX_TOUCHED = 100_000;

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
