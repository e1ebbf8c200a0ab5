import { VvfError } from '../../errors.js';
import { signRecipe } from '../../catalog/signed-url.js';
import { onePositional, parse } from '../args.js';
import { loadRecipeFile } from '../recipe-file.js';

export const signUsage = `  sign <recipe.json> [--expires <seconds>] [--base <url>]
                                        a signed URL any vvf serve sharing the key serves (key: VVF_SIGNING_KEY)`;

export async function sign(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { expires: { type: 'string' }, base: { type: 'string' } }, 'sign', signUsage);
  const input = onePositional(positionals, 'sign <recipe.json>');
  const key = process.env.VVF_SIGNING_KEY;
  if (!key) throw new VvfError('USAGE', 'set VVF_SIGNING_KEY to the key the servers use');
  const expires = values.expires === undefined ? undefined : Number(values.expires);
  if (expires !== undefined && !(expires > 0)) throw new VvfError('USAGE', '--expires must be a positive number of seconds');
  // Relative sources stay relative: servers resolve them against their first root.
  const recipe = await loadRecipeFile(input, { resolvePaths: false });
  const path = signRecipe(recipe, key, expires !== undefined ? { expiresAt: Date.now() / 1000 + expires } : {});
  process.stdout.write(`${(values.base ?? '').replace(/\/$/, '')}${path}\n`);
  return 0;
}
