// vvf boxes next to mp4dump / MP4Box -diso: fields in their units, table entries (first and last N,
// --full for all), sample entries opened (avcC, hvcC, vpcC, esds, dOps), --json as a tree; checked
// against what ffprobe reads from the same files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import type { ListedBox } from '../../src/demux/box-listing.js';
import { probePackets } from '../oracle/ffprobe.js';

const run = promisify(execFile);

async function vvf(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

async function tree(...args: string[]): Promise<{ schemaVersion: number; size: number; boxes: ListedBox[] }> {
  return JSON.parse(await vvf('boxes', '--json', ...args)) as { schemaVersion: number; size: number; boxes: ListedBox[] };
}

async function streams(file: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: Record<string, unknown>[] }).streams;
}

/** Every box at `path` (types separated by /), through the tree. */
function find(boxes: ListedBox[], path: string): ListedBox[] {
  let level = boxes;
  const parts = path.split('/');
  let found: ListedBox[] = [];
  parts.forEach((type, i) => {
    found = level.filter((b) => b.type === type);
    if (i < parts.length - 1) level = found.flatMap((b) => b.children ?? []);
  });
  return found;
}

/** Children sit inside their parent and do not overlap. */
function checkNesting(b: ListedBox): void {
  let at = -1;
  for (const c of b.children ?? []) {
    assert.ok(c.offset > b.offset && c.offset + c.size <= b.offset + b.size, `${c.type} inside ${b.type}`);
    assert.ok(c.offset >= at, `${c.type} after its previous sibling`);
    at = c.offset + c.size;
    checkNesting(c);
  }
}

test('boxes --json is a tree with fields in their units, tables and opened sample entries, as ffprobe sees the file', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart')!;
  const t = await tree(f.input);
  assert.equal(t.schemaVersion, 1);
  let at = 0;
  for (const b of t.boxes) {
    assert.equal(b.offset, at);
    at += b.size;
    checkNesting(b);
  }
  assert.equal(at, readFileSync(f.input).length);

  const [video, audio] = await streams(f.input);
  const traks = find(t.boxes, 'moov/trak');
  const tkhd = find(traks.slice(0, 1), 'trak/tkhd')[0]!;
  assert.equal(tkhd.fields?.width, video!.width, 'tkhd width in pixels, not 16.16');
  assert.equal(tkhd.fields?.height, video!.height);
  const avcC = find(t.boxes, 'moov/trak/mdia/minf/stbl/stsd/avc1/avcC')[0]!;
  assert.equal(avcC.fields?.profile, `100 (${video!.profile})`);
  assert.equal(avcC.fields?.level, `${video!.level} (1.3)`);
  assert.equal(avcC.fields?.['sps[0].coded_size'], `${video!.width}x${video!.height}`);
  const esds = find(t.boxes, 'moov/trak/mdia/minf/stbl/stsd/mp4a/esds')[0]!;
  assert.equal(esds.fields?.channels, audio!.channels);
  assert.equal(esds.fields?.channel_layout, audio!.channel_layout);
  assert.equal(esds.fields?.sampling_frequency, Number(audio!.sample_rate));
  const elst = find(traks.slice(1), 'trak/edts/elst')[0]!;
  assert.deepEqual(elst.table?.columns.slice(0, 4), ['segment_duration', 'segment_duration_s', 'media_time', 'media_time_s']);
  assert.deepEqual(
    elst.table?.entries[0]?.values.slice(0, 4),
    [5000, 5, 1024, 0.021],
    'media time in the track timescale, seconds to the ms',
  );

  // First and last five entries by default; --full gives them all, equal to ffprobe's packet sizes.
  const stsz = find(t.boxes, 'moov/trak/mdia/minf/stbl/stsz')[0]!;
  assert.equal(stsz.table?.count, 125);
  assert.deepEqual(
    stsz.table?.entries.map((e) => e.index),
    [0, 1, 2, 3, 4, 120, 121, 122, 123, 124],
  );
  const all = find((await tree('--full', f.input)).boxes, 'moov/trak/mdia/minf/stbl/stsz')[0]!;
  const [packets] = await probePackets(f.input, { ignoreEditlist: true });
  assert.deepEqual(
    all.table?.entries.map((e) => e.values[0]),
    packets!.packets.map((p) => p.size),
  );
});

