// Several instances sharing one Redis store (a real redis-server on loopback): a file
// registered on one is listed and served by another, from the compiled form, with no
// source read for its header; deletions are seen by all; `vvf serve --redis` wires it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { VvfError } from '../../src/errors.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig, loadServeConfig, printableConfig } from '../../src/server/config.js';
import { freePort, startRedis, type TestRedis } from '../store/redis-helpers.js';

let redis: TestRedis;
let a: VvfServer;
let b: VvfServer;
let root: string;

before(async () => {
  redis = await startRedis();
  const fixture = (await ensureFixtures()).find((f) => f.name === 'shaka-live')!;
  root = mkdtempSync(join(tmpdir(), 'vvf-redis-instances-'));
  cpSync(dirname(fixture.input), join(root, 'talk'), { recursive: true });
  const config = { ...defaultServeConfig, port: 0, roots: [root], redisUrl: redis.url };
  a = await startServer(config, { log: () => {} });
  b = await startServer(config, { log: () => {} });
});

after(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await redis?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Listed {
  id: string;
  size: number;
  etag: string;
}

async function listing(server: VvfServer): Promise<Listed[]> {
  const res = await fetch(`${server.url}/v`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { files: Listed[] }).files;
}

async function body(url: string, init?: RequestInit): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(url, init);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

const RECIPE = JSON.stringify({ tracks: ['talk/manifest.mpd'], start: 1, end: 4 });

test('a file registered on one instance is listed and served by the other, its header with no source read', async () => {
  const reg = await fetch(`${a.url}/v`, { method: 'POST', body: RECIPE });
  assert.equal(reg.status, 201);
  const { id, size, etag } = (await reg.json()) as Listed;

  assert.deepEqual(
    (await listing(b)).map((f) => [f.id, f.size, f.etag]),
    [[id, size, etag]],
    'B lists what A registered, with the same size and etag',
  );
  const head = await body(`${b.url}/v/${id}.mp4`, { headers: { range: 'bytes=0-1023' } });
  assert.equal(head.status, 206);
  const metrics = await (await fetch(`${b.url}/metrics`)).text();
  assert.doesNotMatch(metrics, /vvf_source_read_seconds_count [1-9]/, 'B read no source: it used the compiled form');
  assert.doesNotMatch(metrics, /vvf_source_errors_total\{/, 'and no source failed');

  const fromA = await body(`${a.url}/v/${id}.mp4`);
  const fromB = await body(`${b.url}/v/${id}.mp4`);
  assert.equal(fromA.status, 200);
  assert.equal(fromB.status, 200);
  assert.equal(fromB.bytes.length, size);
  assert.ok(fromB.bytes.equals(fromA.bytes), 'the same bytes from both');
  assert.ok(head.bytes.equals(fromA.bytes.subarray(0, 1024)));

  const again = await fetch(`${b.url}/v`, { method: 'POST', body: RECIPE });
  assert.equal(again.status, 200, 'registering it on B finds it known');
  assert.equal(((await again.json()) as Listed).id, id);
});

test('a file deleted on one instance is gone from every listing, stops being served by the others, and can be registered again', async () => {
  const reg = await fetch(`${a.url}/v`, { method: 'POST', body: RECIPE });
  const { id } = (await reg.json()) as Listed;
  assert.ok((await listing(a)).some((f) => f.id === id));

  assert.equal((await fetch(`${b.url}/v/${id}`, { method: 'DELETE' })).status, 204);
  assert.deepEqual(await listing(b), []);
  assert.deepEqual(await listing(a), [], 'A holds it in memory but does not list it any more');
  assert.equal((await body(`${b.url}/v/${id}.mp4`)).status, 404);
  // A held it in memory: it asks the store again within a second, and stops serving it.
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await body(`${a.url}/v/${id}.mp4`)).status, 404, 'A no longer serves what B deleted');

  const back = await fetch(`${a.url}/v`, { method: 'POST', body: RECIPE });
  assert.equal(back.status, 201, 'compiled and stored again, not taken as known from A’s memory');
  assert.deepEqual(
    (await listing(b)).map((f) => f.id),
    [id],
  );
  assert.equal((await body(`${b.url}/v/${id}.mp4`, { headers: { range: 'bytes=0-1' } })).status, 206);
});

test('a server whose Redis is not there fails to start, quickly and with STORE_UNAVAILABLE', async () => {
  const port = await freePort();
  const started = performance.now();
  await assert.rejects(
    startServer({ ...defaultServeConfig, port: 0, roots: [root], redisUrl: `redis://127.0.0.1:${port}/0` }, { log: () => {} }),
    (e: unknown) => e instanceof VvfError && e.code === 'STORE_UNAVAILABLE',
  );
  assert.ok(performance.now() - started < 3000);
});

test('configuration: VVF_REDIS, the config file, and a masked password when printed', () => {
  const fromEnv = loadServeConfig({ env: { VVF_REDIS: 'redis://10.0.0.1:6379/2' } });
  assert.equal(fromEnv.redisUrl, 'redis://10.0.0.1:6379/2');
  assert.equal(fromEnv.storePath, undefined);
  const file = join(root, 'config.json');
  writeFileSync(file, JSON.stringify({ redisUrl: 'redis://cache:6379/1' }));
  assert.equal(loadServeConfig({ file }).redisUrl, 'redis://cache:6379/1');
  assert.equal(loadServeConfig({ file, flags: { redisUrl: 'redis://other:6379/0' } }).redisUrl, 'redis://other:6379/0');
  const printed = printableConfig({ ...defaultServeConfig, redisUrl: 'redis://user:hunter2@cache:6379/0' });
  assert.equal(printed.redisUrl, 'redis://user:***@cache:6379/0');
  assert.doesNotMatch(JSON.stringify(printed), /hunter2/);
});

test('vvf serve --redis uses the shared store and no SQLite file', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'vvf-serve-redis-'));
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  // tsx by its resolved URL: the child runs in a temporary folder, where `tsx` alone does not resolve.
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, main, 'serve', '--port', '0', '--root', root, '--redis', redis.url], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let out = '';
    const started = await new Promise<{ url: string; config: Record<string, unknown> }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`vvf serve did not start within 20 s:\n${out}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (const line of out.split('\n')) {
          if (!line.includes('vvf serve listening')) continue;
          clearTimeout(timer);
          resolve(JSON.parse(line) as { url: string; config: Record<string, unknown> });
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`vvf serve exited with ${code}:\n${out}`));
      });
    });
    assert.equal(started.config.redisUrl, redis.url);
    assert.equal(started.config.storePath, undefined, 'no SQLite default when Redis is given');
    const reg = await fetch(`${a.url}/v`, { method: 'POST', body: RECIPE });
    const { id } = (await reg.json()) as Listed;
    const res = await fetch(`${started.url}/v`);
    const files = ((await res.json()) as { files: Listed[] }).files;
    assert.ok(
      files.some((f) => f.id === id),
      'the command’s instance lists what another registered',
    );
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  assert.equal(existsSync(join(cwd, 'vvf-metadata.sqlite')), false);
  rmSync(cwd, { recursive: true, force: true });
});
