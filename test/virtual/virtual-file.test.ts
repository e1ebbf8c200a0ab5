import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { VvfError } from '../../src/errors.js';
import { FileSource } from '../../src/sources/file-source.js';
import { HttpSource } from '../../src/sources/http-source.js';
import { MemorySource } from '../../src/sources/memory-source.js';
import type { Source } from '../../src/sources/source.js';
import { refOf, resolveWith, type SourceRef } from '../../src/virtual/source-ref.js';
import { VirtualFile } from '../../src/virtual/virtual-file.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { serveFolder } from '../helpers/static-server.js';
import {
  assertSameBytes,
  isCode,
  lookupResolver,
  prng,
  randInt,
  randomBytesFrom,
  randomComposition,
  sourceLike,
} from './virtual-helpers.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-virtual-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tempFile(name: string, data: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/** Collects a stream; rejects with the stream's error, reporting how many bytes came before it. */
async function collect(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collectUntilError(stream: Readable): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
  } catch (error) {
    return { bytes, error };
  }
  return { bytes, error: undefined };
}

/** A mix of file and memory sources, opened, with their content. */
async function mixedSources(rng: () => number): Promise<{ sources: Source[]; data: Uint8Array[] }> {
  const data = [
    randomBytesFrom(rng, 50_000),
    randomBytesFrom(rng, 70_001),
    randomBytesFrom(rng, 33_333),
    randomBytesFrom(rng, 9),
  ];
  const sources: Source[] = [
    await FileSource.open(await tempFile('mixed-0.bin', data[0]!)),
    new MemorySource(data[1]!, 'memory:one'),
    await FileSource.open(await tempFile('mixed-2.bin', data[2]!)),
    new MemorySource(data[3]!, 'memory:three'),
  ];
  return { sources, data };
}

test('thousands of random reads equal the same slices of the naive concatenation', async () => {
  const rng = prng(1);
  const { sources, data } = await mixedSources(rng);
  const { builder, expected, expectedExtents } = randomComposition(rng, sources, data, 600);
  const memory = new Map(sources.filter((s) => s instanceof MemorySource).map((s) => [s.key, s]));
  const resolve = resolveWith(async (key) => memory.get(key) ?? FileSource.open(key));
  const vf = builder.build({ format: 'test-v1', resolve });
  assert.equal(vf.size, expected.length);
  assert.equal(vf.extentCount, expectedExtents);
  assert.equal(vf.contentType, 'video/mp4');
  assertSameBytes(await vf.read(0, vf.size), expected);
  const reads: Promise<void>[] = [];
  for (let i = 0; i < 3000; i++) {
    const offset = randInt(rng, 0, vf.size);
    // Mostly small reads, some spanning many extents, some exactly at the end.
    const length = i % 100 === 0 ? vf.size - offset : Math.min(randInt(rng, 0, i % 3 === 0 ? 20_000 : 600), vf.size - offset);
    reads.push(
      vf.read(offset, length).then((got) => {
        assert.equal(got.length, length);
        assert.ok(Buffer.from(got).equals(expected.subarray(offset, offset + length)), `read ${offset}+${length}`);
      }),
    );
    if (reads.length === 64) await Promise.all(reads.splice(0));
  }
  await Promise.all(reads);
  await vf.close();
  for (const s of sources) await s.close();
});

