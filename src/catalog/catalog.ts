import { resolve } from 'node:path';
import { type Recipe, resolveRecipePaths } from '../compose/recipe.js';
import { VvfError } from '../errors.js';
import { currentValidator } from '../sources/file-source.js';
import type { Source } from '../sources/source.js';
import { SourcePolicy } from '../sources/source-policy.js';
import type { MetadataStore } from '../store/metadata-store.js';
import { compileRecipe } from '../virtual/compile.js';
import { resolveWith } from '../virtual/source-ref.js';
import { VirtualFile } from '../virtual/virtual-file.js';
import { defaultCompileWorkers, replyError, sharedCompilePool } from './compile-pool.js';
import type { CatalogConfig } from './config.js';
import { instrumentSource, sourceMetrics } from './instrument.js';
import { MetricsRegistry } from './metrics.js';
import { openStore } from './open-store.js';
import { recipeId } from './recipe-id.js';
import { type CompiledFile, type Registered, Registry } from './registry.js';
import { RootPaths } from './root-paths.js';

export interface CatalogOptions {
  /** A store to use instead of the configured one (the caller closes it). */
  store?: MetadataStore;
  /** The process's metrics, shared with the faces; a new registry by default. */
  metrics?: MetricsRegistry;
}

/**
 * The virtual files a deployment knows, shared by every face of a process: recipes are
 * registered (the same recipe gets the same id on any instance), compiled once, kept in
 * the configured store, and listed; sources are opened only as the policy allows, and
 * every read is counted. Faces turn their protocol into calls on this.
 */
export class Catalog {
  readonly registry: Registry;
  readonly policy: SourcePolicy;
  readonly metrics: MetricsRegistry;
  /** Paths as clients may see them: relative to their root. */
  readonly shown: RootPaths;
  private readonly cacheLookups;
  private readonly listeners = new Set<() => void>();

  private constructor(
    readonly config: CatalogConfig,
    private readonly store: MetadataStore | undefined,
    private readonly ownsStore: boolean,
    metrics: MetricsRegistry,
  ) {
    this.metrics = metrics;
    this.shown = new RootPaths(config.roots);
    this.policy = new SourcePolicy({
      roots: config.roots,
      origins: config.origins,
      http: { timeoutMs: config.sourceTimeoutMs, idleTimeoutMs: config.sourceTimeoutMs },
    });
    const reads = sourceMetrics(metrics);
    this.cacheLookups = metrics.counter('vvf_metadata_cache_total', 'Compiled-file lookups, by result (hit, miss).');
    const open = async (spec: string) => instrumentSource(await this.policy.open(spec), reads);
    this.openSource = open;
    const workers = config.compileWorkers ?? defaultCompileWorkers();
    const pool =
      workers > 0
        ? sharedCompilePool({ workers, heapMb: config.compileHeapMb ?? 2048, timeoutMs: config.compileTimeoutMs ?? 120_000 })
        : undefined;
    const policy = { roots: config.roots, origins: config.origins, sourceTimeoutMs: config.sourceTimeoutMs };
    const compile = async (recipe: Recipe): Promise<CompiledFile> => {
      if (pool === undefined) return compileRecipe(recipe, { openSource: open });
      const reply = await pool.compile(recipe, policy);
      // The worker's source reads count as this process's.
      for (const seconds of reply.reads) reads.reads.observe(seconds);
      for (const code of reply.errors) reads.errors.inc({ code });
      if (!reply.ok) throw replyError(reply);
      // Sources open here only as reads need them, each checked against the validator the worker saw.
      const file = VirtualFile.deserialize(reply.compiled, resolveWith(open));
      return { file, close: () => file.close() };
    };
    this.registry = new Registry(compile, {
      ...(store ? { store } : {}),
      open,
      // Local files only: a stat is cheap; an HTTP source's validator is checked on every response anyway.
      currentValidator: async (key) => (key.startsWith('/') ? currentValidator(key) : undefined),
    });
  }

  /** Opens the configured store (or uses the one given) and makes the catalog. */
  static async open(config: CatalogConfig, opts: CatalogOptions = {}): Promise<Catalog> {
    const store = opts.store ?? (await openStore(config));
    return new Catalog(config, store, opts.store === undefined, opts.metrics ?? new MetricsRegistry());
  }

  /** Opens a path or URL as the policy allows, its reads counted in the metrics. */
  readonly openSource: (spec: string) => Promise<Source>;

  /** A recipe with its relative local paths made absolute under the first root. */
  underRoot(recipe: Recipe): Recipe {
    const root = this.config.roots[0];
    return root ? resolveRecipePaths(recipe, (p) => resolve(root, p)) : recipe;
  }

  /** The registered file for a recipe, compiling it on first use; counts cache hits. */
  async fileFor(recipe: Recipe): Promise<Registered> {
    let known: Registered | undefined;
    try {
      known = await this.registry.get(recipeId(recipe));
    } catch (e) {
      // The store is down: a file asked for by its recipe is compiled and served all the same.
      if (!(e instanceof VvfError && e.code === 'STORE_UNAVAILABLE')) throw e;
    }
    this.cacheLookups.inc({ result: known ? 'hit' : 'miss' });
    return known ?? this.registered(await this.registry.register(recipe, { storeOptional: true }));
  }

  /**
   * Registers a recipe; `created` says whether it is new (asks the store: deleted by
   * another instance but still held here counts as unknown, and is stored again).
   */
  async register(recipe: Recipe): Promise<{ entry: Registered; created: boolean }> {
    const known = (await this.registry.get(recipeId(recipe), { recheck: true })) !== undefined;
    const entry = await this.registry.register(recipe);
    if (!known) this.changed();
    return { entry, created: !known };
  }

  get(id: string): Promise<Registered | undefined> {
    return this.registry.get(id);
  }

  /**
   * Tells the catalog that a read of `entry`'s file found a source changed: the next request
   * for it compiles the recipe again (keeping the etag when the layout is the same).
   */
  invalidate(entry: Registered): void {
    this.registry.invalidate(entry.id, entry.file);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.registry.delete(id);
    if (deleted) this.changed();
    return deleted;
  }

  /**
   * The registered files the store still has. Another instance sharing the store may have
   * deleted one this instance still holds in its registry: it is not listed, and the registry
   * stops serving it by id within a second (see Registry.get).
   */
  async list(): Promise<Registered[]> {
    const entries = await this.registry.list();
    if (!this.store || !this.ownsStore) return entries;
    const kept = new Set((await this.store.list()).map((f) => f.id));
    return entries.filter((e) => kept.has(e.id));
  }

  /**
   * The store's state, as health checks report it: `none` (memory only), `up`, or `down`
   * (files held in memory are still served; new ones cannot be registered).
   */
  storeState(): 'none' | 'up' | 'down' {
    if (!this.store) return 'none';
    return (this.store.available?.() ?? true) ? 'up' : 'down';
  }

  /** Called when this process registers or deletes a file (other instances' changes show on the next list). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes every loaded file and the store this catalog opened. */
  async close(): Promise<void> {
    await this.registry.closeAll();
    if (this.store && this.ownsStore) await this.store.close();
  }

  private registered(entry: Registered): Registered {
    this.changed();
    return entry;
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A face's listener failing must not fail the registration.
      }
    }
  }
}
