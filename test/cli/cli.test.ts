// The vvf command: inspect and boxes on real fixtures, and one readable line on bad input.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import type { MovieSummary } from '../../src/model/summary.js';
import { probePackets } from '../oracle/ffprobe.js';

const run = promisify(execFile);

async function vvf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('inspect --json on a DASH manifest agrees with ffprobe', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'dash-template-time');
  assert.ok(f);
  const r = await vvf('inspect', '--json', f.input);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as MovieSummary;
  assert.equal(summary.layout.kind, 'segmented');
  assert.ok(summary.layout.segmentCount > 1);
  for (const stream of f.streams) {
    const t = summary.tracks.find((x) => x.representationId === stream.representationId);
    assert.ok(t);
    const probe = (await probePackets(stream.probeFile)).find((p) => p.index === stream.probeStreamIndex)!;
    assert.equal(t.samples, probe.packets.length);
    assert.equal(
      t.bytes,
      probe.packets.reduce((a, p) => a + p.size, 0),
    );
    if (t.kind === 'video') {
      assert.equal(t.keyframes, probe.packets.filter((p) => p.key).length);
      assert.ok(t.gop && t.gop.min > 1);
      assert.match(t.codec, /^avc1\.[0-9a-f]{6}$/);
    } else {
      assert.equal(t.codec, 'mp4a.40.2');
    }
  }
});

test('inspect prints a readable summary of a progressive file', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-moov-last');
  assert.ok(f);
  const r = await vvf('inspect', f.input);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layout progressive, moov last at \d+/);
  assert.match(r.stdout, /track 1, video, avc1\./);
  assert.match(r.stdout, /GOP \d+\.\.\d+ samples/);
  assert.match(r.stdout, /audio, mp4a\.40\.2, \d+ Hz/);
});

test('boxes lists the tree with offsets and sizes', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'frag-plain');
  assert.ok(f);
  const r = await vvf('boxes', '--json', f.input);
  assert.equal(r.code, 0, r.stderr);
  const lines = JSON.parse(r.stdout) as { depth: number; type: string; offset: number; size: number }[];
  const top = lines.filter((l) => l.depth === 0);
  // Top-level boxes tile the file exactly.
  let at = 0;
  for (const l of top) {
    assert.equal(l.offset, at, `${l.type} starts where the previous box ended`);
    at += l.size;
  }
  assert.equal(at, readFileSync(f.input).length);
  assert.ok(top.some((l) => l.type === 'moof') && top.some((l) => l.type === 'mdat'));
  assert.ok(lines.some((l) => l.type === 'trun' && l.depth === 2));
  const text = await vvf('boxes', f.input);
  assert.match(text.stdout, /^\s*0\s+\d+\s+ftyp/m);
});

test('bad input: one line, a code, a non-zero exit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-cli-'));
  const junk = join(dir, 'junk.mp4');
  // A box claiming 1000 bytes in a 16-byte file.
  writeFileSync(junk, Buffer.from([0, 0, 3, 0xe8, 0x66, 0x74, 0x79, 0x70, 0, 0, 0, 0, 0, 0, 0, 0]));
  const r = await vvf('inspect', junk);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^vvf: BOX_OVERRUN: .*offset 0/);

  const missing = await vvf('inspect', join(dir, 'nope.mp4'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vvf: SOURCE_UNREACHABLE/);

  const usage = await vvf('inspect');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^vvf: USAGE/);
  const unknown = await vvf('frobnicate');
  assert.equal(unknown.code, 2);
});

test('boxes on a manifest says what to do instead', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'shaka-live');
  assert.ok(f);
  const r = await vvf('boxes', f.input);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^vvf: USAGE: boxes reads MP4 files; for a DASH manifest/);
});