test('extents close together in a source are one source read; held bytes read no source', async () => {
  const dataA = randomBytesFrom(prng(2), 300_000);
  const dataB = randomBytesFrom(prng(3), 300_000);
  const a = new MemorySource(dataA, 'memory:a');
  const b = new MemorySource(dataB, 'memory:b');
  const builder = new VirtualFileBuilder([refOf(a), refOf(b)]);
  const header = randomBytesFrom(prng(4), 1000);
  builder.addBytes(header);
  // 100 runs alternating a and b, each 97 bytes past the previous run of its source: the
  // runs of a source are not contiguous but close, so each source is read once.
  for (let i = 0; i < 100; i++) builder.addSourceRange(i % 2, i * 97, 50);
  builder.addBytes(header.subarray(0, 10));
  // Then a run far past the previous one (a gap over 64 KiB), and one before it: separate reads.
  builder.addSourceRange(0, 200_000, 50);
  builder.addSourceRange(0, 150_000, 50);
  assert.equal(builder.extentCount, 104);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([a, b]).resolve });
  await vf.read(0, 1000);
  assert.equal(a.readCount + b.readCount, 0, 'the header comes from memory');
  const all = await vf.read(0, vf.size);
  assert.equal(a.readCount, 3);
  assert.equal(b.readCount, 1);
  assertSameBytes(all.subarray(1000 + 50, 1000 + 100), dataB.subarray(97, 97 + 50));
  assertSameBytes(all.subarray(vf.size - 50), dataA.subarray(150_000, 150_050));
  // Bytes 1000+50*10+25 .. 1000+50*40+10: from the middle of run 10 to the start of run 40.
  const part = await vf.read(1000 + 500 + 25, 30 * 50 - 15);
  assert.equal(a.readCount + b.readCount, 4 + 2);
  assertSameBytes(part.subarray(0, 25), dataA.subarray(10 * 97 + 25, 10 * 97 + 50));
  assert.equal(vf.readCount, 3);
  assert.equal(vf.bytesRead, 1000 + vf.size + 30 * 50 - 15);
  await vf.close();
});

test("readPieces: views in order, into the caller's buffer when the reads fit", async () => {
  const a = new MemorySource(randomBytesFrom(prng(20), 5000), 'memory:a');
  const b = new MemorySource(randomBytesFrom(prng(21), 5000), 'memory:b');
  const builder = new VirtualFileBuilder([refOf(a), refOf(b)]);
  builder.addBytes(new Uint8Array([9, 8, 7]));
  builder.addSourceRange(0, 0, 100);
  builder.addSourceRange(1, 1000, 100);
  builder.addSourceRange(0, 200, 100);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([a, b]).resolve });
  const expected = await vf.read(0, vf.size);
  const scratch = new Uint8Array(1000);
  const pieces = await vf.readPieces(1, vf.size - 1, scratch);
  assert.deepEqual(
    pieces.map((p) => p.length),
    [2, 100, 100, 100],
  );
  assertSameBytes(Buffer.concat(pieces), expected.subarray(1));
  // a is read once (bytes 0-300, the gap included), b once: both into the scratch buffer.
  assert.equal(pieces[1]!.buffer, scratch.buffer);
  assert.equal(pieces[2]!.buffer, scratch.buffer);
  assert.equal(a.readCount + b.readCount, 1 + 1 + 2);
  // Too small a buffer: the reads get their own.
  const small = await vf.readPieces(3, 300, new Uint8Array(10));
  assert.notEqual(small[0]!.buffer.byteLength, 10);
  assertSameBytes(Buffer.concat(small), expected.subarray(3));
  assert.deepEqual(await vf.readPieces(5, 0), []);
  await assert.rejects(vf.readPieces(0, vf.size + 1), isCode('SOURCE_RANGE'));
  await vf.close();
});

test('read: exact lengths, empty reads, ranges outside the file', async () => {
  const a = new MemorySource(randomBytesFrom(prng(5), 100));
  const builder = new VirtualFileBuilder([a]);
  builder.addSourceRange(0, 0, 100);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([a]).resolve });
  assert.equal((await vf.read(0, 0)).length, 0);
  assert.equal((await vf.read(100, 0)).length, 0);
  await assert.rejects(vf.read(99, 2), isCode('SOURCE_RANGE'));
  await assert.rejects(vf.read(101, 0), isCode('SOURCE_RANGE'));
  await assert.rejects(vf.read(-1, 1), isCode('SOURCE_RANGE'));
  await assert.rejects(vf.read(0.5, 1), isCode('SOURCE_RANGE'));
  assert.throws(() => vf.stream(50, 101), isCode('SOURCE_RANGE'));
  assert.throws(() => vf.stream(60, 50), isCode('SOURCE_RANGE'));
  assert.throws(() => vf.stream(0, 10, { chunkSize: 0 }), isCode('USAGE'));
  const empty = new VirtualFileBuilder([]).build({ format: 'test-v1', resolve: lookupResolver([]).resolve });
  assert.equal(empty.size, 0);
  assert.equal((await empty.read(0, 0)).length, 0);
  assert.equal((await collect(empty.stream())).length, 0);
});

