// Files past 4 GiB, composed from a synthetic "repeated" source without writing a byte to
// disk: co64 exactly where a track's chunks pass 2^32 (and stco where they don't), the
// stco/co64 fixed point at the boundary, and chunk offsets that point at the right bytes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import type { Composition, OutputTrack } from '../../src/compose/composition.js';
import type { FileLayout } from '../../src/compose/layout.js';
import { layoutProgressive } from '../../src/compose/progressive.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { type StcoBox, stcoCodec } from '../../src/isobmff/boxes/stco.js';
import { childrenOf, containerChild, leaf, parseBoxTree } from '../../src/isobmff/tree.js';
import { defaultLimits } from '../../src/limits.js';
import type { Movie, Track } from '../../src/model/movie.js';
import type { SampleTable } from '../../src/model/sample-table.js';
import { checkReadRange } from '../../src/sources/read-range.js';
import type { Source } from '../../src/sources/source.js';
import { virtualFileFromLayout } from '../../src/virtual/compile.js';
import type { VirtualFile } from '../../src/virtual/virtual-file.js';
import { prng, randInt } from '../virtual/virtual-helpers.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const U32_MAX = 0xffff_ffff;
const MOVIE_TIMESCALE = 1000;

/** murmur3's fmix32: every input bit reaches every output bit, so no short period in offsets. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A source of any size whose byte at offset p is a hash of (salt, p): bytes read at the
 * wrong place, from the wrong source, or zero-filled don't match.
 */
class PatternSource implements Source {
  readonly validator: string;
  bytesRead = 0;
  readCount = 0;

  constructor(
    readonly key: string,
    readonly size: number,
    private readonly salt: number,
  ) {
    this.validator = `pattern-${salt}-${size}`;
  }

  static bytes(salt: number, offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const p = offset + i;
      const hi = Math.floor(p / 2 ** 32);
      out[i] = fmix32((p >>> 0) ^ Math.imul(hi + salt, 0x9e3779b1)) & 0xff;
    }
    return out;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(offset, length, this.size, this.key);
    this.readCount++;
    this.bytesRead += length;
    return PatternSource.bytes(this.salt, offset, length);
  }

  async close(): Promise<void> {}
}

const VIDEO_SALT = 1;
const AUDIO_SALT = 2;
const videoSource = new PatternSource('pattern:video', 6 * GIB, VIDEO_SALT);
const audioSource = new PatternSource('pattern:audio', 64 * MIB, AUDIO_SALT);
const sources = [videoSource, audioSource];
const saltOf = [VIDEO_SALT, AUDIO_SALT];

/** Samples laid one after another in source `sourceIndex` from `start`. */
function sampleTable(sourceIndex: number, sizes: Uint32Array, start: number, duration: number, syncEvery: number): SampleTable {
  const n = sizes.length;
  const offset = new Float64Array(n);
  const decodeTime = new Float64Array(n);
  const sync = new Uint8Array(n);
  let at = start;
  for (let i = 0; i < n; i++) {
    offset[i] = at;
    at += sizes[i]!;
    decodeTime[i] = i * duration;
    sync[i] = i % syncEvery === 0 ? 1 : 0;
  }
  return {
    count: n,
    sourceIndex: new Uint32Array(n).fill(sourceIndex),
    offset,
    size: sizes,
    decodeTime,
    compositionOffset: new Int32Array(n),
    duration: new Uint32Array(n).fill(duration),
    sync,
    descriptionIndex: new Uint32Array(n).fill(1),
    dependency: null,
  };
}

/** Video sample sizes: about 1 MiB each, varied so that stsz keeps a table. */
function videoSizes(count: number): Uint32Array {
  return Uint32Array.from({ length: count }, (_, i) => MIB - 32 * 1024 + ((i * 7919) % 65536));
}

function audioSizes(count: number): Uint32Array {
  return Uint32Array.from({ length: count }, (_, i) => 300 + ((i * 37) % 200));
}

let video: Track;
let audio: Track;
before(async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
  assert.ok(f, 'fixture h264-aac-faststart');
  const movie = await openMovie(f.input);
  await Promise.all(movie.sources.map((s) => s.close()));
  video = movie.tracks.find((t) => t.kind === 'video')!;
  audio = movie.tracks.find((t) => t.kind === 'audio')!;
  assert.ok(video && audio, 'the fixture has a video and an audio track');
});

