// `vvf package`: a presentation written to a directory, read back by ffmpeg from the files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { framemd5, samePackets } from '../helpers/media.js';
import { runVvf } from '../server/server-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-package-'));

describe('vvf package', () => {
  let dash: Fixture;
  before(async () => {
    dash = (await ensureFixtures()).find((f) => f.name === 'dash-template-time')!;
  });

  test('a DASH source as DASH and HLS files: every stream gives ffmpeg the source packets from disk', async () => {
    const out = join(dir, 'both');
    const r = await runVvf(['package', '--video', dash.input, '--audio', dash.input, '--segment', '2', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*manifest\.mpd, manifest\.m3u8/);
    assert.deepEqual(readdirSync(join(out, 'v1')).sort().slice(0, 2), ['1.m4s', '2.m4s']);
    for (const stream of dash.streams) {
      const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex, { ignoreEditlist: true });
      for (const m of ['manifest.mpd', 'manifest.m3u8']) {
        const ours = await framemd5(join(out, m), `${stream.kind === 'video' ? 'v' : 'a'}:0`);
        assert.equal(samePackets(ours, theirs), undefined, `${stream.kind} through ${m}`);
      }
    }
  });

  test('--single --dash: one file per rendition and an on-demand MPD, nothing else', async () => {
    const out = join(dir, 'single');
    const r = await runVvf(['package', dash.input, '--dash', '--single', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['a1.mp4', 'manifest-single.mpd', 'v1.mp4']);
    const video = dash.streams.find((s) => s.kind === 'video')!;
    const ours = await framemd5(join(out, 'manifest-single.mpd'), 'v:0');
    assert.equal(samePackets(ours, await framemd5(video.probeFile, video.probeStreamIndex, { ignoreEditlist: true })), undefined);
  });

  test('a recipe file keeps its layout; --print-recipe shows what would be packaged', async () => {
    const recipe = join(dir, 'hls.json');
    writeFileSync(recipe, JSON.stringify({ layout: 'hls', segment: '3/2', tracks: [{ source: dash.input, kind: 'video' }] }));
    const printed = await runVvf(['package', recipe, '--print-recipe']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.deepEqual(JSON.parse(printed.stdout).layout, 'hls');
    const out = join(dir, 'from-recipe');
    const r = await runVvf(['package', recipe, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(out, 'manifest.m3u8')) && !existsSync(join(out, 'manifest.mpd')));
  });

  test('two audio languages: two audio sets in the MPD, two renditions of one group in HLS, each the source stream', async () => {
    const source = join(dir, 'langs.mp4');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x180:rate=25:duration=6',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:duration=6',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=660:duration=6',
      '-map',
      '0',
      '-map',
      '1',
      '-map',
      '2',
      '-c:v',
      'libx264',
      '-g',
      '50',
      '-c:a',
      'aac',
      '-metadata:s:a:0',
      'language=eng',
      '-metadata:s:a:1',
      'language=fra',
      '-y',
      source,
    ]);
    const out = join(dir, 'langs');
    const r = await runVvf(['package', source, '--segment', '2', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const mpd = readFileSync(join(out, 'manifest.mpd'), 'utf8');
    assert.deepEqual(
      [...mpd.matchAll(/<AdaptationSet [^>]*contentType="audio"[^>]*lang="(\w+)"/g)].map((m) => m[1]),
      ['en', 'fr'],
    );
    const multivariant = readFileSync(join(out, 'manifest.m3u8'), 'utf8');
    const media = multivariant.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    assert.equal(media.length, 2);
    assert.match(media[0]!, /LANGUAGE="en"/);
    assert.match(media[1]!, /LANGUAGE="fr"/);
    assert.equal(new Set(media.map((l) => /GROUP-ID="([^"]+)"/.exec(l)?.[1])).size, 1, 'one group, two languages');
    for (const k of [0, 1]) {
      const theirs = await framemd5(source, `a:${k}`);
      for (const m of ['manifest.mpd', 'manifest.m3u8']) {
        const ours = await framemd5(join(out, m), `a:${k}`);
        assert.equal(samePackets(ours, theirs), undefined, `audio ${k} through ${m}`);
      }
    }
  });

  test('usage errors name what is wrong', async () => {
    const noOut = await runVvf(['package', dash.input]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /give -o <dir>/);
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const notDir = await runVvf(['package', dash.input, '-o', file]);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /is not a directory/);
    const help = await runVvf(['package', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /package <recipe\.json \| input…> -o DIR/);
  });
});
