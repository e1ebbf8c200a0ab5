// Redis going down under a running server (issue 11, F.14 and F.15): files it holds are
// still served, byte for byte; the outage has its own code and status (STORE_UNAVAILABLE,
// 503) and its answer names no Redis host; /healthz stays 200 and says the store is down,
// /readyz fails until Redis is back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { startRedis, type TestRedis } from '../store/redis-helpers.js';
import { fixtureRoot } from './server-helpers.js';

let redis: TestRedis;
let server: VvfServer;
let root: string;

before(async () => {
  redis = await startRedis();
  ({ root } = await fixtureRoot('dash-template-number', 'dash'));
  server = await startServer({ ...defaultServeConfig, port: 0, roots: [root], redisUrl: redis.url }, { log: () => {} });
});

after(async () => {
  await server?.close();
  await redis?.stop();
});

async function health(path: string): Promise<{ status: number; body: { status: string; store: string } }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as { status: string; store: string } };
}

test('with Redis down, held files are served, the outage is 503 STORE_UNAVAILABLE naming no host, /readyz fails', async () => {
  const reg = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
  assert.equal(reg.status, 201);
  const { url, size } = (await reg.json()) as { url: string; size: number };
  const original = Buffer.from(await (await fetch(url)).arrayBuffer());
  assert.equal(original.length, size);
  assert.deepEqual(await health('/healthz'), { status: 200, body: { status: 'ok', store: 'up' } });
  assert.equal((await health('/readyz')).status, 200);

  await redis.stop();
  // Past the registry's once-a-second recheck, so that the store is asked and fails.
  await new Promise((r) => setTimeout(r, 1200));

  for (let i = 0; i < 3; i++) {
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(original), 'the held file, byte for byte');
    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(original.subarray(100, 200)));
  }

  const healthz = await health('/healthz');
  assert.equal(healthz.status, 200, 'the process is alive');
  assert.equal(healthz.body.store, 'down');
  const readyz = await health('/readyz');
  assert.equal(readyz.status, 503);
  assert.equal(readyz.body.store, 'down');

  // Something only the store could answer: its own code and status, and no host in the answer.
  const other = await fetch(`${server.url}/v`, {
    method: 'POST',
    body: JSON.stringify({ tracks: ['dash/manifest.mpd'], start: 1, end: 2 }),
  });
  const text = await other.text();
  assert.equal(other.status, 503, text);
  assert.equal(other.headers.get('retry-after'), '5');
  assert.equal((JSON.parse(text) as { error: string }).error, 'STORE_UNAVAILABLE');
  assert.ok(!text.includes('127.0.0.1') && !text.includes(String(redis.port)), `no Redis host in ${text}`);
  // A file asked for by its recipe (here a manifest under /dash/) needs no registration: it is
  // compiled and served, and held in memory until the store is back.
  const dash = await fetch(`${server.url}/dash/dash/manifest.mpd.mp4`, { headers: { range: 'bytes=0-99' } });
  assert.equal(dash.status, 206, await dash.clone().text());
  const listing = await fetch(`${server.url}/v`);
  assert.equal(listing.status, 503);
  assert.ok(!(await listing.text()).includes(String(redis.port)));

  // Redis back on the same port: the client reconnects, the server is ready again.
  redis = await startRedis(redis.port);
  const deadline = Date.now() + 10_000;
  while ((await health('/readyz')).status !== 200) {
    assert.ok(Date.now() < deadline, 'ready again within 10 s of Redis coming back');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await health('/healthz')).body.store, 'up');
});
