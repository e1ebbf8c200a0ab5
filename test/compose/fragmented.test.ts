// Every fixture as fragmented MP4, one file per track: init + media segments concatenated,
// and the single-file form, give ffmpeg the source's packets; segments start at keyframes,
// tfdt runs on, each sidx matches what it indexes; the single file reads back into the same samples.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { materialize } from '../../src/cli/materialize.js';
import type { Composition } from '../../src/compose/composition.js';
import { FragmentedPresentation } from '../../src/compose/fragmented.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { isNonSync } from '../../src/isobmff/boxes/sample-flags.js';
import { sidxCodec } from '../../src/isobmff/boxes/sidx.js';
import { tfdtCodec } from '../../src/isobmff/boxes/tfdt.js';
import { type TfhdBox, tfhdCodec } from '../../src/isobmff/boxes/tfhd.js';
import { type TrunBox, trunCodec } from '../../src/isobmff/boxes/trun.js';
import { type BoxNode, leaf, leaves, nodeSize, parseBoxTree } from '../../src/isobmff/tree.js';
import { defaultLimits } from '../../src/limits.js';
import { openSource } from '../../src/sources/open-source.js';
import { compileRecipe, resolverFor, virtualFileFromLayout } from '../../src/virtual/compile.js';
import type { VirtualFile } from '../../src/virtual/virtual-file.js';
import { decodeErrors, framemd5, samePackets } from '../helpers/media.js';

const run = promisify(execFile);
const SHAKA_PACKAGER = join(
  import.meta.dirname,
  '../../node_modules/shaka-packager/bin',
  `packager-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`,
);
const dir = mkdtempSync(join(tmpdir(), 'vvf-fragmented-'));

function presentationOf(c: Composition): FragmentedPresentation<VirtualFile> {
  const resolve = resolverFor(c.sources, (spec) => openSource(spec));
  return new FragmentedPresentation(c, (layout) => virtualFileFromLayout(layout, c.sources, resolve), { segmentSeconds: 1 });
}

async function bytesOf(file: VirtualFile): Promise<Uint8Array> {
  return file.read(0, file.size);
}

function boxes(bytes: Uint8Array): BoxNode[] {
  return parseBoxTree(bytes, 0, '', { limits: defaultLimits });
}

interface TrafSamples {
  tfhd: TfhdBox;
  decodeTime: number;
  duration: number;
  firstNonSync: boolean;
  trunVersions: number[];
}

/** The traf of a moof, read back: its decode time, the durations it sums to, and whether its first sample is a keyframe. */
function trafsOf(moof: BoxNode): TrafSamples[] {
  assert.equal(moof.kind, 'container');
  return moof.children
    .filter((n) => n.type === 'traf')
    .map((traf) => {
      const tfhd = leaf(traf, 'tfhd', tfhdCodec)!;
      const tfdt = leaf(traf, 'tfdt', tfdtCodec)!;
      let duration = 0;
      let firstNonSync = false;
      const truns = leaves<TrunBox>(traf, 'trun', trunCodec);
      truns.forEach((trun, k) => {
        for (let i = 0; i < trun.sampleCount; i++) duration += trun.durations?.[i] ?? tfhd.defaultSampleDuration ?? 0;
        if (k === 0) {
          const flags = trun.firstSampleFlags ?? trun.sampleFlags?.[0] ?? tfhd.defaultSampleFlags ?? 0;
          firstNonSync = isNonSync(flags);
        }
      });
      // Version 1 exactly when the run has a negative offset; -1 marks a run that breaks the rule.
      const trunVersions = truns.map((t) => ((t.compositionOffsets?.some((o) => o < 0) ? 1 : 0) === t.version ? t.version : -1));
      return { tfhd, decodeTime: tfdt.baseMediaDecodeTime, duration, firstNonSync, trunVersions };
    });
}

