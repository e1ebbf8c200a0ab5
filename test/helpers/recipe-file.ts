// The file a recipe makes, written to disk for ffmpeg and ffprobe to read (shared by the tests that check outputs as files).
import { materialize } from '../../src/cli/materialize.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { compileRecipe } from '../../src/virtual/compile.js';

/** Compiles `recipe` (JSON as a user writes it) and writes its file to `out`; everything compiling opened is closed. */
export async function writeRecipeFile(recipe: unknown, out: string): Promise<string> {
  const compiled = await compileRecipe(parseRecipe(recipe));
  try {
    await materialize(compiled.file, out, { progress: false });
  } finally {
    await compiled.close();
  }
  return out;
}
