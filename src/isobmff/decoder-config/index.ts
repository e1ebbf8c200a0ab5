// What a sample entry's decoder configuration says, in the terms ffprobe reports: codec, profile, level, pixel format, colour, aspect ratio, channels.
import { VvfError } from '../../errors.js';
import type { Cursor } from '../cursor.js';
import { readSampleEntry, type SampleEntryChild } from '../sample-entry.js';
import { av1LevelName, av1ProfileName, parseAv1c } from './av1c.js';
import { avcLevelName, avcProfileName, parseAvcc, parseAvcSps } from './avcc.js';
import { childPayload } from './bits.js';
import { layoutOfCount } from './channel-layout.js';
import { type ColourDescription, colourNames, parseColr } from './colr.js';
import { ac3Channels, parseDac3, parseDec3 } from './dac3.js';
import { flacChannels, parseDfla } from './dfla.js';
import { opusChannels, parseDops } from './dops.js';
import { aacProfileName, parseAudioSpecificConfig, parseEsds } from './esds.js';
import { hevcLevelName, hevcProfileName, parseHevcSps, parseHvcc } from './hvcc.js';
import { parsePasp } from './pasp.js';
import { parseVpcc } from './vpcc.js';

/** Colour description with ffprobe's names, and where it came from. */
export interface ColourSummary {
  primaries?: string;
  transfer?: string;
  matrix?: string;
  range?: 'tv' | 'pc';
  /** The box or bitstream structure that said so: colr, sps, vpcC, av1C. */
  from: string;
}

/** A sample entry described as ffprobe describes a stream. Fields are absent when the entry does not say. */
export interface MediaDetails {
  /** ffprobe's codec_name: h264, hevc, av1, vp9, aac, opus, ac3, eac3, flac, … */
  codecName?: string;
  profile?: string;
  /** The level as ffprobe prints it (H.264 level_idc, HEVC general_level_idc, AV1 seq_level_idx, VP level × 10). */
  level?: number;
  /** The level as the codec's specification names it: 3.1, 1b, 4.0. */
  levelName?: string;
  pixelFormat?: string;
  bitDepth?: number;
  /** 4:2:0, 4:2:2, 4:4:4 or 4:0:0 (monochrome). */
  chromaSubsampling?: string;
  colour?: ColourSummary;
  /** pasp, else the H.264 SPS VUI; [h, v]. */
  sampleAspectRatio?: [number, number];
  channels?: number;
  /** ffmpeg's layout name (mono, stereo, 5.1, …). */
  channelLayout?: string;
  /** From the decoder configuration when it differs in kind from the entry's field (AAC ASC, FLAC STREAMINFO). */
  sampleRate?: number;
  /** Decoder configurations that could not be read: the entry's other fields still count. */
  unreadable?: string[];
}

const CODEC_NAMES: Record<string, string> = {
  avc1: 'h264',
  avc2: 'h264',
  avc3: 'h264',
  avc4: 'h264',
  dva1: 'h264',
  dvav: 'h264',
  hvc1: 'hevc',
  hev1: 'hevc',
  hvc2: 'hevc',
  hev2: 'hevc',
  dvh1: 'hevc',
  dvhe: 'hevc',
  av01: 'av1',
  dav1: 'av1',
  vp08: 'vp8',
  vp09: 'vp9',
  mp4v: 'mpeg4',
  Opus: 'opus',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
  'ac-4': 'ac4',
  fLaC: 'flac',
  alac: 'alac',
  '.mp3': 'mp3',
  jpeg: 'mjpeg',
};

/** MPEG-4 objectTypeIndication → ffprobe codec name. */
const OTI_NAMES: Record<number, string> = {
  32: 'mpeg4',
  33: 'h264',
  64: 'aac',
  102: 'aac',
  103: 'aac',
  104: 'aac',
  105: 'mp3',
  107: 'mp3',
  108: 'mjpeg',
  165: 'ac3',
  166: 'eac3',
  169: 'dts',
  173: 'opus',
};

/**
 * Describes one sample entry (the full bytes of a stsd entry, header included). Never throws
 * for a malformed configuration box: its type is listed in `unreadable` and the rest is kept,
 * because inspect must still show what it can of a damaged file.
 */
