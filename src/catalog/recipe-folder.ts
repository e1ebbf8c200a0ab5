import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VvfError } from '../errors.js';
import type { Catalog } from './catalog.js';
import { readRecipeFile } from './recipe-file.js';
import { recipeId } from './recipe-id.js';

/** What a folder watch reports: a file registered, removed, or refused (with the error). */
export type RecipeFolderEvent =
  | { event: 'registered'; file: string; id: string }
  | { event: 'removed'; file: string; id: string }
  | { event: 'refused'; file: string; error: unknown };

/** Most recipe files a folder may hold: each is parsed on every change. */
const MAX_FILES = 10_000;

/**
 * Keeps a catalog in step with a folder of recipe files (`*.json`): each file is
 * registered, a changed file registers its new recipe and drops the old one, and a
 * deleted file's virtual file is deleted. Changes are seen through inotify (fs.watch),
 * with a rescan every `rescanMs` in case an event was lost. A recipe that fails is
 * reported and skipped; the others stay.
 */
export class RecipeFolder {
  private readonly byFile = new Map<string, { id: string; text: string }>();
  /** Files refused, with the text refused: reported once per change, not on every scan. */
  private readonly refused = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly catalog: Catalog,
    private readonly report: (e: RecipeFolderEvent) => void,
  ) {}

  /** Registers every recipe in `dir` (awaited), then follows the folder until `close()`. */
  static async watch(
    dir: string,
    catalog: Catalog,
    opts: { report?: (e: RecipeFolderEvent) => void; rescanMs?: number } = {},
  ): Promise<RecipeFolder> {
    const folder = new RecipeFolder(resolve(dir), catalog, opts.report ?? (() => {}));
    try {
      await readdir(folder.dir);
    } catch (e) {
      throw new VvfError('USAGE', `cannot read the recipe folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    await folder.rescan();
    folder.watcher = watch(folder.dir, () => folder.soon());
    folder.watcher.on('error', () => folder.soon());
    folder.timer = setInterval(() => folder.soon(), opts.rescanMs ?? 5000);
    folder.timer.unref();
    return folder;
  }

  /** The ids registered from the folder, by file name. */
  files(): Map<string, string> {
    return new Map([...this.byFile].map(([file, { id }]) => [file, id]));
  }

  /** Scans the folder now (after any scan already running) and applies what changed. */
  rescan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.rescan();
      }
    });
    return this.scanning;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.scanning;
  }

  /** Editors write a file in several steps: wait for the burst to end. */
  private soon(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), 100);
  }

  private async scan(): Promise<void> {
    const names = (await readdir(this.dir).catch(() => [] as string[]))
      .filter((n) => n.toLowerCase().endsWith('.json') && !n.startsWith('.'))
      .sort()
      .slice(0, MAX_FILES);
    const seen = new Set(names);
    for (const file of [...this.refused.keys()]) if (!seen.has(file)) this.refused.delete(file);
    for (const [file, known] of [...this.byFile]) {
      if (seen.has(file)) continue;
      this.byFile.delete(file);
      if (!this.stillUsed(known.id)) await this.catalog.delete(known.id).catch(() => false);
      this.report({ event: 'removed', file, id: known.id });
    }
    for (const file of names) {
      if (this.closed) return;
      const path = join(this.dir, file);
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // gone since the listing: the next scan removes it
      const known = this.byFile.get(file);
      if (known?.text === text || this.refused.get(file) === text) continue;
      this.refused.delete(file);
      try {
        const recipe = await readRecipeFile(path, { nameFromFile: true });
        const id = recipeId(recipe);
        if (known && known.id !== id) {
          this.byFile.delete(file);
          if (!this.stillUsed(known.id)) await this.catalog.delete(known.id).catch(() => false);
        }
        await this.catalog.register(recipe);
        this.byFile.set(file, { id, text });
        this.report({ event: 'registered', file, id });
      } catch (error) {
        this.refused.set(file, text);
        if (known) {
          this.byFile.delete(file);
          if (!this.stillUsed(known.id)) await this.catalog.delete(known.id).catch(() => false);
        }
        this.report({ event: 'refused', file, error });
      }
    }
  }

  /** Two files may hold the same recipe: its file stays while either does. */
  private stillUsed(id: string): boolean {
    for (const known of this.byFile.values()) if (known.id === id) return true;
    return false;
  }
}
