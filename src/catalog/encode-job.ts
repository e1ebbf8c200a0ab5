// What an encode job's state file says, and reading it: shared by the encode face that writes it and the faces that show it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VvfError } from '../errors.js';

/** One output file counted as done: its size and SHA-256, checked before a resumed run trusts it. */
export interface DoneFile {
  size: number;
  sha256: string;
}

/** A unit of work: a chunk (every rung at once) or the audio. */
export interface TaskState {
  /** `chunk-0007` or `audio`. */
  id: string;
  state: 'pending' | 'running' | 'done' | 'failed';
  attempts: number;
  /** Output path (relative to the job directory) → what was verified. */
  outputs: Record<string, DoneFile>;
  /** Seconds the last successful attempt took. */
  seconds?: number;
  /** Frames the chunk presents (from the plan), for progress and checks. */
  frames?: number;
  /** Who ran the last attempt, when it was not this process (a queue worker: `host:pid`). */
  worker?: string;
  error?: string;
}

/** Everything `vvf encode --status` shows, kept in `<dir>/job.json`. */
export interface JobState {
  version: 1;
  /** Settings that decide the outputs' bytes: a run with other settings does not reuse them. */
  fingerprint: string;
  input: string;
  started: string;
  updated: string;
  state: 'planning' | 'encoding' | 'assembling' | 'checking' | 'done' | 'failed';
  rungs: { name: string; width: number; height: number; bitrate: number }[];
  plan: { timescale: number; cuts: number[]; duration: number; decodeFallback: boolean };
  tasks: TaskState[];
  /** What was published: catalog ids of the progressive file of each rung, and of the presentation. */
  published?: { rungs: Record<string, string>; presentation: string };
  /** Why the job failed (a check naming the chunk and rung, or an encoder error). */
  failure?: string;
  /** Peak resident memory, bytes: the coordinator's, and the highest of any encoder process. */
  memory?: { coordinator: number; encoders: number };
}

/** Name of the state file in a job directory. */
export const JOB_FILE = 'job.json';

/** The job in `dir`, or undefined when there is none. */
export async function readJob(dir: string): Promise<JobState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, JOB_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VvfError('SOURCE_UNREACHABLE', `cannot read ${join(dir, JOB_FILE)}: ${(e as Error).message}`);
  }
  try {
    const job = JSON.parse(text) as JobState;
    if (job.version !== 1 || !Array.isArray(job.tasks)) throw new Error('unknown shape');
    return job;
  } catch {
    throw new VvfError('MEDIA_INCONSISTENT', `${join(dir, JOB_FILE)} is not a vvf job`);
  }
}
