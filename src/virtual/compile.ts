// compileRecipe: a recipe through compose and its layout (progressive, or a fragmented presentation's package) into a VirtualFile, with one handle that closes everything it opened.
import type { Composition } from '../compose/composition.js';
import type { FileLayout } from '../compose/layout.js';
import { layoutPresentation } from '../compose/presentation.js';
import { layoutProgressive } from '../compose/progressive.js';
import { isPresentation, type Recipe } from '../compose/recipe.js';
import { composeRecipe } from '../compose/resolve.js';
import { openMovie } from '../demux/open-movie.js';
import { type Limits, MemoryBudget, resolveLimits, SAMPLE_TABLE_BYTES_PER_SAMPLE } from '../limits.js';
import type { Movie } from '../model/movie.js';
import { openSource } from '../sources/open-source.js';
import type { Source } from '../sources/source.js';
import { refOf, type SourceResolver } from './source-ref.js';
import { VirtualFile } from './virtual-file.js';

// stsz, stts/ctts runs and stco (about 12 bytes a sample at most) and an extent of 20 bytes per run of samples.
const LAYOUT_BYTES_PER_SAMPLE = 32;

export interface CompileOptions {
  limits?: Partial<Limits>;
  /** Opens a path or URL; faces that restrict what may be read pass their own. */
  openSource?: (spec: string) => Promise<Source>;
  /** Seconds of decode time per interleaved chunk (default 0.5). */
  chunkSeconds?: number;
}

/**
 * A resolver that hands back sources already open (those the demuxer read), opening
 * anything else through `open`. The VirtualFile checks each against its ref.
 */
export function resolverFor(open: readonly Source[], openSpec: (spec: string) => Promise<Source>): SourceResolver {
  const byKey = new Map(open.map((s) => [s.key, s]));
  return async (ref) => byKey.get(ref.key) ?? openSpec(ref.key);
}

/** A VirtualFile from a layout whose extents index `sources`: the layout's columns are the file's. */
export function virtualFileFromLayout(layout: FileLayout, sources: readonly Source[], resolve: SourceResolver): VirtualFile {
  return new VirtualFile({ ...layout, sources: sources.map(refOf) }, resolve);
}

/** What a recipe compiles to, and the one handle that releases it. */
export interface CompiledRecipe {
  file: VirtualFile;
  composition: Composition;
  movies: Movie[];
  /**
   * Closes the file and every source compiling opened, each once: the ones the file took
   * close with it, the demuxer's others (tracks, segments or pieces the file never read)
   * here. Later calls wait for the first.
   */
  close(): Promise<void>;
}

/**
 * A recipe becomes a VirtualFile: its sources are parsed (metadata only), the composition
 * laid out (a progressive MP4, or for the dash, hls and cmaf layouts a presentation's
 * package, whose parts `presentationFiles` gives), and the result knows its size at once and reads its bytes on demand. Close
 * the returned handle when done; if compiling fails, what it opened is closed before the
 * error is thrown.
 */
export async function compileRecipe(recipe: Recipe, opts: CompileOptions = {}): Promise<CompiledRecipe> {
  const limits = resolveLimits(opts.limits);
  const open = opts.openSource ?? ((spec: string) => openSource(spec));
  const movies: Movie[] = [];
  // The sources the demuxer kept: it closes what it opened and dropped (a manifest) itself.
  const demuxed = () => new Set(movies.flatMap((m) => m.sources));
  let composition: Composition;
  let layout: FileLayout;
  // What this compile holds in sample tables and extents, against maxCompileBytes.
  const budget = new MemoryBudget(limits.maxCompileBytes);
  try {
    composition = await composeRecipe(recipe, {
      maxSamplesPerTrack: limits.maxSamplesPerTrack,
      limits,
      budget,
      open: async (source, representation) => {
        const m = await openMovie(source, {
          limits,
          openSource: open,
          ...(representation ? { representations: [representation] } : {}),
        });
        movies.push(m);
        let samples = 0;
        for (const t of m.tracks) samples += t.samples.count;
        budget.charge(samples * SAMPLE_TABLE_BYTES_PER_SAMPLE, `the sample tables of ${source} (${samples} samples)`);
        return m;
      },
    });
    // The layout's header boxes and extents: a few columns per output sample, at most.
    let outputSamples = 0;
    for (const t of composition.tracks) outputSamples += t.samples.count;
    budget.charge(outputSamples * LAYOUT_BYTES_PER_SAMPLE, `the layout of ${outputSamples} samples`);
    layout = isPresentation(recipe)
      ? layoutPresentation(composition, {
          layout: recipe.layout,
          ...(recipe.segment !== undefined ? { segmentSeconds: recipe.segment } : {}),
        }).layout
      : layoutProgressive(composition, opts.chunkSeconds !== undefined ? { chunkSeconds: opts.chunkSeconds } : {});
  } catch (e) {
    await closeEach(demuxed());
    throw e;
  }
  // Every source the resolver hands the file is the file's to close (on close, or when its check fails).
  const taken = new Set<Source>();
  const resolveOpen = resolverFor(composition.sources, open);
  const file = virtualFileFromLayout(layout, composition.sources, async (ref) => {
    const source = await resolveOpen(ref);
    taken.add(source);
    return source;
  });
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await file.close();
    await closeEach([...demuxed()].filter((s) => !taken.has(s)));
  };
  return { file, composition, movies, close: () => (closing ??= close()) };
}

/** Closes every source; a failed close of a source we only read loses nothing, so it is not an error. */
async function closeEach(sources: Iterable<Source>): Promise<void> {
  await Promise.allSettled([...sources].map((s) => s.close()));
}
