import { openMovie } from '../../demux/open-movie.js';
import { INSPECT_SCHEMA_VERSION, summarizeMovie } from '../../model/summary.js';
import { compileRecipe } from '../../virtual/compile.js';
import { onePositional, parse } from '../args.js';
import { formatSummary } from '../format.js';
import { isRecipePath, loadRecipeFile } from '../recipe-file.js';

export const inspectUsage = `  inspect <file | url | manifest.mpd | playlist.m3u8 | recipe.json>
                                        tracks, codecs, profiles, frame rates, colour, channels,
                                        durations after edit lists, GOPs, bitrates and file layout
      --json                            machine-readable output (schema: docs/inspect.schema.json)
      --representation <id>             (DASH, HLS) read only this representation or rendition; repeatable`;

export async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, representation: { type: 'string', multiple: true } },
    'inspect',
    inspectUsage,
  );
  const input = onePositional(positionals, 'inspect <file | url | manifest.mpd | playlist.m3u8 | recipe.json>');
  if (isRecipePath(input)) {
    // A recipe is inspected as the file it makes: its virtual bytes, read like any MP4.
    const { file, movies } = await compileRecipe(await loadRecipeFile(input));
    try {
      const movie = await openMovie(input, { openSource: async () => file });
      const summary = {
        schemaVersion: INSPECT_SCHEMA_VERSION,
        ...summarizeMovie(movie),
        virtual: { size: file.size, etag: file.etag, extents: file.extentCount },
      };
      process.stdout.write(
        values.json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : `${formatSummary(summary)}\n  virtual file: ${file.size} bytes, etag ${file.etag}, ${file.extentCount} extents\n`,
      );
    } finally {
      await file.close();
      await Promise.all(movies.flatMap((m) => m.sources.map((s) => s.close())));
    }
    return 0;
  }
  const reps = values.representation;
  const movie = await openMovie(input, reps ? { representations: reps } : {});
  try {
    const summary = summarizeMovie(movie);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ schemaVersion: INSPECT_SCHEMA_VERSION, ...summary }, null, 2)}\n`
        : `${formatSummary(summary)}\n`,
    );
  } finally {
    await Promise.all(movie.sources.map((s) => s.close()));
  }
  return 0;
}
