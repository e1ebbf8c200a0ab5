// vvf inspect next to ffprobe: channels from the decoder configuration, durations after edit lists,
// frame rate, profile/level, pixel format, colour, aspect ratio and language, on real files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { type MovieSummary, summarizeMovie, type TrackSummary } from '../../src/model/summary.js';

const run = promisify(execFile);

interface ProbedStream {
  index: number;
  id?: string;
  codec_type: string;
  codec_name?: string;
  profile?: string;
  level?: number;
  pix_fmt?: string;
  color_range?: string;
  color_space?: string;
  color_primaries?: string;
  color_transfer?: string;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  channels?: number;
  channel_layout?: string;
  sample_rate?: string;
  duration?: string;
  start_time?: string;
  tags?: { language?: string };
}

async function ffprobe(file: string): Promise<{ streams: ProbedStream[]; format: { duration?: string } }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], {
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration?: string } };
}

async function summarize(file: string): Promise<MovieSummary> {
  const movie = await openMovie(file);
  try {
    return summarizeMovie(movie);
  } finally {
    await Promise.all(movie.sources.map((s) => s.close()));
  }
}

async function ffmpeg(dir: string, ...args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: dir });
}

/** Asserts every field ffprobe and vvf both report agrees; returns how many fields were compared. */
function compareStream(where: string, t: TrackSummary, p: ProbedStream, fragmented: boolean): number {
  let compared = 0;
  const same = (what: string, ours: unknown, theirs: unknown): void => {
    assert.equal(ours, theirs, `${where}: ${what}`);
    compared++;
  };
  same('codec_name', t.codecName, p.codec_name);
  if (p.profile !== undefined && p.profile !== 'unknown') same('profile', t.profile, p.profile);
  // ffprobe prints -99 (unknown) for VP9, whose decoder does not set a level.
  if (p.level !== undefined && p.level !== -99 && t.kind === 'video') same('level', t.level, p.level);
  // ffmpeg estimates the stream durations of fragmented files from whatever the fragments end
  // with (an audio track can get the video's end); the format duration is still compared.
  if (p.duration !== undefined && !fragmented) {
    assert.ok(
      Math.abs(t.durationSeconds - Number(p.duration)) < 0.0015,
      `${where}: duration ${t.durationSeconds} vs ffprobe ${p.duration}`,
    );
    compared++;
  }
  // With negative composition offsets ffmpeg moves a fragmented track's presentation later by
  // the largest negative offset (its dts_shift); vvf reports the times the file holds.
  if (p.start_time !== undefined && !fragmented) {
    assert.ok(
      Math.abs(t.startSeconds - Number(p.start_time)) < 0.0015,
      `${where}: start ${t.startSeconds} vs ffprobe ${p.start_time}`,
    );
    compared++;
  }
  same('language', t.language, p.tags?.language ?? 'und');
  if (p.codec_type === 'video') {
    same('pix_fmt', t.pixelFormat, p.pix_fmt);
    same('avg_frame_rate', t.frameRate && `${t.frameRate.num}/${t.frameRate.den}`, p.avg_frame_rate);
    if (t.sampleAspectRatio !== undefined) same('sample_aspect_ratio', t.sampleAspectRatio, p.sample_aspect_ratio);
    const c = t.colour ?? { from: 'none' };
    // Only what both know: ffprobe may read the HEVC VUI, which vvf does not parse.
    if (c.range !== undefined) same('color_range', c.range, p.color_range);
    if (c.primaries !== undefined) same('color_primaries', c.primaries, p.color_primaries);
    if (c.transfer !== undefined) same('color_transfer', c.transfer, p.color_transfer);
    if (c.matrix !== undefined) same('color_space', c.matrix, p.color_space);
  } else if (p.codec_type === 'audio') {
    same('channels', t.channelCount, p.channels);
    same('channel_layout', t.channelLayout, p.channel_layout);
    same('sample_rate', t.sampleRate, Number(p.sample_rate));
  }
  return compared;
}

async function compareFile(file: string): Promise<{ summary: MovieSummary; compared: number }> {
  const [summary, probed] = await Promise.all([summarize(file), ffprobe(file)]);
  let compared = 0;
  for (const p of probed.streams) {
    const t = summary.tracks.find((x) => x.id === Number.parseInt(p.id ?? 'x', 16)) ?? summary.tracks[p.index];
    assert.ok(t, `${file}: a track for ffprobe stream ${p.index}`);
    compared += compareStream(`${file} stream ${p.index}`, t, p, summary.layout.kind !== 'progressive');
  }
  if (probed.format.duration !== undefined && summary.layout.kind === 'progressive') {
    assert.ok(
      Math.abs(summary.durationSeconds - Number(probed.format.duration)) < 0.0015,
      `${file}: format duration ${summary.durationSeconds} vs ${probed.format.duration}`,
    );
  }
  return { summary, compared };
}

test('inspect agrees with ffprobe on every single-file fixture', async () => {
  const fixtures = (await ensureFixtures()).filter((f) => !f.input.endsWith('.mpd'));
  assert.ok(fixtures.length >= 5);
  for (const f of fixtures) {
    const { compared } = await compareFile(f.input);
    assert.ok(compared >= 10, `${f.name}: ${compared} fields compared`);
  }
});

