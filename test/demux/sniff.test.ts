// Inputs that are not MP4 (vvf issue 11, F.11): an HLS playlist once gave
// `BOX_INVALID: box type "M3U\n" is not printable` and a text file BOX_OVERRUN. Each kind
// is now named in one UNKNOWN_FORMAT line; HLS playlists of fMP4 segments are read, those of
// MPEG-TS segments refused in one UNSUPPORTED line. Tiny inputs made by ffmpeg in a temp folder.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { SNIFF_BYTES, sniffInput } from '../../src/demux/sniff.js';
import { VvfError } from '../../src/errors.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vvf-sniff-'));

async function ffmpeg(...args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: dir });
}
const video = ['-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=10', '-t', '1'];
const audio = ['-f', 'lavfi', '-i', 'sine', '-t', '1'];

/** openMovie's error for the file: one line, UNKNOWN_FORMAT. */
async function refusal(name: string): Promise<string> {
  try {
    const m = await openMovie(join(dir, name));
    await Promise.all(m.sources.map((s) => s.close()));
  } catch (e) {
    assert.ok(e instanceof VvfError, String(e));
    assert.equal(e.code, 'UNKNOWN_FORMAT', e.message);
    assert.equal(e.message.split('\n').length, 1);
    return e.message;
  }
  assert.fail(`${name} opened`);
}