test('sources open lazily, once each, even under concurrent first reads; close closes them', async () => {
  const a = new MemorySource(randomBytesFrom(prng(6), 1000), 'memory:a');
  const b = new MemorySource(randomBytesFrom(prng(7), 1000), 'memory:b');
  const c = new MemorySource(randomBytesFrom(prng(8), 1000), 'memory:c');
  const builder = new VirtualFileBuilder([a, b, c]);
  builder.addBytes(new Uint8Array(10));
  builder.addSourceRange(0, 0, 1000);
  builder.addSourceRange(1, 0, 1000);
  const counting = lookupResolver([a, b, c]);
  const vf = builder.build({ format: 'test-v1', resolve: counting.resolve });
  await vf.read(0, 10);
  assert.equal(counting.calls, 0);
  await Promise.all(Array.from({ length: 20 }, (_, i) => vf.read(i, 1500)));
  assert.equal(counting.calls, 2, 'a and b opened once each; c never');
  await vf.close();
  await assert.rejects(a.read(0, 1), isCode('USAGE'));
  await assert.rejects(b.read(0, 1), isCode('USAGE'));
  assert.equal((await c.read(0, 1)).length, 1, 'an unused source is not touched');
  await assert.rejects(vf.read(0, 1), isCode('USAGE'));
  await vf.close();
});

test('a failed open is retried by the next read; a mismatched source is refused and closed', async () => {
  const a = new MemorySource(randomBytesFrom(prng(9), 100), 'memory:a');
  const builder = new VirtualFileBuilder([a]);
  builder.addSourceRange(0, 0, 100);
  let attempts = 0;
  const flaky = builder.build({
    format: 'test-v1',
    resolve: async () => {
      attempts++;
      if (attempts === 1) throw new Error('network down');
      return a;
    },
  });
  await assert.rejects(flaky.read(0, 10), isCode('SOURCE_UNREACHABLE'));
  assert.equal((await flaky.read(0, 10)).length, 10);
  assert.equal(attempts, 2);

  // A resolver that does not check: the virtual file checks anyway.
  const other = new MemorySource(randomBytesFrom(prng(10), 100), 'memory:a');
  const wrong = builder.build({ format: 'test-v1', resolve: async () => other });
  await assert.rejects(wrong.read(0, 10), isCode('SOURCE_CHANGED'));
  await assert.rejects(other.read(0, 1), isCode('USAGE'), 'the refused source was closed');
});

test('stream() of random ranges and chunk sizes equals read()', async () => {
  const rng = prng(11);
  const { sources, data } = await mixedSources(rng);
  const { builder } = randomComposition(rng, sources, data, 300);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver(sources).resolve });
  assertSameBytes(await collect(vf.stream()), await vf.read(0, vf.size));
  for (let i = 0; i < 60; i++) {
    const start = randInt(rng, 0, vf.size);
    const end = i % 10 === 0 ? vf.size : Math.min(vf.size, start + randInt(rng, 0, 60_000));
    const chunkSize = randInt(rng, 1, 5000);
    const got = await collect(vf.stream(start, end, { chunkSize }));
    assertSameBytes(got, await vf.read(start, end - start), `stream ${start}-${end} by ${chunkSize}`);
  }
  await vf.close();
});

