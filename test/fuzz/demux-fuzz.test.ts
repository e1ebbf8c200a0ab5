// Mutated and truncated fixtures: the demuxer ends in a VvfError or a model, never another
// exception, a hang or a runaway allocation. Seeded, so a failure names its variant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { scanMp4 } from '../../src/demux/mp4-scan.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { VvfError } from '../../src/errors.js';
import { resolveLimits } from '../../src/limits.js';
import { MemorySource } from '../../src/sources/memory-source.js';
import { fixtureFiles } from '../helpers/fixture-files.js';
import { prng } from '../virtual/virtual-helpers.js';

const VARIANTS = Number(process.env.VVF_FUZZ_VARIANTS ?? 3000);
const SEED = Number(process.env.VVF_FUZZ_SEED ?? 0x5eed);
/** Per-input time bound: parsing a small fixture takes a few milliseconds. */
const MAX_MS_PER_INPUT = 2000;

interface Target {
  fixture: string;
  input: string;
  files: Map<string, Uint8Array>;
  /** Per file, the [start, end) ranges of metadata boxes, where mutations matter most. */
  metadata: Map<string, [number, number][]>;
}

const INTERESTING = [0, 1, 7, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

function mutate(bytes: Uint8Array, ranges: [number, number][], r: () => number): { bytes: Uint8Array; what: string } {
  const pick = (n: number) => Math.floor(r() * n);
  const kind = pick(5);
  if (kind === 0 || bytes.length < 16) {
    const at = pick(bytes.length);
    return { bytes: bytes.slice(0, at), what: `truncate at ${at}` };
  }
  const out = bytes.slice();
  const range = ranges.length > 0 && r() < 0.9 ? ranges[pick(ranges.length)]! : ([0, bytes.length] as [number, number]);
  const posIn = () => range[0] + pick(Math.max(1, range[1] - range[0]));
  const view = new DataView(out.buffer);
  if (kind === 1) {
    const n = 1 + pick(8);
    const ats: number[] = [];
    for (let i = 0; i < n; i++) {
      const at = posIn();
      if (at < out.length) {
        out[at] = pick(256);
        ats.push(at);
      }
    }
    return { bytes: out, what: `random bytes at ${ats.join(',')}` };
  }
  if (kind === 2 || kind === 3) {
    // 32-bit fields aligned on 4 bytes hit box sizes, counts, versions and flags.
    const at = (posIn() & ~3) + (kind === 3 ? 0 : pick(4));
    const v = INTERESTING[pick(INTERESTING.length)]!;
    if (at + 4 <= out.length) view.setUint32(at, v);
    return { bytes: out, what: `u32 ${v} at ${at}` };
  }
  // Delete a span: boxes shift and sizes no longer match.
  const at = posIn();
  const len = 1 + pick(64);
  return { bytes: new Uint8Array([...out.subarray(0, at), ...out.subarray(at + len)]), what: `delete ${len} at ${at}` };
}

describe('fuzz: mutated fixtures give only VvfErrors', async () => {
  const fixtures = (await ensureFixtures()).filter((f) => f.sizeBytes < 4 * 1024 * 1024);
  const targets: Target[] = [];
  for (const f of fixtures) {
    const files = new Map<string, Uint8Array>();
    const metadata = new Map<string, [number, number][]>();
    for (const p of fixtureFiles(f)) {
      const bytes = new Uint8Array(readFileSync(p));
      files.set(resolve(p), bytes);
      if (p.endsWith('.mpd')) {
        metadata.set(resolve(p), [[0, bytes.length]]);
        continue;
      }
      const scan = await scanMp4(new MemorySource(bytes, p), resolveLimits(), { metadataBytes: 0 });
      metadata.set(
        resolve(p),
        scan.boxes.filter((b) => b.nodes).map((b) => [b.start, b.start + b.size]),
      );
    }
    targets.push({ fixture: f.name, input: resolve(f.input), files, metadata });
  }

  test(`${VARIANTS} variants (seed ${SEED})`, async () => {
    assert.ok(targets.length > 0, 'fixtures to mutate');
    const r = prng(SEED);
    const codes = new Map<string, number>();
    let parsed = 0;
    for (let v = 0; v < VARIANTS; v++) {
      const target = targets[v % targets.length]!;
      // Mutate the input itself most of the time, else one of the files it refers to.
      const paths = [...target.files.keys()];
      const victim = r() < 0.5 ? target.input : paths[Math.floor(r() * paths.length)]!;
      const original = target.files.get(victim)!;
      const { bytes, what } = mutate(original, target.metadata.get(victim) ?? [], r);
      const label = `variant ${v} (seed ${SEED}): ${target.fixture} ${victim}: ${what}`;
      const openSource = async (spec: string) => {
        const p = resolve(spec);
        const b = p === victim ? bytes : target.files.get(p);
        if (!b) throw new VvfError('SOURCE_UNREACHABLE', `no such file ${p}`, { source: p });
        return new MemorySource(b, p);
      };
      const started = performance.now();
      try {
        const movie = await openMovie(target.input, { openSource, limits: { maxSamplesPerTrack: 1_000_000 } });
        parsed++;
        // A model that parsed must still be self-consistent: every sample inside its source.
        for (const t of movie.tracks) {
          for (let i = 0; i < t.samples.count; i++) {
            const src = movie.sources[t.samples.sourceIndex[i]!]!;
            assert.ok(t.samples.offset[i]! + t.samples.size[i]! <= src.size, `${label}: sample outside its source`);
          }
        }
      } catch (e) {
        if (!(e instanceof VvfError)) {
          assert.fail(`${label}: threw ${e instanceof Error ? e.stack : String(e)}`);
        }
        assert.notEqual(e.code, 'BUG', `${label}: ${e.message}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
      const ms = performance.now() - started;
      assert.ok(ms < MAX_MS_PER_INPUT, `${label}: took ${ms.toFixed(0)} ms`);
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    assert.ok(parsed > 0, 'some variants still parse');
    assert.ok(codes.size >= 3, `several error codes seen: ${[...codes.keys()].join(', ')}`);
    console.log(`fuzz: ${parsed} parsed, errors ${JSON.stringify(Object.fromEntries(codes))}`);
  });
});
