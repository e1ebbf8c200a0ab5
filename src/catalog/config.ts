import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { VvfError } from '../errors.js';
import { redactUrl } from '../sources/redact-url.js';
import { defaultCompileWorkers } from './compile-pool.js';
import type { SettingsSpec } from './settings.js';

/**
 * What every face of a deployment shares: where sources may come from, how long a source
 * may take, and where compiled files are kept. Each face's own settings extend this.
 */
export interface CatalogConfig {
  /** Directories local sources may come from. */
  roots: string[];
  /** HTTP(S) origins remote sources may come from. */
  origins: string[];
  /** Timeout of one source read (HTTP origins). */
  sourceTimeoutMs: number;
  /** SQLite file keeping compiled files between runs and instances; none: memory only. */
  storePath?: string;
  /**
   * Most bytes of compiled files the store (SQLite, or Redis for every instance together)
   * keeps; past it, the least recently used lose their compiled form (their recipe stays),
   * and a single file larger is kept in memory only. 0: unlimited.
   */
  storeMaxBytes: number;
  /**
   * Redis server keeping compiled files for every instance (`redis://host:port/db`); when
   * set, it is used instead of `storePath`. Its password is never printed.
   */
  redisUrl?: string;
  /** Bytes of compiled files kept in memory in front of the store. */
  memoryCacheBytes: number;
  /**
   * Worker threads compiling recipes, so that a heavy compile never holds up the event loop
   * (see compile-pool.ts for the measurements); 0 compiles on the main thread.
   */
  compileWorkers?: number;
  /** Heap of each compile worker, in MiB: a compile that needs more fails with METADATA_LIMIT. */
  compileHeapMb?: number;
  /** Longest a compile in a worker may take: it then fails with COMPILE_TIMEOUT (504). */
  compileTimeoutMs?: number;
}

export const defaultCatalogConfig: Readonly<CatalogConfig> = Object.freeze({
  roots: [],
  origins: [],
  sourceTimeoutMs: 10_000,
  memoryCacheBytes: 256 * 1024 * 1024,
  // DEFAULT_SQLITE_MAX_BYTES, written out: importing the store here would load SQLite's native module in every face.
  storeMaxBytes: 1024 * 1024 * 1024,
  compileWorkers: defaultCompileWorkers(),
  compileHeapMb: 2048,
  compileTimeoutMs: 120_000,
});

export const catalogSettings: SettingsSpec<CatalogConfig> = {
  env: {
    VVF_ROOTS: 'roots',
    VVF_ORIGINS: 'origins',
    VVF_SOURCE_TIMEOUT_MS: 'sourceTimeoutMs',
    VVF_STORE: 'storePath',
    VVF_STORE_MAX_BYTES: 'storeMaxBytes',
    VVF_REDIS: 'redisUrl',
    VVF_MEMORY_CACHE_BYTES: 'memoryCacheBytes',
    VVF_COMPILE_WORKERS: 'compileWorkers',
    VVF_COMPILE_HEAP_MB: 'compileHeapMb',
    VVF_COMPILE_TIMEOUT_MS: 'compileTimeoutMs',
  },
  numbers: new Set([
    'sourceTimeoutMs',
    'storeMaxBytes',
    'memoryCacheBytes',
    'compileWorkers',
    'compileHeapMb',
    'compileTimeoutMs',
  ]),
  lists: new Set(['roots', 'origins']),
  optional: new Set(['storePath', 'redisUrl']),
};

/** Roots as absolute paths, so that a later chdir or another face resolves them alike. */
export function absoluteRoots<T extends CatalogConfig>(config: T): T {
  config.roots = config.roots.map((r) => resolve(r));
  return config;
}

/**
 * Fails with USAGE, in one line, when a configured root is not an existing directory: a
 * typo in `--root` would otherwise show only as every request failing.
 */
export function checkRoots(config: CatalogConfig): void {
  for (const root of config.roots) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(root).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new VvfError('USAGE', `root ${root} cannot be used: ${code === 'ENOENT' ? 'it does not exist' : code}`);
    }
    if (!isDirectory) throw new VvfError('USAGE', `root ${root} is not a directory`);
  }
}

/** The catalog's settings as they may be printed or logged: secrets replaced. */
export function printableCatalogConfig<T extends CatalogConfig>(config: T): T {
  return { ...config, ...(config.redisUrl !== undefined ? { redisUrl: redactUrl(config.redisUrl) } : {}) };
}
