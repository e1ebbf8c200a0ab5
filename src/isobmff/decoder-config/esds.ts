// esds (ES Descriptor box, in an mp4a/mp4v sample entry): the MPEG-4 decoder configuration, and AAC's AudioSpecificConfig inside it.

import { VvfError } from '../../errors.js';
import type { Cursor } from '../cursor.js';
import { readFullBox } from '../header.js';
import { Bits } from './bits.js';
import { type ChannelLayout, layoutOfMask, mask } from './channel-layout.js';

/** The fields of an esds that say what the stream is. Read-only: vvf copies sample entries as bytes. */
export interface EsdsBox {
  esId: number;
  /** DecoderConfigDescriptor, when there is one. */
  decoderConfig?: {
    objectTypeIndication: number;
    streamType: number;
    bufferSizeDB: number;
    maxBitrate: number;
    avgBitrate: number;
    /** DecoderSpecificInfo bytes (AudioSpecificConfig for AAC). */
    specificInfo?: Uint8Array;
  };
}

/** An MPEG-4 descriptor: tag, then a size in up to four 7-bit groups. */
function readDescriptor(c: Cursor): { tag: number; body: Cursor } {
  const tag = c.u8();
  let size = 0;
  for (let i = 0; ; i++) {
    if (i === 4) throw c.error('BOX_INVALID', `descriptor 0x${tag.toString(16)} size longer than 4 bytes`);
    const b = c.u8();
    size = size * 128 + (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { tag, body: c.sub(size, c.path) };
}

/** Parses an esds payload (version and flags first). A DecoderConfigDescriptor may sit in the ES_Descriptor or, as some writers put it, at the top. */
export function parseEsds(c: Cursor): EsdsBox {
  readFullBox(c);
  const out: EsdsBox = { esId: 0 };
  let scope = c;
  let inEs = false;
  while (scope.remaining > 0) {
    const d = readDescriptor(scope);
    if (d.tag === 0x03 && !inEs) {
      // One ES_Descriptor level only: nesting is not allowed and would let input drive recursion.
      const es = d.body;
      out.esId = es.u16();
      const flags = es.u8();
      if (flags & 0x80) es.u16(); // dependsOn_ES_ID
      if (flags & 0x40) es.skip(es.u8()); // URL
      if (flags & 0x20) es.u16(); // OCR_ES_Id
      scope = es;
      inEs = true;
    } else if (d.tag === 0x04) {
      const b = d.body;
      const objectTypeIndication = b.u8();
      const streamType = b.u8() >>> 2;
      const bufferSizeDB = b.u24();
      const maxBitrate = b.u32();
      const avgBitrate = b.u32();
      out.decoderConfig = { objectTypeIndication, streamType, bufferSizeDB, maxBitrate, avgBitrate };
      while (b.remaining > 0) {
        const inner = readDescriptor(b);
        if (inner.tag === 0x05) {
          out.decoderConfig.specificInfo = inner.body.bytesCopy(inner.body.remaining);
          break;
        }
      }
      break;
    }
  }
  return out;
}

/**
 * AAC's AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), as far as ffprobe's stream fields need it.
 *
 * SBR (HE-AAC) and PS (HE-AACv2) are found when the configuration signals them: first
 * (hierarchical: object type 5 or 29, then the core's) or after the core's configuration
 * (backward compatible: sync extension 0x2b7, then 0x548 for PS). Signalled only in band
 * (implicit: an LC configuration whose frames carry SBR data) they are not found: that takes
 * decoding the first frame's elements, and vvf never reads samples to describe a track.
 * ffprobe finds them by decoding; Chromium's MSE goes by the configuration and the codecs
 * string it is given, so it too takes such a stream for LC unless told mp4a.40.5.
 */
export interface AudioSpecificConfig {
  /** audioObjectType of the core (2 = LC even when SBR is signalled explicitly). */
  objectType: number;
  /** 5 (SBR) or 29 (SBR+PS) when signalled explicitly (hierarchical or backward-compatible signalling). */
  extensionObjectType?: number;
  samplingFrequency: number;
  /** The output rate with SBR, when signalled explicitly. */
  extensionSamplingFrequency?: number;
  channelConfiguration: number;
  /** Channels and layout: from channelConfiguration, or counted from the program_config_element. */
  channels?: ChannelLayout;
}

const RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

const STEREO = mask('FL', 'FR');
const SURROUND = STEREO | mask('FC');
const L5_0_BACK = SURROUND | mask('BL', 'BR');
const LFE = mask('LFE');
/** channelConfiguration → speaker mask, as ffmpeg's AAC decoder maps them. */
const CONFIG_MASKS: Record<number, number> = {
  1: mask('FC'),
  2: STEREO,
  3: SURROUND,
  4: SURROUND | mask('BC'),
  5: L5_0_BACK,
  6: L5_0_BACK | LFE,
  7: L5_0_BACK | LFE | mask('FLC', 'FRC'),
  11: L5_0_BACK | LFE | mask('BC'),
  12: mask('FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'SL', 'SR'),
};
/** Counts for configurations whose layouts are not named here (22.2, 7.1 with top speakers). */
const CONFIG_COUNTS: Record<number, number> = { 13: 24, 14: 8 };

/** Object types whose GASpecificConfig can hold a program_config_element. */
const GA_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);

/** Object types with error resilience, whose configuration holds an epConfig. */
const ER_TYPES = new Set([17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 39]);
/** syncExtensionType of a backward-compatible SBR signal, and of PS after it. */
const SYNC_SBR = 0x2b7;
const SYNC_PS = 0x548;

/** Parses an AudioSpecificConfig; `path`/`offset` locate errors. */
export function parseAudioSpecificConfig(bytes: Uint8Array, path: string, offset: number): AudioSpecificConfig {
  const r = new Bits(bytes, path, offset);
  let aot = audioObjectType(r);
  const samplingFrequency = frequency(r);
  const channelConfiguration = r.u(4);
  const cfg: AudioSpecificConfig = { objectType: aot, samplingFrequency, channelConfiguration };
  if (aot === 5 || aot === 29) {
    cfg.extensionObjectType = aot;
    cfg.extensionSamplingFrequency = frequency(r);
    aot = audioObjectType(r);
    if (aot === 22) r.u(4); // extensionChannelConfiguration
    cfg.objectType = aot;
  }
  const m = CONFIG_MASKS[channelConfiguration];
  if (m !== undefined) cfg.channels = layoutOfMask(m);
  else if (CONFIG_COUNTS[channelConfiguration] !== undefined)
    cfg.channels = { channels: CONFIG_COUNTS[channelConfiguration] ?? 0 };
  if (GA_TYPES.has(aot)) {
    // GASpecificConfig (4.4.1): read for the channels of a program_config_element, and to reach
    // what follows it, where a backward-compatible SBR/PS signal sits.
    let head: GaHead | undefined;
    if (channelConfiguration === 0) {
      head = gaHead(r);
      head.pce = programConfig(r);
      cfg.channels = { channels: head.pce.channels };
    }
    if (cfg.extensionObjectType === undefined) {
      const extension = backwardCompatibleExtension(r, aot, head);
      if (extension) {
        cfg.extensionObjectType = extension.objectType;
        cfg.extensionSamplingFrequency = extension.samplingFrequency;
      }
    }
  }
  // Parametric stereo makes a mono core decode to two channels.
  if (cfg.extensionObjectType === 29 && channelConfiguration === 1) cfg.channels = layoutOfMask(STEREO);
  return cfg;
}

function audioObjectType(r: Bits): number {
  const t = r.u(5);
  return t === 31 ? 32 + r.u(6) : t;
}

function frequency(r: Bits): number {
  const i = r.u(4);
  return i === 15 ? r.u(24) : (RATES[i] ?? 0);
}

/** The start of a GASpecificConfig: its extensionFlag, and the program_config_element's counts when it has one. */
interface GaHead {
  extensionFlag: boolean;
  pce?: ProgramConfig;
}

function gaHead(r: Bits): GaHead {
  r.u(1); // frameLengthFlag
  if (r.flag()) r.u(14); // coreCoderDelay
  return { extensionFlag: r.flag() };
}

/**
 * The SBR (5) or SBR+PS (29) signal after a GA core's configuration, read from where
 * `head` left off (or the GASpecificConfig's start); undefined when there is none, or SBR is
 * signalled absent (ffmpeg's encoder writes 0x2b7 with sbrPresentFlag 0 at low rates). The
 * signal is optional: a configuration cut short before it, or one with an
 * ErrorProtectionSpecificConfig (not read here), has none.
 */
function backwardCompatibleExtension(
  r: Bits,
  aot: number,
  head: GaHead | undefined,
): { objectType: number; samplingFrequency: number } | undefined {
  try {
    const { extensionFlag, pce } = head ?? gaHead(r);
    if (pce) skipProgramConfigTail(r, pce);
    if (aot === 6 || aot === 20) r.u(3); // layerNr
    if (extensionFlag) {
      if (aot === 22) r.u(5 + 11); // numOfSubFrame, layer_length
      if (aot === 17 || aot === 19 || aot === 20 || aot === 23) r.u(3); // the three resilience flags
      r.u(1); // extensionFlag3
    }
    if (ER_TYPES.has(aot)) {
      const epConfig = r.u(2);
      if (epConfig === 2 || epConfig === 3) return undefined;
    }
    if (r.left < 16 || r.u(11) !== SYNC_SBR) return undefined;
    if (audioObjectType(r) !== 5 || !r.flag()) return undefined; // not SBR, or sbrPresentFlag 0
    const samplingFrequency = frequency(r);
    const ps = r.left >= 12 && r.u(11) === SYNC_PS && r.flag();
    return { objectType: ps ? 29 : 5, samplingFrequency };
  } catch (e) {
    if (e instanceof VvfError && e.code === 'BOX_OVERRUN') return undefined;
    throw e;
  }
}

/** What a program_config_element holds, as far as counting its channels and skipping the rest. */
interface ProgramConfig {
  /** Fronts, sides and backs (a pair counts two), and LFEs. */
  channels: number;
  lfe: number;
  assoc: number;
  cc: number;
}

/** A program_config_element (14496-3 4.4.1.1) up to its last channel element. */
function programConfig(r: Bits): ProgramConfig {
  r.u(4 + 2 + 4); // element_instance_tag, object_type, sampling_frequency_index
  const front = r.u(4);
  const side = r.u(4);
  const back = r.u(4);
  const lfe = r.u(2);
  const assoc = r.u(3);
  const cc = r.u(4);
  let channels = lfe;
  if (r.flag()) r.u(4); // mono_mixdown
  if (r.flag()) r.u(4); // stereo_mixdown
  if (r.flag()) r.u(3); // matrix_mixdown
  for (let i = 0; i < front + side + back; i++) {
    channels += r.flag() ? 2 : 1;
    r.u(4);
  }
  return { channels, lfe, assoc, cc };
}

/** The rest of a program_config_element: LFE, data and coupling element tags, and the comment after a byte alignment. */
function skipProgramConfigTail(r: Bits, pce: ProgramConfig): void {
  r.skip(4 * pce.lfe + 4 * pce.assoc + 5 * pce.cc);
  // Aligned relative to the AudioSpecificConfig's start, as ffmpeg reads it; the bytes start there.
  r.skip(r.left % 8);
  r.skip(8 * r.u(8)); // comment_field_bytes
}

/** ffmpeg's profile names for AAC object types. */
const AAC_PROFILES: Record<number, string> = {
  1: 'Main',
  2: 'LC',
  3: 'SSR',
  4: 'LTP',
  5: 'HE-AAC',
  23: 'LD',
  29: 'HE-AACv2',
  39: 'ELD',
};

/** The profile ffprobe names for an AudioSpecificConfig (explicit SBR/PS name the extension). */
export function aacProfileName(cfg: Pick<AudioSpecificConfig, 'objectType' | 'extensionObjectType'>): string | undefined {
  return AAC_PROFILES[cfg.extensionObjectType ?? cfg.objectType];
}
