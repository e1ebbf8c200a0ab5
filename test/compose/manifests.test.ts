// DASH MPD and HLS playlists of hand-made presentation indexes: the rules players rely on (test/helpers/manifest-rules.ts), the names segments are served under, and vvf's own MPD reader reading them back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { writeMediaPlaylist, writeMultivariantPlaylist } from '../../src/compose/hls-writer.js';
import { ceilMilliseconds, languageTag, scaleTicks, xsDuration } from '../../src/compose/manifest-values.js';
import { DASH_PROFILES, writeMpd } from '../../src/compose/mpd-writer.js';
import type {
  PresentationIndex,
  PresentationLayout,
  PresentationSet,
  PresentedTrack,
} from '../../src/compose/presentation-index.js';
import {
  initPath,
  type ManifestForm,
  mpdName,
  multivariantName,
  playlistName,
  resolvePresentationPath,
  segmentPath,
  singleFilePath,
} from '../../src/compose/presentation-paths.js';
import { parseMpd } from '../../src/demux/mpd.js';
import { VvfError } from '../../src/errors.js';
import { mediaPlaylistProblems, mpdProblems, multivariantProblems, presentationProblems } from '../helpers/manifest-rules.js';

const FORMS: readonly ManifestForm[] = ['segments', 'single'];

interface TrackSpec {
  id: string;
  kind: PresentedTrack['kind'];
  set: number;
  codec: string;
  timescale: number;
  language?: string;
  pto?: number;
  /** Segment start times and, last, the end (ticks). */
  times: number[];
  /** Bytes of each segment's moof + mdat. */
  sizes?: number[];
  width?: number;
  height?: number;
  frameRate?: { num: number; den: number };
  sampleRate?: number;
  channels?: number;
}

/** A track's index entry: spans laid out as the single file lays them (init, sidx, segments), rates from the sizes. */
function track(s: TrackSpec): PresentedTrack {
  const count = s.times.length - 1;
  const sizes = s.sizes ?? Array.from({ length: count }, (_, i) => 40_000 + 1_000 * (i % 3));
  assert.equal(sizes.length, count);
  const init = 731;
  const sidx = 32 + 12 * count;
  const segments = [init + sidx];
  for (const size of sizes) segments.push((segments[segments.length - 1] as number) + size);
  let peak = 0;
  sizes.forEach((size, i) => {
    peak = Math.max(peak, (size * 8 * s.timescale) / ((s.times[i + 1] as number) - (s.times[i] as number)));
  });
  const span = ((s.times[count] as number) - (s.times[0] as number)) / s.timescale;
  const total = sizes.reduce((a, b) => a + b, 0);
  const t: PresentedTrack = {
    id: s.id,
    kind: s.kind,
    set: s.set,
    codec: s.codec,
    timescale: s.timescale,
    language: s.language ?? 'und',
    bandwidth: Math.ceil(peak),
    averageBandwidth: Math.ceil((total * 8) / span),
    presentationTimeOffset: s.pto ?? 0,
    offset: 24,
    size: segments[count] as number,
    init: [0, init],
    index: [init, init + sidx],
    segments,
    times: s.times,
  };
  for (const k of ['width', 'height', 'frameRate', 'sampleRate', 'channels'] as const) {
    if (s[k] !== undefined) Object.assign(t, { [k]: s[k] });
  }
  return t;
}

function presentation(layout: PresentationLayout, tracks: PresentedTrack[], sets: PresentationSet[]): PresentationIndex {
  // The longest track's presented time, from the presentation time offset.
  const duration = Math.max(
    ...tracks.map((t) => ((t.times[t.times.length - 1] as number) - t.presentationTimeOffset) / t.timescale),
  );
  return { version: 1, layout, segmentSeconds: 2, duration, sets, tracks };
}

