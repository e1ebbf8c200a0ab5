// vpcC (VPCodecConfigurationBox, in vp08/vp09 sample entries): VP codec ISO binding.

import type { Cursor } from '../cursor.js';
import { readFullBox } from '../header.js';

export interface VpccBox {
  version: number;
  profile: number;
  /** 10 × the level number (31 = level 3.1). */
  level: number;
  bitDepth: number;
  /** 0/1 4:2:0 (vertical / colocated), 2 4:2:2, 3 4:4:4. */
  chromaSubsampling: number;
  fullRange: boolean;
  /** H.273 code points; version 0 (a draft) has none. */
  primaries?: number;
  transfer?: number;
  matrix?: number;
}

export function parseVpcc(c: Cursor): VpccBox {
  const { version } = readFullBox(c);
  const profile = c.u8();
  const level = c.u8();
  const b = c.u8();
  const box: VpccBox = { version, profile, level, bitDepth: b >>> 4, chromaSubsampling: (b >>> 1) & 7, fullRange: (b & 1) === 1 };
  if (version >= 1) {
    box.primaries = c.u8();
    box.transfer = c.u8();
    box.matrix = c.u8();
  }
  return box;
}
