/**
 * The one error type of vvf. Every failure the library reports carries a stable string
 * `code`; faces (CLI, server, FUSE) map codes to exit statuses, HTTP statuses or errno.
 */

/** Stable error codes. Add new codes here, never reuse one for a different meaning. */
export const ErrorCodes = {
  /** A box (or a field read inside one) runs past the bytes that hold it. */
  BOX_OVERRUN: 'invalid MP4: data runs past the end of its box',
  /** A box header is malformed (size smaller than the header, bad type, …). */
  BOX_INVALID: 'invalid MP4: malformed box',
  /** A box the model needs is missing. */
  BOX_MISSING: 'invalid MP4: a required box is missing',
  /** Fields of boxes contradict each other (sample counts, offsets past the source, …). */
  MEDIA_INCONSISTENT: 'invalid MP4: sample tables contradict each other',
  /** A 64-bit number in the input does not fit in a JS number exactly (2^53). */
  NUMBER_TOO_LARGE: 'a 64-bit value exceeds 2^53',
  /** More samples than the configured limit. */
  SAMPLE_LIMIT: 'too many samples',
  /** More metadata bytes than the configured limit. */
  METADATA_LIMIT: 'too much metadata',
  /** More boxes, fragments or nesting than the configured limit. */
  STRUCTURE_LIMIT: 'too many boxes or too deep nesting',
  /** The input uses something vvf does not support (encryption, …). */
  UNSUPPORTED: 'not supported',
  /** The input is not an MP4 / MPD at all. */
  UNKNOWN_FORMAT: 'unknown input format',
  /** A DASH MPD or an HLS playlist is malformed or refers to something that does not exist. */
  MANIFEST_INVALID: 'invalid manifest (DASH MPD or HLS playlist)',
  /** A source's validator (size+mtime, ETag) no longer matches what was seen before. */
  SOURCE_CHANGED: 'source changed',
  /** A source could not be reached (connection refused, unreadable file, …). */
  SOURCE_UNREACHABLE: 'source unreachable',
  /** A local file a recipe or manifest names does not exist (inside the allowed roots). */
  SOURCE_NOT_FOUND: 'source file not found',
  /** A source did not answer in time (no response, or a body that stalled). */
  SOURCE_TIMEOUT: 'source timed out',
  /** A source answered, but not as expected (HTTP status, short read). */
  SOURCE_BAD_RESPONSE: 'source gave a bad response',
  /** A read was asked outside the source. */
  SOURCE_RANGE: 'read outside the source',
  /** The configured roots or origins do not allow this path or URL. */
  SOURCE_FORBIDDEN: 'source not allowed by the configured roots or origins',
  /** Compiling a recipe took longer than the configured bound (its worker was stopped). */
  COMPILE_TIMEOUT: 'compiling took too long',
  /** The client went away, or stopped reading for longer than the send timeout, mid-response. */
  CLIENT_GONE: 'the client went away or stopped reading',
  /** The metadata store (SQLite, Redis) cannot be reached or failed: not a problem of any source. */
  STORE_UNAVAILABLE: 'metadata store unavailable',
  /** A write (register, delete) without the admin token it needs. */
  UNAUTHORIZED: 'credentials required',
  /** A write from a client that may not write (no admin token configured, and not a loopback client). */
  FORBIDDEN: 'not allowed',
  /** No virtual file, or nothing at all, by that id or name. */
  NOT_FOUND: 'not found',
  /** An output file cannot be written (missing folder, no permission, disk full). */
  OUTPUT_UNWRITABLE: 'cannot write the output',
  /** An encoder process failed every attempt at a task of an encode job. */
  ENCODE_FAILED: 'encoding failed',
  /** An encoded output failed a check before publishing (frame count, timestamps, sync, decoding, alignment). */
  ENCODE_CHECK_FAILED: 'an encoded output failed its checks',
  /** An uploaded output is not what its upload declared (size or SHA-256): nothing of it is kept. */
  UPLOAD_MISMATCH: 'an upload does not match its declared size or checksum',
  /** Command-line or API usage error. */
  USAGE: 'usage error',
  /** An internal invariant failed: a bug in vvf. */
  BUG: 'internal error',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/**
 * What kind of failure a code is, for faces to map to their own vocabulary (HTTP status,
 * exit status, errno) in one small table each, and for callers deciding whether to retry.
 */
export type ErrorKind =
  /** The request or the input is wrong: retrying the same thing fails the same way. */
  | 'bad-input'
  /** What was asked for does not exist. */
  | 'not-found'
  /** The configured policy does not allow it. */
  | 'forbidden'
  /** A source (or the store) failed to give what it should. */
  | 'source-failed'
  /** Something did not answer in time. */
  | 'timeout'
  /** A dependency is down or a limit of this instance is reached: try again later. */
  | 'busy'
  /** The other side went away: nobody is left to answer. */
  | 'cancelled'
  /** A bug in vvf. */
  | 'bug';

const KINDS: Record<ErrorCode, { kind: ErrorKind; retryable: boolean }> = {
  BOX_OVERRUN: { kind: 'bad-input', retryable: false },
  BOX_INVALID: { kind: 'bad-input', retryable: false },
  BOX_MISSING: { kind: 'bad-input', retryable: false },
  MEDIA_INCONSISTENT: { kind: 'bad-input', retryable: false },
  NUMBER_TOO_LARGE: { kind: 'bad-input', retryable: false },
  SAMPLE_LIMIT: { kind: 'bad-input', retryable: false },
  METADATA_LIMIT: { kind: 'bad-input', retryable: false },
  STRUCTURE_LIMIT: { kind: 'bad-input', retryable: false },
  UNSUPPORTED: { kind: 'bad-input', retryable: false },
  UNKNOWN_FORMAT: { kind: 'bad-input', retryable: false },
  MANIFEST_INVALID: { kind: 'bad-input', retryable: false },
  USAGE: { kind: 'bad-input', retryable: false },
  // A changed source is compiled again on a later request: worth retrying.
  SOURCE_CHANGED: { kind: 'source-failed', retryable: true },
  SOURCE_UNREACHABLE: { kind: 'source-failed', retryable: true },
  // The request names what is not there: the client's mistake, not a failing source.
  SOURCE_NOT_FOUND: { kind: 'not-found', retryable: false },
  SOURCE_BAD_RESPONSE: { kind: 'source-failed', retryable: true },
  SOURCE_RANGE: { kind: 'source-failed', retryable: false },
  SOURCE_TIMEOUT: { kind: 'timeout', retryable: true },
  // The same recipe takes as long next time, unless what slowed it was a source.
  COMPILE_TIMEOUT: { kind: 'timeout', retryable: false },
  SOURCE_FORBIDDEN: { kind: 'forbidden', retryable: false },
  STORE_UNAVAILABLE: { kind: 'busy', retryable: true },
  NOT_FOUND: { kind: 'not-found', retryable: false },
  OUTPUT_UNWRITABLE: { kind: 'bad-input', retryable: false },
  ENCODE_FAILED: { kind: 'source-failed', retryable: true },
  ENCODE_CHECK_FAILED: { kind: 'source-failed', retryable: false },
  // Bytes lost or changed on the way: sending them again may work.
  UPLOAD_MISMATCH: { kind: 'bad-input', retryable: true },
  UNAUTHORIZED: { kind: 'forbidden', retryable: false },
  FORBIDDEN: { kind: 'forbidden', retryable: false },
  CLIENT_GONE: { kind: 'cancelled', retryable: false },
  BUG: { kind: 'bug', retryable: false },
};

/** The kind of an error code. */
export function kindOf(code: ErrorCode): ErrorKind {
  return KINDS[code].kind;
}

/** The kind of anything thrown: errors that are not VvfErrors are bugs. */
export function errorKind(e: unknown): ErrorKind {
  return e instanceof VvfError ? e.kind : 'bug';
}

/** Where in the input a problem was found. */
export interface ErrorLocation {
  /** Source (path or URL) the bytes came from. */
  source?: string;
  /** Absolute byte offset in the source. */
  offset?: number;
  /** Box path such as `moov/trak[1]/mdia/minf/stbl/stsz`. */
  path?: string;
}

export class VvfError extends Error {
  readonly code: ErrorCode;
  readonly source: string | undefined;
  readonly offset: number | undefined;
  readonly path: string | undefined;
  /** The message without the code and location. */
  readonly detail: string;

  /** What kind of failure this is (see {@link ErrorKind}). */
  get kind(): ErrorKind {
    return KINDS[this.code].kind;
  }

  /** Whether the same request may succeed later. */
  get retryable(): boolean {
    return KINDS[this.code].retryable;
  }

  constructor(code: ErrorCode, detail: string, where: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(formatMessage(code, detail, where), options);
    this.name = 'VvfError';
    this.code = code;
    this.detail = capText(detail);
    this.source = where.source;
    this.offset = where.offset;
    this.path = where.path;
  }

  /** A copy of this error with location fields filled in where they were missing. */
  locate(where: ErrorLocation): VvfError {
    const merged: ErrorLocation = {
      source: this.source ?? where.source,
      offset: this.offset ?? where.offset,
      path: this.path ?? where.path,
    };
    return new VvfError(this.code, this.detail, merged, { cause: this.cause });
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      source: this.source === undefined ? undefined : capText(this.source),
      offset: this.offset,
      path: this.path === undefined ? undefined : capText(this.path),
    };
  }
}

/** Longest detail or location kept in a message: input-chosen text (a 100 KB attribute) must not make a 200 KB log line. */
export const MAX_MESSAGE_PART = 500;

/** `text` cut to `max` characters, saying how much was left out. */
export function capText(text: string, max = MAX_MESSAGE_PART): string {
  // The slack leaves a text cut once (its suffix included) as it is when it is capped again.
  return text.length <= max + CUT_SLACK ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

const CUT_SLACK = 40;

function formatMessage(code: ErrorCode, detail: string, where: ErrorLocation): string {
  const at: string[] = [];
  if (where.path !== undefined) at.push(`box ${capText(where.path)}`);
  if (where.offset !== undefined) at.push(`offset ${where.offset}`);
  if (where.source !== undefined) at.push(`in ${capText(where.source)}`);
  return `${code}: ${capText(detail)}${at.length > 0 ? ` [${at.join(', ')}]` : ''}`;
}

/** Internal invariant: a failure is a bug in vvf, not bad input. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new VvfError('BUG', `assertion failed: ${what}`);
}

export function isVvfError(e: unknown): e is VvfError {
  return e instanceof VvfError;
}
