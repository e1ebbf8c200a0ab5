// RedisStore against a real redis-server: round trips, the key layout, two clients, failures to connect, a lost server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { VvfError } from '../../src/errors.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { assertSameBytes, isCode } from '../virtual/virtual-helpers.js';
import { freePort, startRedis, type TestRedis } from './redis-helpers.js';
import { madeUp } from './store-helpers.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let prefixes = 0;
/** A prefix of its own per test, so tests on the one server do not see each other. */
const fresh = () => `t${++prefixes}:`;

test('put, get, list and delete round trip, an 8 MiB binary blob included', async () => {
  const store = await RedisStore.connect(redis.url, { prefix: fresh() });
  try {
    const a = madeUp('a', 1000, 2000);
    const b = madeUp('b', 8 << 20, 1000);
    // Every byte value, NULs and invalid UTF-8 included: the blob must not go through a text decoding.
    for (let i = 0; i < 256; i++) b.compiled[i] = i;
    await store.put(a);
    await store.put(b);
    const got = await store.get('a');
    assert.ok(got);
    assert.equal(got.id, 'a');
    assert.deepEqual(got.recipe, a.recipe);
    assert.equal(got.created, 2000);
    assertSameBytes(got.compiled, a.compiled, 'compiled bytes');
    const big = await store.get('b');
    assert.ok(big);
    assert.equal(big.compiled.byteLength, 8 << 20);
    assert.equal(sha(big.compiled), sha(b.compiled), '8 MiB blob intact');
    assert.equal(await store.get('missing'), undefined);
    assert.deepEqual(await store.list(), [
      { id: 'b', recipe: b.recipe, created: 1000 },
      { id: 'a', recipe: a.recipe, created: 2000 },
    ]);
    assert.equal(await store.has('a'), true);
    assert.equal(await store.has('missing'), false);

    const a2 = madeUp('a', 10, 3000);
    await store.put(a2);
    assert.equal((await store.get('a'))?.compiled.length, 10, 'put replaces');
    assert.deepEqual(
      (await store.list()).map((f) => [f.id, f.created]),
      [
        ['b', 1000],
        ['a', 3000],
      ],
      'replacing moves it in the listing',
    );
    assert.equal(await store.delete('a'), true);
    assert.equal(await store.delete('a'), false);
    assert.equal(await store.get('a'), undefined);
    assert.deepEqual(
      (await store.list()).map((f) => f.id),
      ['b'],
    );
  } finally {
    await store.close();
  }
  await assert.rejects(store.get('b'), isCode('USAGE'));
  await assert.rejects(store.list(), isCode('USAGE'));
  await store.close(); // twice is fine
});

test('the key layout: a hash per file, a sorted set of ids and the quota’s bookkeeping, under the prefix', async () => {
  const prefix = fresh();
  const store = await RedisStore.connect(redis.url, { prefix });
  const raw = createClient({ url: redis.url });
  raw.on('error', () => {});
  await raw.connect();
  try {
    const file = madeUp('layout', 300, 1_700_000_000_123);
    await store.put(file);
    assert.equal(store.fileKey('layout'), `${prefix}file:layout`);
    assert.equal(store.indexKey, `${prefix}files`);
    assert.deepEqual(
      (await raw.keys(`${prefix}*`)).sort(),
      ['bytes', 'file:layout', 'files', 'sizes', 'used'].map((k) => `${prefix}${k}`),
    );
    // The quota's: compiled bytes per file, their sum, and last use (server time, in µs).
    assert.deepEqual(await raw.hGetAll(`${prefix}sizes`), { layout: '300' });
    assert.equal(await raw.get(`${prefix}bytes`), '300');
    const [used] = await raw.zRangeWithScores(`${prefix}used`, 0, -1);
    assert.equal(used?.value, 'layout');
    assert.ok(Math.abs((used?.score ?? 0) / 1000 - Date.now()) < 60_000, 'last use in server microseconds');
    const fields = await raw.hGetAll(`${prefix}file:layout`);
    assert.deepEqual(Object.keys(fields).sort(), ['compiled', 'created', 'recipe']);
    assert.equal(fields.created, '1700000000123');
    assert.deepEqual(JSON.parse(fields.recipe!), file.recipe);
    assert.deepEqual(await raw.zRangeWithScores(`${prefix}files`, 0, -1), [{ value: 'layout', score: 1_700_000_000_123 }]);
    await store.delete('layout');
    assert.deepEqual(await raw.keys(`${prefix}*`), [], 'deleting the last file removes every key');

    // Damaged by hand: a listed id without its hash is skipped; unreadable fields are a miss.
    await raw.zAdd(`${prefix}files`, { score: 5, value: 'ghost' });
    await raw.hSet(`${prefix}file:broken`, { recipe: '{not json', created: '7', compiled: 'x' });
    await raw.zAdd(`${prefix}files`, { score: 7, value: 'broken' });
    await raw.hSet(`${prefix}file:badtime`, { recipe: '{}', created: 'soon', compiled: 'x' });
    await store.put(madeUp('ok', 10, 9));
    assert.deepEqual(
      (await store.list()).map((f) => f.id),
      ['ok'],
    );
    assert.equal(await store.get('ghost'), undefined);
    assert.equal(await store.get('broken'), undefined);
    assert.equal(await store.get('badtime'), undefined);
  } finally {
    await raw.close();
    await store.close();
  }
});

