import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseRecipe, type Recipe, resolveRecipePaths } from '../compose/recipe.js';
import { VvfError } from '../errors.js';

/** Reads a recipe JSON file; its relative source paths are relative to the file (unless told to keep them). */
export async function loadRecipeFile(path: string, opts: { resolvePaths?: boolean } = {}): Promise<Recipe> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new VvfError('SOURCE_UNREACHABLE', `cannot read recipe: ${(e as Error).message}`, { source: path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new VvfError('USAGE', `recipe is not JSON: ${(e as Error).message}`, { source: path });
  }
  const recipe = parseRecipe(json);
  if (opts.resolvePaths === false) return recipe;
  const dir = dirname(resolve(path));
  return resolveRecipePaths(recipe, (p) => resolve(dir, p));
}

export function isRecipePath(input: string): boolean {
  return /\.json$/i.test(input);
}

/**
 * A recipe as vvf prints it (--print-recipe, split --print-recipes): local sources as
 * absolute paths. A recipe file's relative paths are read relative to the file, and a
 * printed recipe may be saved anywhere, so paths typed relative to the working
 * directory would name other files, or none, once saved elsewhere.
 */
export function absoluteRecipe(recipe: Recipe): Recipe {
  return resolveRecipePaths(recipe, (p) => resolve(p));
}