/** Segment starts at the first frame at or past each multiple of `target` ticks from `origin`, as the planner cuts. */
function frameTimes(opts: {
  frames: number;
  frame: number;
  first: number;
  origin: number;
  target: number;
  keyEvery?: number;
}): number[] {
  const times = [opts.first];
  let next = opts.target;
  for (let i = 1; i < opts.frames; i++) {
    if (i % (opts.keyEvery ?? 1) !== 0) continue;
    const at = opts.first + i * opts.frame - opts.origin;
    if (at < next) continue;
    times.push(opts.first + i * opts.frame);
    next = (Math.floor(at / opts.target) + 1) * opts.target;
  }
  times.push(opts.first + opts.frames * opts.frame);
  return times;
}

/**
 * Two video renditions (timescales 12800 and 90000, B-frames: presentation starts two frames
 * in) and two audio languages (AAC with 2112 samples of priming: the first segment starts
 * before the presentation), 2 s segments.
 */
function ladder(layout: PresentationLayout = 'cmaf'): PresentationIndex {
  const v1 = track({
    id: 'v1',
    kind: 'video',
    set: 0,
    codec: 'avc1.64001f',
    timescale: 12800,
    pto: 1024,
    times: frameTimes({ frames: 238, frame: 512, first: 1024, origin: 1024, target: 25600, keyEvery: 25 }),
    width: 1280,
    height: 720,
    frameRate: { num: 25, den: 1 },
  });
  const v2 = track({
    id: 'v2',
    kind: 'video',
    set: 0,
    codec: 'avc1.4d401e',
    timescale: 90000,
    pto: 7200,
    times: frameTimes({ frames: 238, frame: 3600, first: 7200, origin: 7200, target: 180000, keyEvery: 25 }),
    sizes: Array.from({ length: 5 }, () => 15_000),
    width: 640,
    height: 360,
    frameRate: { num: 25, den: 1 },
  });
  const a1 = track({
    id: 'a1',
    kind: 'audio',
    set: 1,
    codec: 'mp4a.40.2',
    timescale: 48000,
    language: 'eng',
    pto: 2112,
    times: frameTimes({ frames: 471, frame: 1024, first: 0, origin: 2112, target: 96000 }),
    sampleRate: 48000,
    channels: 2,
  });
  const a2 = track({
    id: 'a2',
    kind: 'audio',
    set: 2,
    codec: 'mp4a.40.2',
    timescale: 44100,
    language: 'fre',
    pto: 2112,
    times: frameTimes({ frames: 433, frame: 1024, first: 0, origin: 2112, target: 88200 }),
    sampleRate: 44100,
    channels: 6,
  });
  a2.bandwidth += 100_000;
  a2.averageBandwidth += 100_000;
  return presentation(
    layout,
    [v1, v2, a1, a2],
    [
      { kind: 'video', language: 'und', tracks: ['v1', 'v2'], aligned: true },
      { kind: 'audio', language: 'eng', tracks: ['a1'], aligned: true },
      { kind: 'audio', language: 'fre', tracks: ['a2'], aligned: true },
    ],
  );
}

/** One audio track, language unknown. */
function singleAudio(): PresentationIndex {
  const a1 = track({
    id: 'a1',
    kind: 'audio',
    set: 0,
    codec: 'mp4a.40.2',
    timescale: 48000,
    times: frameTimes({ frames: 300, frame: 1024, first: 0, origin: 0, target: 96000 }),
    sampleRate: 48000,
    channels: 2,
  });
  return presentation('cmaf', [a1], [{ kind: 'audio', language: 'und', tracks: ['a1'], aligned: true }]);
}

/**
 * Keyframes at 0, 4, 12 and 16 s (an 8 s GOP makes one 8 s segment) beside a rendition with
 * a keyframe every 4 s: the set is not aligned.
 */
function longGop(): PresentationIndex {
  const v1 = track({
    id: 'v1',
    kind: 'video',
    set: 0,
    codec: 'avc1.640028',
    timescale: 90000,
    times: [0, 360000, 1080000, 1440000, 1575000],
    width: 1920,
    height: 1080,
    frameRate: { num: 24, den: 1 },
  });
  const v2 = track({
    id: 'v2',
    kind: 'video',
    set: 0,
    codec: 'avc1.64001f',
    timescale: 90000,
    times: [0, 360000, 720000, 1080000, 1440000, 1575000],
    sizes: [9000, 9000, 9000, 9000, 3000],
    width: 1280,
    height: 720,
    frameRate: { num: 24, den: 1 },
  });
  return presentation('cmaf', [v1, v2], [{ kind: 'video', language: 'und', tracks: ['v1', 'v2'], aligned: false }]);
}

