import { type ElstBox, elstCodec } from '../isobmff/boxes/elst.js';
import { type FtypBox, ftypCodec } from '../isobmff/boxes/ftyp.js';
import { hdlrCodec } from '../isobmff/boxes/hdlr.js';
import { type MdhdBox, mdhdCodec } from '../isobmff/boxes/mdhd.js';
import { type MvhdBox, mvhdCodec } from '../isobmff/boxes/mvhd.js';
import { type StcoBox, stcoCodec } from '../isobmff/boxes/stco.js';
import { type StsdBox, stsdCodec } from '../isobmff/boxes/stsd.js';
import { tkhdCodec } from '../isobmff/boxes/tkhd.js';
import { headerSizeFor } from '../isobmff/header.js';
import { type BoxNode, type ContainerNode, containerNode, encodeNodes, leafNode, nodeSize } from '../isobmff/tree.js';
import { Writer } from '../isobmff/writer.js';
import type { Composition, OutputTrack } from './composition.js';
import { chunkTrack, interleave, type TrackChunks } from './interleave.js';
import { type FileLayout, LayoutBuilder } from './layout.js';
import { sampleTableBoxes, stscBox } from './sample-boxes.js';
import {
  dinf,
  mediaDuration,
  mediaHeader,
  presentedDuration,
  trackHeader,
  U32_MAX,
  UNITY_MATRIX,
  versionFor,
} from './track-boxes.js';

/** Identifies the layout in etags: bump when the bytes vvf writes for the same input change. */
export const PROGRESSIVE_FORMAT = 'mp4-progressive-3';

export interface ProgressiveOptions {
  /** Seconds of decode time per chunk (default 0.5). */
  chunkSeconds?: number;
}

function ftypBox(c: Composition): FtypBox {
  const brands = ['isom', 'iso2'];
  if (c.tracks.some((t) => t.descriptions.some((d) => d.format.startsWith('avc')))) brands.push('avc1');
  brands.push('mp41');
  return { type: 'ftyp', majorBrand: 'isom', minorVersion: 512, compatibleBrands: brands };
}

interface TrackLayout {
  track: OutputTrack;
  chunks: TrackChunks;
  /** Chunk offsets relative to the start of the mdat payload. */
  relativeOffsets: Float64Array;
  stco: StcoBox;
}

function trakNode(l: TrackLayout, movieScale: number): ContainerNode {
  const t = l.track;
  const tpl = t.template;
  const duration = presentedDuration(t, movieScale);
  const tkhd = trackHeader(t, t.id, duration);
  const media = mediaDuration(t);
  const mdhd: MdhdBox = {
    version: versionFor(media),
    flags: 0,
    creationTime: 0,
    modificationTime: 0,
    timescale: tpl.timescale,
    duration: media,
    language: tpl.mdhd.language,
    languageCode: tpl.mdhd.languageCode,
    preDefined: 0,
  };
  const perChunk = new Uint32Array(l.chunks.count);
  const chunkDesc = new Uint32Array(l.chunks.count);
  for (let c = 0; c < l.chunks.count; c++) {
    const a = l.chunks.first[c] ?? 0;
    perChunk[c] = (l.chunks.first[c + 1] ?? 0) - a;
    chunkDesc[c] = t.samples.descriptionIndex[a] ?? 1;
  }
  const stsd: StsdBox = { version: 0, flags: 0, entries: t.descriptions.map((d) => d.bytes) };
  const [stts, ...rest] = sampleTableBoxes(t.samples);
  const stsz = rest.pop()!;
  const stbl = containerNode('stbl', [
    leafNode('stsd', stsdCodec, stsd),
    stts!,
    ...rest,
    stscBox(perChunk, chunkDesc),
    stsz,
    leafNode(l.stco.type, stcoCodec, l.stco),
  ]);
  const children: BoxNode[] = [leafNode('tkhd', tkhdCodec, tkhd)];
  if (t.edits) {
    const entries = t.edits.map((e) => ({
      segmentDuration: e.duration,
      mediaTime: e.mediaTime,
      mediaRateInteger: 1,
      mediaRateFraction: 0,
    }));
    const v1 = entries.some((e) => e.segmentDuration > U32_MAX || e.mediaTime > 0x7fff_ffff);
    const elst: ElstBox = { version: v1 ? 1 : 0, flags: 0, entries };
    children.push(containerNode('edts', [leafNode('elst', elstCodec, elst)]));
  }
  children.push(
    containerNode('mdia', [
      leafNode('mdhd', mdhdCodec, mdhd),
      leafNode('hdlr', hdlrCodec, tpl.hdlr),
      containerNode('minf', [mediaHeader(t), dinf(), stbl]),
    ]),
  );
  return containerNode('trak', children);
}

