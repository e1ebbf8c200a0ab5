// Cheap denial of service through recipes (issue 11 C.4, C.5): what a recipe may make a
// compile do is bounded before it is done. Before, a 17 KB recipe listing one file 2 000
// times blocked the server for 19 s, 60 000 tracks (540 KB) wedged it for minutes at
// 3.8 GB (the 256-track limit was checked after the layout was built, and interleaving
// scanned every track per chunk), and 10 000 pieces took 9 s and 1.7 GiB. Hostile inputs
// are measured against a normal one in fresh child processes: time and peak memory stay
// within a small multiple, and nothing is opened when the recipe alone says too much.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { samplesFor } from '../../src/compose/slice.js';
import type { Track } from '../../src/model/movie.js';
import { SampleTableBuilder } from '../../src/model/sample-table.js';
import { openSource } from '../../src/sources/open-source.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { type Cost, costOf } from '../helpers/cost.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-limits-'));
let input = '';
let normal: Cost;

function recipeFile(name: string, recipe: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(recipe));
  return file;
}

/** A hostile input costs at most a small multiple of the normal compile. */
function assertCheap(hostile: Cost, what: string): void {
  assert.ok(
    hostile.cpuMs < 3 * normal.cpuMs + 300,
    `${what}: ${hostile.cpuMs.toFixed(0)} ms CPU, normal ${normal.cpuMs.toFixed(0)} ms`,
  );
  assert.ok(hostile.maxRssKb < 2 * normal.maxRssKb, `${what}: ${hostile.maxRssKb} KB peak, normal ${normal.maxRssKb} KB`);
}

before(async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
  assert.ok(f);
  input = f.input;
  normal = await costOf('recipe', recipeFile('normal', { pieces: [{ tracks: [input] }, { tracks: [input] }] }));
  assert.equal(normal.code, 'OK');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('recipe limits, checked before composing', () => {
  test('one file listed 2 000 times in a piece (17 KB): STRUCTURE_LIMIT before anything is opened', async () => {
    const file = recipeFile('refs-2000', { tracks: Array.from({ length: 2000 }, () => input) });
    const cost = await costOf('recipe', file);
    assert.equal(cost.code, 'STRUCTURE_LIMIT');
    assert.equal(cost.opens, 0, 'no source opened');
    assertCheap(cost, '2 000 references');
  });

  test('60 000 tracks (540 KB): STRUCTURE_LIMIT at once', async () => {
    const file = recipeFile('refs-60000', { tracks: Array.from({ length: 60_000 }, () => ({ source: input, track: 1 })) });
    const cost = await costOf('recipe', file);
    assert.equal(cost.code, 'STRUCTURE_LIMIT');
    assert.equal(cost.opens, 0);
    assertCheap(cost, '60 000 tracks');
  });

  test('10 000 pieces (230 KB): STRUCTURE_LIMIT (maxPieces) before anything is opened', async () => {
    const file = recipeFile('pieces-10000', { pieces: Array.from({ length: 10_000 }, () => ({ tracks: [input] })) });
    const cost = await costOf('recipe', file);
    assert.equal(cost.code, 'STRUCTURE_LIMIT');
    assert.equal(cost.opens, 0);
    assertCheap(cost, '10 000 pieces');
  });

  test('selected tracks past maxTracks (references that each select every track) stop before the next piece opens', async () => {
    await assert.rejects(
      compileRecipe(parseRecipe({ tracks: [input, input] }), { limits: { maxTracks: 3 } }),
      (e: { code?: string; message?: string }) => e.code === 'STRUCTURE_LIMIT' && /4 tracks/.test(e.message ?? ''),
    );
  });

  test('output size, samples per track and the memory budget are checked on the model, before the layout', async () => {
    const recipe = parseRecipe({ pieces: Array.from({ length: 20 }, () => ({ tracks: [input] })) });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'OK',
        (e: { code?: string }) => e.code,
      );
    assert.equal(await code(compileRecipe(recipe, { limits: { maxOutputBytes: 1_000_000 } })), 'STRUCTURE_LIMIT');
    assert.equal(await code(compileRecipe(recipe, { limits: { maxSamplesPerTrack: 1000 } })), 'SAMPLE_LIMIT');
    assert.equal(await code(compileRecipe(recipe, { limits: { maxCompileBytes: 200_000 } })), 'METADATA_LIMIT');
    const ok = await compileRecipe(recipe);
    await ok.close();
  });

  test('the memory budget also bounds one source while its sample tables are built', async () => {
    const { openMovie } = await import('../../src/demux/open-movie.js');
    for (const name of ['h264-aac-faststart', 'dash-template-time']) {
      const f = (await ensureFixtures()).find((x) => x.name === name);
      assert.ok(f);
      await assert.rejects(
        openMovie(f.input, { limits: { maxCompileBytes: 2000 } }),
        (e: { code?: string; message?: string }) => e.code === 'METADATA_LIMIT' && /maxCompileBytes/.test(e.message ?? ''),
        name,
      );
    }
  });

  test('each distinct source is opened once per compile, however many pieces name it', async () => {
    let opens = 0;
    const compiled = await compileRecipe(parseRecipe({ pieces: Array.from({ length: 200 }, () => ({ tracks: [input] })) }), {
      openSource: (s) => {
        opens++;
        return openSource(s);
      },
    });
    await compiled.close();
    assert.equal(opens, 1);
    // A DASH manifest: its manifest and segments are opened as often for 30 pieces as for one.
    const f = (await ensureFixtures()).find((x) => x.name === 'dash-template-time');
    assert.ok(f);
    const opensFor = async (pieces: number) => {
      let n = 0;
      const tracks = [
        { source: f.input, kind: 'video' },
        { source: f.input, kind: 'audio' },
      ];
      const c = await compileRecipe(parseRecipe({ pieces: Array.from({ length: pieces }, () => ({ tracks })) }), {
        openSource: (s) => {
          n++;
          return openSource(s);
        },
      });
      await c.close();
      return n;
    };
    assert.equal(await opensFor(30), await opensFor(1));
  });
});