/**
 * A clip of a long recording: presentation starts 10 hours into the media (an offset past
 * 2^31 ticks), NTSC frame rate, a duration that is not whole milliseconds (61 frames of
 * 1001/30000 s), and one segment of 2.4999996 s, which 6 decimals round to 2.5 and so to 3.
 */
function offsetClip(): PresentationIndex {
  const start = 10 * 3600 * 30000;
  const v1 = track({
    id: 'v1',
    kind: 'video',
    set: 0,
    codec: 'hvc1.1.6.L93.B0',
    timescale: 30000,
    pto: start,
    times: [start - 2002, start + 30 * 1001, start + 61 * 1001],
    width: 1920,
    height: 1080,
    frameRate: { num: 30000, den: 1001 },
  });
  const a1 = track({
    id: 'a1',
    kind: 'audio',
    set: 1,
    codec: 'mp4a.40.2',
    timescale: 10_000_000,
    pto: 0,
    times: [0, 24_999_996, 61_000_000],
    language: 'deu',
    channels: 2,
  });
  return presentation(
    'cmaf',
    [v1, a1],
    [
      { kind: 'video', language: 'und', tracks: ['v1'], aligned: true },
      { kind: 'audio', language: 'deu', tracks: ['a1'], aligned: true },
    ],
  );
}

/** AAC and E-AC-3 audio, an IMSC1 and a WebVTT text track. */
function mixed(): PresentationIndex {
  const times = [0, 180000, 360000];
  const v1 = track({ id: 'v1', kind: 'video', set: 0, codec: 'avc1.64001f', timescale: 90000, times, width: 1280, height: 720 });
  const a1 = track({
    id: 'a1',
    kind: 'audio',
    set: 1,
    codec: 'mp4a.40.2',
    timescale: 90000,
    times,
    language: 'eng',
    channels: 2,
  });
  const a2 = track({ id: 'a2', kind: 'audio', set: 2, codec: 'ec-3', timescale: 90000, times, language: 'eng', channels: 6 });
  const t1 = track({
    id: 't1',
    kind: 'text',
    set: 3,
    codec: 'stpp.ttml.im1t',
    timescale: 1000,
    times: [0, 2000, 4000],
    language: 'spa',
  });
  const t2 = track({ id: 't2', kind: 'text', set: 4, codec: 'wvtt', timescale: 1000, times: [0, 2000, 4000], language: 'spa' });
  return presentation(
    'cmaf',
    [v1, a1, a2, t1, t2],
    [
      { kind: 'video', language: 'und', tracks: ['v1'], aligned: true },
      { kind: 'audio', language: 'eng', tracks: ['a1'], aligned: true },
      { kind: 'audio', language: 'eng', tracks: ['a2'], aligned: true },
      { kind: 'text', language: 'spa', tracks: ['t1'], aligned: true },
      { kind: 'text', language: 'spa', tracks: ['t2'], aligned: true },
    ],
  );
}

const CASES: Record<string, () => PresentationIndex> = { ladder, singleAudio, longGop, offsetClip, mixed };

/** What a server would answer for each manifest name. */
function served(index: PresentationIndex, form: ManifestForm): (name: string) => string {
  return (name) => {
    if (name === mpdName(form)) return writeMpd(index, form);
    if (name === multivariantName(form)) return writeMultivariantPlaylist(index, form);
    const p = resolvePresentationPath(index, name);
    assert(p?.kind === 'playlist', `${name} is a playlist`);
    return writeMediaPlaylist(index, p.track.id, form);
  };
}

