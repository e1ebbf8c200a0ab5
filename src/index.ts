/** vvf: virtual video files. The library's public API. */

export { Catalog, type CatalogOptions } from './catalog/catalog.js';
export { type CatalogConfig, defaultCatalogConfig } from './catalog/config.js';
export { manifestRecipe } from './catalog/manifest-recipe.js';
export { MetricsRegistry } from './catalog/metrics.js';
export { readableName } from './catalog/names.js';
export { canonicalJson, recipeId } from './catalog/recipe-id.js';
export { type Registered, Registry } from './catalog/registry.js';
export { signRecipe, verifySignedPath } from './catalog/signed-url.js';
export type { Composition, OutputTrack } from './compose/composition.js';
export {
  type ByteRange,
  type FileMaker,
  type FragmentedOptions,
  FragmentedPresentation,
  FragmentedTrack,
  layoutFragmented,
} from './compose/fragmented.js';
export { planSegments, type SegmentPlan } from './compose/fragmented-plan.js';
export { layoutProgressive } from './compose/progressive.js';
export { parseRecipe, type Recipe, type RecipePiece, type TrackRef } from './compose/recipe.js';
export { planSplit, type SplitPlan, splitRecipes } from './compose/split.js';
export { type BoxLine, listBoxes } from './demux/box-listing.js';
export { parseMpd } from './demux/mpd.js';
export { type OpenMovieOptions, openMovie } from './demux/open-movie.js';
export { type ErrorCode, ErrorCodes, type ErrorKind, errorKind, isVvfError, kindOf, VvfError } from './errors.js';
export { defaultLimits, type Limits, resolveLimits } from './limits.js';
export type { Movie, MovieLayout, SampleDescription, Track, TrackKind } from './model/movie.js';
export { presentationTime, type SampleTable } from './model/sample-table.js';
export { type MovieSummary, summarizeMovie, summarizeTrack, type TrackSummary } from './model/summary.js';
export { FileSource } from './sources/file-source.js';
export { HttpSource } from './sources/http-source.js';
export { MemorySource } from './sources/memory-source.js';
export { openSource } from './sources/open-source.js';
export type { Source } from './sources/source.js';
export { type CompiledRecipe, type CompileOptions, compileRecipe, virtualFileFromLayout } from './virtual/compile.js';
export { refOf, resolveWith, type SourceRef, type SourceResolver } from './virtual/source-ref.js';
export { VirtualFile } from './virtual/virtual-file.js';
