// btrt (BitRateBox, in a sample entry): decoder buffer size and bitrates the writer declared.
import type { Cursor } from '../cursor.js';

export interface BtrtBox {
  bufferSizeDB: number;
  maxBitrate: number;
  avgBitrate: number;
}

export function parseBtrt(c: Cursor): BtrtBox {
  return { bufferSizeDB: c.u32(), maxBitrate: c.u32(), avgBitrate: c.u32() };
}