describe('fragmented layout of every fixture', async () => {
  for (const f of await ensureFixtures()) {
    test(f.name, async () => {
      const compiled = await compileRecipe(parseRecipe({ tracks: [{ source: f.input }] }));
      try {
        const p = presentationOf(compiled.composition);
        assert.equal(p.tracks.length, f.streams.length);
        for (const [t, ft] of p.tracks.entries()) {
          const stream = f.streams[t]!;
          const init = await bytesOf(ft.initFile());
          assert.deepEqual(
            boxes(init).map((b) => b.type),
            ['ftyp', 'moov'],
          );
          const parts: Uint8Array[] = [init];
          let nextDecode: number | undefined;
          const trunVersions = new Set<number>();
          const negative = ft.track.samples.compositionOffset.some((o) => o < 0);
          if (f.tags.includes('negative-cts') && stream.kind === 'video') assert.ok(negative, 'the source has negative offsets');
          for (let i = 0; i < ft.segmentCount; i++) {
            const seg = await bytesOf(ft.segmentFile(i));
            parts.push(seg);
            const top = boxes(seg);
            assert.deepEqual(
              top.map((b) => b.type),
              ['styp', 'sidx', 'moof', 'mdat'],
              `segment ${i}`,
            );
            const sidx = leaf(top, 'sidx', sidxCodec)!;
            assert.equal(sidx.references.length, 1);
            assert.equal(sidx.references[0]!.referencedSize, nodeSize(top[2]!) + top[3]!.header.size, `segment ${i}: sidx size`);
            assert.equal(
              sidx.references[0]!.subsegmentDuration,
              ft.plan.presentationTimes[i + 1]! - ft.plan.presentationTimes[i]!,
              `segment ${i}: sidx duration`,
            );
            assert.equal(sidx.earliestPresentationTime, ft.plan.presentationTimes[i]);
            const trafs = trafsOf(top[2]!);
            assert.ok(!trafs[0]!.firstNonSync, `segment ${i} starts with a keyframe`);
            for (const traf of trafs) {
              assert.ok(traf.tfhd.flags & 0x20000, 'default-base-is-moof');
              if (nextDecode !== undefined) assert.equal(traf.decodeTime, nextDecode, `segment ${i}: tfdt continues`);
              nextDecode = traf.decodeTime + traf.duration;
              for (const v of traf.trunVersions) trunVersions.add(v);
            }
          }
          assert.ok(!trunVersions.has(-1), 'trun version 1 exactly where a run has a negative offset');
          assert.equal(trunVersions.has(1), negative);
          const joined = join(dir, `${f.name}-${t}.mp4`);
          writeFileSync(joined, Buffer.concat(parts));
          const single = ft.singleFile();
          const singleBytes = await bytesOf(single);
          assert.equal(singleBytes.length, single.size);
          const singlePath = join(dir, `${f.name}-${t}-single.mp4`);
          writeFileSync(singlePath, singleBytes);
          const top = boxes(singleBytes);
          assert.deepEqual(
            top.slice(0, 3).map((b) => b.type),
            ['ftyp', 'moov', 'sidx'],
          );
          const sidx = leaf(top, 'sidx', sidxCodec)!;
          assert.equal(sidx.references.length, ft.segmentCount);
          const frags = top.slice(3);
          sidx.references.forEach((r, i) => {
            assert.equal(
              r.referencedSize,
              nodeSize(frags[2 * i]!) + frags[2 * i + 1]!.header.size,
              `single file: sidx size ${i}`,
            );
          });
          const ranges = ft.singleFileRanges();
          assert.equal(ranges.index.start, nodeSize(top[0]!) + nodeSize(top[1]!));
          assert.equal(ranges.index.end, ranges.index.start + nodeSize(top[2]!));
          let at = ranges.index.end;
          frags.forEach((box, k) => {
            if (k % 2 === 0) assert.equal(ranges.segments[k / 2], at, `segment ${k / 2} starts at its moof`);
            at += box.header.size;
          });
          assert.equal(ranges.segments[ft.segmentCount], single.size);

          const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex, { ignoreEditlist: true });
          for (const file of [joined, singlePath]) {
            const ours = await framemd5(file, 0, { ignoreEditlist: true });
            const mismatch = samePackets(ours, theirs);
            assert.equal(mismatch, undefined, `${stream.kind} in ${file}: ${mismatch}`);
          }
          const probe = await run('ffprobe', ['-v', 'error', singlePath]);
          assert.equal(probe.stderr.trim(), '', 'ffprobe reads the single file without error');
          assert.equal(await decodeErrors(singlePath), '', 'the single file decodes without errors');
          // A second, stricter reader: shaka-packager repackages the single file.
          const repackaged = join(dir, `${f.name}-${t}-shaka.mp4`);
          await run(SHAKA_PACKAGER, [`in=${singlePath},stream=${stream.kind},output=${repackaged}`, '--quiet']);
          assert.ok(statSync(repackaged).size > 0, 'shaka-packager wrote its output');
        }
      } finally {
        await compiled.close();
      }
    });
  }
});

