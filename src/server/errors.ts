import type { ServerResponse } from 'node:http';
import { type ErrorCode, VvfError } from '../errors.js';
import { displayName } from '../sources/display-name.js';

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

/** The error each failed response was answered with (or cut for), for the request log. */
export const responseErrors = new WeakMap<ServerResponse, unknown>();

/**
 * The message a client sees: sources by their display names (the last folder and file
 * name, a URL without its query), not the server's absolute paths; the log has those.
 */
function publicMessage(e: VvfError): string {
  const at: string[] = [];
  if (e.path !== undefined) at.push(`box ${e.path}`);
  if (e.offset !== undefined) at.push(`offset ${e.offset}`);
  let detail = e.detail;
  if (e.source !== undefined) {
    const shown = displayName(e.source);
    detail = detail.split(e.source).join(shown);
    at.push(`in ${shown}`);
  }
  return `${e.code}: ${detail}${at.length > 0 ? ` [${at.join(', ')}]` : ''}`;
}

/**
 * Answers an error as JSON, if nothing has been sent yet; otherwise cuts the connection.
 * The body names sources by display name only.
 */
export function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    responseErrors.set(res, e);
    // A client must never take a cut-short body for a whole one.
    res.destroy(e instanceof Error ? e : undefined);
    return;
  }
  responseErrors.set(res, e);
  const status = statusFor(e);
  const body =
    e instanceof VvfError
      ? { error: e.code, message: publicMessage(e), ...(e.source !== undefined ? { source: displayName(e.source) } : {}) }
      : { error: 'INTERNAL', message: 'internal error' };
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
