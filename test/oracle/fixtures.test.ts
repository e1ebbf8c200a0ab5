// Sanity of the fixture matrix and the ffprobe oracle: every fixture is there, readable, and is what its tags say.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { av1Encoder, ensureFixtures, FIXTURE_NAMES, type Fixture } from '../../scripts/fixtures.js';
import { type ProbeStream, probePackets } from './ffprobe.js';

const execFileP = promisify(execFile);
const fixtures = await ensureFixtures();

const probes = new Map<string, Promise<ProbeStream[]>>();
function probe(file: string): Promise<ProbeStream[]> {
  let p = probes.get(file);
  if (!p) {
    p = probePackets(file);
    probes.set(file, p);
  }
  return p;
}

interface Box {
  type: string;
  start: number;
  end: number;
  payload: number;
  depth: number;
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'mvex', 'moof', 'traf', 'mfra']);

/** Every box of a well-formed file, depth first (only what these checks need; the fixtures are trusted). */
function boxes(data: Buffer, start = 0, end = data.length, depth = 0, out: Box[] = []): Box[] {
  let pos = start;
  while (pos + 8 <= end) {
    let size = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      size = Number(data.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    assert.ok(size >= header && pos + size <= end, `box ${type} at ${pos} overruns its parent`);
    out.push({ type, start: pos, end: pos + size, payload: pos + header, depth });
    if (CONTAINERS.has(type)) boxes(data, pos + header, pos + size, depth + 1, out);
    pos += size;
  }
  return out;
}

/** Version and signed composition offsets of a trun. */
function trunOffsets(data: Buffer, box: Box): { version: number; offsets: number[] } {
  const version = data.readUInt8(box.payload);
  const flags = data.readUIntBE(box.payload + 1, 3);
  const count = data.readUInt32BE(box.payload + 4);
  let p = box.payload + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    p += (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0);
    if (flags & 0x800) {
      offsets.push(version === 1 ? data.readInt32BE(p) : data.readUInt32BE(p));
      p += 4;
    }
  }
  return { version, offsets };
}

const VIDEO_CODECS = ['h264', 'hevc', 'vp9', 'av1'];
const AUDIO_CODECS = ['aac', 'opus'];

function expectedCodec(f: Fixture, kind: 'video' | 'audio'): string {
  const codec = f.tags.find((t) => (kind === 'video' ? VIDEO_CODECS : AUDIO_CODECS).includes(t));
  assert.ok(codec, `${f.name}: no ${kind} codec tag`);
  return codec;
}

test('the matrix is complete', async () => {
  const expected = (await av1Encoder()) ? FIXTURE_NAMES : FIXTURE_NAMES.filter((n) => n !== 'av1-aac');
  assert.deepEqual(
    fixtures.map((f) => f.name),
    [...expected],
  );
  const tags = new Set(fixtures.flatMap((f) => f.tags));
  for (const t of [
    'h264',
    'hevc',
    'vp9',
    'opus',
    'aac',
    'moov-first',
    'moov-last',
    'moov-samples',
    'mfra',
    'sidx',
    'global-sidx',
    'multi-moof',
    'negative-cts',
    'trun-v1',
    'shaka',
    'segment-base',
    'segment-list',
    'segment-template',
    'segment-timeline',
    'time-template',
    'number-template',
  ]) {
    assert.ok(tags.has(t), `no fixture covers ${t}`);
  }
  for (const layout of ['progressive', 'fragmented', 'segmented']) {
    assert.ok(
      fixtures.some((f) => f.layout === layout),
      `no ${layout} fixture`,
    );
  }
});

test('a second call reuses the cache and gives the same fixtures', async () => {
  const started = Date.now();
  const again = await ensureFixtures();
  assert.deepEqual(again, fixtures);
  assert.ok(Date.now() - started < 5000, 'cached fixtures should load quickly');
});

/** Packets of the shared H.264 + AAC source every h264 fixture is cut from. */
const reference = fixtures.find((f) => f.name === 'h264-aac-moov-last');

