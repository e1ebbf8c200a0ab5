// Shared pieces of the virtual-file tests: a seeded PRNG, random compositions with their naive bytes, counting resolvers.
import assert from 'node:assert/strict';
import { VvfError } from '../../src/errors.js';
import type { Source } from '../../src/sources/source.js';
import { refOf, type SourceRef, type SourceResolver } from '../../src/virtual/source-ref.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';

/** mulberry32: small, fast, reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi). */
export function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo));
}

export function randomBytesFrom(rng: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() * 256) | 0;
  return out;
}

export function isCode(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

export interface Composition {
  builder: VirtualFileBuilder;
  /** The virtual file's bytes, concatenated naively. */
  expected: Uint8Array;
  /** Extents the builder should hold if it merges exactly the runs it should. */
  expectedExtents: number;
}

/**
 * A random mix of held bytes and source runs over `sources` (their full content in
 * `data`), about a third of the runs continuing the previous run in the same source
 * (which must merge), a few consecutive held-byte additions (which must merge too).
 */
export function randomComposition(
  rng: () => number,
  sources: readonly Source[],
  data: readonly Uint8Array[],
  steps: number,
  maxRun = 2000,
): Composition {
  const builder = new VirtualFileBuilder(sources.map(refOf));
  const chunks: Uint8Array[] = [];
  let extents = 0;
  let last: { kind: 'bytes' } | { kind: 'source'; index: number; end: number } | undefined;
  for (let step = 0; step < steps; step++) {
    const r = rng();
    if (r < 0.2) {
      const bytes = randomBytesFrom(rng, randInt(rng, 1, 300));
      builder.addBytes(bytes);
      chunks.push(bytes);
      if (last?.kind !== 'bytes') extents++;
      last = { kind: 'bytes' };
      continue;
    }
    let index: number;
    let offset: number;
    if (r < 0.45 && last?.kind === 'source' && last.end < sources[last.index]!.size) {
      index = last.index;
      offset = last.end;
    } else {
      index = randInt(rng, 0, sources.length);
      offset = randInt(rng, 0, sources[index]!.size);
    }
    const length = Math.min(randInt(rng, 1, maxRun), sources[index]!.size - offset);
    builder.addSourceRange(index, offset, length);
    chunks.push(data[index]!.subarray(offset, offset + length));
    if (!(last?.kind === 'source' && last.index === index && last.end === offset)) extents++;
    last = { kind: 'source', index, end: offset + length };
  }
  return { builder, expected: Buffer.concat(chunks), expectedExtents: extents };
}

/** A resolver over sources already open, by key, counting its calls. Closing a returned source closes the original. */
export function lookupResolver(sources: readonly Source[]): { resolve: SourceResolver; calls: number } {
  const byKey = new Map(sources.map((s) => [s.key, s]));
  const state = {
    calls: 0,
    resolve: async (ref: SourceRef): Promise<Source> => {
      state.calls++;
      const s = byKey.get(ref.key);
      if (s === undefined) throw new VvfError('SOURCE_UNREACHABLE', 'no such source', { source: ref.key });
      return s;
    },
  };
  return state;
}

/** `real` as another Source object, but for the `read` or `close` given: a source that lies, or counts. */
export function sourceLike(real: Source, override: Partial<Pick<Source, 'read' | 'close'>>): Source {
  return {
    key: real.key,
    validator: real.validator,
    size: real.size,
    get bytesRead() {
      return real.bytesRead;
    },
    get readCount() {
      return real.readCount;
    },
    read: override.read ?? ((offset, length) => real.read(offset, length)),
    close: override.close ?? (() => real.close()),
  };
}

/** The sum of every source's read count. */
export function totalReads(sources: readonly Source[]): number {
  return sources.reduce((n, s) => n + s.readCount, 0);
}

/** Asserts two byte arrays hold the same bytes, whatever their classes, without dumping megabytes on failure. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (!a.equals(b)) {
    let i = 0;
    while (a[i] === b[i]) i++;
    assert.fail(`${what}: first difference at byte ${i} (${a[i]} vs ${b[i]})`);
  }
}
