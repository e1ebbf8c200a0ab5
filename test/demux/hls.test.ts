// HLS as input: the playlist parser, and ffmpeg-made presentations (renditions, a single file of byte ranges, two
// clips joined by EXT-X-DISCONTINUITY, MPEG-TS segments) read from files and over HTTP into the model, checked
// against ffprobe's packets and through a compiled progressive file against ffmpeg's.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ensureHlsFixtures, type HlsFixtures } from '../../scripts/hls-fixtures.js';
import { type HlsMediaPlaylist, type HlsMultivariantPlaylist, parseM3u8 } from '../../src/demux/m3u8.js';
import { openMovie, splitManifestFragment } from '../../src/demux/open-movie.js';
import { type ErrorCode, VvfError } from '../../src/errors.js';
import type { Movie, Track } from '../../src/model/movie.js';
import { openSource } from '../../src/sources/open-source.js';
import { SourcePolicy } from '../../src/sources/source-policy.js';
import { decodeErrors, type FramePacket, framemd5, samePackets } from '../helpers/media.js';
import { writeRecipeFile } from '../helpers/recipe-file.js';
import { type StaticServer, serveFolder } from '../helpers/static-server.js';
import { type ProbeStream, probePackets } from '../oracle/ffprobe.js';

const BASE = 'https://cdn.example.com/show/master.m3u8';

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<string> {
  let msg = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    msg = e.message;
    return true;
  });
  return msg;
}

function media(text: string, url = BASE): HlsMediaPlaylist {
  const p = parseM3u8(text, url);
  assert.equal(p.kind, 'media');
  return p as HlsMediaPlaylist;
}

