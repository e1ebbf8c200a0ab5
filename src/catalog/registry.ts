import { parseRecipe, type Recipe } from '../compose/recipe.js';
import { isVvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import { loadIfFresh } from '../store/load-compiled.js';
import type { MetadataStore } from '../store/metadata-store.js';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { readableName } from './names.js';
import { recipeId } from './recipe-id.js';

/** A registered virtual file. */
export interface Registered {
  id: string;
  recipe: Recipe;
  /** A name a person recognises it by ({@link readableName}); not unique. */
  name: string;
  file: VirtualFile;
  /** When it was compiled: its Last-Modified. */
  created: Date;
  /** When the store last confirmed it still holds this file (performance.now()); internal to the registry. */
  confirmed?: number;
  /** Closes the file and every source its compile opened; internal to the registry. */
  release?: () => Promise<void>;
}

/** A compiled recipe as the registry keeps it: the file, and what closes it and its sources. */
export interface CompiledFile {
  file: VirtualFile;
  close(): Promise<void>;
}

/** Closes a registered file and whatever its compile opened. */
const release = (e: Registered) => (e.release ? e.release() : e.file.close());

export interface RegistryOptions {
  /** Where compiled files are kept between runs (and shared between instances). */
  store?: MetadataStore;
  /** Opens a stored file's sources to check they are unchanged (through the catalog's policy). */
  open?: (key: string) => Promise<Source>;
  /**
   * How long a file this instance holds is served without asking the store whether it is
   * still there (another instance may have deleted it). Default 1000 ms.
   */
  recheckMs?: number;
}

const RECHECK_MS = 1000;

/** HTTP dates have whole seconds: keep Last-Modified stable across restarts. */
const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/**
 * The virtual files a process knows, by id. Compiling the same recipe twice (even at the
 * same time) happens once. With a store, compiled files survive restarts and are shared
 * between instances: a stored file is used only if every source still has the validator
 * it was compiled from; otherwise its recipe is compiled again.
 */
export class Registry {
  private readonly files = new Map<string, Registered>();
  private readonly pending = new Map<string, Promise<Registered | undefined>>();

  constructor(
    private readonly compile: (recipe: Recipe) => Promise<CompiledFile>,
    private readonly opts: RegistryOptions = {},
  ) {}

  /** Registers a recipe, compiling it unless this or another instance already has. */
  async register(recipe: Recipe): Promise<Registered> {
    const id = recipeId(recipe);
    const known = await this.get(id, { recheck: true });
    if (known) return known;
    return (await this.once(id, () => this.compileAndStore(id, recipe))) as Registered;
  }

  /**
   * A registered file, loaded from the store if this instance has not seen it yet. One this
   * instance holds is checked against the store at most every `recheckMs` (or now, with
   * `recheck`), so a file another instance deleted stops being served within that time.
   */
  async get(id: string, opts: { recheck?: boolean } = {}): Promise<Registered | undefined> {
    const known = this.files.get(id);
    const store = this.opts.store;
    const interval = opts.recheck ? 0 : (this.opts.recheckMs ?? RECHECK_MS);
    if (known && (!store || performance.now() - (known.confirmed ?? 0) < interval)) return known;
    if (!store) return undefined;
    if (known) {
      // Held here, but another instance may have deleted it: the store decides, at most once a second.
      let there: boolean;
      try {
        there = await store.has(id);
      } catch (e) {
        // The store is down: what this instance holds is still exactly the file it compiled, so
        // serving it beats refusing (a delete made elsewhere meanwhile shows once the store is back).
        if (isVvfError(e) && e.code === 'STORE_UNAVAILABLE') return known;
        throw e;
      }
      if (there) {
        known.confirmed = performance.now();
        return known;
      }
      if (this.files.get(id) === known) {
        this.files.delete(id);
        await release(known);
      }
      return undefined;
    }
    return this.once(id, async () => {
      const stored = await store.get(id);
      if (!stored) return undefined;
      const fresh = this.opts.open ? await loadIfFresh(stored, this.opts.open) : undefined;
      if (fresh) {
        const recipe = parseRecipe(stored.recipe);
        const entry: Registered = {
          id,
          recipe,
          name: readableName(recipe),
          file: fresh,
          created: wholeSecond(stored.created),
          confirmed: performance.now(),
        };
        this.files.set(id, entry);
        return entry;
      }
      // A source changed (or vanished): never serve the stale form, compile again.
      return this.compileAndStore(id, parseRecipe(stored.recipe));
    });
  }

  /** Every registered file: this instance's, and the store's. */
  async list(): Promise<Registered[]> {
    const ids = new Set(this.files.keys());
    if (this.opts.store) for (const f of await this.opts.store.list()) ids.add(f.id);
    const out: Registered[] = [];
    for (const id of ids) {
      const entry = await this.get(id).catch(() => undefined);
      if (entry) out.push(entry);
    }
    return out;
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.files.get(id);
    this.files.delete(id);
    const stored = this.opts.store ? await this.opts.store.delete(id) : false;
    if (entry) await release(entry);
    return entry !== undefined || stored;
  }

  /** Closes every loaded file (the store keeps them). */
  async closeAll(): Promise<void> {
    const entries = [...this.files.values()];
    this.files.clear();
    await Promise.all(entries.map(release));
  }

  private async compileAndStore(id: string, recipe: Recipe): Promise<Registered> {
    const { file, close } = await this.compile(recipe);
    const entry: Registered = {
      id,
      recipe,
      name: readableName(recipe),
      file,
      created: wholeSecond(Date.now()),
      confirmed: performance.now(),
      release: close,
    };
    try {
      await this.opts.store?.put({ id, recipe, created: entry.created.getTime(), compiled: file.serialize() });
    } catch (e) {
      await close();
      throw e;
    }
    this.files.set(id, entry);
    return entry;
  }

  /** Runs `work` for an id once at a time; concurrent callers share the result. */
  private once<T extends Registered | undefined>(id: string, work: () => Promise<T>): Promise<T> {
    const running = this.pending.get(id);
    if (running) return running as Promise<T>;
    const p = work().finally(() => this.pending.delete(id));
    this.pending.set(id, p);
    return p;
  }
}
