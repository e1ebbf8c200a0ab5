// Box writing for the fragmented layout: the init segment (ftyp, moov with mvex), styp, sidx, and each fragment's moof and mdat header.
import { VvfError } from '../errors.js';
import { type ElstBox, elstCodec } from '../isobmff/boxes/elst.js';
import { type FtypBox, ftypCodec } from '../isobmff/boxes/ftyp.js';
import { hdlrCodec } from '../isobmff/boxes/hdlr.js';
import { type MdhdBox, mdhdCodec } from '../isobmff/boxes/mdhd.js';
import { type MehdBox, mehdCodec } from '../isobmff/boxes/mehd.js';
import { type MfhdBox, mfhdCodec } from '../isobmff/boxes/mfhd.js';
import { type MvhdBox, mvhdCodec } from '../isobmff/boxes/mvhd.js';
import { NON_SYNC_SAMPLE_FLAGS, SAMPLE_IS_NON_SYNC, SYNC_SAMPLE_FLAGS } from '../isobmff/boxes/sample-flags.js';
import { type SidxBox, type SidxReference, sidxCodec } from '../isobmff/boxes/sidx.js';
import { type StcoBox, stcoCodec } from '../isobmff/boxes/stco.js';
import { type StscBox, stscCodec } from '../isobmff/boxes/stsc.js';
import { type StsdBox, stsdCodec } from '../isobmff/boxes/stsd.js';
import { type StszBox, stszCodec } from '../isobmff/boxes/stsz.js';
import { type SttsBox, sttsCodec } from '../isobmff/boxes/stts.js';
import { type TfdtBox, tfdtCodec } from '../isobmff/boxes/tfdt.js';
import {
  TFHD_DEFAULT_BASE_IS_MOOF,
  TFHD_DEFAULT_DURATION,
  TFHD_DEFAULT_FLAGS,
  TFHD_SAMPLE_DESCRIPTION_INDEX,
  type TfhdBox,
  tfhdCodec,
} from '../isobmff/boxes/tfhd.js';
import { tkhdCodec } from '../isobmff/boxes/tkhd.js';
import { type TrexBox, trexCodec } from '../isobmff/boxes/trex.js';
import {
  TRUN_DATA_OFFSET,
  TRUN_FIRST_SAMPLE_FLAGS,
  TRUN_SAMPLE_COMPOSITION_OFFSET,
  TRUN_SAMPLE_DURATION,
  TRUN_SAMPLE_FLAGS,
  TRUN_SAMPLE_SIZE,
  type TrunBox,
  trunCodec,
} from '../isobmff/boxes/trun.js';
import { headerSizeFor } from '../isobmff/header.js';
import { type BoxNode, type ContainerNode, containerNode, encodeNodes, leafNode, nodeSize } from '../isobmff/tree.js';
import { Writer } from '../isobmff/writer.js';
import type { OutputTrack } from './composition.js';
import { dinf, mediaHeader, presentedDuration, trackHeader, U32_MAX, UNITY_MATRIX, versionFor } from './track-boxes.js';

/**
 * Every output holds one track, with id 1 whatever its id in the composition, as ffmpeg's
 * and shaka-packager's DASH output do: shaka-packager 2.x crashes reading a one-track file
 * whose track id is 2, and players look tracks up in the init segment anyway.
 */
export const FILE_TRACK_ID = 1;

/** The init segment's ftyp: CMAF (cmfc) on ISO base media version 6 (iso6), as DASH and HLS fMP4 expect. */
export function initFtyp(): FtypBox {
  return { type: 'ftyp', majorBrand: 'iso6', minorVersion: 0, compatibleBrands: ['iso6', 'cmfc', 'mp41'] };
}

/** styp of each media segment: a DASH media segment (msdh) that carries a sidx (msix), and a CMAF segment (cmfs). */
export const STYP_BYTES = encodeNodes([
  leafNode('styp', ftypCodec, {
    type: 'styp',
    majorBrand: 'msdh',
    minorVersion: 0,
    compatibleBrands: ['msdh', 'msix', 'cmfs'],
  } satisfies FtypBox),
]);

