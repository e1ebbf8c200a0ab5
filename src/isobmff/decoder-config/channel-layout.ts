// Channel layouts as ffmpeg names them, built from the speaker positions a decoder configuration gives.

/** Speaker positions, in ffmpeg's (and WAVEFORMATEXTENSIBLE's) bit order. */
export const CHANNEL_NAMES = [
  'FL',
  'FR',
  'FC',
  'LFE',
  'BL',
  'BR',
  'FLC',
  'FRC',
  'BC',
  'SL',
  'SR',
  'TC',
  'TFL',
  'TFC',
  'TFR',
  'TBL',
  'TBC',
  'TBR',
] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** A bit mask of speaker positions. Masks stay below 2^18, so plain numbers hold them. */
export function mask(...names: ChannelName[]): number {
  let m = 0;
  for (const n of names) m |= 1 << CHANNEL_NAMES.indexOf(n);
  return m;
}

const STEREO = mask('FL', 'FR');
const SURROUND = STEREO | mask('FC');
const L5_0 = SURROUND | mask('SL', 'SR');
const L5_0_BACK = SURROUND | mask('BL', 'BR');
const LFE = mask('LFE');

/** ffmpeg's named layouts (libavutil/channel_layout.c), in its order so the first name of a mask wins. */
const NAMED: readonly (readonly [string, number])[] = [
  ['mono', mask('FC')],
  ['stereo', STEREO],
  ['2.1', STEREO | LFE],
  ['3.0', SURROUND],
  ['3.0(back)', STEREO | mask('BC')],
  ['4.0', SURROUND | mask('BC')],
  ['quad', STEREO | mask('BL', 'BR')],
  ['quad(side)', STEREO | mask('SL', 'SR')],
  ['3.1', SURROUND | LFE],
  ['5.0', L5_0_BACK],
  ['5.0(side)', L5_0],
  ['4.1', SURROUND | mask('BC') | LFE],
  ['5.1', L5_0_BACK | LFE],
  ['5.1(side)', L5_0 | LFE],
  ['6.0', L5_0 | mask('BC')],
  ['6.0(front)', STEREO | mask('SL', 'SR', 'FLC', 'FRC')],
  ['hexagonal', L5_0_BACK | mask('BC')],
  ['6.1', L5_0 | LFE | mask('BC')],
  ['6.1(back)', L5_0_BACK | LFE | mask('BC')],
  ['6.1(front)', STEREO | mask('SL', 'SR', 'FLC', 'FRC') | LFE],
  ['7.0', L5_0 | mask('BL', 'BR')],
  ['7.0(front)', L5_0 | mask('FLC', 'FRC')],
  ['7.1', L5_0 | LFE | mask('BL', 'BR')],
  ['7.1(wide)', L5_0_BACK | LFE | mask('FLC', 'FRC')],
  ['7.1(wide-side)', L5_0 | LFE | mask('FLC', 'FRC')],
  ['octagonal', L5_0 | mask('BL', 'BC', 'BR')],
];

/** What a decoder configuration says about channels. */
export interface ChannelLayout {
  channels: number;
  /** ffmpeg's name (`mono`, `stereo`, `5.1(side)`, …) or `N channels (FL+FR+…)` for unnamed masks. */
  layout?: string;
}

/** The layout of a speaker mask, named as ffprobe names it. */
export function layoutOfMask(m: number): ChannelLayout {
  const names = CHANNEL_NAMES.filter((_, i) => (m >>> i) & 1);
  const named = NAMED.find(([, v]) => v === m);
  return { channels: names.length, layout: named ? named[0] : `${names.length} channels (${names.join('+')})` };
}

/** A count without positions: ffmpeg's default layout for that count (mono, stereo), else none. */
export function layoutOfCount(channels: number): ChannelLayout {
  if (channels === 1) return { channels, layout: 'mono' };
  if (channels === 2) return { channels, layout: 'stereo' };
  return { channels };
}
