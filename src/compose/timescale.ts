import type { Track } from '../model/movie.js';

export function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** Largest movie timescale vvf writes: mvhd/tkhd/elst durations stay exact in 64-bit fields. */
const MAX_TIMESCALE = 0x7fff_ffff;

/**
 * The output movie timescale: the least common multiple of every track timescale and every
 * source edit-list timescale, so that every edit duration converts into it exactly. When the
 * LCM is too large, the largest track timescale (durations then round to it).
 */
export function movieTimescaleFor(tracks: readonly Track[]): number {
  let m = 1;
  let largest = 1;
  for (const t of tracks) {
    for (const s of [t.timescale, t.editTimescale]) {
      if (s <= 0) continue;
      largest = Math.max(largest, s);
      m = (m / gcd(m, s)) * s;
      if (m > MAX_TIMESCALE) return largest;
    }
  }
  return m;
}

/** `value` in `from` units, in `to` units: exact when `from` divides `to`, else rounded. */
export function rescale(value: number, from: number, to: number): number {
  if (from === to) return value;
  if (to % from === 0) return value * (to / from);
  // BigInt keeps the product exact past 2^53 before rounding.
  const num = BigInt(value) * BigInt(to);
  const den = BigInt(from);
  const q = num / den;
  const r = num % den;
  return Number(2n * (r < 0n ? -r : r) >= den ? q + (num < 0n ? -1n : 1n) : q);
}
