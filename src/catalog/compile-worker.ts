// The worker thread's side of CompilePool: compiles recipes through the source policy and
// posts back the serialized compiled form, with how long each source read took.
import { parentPort } from 'node:worker_threads';
import { parseRecipe } from '../compose/recipe.js';
import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import { SourcePolicy } from '../sources/source-policy.js';
import { compileRecipe } from '../virtual/compile.js';
import type { CompileJob, CompileReply } from './compile-pool.js';

const policies = new Map<string, SourcePolicy>();

function policyFor(job: CompileJob): SourcePolicy {
  const key = JSON.stringify(job.policy);
  let policy = policies.get(key);
  if (policy === undefined) {
    policy = new SourcePolicy({
      roots: job.policy.roots,
      origins: job.policy.origins,
      http: { timeoutMs: job.policy.sourceTimeoutMs, idleTimeoutMs: job.policy.sourceTimeoutMs },
    });
    policies.set(key, policy);
  }
  return policy;
}

/** Times every read, as the catalog's instrumented opener does on the main thread. */
function timed(source: Source, reads: number[], errors: string[]): Source {
  const read = source.read.bind(source);
  (source as { read: Source['read'] }).read = async (offset: number, length: number) => {
    const started = performance.now();
    try {
      return await read(offset, length);
    } catch (e) {
      errors.push(e instanceof VvfError ? e.code : 'INTERNAL');
      throw e;
    } finally {
      reads.push((performance.now() - started) / 1000);
    }
  };
  return source;
}

async function run(job: CompileJob): Promise<CompileReply> {
  const reads: number[] = [];
  const errors: string[] = [];
  const policy = policyFor(job);
  try {
    const compiled = await compileRecipe(parseRecipe(job.recipe), {
      openSource: async (spec) => timed(await policy.open(spec), reads, errors),
    });
    try {
      return { id: job.id, ok: true, compiled: compiled.file.serialize(), reads, errors };
    } finally {
      await compiled.close();
    }
  } catch (e) {
    const error =
      e instanceof VvfError
        ? { code: e.code, detail: e.detail, source: e.source, offset: e.offset, path: e.path }
        : { code: 'BUG' as const, detail: `compile failed: ${e instanceof Error ? e.message : String(e)}` };
    return { id: job.id, ok: false, error, reads, errors };
  }
}

parentPort?.on('message', (job: CompileJob) => {
  void run(job).then((reply) => parentPort?.postMessage(reply));
});
// Loaded: the pool counts a compile's time from its start, not from the thread's.
parentPort?.postMessage('ready');
