import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { VvfError } from '../../src/errors.js';
import { MemorySource } from '../../src/sources/memory-source.js';
import { refOf } from '../../src/virtual/source-ref.js';
import { VirtualFile } from '../../src/virtual/virtual-file.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import {
  assertSameBytes,
  isCode,
  lookupResolver,
  prng,
  randInt,
  randomBytesFrom,
  randomComposition,
  totalReads,
} from './virtual-helpers.js';

function memorySources(seed: number): { sources: MemorySource[]; data: Uint8Array[] } {
  const rng = prng(seed);
  const data = [randomBytesFrom(rng, 20_000), randomBytesFrom(rng, 5_000), randomBytesFrom(rng, 30_000)];
  return { sources: data.map((d, i) => new MemorySource(d, `memory:s${i}`)), data };
}

/** Replaces the checksum (bytes 4-7: CRC-32 of everything after) so that a mutation reaches the structure checks. */
function restamp(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, crc32(bytes.subarray(8)), true);
  return bytes;
}

test('serialize → deserialize keeps size, etag, extents and bytes, and touches no source', async () => {
  const { sources, data } = memorySources(1);
  const { builder, expected } = randomComposition(prng(2), sources, data, 400);
  const vf = builder.build({ format: 'test-v1', contentType: 'video/x-test', resolve: lookupResolver(sources).resolve });
  const serialized = vf.serialize();
  assert.deepEqual([...serialized.subarray(0, 4)], [0x56, 0x56, 0x46, 0x02]);
  // Compact: the held bytes, 20 bytes per extent, and a little metadata.
  const heldBytes = [...vf.extents()].filter((e) => e.kind === 'bytes').reduce((n, e) => n + e.end - e.start, 0);
  const strings = ['test-v1', 'video/x-test', ...sources.flatMap((s) => [s.key, s.validator])].join('').length;
  const metadata = 40 + 5 * 4 + sources.length * 16 + strings;
  assert.ok(serialized.length >= metadata + heldBytes + vf.extentCount * 20);
  assert.ok(serialized.length <= metadata + heldBytes + vf.extentCount * 20 + 7, `${serialized.length} bytes`);
  const counting = lookupResolver(sources);
  const loaded = VirtualFile.deserialize(serialized, counting.resolve);
  assert.equal(counting.calls, 0);
  assert.equal(totalReads(sources), 0);
  assert.equal(loaded.size, vf.size);
  assert.equal(loaded.etag, vf.etag);
  assert.equal(loaded.format, 'test-v1');
  assert.equal(loaded.contentType, 'video/x-test');
  assert.deepEqual(loaded.sources, vf.sources);
  assert.deepEqual([...loaded.extents()], [...vf.extents()]);
  assert.equal(loaded.memoryBytes(), vf.memoryBytes());
  assertSameBytes(loaded.serialize(), serialized, 'serialized again');
  // From a store the buffer may be a Buffer at any offset of a larger allocation.
  const shifted = Buffer.alloc(serialized.length + 3);
  shifted.set(serialized, 3);
  const fromBuffer = VirtualFile.deserialize(shifted.subarray(3), counting.resolve);
  assert.equal(fromBuffer.etag, vf.etag);
  assert.deepEqual([...fromBuffer.extents()], [...vf.extents()]);
  // The caller's buffer may be reused: the loaded file holds its own copy.
  serialized.fill(0);
  assertSameBytes(await loaded.read(0, loaded.size), expected);
  assert.equal(counting.calls, sources.length);
});

test('the etag is strong and changes with validator, key, size, format, content type, header bytes and extents', () => {
  const { sources } = memorySources(3);
  const header = randomBytesFrom(prng(4), 500);
  type Variant = { refs?: typeof refs; format?: string; contentType?: string; header?: Uint8Array; secondRun?: number };
  const refs = sources.map(refOf);
  const etagOf = (v: Variant = {}): string => {
    const builder = new VirtualFileBuilder(v.refs ?? refs);
    builder.addBytes(v.header ?? header);
    builder.addSourceRange(0, 100, 1000);
    builder.addSourceRange(2, v.secondRun ?? 0, 1000);
    const options = { format: v.format ?? 'mp4-progressive-v1', resolve: lookupResolver(sources).resolve };
    return builder.build(v.contentType === undefined ? options : { ...options, contentType: v.contentType }).etag;
  };
  const base = etagOf();
  assert.match(base, /^"vvf-[A-Za-z0-9_-]{24}"$/);
  assert.equal(etagOf(), base, 'deterministic');
  const changedHeader = header.slice();
  changedHeader[250]! ^= 1;
  const variants: Record<string, Variant> = {
    validator: { refs: refs.map((r, i) => (i === 1 ? { ...r, validator: `${r.validator}x` } : r)) },
    key: { refs: refs.map((r, i) => (i === 1 ? { ...r, key: `${r.key}x` } : r)) },
    size: { refs: refs.map((r, i) => (i === 1 ? { ...r, size: r.size + 1 } : r)) },
    format: { format: 'mp4-progressive-v2' },
    contentType: { contentType: 'audio/mp4' },
    header: { header: changedHeader },
    extents: { secondRun: 1 },
  };
  const seen = new Set([base]);
  for (const [name, variant] of Object.entries(variants)) {
    const etag = etagOf(variant);
    assert.ok(!seen.has(etag), `changing the ${name} changes the etag`);
    seen.add(etag);
  }
});

