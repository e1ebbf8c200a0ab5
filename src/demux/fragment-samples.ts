import { VvfError } from '../errors.js';
import { isNonSync } from '../isobmff/boxes/sample-flags.js';
import { tfdtCodec } from '../isobmff/boxes/tfdt.js';
import { TFHD_DEFAULT_BASE_IS_MOOF, tfhdCodec } from '../isobmff/boxes/tfhd.js';
import type { TrexBox } from '../isobmff/boxes/trex.js';
import { trunCodec } from '../isobmff/boxes/trun.js';
import { type BoxNode, childrenOf, leaf, leaves } from '../isobmff/tree.js';
import type { SampleTableBuilder } from '../model/sample-table.js';

/** What the fragment reader keeps per track between fragments. */
export interface FragmentTrackState {
  trackId: number;
  trex: TrexBox | undefined;
  samples: SampleTableBuilder;
  /** Decode time where the next fragment starts when it has no tfdt. */
  nextDecodeTime: number;
  fragments: number;
}

/** Where the moof sits and which source holds it and its data. */
export interface MoofPlace {
  /** Absolute offset of the moof's first byte. */
  start: number;
  sourceIndex: number;
  /** End of the region sample data may come from (source size or segment end). */
  dataEnd: number;
  source: string;
}

// sample_depends_on == 1: the sample depends on others, so it is not a sync point either.
const DEPENDS_ON_OTHERS = 0x0100_0000;
const DEPENDS_ON_MASK = 0x0300_0000;

/**
 * Appends the samples of one moof to the tracks' tables, resolving every way a track
 * fragment can address its data: an explicit base_data_offset, default-base-is-moof,
 * or neither (the moof for the first traf, the end of the previous traf's data after).
 */
export function readMoofSamples(moof: BoxNode, place: MoofPlace, tracks: ReadonlyMap<number, FragmentTrackState>): void {
  let previousTrafEnd = place.start;
  let firstTraf = true;
  for (const traf of childrenOf(moof, 'traf')) {
    const tfhd = leaf(traf, 'tfhd', tfhdCodec);
    if (!tfhd)
      throw new VvfError('BOX_MISSING', 'traf has no tfhd', { path: traf.path, offset: traf.header.start, source: place.source });
    const track = tracks.get(tfhd.trackId);
    if (!track) {
      throw new VvfError('MEDIA_INCONSISTENT', `traf refers to track ${tfhd.trackId}, which moov does not declare`, {
        path: traf.path,
        offset: traf.header.start,
        source: place.source,
      });
    }
    track.fragments++;
    const trex = track.trex;
    const base =
      tfhd.baseDataOffset !== undefined
        ? tfhd.baseDataOffset
        : (tfhd.flags & TFHD_DEFAULT_BASE_IS_MOOF) !== 0 || firstTraf
          ? place.start
          : previousTrafEnd;
    firstTraf = false;
    const tfdt = leaf(traf, 'tfdt', tfdtCodec);
    let t = tfdt ? tfdt.baseMediaDecodeTime : track.nextDecodeTime;
    const descriptionIndex = tfhd.sampleDescriptionIndex ?? trex?.defaultSampleDescriptionIndex ?? 1;
    const defaultDuration = tfhd.defaultSampleDuration ?? trex?.defaultSampleDuration;
    const defaultSize = tfhd.defaultSampleSize ?? trex?.defaultSampleSize;
    const defaultFlags = tfhd.defaultSampleFlags ?? trex?.defaultSampleFlags ?? 0;
    let next = base;
    let trunIndex = 0;
    for (const trun of leaves(traf, 'trun', trunCodec)) {
      const where = {
        path: `${traf.path}/trun${trunIndex > 0 ? `[${trunIndex}]` : ''}`,
        offset: traf.header.start,
        source: place.source,
      };
      trunIndex++;
      const n = trun.sampleCount;
      if (n === 0) continue;
      if (!trun.durations && defaultDuration === undefined)
        throw new VvfError('MEDIA_INCONSISTENT', 'no sample duration in trun, tfhd or trex', where);
      if (!trun.sizes && defaultSize === undefined)
        throw new VvfError('MEDIA_INCONSISTENT', 'no sample size in trun, tfhd or trex', where);
      let offset = trun.dataOffset !== undefined ? base + trun.dataOffset : next;
      // Without per-sample sizes the count costs no bytes in the trun: bound it by the data
      // the samples must fit in before allocating columns for them.
      if (!trun.sizes && n * Math.max(1, defaultSize ?? 0) > place.dataEnd - offset) {
        throw new VvfError(
          'MEDIA_INCONSISTENT',
          `trun claims ${n} samples of ${defaultSize} bytes past the end of the data`,
          where,
        );
      }
      const s = track.samples;
      const first = s.reserve(n);
      for (let i = 0; i < n; i++) {
        const size = trun.sizes ? (trun.sizes[i] ?? 0) : (defaultSize ?? 0);
        const duration = trun.durations ? (trun.durations[i] ?? 0) : (defaultDuration ?? 0);
        const flags =
          i === 0 && trun.firstSampleFlags !== undefined
            ? trun.firstSampleFlags
            : trun.sampleFlags
              ? (trun.sampleFlags[i] ?? 0)
              : defaultFlags;
        if (offset < 0 || offset + size > place.dataEnd) {
          throw new VvfError(
            'MEDIA_INCONSISTENT',
            `sample ${i + 1} of trun (${size} bytes at ${offset}) lies outside the data (ends at ${place.dataEnd})`,
            where,
          );
        }
        const k = first + i;
        s.sourceIndex[k] = place.sourceIndex;
        s.offset[k] = offset;
        s.size[k] = size;
        s.decodeTime[k] = t;
        s.duration[k] = duration;
        s.compositionOffset[k] = trun.compositionOffsets ? (trun.compositionOffsets[i] ?? 0) : 0;
        s.sync[k] = isNonSync(flags) || (flags & DEPENDS_ON_MASK) === DEPENDS_ON_OTHERS ? 0 : 1;
        s.descriptionIndex[k] = descriptionIndex;
        offset += size;
        t += duration;
      }
      next = offset;
    }
    track.nextDecodeTime = t;
    previousTrafEnd = next;
  }
}