/** stbl with the sample descriptions and empty tables: every sample is in a fragment. */
function emptyStbl(t: OutputTrack): ContainerNode {
  const none = new Uint32Array(0);
  return containerNode('stbl', [
    leafNode<StsdBox>('stsd', stsdCodec, { version: 0, flags: 0, entries: t.descriptions.map((d) => d.bytes) }),
    leafNode<SttsBox>('stts', sttsCodec, { version: 0, flags: 0, counts: none, deltas: none }),
    leafNode<StscBox>('stsc', stscCodec, {
      version: 0,
      flags: 0,
      firstChunks: none,
      samplesPerChunk: none,
      descriptionIndexes: none,
    }),
    leafNode<StszBox>('stsz', stszCodec, {
      type: 'stsz',
      version: 0,
      flags: 0,
      sampleSize: 0,
      fieldSize: 32,
      sampleCount: 0,
      sizes: new Uint32Array(0),
    }),
    leafNode<StcoBox>('stco', stcoCodec, { type: 'stco', version: 0, flags: 0, offsets: new Float64Array(0) }),
  ]);
}

/**
 * The edit list of an audio (or other non-video) track's init segment: the composition's
 * edits, as the progressive layout writes them (durations in the movie timescale, media
 * times in the track's). Chromium's MSE parser applies the first edit's media time (AAC
 * priming buffers from 0: fragmented-mse.test.ts), and so do vvf's and ffmpeg's readers,
 * so the manifest's @presentationTimeOffset for such a track is 0: a player applying both
 * would shift every sample twice. Video carries no edit list (see `fragmentedView`): its
 * B-frame delay is taken out of its composition offsets instead. Players that ignore edit
 * lists in fMP4 (Safari, many TVs) present the AAC priming, about 21 ms of silence early.
 */
function edts(t: OutputTrack): BoxNode | undefined {
  if (!t.edits || t.template.kind === 'video') return undefined;
  const entries = t.edits.map((e) => ({
    segmentDuration: e.duration,
    mediaTime: e.mediaTime,
    mediaRateInteger: 1,
    mediaRateFraction: 0,
  }));
  const v1 = entries.some((e) => e.segmentDuration > U32_MAX || e.mediaTime > 0x7fff_ffff);
  const elst: ElstBox = { version: v1 ? 1 : 0, flags: 0, entries };
  return containerNode('edts', [leafNode('elst', elstCodec, elst)]);
}

/**
 * The init segment of one track: ftyp, then moov with mvhd, one trak (tkhd, the edit list
 * of a track that is not video, mdia with the sample descriptions and empty sample tables) and mvex (mehd with the
 * presented duration, trex with neutral defaults: every fragment says what it needs).
 */
export function initSegmentBytes(t: OutputTrack, movieScale: number): Uint8Array {
  const tpl = t.template;
  const duration = presentedDuration(t, movieScale);
  const mvhd: MvhdBox = {
    version: versionFor(duration),
    flags: 0,
    creationTime: 0,
    modificationTime: 0,
    timescale: movieScale,
    duration,
    rate: 0x10000,
    volume: 0x100,
    reserved: new Uint8Array(10),
    matrix: UNITY_MATRIX,
    preDefined: new Uint8Array(24),
    nextTrackId: FILE_TRACK_ID + 1,
  };
  const tkhd = trackHeader(t, FILE_TRACK_ID, duration);
  // The media duration is that of the fragments: 0 here, as fragmented files write it.
  const mdhd: MdhdBox = {
    version: 0,
    flags: 0,
    creationTime: 0,
    modificationTime: 0,
    timescale: tpl.timescale,
    duration: 0,
    language: tpl.mdhd.language,
    languageCode: tpl.mdhd.languageCode,
    preDefined: 0,
  };
  const trakChildren: BoxNode[] = [leafNode('tkhd', tkhdCodec, tkhd)];
  const edit = edts(t);
  if (edit) trakChildren.push(edit);
  trakChildren.push(
    containerNode('mdia', [
      leafNode('mdhd', mdhdCodec, mdhd),
      leafNode('hdlr', hdlrCodec, tpl.hdlr),
      containerNode('minf', [mediaHeader(t), dinf(), emptyStbl(t)]),
    ]),
  );
  const mehd: MehdBox = { version: versionFor(duration), flags: 0, fragmentDuration: duration };
  const trex: TrexBox = {
    version: 0,
    flags: 0,
    trackId: FILE_TRACK_ID,
    defaultSampleDescriptionIndex: 1,
    defaultSampleDuration: 0,
    defaultSampleSize: 0,
    defaultSampleFlags: 0,
  };
  const moov = containerNode('moov', [
    leafNode('mvhd', mvhdCodec, mvhd),
    containerNode('trak', trakChildren),
    containerNode('mvex', [leafNode('mehd', mehdCodec, mehd), leafNode('trex', trexCodec, trex)]),
  ]);
  return encodeNodes([leafNode('ftyp', ftypCodec, initFtyp()), moov]);
}

