// dac3 / dec3 (AC3SpecificBox / EC3SpecificBox, in ac-3 / ec-3 sample entries): ETSI TS 102 366 annex F.
import type { Cursor } from '../cursor.js';
import { Bits } from './bits.js';
import { type ChannelLayout, layoutOfMask, mask } from './channel-layout.js';

/** The fields of one (AC-3) or the first independent (E-AC-3) substream. */
export interface Ac3Stream {
  fscod: number;
  bsid: number;
  bsmod: number;
  /** Audio coding mode: which full-bandwidth channels are present. */
  acmod: number;
  lfeon: boolean;
  /** E-AC-3: dependent substreams, and the extra channel locations they add (9-bit chan_loc). */
  numDependentSubstreams?: number;
  chanLoc?: number;
}

export interface Dac3Box extends Ac3Stream {
  /** kbit/s, from bit_rate_code. */
  bitRate: number;
}

export interface Dec3Box {
  /** kbit/s. */
  dataRate: number;
  substreams: Ac3Stream[];
}

const BIT_RATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640];

export function parseDac3(c: Cursor): Dac3Box {
  const r = new Bits(c.bytesView(3), c.path, c.offset);
  const fscod = r.u(2);
  const bsid = r.u(5);
  const bsmod = r.u(3);
  const acmod = r.u(3);
  const lfeon = r.flag();
  const bitRate = BIT_RATES[r.u(5)] ?? 0;
  return { fscod, bsid, bsmod, acmod, lfeon, bitRate };
}

export function parseDec3(c: Cursor): Dec3Box {
  const r = new Bits(c.bytesView(c.remaining), c.path, c.offset);
  const dataRate = r.u(13);
  const count = r.u(3) + 1;
  const substreams: Ac3Stream[] = [];
  for (let i = 0; i < count; i++) {
    const fscod = r.u(2);
    const bsid = r.u(5);
    r.u(2); // reserved, asvc
    const bsmod = r.u(3);
    const acmod = r.u(3);
    const lfeon = r.flag();
    r.u(3);
    const numDependentSubstreams = r.u(4);
    const s: Ac3Stream = { fscod, bsid, bsmod, acmod, lfeon, numDependentSubstreams };
    if (numDependentSubstreams > 0) s.chanLoc = r.u(9);
    else r.u(1);
    substreams.push(s);
  }
  return { dataRate, substreams };
}

/** acmod → speakers, as ffmpeg's AC-3 decoder lays them out (1+1 dual mono shows as stereo). */
const ACMOD_MASKS = [
  mask('FL', 'FR'),
  mask('FC'),
  mask('FL', 'FR'),
  mask('FL', 'FR', 'FC'),
  mask('FL', 'FR', 'BC'),
  mask('FL', 'FR', 'FC', 'BC'),
  mask('FL', 'FR', 'SL', 'SR'),
  mask('FL', 'FR', 'FC', 'SL', 'SR'),
];

/** chan_loc bits → the speakers ffmpeg names; 0 where the pair has no name in the list we keep. */
const CHAN_LOC: readonly (readonly [number, number])[] = [
  [mask('FLC', 'FRC'), 2],
  [mask('BL', 'BR'), 2],
  [mask('BC'), 1],
  [mask('TC'), 1],
  [0, 2], // Lsd/Rsd
  [0, 2], // Lw/Rw
  [mask('TFL', 'TFR'), 2],
  [mask('TFC'), 1],
  [0, 1], // LFE2
];

/** Channels and layout of an AC-3 stream or the first independent substream of an E-AC-3 one. */
export function ac3Channels(s: Ac3Stream): ChannelLayout {
  let m = (ACMOD_MASKS[s.acmod] ?? 0) | (s.lfeon ? mask('LFE') : 0);
  let unnamed = 0;
  if (s.chanLoc !== undefined) {
    CHAN_LOC.forEach(([bits, n], i) => {
      if (!((s.chanLoc ?? 0) & (1 << (8 - i)))) return;
      if (bits === 0) unnamed += n;
      else m |= bits;
    });
  }
  const named = layoutOfMask(m);
  return unnamed > 0 ? { channels: named.channels + unnamed } : named;
}
