import type { Composition } from '../compose/composition.js';
import type { FileLayout } from '../compose/layout.js';
import { layoutProgressive } from '../compose/progressive.js';
import type { Recipe } from '../compose/recipe.js';
import { composeRecipe } from '../compose/resolve.js';
import { openMovie } from '../demux/open-movie.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { Movie } from '../model/movie.js';
import { openSource } from '../sources/open-source.js';
import type { Source } from '../sources/source.js';
import { refOf, type SourceResolver } from './source-ref.js';
import { VirtualFile } from './virtual-file.js';

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

/** What a recipe compiles to. */
export interface CompiledRecipe {
  file: VirtualFile;
  composition: Composition;
  movies: Movie[];
}

/**
 * A recipe becomes a VirtualFile: its sources are parsed (metadata only), the composition
 * laid out, and the result knows its size at once and reads its bytes on demand.
 */
export async function compileRecipe(recipe: Recipe, opts: CompileOptions = {}): Promise<CompiledRecipe> {
  const limits = resolveLimits(opts.limits);
  const open = opts.openSource ?? ((spec: string) => openSource(spec));
  const movies: Movie[] = [];
  const composition = await composeRecipe(recipe, {
    maxSamplesPerTrack: limits.maxSamplesPerTrack,
    open: async (source, representation) => {
      const m = await openMovie(source, {
        limits,
        openSource: open,
        ...(representation ? { representations: [representation] } : {}),
      });
      movies.push(m);
      return m;
    },
  });
  const layout = layoutProgressive(composition, opts.chunkSeconds !== undefined ? { chunkSeconds: opts.chunkSeconds } : {});
  const file = virtualFileFromLayout(layout, composition.sources, resolverFor(composition.sources, open));
  return { file, composition, movies };
}
