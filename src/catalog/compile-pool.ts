import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Recipe } from '../compose/recipe.js';
import { type ErrorCode, VvfError } from '../errors.js';

/*
 * Why compiles run in worker threads rather than yielding between steps on the event loop:
 * the long steps are single synchronous calls that cannot be cut from here. Measured on
 * this project's 2-core CI machine (h264-aac-faststart, 232 KB, joined N times):
 *   100 pieces: compose 47 ms (the demuxing inside it, async I/O, 14 ms), layoutProgressive
 *     182 ms in one synchronous call, serialize 30 ms;
 *   400 pieces: compose 167 ms, layoutProgressive 415 ms in one call, serialize 34 ms.
 * Yielding between demux, compose, layout and serialize would still block the event loop
 * for the whole layout (hundreds of milliseconds, growing with the samples); /healthz and
 * every range request of already-compiled files waited behind it. In a worker the main
 * thread only deserializes the result (a CRC over a few MB: about a millisecond) and opens
 * sources lazily as reads need them. A worker's heap also bounds what one compile may
 * hold (`compileHeapMb`): a hostile input that would grow it past that ends the worker,
 * not the server.
 */

/** A compile as the worker receives it: the recipe (JSON), and the policy to open its sources by. */
export interface CompileJob {
  id: number;
  recipe: unknown;
  policy: { roots: string[]; origins: string[]; sourceTimeoutMs: number };
}

/** What a worker answers: the serialized compiled file or the error, and the source reads it made (seconds each). */
export type CompileReply =
  | { id: number; ok: true; compiled: Uint8Array; reads: number[]; errors: string[] }
  | {
      id: number;
      ok: false;
      error: { code: ErrorCode; detail: string; source?: string; offset?: number; path?: string };
      reads: number[];
      errors: string[];
    };

export interface CompilePoolOptions {
  /** Worker threads (compiles at once). */
  workers: number;
  /** Heap of each worker, in MiB: a compile needing more fails with METADATA_LIMIT. */
  heapMb: number;
  /** Longest a compile may take: its worker is then stopped and the compile fails with COMPILE_TIMEOUT. */
  timeoutMs: number;
}

/** Workers by default: one core is left to the event loop that serves requests. */
export function defaultCompileWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Slot {
  worker: Worker;
  /** Set once the worker has loaded its code: compile time is counted from there. */
  ready: boolean;
  busy: CompileJobState | undefined;
}

interface CompileJobState {
  job: CompileJob;
  resolve(reply: CompileReply): void;
  reject(e: unknown): void;
  timer?: NodeJS.Timeout;
}

/**
 * Compiles recipes in worker threads, a few at a time; the rest wait in line. Workers start
 * on first use, do not keep the process alive, and are replaced when one dies (out of
 * heap, say): its compile fails, the others go on.
 */
export class CompilePool {
  private readonly slots: Slot[] = [];
  private readonly queue: CompileJobState[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: CompilePoolOptions) {}

  /** Compiles `recipe` in a worker: the serialized compiled file or the error, and the reads made. */
  compile(recipe: Recipe, policy: CompileJob['policy']): Promise<CompileReply> {
    if (this.closed) return Promise.reject(new VvfError('USAGE', 'the compile pool is closed'));
    return new Promise<CompileReply>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, recipe, policy }, resolve, reject });
      this.pump();
    });
  }

  /** Stops every worker; compiles in progress fail. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const job of this.queue.splice(0)) job.reject(new VvfError('USAGE', 'the compile pool is closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.ready && s.busy === undefined);
      if (slot === undefined && this.slots.length < this.opts.workers) this.spawn();
      if (slot === undefined) return;
      const state = this.queue.shift()!;
      slot.busy = state;
      slot.worker.ref();
      slot.worker.postMessage(state.job);
      // A compile is bounded in time as in memory: stopping its thread is the one sure way to end it.
      const busySlot = slot;
      state.timer = setTimeout(() => {
        if (busySlot.busy !== state) return;
        busySlot.busy = undefined;
        const i = this.slots.indexOf(busySlot);
        if (i >= 0) this.slots.splice(i, 1);
        void busySlot.worker.terminate();
        state.reject(new VvfError('COMPILE_TIMEOUT', `compiling took longer than ${this.opts.timeoutMs} ms`));
        this.pump();
      }, this.opts.timeoutMs);
    }
  }

  private spawn(): Slot {
    const worker = startWorker(this.opts.heapMb);
    const slot: Slot = { worker, ready: false, busy: undefined };
    // Kept alive while it starts, so that a compile waiting for it is not dropped at exit.
    worker.ref();
    worker.on('message', (reply: CompileReply | 'ready') => {
      if (reply === 'ready') {
        slot.ready = true;
        worker.unref();
        this.pump();
        return;
      }
      const state = slot.busy;
      slot.busy = undefined;
      worker.unref();
      clearTimeout(state?.timer);
      if (state && state.job.id === reply.id) state.resolve(reply);
      this.pump();
    });
    const died = (e: unknown) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const state = slot.busy;
      slot.busy = undefined;
      clearTimeout(state?.timer);
      if (state) state.reject(workerDeath(e, this.opts.heapMb));
      // A worker that could not even start will not start next time: fail what waits rather than retry for ever.
      if (!slot.ready) for (const waiting of this.queue.splice(0)) waiting.reject(workerDeath(e, this.opts.heapMb));
      if (!this.closed) this.pump();
    };
    worker.on('error', died);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) died(new Error(`compile worker exited with ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }
}

/** The error a failed compile reply stands for. */
export function replyError(reply: CompileReply & { ok: false }): VvfError {
  const { code, detail, ...where } = reply.error;
  return new VvfError(code, detail, where);
}

function workerDeath(e: unknown, heapMb: number): VvfError {
  const code = (e as { code?: string } | undefined)?.code;
  if (code === 'ERR_WORKER_OUT_OF_MEMORY')
    return new VvfError('METADATA_LIMIT', `compiling needed more than the ${heapMb} MiB a compile may use`);
  return new VvfError('BUG', `compile worker failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
}

/**
 * A worker running compile-worker. Under tsx (tests, development) the sources are .ts and
 * workers do not inherit tsx's loader: the boot code registers it first.
 */
function startWorker(heapMb: number): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './compile-worker.ts' : './compile-worker.js', import.meta.url).href;
  const boot = `const { workerData } = require('node:worker_threads');
(async () => { if (workerData.tsx) (await import('tsx/esm/api')).register(); await import(workerData.entry); })();`;
  return new Worker(boot, {
    eval: true,
    workerData: { entry, tsx: fromSource },
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
}

const shared = new Map<string, CompilePool>();

/** One pool per process and settings, shared by every catalog (a process may hold several). */
export function sharedCompilePool(opts: CompilePoolOptions): CompilePool {
  const key = JSON.stringify(opts);
  let pool = shared.get(key);
  if (pool === undefined) {
    pool = new CompilePool(opts);
    shared.set(key, pool);
  }
  return pool;
}