test('boxes text: units, entries with an elision, opened entries of HEVC, VP9/Opus and AV1; mono AAC configuration', async () => {
  const fixtures = await ensureFixtures();
  const path = (name: string) => fixtures.find((x) => x.name === name)!.input;
  const text = await vvf('boxes', '--entries', '2', path('h264-aac-moov-last'));
  assert.match(text, /^\s*\d+\s+\d+\s+tkhd$/m);
  assert.match(text, /^\s+width=320$/m);
  assert.match(text, /^\s+\[0\] sample_count=1 sample_offset=1024$/m);
  assert.match(text, /^\s+… 121 more …$/m, 'ctts: 125 entries, 2 from each end');
  assert.match(text, /^\s*\d+\s+\d+\s+pasp {2}h_spacing=1 v_spacing=1$/m);

  const hevc = await tree(path('hevc-aac'));
  const hvcC = find(hevc.boxes, 'moov/trak/mdia/minf/stbl/stsd/hvc1/hvcC')[0]!;
  const [hv] = await streams(path('hevc-aac'));
  assert.equal(hvcC.fields?.profile, `1 (${hv!.profile})`);
  assert.equal(hvcC.fields?.level, `${hv!.level} (2.0)`);
  assert.match(String(hvcC.fields?.['sps[0]']), /^42 01 /);
  assert.equal(hvcC.fields?.['sps[0].coded_size'], `${hv!.width}x${hv!.height}`);
  assert.equal(hvcC.fields?.['sps[0].full_range'], hv!.color_range === 'pc');

  const vp9 = await tree(path('vp9-opus'));
  const [, opus] = await streams(path('vp9-opus'));
  const dOps = find(vp9.boxes, 'moov/trak/mdia/minf/stbl/stsd/Opus/dOps')[0]!;
  assert.equal(dOps.fields?.output_channel_count, opus!.channels);
  assert.equal(dOps.fields?.pre_skip, 312);
  assert.equal(find(vp9.boxes, 'moov/trak/mdia/minf/stbl/stsd/vp09/vpcC')[0]?.fields?.bit_depth, 8);
  const av1 = fixtures.find((x) => x.name === 'av1-aac');
  if (av1) {
    const av1C = find((await tree(av1.input)).boxes, 'moov/trak/mdia/minf/stbl/stsd/av01/av1C')[0]!;
    assert.equal(av1C.fields?.seq_profile, '0 (Main)');
  }

  const dir = mkdtempSync(join(tmpdir(), 'vvf-boxes-'));
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=duration=1',
    '-c:a',
    'aac',
    '-ac',
    '1',
    join(dir, 'mono.mp4'),
  ]);
  const mono = await tree(join(dir, 'mono.mp4'));
  const mp4a = find(mono.boxes, 'moov/trak/mdia/minf/stbl/stsd/mp4a')[0]!;
  const esds = mp4a.children?.find((c) => c.type === 'esds');
  assert.equal(esds?.fields?.channel_configuration, 1);
  assert.equal(esds?.fields?.channel_layout, 'mono');
});

test('boxes on a fragmented file: trun entries, tfdt in seconds of the track timescale', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'frag-plain')!;
  const t = await tree('--entries', '1', f.input);
  const moofs = t.boxes.filter((b) => b.type === 'moof');
  assert.ok(moofs.length > 1);
  const trafs = find(moofs.slice(1, 2), 'moof/traf');
  const tfdt = find(trafs.slice(0, 1), 'traf/tfdt')[0]!;
  assert.equal(tfdt.fields?.base_media_decode_time_s, Number(tfdt.fields?.base_media_decode_time) / 12800);
  const trun = find(trafs.slice(0, 1), 'traf/trun')[0]!;
  assert.equal(trun.table?.count, trun.fields?.sample_count);
  assert.equal(trun.table?.entries.length, 2);
  assert.match(String(find(trafs.slice(0, 1), 'traf/tfhd')[0]?.fields?.flags), /default_duration/);
});
