// `vvf worker`: takes encode jobs from the queue, runs ffmpeg on a chunk read from its coordinator, uploads the outputs back.

import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue, Worker } from 'bullmq';
import type { DoneFile } from '../catalog/encode-job.js';
import { UPLOAD_ROUTE, uploadHeaders } from '../catalog/upload-auth.js';
import { VvfError } from '../errors.js';
import { fillArgs } from './ffmpeg-args.js';
import { describeFile } from './job-state.js';
import { runFfmpeg } from './local-pool.js';
import {
  checkReachable,
  closeClients,
  jobDataValid,
  QUEUE_NAME,
  type QueueJobData,
  type QueueJobProgress,
  type QueueJobResult,
  queueClient,
  ready,
} from './queue-job.js';

export interface WorkerOptions {
  redisUrl: string;
  /** The shared key: job data must be signed with it, and uploads are. */
  key: string;
  /** Jobs at once (ffmpeg processes). */
  jobs: number;
  /**
   * How long a job stays locked to this worker without news from it (default 30 s): a worker
   * that dies loses its jobs to others about this long after.
   */
  lockMs?: number;
  /** Attempts at reaching the coordinator (its input, each upload) before the job's attempt fails (default 6, backing off 1 s to 16 s). */
  coordinatorAttempts?: number;
  queueName?: string;
  ffmpeg?: string;
  /** One JSON object per event (start, progress of uploads, done, failed). */
  log(line: Record<string, unknown>): void;
}

/** A running worker. */
export interface EncodeWorker {
  /** `host:pid`: who runs a job, as the coordinator shows it. */
  name: string;
  /** Stops taking jobs; running encoders are killed (their jobs are retried elsewhere). */
  close(): Promise<void>;
  /** Highest peak memory of any encoder this worker ran, bytes. */
  peakRss(): number;
}

/** An answer of the coordinator that is not what was asked, and whether asking again may change it. */
class CoordinatorRefusal extends VvfError {
  constructor(
    what: string,
    status: number,
    body: string,
    /** A refusal of the request itself (its key, its path): the same request gets the same answer. */
    readonly final = status === 400 || status === 401 || status === 403 || status === 404,
  ) {
    super('SOURCE_BAD_RESPONSE', `${what}: HTTP ${status}: ${body.trim()}`);
  }
}

/** One request to the coordinator, a file as its body when given; resolves when it answers `ok`. */
function ask(
  method: 'HEAD' | 'PUT',
  url: string,
  ok: number,
  signal: AbortSignal,
  headers: Record<string, string> = {},
  file?: string,
): Promise<void> {
  const u = new URL(url);
  const what = `${method} ${u.pathname.length > 80 ? `${u.pathname.slice(0, 77)}...` : u.pathname}`;
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method, headers, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body = (body + c).slice(0, 2000);
      });
      res.on('end', () => (res.statusCode === ok ? resolve() : reject(new CoordinatorRefusal(what, res.statusCode ?? 0, body))));
    });
    req.on('error', (e) => reject(new VvfError('SOURCE_UNREACHABLE', `${what}: ${e.message}`)));
    if (file === undefined) req.end();
    else
      createReadStream(file)
        .on('error', (e) => req.destroy(e))
        .pipe(req);
  });
}

/** PUTs an output with its size, checksum and signature; resolves when the coordinator took it (201). */
function upload(url: string, file: string, d: DoneFile, key: string, signal: AbortSignal): Promise<void> {
  const path = new URL(url).pathname;
  const headers = {
    'content-length': String(d.size),
    'content-type': 'video/mp4',
    // Signed from the route on: a proxy in front of the coordinator may serve it under a prefix.
    ...uploadHeaders(key, {
      path: path.slice(Math.max(0, path.indexOf(UPLOAD_ROUTE))),
      size: d.size,
      sha256: d.sha256,
      expires: Math.floor(Date.now() / 1000) + 3600,
    }),
  };
  return ask('PUT', url, 201, signal, headers, file);
}

/** A worker's temporary folders are named after its process: `vvf-worker-<pid>-XXXXXX`. */
const TEMP_PREFIX = 'vvf-worker-';

/** Removes what workers killed mid-job (SIGKILL, a crash) left in the temporary folder. */
async function removeLeftovers(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^vvf-worker-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      // No such process: its folder is nobody's.
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Starts a worker: `jobs` BullMQ jobs at a time. Each job's data must carry the shared key's
 * signature (else the attempt fails, and another worker may take the job). Its ffmpeg reads the chunk from the
 * coordinator's signed URL and writes into a temporary folder; each output is then uploaded
 * with its size and SHA-256. A coordinator that cannot be reached is tried again for about 30 s,
 * reading the job's data anew each time (a coordinator that started again gives its jobs its
 * new address).
 */
