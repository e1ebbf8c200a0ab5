import type { ServerResponse } from 'node:http';
import { capText, type ErrorKind, errorKind, VvfError } from '../errors.js';
import { displayName } from '../sources/display-name.js';

/** HTTP status of each kind of error: the face decides, the library only names the problem. */
const STATUS: Record<ErrorKind, number> = {
  'bad-input': 422,
  'not-found': 404,
  forbidden: 403,
  'source-failed': 502,
  timeout: 504,
  busy: 503,
  cancelled: 499,
  bug: 500,
};

/** HTTP status for an error: by its kind; a malformed request itself is 400. */
export function statusFor(e: unknown): number {
  if (e instanceof VvfError && e.code === 'USAGE') return 400;
  // Credentials missing or wrong: 401 with a challenge (RFC 9110 §15.5.2), unlike a refusal whatever the credentials (403).
  if (e instanceof VvfError && e.code === 'UNAUTHORIZED') return 401;
  return STATUS[errorKind(e)];
}

/** The error each failed response was answered with (or cut for), for the request log. */
export const responseErrors = new WeakMap<ServerResponse, unknown>();

/**
 * Per response, how server paths are shown to its client (relative to their root); set by
 * the app for every request, so that errors sent from deeper (serving a file) hide them too.
 */
export const responsePaths = new WeakMap<ServerResponse, (text: string) => string>();

/**
 * The message a client sees: sources by their display names (the last folder and file
 * name, a URL without its query), not the server's absolute paths; the log has those.
 */
function publicMessage(e: VvfError, hide: (text: string) => string): string {
  // An outage of the store is not the client's business beyond "try again": its host stays in the log.
  if (e.code === 'STORE_UNAVAILABLE') return `${e.code}: the metadata store is unavailable; try again later`;
  const at: string[] = [];
  if (e.path !== undefined) at.push(`box ${e.path}`);
  if (e.offset !== undefined) at.push(`offset ${e.offset}`);
  let detail = e.detail;
  if (e.source !== undefined) {
    const shown = capText(displayName(e.source));
    detail = detail.split(e.source).join(shown);
    at.push(`in ${shown}`);
  }
  return hide(`${e.code}: ${detail}${at.length > 0 ? ` [${at.join(', ')}]` : ''}`);
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
  const hide = responsePaths.get(res) ?? ((t: string) => t);
  const shownSource = e instanceof VvfError && e.source !== undefined && e.code !== 'STORE_UNAVAILABLE';
  const body =
    e instanceof VvfError
      ? {
          error: e.code,
          message: publicMessage(e, hide),
          ...(shownSource ? { source: capText(displayName(e.source!)) } : {}),
        }
      : { error: 'INTERNAL', message: 'internal error' };
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // A dependency that is down (the store): clients may come back shortly (RFC 9110 §10.2.3).
    ...(status === 503 ? { 'retry-after': '5' } : {}),
    // RFC 6750 §3: the scheme a 401 asks for (a route with another scheme set its own).
    ...(status === 401 && !res.hasHeader('www-authenticate') ? { 'www-authenticate': 'Bearer realm="vvf"' } : {}),
  });
  res.end(text);
}
