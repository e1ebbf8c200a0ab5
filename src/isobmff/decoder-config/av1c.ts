// av1C (AV1CodecConfigurationBox, in av01 sample entries): AV1 ISO binding 2.3; the sequence header OBU it carries holds the colour description.
import type { Cursor } from '../cursor.js';
import { type Av1Config, findSequenceHeader } from '../sample-entry.js';

export interface Av1cBox {
  version: number;
  profile: number;
  /** seq_level_idx of operating point 0 (level 2.0 + idx/4 . idx%4). */
  level: number;
  tier: number;
  bitDepth: number;
  monochrome: boolean;
  subsamplingX: number;
  subsamplingY: number;
  chromaSamplePosition: number;
  /** The first sequence header OBU among configOBUs, parsed (it wins over the fields above). */
  sequenceHeader?: Av1Config;
}

export function parseAv1c(c: Cursor): Av1cBox {
  const b0 = c.u8();
  const b1 = c.u8();
  const b2 = c.u8();
  c.u8(); // initial_presentation_delay
  const box: Av1cBox = {
    version: b0 & 0x7f,
    profile: b1 >>> 5,
    level: b1 & 0x1f,
    tier: b2 >>> 7,
    bitDepth: (b2 >>> 6) & 1 ? ((b2 >>> 5) & 1 ? 12 : 10) : 8,
    monochrome: ((b2 >>> 4) & 1) === 1,
    subsamplingX: (b2 >>> 3) & 1,
    subsamplingY: (b2 >>> 2) & 1,
    chromaSamplePosition: b2 & 3,
  };
  const seq = findSequenceHeader(c);
  if (seq) box.sequenceHeader = seq;
  return box;
}

const AV1_PROFILES = ['Main', 'High', 'Professional'];

export function av1ProfileName(profile: number): string | undefined {
  return AV1_PROFILES[profile];
}

/** AV1 level name from seq_level_idx (Annex A.3): 2.0 for 0, 3.1 for 5; 31 means no level constraint. */
export function av1LevelName(idx: number): string {
  return idx === 31 ? 'max' : `${2 + (idx >>> 2)}.${idx & 3}`;
}
