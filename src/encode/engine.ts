// What runs an encode's tasks: the local pool on this machine, or a queue of workers on many. runEncode sees only this.
import type { DoneFile } from '../catalog/encode-job.js';

/** One ffmpeg run: a chunk's every rung, or the audio. */
export interface EncodeTask {
  /** `chunk-0007` or `audio`. */
  id: string;
  /** ffmpeg's arguments, with the input and outputs as placeholders (`INPUT_ARG`, `outputArg(i)`). */
  args: string[];
  /** Where the encoder reads its input: a URL of the coordinator's server. */
  input: string;
  /** Where output `i` ends up, relative to the job directory. */
  outputs: string[];
  /** Frames it will output per rung (progress and ETA), when known. */
  frames?: number;
}

/** A task that succeeded: its outputs are in place under the job directory, with the size and hash given. */
export interface TaskResult {
  seconds: number;
  /** Peak resident memory of the encoder, bytes (0 when unknown). */
  peakRss: number;
  outputs: Record<string, DoneFile>;
  /** Who ran it, when not this process. */
  worker?: string;
}

/** What an engine tells its caller as tasks go. */
export interface EngineEvents {
  start?(task: EncodeTask, attempt: number, worker?: string): void;
  progress?(task: EncodeTask, p: { frame: number; fps: number }): void;
  /** A successful run; the engine waits for it (the caller records the outputs). */
  done(task: EncodeTask, r: TaskResult): Promise<void>;
  /** A failed attempt that will be tried again after `delayMs`. */
  retry?(task: EncodeTask, error: string, delayMs: number): void;
}

/** The job an engine runs tasks for. */
export interface EngineJob {
  /** The job directory: outputs end up under it. */
  dir: string;
  /** The job's settings fingerprint: tasks of another fingerprint are other tasks. */
  fingerprint: string;
}

/**
 * Runs tasks to success, each retried with backoff; a task that fails every attempt fails
 * the run with ENCODE_FAILED. Resolves with the highest peak memory of any encoder run.
 */
export interface EncodeEngine {
  run(tasks: readonly EncodeTask[], events: EngineEvents, job: EngineJob): Promise<number>;
}
