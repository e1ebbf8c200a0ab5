import { parseRecipe, type Recipe } from '../compose/recipe.js';
import { isVvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import { loadIfFresh } from '../store/load-compiled.js';
import type { MetadataStore } from '../store/metadata-store.js';
import { VirtualFile } from '../virtual/virtual-file.js';
import { readableName } from './names.js';
import { recipeId } from './recipe-id.js';
import { withPreviousDigest } from './same-layout.js';

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
  /**
   * Etags this id had before a source changed and the recipe compiled to other bytes, newest
   * first (a few): a client conditional on one of them is told SOURCE_CHANGED.
   */
  previousEtags?: readonly string[];
  /** Compiled again because a source changed: its sources may be rewritten in place again. */
  sourcesChanged?: boolean;
  /** When its sources' validators were last compared with the files (performance.now()); internal. */
  validated?: number;
  /** Where the next comparison starts among its sources (files with many sources are checked in turns); internal. */
  validateFrom?: number;
}

/** What a file being replaced leaves to its successor: its layout (to keep its etag if the same), date and etags. */
interface Previous {
  etag: string;
  created: number;
  serialized: Uint8Array;
  previousEtags: readonly string[];
}

/** Etags remembered per id. */
const MAX_PREVIOUS_ETAGS = 4;
/** How long a replaced file stays open for the responses still reading it. */
const RETIRE_MS = 60_000;

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
   * still there (another instance may have deleted it), and without comparing its sources'
   * validators with what they are now. Default 1000 ms.
   */
  recheckMs?: number;
  /**
   * A source's validator as it is now, by key, when it can be had cheaply (a local file's
   * stat); undefined when not (an HTTP source checks its validator on every response).
   */
  currentValidator?: (key: string) => Promise<string | undefined>;
}

