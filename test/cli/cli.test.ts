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
  // --json is a tree (issue 11, H.20): flattened here with each box's depth.
  type Box = { type: string; offset: number; size: number; children?: Box[] };
  const lines: (Box & { depth: number })[] = [];
  const flatten = (b: Box, depth: number): void => {
    lines.push({ ...b, depth });
    for (const c of b.children ?? []) flatten(c, depth + 1);
  };
  for (const b of (JSON.parse(r.stdout) as { boxes: Box[] }).boxes) flatten(b, 0);
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
  assert.match(missing.stderr, /^vvf: SOURCE_NOT_FOUND/);

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

test('compose writes a progressive file from DASH renditions; remux takes a recipe', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'shaka-live');
  assert.ok(f);
  const dir = mkdtempSync(join(tmpdir(), 'vvf-cli-'));
  const out = join(dir, 'out.mp4');
  const r = await vvf('compose', '--video', f.input, '--audio', f.input, '--clip', '1-3', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*out\.mp4/);
  const probe = await probePackets(out);
  assert.deepEqual(
    probe.map((s) => s.codecName),
    ['h264', 'aac'],
  );

  const printed = await vvf('compose', '--video', f.input, '--audio', f.input, '--clip', '1-3', '--print-recipe');
  assert.equal(printed.code, 0, printed.stderr);
  const recipe = JSON.parse(printed.stdout) as { pieces: { start: string; end: string }[] };
  assert.equal(recipe.pieces[0]!.start, '1');
  const recipeFile = join(dir, 'recipe.json');
  writeFileSync(recipeFile, printed.stdout);
  const again = join(dir, 'again.mp4');
  const remuxed = await vvf('remux', recipeFile, '-o', again);
  assert.equal(remuxed.code, 0, remuxed.stderr);
  assert.ok(readFileSync(again).equals(readFileSync(out)), 'the same recipe makes the same bytes');

  const inspected = await vvf('inspect', '--json', recipeFile);
  assert.equal(inspected.code, 0, inspected.stderr);
  const summary = JSON.parse(inspected.stdout) as MovieSummary & { virtual: { size: number } };
  assert.equal(summary.virtual.size, readFileSync(out).length);
  assert.equal(summary.layout.kind, 'progressive');
  assert.equal(summary.layout.moovPosition, 'before-mdat');
});

test('split writes keyframe chunks', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
  assert.ok(f);
  const dir = mkdtempSync(join(tmpdir(), 'vvf-cli-'));
  const r = await vvf('split', f.input, '--every', '2', '-o', join(dir, 'chunk-%02d.mp4'));
  assert.equal(r.code, 0, r.stderr);
  const counts = [];
  for (const name of ['chunk-00.mp4', 'chunk-01.mp4', 'chunk-02.mp4']) {
    const [v] = await probePackets(join(dir, name));
    counts.push(v!.packets.length);
  }
  assert.deepEqual(counts, [50, 50, 25]);
});

test('bad recipes and times are usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-cli-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ tracks: [{ source: 'a.mp4', kind: 'subtitles' }] }));
  const r = await vvf('remux', bad, '-o', join(dir, 'x.mp4'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^vvf: USAGE: invalid recipe: recipe.tracks\[0\].kind must be video, audio or text/);
  const t = await vvf('compose', '--input', bad, '--clip', '5-x', '-o', join(dir, 'x.mp4'));
  assert.equal(t.code, 2);
  assert.match(t.stderr, /invalid time "x"/);
});

test('sign prints a URL that verifies with the same key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-cli-'));
  const recipe = join(dir, 'r.json');
  writeFileSync(recipe, JSON.stringify({ tracks: ['talk/manifest.mpd'] }));
  const { verifySignedPath } = await import('../../src/catalog/signed-url.js');
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sign', recipe, '--base', 'http://h:1'],
      { env: { ...process.env, VVF_SIGNING_KEY: 'k1' } },
      (e, stdout, stderr) => resolve({ code: e ? 1 : 0, stdout, stderr }),
    );
  });
  assert.equal(out.code, 0, out.stderr);
  const url = new URL(out.stdout.trim());
  assert.equal(url.origin, 'http://h:1');
  assert.deepEqual(verifySignedPath(url.pathname, 'k1').pieces[0]!.tracks, [{ source: 'talk/manifest.mpd' }]);
  assert.throws(() => verifySignedPath(url.pathname, 'k2'));
  // A presentation: the URL of its manifest, under a signed directory that covers its parts.
  writeFileSync(recipe, JSON.stringify({ layout: 'hls', tracks: ['talk/manifest.mpd'] }));
  const presentation = await new Promise<string>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sign', recipe],
      { env: { ...process.env, VVF_SIGNING_KEY: 'k1' } },
      (_e, stdout) => resolve(stdout.trim()),
    );
  });
  assert.match(presentation, /^\/s\/[^/]+\/manifest\.m3u8$/);
  assert.equal(verifySignedPath(presentation.replace(/manifest\.m3u8$/, 'v1/3.m4s'), 'k1').layout, 'hls');
});
