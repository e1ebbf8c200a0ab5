import { VvfError } from '../errors.js';
import type { Track } from '../model/movie.js';
import { rescale } from './timescale.js';

/**
 * One segment of a track's presentation: `duration` (movie timescale) of the media starting
 * at `mediaTime` (track timescale), or, with mediaTime -1, an empty stretch (a delay).
 */
export interface Edit {
  mediaTime: number;
  duration: number;
}

// Sample tables do not change once built; a recipe asks for the same track's end once per piece and track.
const ends = new WeakMap<object, number>();

/** Composition time just past the last presented sample: where presentation of the media ends. */
export function compositionEnd(track: Track): number {
  const s = track.samples;
  const known = ends.get(s);
  if (known !== undefined) return known;
  let end = 0;
  for (let i = 0; i < s.count; i++)
    end = Math.max(end, (s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0) + (s.duration[i] ?? 0));
  ends.set(s, end);
  return end;
}

/** Decode time of the first sample. */
export function mediaStart(track: Track): number {
  return track.samples.count > 0 ? (track.samples.decodeTime[0] ?? 0) : 0;
}

/**
 * A track's presentation as edits with durations in the movie timescale `movieScale`.
 * Without an edit list the media is presented from its first decode time to its end.
 * A last edit of duration 0 (as fragmented files write) runs to the end of the media.
 * Edits at a rate other than 1 are refused: vvf cannot carry them exactly.
 */
export function presentationEdits(track: Track, movieScale: number): Edit[] {
  // Presentation runs to the end of the last presented frame, which with B-frames lies
  // past the end of the decode timeline.
  const end = compositionEnd(track);
  if (!track.editList || track.editList.length === 0) {
    return [{ mediaTime: mediaStart(track), duration: rescale(end - mediaStart(track), track.timescale, movieScale) }];
  }
  const out: Edit[] = [];
  track.editList.forEach((e, i) => {
    if (e.mediaTime !== -1 && (e.mediaRateInteger !== 1 || e.mediaRateFraction !== 0)) {
      throw new VvfError(
        'UNSUPPORTED',
        `track ${track.id}: edit at rate ${e.mediaRateInteger}.${e.mediaRateFraction} (only rate 1 is supported)`,
      );
    }
    let duration = rescale(e.segmentDuration, track.editTimescale, movieScale);
    if (e.segmentDuration === 0 && i === track.editList!.length - 1 && e.mediaTime >= 0) {
      duration = rescale(Math.max(0, end - e.mediaTime), track.timescale, movieScale);
    }
    if (duration > 0) out.push({ mediaTime: e.mediaTime, duration });
  });
  return out;
}

/** Total presented duration of edits, in the movie timescale. */
export function editsDuration(edits: readonly Edit[]): number {
  return edits.reduce((a, e) => a + e.duration, 0);
}

/**
 * The part of a presentation that falls in [start, end) (movie timescale): each edit
 * trimmed to the range, media times moved by what was cut from their start.
 */
export function trimEdits(edits: readonly Edit[], start: number, end: number, trackScale: number, movieScale: number): Edit[] {
  const out: Edit[] = [];
  let at = 0;
  for (const e of edits) {
    const from = Math.max(at, start);
    const to = Math.min(at + e.duration, end);
    if (to > from) {
      const skipped = from - at;
      out.push({
        mediaTime: e.mediaTime === -1 ? -1 : e.mediaTime + rescale(skipped, movieScale, trackScale),
        duration: to - from,
      });
    }
    at += e.duration;
  }
  return out;
}

/** Media time range [lo, hi) the non-empty edits present, in the track timescale. */
export function mediaRangeOf(edits: readonly Edit[], trackScale: number, movieScale: number): { lo: number; hi: number } | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const e of edits) {
    if (e.mediaTime === -1) continue;
    lo = Math.min(lo, e.mediaTime);
    hi = Math.max(hi, e.mediaTime + rescale(e.duration, movieScale, trackScale));
  }
  return lo < hi ? { lo, hi } : null;
}

/** Where media time `t` (track timescale) is presented, in the movie timescale; undefined if no edit shows it. */
export function presentationTimeOf(
  edits: readonly Edit[],
  t: number,
  trackScale: number,
  movieScale: number,
): number | undefined {
  let at = 0;
  for (const e of edits) {
    if (e.mediaTime !== -1 && t >= e.mediaTime && t < e.mediaTime + rescale(e.duration, movieScale, trackScale)) {
      return at + rescale(t - e.mediaTime, trackScale, movieScale);
    }
    at += e.duration;
  }
  return undefined;
}
