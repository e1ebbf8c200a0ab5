import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FdPool } from '../../src/sources/fd-pool.js';

let file = '';
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-fd-pool-'));
  file = join(dir, 'f.bin');
  await writeFile(file, 'hello');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An opener that counts how often the pool asked it to open. */
function opener() {
  const counter = {
    opens: 0,
    open: async () => {
      counter.opens++;
      return open(file, 'r');
    },
  };
  return counter;
}

test('idle descriptors are closed least recently used first; busy ones never', async () => {
  const pool = new FdPool(2);
  const [a, b, c] = [{}, {}, {}];
  const [oa, ob, oc] = [opener(), opener(), opener()];
  const la = await pool.acquire(a, oa.open); // a stays leased
  (await pool.acquire(b, ob.open)).release();
  (await pool.acquire(c, oc.open)).release(); // over the cap: b is the only idle one older than c
  assert.equal(pool.openCount, 2);
  const buf = new Uint8Array(5);
  await la.handle.read(buf, 0, 5, 0); // a's descriptor still works
  assert.equal(Buffer.from(buf).toString(), 'hello');
  la.release();
  (await pool.acquire(c, oc.open)).release();
  assert.equal(oc.opens, 1, 'c was not evicted');
  (await pool.acquire(b, ob.open)).release();
  assert.equal(ob.opens, 2, 'b was reopened');
  assert.equal(pool.openCount, 2);
  await pool.closeIdle();
  assert.equal(pool.openCount, 0);
});

test('concurrent acquires share one open; a failed open leaves nothing behind', async () => {
  const pool = new FdPool(4);
  const owner = {};
  const o = opener();
  const leases = await Promise.all([pool.acquire(owner, o.open), pool.acquire(owner, o.open), pool.acquire(owner, o.open)]);
  assert.equal(o.opens, 1);
  assert.equal(pool.openCount, 1);
  for (const l of leases) l.release();
  const bad = {};
  await assert.rejects(
    pool.acquire(bad, async () => {
      throw new Error('no');
    }),
    /no/,
  );
  assert.equal(pool.openCount, 1);
  await pool.forget(owner);
  assert.equal(pool.openCount, 0);
});

test('forget while leased closes the descriptor when the lease ends', async () => {
  const pool = new FdPool(4);
  const owner = {};
  const lease = await pool.acquire(owner, opener().open);
  await pool.forget(owner);
  assert.equal(pool.openCount, 1);
  lease.release();
  await new Promise((r) => setImmediate(r));
  assert.equal(pool.openCount, 0);
  assert.throws(() => new FdPool(0), RangeError);
});
