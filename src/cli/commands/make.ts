import type { Recipe, TrackRef } from '../../compose/recipe.js';
import { parseRecipe } from '../../compose/recipe.js';
import { VvfError } from '../../errors.js';
import { compileRecipe } from '../../virtual/compile.js';
import { parse, parseClip } from '../args.js';
import { bytes } from '../format.js';
import { materialize } from '../materialize.js';
import { absoluteRecipe, isRecipePath, loadRecipeFile } from '../recipe-file.js';

export const remuxUsage = `  remux <recipe.json | input…> -o out.mp4
                                        write the file a recipe (or the inputs' tracks together) makes
      -o, --output <file>               where to write it (- for stdout)
      --print-recipe                    print the recipe as JSON instead of writing`;

export const composeUsage = `  compose [options] -o out.mp4          the common recipes without writing JSON
      --video <src>                     the best video track of src (src may be manifest.mpd#representation)
      --audio <src>                     the best audio track of src
      --input <src>                     every track of src; repeatable
      --clip <start-end>                keep [start, end): seconds, MM:SS or HH:MM:SS (start- and -end too)
      --concat <src>…                   play every track of each src one after another (positionals too)
      -o, --output <file>               where to write it (- for stdout)
      --print-recipe                    print the recipe as JSON instead of writing`;

/** `src#rep` names one representation of a manifest. */
export function refFor(spec: string, kind?: TrackRef['kind']): TrackRef {
  const hash = spec.lastIndexOf('#');
  const ref: TrackRef =
    hash > 0 && /\.mpd$/i.test(spec.slice(0, hash))
      ? { source: spec.slice(0, hash), representation: spec.slice(hash + 1) }
      : { source: spec };
  if (kind) ref.kind = kind;
  return ref;
}

async function run(recipe: Recipe, output: string | undefined, printRecipe: boolean | undefined): Promise<number> {
  if (printRecipe) {
    process.stdout.write(`${JSON.stringify(absoluteRecipe(recipe), null, 2)}\n`);
    return 0;
  }
  if (!output) throw new VvfError('USAGE', 'give -o <file> (or --print-recipe)');
  const started = performance.now();
  const { file, movies } = await compileRecipe(recipe);
  const ready = performance.now();
  try {
    await materialize(file, output);
  } finally {
    await file.close();
    await Promise.all(movies.flatMap((m) => m.sources.map((s) => s.close())));
  }
  const secs = (performance.now() - started) / 1000;
  process.stderr.write(
    `wrote ${output === '-' ? 'stdout' : output}: ${bytes(file.size)} in ${secs.toFixed(2)} s (composed in ${((ready - started) / 1000).toFixed(3)} s)\n`,
  );
  return 0;
}

export async function remux(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { output: { type: 'string', short: 'o' }, 'print-recipe': { type: 'boolean' } },
    'remux',
    remuxUsage,
  );
  if (positionals.length === 0) throw new VvfError('USAGE', 'expected: vvf remux <recipe.json | input…> -o out.mp4');
  let recipe: Recipe;
  if (positionals.length === 1 && isRecipePath(positionals[0]!)) {
    recipe = await loadRecipeFile(positionals[0]!);
  } else {
    recipe = parseRecipe({ tracks: positionals.map((p) => refFor(p)) });
  }
  return run(recipe, values.output, values['print-recipe']);
}

export async function compose(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      video: { type: 'string', multiple: true },
      audio: { type: 'string', multiple: true },
      input: { type: 'string', multiple: true },
      clip: { type: 'string' },
      concat: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      'print-recipe': { type: 'boolean' },
    },
    'compose',
    composeUsage,
  );
  const concat = [...(values.concat ?? []), ...(values.concat ? positionals : [])];
  let recipe: Recipe;
  if (concat.length > 0) {
    if (values.video || values.audio || values.input)
      throw new VvfError('USAGE', '--concat takes whole inputs; use a recipe to pick tracks of each piece');
    const clip = values.clip ? parseClip(values.clip) : {};
    recipe = parseRecipe({ pieces: concat.map((src) => ({ tracks: [refFor(src)], ...clip })) });
  } else {
    const tracks = [
      ...(values.video ?? []).map((s) => refFor(s, 'video')),
      ...(values.audio ?? []).map((s) => refFor(s, 'audio')),
      ...[...(values.input ?? []), ...positionals].map((s) => refFor(s)),
    ];
    if (tracks.length === 0) throw new VvfError('USAGE', 'nothing to compose: give --video, --audio, --input or --concat');
    recipe = parseRecipe({ tracks, ...(values.clip ? parseClip(values.clip) : {}) });
  }
  return run(recipe, values.output, values['print-recipe']);
}
