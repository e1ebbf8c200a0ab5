import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type MpdManifest, type MpdRepresentation, parseMpd } from '../../src/demux/mpd.js';
import { parseDuration } from '../../src/demux/mpd-values.js';
import { type ErrorCode, VvfError } from '../../src/errors.js';

const BASE = 'https://cdn.example.com/show/manifest.mpd';

/** A static MPD around `body` (Periods), 10 s long unless attributes say otherwise. */
function mpd(body: string, attrs = 'type="static" mediaPresentationDuration="PT10S"'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" ${attrs}>${body}</MPD>`;
}

/** One period, one adaptation set, one representation. */
function single(rep: string, asAttrs = 'mimeType="video/mp4"', repAttrs = 'id="v1" bandwidth="1000"'): string {
  return mpd(`<Period><AdaptationSet ${asAttrs}><Representation ${repAttrs}>${rep}</Representation></AdaptationSet></Period>`);
}

function onlyRep(m: MpdManifest): MpdRepresentation {
  assert.equal(m.periods.length, 1);
  assert.equal(m.periods[0]!.representations.length, 1);
  return m.periods[0]!.representations[0]!;
}

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Runs `fn`, asserting it throws `code` within `ms` milliseconds. */
function throwsCodeFast(fn: () => unknown, code: ErrorCode, ms = 200): void {
  const t0 = performance.now();
  throwsCode(fn, code);
  const took = performance.now() - t0;
  assert.ok(took < ms, `took ${took.toFixed(1)} ms`);
}

describe('ISO 8601 durations', () => {
  const at = { source: 'x', path: 'p' };
  test('hours, minutes, fractional seconds and days, exactly', () => {
    assert.deepEqual(parseDuration('PT1H2M3.5S', at), { n: 37235n, d: 10n });
    assert.deepEqual(parseDuration('P1DT2H', at), { n: 93600n, d: 1n });
    assert.deepEqual(parseDuration('PT0S', at), { n: 0n, d: 1n });
    assert.deepEqual(parseDuration('PT6.006S', at), { n: 6006n, d: 1000n });
    assert.deepEqual(parseDuration('P1Y1M', at), { n: (365n + 30n) * 86400n, d: 1n });
  });
  test('malformed or negative durations are MANIFEST_INVALID', () => {
    for (const s of ['', 'P', 'PT', '1S', 'PT1.5H', '-PT1S', 'PT-1S', 'PTS', 'P1H', 'PT1S2M', 'PT 1S']) {
      throwsCode(() => parseDuration(s, at), 'MANIFEST_INVALID');
    }
  });
  test('the manifest uses them for durations and period starts', () => {
    const m = parseMpd(
      mpd(
        '<Period id="a" duration="PT1M0.5S"/><Period id="b"/><Period id="c" start="PT2M"/>',
        'type="static" mediaPresentationDuration="PT1H2M3.5S"',
      ),
      BASE,
    );
    assert.equal(m.durationSeconds, 3723.5);
    assert.deepEqual(
      m.periods.map((p) => [p.id, p.startSeconds, p.durationSeconds]),
      [
        ['a', 0, 60.5],
        ['b', 60.5, 59.5], // up to the next period's @start
        ['c', 120, 3603.5], // up to the MPD's duration
      ],
    );
  });
});

describe('BaseURL resolution', () => {
  const body = (repBase: string) =>
    mpd(`<BaseURL>media/</BaseURL>
      <Period><BaseURL>p1/</BaseURL>
        <AdaptationSet mimeType="video/mp4"><BaseURL>video/</BaseURL>
          <Representation id="v" bandwidth="1">${repBase}</Representation>
        </AdaptationSet>
      </Period>`);

  test('MPD, Period, AdaptationSet and Representation levels stack on the manifest URL', () => {
    const r = onlyRep(parseMpd(body('<BaseURL>high.mp4</BaseURL>'), BASE));
    assert.equal(r.addressing, 'BaseURL');
    assert.equal(r.mediaUrl, 'https://cdn.example.com/show/media/p1/video/high.mp4');
    assert.deepEqual(r.segments, []);
  });
  test('an absolute or root-relative BaseURL replaces what is above it', () => {
    assert.equal(
      onlyRep(parseMpd(body('<BaseURL>https://other.example/x.mp4</BaseURL>'), BASE)).mediaUrl,
      'https://other.example/x.mp4',
    );
    assert.equal(onlyRep(parseMpd(body('<BaseURL>/root/x.mp4</BaseURL>'), BASE)).mediaUrl, 'https://cdn.example.com/root/x.mp4');
  });
  test('only the first of several BaseURLs is used; entities are decoded', () => {
    const r = onlyRep(parseMpd(body('<BaseURL serviceLocation="a">a.mp4?x=1&amp;y=2</BaseURL><BaseURL>b.mp4</BaseURL>'), BASE));
    assert.equal(r.mediaUrl, 'https://cdn.example.com/show/media/p1/video/a.mp4?x=1&y=2');
  });
  test('a file: manifest gives file: URLs', () => {
    const r = onlyRep(parseMpd(body('<BaseURL>high.mp4</BaseURL>'), 'file:///data/movie/m.mpd'));
    assert.equal(r.mediaUrl, 'file:///data/movie/media/p1/video/high.mp4');
  });
  test('a remote manifest may not point at local files or odd schemes', () => {
    throwsCode(() => parseMpd(body('<BaseURL>file:///etc/passwd</BaseURL>'), BASE), 'MANIFEST_INVALID');
    throwsCode(() => parseMpd(body('<BaseURL>javascript:alert(1)</BaseURL>'), BASE), 'MANIFEST_INVALID');
    throwsCode(() => parseMpd(body(''), 'not a url'), 'USAGE');
  });
});

