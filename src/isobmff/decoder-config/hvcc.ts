// hvcC (HEVCDecoderConfigurationRecord, in hvc1/hev1 sample entries): ISO/IEC 14496-15 8.3.3.
import { VvfError } from '../../errors.js';
import type { Cursor } from '../cursor.js';
import { SAR } from './avcc.js';
import { Bits, rbsp } from './bits.js';
import type { ColourDescription } from './colr.js';

export interface HvccBox {
  configurationVersion: number;
  profileSpace: number;
  tier: number;
  profile: number;
  compatibilityFlags: number;
  /** general_constraint_indicator_flags, 6 bytes. */
  constraintFlags: Uint8Array;
  /** general_level_idc: 30 × the level number. */
  level: number;
  minSpatialSegmentation: number;
  parallelismType: number;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Frames per 256 seconds; 0 = unspecified. */
  avgFrameRate: number;
  constantFrameRate: number;
  numTemporalLayers: number;
  temporalIdNested: boolean;
  lengthSize: number;
  /** Parameter set arrays: NAL unit type (32 VPS, 33 SPS, 34 PPS, 39/40 SEI) and the units. */
  arrays: { nalType: number; complete: boolean; nalus: Uint8Array[] }[];
}

export function parseHvcc(c: Cursor): HvccBox {
  const configurationVersion = c.u8();
  const b = c.u8();
  const compatibilityFlags = c.u32();
  const constraintFlags = c.bytesCopy(6);
  const level = c.u8();
  const minSpatialSegmentation = c.u16() & 0xfff;
  const parallelismType = c.u8() & 3;
  const chromaFormat = c.u8() & 3;
  const bitDepthLuma = (c.u8() & 7) + 8;
  const bitDepthChroma = (c.u8() & 7) + 8;
  const avgFrameRate = c.u16();
  const f = c.u8();
  const count = c.u8();
  const arrays: HvccBox['arrays'] = [];
  for (let i = 0; i < count; i++) {
    const t = c.u8();
    const n = c.u16();
    // Each unit needs at least its 2-byte length: a count the box cannot hold is an overrun, not an allocation.
    c.checkCount(n, 2, 'hvcC NAL units');
    const nalus: Uint8Array[] = [];
    for (let k = 0; k < n; k++) nalus.push(c.bytesCopy(c.u16()));
    arrays.push({ nalType: t & 0x3f, complete: (t & 0x80) !== 0, nalus });
  }
  return {
    configurationVersion,
    profileSpace: b >>> 6,
    tier: (b >>> 5) & 1,
    profile: b & 0x1f,
    compatibilityFlags,
    constraintFlags,
    level,
    minSpatialSegmentation,
    parallelismType,
    chromaFormat,
    bitDepthLuma,
    bitDepthChroma,
    avgFrameRate,
    constantFrameRate: f >>> 6,
    numTemporalLayers: (f >>> 3) & 7,
    temporalIdNested: ((f >>> 2) & 1) === 1,
    lengthSize: (f & 3) + 1,
    arrays,
  };
}

const HEVC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'Main 10', 3: 'Main Still Picture', 4: 'Rext', 9: 'SCC' };

/** ffmpeg's HEVC profile name; a zero profile_idc falls back to the first compatibility flag set. */
export function hevcProfileName(box: Pick<HvccBox, 'profile' | 'compatibilityFlags'>): string | undefined {
  if (HEVC_PROFILES[box.profile]) return HEVC_PROFILES[box.profile];
  for (let j = 1; j < 32; j++) if ((box.compatibilityFlags >>> (31 - j)) & 1) return HEVC_PROFILES[j];
  return undefined;
}

/** HEVC level name: general_level_idc / 30 (93 → 3.1). */
export function hevcLevelName(level: number): string {
  return `${Math.floor(level / 30)}.${Math.round((level % 30) / 3)}`;
}

/** What an HEVC SPS says that ffprobe shows (H.265 7.3.2.2, up to the VUI's colour description). */
export interface HevcSps {
  chromaFormat: number;
  bitDepthLuma: number;
  /** Size after the conformance window. */
  width: number;
  height: number;
  sampleAspectRatio?: [number, number];
  fullRange?: boolean;
  colour?: ColourDescription;
}

