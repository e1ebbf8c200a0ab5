// A sample entry opened for `vvf boxes`: the entry's own fields and each child box's (avcC, hvcC, esds, dOps, dac3, colr, pasp, …), in their units.
import { VvfError } from '../../errors.js';
import type { Fields } from '../box-fields.js';
import { Cursor } from '../cursor.js';
import { readBoxHeader, readFullBox } from '../header.js';
import { readSampleEntry, type SampleEntryChild } from '../sample-entry.js';
import { av1LevelName, av1ProfileName, parseAv1c } from './av1c.js';
import { avcLevelName, avcProfileName, parseAvcc, parseAvcSps } from './avcc.js';
import { childPayload, hexBytes } from './bits.js';
import { parseBtrt } from './btrt.js';
import { colourNames, parseColr } from './colr.js';
import { ac3Channels, parseDac3, parseDec3 } from './dac3.js';
import { flacChannels, parseDfla } from './dfla.js';
import { opusChannels, parseDops } from './dops.js';
import { aacProfileName, parseAudioSpecificConfig, parseEsds } from './esds.js';
import { hevcLevelName, hevcProfileName, parseHevcSps, parseHvcc } from './hvcc.js';
import { parsePasp } from './pasp.js';
import { parseVpcc } from './vpcc.js';

/** A box of an opened sample entry. */
export interface OpenedBox {
  type: string;
  /** Absolute offset of the box in the source. */
  offset: number;
  size: number;
  fields: Fields;
  children?: OpenedBox[];
}

/** Small unknown boxes show their bytes; larger ones only their size. */
const SHOW_BYTES = 32;

/**
 * Opens one sample entry (its full bytes, header included, at absolute `base`): the entry's
 * fields and every child box's. A child that cannot be read gets an `error` field instead
 * of failing the listing; an entry that cannot be read at all throws (BOX_OVERRUN, BOX_INVALID).
 */
export function openSampleEntry(entry: Uint8Array, base: number, path: string): OpenedBox {
  const { info, children } = readSampleEntry(entry, base, path);
  const c = new Cursor(entry, base, path);
  const h = readBoxHeader(c, base + entry.length);
  c.skip(6);
  const fields: Fields = { data_reference_index: c.u16() };
  if (info.kind === 'video') {
    c.skip(16);
    fields.width = c.u16();
    fields.height = c.u16();
    fields.horizresolution = c.u32() / 65536;
    fields.vertresolution = c.u32() / 65536;
    c.skip(4);
    fields.frame_count = c.u16();
    const name = c.bytesView(32);
    fields.compressorname = new TextDecoder('latin1').decode(name.subarray(1, 1 + Math.min(31, name[0] ?? 0)));
    fields.depth = c.u16();
  } else if (info.kind === 'audio') {
    fields.version = c.u16();
    c.skip(6);
    c.u16(); // channelcount: the QuickTime v2 value from info below is the real one
    fields.channel_count = info.channelCount ?? 0;
    fields.sample_size = c.u16();
    fields.sample_rate = info.sampleRate ?? 0;
  }
  if (info.encrypted) fields.encrypted = true;
  if (info.originalFormat !== undefined) fields.original_format = info.originalFormat;
  if (info.scheme !== undefined) fields.scheme = info.scheme;
  fields.codec = info.codec;
  return { type: h.type, offset: base, size: h.size, fields, children: children.map(openChild) };
}

function openChild(child: SampleEntryChild): OpenedBox {
  const box: OpenedBox = { type: child.type, offset: child.start, size: child.size, fields: {} };
  try {
    const c = childPayload(child);
    const describe = DESCRIBERS[child.type];
    if (describe) box.fields = describe(c, child);
    else if (child.type === 'sinf' || child.type === 'rinf' || child.type === 'schi' || child.type === 'wave')
      box.children = openChildren(c);
    else if (c.remaining <= SHOW_BYTES) box.fields = { data: hexBytes(c.bytesView(c.remaining)) };
  } catch (e) {
    if (!(e instanceof VvfError)) throw e;
    box.fields = { error: `${e.code}: ${e.message}` };
  }
  return box;
}

