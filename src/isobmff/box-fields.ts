// What `vvf boxes` shows of a parsed box: its fields in their units (16.16 widths as pixels,
// durations also in seconds, flags with names) and its tables as columns, like mp4dump and MP4Box -diso.
import type { CttsBox } from './boxes/ctts.js';
import type { ElstBox } from './boxes/elst.js';
import type { FtypBox } from './boxes/ftyp.js';
import type { HdlrBox } from './boxes/hdlr.js';
import type { MdhdBox } from './boxes/mdhd.js';
import type { MehdBox } from './boxes/mehd.js';
import type { MvhdBox } from './boxes/mvhd.js';
import type { SdtpBox } from './boxes/sdtp.js';
import type { SidxBox } from './boxes/sidx.js';
import type { StcoBox } from './boxes/stco.js';
import type { StscBox } from './boxes/stsc.js';
import type { StsdBox } from './boxes/stsd.js';
import type { StssBox } from './boxes/stss.js';
import type { StszBox } from './boxes/stsz.js';
import type { SttsBox } from './boxes/stts.js';
import type { TfdtBox } from './boxes/tfdt.js';
import type { TfhdBox } from './boxes/tfhd.js';
import type { TfraBox } from './boxes/tfra.js';
import type { TkhdBox } from './boxes/tkhd.js';
import type { TrexBox } from './boxes/trex.js';
import type { TrunBox } from './boxes/trun.js';

export type FieldValue = string | number | boolean | null;
export type Fields = Record<string, FieldValue>;

/** A box's table: its entry count, column names, and a way to read any row without building them all. */
export interface BoxTable {
  count: number;
  columns: string[];
  row(i: number): FieldValue[];
}

export interface BoxDescription {
  fields: Fields;
  table?: BoxTable;
}

/** Timescales that turn a box's times into seconds. */
export interface TimeContext {
  /** mvhd timescale: tkhd and mehd durations, elst segment durations. */
  movieTimescale?: number;
  /** mdhd timescale of the track being listed: elst media times, tfdt, sidx of that track. */
  mediaTimescale?: number;
}

/** Seconds with millisecond precision, as a number (null when the timescale is unknown or zero). */
function secs(value: number, timescale: number | undefined): number | null {
  return timescale ? Math.round((value / timescale) * 1000) / 1000 : null;
}

function hex(v: number, digits = 8): string {
  return `0x${v.toString(16).padStart(digits, '0')}`;
}

function flagNames(flags: number, names: Record<number, string>): string {
  const set = Object.entries(names)
    .filter(([bit]) => flags & Number(bit))
    .map(([, n]) => n);
  return set.length > 0 ? `${hex(flags, 6)} ${set.join(' ')}` : hex(flags, 6);
}

/** The 16.16 and 8.8 fixed-point fields, as numbers. */
const fixed16 = (v: number): number => v / 65536;
const fixed8 = (v: number): number => v / 256;

function table(count: number, columns: string[], row: (i: number) => FieldValue[]): BoxTable {
  return { count, columns, row };
}

/** Describes a parsed box for a listing. `box` is what the box's codec parsed. */
export function describeBox(type: string, box: unknown, ctx: TimeContext): BoxDescription {
  const d = describeKnown(type, box, ctx) ?? { fields: genericFields(box) };
  const trailing = (box as { trailing?: Uint8Array } | null)?.trailing;
  if (trailing && trailing.length > 0) d.fields.trailing_bytes = trailing.length;
  return d;
}

function full(b: { version: number; flags: number }): Fields {
  return { version: b.version, flags: hex(b.flags, 6) };
}

