// colr (ColourInformationBox, in a visual sample entry): nclx/nclc colour description or an ICC profile; and ffmpeg's names for H.273 code points.
import type { Cursor } from '../cursor.js';

/** A colour description as H.273 code points, with the names ffprobe uses. Read-only: vvf copies sample entries as bytes. */
export interface ColourDescription {
  /** H.273 ColourPrimaries, TransferCharacteristics, MatrixCoefficients. */
  primaries: number;
  transfer: number;
  matrix: number;
  /** Full range (`pc`) or limited (`tv`); undefined when the source does not say (QuickTime nclc). */
  fullRange?: boolean;
}

export type ColrBox =
  | ({ colourType: 'nclx' | 'nclc' } & ColourDescription)
  | { colourType: 'rICC' | 'prof'; iccBytes: number }
  | { colourType: string };

/** Parses a colr payload. Unknown colour types are kept by name only. */
export function parseColr(c: Cursor): ColrBox {
  const colourType = c.fourcc();
  if (colourType === 'nclx' || colourType === 'nclc') {
    const primaries = c.u16();
    const transfer = c.u16();
    const matrix = c.u16();
    // nclc (QuickTime) has no range flag.
    if (colourType === 'nclc' || c.remaining < 1) return { colourType, primaries, transfer, matrix };
    return { colourType, primaries, transfer, matrix, fullRange: (c.u8() & 0x80) !== 0 };
  }
  if (colourType === 'rICC' || colourType === 'prof') return { colourType, iccBytes: c.remaining };
  return { colourType };
}

const PRIMARIES: Record<number, string> = {
  1: 'bt709',
  4: 'bt470m',
  5: 'bt470bg',
  6: 'smpte170m',
  7: 'smpte240m',
  8: 'film',
  9: 'bt2020',
  10: 'smpte428',
  11: 'smpte431',
  12: 'smpte432',
  22: 'ebu3213',
};

const TRANSFER: Record<number, string> = {
  1: 'bt709',
  4: 'bt470m',
  5: 'bt470bg',
  6: 'smpte170m',
  7: 'smpte240m',
  8: 'linear',
  9: 'log100',
  10: 'log316',
  11: 'iec61966-2-4',
  12: 'bt1361e',
  13: 'iec61966-2-1',
  14: 'bt2020-10',
  15: 'bt2020-12',
  16: 'smpte2084',
  17: 'smpte428',
  18: 'arib-std-b67',
};

const MATRIX: Record<number, string> = {
  0: 'gbr',
  1: 'bt709',
  4: 'fcc',
  5: 'bt470bg',
  6: 'smpte170m',
  7: 'smpte240m',
  8: 'ycgco',
  9: 'bt2020nc',
  10: 'bt2020c',
  11: 'smpte2085',
  12: 'chroma-derived-nc',
  13: 'chroma-derived-c',
  14: 'ictcp',
};

/** Names of a colour description as ffprobe prints them; 2 (unspecified) and reserved values are left out. */
export function colourNames(d: ColourDescription): {
  primaries?: string;
  transfer?: string;
  matrix?: string;
  range?: 'tv' | 'pc';
} {
  const out: { primaries?: string; transfer?: string; matrix?: string; range?: 'tv' | 'pc' } = {};
  const p = PRIMARIES[d.primaries];
  const t = TRANSFER[d.transfer];
  const m = MATRIX[d.matrix];
  if (p) out.primaries = p;
  if (t) out.transfer = t;
  if (m) out.matrix = m;
  if (d.fullRange !== undefined) out.range = d.fullRange ? 'pc' : 'tv';
  return out;
}
