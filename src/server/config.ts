import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { VvfError } from '../errors.js';
import { redactUrl } from '../sources/redact-url.js';

/** How `vvf serve` runs. Every field can come from the config file, the environment or a flag. */
export interface ServeConfig {
  host: string;
  port: number;
  /** Directories local sources may come from. */
  roots: string[];
  /** HTTP(S) origins remote sources may come from. */
  origins: string[];
  /** Cache-Control of virtual files. */
  cacheControl: string;
  /** Most ranges in one multipart request; more are answered with the whole file. */
  maxRanges: number;
  /** Time to receive a request's headers and body. */
  requestTimeoutMs: number;
  /** Keep-alive: how long an idle connection stays open. */
  idleTimeoutMs: number;
  /** Timeout of one source read (HTTP origins). */
  sourceTimeoutMs: number;
  /** URL clients reach the server at, for the links it answers (default http://host:port). */
  publicUrl?: string;
  /** HMAC key of signed URLs (/s/…); without one, signed URLs are refused. Never printed. */
  signingKey?: string;
  /** SQLite file keeping compiled files between runs and instances; none: memory only. */
  storePath?: string;
  /**
   * Redis server keeping compiled files for every instance (`redis://host:port/db`); when
   * set, it is used instead of `storePath`. Its password is never printed.
   */
  redisUrl?: string;
  /** Bytes of compiled files kept in memory in front of the store. */
  memoryCacheBytes: number;
  /**
   * `auto`: send local files' bytes with sendfile(2) when the native addon is built (no
   * copy through user space, as nginx's `sendfile on`); `off`: always copy.
   */
  sendfile: 'auto' | 'off';
  /** How long a client may stop reading mid-response before it is cut (nginx's send_timeout). */
  sendTimeoutMs: number;
}

export const defaultServeConfig: Readonly<ServeConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  roots: [],
  origins: [],
  cacheControl: 'public, max-age=3600',
  maxRanges: 16,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  sourceTimeoutMs: 10_000,
  memoryCacheBytes: 256 * 1024 * 1024,
  sendfile: 'auto',
  sendTimeoutMs: 60_000,
});

const ENV: Record<string, keyof ServeConfig> = {
  VVF_HOST: 'host',
  VVF_PORT: 'port',
  VVF_ROOTS: 'roots',
  VVF_ORIGINS: 'origins',
  VVF_CACHE_CONTROL: 'cacheControl',
  VVF_MAX_RANGES: 'maxRanges',
  VVF_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  VVF_IDLE_TIMEOUT_MS: 'idleTimeoutMs',
  VVF_SOURCE_TIMEOUT_MS: 'sourceTimeoutMs',
  VVF_PUBLIC_URL: 'publicUrl',
  VVF_SIGNING_KEY: 'signingKey',
  VVF_STORE: 'storePath',
  VVF_REDIS: 'redisUrl',
  VVF_MEMORY_CACHE_BYTES: 'memoryCacheBytes',
  VVF_SENDFILE: 'sendfile',
  VVF_SEND_TIMEOUT_MS: 'sendTimeoutMs',
};

const NUMBERS = new Set<keyof ServeConfig>([
  'port',
  'maxRanges',
  'requestTimeoutMs',
  'idleTimeoutMs',
  'sourceTimeoutMs',
  'memoryCacheBytes',
  'sendTimeoutMs',
]);
const LISTS = new Set<keyof ServeConfig>(['roots', 'origins']);
/** Settings without a default that the config file may hold. */
const OPTIONAL: ReadonlySet<string> = new Set<keyof ServeConfig>(['publicUrl', 'signingKey', 'storePath', 'redisUrl']);

function coerce(key: keyof ServeConfig, value: unknown, where: string): unknown {
  if (NUMBERS.has(key)) {
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < 0) throw new VvfError('USAGE', `${where}: ${key} must be a non-negative integer`);
    return n;
  }
  if (LISTS.has(key)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
    if (typeof value === 'string') return value.split(',').filter((s) => s !== '');
    throw new VvfError('USAGE', `${where}: ${key} must be a list of strings`);
  }
  if (typeof value !== 'string') throw new VvfError('USAGE', `${where}: ${key} must be a string`);
  if (key === 'sendfile' && value !== 'auto' && value !== 'off')
    throw new VvfError('USAGE', `${where}: sendfile must be "auto" or "off"`);
  return value;
}

/**
 * The configuration: defaults, then the JSON config file, then environment variables
 * (VVF_PORT, VVF_ROOTS=a,b, …), then flags — later ones win. Roots become absolute.
 */
export function loadServeConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<ServeConfig> }): ServeConfig {
  const config: Record<string, unknown> = { ...defaultServeConfig };
  if (opts.file) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(opts.file, 'utf8'));
    } catch (e) {
      throw new VvfError('USAGE', `cannot read config ${opts.file}: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new VvfError('USAGE', `config ${opts.file} must be a JSON object`);
    for (const [k, v] of Object.entries(json)) {
      if (!(k in defaultServeConfig) && !OPTIONAL.has(k))
        throw new VvfError('USAGE', `config ${opts.file}: unknown setting "${k}"`);
      config[k] = coerce(k as keyof ServeConfig, v, opts.file);
    }
  }
  for (const [name, key] of Object.entries(ENV)) {
    const v = opts.env?.[name];
    if (v !== undefined && v !== '') config[key] = coerce(key, v, name);
  }
  for (const [k, v] of Object.entries(opts.flags ?? {})) {
    if (v !== undefined) config[k] = coerce(k as keyof ServeConfig, v, `--${k}`);
  }
  const result = config as unknown as ServeConfig;
  result.roots = result.roots.map((r) => resolve(r));
  return result;
}

/** The configuration as it may be printed or logged: secrets replaced. */
export function printableConfig(config: ServeConfig): Record<string, unknown> {
  return {
    ...config,
    ...(config.signingKey !== undefined ? { signingKey: '(set)' } : {}),
    ...(config.redisUrl !== undefined ? { redisUrl: redactUrl(config.redisUrl) } : {}),
  };
}