function describeKnown(type: string, box: unknown, ctx: TimeContext): BoxDescription | undefined {
  switch (type) {
    case 'ftyp':
    case 'styp': {
      const b = box as FtypBox;
      return {
        fields: { major_brand: b.majorBrand, minor_version: b.minorVersion, compatible_brands: b.compatibleBrands.join(',') },
      };
    }
    case 'mvhd': {
      const b = box as MvhdBox;
      return {
        fields: {
          ...full(b),
          creation_time: b.creationTime,
          modification_time: b.modificationTime,
          timescale: b.timescale,
          duration: b.duration,
          duration_s: secs(b.duration, b.timescale),
          rate: fixed16(b.rate),
          volume: fixed8(b.volume),
          next_track_id: b.nextTrackId,
        },
      };
    }
    case 'tkhd': {
      const b = box as TkhdBox;
      return {
        fields: {
          version: b.version,
          flags: flagNames(b.flags, { 1: 'enabled', 2: 'in_movie', 4: 'in_preview' }),
          creation_time: b.creationTime,
          modification_time: b.modificationTime,
          track_id: b.trackId,
          duration: b.duration,
          duration_s: secs(b.duration, ctx.movieTimescale),
          layer: b.layer,
          alternate_group: b.alternateGroup,
          volume: fixed8(b.volume),
          width: fixed16(b.width),
          height: fixed16(b.height),
        },
      };
    }
    case 'mdhd': {
      const b = box as MdhdBox;
      return {
        fields: {
          ...full(b),
          creation_time: b.creationTime,
          modification_time: b.modificationTime,
          timescale: b.timescale,
          duration: b.duration,
          duration_s: secs(b.duration, b.timescale),
          language: b.language,
        },
      };
    }
    case 'hdlr': {
      const b = box as HdlrBox;
      return { fields: { ...full(b), handler_type: b.handlerType, name: b.name } };
    }
    case 'elst': {
      const b = box as ElstBox;
      return {
        fields: { ...full(b), entry_count: b.entries.length },
        table: table(
          b.entries.length,
          ['segment_duration', 'segment_duration_s', 'media_time', 'media_time_s', 'media_rate'],
          (i) => {
            const e = b.entries[i];
            if (!e) return [];
            return [
              e.segmentDuration,
              secs(e.segmentDuration, ctx.movieTimescale),
              e.mediaTime,
              e.mediaTime === -1 ? null : secs(e.mediaTime, ctx.mediaTimescale),
              e.mediaRateInteger + e.mediaRateFraction / 65536,
            ];
          },
        ),
      };
    }
    case 'stsd': {
      const b = box as StsdBox;
      // The entries are listed as child boxes, opened.
      return { fields: { ...full(b), entry_count: b.entries.length } };
    }
    case 'stts': {
      const b = box as SttsBox;
      return {
        fields: { ...full(b), entry_count: b.counts.length },
        table: table(b.counts.length, ['sample_count', 'sample_delta'], (i) => [b.counts[i] ?? 0, b.deltas[i] ?? 0]),
      };
    }
    case 'ctts': {
      const b = box as CttsBox;
      return {
        fields: { ...full(b), entry_count: b.counts.length },
        table: table(b.counts.length, ['sample_count', 'sample_offset'], (i) => [b.counts[i] ?? 0, b.offsets[i] ?? 0]),
      };
    }
    case 'stsc': {
      const b = box as StscBox;
      return {
        fields: { ...full(b), entry_count: b.firstChunks.length },
        table: table(b.firstChunks.length, ['first_chunk', 'samples_per_chunk', 'sample_description_index'], (i) => [
          b.firstChunks[i] ?? 0,
          b.samplesPerChunk[i] ?? 0,
          b.descriptionIndexes[i] ?? 0,
        ]),
      };
    }
    case 'stsz':
    case 'stz2': {
      const b = box as StszBox;
      const fields: Fields = { ...full(b), sample_size: b.sampleSize, sample_count: b.sampleCount };
      if (type === 'stz2') fields.field_size = b.fieldSize;
      const sizes = b.sizes;
      return sizes ? { fields, table: table(sizes.length, ['entry_size'], (i) => [sizes[i] ?? 0]) } : { fields };
    }
    case 'stco':
    case 'co64': {
      const b = box as StcoBox;
      return {
        fields: { ...full(b), entry_count: b.offsets.length },
        table: table(b.offsets.length, ['chunk_offset'], (i) => [b.offsets[i] ?? 0]),
      };
    }
    case 'stss': {
      const b = box as StssBox;
      return {
        fields: { ...full(b), entry_count: b.samples.length },
        table: table(b.samples.length, ['sample_number'], (i) => [b.samples[i] ?? 0]),
      };
    }
    case 'sdtp': {
      const b = box as SdtpBox;
      return {
        fields: { ...full(b), sample_count: b.entries.length },
        table: table(b.entries.length, ['is_leading', 'depends_on', 'is_depended_on', 'has_redundancy'], (i) => {
          const v = b.entries[i] ?? 0;
          return [(v >>> 6) & 3, (v >>> 4) & 3, (v >>> 2) & 3, v & 3];
        }),
      };
    }
    case 'mehd': {
      const b = box as MehdBox;
      return {
        fields: {
          ...full(b),
          fragment_duration: b.fragmentDuration,
          fragment_duration_s: secs(b.fragmentDuration, ctx.movieTimescale),
        },
      };
    }
    case 'trex': {
      const b = box as TrexBox;
      return {
        fields: {
          ...full(b),
          track_id: b.trackId,
          default_sample_description_index: b.defaultSampleDescriptionIndex,
          default_sample_duration: b.defaultSampleDuration,
          default_sample_size: b.defaultSampleSize,
          default_sample_flags: hex(b.defaultSampleFlags),
        },
      };
    }
    case 'tfhd': {
      const b = box as TfhdBox;
      const fields: Fields = {
        version: b.version,
        flags: flagNames(b.flags, {
          1: 'base_data_offset',
          2: 'sample_description_index',
          8: 'default_duration',
          16: 'default_size',
          32: 'default_flags',
          65536: 'duration_is_empty',
          131072: 'default_base_is_moof',
        }),
        track_id: b.trackId,
      };
      if (b.baseDataOffset !== undefined) fields.base_data_offset = b.baseDataOffset;
      if (b.sampleDescriptionIndex !== undefined) fields.sample_description_index = b.sampleDescriptionIndex;
      if (b.defaultSampleDuration !== undefined) fields.default_sample_duration = b.defaultSampleDuration;
      if (b.defaultSampleSize !== undefined) fields.default_sample_size = b.defaultSampleSize;
      if (b.defaultSampleFlags !== undefined) fields.default_sample_flags = hex(b.defaultSampleFlags);
      return { fields };
    }
    case 'tfdt': {
      const b = box as TfdtBox;
      return {
        fields: {
          ...full(b),
          base_media_decode_time: b.baseMediaDecodeTime,
          base_media_decode_time_s: secs(b.baseMediaDecodeTime, ctx.mediaTimescale),
        },
      };
    }
    case 'trun': {
      const b = box as TrunBox;
      const fields: Fields = {
        version: b.version,
        flags: flagNames(b.flags, {
          1: 'data_offset',
          4: 'first_sample_flags',
          256: 'duration',
          512: 'size',
          1024: 'flags',
          2048: 'composition_offset',
        }),
        sample_count: b.sampleCount,
      };
      if (b.dataOffset !== undefined) fields.data_offset = b.dataOffset;
      if (b.firstSampleFlags !== undefined) fields.first_sample_flags = hex(b.firstSampleFlags);
      const cols: [string, (i: number) => FieldValue][] = [];
      const { durations, sizes, sampleFlags, compositionOffsets } = b;
      if (durations) cols.push(['sample_duration', (i) => durations[i] ?? 0]);
      if (sizes) cols.push(['sample_size', (i) => sizes[i] ?? 0]);
      if (sampleFlags) cols.push(['sample_flags', (i) => hex(sampleFlags[i] ?? 0)]);
      if (compositionOffsets) cols.push(['sample_composition_time_offset', (i) => compositionOffsets[i] ?? 0]);
      if (cols.length === 0) return { fields };
      return {
        fields,
        table: table(
          b.sampleCount,
          cols.map(([n]) => n),
          (i) => cols.map(([, f]) => f(i)),
        ),
      };
    }
    case 'sidx': {
      const b = box as SidxBox;
      return {
        fields: {
          ...full(b),
          reference_id: b.referenceId,
          timescale: b.timescale,
          earliest_presentation_time: b.earliestPresentationTime,
          earliest_presentation_time_s: secs(b.earliestPresentationTime, b.timescale),
          first_offset: b.firstOffset,
          reference_count: b.references.length,
        },
        table: table(
          b.references.length,
          [
            'reference_type',
            'referenced_size',
            'subsegment_duration',
            'subsegment_duration_s',
            'starts_with_sap',
            'sap_type',
            'sap_delta_time',
          ],
          (i) => {
            const r = b.references[i];
            if (!r) return [];
            return [
              r.referenceType,
              r.referencedSize,
              r.subsegmentDuration,
              secs(r.subsegmentDuration, b.timescale),
              r.startsWithSap,
              r.sapType,
              r.sapDeltaTime,
            ];
          },
        ),
      };
    }
    case 'tfra': {
      const b = box as TfraBox;
      return {
        fields: { ...full(b), track_id: b.trackId, entry_count: b.times.length },
        table: table(b.times.length, ['time', 'moof_offset', 'traf_number', 'trun_number', 'sample_number'], (i) => [
          b.times[i] ?? 0,
          b.moofOffsets[i] ?? 0,
          b.trafNumbers[i] ?? 0,
          b.trunNumbers[i] ?? 0,
          b.sampleNumbers[i] ?? 0,
        ]),
      };
    }
    default:
      return undefined;
  }
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Scalar fields of a box no presenter knows (mfhd, mfro, …), named in snake case; raw bytes are left out. */
function genericFields(box: unknown): Fields {
  const fields: Fields = {};
  if (typeof box !== 'object' || box === null) return fields;
  for (const [k, v] of Object.entries(box)) {
    if (k === 'type' || k === 'trailing') continue;
    if (k === 'flags' && typeof v === 'number') fields.flags = hex(v, 6);
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') fields[snake(k)] = v;
  }
  return fields;
}
