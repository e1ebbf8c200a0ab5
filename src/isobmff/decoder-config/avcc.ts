// avcC (AVCDecoderConfigurationRecord, in avc1/avc3 sample entries): profile, level and parameter sets; and what the first SPS says (ISO/IEC 14496-15 5.3.3, H.264 7.3.2.1).
import type { Cursor } from '../cursor.js';
import { Bits, rbsp } from './bits.js';
import type { ColourDescription } from './colr.js';

export interface AvccBox {
  configurationVersion: number;
  profile: number;
  /** constraint_set0..5 flags, as the byte that holds them. */
  compatibility: number;
  level: number;
  /** Bytes of each NAL unit's length field in samples. */
  lengthSize: number;
  sps: Uint8Array[];
  pps: Uint8Array[];
  /** The High-profile extension, when present. */
  chromaFormat?: number;
  bitDepthLuma?: number;
  bitDepthChroma?: number;
}

/** Profiles whose SPS and avcC carry chroma format and bit depth. */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export function parseAvcc(c: Cursor): AvccBox {
  const configurationVersion = c.u8();
  const profile = c.u8();
  const compatibility = c.u8();
  const level = c.u8();
  const lengthSize = (c.u8() & 3) + 1;
  const sps: Uint8Array[] = [];
  const pps: Uint8Array[] = [];
  const spsCount = c.u8() & 0x1f;
  for (let i = 0; i < spsCount; i++) sps.push(c.bytesCopy(c.u16()));
  const ppsCount = c.u8();
  for (let i = 0; i < ppsCount; i++) pps.push(c.bytesCopy(c.u16()));
  const box: AvccBox = { configurationVersion, profile, compatibility, level, lengthSize, sps, pps };
  // Many writers leave the extension out even for High profiles; it is optional in practice.
  if (HIGH_PROFILES.has(profile) && c.remaining >= 4) {
    box.chromaFormat = c.u8() & 3;
    box.bitDepthLuma = (c.u8() & 7) + 8;
    box.bitDepthChroma = (c.u8() & 7) + 8;
  }
  return box;
}

/** What an H.264 SPS says that ffprobe shows. */
export interface AvcSps {
  profile: number;
  level: number;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Coded size after cropping. */
  width: number;
  height: number;
  frameMbsOnly: boolean;
  /** VUI sample aspect ratio, when given. */
  sampleAspectRatio?: [number, number];
  /** VUI video_signal_type: range, and the colour description when present. */
  fullRange?: boolean;
  colour?: ColourDescription;
  /** VUI timing: time_scale / (2 * num_units_in_tick) is the frame rate for progressive video. */
  timing?: { numUnitsInTick: number; timeScale: number; fixedFrameRate: boolean };
}

/** H.264 Table E-1 (H.265 has the same): aspect_ratio_idc 1..16. */
export const SAR: readonly [number, number][] = [
  [1, 1],
  [12, 11],
  [10, 11],
  [16, 11],
  [40, 33],
  [24, 11],
  [20, 11],
  [32, 11],
  [80, 33],
  [18, 11],
  [15, 11],
  [64, 33],
  [160, 99],
  [4, 3],
  [3, 2],
  [2, 1],
];

/** Parses an SPS NAL unit (header byte included) up to the VUI timing info. */
export function parseAvcSps(nal: Uint8Array, path: string, offset: number): AvcSps {
  const r = new Bits(rbsp(nal, 1), path, offset);
  const profile = r.u(8);
  r.u(8); // constraint flags
  const level = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat === 3) separateColourPlane = r.flag();
    bitDepthLuma = r.ue() + 8;
    bitDepthChroma = r.ue() + 8;
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const cycle = r.ue();
    for (let i = 0; i < cycle; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  if (!frameMbsOnly) r.u(1);
  r.u(1); // direct_8x8_inference_flag
  let crop = [0, 0, 0, 0];
  if (r.flag()) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  // Crop units (H.264 7-19..7-22): chroma sample units, times 2 vertically for field coding.
  const arrayType = separateColourPlane ? 0 : chromaFormat;
  const cropX = arrayType === 0 ? 1 : arrayType === 3 ? 1 : 2;
  const cropY = (arrayType === 0 ? 1 : arrayType === 1 ? 2 : 1) * (frameMbsOnly ? 1 : 2);
  const sps: AvcSps = {
    profile,
    level,
    chromaFormat,
    bitDepthLuma,
    bitDepthChroma,
    width: widthMbs * 16 - cropX * ((crop[0] ?? 0) + (crop[1] ?? 0)),
    height: heightMapUnits * 16 * (frameMbsOnly ? 1 : 2) - cropY * ((crop[2] ?? 0) + (crop[3] ?? 0)),
    frameMbsOnly,
  };
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
  if (r.flag()) {
    r.ue();
    r.ue();
  }
  if (r.flag()) sps.timing = { numUnitsInTick: r.u(32), timeScale: r.u(32), fixedFrameRate: r.flag() };
  return sps;
}

function skipScalingList(r: Bits, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** ffmpeg's name of an H.264 profile (constraint_set1 makes Baseline constrained, set3 makes High 10/4:2:2/4:4:4 intra). */
export function avcProfileName(profile: number, compatibility: number): string | undefined {
  const set1 = (compatibility & 0x40) !== 0;
  const set3 = (compatibility & 0x10) !== 0;
  switch (profile) {
    case 66:
      return set1 ? 'Constrained Baseline' : 'Baseline';
    case 77:
      return 'Main';
    case 88:
      return 'Extended';
    case 100:
      return 'High';
    case 110:
      return set3 ? 'High 10 Intra' : 'High 10';
    case 122:
      return set3 ? 'High 4:2:2 Intra' : 'High 4:2:2';
    case 244:
      return set3 ? 'High 4:4:4 Intra' : 'High 4:4:4 Predictive';
    case 44:
      return 'CAVLC 4:4:4';
    case 118:
      return 'Multiview High';
    case 128:
      return 'Stereo High';
    default:
      return undefined;
  }
}

/** H.264 level name: level_idc / 10, and 1b (level 11 with constraint_set3 in Baseline/Main/Extended, or 9). */
export function avcLevelName(profile: number, compatibility: number, level: number): string {
  if (level === 9 || (level === 11 && (compatibility & 0x10) !== 0 && (profile === 66 || profile === 77 || profile === 88)))
    return '1b';
  return `${Math.floor(level / 10)}.${level % 10}`;
}
