// Boxes and numbers a track's header needs in every layout (progressive moov, fragmented init).
import type { TkhdBox } from '../isobmff/boxes/tkhd.js';
import { type BoxNode, containerNode, rawNode } from '../isobmff/tree.js';
import { Writer } from '../isobmff/writer.js';
import type { OutputTrack } from './composition.js';
import { editsDuration } from './edits.js';
import { rescale } from './timescale.js';

export const U32_MAX = 0xffff_ffff;

/** Version 1 (64-bit fields) only when a value needs it. */
export const versionFor = (...values: number[]) => (values.some((v) => v > U32_MAX) ? 1 : 0);

/** tkhd/mvhd's identity matrix. */
export const UNITY_MATRIX = (() => {
  const w = new Writer(36);
  for (const v of [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000]) w.u32(v);
  return w.finish();
})();

/** Sum of sample durations: the media duration, track timescale. */
export function mediaDuration(t: OutputTrack): number {
  let media = 0;
  for (let i = 0; i < t.samples.count; i++) media += t.samples.duration[i] ?? 0;
  return media;
}

/** Presented duration in the movie timescale: the edits' total, else the media's. */
export function presentedDuration(t: OutputTrack, movieScale: number): number {
  if (t.edits) return editsDuration(t.edits);
  return rescale(mediaDuration(t), t.template.timescale, movieScale);
}

/** vmhd, smhd or nmhd by the track's kind. */
export function mediaHeader(t: OutputTrack): BoxNode {
  switch (t.template.kind) {
    case 'video':
      return rawNode('vmhd', [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    case 'audio':
      return rawNode('smhd', [0, 0, 0, 0, 0, 0, 0, 0]);
    default:
      return rawNode('nmhd', [0, 0, 0, 0]);
  }
}

/** dinf with one self-contained data reference: the samples are in this file. */
export function dinf(): BoxNode {
  const url = [0, 0, 0, 12, 0x75, 0x72, 0x6c, 0x20, 0, 0, 0, 1];
  return containerNode('dinf', [rawNode('dref', [0, 0, 0, 0, 0, 0, 0, 1, ...url])]);
}

/** The track header of an output track: the source's flags, layer, volume, matrix and size, with its new id and duration. */
export function trackHeader(t: OutputTrack, trackId: number, duration: number): TkhdBox {
  const tpl = t.template.tkhd;
  return {
    version: versionFor(duration),
    flags: tpl.flags,
    creationTime: 0,
    modificationTime: 0,
    trackId,
    reserved1: new Uint8Array(4),
    duration,
    reserved2: new Uint8Array(8),
    layer: tpl.layer,
    alternateGroup: tpl.alternateGroup,
    volume: tpl.volume,
    reserved3: new Uint8Array(2),
    matrix: tpl.matrix,
    width: tpl.width,
    height: tpl.height,
  };
}