/** A composition of a 25 fps video track and an AAC track from the pattern sources, metadata from the fixture. */
function composition(vSizes: Uint32Array, aSizes: Uint32Array): Composition {
  const track = (id: number, template: Track, samples: SampleTable): OutputTrack => ({
    id,
    template,
    descriptions: template.descriptions,
    samples,
    edits: null,
    prefixes: new Map(),
  });
  const frame = video.timescale / 25;
  assert.ok(Number.isInteger(frame), 'video timescale is a multiple of 25');
  return {
    timescale: MOVIE_TIMESCALE,
    sources,
    tracks: [track(1, video, sampleTable(0, vSizes, 12_345, frame, 25)), track(2, audio, sampleTable(1, aSizes, 777, 1024, 1))],
  };
}

function sum(a: Uint32Array): number {
  return a.reduce((s, x) => s + x, 0);
}

interface Header {
  /** ftyp + moov + mdat header: where the samples start. */
  length: number;
  /** Per track: chunk offset box type and offsets, read back from the moov. */
  chunks: StcoBox[];
  mdatSize: number;
  /** 16 with a 64-bit size, else 8. */
  mdatHeader: number;
}

/** Reads the header through the virtual file and parses it with vvf's own box tree. */
async function readHeader(file: VirtualFile): Promise<Header> {
  const head = await file.read(0, Math.min(file.size, 16));
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const ftypSize = view.getUint32(0);
  const probe = await file.read(ftypSize, 8);
  const moovSize = new DataView(probe.buffer, probe.byteOffset).getUint32(0);
  assert.equal(new TextDecoder().decode(probe.subarray(4, 8)), 'moov');
  const boxes = await file.read(0, ftypSize + moovSize + 16);
  const tree = parseBoxTree(boxes.subarray(0, ftypSize + moovSize), 0, '', { limits: defaultLimits });
  assert.deepEqual(
    tree.map((n) => n.type),
    ['ftyp', 'moov'],
  );
  const mdat = new DataView(boxes.buffer, boxes.byteOffset + ftypSize + moovSize, 16);
  assert.equal(mdat.getUint32(4), 0x6d646174, 'mdat follows moov');
  // Files this large need the 64-bit mdat size; small ones may use either.
  const mdatSize = mdat.getUint32(0) === 1 ? Number(mdat.getBigUint64(8)) : mdat.getUint32(0);
  const mdatHeader = mdat.getUint32(0) === 1 ? 16 : 8;
  const length = ftypSize + moovSize + mdatHeader;
  const chunks = childrenOf(containerChild(tree, 'moov')!, 'trak').map((trak) => {
    const stbl = containerChild(containerChild(containerChild(trak, 'mdia')!, 'minf')!, 'stbl')!;
    const boxesFound = [leaf(stbl, 'stco', stcoCodec), leaf(stbl, 'co64', stcoCodec)].filter((b) => b !== undefined);
    assert.equal(boxesFound.length, 1, 'one chunk offset box per track');
    return boxesFound[0]!;
  });
  return { length, chunks, mdatSize, mdatHeader };
}

interface Built {
  composition: Composition;
  layout: FileLayout;
  file: VirtualFile;
  header: Header;
  /** The output as vvf's demuxer reads it from the virtual file. */
  movie: Movie;
}

async function build(vSizes: Uint32Array, aSizes: Uint32Array): Promise<Built> {
  const c = composition(vSizes, aSizes);
  const layout = layoutProgressive(c);
  const byKey = new Map(sources.map((s) => [s.key, s]));
  const file = virtualFileFromLayout(layout, c.sources, async (ref) => byKey.get(ref.key)!);
  const header = await readHeader(file);
  const movie = await openMovie('virtual', { openSource: async () => file });
  return { composition: c, layout, file, header, movie };
}

/** Every sample, in file order: where it is in the output and where its bytes come from. */
interface Placement {
  fileOffset: Float64Array;
  size: Float64Array;
  sourceIndex: Uint8Array;
  sourceOffset: Float64Array;
}

/**
 * Checks that the samples, at the offsets the moov gives them, tile the mdat payload
 * exactly (no gap, no overlap, from right after the mdat header to the end of the file),
 * and returns them in file order.
 */
