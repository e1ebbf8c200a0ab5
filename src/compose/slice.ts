import type { Track } from '../model/movie.js';

/** Samples [first, end) of a track, in decode order. */
export interface SampleRange {
  first: number;
  end: number;
}

/**
 * The samples needed to present media times [lo, hi) of a track: from the sync sample at
 * or before `lo` (so everything presented from `lo` on decodes) to the last sample
 * presented before `hi`. Samples in between that are presented outside the range stay in:
 * later samples may reference them, and the edit list hides them.
 */
export function samplesFor(track: Track, lo: number, hi: number): SampleRange {
  const s = track.samples;
  let first = -1;
  let firstSync = -1;
  let last = -1;
  for (let i = 0; i < s.count; i++) {
    const pts = (s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0);
    if (s.sync[i]) {
      if (firstSync < 0) firstSync = i;
      if (pts <= lo) first = i;
    }
    if (pts < hi) last = i;
  }
  if (first < 0) first = Math.max(0, firstSync);
  return last < first ? { first, end: first } : { first, end: last + 1 };
}

/**
 * Whether sync sample `k` starts an open GOP: a sample after it in decode order is
 * presented before it (a leading picture, such as HEVC's RASL after a CRA), so it may
 * reference the previous GOP and cutting at `k` would leave it undecodable.
 */
export function startsOpenGop(track: Track, k: number): boolean {
  const s = track.samples;
  const pts = (s.decodeTime[k] ?? 0) + (s.compositionOffset[k] ?? 0);
  for (let i = k + 1; i < s.count && !s.sync[i]; i++) {
    if ((s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0) < pts) return true;
  }
  return false;
}
