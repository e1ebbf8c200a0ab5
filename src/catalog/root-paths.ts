import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { type Recipe, resolveRecipePaths } from '../compose/recipe.js';

/**
 * Shows server paths relative to the configured roots, so that answers (listings, error
 * messages) never tell a client where the roots lie on the server. Each root is known as
 * configured and as its real path (sources are keyed by real path).
 */
export class RootPaths {
  /** Root prefixes with a trailing separator, longest first so that nested roots strip fully. */
  private readonly prefixes: string[];

  constructor(roots: readonly string[]) {
    const all = new Set<string>();
    for (const root of roots) {
      all.add(root);
      try {
        all.add(realpathSync(root));
      } catch {
        // A root that does not exist (yet) has no real path to hide.
      }
    }
    this.prefixes = [...all]
      .map((r) => (r.endsWith(sep) ? r : r + sep))
      // A root of `/` has nothing to hide, and stripping its prefix would strip every separator.
      .filter((r) => r !== sep)
      .sort((a, b) => b.length - a.length);
  }

  /** A path relative to the root holding it; a path under no root is returned as it is. */
  path(p: string): string {
    const prefix = this.prefixes.find((r) => p.startsWith(r) || `${p}${sep}` === r);
    return prefix === undefined ? p : relative(prefix, p) || '.';
  }

  /** The recipe with its local paths relative to their roots (URLs untouched). */
  recipe(recipe: Recipe): Recipe {
    return resolveRecipePaths(recipe, (p) => this.path(p));
  }

  /** Text with every root prefix removed, so that paths in it read relative to their root. */
  text(s: string): string {
    let out = s;
    for (const prefix of this.prefixes) out = out.split(prefix).join('');
    return out;
  }
}
