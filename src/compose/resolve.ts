import { VvfError } from '../errors.js';
import { type Limits, type MemoryBudget, resolveLimits } from '../limits.js';
import type { Movie, Track } from '../model/movie.js';
import { summarizeTrack } from '../model/summary.js';
import { buildComposition, type Composition, mergeCompositions, type TrackPiece } from './composition.js';
import { editsDuration, mediaRangeOf, presentationEdits, trimEdits } from './edits.js';
import { type Recipe, type RecipePiece, recipeSequences, type TrackRef, timeToTicks } from './recipe.js';
import { samplesFor } from './slice.js';
import { movieTimescaleFor } from './timescale.js';

/** Opens an input as a Movie; `representation` narrows a DASH manifest to one representation. */
export type MovieOpener = (source: string, representation?: string) => Promise<Movie>;

export interface ComposeOptions {
  open: MovieOpener;
  maxSamplesPerTrack: number;
  /** Pieces, tracks, samples and output bytes a recipe may ask for (defaults: `defaultLimits`). */
  limits?: Partial<Limits>;
  /** Memory the compile may still take; the output's sample tables are charged to it. */
  budget?: MemoryBudget;
}

/**
 * Checks what a recipe asks for against the limits before any source is opened: pieces,
 * and track references per piece (each selects at least one track, so more references
 * than maxTracks means more output tracks than that).
 */
export function checkRecipeLimits(recipe: Recipe, limits: Limits): void {
  const all = recipeSequences(recipe).flat();
  if (all.length > limits.maxPieces) {
    throw new VvfError('STRUCTURE_LIMIT', `the recipe has ${all.length} pieces (limit maxPieces: ${limits.maxPieces})`);
  }
  for (const [p, piece] of all.entries()) {
    if (piece.tracks.length > limits.maxTracks) {
      throw new VvfError(
        'STRUCTURE_LIMIT',
        `piece ${p + 1} lists ${piece.tracks.length} tracks (limit maxTracks: ${limits.maxTracks})`,
      );
    }
  }
}

/**
 * Turns a recipe into a Composition: opens each source once, picks the tracks, clips each
 * piece to its time range and plays the pieces one after another.
 */
export async function composeRecipe(recipe: Recipe, opts: ComposeOptions): Promise<Composition> {
  const limits = resolveLimits({ maxSamplesPerTrack: opts.maxSamplesPerTrack, ...opts.limits });
  checkRecipeLimits(recipe, limits);
  const movies = new Map<string, Promise<Movie>>();
  const movieFor = (ref: TrackRef): Promise<Movie> => {
    const key = `${ref.source}\u0000${ref.representation ?? ''}`;
    let m = movies.get(key);
    if (!m) {
      m = opts.open(ref.source, ref.representation);
      movies.set(key, m);
    }
    return m;
  };
  // Each sequence: the recipe's pieces, then each part alongside them.
  const sequences = recipeSequences(recipe);
  const selected: { movie: Movie; track: Track }[][][] = [];
  let count = 0;
  for (const sequence of sequences) {
    const pieces: { movie: Movie; track: Track }[][] = [];
    for (const piece of sequence) {
      const tracks: { movie: Movie; track: Track }[] = [];
      for (const ref of piece.tracks) {
        const movie = await movieFor(ref);
        for (const track of selectTracks(movie, ref)) tracks.push({ movie, track });
      }
      count++;
      // Before the next piece's sources are opened.
      if (tracks.length > limits.maxTracks) {
        throw new VvfError(
          'STRUCTURE_LIMIT',
          `piece ${count} selects ${tracks.length} tracks (limit maxTracks: ${limits.maxTracks})`,
        );
      }
      pieces.push(tracks);
    }
    selected.push(pieces);
  }
  const tracksOut = selected.reduce((n, pieces) => n + (pieces[0]?.length ?? 0), 0);
  if (tracksOut > limits.maxTracks) {
    throw new VvfError('STRUCTURE_LIMIT', `${tracksOut} output tracks (limit maxTracks: ${limits.maxTracks})`);
  }
  // One movie timescale for every sequence: their edit lists end up in one file.
  const timescale = movieTimescaleFor(selected.flat(2).map((s) => s.track));
  const compositions = selected.map((pieces, q) => {
    const clipped = pieces.map((tracks, p) => clipPiece(tracks, sequences[q]![p]!, timescale));
    return buildComposition(clipped, timescale, limits.maxSamplesPerTrack, {
      limits,
      ...(opts.budget ? { budget: opts.budget } : {}),
    });
  });
  return compositions.length === 1 ? compositions[0]! : mergeCompositions(compositions);
}

/** The tracks a reference names: by id, the best of a kind, or all. */
export function selectTracks(movie: Movie, ref: TrackRef): Track[] {
  if (ref.track !== undefined) {
    const t = movie.tracks.find((x) => x.id === ref.track);
    if (!t)
      throw new VvfError(
        'USAGE',
        `${ref.source} has no track ${ref.track} (tracks: ${movie.tracks.map((x) => x.id).join(', ')})`,
      );
    return [t];
  }
  if (ref.kind !== undefined) {
    const candidates = movie.tracks.filter((x) => x.kind === ref.kind);
    if (candidates.length === 0) throw new VvfError('USAGE', `${ref.source} has no ${ref.kind} track`);
    // The best of several (DASH renditions): the highest bitrate.
    return [candidates.reduce((best, t) => (bitrateOf(t) > bitrateOf(best) ? t : best))];
  }
  return movie.tracks;
}

// A summary walks the track's samples; a recipe names the same track once per piece.
const bitrates = new WeakMap<Track, number>();
function bitrateOf(track: Track): number {
  let b = bitrates.get(track);
  if (b === undefined) {
    b = summarizeTrack(track).bitrate;
    bitrates.set(track, b);
  }
  return b;
}

/**
 * One piece: each track's presentation cut to [start, end) seconds. Video starts at the
 * keyframe at or before the start and the edit list hides the lead-in, so presentation
 * starts exactly at `start` on every track.
 */
function clipPiece(tracks: { movie: Movie; track: Track }[], piece: RecipePiece, timescale: number): TrackPiece[] {
  const whole = piece.start === undefined && piece.end === undefined;
  if (!whole && piece.start !== undefined) {
    // A clip that starts at or past the end of every track would make a file with no samples.
    const longest = Math.max(0, ...tracks.map(({ track }) => editsDuration(presentationEdits(track, timescale))));
    if (timeToTicks(piece.start, timescale) >= longest)
      throw new VvfError(
        'USAGE',
        `the clip starts at ${piece.start} s, at or after the end of the media (${(longest / timescale).toFixed(3)} s)`,
      );
  }
  return tracks.map(({ movie, track }) => {
    if (whole)
      return {
        movie,
        track,
        range: { first: 0, end: track.samples.count },
        edits: track.editList ? presentationEdits(track, timescale) : null,
      };
    const edits = presentationEdits(track, timescale);
    const total = editsDuration(edits);
    const start = Math.min(timeToTicks(piece.start ?? 0, timescale), total);
    const end = piece.end === undefined ? total : Math.min(timeToTicks(piece.end, timescale), total);
    const kept = trimEdits(edits, start, end, track.timescale, timescale);
    const media = mediaRangeOf(kept, track.timescale, timescale);
    const range = media ? samplesFor(track, media.lo, media.hi) : { first: 0, end: 0 };
    return { movie, track, range, edits: kept };
  });
}
