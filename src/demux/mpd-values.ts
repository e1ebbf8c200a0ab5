// DASH MPD attribute values: unsigned integers, byte ranges, xs:duration times, exact rationals.
import { VvfError } from '../errors.js';

/** Where an MPD value came from, for error messages: the manifest URL and an element/attribute path. */
export interface MpdLocation {
  source: string;
  path: string;
}

/** An exact non-negative rational `n / d` (d > 0); MPD times are decimals, so floats would drift. */
export interface Rational {
  n: bigint;
  d: bigint;
}

export function invalid(detail: string, at: MpdLocation): VvfError {
  return new VvfError('MANIFEST_INVALID', detail, at);
}

/** A decimal unsigned integer that fits a JS number exactly. */
export function parseUint(value: string, at: MpdLocation): number {
  const s = value.trim();
  if (!/^\d+$/.test(s)) throw invalid(`expected a non-negative integer, got ${quote(s)}`, at);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new VvfError('NUMBER_TOO_LARGE', `${quote(s)} exceeds 2^53`, at);
  return n;
}

/** A decimal signed integer that fits a JS number exactly (SegmentTimeline S@r may be negative). */
export function parseInt53(value: string, at: MpdLocation): number {
  const s = value.trim();
  if (!/^-?\d+$/.test(s)) throw invalid(`expected an integer, got ${quote(s)}`, at);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new VvfError('NUMBER_TOO_LARGE', `${quote(s)} exceeds 2^53`, at);
  return n;
}

/** An inclusive byte range `first-last`, as in @range, @indexRange and @mediaRange. */
export function parseByteRange(value: string, at: MpdLocation): { start: number; end: number } {
  const m = /^\s*(\d+)-(\d+)\s*$/.exec(value);
  if (m === null) throw invalid(`expected a byte range "first-last", got ${quote(value)}`, at);
  const start = parseUint(m[1]!, at);
  const end = parseUint(m[2]!, at);
  if (end < start) throw invalid(`byte range ${quote(value)} ends before it starts`, at);
  return { start, end };
}

// Fractions beyond picoseconds carry no meaning in a manifest but would grow the BigInts.
const MAX_FRACTION_DIGITS = 12;
const DURATION =
  /^P(?:(\d{1,15})Y)?(?:(\d{1,15})M)?(?:(\d{1,15})D)?(?:T(?:(\d{1,15})H)?(?:(\d{1,15})M)?(?:(\d{1,15})(?:\.(\d+))?S)?)?$/;

/**
 * An xs:duration such as `PT1H2M3.5S` or `P1DT2H`, in seconds as an exact rational.
 * Years and months have no fixed length; like common players we take 365 and 30 days.
 */
export function parseDuration(value: string, at: MpdLocation): Rational {
  const s = value.trim();
  if (s.startsWith('-')) throw invalid(`negative duration ${quote(s)}`, at);
  const m = DURATION.exec(s);
  // "P" and "PT" alone match the pattern but name no component.
  if (m === null || s === 'P' || s.endsWith('T')) throw invalid(`expected an ISO 8601 duration, got ${quote(s)}`, at);
  const part = (i: number): bigint => BigInt(m[i] ?? '0');
  const whole = part(1) * 365n * 86400n + part(2) * 30n * 86400n + part(3) * 86400n + part(4) * 3600n + part(5) * 60n + part(6);
  const frac = (m[7] ?? '').slice(0, MAX_FRACTION_DIGITS);
  const d = 10n ** BigInt(frac.length);
  return { n: whole * d + BigInt(frac === '' ? '0' : frac), d };
}

export const ZERO: Rational = { n: 0n, d: 1n };

export function addR(a: Rational, b: Rational): Rational {
  const [x, y, d] = common(a, b);
  return { n: x + y, d };
}

export function subR(a: Rational, b: Rational): Rational {
  const [x, y, d] = common(a, b);
  return { n: x - y, d };
}

/** Both numerators over one denominator; MPD denominators are powers of ten, so one divides the other. */
function common(a: Rational, b: Rational): [bigint, bigint, bigint] {
  if (a.d === b.d) return [a.n, b.n, a.d];
  if (a.d % b.d === 0n) return [a.n, b.n * (a.d / b.d), a.d];
  if (b.d % a.d === 0n) return [a.n * (b.d / a.d), b.n, b.d];
  return [a.n * b.d, b.n * a.d, a.d * b.d];
}

export function toSeconds(r: Rational): number {
  // Dividing in BigInt first keeps precision when n is large.
  const whole = r.n / r.d;
  return Number(whole) + Number(r.n - whole * r.d) / Number(r.d);
}

/** ceil(a / b) for BigInts with b > 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b < a ? q + 1n : q;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}
