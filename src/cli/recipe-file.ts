import { resolve } from 'node:path';
import { readRecipeFile } from '../catalog/recipe-file.js';
import { type Recipe, resolveRecipePaths } from '../compose/recipe.js';

/** Reads a recipe JSON file; its relative source paths are relative to the file (unless told to keep them). */
export function loadRecipeFile(path: string, opts: { resolvePaths?: boolean } = {}): Promise<Recipe> {
  return readRecipeFile(path, opts);
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