function placements(b: Built): Placement {
  const rows: [number, number, number, number][] = [];
  b.composition.tracks.forEach((t, ti) => {
    const out = b.movie.tracks[ti]!.samples;
    assert.equal(out.count, t.samples.count, `track ${ti + 1}: sample count`);
    for (let i = 0; i < out.count; i++) {
      assert.equal(out.size[i], t.samples.size[i], `track ${ti + 1} sample ${i}: size`);
      rows.push([out.offset[i]!, out.size[i]!, t.samples.sourceIndex[i]!, t.samples.offset[i]!]);
    }
  });
  rows.sort((x, y) => x[0] - y[0]);
  const p: Placement = {
    fileOffset: new Float64Array(rows.length),
    size: new Float64Array(rows.length),
    sourceIndex: new Uint8Array(rows.length),
    sourceOffset: new Float64Array(rows.length),
  };
  let at = b.header.length;
  rows.forEach(([offset, size, source, sourceOffset], k) => {
    if (offset !== at) assert.fail(`sample ${k} in file order is at ${offset}, the previous ends at ${at}`);
    p.fileOffset[k] = offset;
    p.size[k] = size;
    p.sourceIndex[k] = source;
    p.sourceOffset[k] = sourceOffset;
    at += size;
  });
  assert.equal(at, b.file.size, 'the samples end where the file ends');
  return p;
}

