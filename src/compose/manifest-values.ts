// Values shared by the DASH and HLS manifest writers: exact decimal seconds from ticks, xs:duration, language tags.

/** How {@link scaleTicks} rounds what does not fall on a unit. */
export type Rounding = 'floor' | 'ceil' | 'round';

/**
 * `ticks / timescale` seconds in units of `1 / unitsPerSecond` seconds (1000n: milliseconds),
 * rounded as asked, exactly (BigInt: ticks × units can pass 2^53). `round` is half up.
 */
export function scaleTicks(ticks: number, timescale: number, unitsPerSecond: bigint, rounding: Rounding): bigint {
  const n = BigInt(ticks) * unitsPerSecond;
  const d = BigInt(timescale);
  if (rounding === 'round') return floorDiv(2n * n + d, 2n * d);
  return rounding === 'ceil' ? -floorDiv(-n, d) : floorDiv(n, d);
}

function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n < 0n !== d < 0n ? q - 1n : q;
}

/** `units / 10^digits` as a decimal: all `digits` decimals, or (`trim`) without trailing zeros. */
export function decimal(units: bigint, digits: number, trim = false): string {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  const scale = 10n ** BigInt(digits);
  let frac = (abs % scale).toString().padStart(digits, '0');
  if (trim) frac = frac.replace(/0+$/, '');
  return `${sign}${abs / scale}${frac === '' ? '' : `.${frac}`}`;
}

/** Milliseconds as an xs:duration, largest units first, e.g. `PT1H2M3.504S`, `PT0S`. */
export function xsDuration(ms: bigint): string {
  const h = ms / 3_600_000n;
  const m = (ms % 3_600_000n) / 60_000n;
  const s = ms % 60_000n;
  let out = 'PT';
  if (h > 0n) out += `${h}H`;
  if (m > 0n) out += `${m}M`;
  if (s > 0n || out === 'PT') out += `${decimal(s, 3, true)}S`;
  return out;
}

/**
 * Whole milliseconds covering `seconds` (a float from the index): rounded up, so a
 * duration never ends before the media, after dropping float noise below a nanosecond.
 */
export function ceilMilliseconds(seconds: number): bigint {
  const ns = BigInt(Math.round(seconds * 1e9));
  return -floorDiv(-ns, 1_000_000n);
}

/**
 * The RFC 5646 language tag (DASH `@lang`, HLS `LANGUAGE`) of an ISO 639-2 code as MP4
 * stores it: the shortest form (`eng` → `en`, bibliographic `fre` → `fr`), from the
 * Unicode alias data of Intl. `undefined` for `und` and for anything not a language tag.
 */
export function languageTag(iso639: string): string | undefined {
  const code = iso639.trim();
  if (code === '' || code.toLowerCase() === 'und') return undefined;
  try {
    return Intl.getCanonicalLocales(code)[0];
  } catch {
    return undefined;
  }
}

/** A language's name in that language (`English`, `français`), for HLS `NAME` (RFC 8216 says it should be). */
export function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames([tag], { type: 'language', fallback: 'code' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** The 4CC of an RFC 6381 codec string (`avc1.64001f` → `avc1`). */
export function codecFourcc(codec: string): string {
  return codec.split('.')[0] ?? codec;
}
