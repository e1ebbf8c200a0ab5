// An encode job: analyze, plan chunks as virtual files, encode every rung of each chunk in one ffmpeg, assemble virtually, check, publish.
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { recipeId } from '../catalog/recipe-id.js';
import type { Registered } from '../catalog/registry.js';
import type { Recipe, RecipePiece, TrackRef } from '../compose/recipe.js';
import { parseRecipe } from '../compose/recipe.js';
import { selectTracks } from '../compose/resolve.js';
import { openMovie } from '../demux/open-movie.js';
import { VvfError } from '../errors.js';
import type { Movie } from '../model/movie.js';
import { movieOfFile } from '../virtual/file-movie.js';
import { presentationFiles } from '../virtual/presentation-file.js';
import { type CheckFailure, checkAlignment, checkChunk, compareWithSource, decodeErrors, describeFailures } from './checks.js';
import type { EncodeEngine, EncodeTask } from './engine.js';
import { audioArgs, chunkArgs, encoderOf, INPUT_ARG, outputArg, type VideoSettings } from './ffmpeg-args.js';
import { fingerprintOf, type JobState, readJob, stillDone, type TaskState, writeJob } from './job-state.js';
import { type Rung, sizeRungs } from './ladder.js';
import { localEngine } from './local-pool.js';
import { analyzeSource, type ChunkPlan, planChunks, type SourceAnalysis } from './plan.js';

/** What `vvf encode` asks for. */
export interface EncodeOptions {
  /** A path, URL or manifest (`#rendition` allowed), as the catalog's policy opens it. */
  input: string;
  /** The job directory: chunk outputs, the audio, job.json. */
  dir: string;
  ladder: Rung[];
  video: VideoSettings;
  /** Target chunk duration in seconds (default 10). */
  chunkSeconds: number;
  decodeFallback: boolean;
  audio: 'encode' | 'copy';
  audioBitrate?: number;
  /** Encoder processes at once (the local pool). */
  jobs: number;
  /** Target segment duration of the published DASH/HLS set. */
  segmentSeconds: number;
  attempts?: number;
  taskTimeoutMs?: number;
  /** Where an encoder reads a registered file (the coordinator's `vvf serve`). */
  fileUrl(id: string): string;
  /**
   * Where an encoder reads a task's input, given its recipe (a signed URL, for workers on
   * other machines). Without it the input is registered and read at `fileUrl(id)`.
   */
  inputUrl?(recipe: Recipe): string;
  /** What runs the tasks (default: the local pool, `jobs` at a time). */
  engine?: EncodeEngine;
  events?: EncodeEvents;
}

/** What a job tells its caller as it goes (the CLI's progress bar). */
export interface EncodeEvents {
  phase?(state: JobState['state'], job: JobState): void;
  planned?(analysis: SourceAnalysis, plan: ChunkPlan, rungs: Rung[], dropped: Rung[]): void;
  taskStart?(id: string, attempt: number, worker?: string): void;
  taskProgress?(id: string, frame: number, fps: number): void;
  taskDone?(id: string, seconds: number, skipped: boolean): void;
  taskRetry?(id: string, error: string, delayMs: number): void;
}

/** What a finished job published. */
export interface EncodeResult {
  job: JobState;
  rungs: { name: string; id: string; size: number }[];
  presentation: { id: string };
}

const chunkId = (i: number) => `chunk-${String(i).padStart(4, '0')}`;
/** Where output files go, relative to the job directory (also what an upload may name). */
const chunkOutput = (rung: string, i: number) => join('chunks', rung, `${String(i).padStart(4, '0')}.mp4`);
const AUDIO_OUTPUT = join('audio', 'audio.mp4');