function track0(index: PresentationIndex, id: string): PresentedTrack {
  const t = index.tracks.find((x) => x.id === id);
  assert(t);
  return t;
}

describe('names under a presentation directory', () => {
  test('segments, single files and playlists have the names the manifests write', () => {
    assert.equal(initPath('v1'), 'v1/init.mp4');
    assert.equal(segmentPath('v1', 0), 'v1/1.m4s');
    assert.equal(segmentPath('a2', 41), 'a2/42.m4s');
    assert.equal(singleFilePath('v1'), 'v1.mp4');
    assert.equal(playlistName('v1', 'segments'), 'v1.m3u8');
    assert.equal(playlistName('v1', 'single'), 'v1-single.m3u8');
    assert.equal(mpdName('segments'), 'manifest.mpd');
    assert.equal(mpdName('single'), 'manifest-single.mpd');
    assert.equal(multivariantName('segments'), 'manifest.m3u8');
    assert.equal(multivariantName('single'), 'manifest-single.m3u8');
  });

  test('every name resolves back to what it names, and nothing else resolves', () => {
    const index = ladder();
    const v1 = track0(index, 'v1');
    assert.deepEqual(resolvePresentationPath(index, 'v1/init.mp4'), { kind: 'init', track: v1 });
    assert.deepEqual(resolvePresentationPath(index, 'v1/1.m4s'), { kind: 'segment', track: v1, segment: 0 });
    assert.deepEqual(resolvePresentationPath(index, segmentPath('v1', 4)), { kind: 'segment', track: v1, segment: 4 });
    assert.deepEqual(resolvePresentationPath(index, 'v1.mp4'), { kind: 'single', track: v1 });
    assert.deepEqual(resolvePresentationPath(index, 'v1-single.m3u8'), { kind: 'playlist', track: v1, form: 'single' });
    assert.deepEqual(resolvePresentationPath(index, 'manifest.mpd'), { kind: 'mpd', form: 'segments' });
    assert.deepEqual(resolvePresentationPath(index, 'manifest-single.m3u8'), { kind: 'multivariant', form: 'single' });
    for (const name of [
      'v1/0.m4s',
      'v1/01.m4s',
      'v1/6.m4s',
      'v9/1.m4s',
      'v9.mp4',
      'v1/init.m4s',
      '../v1.mp4',
      '/v1.mp4',
      'v1.m4s',
      '',
    ]) {
      assert.equal(resolvePresentationPath(index, name), undefined, name);
    }
    // A layout offers only its manifests; segments exist in all.
    const dash = ladder('dash');
    assert.equal(resolvePresentationPath(dash, 'manifest.m3u8'), undefined);
    assert.equal(resolvePresentationPath(dash, 'v1.m3u8'), undefined);
    assert.equal(resolvePresentationPath(ladder('hls'), 'manifest.mpd'), undefined);
    assert.equal(resolvePresentationPath(dash, 'v1/1.m4s')?.kind, 'segment');
  });
});

describe('every manifest keeps the rules players rely on', () => {
  for (const [name, make] of Object.entries(CASES)) {
    for (const form of FORMS) {
      test(`${name}, ${form}`, async () => {
        const index = make();
        const problems = await presentationProblems(index, form, served(index, form));
        assert.deepEqual(Object.fromEntries(problems), {});
      });
    }
  }
});

