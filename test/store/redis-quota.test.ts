// RedisStore's quota against a real redis-server: the byte total of compiled forms stays bounded for
// every instance together, the least recently used lose theirs first (their recipe stays: still
// registered, compiled again when asked for), an oversized file keeps only its recipe, a store
// written before the quota is counted on its first put, and two instances putting at once agree.
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { defaultCatalogConfig } from '../../src/catalog/config.js';
import { openStore } from '../../src/catalog/open-store.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis-store.js';
import { isCode } from '../virtual/virtual-helpers.js';
import { startRedis, type TestRedis } from './redis-helpers.js';
import { madeUp } from './store-helpers.js';

let redis: TestRedis;
let raw: ReturnType<typeof createClient>;
before(async () => {
  redis = await startRedis();
  raw = createClient({ url: redis.url });
  raw.on('error', () => {});
  await raw.connect();
});
after(async () => {
  await raw?.close();
  await redis?.stop();
});

let prefixes = 0;
/** A prefix of its own per test, so tests on the one server do not see each other. */
const fresh = () => `q${++prefixes}:`;

const connect = (prefix: string, opts: RedisStoreOptions = {}) => RedisStore.connect(redis.url, { prefix, ...opts });

/** Whether the store still holds a file's compiled form (an evicted file keeps only its recipe). */
async function holds(store: RedisStore, id: string): Promise<boolean> {
  return ((await store.get(id))?.compiled.byteLength ?? 0) > 0;
}

/** Bytes of a file's compiled form, read without counting as a use. */
async function compiledLength(prefix: string, id: string): Promise<number> {
  // (The client types HSTRLEN's integer reply oddly.)
  return Number(await raw.hStrLen(`${prefix}file:${id}`, 'compiled'));
}

/** Files whose compiled form the store holds, read without counting as a use. */
async function holding(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of await raw.zRange(`${prefix}files`, 0, -1)) {
    if ((await compiledLength(prefix, id)) > 0) out.push(id);
  }
  return out.sort();
}

/** The bookkeeping agrees with the files: the counter is the sum of the compiled fields, `sizes` and `used` name exactly the files that hold one. */
async function assertConsistent(prefix: string): Promise<number> {
  let sum = 0;
  const sizes: Record<string, string> = {};
  for (const id of await raw.zRange(`${prefix}files`, 0, -1)) {
    const n = await compiledLength(prefix, id);
    if (n > 0) sizes[id] = String(n);
    sum += n;
  }
  assert.equal(Number((await raw.get(`${prefix}bytes`)) ?? 0), sum, 'the counter is the sum of compiled forms');
  assert.deepEqual(await raw.hGetAll(`${prefix}sizes`), sizes);
  assert.deepEqual((await raw.zRange(`${prefix}used`, 0, -1)).sort(), Object.keys(sizes).sort());
  return sum;
}

test('the byte total stays under the quota after many puts, the file just put is kept, evicted files stay registered', async () => {
  const prefix = fresh();
  const store = await connect(prefix, { maxBytes: 100_000 });
  try {
    for (let i = 0; i < 60; i++) {
      const id = `f${String(i).padStart(2, '0')}`;
      await store.put(madeUp(id, 9_000 + ((i * 577) % 3000), 1000 + i));
      const total = await store.totalBytes();
      assert.ok(total <= 100_000, `after put ${i}: ${total}`);
      assert.equal((await compiledLength(prefix, id)) > 0, true, `the file just put (${id}) is kept`);
    }
    const kept = await holding(prefix);
    assert.ok(kept.length >= 7 && kept.length <= 11, `kept ${kept.length}`);
    // The oldest went first: what is kept is the last few put.
    assert.deepEqual(kept, kept.length > 0 ? Array.from({ length: kept.length }, (_, i) => `f${60 - kept.length + i}`) : []);
    assert.equal(await assertConsistent(prefix), await store.totalBytes());
    const listed = (await store.list()).map((f) => f.id);
    assert.equal(listed.length, 60, 'every file is listed, evicted or not');
    assert.equal(await store.has('f00'), true, 'an evicted file is still there for the registry');
    const evicted = await store.get('f00');
    assert.ok(evicted, 'an evicted file is found');
    assert.equal(evicted.compiled.byteLength, 0, 'without its compiled form');
    assert.deepEqual(evicted.recipe, madeUp('f00', 1).recipe);
  } finally {
    await store.close();
  }
});

