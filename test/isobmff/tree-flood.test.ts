// A container of a huge number of tiny boxes (vvf issue 11, C.6): a moov holding a million
// empty `free` boxes once cost about 2.5-3.5 s of CPU and 600 MB of memory to open (a tree
// node, a Cursor, a copy and a path per box). The tree is walked by index now, opaque boxes
// are views, and one box tree may hold at most maxTreeBoxes (default 100 000; a real moov
// holds about 30 per track), so such a moov is refused after a fraction of that work.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { VvfError } from '../../src/errors.js';
import { encodeNodes, parseBoxTree } from '../../src/isobmff/tree.js';
import { defaultLimits } from '../../src/limits.js';
import { costOf } from '../helpers/cost.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-tree-flood-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `count` empty boxes of `type`, one after another. */
function emptyBoxes(count: number, type = 'free'): Buffer {
  const out = Buffer.alloc(8 * count);
  for (let i = 0; i < count; i++) {
    out.writeUInt32BE(8, i * 8);
    out.write(type, i * 8 + 4, 'latin1');
  }
  return out;
}

/** The MP4 (moov at the end, so no chunk offset moves) with `count` empty boxes first in its moov. */
function moovFlooded(mp4: Buffer, count: number): Buffer {
  let at = 0;
  while (at + 8 <= mp4.length && mp4.toString('latin1', at + 4, at + 8) !== 'moov') at += mp4.readUInt32BE(at);
  assert.ok(at + 8 <= mp4.length, 'the fixture has a moov');
  const header = Buffer.from(mp4.subarray(at, at + 8));
  header.writeUInt32BE(mp4.readUInt32BE(at) + 8 * count, 0);
  return Buffer.concat([mp4.subarray(0, at), header, emptyBoxes(count), mp4.subarray(at + 8)]);
}

test('a moov of a million empty boxes is refused quickly, one of 50 000 opens, each at a bounded cost', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-moov-last');
  assert.ok(f);
  const mp4 = await readFile(f.input);
  const files = { normal: f.input, many: join(dir, 'many.mp4'), million: join(dir, 'million.mp4') };
  await writeFile(files.many, moovFlooded(mp4, 50_000));
  await writeFile(files.million, moovFlooded(mp4, 999_000));

  // Each in a fresh process (costOf), so the figures are this input's alone; sequential, not
  // to fight over the cores.
  const normal = await costOf('movie', files.normal);
  const many = await costOf('movie', files.many);
  const million = await costOf('movie', files.million);
  console.log(
    `CPU ms / peak RSS MiB: normal ${normal.cpuMs.toFixed(0)} / ${(normal.maxRssKb / 1024).toFixed(0)}, ` +
      `50 000 boxes ${many.cpuMs.toFixed(0)} / ${(many.maxRssKb / 1024).toFixed(0)}, ` +
      `1 M boxes ${million.cpuMs.toFixed(0)} / ${(million.maxRssKb / 1024).toFixed(0)}`,
  );
  assert.equal(normal.code, 'OK');
  assert.equal(many.code, 'OK', 'under the limit, the moov is opened');
  assert.equal(million.code, 'STRUCTURE_LIMIT');
  // Measured (loaded 2-core machine): normal ~10 ms / 95 MiB; 50 000 boxes ~150 ms / 120 MiB;
  // a million refused in ~160 ms / 150 MiB (it took ~2.5 s / 600 MiB and then succeeded).
  // Bounds: a small multiple of the normal input's, with room for a loaded machine.
  const cpuBound = 1000 + 20 * normal.cpuMs;
  const rssBound = normal.maxRssKb + 200 * 1024;
  for (const [name, cost] of [
    ['50 000 boxes', many],
    ['1 M boxes', million],
  ] as const) {
    assert.ok(cost.cpuMs < cpuBound, `${name}: ${cost.cpuMs} ms of CPU (bound ${cpuBound})`);
    assert.ok(cost.maxRssKb < rssBound, `${name}: peak RSS ${cost.maxRssKb} KiB (bound ${rssBound})`);
  }
});

test('the tree limit is the smaller of maxBoxes and maxTreeBoxes, located at the container', () => {
  // moov holding 10 empty boxes: 11 boxes in the tree.
  const moov = Buffer.concat([Buffer.from([0, 0, 0, 88]), Buffer.from('moov', 'latin1'), emptyBoxes(10, 'abcd')]);
  const limits = { maxBoxes: 1_000_000, maxDepth: 32 };
  assert.equal(parseBoxTree(moov, 100, '', { limits: { ...limits, maxTreeBoxes: 11 } }).length, 1);
  for (const [lim, named] of [
    [{ ...limits, maxTreeBoxes: 10 }, 'maxTreeBoxes'],
    [{ ...limits, maxBoxes: 10 }, 'maxBoxes'],
  ] as const) {
    assert.throws(
      () => parseBoxTree(moov, 100, '', { limits: lim, source: 'm.mp4' }),
      (e: unknown) =>
        e instanceof VvfError &&
        e.code === 'STRUCTURE_LIMIT' &&
        e.message.includes(named) &&
        e.path === 'moov' &&
        e.offset === 100 + 8 + 9 * 8 &&
        e.source === 'm.mp4',
    );
  }
  assert.equal(defaultLimits.maxTreeBoxes, 100_000);
});

test('opaque boxes of a tree are views of their bytes, written back exactly, with their paths', () => {
  const payload = Buffer.from('payload!', 'latin1');
  const odd = Buffer.concat([Buffer.from([0, 0, 0, 16]), Buffer.from('odd ', 'latin1'), payload]);
  const moov = Buffer.concat([
    Buffer.from([0, 0, 0, 48]),
    Buffer.from('moov', 'latin1'),
    odd,
    odd,
    emptyBoxes(1),
    Buffer.from([0, 0]),
  ]);
  moov.writeUInt32BE(moov.length, 0);
  const nodes = parseBoxTree(moov, 1000, '', { limits: defaultLimits });
  const top = nodes[0];
  assert.ok(top?.kind === 'container');
  assert.deepEqual(
    top.children.map((n) => [n.path, n.kind, n.header.start, n.header.size]),
    [
      ['moov/odd ', 'opaque', 1008, 16],
      ['moov/odd [1]', 'opaque', 1024, 16],
      ['moov/free', 'opaque', 1040, 8],
    ],
  );
  const second = top.children[1];
  assert.ok(second?.kind === 'opaque');
  assert.deepEqual(Buffer.from(second.bytes), odd);
  // The trailing two bytes (padding some writers leave) are not a box, and not written back.
  assert.deepEqual(Buffer.from(encodeNodes(nodes)).subarray(8), moov.subarray(8, moov.length - 2));
});
