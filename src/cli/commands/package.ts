// `vvf package`: a fragmented presentation (DASH, HLS or both) written to a directory, the same files `vvf serve` answers with.
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  initPath,
  type ManifestForm,
  mpdName,
  multivariantName,
  offersDash,
  offersHls,
  playlistName,
  segmentPath,
  singleFilePath,
} from '../../compose/presentation-paths.js';
import { isPresentation, parseRecipe, type Recipe, type RecipeLayout, type TrackRef } from '../../compose/recipe.js';
import { VvfError } from '../../errors.js';
import { compileRecipe } from '../../virtual/compile.js';
import { presentationFiles } from '../../virtual/presentation-file.js';
import { parse } from '../args.js';
import { bytes } from '../format.js';
import { materialize } from '../materialize.js';
import { absoluteRecipe, isRecipePath, loadRecipeFile } from '../recipe-file.js';
import { refFor } from './make.js';

export const packageUsage = `  package <recipe.json | input…> -o DIR  write a DASH and/or HLS presentation of every track as files
      --dash, --hls                     which manifests (default: the recipe's layout, else both)
      --video <src>, --audio <src>      a rendition: the best video/audio track of src; repeatable (a ladder)
      --segment <seconds>               target segment duration (default 4)
      --single                          one file per rendition addressed by byte ranges (DASH on-demand,
                                        HLS EXT-X-BYTERANGE) instead of a file per segment
      -o, --output <dir>                where to write (created if missing; files there are replaced)
      --print-recipe                    print the recipe as JSON instead of writing`;

/** Parts written at once: enough to overlap source reads with writes. */
const PARALLEL_WRITES = 4;

export async function packagePresentation(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      dash: { type: 'boolean' },
      hls: { type: 'boolean' },
      video: { type: 'string', multiple: true },
      audio: { type: 'string', multiple: true },
      segment: { type: 'string' },
      single: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      'print-recipe': { type: 'boolean' },
    },
    'package',
    packageUsage,
  );
  let base: Recipe;
  if (positionals.length === 1 && isRecipePath(positionals[0]!) && !values.video && !values.audio) {
    base = await loadRecipeFile(positionals[0]!);
  } else {
    const tracks: TrackRef[] = [
      ...(values.video ?? []).map((s) => refFor(s, 'video')),
      ...(values.audio ?? []).map((s) => refFor(s, 'audio')),
      ...positionals.map((s) => refFor(s)),
    ];
    if (tracks.length === 0) throw new VvfError('USAGE', 'nothing to package: give a recipe, inputs, --video or --audio');
    base = parseRecipe({ tracks });
  }
  const layout: RecipeLayout =
    values.dash && values.hls ? 'cmaf' : values.dash ? 'dash' : values.hls ? 'hls' : isPresentation(base) ? base.layout : 'cmaf';
  const recipe = parseRecipe({
    ...base,
    layout,
    ...(values.segment !== undefined
      ? { segment: Number.isNaN(Number(values.segment)) ? values.segment : Number(values.segment) }
      : {}),
  });
  if (values['print-recipe']) {
    process.stdout.write(`${JSON.stringify(absoluteRecipe(recipe), null, 2)}\n`);
    return 0;
  }
  const out = values.output;
  if (!out) throw new VvfError('USAGE', 'give -o <dir> (or --print-recipe)');
  const existing = await stat(out).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new VvfError('USAGE', `-o ${out} is not a directory`);
  await mkdir(out, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new VvfError('OUTPUT_UNWRITABLE', `cannot create ${out}: ${e.code ?? e.message}`);
  });
  return writePresentation(recipe, out, values.single ? 'single' : 'segments');
}

/** Every name a presentation of `form` needs on disk, manifests last (a reader never finds one naming a file not yet there). */
function namesOf(
  index: Awaited<ReturnType<typeof presentationFiles>>['index'],
  form: ManifestForm,
): { media: string[]; manifests: string[]; top: string[] } {
  const media: string[] = [];
  const manifests: string[] = [];
  const top: string[] = [];
  for (const t of index.tracks) {
    if (form === 'single') media.push(singleFilePath(t.id));
    else {
      media.push(initPath(t.id));
      for (let i = 0; i < t.segments.length - 1; i++) media.push(segmentPath(t.id, i));
    }
    if (offersHls(index.layout)) manifests.push(playlistName(t.id, form));
  }
  if (offersDash(index.layout)) top.push(mpdName(form));
  if (offersHls(index.layout)) top.push(multivariantName(form));
  manifests.push(...top);
  return { media, manifests, top };
}

async function writePresentation(recipe: Recipe & { layout: RecipeLayout }, out: string, form: ManifestForm): Promise<number> {
  const started = performance.now();
  const compiled = await compileRecipe(recipe);
  try {
    const parts = await presentationFiles(compiled.file);
    const { media, manifests, top } = namesOf(parts.index, form);
    const names = [...media, ...manifests];
    let total = 0;
    const sizes = new Map<string, number>();
    for (const name of names) {
      const part = await parts.part(name);
      if (!part) throw new VvfError('BUG', `the presentation does not answer for ${name}`);
      sizes.set(name, part.size);
      total += part.size;
    }
    const show = process.stderr.isTTY === true;
    let done = 0;
    let files = 0;
    let lastDraw = 0;
    const draw = (final: boolean) => {
      const now = performance.now();
      if (!show || (!final && now - lastDraw < 100)) return;
      lastDraw = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${files}/${names.length} files, ${bytes(done)} of ${bytes(total)}  `,
      );
      if (final) process.stderr.write('\n');
    };
    const dirs = new Set(names.map((n) => dirname(join(out, n))));
    await Promise.all([...dirs].map((d) => mkdir(d, { recursive: true })));
    const write = async (name: string) => {
      const part = (await parts.part(name))!;
      try {
        await materialize(part, join(out, name), { progress: false });
      } finally {
        await part.close();
      }
      done += sizes.get(name) ?? 0;
      files++;
      draw(false);
    };
    // Media first, several at a time; then the manifests that name them.
    let next = 0;
    const worker = async () => {
      while (next < media.length) await write(media[next++]!);
    };
    await Promise.all(Array.from({ length: PARALLEL_WRITES }, worker));
    for (const name of manifests) await write(name);
    draw(true);
    const secs = (performance.now() - started) / 1000;
    process.stderr.write(
      `wrote ${out}: ${top.join(', ')} and ${names.length - top.length} other files, ${bytes(total)} in ${secs.toFixed(2)} s\n`,
    );
    return 0;
  } finally {
    await compiled.close();
  }
}