/** The boxes that fill `c`, each opened (for sinf/rinf/wave, whose children say what the entry is). */
function openChildren(c: Cursor): OpenedBox[] {
  const out: OpenedBox[] = [];
  while (c.remaining >= 8) {
    const start = c.offset;
    const h = readBoxHeader(c, c.endOffset);
    const body = c.sub(h.size - h.headerSize, `${c.path}/${h.type}`);
    out.push(openChild({ type: h.type, body, start, size: h.size }));
  }
  return out;
}

type Describer = (c: Cursor, child: SampleEntryChild) => Fields;

/** The colour names of a description, as fields. */
function colourFields(primaries: number, transfer: number, matrix: number, fullRange?: boolean): Fields {
  const n = colourNames({ primaries, transfer, matrix, ...(fullRange !== undefined ? { fullRange } : {}) });
  const f: Fields = {
    colour_primaries: n.primaries ? `${primaries} (${n.primaries})` : primaries,
    transfer_characteristics: n.transfer ? `${transfer} (${n.transfer})` : transfer,
    matrix_coefficients: n.matrix ? `${matrix} (${n.matrix})` : matrix,
  };
  if (fullRange !== undefined) f.full_range = fullRange;
  return f;
}

const DESCRIBERS: Record<string, Describer> = {
  avcC(c, child) {
    const b = parseAvcc(c);
    const f: Fields = {
      configuration_version: b.configurationVersion,
      profile: `${b.profile} (${avcProfileName(b.profile, b.compatibility) ?? 'unknown'})`,
      profile_compatibility: `0x${b.compatibility.toString(16).padStart(2, '0')}`,
      level: `${b.level} (${avcLevelName(b.profile, b.compatibility, b.level)})`,
      nalu_length_size: b.lengthSize,
      sps_count: b.sps.length,
      pps_count: b.pps.length,
    };
    if (b.chromaFormat !== undefined) f.chroma_format = b.chromaFormat;
    if (b.bitDepthLuma !== undefined) f.bit_depth_luma = b.bitDepthLuma;
    if (b.bitDepthChroma !== undefined) f.bit_depth_chroma = b.bitDepthChroma;
    b.sps.forEach((nal, i) => {
      f[`sps[${i}]`] = hexBytes(nal);
      try {
        const s = parseAvcSps(nal, `${child.body.path}/SPS`, child.start);
        f[`sps[${i}].coded_size`] = `${s.width}x${s.height}`;
        f[`sps[${i}].chroma_format`] = s.chromaFormat;
        f[`sps[${i}].bit_depth`] = s.bitDepthLuma;
        if (s.sampleAspectRatio) f[`sps[${i}].sample_aspect_ratio`] = `${s.sampleAspectRatio[0]}:${s.sampleAspectRatio[1]}`;
        if (s.fullRange !== undefined) f[`sps[${i}].full_range`] = s.fullRange;
        if (s.colour)
          Object.assign(f, prefixed(`sps[${i}].`, colourFields(s.colour.primaries, s.colour.transfer, s.colour.matrix)));
        if (s.timing)
          f[`sps[${i}].timing`] = `${s.timing.timeScale}/${s.timing.numUnitsInTick}${s.timing.fixedFrameRate ? ' fixed' : ''}`;
      } catch (e) {
        if (!(e instanceof VvfError)) throw e;
        f[`sps[${i}].error`] = `${e.code}: ${e.message}`;
      }
    });
    b.pps.forEach((nal, i) => {
      f[`pps[${i}]`] = hexBytes(nal);
    });
    return f;
  },
  hvcC(c, child) {
    const b = parseHvcc(c);
    const f: Fields = {
      configuration_version: b.configurationVersion,
      profile_space: b.profileSpace,
      tier: b.tier ? 'High' : 'Main',
      profile: `${b.profile} (${hevcProfileName(b) ?? 'unknown'})`,
      profile_compatibility: `0x${b.compatibilityFlags.toString(16).padStart(8, '0')}`,
      constraint_indicator_flags: hexBytes(b.constraintFlags),
      level: `${b.level} (${hevcLevelName(b.level)})`,
      min_spatial_segmentation: b.minSpatialSegmentation,
      parallelism_type: b.parallelismType,
      chroma_format: b.chromaFormat,
      bit_depth_luma: b.bitDepthLuma,
      bit_depth_chroma: b.bitDepthChroma,
      avg_frame_rate: b.avgFrameRate,
      constant_frame_rate: b.constantFrameRate,
      num_temporal_layers: b.numTemporalLayers,
      temporal_id_nested: b.temporalIdNested,
      nalu_length_size: b.lengthSize,
    };
    const names: Record<number, string> = { 32: 'vps', 33: 'sps', 34: 'pps', 39: 'prefix_sei', 40: 'suffix_sei' };
    for (const a of b.arrays) {
      const name = names[a.nalType] ?? `nal${a.nalType}`;
      a.nalus.forEach((nal, i) => {
        f[`${name}[${i}]`] = hexBytes(nal);
      });
    }
    const sps = b.arrays.find((a) => a.nalType === 33)?.nalus[0];
    if (sps) {
      try {
        const s = parseHevcSps(sps, `${child.body.path}/SPS`, child.start);
        f['sps[0].coded_size'] = `${s.width}x${s.height}`;
        if (s.sampleAspectRatio) f['sps[0].sample_aspect_ratio'] = `${s.sampleAspectRatio[0]}:${s.sampleAspectRatio[1]}`;
        if (s.fullRange !== undefined) f['sps[0].full_range'] = s.fullRange;
        if (s.colour) Object.assign(f, prefixed('sps[0].', colourFields(s.colour.primaries, s.colour.transfer, s.colour.matrix)));
      } catch (e) {
        if (!(e instanceof VvfError)) throw e;
        f['sps[0].error'] = `${e.code}: ${e.message}`;
      }
    }
    return f;
  },
  vpcC(c) {
    const b = parseVpcc(c);
    const f: Fields = {
      version: b.version,
      profile: b.profile,
      level: b.level,
      bit_depth: b.bitDepth,
      chroma_subsampling: b.chromaSubsampling,
      full_range: b.fullRange,
    };
    if (b.primaries !== undefined) Object.assign(f, colourFields(b.primaries, b.transfer ?? 2, b.matrix ?? 2));
    return f;
  },
  av1C(c) {
    const b = parseAv1c(c);
    const f: Fields = {
      version: b.version,
      seq_profile: `${b.profile} (${av1ProfileName(b.profile) ?? 'unknown'})`,
      seq_level_idx: `${b.level} (${av1LevelName(b.level)})`,
      seq_tier: b.tier,
      bit_depth: b.bitDepth,
      monochrome: b.monochrome,
      chroma_subsampling_x: b.subsamplingX,
      chroma_subsampling_y: b.subsamplingY,
      chroma_sample_position: b.chromaSamplePosition,
    };
    const s = b.sequenceHeader;
    if (s) {
      f['sequence_header.bit_depth'] = s.bitDepth;
      if (s.colour)
        Object.assign(f, prefixed('sequence_header.', colourFields(s.colour.primaries, s.colour.transfer, s.colour.matrix)));
      if (s.fullRange !== undefined) f['sequence_header.full_range'] = s.fullRange === 1;
    }
    return f;
  },
  esds(c, child) {
    const b = parseEsds(c);
    const f: Fields = { es_id: b.esId };
    const dc = b.decoderConfig;
    if (!dc) return f;
    f.object_type_indication = `0x${dc.objectTypeIndication.toString(16).padStart(2, '0')}`;
    f.stream_type = dc.streamType;
    f.buffer_size_db = dc.bufferSizeDB;
    f.max_bitrate = dc.maxBitrate;
    f.avg_bitrate = dc.avgBitrate;
    if (dc.specificInfo) {
      f.decoder_specific_info = hexBytes(dc.specificInfo);
      if (dc.objectTypeIndication === 0x40 && dc.specificInfo.length >= 2) {
        const a = parseAudioSpecificConfig(dc.specificInfo, `${child.body.path}/AudioSpecificConfig`, child.start);
        f.audio_object_type = `${a.objectType} (${aacProfileName({ objectType: a.objectType }) ?? 'unknown'})`;
        f.sampling_frequency = a.samplingFrequency;
        f.channel_configuration = a.channelConfiguration;
        if (a.extensionObjectType !== undefined)
          f.extension_object_type = `${a.extensionObjectType} (${aacProfileName(a) ?? ''})`;
        if (a.extensionSamplingFrequency !== undefined) f.extension_sampling_frequency = a.extensionSamplingFrequency;
        if (a.channels) {
          f.channels = a.channels.channels;
          if (a.channels.layout) f.channel_layout = a.channels.layout;
        }
      }
    }
    return f;
  },
  dOps(c) {
    const b = parseDops(c);
    const l = opusChannels(b);
    const f: Fields = {
      version: b.version,
      output_channel_count: b.outputChannelCount,
      pre_skip: b.preSkip,
      input_sample_rate: b.inputSampleRate,
      output_gain_db: b.outputGain / 256,
      channel_mapping_family: b.channelMappingFamily,
    };
    if (b.streamCount !== undefined) f.stream_count = b.streamCount;
    if (b.coupledCount !== undefined) f.coupled_count = b.coupledCount;
    if (b.channelMapping) f.channel_mapping = b.channelMapping.join(',');
    if (l.layout) f.channel_layout = l.layout;
    return f;
  },
  dac3(c) {
    const b = parseDac3(c);
    const l = ac3Channels(b);
    return {
      fscod: b.fscod,
      bsid: b.bsid,
      bsmod: b.bsmod,
      acmod: b.acmod,
      lfeon: b.lfeon,
      bit_rate_kbps: b.bitRate,
      channels: l.channels,
      channel_layout: l.layout ?? null,
    };
  },
  dec3(c) {
    const b = parseDec3(c);
    const f: Fields = { data_rate_kbps: b.dataRate, num_ind_sub: b.substreams.length };
    b.substreams.forEach((s, i) => {
      const l = ac3Channels(s);
      Object.assign(f, {
        [`sub[${i}].fscod`]: s.fscod,
        [`sub[${i}].bsid`]: s.bsid,
        [`sub[${i}].bsmod`]: s.bsmod,
        [`sub[${i}].acmod`]: s.acmod,
        [`sub[${i}].lfeon`]: s.lfeon,
        [`sub[${i}].num_dep_sub`]: s.numDependentSubstreams ?? 0,
        [`sub[${i}].channels`]: l.channels,
      });
      if (s.chanLoc !== undefined) f[`sub[${i}].chan_loc`] = `0x${s.chanLoc.toString(16)}`;
      if (l.layout) f[`sub[${i}].channel_layout`] = l.layout;
    });
    return f;
  },
  dfLa(c): Fields {
    const b = parseDfla(c);
    if (!b) return {};
    const l = flacChannels(b);
    return {
      sample_rate: b.sampleRate,
      channels: b.channels,
      bits_per_sample: b.bitsPerSample,
      total_samples: b.totalSamples,
      channel_layout: l.layout ?? null,
    };
  },
  colr(c): Fields {
    const b = parseColr(c);
    if ('primaries' in b) return { colour_type: b.colourType, ...colourFields(b.primaries, b.transfer, b.matrix, b.fullRange) };
    if ('iccBytes' in b) return { colour_type: b.colourType, icc_profile_bytes: b.iccBytes };
    return { colour_type: b.colourType };
  },
  pasp(c) {
    const b = parsePasp(c);
    return { h_spacing: b.hSpacing, v_spacing: b.vSpacing };
  },
  btrt(c) {
    const b = parseBtrt(c);
    return { buffer_size_db: b.bufferSizeDB, max_bitrate: b.maxBitrate, avg_bitrate: b.avgBitrate };
  },
  frma(c) {
    return { data_format: c.fourcc() };
  },
  schm(c) {
    readFullBox(c);
    return { scheme_type: c.fourcc(), scheme_version: `0x${c.u32().toString(16)}` };
  },
  srat(c) {
    readFullBox(c);
    return { sampling_rate: c.u32() };
  },
};

function prefixed(prefix: string, f: Fields): Fields {
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [`${prefix}${k}`, v]));
}