/** Writes init + every segment, and the single file, of each track; returns their paths per track. */
async function writeForms(name: string, p: FragmentedPresentation<VirtualFile>): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const [t, ft] of p.tracks.entries()) {
    const parts = [await bytesOf(ft.initFile())];
    for (let i = 0; i < ft.segmentCount; i++) parts.push(await bytesOf(ft.segmentFile(i)));
    const joined = join(dir, `${name}-${t}.mp4`);
    writeFileSync(joined, Buffer.concat(parts));
    const single = join(dir, `${name}-${t}-single.mp4`);
    writeFileSync(single, await bytesOf(ft.singleFile()));
    out.push([joined, single]);
  }
  return out;
}

describe('recipes: clips and concatenations as fragmented tracks, packet for packet the progressive file of the same recipe', async () => {
  const fixtures = await ensureFixtures();
  const input = (name: string) => fixtures.find((x) => x.name === name)!.input;
  const recipes: [string, unknown][] = [
    ['clip', { tracks: [{ source: input('h264-aac-faststart') }], start: '1.32', end: '3.2' }],
    [
      'concat-same',
      {
        pieces: [
          { tracks: [{ source: input('h264-aac-faststart') }], start: 0, end: 2 },
          { tracks: [{ source: input('dash-template-time') }], start: 1, end: 4 },
        ],
      },
    ],
    [
      // 320x240 then 1280x720: two sample descriptions; the segment that spans the switch has two trafs.
      'concat-two-descriptions',
      {
        pieces: [
          { tracks: [{ source: input('h264-aac-faststart') }], start: 0, end: '1.5' },
          { tracks: [{ source: input('dash-high-bitrate') }], start: 0, end: 3 },
        ],
      },
    ],
  ];
  for (const [name, json] of recipes) {
    test(name, async () => {
      const compiled = await compileRecipe(parseRecipe(json));
      const progressive = join(dir, `${name}-progressive.mp4`);
      try {
        await materialize(compiled.file, progressive, { progress: false });
        const p = new FragmentedPresentation(
          compiled.composition,
          (layout) =>
            virtualFileFromLayout(layout, compiled.composition.sources, resolverFor(compiled.composition.sources, openSource)),
          { segmentSeconds: 1 },
        );
        const forms = await writeForms(name, p);
        for (const [t, files] of forms.entries()) {
          const theirs = await framemd5(progressive, t, { ignoreEditlist: true });
          for (const file of files) {
            const mismatch = samePackets(await framemd5(file, 0, { ignoreEditlist: true }), theirs);
            assert.equal(mismatch, undefined, `track ${t + 1} in ${file}: ${mismatch}`);
          }
          assert.equal(await decodeErrors(files[1]), '', 'the single file decodes without errors');
        }
      } finally {
        await compiled.close();
      }
    });
  }
});

describe('round trip', async () => {
  const fixtures = await ensureFixtures();
  for (const name of ['h264-aac-faststart', 'hevc-aac']) {
    const f = fixtures.find((x) => x.name === name);
    if (!f) continue;
    test(`${name}: progressive → fragmented single file → the same sample table`, async () => {
      const compiled = await compileRecipe(parseRecipe({ tracks: [{ source: f.input }] }));
      try {
        const p = presentationOf(compiled.composition);
        for (const [t, ft] of p.tracks.entries()) {
          const path = join(dir, `roundtrip-${name}-${t}.mp4`);
          writeFileSync(path, await bytesOf(ft.singleFile()));
          const movie = await openMovie(path);
          try {
            assert.equal(movie.layout.kind, 'fragmented');
            assert.equal(movie.tracks.length, 1);
            const got = movie.tracks[0]!.samples;
            const want = ft.track.samples;
            assert.equal(got.count, want.count);
            assert.deepEqual(got.size, want.size);
            assert.deepEqual(got.decodeTime, want.decodeTime);
            assert.deepEqual(got.compositionOffset, want.compositionOffset);
            assert.deepEqual(got.duration, want.duration);
            assert.deepEqual(got.sync, want.sync);
            // Audio keeps its edit list in the init; video has none (its delay is in its composition offsets).
            assert.deepEqual(
              movie.tracks[0]!.editList?.map((e) => [e.segmentDuration, e.mediaTime]),
              ft.track.template.kind === 'video' ? undefined : ft.track.edits?.map((e) => [e.duration, e.mediaTime]),
            );
          } finally {
            await Promise.allSettled(movie.sources.map((s) => s.close()));
          }
        }
      } finally {
        await compiled.close();
      }
    });
  }
});