test('stream honours backpressure: a slow consumer holds back the reads', async () => {
  const mib = 1 << 20;
  const source = new MemorySource(randomBytesFrom(prng(12), mib), 'memory:mib');
  const builder = new VirtualFileBuilder([source]);
  // 64 MiB of virtual file: 64 runs over the same MiB, one source read per 64 KiB chunk.
  for (let i = 0; i < 64; i++) builder.addSourceRange(0, 0, mib);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([source]).resolve });
  const stream = vf.stream(0, vf.size, { chunkSize: 64 * 1024 });
  await once(stream, 'readable');
  await sleep(30);
  assert.ok(source.readCount <= 2, `read ${source.readCount} chunks before any was consumed`);
  let consumed = 0;
  for (let i = 0; i < 20; i++) {
    const chunk = stream.read() as Buffer | null;
    if (chunk === null) await once(stream, 'readable');
    else consumed++;
    await sleep(1);
    assert.ok(source.readCount <= consumed + 3, `read ${source.readCount} chunks with ${consumed} consumed`);
  }
  assert.ok(consumed > 5);
  stream.destroy();
  await vf.close();
});

test('a short read fails the read and destroys the stream, never short or zero-filled output', async () => {
  const data = randomBytesFrom(prng(13), 100_000);
  const honest = new MemorySource(data, 'memory:short');
  // A source that answers one byte short once past 50 000.
  const lying = sourceLike(honest, {
    read: async (offset, length) => {
      const bytes = await honest.read(offset, length);
      return offset + length > 50_000 ? bytes.subarray(0, length - 1) : bytes;
    },
  });
  const builder = new VirtualFileBuilder([lying]);
  builder.addBytes(new Uint8Array(100));
  for (let i = 0; i < 10; i++) builder.addSourceRange(0, i * 10_000, 10_000);
  assert.equal(builder.extentCount, 2, 'contiguous runs merged');
  const vf = builder.build({ format: 'test-v1', resolve: async () => lying });
  assertSameBytes(await vf.read(100, 1000), data.subarray(0, 1000));
  await assert.rejects(vf.read(0, vf.size), isCode('SOURCE_BAD_RESPONSE'));
  const { bytes, error } = await collectUntilError(vf.stream(0, vf.size, { chunkSize: 16 * 1024 }));
  assert.ok(error instanceof VvfError && error.code === 'SOURCE_BAD_RESPONSE', String(error));
  assert.ok(bytes < vf.size && bytes <= 50_100, `${bytes} bytes before the error`);
});

test('a file truncated under an open source fails the read and the stream', async () => {
  const data = randomBytesFrom(prng(14), 200_000);
  const path = await tempFile('truncated.bin', data);
  const file = await FileSource.open(path);
  const builder = new VirtualFileBuilder([file]);
  builder.addBytes(new Uint8Array(64));
  builder.addSourceRange(0, 0, data.length);
  const vf = builder.build({ format: 'test-v1', resolve: async () => file });
  assertSameBytes(await vf.read(64, 100), data.subarray(0, 100));
  await truncate(path, 120_000);
  await assert.rejects(vf.read(150_000, 1000), isCode('SOURCE_CHANGED'));
  const { bytes, error } = await collectUntilError(vf.stream(0, vf.size, { chunkSize: 32 * 1024 }));
  assert.ok(error instanceof VvfError && error.code === 'SOURCE_CHANGED', String(error));
  assert.ok(bytes <= 120_064, `${bytes} bytes before the error`);
  await vf.close();
});

test('a file rewritten on disk gives SOURCE_CHANGED when reopened; held bytes still read', async () => {
  const data = randomBytesFrom(prng(15), 10_000);
  const path = await tempFile('rewritten.bin', data);
  const file = await FileSource.open(path);
  const ref = refOf(file);
  await file.close();
  const builder = new VirtualFileBuilder([ref]);
  builder.addBytes(new Uint8Array([1, 2, 3]));
  builder.addSourceRange(0, 0, 10_000);
  const serialized = builder.build({ format: 'test-v1', resolve: resolveWith(FileSource.open) }).serialize();
  // Same size, different content; the new inode/mtime changes the validator.
  await rm(path);
  await writeFile(path, randomBytesFrom(prng(16), 10_000));
  const vf = VirtualFile.deserialize(serialized, resolveWith(FileSource.open));
  assertSameBytes(await vf.read(0, 3), new Uint8Array([1, 2, 3]));
  await assert.rejects(vf.read(0, 10), isCode('SOURCE_CHANGED'));
  await assert.rejects(vf.read(5000, 10), isCode('SOURCE_CHANGED'), 'still refused on the next read');
  await vf.close();
});