export async function startWorker(opts: WorkerOptions): Promise<EncodeWorker> {
  const name = `${hostname()}:${process.pid}`;
  const queueName = opts.queueName ?? QUEUE_NAME;
  const ffmpeg = opts.ffmpeg ?? 'ffmpeg';
  const stopping = new AbortController();
  let peak = 0;
  await checkReachable(opts.redisUrl);
  await removeLeftovers();
  const clients = [queueClient(opts.redisUrl), queueClient(opts.redisUrl)] as const;
  // For reading a job's data again while its upload waits for the coordinator.
  const queue = new Queue<QueueJobData, QueueJobResult>(queueName, { connection: clients[0] });
  queue.on('error', () => {});

  const runJob = async (job: Job<QueueJobData, QueueJobResult>): Promise<QueueJobResult> => {
    // A failed attempt, not a failed job: a worker given the wrong key must not fail the run for the others.
    if (!jobDataValid(opts.key, job.data)) {
      const e = new VvfError('UNAUTHORIZED', `the job is not signed with the key of worker ${name} (--key, VVF_ENCODE_KEY)`);
      opts.log({ msg: 'refused', job: job.id, error: e.message });
      throw e;
    }
    const attempt = job.attemptsStarted || job.attemptsMade + 1;
    opts.log({ msg: 'start', task: job.data.task, job: job.id, attempt });
    const started = performance.now();
    let data = job.data;
    const temp = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
    try {
      // The coordinator answers for the input before ffmpeg starts: one that is away (restarting)
      // costs a wait here, not the job's attempts.
      data = await atCoordinator(job, (d) => ask('HEAD', d.input, 200, stopping.signal));
      const locals = data.outputs.map((_, k) => join(temp, `${k}.mp4`));
      const args = fillArgs(data.args, data.input, locals);
      let last = 0;
      const rss = await runFfmpeg(
        ffmpeg,
        args,
        data.timeoutMs,
        (p) => {
          const now = performance.now();
          if (now - last < 1000) return;
          last = now;
          const progress: QueueJobProgress = { ...p, worker: name };
          void job.updateProgress(progress).catch(() => undefined);
        },
        stopping.signal,
      );
      peak = Math.max(peak, rss);
      const outputs: Record<string, DoneFile> = {};
      for (const [k, out] of data.outputs.entries()) {
        const d = await describeFile(locals[k]!);
        await atCoordinator(job, (fresh) => upload(fresh.outputs[k]?.url ?? out.url, locals[k]!, d, opts.key, stopping.signal));
        outputs[out.path] = d;
      }
      const seconds = (performance.now() - started) / 1000;
      opts.log({ msg: 'done', task: data.task, job: job.id, attempt, seconds: Math.round(seconds * 1000) / 1000 });
      return { outputs, seconds, peakRss: rss, worker: name };
    } catch (e) {
      opts.log({ msg: 'failed', task: data.task, job: job.id, attempt, error: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  };

  /**
   * Runs `request` with the job's data, again while the coordinator cannot be reached or fails
   * (backing off 1 s to 16 s), reading the job's data anew each time: a coordinator that
   * started again may listen elsewhere, and refreshed its jobs' URLs. Resolves with the data used.
   */
  const atCoordinator = async (job: Job<QueueJobData>, request: (data: QueueJobData) => Promise<void>): Promise<QueueJobData> => {
    const tries = opts.coordinatorAttempts ?? 6;
    let data = job.data;
    for (let n = 1; ; n++) {
      try {
        await request(data);
        return data;
      } catch (e) {
        if ((e instanceof CoordinatorRefusal && e.final) || n >= tries || stopping.signal.aborted) throw e;
        opts.log({ msg: 'coordinator retry', task: data.task, job: job.id, error: (e as Error).message });
        await sleep(1000 * 2 ** (n - 1), stopping.signal);
        const fresh = await Job.fromId<QueueJobData>(queue, job.id!).catch(() => undefined);
        if (fresh && jobDataValid(opts.key, fresh.data)) data = fresh.data;
      }
    }
  };

  const lockMs = opts.lockMs ?? 30_000;
  const worker = new Worker<QueueJobData, QueueJobResult>(queueName, runJob, {
    connection: clients[1],
    concurrency: Math.max(1, opts.jobs),
    name,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // A job whose worker died goes back to the queue; one that kills its workers again and again fails.
    maxStalledCount: 3,
  });
  worker.on('error', (e) => opts.log({ msg: 'queue error', error: e.message }));
  await ready(queue, opts.redisUrl);
  await ready(worker, opts.redisUrl);
  return {
    name,
    peakRss: () => peak,
    close: async () => {
      stopping.abort();
      await worker.close();
      await queue.close();
      await closeClients(clients);
    },
  };
}
