import type { ServerResponse } from 'node:http';
import { type ErrorCode, VvfError } from '../errors.js';

/** HTTP status for an error code: the face decides, the library only names the problem. */
export function statusFor(e: unknown): number {
  if (!(e instanceof VvfError)) return 500;
  const byCode: Partial<Record<ErrorCode, number>> = {
    USAGE: 400,
    SOURCE_FORBIDDEN: 403,
    SOURCE_CHANGED: 502,
    SOURCE_UNREACHABLE: 502,
    SOURCE_TIMEOUT: 504,
    SOURCE_BAD_RESPONSE: 502,
    SOURCE_RANGE: 502,
    UNSUPPORTED: 422,
    UNKNOWN_FORMAT: 422,
    BOX_OVERRUN: 422,
    BOX_INVALID: 422,
    BOX_MISSING: 422,
    MEDIA_INCONSISTENT: 422,
    MANIFEST_INVALID: 422,
    NUMBER_TOO_LARGE: 422,
    SAMPLE_LIMIT: 422,
    METADATA_LIMIT: 422,
    STRUCTURE_LIMIT: 422,
  };
  return byCode[e.code] ?? 500;
}

/** Answers an error as JSON, if nothing has been sent yet; otherwise cuts the connection. */
export function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    // A client must never take a cut-short body for a whole one.
    res.destroy(e instanceof Error ? e : undefined);
    return;
  }
  const status = statusFor(e);
  const body =
    e instanceof VvfError
      ? { error: e.code, message: e.message, ...(e.source !== undefined ? { source: e.source } : {}) }
      : { error: 'INTERNAL', message: 'internal error' };
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
