// The queue engine: each task a BullMQ job on Redis, taken by `vvf worker`s on any machine, its outputs uploaded back.
import { join } from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { DoneFile } from '../catalog/encode-job.js';
import { UPLOAD_ROUTE } from '../catalog/upload-auth.js';
import { VvfError } from '../errors.js';
import type { EncodeEngine, EncodeTask, EngineEvents, EngineJob } from './engine.js';
import { describeFile } from './job-state.js';
import {
  checkReachable,
  closeClients,
  QUEUE_NAME,
  type QueueJobData,
  type QueueJobProgress,
  type QueueJobResult,
  queueClient,
  queueJobId,
  ready,
  signJobData,
} from './queue-job.js';

export interface QueueEngineOptions {
  /** `redis://host:6379/0`. */
  redisUrl: string;
  /** The shared key: job data is signed with it, and workers sign their uploads with it. */
  key: string;
  /** Where workers reach the coordinator's server (upload URLs are made from it). */
  publicUrl: string;
  /** Attempts per task (default 3), the first retry after `backoffMs` (default 1000), doubled each time. */
  attempts?: number;
  backoffMs?: number;
  /** A worker kills an encoder that runs longer (default 1 hour): a failed attempt. */
  timeoutMs?: number;
  /** How often every unfinished job's state is read, in case an event was missed (default 5 s). */
  sweepMs?: number;
  queueName?: string;
}

/** Finished jobs are kept this long in Redis, for a coordinator that restarts (then job.json has them). */
const KEEP_SECONDS = 7 * 24 * 3600;

/**
 * Runs tasks as BullMQ jobs. A job's id is the job fingerprint, a tag of the job directory
 * and the task id: adding a job that exists does nothing, so a coordinator that starts again
 * finds its jobs where they are — waiting, running on a worker, done or failed — and only
 * refreshes their URLs (its address may have changed). A task counts as done when its job
 * completed and every output it names is on disk in the job directory with the size and
 * SHA-256 the worker reported (the upload route checked them on the way in). BullMQ retries
 * failed attempts with exponential backoff, and gives the job of a worker that stopped
 * answering (its lock expired: stalled) to another.
 */
export class QueueEngine implements EncodeEngine {
  /** Output path → task, for the tasks in flight: the only uploads the server accepts. */
  private readonly expected = new Map<string, string>();

  constructor(private readonly opts: QueueEngineOptions) {}

  /** Whether the coordinator's upload route may take `path` now (an output of a task not yet done). */
  acceptsUpload(path: string): boolean {
    return this.expected.has(path);
  }

