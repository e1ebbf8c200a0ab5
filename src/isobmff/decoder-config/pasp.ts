// pasp (PixelAspectRatioBox, in a visual sample entry): the sample (pixel) aspect ratio.
import type { Cursor } from '../cursor.js';

export interface PaspBox {
  hSpacing: number;
  vSpacing: number;
}

export function parsePasp(c: Cursor): PaspBox {
  return { hSpacing: c.u32(), vSpacing: c.u32() };
}
