// The index page: escaping of every string, a self-contained document, the byte map's
// coalescing bounds and coverage, display names, and page data read from a file's own header.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { VvfError } from '../../src/errors.js';
import { escapeHtml, formatBitrate, formatBytes, renderIndexPage } from '../../src/server/page.js';
import { byteMapOf, KEPT_HEADER_RUNS, type PageFile, type PagePresentation, pageDataFor } from '../../src/server/page-data.js';
import { displayName } from '../../src/sources/display-name.js';
import { openSource } from '../../src/sources/open-source.js';
import type { Source } from '../../src/sources/source.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { resolveWith } from '../../src/virtual/source-ref.js';
import { type ExtentInfo, VirtualFile } from '../../src/virtual/virtual-file.js';
import { prng, randInt } from '../virtual/virtual-helpers.js';

const EVIL = `"><script>alert('x')</script><img src=x onerror=alert(1)>&amp;`;

function pageFile(overrides: Partial<PageFile> = {}): PageFile {
  return {
    id: 'abc123',
    url: '/v/abc123.mp4',
    size: 1000,
    etag: '"vvf-abc"',
    created: '2026-01-01T00:00:00.000Z',
    tracks: [
      { id: 1, kind: 'video', codec: 'avc1.64001f', width: 1280, height: 720, durationSeconds: 10 },
      { id: 2, kind: 'audio', codec: 'mp4a.40.2', sampleRate: 48000, channelCount: 2, durationSeconds: 10.02 },
    ],
    byteMap: [
      { start: 0, end: 100, kind: 'header' },
      { start: 100, end: 600, kind: 'source', source: 0, sourceOffset: 0 },
      { start: 600, end: 1000, kind: 'source', source: 1, sourceOffset: 40 },
    ],
    sources: ['dash/seg-1.m4s', 'dash/seg-2.m4s'],
    ...overrides,
  };
}

/** Checks that `segments` tile `[0, size)` in order. */
function assertCovers(segments: { start: number; end: number }[], size: number): void {
  let at = 0;
  for (const s of segments) {
    assert.equal(s.start, at, `segment starts at ${s.start}, expected ${at}`);
    assert.ok(s.end > s.start, `empty segment at ${s.start}`);
    at = s.end;
  }
  assert.equal(at, size);
}

function extentsOf(runs: [length: number, source: number, sourceOffset?: number][]): ExtentInfo[] {
  let at = 0;
  return runs.map(([length, source, sourceOffset]) => {
    const e: ExtentInfo =
      source < 0
        ? { start: at, end: at + length, kind: 'bytes' }
        : { start: at, end: at + length, kind: 'source', sourceIndex: source, sourceOffset: sourceOffset ?? at };
    at += length;
    return e;
  });
}

