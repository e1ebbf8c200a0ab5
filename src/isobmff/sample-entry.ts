// Sample entries (children of stsd, in stbl): what a track's samples are, and their RFC 6381 codec string.
import { VvfError } from '../errors.js';
import { Cursor } from './cursor.js';
import { parseAudioSpecificConfig } from './decoder-config/esds.js';
import { readBoxHeader, readFullBox } from './header.js';

/** What a sample entry says about its track's samples. */
export interface SampleEntryInfo {
  /** The entry's fourcc, e.g. `avc1`, `mp4a`, `encv`. */
  format: string;
  kind: 'video' | 'audio' | 'other';
  /**
   * RFC 6381 codec string, e.g. `avc1.64001f`, `mp4a.40.2`; the fourcc when unknown. For an
   * encrypted or restricted entry it is built from the original format (`frma`) and the
   * configuration boxes that stay inside the entry, as a player would report it.
   */
  codec: string;
  /** Visual entries: the width and height fields of the entry. */
  width?: number;
  height?: number;
  /** Audio entries: the channel count field (QuickTime v2: numAudioChannels). */
  channelCount?: number;
  /**
   * Audio entries, in Hz: the integer part of the 16.16 samplerate field; QuickTime sound
   * version 2 entries: the float64 audioSampleRate; ISO entries with an `srat` box: its
   * sampling_rate. For Opus this is the field (48000 by the Opus mapping), not dOps'
   * InputSampleRate, which is only the rate of the encoder's input.
   */
  sampleRate?: number;
  /** A protected entry (`encv`, `enca`, … or one holding a `sinf`). */
  encrypted: boolean;
  /** The format before protection or restriction, from `sinf`/`rinf` → `frma`. */
  originalFormat?: string;
  /** The protection or restriction scheme from `schm` (`cenc`, `cbcs`, …). */
  scheme?: string;
  /** Fourccs of the child boxes found inside the entry, in order (avcC, btrt, pasp, …). */
  boxes: string[];
}

const VISUAL = new Set([
  'avc1',
  'avc2',
  'avc3',
  'avc4',
  'hvc1',
  'hev1',
  'hvc2',
  'hev2',
  'dvh1',
  'dvhe',
  'dva1',
  'dvav',
  'dav1',
  'vvc1',
  'vvi1',
  'vp08',
  'vp09',
  'av01',
  'mp4v',
  's263',
  'h263',
  'jpeg',
  'mjpa',
  'mjpb',
  'mjp2',
  'apch',
  'apcn',
  'apcs',
  'apco',
  'ap4h',
  'ap4x',
  'encv',
  'resv',
  'drmi',
]);

const AUDIO = new Set([
  'mp4a',
  'enca',
  'drms',
  'ac-3',
  'ec-3',
  'ac-4',
  'Opus',
  'fLaC',
  'alac',
  'samr',
  'sawb',
  'mha1',
  'mha2',
  'mhm1',
  'mhm2',
  'dtsc',
  'dtsh',
  'dtsl',
  'dtse',
  'dtsx',
  '.mp3',
  'ulaw',
  'alaw',
  'sowt',
  'twos',
  'lpcm',
  'ipcm',
  'fpcm',
  'in24',
  'in32',
  'fl32',
  'fl64',
]);

/** Fourccs that replace the original one when a sample entry is protected (ISO/IEC 14496-12 8.12, CENC, FairPlay). */
const PROTECTED = new Set(['encv', 'enca', 'encs', 'enct', 'encm', 'encf', 'drmi', 'drms']);

/**
 * Sample entries that are neither visual nor audio but whose layout is known, so their child
 * boxes (and a `sinf` when protected) can be found: bytes after the box header before the
 * first child, then how many NUL-terminated strings follow.
 */
const OTHER_LAYOUT: Record<string, readonly [number, number]> = {
  wvtt: [8, 0],
  mp4s: [8, 0],
  // displayFlags, justification, background colour, default text box and style record.
  tx3g: [38, 0],
  stpp: [8, 3],
  sbtt: [8, 2],
  stxt: [8, 2],
  metx: [8, 3],
  mett: [8, 2],
};