describe('inheritance', () => {
  test('attributes inherit from the AdaptationSet; Representation values override', () => {
    const m = parseMpd(
      mpd(`<Period>
        <AdaptationSet id="7" mimeType="video/mp4" codecs="avc1.64001f" width="1280" height="720" lang="en" contentType="video">
          <BaseURL>a.mp4</BaseURL>
          <Representation id="lo" bandwidth="500000" width="640" height="360"/>
          <Representation id="hi" bandwidth="3000000" codecs="avc1.640028"/>
        </AdaptationSet>
        <AdaptationSet id="8" lang="fr">
          <Representation id="aud" bandwidth="128000" mimeType="audio/mp4" codecs="mp4a.40.2" audioSamplingRate="48000" lang="de"/>
        </AdaptationSet>
      </Period>`),
      BASE,
    );
    const [lo, hi, aud] = m.periods[0]!.representations;
    assert.deepEqual(
      [lo!.mimeType, lo!.codecs, lo!.width, lo!.height, lo!.lang, lo!.contentType, lo!.adaptationSetId],
      ['video/mp4', 'avc1.64001f', 640, 360, 'en', 'video', '7'],
    );
    assert.deepEqual([hi!.codecs, hi!.width, hi!.height, hi!.bandwidth], ['avc1.640028', 1280, 720, 3000000]);
    assert.deepEqual([aud!.contentType, aud!.audioSamplingRate, aud!.lang, aud!.adaptationSetId], ['audio', 48000, 'de', '8']);
  });

  test('contentType: @contentType, else the mimeType, else the codecs', () => {
    const types = parseMpd(
      mpd(`<Period>
        <AdaptationSet contentType="audio" mimeType="video/mp4"><Representation id="a" bandwidth="1"/></AdaptationSet>
        <AdaptationSet mimeType="text/vtt"><Representation id="b" bandwidth="1"/></AdaptationSet>
        <AdaptationSet mimeType="application/mp4" codecs="stpp.ttml.im1t"><Representation id="c" bandwidth="1"/></AdaptationSet>
        <AdaptationSet><Representation id="d" bandwidth="1" codecs="hvc1.1.6.L93.B0"/></AdaptationSet>
        <AdaptationSet><Representation id="e" bandwidth="1" codecs="ec-3"/></AdaptationSet>
        <AdaptationSet contentType="image"><Representation id="f" bandwidth="1" mimeType="image/jpeg"/></AdaptationSet>
        <AdaptationSet><Representation id="g" bandwidth="1"/></AdaptationSet>
      </Period>`),
      BASE,
    ).periods[0]!.representations.map((r) => r.contentType);
    assert.deepEqual(types, ['audio', 'text', 'text', 'video', 'audio', 'other', 'other']);
  });

  test('SegmentTemplate attributes and children merge from Period to AdaptationSet to Representation', () => {
    const m = parseMpd(
      mpd(`<Period duration="PT8S">
        <SegmentTemplate timescale="1000" duration="4000" media="p/$RepresentationID$/$Number$.m4s" initialization="p/$RepresentationID$/init.mp4"/>
        <AdaptationSet mimeType="video/mp4">
          <SegmentTemplate timescale="90000" duration="180000" startNumber="10"/>
          <Representation id="a" bandwidth="1"/>
          <Representation id="b" bandwidth="2">
            <SegmentTemplate media="b/$Time$.m4s"><SegmentTimeline><S t="0" d="90000" r="2"/></SegmentTimeline></SegmentTemplate>
          </Representation>
        </AdaptationSet>
        <AdaptationSet mimeType="audio/mp4"><Representation id="c" bandwidth="3"/></AdaptationSet>
      </Period>`),
      BASE,
    );
    const [a, b, c] = m.periods[0]!.representations;
    // a: timescale/duration/startNumber from the set, media/initialization from the period.
    assert.equal(a!.addressing, 'SegmentTemplate');
    assert.equal(a!.timescale, 90000);
    assert.equal(a!.init?.url, 'https://cdn.example.com/show/p/a/init.mp4');
    assert.deepEqual(
      a!.segments.map((s) => [s.url, s.number, s.time, s.duration]),
      [
        ['https://cdn.example.com/show/p/a/10.m4s', 10, 0, 180000],
        ['https://cdn.example.com/show/p/a/11.m4s', 11, 180000, 180000],
        ['https://cdn.example.com/show/p/a/12.m4s', 12, 360000, 180000],
        ['https://cdn.example.com/show/p/a/13.m4s', 13, 540000, 180000],
      ],
    );
    // b: its own media and timeline; the timeline wins over the inherited @duration.
    assert.deepEqual(
      b!.segments.map((s) => s.url),
      ['b/0.m4s', 'b/90000.m4s', 'b/180000.m4s'].map((u) => `https://cdn.example.com/show/${u}`),
    );
    assert.deepEqual(
      b!.segments.map((s) => s.number),
      [10, 11, 12],
    );
    // c: only the period's template: 8 s / 4 s.
    assert.deepEqual(
      c!.segments.map((s) => [s.url, s.number, s.time]),
      [
        ['https://cdn.example.com/show/p/c/1.m4s', 1, 0],
        ['https://cdn.example.com/show/p/c/2.m4s', 2, 4000],
      ],
    );
  });

  test('the most specific level picks the addressing mode', () => {
    const r = onlyRep(
      parseMpd(
        mpd(`<Period><SegmentTemplate media="$Number$.m4s" duration="1"/>
          <AdaptationSet mimeType="video/mp4"><Representation id="x" bandwidth="1"><BaseURL>x.mp4</BaseURL>
            <SegmentBase indexRange="100-199"/></Representation></AdaptationSet></Period>`),
        BASE,
      ),
    );
    assert.equal(r.addressing, 'SegmentBase');
    assert.deepEqual(r.indexRange, { start: 100, end: 199 });
  });

  test('ContentProtection on the set or the representation marks it encrypted', () => {
    const reps = parseMpd(
      mpd(`<Period>
        <AdaptationSet mimeType="video/mp4"><ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc"/>
          <Representation id="a" bandwidth="1"/></AdaptationSet>
        <AdaptationSet mimeType="video/mp4"><Representation id="b" bandwidth="1">
          <ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"/></Representation>
          <Representation id="c" bandwidth="1"/></AdaptationSet>
      </Period>`),
      BASE,
    ).periods[0]!.representations;
    assert.deepEqual(
      reps.map((r) => [r.id, r.encrypted]),
      [
        ['a', true],
        ['b', true],
        ['c', false],
      ],
    );
  });
});

