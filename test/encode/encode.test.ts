// `vvf encode` on the local pool: a 30 s 640x360 source with B-frames and audio, four rungs,
// chunks read through vvf over HTTP, assembled virtually. Every check holds, each rung is as
// good as the same settings encoded in one piece, a killed run resumes without encoding done
// chunks again, and a source without clean cut points is refused or cut with a decoded lead-in.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { checkChunk, compareWithSource } from '../../src/encode/checks.js';
import { chunkArgs } from '../../src/encode/ffmpeg-args.js';
import type { JobState } from '../../src/encode/job-state.js';
import { planChunks } from '../../src/encode/plan.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { movieOfFile } from '../../src/virtual/file-movie.js';
import { presentationFiles } from '../../src/virtual/presentation-file.js';
import { CHROMIUM, launchChromium, WAIT_MS } from '../helpers/chromium.js';
import { GENERATED, generated } from '../helpers/generated-media.js';
import { decodeErrors } from '../helpers/media.js';
import { runVvf } from '../server/server-helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vvf-encode-'));
const LADDER = '360p,288p,240p,180p';
/** A whole encode may take minutes on a loaded machine: the default bound of a vvf run is 20 s. */
const ENCODE_TIMEOUT_MS = 300_000;
const SETTINGS = ['--ladder', LADDER, '--preset', 'veryfast', '--chunk', '10'];

async function psnr(file: string, reference: string, width: number, height: number): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    '-i',
    file,
    '-i',
    reference,
    '-lavfi',
    `[1:v]scale=${width}:${height}:flags=bicubic,setsar=1[ref];[0:v][ref]psnr`,
    '-f',
    'null',
    '-',
  ]);
  const m = /average:([0-9.]+)/.exec(stderr);
  assert.ok(m, stderr);
  return Number(m[1]);
}

async function frameCount(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_packets',
    '-show_entries',
    'stream=nb_read_packets',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(stdout.trim());
}

let src = '';
before(async () => {
  // 30 s, 640x360, 30 fps, 3 B-frames, a keyframe every 2 s (closed GOPs), AAC.
  src = await generated('ladder-source.mp4', [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=500:sample_rate=48000',
    '-t',
    '30',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-bf',
    '3',
    '-g',
    '60',
    '-keyint_min',
    '60',
    '-sc_threshold',
    '0',
    '-c:a',
    'aac',
    '-b:a',
    '96k',
  ]);
});