describe('m3u8 parser', () => {
  test('a multivariant playlist: variants with quoted attributes, renditions with URIs, URIs resolved', () => {
    const p = parseM3u8(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English, stereo",LANGUAGE="en",DEFAULT=YES,URI="audio/en.m3u8"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="en",URI="/subs/en.m3u8"',
        '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc1",INSTREAM-ID="CC1"',
        '#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="aac"',
        '',
        '720p/index.m3u8',
        '# a comment',
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="720p/iframes.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=640000',
        'https://other.example.com/360p.m3u8?token=a,b',
      ].join('\r\n'),
      BASE,
    ) as HlsMultivariantPlaylist;
    assert.equal(p.kind, 'multivariant');
    assert.deepEqual(p.variants, [
      {
        url: 'https://cdn.example.com/show/720p/index.m3u8',
        bandwidth: 1280000,
        averageBandwidth: 1000000,
        codecs: 'avc1.64001f,mp4a.40.2',
        width: 1280,
        height: 720,
        audio: 'aac',
      },
      { url: 'https://other.example.com/360p.m3u8?token=a,b', bandwidth: 640000 },
    ]);
    assert.deepEqual(p.renditions, [
      {
        type: 'AUDIO',
        url: 'https://cdn.example.com/show/audio/en.m3u8',
        groupId: 'aac',
        name: 'English, stereo',
        language: 'en',
        isDefault: true,
      },
      { type: 'SUBTITLES', url: 'https://cdn.example.com/subs/en.m3u8', groupId: 'subs', name: 'en', isDefault: false },
    ]);
  });

  test('a media playlist: EXTINF, EXT-X-MAP with BYTERANGE, byte ranges with and without offset, discontinuities', () => {
    const p = media(
      [
        '\uFEFF#EXTM3U',
        '#EXT-X-TARGETDURATION:4',
        '#EXT-X-KEY:METHOD=NONE',
        '#EXT-X-MAP:URI="main.mp4",BYTERANGE="720@0"',
        '#EXTINF:4.004,',
        '#EXT-X-BYTERANGE:1000@720',
        'main.mp4',
        '#EXTINF:4.004,title',
        '#EXT-X-BYTERANGE:2000',
        'main.mp4',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="../other/init.mp4"',
        '#EXTINF:2',
        'seg 1.m4s',
        '#EXT-X-ENDLIST',
      ].join('\n'),
    );
    assert.deepEqual(p.maps, [
      { url: 'https://cdn.example.com/show/main.mp4', range: { start: 0, end: 719 } },
      { url: 'https://cdn.example.com/other/init.mp4' },
    ]);
    assert.deepEqual(p.segments, [
      {
        url: 'https://cdn.example.com/show/main.mp4',
        range: { start: 720, end: 1719 },
        duration: 4.004,
        map: 0,
        discontinuity: false,
      },
      {
        url: 'https://cdn.example.com/show/main.mp4',
        range: { start: 1720, end: 3719 },
        duration: 4.004,
        map: 0,
        discontinuity: false,
      },
      { url: 'https://cdn.example.com/show/seg%201.m4s', duration: 2, map: 1, discontinuity: true },
    ]);
    assert.equal(p.endList, true);
    // Local playlists resolve to file: URLs beside them.
    const local = media('#EXTM3U\n#EXTINF:1,\nseg.m4s\n', 'file:///videos/show/index.m3u8');
    assert.equal(local.segments[0]!.url, 'file:///videos/show/seg.m4s');
    assert.equal(local.endList, false);
  });

  test('malformed playlists are MANIFEST_INVALID', () => {
    const cases: [string, RegExp][] = [
      ['<MPD/>', /first line is not #EXTM3U/],
      ['#EXTM3U\n#EXT-X-BYTERANGE:100\n#EXTINF:1,\na.m4s', /no offset and the previous segment/],
      ['#EXTM3U\n#EXT-X-BYTERANGE:100@0\n#EXTINF:1,\na.m4s\n#EXT-X-BYTERANGE:100\n#EXTINF:1,\nb.m4s', /no offset/],
      ['#EXTM3U\n#EXT-X-BYTERANGE:0@0\n#EXTINF:1,\na.m4s', /0 bytes/],
      ['#EXTM3U\n#EXT-X-BYTERANGE:ab\n#EXTINF:1,\na.m4s', /<length>\[@<offset>\]/],
      ['#EXTM3U\nseg.m4s', /has no EXTINF/],
      ['#EXTM3U\n#EXTINF:x,\nseg.m4s', /EXTINF duration/],
      ['#EXTM3U\n#EXT-X-MAP:BYTERANGE="1@0"', /EXT-X-MAP has no URI/],
      ['#EXTM3U\n#EXT-X-MAP:URI="a.mp4', /unterminated/],
      ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n', /no URI line/],
      ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,BANDWIDTH=2\na.m3u8', /appears twice/],
      ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n#EXTINF:1,\nb.m4s', /mixes/],
      ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\nb.m3u8', /follows no EXT-X-STREAM-INF/],
      ['#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd', /scheme file: is not allowed/],
      ['#EXTM3U\n#EXTINF:1,\ndata:text/plain,x', /scheme data: is not allowed/],
    ];
    for (const [text, message] of cases) throwsCode(() => parseM3u8(text, BASE), 'MANIFEST_INVALID', message);
  });

  test('encryption, variables, gaps and I-frame playlists are UNSUPPORTED', () => {
    throwsCode(
      () => parseM3u8('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin"\n#EXTINF:1,\na.m4s', BASE),
      'UNSUPPORTED',
      /encrypted HLS \(EXT-X-KEY METHOD=AES-128\) is not supported/,
    );
    throwsCode(() => parseM3u8('#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"', BASE), 'UNSUPPORTED', /SAMPLE-AES/);
    throwsCode(() => parseM3u8('#EXTM3U\n#EXT-X-DEFINE:NAME="a",VALUE="b"', BASE), 'UNSUPPORTED', /EXT-X-DEFINE/);
    throwsCode(() => parseM3u8('#EXTM3U\n#EXT-X-GAP\n#EXTINF:1,\na.m4s', BASE), 'UNSUPPORTED', /EXT-X-GAP/);
    throwsCode(() => parseM3u8('#EXTM3U\n#EXT-X-I-FRAMES-ONLY', BASE), 'UNSUPPORTED', /I-frame/);
  });

  test('limits: segments per playlist and per presentation, checked while parsing; the text size', () => {
    const playlist = (n: number) => `#EXTM3U\n${'#EXTINF:1,\ns.m4s\n'.repeat(n)}`;
    const t0 = performance.now();
    throwsCode(() => parseM3u8(playlist(200_000), BASE, { maxSegments: 1000 }), 'STRUCTURE_LIMIT', /maxSegments/);
    assert.ok(performance.now() - t0 < 500);
    assert.equal(media(playlist(1000), BASE).segments.length, 1000);
    // Playlists of one presentation share a budget: four of 1000 fit in 4000, a fifth does not.
    const budget = { entries: 0 };
    const limits = { maxSegments: 1000, maxManifestSegments: 4000 };
    for (let i = 0; i < 4; i++) parseM3u8(playlist(1000), BASE, limits, budget);
    throwsCode(() => parseM3u8(playlist(1000), BASE, limits, budget), 'STRUCTURE_LIMIT', /maxManifestSegments/);
    throwsCode(() => parseM3u8(playlist(100), BASE, { maxManifestBytes: 1000 }), 'METADATA_LIMIT');
    throwsCode(() => parseM3u8('#EXTM3U\n#EXT-X-BYTERANGE:9007199254740990@10\n#EXTINF:1,\na', BASE), 'NUMBER_TOO_LARGE');
  });

  test('a manifest input names a rendition after #', () => {
    assert.deepEqual(splitManifestFragment('/v/master.m3u8#720p'), { input: '/v/master.m3u8', rendition: '720p' });
    assert.deepEqual(splitManifestFragment('http://h/v/master.m3u8?t=1#audio%20en'), {
      input: 'http://h/v/master.m3u8?t=1',
      rendition: 'audio en',
    });
    assert.deepEqual(splitManifestFragment('m.mpd#video=1'), { input: 'm.mpd', rendition: 'video=1' });
    for (const keep of ['/v/take#2.mp4', 'http://h/v.mp4#t=10', '/v/master.m3u8#', '#x.m3u8']) {
      assert.deepEqual(splitManifestFragment(keep), { input: keep });
    }
  });
});