test('the least recently used file (by get) loses its compiled form first; gets are recorded at most once per interval', async () => {
  const prefix = fresh();
  let t = 1_000_000;
  const store = await connect(prefix, { maxBytes: 3 * 30_000 + 100, now: () => t });
  try {
    for (const id of ['a', 'b', 'c']) await store.put(madeUp(id, 30_000, 5000 - id.charCodeAt(0)));
    const usedOf = async (id: string) => (await raw.zScore(`${prefix}used`, id)) ?? undefined;
    // Put a, b, c; a put counts as a use, so a, b and c are in that order of use; a get of a moves it last.
    t += 120_000;
    assert.ok(await holds(store, 'a'));
    const touchedAt = await usedOf('a');
    assert.ok(touchedAt !== undefined && touchedAt > (await usedOf('c'))!, 'a read: now the most recently used');
    t += 10_000;
    await store.get('a');
    assert.equal(await usedOf('a'), touchedAt, 'a second get within the interval writes nothing');

    await store.put(madeUp('d', 30_000));
    assert.deepEqual(await holding(prefix), ['a', 'c', 'd'], 'b, least recently used, lost its compiled form');
    assert.equal(await store.has('b'), true, 'b is still registered');
    // list() is still oldest-first by created (c, b, a were created in that order), evicted or not.
    assert.deepEqual(
      (await store.list()).map((f) => f.id),
      ['c', 'b', 'a', 'd'],
    );

    // A put counts as a use too: c, put again, outlives a; b put again comes back.
    await store.put(madeUp('c', 30_000, 1));
    await store.put(madeUp('e', 30_000));
    assert.deepEqual(await holding(prefix), ['c', 'd', 'e']);
    await store.put(madeUp('b', 30_000, 5000 - 98));
    assert.deepEqual(await holding(prefix), ['b', 'c', 'e']);
    await assertConsistent(prefix);

    // A delete gives its bytes back; deleting an evicted file works too.
    assert.equal(await store.delete('c'), true);
    assert.equal(await store.delete('a'), true);
    assert.equal(await store.totalBytes(), 60_000);
    await assertConsistent(prefix);
  } finally {
    await store.close();
  }
});

test('a file larger than the quota is stored as its recipe only, without an error; an older form of it goes too', async () => {
  const prefix = fresh();
  const store = await connect(prefix, { maxBytes: 50_000 });
  try {
    await store.put(madeUp('small', 10_000));
    await store.put(madeUp('big', 10_000));
    assert.equal(store.fits(60_000), false);
    assert.equal(store.fits(50_000), true);
    await store.put(madeUp('big', 60_000));
    assert.equal(await holds(store, 'big'), false, 'not stored, and the older, smaller form is gone too');
    assert.equal(await store.has('big'), true, 'its recipe is kept: still registered');
    assert.equal(await holds(store, 'small'), true, 'nothing evicted for a file that is not stored');
    assert.equal(await store.totalBytes(), 10_000);
    await assertConsistent(prefix);
  } finally {
    await store.close();
  }
});

test('maxBytes 0 is unlimited (and still counted); a negative quota is USAGE', async () => {
  const prefix = fresh();
  const store = await connect(prefix, { maxBytes: 0 });
  try {
    for (let i = 0; i < 20; i++) await store.put(madeUp(`u${i}`, 100_000));
    assert.equal((await holding(prefix)).length, 20);
    assert.equal(await store.totalBytes(), 2_000_000);
    assert.equal(store.fits(Number.MAX_SAFE_INTEGER), true);
  } finally {
    await store.close();
  }
  await assert.rejects(connect(fresh(), { maxBytes: -1 }), isCode('USAGE'));
  await assert.rejects(connect(fresh(), { touchIntervalMs: 1.5 }), isCode('USAGE'));
});

test('a store written before the quota (no bookkeeping keys) is counted on its first put; last use taken as created', async () => {
  const prefix = fresh();
  // As the previous RedisStore wrote them: a hash per file and the listing, nothing else.
  for (const [id, created] of [
    ['old', 1000],
    ['middle', 2000],
    ['new', 3000],
  ] as const) {
    const f = madeUp(id, 20_000, created);
    await raw.hSet(`${prefix}file:${id}`, {
      recipe: JSON.stringify(f.recipe),
      created: String(created),
      compiled: Buffer.from(f.compiled),
    });
    await raw.zAdd(`${prefix}files`, { score: created, value: id });
  }
  const store = await connect(prefix, { maxBytes: 3 * 20_000 + 10 });
  try {
    assert.equal((await store.get('middle'))?.compiled.length, 20_000, 'read as before');
    await store.put(madeUp('next', 20_000, 4000));
    assert.deepEqual(await holding(prefix), ['middle', 'new', 'next'], 'the oldest created lost its compiled form');
    assert.equal(await store.has('old'), true);
    assert.equal(await assertConsistent(prefix), 60_000);
  } finally {
    await store.close();
  }
});