describe('inputs that are not MP4 are named', () => {
  before(async () => {
    await ffmpeg(...video, ...audio, '-c:v', 'libx264', '-c:a', 'aac', 'x.ts');
    await ffmpeg(...video, '-c:v', 'libx264', 'x.mkv');
    await ffmpeg(...video, '-c:v', 'libvpx-vp9', 'x.webm');
    await ffmpeg(...audio, 'x.mp3');
    await ffmpeg(...audio, '-id3v2_version', '0', '-write_xing', '0', 'bare.mp3');
    await ffmpeg(...audio, '-c:a', 'aac', 'x.aac');
    await ffmpeg(...video, '-c:v', 'libx264', '-g', '5', '-f', 'hls', '-hls_time', '0.5', 'ts.m3u8');
    await ffmpeg(
      ...video,
      ...['-c:v', 'libx264', '-g', '5', '-f', 'hls', '-hls_time', '0.5', '-hls_segment_type', 'fmp4'],
      ...['-hls_fmp4_init_filename', 'f-init.mp4', '-hls_segment_filename', 'f%d.m4s', 'fmp4.m3u8'],
    );
    // A DASH manifest whose segments are WebM: the manifest parses, its segments are not MP4.
    await ffmpeg(
      ...video,
      '-c:v',
      'libvpx-vp9',
      '-g',
      '5',
      '-f',
      'dash',
      '-dash_segment_type',
      'webm',
      '-seg_duration',
      '1',
      'webm.mpd',
    );
    writeFileSync(join(dir, 'page.html'), '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n');
    writeFileSync(join(dir, 'notes.txt'), 'These are the notes for the shoot on Tuesday.\nCamera B ran out of battery.\n');
    writeFileSync(join(dir, 'empty.mp4'), '');
    writeFileSync(join(dir, 'image.png'), Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  });

  test('HLS playlists: fMP4 segments are read, MPEG-TS segments refused naming them', async () => {
    const unsupported = await openMovie(join(dir, 'ts.m3u8')).then(
      () => assert.fail('ts.m3u8 opened'),
      (e: unknown) => e,
    );
    assert.ok(unsupported instanceof VvfError);
    assert.match(unsupported.message, /^UNSUPPORTED: HLS with MPEG-TS segments is not supported \(ts\.m3u8\)/);
    const m = await openMovie(join(dir, 'fmp4.m3u8'));
    await Promise.all(m.sources.map((s) => s.close()));
    assert.deepEqual(
      m.tracks.map((t) => t.kind),
      ['video'],
    );
    const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nts.m3u8\n';
    assert.deepEqual(sniffInput(Buffer.from(master), master.length), { kind: 'hls', detail: 'a multivariant playlist' });
  });

  test('MPEG-TS, Matroska, WebM', async () => {
    assert.match(await refusal('x.ts'), /x\.ts is an MPEG transport stream; not supported as input yet/);
    assert.match(await refusal('x.mkv'), /x\.mkv is a Matroska file \(Matroska\)/);
    assert.match(await refusal('x.webm'), /x\.webm is a Matroska file \(WebM\)/);
  });

  test('MP3 with and without an ID3 tag, ADTS AAC', async () => {
    assert.match(await refusal('x.mp3'), /x\.mp3 is raw MPEG audio \(MP3\)/);
    assert.match(await refusal('bare.mp3'), /bare\.mp3 is raw MPEG audio \(MP3\)/);
    assert.match(await refusal('x.aac'), /x\.aac is raw MPEG audio \(ADTS AAC\)/);
  });

  test('a DASH manifest of WebM segments names the segment (it once gave BOX_INVALID: box type "B…")', async () => {
    assert.match(
      await refusal('webm.mpd'),
      /^UNKNOWN_FORMAT: segment init-stream0\.webm is a Matroska file \(WebM\); not supported as input yet/,
    );
  });

  test('HTML, text, an empty file, an unknown binary', async () => {
    assert.match(await refusal('page.html'), /page\.html is an HTML page, not a video/);
    assert.match(await refusal('notes.txt'), /notes\.txt is a text file, not a video/);
    assert.match(await refusal('empty.mp4'), /empty\.mp4 is empty \(0 bytes\)/);
    assert.match(
      await refusal('image.png'),
      /image\.png is not an MP4 file, a DASH manifest or an HLS playlist \(its first bytes are 89 50 4e 47/,
    );
  });

  test('MP4 files, segments and DASH manifests are still read as such', async () => {
    for (const f of await ensureFixtures()) {
      const head = readFileSync(f.input).subarray(0, SNIFF_BYTES);
      const kind = sniffInput(head, readFileSync(f.input).length).kind;
      assert.equal(kind, f.input.endsWith('.mpd') ? 'xml' : 'mp4', f.input);
    }
    // The HLS fMP4 init segment and media segments are MP4.
    for (const name of ['f-init.mp4', 'f0.m4s']) {
      const bytes = readFileSync(join(dir, name));
      assert.equal(sniffInput(bytes.subarray(0, SNIFF_BYTES), bytes.length).kind, 'mp4', name);
    }
    // A damaged MP4 still gets the box parser's precise error, not "unknown format".
    const junk = Buffer.from([0, 0, 3, 0xe8, 0x66, 0x74, 0x79, 0x70, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(sniffInput(junk, junk.length).kind, 'mp4');
  });

  test('the commands print one line: exit 1 for what the input is, 2 for a playlist given to boxes', async () => {
    const fail = async (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]).then(
        () => assert.fail('succeeded'),
        (e: { code: number; stderr: string }) => e,
      );
    const inspect = await fail('inspect', join(dir, 'ts.m3u8'));
    assert.equal(inspect.code, 1);
    assert.match(inspect.stderr, /^vvf: UNSUPPORTED: HLS with MPEG-TS segments is not supported \(ts\.m3u8\);.*\n$/);
    const text = await fail('inspect', join(dir, 'notes.txt'));
    assert.equal(text.code, 1);
    assert.match(text.stderr, /^vvf: UNKNOWN_FORMAT: notes\.txt is a text file, not a video.*\n$/);
    // boxes lists an MP4's boxes: a playlist is a usage error pointing at its segments.
    const boxes = await fail('boxes', join(dir, 'ts.m3u8'));
    assert.equal(boxes.code, 2);
    assert.match(
      boxes.stderr,
      /^vvf: USAGE: boxes reads MP4 files; for an HLS playlist, pass one of its segments or use vvf inspect.*\n$/,
    );
  });
});
