// Clip, concat and split checked against ffmpeg decoding the results as a player would
// (edit lists applied): frame counts, the first presented frame, continuity and A/V sync.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { materialize } from '../../src/cli/materialize.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { startsOpenGop } from '../../src/compose/slice.js';
import { planSplit, splitRecipes } from '../../src/compose/split.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { type DecodedFrame, decodedFrames, decodeErrors, timeBase } from '../helpers/media.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vvf-clip-'));
const FPS = 25;
const AAC_FRAME = 1024;
const RATE = 48000;

async function make(name: string, recipe: unknown): Promise<string> {
  const compiled = await compileRecipe(parseRecipe(recipe));
  const { file } = compiled;
  const out = join(dir, `${name}.mp4`);
  try {
    await materialize(file, out, { progress: false });
  } finally {
    await compiled.close();
  }
  return out;
}

async function fixture(name: string) {
  const f = (await ensureFixtures()).find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}

/** Video frames of a file, and the index of the frame presented at `seconds`. */
async function video(file: string): Promise<{ frames: DecodedFrame[]; tb: number }> {
  return { frames: await decodedFrames(file, 'v'), tb: await timeBase(file, 'v') };
}

function audioSamples(frames: DecodedFrame[]): number {
  // framecrc's size field for audio is bytes of decoded audio: samples × channels × bytes.
  return frames.reduce((a, f) => a + f.duration, 0);
}

describe('clip', () => {
  for (const [name, start, end] of [
    ['h264-aac-faststart', '1', '3'],
    ['h264-aac-faststart', '1.32', '3.2'],
    ['dash-template-time', '1.5', '3.5'],
    ['shaka-live', '2', '4.96'],
  ] as const) {
    test(`${name} [${start}, ${end})`, async () => {
      const f = await fixture(name);
      const out = await make(`clip-${name}-${start}`, { tracks: [{ source: f.input }], start, end });
      assert.equal(await decodeErrors(out), '');
      const src = await video(f.input.endsWith('.mpd') ? f.streams[0]!.probeFile : f.input);
      const got = await video(out);
      const first = Math.round(Number(start) * FPS);
      const count = Math.round((Number(end) - Number(start)) * FPS);
      // The frames presented are exactly the source's frames in the range, in order.
      assert.equal(got.frames.length, count, 'video frame count');
      assert.equal(got.frames[0]!.pts, 0, 'presentation starts at 0');
      assert.deepEqual(
        got.frames.map((x) => x.crc),
        src.frames.slice(first, first + count).map((x) => x.crc),
        'the source frames of the range',
      );
      // Audio starts with the video and lasts as long, to within one AAC frame.
      const audio = await decodedFrames(out, 'a');
      const atb = await timeBase(out, 'a');
      assert.equal(audio[0]!.pts, 0, 'audio starts at 0');
      const seconds = (Number(end) - Number(start)) * RATE * (atb / RATE);
      const samples = audioSamples(audio);
      assert.ok(Math.abs(samples - seconds) <= AAC_FRAME, `audio lasts ${samples} of ${seconds} samples`);
    });
  }
});