describe('SegmentTemplate', () => {
  test('identifiers, $$, printf widths, @startNumber and @presentationTimeOffset', () => {
    const r = onlyRep(
      parseMpd(
        single(
          `<SegmentTemplate timescale="10" duration="25" startNumber="98" presentationTimeOffset="1000"
            initialization="$RepresentationID$_$Bandwidth$_init$$.mp4"
            media="$RepresentationID$/$Bandwidth%09d$/$Number%05d$-$Time%03d$-$Number$$$.m4s"/>`,
          'mimeType="video/mp4"',
          'id="v1" bandwidth="1000"',
        ).replace('PT10S', 'PT7S'),
        BASE,
      ),
    );
    assert.equal(r.init?.url, 'https://cdn.example.com/show/v1_1000_init$.mp4');
    // 7 s * 10 / 25 = 2.8 → 3 segments.
    assert.deepEqual(
      r.segments.map((s) => [s.url.replace('https://cdn.example.com/show/', ''), s.number, s.time, s.duration]),
      [
        ['v1/000001000/00098-1000-98$.m4s', 98, 1000, 25],
        ['v1/000001000/00099-1025-99$.m4s', 99, 1025, 25],
        ['v1/000001000/00100-1050-100$.m4s', 100, 1050, 25],
      ],
    );
  });

  test('segment URLs resolve exactly as new URL() does, odd names included', () => {
    const bases = ['https://h.example/a/b/m.mpd?token=1#frag', 'https://h.example', 'file:///srv/x%20y/m.mpd'];
    const medias = [
      's-$Number$.m4s',
      '../up/$Number$.m4s',
      './a/$Number$.m4s',
      'a b/$Number$',
      'a%20b/$Number$',
      '.hidden/$Number$',
      'x/./$Number$',
      '..$Number$',
      '/root/$Number$',
      '?q=$Number$',
      '//cdn.example/$Number$',
      'é/$Number$',
    ];
    for (const base of bases) {
      for (const media of medias) {
        const r = onlyRep(parseMpd(single(`<SegmentTemplate duration="5" media="${media}"/>`), base));
        assert.deepEqual(
          r.segments.map((s) => s.url),
          [1, 2].map((n) => new URL(media.replace('$Number$', String(n)), base).href),
          `${media} against ${base}`,
        );
      }
    }
  });

  test('the @duration segment count is exact with decimal durations', () => {
    // 6.006 s at 1000/s is exactly three 2002 segments (floats give 6006.000000000001).
    const r = onlyRep(
      parseMpd(
        single('<SegmentTemplate timescale="1000" duration="2002" media="$Number$.m4s"/>').replace('PT10S', 'PT6.006S'),
        BASE,
      ),
    );
    assert.equal(r.segments.length, 3);
    const r2 = onlyRep(
      parseMpd(
        single('<SegmentTemplate timescale="1000" duration="2002" media="$Number$.m4s"/>').replace('PT10S', 'PT6.007S'),
        BASE,
      ),
    );
    assert.equal(r2.segments.length, 4);
  });

  test('@endNumber caps the count', () => {
    const r = onlyRep(
      parseMpd(single('<SegmentTemplate duration="1" startNumber="5" endNumber="7" media="$Number$.m4s"/>'), BASE),
    );
    assert.deepEqual(
      r.segments.map((s) => s.number),
      [5, 6, 7],
    );
  });

  test('SegmentTimeline: @r, r=-1 to the period end, r=-1 to the next @t, gaps and resets', () => {
    const r = onlyRep(
      parseMpd(
        single(`<SegmentTemplate timescale="100" media="$Time$.m4s" startNumber="0"><SegmentTimeline>
          <S d="100" r="1"/>
          <S t="250" d="50" r="-1"/>
          <S t="400" d="100"/>
          <S t="450" d="30"/>
          <S d="200" r="-1"/>
        </SegmentTimeline></SegmentTemplate>`),
        BASE,
      ),
    );
    assert.deepEqual(
      r.segments.map((s) => [s.time, s.duration]),
      [
        [0, 100], // first S without @t starts at 0
        [100, 100],
        [250, 50], // a gap 200→250
        [300, 50],
        [350, 50], // r=-1 up to the next S@t=400
        [400, 100],
        [450, 30], // reset back to 450
        [480, 200], // r=-1 to the period end at 1000: ceil(520 / 200) = 3
        [680, 200],
        [880, 200],
      ],
    );
    assert.deepEqual(
      r.segments.map((s) => s.number),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(r.segments[2]!.url, 'https://cdn.example.com/show/250.m4s');
  });

  test('r=-1 to the period end counts from presentationTimeOffset', () => {
    const r = onlyRep(
      parseMpd(
        single(`<SegmentTemplate timescale="10" presentationTimeOffset="1000" media="$Time$.m4s">
          <SegmentTimeline><S t="1000" d="30" r="-1"/></SegmentTimeline></SegmentTemplate>`),
        BASE,
      ),
    );
    // Period end in media time: 1000 + 10 s * 10 = 1100 → ceil(100 / 30) = 4.
    assert.deepEqual(
      r.segments.map((s) => s.time),
      [1000, 1030, 1060, 1090],
    );
  });

  test('a template with neither timeline nor duration is one segment', () => {
    const r = onlyRep(parseMpd(single('<SegmentTemplate media="$RepresentationID$.mp4"/>'), BASE));
    assert.deepEqual(
      r.segments.map((s) => s.url),
      ['https://cdn.example.com/show/v1.mp4'],
    );
  });

  test('bad templates are MANIFEST_INVALID', () => {
    for (const t of [
      'media="$Foo$.m4s" duration="1"',
      'media="$Number.m4s" duration="1"',
      'media="$Number%099d$.m4s" duration="1"',
      'media="$Number$.m4s" duration="1" initialization="$Number$.mp4"',
      'duration="1"',
      'media="$Number$.m4s" duration="0"',
      'media="$Number$.m4s" duration="1" timescale="0"',
    ]) {
      throwsCode(() => parseMpd(single(`<SegmentTemplate ${t}/>`), BASE), 'MANIFEST_INVALID');
    }
  });
});

describe('SegmentList', () => {
  test('Initialization@sourceURL, SegmentURL@media, @duration timing', () => {
    const r = onlyRep(
      parseMpd(
        single(`<BaseURL>seg/</BaseURL><SegmentList timescale="1000" duration="2000" startNumber="3">
          <Initialization sourceURL="init.mp4"/>
          <SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/><SegmentURL media="https://x.example/c.m4s"/>
        </SegmentList>`),
        BASE,
      ),
    );
    assert.equal(r.addressing, 'SegmentList');
    assert.equal(r.timescale, 1000);
    assert.deepEqual(r.init, { url: 'https://cdn.example.com/show/seg/init.mp4' });
    assert.deepEqual(r.segments, [
      { url: 'https://cdn.example.com/show/seg/a.m4s', time: 0, duration: 2000, number: 3 },
      { url: 'https://cdn.example.com/show/seg/b.m4s', time: 2000, duration: 2000, number: 4 },
      { url: 'https://x.example/c.m4s', time: 4000, duration: 2000, number: 5 },
    ]);
  });

  test('byte ranges into one file and SegmentTimeline timing', () => {
    const r = onlyRep(
      parseMpd(
        single(`<BaseURL>all.mp4</BaseURL><SegmentList timescale="90000">
          <Initialization range="0-99"/>
          <SegmentTimeline><S t="10" d="180000"/><S d="90000" r="-1"/></SegmentTimeline>
          <SegmentURL mediaRange="100-199"/><SegmentURL mediaRange="200-399"/><SegmentURL mediaRange="400-450"/>
        </SegmentList>`),
        BASE,
      ),
    );
    const url = 'https://cdn.example.com/show/all.mp4';
    assert.deepEqual(r.init, { url, range: { start: 0, end: 99 } });
    assert.deepEqual(r.segments, [
      { url, range: { start: 100, end: 199 }, time: 10, duration: 180000, number: 1 },
      { url, range: { start: 200, end: 399 }, time: 180010, duration: 90000, number: 2 },
      { url, range: { start: 400, end: 450 }, time: 270010, duration: 90000, number: 3 },
    ]);
  });

  test('SegmentList inherited from the AdaptationSet', () => {
    const m = parseMpd(
      mpd(`<Period><AdaptationSet mimeType="audio/mp4"><SegmentList duration="4"><SegmentURL media="s1.m4s"/></SegmentList>
        <Representation id="a" bandwidth="1"><BaseURL>a/</BaseURL></Representation>
        <Representation id="b" bandwidth="1"><BaseURL>b/</BaseURL></Representation></AdaptationSet></Period>`),
      BASE,
    );
    assert.deepEqual(
      m.periods[0]!.representations.map((r) => r.segments.map((s) => s.url)),
      [['https://cdn.example.com/show/a/s1.m4s'], ['https://cdn.example.com/show/b/s1.m4s']],
    );
  });

  test('inverted byte ranges are MANIFEST_INVALID', () => {
    throwsCode(() => parseMpd(single('<SegmentList><SegmentURL mediaRange="10-5"/></SegmentList>'), BASE), 'MANIFEST_INVALID');
    throwsCode(() => parseMpd(single('<SegmentList><SegmentURL mediaRange="10"/></SegmentList>'), BASE), 'MANIFEST_INVALID');
  });
});

describe('SegmentBase', () => {
  test('indexRange, Initialization@range, and the BaseURL as the media file', () => {
    const r = onlyRep(
      parseMpd(
        single(
          '<BaseURL>v.mp4</BaseURL><SegmentBase indexRange="876-919" timescale="12800"><Initialization range="0-875"/></SegmentBase>',
        ),
        'file:///srv/od/m.mpd',
      ),
    );
    assert.equal(r.addressing, 'SegmentBase');
    assert.equal(r.mediaUrl, 'file:///srv/od/v.mp4');
    assert.deepEqual(r.indexRange, { start: 876, end: 919 });
    assert.deepEqual(r.init, { url: 'file:///srv/od/v.mp4', range: { start: 0, end: 875 } });
    assert.equal(r.timescale, 12800);
    assert.deepEqual(r.segments, []);
  });

  test('SegmentBase inherited from the AdaptationSet, indexRange overridden below', () => {
    const m = parseMpd(
      mpd(`<Period><AdaptationSet mimeType="video/mp4"><SegmentBase indexRange="10-20"><Initialization range="0-9"/></SegmentBase>
        <Representation id="a" bandwidth="1"><BaseURL>a.mp4</BaseURL></Representation>
        <Representation id="b" bandwidth="1"><BaseURL>b.mp4</BaseURL><SegmentBase indexRange="30-40"/></Representation>
      </AdaptationSet></Period>`),
      BASE,
    );
    const [a, b] = m.periods[0]!.representations;
    assert.deepEqual(
      [a!.indexRange, a!.init?.range, a!.init?.url],
      [{ start: 10, end: 20 }, { start: 0, end: 9 }, 'https://cdn.example.com/show/a.mp4'],
    );
    assert.deepEqual(
      [b!.indexRange, b!.init?.range, b!.init?.url],
      [{ start: 30, end: 40 }, { start: 0, end: 9 }, 'https://cdn.example.com/show/b.mp4'],
    );
  });
});

describe('periods', () => {
  test('each period counts @duration segments over its own duration', () => {
    const m = parseMpd(
      mpd(
        `<Period id="p1" duration="PT4S"><AdaptationSet mimeType="video/mp4"><SegmentTemplate duration="2" media="p1-$Number$.m4s"/>
          <Representation id="v" bandwidth="1"/></AdaptationSet></Period>
        <Period id="p2"><AdaptationSet mimeType="video/mp4"><SegmentTemplate duration="2" media="p2-$Number$.m4s"/>
          <Representation id="v" bandwidth="1"/></AdaptationSet></Period>`,
        'type="static" mediaPresentationDuration="PT10S"',
      ),
      BASE,
    );
    assert.deepEqual(
      m.periods.map((p) => [p.id, p.startSeconds, p.durationSeconds, p.representations[0]!.segments.length]),
      [
        ['p1', 0, 4, 2],
        ['p2', 4, 6, 3],
      ],
    );
  });

  test('many periods with fractional durations add up exactly', () => {
    const m = parseMpd(mpd('<Period duration="PT0.1S"/>'.repeat(1000), 'type="static"'), BASE);
    assert.equal(m.periods[999]!.startSeconds, 99.9);
    assert.equal(m.durationSeconds, 100);
  });
  test('a period after one of unknown length, with no @start, is MANIFEST_INVALID', () => {
    throwsCode(() => parseMpd(mpd('<Period/><Period/>', 'type="static"'), BASE), 'MANIFEST_INVALID');
  });
  test('a period whose next one starts earlier is MANIFEST_INVALID', () => {
    throwsCode(() => parseMpd(mpd('<Period start="PT5S"/><Period start="PT2S"/>'), BASE), 'MANIFEST_INVALID');
  });
  test('@duration addressing needs a known period duration', () => {
    throwsCode(
      () =>
        parseMpd(
          single('<SegmentTemplate duration="1" media="$Number$.m4s"/>').replace('mediaPresentationDuration="PT10S"', ''),
          BASE,
        ),
      'MANIFEST_INVALID',
    );
  });
});

describe('dynamic manifests and remote elements', () => {
  const dyn = (rep: string) =>
    mpd(
      `<Period start="PT0S"><AdaptationSet mimeType="video/mp4"><Representation id="v" bandwidth="1">${rep}</Representation></AdaptationSet></Period>`,
      'type="dynamic" availabilityStartTime="2024-01-01T00:00:00Z"',
    );
  test('a finite SegmentTimeline is accepted', () => {
    const m = parseMpd(
      dyn('<SegmentTemplate media="$Number$.m4s"><SegmentTimeline><S d="2" r="2"/></SegmentTimeline></SegmentTemplate>'),
      BASE,
    );
    assert.equal(m.type, 'dynamic');
    assert.equal(onlyRep(m).segments.length, 3);
  });
  test('@duration or an open-ended timeline is UNSUPPORTED', () => {
    throwsCode(() => parseMpd(dyn('<SegmentTemplate duration="2" media="$Number$.m4s"/>'), BASE), 'UNSUPPORTED');
    throwsCode(
      () =>
        parseMpd(
          dyn('<SegmentTemplate media="$Number$.m4s"><SegmentTimeline><S d="2" r="-1"/></SegmentTimeline></SegmentTemplate>'),
          BASE,
        ),
      'UNSUPPORTED',
    );
  });
  test('xlink Periods are UNSUPPORTED', () => {
    throwsCode(
      () =>
        parseMpd(
          mpd('<Period xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://x/p.xml" xlink:actuate="onLoad"/>'),
          BASE,
        ),
      'UNSUPPORTED',
    );
  });
  test('xlink SegmentLists are UNSUPPORTED', () => {
    throwsCode(
      () => parseMpd(single('<SegmentList xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://x/l.xml"/>'), BASE),
      'UNSUPPORTED',
    );
  });
  test('an unknown MPD@type is MANIFEST_INVALID', () => {
    throwsCode(() => parseMpd(mpd('<Period/>', 'type="live"'), BASE), 'MANIFEST_INVALID');
  });
});

describe('hostile input', () => {
  const timeline = (s: string, dur = 'PT10S') =>
    single(`<SegmentTemplate media="$Number$.m4s"><SegmentTimeline>${s}</SegmentTimeline></SegmentTemplate>`).replace(
      'PT10S',
      dur,
    );

  test('S@r = 2^31 - 1 is STRUCTURE_LIMIT before anything is allocated', () => {
    throwsCodeFast(() => parseMpd(timeline('<S t="0" d="1" r="2147483647"/>'), BASE), 'STRUCTURE_LIMIT');
    // Many S elements that each look small add up.
    throwsCodeFast(() => parseMpd(timeline('<S d="1" r="600000"/>'.repeat(2)), BASE), 'STRUCTURE_LIMIT');
    throwsCodeFast(() => parseMpd(timeline('<S d="1" r="5"/>'.repeat(3)), BASE, { maxSegments: 10 }), 'STRUCTURE_LIMIT');
  });
  test('r=-1 over a huge period, and @duration over one, are STRUCTURE_LIMIT fast', () => {
    throwsCodeFast(() => parseMpd(timeline('<S d="1" r="-1"/>', 'P1000000000D'), BASE), 'STRUCTURE_LIMIT');
    throwsCodeFast(
      () =>
        parseMpd(
          single('<SegmentTemplate timescale="1000000" duration="1" media="$Number$.m4s"/>').replace('PT10S', 'P99999D'),
          BASE,
        ),
      'STRUCTURE_LIMIT',
    );
  });
  test('the limit is per representation, with a cap on the whole manifest', () => {
    const reps = (n: number) =>
      mpd(
        `<Period><AdaptationSet mimeType="video/mp4"><SegmentTemplate duration="1" media="$RepresentationID$-$Number$.m4s"/>${'<Representation id="r" bandwidth="1"/>'.repeat(n)}</AdaptationSet></Period>`,
      );
    // 10 segments each: 4 representations fit under 4 × maxSegments, 5 do not.
    assert.equal(parseMpd(reps(4), BASE, { maxSegments: 10 }).periods[0]!.representations.length, 4);
    throwsCodeFast(() => parseMpd(reps(5), BASE, { maxSegments: 10 }), 'STRUCTURE_LIMIT');
  });
  test('empty timeline entries inherited by many representations are bounded too', () => {
    // Each S makes no segment (r=-1 up to the same @t), but every representation walks them all.
    const x = mpd(
      `<Period><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Number$.m4s"><SegmentTimeline>${'<S t="0" d="1" r="-1"/>'.repeat(20)}<S t="0" d="1"/></SegmentTimeline></SegmentTemplate>${'<Representation id="r" bandwidth="1"/>'.repeat(10)}</AdaptationSet></Period>`,
    );
    throwsCodeFast(() => parseMpd(x, BASE, { maxSegments: 50 }), 'STRUCTURE_LIMIT');
    assert.equal(parseMpd(x, BASE, { maxSegments: 60 }).periods[0]!.representations[9]!.segments.length, 1);
  });
  test('at the limit is fine', () => {
    assert.equal(onlyRep(parseMpd(timeline('<S d="1" r="9"/>'), BASE, { maxSegments: 10 })).segments.length, 10);
  });
  test('broken XML is MANIFEST_INVALID; other XML is UNKNOWN_FORMAT', () => {
    for (const x of [
      '<MPD><Period></MPD>',
      '<MPD type="static"',
      '',
      'not xml at all',
      '<MPD a="1" a="2"/>',
      '\u0000\u0001binary',
    ]) {
      throwsCodeFast(() => parseMpd(x, BASE), 'MANIFEST_INVALID');
    }
    throwsCode(() => parseMpd('<html><body/></html>', BASE), 'UNKNOWN_FORMAT');
    throwsCode(() => parseMpd(mpd(''), BASE), 'MANIFEST_INVALID'); // no Period
  });
  test('negative, fractional or non-numeric values are MANIFEST_INVALID', () => {
    const cases = [
      timeline('<S d="-1"/>'),
      timeline('<S t="-5" d="1"/>'),
      timeline('<S d="1.5"/>'),
      timeline('<S d="0" r="-1"/>'),
      timeline('<S/>'),
      timeline('<S d="1" r="x"/>'),
      single('<SegmentTemplate duration="-2" media="$Number$.m4s"/>'),
      single('<SegmentTemplate duration="2" timescale="1e3" media="$Number$.m4s"/>'),
      single('<SegmentTemplate duration="2" startNumber="-1" media="$Number$.m4s"/>'),
      single('', 'mimeType="video/mp4"', 'id="v" bandwidth="-100"'),
      single('', 'mimeType="video/mp4"', 'id="v" bandwidth="Infinity"'),
      single('', 'mimeType="video/mp4"', 'id="v" bandwidth="NaN"'),
      single('', 'mimeType="video/mp4" width="-64"', 'id="v" bandwidth="1"'),
      single('', 'mimeType="video/mp4"', 'id="v"'),
      single('', 'mimeType="video/mp4"', 'bandwidth="1"'),
      mpd('<Period/>', 'type="static" mediaPresentationDuration="-PT5S"'),
    ];
    for (const x of cases) throwsCodeFast(() => parseMpd(x, BASE), 'MANIFEST_INVALID');
  });
  test('integers beyond 2^53 are NUMBER_TOO_LARGE', () => {
    throwsCode(() => parseMpd(timeline('<S t="18446744073709551615" d="1"/>'), BASE), 'NUMBER_TOO_LARGE');
    throwsCode(() => parseMpd(timeline('<S t="9007199254740990" d="1" r="100"/>'), BASE), 'NUMBER_TOO_LARGE');
  });
  test('a manifest longer than maxManifestBytes is METADATA_LIMIT', () => {
    const x = single('<SegmentTemplate duration="2" media="$Number$.m4s"/>');
    throwsCodeFast(() => parseMpd(x, BASE, { maxManifestBytes: x.length - 1 }), 'METADATA_LIMIT');
    // Counted in UTF-8 bytes, not characters.
    const wide = single(`<BaseURL>${'é'.repeat(100)}.mp4</BaseURL>`);
    throwsCode(() => parseMpd(wide, BASE, { maxManifestBytes: wide.length + 50 }), 'METADATA_LIMIT');
    assert.equal(onlyRep(parseMpd(x, BASE, { maxManifestBytes: x.length })).segments.length, 5);
  });
  test('entity definitions are not expanded (no billion laughs)', () => {
    const lol = `<!DOCTYPE MPD [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`;
    const x = lol + single('<BaseURL>&c;</BaseURL>').replace(/^<\?xml[^>]*>/, '');
    const t0 = performance.now();
    try {
      const r = onlyRep(parseMpd(x, BASE));
      assert.ok(r.mediaUrl!.length < 200);
    } catch (e) {
      assert.ok(e instanceof VvfError);
    }
    assert.ok(performance.now() - t0 < 200);
  });
  test('deeply nested elements fail fast', () => {
    const x = mpd(`<Period>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</Period>`);
    const t0 = performance.now();
    assert.throws(
      () => parseMpd(x, BASE),
      (e: unknown) => e instanceof VvfError && e.code === 'MANIFEST_INVALID',
    );
    assert.ok(performance.now() - t0 < 500);
  });
});

// Real manifests written by ffmpeg and shaka-packager, checked against the files they wrote.
describe('real manifests', () => {
  const packager = join(process.cwd(), 'node_modules/shaka-packager/bin/packager-linux-x64');
  let dir = '';

  const load = (mpdPath: string): MpdManifest => parseMpd(readFileSync(mpdPath, 'utf8'), pathToFileURL(mpdPath).href);
  const boxTypeAt = (path: string, offset: number): string => {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(4);
      assert.equal(readSync(fd, b, 0, 4, offset + 4), 4);
      return b.toString('latin1');
    } finally {
      closeSync(fd);
    }
  };
  /** Every URL the representation lists exists; byte ranges lie inside their files. */
  const checkOnDisk = (r: MpdRepresentation): void => {
    for (const ref of [...(r.init ? [r.init] : []), ...r.segments]) {
      const p = fileURLToPath(ref.url);
      assert.ok(existsSync(p), `${p} exists`);
      if (ref.range)
        assert.ok(ref.range.end < statSync(p).size, `${ref.url} ${ref.range.start}-${ref.range.end} inside the file`);
    }
  };
  const files = (d: string, re: RegExp) => readdirSync(d).filter((f) => re.test(f));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vvf-mpd-'));
    const run = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    // 2 s of 64x64 video with a keyframe every second, and 1.9 s of audio, so segments line up with @duration.
    run('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=25:duration=2'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1.9:sample_rate=48000'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'],
      ...['-c:a', 'aac', '-b:a', '32k', 'src.mp4'],
    ]);
    const dash = (sub: string, extra: string[]) => {
      mkdirSync(join(dir, sub));
      run('ffmpeg', ['-v', 'error', '-i', 'src.mp4', '-c', 'copy', '-f', 'dash', '-seg_duration', '1', ...extra, `${sub}/m.mpd`]);
    };
    dash('timeline', ['-use_timeline', '1']);
    dash('number', ['-use_timeline', '0']);
    dash('single', ['-single_file', '1']);
    for (const sub of ['od', 'live']) mkdirSync(join(dir, sub));
    run(
      packager,
      ['in=../src.mp4,stream=video,output=v.mp4', 'in=../src.mp4,stream=audio,output=a.mp4', '--mpd_output', 'm.mpd'],
      join(dir, 'od'),
    );
    run(
      packager,
      [
        'in=../src.mp4,stream=video,init_segment=v/init.mp4,segment_template=v/$Number$.m4s',
        'in=../src.mp4,stream=audio,init_segment=a/init.mp4,segment_template=a/$Number$.m4s',
        ...['--generate_static_live_mpd', '--segment_duration', '1', '--mpd_output', 'm.mpd'],
      ],
      join(dir, 'live'),
    );
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  for (const [sub, mode] of [
    ['timeline', 'SegmentTimeline'],
    ['number', '@duration'],
  ] as const) {
    test(`ffmpeg -f dash, SegmentTemplate with ${mode}`, () => {
      const m = load(join(dir, sub, 'm.mpd'));
      const reps = m.periods[0]!.representations;
      assert.deepEqual(
        reps.map((r) => [r.contentType, r.addressing]),
        [
          ['video', 'SegmentTemplate'],
          ['audio', 'SegmentTemplate'],
        ],
      );
      for (const r of reps) {
        checkOnDisk(r);
        const onDisk = files(join(dir, sub), new RegExp(`^chunk-stream${r.id}-\\d+\\.m4s$`));
        assert.equal(r.segments.length, onDisk.length, `representation ${r.id}`);
        assert.ok(r.segments.length >= 2);
        assert.deepEqual(
          r.segments.map((s) => s.number),
          onDisk.map((_, i) => i + 1),
        );
        assert.equal(boxTypeAt(fileURLToPath(r.init!.url), 0), 'ftyp');
      }
    });
  }

  test('ffmpeg -f dash -single_file 1: SegmentList of byte ranges', () => {
    const m = load(join(dir, 'single', 'm.mpd'));
    for (const r of m.periods[0]!.representations) {
      assert.equal(r.addressing, 'SegmentList');
      checkOnDisk(r);
      const file = fileURLToPath(r.segments[0]!.url);
      assert.equal(files(join(dir, 'single'), /\.mp4$/).length, 2);
      assert.deepEqual(r.init?.range?.start, 0);
      assert.equal(boxTypeAt(file, 0), 'ftyp');
      // The ranges tile the file after the init segment, each starting at a box.
      let next = r.init!.range!.end + 1;
      for (const s of r.segments) {
        assert.equal(s.url, r.segments[0]!.url);
        assert.equal(s.range!.start, next);
        assert.ok(['sidx', 'styp', 'moof'].includes(boxTypeAt(file, s.range!.start)));
        next = s.range!.end + 1;
      }
      assert.equal(next, statSync(file).size);
    }
  });

  test('shaka-packager on-demand: SegmentBase with a sidx at indexRange', () => {
    const m = load(join(dir, 'od', 'm.mpd'));
    const reps = m.periods[0]!.representations;
    assert.deepEqual(
      reps.map((r) => [r.contentType, r.addressing, r.mediaUrl?.split('/').pop()]),
      [
        ['video', 'SegmentBase', 'v.mp4'],
        ['audio', 'SegmentBase', 'a.mp4'],
      ],
    );
    for (const r of reps) {
      checkOnDisk(r);
      const file = fileURLToPath(r.mediaUrl!);
      assert.equal(r.segments.length, 0); // the one file is mediaUrl
      assert.ok(existsSync(file));
      assert.equal(r.init?.url, r.mediaUrl);
      assert.equal(boxTypeAt(file, r.init!.range!.start), 'ftyp');
      assert.equal(boxTypeAt(file, r.indexRange!.start), 'sidx');
      assert.ok(r.indexRange!.end < statSync(file).size);
      assert.equal(r.indexRange!.start, r.init!.range!.end + 1);
    }
  });

  test('shaka-packager --generate_static_live_mpd: SegmentTemplate with a timeline', () => {
    const m = load(join(dir, 'live', 'm.mpd'));
    assert.equal(m.type, 'static');
    const reps = m.periods[0]!.representations;
    assert.equal(reps.length, 2);
    for (const r of reps) {
      assert.equal(r.addressing, 'SegmentTemplate');
      checkOnDisk(r);
      const sub = r.contentType === 'video' ? 'v' : 'a';
      assert.equal(r.segments.length, files(join(dir, 'live', sub), /^\d+\.m4s$/).length);
      assert.equal(r.init?.url, pathToFileURL(join(dir, 'live', sub, 'init.mp4')).href);
      assert.equal(boxTypeAt(fileURLToPath(r.segments[0]!.url), 0), 'styp');
      // Timeline times are contiguous here.
      for (let i = 1; i < r.segments.length; i++) {
        const a = r.segments[i - 1]!;
        assert.equal(r.segments[i]!.time, a.time! + a.duration!);
      }
    }
  });
});
