// The local engine: a pool of ffmpeg processes on this machine, with retries, a per-task timeout, progress and peak memory.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { VvfError } from '../errors.js';

/** One ffmpeg run: a chunk's every rung, or the audio. */
export interface EncodeTask {
  id: string;
  args: string[];
  /** Frames it will output per rung (progress and ETA), when known. */
  frames?: number;
}

/** What the pool tells its caller as tasks go. */
export interface PoolEvents {
  start?(task: EncodeTask, attempt: number): void;
  progress?(task: EncodeTask, p: { frame: number; fps: number }): void;
  /** A successful run; the pool waits for it (the caller verifies and records the outputs). */
  done(task: EncodeTask, r: { seconds: number; peakRss: number }): Promise<void>;
  /** A failed attempt that will be retried after `delayMs`. */
  retry?(task: EncodeTask, error: string, delayMs: number): void;
}

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

/** Runs ffmpeg once: resolves with its peak memory, rejects with its last error lines. */
function runOnce(
  ffmpeg: string,
  task: EncodeTask,
  timeoutMs: number,
  onProgress: (p: { frame: number; fps: number }) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, task.args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearInterval(sampler);
      clearTimeout(timer);
      reject(new VvfError('SOURCE_UNREACHABLE', `cannot run ${ffmpeg}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(timer);
      if (code === 0) resolve(peak);
      else {
        const why = signal === 'SIGKILL' ? `killed after ${timeoutMs / 1000} s` : `exit ${code ?? signal}`;
        const last = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${why}${last ? `: ${last}` : ''}`));
      }
    });
  });
}

/**
 * Runs every task, `jobs` at a time, each retried with exponential backoff; a task that
 * fails every attempt fails the whole run with ENCODE_FAILED once the running ones end
 * (none is left behind). Resolves with the highest peak memory of any run.
 */
export async function runLocalPool(tasks: readonly EncodeTask[], events: PoolEvents, opts: PoolOptions): Promise<number> {
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
        try {
          const rss = await runOnce(ffmpeg, task, timeoutMs, (p) => events.progress?.(task, p));
          peak = Math.max(peak, rss);
          await events.done(task, { seconds: (performance.now() - started) / 1000, peakRss: rss });
          break;
        } catch (e) {
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
