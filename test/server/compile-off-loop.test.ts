// Heavy compiles do not hold up the event loop (issue 11, C.7): while a recipe joining one
// file hundreds of times compiles, /healthz and ranges of a file already compiled keep
// answering within milliseconds, because compiles run in worker threads. The same run with
// compiles on the main thread is measured alongside, for comparison.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { fixtureRoot } from './server-helpers.js';

const PIECES = 300;
let root: string;
const servers: VvfServer[] = [];

before(async () => {
  ({ root } = await fixtureRoot('h264-aac-faststart', 'media'));
});

after(async () => {
  await Promise.allSettled(servers.map((s) => s.close()));
});

/** Latencies of /healthz and of a range of a compiled file, probed while a heavy recipe compiles. */
async function probeDuringHeavyCompile(compileWorkers: number): Promise<{ compileMs: number; worst: number; probes: number }> {
  const server = await startServer({ ...defaultServeConfig, port: 0, roots: [root], compileWorkers }, { log: () => {} });
  servers.push(server);
  // A light file, compiled first (this also starts the worker).
  const light = await fetch(`${server.url}/v`, {
    method: 'POST',
    body: JSON.stringify({ tracks: ['media/h264-aac-faststart.mp4'] }),
  });
  const { url } = (await light.json()) as { url: string };
  const heavy = { pieces: Array.from({ length: PIECES }, () => ({ tracks: ['media/h264-aac-faststart.mp4'] })) };
  const started = performance.now();
  let done = false;
  const compiled = fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify(heavy) }).then(async (res) => {
    done = true;
    return { status: res.status, body: await res.text() };
  });
  const latencies: number[] = [];
  while (!done) {
    for (const probe of [() => fetch(`${server.url}/healthz`), () => fetch(url, { headers: { range: 'bytes=1000-2000' } })]) {
      const t = performance.now();
      const res = await probe();
      await res.arrayBuffer();
      assert.ok(res.status === 200 || res.status === 206);
      latencies.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const result = await compiled;
  assert.equal(result.status, 201, result.body);
  return { compileMs: performance.now() - started, worst: Math.max(...latencies), probes: latencies.length };
}

test(`/healthz and compiled files answer within milliseconds while ${PIECES} pieces compile`, async (t) => {
  const inWorker = await probeDuringHeavyCompile(1);
  t.diagnostic(`compile in a worker: ${JSON.stringify(inWorker)}`);
  const onLoop = await probeDuringHeavyCompile(0);
  t.diagnostic(`compile on the event loop (for comparison): ${JSON.stringify(onLoop)}`);
  assert.ok(inWorker.probes >= 10, `probed ${inWorker.probes} times during the compile`);
  // On a quiet machine the worst answer takes a few milliseconds; the bound leaves room for a
  // loaded CI host (2 cores shared by several jobs), where the thread is descheduled at times,
  // while still failing when the compile runs on the loop (the worst answer then waits for
  // nearly the whole compile).
  assert.ok(
    inWorker.worst < Math.min(500, inWorker.compileMs / 4),
    `worst answer took ${inWorker.worst.toFixed(1)} ms during a ${inWorker.compileMs.toFixed(0)} ms compile`,
  );
});

test('a compile past compileTimeoutMs is stopped: 504 COMPILE_TIMEOUT, and the next compile works', async () => {
  const server = await startServer(
    { ...defaultServeConfig, port: 0, roots: [root], compileWorkers: 1, compileTimeoutMs: 300 },
    { log: () => {} },
  );
  servers.push(server);
  // Far past the bound: joined back to back, pieces now make one edit, so compiling them got cheaper.
  const heavy = { pieces: Array.from({ length: PIECES * 12 }, () => ({ tracks: ['media/h264-aac-faststart.mp4'] })) };
  const started = performance.now();
  const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify(heavy) });
  const body = (await res.json()) as { error: string };
  assert.equal(res.status, 504, JSON.stringify(body));
  assert.equal(body.error, 'COMPILE_TIMEOUT');
  // Time counts from the compile's start in a ready worker (starting one takes about a second under tsx).
  assert.ok(performance.now() - started < 5000, 'stopped near its bound');
  const light = await fetch(`${server.url}/v`, {
    method: 'POST',
    body: JSON.stringify({ tracks: ['media/h264-aac-faststart.mp4'] }),
  });
  // A fresh worker replaced the stopped one. On a loaded host even a light compile may pass a
  // 300 ms bound once: allow one more try.
  const again =
    light.status === 504
      ? await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['media/h264-aac-faststart.mp4'] }) })
      : light;
  assert.ok(again.status === 201 || again.status === 200, await again.clone().text());
});
