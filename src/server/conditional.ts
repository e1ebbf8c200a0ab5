// HTTP conditional requests (RFC 9110 §13): entity-tags, HTTP dates, precondition evaluation
// and If-Range. Pure: no I/O.
import { VvfError } from '../errors.js';

/** The validators of the selected representation. */
export interface Validators {
  /** Strong entity-tag with its quotes, e.g. `"3f-1a2b"`. */
  etag: string;
  /** Last modification time; HTTP carries it to the second, so milliseconds are ignored. */
  lastModified: Date;
}

/** The conditional header fields of a request (raw field values), and its method. */
export interface RequestConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
  /** Not used by {@link evaluateConditions}; pass it to {@link ifRangeAllows}. */
  ifRange?: string;
  /** Case-sensitive, as HTTP methods are: `GET`, `HEAD`, … */
  method: string;
}

/** A parsed entity-tag: its opaque-tag (with quotes) and whether it is weak. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/**
 * Parses one entity-tag (`"xyz"` or `W/"xyz"`, RFC 9110 §8.8.3); undefined when the value is
 * not exactly one entity-tag. The `W/` prefix is case-sensitive.
 */
export function parseEntityTag(value: string): EntityTag | undefined {
  const list = parseEntityTagList(value);
  return list !== undefined && list.length === 1 ? list[0] : undefined;
}

/**
 * Parses a comma-separated list of entity-tags (the `#entity-tag` of If-Match and
 * If-None-Match); undefined when it is malformed. Commas inside quotes belong to the tag;
 * empty list elements are accepted (RFC 9110 §5.6.1.2).
 */