/** Sources compared per check: a DASH file's thousands of segments are compared in turns. */
const VALIDATE_BATCH = 64;

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
  /** Ids whose file was found stale (a source changed): compiled again on their next get. */
  private readonly stale = new Map<string, { recipe: Recipe; previous: Previous }>();
  /** Replaced files still open for responses in flight, closed after {@link RETIRE_MS}. */
  private readonly retiring = new Map<Registered, NodeJS.Timeout>();

  constructor(
    private readonly compile: (recipe: Recipe) => Promise<CompiledFile>,
    private readonly opts: RegistryOptions = {},
  ) {}

  /**
   * Registers a recipe, compiling it unless this or another instance already has. With
   * `storeOptional`, a store that is down (STORE_UNAVAILABLE) does not fail it: the file is
   * compiled and held in memory only (a signed or /dash/ URL needs no registration to be
   * served; an explicit registration should fail instead, so it is not the default).
   */
  async register(recipe: Recipe, opts: { storeOptional?: boolean } = {}): Promise<Registered> {
    const id = recipeId(recipe);
    let known: Registered | undefined;
    try {
      known = await this.get(id, { recheck: true });
    } catch (e) {
      if (!(opts.storeOptional && storeDown(e))) throw e;
      known = this.files.get(id);
    }
    if (known) return known;
    return (await this.once(id, () => this.compileAndStore(id, recipe, undefined, opts.storeOptional))) as Registered;
  }

  /**
   * A registered file, loaded from the store if this instance has not seen it yet. One this
   * instance holds is checked against the store at most every `recheckMs` (or now, with
   * `recheck`), so a file another instance deleted stops being served within that time.
   */
  async get(id: string, opts: { recheck?: boolean } = {}): Promise<Registered | undefined> {
    let known = this.files.get(id);
    const store = this.opts.store;
    const interval = opts.recheck ? 0 : (this.opts.recheckMs ?? RECHECK_MS);
    // A source touched or rewritten since the file was compiled: compile again now, even for
    // requests that read only the header bytes held in memory (which never touch a source).
    if (known && !(await this.sourcesUnchanged(known, interval))) {
      this.invalidate(id, known.file);
      known = undefined;
    }
    if (known && (!store || performance.now() - (known.confirmed ?? 0) < interval)) return known;
    const stale = known ? undefined : this.stale.get(id);
    if (stale) return this.once(id, () => this.compileAndStore(id, stale.recipe, stale.previous));
    if (!store) return undefined;
    if (known) {
      // Held here, but another instance may have deleted it: the store decides, at most once a second.
      let there: boolean;
      try {
        there = await store.has(id);
      } catch (e) {
        // The store is down: what this instance holds is still exactly the file it compiled, so
        // serving it beats refusing (a delete made elsewhere meanwhile shows once the store is back).
        if (storeDown(e)) return known;
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
      // A source changed (or vanished): never serve the stale form, compile again (same layout: same etag).
      return this.compileAndStore(id, parseRecipe(stored.recipe), {
        etag: etagOf(stored.compiled),
        created: stored.created,
        serialized: stored.compiled,
        previousEtags: [],
      });
    });
  }

  /**
   * Drops `file` as the file of `id`, if it still is (a read found a source changed): the
   * next {@link get} compiles the recipe again, keeping the etag if the layout is the same.
   * The file stays open a while for the responses still reading it.
   */
  invalidate(id: string, file: VirtualFile): void {
    const entry = this.files.get(id);
    if (entry === undefined || entry.file !== file) return;
    this.files.delete(id);
    this.stale.set(id, {
      recipe: entry.recipe,
      previous: {
        etag: file.etag,
        created: entry.created.getTime(),
        serialized: file.serialize(),
        previousEtags: entry.previousEtags ?? [],
      },
    });
    const timer = setTimeout(() => {
      this.retiring.delete(entry);
      void release(entry).catch(() => undefined);
    }, RETIRE_MS);
    timer.unref();
    this.retiring.set(entry, timer);
  }

  /**
   * Whether the sources of a held file still have the validators it was compiled from, as
   * far as a cheap look tells (local files' stat), asked at most every `interval` ms and
   * at most {@link VALIDATE_BATCH} sources at a time.
   */
  private async sourcesUnchanged(entry: Registered, interval: number): Promise<boolean> {
    const current = this.opts.currentValidator;
    const now = performance.now();
    if (current === undefined || now - (entry.validated ?? 0) < Math.max(interval, 1)) return true;
    entry.validated = now;
    const refs = entry.file.sources;
    const from = (entry.validateFrom ?? 0) % Math.max(refs.length, 1);
    const batch = refs.length <= VALIDATE_BATCH ? refs : [...refs, ...refs].slice(from, from + VALIDATE_BATCH);
    entry.validateFrom = from + batch.length;
    const seen = await Promise.all(batch.map((r) => current(r.key)));
    return batch.every((r, i) => seen[i] === undefined || seen[i] === r.validator);
  }

  /** Every registered file: this instance's, and the store's. */
  async list(): Promise<Registered[]> {
    const ids = new Set([...this.files.keys(), ...this.stale.keys()]);
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
    const wasStale = this.stale.delete(id);
    const stored = this.opts.store ? await this.opts.store.delete(id) : false;
    if (entry) await release(entry);
    return entry !== undefined || wasStale || stored;
  }

  /** Closes every loaded file (the store keeps them). */
  async closeAll(): Promise<void> {
    const entries = [...this.files.values(), ...this.retiring.keys()];
    for (const timer of this.retiring.values()) clearTimeout(timer);
    this.retiring.clear();
    this.files.clear();
    this.stale.clear();
    await Promise.all(entries.map(release));
  }

  /**
   * Compiles a recipe and stores the result. With the file it replaces (`previous`): when
   * the layout is the same (only the sources' validators moved), the new file keeps the
   * previous etag and date, so clients' caches and If-Range stay good.
   */
  private async compileAndStore(id: string, recipe: Recipe, previous?: Previous, storeOptional = false): Promise<Registered> {
    let { file, close } = await this.compile(recipe);
    let created = Date.now();
    if (previous && this.opts.open) {
      const same = withPreviousDigest(previous.serialized, file.serialize());
      const kept = same && (await loadIfFresh({ id, recipe, created: previous.created, compiled: same }, this.opts.open));
      if (kept) {
        await close();
        file = kept;
        close = () => kept.close();
        created = previous.created;
      }
    }
    const previousEtags =
      previous === undefined
        ? undefined
        : file.etag === previous.etag
          ? previous.previousEtags
          : [previous.etag, ...previous.previousEtags].slice(0, MAX_PREVIOUS_ETAGS);
    const entry: Registered = {
      id,
      recipe,
      name: readableName(recipe),
      file,
      created: wholeSecond(created),
      confirmed: performance.now(),
      release: close,
      validated: performance.now(),
      ...(previousEtags && previousEtags.length > 0 ? { previousEtags } : {}),
      ...(previous ? { sourcesChanged: true } : {}),
    };
    try {
      await this.opts.store?.put({ id, recipe, created: entry.created.getTime(), compiled: file.serialize() });
    } catch (e) {
      if (!(storeOptional && storeDown(e))) {
        await close();
        throw e;
      }
    }
    this.files.set(id, entry);
    this.stale.delete(id);
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

/** The etag a stored compiled form is served with (no source is opened). */
function etagOf(compiled: Uint8Array): string {
  try {
    const file = VirtualFile.deserialize(compiled, () => Promise.reject(new Error('not opened')));
    void file.close();
    return file.etag;
  } catch {
    return '';
  }
}

function storeDown(e: unknown): boolean {
  return isVvfError(e) && e.code === 'STORE_UNAVAILABLE';
}