/** The source as the recipes will take it: its best video and best audio. */
async function openSource(catalog: Catalog, input: string): Promise<{ movie: Movie; video: TrackRef; audio?: TrackRef }> {
  const movie = await openMovie(input, { openSource: (spec) => catalog.openSource(spec) });
  // A manifest's chosen representations by name: each chunk's compile then reads only the video's segments.
  const narrowed = (kind: 'video' | 'audio'): { ref: TrackRef; track: Movie['tracks'][number] } => {
    const [track] = selectTracks(movie, { source: input, kind });
    const id = track!.representationId;
    return { ref: { source: input, kind, ...(id !== undefined ? { representation: id } : {}) }, track: track! };
  };
  const video = narrowed('video');
  const audio = movie.tracks.some((t) => t.kind === 'audio') ? narrowed('audio') : undefined;
  return {
    movie: { ...movie, tracks: audio ? [video.track, audio.track] : [video.track] },
    video: video.ref,
    ...(audio ? { audio: audio.ref } : {}),
  };
}

/**
 * Runs an encode job to the end: resumes `dir`'s job when it has the same settings (done
 * outputs whose size and hash still match are not encoded again), encodes what is left on
 * the local pool, assembles each rung as a concatenation of its chunk outputs with the audio
 * alongside (virtual: nothing is remuxed), checks every rung against the source, and only
 * then publishes: a progressive file per rung and one DASH + HLS presentation of them all,
 * registered in the catalog. A failed check publishes nothing and names the chunk and rung.
 */
export async function runEncode(catalog: Catalog, opts: EncodeOptions): Promise<EncodeResult> {
  const ev = opts.events ?? {};
  await mkdir(opts.dir, { recursive: true });
  const { movie, video, audio } = await openSource(catalog, opts.input);
  try {
    const analysis = analyzeSource(movie);
    const { kept: rungs, dropped } = sizeRungs(opts.ladder, analysis.video);
    const plan = planChunks(movie, opts.chunkSeconds, opts.decodeFallback);
    ev.planned?.(analysis, plan, rungs, dropped);
    const fingerprint = fingerprintOf({
      input: opts.input,
      sources: movie.sources.map((s) => [s.key, s.validator, s.size]),
      rungs,
      video: { ...opts.video, encoder: encoderOf(opts.video) },
      cuts: plan.cuts,
      audio: opts.audio,
      audioBitrate: opts.audioBitrate,
    });
    const previous = await readJob(opts.dir);
    const job: JobState = {
      version: 1,
      fingerprint,
      input: opts.input,
      started: new Date().toISOString(),
      updated: '',
      state: 'encoding',
      rungs: rungs.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate: r.bitrate })),
      plan: { timescale: plan.timescale, cuts: plan.cuts, duration: plan.duration, decodeFallback: plan.decodeFallback },
      tasks: [
        ...(audio && opts.audio === 'encode' ? [{ id: 'audio', state: 'pending' as const, attempts: 0, outputs: {} }] : []),
        ...plan.cuts.map((_, i) => ({
          id: chunkId(i),
          state: 'pending' as const,
          attempts: 0,
          outputs: {},
          frames: plan.frames[i] ?? 0,
        })),
      ],
    };
    // The same job again: keep what is done and still on disk as it was written.
    if (previous?.fingerprint === fingerprint) {
      for (const t of job.tasks) {
        const before = previous.tasks.find((p) => p.id === t.id);
        if (before && (await stillDone(opts.dir, before))) Object.assign(t, before);
      }
    }
    ev.phase?.('encoding', job);
    await writeJob(opts.dir, job);
    for (const r of rungs) await mkdir(join(opts.dir, 'chunks', r.name), { recursive: true });
    if (audio) await mkdir(join(opts.dir, 'audio'), { recursive: true });
    await removePartials([...rungs.map((r) => join(opts.dir, 'chunks', r.name)), join(opts.dir, 'audio')]);

    const byId = new Map(job.tasks.map((t) => [t.id, t]));
    // The catalog id of each task's input, dropped once the task is done.
    const inputs = new Map<string, string>();
    const tasks: EncodeTask[] = [];
    for (const t of job.tasks) {
      if (t.state === 'done') {
        ev.taskDone?.(t.id, t.seconds ?? 0, true);
        continue;
      }
      t.state = 'pending';
      tasks.push(await taskFor(t, plan, rungs, opts, video, audio, catalog, inputs));
    }
    let saving = Promise.resolve();
    const save = () => {
      saving = saving.then(() => writeJob(opts.dir, job));
      return saving;
    };
    const engine =
      opts.engine ??
      localEngine({
        jobs: opts.jobs,
        attempts: opts.attempts ?? 3,
        ...(opts.taskTimeoutMs ? { timeoutMs: opts.taskTimeoutMs } : {}),
      });
    const encoderPeak = await engine
      .run(
        tasks,
        {
          start: (task, attempt, worker) => {
            const t = byId.get(task.id)!;
            t.state = 'running';
            t.attempts = attempt;
            if (worker !== undefined) t.worker = worker;
            else delete t.worker;
            ev.taskStart?.(task.id, attempt, worker);
          },
          progress: (task, p) => ev.taskProgress?.(task.id, p.frame, p.fps),
          retry: (task, error, delayMs) => {
            byId.get(task.id)!.error = error;
            ev.taskRetry?.(task.id, error, delayMs);
          },
          done: async (task, r) => {
            const t = byId.get(task.id)!;
            // The engine put them in place and says what they are: the record a resumed run checks.
            t.outputs = { ...r.outputs };
            t.state = 'done';
            t.seconds = r.seconds;
            if (r.worker !== undefined) t.worker = r.worker;
            delete t.error;
            // The chunk's virtual file is no longer needed: nothing of it stays registered.
            const input = inputs.get(task.id);
            if (input !== undefined) await catalog.delete(input).catch(() => false);
            ev.taskDone?.(task.id, r.seconds, false);
            await save();
          },
        },
        { dir: opts.dir, fingerprint },
      )
      .catch(async (e: unknown) => {
        job.state = 'failed';
        job.failure = e instanceof Error ? e.message : String(e);
        for (const t of job.tasks) if (t.state === 'running') t.state = 'failed';
        await save();
        throw e;
      });
    await saving;

    const result = await assembleAndPublish(catalog, opts, job, movie, plan, rungs, audio);
    job.memory = { coordinator: process.resourceUsage().maxRSS * 1024, encoders: encoderPeak };
    await writeJob(opts.dir, job);
    ev.phase?.('done', job);
    return result;
  } finally {
    await Promise.allSettled(movie.sources.map((s) => s.close()));
  }
}