describe('a four-rung ladder on the local pool', () => {
  const out = join(dir, 'ladder');
  let job: JobState;
  let server: VvfServer;

  before(async () => {
    const r = await runVvf(['encode', src, ...SETTINGS, '-o', out, '--json'], {}, ENCODE_TIMEOUT_MS);
    assert.equal(r.code, 0, r.stderr);
    job = JSON.parse(r.stdout) as JobState;
    server = await startServer(
      { ...defaultServeConfig, port: 0, roots: [GENERATED, out], storePath: join(out, 'vvf.sqlite') },
      { log: () => {} },
    );
  });
  after(() => server?.close());

  test('the job is done, every chunk once, and it published a file per rung and one set', () => {
    assert.equal(job.state, 'done', job.failure);
    assert.equal(job.plan.cuts.length, 3, '30 s in chunks of 10 s');
    assert.ok(job.tasks.every((t) => t.state === 'done' && t.attempts === 1));
    assert.deepEqual(Object.keys(job.published!.rungs), ['360p', '288p', '240p', '180p']);
    assert.ok(job.memory!.coordinator > 0 && job.memory!.encoders > 0, 'peak memory reported');
  });

  test('each rung, served by vvf: every frame of the source, decoding cleanly, in sync', async () => {
    const source = await openMovie(src);
    const plan = planChunks(source, 10);
    for (const [name, id] of Object.entries(job.published!.rungs)) {
      const url = `${server.url}/v/${id}.mp4`;
      assert.equal(await frameCount(url), 900, `${name}: frames`);
      assert.equal(await decodeErrors(url), '', `${name}: decodes`);
      const entry = (await server.catalog.get(id))!;
      assert.deepEqual(compareWithSource(name, await movieOfFile(entry.file), source, plan), [], `${name}: checks`);
    }
    await Promise.all(source.sources.map((s) => s.close()));
  });

  test('the set: every video rendition has the same segment boundaries', async () => {
    const set = (await server.catalog.get(job.published!.presentation))!;
    const index = (await presentationFiles(set.file)).index;
    const videos = index.tracks.filter((t) => t.kind === 'video');
    assert.equal(videos.length, 4);
    const seconds = (t: (typeof videos)[number]) => t.times.slice(0, -1).map((x) => (x - t.presentationTimeOffset) / t.timescale);
    for (const v of videos.slice(1)) assert.deepEqual(seconds(v), seconds(videos[0]!), `${v.id} boundaries`);
    assert.ok(index.sets.find((s) => s.kind === 'video')!.aligned);
    assert.equal(await decodeErrors(`${server.url}/v/${set.id}/manifest.mpd`), '');
  });

  test('each rung is within 0.3 dB PSNR and 5 % size of the same settings in one piece', async () => {
    for (const rung of job.rungs) {
      const whole = join(dir, `whole-${rung.name}.mp4`);
      const settings = { codec: 'h264' as const, gopSeconds: 2, preset: 'veryfast' };
      await run('ffmpeg', chunkArgs(src, [{ ...rung }], [whole], settings));
      const chunked = join(dir, `chunked-${rung.name}.mp4`);
      const pieces = job.plan.cuts.map((_, i) => ({
        tracks: [{ source: join(out, 'chunks', rung.name, `${String(i).padStart(4, '0')}.mp4`) }],
      }));
      const compiled = await compileRecipe(parseRecipe({ pieces }));
      const { materialize } = await import('../../src/cli/materialize.js');
      await materialize(compiled.file, chunked, { progress: false });
      await compiled.close();
      const ours = await psnr(chunked, src, rung.width, rung.height);
      const theirs = await psnr(whole, src, rung.width, rung.height);
      assert.ok(ours >= theirs - 0.3, `${rung.name}: PSNR ${ours} dB chunked vs ${theirs} dB in one piece`);
      const ratio = statSync(chunked).size / statSync(whole).size;
      assert.ok(Math.abs(ratio - 1) <= 0.05, `${rung.name}: size ratio ${ratio}`);
    }
  });

  test('a check that fails names the chunk and the rung', async () => {
    const source = await openMovie(src);
    const plan = planChunks(source, 10);
    // Chunk 1 of the 360p rung cut short: its check names it; the whole rung then misses frames.
    const short = join(dir, 'short-chunk.mp4');
    const cut = await compileRecipe(parseRecipe({ tracks: [{ source: join(out, 'chunks', '360p', '0001.mp4') }], end: 5 }));
    const { materialize } = await import('../../src/cli/materialize.js');
    await materialize(cut.file, short, { progress: false });
    await cut.close();
    const movie = await openMovie(short);
    assert.deepEqual(
      checkChunk('360p', 1, movie, plan).map((f) => [f.rung, f.chunk, f.check]),
      [['360p', 1, 'frames']],
    );
    const good = await openMovie(join(out, 'chunks', '360p', '0001.mp4'));
    assert.deepEqual(checkChunk('360p', 1, good, plan), []);
    const pieces = [0, 1, 2].map((i) => ({ tracks: [{ source: i === 1 ? short : join(out, 'chunks', '360p', `000${i}.mp4`) }] }));
    const compiled = await compileRecipe(parseRecipe({ pieces, alongside: [{ tracks: [{ source: src, kind: 'audio' }] }] }));
    const failures = compareWithSource('360p', await movieOfFile(compiled.file), source, plan);
    assert.equal(failures[0]?.check, 'frames');
    await compiled.close();
    for (const m of [source, movie, good]) await Promise.all(m.sources.map((s) => s.close()));
  });

  test('Chromium plays the published set with dash.js and plays on across a chunk join after a seek', {
    timeout: 120_000,
  }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing`);
    const profile = mkdtempSync(join(tmpdir(), 'vvf-encode-chromium-'));
    const context = await launchChromium(profile);
    try {
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const wait = (condition: string) => page.waitForFunction(condition, undefined, { timeout: WAIT_MS });
      const video = 'document.querySelector("video")';
      await page.goto(`${server.url}/v/${job.published!.presentation}/player.html?player=dashjs&buffer=4`, { waitUntil: 'load' });
      await wait('window.vvf && window.vvf.ready');
      await page.evaluate(`${video}.play()`);
      await wait(`${video}.currentTime > 1 && ${video}.videoWidth > 0`);
      // Just before the first join (chunk 0 ends at 10 s): playback crosses it.
      const join0 = job.plan.cuts[1]! / job.plan.timescale;
      await page.evaluate(`${video}.currentTime = ${join0 - 1}`);
      await wait(`${video}.currentTime > ${join0 + 1} && !${video}.paused`);
      // A seek into the middle of the second chunk lands within a GOP (2 s) and plays on.
      await page.evaluate(
        `(() => { const v = ${video}; window.vvfSeeked = null;
          v.addEventListener('seeked', () => { window.vvfSeeked = v.currentTime; }, { once: true });
          v.currentTime = ${join0 + 5}; })()`,
      );
      await wait('window.vvfSeeked !== null');
      const landed = (await page.evaluate('window.vvfSeeked')) as number;
      assert.ok(Math.abs(landed - (join0 + 5)) <= 2, `landed at ${landed}`);
      await wait(`${video}.currentTime > ${landed + 1} && !${video}.paused`);
      const errors = ((await page.evaluate('window.vvfEvents')) as { type: string }[]).filter((e) => e.type === 'error');
      assert.deepEqual(errors, []);
      assert.deepEqual(pageErrors, []);
      assert.equal(await page.evaluate(`${video}.error`), null);
    } finally {
      await context.close();
    }
  });

  test('--status tells what the job did', async () => {
    const text = await runVvf(['encode', '--status', out]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /: done, 4 of 4 tasks done/);
    assert.match(text.stdout, /published: 360p \/v\//);
    const json = await runVvf(['encode', '--status', out, '--json']);
    assert.equal((JSON.parse(json.stdout) as JobState).state, 'done');
    const none = await runVvf(['encode', '--status', join(dir, 'nothing')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no encode job/);
  });
});

test('a run killed mid-way resumes: chunks done before are not encoded again', async () => {
  const out = join(dir, 'resume');
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'encode', src, ...SETTINGS, '--jobs', '1', '-o', out];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: 'ignore' });
  const jobFile = join(out, 'job.json');
  const deadline = Date.now() + 120_000;
  let doneBefore: string[] = [];
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    if (!existsSync(jobFile)) continue;
    const job = JSON.parse(readFileSync(jobFile, 'utf8')) as JobState;
    doneBefore = job.tasks.filter((t) => t.state === 'done' && t.id.startsWith('chunk')).map((t) => t.id);
    if (doneBefore.length >= 1) break;
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(doneBefore.length >= 1 && doneBefore.length < 3, `killed after ${doneBefore.length} chunks`);
  const stamp = (id: string) => statSync(join(out, 'chunks', '360p', `${id.slice('chunk-'.length)}.mp4`)).mtimeMs;
  const before = doneBefore.map(stamp);
  const r = await runVvf(['encode', src, ...SETTINGS, '-o', out, '--json'], {}, ENCODE_TIMEOUT_MS);
  assert.equal(r.code, 0, r.stderr);
  const job = JSON.parse(r.stdout) as JobState;
  assert.equal(job.state, 'done', job.failure);
  assert.deepEqual(doneBefore.map(stamp), before, 'chunks done before the kill were kept as they were');
});

test('no closed-GOP keyframe to cut at: refused, or cut anywhere with --chunk-fallback decode', async () => {
  const single = await generated('one-keyframe.mp4', [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x180:rate=25',
    '-t',
    '12',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    '1000',
    '-keyint_min',
    '1000',
    '-sc_threshold',
    '0',
  ]);
  const refused = await runVvf(
    ['encode', single, '--ladder', '180p', '--chunk', '4', '-o', join(dir, 'refused')],
    {},
    ENCODE_TIMEOUT_MS,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /no keyframe that starts a closed GOP.*--chunk-fallback decode/);
  const out = join(dir, 'fallback');
  const r = await runVvf(
    ['encode', single, '--ladder', '180p,144p', '--chunk', '4', '--chunk-fallback', 'decode', '-o', out, '--json'],
    {},
    ENCODE_TIMEOUT_MS,
  );
  assert.equal(r.code, 0, r.stderr);
  const job = JSON.parse(r.stdout) as JobState;
  assert.equal(job.state, 'done', job.failure);
  assert.equal(job.plan.cuts.length, 3);
  assert.ok(job.plan.decodeFallback);
});

test('a DASH manifest as the source: its best video and audio representations, each chunk reading only its own', async () => {
  const { ensureFixtures } = await import('../../scripts/fixtures.js');
  const f = (await ensureFixtures()).find((x) => x.name === 'dash-template-time')!;
  const out = join(dir, 'from-dash');
  const r = await runVvf(
    ['encode', f.input, '--ladder', '180p', '--preset', 'veryfast', '--chunk', '2', '-o', out, '--json'],
    {},
    ENCODE_TIMEOUT_MS,
  );
  assert.equal(r.code, 0, r.stderr);
  const job = JSON.parse(r.stdout) as JobState;
  assert.equal(job.state, 'done', job.failure);
  assert.ok(job.plan.cuts.length >= 2);
  const video = f.streams.find((s) => s.kind === 'video')!;
  const server = await startServer(
    { ...defaultServeConfig, port: 0, roots: [out, join(f.input, '..')], storePath: join(out, 'vvf.sqlite') },
    { log: () => {} },
  );
  try {
    const url = `${server.url}/v/${job.published!.rungs['180p']}.mp4`;
    assert.equal(await frameCount(url), await frameCount(video.probeFile));
  } finally {
    await server.close();
  }
});
