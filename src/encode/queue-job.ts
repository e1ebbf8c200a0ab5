// What a queued encode task carries between a coordinator and its workers, and how both reach the queue.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createClient } from '@redis/client';
import type { DoneFile } from '../catalog/encode-job.js';
import { VvfError } from '../errors.js';

/** The BullMQ queue every coordinator and worker of a Redis shares (jobs of different runs have different ids). */
export const QUEUE_NAME = 'vvf-encode';

/**
 * One task as a job: the ffmpeg arguments with placeholders for the input and the outputs
 * (ffmpeg-args.ts made them), the signed URL the worker reads its input at, and where each
 * output goes back: its path in the job directory and the coordinator's upload URL for it.
 */
export interface QueueJobData {
  v: 1;
  /** `chunk-0003` or `audio`. */
  task: string;
  args: string[];
  input: string;
  outputs: { path: string; url: string }[];
  /** The worker kills ffmpeg after this long: a failed attempt. */
  timeoutMs: number;
  /** Frames per rung, for progress. */
  frames?: number;
  /**
   * HMAC-SHA256 of everything above under the shared key: a worker runs only what a key holder
   * queued, so write access to Redis alone cannot make workers run ffmpeg with other arguments.
   */
  sig: string;
}

/** What a worker returns for a job: the outputs it uploaded (each verified by the coordinator's upload route). */
export interface QueueJobResult {
  outputs: Record<string, DoneFile>;
  seconds: number;
  peakRss: number;
  worker: string;
}

/** What a worker reports as it goes. */
export interface QueueJobProgress {
  frame: number;
  fps: number;
  worker: string;
}

function dataMac(key: string, d: Omit<QueueJobData, 'sig'>): Buffer {
  const signed = [d.v, d.task, d.args, d.input, d.outputs, d.timeoutMs, d.frames ?? null];
  return createHmac('sha256', key).update(JSON.stringify(signed)).digest();
}

/** The job data with its signature. */
export function signJobData(key: string, d: Omit<QueueJobData, 'sig'>): QueueJobData {
  return { ...d, sig: dataMac(key, d).toString('base64url') };
}

/** Whether job data came from a holder of the key (and has the shape a worker needs). */
export function jobDataValid(key: string, d: unknown): d is QueueJobData {
  const j = d as Partial<QueueJobData> | null;
  if (
    j === null ||
    typeof j !== 'object' ||
    j.v !== 1 ||
    typeof j.task !== 'string' ||
    !Array.isArray(j.args) ||
    !j.args.every((a) => typeof a === 'string') ||
    typeof j.input !== 'string' ||
    !Array.isArray(j.outputs) ||
    !j.outputs.every((o) => typeof o?.path === 'string' && typeof o?.url === 'string') ||
    typeof j.timeoutMs !== 'number' ||
    typeof j.sig !== 'string'
  )
    return false;
  const given = Buffer.from(j.sig, 'base64url');
  const expected = dataMac(key, j as QueueJobData);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The BullMQ job id of a task: the job's fingerprint (its settings and source), a tag of the
 * job directory (two directories encoding the same thing are two runs), and the task id.
 * The same run started again adds the same ids, which BullMQ keeps as they are.
 */
export function queueJobId(fingerprint: string, dir: string, task: string): string {
  const tag = createHash('sha256').update(dir).digest('base64url').slice(0, 8);
  return `${fingerprint}-${tag}-${task}`;
}

/**
 * A node-redis client for BullMQ (which takes one and duplicates it for its blocking reads).
 * A lost connection is retried, backing off to 5 s; BullMQ waits meanwhile. Its duplicates
 * share its first-connection state.
 */
export function queueClient(url: string) {
  if (!/^rediss?:\/\//.test(url)) throw new VvfError('USAGE', `--queue takes a redis:// or rediss:// URL, not ${url}`);
  let connected = false;
  const client = createClient({
    url,
    socket: {
      connectTimeout: 10_000,
      // A Redis that cannot be reached at first is an error at once; a lost connection is retried.
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : cause),
    },
  });
  client.on('ready', () => {
    connected = true;
  });
  // Errors come back through the calls that fail; an 'error' event with no listener would end the process.
  client.on('error', () => {});
  return client;
}

/** Closes clients given to BullMQ: it closes the connections it made from them, never the ones it was given. */
export async function closeClients(clients: readonly ReturnType<typeof queueClient>[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => (c.isOpen ? c.close() : undefined)));
}

/** The queue's URL as logs may show it: no password. */
export function shownQueueUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.username = '';
    return u.toString();
  } catch {
    return 'redis://(unparsable URL)';
  }
}

/**
 * Connects once and closes, before any BullMQ object is made: BullMQ waits for ever for a
 * Redis that is not there (and cannot then be closed), where this fails in one line.
 */
export async function checkReachable(url: string): Promise<void> {
  const client = queueClient(url);
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new VvfError('SOURCE_UNREACHABLE', `cannot reach the queue at ${shownQueueUrl(url)}: ${(e as Error).message}`);
  } finally {
    if (client.isOpen) await client.close().catch(() => client.destroy());
  }
}

/** Waits for a BullMQ object's connection, or fails in one line when Redis cannot be reached. */
export async function ready(what: { waitUntilReady(): Promise<unknown> }, url: string, timeoutMs = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      what.waitUntilReady().catch((e: unknown) => {
        throw new VvfError('SOURCE_UNREACHABLE', `cannot reach the queue at ${shownQueueUrl(url)}: ${(e as Error).message}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new VvfError('SOURCE_UNREACHABLE', `cannot reach the queue at ${shownQueueUrl(url)}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
