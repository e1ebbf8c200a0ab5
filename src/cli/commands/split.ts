import { planSplit, splitRecipes } from '../../compose/split.js';
import { openMovie } from '../../demux/open-movie.js';
import { VvfError } from '../../errors.js';
import { compileRecipe } from '../../virtual/compile.js';
import { onePositional, parse } from '../args.js';
import { materialize } from '../materialize.js';
import { absoluteRecipe } from '../recipe-file.js';

export const splitUsage = `  split <input> --every <seconds> -o chunk-%03d.mp4
                                        cut at clean keyframes into chunks of at least that long
      --print-recipes                   print the chunks' recipes (JSON lines) instead of writing`;

export async function split(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      every: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'print-recipes': { type: 'boolean' },
    },
    'split',
    splitUsage,
  );
  const input = onePositional(positionals, 'split <input> --every <seconds> -o chunk-%03d.mp4');
  const every = Number(values.every);
  if (!values.every || !(every > 0)) throw new VvfError('USAGE', '--every <seconds> must be a positive number');
  const movie = await openMovie(input);
  const recipes = splitRecipes(planSplit(movie, every), [{ source: input }]);
  await Promise.all(movie.sources.map((s) => s.close()));
  if (values['print-recipes']) {
    for (const r of recipes) process.stdout.write(`${JSON.stringify(absoluteRecipe(r))}\n`);
    return 0;
  }
  const pattern = values.output;
  if (!pattern || !/%0?\d*d/.test(pattern))
    throw new VvfError('USAGE', 'give -o with a %d (or %03d) for the chunk number, or --print-recipes');
  for (const [i, recipe] of recipes.entries()) {
    const out = pattern.replace(/%(0?)(\d*)d/, (_m, zero: string, width: string) =>
      String(i).padStart(Number(width || 0), zero ? '0' : ' '),
    );
    const { file, movies } = await compileRecipe(recipe);
    try {
      await materialize(file, out, { progress: false });
    } finally {
      await file.close();
      await Promise.all(movies.flatMap((m) => m.sources.map((s) => s.close())));
    }
    process.stderr.write(`${out}\n`);
  }
  return 0;
}
