// The local engine: a pool of ffmpeg processes on this machine, with retries, a per-task timeout, progress and peak memory.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DoneFile } from '../catalog/encode-job.js';
import { VvfError } from '../errors.js';
import type { EncodeEngine, EncodeTask, EngineEvents, EngineJob } from './engine.js';
import { fillArgs } from './ffmpeg-args.js';
import { describeFile } from './job-state.js';

export interface PoolOptions {
  /** Processes at once (default: one per core). */
  jobs: number;
  /** Attempts per task before the job fails (default 3). */
  attempts?: number;
  /** First retry delay, doubled each time (default 1000 ms). */
  backoffMs?: number;
  /** A run taking longer is killed and counts as a failed attempt (default 1 hour). */
  timeoutMs?: number;
  ffmpeg?: string;
}

/** Peak resident set (VmHWM) of a running process, bytes; 0 when it cannot be read. */
async function peakRssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs ffmpeg once: resolves with its peak memory, rejects with its last error lines. It is
 * killed after `timeoutMs`, or when `signal` aborts.
 */
export function runFfmpeg(
  ffmpeg: string,
  args: readonly string[],
  timeoutMs: number,
  onProgress: (p: { frame: number; fps: number }) => void,
  signal?: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let peak = 0;
    let pending = '';
    const fields = new Map<string, string>();
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      for (;;) {
        const nl = pending.indexOf('\n');
        if (nl < 0) break;
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        const eq = line.indexOf('=');
        if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
        // `progress=` ends each block of -progress output.
        if (line.startsWith('progress='))
          onProgress({ frame: Number(fields.get('frame') ?? 0), fps: Number(fields.get('fps') ?? 0) });
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    // /proc holds the high-water mark only while the process lives: sample it as it runs.
    const sampler = setInterval(() => {
      if (child.pid !== undefined) void peakRssOf(child.pid).then((v) => (peak = Math.max(peak, v)));
    }, 250);
    let why = '';
    const kill = (reason: string) => {
      why = reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`killed after ${timeoutMs / 1000} s`), timeoutMs);
    const onAbort = () => kill('stopped');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const end = () => {
      clearInterval(sampler);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e) => {
      end();
      reject(new VvfError('SOURCE_UNREACHABLE', `cannot run ${ffmpeg}: ${e.message}`));
    });
    child.on('exit', (code, sig) => {
      end();
      if (code === 0) resolve(peak);
      else {
        const last = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${why || `exit ${code ?? sig}`}${last ? `: ${last}` : ''}`));
      }
    });
  });
}

/**
 * The local engine: every task `jobs` at a time, each retried with exponential backoff; a
 * task that fails every attempt fails the whole run with ENCODE_FAILED once the running ones
 * end (none is left behind). Each attempt writes its outputs under names of its own in the
 * job directory (`….partial`), renamed once whole: an encoder left over from a crashed run,
 * or a failed attempt, never leaves a file under a name a run trusts.
 */
export function localEngine(opts: PoolOptions): EncodeEngine {
  return { run: (tasks, events, job) => runLocalPool(tasks, events, job, opts) };
}

async function runLocalPool(
  tasks: readonly EncodeTask[],
  events: EngineEvents,
  job: EngineJob,
  opts: PoolOptions,
): Promise<number> {
  const attempts = opts.attempts ?? 3;
  const backoff = opts.backoffMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 3_600_000;
  const ffmpeg = opts.ffmpeg ?? 'ffmpeg';
  let next = 0;
  let failure: VvfError | undefined;
  let peak = 0;
  const lane = async () => {
    while (failure === undefined && next < tasks.length) {
      const task = tasks[next++]!;
      for (let attempt = 1; ; attempt++) {
        events.start?.(task, attempt);
        const started = performance.now();
        const tag = randomBytes(4).toString('hex');
        const partials = task.outputs.map((o) => `${o}.${tag}.partial`);
        try {
          const args = fillArgs(
            task.args,
            task.input,
            partials.map((p) => join(job.dir, p)),
          );
          const rss = await runFfmpeg(ffmpeg, args, timeoutMs, (p) => events.progress?.(task, p));
          peak = Math.max(peak, rss);
          const outputs: Record<string, DoneFile> = {};
          for (const [k, final] of task.outputs.entries()) {
            await rename(join(job.dir, partials[k]!), join(job.dir, final));
            outputs[final] = await describeFile(join(job.dir, final));
          }
          await events.done(task, { seconds: (performance.now() - started) / 1000, peakRss: rss, outputs });
          break;
        } catch (e) {
          await Promise.all(partials.map((p) => unlink(join(job.dir, p)).catch(() => undefined)));
          const why = e instanceof Error ? e.message : String(e);
          if (attempt >= attempts) {
            failure ??= new VvfError('ENCODE_FAILED', `${task.id} failed ${attempts} times: ${why}`);
            return;
          }
          const delay = backoff * 2 ** (attempt - 1);
          events.retry?.(task, why, delay);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, tasks.length)) }, lane));
  if (failure) throw failure;
  return peak;
}