let fx: HlsFixtures;
let server: StaticServer;
const opened: Movie[] = [];

before(async () => {
  fx = await ensureHlsFixtures();
  server = await serveFolder(fx.dir);
});
after(async () => {
  for (const m of opened) await Promise.all(m.sources.map((s) => s.close()));
  await server?.close();
});

async function open(input: string, options: Parameters<typeof openMovie>[1] = {}): Promise<Movie> {
  const m = await openMovie(input, options);
  opened.push(m);
  return m;
}

function urlOf(path: string): string {
  return `${server.url}/${relative(fx.dir, path).split('/').map(encodeURIComponent).join('/')}`;
}

/** The first sample where the track and ffprobe's stream disagree (sizes, times, key flags, durations), if any. */
function probeMismatch(track: Track, probe: ProbeStream, from = 0, count = track.samples.count - from): string | undefined {
  const s = track.samples;
  if (probe.packets.length !== count) return `${count} samples, ffprobe ${probe.packets.length}`;
  if (track.timescale !== probe.timeBase[1]) return `timescale ${track.timescale}, ffprobe ${probe.timeBase.join('/')}`;
  // Times relative to each side's first dts; ffmpeg shifts pts by the most negative composition offset.
  let minOffset = 0;
  for (let i = from; i < from + count; i++) minOffset = Math.min(minOffset, s.compositionOffset[i]!);
  const t0 = s.decodeTime[from]!;
  const p0 = probe.packets[0]!.dts;
  for (let i = 0; i < count; i++) {
    const k = from + i;
    const p = probe.packets[i]!;
    const next = probe.packets[i + 1];
    const fields: [string, number | boolean, number | boolean][] = [
      ['size', s.size[k]!, p.size],
      ['dts', s.decodeTime[k]! - t0, p.dts - p0],
      ['pts', s.decodeTime[k]! + s.compositionOffset[k]! - minOffset - t0, p.pts - p0],
      ['key', track.kind === 'audio' || s.sync[k] === 1, p.key],
    ];
    if (next) fields.push(['duration', s.duration[k]!, next.dts - p.dts]);
    for (const [name, ours, theirs] of fields) if (ours !== theirs) return `sample ${k}: ${name} ${ours} != ffprobe ${theirs}`;
  }
  return undefined;
}

async function probeOf(file: string, kind: 'video' | 'audio'): Promise<ProbeStream> {
  const streams = await probePackets(file, { ignoreEditlist: true });
  const s = streams.find((x) => x.codecType === kind);
  assert.ok(s, `${kind} stream in ${file}`);
  return s;
}

