import { VvfError } from '../errors.js';
import type { Movie } from '../model/movie.js';
import { editsDuration, presentationEdits, presentationTimeOf } from './edits.js';
import type { Recipe, TrackRef } from './recipe.js';
import { startsOpenGop } from './slice.js';
import { movieTimescaleFor } from './timescale.js';

/** Where to cut, as exact fractions of seconds ("ticks/timescale"), starting with "0/…". */
export interface SplitPlan {
  timescale: number;
  /** Cut points in `timescale` ticks: chunk i is [cuts[i], cuts[i+1]), the last runs to the end. */
  cuts: number[];
}

/**
 * Cut points about `targetSeconds` apart, each on a clean keyframe of the movie's first
 * video track: a sync sample that does not start an open GOP (its leading pictures would
 * reference the chunk before). Chunks are at least `targetSeconds` long, except the last.
 */
export function planSplit(movie: Movie, targetSeconds: number): SplitPlan {
  if (!(targetSeconds > 0)) throw new VvfError('USAGE', 'the chunk duration must be positive');
  const video = movie.tracks.find((t) => t.kind === 'video') ?? movie.tracks[0];
  if (!video) throw new VvfError('USAGE', 'nothing to split: the input has no tracks');
  const timescale = movieTimescaleFor(movie.tracks);
  const edits = presentationEdits(video, timescale);
  const total = editsDuration(edits);
  const target = Math.round(targetSeconds * timescale);
  const cuts = [0];
  const s = video.samples;
  for (let k = 0; k < s.count; k++) {
    if (!s.sync[k]) continue;
    const p = presentationTimeOf(edits, (s.decodeTime[k] ?? 0) + (s.compositionOffset[k] ?? 0), video.timescale, timescale);
    if (p === undefined || p >= total) continue;
    if (p - cuts[cuts.length - 1]! < target || startsOpenGop(video, k)) continue;
    cuts.push(p);
  }
  return { timescale, cuts };
}

/** One recipe per chunk of a plan, over the same tracks. */
export function splitRecipes(plan: SplitPlan, tracks: TrackRef[]): Recipe[] {
  return plan.cuts.map((cut, i) => {
    const next = plan.cuts[i + 1];
    const piece = {
      tracks,
      start: `${cut}/${plan.timescale}`,
      ...(next !== undefined ? { end: `${next}/${plan.timescale}` } : {}),
    };
    return { layout: 'progressive' as const, pieces: [piece] };
  });
}
