// Analyze a source from its model (no decoding) and plan the chunks an encode cuts it into.
import { editsDuration, presentationEdits, presentationTimeOf } from '../compose/edits.js';
import { startsOpenGop } from '../compose/slice.js';
import { planSplit } from '../compose/split.js';
import { movieTimescaleFor } from '../compose/timescale.js';
import { VvfError } from '../errors.js';
import type { Movie, Track } from '../model/movie.js';

/** What an encode needs to know of its source, read from the model alone. */
export interface SourceAnalysis {
  /** Ticks per second of every time below (the movie timescale vvf composes in). */
  timescale: number;
  /** Presented duration of the video, ticks. */
  duration: number;
  video: {
    trackId: number;
    codec: string;
    width: number;
    height: number;
    /** Frames presented (inside the edit list). */
    frames: number;
    keyframes: number;
    /** Keyframes that start an open GOP (leading pictures reference the GOP before). */
    openGops: number;
    /** Average frames per second, and whether every frame lasts the same. */
    frameRate: { fps: number; constant: boolean };
  };
  audio?: { trackId: number; codec: string; sampleRate?: number; channels?: number; duration: number };
}

/** Where an encode cuts its source: chunk `i` presents `[cuts[i], cuts[i + 1])` (ticks), the last runs to `duration`. */
export interface ChunkPlan {
  timescale: number;
  cuts: number[];
  duration: number;
  /** Frames each chunk presents. */
  frames: number[];
  /**
   * Cut anywhere (every `chunkSeconds`), each chunk decoding from the keyframe before its start
   * and dropping the frames before it (its edit list hides them), rather than at clean keyframes.
   */
  decodeFallback: boolean;
}

/** The video track an encode works on: the first (DASH: the best-rated is chosen by the recipe). */
function videoOf(movie: Movie): Track {
  const video = movie.tracks.find((t) => t.kind === 'video');
  if (!video) throw new VvfError('USAGE', `${movie.input} has no video track to encode`);
  return video;
}

/** Presentation times (ticks of `timescale`) of the presented frames of a track, in presentation order. */
export function presentedTimes(track: Track, timescale: number): number[] {
  const edits = presentationEdits(track, timescale);
  const total = editsDuration(edits);
  const s = track.samples;
  const times: number[] = [];
  for (let k = 0; k < s.count; k++) {
    const p = presentationTimeOf(edits, (s.decodeTime[k] ?? 0) + (s.compositionOffset[k] ?? 0), track.timescale, timescale);
    if (p !== undefined && p < total) times.push(p);
  }
  return times.sort((a, b) => a - b);
}

/** The source as an encode sees it: keyframes, GOPs, frame rate, audio. */
export function analyzeSource(movie: Movie): SourceAnalysis {
  const video = videoOf(movie);
  const audio = movie.tracks.find((t) => t.kind === 'audio');
  const timescale = movieTimescaleFor(audio ? [video, audio] : [video]);
  const s = video.samples;
  let keyframes = 0;
  let openGops = 0;
  for (let k = 0; k < s.count; k++) {
    if (!s.sync[k]) continue;
    keyframes++;
    if (startsOpenGop(video, k)) openGops++;
  }
  const duration = editsDuration(presentationEdits(video, timescale));
  const frames = presentedTimes(video, timescale).length;
  const first = s.duration[0] ?? 0;
  let constant = true;
  for (let i = 1; i < s.count - 1; i++) {
    if (s.duration[i] !== first) {
      constant = false;
      break;
    }
  }
  const analysis: SourceAnalysis = {
    timescale,
    duration,
    video: {
      trackId: video.id,
      codec: video.codec,
      width: video.width ?? 0,
      height: video.height ?? 0,
      frames,
      keyframes,
      openGops,
      frameRate: { fps: duration > 0 ? (frames * timescale) / duration : 0, constant },
    },
  };
  if (!(analysis.video.width > 0 && analysis.video.height > 0)) {
    throw new VvfError('UNSUPPORTED', `${movie.input}: the video track does not say its picture size`);
  }
  if (audio) {
    analysis.audio = {
      trackId: audio.id,
      codec: audio.codec,
      duration: editsDuration(presentationEdits(audio, timescale)),
      ...(audio.sampleRate !== undefined ? { sampleRate: audio.sampleRate } : {}),
      ...(audio.channelCount !== undefined ? { channels: audio.channelCount } : {}),
    };
  }
  return analysis;
}

/**
 * Chunks of about `chunkSeconds`, cut only at keyframes that start a closed GOP (a chunk
 * must decode on its own), each at least `chunkSeconds` long but the last. A source whose
 * keyframes give no such cut while it lasts more than two chunks is refused, unless
 * `decodeFallback`: then cuts fall every `chunkSeconds` and each chunk decodes from the
 * keyframe before its start (vvf's clip starts there, its edit list hides the lead-in,
 * and the encoder drops those frames), costing a lead-in decode per chunk.
 */
export function planChunks(movie: Movie, chunkSeconds: number, decodeFallback = false): ChunkPlan {
  if (!(chunkSeconds > 0)) throw new VvfError('USAGE', '--chunk must be a positive number of seconds');
  const video = videoOf(movie);
  const audio = movie.tracks.find((t) => t.kind === 'audio');
  const timescale = movieTimescaleFor(audio ? [video, audio] : [video]);
  const edits = presentationEdits(video, timescale);
  const duration = editsDuration(edits);
  const target = Math.round(chunkSeconds * timescale);
  let cuts: number[];
  if (decodeFallback) {
    cuts = [0];
    for (let t = target; t < duration; t += target) cuts.push(t);
  } else {
    // The clean keyframes `vvf split` cuts at: sync samples that start a closed GOP.
    cuts = planSplit({ ...movie, tracks: audio ? [video, audio] : [video] }, chunkSeconds).cuts;
    if (cuts.length === 1 && duration > 2 * target) {
      throw new VvfError(
        'UNSUPPORTED',
        `${movie.input} has no keyframe that starts a closed GOP to cut at (${(duration / timescale).toFixed(1)} s of video): ` +
          'give --chunk-fallback decode to cut anywhere (each chunk decodes from the keyframe before it)',
      );
    }
  }
  const times = presentedTimes(video, timescale);
  // One walk over the sorted times: a ten-hour source has a million frames and thousands of chunks.
  const frames = new Array<number>(cuts.length).fill(0);
  let c = 0;
  for (const t of times) {
    while (c + 1 < cuts.length && t >= cuts[c + 1]!) c++;
    frames[c]!++;
  }
  return { timescale, cuts, duration, frames, decodeFallback };
}