export function describeMedia(entry: Uint8Array, base = 0, path = 'stsd/entry'): MediaDetails {
  const { info, children } = readSampleEntry(entry, base, path);
  const format = info.originalFormat ?? info.format;
  const out: MediaDetails = {};
  const codecName = CODEC_NAMES[format];
  if (codecName) out.codecName = codecName;
  let colour: { d: ColourDescription; from: string } | undefined;
  let bitstreamColour: { d: Partial<ColourDescription>; from: string } | undefined;
  const each = (type: string, f: (c: Cursor, child: SampleEntryChild) => void): void => {
    const child = children.find((b) => b.type === type) ?? (type === 'esds' ? waveEsds(children) : undefined);
    if (!child) return;
    try {
      f(childPayload(child), child);
    } catch (e) {
      if (!(e instanceof VvfError)) throw e;
      out.unreadable = [...(out.unreadable ?? []), type];
    }
  };

  each('avcC', (c, child) => {
    const avcc = parseAvcc(c);
    out.profile = avcProfileName(avcc.profile, avcc.compatibility);
    out.level = avcc.level;
    out.levelName = avcLevelName(avcc.profile, avcc.compatibility, avcc.level);
    let chroma = avcc.chromaFormat ?? 1;
    let depth = avcc.bitDepthLuma ?? 8;
    let fullRange: boolean | undefined;
    const sps = avcc.sps[0];
    if (sps) {
      const s = parseAvcSps(sps, `${child.body.path}/SPS`, child.start);
      chroma = s.chromaFormat;
      depth = s.bitDepthLuma;
      fullRange = s.fullRange;
      if (s.sampleAspectRatio && s.sampleAspectRatio[0] > 0 && s.sampleAspectRatio[1] > 0)
        out.sampleAspectRatio = s.sampleAspectRatio;
      if (s.colour) bitstreamColour = { d: s.colour, from: 'sps' };
      else if (fullRange !== undefined) bitstreamColour = { d: { fullRange }, from: 'sps' };
    }
    // ffmpeg's H.264 decoder reports full-range 8-bit video as the yuvj formats.
    setPixelFormat(out, chroma, depth, fullRange === true && depth === 8);
  });
  for (const type of ['hvcC', 'lhvC']) {
    each(type, (c, child) => {
      if (out.profile !== undefined) return;
      const h = parseHvcc(c);
      const p = hevcProfileName(h);
      if (p) out.profile = p;
      out.level = h.level;
      out.levelName = hevcLevelName(h.level);
      setPixelFormat(out, h.chromaFormat, h.bitDepthLuma, false);
      const nal = h.arrays.find((a) => a.nalType === 33)?.nalus[0];
      if (!nal) return;
      const s = parseHevcSps(nal, `${child.body.path}/SPS`, child.start);
      if (s.sampleAspectRatio && s.sampleAspectRatio[0] > 0 && s.sampleAspectRatio[1] > 0)
        out.sampleAspectRatio = s.sampleAspectRatio;
      if (s.colour) bitstreamColour = { d: s.colour, from: 'sps' };
      else if (s.fullRange !== undefined) bitstreamColour = { d: { fullRange: s.fullRange }, from: 'sps' };
    });
  }
  each('vpcC', (c) => {
    const v = parseVpcc(c);
    out.profile = `Profile ${v.profile}`;
    out.level = v.level;
    out.levelName = `${Math.floor(v.level / 10)}.${v.level % 10}`;
    setPixelFormat(out, v.chromaSubsampling <= 1 ? 1 : v.chromaSubsampling === 2 ? 2 : 3, v.bitDepth, false);
    bitstreamColour = {
      d:
        v.primaries !== undefined
          ? { primaries: v.primaries, transfer: v.transfer ?? 2, matrix: v.matrix ?? 2, fullRange: v.fullRange }
          : { fullRange: v.fullRange },
      from: 'vpcC',
    };
  });
  each('av1C', (c) => {
    const a = parseAv1c(c);
    const s = a.sequenceHeader;
    const profile = s?.profile ?? a.profile;
    const p = av1ProfileName(profile);
    if (p) out.profile = p;
    out.level = s?.level ?? a.level;
    out.levelName = av1LevelName(out.level);
    const mono = s ? s.mono === 1 : a.monochrome;
    const subX = s?.subX ?? a.subsamplingX;
    const subY = s?.subY ?? a.subsamplingY;
    setPixelFormat(out, mono ? 0 : subX && subY ? 1 : subX ? 2 : 3, s?.bitDepth ?? a.bitDepth, false);
    const d: Partial<ColourDescription> = { ...(s?.colour ?? {}) };
    if (s?.fullRange !== undefined) d.fullRange = s.fullRange === 1;
    bitstreamColour = { d, from: 'av1C' };
  });
  each('colr', (c) => {
    const colr = parseColr(c);
    if ('primaries' in colr) colour = { d: colr, from: 'colr' };
  });
  each('pasp', (c) => {
    const p = parsePasp(c);
    if (p.hSpacing > 0 && p.vSpacing > 0) out.sampleAspectRatio = [p.hSpacing, p.vSpacing];
  });

  // Audio: the decoder configuration counts channels; the entry's channelcount field is often just 2.
  each('esds', (c, child) => {
    const esds = parseEsds(c);
    const dc = esds.decoderConfig;
    if (!dc) return;
    const name = OTI_NAMES[dc.objectTypeIndication];
    if (name) out.codecName = name;
    if (name === 'aac' && dc.specificInfo && dc.specificInfo.length >= 2) {
      const asc = parseAudioSpecificConfig(dc.specificInfo, `${child.body.path}/AudioSpecificConfig`, child.start);
      const p = aacProfileName(asc);
      if (p) out.profile = p;
      if (asc.channels) {
        out.channels = asc.channels.channels;
        if (asc.channels.layout) out.channelLayout = asc.channels.layout;
      }
      const rate = asc.extensionSamplingFrequency ?? asc.samplingFrequency;
      if (rate > 0) out.sampleRate = rate;
    }
  });
  each('dOps', (c) => {
    const l = opusChannels(parseDops(c));
    out.channels = l.channels;
    if (l.layout) out.channelLayout = l.layout;
  });
  each('dac3', (c) => {
    const l = ac3Channels(parseDac3(c));
    out.channels = l.channels;
    if (l.layout) out.channelLayout = l.layout;
  });
  each('dec3', (c) => {
    const first = parseDec3(c).substreams[0];
    if (!first) return;
    const l = ac3Channels(first);
    out.channels = l.channels;
    if (l.layout) out.channelLayout = l.layout;
  });
  each('dfLa', (c) => {
    const s = parseDfla(c);
    if (!s) return;
    const l = flacChannels(s);
    out.channels = l.channels;
    if (l.layout) out.channelLayout = l.layout;
    out.sampleRate = s.sampleRate;
    out.bitDepth = s.bitsPerSample;
  });
  if (info.kind === 'audio' && out.channels === undefined && info.channelCount !== undefined && !info.encrypted) {
    // PCM and codecs without a configuration box: the entry's field is all there is.
    const l = layoutOfCount(info.channelCount);
    out.channels = l.channels;
    if (l.layout) out.channelLayout = l.layout;
  }

  // A colr box describes the whole track; the bitstream fills in what it leaves out.
  const merged: Partial<ColourDescription> = { ...(bitstreamColour?.d ?? {}), ...(colour?.d ?? {}) };
  if (colour?.d.fullRange === undefined && bitstreamColour?.d.fullRange !== undefined)
    merged.fullRange = bitstreamColour.d.fullRange;
  const names = colourNames({
    primaries: merged.primaries ?? 2,
    transfer: merged.transfer ?? 2,
    matrix: merged.matrix ?? 2,
    ...(merged.fullRange !== undefined ? { fullRange: merged.fullRange } : {}),
  });
  if (Object.keys(names).length > 0) out.colour = { ...names, from: colour ? 'colr' : (bitstreamColour?.from ?? 'colr') };
  return out;
}