/** Outputs of attempts that never finished (a crashed run's): nothing trusts them, so nothing keeps them. */
async function removePartials(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) if (name.endsWith('.partial')) await unlink(join(dir, name)).catch(() => undefined);
  }
}

function chunkIndex(id: string): number {
  return Number(id.slice('chunk-'.length));
}

/**
 * The ffmpeg run of a task, its input a virtual file the encoder reads over HTTP: registered
 * and read by id, or read by the signed URL of its recipe.
 */
async function taskFor(
  t: TaskState,
  plan: ChunkPlan,
  rungs: readonly Rung[],
  opts: EncodeOptions,
  video: TrackRef,
  audio: TrackRef | undefined,
  catalog: Catalog,
  inputs: Map<string, string>,
): Promise<EncodeTask> {
  const inputOf = async (recipe: Recipe): Promise<string> => {
    if (opts.inputUrl) {
      // Registered on the first read of its URL.
      inputs.set(t.id, recipeId(catalog.underRoot(recipe)));
      return opts.inputUrl(recipe);
    }
    const { entry } = await catalog.register(recipe);
    inputs.set(t.id, entry.id);
    return opts.fileUrl(entry.id);
  };
  if (t.id === 'audio') {
    const input = await inputOf(parseRecipe({ name: 'audio', tracks: [audio!] }));
    return { id: t.id, args: audioArgs(INPUT_ARG, outputArg(0), opts.audioBitrate), input, outputs: [AUDIO_OUTPUT] };
  }
  const i = chunkIndex(t.id);
  const cut = plan.cuts[i]!;
  const next = plan.cuts[i + 1];
  // Video only, exactly the chunk's samples: [cut, next) of the presentation.
  const recipe = parseRecipe({
    name: t.id,
    tracks: [video],
    start: `${cut}/${plan.timescale}`,
    ...(next !== undefined ? { end: `${next}/${plan.timescale}` } : {}),
  });
  const input = await inputOf(recipe);
  return {
    id: t.id,
    args: chunkArgs(
      INPUT_ARG,
      rungs,
      rungs.map((_, k) => outputArg(k)),
      opts.video,
    ),
    input,
    outputs: rungs.map((r) => chunkOutput(r.name, i)),
    frames: plan.frames[i] ?? 0,
  };
}