/** Bytes of a VisualSampleEntry after the box header, before its child boxes. */
const VISUAL_FIELDS = 78;

/** A child box found in a sample entry: its type and a cursor over its payload. */
export interface SampleEntryChild {
  type: string;
  body: Cursor;
  /** Absolute source offset of the child box (its header). */
  start: number;
  /** Size of the child box, header included. */
  size: number;
}
type Child = SampleEntryChild;

/**
 * Describes one sample entry (the full bytes of a stsd entry, header included): format,
 * kind, RFC 6381 codec string, dimensions or audio parameters, protection and child boxes.
 * Only describes: it refuses nothing, so an encrypted entry comes back with `encrypted: true`.
 * Malformed bytes give a VvfError (BOX_OVERRUN, BOX_INVALID) located in the source.
 *
 * @param entry the entry's bytes, header included (as in `StsdBox.entries`)
 * @param base absolute source offset of `entry[0]`, for error locations
 * @param path box path of the entry, for error locations
 */
export function describeSampleEntry(entry: Uint8Array, base: number, path: string): SampleEntryInfo {
  return readSampleEntry(entry, base, path).info;
}

/**
 * Like describeSampleEntry, and also returns the entry's child boxes (avcC, esds, pasp, …)
 * so that decoder configurations can be read from them without walking the entry again.
 */
export function readSampleEntry(
  entry: Uint8Array,
  base: number,
  path: string,
): { info: SampleEntryInfo; children: SampleEntryChild[] } {
  const head = new Cursor(entry, base, path);
  const h = readBoxHeader(head, base + entry.length);
  const format = h.type;
  const body = new Cursor(entry, base, path, h.headerSize, h.size);
  const kind = VISUAL.has(format) ? 'video' : AUDIO.has(format) ? 'audio' : 'other';
  const info: SampleEntryInfo = { format, kind, codec: format, encrypted: PROTECTED.has(format), boxes: [] };

  let children: Child[] = [];
  if (kind === 'video') {
    body.skip(6 + 2 + 16); // reserved, data_reference_index, pre_defined/reserved
    info.width = body.u16();
    info.height = body.u16();
    body.skip(VISUAL_FIELDS - 28);
    children = readChildren(body);
  } else if (kind === 'audio') {
    children = readAudioFields(body, info);
  } else {
    const layout = OTHER_LAYOUT[format];
    if (layout) {
      body.skip(layout[0]);
      for (let i = 0; i < layout[1]; i++) body.cstring();
      children = readChildren(body);
    }
  }
  info.boxes = children.map((b) => b.type);

  const transform = find(children, 'sinf') ?? find(children, 'rinf');
  if (transform) {
    if (transform.type === 'sinf') info.encrypted = true;
    const scheme = readSchemeInfo(transform.body);
    if (scheme.originalFormat !== undefined) info.originalFormat = scheme.originalFormat;
    if (scheme.scheme !== undefined) info.scheme = scheme.scheme;
  }

  const srat = find(children, 'srat');
  if (srat) {
    readFullBox(srat.body);
    info.sampleRate = srat.body.u32();
  }

  info.codec = codecString(info.originalFormat ?? format, children);
  return { info, children };
}