function sameSamples(a: Movie, b: Movie, sameNames = true): void {
  assert.equal(a.tracks.length, b.tracks.length);
  a.tracks.forEach((t, i) => {
    const u = b.tracks[i]!;
    if (sameNames) assert.equal(t.representationId, u.representationId);
    for (const col of ['offset', 'size', 'decodeTime', 'compositionOffset', 'duration', 'sync', 'descriptionIndex'] as const) {
      assert.deepEqual(t.samples[col], u.samples[col], `track ${t.id} ${col}`);
    }
  });
}

describe('HLS presentations', () => {
  test('a multivariant playlist: a track per rendition, named by its folder, with ffprobe packets', async () => {
    const movie = await open(fx.master);
    assert.deepEqual(
      movie.tracks.map((t) => [t.representationId, t.kind]),
      fx.renditions.map((r) => [r.name, r.kind]),
    );
    assert.equal(movie.layout.kind, 'segmented');
    for (const r of fx.renditions) {
      const track = movie.tracks.find((t) => t.representationId === r.name)!;
      assert.equal(probeMismatch(track, await probeOf(r.probeFile, r.kind)), undefined, r.name);
    }
    // The media playlist alone is one rendition, named after its file.
    const alone = await open(fx.renditions[0]!.playlist);
    assert.deepEqual(
      alone.tracks.map((t) => t.representationId),
      ['index'],
    );
  });

  test('over HTTP, the same model; every URL is fetched from the origin', async () => {
    const local = await open(fx.master);
    const remote = await open(urlOf(fx.master));
    sameSamples(local, remote);
    assert.ok(remote.sources.every((s) => s.key.startsWith(`${server.url}/`)));
  });

  test('#rendition, the representation option, and EXT-X-MEDIA NAME select one rendition; unknown names list the known', async () => {
    for (const m of [
      await open(`${fx.master}#low`),
      await open(`${urlOf(fx.master)}#low`),
      await open(fx.master, { representations: ['low'] }),
    ]) {
      assert.deepEqual(
        m.tracks.map((t) => t.representationId),
        ['low'],
      );
      // Only what the rendition needs was opened: its init and its segments.
      assert.ok(m.sources.every((s) => /\/low\//.test(s.key)));
    }
    const byName = await open(fx.master, { representations: ['audio_2'] });
    assert.deepEqual(
      byName.tracks.map((t) => t.representationId),
      ['audio'],
    );
    await rejectsCode(open(`${fx.master}#medium`), 'USAGE', /no rendition "medium"; the playlist has "high", "low", "audio"/);
    await rejectsCode(open(`${fx.master}#low`, { representations: ['high'] }), 'USAGE');
  });

  test('one file of byte ranges (video and audio muxed), with and without EXT-X-BYTERANGE offsets', async () => {
    const movie = await open(fx.single);
    assert.deepEqual(
      movie.tracks.map((t) => [t.kind, t.representationId]),
      [
        ['video', 'single'],
        ['audio', 'single'],
      ],
    );
    assert.equal(movie.sources.length, 1, 'every segment and the map are ranges of one file, opened once');
    for (const track of movie.tracks) {
      const kind = track.kind as 'video' | 'audio';
      const probe = await probeOf(fx.singleFile, kind);
      assert.equal(probeMismatch(track, probe), undefined, kind);
      // ffprobe read the same file: the byte positions agree too.
      for (let i = 0; i < track.samples.count; i++) assert.equal(track.samples.offset[i], probe.packets[i]!.pos, `${kind} ${i}`);
    }
    const continued = await open(fx.singleContinued);
    sameSamples(movie, continued, false);
    sameSamples(movie, await open(urlOf(fx.singleContinued)), false);
  });

  test('EXT-X-DISCONTINUITY: the second clip continues the first, times moved after it, a second sample description', async () => {
    const movie = await open(fx.joined);
    assert.equal(movie.tracks.length, 2);
    for (const track of movie.tracks) {
      const kind = track.kind as 'video' | 'audio';
      const [a, b] = [await probeOf(fx.joinedParts[0], kind), await probeOf(fx.joinedParts[1], kind)];
      const n = a.packets.length;
      assert.equal(track.samples.count, n + b.packets.length, kind);
      assert.equal(probeMismatch(track, a, 0, n), undefined, `${kind} part a`);
      assert.equal(probeMismatch(track, b, n), undefined, `${kind} part b`);
      const s = track.samples;
      // Part b starts where part a ends, although its own timestamps start again at zero: its decode times
      // follow a's, and its first presented sample a's last presented one (a's last P-frame shows late).
      assert.equal(s.decodeTime[n], s.decodeTime[n - 1]! + s.duration[n - 1]!, `${kind} continues at the join`);
      let presentedA = 0;
      let firstB = Number.POSITIVE_INFINITY;
      for (let k = 0; k < s.count; k++) {
        const pts = s.decodeTime[k]! + s.compositionOffset[k]!;
        // The last sample of a now lasts until b starts: count it as long as the others.
        if (k < n) presentedA = Math.max(presentedA, pts + s.duration[k === n - 1 ? 0 : k]!);
        else firstB = Math.min(firstB, pts);
      }
      if (kind === 'video') assert.equal(firstB, presentedA, 'b is presented right after a');
      else assert.equal(firstB, s.decodeTime[n]);
      assert.ok(b.packets[0]!.dts < a.packets.at(-1)!.dts, 'part b restarts its timestamps');
      // H.264 High then Main: the samples of b use the second description.
      if (kind === 'video') {
        assert.equal(track.descriptions.length, 2);
        assert.equal(s.descriptionIndex[n - 1], 1);
        assert.equal(s.descriptionIndex[n], 2);
      }
    }
    sameSamples(movie, await open(urlOf(fx.joined)));
  });

  test('a change of tracks at a new EXT-X-MAP is refused, naming what changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vvf-hls-'));
    const high = fx.renditions[0]!;
    const audio = fx.renditions[2]!;
    const rel = (p: string) => relative(dir, p);
    const seg = (r: typeof high, n: number) => rel(join(r.playlist, '..', `seg${n}.m4s`));
    const init = (r: typeof high, name: string) => rel(join(r.playlist, '..', name));
    writeFileSync(
      join(dir, 'switch.m3u8'),
      [
        '#EXTM3U',
        `#EXT-X-MAP:URI="${init(high, 'init_0.mp4')}"`,
        '#EXTINF:1,',
        seg(high, 0),
        '#EXT-X-DISCONTINUITY',
        `#EXT-X-MAP:URI="${init(audio, 'init_2.mp4')}"`,
        '#EXTINF:1,',
        seg(audio, 1),
        '#EXT-X-ENDLIST',
      ].join('\n'),
    );
    await rejectsCode(open(join(dir, 'switch.m3u8')), 'UNSUPPORTED', /handler soun where it was vide/);
  });

  test('MPEG-TS segments are refused in one line naming them, from files and over HTTP', async () => {
    const message = /^UNSUPPORTED: HLS with MPEG-TS segments is not supported \(/;
    for (const input of [fx.ts, fx.tsMaster, fx.tsDisguised]) {
      await rejectsCode(open(input), 'UNSUPPORTED', message);
      await rejectsCode(open(urlOf(input)), 'UNSUPPORTED', message);
    }
    assert.match(await rejectsCode(open(fx.tsMaster), 'UNSUPPORTED'), /\(master\.m3u8, rendition "ts"\)/);
  });

  test('live playlists, WebVTT subtitles, and segments that are not MP4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vvf-hls-'));
    const high = fx.renditions[0]!;
    const highDir = relative(dir, join(high.playlist, '..'));
    const playlist = (lines: string[]) => ['#EXTM3U', ...lines].join('\n');
    writeFileSync(
      join(dir, 'live.m3u8'),
      playlist([`#EXT-X-MAP:URI="${highDir}/init_0.mp4"`, '#EXTINF:1,', `${highDir}/seg0.m4s`]),
    );
    await rejectsCode(open(join(dir, 'live.m3u8')), 'UNSUPPORTED', /live HLS playlist \(no EXT-X-ENDLIST\)/);

    writeFileSync(join(dir, 'notes.txt'), 'These are the notes for the shoot on Tuesday.\n');
    writeFileSync(join(dir, 'text.m3u8'), playlist(['#EXT-X-MAP:URI="notes.txt"', '#EXTINF:1,', 'notes.txt', '#EXT-X-ENDLIST']));
    await rejectsCode(open(join(dir, 'text.m3u8')), 'UNKNOWN_FORMAT', /segment notes\.txt of text\.m3u8 is a text file/);

    // Subtitles without a map are WebVTT: left out of the whole presentation, refused when asked for.
    mkdirSync(join(dir, 'subs'));
    writeFileSync(join(dir, 'subs', 'en.m3u8'), playlist(['#EXTINF:4,', 'en.vtt', '#EXT-X-ENDLIST']));
    writeFileSync(join(dir, 'subs', 'en.vtt'), 'WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n');
    writeFileSync(
      join(dir, 'high.m3u8'),
      readFileSync(high.playlist, 'utf8')
        .replace(/^(?!#)(\S+)$/gm, `${highDir}/$1`)
        .replace('URI="', `URI="${highDir}/`),
    );
    writeFileSync(
      join(dir, 'master.m3u8'),
      playlist([
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English",URI="subs/en.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=500000,SUBTITLES="s"',
        'high.m3u8',
      ]),
    );
    const whole = await open(join(dir, 'master.m3u8'));
    assert.deepEqual(
      whole.tracks.map((t) => t.representationId),
      ['high'],
    );
    await rejectsCode(open(join(dir, 'master.m3u8#English')), 'UNSUPPORTED', /WebVTT/);

    // What HTTP serves is told apart as files are.
    const site = await serveFolder(dir);
    try {
      writeFileSync(join(dir, 'clip.webm'), Buffer.from('1a45dfa3a34286810142f7810142f2810442f381084282847765626d', 'hex'));
      await rejectsCode(openMovie(`${site.url}/notes.txt`), 'UNKNOWN_FORMAT', /notes\.txt is a text file/);
      await rejectsCode(openMovie(`${site.url}/clip.webm`), 'UNKNOWN_FORMAT', /clip\.webm is a Matroska file \(WebM\)/);
      await rejectsCode(openMovie(`${site.url}/text.m3u8`), 'UNKNOWN_FORMAT', /segment notes\.txt of text\.m3u8 is a text file/);
    } finally {
      await site.close();
    }
  });

  test('every playlist and segment URL goes through the source policy', async () => {
    // Allowed: the fixtures' origin. Every URL the presentation names was opened through it.
    const asked: string[] = [];
    const policy = new SourcePolicy({ roots: [], origins: [server.url] });
    const movie = await open(fx.master, {
      openSource: async (spec) => {
        asked.push(spec);
        return spec.startsWith('http') ? policy.open(spec) : openSource(spec);
      },
    });
    assert.equal(movie.tracks.length, 3);
    const remote = await open(urlOf(fx.master), {
      openSource: (spec) => {
        asked.push(spec);
        return policy.open(spec);
      },
    });
    assert.equal(remote.tracks.length, 3);
    assert.ok(asked.some((s) => s.endsWith('/high/index.m3u8')) && asked.some((s) => s.endsWith('/audio/seg0.m4s')));
    // A playlist of an allowed origin naming another origin's init: refused at that URL.
    const dir = mkdtempSync(join(tmpdir(), 'vvf-hls-'));
    const other = server.url.replace('127.0.0.1', 'localhost');
    writeFileSync(
      join(dir, 'elsewhere.m3u8'),
      `#EXTM3U\n#EXT-X-MAP:URI="${other}/master/high/init_0.mp4"\n#EXTINF:1,\n${other}/master/high/seg0.m4s\n#EXT-X-ENDLIST\n`,
    );
    const site = await serveFolder(dir);
    try {
      const strict = new SourcePolicy({ roots: [], origins: [site.url] });
      await rejectsCode(openMovie(`${site.url}/elsewhere.m3u8`, { openSource: (s) => strict.open(s) }), 'SOURCE_FORBIDDEN');
    } finally {
      await site.close();
    }
    // Local roots: a playlist inside a root naming a file outside it.
    mkdirSync(join(dir, 'root'));
    writeFileSync(
      join(dir, 'root', 'out.m3u8'),
      `#EXTM3U\n#EXT-X-MAP:URI="${pathToFileURL(fx.renditions[0]!.playlist).href}"\n#EXTINF:1,\na.m4s\n#EXT-X-ENDLIST\n`,
    );
    const rooted = new SourcePolicy({ roots: [join(dir, 'root')], origins: [] });
    await rejectsCode(openMovie(join(dir, 'root', 'out.m3u8'), { openSource: (s) => rooted.open(s) }), 'SOURCE_FORBIDDEN');
  });
});