/** Parses an SPS NAL unit (2-byte header included). Loops are bounded by the bits the unit holds. */
export function parseHevcSps(nal: Uint8Array, path: string, offset: number): HevcSps {
  const r = new Bits(rbsp(nal, 2), path, offset);
  r.u(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.u(1);
  skipProfileTierLevel(r, maxSubLayersMinus1);
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormat = r.ue();
  if (chromaFormat === 3) r.u(1);
  let width = r.ue();
  let height = r.ue();
  if (r.flag()) {
    // Conformance window offsets are in chroma units.
    const subW = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subH = chromaFormat === 1 ? 2 : 1;
    const [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    width -= subW * (left + right);
    height -= subH * (top + bottom);
  }
  const bitDepthLuma = r.ue() + 8;
  r.ue(); // bit_depth_chroma_minus8
  const log2MaxPocLsb = r.ue() + 4;
  const orderingAll = r.flag();
  for (let i = orderingAll ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    r.ue();
    r.ue();
    r.ue();
  }
  for (let i = 0; i < 6; i++) r.ue(); // coding and transform block sizes, hierarchy depths
  if (r.flag() && r.flag()) skipScalingListData(r);
  r.u(2); // amp, sample_adaptive_offset
  if (r.flag()) {
    r.u(8); // pcm bit depths
    r.ue();
    r.ue();
    r.u(1);
  }
  const sets = r.ue();
  if (sets > 64) throw new VvfError('BOX_INVALID', `${sets} short-term reference picture sets (at most 64)`, { path, offset });
  const deltaPocs: number[] = [];
  for (let i = 0; i < sets; i++) deltaPocs.push(skipShortTermRefPicSet(r, i, deltaPocs));
  if (r.flag()) {
    const n = r.ue();
    for (let i = 0; i < n; i++) r.u(log2MaxPocLsb + 1);
  }
  r.u(2); // temporal mvp, strong intra smoothing
  const sps: HevcSps = { chromaFormat, bitDepthLuma, width, height };
  if (!r.flag()) return sps; // vui_parameters_present_flag
  if (r.flag()) {
    const idc = r.u(8);
    if (idc === 255) sps.sampleAspectRatio = [r.u(16), r.u(16)];
    else if (idc >= 1 && idc <= SAR.length) sps.sampleAspectRatio = SAR[idc - 1];
  }
  if (r.flag()) r.u(1); // overscan
  if (r.flag()) {
    r.u(3); // video_format
    sps.fullRange = r.flag();
    if (r.flag()) sps.colour = { primaries: r.u(8), transfer: r.u(8), matrix: r.u(8), fullRange: sps.fullRange };
  }
  return sps;
}

function skipProfileTierLevel(r: Bits, maxSubLayersMinus1: number): void {
  r.skip(96); // general profile, tier, level
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.flag());
    levelPresent.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.u(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skip(88);
    if (levelPresent[i]) r.u(8);
  }
}

function skipScalingListData(r: Bits): void {
  for (let size = 0; size < 4; size++) {
    for (let matrix = 0; matrix < 6; matrix += size === 3 ? 3 : 1) {
      if (!r.flag()) {
        r.ue(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefs = Math.min(64, 1 << (4 + (size << 1)));
      if (size > 1) r.se();
      for (let i = 0; i < coefs; i++) r.se();
    }
  }
}

/** Skips st_ref_pic_set(idx) of an SPS and returns its NumDeltaPocs. */
function skipShortTermRefPicSet(r: Bits, idx: number, deltaPocs: number[]): number {
  if (idx !== 0 && r.flag()) {
    // Predicted from the set before it (in an SPS the reference is always idx - 1).
    r.u(1);
    r.ue();
    let count = 0;
    for (let j = 0; j <= (deltaPocs[idx - 1] ?? 0); j++) {
      const used = r.flag();
      if (used || r.flag()) count++;
    }
    return count;
  }
  const negative = r.ue();
  const positive = r.ue();
  if (negative > 16 || positive > 16)
    throw new VvfError('BOX_INVALID', 'more than 16 reference pictures in a set', { path: 'sps', offset: 0 });
  for (let i = 0; i < negative + positive; i++) {
    r.ue();
    r.u(1);
  }
  return negative + positive;
}