/** A fragment's boxes: moof and the mdat header; its samples follow as extents. */
export interface FragmentBoxes {
  /** moof, then the mdat header. */
  bytes: Uint8Array;
  /** Bytes of the samples in mdat. */
  payloadSize: number;
  /** moof + mdat, header and payload: what a sidx reference counts. */
  size: number;
}

/** trun/tfhd flags word of sample i: the sdtp dependency fields when known, and the non-sync bit. */
function sampleFlags(t: OutputTrack, i: number): number {
  const s = t.samples;
  const sync = s.sync[i] === 1;
  if (!s.dependency) return sync ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS;
  // sdtp's byte is is_leading, depends_on, is_depended_on, has_redundancy: bits 27..20 of the word.
  return (s.dependency[i] ?? 0) * 0x10_0000 + (sync ? 0 : SAMPLE_IS_NON_SYNC);
}

/** One traf: samples [first, end) share a sample description. */
function trafNode(t: OutputTrack, first: number, end: number, dataOffset: number): ContainerNode {
  const s = t.samples;
  const n = end - first;
  const sizes = s.size.slice(first, end);
  const durations = s.duration.slice(first, end);
  const cts = s.compositionOffset.slice(first, end);
  const flags = new Uint32Array(n);
  for (let k = 0; k < n; k++) flags[k] = sampleFlags(t, first + k);
  let sameDuration = true;
  for (let k = 1; k < n && sameDuration; k++) if (durations[k] !== durations[0]) sameDuration = false;
  let restSame = true;
  for (let k = 2; k < n && restSame; k++) if (flags[k] !== flags[1]) restSame = false;
  let anyCts = false;
  let negative = false;
  for (let k = 0; k < n; k++) {
    const c = cts[k] as number;
    if (c !== 0) anyCts = true;
    if (c < 0) negative = true;
  }
  // Flags: one default for all (audio), a default and the first sample's (a GOP), else per sample.
  const allSame = n === 1 || (restSame && flags[0] === flags[1]);
  let tfhdFlags = TFHD_DEFAULT_BASE_IS_MOOF | TFHD_DEFAULT_FLAGS;
  let trunFlags = TRUN_DATA_OFFSET | TRUN_SAMPLE_SIZE;
  const tfhd: TfhdBox = { version: 0, flags: 0, trackId: FILE_TRACK_ID };
  if (t.descriptions.length > 1) {
    tfhdFlags |= TFHD_SAMPLE_DESCRIPTION_INDEX;
    tfhd.sampleDescriptionIndex = s.descriptionIndex[first] ?? 1;
  }
  if (sameDuration) {
    tfhdFlags |= TFHD_DEFAULT_DURATION;
    tfhd.defaultSampleDuration = durations[0] ?? 0;
  } else trunFlags |= TRUN_SAMPLE_DURATION;
  const trun: TrunBox = {
    // Version 1 reads the offsets as signed: needed when one is negative.
    version: negative ? 1 : 0,
    flags: 0,
    sampleCount: n,
    dataOffset,
    durations: sameDuration ? null : durations,
    sizes,
    sampleFlags: null,
    compositionOffsets: anyCts ? cts : null,
  };
  if (allSame) tfhd.defaultSampleFlags = flags[0] ?? 0;
  else if (restSame) {
    tfhd.defaultSampleFlags = flags[1] ?? 0;
    trunFlags |= TRUN_FIRST_SAMPLE_FLAGS;
    trun.firstSampleFlags = flags[0] ?? 0;
  } else {
    tfhdFlags &= ~TFHD_DEFAULT_FLAGS;
    trunFlags |= TRUN_SAMPLE_FLAGS;
    trun.sampleFlags = flags;
  }
  if (anyCts) trunFlags |= TRUN_SAMPLE_COMPOSITION_OFFSET;
  tfhd.flags = tfhdFlags;
  trun.flags = trunFlags;
  const decodeTime = s.decodeTime[first] ?? 0;
  if (decodeTime < 0) {
    throw new VvfError('UNSUPPORTED', `track ${t.id}: negative decode time ${decodeTime} cannot go in a tfdt`);
  }
  const tfdt: TfdtBox = { version: versionFor(decodeTime), flags: 0, baseMediaDecodeTime: decodeTime };
  return containerNode('traf', [
    leafNode('tfhd', tfhdCodec, tfhd),
    leafNode('tfdt', tfdtCodec, tfdt),
    leafNode('trun', trunCodec, trun),
  ]);
}