export function parseEntityTagList(value: string): EntityTag[] | undefined {
  const tags: EntityTag[] = [];
  const n = value.length;
  let i = 0;
  for (;;) {
    // Skip OWS and empty list elements.
    while (i < n && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    if (i === n) return tags;
    let weak = false;
    if (value.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (value[i] !== '"') return undefined;
    const close = value.indexOf('"', i + 1);
    if (close < 0) return undefined;
    const opaque = value.slice(i, close + 1);
    if (!ETAGC.test(opaque.slice(1, -1))) return undefined;
    tags.push({ weak, opaque });
    i = close + 1;
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
    if (i < n && value[i] !== ',') return undefined;
  }
}

/** etagc: %x21 / %x23-7E / obs-text. */
const ETAGC = /^[\x21\x23-\x7e\x80-\xff]*$/;

/** Strong comparison (RFC 9110 §8.8.3.2): both strong and the same opaque-tag. */
function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: the same opaque-tag, weak or not. */
function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

function currentTag(v: Validators): EntityTag {
  const tag = parseEntityTag(v.etag);
  if (tag === undefined) throw new VvfError('USAGE', `${JSON.stringify(v.etag)} is not an entity-tag`);
  return tag;
}

function isStar(value: string): boolean {
  return value.replace(/^[ \t]+|[ \t]+$/g, '') === '*';
}

/** The last modification time as HTTP carries it: whole seconds since the epoch. */
function lastModifiedSeconds(v: Validators): number {
  const ms = v.lastModified.getTime();
  if (Number.isNaN(ms)) throw new VvfError('USAGE', 'lastModified is an invalid Date');
  return Math.floor(ms / 1000);
}

/** Options of {@link evaluateConditions}. */
export interface EvaluateOptions {
  /** The current time, for two-digit RFC 850 years. Default: now. */
  now?: Date;
  /**
   * How If-Modified-Since compares: `exact` (default, nginx's `if_modified_since exact`)
   * answers 304 only when the date equals Last-Modified; `before` answers 304 when
   * Last-Modified is not later than the date, as RFC 9110 §13.1.3 describes. `exact` is
   * safer for vvf, whose Last-Modified comes from sources and can go backwards when a
   * source is replaced by an older file; the RFC allows servers to honour only exact matches.
   */
  modifiedSince?: 'exact' | 'before';
}

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order
 * of RFC 9110 §13.2.2 for a representation that exists:
 * 1. If-Match (`*` or a strong match in the list; a malformed list never matches) false → 412.
 * 2. Without If-Match, If-Unmodified-Since false (modified after the date) → 412.
 * 3. If-None-Match (`*`, or a weak match in the list) matching → 304 for GET/HEAD, else 412.
 *    A malformed list matches nothing.
 * 4. Without If-None-Match, for GET/HEAD, If-Modified-Since: not modified (see
 *    {@link EvaluateOptions.modifiedSince}) → 304.
 *
 * Dates that are not a valid HTTP-date in one of the three forms are ignored, as the RFC
 * requires (nginx answers 412 to a malformed If-Unmodified-Since). If-Range is step 5: see
 * {@link ifRangeAllows}.
 */
export function evaluateConditions(
  req: RequestConditions,
  v: Validators,
  opts: EvaluateOptions = {},
): 'proceed' | 'not-modified' | 'precondition-failed' {
  const now = opts.now ?? new Date();
  const lm = lastModifiedSeconds(v);
  const getOrHead = req.method === 'GET' || req.method === 'HEAD';

  if (req.ifMatch !== undefined) {
    if (!isStar(req.ifMatch)) {
      const current = currentTag(v);
      const tags = parseEntityTagList(req.ifMatch);
      if (tags === undefined || !tags.some((t) => strongMatch(t, current))) return 'precondition-failed';
    }
  } else if (req.ifUnmodifiedSince !== undefined) {
    const date = parseHttpDate(req.ifUnmodifiedSince, now);
    if (date !== undefined && lm > date.getTime() / 1000) return 'precondition-failed';
  }

  if (req.ifNoneMatch !== undefined) {
    let matches: boolean;
    if (isStar(req.ifNoneMatch)) {
      matches = true;
    } else {
      const current = currentTag(v);
      const tags = parseEntityTagList(req.ifNoneMatch);
      matches = tags?.some((t) => weakMatch(t, current)) === true;
    }
    if (matches) return getOrHead ? 'not-modified' : 'precondition-failed';
  } else if (getOrHead && req.ifModifiedSince !== undefined) {
    const date = parseHttpDate(req.ifModifiedSince, now);
    if (date !== undefined) {
      const since = date.getTime() / 1000;
      if (opts.modifiedSince === 'before' ? lm <= since : lm === since) return 'not-modified';
    }
  }

  return 'proceed';
}

/**
 * Whether to honour the Range header given If-Range (RFC 9110 §13.1.5); false means serve
 * the whole representation with 200. True when If-Range is absent.
 *
 * - An entity-tag (the value starts with `"` or `W/"`) must match the current one strongly;
 *   a weak tag never does.
 * - Otherwise the value must be an HTTP-date equal to Last-Modified (to the second), and that
 *   date must be a strong validator: the second it names must be over at `opts.now` (default:
 *   the current time). Within that
 *   second the representation could still change again under the same date (the one-second
 *   rule of RFC 9110 §8.8.2.2), so a date equal to a Last-Modified in the current second
 *   does not count. A single timestamp cannot rule out an earlier change within the same
 *   second; that is why clients should send the ETag, which vvf always provides.
 * - Anything else (a malformed tag or date, a list) → false.
 */
export function ifRangeAllows(ifRange: string | undefined, v: Validators, opts: { now?: Date } = {}): boolean {
  if (ifRange === undefined) return true;
  const now = opts.now ?? new Date();
  const value = ifRange.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value.startsWith('"') || value.startsWith('W/"')) {
    const tag = parseEntityTag(value);
    return tag !== undefined && strongMatch(tag, currentTag(v));
  }
  const date = parseHttpDate(value, now);
  if (date === undefined) return false;
  const lm = lastModifiedSeconds(v);
  return date.getTime() / 1000 === lm && now.getTime() >= (lm + 1) * 1000;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAY_NAMES_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Formats a date as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), dropping milliseconds.
 * Years outside 0–9999 cannot be written in that form and are refused.
 */
export function httpDate(d: Date): string {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new VvfError('USAGE', 'cannot format an invalid Date as an HTTP date');
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new VvfError('USAGE', `year ${year} does not fit an HTTP date`);
  return (
    `${DAY_NAMES[d.getUTCDay()]}, ${pad(d.getUTCDate(), 2)} ${MONTHS[d.getUTCMonth()]} ${pad(year, 4)} ` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)} GMT`
  );
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ${MONTH} ([0-9]{4}) ${TIME} GMT$`);
/** Obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^(?:${DAY_NAMES_LONG.join('|')}), ([0-9]{2})-${MONTH}-([0-9]{2}) ${TIME} GMT$`);
/** Obsolete asctime form: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([0-9]{2}| [0-9]) ${TIME} ([0-9]{4})$`);

/**
 * Parses an HTTP-date in any of the three forms of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850,
 * asctime), exactly as the grammar spells them (case-sensitive names, GMT, nothing but
 * whitespace around); undefined for anything else, including impossible dates such as 31 Feb. A
 * two-digit RFC 850 year more than 50 years after `now` is taken as the previous century.
 * The day name is not checked against the date.
 */
export function parseHttpDate(field: string, now: Date = new Date()): Date | undefined {
  const value = field.replace(/^[ \t]+|[ \t]+$/g, '');
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) return build(Number(m[3]), m[2], Number(m[1]), m[4], m[5], m[6]);
  m = RFC850_DATE.exec(value);
  if (m !== null) {
    const yy = Number(m[3]);
    const current = now.getUTCFullYear();
    let year = current - (current % 100) + yy;
    if (year > current + 50) year -= 100;
    return build(year, m[2], Number(m[1]), m[4], m[5], m[6]);
  }
  m = ASCTIME_DATE.exec(value);
  if (m !== null) return build(Number(m[6]), m[1], Number(m[2]!.trim()), m[3], m[4], m[5]);
  return undefined;
}

function build(
  year: number,
  monthName: string | undefined,
  day: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): Date | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const h = Number(hh);
  const min = Number(mm);
  const s = Number(ss);
  // Seconds may be 60 (a leap second, RFC 5322 §3.3): it is carried into the next minute.
  if (month < 0 || h > 23 || min > 59 || s > 60) return undefined;
  const d = new Date(0);
  d.setUTCFullYear(year, month, day); // not Date.UTC, which maps years 0–99 to 1900–1999
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month || d.getUTCDate() !== day) return undefined; // 30 Feb, day 0
  d.setUTCSeconds(h * 3600 + min * 60 + s);
  return d;
}
