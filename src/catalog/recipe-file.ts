import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseRecipe, type Recipe, resolveRecipePaths } from '../compose/recipe.js';
import { VvfError } from '../errors.js';

/** Largest recipe file read. */
const MAX_BYTES = 1 << 20;

/**
 * Reads a recipe JSON file. Its relative source paths are relative to the file (unless
 * `resolvePaths` is false); with `nameFromFile`, a recipe without a name is named after
 * the file (a folder of recipes: the file name is what a person chose).
 */
export async function readRecipeFile(
  path: string,
  opts: { resolvePaths?: boolean; nameFromFile?: boolean } = {},
): Promise<Recipe> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new VvfError('SOURCE_UNREACHABLE', `cannot read recipe: ${(e as Error).message}`, { source: path });
  }
  if (text.length > MAX_BYTES) throw new VvfError('USAGE', `recipe larger than ${MAX_BYTES} bytes`, { source: path });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new VvfError('USAGE', `recipe is not JSON: ${(e as Error).message}`, { source: path });
  }
  let recipe = parseRecipe(json);
  if (opts.resolvePaths !== false) {
    const dir = dirname(resolve(path));
    recipe = resolveRecipePaths(recipe, (p) => resolve(dir, p));
  }
  if (opts.nameFromFile && recipe.name === undefined) recipe = { ...recipe, name: basename(path).replace(/\.json$/i, '') };
  return recipe;
}