function moovNode(c: Composition, layouts: TrackLayout[]): ContainerNode {
  const duration = Math.max(0, ...c.tracks.map((t) => presentedDuration(t, c.timescale)));
  const mvhd: MvhdBox = {
    version: versionFor(duration),
    flags: 0,
    creationTime: 0,
    modificationTime: 0,
    timescale: c.timescale,
    duration,
    rate: 0x10000,
    volume: 0x100,
    reserved: new Uint8Array(10),
    matrix: UNITY_MATRIX,
    preDefined: new Uint8Array(24),
    nextTrackId: c.tracks.length + 1,
  };
  return containerNode('moov', [leafNode('mvhd', mvhdCodec, mvhd), ...layouts.map((l) => trakNode(l, c.timescale))]);
}

/**
 * Lays a composition out as a progressive MP4: ftyp, moov, then one mdat whose chunks
 * (about half a second of one track each) are interleaved in decode-time order. The moov
 * size depends on whether chunk offsets need 64 bits, and the offsets depend on the moov
 * size: iterate until stable (a track switches to co64 once any of its offsets passes 2^32).
 */
export function layoutProgressive(c: Composition, opts: ProgressiveOptions = {}): FileLayout {
  const seconds = opts.chunkSeconds ?? 0.5;
  const prepared = c.tracks.map((track) => ({
    track,
    samples: track.samples,
    timescale: track.template.timescale,
    chunks: chunkTrack(track.samples, track.template.timescale, seconds),
  }));
  const order = interleave(prepared);

  // Chunk offsets relative to the mdat payload.
  const layouts: TrackLayout[] = prepared.map((p) => ({
    track: p.track,
    chunks: p.chunks,
    relativeOffsets: new Float64Array(p.chunks.count),
    stco: { type: 'stco', version: 0, flags: 0, offsets: new Float64Array(p.chunks.count) },
  }));
  let payload = 0;
  for (let k = 0; k < order.length; k += 2) {
    const l = layouts[order[k] ?? 0]!;
    const chunk = order[k + 1] ?? 0;
    l.relativeOffsets[chunk] = payload;
    const s = l.track.samples;
    for (let i = l.chunks.first[chunk] ?? 0; i < (l.chunks.first[chunk + 1] ?? 0); i++) payload += s.size[i] ?? 0;
  }

  const ftyp = leafNode('ftyp', ftypCodec, ftypBox(c));
  const mdatHeader = headerSizeFor(payload);
  let moov = moovNode(c, layouts);
  for (;;) {
    const dataStart = nodeSize(ftyp) + nodeSize(moov) + mdatHeader;
    let changed = false;
    for (const l of layouts) {
      // Offsets grow within a track: the last is the largest.
      const last = l.relativeOffsets[l.relativeOffsets.length - 1] ?? 0;
      if (l.stco.type === 'stco' && dataStart + last > U32_MAX) {
        l.stco = { ...l.stco, type: 'co64' };
        changed = true;
      }
    }
    if (!changed) {
      for (const l of layouts)
        for (let i = 0; i < l.relativeOffsets.length; i++) l.stco.offsets[i] = dataStart + (l.relativeOffsets[i] ?? 0);
      break;
    }
    moov = moovNode(c, layouts);
  }

  const header = new Writer(nodeSize(ftyp) + nodeSize(moov) + mdatHeader);
  header.bytesFrom(encodeNodes([ftyp, moov]));
  if (mdatHeader === 16) {
    header.u32(1);
    header.fourcc('mdat');
    header.u64(payload + 16);
  } else {
    header.u32(payload + 8);
    header.fourcc('mdat');
  }
  const builder = new LayoutBuilder(c.sources);
  builder.addBytes(header.finish());
  for (let k = 0; k < order.length; k += 2) {
    const l = layouts[order[k] ?? 0]!;
    const chunk = order[k + 1] ?? 0;
    const s = l.track.samples;
    for (let i = l.chunks.first[chunk] ?? 0; i < (l.chunks.first[chunk + 1] ?? 0); i++) {
      const prefix = l.track.prefixes.get(i);
      if (prefix) builder.addBytes(prefix);
      builder.addSourceRange(s.sourceIndex[i] ?? 0, s.offset[i] ?? 0, (s.size[i] ?? 0) - (prefix?.length ?? 0));
    }
  }
  return builder.finish(PROGRESSIVE_FORMAT, 'video/mp4');
}
