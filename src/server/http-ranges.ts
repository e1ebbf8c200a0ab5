// HTTP byte ranges (RFC 9110 §14): parsing the Range header, Content-Range values and
// multipart/byteranges framing. Pure: no I/O, so the server and its tests share one truth.
import { randomBytes } from 'node:crypto';
import { VvfError } from '../errors.js';

/** One byte range of a representation: `start` to `end` inclusive, `0 <= start <= end < size`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a Range header asks of a representation of a given size.
 * - `none`: serve the whole representation with 200 (no header, or one to ignore).
 * - `ranges`: serve 206; one range → a single part with `Content-Range`, several → multipart/byteranges.
 * - `unsatisfiable`: serve 416 with `Content-Range: bytes *\/size`.
 */
export type RangeResult = { kind: 'none' } | { kind: 'ranges'; ranges: ByteRange[] } | { kind: 'unsatisfiable' };

/** Options of {@link parseRange}. */
export interface ParseRangeOptions {
  /**
   * Most satisfiable range-specs a request may hold (counted before coalescing). A request
   * with more is served whole (200), like nginx's `max_ranges`; 0 disables ranges. Default 16.
   */
  maxRanges?: number;
}

/** Default cap on the number of ranges of one request. */
export const DEFAULT_MAX_RANGES = 16;

const NONE: RangeResult = Object.freeze({ kind: 'none' });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: 'unsatisfiable' });

/** `bytes=` then the range-set; the unit is case-insensitive (RFC 9110 §14.1). No OWS around `=`. */
const BYTES_UNIT = /^bytes=/i;
/** One range-spec with optional whitespace around it: `first-last`, `first-` or `-suffix`. */
const RANGE_SPEC = /^[ \t]*(?:([0-9]+)-([0-9]*)|-([0-9]+))[ \t]*$/;
/** OWS only: an empty list element, which a recipient must accept (RFC 9110 §5.6.1.2). */
const EMPTY_ELEMENT = /^[ \t]*$/;

/**
 * Parses a Range header (RFC 9110 §14.1–14.2) against a representation of `size` bytes.
 *
 * Choices (tested in test/server/http-ranges.test.ts and compared with nginx 1.22):
 * - An absent header, another unit than `bytes`, or a syntactically invalid range set
 *   (`bytes=5-2`, `bytes=a-b`, `bytes=--1`, `bytes=`, `bytes=0 - 1`) → `none`: the header is
 *   ignored and the whole representation served (RFC 9110 §14.2 allows ignoring; nginx
 *   answers 416 for invalid syntax instead).
 * - Empty list elements (`bytes=0-1,,5-6`) and spaces or tabs around elements are accepted.
 * - A last-pos past the end is clipped; a range whose first-pos is at or past the end is
 *   dropped; `-n` is the last n bytes (the whole representation when n >= size); `-0` is
 *   unsatisfiable. No satisfiable range left → `unsatisfiable`.
 * - Numbers of any length are exact: one past 2^53 is simply past the end (a first-pos makes
 *   the range unsatisfiable, a last-pos is clipped, a suffix takes everything). nginx answers
 *   416 for numbers past 2^63.
 * - More satisfiable range-specs than `maxRanges` → `none` (nginx's `max_ranges`).
 * - Several satisfiable ranges are sorted and those that overlap or touch are merged, so a
 *   response never holds more bytes than the representation (RFC 9110 §15.3.7 allows
 *   coalescing regardless of order). If one range remains it is served as a single part.
 *   nginx instead keeps the requested order without merging and serves 200 when the parts
 *   add up to more than the representation.
 * - An empty representation (size 0) has no byte to serve: a range-spec that starts at 0
 *   or a non-zero suffix → `none` (200 with the empty body, as nginx); anything else →
 *   `unsatisfiable`.
 *
 * @param header the Range field value (undefined when absent)
 * @param size the representation's exact length, a safe integer
 */
export function parseRange(header: string | undefined, size: number, opts: ParseRangeOptions = {}): RangeResult {
  checkSize(size);
  const maxRanges = opts.maxRanges ?? DEFAULT_MAX_RANGES;
  if (!(maxRanges >= 0 && (Number.isSafeInteger(maxRanges) || maxRanges === Number.POSITIVE_INFINITY))) {
    throw new VvfError('USAGE', `maxRanges must be a non-negative integer, got ${maxRanges}`);
  }
  if (header === undefined || maxRanges === 0) return NONE;
  const value = header.replace(/^[ \t]+|[ \t]+$/g, '');
  if (!BYTES_UNIT.test(value)) return NONE;

  const ranges: ByteRange[] = [];
  let specs = 0;
  let wholeOfEmpty = false;
  for (const element of value.slice(6).split(',')) {
    const m = RANGE_SPEC.exec(element);
    if (m === null) {
      if (EMPTY_ELEMENT.test(element)) continue;
      return NONE;
    }
    specs++;
    const [, first, last, suffix] = m;
    if (suffix !== undefined) {
      // -n: the last n bytes; -0 selects nothing.
      if (isZero(suffix)) continue;
      if (size === 0) {
        wholeOfEmpty = true;
        continue;
      }
      const n = toNumber(suffix);
      ranges.push({ start: n >= size ? 0 : size - n, end: size - 1 });
    } else if (first !== undefined && last !== undefined) {
      if (last !== '' && compareDigits(first, last) > 0) return NONE; // last-pos < first-pos: invalid, not unsatisfiable
      if (size === 0 && isZero(first)) {
        wholeOfEmpty = true;
        continue;
      }
      const start = toNumber(first);
      if (start >= size) continue;
      const end = last === '' ? size - 1 : Math.min(toNumber(last), size - 1);
      ranges.push({ start, end });
    }
    if (ranges.length > maxRanges) return NONE;
  }
  if (specs === 0) return NONE; // `bytes=` or `bytes=,`: the range set needs one element
  if (wholeOfEmpty) return NONE;
  if (ranges.length === 0) return UNSATISFIABLE;
  return { kind: 'ranges', ranges: coalesce(ranges) };
}