/**
 * moof (mfhd, then one traf per run of samples sharing a sample description — usually
 * one) and the mdat header for samples [first, end). tfhd says default-base-is-moof, so
 * each trun's data offset counts from the start of the moof.
 */
export function fragmentBoxes(t: OutputTrack, first: number, end: number, sequenceNumber: number): FragmentBoxes {
  const s = t.samples;
  const runs: number[] = [first];
  for (let i = first + 1; i < end; i++) if (s.descriptionIndex[i] !== s.descriptionIndex[i - 1]) runs.push(i);
  runs.push(end);
  let payloadSize = 0;
  const before: number[] = [];
  for (let r = 0; r + 1 < runs.length; r++) {
    before.push(payloadSize);
    for (let i = runs[r] as number; i < (runs[r + 1] as number); i++) payloadSize += s.size[i] as number;
  }
  const mdatHeader = headerSizeFor(payloadSize);
  const mfhd = leafNode('mfhd', mfhdCodec, { version: 0, flags: 0, sequenceNumber } satisfies MfhdBox);
  const build = (moofSize: number) =>
    containerNode('moof', [
      mfhd,
      ...before.map((b, r) => trafNode(t, runs[r] as number, runs[r + 1] as number, moofSize + mdatHeader + b)),
    ]);
  // Data offsets do not change box sizes: size with zeros, then write with the real ones.
  const moofSize = nodeSize(build(0));
  if (moofSize + mdatHeader + payloadSize > 0x7fff_ffff) {
    throw new VvfError(
      'STRUCTURE_LIMIT',
      `track ${t.id}: a fragment of ${payloadSize} bytes is too large for a sidx reference (2 GiB)`,
    );
  }
  const w = new Writer(moofSize + mdatHeader);
  w.bytesFrom(encodeNodes([build(moofSize)]));
  if (mdatHeader === 16) {
    w.u32(1);
    w.fourcc('mdat');
    w.u64(payloadSize + 16);
  } else {
    w.u32(payloadSize + 8);
    w.fourcc('mdat');
  }
  return { bytes: w.finish(), payloadSize, size: moofSize + mdatHeader + payloadSize };
}

/**
 * A sidx whose references are the fragments of segments [from, to): their sizes and
 * presentation durations, each starting with a SAP when its first sample is a keyframe
 * (type 1 when that keyframe is also presented first, else 3: leading pictures of an open GOP).
 */
export function sidxBytes(
  t: OutputTrack,
  plan: { starts: Uint32Array; presentationTimes: Float64Array },
  sizes: readonly number[],
  from: number,
  to: number,
): Uint8Array {
  const s = t.samples;
  const references: SidxReference[] = [];
  for (let k = from; k < to; k++) {
    const first = plan.starts[k] as number;
    const ept = plan.presentationTimes[k] as number;
    const keyPts = (s.decodeTime[first] as number) + (s.compositionOffset[first] as number);
    const sap = s.sync[first] === 1;
    const duration = (plan.presentationTimes[k + 1] as number) - ept;
    if (duration > U32_MAX) {
      throw new VvfError(
        'STRUCTURE_LIMIT',
        `track ${t.id}: segment ${k + 1} lasts ${duration} ticks, more than a sidx holds (2^32)`,
      );
    }
    references.push({
      referenceType: 0,
      referencedSize: sizes[k - from] as number,
      subsegmentDuration: duration,
      startsWithSap: sap,
      sapType: sap ? (keyPts === ept ? 1 : 3) : 0,
      sapDeltaTime: sap ? keyPts - ept : 0,
    });
  }
  if (references.length > 0xffff) {
    throw new VvfError('STRUCTURE_LIMIT', `track ${t.id}: ${references.length} segments, a sidx holds at most 65535`);
  }
  return encodeSidx(t.template.timescale, plan.presentationTimes[from] ?? 0, references);
}

/**
 * A sidx of the output track whose references start right after it, the first presenting
 * from `earliest` (a negative time is written as 0: the field is unsigned). A media
 * segment served alone carries one made of its own reference in the single file's sidx.
 */
export function encodeSidx(timescale: number, earliest: number, references: SidxReference[]): Uint8Array {
  const ept = Math.max(0, earliest);
  const sidx: SidxBox = {
    version: versionFor(ept),
    flags: 0,
    referenceId: FILE_TRACK_ID,
    timescale,
    earliestPresentationTime: ept,
    firstOffset: 0,
    reserved: 0,
    references,
  };
  return encodeNodes([leafNode('sidx', sidxCodec, sidx)]);
}
