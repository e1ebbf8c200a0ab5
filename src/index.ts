/** vvf: virtual video files. The library's public API. */
export { ErrorCodes, type ErrorCode, VvfError, isVvfError } from './errors.js';
export { type Limits, defaultLimits, resolveLimits } from './limits.js';
export type { Source } from './sources/source.js';
export { FileSource } from './sources/file-source.js';
export { HttpSource } from './sources/http-source.js';
export { MemorySource } from './sources/memory-source.js';
export { openSource } from './sources/open-source.js';
export type { Movie, MovieLayout, SampleDescription, Track, TrackKind } from './model/movie.js';
export { type SampleTable, presentationTime } from './model/sample-table.js';
export { type MovieSummary, type TrackSummary, summarizeMovie, summarizeTrack } from './model/summary.js';
export { type OpenMovieOptions, openMovie } from './demux/open-movie.js';
export { type BoxLine, listBoxes } from './demux/box-listing.js';
export { parseMpd } from './demux/mpd.js';
