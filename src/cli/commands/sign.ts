import { signRecipe } from '../../catalog/signed-url.js';
import { mpdName, multivariantName, offersDash } from '../../compose/presentation-paths.js';
import { isPresentation } from '../../compose/recipe.js';
import { VvfError } from '../../errors.js';
import { onePositional, parse } from '../args.js';
import { loadRecipeFile } from '../recipe-file.js';

export const signUsage = `  sign <recipe.json> [--expires <seconds | never>] [--base <url>]
                                        a signed URL any vvf serve sharing the key serves (key: VVF_SIGNING_KEY);
                                        it expires after 24 hours unless --expires says otherwise; for a dash,
                                        hls or cmaf recipe, the URL of its manifest (its parts sit beside it)`;

/** Lifetime of a signed URL when --expires is not given: a leaked link stops working by itself. */
const DEFAULT_EXPIRES_S = 24 * 60 * 60;

export async function sign(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { expires: { type: 'string' }, base: { type: 'string' } }, 'sign', signUsage);
  const input = onePositional(positionals, 'sign <recipe.json>');
  const key = process.env.VVF_SIGNING_KEY;
  if (!key) throw new VvfError('USAGE', 'set VVF_SIGNING_KEY to the key the servers use');
  // `never` is an explicit choice: a URL that never expires cannot be revoked short of changing the key.
  const expires =
    values.expires === 'never' ? undefined : values.expires === undefined ? DEFAULT_EXPIRES_S : Number(values.expires);
  if (expires !== undefined && !(expires > 0 && Number.isFinite(expires)))
    throw new VvfError('USAGE', '--expires must be a positive number of seconds, or never');
  // Relative sources stay relative: servers resolve them against their first root.
  const recipe = await loadRecipeFile(input, { resolvePaths: false });
  let path = signRecipe(recipe, key, expires !== undefined ? { expiresAt: Date.now() / 1000 + expires } : {});
  // A presentation signs a directory: hand out its main manifest, which names every part relative to itself.
  if (isPresentation(recipe)) path += offersDash(recipe.layout) ? mpdName('segments') : multivariantName('segments');
  process.stdout.write(`${(values.base ?? '').replace(/\/$/, '')}${path}\n`);
  // On stderr, so that stdout stays the URL alone for scripts.
  const at = expires === undefined ? undefined : new Date(Date.now() + expires * 1000).toISOString();
  process.stderr.write(
    at === undefined
      ? 'vvf: this URL never expires (--expires never); only changing the key revokes it\n'
      : `vvf: this URL expires at ${at}${values.expires === undefined ? ' (the default, 24 hours; --expires <seconds> or --expires never to change it)' : ''}\n`,
  );
  return 0;
}