describe('renderIndexPage', () => {
  test('escapes every string that comes from a file', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const html = renderIndexPage([
      pageFile({
        id: EVIL,
        url: `/v/${EVIL}.mp4`,
        etag: EVIL,
        created: EVIL,
        tracks: [{ id: 1, kind: EVIL, codec: EVIL, durationSeconds: 1 }],
        sources: [EVIL, EVIL],
      }),
      pageFile({ id: 'broken', error: EVIL }),
    ]);
    assert.ok(!html.includes('<script>alert'), 'no injected script element');
    assert.ok(!html.includes('<img'), 'no injected img element');
    assert.ok(html.includes(`data-id="&#34;&#62;&#60;script&#62;`), 'attribute values stay inside their quotes');
    assert.equal(html.match(/<script/g)?.length, 1, "only the page's own script");
    assert.ok(html.includes('&#60;script&#62;alert(&#39;x&#39;)'), 'the text is shown, escaped');
    assert.ok(html.includes('&#38;amp;'), 'an entity in the input is shown as typed');
    assert.ok(html.includes('Tracks could not be read: &#34;&#62;&#60;script'));
  });

  test('is self-contained: no external script, style, font or image', () => {
    const html = renderIndexPage([pageFile()]);
    assert.match(html, /^<!doctype html>/);
    assert.deepEqual(html.match(/<link\b[^>]*>/gi), ['<link rel="icon" href="data:,">'], 'no icon request either');
    assert.ok(!/\bsrc="(?!\/v\/)/.test(html), 'the only src is the video');
    assert.ok(!/@import|url\(/i.test(html));
    assert.ok(!/https?:\/\//.test(html));
  });

  test('lists a video, its tracks and codecs, and the byte map with a legend', () => {
    const html = renderIndexPage([pageFile()]);
    assert.ok(html.includes('<source src="/v/abc123.mp4" type="video/mp4; codecs=&#34;avc1.64001f, mp4a.40.2&#34;">'));
    assert.ok(html.includes('<td>1280×720</td>'));
    assert.ok(html.includes('<td>48000 Hz, 2 ch</td>'));
    assert.equal(html.match(/<rect /g)?.length, 3);
    assert.match(html, /data-kind="header"><title>bytes 0–99 \(100 B\): header, made by vvf<\/title>/);
    assert.match(html, /data-kind="source-1"><title>bytes 600–999 \(400 B\): dash\/seg-2\.m4s from byte 40<\/title>/);
    assert.ok(html.includes('dash/seg-1.m4s <span class="n">500 B · 50.0%</span>'));
    // Header runs are drawn last, on top of their neighbours.
    assert.ok(html.lastIndexOf('data-kind="header"') > html.lastIndexOf('data-kind="source-'));
  });

  test('lists a presentation: renditions, manifests and player pages, no <video>, every string escaped', () => {
    const presentation: PagePresentation = {
      layout: 'cmaf',
      durationSeconds: 20,
      segmentSeconds: 2,
      renditions: [
        {
          id: 'v1',
          kind: 'video',
          codec: 'avc1.64001e',
          language: 'und',
          bandwidth: 1_081_060,
          averageBandwidth: 1_024_000,
          width: 640,
          height: 360,
          frameRate: 24,
          segments: 10,
        },
        {
          id: 'a1',
          kind: 'audio',
          codec: EVIL,
          language: 'eng',
          bandwidth: 99_939,
          averageBandwidth: 98_200,
          sampleRate: 48000,
          channels: 2,
          segments: 10,
        },
      ],
      manifests: [{ label: 'manifest.mpd', url: '/v/p1/manifest.mpd' }],
      players: [
        { label: 'dash.js', url: '/v/p1/player.html' },
        { label: EVIL, url: `/v/p1/player.html?player=${EVIL}` },
      ],
    };
    const html = renderIndexPage([pageFile({ id: 'p1', url: '/v/p1/player.html', tracks: [], presentation })]);
    assert.ok(!html.includes('<video'), 'a package is not played whole');
    assert.ok(!html.includes('<script>alert') && !html.includes('<img'), 'nothing injected');
    assert.match(html, /<section class="file presentation" id="file-p1" data-id="p1" data-layout="cmaf">/);
    assert.match(html, /<h2><a href="\/v\/p1\/player\.html">p1<\/a> <span class="layout">cmaf<\/span><\/h2>/);
    assert.match(html, /20\.00 s · 2 renditions · 2 s segments · package 1000 B/);
    assert.match(html, /Play with: <a href="\/v\/p1\/player\.html">dash\.js<\/a> · <a href="\/v\/p1\/player\.html\?player=&#34;/);
    assert.match(html, /Manifests: <a href="\/v\/p1\/manifest\.mpd">manifest\.mpd<\/a>/);
    assert.ok(
      html.includes(
        '<tr data-rendition="v1"><td>v1</td><td>video</td><td><code>avc1.64001e</code></td><td>640×360 @ 24 fps</td><td>1.08 Mb/s</td><td>1.02 Mb/s</td><td>10</td></tr>',
      ),
      'the video rendition row',
    );
    assert.ok(html.includes('<td>audio (eng)</td>'), 'the language of a rendition that has one');
    assert.ok(html.includes('<td>48000 Hz, 2 ch</td><td>99.9 kb/s</td>'), 'the audio rendition row');
    assert.equal(html.match(/<rect /g)?.length, 3, 'the package has its byte map');
  });

  test('an empty server says how to register a file', () => {
    const html = renderIndexPage([]);
    assert.match(html, /No virtual files yet/);
    assert.match(html, /0 virtual files/);
    assert.ok(!html.includes('<video'));
  });

  test('formatBitrate', () => {
    assert.equal(formatBitrate(999), '999 b/s');
    assert.equal(formatBitrate(99_939), '99.9 kb/s');
    assert.equal(formatBitrate(323_032), '323 kb/s');
    assert.equal(formatBitrate(1_081_060), '1.08 Mb/s');
  });

  test('formatBytes', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.50 KB');
    assert.equal(formatBytes(5 * 1024 ** 3), '5.00 GB');
  });
});

describe('byteMapOf', () => {
  test('merges neighbours of one source, keeping the source offset only when contiguous there', () => {
    const contiguous = byteMapOf(
      extentsOf([
        [10, -1],
        [50, 0, 0],
        [50, 0, 50],
        [40, 1, 0],
      ]),
      150,
      2,
      100,
    );
    assert.deepEqual(contiguous.segments, [
      { start: 0, end: 10, kind: 'header' },
      { start: 10, end: 110, kind: 'source', source: 0, sourceOffset: 0 },
      { start: 110, end: 150, kind: 'source', source: 1, sourceOffset: 0 },
    ]);
    assert.deepEqual(contiguous.sourceBytes, [100, 40]);
    assert.equal(contiguous.headerBytes, 10);
    const apart = byteMapOf(
      extentsOf([
        [50, 0, 0],
        [50, 0, 900],
      ]),
      100,
      1,
      100,
    );
    assert.deepEqual(apart.segments, [{ start: 0, end: 100, kind: 'source', source: 0 }]);
  });

  test('alternating tiny runs of two sources: bounded, covering, drawn as the larger', () => {
    // An hour of interleaved chunks: 20,000 video runs of 400 KB and audio runs of 8 KB.
    const runs: [number, number][] = [[4096, -1]];
    for (let i = 0; i < 20_000; i++) runs.push([409_600, 0], [8192, 1]);
    const extents = extentsOf(runs);
    const size = extents[extents.length - 1]!.end;
    const map = byteMapOf(extents, size, 2);
    assert.ok(map.segments.length <= 2000, `${map.segments.length} segments`);
    assertCovers(map.segments, size);
    assert.deepEqual(map.sourceBytes, [20_000 * 409_600, 20_000 * 8192]);
    assert.equal(map.segments[0]!.kind, 'header', 'the 4 KB header stays on the map');
    assert.ok(map.segments.slice(1).every((s) => s.kind === 'source' && s.source === 0));
    const merged = map.segments.reduce((a, s) => a + (s.mergedBytes ?? 0), 0);
    assert.equal(merged, 20_000 * 8192, 'the audio bytes are counted as merged');
  });

  test('many tiny header runs: the first few are kept, the bound holds', () => {
    const runs: [number, number][] = [];
    for (let i = 0; i < 50_000; i++) runs.push([3, -1], [97, i % 7]);
    const extents = extentsOf(runs);
    const map = byteMapOf(extents, 50_000 * 100, 7, 500);
    assert.ok(map.segments.length <= 500, `${map.segments.length} segments`);
    assertCovers(map.segments, 50_000 * 100);
    assert.ok(map.segments.filter((s) => s.kind === 'header' && s.end - s.start === 3).length >= KEPT_HEADER_RUNS);
    assert.equal(map.headerBytes, 150_000);
  });

  test('random extents: always at most maxSegments, covering, with exact byte counts', () => {
    const rng = prng(0x5eed);
    for (let round = 0; round < 200; round++) {
      const count = randInt(rng, 1, 3000);
      const sources = randInt(rng, 1, 6);
      const runs: [number, number][] = [];
      const bytes = new Array<number>(sources).fill(0);
      let header = 0;
      for (let i = 0; i < count; i++) {
        // Mostly tiny runs with a few huge ones, so that both merging paths run.
        const length = rng() < 0.05 ? randInt(rng, 1, 10_000_000) : randInt(rng, 1, 2000);
        const source = randInt(rng, -1, sources);
        runs.push([length, source]);
        if (source < 0) header += length;
        else bytes[source]! += length;
      }
      const extents = extentsOf(runs);
      const size = extents[extents.length - 1]!.end;
      const max = randInt(rng, 20, 2500);
      const map = byteMapOf(extents, size, sources, max);
      assert.ok(map.segments.length <= max, `round ${round}: ${map.segments.length} > ${max}`);
      assertCovers(map.segments, size);
      assert.deepEqual(map.sourceBytes, bytes);
      assert.equal(map.headerBytes, header);
      for (const s of map.segments) assert.ok((s.mergedBytes ?? 0) < s.end - s.start);
    }
  });

  test('an empty file has an empty map', () => {
    assert.deepEqual(byteMapOf([], 0, 0), { segments: [], sourceBytes: [], headerBytes: 0 });
  });
});

test('displayName shows no absolute path, credentials or query', () => {
  assert.equal(displayName('/srv/media/talk/seg-1.m4s'), 'talk/seg-1.m4s');
  assert.equal(displayName('/a.mp4'), 'a.mp4');
  assert.equal(displayName('https://user:pw@cdn.example/v/a.mp4?token=secret#t'), 'cdn.example/v/a.mp4');
  assert.equal(displayName('file:///srv/media/x%20y.mp4'), 'media/x y.mp4');
  assert.equal(displayName('C:\\media\\talk\\a.mp4'), 'talk/a.mp4');
});

test('pageDataFor reads tracks from the file header (and at most 16 bytes past it), once, and leaves the file open', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-template-time')!;
  const recipe = parseRecipe({ tracks: [fixture.input] });
  const compiled = (await compileRecipe(recipe)).file;
  // A copy of the file whose sources open only through this resolver, so that source reads show.
  const opened: Source[] = [];
  const open = resolveWith(openSource);
  const file = VirtualFile.deserialize(compiled.serialize(), async (ref) => {
    const source = await open(ref);
    opened.push(source);
    return source;
  });
  const sourceBytes = () => opened.reduce((a, s) => a + s.bytesRead, 0);
  await compiled.close();
  try {
    const created = new Date('2026-02-03T04:05:06Z');
    const data = await pageDataFor({ id: 'xyz', recipe, file, created });
    assert.equal(data.url, '/v/xyz.mp4');
    assert.equal(data.created, '2026-02-03T04:05:06.000Z');
    assert.equal(data.size, file.size);
    assert.equal(data.etag, file.etag);
    assert.equal(data.error, undefined);
    assert.deepEqual(
      data.tracks.map((t) => [t.kind, t.codec.split('.')[0], t.width ?? t.sampleRate]),
      [
        ['video', 'avc1', 320],
        ['audio', 'mp4a', 48000],
      ],
    );
    assert.ok(data.tracks.every((t) => t.durationSeconds > 4.9 && t.durationSeconds < 5.1));
    assertCovers(data.byteMap, file.size);
    assert.equal(data.byteMap[0]!.kind, 'header');
    // The MP4 reader reads the box header after moov with 16 bytes to spare: 8 of them are mdat's payload.
    assert.ok(opened.length <= 1 && sourceBytes() <= 16, `${opened.length} sources opened, ${sourceBytes()} bytes read`);
    const before = sourceBytes();
    const root = join(fixture.input, '..');
    assert.ok(
      data.sources.every((s) => !s.includes(root) && !s.startsWith('/')),
      JSON.stringify(data.sources),
    );
    assert.equal((data.sourceBytes ?? []).reduce((a, b) => a + b, 0) + (data.headerBytes ?? 0), file.size);
    // The registered file is still usable: the demuxer's close did not reach it.
    assert.equal((await file.read(file.size - 1, 1)).length, 1);
    assert.equal((await pageDataFor({ id: 'xyz', recipe, file, created })).byteMap, data.byteMap, 'computed once');
    assert.equal(sourceBytes(), before + 1);
  } finally {
    await file.close();
  }
});

test('pageDataFor: a file whose tracks cannot be read shows the error without server paths, and is retried', async () => {
  let opens = 0;
  const secret = '/srv/secret/media/talk.mp4';
  const file = new VirtualFile(
    {
      format: 'test',
      contentType: 'video/mp4',
      sources: [{ key: secret, validator: 'v1', size: 1000 }],
      bytes: new Uint8Array(16),
      ends: new Float64Array([16, 1016]),
      sourceIndex: new Int32Array([-1, 0]),
      offsets: new Float64Array([0, 0]),
    },
    async () => {
      opens++;
      throw new VvfError('SOURCE_UNREACHABLE', 'connection refused', { source: secret });
    },
  );
  const entry = { id: 'bad', recipe: parseRecipe({ tracks: ['x.mp4'] }), file, created: new Date(0) };
  const data = await pageDataFor(entry);
  assert.equal(data.error, 'SOURCE_UNREACHABLE: connection refused [media/talk.mp4]');
  assert.deepEqual(data.tracks, []);
  assert.deepEqual(data.sources, ['media/talk.mp4']);
  assert.ok(!renderIndexPage([data]).includes('/srv/secret'));
  await pageDataFor(entry);
  assert.equal(opens, 2, 'a failure is tried again on the next view');
});

test('pageDataFor: a presentation lists its renditions from its index, links its manifests and player pages', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-template-time')!;
  const recipe = parseRecipe({ layout: 'cmaf', segment: 1, tracks: [{ source: fixture.input }] });
  const { file } = await compileRecipe(recipe);
  try {
    const data = await pageDataFor({ id: 'pres', recipe, file, created: new Date(0) });
    assert.equal(data.error, undefined);
    assert.equal(data.url, '/v/pres/player.html');
    assert.deepEqual(data.tracks, []);
    const p = data.presentation!;
    assert.equal(p.layout, 'cmaf');
    assert.equal(p.segmentSeconds, 1);
    assert.ok(p.durationSeconds > 4.9 && p.durationSeconds < 5.1, String(p.durationSeconds));
    assert.deepEqual(
      p.renditions.map((r) => [r.id, r.kind, r.codec.split('.')[0], r.width ?? r.sampleRate]),
      [
        ['v1', 'video', 'avc1', 320],
        ['a1', 'audio', 'mp4a', 48000],
      ],
    );
    assert.ok(
      p.renditions.every((r) => r.bandwidth > 0 && r.segments >= 4),
      'bandwidths and segments',
    );
    assert.deepEqual(
      p.manifests.map((m) => m.url),
      ['manifest.mpd', 'manifest.m3u8', 'manifest-single.mpd', 'manifest-single.m3u8'].map((m) => `/v/pres/${m}`),
    );
    assert.deepEqual(
      p.players.map((l) => [l.label, l.url]),
      [
        ['dash.js', '/v/pres/player.html'],
        ['hls.js', '/v/pres/player.html?player=hlsjs'],
        ['Shaka Player', '/v/pres/player.html?player=shaka'],
      ],
    );
    assertCovers(data.byteMap, file.size);
    assert.ok(renderIndexPage([data]).includes('data-layout="cmaf"'), 'rendered as a presentation');
  } finally {
    await file.close();
  }
});