describe('HLS into a progressive file', () => {
  const out = mkdtempSync(join(tmpdir(), 'vvf-hls-out-'));

  const compileTo = (name: string, tracks: unknown[]) => writeRecipeFile({ tracks }, join(out, `${name}.mp4`));

  test('master.m3u8#high and the best audio: the packets of the renditions', async () => {
    const high = fx.renditions[0]!;
    const audio = fx.renditions[2]!;
    for (const [name, tracks] of [
      ['by-name', [`${fx.master}#high`, { source: fx.master, representation: 'audio' }]],
      [
        'by-kind',
        [
          { source: fx.master, kind: 'video' },
          { source: urlOf(fx.master), kind: 'audio' },
        ],
      ],
    ] as const) {
      const file = await compileTo(name, [...tracks]);
      assert.equal(await decodeErrors(file), '', `${name} decodes`);
      for (const [i, r] of [high, audio].entries()) {
        const ours = await framemd5(file, i, { ignoreEditlist: true });
        const theirs = await framemd5(r.probeFile, 0, { ignoreEditlist: true });
        assert.equal(samePackets(ours, theirs, { lastKnown: false }), undefined, `${name} ${r.name}`);
      }
    }
  });

  test('the joined clips: part a then part b, in one file', async () => {
    const file = await compileTo('joined', [fx.joined]);
    assert.equal(await decodeErrors(file), '');
    for (const i of [0, 1]) {
      const ours = await framemd5(file, i, { ignoreEditlist: true });
      const a = await framemd5(fx.joinedParts[0], i, { ignoreEditlist: true });
      const b = await framemd5(fx.joinedParts[1], i, { ignoreEditlist: true });
      assert.equal(ours.length, a.length + b.length);
      increasing(ours, `stream ${i}`);
      if (i === 1) {
        assert.equal(samePackets(ours.slice(0, a.length), a), undefined, 'audio part a');
        assert.equal(samePackets(ours.slice(a.length), b), undefined, 'audio part b');
      } else {
        // Two sets of H.264 parameter sets in one track: compose carries them in band at keyframes (see
        // test/compose/clip-concat.test.ts), so keyframes grow by them; every other packet is the source's.
        assert.equal(sameTiming(ours.slice(0, a.length), a), undefined, 'video part a');
        assert.equal(sameTiming(ours.slice(a.length), b), undefined, 'video part b');
      }
    }
    // Every sample's bytes are its source's, after any in-band prefix.
    const output = await open(file);
    const joined = await open(fx.joined);
    for (const [t, track] of joined.tracks.entries()) {
      const out = output.tracks[t]!;
      assert.equal(out.samples.count, track.samples.count);
      for (let k = 0; k < track.samples.count; k++) {
        const theirs = await joined.sources[track.samples.sourceIndex[k]!]!.read(
          track.samples.offset[k]!,
          track.samples.size[k]!,
        );
        const mine = await output.sources[0]!.read(out.samples.offset[k]!, out.samples.size[k]!);
        assert.ok(Buffer.from(mine.subarray(mine.length - theirs.length)).equals(theirs), `track ${t + 1} sample ${k}`);
      }
    }
  });
});

/** Same timing relative to the first dts; payloads equal, or (a keyframe with parameter sets in band) larger. */
function sameTiming(ours: FramePacket[], theirs: FramePacket[]): string | undefined {
  if (ours.length !== theirs.length) return `${ours.length} packets, source has ${theirs.length}`;
  const a0 = ours[0]?.dts ?? 0;
  const b0 = theirs[0]?.dts ?? 0;
  for (const [i, a] of ours.entries()) {
    const b = theirs[i]!;
    if (a.dts - a0 !== b.dts - b0 || a.pts - a0 !== b.pts - b0) return `packet ${i}: times differ`;
    if (a.hash !== b.hash && a.size <= b.size) return `packet ${i}: ${a.size} bytes, source ${b.size}`;
  }
  return undefined;
}

function increasing(packets: FramePacket[], what: string): void {
  for (let i = 1; i < packets.length; i++)
    assert.ok(packets[i]!.dts > packets[i - 1]!.dts, `${what}: dts ${i} does not increase`);
}
