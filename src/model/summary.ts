import { VvfError } from '../errors.js';
import { type ColourSummary, describeMedia, type MediaDetails } from '../isobmff/decoder-config/index.js';
import type { Movie, Track } from './movie.js';

/**
 * Version of the `vvf inspect --json` output (docs/inspect.schema.json). Bump when a field
 * changes meaning or goes away; adding an optional field does not need a bump.
 */
export const INSPECT_SCHEMA_VERSION = 1;

/** One edit of an edit list, raw and in seconds. */
export interface EditSummary {
  /** In the movie timescale (`editTimescale`). */
  segmentDuration: number;
  /** In the track timescale; -1 for an empty edit (a delay). */
  mediaTime: number;
  rate: number;
  segmentDurationSeconds: number;
  /** null for an empty edit. */
  mediaTimeSeconds: number | null;
}

/** Statistics of one track, for `vvf inspect` and the server's pages. */
export interface TrackSummary {
  id: number;
  kind: Track['kind'];
  codec: string;
  handler: string;
  language: string;
  representationId?: string;
  timescale: number;
  /**
   * Seconds the track plays for, as ffprobe reports it: the sum of the edit list's segment
   * durations after any leading empty edits when there is one (so AAC priming and B-frame
   * delay do not count), else the sum of sample durations.
   */
  durationSeconds: number;
  /**
   * When presentation starts, in seconds, as ffprobe's start_time: the leading empty edits
   * (a delay) when there is an edit list, else the earliest presentation time of a sample.
   */
  startSeconds: number;
  /** Seconds, from the sum of sample durations (before the edit list). */
  mediaDurationSeconds: number;
  /** ffprobe's codec_name (h264, hevc, aac, opus, …), when known. */
  codecName?: string;
  /** Profile name as ffprobe prints it (High, Main 10, LC, HE-AAC, Profile 0, …). */
  profile?: string;
  /** Level as ffprobe prints it (H.264 level_idc, HEVC general_level_idc, AV1 seq_level_idx). */
  level?: number;
  /** Level as the codec names it (3.1, 1b). */
  levelName?: string;
  /**
   * Video: samples per second over the media duration, reduced (ffprobe's avg_frame_rate);
   * `constant` when every sample has the same duration.
   */
  frameRate?: { num: number; den: number; fps: number; constant: boolean };
  pixelFormat?: string;
  bitDepth?: number;
  chromaSubsampling?: string;
  colour?: ColourSummary;
  /** Sample (pixel) aspect ratio `h:v`, from pasp or the H.264 SPS. */
  sampleAspectRatio?: string;
  /** Audio: ffmpeg's layout name from the decoder configuration. */
  channelLayout?: string;
  /** Decoder configuration boxes that could not be read (the file is damaged there). */
  unreadableConfig?: string[];
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
  editList: EditSummary[] | null;
  /** The timescale of the edit list's segment durations (the movie timescale). */
  editTimescale?: number;
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
  /** From the earliest track start to the latest track end (ffprobe's format duration); mvhd's when there are no tracks. */
  durationSeconds: number;
  /** mvhd (or mehd) duration in seconds, as the file states it. */
  headerDurationSeconds: number;
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
  const editTimescale = t.editTimescale > 0 ? t.editTimescale : t.timescale;
  const summary: TrackSummary = {
    id: t.id,
    kind: t.kind,
    codec: t.codec,
    handler: t.handler,
    language: t.language,
    timescale: t.timescale,
    ...presentation(t, durationSeconds, editTimescale),
    mediaDurationSeconds: durationSeconds,
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
          segmentDurationSeconds: e.segmentDuration / editTimescale,
          mediaTimeSeconds: e.mediaTime === -1 ? null : e.mediaTime / t.timescale,
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
  if (t.editList) summary.editTimescale = editTimescale;
  addMediaDetails(summary, t);
  if (t.kind === 'video') {
    const rate = frameRate(t);
    if (rate) summary.frameRate = rate;
  }
  return summary;
}

/**
 * Start and duration of the presentation as ffmpeg's mov demuxer reports them: leading empty
 * edits delay the start, the other edits' segments make the duration; without an edit list the
 * start is the earliest presentation time and the duration the media's.
 */
function presentation(t: Track, mediaSeconds: number, editTimescale: number): { startSeconds: number; durationSeconds: number } {
  const s = t.samples;
  if (!t.editList || t.editList.length === 0) {
    let first = Number.POSITIVE_INFINITY;
    for (let i = 0; i < s.count; i++) first = Math.min(first, (s.decodeTime[i] ?? 0) + (s.compositionOffset[i] ?? 0));
    return { startSeconds: s.count > 0 ? first / t.timescale : 0, durationSeconds: mediaSeconds };
  }
  let delay = 0;
  let i = 0;
  for (; i < t.editList.length && t.editList[i]?.mediaTime === -1; i++) delay += t.editList[i]?.segmentDuration ?? 0;
  let total = 0;
  for (; i < t.editList.length; i++) total += t.editList[i]?.segmentDuration ?? 0;
  // A zero segment duration (some fragmented files) means "the rest of the media": ffmpeg then uses the media.
  return { startSeconds: delay / editTimescale, durationSeconds: total === 0 ? mediaSeconds : total / editTimescale };
}

/** Adds what the first sample description's decoder configuration says. */
function addMediaDetails(summary: TrackSummary, t: Track): void {
  const entry = t.descriptions[0];
  if (!entry) return;
  let d: MediaDetails;
  try {
    d = describeMedia(entry.bytes, 0, `trak[${t.id}]/stsd/${entry.format}`);
  } catch (e) {
    // The entry was read once already to build the model; a failure here only loses details.
    if (e instanceof VvfError) return;
    throw e;
  }
  if (d.codecName !== undefined) summary.codecName = d.codecName;
  if (d.profile !== undefined) summary.profile = d.profile;
  if (d.level !== undefined) summary.level = d.level;
  if (d.levelName !== undefined) summary.levelName = d.levelName;
  if (d.pixelFormat !== undefined) summary.pixelFormat = d.pixelFormat;
  if (d.bitDepth !== undefined) summary.bitDepth = d.bitDepth;
  if (d.chromaSubsampling !== undefined) summary.chromaSubsampling = d.chromaSubsampling;
  if (d.colour !== undefined) summary.colour = d.colour;
  if (d.sampleAspectRatio !== undefined) summary.sampleAspectRatio = `${d.sampleAspectRatio[0]}:${d.sampleAspectRatio[1]}`;
  // The entry's channelcount is 2 for mono AAC from several muxers: the configuration decides.
  if (d.channels !== undefined) summary.channelCount = d.channels;
  if (d.channelLayout !== undefined) summary.channelLayout = d.channelLayout;
  if (d.sampleRate !== undefined) summary.sampleRate = d.sampleRate;
  if (d.unreadable) summary.unreadableConfig = d.unreadable;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Average frame rate as ffmpeg's mov demuxer computes it: samples × timescale / media duration, reduced. */
function frameRate(t: Track): TrackSummary['frameRate'] | undefined {
  const s = t.samples;
  if (s.count === 0 || t.duration <= 0) return undefined;
  // BigInt: samples × timescale can pass 2^53.
  let num = BigInt(s.count) * BigInt(t.timescale);
  let den = BigInt(t.duration);
  const g = gcd(num, den);
  num /= g;
  den /= g;
  let constant = true;
  const first = s.duration[0] ?? 0;
  // The last sample's duration is often a guess by the writer: it does not make a rate variable.
  for (let i = 1; i < s.count - 1; i++) {
    if (s.duration[i] !== first) {
      constant = false;
      break;
    }
  }
  return { num: Number(num), den: Number(den), fps: Number(num) / Number(den), constant };
}

export function summarizeMovie(m: Movie): MovieSummary {
  const tracks = m.tracks.map(summarizeTrack);
  const headerDurationSeconds = m.timescale > 0 ? m.duration / m.timescale : 0;
  return {
    input: m.input,
    layout: m.layout,
    majorBrand: m.majorBrand,
    compatibleBrands: m.compatibleBrands,
    timescale: m.timescale,
    durationSeconds: tracks.length > 0 ? presentationEnd(tracks) : headerDurationSeconds,
    headerDurationSeconds,
    sources: m.sources.length,
    sampleBytes: tracks.reduce((a, t) => a + t.bytes, 0),
    tracks,
  };
}

/** ffprobe's format duration: from the earliest track start to the latest track end. */
function presentationEnd(tracks: TrackSummary[]): number {
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const t of tracks) {
    start = Math.min(start, t.startSeconds);
    end = Math.max(end, t.startSeconds + t.durationSeconds);
  }
  return end - start;
}
