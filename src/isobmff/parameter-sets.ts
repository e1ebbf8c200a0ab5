import { Cursor } from './cursor.js';
import { readBoxHeader } from './header.js';

/** Parameter sets carried out of band in a sample entry (avcC / hvcC). */
export interface ParameterSets {
  /** Bytes of each NAL unit's length field in samples (1, 2 or 4). */
  lengthSize: number;
  /** VPS/SPS/PPS NAL units, in the order the configuration lists them (SEI of an hvcC left out). */
  nalus: Uint8Array[];
}

// Visual sample entries: 8-byte box header, then 78 bytes of fields before the child boxes.
const VISUAL_FIELDS = 78;

/**
 * The parameter sets of an avc1/avc2 or hvc1 sample entry, whose samples carry none in
 * band; undefined for any other entry (avc3/hev1 carry theirs in band already).
 */
export function parameterSetsOf(entry: Uint8Array): ParameterSets | undefined {
  const config = decoderConfigOf(entry);
  if (!config || !OUT_OF_BAND.has(config.format)) return undefined;
  return config.sets;
}

const AVC_FORMATS = new Set(['avc1', 'avc2', 'avc3', 'avc4']);
const HEVC_FORMATS = new Set(['hvc1', 'hev1']);
const OUT_OF_BAND = new Set(['avc1', 'avc2', 'hvc1']);

/** An AVC or HEVC sample entry's decoder configuration box (avcC, hvcC) and what it holds. */
export interface DecoderConfig {
  format: string;
  family: 'avc' | 'hevc';
  /** Offset of the configuration box (its header) in the entry, and of its end. */
  start: number;
  end: number;
  sets: ParameterSets;
  /** profile_idc and level_idc (HEVC: general_profile_idc, general_level_idc): what a decoder must support. */
  profile: number;
  level: number;
}

/** The avcC/hvcC of an avc1–avc4, hvc1 or hev1 sample entry; undefined for other entries or without one. */
export function decoderConfigOf(entry: Uint8Array): DecoderConfig | undefined {
  const c = new Cursor(entry, 0, 'stsd/entry');
  const h = readBoxHeader(c, entry.length);
  const family = AVC_FORMATS.has(h.type) ? 'avc' : HEVC_FORMATS.has(h.type) ? 'hevc' : undefined;
  if (!family) return undefined;
  if (c.remaining < VISUAL_FIELDS) return undefined;
  c.skip(VISUAL_FIELDS);
  while (c.remaining >= 8) {
    const start = c.position;
    const child = readBoxHeader(c, c.endOffset);
    const body = c.sub(child.size - child.headerSize, child.type);
    const end = start + child.size;
    const payload = entry.subarray(start + child.headerSize, end);
    if (family === 'avc' && child.type === 'avcC') {
      const sets = avcSets(body);
      return { format: h.type, family, start, end, sets, profile: payload[1] ?? 0, level: payload[3] ?? 0 };
    }
    if (family === 'hevc' && child.type === 'hvcC') {
      const sets = hevcSets(body);
      return { format: h.type, family, start, end, sets, profile: (payload[1] ?? 0) & 0x1f, level: payload[12] ?? 0 };
    }
  }
  return undefined;
}

/** Children of a visual sample entry that may differ between pieces of one stream: the decoder configuration and bitrate hints. */
const PER_PIECE = new Set(['avcC', 'hvcC', 'btrt']);

/**
 * What an AVC/HEVC sample entry says besides its decoder configuration and bitrate hints
 * (format family, visual fields, other child boxes): two entries with equal keys describe
 * the same kind of picture, so one entry can stand for both when the samples carry their
 * parameter sets in band. Undefined for other entries.
 */
export function entryKeyWithoutConfig(entry: Uint8Array): string | undefined {
  const config = decoderConfigOf(entry);
  if (!config) return undefined;
  const c = new Cursor(entry, 0, 'stsd/entry');
  readBoxHeader(c, entry.length);
  const fieldsAt = c.position;
  c.skip(VISUAL_FIELDS);
  const parts = [config.family, Buffer.from(entry.subarray(fieldsAt, fieldsAt + VISUAL_FIELDS)).toString('hex')];
  while (c.remaining >= 8) {
    const start = c.position;
    const child = readBoxHeader(c, c.endOffset);
    c.sub(child.size - child.headerSize, child.type);
    if (!PER_PIECE.has(child.type)) parts.push(Buffer.from(entry.subarray(start, start + child.size)).toString('hex'));
  }
  if (c.remaining > 0) parts.push(Buffer.from(entry.subarray(c.position)).toString('hex'));
  return parts.join('/');
}

/**
 * The entry with its format changed to the one whose samples may carry parameter sets in
 * band (avc3 for AVC, hev1 for HEVC), everything else (avcC/hvcC included) unchanged.
 */
export function inBandSampleEntry(entry: Uint8Array, family: 'avc' | 'hevc'): Uint8Array {
  const out = entry.slice();
  const fourcc = family === 'avc' ? 'avc3' : 'hev1';
  for (let i = 0; i < 4; i++) out[4 + i] = fourcc.charCodeAt(i);
  return out;
}

function avcSets(c: Cursor): ParameterSets {
  c.skip(4); // version, profile, compatibility, level
  const lengthSize = (c.u8() & 3) + 1;
  const nalus: Uint8Array[] = [];
  const sps = c.u8() & 0x1f;
  for (let i = 0; i < sps; i++) nalus.push(c.bytesCopy(c.u16()));
  const pps = c.u8();
  for (let i = 0; i < pps; i++) nalus.push(c.bytesCopy(c.u16()));
  return { lengthSize, nalus };
}

function hevcSets(c: Cursor): ParameterSets {
  c.skip(21);
  const lengthSize = (c.u8() & 3) + 1;
  const arrays = c.u8();
  const nalus: Uint8Array[] = [];
  for (let a = 0; a < arrays; a++) {
    const type = c.u8() & 0x3f; // after array_completeness and a reserved bit
    const n = c.u16();
    for (let i = 0; i < n; i++) {
      const nalu = c.bytesCopy(c.u16());
      // VPS, SPS, PPS only: SEI kept in hvcC (x265 puts its 2 KB settings string there) is
      // declarative, and repeating it at every keyframe would cost more than the sets.
      if (type >= 32 && type <= 34) nalus.push(nalu);
    }
  }
  return { lengthSize, nalus };
}

/** Parameter sets as they would appear in a sample: each NAL unit after its length. */
export function inBandParameterSets(sets: ParameterSets): Uint8Array {
  const total = sets.nalus.reduce((a, n) => a + sets.lengthSize + n.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const n of sets.nalus) {
    for (let b = sets.lengthSize - 1; b >= 0; b--) out[at++] = (n.length >>> (8 * b)) & 0xff;
    out.set(n, at);
    at += n.length;
  }
  return out;
}