test('bad magic or version is UNKNOWN_FORMAT; truncation, trailing bytes, bad padding or checksum is MEDIA_INCONSISTENT', () => {
  const { sources, data } = memorySources(5);
  const { builder } = randomComposition(prng(6), sources, data, 30);
  const serialized = builder.build({ format: 'test-v1', resolve: lookupResolver(sources).resolve }).serialize();
  const { resolve } = lookupResolver(sources);
  const load = (bytes: Uint8Array) => () => VirtualFile.deserialize(bytes, resolve);
  assert.throws(load(new Uint8Array(0)), isCode('UNKNOWN_FORMAT'));
  assert.throws(load(new TextEncoder().encode('<?xml')), isCode('UNKNOWN_FORMAT'));
  const version1 = serialized.slice();
  version1[3] = 1;
  assert.throws(load(version1), isCode('UNKNOWN_FORMAT'));
  for (let n = 4; n < serialized.length; n++) {
    assert.throws(load(serialized.subarray(0, n)), isCode('MEDIA_INCONSISTENT'), `truncated to ${n}`);
  }
  assert.throws(load(restamp(Buffer.concat([serialized, new Uint8Array(1)]))), isCode('MEDIA_INCONSISTENT'));
  // Non-zero padding before the columns: pick a format length that leaves some padding.
  let padded = 0;
  for (let n = 1; n <= 8; n++) {
    const b = new VirtualFileBuilder([{ key: 'k', validator: 'v', size: 10 }]);
    b.addSourceRange(0, 0, 10);
    const bytes = b.build({ format: 'f'.repeat(n), resolve }).serialize();
    const columnsAt = bytes.length - 20;
    const metadataEnd = 40 + 5 * 4 + 16 + n + 'video/mp4kv'.length;
    if (columnsAt === metadataEnd) continue;
    assert.equal(VirtualFile.deserialize(bytes, resolve).size, 10);
    bytes[columnsAt - 1] = 1;
    assert.throws(load(restamp(bytes)), /padding/);
    padded++;
  }
  assert.ok(padded > 0);
  const flipped = serialized.slice();
  flipped[serialized.length - 1]! ^= 0x80;
  assert.throws(load(flipped), (e) => isCode('MEDIA_INCONSISTENT')(e) && /checksum/.test((e as Error).message));
});

test('hundreds of mutated buffers give a VvfError or a file that reads consistently, never a crash', async () => {
  const { sources, data } = memorySources(7);
  const { builder } = randomComposition(prng(8), sources, data, 40);
  // Little held data, so most mutations land in the structure rather than in header bytes.
  const serialized = builder.build({ format: 'mp4-progressive-v1', resolve: lookupResolver(sources).resolve }).serialize();
  const rng = prng(Number(process.env.VVF_FUZZ_SEED ?? 9));
  let refused = 0;
  let loaded = 0;
  for (let round = 0; round < 600; round++) {
    const bytes = serialized.slice();
    const flips = randInt(rng, 1, 5);
    for (let k = 0; k < flips; k++) {
      const at = randInt(rng, 0, bytes.length);
      bytes[at]! ^= randInt(rng, 1, 256);
    }
    // Half the rounds keep the stale checksum (must always fail), half restamp it to reach the structure checks.
    const restamped = round % 2 === 1;
    if (restamped) restamp(bytes);
    let vf: VirtualFile;
    try {
      // Fresh sources each round: a file refuses (and closes) a source whose size no longer matches its mutated ref.
      vf = VirtualFile.deserialize(bytes, async (ref) => {
        const i = sources.findIndex((s) => s.key === ref.key);
        if (i < 0) throw new VvfError('SOURCE_UNREACHABLE', 'no such source', { source: ref.key });
        return new MemorySource(data[i]!, ref.key);
      });
    } catch (e) {
      assert.ok(e instanceof VvfError, `round ${round}: ${String(e)}`);
      assert.ok(['UNKNOWN_FORMAT', 'MEDIA_INCONSISTENT'].includes(e.code), e.message);
      refused++;
      continue;
    }
    assert.ok(restamped, `round ${round}: a mutation with a stale checksum was accepted`);
    loaded++;
    assert.ok(Number.isSafeInteger(vf.size) && vf.size >= 0);
    for (let i = 0; i < 5; i++) {
      const offset = randInt(rng, 0, vf.size + 1);
      const length = randInt(rng, 0, vf.size - offset + 1);
      try {
        assert.equal((await vf.read(offset, length)).length, length);
      } catch (e) {
        // A mutated key, validator or size is an unreachable or changed source; a mutated
        // extent is refused when a read first uses it (loading checks only the CRC and columns).
        assert.ok(
          e instanceof VvfError && ['SOURCE_UNREACHABLE', 'SOURCE_CHANGED', 'MEDIA_INCONSISTENT'].includes(e.code),
          String(e),
        );
      }
    }
  }
  assert.ok(refused > 300, `${refused} refused`);
  assert.ok(loaded > 0, 'some restamped mutations (held bytes, source offsets) still load');
});