test('two instances on one Redis share one quota: concurrent puts stay under it and the bookkeeping stays exact', async () => {
  const prefix = fresh();
  const quota = 200_000;
  const one = await connect(prefix, { maxBytes: quota, touchIntervalMs: 0 });
  const two = await connect(prefix, { maxBytes: quota, touchIntervalMs: 0 });
  try {
    // 80 puts of 10-30 KB, half from each instance, all in flight at once; 30 ids put by both.
    const puts = Array.from({ length: 80 }, (_, i) => {
      const store = i % 2 === 0 ? one : two;
      return store.put(madeUp(`s${i % 50}`, 10_000 + ((i * 7919) % 20_000), 1000 + i));
    });
    await Promise.all(puts);
    const total = await assertConsistent(prefix);
    assert.ok(total <= quota, `total ${total} over the quota ${quota}`);
    assert.ok(total > quota / 2, `total ${total}: eviction took only what was needed`);
    assert.equal(await one.totalBytes(), await two.totalBytes());
    assert.equal((await one.list()).length, 50, 'every id is still registered');

    // What one instance reads, the other's put keeps: LRU order is shared.
    const kept = await holding(prefix);
    assert.ok(kept.length >= 3);
    const oldest = (await raw.zRange(`${prefix}used`, 0, 0))[0]!;
    await one.get(oldest);
    assert.equal((await raw.zRange(`${prefix}used`, -1, -1))[0], oldest, 'a get on one instance moves it last for both');
    await two.put(madeUp('fresh', 25_000));
    assert.equal(await holds(two, oldest), true, 'the file read on the other instance was kept');
    assert.ok((await two.totalBytes()) <= quota);
    await assertConsistent(prefix);

    // A delete on one instance is counted for both.
    assert.equal(await two.delete('fresh'), true);
    assert.equal(await one.totalBytes(), await assertConsistent(prefix));
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test('many distinct recipes of a hostile size leave Redis’s memory bounded by the quota', async () => {
  // Each ?video=/?audio= variant of a hostile manifest is another id with another multi-megabyte compiled form.
  const prefix = fresh();
  const quota = 8 << 20;
  const store = await connect(prefix, { maxBytes: quota });
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]);
  try {
    const before = await usedMemory();
    for (let i = 0; i < 40; i++) await store.put(madeUp(`variant-${i}`, 1 << 20));
    assert.ok((await store.totalBytes()) <= quota);
    assert.ok((await holding(prefix)).length <= 8);
    const grown = (await usedMemory()) - before;
    console.log(`Redis used_memory grew by ${grown} bytes for a ${quota}-byte quota (40 MiB put)`);
    // Measured ~1.4 × the quota: the kept forms plus buffers of the last put (its 1 MiB argument in
    // the query buffer and in the script's Lua strings until their collection).
    assert.ok(grown < 2 * quota, `Redis grew by ${grown} bytes for a ${quota}-byte quota (40 MiB were put)`);
  } finally {
    await store.close();
  }
});

test('through the catalog: two instances, a file whose compiled form was evicted is compiled again with the same id and bytes', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  const root = dirname(fixture.input);
  const prefix = fresh();
  // Room for one compiled form: registering a second evicts the first's.
  const storeOne = await connect(prefix, { maxBytes: 6000 });
  const storeTwo = await connect(prefix, { maxBytes: 6000 });
  const catalog = await Catalog.open({ ...defaultCatalogConfig, roots: [root] }, { store: storeOne });
  try {
    const a = (await catalog.register(parseRecipe({ tracks: [fixture.input] }))).entry;
    const b = (await catalog.register(parseRecipe({ tracks: [fixture.input], start: 1, end: 2 }))).entry;
    assert.equal((await storeOne.get(a.id))?.compiled.byteLength, 0, 'a was evicted from the store');
    assert.ok(((await storeOne.get(b.id))?.compiled.byteLength ?? 0) > 0, 'b is held');
    const bytes = await a.file.read(0, 4096);
    const other = await Catalog.open({ ...defaultCatalogConfig, roots: [root] }, { store: storeTwo });
    try {
      const again = await other.get(a.id);
      assert.ok(again, 'still registered for the other instance');
      assert.equal(again.file.etag, a.file.etag);
      assert.deepEqual(await again.file.read(0, 4096), bytes);
      assert.deepEqual((await other.list()).map((e) => e.id).sort(), [a.id, b.id].sort());
    } finally {
      await other.close();
    }
  } finally {
    await catalog.close();
    await storeOne.close();
    await storeTwo.close();
  }
});

test('scripts flushed from the server (SCRIPT FLUSH, or a restart) are sent again', async () => {
  const prefix = fresh();
  const store = await connect(prefix, { maxBytes: 25_000, touchIntervalMs: 0 });
  try {
    await store.put(madeUp('x', 10_000));
    await raw.scriptFlush();
    await store.put(madeUp('y', 10_000));
    await raw.scriptFlush();
    assert.ok(await holds(store, 'x'), 'x read: more recently used than y');
    await store.put(madeUp('z', 10_000));
    assert.deepEqual(await holding(prefix), ['x', 'z'], 'the touch ran: y was evicted, not x');
    await raw.scriptFlush();
    assert.equal(await store.delete('x'), true);
    assert.equal(await assertConsistent(prefix), 10_000);
  } finally {
    await store.close();
  }
});

test('openStore gives Redis the configured storeMaxBytes', async () => {
  const tiered = await openStore({ ...defaultCatalogConfig, redisUrl: redis.url, storeMaxBytes: 4321 });
  assert.ok(tiered);
  try {
    assert.ok(tiered.persistent instanceof RedisStore);
    assert.equal(tiered.persistent.maxBytes, 4321);
  } finally {
    await tiered.close();
  }
});