/** Each rung as pieces (its chunk outputs, in order). */
function rungPieces(dir: string, rung: Rung, chunks: number): RecipePiece[] {
  return Array.from({ length: chunks }, (_, i) => ({ tracks: [{ source: join(dir, chunkOutput(rung.name, i)) }] }));
}

async function assembleAndPublish(
  catalog: Catalog,
  opts: EncodeOptions,
  job: JobState,
  source: Movie,
  plan: ChunkPlan,
  rungs: readonly Rung[],
  audio: TrackRef | undefined,
): Promise<EncodeResult> {
  job.state = 'assembling';
  opts.events?.phase?.('assembling', job);
  const audioRef: TrackRef | undefined = audio
    ? opts.audio === 'encode'
      ? { source: join(opts.dir, AUDIO_OUTPUT), kind: 'audio' }
      : audio
    : undefined;
  const alongsideAudio = audioRef ? [{ pieces: [{ tracks: [audioRef] }] }] : [];
  const published: Registered[] = [];
  const failures: CheckFailure[] = [];
  const base = opts.dir.split('/').filter(Boolean).pop() ?? 'encode';
  try {
    // Each chunk's outputs first: a chunk that is wrong is named before the joins hide it.
    for (const rung of rungs) {
      for (let i = 0; i < plan.cuts.length; i++) {
        const movie = await openMovie(join(opts.dir, chunkOutput(rung.name, i)));
        try {
          failures.push(...checkChunk(rung.name, i, movie, plan));
        } finally {
          await Promise.allSettled(movie.sources.map((s) => s.close()));
        }
      }
    }
    const rungEntries: Registered[] = [];
    for (const rung of rungs) {
      const recipe: Recipe = parseRecipe({
        name: `${base}-${rung.name}`,
        pieces: rungPieces(opts.dir, rung, plan.cuts.length),
        ...(alongsideAudio.length > 0 ? { alongside: alongsideAudio } : {}),
      });
      const { entry } = await catalog.register(recipe);
      published.push(entry);
      rungEntries.push(entry);
    }
    job.state = 'checking';
    opts.events?.phase?.('checking', job);
    for (const [k, rung] of rungs.entries()) {
      const entry = rungEntries[k]!;
      failures.push(...compareWithSource(rung.name, await movieOfFile(entry.file), source, plan));
      const errors = await decodeErrors(opts.fileUrl(entry.id));
      if (errors !== '') failures.push({ rung: rung.name, check: 'decode', detail: errors.split('\n')[0] ?? errors });
    }
    const [first, ...others] = rungs;
    const presentation = parseRecipe({
      layout: 'cmaf',
      name: base,
      segment: opts.segmentSeconds,
      pieces: rungPieces(opts.dir, first!, plan.cuts.length),
      alongside: [...others.map((r) => ({ pieces: rungPieces(opts.dir, r, plan.cuts.length) })), ...alongsideAudio],
    });
    const { entry: set } = await catalog.register(presentation);
    published.push(set);
    failures.push(...checkAlignment((await presentationFiles(set.file)).index));
    if (failures.length > 0) {
      throw new VvfError('ENCODE_CHECK_FAILED', describeFailures(failures));
    }
    job.state = 'done';
    job.published = { rungs: Object.fromEntries(rungs.map((r, k) => [r.name, rungEntries[k]!.id])), presentation: set.id };
    delete job.failure;
    return {
      job,
      rungs: rungs.map((r, k) => ({ name: r.name, id: rungEntries[k]!.id, size: rungEntries[k]!.file.size })),
      presentation: { id: set.id },
    };
  } catch (e) {
    // Nothing half-made stays published.
    for (const entry of published) await catalog.delete(entry.id).catch(() => undefined);
    job.state = 'failed';
    job.failure = e instanceof Error ? e.message : String(e);
    await writeJob(opts.dir, job);
    throw e;
  }
}
