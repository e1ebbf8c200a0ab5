import type { Movie, Track } from './movie.js';

/** Statistics of one track, for `vvf inspect` and the server's pages. */
export interface TrackSummary {
  id: number;
  kind: Track['kind'];
  codec: string;
  handler: string;
  language: string;
  representationId?: string;
  timescale: number;
  /** Seconds, from the sum of sample durations. */
  durationSeconds: number;
  samples: number;
  keyframes: number;
  /** Samples from one keyframe to the next (the last GOP runs to the end). */
  gop?: { min: number; max: number; mean: number; meanSeconds: number };
  bytes: number;
  /** Bits per second over the track's duration. */
  bitrate: number;
  width?: number;
  height?: number;
  sampleRate?: number;
  channelCount?: number;
  sampleDescriptions: number;
  editList: { segmentDuration: number; mediaTime: number; rate: number }[] | null;
  /** Presentation time of the first sample minus its decode time, in seconds. */
  firstCompositionOffsetSeconds: number;
  hasNegativeCompositionOffsets: boolean;
}

export interface MovieSummary {
  input: string;
  layout: Movie['layout'];
  majorBrand: string;
  compatibleBrands: string[];
  timescale: number;
  durationSeconds: number;
  sources: number;
  /** Bytes across every source the samples come from. */
  sampleBytes: number;
  tracks: TrackSummary[];
}

export function summarizeTrack(t: Track): TrackSummary {
  const s = t.samples;
  let bytes = 0;
  let keyframes = 0;
  let negative = false;
  const gops: number[] = [];
  let lastKey = -1;
  for (let i = 0; i < s.count; i++) {
    bytes += s.size[i] ?? 0;
    if ((s.compositionOffset[i] ?? 0) < 0) negative = true;
    if (s.sync[i]) {
      keyframes++;
      if (lastKey >= 0) gops.push(i - lastKey);
      lastKey = i;
    }
  }
  if (lastKey >= 0) gops.push(s.count - lastKey);
  const durationSeconds = t.duration / t.timescale;
  const summary: TrackSummary = {
    id: t.id,
    kind: t.kind,
    codec: t.codec,
    handler: t.handler,
    language: t.language,
    timescale: t.timescale,
    durationSeconds,
    samples: s.count,
    keyframes,
    bytes,
    bitrate: durationSeconds > 0 ? Math.round((bytes * 8) / durationSeconds) : 0,
    sampleDescriptions: t.descriptions.length,
    editList: t.editList
      ? t.editList.map((e) => ({
          segmentDuration: e.segmentDuration,
          mediaTime: e.mediaTime,
          rate: e.mediaRateInteger + e.mediaRateFraction / 65536,
        }))
      : null,
    firstCompositionOffsetSeconds: s.count > 0 ? (s.compositionOffset[0] ?? 0) / t.timescale : 0,
    hasNegativeCompositionOffsets: negative,
  };
  // Every sample of an audio track is usually a sync sample: GOPs only mean something for video.
  if (t.kind === 'video' && gops.length > 0) {
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let sum = 0;
    for (const g of gops) {
      min = Math.min(min, g);
      max = Math.max(max, g);
      sum += g;
    }
    const mean = sum / gops.length;
    summary.gop = { min, max, mean, meanSeconds: s.count > 0 ? (mean * durationSeconds) / s.count : 0 };
  }
  if (t.representationId !== undefined) summary.representationId = t.representationId;
  if (t.width !== undefined) summary.width = t.width;
  if (t.height !== undefined) summary.height = t.height;
  if (t.sampleRate !== undefined) summary.sampleRate = t.sampleRate;
  if (t.channelCount !== undefined) summary.channelCount = t.channelCount;
  return summary;
}

export function summarizeMovie(m: Movie): MovieSummary {
  const tracks = m.tracks.map(summarizeTrack);
  return {
    input: m.input,
    layout: m.layout,
    majorBrand: m.majorBrand,
    compatibleBrands: m.compatibleBrands,
    timescale: m.timescale,
    durationSeconds: m.timescale > 0 ? m.duration / m.timescale : 0,
    sources: m.sources.length,
    sampleBytes: tracks.reduce((a, t) => a + t.bytes, 0),
    tracks,
  };
}