test('two clients see each other’s writes and deletions; another prefix sees nothing', async () => {
  const prefix = fresh();
  const writer = await RedisStore.connect(redis.url, { prefix });
  const reader = await RedisStore.connect(redis.url, { prefix });
  const other = await RedisStore.connect(redis.url, { prefix: fresh() });
  try {
    const shared = madeUp('shared', 5000);
    await writer.put(shared);
    const seen = await reader.get('shared');
    assert.ok(seen);
    assertSameBytes(seen.compiled, shared.compiled, 'what the other wrote');
    assert.deepEqual(
      (await reader.list()).map((f) => f.id),
      ['shared'],
    );
    assert.equal(await other.get('shared'), undefined);
    assert.deepEqual(await other.list(), []);
    assert.equal(await reader.delete('shared'), true);
    assert.equal(await writer.get('shared'), undefined);
    assert.deepEqual(await writer.list(), []);
  } finally {
    await Promise.all([writer.close(), reader.close(), other.close()]);
  }
});

test('concurrent puts and gets of many files on one connection stay consistent', async () => {
  const store = await RedisStore.connect(redis.url, { prefix: fresh() });
  try {
    const files = Array.from({ length: 50 }, (_, i) => madeUp(`f${i}`, 1000 + i * 997, 1000 + i));
    await Promise.all(files.map((f) => store.put(f)));
    const got = await Promise.all(files.map((f) => store.get(f.id)));
    got.forEach((g, i) => {
      assert.ok(g);
      assertSameBytes(g.compiled, files[i]!.compiled, files[i]!.id);
    });
    assert.deepEqual(
      (await store.list()).map((f) => f.id),
      files.map((f) => f.id),
    );
  } finally {
    await store.close();
  }
});

test('a server that is not there: STORE_UNAVAILABLE at once, password never shown', async () => {
  const port = await freePort();
  const started = performance.now();
  await assert.rejects(RedisStore.connect(`redis://:s3cret@127.0.0.1:${port}/0`), (e: unknown) => {
    assert.ok(e instanceof VvfError);
    assert.equal(e.code, 'STORE_UNAVAILABLE');
    assert.match(e.message, /ECONNREFUSED/);
    assert.doesNotMatch(e.message, /s3cret/);
    assert.match(e.message, /\*\*\*/);
    return true;
  });
  assert.ok(performance.now() - started < 2000, 'fails fast, no retrying');
});

test('a URL that is not a Redis URL is a USAGE error', async () => {
  await assert.rejects(RedisStore.connect('not a url'), isCode('USAGE'));
  await assert.rejects(RedisStore.connect('http://127.0.0.1:6379'), isCode('USAGE'));
  await assert.rejects(RedisStore.connect(redis.url, { connectTimeoutMs: 0 }), isCode('USAGE'));
});

test('a lost server: commands fail fast with STORE_UNAVAILABLE, and work again once it is back', async () => {
  const own = await startRedis();
  const store = await RedisStore.connect(own.url, { prefix: fresh() });
  try {
    await store.put(madeUp('before', 100));
    await own.stop();
    const started = performance.now();
    await assert.rejects(store.get('before'), isCode('STORE_UNAVAILABLE'));
    await assert.rejects(store.put(madeUp('during', 100)), isCode('STORE_UNAVAILABLE'));
    assert.ok(performance.now() - started < 3000, 'no waiting for a server that is gone');

    const again = await startRedis(own.port);
    try {
      // Reconnecting backs off to at most 2 s; wait for it, bounded.
      const deadline = Date.now() + 10_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        back = await store.has('x').then(
          () => true,
          () => false,
        );
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(back, 'reconnected within 10 s');
      assert.equal(await store.get('before'), undefined, 'a new server without persistence is empty');
      await store.put(madeUp('after', 100));
      assert.ok(await store.get('after'));
    } finally {
      await store.close();
      await again.stop();
    }
  } finally {
    await store.close();
    await own.stop();
  }
});