describe('composition cost grows linearly', () => {
  /** CPU milliseconds of compiling in this process (warm), best of two. */
  async function cpuOf(recipe: unknown, limits: Record<string, number>): Promise<number> {
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < 2; k++) {
      const cpu = process.cpuUsage();
      const compiled = await compileRecipe(parseRecipe(recipe), { limits });
      const used = process.cpuUsage(cpu);
      await compiled.close();
      best = Math.min(best, (used.user + used.system) / 1000);
    }
    return best;
  }

  test('tracks: 4× the tracks costs well under 16× (interleaving was quadratic)', async () => {
    const refs = (n: number) => ({ tracks: Array.from({ length: n }, () => ({ source: input, track: 1 })) });
    const small = await cpuOf(refs(300), { maxTracks: 10_000 });
    const large = await cpuOf(refs(1200), { maxTracks: 10_000 });
    assert.ok(large < 8 * small, `300 tracks ${small.toFixed(0)} ms, 1 200 tracks ${large.toFixed(0)} ms`);
  });

  test('pieces: 4× the pieces costs well under 16×', async () => {
    const pieces = (n: number) => ({
      pieces: Array.from({ length: n }, (_, i) => ({ tracks: [input], start: String(i % 4), end: String((i % 4) + 0.5) })),
    });
    const small = await cpuOf(pieces(500), {});
    const large = await cpuOf(pieces(2000), {});
    assert.ok(large < 8 * small, `500 pieces ${small.toFixed(0)} ms, 2 000 pieces ${large.toFixed(0)} ms`);
  });

  test('samplesFor (binary search on an index) finds what a scan finds', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 50; round++) {
      const n = 1 + Math.floor(rand() * 60);
      const b = new SampleTableBuilder(1000);
      const at = b.reserve(n);
      let dts = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) {
        b.decodeTime[at + i] = dts;
        b.duration[at + i] = 2;
        b.compositionOffset[at + i] = Math.floor(rand() * 8) - 2;
        b.sync[at + i] = rand() < 0.2 ? 1 : 0;
        dts += 2;
      }
      const track = { samples: b.finish() } as unknown as Track;
      const s = track.samples;
      for (let q = 0; q < 20; q++) {
        const lo = Math.floor(rand() * (dts + 4)) - 2;
        const hi = lo + Math.floor(rand() * 20);
        // The scan samplesFor replaced.
        let first = -1;
        let firstSync = -1;
        let last = -1;
        for (let i = 0; i < s.count; i++) {
          const pts = s.decodeTime[i]! + s.compositionOffset[i]!;
          if (s.sync[i]) {
            if (firstSync < 0) firstSync = i;
            if (pts <= lo) first = i;
          }
          if (pts < hi) last = i;
        }
        if (first < 0) first = Math.max(0, firstSync);
        const want = last < first ? { first, end: first } : { first, end: last + 1 };
        assert.deepEqual(samplesFor(track, lo, hi), want, `round ${round} [${lo}, ${hi})`);
      }
    }
  });
});