/** Reads the fields of an AudioSampleEntry (any QuickTime sound version) and returns its child boxes. */
function readAudioFields(body: Cursor, info: SampleEntryInfo): Child[] {
  body.skip(6 + 2); // reserved, data_reference_index
  const version = body.u16();
  body.skip(6); // revision level and vendor (QuickTime), reserved (ISO)
  info.channelCount = body.u16();
  body.skip(2 + 4); // samplesize, compression id / pre_defined, packet size / reserved
  info.sampleRate = body.u32() >>> 16;
  if (version === 2) {
    // QuickTime sound description v2: the 16.16 field holds 1.0; the real values follow.
    body.skip(4); // sizeOfStructOnly
    const rate = new DataView(body.bytesCopy(8).buffer).getFloat64(0);
    if (!(rate >= 0 && rate < 2 ** 32)) throw body.error('BOX_INVALID', `audioSampleRate ${rate} is not a sample rate`);
    info.sampleRate = Math.round(rate);
    info.channelCount = body.u32();
    body.skip(20); // always7F000000, constBitsPerChannel, formatSpecificFlags, bytes and frames per packet
    return readChildren(body);
  }
  if (version === 1) {
    // QuickTime v1 adds four u32 (samples per packet, bytes per packet/frame/sample). An ISO
    // AudioSampleEntryV1 (only in a version 1 stsd) has the same version number but adds
    // nothing: its child boxes follow at once. A printable box type right here means ISO,
    // since bytesPerPacket is never four printable characters.
    const iso = new Cursor(body.bytes, body.base, body.path, body.position, body.position + body.remaining);
    if (startsWithBox(iso)) {
      try {
        return readChildren(iso);
      } catch {
        // Not ISO after all: read it as QuickTime.
      }
    }
    body.skip(16);
  }
  return readChildren(body);
}

/**
 * Reads the child boxes that fill the rest of `c`. A QuickTime-style terminator (four zero
 * bytes, or a box of type 0) or fewer than 8 bytes left end the list; anything else must be
 * a valid box.
 */
function readChildren(c: Cursor): Child[] {
  const children: Child[] = [];
  while (c.remaining >= 8) {
    const at = c.position;
    // QuickTime ends some atom lists with four zero bytes or an 8-byte atom of type 0.
    if (isZero(c.bytes, at) || isZero(c.bytes, at + 4)) break;
    const h = readBoxHeader(c, c.endOffset);
    const body = c.sub(h.size - (c.position - at), `${c.path}/${h.type}`);
    children.push({ type: h.type, body, start: c.base + at, size: h.size });
  }
  return children;
}

function isZero(b: Uint8Array, at: number): boolean {
  return b[at] === 0 && b[at + 1] === 0 && b[at + 2] === 0 && b[at + 3] === 0;
}