test('over HTTP: random reads and a stream match, one request per run of nearby extents', async () => {
  const rng = prng(17);
  const data = [randomBytesFrom(rng, 40_000), randomBytesFrom(rng, 25_000)];
  await tempFile('http-0.bin', data[0]!);
  await tempFile('http-1.bin', data[1]!);
  const server = await serveFolder(dir);
  try {
    const opts = { retries: 0 };
    const probes = [
      await HttpSource.open(`${server.url}/http-0.bin`, opts),
      await HttpSource.open(`${server.url}/http-1.bin`, opts),
    ];
    const { builder, expected } = randomComposition(rng, probes, data, 120, 4000);
    for (const p of probes) await p.close();
    const vf = builder.build({ format: 'test-v1', resolve: resolveWith((url) => HttpSource.open(url, opts)) });
    await vf.read(0, 1); // opens whatever the first extent needs
    for (let i = 0; i < 150; i++) {
      const offset = randInt(rng, 0, vf.size);
      const length = Math.min(randInt(rng, 1, 12_000), vf.size - offset);
      const sourceExtents = [...vf.extents()].filter((e) => e.kind === 'source' && e.end > offset && e.start < offset + length);
      const opens = new Set(sourceExtents.map((e) => e.sourceIndex)).size;
      const before = server.requests;
      const got = await vf.read(offset, length);
      assert.ok(Buffer.from(got).equals(expected.subarray(offset, offset + length)));
      // One range request per run of a source's extents close together (ascending, gaps of
      // at most 64 KiB); a source's first open adds one probe.
      const reads = readsFor(sourceExtents);
      const requests = server.requests - before;
      assert.ok(requests >= reads && requests <= reads + opens, `${requests} requests for ${reads} reads`);
    }
    assertSameBytes(await collect(vf.stream(0, vf.size, { chunkSize: 7000 })), expected);
    await vf.close();
  } finally {
    await server.close();
  }
});

test('a VirtualFile is a Source: another virtual file can read from it', async () => {
  const rng = prng(18);
  const a = new MemorySource(randomBytesFrom(rng, 5000), 'memory:a');
  const inner = new VirtualFileBuilder([a]);
  inner.addBytes(randomBytesFrom(rng, 100));
  inner.addSourceRange(0, 1000, 3000);
  const vf: VirtualFile = inner.build({ format: 'test-v1', resolve: lookupResolver([a]).resolve });
  const asSource: Source = vf;
  assert.match(asSource.key, /^virtual:vvf-[A-Za-z0-9_-]{24}$/);
  assert.equal(asSource.validator, vf.etag);
  const ref: SourceRef = refOf(vf);
  const outer = new VirtualFileBuilder([ref]);
  outer.addSourceRange(0, 50, 1000);
  outer.addBytes(new Uint8Array([9]));
  outer.addSourceRange(0, 0, 10);
  const nested = outer.build({ format: 'test-v1', resolve: resolveWith(async () => vf) });
  const whole = await vf.read(0, vf.size);
  assertSameBytes(
    await nested.read(0, nested.size),
    Buffer.concat([whole.subarray(50, 1050), new Uint8Array([9]), whole.subarray(0, 10)]),
  );
  assert.equal(vf.readCount, 3);
  assert.equal(vf.bytesRead, vf.size + 1010);
  await nested.close();
});

