import type { Track } from '../model/movie.js';

/** Samples [first, end) of a track, in decode order. */
export interface SampleRange {
  first: number;
  end: number;
}

/** What finds a track's samples by presentation time in O(log n): built once per sample table. */
interface TimeIndex {
  /** Indexes of the sync samples, in decode order. */
  sync: Uint32Array;
  /** suffixMin[j]: the earliest presentation time of sync samples sync[j…]. */
  syncSuffixMin: Float64Array;
  /** suffixMin[i]: the earliest presentation time of samples i…. */
  suffixMin: Float64Array;
}

const indexes = new WeakMap<object, TimeIndex>();

function timeIndex(track: Track): TimeIndex {
  const s = track.samples;
  const known = indexes.get(s);
  if (known) return known;
  const n = s.count;
  const suffixMin = new Float64Array(n);
  let syncCount = 0;
  for (let i = 0; i < n; i++) if (s.sync[i]) syncCount++;
  const sync = new Uint32Array(syncCount);
  for (let i = 0, k = 0; i < n; i++) if (s.sync[i]) sync[k++] = i;
  let min = Number.POSITIVE_INFINITY;
  for (let i = n - 1; i >= 0; i--) {
    min = Math.min(min, (s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0));
    suffixMin[i] = min;
  }
  const syncSuffixMin = new Float64Array(syncCount);
  min = Number.POSITIVE_INFINITY;
  for (let j = syncCount - 1; j >= 0; j--) {
    const i = sync[j]!;
    min = Math.min(min, (s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0));
    syncSuffixMin[j] = min;
  }
  const index = { sync, syncSuffixMin, suffixMin };
  indexes.set(s, index);
  return index;
}

/**
 * The last position j of a non-decreasing array with a[j] < x (or ≤ x when `orEqual`), -1 if none.
 * On a suffix minimum that is the last element itself below x: every later one is at or above it.
 */
function lastBelow(a: Float64Array, x: number, orEqual: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v < x || (orEqual && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The samples needed to present media times [lo, hi) of a track: from the sync sample at
 * or before `lo` (so everything presented from `lo` on decodes) to the last sample
 * presented before `hi`. Samples in between that are presented outside the range stay in:
 * later samples may reference them, and the edit list hides them. Binary searches over an
 * index built once per track, so a recipe of thousands of clips of one long source costs
 * no scan of the source per clip.
 */
export function samplesFor(track: Track, lo: number, hi: number): SampleRange {
  const { sync, syncSuffixMin, suffixMin } = timeIndex(track);
  // The last sync sample presented at or before lo (the last in decode order, as a scan would find).
  const j = lastBelow(syncSuffixMin, lo, true);
  let first = j >= 0 ? sync[j]! : -1;
  if (first < 0) first = sync.length > 0 ? sync[0]! : 0;
  const last = lastBelow(suffixMin, hi, false);
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
