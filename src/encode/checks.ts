// Checks an assembled rendition must pass before it is published: frames, timestamps at the joins, duration, A/V sync, decoding, alignment.
import { execFile } from 'node:child_process';
import { editsDuration, presentationEdits } from '../compose/edits.js';
import type { PresentationIndex } from '../compose/presentation-index.js';
import { movieTimescaleFor } from '../compose/timescale.js';
import type { Movie, Track } from '../model/movie.js';
import type { ChunkPlan } from './plan.js';
import { presentedTimes } from './plan.js';

/** A check that failed: what, where (the chunk and rung, when one is to blame). */
export interface CheckFailure {
  rung: string;
  chunk?: number;
  check: 'frames' | 'timestamps' | 'duration' | 'sync' | 'decode' | 'alignment';
  detail: string;
}

/** Seconds of a track's presentation (its edit list), and its presented frame times in seconds. */
function timeline(track: Track): { seconds: number; times: number[] } {
  const scale = movieTimescaleFor([track]);
  return {
    seconds: editsDuration(presentationEdits(track, scale)) / scale,
    times: presentedTimes(track, scale).map((t) => t / scale),
  };
}

/** The chunk whose time range holds `seconds` of the source. */
function chunkAt(plan: ChunkPlan, seconds: number): number {
  const ticks = seconds * plan.timescale;
  let c = 0;
  while (c + 1 < plan.cuts.length && ticks >= plan.cuts[c + 1]!) c++;
  return c;
}

/**
 * Compares an assembled rung with its source, from the models alone: the same number of
 * presented frames; each frame presented when the source presents it (within half a frame
 * or 1 ms, whichever is less: a gap or an overlap at a join moves every later frame);
 * decode times increasing; the same duration within one frame; the audio's duration within
 * one audio frame of the source's (both tracks start presenting at 0, so this is their sync).
 */
export function compareWithSource(rung: string, out: Movie, source: Movie, plan: ChunkPlan): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const video = out.tracks.find((t) => t.kind === 'video');
  const srcVideo = source.tracks.find((t) => t.kind === 'video');
  if (!video || !srcVideo) return [{ rung, check: 'frames', detail: 'no video track' }];
  const ours = timeline(video);
  const theirs = timeline(srcVideo);
  if (ours.times.length !== theirs.times.length) {
    // Which chunk is to blame is for checkChunk to say: after the joins, frames are rebased.
    failures.push({ rung, check: 'frames', detail: `${ours.times.length} frames, the source presents ${theirs.times.length}` });
  } else {
    const frame = theirs.seconds / Math.max(1, theirs.times.length);
    const tolerance = Math.min(0.001, frame / 2);
    for (let i = 0; i < ours.times.length; i++) {
      const d = (ours.times[i] as number) - (theirs.times[i] as number);
      if (Math.abs(d) > tolerance) {
        failures.push({
          rung,
          chunk: chunkAt(plan, theirs.times[i] as number),
          check: 'timestamps',
          detail: `frame ${i} is presented at ${(ours.times[i] as number).toFixed(6)} s, the source's at ${(theirs.times[i] as number).toFixed(6)} s (${d > 0 ? 'a gap' : 'an overlap'} before it)`,
        });
        break;
      }
    }
    if (Math.abs(ours.seconds - theirs.seconds) > frame + 1e-9) {
      failures.push({
        rung,
        check: 'duration',
        detail: `${ours.seconds.toFixed(6)} s, the source lasts ${theirs.seconds.toFixed(6)} s (more than a frame apart)`,
      });
    }
  }
  const dts = video.samples.decodeTime;
  for (let i = 1; i < video.samples.count; i++) {
    if ((dts[i] as number) <= (dts[i - 1] as number)) {
      failures.push({ rung, check: 'timestamps', detail: `decode time goes back at sample ${i}` });
      break;
    }
  }
  const audio = out.tracks.find((t) => t.kind === 'audio');
  const srcAudio = source.tracks.find((t) => t.kind === 'audio');
  if (srcAudio && !audio) failures.push({ rung, check: 'sync', detail: 'the source has audio, the output none' });
  if (audio && srcAudio) {
    const a = timeline(audio).seconds;
    const b = timeline(srcAudio).seconds;
    // An AAC frame is 1024 samples; other codecs' frames are what their samples last.
    const audioFrame = Math.max(
      (audio.samples.duration[0] ?? 0) / audio.timescale,
      (srcAudio.samples.duration[0] ?? 0) / srcAudio.timescale,
    );
    if (Math.abs(a - b) > audioFrame + 1e-9) {
      failures.push({
        rung,
        check: 'sync',
        detail: `audio lasts ${a.toFixed(6)} s, the source's ${b.toFixed(6)} s: more than one audio frame (${audioFrame.toFixed(6)} s) apart`,
      });
    }
  }
  return failures;
}

/**
 * One chunk's output for one rung against the plan: the frames the chunk presents in the
 * source, presented over the chunk's duration (within a frame). A chunk that lost, gained or
 * shifted frames is named here, before the joins hide where it happened.
 */
export function checkChunk(rung: string, chunk: number, out: Movie, plan: ChunkPlan): CheckFailure[] {
  const video = out.tracks.find((t) => t.kind === 'video');
  if (!video) return [{ rung, chunk, check: 'frames', detail: 'the output has no video track' }];
  const { seconds, times } = timeline(video);
  const want = plan.frames[chunk] ?? 0;
  if (times.length !== want) {
    return [{ rung, chunk, check: 'frames', detail: `${times.length} frames, the chunk presents ${want} in the source` }];
  }
  const span = ((plan.cuts[chunk + 1] ?? plan.duration) - (plan.cuts[chunk] ?? 0)) / plan.timescale;
  const frame = span / Math.max(1, want);
  if (Math.abs(seconds - span) > frame + 1e-9) {
    return [
      {
        rung,
        chunk,
        check: 'duration',
        detail: `presents ${seconds.toFixed(6)} s, the chunk lasts ${span.toFixed(6)} s in the source`,
      },
    ];
  }
  return [];
}

/** Whether every video set of a presentation cuts its renditions' segments at the same times. */
export function checkAlignment(index: PresentationIndex): CheckFailure[] {
  const failures: CheckFailure[] = [];
  for (const set of index.sets) {
    if (set.kind === 'video' && !set.aligned) {
      failures.push({
        rung: set.tracks.join(', '),
        check: 'alignment',
        detail: 'the renditions do not start their segments at the same times',
      });
    }
  }
  return failures;
}

/** ffmpeg decodes every stream of `input` (a path or URL); its error output, empty when clean. */
export function decodeErrors(input: string, ffmpeg = 'ffmpeg'): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      ffmpeg,
      ['-hide_banner', '-nostdin', '-v', 'error', '-i', input, '-map', '0', '-f', 'null', '-'],
      { maxBuffer: 16 << 20 },
      (e, _stdout, stderr) => resolve(stderr.trim() || (e ? e.message : '')),
    );
  });
}

/** One line per failure, for the job's report and the error. */
export function describeFailures(failures: readonly CheckFailure[]): string {
  return failures.map((f) => `${f.rung}${f.chunk !== undefined ? `, chunk ${f.chunk}` : ''}: ${f.check}: ${f.detail}`).join('; ');
}
