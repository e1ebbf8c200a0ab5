// hvcC (HEVCDecoderConfigurationRecord, in hvc1/hev1 sample entries): ISO/IEC 14496-15 8.3.3.
import type { Cursor } from '../cursor.js';

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