/** The bytes the file must hold at [offset, offset + length), from the sources' patterns. */
function expectedAt(p: Placement, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let lo = 0;
  let hi = p.fileOffset.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (p.fileOffset[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  for (let k = lo, done = 0; done < length; k++) {
    const skip = offset + done - p.fileOffset[k]!;
    const n = Math.min(p.size[k]! - skip, length - done);
    out.set(PatternSource.bytes(saltOf[p.sourceIndex[k]!]!, p.sourceOffset[k]! + skip, n), done);
    done += n;
  }
  return out;
}

/** The properties every composed file must have, whatever its size. */
async function checkFile(b: Built, rng: () => number): Promise<Placement> {
  const { header, file, composition: c } = b;
  const payload = c.tracks.reduce((s, t) => s + sum(t.samples.size as Uint32Array), 0);
  assert.equal(file.size, header.length + payload, 'size = header + the samples');
  assert.equal(header.mdatSize, file.size - header.length + header.mdatHeader, 'mdat runs to the end of the file');
  // The fixed point: offsets were computed for the moov that was written, so the first
  // chunk starts right after the mdat header.
  const firstChunk = Math.min(...header.chunks.map((b) => b.offsets[0] ?? Number.POSITIVE_INFINITY));
  assert.equal(firstChunk, header.length, 'the first chunk starts right after the mdat header');
  for (const [t, box] of header.chunks.entries()) {
    const last = box.offsets[box.offsets.length - 1] ?? 0;
    // co64 exactly when an offset needs it.
    assert.equal(box.type, last > U32_MAX ? 'co64' : 'stco', `track ${t + 1}: last chunk at ${last}`);
  }
  const p = placements(b);
  // Every chunk offset is the offset of its chunk's first sample.
  header.chunks.forEach((box, t) => {
    const out = b.movie.tracks[t]!.samples;
    const starts = new Set<number>();
    for (let i = 0; i < out.count; i++) starts.add(out.offset[i]!);
    for (const o of box.offsets) assert.ok(starts.has(o), `track ${t + 1}: chunk offset ${o} is a sample's`);
  });
  // Samples read through the file are their source bytes: the first and last of each
  // track, the ones around 2^32, and a few at random.
  const picks = new Set<number>([0, p.fileOffset.length - 1]);
  for (let k = 0; k < p.fileOffset.length; k++) {
    if (p.fileOffset[k]! <= 2 ** 32 && p.fileOffset[k]! + p.size[k]! > 2 ** 32 - 1) picks.add(k);
  }
  for (let i = 0; i < 12; i++) picks.add(randInt(rng, 0, p.fileOffset.length));
  for (const k of picks) {
    const got = await file.read(p.fileOffset[k]!, p.size[k]!);
    const want = PatternSource.bytes(saltOf[p.sourceIndex[k]!]!, p.sourceOffset[k]!, p.size[k]!);
    assert.ok(Buffer.from(got).equals(want), `sample ${k} in file order, at ${p.fileOffset[k]}`);
  }
  return p;
}

describe('files past 4 GiB', () => {
  after(() => Promise.all(sources.map((s) => s.close())));

  test('video chunks past 2^32 use co64; a short audio track whose chunks all come first keeps stco', async () => {
    // 4700 frames of ~1 MiB: about 4.6 GiB of video over 188 s; audio only for the first 10 s.
    const vSizes = videoSizes(4700);
    const aSizes = audioSizes(Math.ceil((10 * 48000) / 1024));
    const b = await build(vSizes, aSizes);
    assert.ok(b.file.size > 4.5 * GIB, `${b.file.size} bytes`);
    assert.deepEqual(
      b.header.chunks.map((x) => x.type),
      ['co64', 'stco'],
    );
    assert.ok(
      b.header.chunks[1]!.offsets.every((o) => o < 300 * MIB),
      'audio chunks are all in the first 10 s',
    );
    assert.equal(b.header.mdatHeader, 16, 'the 64-bit mdat size');
    const rng = prng(41);
    const p = await checkFile(b, rng);
    // Reads past 4 GiB, across sample and chunk boundaries, and at the very end.
    const ranges: [number, number][] = [
      [2 ** 32 - 3, 7],
      [2 ** 32, 1],
      [b.file.size - 10, 10],
      [b.file.size, 0],
    ];
    for (let i = 0; i < 16; i++) {
      const offset = randInt(rng, 2 ** 32 - MIB, b.file.size - 1);
      ranges.push([offset, Math.min(b.file.size - offset, randInt(rng, 1, 3 * MIB))]);
    }
    for (const [offset, length] of ranges) {
      const got = await b.file.read(offset, length);
      assert.ok(Buffer.from(got).equals(expectedAt(p, offset, length)), `read(${offset}, ${length})`);
    }
    // The header bytes are the layout's, and a read across the header's end joins them to the samples.
    const across = await b.file.read(b.header.length - 100, 200);
    assert.ok(Buffer.from(across.subarray(0, 100)).equals(b.layout.bytes.subarray(b.header.length - 100, b.header.length)));
    assert.ok(Buffer.from(across.subarray(100)).equals(expectedAt(p, b.header.length, 100)));
    await b.file.close();
  });

  test('the same tracks in a small file use stco', async () => {
    const b = await build(videoSizes(100), audioSizes(200));
    assert.ok(b.file.size < 200 * MIB);
    assert.deepEqual(
      b.header.chunks.map((x) => x.type),
      ['stco', 'stco'],
    );
    assert.equal(b.header.mdatHeader, 8, 'the 32-bit mdat size');
    await checkFile(b, prng(42));
    await b.file.close();
  });

  describe('a track whose last chunk lands at the 2^32 boundary', () => {
    // Video runs at about 25 MiB/s, so 4 GiB is reached at about 163.8 s: audio for
    // 163.3 s has its last chunk a few MiB before it.
    const aSizes = audioSizes(Math.ceil((163.3 * 48000) / 1024));
    const frames = 4700;

    /**
     * Video sizes moved so that audio's last chunk would start at `target`, counting the
     * header as if only video used co64: the change is spread over the first 1000 frames,
     * which all come before it in the file.
     */
    async function sizesFor(target: number): Promise<{ sizes: Uint32Array; stcoHeader: number }> {
      const base = videoSizes(frames);
      const b = await build(base, aSizes);
      await b.file.close();
      const [v, a] = b.header.chunks;
      assert.equal(v!.type, 'co64');
      const last = a!.offsets[a!.offsets.length - 1]!;
      // The header with video's co64 and audio's stco.
      const header = b.header.length - (a!.type === 'co64' ? 4 * a!.offsets.length : 0);
      const delta = target - header - (last - b.header.length);
      const spread = 1000;
      assert.ok(Math.abs(delta) < spread * 16 * 1024, `a change of ${delta} bytes is small`);
      const sizes = base.slice();
      const each = Math.trunc(delta / spread);
      for (let i = 0; i < spread; i++) sizes[i] = sizes[i]! + each;
      sizes[0] = sizes[0]! + (delta - each * spread);
      return { sizes, stcoHeader: header - 4 * v!.offsets.length };
    }

    test('at 2^32 - 1 it keeps stco', async () => {
      const { sizes } = await sizesFor(U32_MAX);
      const b = await build(sizes, aSizes);
      const [v, a] = b.header.chunks;
      assert.equal(v!.type, 'co64');
      assert.equal(a!.type, 'stco');
      assert.equal(a!.offsets[a!.offsets.length - 1], U32_MAX, 'the largest offset stco can hold');
      await checkFile(b, prng(43));
      await b.file.close();
    });

    test('one byte further it needs co64, though it would fit if video kept stco too', async () => {
      const { sizes, stcoHeader } = await sizesFor(U32_MAX + 1);
      const b = await build(sizes, aSizes);
      const [v, a] = b.header.chunks;
      assert.equal(v!.type, 'co64');
      assert.equal(a!.type, 'co64', 'the fixed point switched audio too');
      const last = a!.offsets[a!.offsets.length - 1]!;
      // With audio's co64 the header grew by 4 bytes per audio chunk, and so did every offset.
      assert.equal(last, 2 ** 32 + 4 * a!.offsets.length);
      // With both tracks in stco the header would be smaller by 4 bytes per video chunk, and audio's last chunk would fit.
      assert.ok(last - (b.header.length - stcoHeader) <= U32_MAX, 'it fits in stco when video is stco too');
      await checkFile(b, prng(44));
      await b.file.close();
    });
  });
});