/** Whether the next 8 bytes read as a box header with a printable type that fits in `c`. */
function startsWithBox(c: Cursor): boolean {
  if (c.remaining < 8) return false;
  const b = c.bytes;
  const at = c.position;
  for (let i = 4; i < 8; i++) {
    const ch = b[at + i] ?? 0;
    if (ch < 0x20 || ch > 0x7e) return false;
  }
  const size = (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
  return size >= 8 && size <= c.remaining;
}

function find(children: Child[], type: string): Child | undefined {
  return children.find((b) => b.type === type);
}

/** Reads `frma` and `schm` from a `sinf` or `rinf` box. */
function readSchemeInfo(c: Cursor): { originalFormat?: string; scheme?: string } {
  const out: { originalFormat?: string; scheme?: string } = {};
  for (const child of readChildren(c)) {
    if (child.type === 'frma' && out.originalFormat === undefined) {
      out.originalFormat = child.body.fourcc();
    } else if (child.type === 'schm' && out.scheme === undefined) {
      readFullBox(child.body);
      out.scheme = child.body.fourcc();
    }
  }
  return out;
}

/** The RFC 6381 codec string of an entry whose (original) format is `format`. */
function codecString(format: string, children: Child[]): string {
  switch (format) {
    case 'avc1':
    case 'avc2':
    case 'avc3':
    case 'avc4': {
      const avcC = find(children, 'avcC');
      return avcC ? avcCodec(format, avcC.body) : format;
    }
    case 'hvc1':
    case 'hev1':
    case 'hvc2':
    case 'hev2': {
      const hvcC = find(children, 'hvcC');
      return hvcC ? hevcCodec(format, hvcC.body) : format;
    }
    case 'vp08':
    case 'vp09': {
      const vpcC = find(children, 'vpcC');
      return vpcC ? vpxCodec(format, vpcC.body) : format;
    }
    case 'av01': {
      const av1C = find(children, 'av1C');
      return av1C
        ? av1Codec(
            format,
            av1C.body,
            children.filter((b) => b.type === 'colr'),
          )
        : format;
    }
    case 'mp4a':
    case 'mp4v': {
      // QuickTime puts the esds of an mp4a inside a `wave` box.
      const esds = find(children, 'esds') ?? findInWave(children);
      return esds ? mpeg4Codec(format, esds.body) : format;
    }
    case 'Opus':
      return 'opus';
    case 'fLaC':
      return 'flac';
    default:
      // ac-3 and ec-3 are their own codec strings; anything else is named by its fourcc.
      return format;
  }
}

function findInWave(children: Child[]): Child | undefined {
  const wave = find(children, 'wave');
  return wave ? find(readChildren(wave.body), 'esds') : undefined;
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

function dec2(v: number): string {
  return String(v).padStart(2, '0');
}

/** RFC 6381 3.3: `avc1.PPCCLL`, profile_idc, constraint flags byte and level_idc in hex. */
function avcCodec(format: string, c: Cursor): string {
  c.u8(); // configurationVersion
  const profile = c.u8();
  const compat = c.u8();
  const level = c.u8();
  return `${format}.${hex2(profile)}${hex2(compat)}${hex2(level)}`;
}

/**
 * ISO/IEC 14496-15 Annex E: `hvc1.[A-C]<profile_idc>.<compatibility flags, bits reversed,
 * hex>.<L|H><level_idc>[.<constraint byte hex>…]`, trailing zero constraint bytes omitted.
 * Hex is upper case as in the standard's examples, without leading zeros.
 */
function hevcCodec(format: string, c: Cursor): string {
  c.u8(); // configurationVersion
  const b = c.u8();
  const space = b >>> 6;
  const tier = (b >>> 5) & 1;
  const profile = b & 0x1f;
  const compat = c.u32();
  const constraints = c.bytesView(6);
  const level = c.u8();
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed = reversed * 2 + ((compat >>> i) & 1);
  let last = constraints.length;
  while (last > 0 && constraints[last - 1] === 0) last--;
  const parts = [
    format,
    `${space > 0 ? String.fromCharCode(64 + space) : ''}${profile}`,
    reversed.toString(16).toUpperCase(),
    `${tier ? 'H' : 'L'}${level}`,
  ];
  for (let i = 0; i < last; i++) parts.push((constraints[i] ?? 0).toString(16).toUpperCase());
  return parts.join('.');
}

/**
 * VP codec ISO binding: `vp09.PP.LL.DD.CC.cp.tc.mc.FF`, all two-digit decimals, from a
 * version 1 vpcC. A version 0 vpcC (an earlier draft) predates the H.273 colour fields, so
 * only the mandatory `vp09.PP.LL.DD` is given for it.
 */
function vpxCodec(format: string, c: Cursor): string {
  const { version } = readFullBox(c);
  const profile = c.u8();
  const level = c.u8();
  const b = c.u8();
  const bitDepth = b >>> 4;
  if (version === 0) return `${format}.${dec2(profile)}.${dec2(level)}.${dec2(bitDepth)}`;
  const chroma = (b >>> 1) & 7;
  const fullRange = b & 1;
  const primaries = c.u8();
  const transfer = c.u8();
  const matrix = c.u8();
  const fields = [profile, level, bitDepth, chroma, primaries, transfer, matrix, fullRange];
  return `${format}.${fields.map(dec2).join('.')}`;
}

/** What the codec string of AV1 needs from av1C and its sequence header OBU. */
export interface Av1Config {
  profile: number;
  level: number;
  tier: number;
  bitDepth: number;
  mono: number;
  subX: number;
  subY: number;
  samplePosition: number;
  /** Colour description from the sequence header, when it has one. */
  colour?: { primaries: number; transfer: number; matrix: number };
  /** color_range from the sequence header, when there is one. */
  fullRange?: number;
}

/**
 * AV1 ISO binding, Codecs Parameter String: the full form
 * `av01.P.LLT.DD.M.CCC.cp.tc.mc.F`, with the trailing `.0.110.01.01.01.0` omitted when it
 * holds exactly the defaults (so plain 4:2:0 BT.709-or-unspecified video gives `av01.0.04M.08`).
 * Values come from the sequence header OBU in configOBUs (else av1C's own fields); colour
 * from an nclx `colr` box, else the sequence header's colour description, else BT.709 (1/1/1).
 */
function av1Codec(format: string, c: Cursor, colrs: Child[]): string {
  c.u8(); // marker, version
  const b1 = c.u8();
  const b2 = c.u8();
  c.u8(); // initial_presentation_delay
  let cfg: Av1Config = {
    profile: b1 >>> 5,
    level: b1 & 0x1f,
    tier: b2 >>> 7,
    bitDepth: (b2 >>> 6) & 1 ? ((b2 >>> 5) & 1 ? 12 : 10) : 8,
    mono: (b2 >>> 4) & 1,
    subX: (b2 >>> 3) & 1,
    subY: (b2 >>> 2) & 1,
    samplePosition: b2 & 3,
  };
  const fromObu = findSequenceHeader(c);
  if (fromObu) cfg = fromObu;

  let colour = cfg.colour ?? { primaries: 1, transfer: 1, matrix: 1 };
  let fullRange = cfg.fullRange ?? 0;
  // An entry may carry several colr boxes (an ICC profile besides nclx): the first nclx counts.
  let nclx: ReturnType<typeof readNclx>;
  for (const colr of colrs) {
    nclx = readNclx(colr.body);
    if (nclx) break;
  }
  if (nclx) {
    colour = nclx;
    fullRange = nclx.fullRange;
  }
  const chroma = `${cfg.subX}${cfg.subY}${cfg.subX && cfg.subY ? cfg.samplePosition : 0}`;
  const full =
    `${format}.${cfg.profile}.${dec2(cfg.level)}${cfg.tier ? 'H' : 'M'}.${dec2(cfg.bitDepth)}` +
    `.${cfg.mono}.${chroma}.${dec2(colour.primaries)}.${dec2(colour.transfer)}.${dec2(colour.matrix)}.${fullRange}`;
  const defaults = '.0.110.01.01.01.0';
  return full.endsWith(defaults) ? full.slice(0, -defaults.length) : full;
}

/** The nclx fields of a `colr` box, or undefined for other colour types (ICC profiles, QuickTime nclc). */
function readNclx(c: Cursor): { primaries: number; transfer: number; matrix: number; fullRange: number } | undefined {
  if (c.fourcc() !== 'nclx') return undefined;
  const primaries = c.u16();
  const transfer = c.u16();
  const matrix = c.u16();
  const fullRange = c.u8() >>> 7;
  return { primaries, transfer, matrix, fullRange };
}

/** The first sequence header OBU among av1C's configOBUs, parsed; undefined when there is none. */
export function findSequenceHeader(c: Cursor): Av1Config | undefined {
  while (c.remaining > 0) {
    const header = c.u8();
    const type = (header >>> 3) & 0xf;
    if (header & 0x04) c.u8(); // extension header
    const size = header & 0x02 ? leb128(c) : c.remaining;
    const obu = c.sub(size, c.path);
    if (type === 1) return parseSequenceHeader(obu);
  }
  return undefined;
}

/** Unsigned LEB128 (AV1 obu_size): at most 8 bytes. */
function leb128(c: Cursor): number {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const b = c.u8();
    value += (b & 0x7f) * 2 ** (7 * i);
    if (!(b & 0x80)) return value;
  }
  throw c.error('BOX_INVALID', 'leb128 longer than 8 bytes');
}

/** Reads bits MSB first from a cursor's remaining bytes; reading past them is BOX_OVERRUN. */
class BitReader {
  private bit = 0;
  private readonly bytes: Uint8Array;
  private readonly start: number;

  constructor(private readonly c: Cursor) {
    this.start = c.offset;
    this.bytes = c.bytesView(c.remaining);
  }

  /** An unsigned value of `n` ≤ 32 bits. */
  u(n: number): number {
    if (this.bit + n > this.bytes.length * 8) {
      throw new VvfError('BOX_OVERRUN', `bit field of ${n} bits runs past the end`, {
        path: this.c.path,
        offset: this.start + (this.bit >>> 3),
      });
    }
    let v = 0;
    for (let i = 0; i < n; i++, this.bit++) v = v * 2 + (((this.bytes[this.bit >>> 3] ?? 0) >>> (7 - (this.bit & 7))) & 1);
    return v;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  /** AV1 uvlc(). */
  uvlc(): number {
    let zeros = 0;
    while (!this.flag()) zeros++;
    return zeros >= 32 ? 2 ** 32 - 1 : this.u(zeros) + 2 ** zeros - 1;
  }
}

/** AV1 spec 5.5 sequence_header_obu(), up to color_config(); only what the codec string needs. */
function parseSequenceHeader(c: Cursor): Av1Config {
  const r = new BitReader(c);
  const profile = r.u(3);
  r.u(1); // still_picture
  const reduced = r.flag();
  let level = 0;
  let tier = 0;
  if (reduced) {
    level = r.u(5);
  } else {
    let decoderModel = false;
    let bufferDelayLength = 0;
    if (r.flag()) {
      // timing_info
      r.u(32);
      r.u(32);
      if (r.flag()) r.uvlc();
      decoderModel = r.flag();
      if (decoderModel) {
        bufferDelayLength = r.u(5) + 1;
        r.u(32);
        r.u(5);
        r.u(5);
      }
    }
    const displayDelay = r.flag();
    const points = r.u(5) + 1;
    for (let i = 0; i < points; i++) {
      r.u(12); // operating_point_idc
      const idx = r.u(5);
      const t = idx > 7 ? r.u(1) : 0;
      if (i === 0) {
        level = idx;
        tier = t;
      }
      if (decoderModel && r.flag()) {
        r.u(bufferDelayLength);
        r.u(bufferDelayLength);
        r.u(1);
      }
      if (displayDelay && r.flag()) r.u(4);
    }
  }
  const widthBits = r.u(4) + 1;
  const heightBits = r.u(4) + 1;
  r.u(widthBits);
  r.u(heightBits);
  if (!reduced && r.flag()) r.u(7); // frame id lengths
  r.u(3); // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
  if (!reduced) {
    r.u(4); // interintra, masked compound, warped motion, dual filter
    const orderHint = r.flag();
    if (orderHint) r.u(2); // jnt_comp, ref_frame_mvs
    const chooseScreenContent = r.flag();
    const forceScreenContent = chooseScreenContent ? 2 : r.u(1);
    if (forceScreenContent > 0 && !r.flag()) r.u(1); // seq_choose_integer_mv, seq_force_integer_mv
    if (orderHint) r.u(3);
  }
  r.u(3); // superres, cdef, restoration

  // color_config()
  const high = r.flag();
  const bitDepth = profile === 2 && high ? (r.flag() ? 12 : 10) : high ? 10 : 8;
  const mono = profile === 1 ? 0 : r.u(1);
  let colour: Av1Config['colour'];
  if (r.flag()) colour = { primaries: r.u(8), transfer: r.u(8), matrix: r.u(8) };
  let subX = 1;
  let subY = 1;
  let samplePosition = 0;
  let fullRange: number;
  if (mono) {
    fullRange = r.u(1);
  } else if (colour && colour.primaries === 1 && colour.transfer === 13 && colour.matrix === 0) {
    // sRGB: 4:4:4 full range, nothing more coded.
    fullRange = 1;
    subX = 0;
    subY = 0;
  } else {
    fullRange = r.u(1);
    if (profile === 1) {
      subX = 0;
      subY = 0;
    } else if (profile > 1) {
      if (bitDepth === 12) {
        subX = r.u(1);
        subY = subX ? r.u(1) : 0;
      } else {
        subY = 0;
      }
    }
    if (subX && subY) samplePosition = r.u(2);
  }
  const cfg: Av1Config = { profile, level, tier, bitDepth, mono, subX, subY, samplePosition, fullRange };
  if (colour) cfg.colour = colour;
  return cfg;
}

/**
 * `mp4a.<objectTypeIndication hex>` (+ `.<audioObjectType>` for 0x40) and
 * `mp4v.<objectTypeIndication hex>` (+ `.<profile_and_level_indication>` for 0x20), from esds.
 */
function mpeg4Codec(format: string, c: Cursor): string {
  readFullBox(c);
  const config = findDecoderConfig(c);
  if (!config) return format;
  const oti = config.u8();
  config.skip(12); // streamType/upStream, bufferSizeDB, maxBitrate, avgBitrate
  let info: Cursor | undefined;
  while (config.remaining > 0) {
    const d = readDescriptor(config);
    if (d.tag === 0x05) {
      info = d.body;
      break;
    }
  }
  const base = `${format}.${hex2(oti)}`;
  if (!info || info.remaining === 0) return base;
  if (format === 'mp4a' && oti === 0x40) {
    // HE-AAC is mp4a.40.5 and HE-AACv2 mp4a.40.29 however signalled in the configuration (as
    // shaka-packager writes them, and DASH-IF and Apple ask); the first object type otherwise.
    const start = info.offset;
    const bytes = info.bytesView(info.remaining);
    try {
      const asc = parseAudioSpecificConfig(bytes, info.path, start);
      return `${base}.${asc.extensionObjectType ?? asc.objectType}`;
    } catch (e) {
      if (!(e instanceof VvfError)) throw e;
      // A configuration cut short after its object type still names it.
      const r = new BitReader(new Cursor(bytes, start, info.path));
      let aot = r.u(5);
      if (aot === 31) aot = 32 + r.u(6);
      return `${base}.${aot}`;
    }
  }
  if (format === 'mp4v' && oti === 0x20) {
    // visual_object_sequence_start_code 00 00 01 B0, then profile_and_level_indication.
    const b = info.bytesView(info.remaining);
    for (let i = 0; i + 4 < b.length; i++) {
      if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1 && b[i + 3] === 0xb0) return `${base}.${b[i + 4]}`;
    }
  }
  return base;
}

/**
 * The DecoderConfigDescriptor's body inside an esds payload (after version/flags): inside
 * the ES_Descriptor, or at the top level as some writers put it.
 */
function findDecoderConfig(c: Cursor): Cursor | undefined {
  let scope = c;
  let inEs = false;
  while (scope.remaining > 0) {
    const d = readDescriptor(scope);
    if (d.tag === 0x04) return d.body;
    // Only one ES_Descriptor level: nesting is not allowed, and would let input drive recursion.
    if (d.tag === 0x03 && !inEs) {
      const es = d.body;
      es.u16(); // ES_ID
      const flags = es.u8();
      if (flags & 0x80) es.u16(); // dependsOn_ES_ID
      if (flags & 0x40) es.skip(es.u8()); // URL
      if (flags & 0x20) es.u16(); // OCR_ES_Id
      scope = es;
      inEs = true;
    }
  }
  return undefined;
}

/** An MPEG-4 descriptor: tag, then a size in up to four 7-bit groups. */
function readDescriptor(c: Cursor): { tag: number; body: Cursor } {
  const tag = c.u8();
  let size = 0;
  for (let i = 0; ; i++) {
    if (i === 4) throw c.error('BOX_INVALID', `descriptor 0x${hex2(tag)} size longer than 4 bytes`);
    const b = c.u8();
    size = size * 128 + (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { tag, body: c.sub(size, c.path) };
}
