/** vvf: virtual video files. The library's public API. */

export { type BoxLine, listBoxes } from './demux/box-listing.js';
export { parseMpd } from './demux/mpd.js';
export { type OpenMovieOptions, openMovie } from './demux/open-movie.js';
export { type ErrorCode, ErrorCodes, isVvfError, VvfError } from './errors.js';
export { defaultLimits, type Limits, resolveLimits } from './limits.js';
export type { Movie, MovieLayout, SampleDescription, Track, TrackKind } from './model/movie.js';
export { presentationTime, type SampleTable } from './model/sample-table.js';
export { type MovieSummary, summarizeMovie, summarizeTrack, type TrackSummary } from './model/summary.js';
export { FileSource } from './sources/file-source.js';
export { HttpSource } from './sources/http-source.js';
export { MemorySource } from './sources/memory-source.js';
export { openSource } from './sources/open-source.js';
export type { Source } from './sources/source.js';