test('a 6 GiB virtual file reads correctly past 4 GiB', async () => {
  const rng = prng(19);
  const mib = 1 << 20;
  const data = randomBytesFrom(rng, mib + 1000);
  const source = new MemorySource(data, 'memory:big');
  const builder = new VirtualFileBuilder([source]);
  // Pieces of the naive model: virtual start, and held bytes or a source offset.
  const starts: number[] = [];
  const pieces: (Uint8Array | number)[] = [];
  const target = 6 * 1024 * mib;
  for (let i = 0; builder.size < target; i++) {
    const marker = new Uint8Array([i & 255, (i >> 8) & 255, 0xaa]);
    starts.push(builder.size);
    pieces.push(marker);
    builder.addBytes(marker);
    const offset = (i * 7919) % 1000;
    starts.push(builder.size);
    pieces.push(offset);
    builder.addSourceRange(0, offset, mib);
  }
  starts.push(builder.size);
  const expectedAt = (offset: number, length: number): Uint8Array => {
    const out = new Uint8Array(length);
    // The last piece starting at or before offset.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    let k = lo;
    for (let done = 0; done < length; k++) {
      const piece = pieces[k]!;
      const skip = offset + done - starts[k]!;
      const n = Math.min(starts[k + 1]! - starts[k]! - skip, length - done);
      const from = typeof piece === 'number' ? data.subarray(piece + skip, piece + skip + n) : piece.subarray(skip, skip + n);
      out.set(from, done);
      done += n;
    }
    return out;
  };
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([source]).resolve });
  assert.ok(vf.size > target && vf.size < target + 2 * mib);
  assert.equal(vf.extentCount, pieces.length);
  const offsets = [2 ** 32 - 5, 2 ** 32, 2 ** 32 + 1, vf.size - 3 * mib, vf.size - 10];
  for (let i = 0; i < 40; i++) offsets.push(randInt(rng, 2 ** 32, vf.size - 1));
  for (const offset of offsets) {
    const length = Math.min(randInt(rng, 1, 3 * mib), vf.size - offset);
    assert.ok(Buffer.from(await vf.read(offset, length)).equals(expectedAt(offset, length)), `read at ${offset}`);
  }
  const start = 5 * 1024 * mib + 12345;
  assert.ok(
    Buffer.from(await collect(vf.stream(start, start + 2 * mib, { chunkSize: 300_000 }))).equals(expectedAt(start, 2 * mib)),
  );
  const loaded = VirtualFile.deserialize(vf.serialize(), lookupResolver([source]).resolve);
  assert.equal(loaded.size, vf.size);
  assert.ok(Buffer.from(await loaded.read(vf.size - 2 * mib, 2 * mib)).equals(expectedAt(vf.size - 2 * mib, 2 * mib)));
});

test('memoryBytes counts held bytes and 20 bytes per extent', () => {
  const a = new MemorySource(new Uint8Array(1000));
  const builder = new VirtualFileBuilder([a]);
  builder.addBytes(new Uint8Array(300));
  for (let i = 0; i < 1000; i++) builder.addSourceRange(0, i % 2, 10);
  const vf = builder.build({ format: 'test-v1', resolve: lookupResolver([a]).resolve });
  assert.equal(vf.extentCount, 1001);
  assert.equal(vf.memoryBytes(), 300 + 1001 * 20);
});

/** Source reads VirtualFile makes for these extents: one per run of a source's extents close together. */
function readsFor(extents: { sourceIndex?: number; sourceOffset?: number; start: number; end: number }[]): number {
  const open = new Map<number, { start: number; end: number }>();
  let reads = 0;
  for (const e of extents) {
    const at = e.sourceOffset!;
    const length = e.end - e.start;
    const span = open.get(e.sourceIndex!);
    if (span === undefined || at < span.end || at - span.end > 65536 || at + length - span.start > 8 << 20) {
      open.set(e.sourceIndex!, { start: at, end: at + length });
      reads++;
    } else {
      span.end = at + length;
    }
  }
  return reads;
}