/** QuickTime puts an mp4a's esds inside a `wave` box. */
function waveEsds(children: SampleEntryChild[]): SampleEntryChild | undefined {
  const wave = children.find((b) => b.type === 'wave');
  if (!wave) return undefined;
  const c = childPayload(wave);
  while (c.remaining >= 8) {
    const start = c.offset;
    const size = c.u32();
    const type = c.fourcc();
    if (size < 8 || size - 8 > c.remaining) return undefined;
    const body = c.sub(size - 8, `${wave.body.path}/${type}`);
    if (type === 'esds') return { type, body, start, size };
  }
  return undefined;
}

const CHROMA = ['4:0:0', '4:2:0', '4:2:2', '4:4:4'];

/** ffmpeg's pixel format name for a chroma format (0 mono … 3 4:4:4) and bit depth. */
function setPixelFormat(out: MediaDetails, chroma: number, depth: number, jpegRange: boolean): void {
  out.bitDepth = depth;
  out.chromaSubsampling = CHROMA[chroma] ?? '4:2:0';
  const base = chroma === 0 ? 'gray' : `yuv${jpegRange ? 'j' : ''}${['', '420', '422', '444'][chroma] ?? '420'}p`;
  out.pixelFormat = depth > 8 ? `${base}${depth}le` : base;
}
