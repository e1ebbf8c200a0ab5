// Seeking into joined files (issue 11 B.3): clips encoded separately with other parameter
// sets (profile, GOP, crf, B-frames) joined one after another must decode from every
// keyframe a player can seek to — in ffmpeg (`-ss`) and in Chromium — for H.264 and HEVC.
// Before, only each piece's first frame carried its parameter sets in band, and ffmpeg 5.1
// (its edit list handling moves the switch of sample description) decoded a later piece with
// another's SPS: "illegal memory management control operation", "Reference 6 >= 2", and
// Chromium stopped with PIPELINE_ERROR_DECODE.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { materialize } from '../../src/cli/materialize.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { hasChromium, launchChromium, WAIT_MS } from '../helpers/chromium.js';
import { serveFolder } from '../helpers/static-server.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vvf-seek-joined-'));
const SECONDS = 4;
const FPS = 25;

interface Clip {
  file: string;
  /** Presentation times of the keyframes, in seconds, as ffprobe reports them (edit list applied). */
  keyframes: number[];
}

async function encode(name: string, codecArgs: string[]): Promise<Clip> {
  const file = join(dir, `${name}.mp4`);
  await run('ffmpeg', [
    ...`-v error -y -f lavfi -i testsrc2=size=320x240:rate=${FPS}:duration=${SECONDS}`.split(' '),
    ...codecArgs,
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    file,
  ]);
  const { stdout } = await run('ffprobe', [
    ...'-v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0'.split(' '),
    file,
  ]);
  const keyframes = stdout
    .split('\n')
    .filter((l) => /,K/.test(l))
    .map((l) => Number(l.split(',')[0]))
    .filter((t) => t >= 0)
    .sort((a, b) => a - b);
  return { file, keyframes };
}

/** Hashes of the first `frames` video frames decoded from `seconds` on, and ffmpeg's complaints. */
async function decodeFrom(file: string, seconds: number, frames: number): Promise<{ hashes: string[]; errors: string }> {
  const { stdout, stderr } = await run(
    'ffmpeg',
    ['-v', 'error', '-ss', seconds.toFixed(6), '-i', file, '-map', '0:v', '-frames:v', String(frames), '-f', 'framemd5', '-'],
    { maxBuffer: 64 << 20 },
  );
  const hashes = stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(',')[5]?.trim() ?? '');
  return { hashes, errors: stderr.trim() };
}

interface Joined {
  file: string;
  /** Bytes of parameter sets the join put in band, and at how many keyframes. */
  inBandBytes: number;
  prefixed: number;
  keyframes: number;
  formats: string[];
  codecs: string[];
}

async function join3(name: string, clips: Clip[]): Promise<Joined> {
  const compiled = await compileRecipe(parseRecipe({ pieces: clips.map((c) => ({ tracks: [c.file] })) }));
  const out = join(dir, `${name}.mp4`);
  try {
    await materialize(compiled.file, out, { progress: false });
    const track = compiled.composition.tracks[0]!;
    let inBandBytes = 0;
    for (const p of track.prefixes.values()) inBandBytes += p.length;
    let keyframes = 0;
    for (let i = 0; i < track.samples.count; i++) keyframes += track.samples.sync[i] ?? 0;
    return {
      file: out,
      inBandBytes,
      prefixed: track.prefixes.size,
      keyframes,
      formats: track.descriptions.map((d) => d.format),
      codecs: track.descriptions.map((d) => d.codec),
    };
  } finally {
    await compiled.close();
  }
}

/** Every keyframe of every piece: ffmpeg seeks there without an error and decodes the source's frames. */
async function checkSeeks(joined: Joined, clips: Clip[]): Promise<number> {
  let checked = 0;
  for (const [p, clip] of clips.entries()) {
    for (const k of clip.keyframes) {
      const want = await decodeFrom(clip.file, k, 2 * FPS);
      assert.equal(want.errors, '', `source ${p + 1} from ${k} s decodes`);
      const got = await decodeFrom(joined.file, p * SECONDS + k, want.hashes.length);
      assert.equal(got.errors, '', `no decode error seeking to ${p * SECONDS + k} s (piece ${p + 1}, its keyframe at ${k} s)`);
      assert.deepEqual(got.hashes, want.hashes, `the source's frames from ${p * SECONDS + k} s (piece ${p + 1})`);
      checked++;
    }
  }
  return checked;
}

const h264: Clip[] = [];
const hevc: Clip[] = [];
let hasX265 = false;

