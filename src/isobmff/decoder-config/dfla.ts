// dfLa (FLACSpecificBox, in a fLaC sample entry): the FLAC metadata blocks, of which STREAMINFO says rate, channels and depth.

import type { Cursor } from '../cursor.js';
import { readFullBox } from '../header.js';
import { Bits } from './bits.js';
import { type ChannelLayout, layoutOfMask, mask } from './channel-layout.js';

export interface DflaBox {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Samples per channel in the stream; 0 when unknown. */
  totalSamples: number;
}

export function parseDfla(c: Cursor): DflaBox | undefined {
  readFullBox(c);
  while (c.remaining >= 4) {
    const head = c.u8();
    const length = c.u24();
    const block = c.sub(length, c.path);
    if ((head & 0x7f) === 0) {
      const r = new Bits(block.bytesView(18), c.path, block.offset);
      r.skip(16 + 16 + 24 + 24); // block and frame sizes
      const sampleRate = r.u(20);
      const channels = r.u(3) + 1;
      const bitsPerSample = r.u(5) + 1;
      const totalSamples = r.u(4) * 2 ** 32 + r.u(32);
      return { sampleRate, channels, bitsPerSample, totalSamples };
    }
    if (head & 0x80) break;
  }
  return undefined;
}

/** FLAC's channel orders (RFC 9639 9.1.3), as ffmpeg's masks. */
const FLAC_MASKS: Record<number, number> = {
  1: mask('FC'),
  2: mask('FL', 'FR'),
  3: mask('FL', 'FR', 'FC'),
  4: mask('FL', 'FR', 'BL', 'BR'),
  5: mask('FL', 'FR', 'FC', 'SL', 'SR'),
  6: mask('FL', 'FR', 'FC', 'LFE', 'SL', 'SR'),
  7: mask('FL', 'FR', 'FC', 'LFE', 'BC', 'SL', 'SR'),
  8: mask('FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'SL', 'SR'),
};

export function flacChannels(box: DflaBox): ChannelLayout {
  const m = FLAC_MASKS[box.channels];
  return m !== undefined ? layoutOfMask(m) : { channels: box.channels };
}