describe('MPD', () => {
  test('segments: live profile, sets by language, a SegmentTemplate and exact timeline per Representation', () => {
    const index = ladder();
    const mpd = writeMpd(index, 'segments');
    assert.match(mpd, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/);
    assert.match(mpd, / profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static"/);
    assert.match(mpd, / mediaPresentationDuration="PT10.007S"/);
    assert.match(
      mpd,
      /<AdaptationSet id="0" contentType="video" mimeType="video\/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="1280" maxHeight="720" maxFrameRate="25">/,
    );
    assert.match(
      mpd,
      /<AdaptationSet id="1" contentType="audio" mimeType="audio\/mp4" lang="en" segmentAlignment="true" startWithSAP="1">/,
    );
    assert.match(mpd, /<AdaptationSet id="2" contentType="audio" mimeType="audio\/mp4" lang="fr" /);
    assert.match(mpd, /<Representation id="v1" bandwidth="\d+" codecs="avc1.64001f" width="1280" height="720" frameRate="25">/);
    assert.match(
      mpd,
      /<Representation id="a2" bandwidth="\d+" codecs="mp4a.40.2" audioSamplingRate="44100">\n\s+<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="6"\/>/,
    );
    assert.match(
      mpd,
      /<SegmentTemplate timescale="12800" presentationTimeOffset="1024" initialization="\$RepresentationID\$\/init.mp4" media="\$RepresentationID\$\/\$Number\$.m4s" startNumber="1">\n\s+<SegmentTimeline>\n\s+<S t="1024" d="25600" r="3"\/>\n\s+<S d="19456"\/>/,
    );
    // Of the two audio sets the first is main; the one video set needs no Role.
    assert.match(
      mpd,
      /lang="en" segmentAlignment="true" startWithSAP="1">\n\s+<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/>/,
    );
    assert.equal(mpd.split('<Role ').length, 2);
    assert.equal(mpd.includes('cmaf'), false);
    assert.equal(DASH_PROFILES.segments, 'urn:mpeg:dash:profile:isoff-live:2011');
  });

  test('single: on-demand profile, BaseURL and inclusive SegmentBase ranges', () => {
    const index = ladder();
    const mpd = writeMpd(index, 'single');
    const v1 = track0(index, 'v1');
    assert.match(mpd, / profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"/);
    assert.match(mpd, /subsegmentAlignment="true" subsegmentStartsWithSAP="1"/);
    assert.equal(mpd.includes(' segmentAlignment'), false);
    assert.ok(
      mpd.includes(
        `<BaseURL>v1.mp4</BaseURL>\n        <SegmentBase timescale="12800" presentationTimeOffset="1024" indexRange="731-${v1.index[1] - 1}">\n          <Initialization range="0-730"/>`,
      ),
    );
  });

  test('an unaligned set claims no alignment; a long GOP is one long S', () => {
    const mpd = writeMpd(longGop(), 'segments');
    assert.equal(mpd.includes('segmentAlignment'), false);
    assert.match(mpd, /<S t="0" d="360000"\/>\n\s+<S d="720000"\/>\n\s+<S d="360000"\/>\n\s+<S d="135000"\/>/);
  });

  test('durations round up to the millisecond; offsets past 2^31 and NTSC rates are exact', () => {
    const index = offsetClip();
    const mpd = writeMpd(index, 'segments');
    // 61 × 1001 / 30000 = 2.03533… s of video, 6.1 s of audio: the audio is longer.
    assert.equal(index.duration, 6.1);
    assert.match(mpd, / mediaPresentationDuration="PT6.1S"/);
    assert.match(mpd, / frameRate="30000\/1001"/);
    assert.match(mpd, / presentationTimeOffset="1080000000"/);
    assert.match(mpd, /<S t="1079997998" d="32032"\/>/);
    assert.match(mpd, / minBufferTime="PT3.601S"/);
    const odd = { ...index, duration: (61 * 1001) / 30000 };
    assert.match(writeMpd(odd, 'segments'), / mediaPresentationDuration="PT2.036S"/);
  });

  test('vvf reads its own MPD back: the URLs, times and ranges the index has', () => {
    const index = ladder();
    const base = 'https://media.example.com/v/abc123/';
    for (const form of FORMS) {
      const m = parseMpd(writeMpd(index, form), base + mpdName(form));
      assert.equal(m.type, 'static');
      assert.ok((m.durationSeconds ?? 0) >= index.duration);
      const reps = m.periods[0]?.representations ?? [];
      assert.deepEqual(
        reps.map((r) => r.id),
        ['v1', 'v2', 'a1', 'a2'],
      );
      for (const r of reps) {
        const t = track0(index, r.id);
        assert.equal(r.timescale, t.timescale);
        assert.equal(r.codecs, t.codec);
        if (form === 'segments') {
          assert.equal(r.addressing, 'SegmentTemplate');
          assert.equal(r.init?.url, base + initPath(t.id));
          assert.deepEqual(
            r.segments.map((s) => [s.url, s.time, s.duration, s.number]),
            t.times.slice(0, -1).map((time, i) => [base + segmentPath(t.id, i), time, (t.times[i + 1] as number) - time, i + 1]),
          );
        } else {
          assert.equal(r.addressing, 'SegmentBase');
          assert.equal(r.mediaUrl, base + singleFilePath(t.id));
          assert.deepEqual(r.indexRange, { start: t.index[0], end: t.index[1] - 1 });
          assert.deepEqual(r.init?.range, { start: t.init[0], end: t.init[1] - 1 });
        }
      }
      assert.equal(reps.find((r) => r.id === 'a1')?.lang, 'en');
    }
  });

  test('attribute values are escaped', () => {
    const index = ladder();
    track0(index, 'v1').codec = 'avc1.64001f"&<x>';
    const mpd = writeMpd(index, 'segments');
    assert.ok(mpd.includes('codecs="avc1.64001f&quot;&amp;&lt;x&gt;"'));
    assert.deepEqual(mpdProblems(mpd, index, 'segments'), []);
  });
});

describe('HLS', () => {
  test('multivariant: one audio group with both languages, variants that add the loudest audio', () => {
    const index = ladder();
    const [v1, v2, , a2] = index.tracks as [PresentedTrack, PresentedTrack, PresentedTrack, PresentedTrack];
    const text = writeMultivariantPlaylist(index, 'segments');
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-mp4a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a1.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-mp4a",NAME="français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="6",URI="a2.m3u8"',
        `#EXT-X-STREAM-INF:BANDWIDTH=${v1.bandwidth + a2.bandwidth},AVERAGE-BANDWIDTH=${v1.averageBandwidth + a2.averageBandwidth},CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO="audio-mp4a"`,
        'v1.m3u8',
        `#EXT-X-STREAM-INF:BANDWIDTH=${v2.bandwidth + a2.bandwidth},AVERAGE-BANDWIDTH=${v2.averageBandwidth + a2.averageBandwidth},CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO="audio-mp4a"`,
        'v2.m3u8',
        '',
      ].join('\n'),
    );
    assert.match(writeMultivariantPlaylist(index, 'single'), /URI="a1-single.m3u8"[\s\S]*\nv1-single.m3u8\n/);
  });

  test('multivariant without video: each audio track a variant', () => {
    const index = singleAudio();
    const a1 = track0(index, 'a1');
    assert.equal(
      writeMultivariantPlaylist(index, 'segments'),
      `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=${a1.bandwidth},AVERAGE-BANDWIDTH=${a1.averageBandwidth},CODECS="mp4a.40.2"\na1.m3u8\n`,
    );
  });

  test('multivariant: one group per audio codec, each video once per group; IMSC1 subtitles, no WebVTT-in-MP4', () => {
    const index = mixed();
    const text = writeMultivariantPlaylist(index, 'segments');
    assert.match(
      text,
      /GROUP-ID="audio-mp4a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a1.m3u8"/,
    );
    assert.match(
      text,
      /GROUP-ID="audio-ec-3",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="a2.m3u8"/,
    );
    assert.match(
      text,
      /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subtitles",NAME="español",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,URI="t1.m3u8"/,
    );
    assert.match(
      text,
      /CODECS="avc1.64001f,mp4a.40.2,stpp.ttml.im1t",RESOLUTION=1280x720,AUDIO="audio-mp4a",SUBTITLES="subtitles"\nv1.m3u8/,
    );
    assert.match(
      text,
      /CODECS="avc1.64001f,ec-3,stpp.ttml.im1t",RESOLUTION=1280x720,AUDIO="audio-ec-3",SUBTITLES="subtitles"\nv1.m3u8/,
    );
    assert.equal(text.includes('t2.m3u8'), false);
  });

  test('media playlist, segments: map, EXTINF to the microsecond, numbered URIs', () => {
    const index = ladder();
    const text = writeMediaPlaylist(index, 'v1', 'segments');
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="v1/init.mp4"',
        ...[1, 2, 3, 4].flatMap((n) => ['#EXTINF:2.000000,', `v1/${n}.m4s`]),
        '#EXTINF:1.520000,',
        'v1/5.m4s',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
  });

  test('media playlist, single: byte ranges of the one file, contiguous from the first segment', () => {
    const index = ladder();
    const a1 = track0(index, 'a1');
    const lines = writeMediaPlaylist(index, 'a1', 'single').split('\n');
    assert.equal(lines[5], `#EXT-X-MAP:URI="a1.mp4",BYTERANGE="731@0"`);
    assert.equal(lines[6], '#EXTINF:2.048000,');
    assert.equal(lines[7], `#EXT-X-BYTERANGE:${(a1.segments[1] as number) - (a1.segments[0] as number)}@${a1.segments[0]}`);
    assert.equal(lines[8], 'a1.mp4');
  });

  test('the target duration covers a long GOP, and an EXTINF that rounds to .5 as written', () => {
    assert.match(writeMediaPlaylist(longGop(), 'v1', 'segments'), /#EXT-X-TARGETDURATION:8\n/);
    const text = writeMediaPlaylist(offsetClip(), 'a1', 'segments');
    assert.match(text, /#EXT-X-TARGETDURATION:4\n/);
    assert.match(text, /#EXTINF:2.500000,\na1\/1.m4s\n#EXTINF:3.600000,\n/);
    const short = offsetClip();
    track0(short, 'a1').times = [0, 24_999_996, 49_000_000];
    assert.match(writeMediaPlaylist(short, 'a1', 'segments'), /#EXT-X-TARGETDURATION:3\n/);
  });

  test('an unknown track is NOT_FOUND; a track id that is not a plain name is a bug', () => {
    assert.throws(
      () => writeMediaPlaylist(ladder(), 'v9', 'segments'),
      (e: unknown) => e instanceof VvfError && e.code === 'NOT_FOUND',
    );
    const bad = ladder();
    track0(bad, 'v1').id = 'v1/../x';
    for (const write of [() => writeMpd(bad, 'segments'), () => writeMultivariantPlaylist(bad, 'single')]) {
      assert.throws(write, (e: unknown) => e instanceof VvfError && e.code === 'BUG');
    }
  });
});

describe('the rules catch broken manifests', () => {
  const index = ladder();
  const mpd = writeMpd(index, 'segments');
  const single = writeMpd(index, 'single');
  const v1 = track0(index, 'v1');

  const broken: [string, string[]][] = [
    ['first S@t moved', mpdProblems(mpd.replace('<S t="1024"', '<S t="0"'), index, 'segments')],
    [
      'a segment lost',
      mpdProblems(mpd.replace('<S t="1024" d="25600" r="3"/>', '<S t="1024" d="25600" r="2"/>'), index, 'segments'),
    ],
    ['duration short', mpdProblems(mpd.replace('PT10.007S', 'PT10S'), index, 'segments')],
    ['duration long', mpdProblems(mpd.replace('PT10.007S', 'PT10.009S'), index, 'segments')],
    ['wrong profile', mpdProblems(mpd.replace('isoff-live', 'isoff-on-demand'), index, 'segments')],
    [
      'half-open range',
      mpdProblems(single.replace(`indexRange="731-${v1.index[1] - 1}"`, `indexRange="731-${v1.index[1]}"`), index, 'single'),
    ],
    ['range past the file', mpdProblems(single, index, 'single', { fileSize: () => 100 })],
    ['not XML', mpdProblems(mpd.replace('</Period>', ''), index, 'segments')],
    [
      'false alignment',
      mpdProblems(
        writeMpd({ ...longGop(), sets: [{ ...longGop().sets[0]!, aligned: true }] }, 'segments'),
        longGop(),
        'segments',
      ),
    ],
  ];
  const variants = writeMultivariantPlaylist(index, 'segments');
  const playlist = writeMediaPlaylist(index, 'v1', 'segments');
  const singlePlaylist = writeMediaPlaylist(index, 'v1', 'single');
  const secondRange = `#EXT-X-BYTERANGE:${(v1.segments[2] as number) - (v1.segments[1] as number)}@${v1.segments[1]}`;
  broken.push(
    ['no audio codec', multivariantProblems(variants.replaceAll(',mp4a.40.2"', '"'), index, 'segments')],
    ['bandwidth below average', multivariantProblems(variants.replace(/BANDWIDTH=\d+/, 'BANDWIDTH=1'), index, 'segments')],
    ['two defaults', multivariantProblems(variants.replace('DEFAULT=NO', 'DEFAULT=YES'), index, 'segments')],
    ['playlist of the other form', multivariantProblems(variants.replace('\nv1.m3u8', '\nv1-single.m3u8'), index, 'segments')],
    ['not #EXTM3U first', mediaPlaylistProblems(`\n${playlist}`, index, 'v1', 'segments')],
    [
      'target too short',
      mediaPlaylistProblems(playlist.replace('TARGETDURATION:2', 'TARGETDURATION:1'), index, 'v1', 'segments'),
    ],
    ['no map', mediaPlaylistProblems(playlist.replace(/#EXT-X-MAP.*\n/, ''), index, 'v1', 'segments')],
    ['segments swapped', mediaPlaylistProblems(playlist.replace('v1/1.m4s', 'v1/2.m4s'), index, 'v1', 'segments')],
    [
      'a gap in the bytes',
      mediaPlaylistProblems(
        singlePlaylist.replace(secondRange, `${secondRange.split('@')[0]}@${(v1.segments[1] as number) + 1}`),
        index,
        'v1',
        'single',
      ),
    ],
    ['wrong EXTINF', mediaPlaylistProblems(playlist.replace('#EXTINF:1.520000', '#EXTINF:1.52001'), index, 'v1', 'segments')],
  );
  for (const [what, problems] of broken) {
    test(what, () => assert.notDeepEqual(problems, [], what));
  }
});

describe('manifest values', () => {
  test('xs:duration', () => {
    assert.equal(xsDuration(63504n), 'PT1M3.504S');
    assert.equal(xsDuration(0n), 'PT0S');
    assert.equal(xsDuration(3_600_000n), 'PT1H');
    assert.equal(xsDuration(3_661_010n), 'PT1H1M1.01S');
    assert.equal(xsDuration(500n), 'PT0.5S');
  });

  test('milliseconds round up, ignoring float noise', () => {
    assert.equal(ceilMilliseconds(63.504), 63504n);
    assert.equal(ceilMilliseconds(0.1 + 0.2), 300n);
    assert.equal(ceilMilliseconds(63.5041), 63505n);
    assert.equal(ceilMilliseconds((61 * 1001) / 30000), 2036n);
  });

  test('ticks scale exactly past 2^53', () => {
    assert.equal(scaleTicks(2 ** 52 + 1, 3, 1000n, 'floor'), ((2n ** 52n + 1n) * 1000n) / 3n);
    assert.equal(scaleTicks(-1, 3, 1n, 'floor'), -1n);
    assert.equal(scaleTicks(-1, 3, 1n, 'ceil'), 0n);
    assert.equal(scaleTicks(1, 2, 1n, 'round'), 1n);
    assert.equal(scaleTicks(-1, 2, 1n, 'round'), 0n);
  });

  test('ISO 639-2 codes become RFC 5646 tags', () => {
    assert.equal(languageTag('eng'), 'en');
    assert.equal(languageTag('fre'), 'fr');
    assert.equal(languageTag('fra'), 'fr');
    assert.equal(languageTag('ger'), 'de');
    assert.equal(languageTag('yue'), 'yue');
    assert.equal(languageTag('und'), undefined);
    assert.equal(languageTag(''), undefined);
    assert.equal(languageTag('e"n'), undefined);
  });
});
