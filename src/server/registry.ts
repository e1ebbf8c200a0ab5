import { createHash } from 'node:crypto';
import type { Recipe } from '../compose/recipe.js';
import type { VirtualFile } from '../virtual/virtual-file.js';

/** A registered virtual file. */
export interface Registered {
  id: string;
  recipe: Recipe;
  file: VirtualFile;
  /** When it was compiled: its Last-Modified. */
  created: Date;
}

/** A stable id for a recipe: the same recipe always gets the same id, on any instance. */
export function recipeId(recipe: Recipe): string {
  return createHash('sha256').update(canonicalJson(recipe)).digest('base64url').slice(0, 16);
}

/** JSON with object keys sorted, so equal recipes serialize equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The virtual files a server knows, by id. Registering the same recipe twice (even at the
 * same time) compiles it once.
 */
export class Registry {
  private readonly files = new Map<string, Registered>();
  private readonly pending = new Map<string, Promise<Registered>>();

  constructor(private readonly compile: (recipe: Recipe) => Promise<VirtualFile>) {}

  async register(recipe: Recipe): Promise<Registered> {
    const id = recipeId(recipe);
    const known = this.files.get(id);
    if (known) return known;
    let p = this.pending.get(id);
    if (!p) {
      p = this.compile(recipe).then(
        (file) => {
          const entry: Registered = { id, recipe, file, created: new Date(Math.floor(Date.now() / 1000) * 1000) };
          this.files.set(id, entry);
          this.pending.delete(id);
          return entry;
        },
        (e: unknown) => {
          this.pending.delete(id);
          throw e;
        },
      );
      this.pending.set(id, p);
    }
    return p;
  }

  get(id: string): Registered | undefined {
    return this.files.get(id);
  }

  list(): Registered[] {
    return [...this.files.values()];
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.files.get(id);
    if (!entry) return false;
    this.files.delete(id);
    await entry.file.close();
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.files.keys()].map((id) => this.delete(id)));
  }
}