/** Sorts ranges by start and merges those that overlap or touch. */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  if (ranges.length === 1) return ranges;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && r.start <= prev.end + 1) {
      if (r.end > prev.end) prev.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/** A digit string as a number; anything past 2^53 - 1 becomes Infinity (past any size). */
function toNumber(digits: string): number {
  const n = Number(digits);
  return n <= Number.MAX_SAFE_INTEGER ? n : Number.POSITIVE_INFINITY;
}

function isZero(digits: string): boolean {
  return /^0+$/.test(digits);
}

/** Compares two non-negative decimal digit strings exactly, whatever their length. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new VvfError('USAGE', `a representation size must be a non-negative safe integer, got ${size}`);
  }
}

function checkRange(r: ByteRange, size: number): void {
  checkSize(size);
  if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.start > r.end || r.end >= size) {
    throw new VvfError('USAGE', `byte range ${r.start}-${r.end} is not inside a representation of ${size} bytes`);
  }
}

/** The Content-Range value of a 206 part: `bytes start-end/size`. */
export function contentRange(r: ByteRange, size: number): string {
  checkRange(r, size);
  return `bytes ${r.start}-${r.end}/${size}`;
}

/** The Content-Range value of a 416 response: `bytes *\/size`. */
export function unsatisfiedRange(size: number): string {
  checkSize(size);
  return `bytes */${size}`;
}

/** How to write a multipart/byteranges body (RFC 9110 §14.6) without buffering it. */
export interface MultipartPlan {
  /** The boundary string, without the leading dashes. */
  boundary: string;
  /** The response's Content-Type: `multipart/byteranges; boundary=…`. */
  contentType: string;
  /** Exact body length: every head, every range's bytes, and the tail. */
  length: number;
  /** In order: write `head`, then the bytes of `range`. */
  parts: { range: ByteRange; head: Uint8Array }[];
  /** The close delimiter, written after the last part. */
  tail: Uint8Array;
}

/** RFC 2046 bchars: a boundary is 1–70 of these and does not end with a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
/** RFC 9110 token characters: a boundary made only of these needs no quotes. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header field value we are willing to write: visible ASCII, spaces and tabs, no CR/LF. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Plans a multipart/byteranges body for `ranges` of a representation of `size` bytes whose
 * own Content-Type is `partContentType` (omitted from the parts when empty).
 *
 * The framing is nginx's: every part's head starts with CRLF (an empty preamble before the
 * first delimiter), then `--boundary`, Content-Type, Content-Range and a blank line; the
 * tail is `CRLF--boundary--CRLF`. The default boundary is 24 random hex digits, which no
 * body will contain by chance.
 */
export function planMultipart(ranges: ByteRange[], size: number, partContentType: string, boundary?: string): MultipartPlan {
  if (ranges.length === 0) throw new VvfError('USAGE', 'a multipart/byteranges body needs at least one range');
  if (!FIELD_VALUE.test(partContentType)) {
    throw new VvfError('USAGE', `content type ${JSON.stringify(partContentType)} is not a valid header value`);
  }
  const b = boundary ?? randomBytes(12).toString('hex');
  if (!BOUNDARY.test(b)) throw new VvfError('USAGE', `multipart boundary ${JSON.stringify(b)} is not valid (RFC 2046)`);
  const encoder = new TextEncoder();
  const typeLine = partContentType === '' ? '' : `Content-Type: ${partContentType}\r\n`;
  let length = 0;
  const parts = ranges.map((range) => {
    const head = encoder.encode(`\r\n--${b}\r\n${typeLine}Content-Range: ${contentRange(range, size)}\r\n\r\n`);
    length += head.length + (range.end - range.start + 1);
    return { range: { start: range.start, end: range.end }, head };
  });
  const tail = encoder.encode(`\r\n--${b}--\r\n`);
  length += tail.length;
  if (!Number.isSafeInteger(length)) throw new VvfError('USAGE', 'multipart/byteranges body longer than 2^53 bytes');
  const param = TOKEN.test(b) ? b : `"${b}"`;
  return { boundary: b, contentType: `multipart/byteranges; boundary=${param}`, length, parts, tail };
}