  async run(tasks: readonly EncodeTask[], events: EngineEvents, job: EngineJob): Promise<number> {
    // A resumed job with every task done needs no queue.
    if (tasks.length === 0) return 0;
    const o = this.opts;
    const name = o.queueName ?? QUEUE_NAME;
    const attempts = o.attempts ?? 3;
    await checkReachable(o.redisUrl);
    const clients = [queueClient(o.redisUrl), queueClient(o.redisUrl)] as const;
    const queue = new Queue<QueueJobData, QueueJobResult>(name, { connection: clients[0] });
    const queueEvents = new QueueEvents(name, { connection: clients[1] });
    queue.on('error', () => {});
    queueEvents.on('error', () => {});
    const byJob = new Map(tasks.map((t) => [queueJobId(job.fingerprint, job.dir, t.id), t]));
    const idOf = (task: EncodeTask) => queueJobId(job.fingerprint, job.dir, task.id);
    for (const t of tasks) for (const out of t.outputs) this.expected.set(out, t.id);
    const unfinished = new Set(byJob.keys());
    const verifyFailures = new Map<string, number>();
    let peak = 0;
    let failure: unknown;
    let wake: () => void = () => {};
    const settling = new Map<string, Promise<unknown>>();
    const errors = new Map<string, number>();

    const finish = async (jobId: string, task: EncodeTask, j: Job<QueueJobData, QueueJobResult>) => {
      const r = j.returnvalue;
      const outputs: Record<string, DoneFile> = {};
      let wrong = '';
      for (const path of task.outputs) {
        const want = r?.outputs?.[path];
        const have = await describeFile(join(job.dir, path)).catch(() => undefined);
        if (!want || !have || have.size !== want.size || have.sha256 !== want.sha256) {
          wrong = `${path} is not on the coordinator as the worker reported it`;
          break;
        }
        outputs[path] = have;
      }
      if (wrong) {
        // Another attempt's upload replaced it, or it never came: encode it again.
        const n = (verifyFailures.get(jobId) ?? 0) + 1;
        verifyFailures.set(jobId, n);
        if (n >= attempts) throw new VvfError('ENCODE_FAILED', `${task.id}: ${wrong}, ${n} times`);
        events.retry?.(task, wrong, 0);
        await j.retry('completed', { resetAttemptsMade: true });
        return;
      }
      unfinished.delete(jobId);
      for (const out of task.outputs) this.expected.delete(out);
      peak = Math.max(peak, r.peakRss ?? 0);
      await events.done(task, {
        seconds: r.seconds,
        peakRss: r.peakRss ?? 0,
        outputs,
        ...(r.worker ? { worker: r.worker } : {}),
      });
      // job.json has it now: the queue need not.
      await j.remove().catch(() => undefined);
    };

    /** Acts on a job's state: done, failed for good, or gone (added again). Once at a time per job. */
    const settle = (jobId: string): Promise<void> => {
      const task = byJob.get(jobId);
      if (!task || !unfinished.has(jobId)) return Promise.resolve();
      const before = settling.get(jobId) ?? Promise.resolve();
      const next = before.then(async () => {
        if (!unfinished.has(jobId) || failure !== undefined) return;
        const j = await Job.fromId<QueueJobData, QueueJobResult>(queue, jobId);
        if (!j) {
          await add(task);
          return;
        }
        const state = await j.getState();
        if (state === 'completed') await finish(jobId, task, j);
        else if (state === 'failed') {
          throw new VvfError('ENCODE_FAILED', `${task.id} failed ${j.attemptsMade} times: ${j.failedReason}`);
        }
      });
      const guarded = next.then(
        () => errors.delete(jobId),
        (e: unknown) => {
          // A task that failed for good fails the run; anything else (Redis away for a moment) is tried
          // again at the next sweep, unless it keeps happening.
          const n = (errors.get(jobId) ?? 0) + 1;
          errors.set(jobId, n);
          if ((e instanceof VvfError && e.code === 'ENCODE_FAILED') || n >= 5) failure ??= e;
        },
      );
      settling.set(jobId, guarded);
      return guarded.then(() => wake());
    };

    const dataOf = (task: EncodeTask): QueueJobData =>
      signJobData(o.key, {
        v: 1,
        task: task.id,
        args: task.args,
        input: task.input,
        outputs: task.outputs.map((path) => ({
          path,
          url: `${o.publicUrl}${UPLOAD_ROUTE}${path.split('/').map(encodeURIComponent).join('/')}`,
        })),
        timeoutMs: o.timeoutMs ?? 3_600_000,
        ...(task.frames !== undefined ? { frames: task.frames } : {}),
      });

    /** Adds the task's job, or finds it: a job that exists keeps its state; its URLs are brought up to date. */
    const add = async (task: EncodeTask) => {
      const jobId = idOf(task);
      const data = dataOf(task);
      const existing = await Job.fromId<QueueJobData, QueueJobResult>(queue, jobId);
      if (!existing) {
        await queue.add(task.id, data, {
          jobId,
          attempts,
          backoff: { type: 'exponential', delay: o.backoffMs ?? 1000 },
          removeOnComplete: { age: KEEP_SECONDS },
          removeOnFail: { age: KEEP_SECONDS },
        });
        return;
      }
      const state = await existing.getState();
      if (state === 'completed') return; // settled by the first sweep: its outputs are checked there
      if (existing.data?.sig !== data.sig) await existing.updateData(data);
      // Failed for good in an earlier run: this run tries it again, with every attempt.
      if (state === 'failed') await existing.retry('failed', { resetAttemptsMade: true });
    };

    try {
      await ready(queue, o.redisUrl);
      await ready(queueEvents, o.redisUrl);
      queueEvents.on('active', ({ jobId }) => {
        const task = byJob.get(jobId);
        if (!task) return;
        void Job.fromId(queue, jobId).then(
          (j) => j && events.start?.(task, j.attemptsStarted || j.attemptsMade + 1, j.processedBy),
          () => undefined,
        );
      });
      queueEvents.on('progress', ({ jobId, data }) => {
        const task = byJob.get(jobId);
        const p = data as Partial<QueueJobProgress>;
        if (task && typeof p === 'object' && typeof p.frame === 'number')
          events.progress?.(task, { frame: p.frame, fps: p.fps ?? 0 });
      });
      queueEvents.on('delayed', ({ jobId, delay }) => {
        const task = byJob.get(jobId);
        if (!task) return;
        // `delay` is when it runs again (ms since the epoch).
        void Job.fromId(queue, jobId).then(
          (j) => events.retry?.(task, j?.failedReason ?? 'failed', Math.max(0, Number(delay) - Date.now())),
          () => undefined,
        );
      });
      queueEvents.on('stalled', ({ jobId }) => {
        const task = byJob.get(jobId);
        if (task) events.retry?.(task, 'its worker stopped answering (stalled); another worker takes it', 0);
      });
      queueEvents.on('completed', ({ jobId }) => void settle(jobId));
      queueEvents.on('failed', ({ jobId }) => void settle(jobId));

      for (const task of tasks) await add(task);
      const sweep = setInterval(() => {
        for (const jobId of unfinished) void settle(jobId);
      }, o.sweepMs ?? 5000);
      try {
        for (const jobId of [...unfinished]) void settle(jobId);
        while (unfinished.size > 0 && failure === undefined) {
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      } finally {
        clearInterval(sweep);
        await Promise.allSettled(settling.values());
      }
      if (failure !== undefined) {
        // Workers need not start what this run no longer waits for; a rerun adds them again.
        for (const jobId of unfinished) {
          const j = await Job.fromId(queue, jobId).catch(() => undefined);
          const state = await j?.getState().catch(() => 'unknown');
          if (j && (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'failed'))
            await j.remove().catch(() => undefined);
        }
        throw failure;
      }
      return peak;
    } finally {
      this.expected.clear();
      await queueEvents.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await closeClients(clients);
    }
  }
}