for (const f of fixtures) {
  test(`fixture ${f.name}`, async () => {
    assert.ok(path.isAbsolute(f.input), 'input is absolute');
    assert.equal((await stat(f.input)).isFile(), true);
    assert.equal(f.input.endsWith('.mpd'), f.layout === 'segmented', 'MPD exactly for segmented fixtures');
    assert.ok(f.sizeBytes > 10_000 && f.sizeBytes < 4 * 1024 * 1024, `size ${f.sizeBytes} is small but real`);
    assert.deepEqual(f.streams.map((s) => s.kind).sort(), ['audio', 'video']);

    const mpd = f.layout === 'segmented' ? await readFile(f.input, 'utf8') : '';
    const probeBoxes: { file: string; data: Buffer; list: Box[] }[] = [];
    for (const s of f.streams) {
      assert.equal((await stat(s.probeFile)).isFile(), true, `${s.probeFile} exists`);
      assert.equal(s.representationId !== undefined, f.layout === 'segmented', 'representationId exactly for MPD inputs');
      if (s.representationId !== undefined) assert.match(mpd, new RegExp(`<Representation [^>]*id="${s.representationId}"`));

      const stream = (await probe(s.probeFile)).find((p) => p.index === s.probeStreamIndex);
      assert.ok(stream, `stream ${s.probeStreamIndex} in ${s.probeFile}`);
      assert.equal(stream.codecType, s.kind);
      assert.equal(stream.id, s.trackId);
      assert.equal(stream.codecName, expectedCodec(f, s.kind));
      assert.ok(stream.packets.length > 0, 'has packets');
      assert.equal(stream.missingTimestamps, 0, 'every packet has pts and dts');
      assert.ok(
        stream.packets.every((p) => p.size > 0 && Number.isSafeInteger(p.pos)),
        'sizes and positions',
      );
      if (s.kind === 'video') assert.equal(stream.packets[0]!.key, true, 'video starts on a keyframe');
      if (s.kind === 'video' && f.tags.includes('bframes')) {
        const reordered = stream.packets.some((p, i) => i > 0 && p.pts < stream.packets[i - 1]!.pts);
        assert.ok(reordered, 'B-frames reorder presentation');
      }

      // Every h264 fixture cut from the shared source holds exactly its samples (DASH probe files: all segments, in order).
      if (f.tags.includes('h264') && !f.tags.includes('high-bitrate') && reference) {
        const refStream = reference.streams.find((r) => r.kind === s.kind)!;
        const ref = (await probe(refStream.probeFile)).find((p) => p.index === refStream.probeStreamIndex)!;
        assert.deepEqual(
          stream.packets.map((p) => p.size),
          ref.packets.map((p) => p.size),
          `${s.kind} packet sizes equal the source's`,
        );
      }

      const data = await readFile(s.probeFile);
      probeBoxes.push({ file: s.probeFile, data, list: boxes(data) });
    }

    // The tags are true.
    const all = probeBoxes.flatMap((p) => p.list);
    const has = (type: string) => all.some((b) => b.type === type);
    assert.equal(has('elst'), f.tags.includes('edit-list'), 'edit lists exactly where tagged');
    if (f.tags.includes('sidx')) assert.ok(has('sidx'), 'has sidx');
    if (f.tags.includes('multi-sidx')) {
      assert.ok(
        probeBoxes.every((p) => p.list.filter((b) => b.type === 'sidx').length > 1),
        'several sidx per stream',
      );
    }
    if (f.tags.includes('global-sidx')) {
      for (const p of probeBoxes) {
        const sidx = p.list.filter((b) => b.type === 'sidx');
        assert.equal(sidx.length, 1, 'one sidx');
        const version = p.data.readUInt8(sidx[0]!.payload);
        const refCount = p.data.readUInt16BE(sidx[0]!.payload + (version === 0 ? 22 : 30));
        assert.ok(refCount > 1, 'the one sidx indexes every segment');
      }
    }
    if (f.tags.includes('multi-moof')) {
      const video = probeBoxes[f.streams.findIndex((s) => s.kind === 'video')]!;
      assert.ok(video.list.filter((b) => b.type === 'moof').length > 3, 'more fragments than 2 s segments');
    }
    if (f.tags.includes('mfra')) assert.ok(has('mfra'), 'has mfra');
    if (f.tags.includes('moov-samples')) {
      assert.ok(has('moof') && all.some((b) => b.type === 'stsz' && b.end - b.payload > 20), 'samples in moov and in moofs');
    }
    if (f.tags.includes('trun-v1') || f.tags.includes('negative-cts')) {
      const truns = probeBoxes.flatMap((p) => p.list.filter((b) => b.type === 'trun').map((b) => trunOffsets(p.data, b)));
      if (f.tags.includes('trun-v1'))
        assert.ok(
          truns.some((t) => t.version === 1),
          'a trun of version 1',
        );
      if (f.tags.includes('negative-cts'))
        assert.ok(
          truns.some((t) => t.offsets.some((o) => o < 0)),
          'a negative composition offset',
        );
    }
    if (f.layout === 'progressive') {
      const top = boxes(await readFile(f.input)).filter((b) => b.depth === 0);
      const order = top.map((b) => b.type).filter((t) => t === 'moov' || t === 'mdat');
      if (f.tags.includes('moov-first')) assert.deepEqual(order, ['moov', 'mdat']);
      if (f.tags.includes('moov-last')) assert.deepEqual(order, ['mdat', 'moov']);
    }
    if (f.layout === 'fragmented') assert.ok(has('moof'), 'fragmented input has moofs');
    if (f.tags.includes('open-gop')) {
      // HEVC NAL unit types 8 and 9 are RASL pictures: they lead a CRA and reference the previous GOP.
      const video = f.streams.find((s) => s.kind === 'video')!;
      const args = ['-hide_banner', '-i', video.probeFile, '-map', `0:${video.probeStreamIndex}`, '-c', 'copy'];
      const { stderr } = await execFileP('ffmpeg', [...args, '-bsf:v', 'trace_headers', '-f', 'null', '-'], {
        maxBuffer: 1 << 30,
      });
      const types = new Set([...stderr.matchAll(/nal_unit_type\s+\S+\s+=\s+(\d+)/g)].map((m) => Number(m[1])));
      assert.ok(types.has(21) && (types.has(8) || types.has(9)), 'CRA keyframes with RASL leading pictures');
    }

    for (const [tag, marker] of [
      ['segment-base', '<SegmentBase'],
      ['segment-list', '<SegmentList'],
      ['segment-template', '<SegmentTemplate'],
      ['segment-timeline', '<SegmentTimeline'],
      ['time-template', '$Time$'],
      ['number-template', '$Number'],
      ['media-range', 'mediaRange='],
    ] as const) {
      if (f.tags.includes(tag)) assert.ok(mpd.includes(marker), `${tag}: MPD has ${marker}`);
    }
  });
}