before(async () => {
  h264.push(
    await encode('baseline', '-c:v libx264 -profile:v baseline -g 25 -crf 30'.split(' ')),
    await encode('main', '-c:v libx264 -profile:v main -g 37 -bf 2 -crf 20'.split(' ')),
    await encode('high', '-c:v libx264 -profile:v high -g 50 -bf 3 -refs 4 -crf 25'.split(' ')),
  );
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-encoders']);
  hasX265 = /libx265/.test(stdout);
  if (hasX265) {
    const x265 = (params: string, crf: number, tag: string) => [
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-crf',
      String(crf),
      '-tag:v',
      tag,
      '-x265-params',
      `log-level=error:${params}`,
    ];
    hevc.push(
      await encode('hevc-a', x265('keyint=25:min-keyint=25:bframes=0', 32, 'hvc1')),
      await encode('hevc-b', x265('keyint=40:min-keyint=40:bframes=4:ref=3', 22, 'hev1')),
      await encode('hevc-c', x265('keyint=60:min-keyint=60:bframes=2:open-gop=0', 27, 'hvc1')),
    );
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('seeking into joined files', () => {
  test('H.264 pieces with other profiles, GOPs and crf: ffmpeg -ss at every keyframe of every piece', async (t) => {
    const joined = await join3('joined-h264', h264);
    const checked = await checkSeeks(joined, h264);
    assert.deepEqual(joined.formats, ['avc3'], 'one description whose samples carry their parameter sets');
    assert.equal(joined.prefixed, joined.keyframes, 'parameter sets in band at every keyframe');
    // The entry declared is the piece asking most of a decoder: High profile (0x64), not the first piece's Baseline.
    assert.match(joined.codecs[0] ?? '', /^avc3\.64/);
    assert.ok(checked >= 9, `${checked} keyframes checked`);
    // Measured: 37 bytes (SPS + PPS with their length fields) per keyframe here.
    assert.ok(joined.inBandBytes <= 64 * joined.keyframes, `${joined.inBandBytes} bytes in band`);
    t.diagnostic(`H.264: ${joined.inBandBytes} bytes in band at ${joined.keyframes} keyframes, ${checked} seeks checked`);
  });

  test('HEVC pieces (libx265, hvc1 and hev1, other GOPs, B-frames and crf): ffmpeg -ss at every keyframe', async (t) => {
    if (!hasX265) {
      t.skip('ffmpeg has no libx265');
      return;
    }
    const joined = await join3('joined-hevc', hevc);
    const checked = await checkSeeks(joined, hevc);
    assert.deepEqual(joined.formats, ['hev1']);
    assert.equal(joined.prefixed, joined.keyframes);
    // VPS + SPS + PPS, without the SEI x265 keeps in hvcC.
    assert.ok(joined.inBandBytes <= 160 * joined.keyframes, `${joined.inBandBytes} bytes in band`);
    assert.ok(checked >= 6, `${checked} keyframes checked`);
    t.diagnostic(`HEVC: ${joined.inBandBytes} bytes in band at ${joined.keyframes} keyframes, ${checked} seeks checked`);
  });

  test('Chromium seeks into each piece (and back) and plays on without a decode error', { timeout: 120_000 }, async (t) => {
    assert.ok(hasChromium(), 'chromium is missing: `make system-deps` installs it');
    const files = [await join3('play-h264', h264)];
    if (hasX265) files.push(await join3('play-hevc', hevc));
    const server = await serveFolder(dir);
    const profile = mkdtempSync(join(tmpdir(), 'vvf-chromium-profile-'));
    const context = await launchChromium(profile);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(WAIT_MS);
      for (const joined of files) {
        const name = joined.file.slice(dir.length + 1);
        writeFileSync(join(dir, 'page.html'), `<!doctype html><video muted preload="auto" src="/${name}"></video>`);
        await page.goto(`${server.url}/page.html`);
        const type = name.includes('h264') ? 'video/mp4; codecs="avc3.42c00d"' : 'video/mp4; codecs="hev1.1.6.L93.B0"';
        if ((await page.evaluate(`document.querySelector('video').canPlayType(${JSON.stringify(type)})`)) === '') {
          t.diagnostic(`this Chromium does not play ${type}: ${name} checked with ffmpeg only`);
          continue;
        }
        await page.evaluate(`document.querySelector('video').play()`);
        await page.waitForFunction(`document.querySelector('video').currentTime > 0.5`);
        // Into the last piece, the middle one, back into the first, and into the middle again:
        // each time on a keyframe of the piece and off one.
        const targets = [2 * SECONDS + 2.2, SECONDS, 0.6, SECONDS + 2.1, 2 * SECONDS];
        for (const target of targets) {
          await page.evaluate(
            `(() => { const v = document.querySelector('video'); window.vvfSeeked = null; v.addEventListener('seeked', () => { window.vvfSeeked = v.currentTime; }, { once: true }); v.currentTime = ${target}; v.play(); })()`,
          );
          await page.waitForFunction('window.vvfSeeked !== null || document.querySelector("video").error !== null');
          const end = Math.min(target + 1, 3 * SECONDS - 0.2);
          await page.waitForFunction(
            `(() => { const v = document.querySelector('video'); return v.error !== null || (v.currentTime > ${end} && !v.paused) || v.ended; })()`,
          );
          const state = (await page.evaluate(
            `(() => { const v = document.querySelector('video'); const q = v.getVideoPlaybackQuality(); return { error: v.error && v.error.message, time: v.currentTime, frames: q.totalVideoFrames }; })()`,
          )) as { error: string | null; time: number; frames: number };
          assert.equal(state.error, null, `${name}: seek to ${target} s`);
          assert.ok(state.time > target, `${name}: played on past ${target} s (at ${state.time})`);
        }
        t.diagnostic(`${name}: ${targets.length} seeks played on`);
      }
    } finally {
      await context.close().catch(() => {});
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
