import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { VvfError } from '../../src/errors.js';
import { FdPool } from '../../src/sources/fd-pool.js';
import { FileSource } from '../../src/sources/file-source.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-file-source-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function isCode(code: string) {
  return (e: unknown) => e instanceof VvfError && e.code === code;
}

async function makeFile(name: string, size: number): Promise<{ path: string; data: Buffer }> {
  const path = join(dir, name);
  const data = randomBytes(size);
  await writeFile(path, data);
  return { path, data };
}

test('reads exact ranges, keyed by real path, counting reads', async () => {
  const { path, data } = await makeFile('a.bin', 100_000);
  const link = join(dir, 'a-link.bin');
  await symlink(path, link);
  const pool = new FdPool(4);
  const s = await FileSource.open(relative(process.cwd(), link), { pool });
  assert.equal(s.key, path);
  assert.equal(s.size, 100_000);
  assert.match(s.validator, /^100000-[0-9.]+-\d+-[0-9.]+$/);
  for (const [offset, length] of [
    [0, 1],
    [12_345, 6789],
    [99_990, 10],
    [0, 100_000],
  ] as const) {
    assert.deepEqual(await s.read(offset, length), new Uint8Array(data.subarray(offset, offset + length)));
  }
  assert.equal((await s.read(100_000, 0)).length, 0);
  assert.equal(s.readCount, 5);
  assert.equal(s.bytesRead, 1 + 6789 + 10 + 100_000);
  assert.equal(pool.openCount, 1);
  await s.close();
  assert.equal(pool.openCount, 0);
  await assert.rejects(s.read(0, 1), isCode('USAGE'));
});

test('read past the end is SOURCE_RANGE', async () => {
  const { path } = await makeFile('range.bin', 50);
  const s = await FileSource.open(path, { pool: new FdPool(2) });
  await assert.rejects(s.read(40, 11), isCode('SOURCE_RANGE'));
  await assert.rejects(s.read(51, 0), isCode('SOURCE_RANGE'));
  await assert.rejects(s.read(-1, 2), isCode('SOURCE_RANGE'));
  await s.close();
});

test('file truncated under an open source gives SOURCE_CHANGED, never short data', async () => {
  const { path, data } = await makeFile('shrinks.bin', 1000);
  const s = await FileSource.open(path, { pool: new FdPool(2) });
  assert.deepEqual(await s.read(0, 10), new Uint8Array(data.subarray(0, 10)));
  await truncate(path, 500);
  // Straddles the new end: the first part reads, then end of file comes early.
  await assert.rejects(s.read(400, 200), (e: unknown) => isCode('SOURCE_CHANGED')(e) && /now 500 bytes/.test(String(e)));
  // Wholly past the new end.
  await assert.rejects(s.read(900, 100), isCode('SOURCE_CHANGED'));
  // Still inside the old size check: past the size seen at open is a range error.
  await assert.rejects(s.read(990, 20), isCode('SOURCE_RANGE'));
  await s.close();
});

test('missing file is SOURCE_NOT_FOUND naming the path; a folder is SOURCE_UNREACHABLE', async () => {
  const path = join(dir, 'nope.bin');
  await assert.rejects(
    FileSource.open(path),
    (e: unknown) => isCode('SOURCE_NOT_FOUND')(e) && (e as VvfError).source === path && String(e).includes(path),
  );
  await assert.rejects(FileSource.open(dir), isCode('SOURCE_UNREACHABLE'));
});

test('pool of 2 descriptors serves 5 files correctly, reopening evicted ones', async () => {
  const pool = new FdPool(2);
  const files = await Promise.all([0, 1, 2, 3, 4].map((i) => makeFile(`pool-${i}.bin`, 4096 + i)));
  const sources = [];
  for (const f of files) {
    sources.push(await FileSource.open(f.path, { pool }));
    assert.ok(pool.openCount <= 2);
  }
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < files.length; i++) {
      const offset = (round * 997 + i * 131) % 4000;
      assert.deepEqual(await sources[i]!.read(offset, 96), new Uint8Array(files[i]!.data.subarray(offset, offset + 96)));
      assert.ok(pool.openCount <= 2, `open ${pool.openCount}`);
    }
  }
  // Concurrent reads may briefly hold more than two descriptors; afterwards the pool shrinks back.
  const all = await Promise.all(sources.map((s, i) => s.read(i, 64)));
  all.forEach((got, i) => {
    assert.deepEqual(got, new Uint8Array(files[i]!.data.subarray(i, i + 64)));
  });
  await new Promise((r) => setImmediate(r));
  assert.ok(pool.openCount <= 2, `open ${pool.openCount}`);
  await Promise.all(sources.map((s) => s.close()));
  assert.equal(pool.openCount, 0);
});

test('a file replaced while its descriptor was evicted gives SOURCE_CHANGED on reopen', async () => {
  const pool = new FdPool(1);
  const a = await makeFile('replaced.bin', 2000);
  const b = await makeFile('other.bin', 10);
  const sa = await FileSource.open(a.path, { pool });
  const sb = await FileSource.open(b.path, { pool }); // evicts a's descriptor
  assert.equal(pool.openCount, 1);
  const tmp = join(dir, 'replaced.tmp');
  await writeFile(tmp, a.data); // same content and size, but a new inode
  await rename(tmp, a.path);
  await assert.rejects(sa.read(0, 10), isCode('SOURCE_CHANGED'));
  await sa.close();
  await sb.close();
});

test('a file touched in place while evicted gives SOURCE_CHANGED; an unchanged one reopens', async () => {
  const pool = new FdPool(1);
  const a = await makeFile('touched.bin', 300);
  const b = await makeFile('untouched.bin', 300);
  const sa = await FileSource.open(a.path, { pool });
  const sb = await FileSource.open(b.path, { pool });
  await utimes(a.path, new Date(2001, 1, 1), new Date(2001, 1, 1));
  await assert.rejects(sa.read(0, 10), isCode('SOURCE_CHANGED'));
  assert.deepEqual(await sb.read(5, 10), new Uint8Array(b.data.subarray(5, 15)));
  await sa.close();
  await sb.close();
});

test('a file deleted while evicted is SOURCE_NOT_FOUND on reopen', async () => {
  const pool = new FdPool(1);
  const a = await makeFile('deleted.bin', 30);
  const b = await makeFile('kept.bin', 30);
  const sa = await FileSource.open(a.path, { pool });
  const sb = await FileSource.open(b.path, { pool });
  await rm(a.path);
  await assert.rejects(sa.read(0, 1), isCode('SOURCE_NOT_FOUND'));
  await sa.close();
  await sb.close();
});