describe('concat', () => {
  test('pieces of two sources play one after another', async () => {
    const a = await fixture('h264-aac-faststart');
    const b = await fixture('dash-template-time');
    const out = await make('concat', {
      pieces: [
        { tracks: [{ source: a.input }], start: 0, end: 2 },
        { tracks: [{ source: b.input }], start: 1, end: 3 },
      ],
    });
    assert.equal(await decodeErrors(out), '');
    const srcA = await video(a.input);
    const srcB = await video(b.streams[0]!.probeFile);
    const got = await video(out);
    assert.equal(got.frames.length, 100);
    const expected = [...srcA.frames.slice(0, 50), ...srcB.frames.slice(25, 75)].map((x) => x.crc);
    assert.deepEqual(
      got.frames.map((x) => x.crc),
      expected,
    );
    // Continuous: decoded frames are timed in frames (framecrc's time base is the frame rate).
    for (const [i, fr] of got.frames.entries()) assert.equal(fr.pts, i, `frame ${i} pts`);
    const audio = await decodedFrames(out, 'a');
    const atb = await timeBase(out, 'a');
    const samples = audioSamples(audio);
    assert.ok(Math.abs(samples - 4 * atb) <= 2 * AAC_FRAME, `audio lasts ${samples} for 4 s`);
    // Audio of the second piece starts with its video, within one AAC frame of 2 s.
    const second = audio.find((x) => x.pts >= 2 * atb - AAC_FRAME);
    assert.ok(second && Math.abs(second.pts - 2 * atb) <= AAC_FRAME, `second piece audio at ${second?.pts}`);
  });

  test('identical sample descriptions are shared, different ones kept apart', async () => {
    const a = await fixture('h264-aac-faststart');
    const other = join(dir, 'baseline.mp4');
    await run('ffmpeg', [
      ...'-v error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi -i sine=sample_rate=48000:duration=2'.split(
        ' ',
      ),
      ...'-c:v libx264 -profile:v baseline -g 25 -pix_fmt yuv420p -c:a aac -b:a 64k -ac 2'.split(' '),
      other,
    ]);
    const same = await make('concat-same', { pieces: [{ tracks: [a.input] }, { tracks: [a.input] }] });
    const mixed = await make('concat-mixed', { pieces: [{ tracks: [a.input] }, { tracks: [other] }] });
    const entries = async (file: string) => {
      const m = await openMovie(file);
      await Promise.all(m.sources.map((s) => s.close()));
      return m.tracks.map((t) => ({
        kind: t.kind,
        descriptions: t.descriptions.length,
        indexes: new Set(t.samples.descriptionIndex),
      }));
    };
    const s = await entries(same);
    assert.deepEqual(
      s.map((t) => t.descriptions),
      [1, 1],
    );
    // Same picture, other parameter sets (profile, GOP): one avc3 description, each
    // keyframe carrying its piece's SPS/PPS in band (see test/compose/seek-joined.test.ts).
    const m = await entries(mixed);
    assert.equal(m[0]!.descriptions, 1, 'one video sample description');
    // Another picture size: the descriptions are kept apart, switched through stsc.
    const small = join(dir, 'small.mp4');
    await run('ffmpeg', [
      ...'-v error -y -f lavfi -i testsrc2=size=160x120:rate=25:duration=2'.split(' '),
      ...'-c:v libx264 -profile:v baseline -g 25 -pix_fmt yuv420p'.split(' '),
      small,
    ]);
    const apart = await make('concat-apart', { pieces: [{ tracks: [{ source: a.input, kind: 'video' }] }, { tracks: [small] }] });
    const k = await entries(apart);
    assert.equal(k[0]!.descriptions, 2, 'two video sample descriptions');
    assert.deepEqual([...k[0]!.indexes].sort(), [1, 2], 'samples use both, through stsc');
    const apartDecode = await run('ffmpeg', [
      '-v',
      'error',
      '-ignore_editlist',
      '1',
      '-i',
      apart,
      '-map',
      '0',
      '-f',
      'null',
      '-',
    ]);
    assert.equal(apartDecode.stderr.trim(), '', 'decodes cleanly across the switch of description');
    // The parameter sets also travel in band, so a decoder that ignores the stsd change
    // still decodes every frame of the new piece.
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-ignore_editlist', '1', '-i', mixed, '-map', '0', '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', 'decodes cleanly across the switch');
    const raw = await run('ffmpeg', ['-v', 'error', '-ignore_editlist', '1', '-i', mixed, '-map', '0:v', '-f', 'framecrc', '-'], {
      maxBuffer: 64 << 20,
    });
    assert.equal(raw.stdout.split('\n').filter((l) => l && !l.startsWith('#')).length, 125 + 50);
    // With the two-entry edit list applied, ffmpeg 5.1 marks the first frame of the second
    // edit as discarded when the pieces differ in B-frame delay (its mov_fix_index); every
    // other frame is shown.
    assert.ok((await decodedFrames(mixed, 'v')).length >= 125 + 50 - 1);
  });
});

describe('split', () => {
  test('chunks at keyframes hold every frame exactly once, and stitch back', async () => {
    const f = await fixture('h264-aac-faststart');
    const movie = await openMovie(f.input);
    const plan = planSplit(movie, 2);
    await Promise.all(movie.sources.map((s) => s.close()));
    assert.deepEqual(
      plan.cuts.map((c) => c / plan.timescale),
      [0, 2, 4],
    );
    const chunks: string[] = [];
    for (const [i, recipe] of splitRecipes(plan, [{ source: f.input }]).entries()) {
      chunks.push(await make(`chunk-${i}`, recipe));
    }
    const src = await video(f.input);
    const frames: string[] = [];
    for (const c of chunks) {
      assert.equal(await decodeErrors(c), '');
      const v = await video(c);
      // A chunk starts on a keyframe: nothing before its first frame is needed.
      frames.push(...v.frames.map((x) => x.crc));
    }
    assert.deepEqual(
      frames,
      src.frames.map((x) => x.crc),
    );
    const stitched = await make('stitched', { pieces: chunks.map((c) => ({ tracks: [c] })) });
    assert.deepEqual(
      (await video(stitched)).frames.map((x) => x.crc),
      src.frames.map((x) => x.crc),
    );
  });

  test('open-GOP keyframes are not cut points', async () => {
    const f = await fixture('hevc-aac');
    const movie = await openMovie(f.input);
    const v = movie.tracks.find((t) => t.kind === 'video')!;
    const keys: number[] = [];
    for (let i = 0; i < v.samples.count; i++) if (v.samples.sync[i]) keys.push(i);
    const open = keys.filter((k) => startsOpenGop(v, k));
    assert.ok(open.length > 0, 'the fixture has open-GOP keyframes');
    const plan = planSplit(movie, 1);
    await Promise.all(movie.sources.map((s) => s.close()));
    for (const cut of plan.cuts.slice(1)) {
      const k = keys.find((i) => {
        const pts = v.samples.decodeTime[i]! + v.samples.compositionOffset[i]!;
        return Math.abs(pts - (v.editList?.[0]?.mediaTime ?? 0) - (cut * v.timescale) / plan.timescale) < 1;
      });
      assert.ok(k !== undefined, `cut ${cut} is on a keyframe`);
      assert.equal(startsOpenGop(v, k), false, `cut at sample ${k} is a clean keyframe`);
    }
  });
});