test('mono AAC is 1 channel, mono (the entry says 2); 5.1 AAC, AC-3 and Opus name their layouts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-inspect-'));
  const tone = (rate: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:duration=2:sample_rate=${rate}`];
  await ffmpeg(dir, ...tone(44100), '-c:a', 'aac', '-ac', '1', 'mono.mp4');
  await ffmpeg(dir, ...tone(48000), '-c:a', 'aac', '-ac', '6', 'aac51.mp4');
  await ffmpeg(dir, ...tone(48000), '-c:a', 'ac3', '-ac', '6', 'ac3.mp4');
  await ffmpeg(dir, ...tone(48000), '-c:a', 'libopus', '-ac', '1', 'opus-mono.mp4');
  const mono = await compareFile(join(dir, 'mono.mp4'));
  const t = mono.summary.tracks[0]!;
  assert.equal(t.channelCount, 1);
  assert.equal(t.channelLayout, 'mono');
  assert.equal(t.profile, 'LC');
  for (const name of ['aac51.mp4', 'ac3.mp4', 'opus-mono.mp4']) await compareFile(join(dir, name));
  const text = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', join(dir, 'mono.mp4')]);
  assert.match(text.stdout, /mp4a\.40\.2, 44100 Hz, mono \(1 ch\), language und\n {4}aac LC\n/);
});

test('durations after edit lists: priming and delays as ffprobe counts them; edits shown in seconds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-inspect-'));
  // Audio delayed by half a second: ffmpeg writes an empty edit before the audio's own edit.
  await ffmpeg(
    dir,
    ...['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=3', '-itsoffset', '0.5'],
    ...['-f', 'lavfi', '-i', 'sine=duration=2:sample_rate=48000'],
    ...['-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '1'],
    ...['-metadata:s:a:0', 'language=fra', 'delayed.mp4'],
  );
  const { summary } = await compareFile(join(dir, 'delayed.mp4'));
  const audio = summary.tracks.find((x) => x.kind === 'audio')!;
  assert.equal(audio.language, 'fra');
  assert.ok(audio.editList && audio.editList.length === 2, 'an empty edit and the media edit');
  assert.equal(audio.editList[0]!.mediaTimeSeconds, null);
  // ffmpeg takes the priming off the delay (0.5 s - 1024/48000 s, rounded to the movie's ms).
  assert.ok(Math.abs(audio.editList[0]!.segmentDurationSeconds - 0.478) < 0.002);
  assert.ok(Math.abs(audio.startSeconds - 0.478) < 0.002);
  const text = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', join(dir, 'delayed.mp4')]);
  assert.match(text.stdout, /edit list: empty 0\.478 s, media 0\.000 s for 2\.02\d s/);
  assert.match(text.stdout, /language fra/);
  assert.match(text.stdout, /starts at 0\.478 s, duration 0:02\.02\d \(media 0:02\.021\)/);
  assert.match(text.stdout, /25 fps/);

  // The case from the report: AAC priming made 5.021 where ffprobe says 5.000.
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart')!;
  const fixture = await summarize(f.input);
  assert.equal(fixture.durationSeconds, 5);
  assert.ok(fixture.headerDurationSeconds > 5);
  assert.equal(fixture.tracks.find((x) => x.kind === 'audio')!.durationSeconds, 5);
});

test('colour and aspect ratio from colr/pasp and the SPS, as ffprobe reads them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-inspect-'));
  await ffmpeg(
    dir,
    ...['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30000/1001:duration=1', '-vf', 'setsar=4/3'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p'],
    ...['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv', 'bt709.mp4'],
  );
  await ffmpeg(
    dir,
    ...['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=1'],
    ...[
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error',
      '-pix_fmt',
      'yuv420p10le',
      '-tag:v',
      'hvc1',
    ],
    ...['-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc', 'hdr.mp4'],
  );
  const sd = (await compareFile(join(dir, 'bt709.mp4'))).summary.tracks[0]!;
  assert.equal(sd.sampleAspectRatio, '4:3');
  assert.equal(sd.profile, 'Constrained Baseline');
  assert.deepEqual(sd.frameRate && [sd.frameRate.num, sd.frameRate.den], [30000, 1001]);
  assert.deepEqual(sd.colour, { primaries: 'bt709', transfer: 'bt709', matrix: 'bt709', range: 'tv', from: 'colr' });
  const hdr = (await compareFile(join(dir, 'hdr.mp4'))).summary.tracks[0]!;
  assert.equal(hdr.pixelFormat, 'yuv420p10le');
  assert.equal(hdr.bitDepth, 10);
  assert.equal(hdr.profile, 'Main 10');
  assert.equal(hdr.colour?.transfer, 'smpte2084');
  assert.equal(hdr.colour?.range, 'tv');
});

test('inspect of DASH manifests agrees with ffprobe on each representation', async () => {
  const fixtures = (await ensureFixtures()).filter((f) => f.input.endsWith('.mpd'));
  assert.ok(fixtures.length >= 3);
  for (const f of fixtures) {
    const summary = await summarize(f.input);
    for (const stream of f.streams) {
      const t = summary.tracks.find((x) => x.representationId === stream.representationId);
      assert.ok(t, `${f.name}: representation ${stream.representationId}`);
      const p = (await ffprobe(stream.probeFile)).streams[stream.probeStreamIndex]!;
      // Durations and starts of segmented files are ffmpeg's estimates: compared in the other tests.
      compareStream(`${f.name} ${stream.representationId}`, t, { ...p, duration: undefined, start_time: undefined }, true);
    }
  }
});