test('probePackets reads integer timestamps and honours ignoreEditlist', async () => {
  assert.ok(reference, 'the h264-aac-moov-last fixture exists');
  const withEdits = await probePackets(reference.input);
  const raw = await probePackets(reference.input, { ignoreEditlist: true });
  const audio = withEdits.find((s) => s.codecType === 'audio')!;
  const rawAudio = raw.find((s) => s.codecType === 'audio')!;
  assert.deepEqual(audio.timeBase, [1, 48000]);
  assert.ok(audio.packets.every((p) => Number.isSafeInteger(p.pts) && Number.isSafeInteger(p.dts)));
  // The edit list hides the AAC priming: with it the first packet starts before 0, without it at 0.
  assert.ok(audio.packets[0]!.pts < 0, 'edit list applied');
  assert.equal(rawAudio.packets[0]!.pts, 0, 'edit list ignored');
  assert.equal(rawAudio.packets.length, audio.packets.length);
});

test('a failing tool gives its stderr, and leaves no temp folder or lock behind', {
  skip: process.platform === 'win32',
}, async () => {
  const scratch = await mkdtemp(path.join(tmpdir(), 'vvf-fixtures-'));
  const saved = { path: process.env.PATH, cache: process.env.VVF_CACHE_DIR };
  try {
    const bin = path.join(scratch, 'bin');
    await mkdir(bin);
    await writeFile(path.join(bin, 'ffmpeg'), '#!/bin/sh\necho "fake ffmpeg: cannot encode" >&2\nexit 3\n');
    await chmod(path.join(bin, 'ffmpeg'), 0o755);
    process.env.PATH = `${bin}${path.delimiter}${saved.path ?? ''}`;
    process.env.VVF_CACHE_DIR = path.join(scratch, 'cache');
    await assert.rejects(ensureFixtures(), /fake ffmpeg: cannot encode/);
    const left = await readdir(path.join(scratch, 'cache', 'fixtures'));
    assert.deepEqual(
      left.filter((e) => e.startsWith('.')),
      [],
      'no .tmp-* folder and no .lock',
    );
  } finally {
    process.env.PATH = saved.path;
    if (saved.cache === undefined) delete process.env.VVF_CACHE_DIR;
    else process.env.VVF_CACHE_DIR = saved.cache;
    await rm(scratch, { recursive: true, force: true });
  }
});
