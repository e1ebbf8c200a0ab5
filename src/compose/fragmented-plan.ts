// Segment planning for the fragmented layout: where each media segment of a track starts, its decode and presentation times.
import { VvfError } from '../errors.js';
import type { OutputTrack } from './composition.js';
import { type TimeValue, timeToTicks } from './recipe.js';

/** Default target segment duration, in seconds. */
export const DEFAULT_SEGMENT_SECONDS = 4;

/**
 * The segments of one track: segment `i` holds samples `[starts[i], starts[i+1])`. Only
 * boundaries and per-segment times are kept (a few numbers per segment); the boxes of a
 * segment are made when it is asked for.
 */
export interface SegmentPlan {
  readonly count: number;
  /** First sample of each segment, and the sample count at the end (`count + 1` entries). */
  readonly starts: Uint32Array;
  /** Decode time of each segment's first sample (its tfdt), track timescale. */
  readonly decodeTimes: Float64Array;
  /**
   * Earliest presentation time (decode time + composition offset, no edit list applied) of
   * each segment, and at `count` the end of the last presented sample: segment `i` presents
   * `[presentationTimes[i], presentationTimes[i+1])` as sidx and a SegmentTimeline say it.
   */
  readonly presentationTimes: Float64Array;
  /** Ticks of the track timescale the segments aim at. */
  readonly targetTicks: number;
  /** Media time the multiples of the target count from: where the presentation starts. */
  readonly origin: number;
}

/**
 * Media time at which the track's presentation starts: the first edit that shows media
 * (its media time), else the first decode time. Segment boundaries count from here, so
 * renditions of one source with the same keyframe times get the same boundaries.
 */
export function presentationOrigin(t: OutputTrack): number {
  const shown = t.edits?.find((e) => e.mediaTime !== -1);
  if (shown) return shown.mediaTime;
  return t.samples.count > 0 ? (t.samples.decodeTime[0] ?? 0) : 0;
}

/**
 * Cuts a track into segments: a segment starts at the first keyframe whose presentation
 * time (from the origin) is at or after the next multiple of the target duration past the
 * previous start. A long GOP makes a long segment; multiples it passes are skipped. Exact
 * integer arithmetic in the track timescale.
 */
export function planSegments(t: OutputTrack, segmentSeconds: TimeValue = DEFAULT_SEGMENT_SECONDS): SegmentPlan {
  const s = t.samples;
  const n = s.count;
  if (n === 0) throw new VvfError('USAGE', `track ${t.id} has no samples to segment`);
  const targetTicks = timeToTicks(segmentSeconds, t.template.timescale);
  if (!(targetTicks >= 1)) throw new VvfError('USAGE', `segment duration ${String(segmentSeconds)} s is shorter than one tick`);
  const origin = presentationOrigin(t);
  const dts = s.decodeTime;
  const cto = s.compositionOffset;
  const sync = s.sync;
  const starts: number[] = [0];
  let next = targetTicks;
  for (let i = 1; i < n; i++) {
    if (sync[i] !== 1) continue;
    const at = (dts[i] as number) + (cto[i] as number) - origin;
    if (at < next) continue;
    starts.push(i);
    next = (Math.floor(at / targetTicks) + 1) * targetTicks;
  }
  const count = starts.length;
  starts.push(n);
  const plan = {
    count,
    starts: Uint32Array.from(starts),
    decodeTimes: new Float64Array(count),
    presentationTimes: new Float64Array(count + 1),
    targetTicks,
    origin,
  };
  let end = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < count; k++) {
    const a = plan.starts[k] as number;
    const b = plan.starts[k + 1] as number;
    plan.decodeTimes[k] = dts[a] as number;
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = a; i < b; i++) {
      const pts = (dts[i] as number) + (cto[i] as number);
      if (pts < earliest) earliest = pts;
      const shownEnd = pts + (s.duration[i] as number);
      if (shownEnd > end) end = shownEnd;
    }
    plan.presentationTimes[k] = earliest;
  }
  plan.presentationTimes[count] = end;
  return plan;
}
