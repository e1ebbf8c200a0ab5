import { createHmac, timingSafeEqual } from 'node:crypto';
import { VvfError } from '../errors.js';

/**
 * Authenticated uploads of encoded outputs to a coordinator (`PUT /upload/<path>`), shared by
 * the encode face (a worker signs) and the server face (the route verifies). The key never
 * travels: a request carries an HMAC-SHA256, under the shared key, of its method, path,
 * size, SHA-256 and expiry, so a signature lets exactly those bytes be written at that path
 * until then, and nothing else. The server still checks the body's size and hash.
 */
export const UPLOAD_ROUTE = '/upload/';

/** The request headers of an upload, besides Content-Length (the size). */
export const UPLOAD_HEADERS = {
  sha256: 'x-vvf-sha256',
  expires: 'x-vvf-expires',
  /** `Authorization: VVF-HMAC-SHA256 <base64url signature>`. */
  authorization: 'authorization',
} as const;

const SCHEME = 'VVF-HMAC-SHA256';

/** What an upload signature covers. `path` is the request path from the route on (`/upload/…`), percent-encoded as sent. */
export interface UploadClaim {
  path: string;
  size: number;
  sha256: string;
  /** Unix seconds after which the signature is refused. */
  expires: number;
}

function mac(key: string, c: UploadClaim): Buffer {
  return createHmac('sha256', key).update(`PUT\n${c.path}\n${c.size}\n${c.sha256}\n${c.expires}`).digest();
}

/** The headers that authorize an upload (Content-Length is the caller's: the size). */
export function uploadHeaders(key: string, c: UploadClaim): Record<string, string> {
  return {
    [UPLOAD_HEADERS.sha256]: c.sha256,
    [UPLOAD_HEADERS.expires]: String(c.expires),
    [UPLOAD_HEADERS.authorization]: `${SCHEME} ${mac(key, c).toString('base64url')}`,
  };
}

/**
 * Checks an upload's signature and expiry: UNAUTHORIZED when either is missing, wrong or past
 * (compared in constant time), USAGE when the headers are malformed.
 */
export function verifyUpload(key: string, c: UploadClaim, authorization: string | undefined, now = Date.now()): void {
  const m = /^VVF-HMAC-SHA256[ \t]+([A-Za-z0-9_-]{43})[ \t]*$/.exec(authorization ?? '');
  if (!m) throw new VvfError('UNAUTHORIZED', `an upload needs Authorization: ${SCHEME} <signature made with the shared key>`);
  if (!/^[0-9a-f]{64}$/.test(c.sha256)) throw new VvfError('USAGE', `${UPLOAD_HEADERS.sha256} must be 64 hex digits`);
  if (!Number.isSafeInteger(c.expires)) throw new VvfError('USAGE', `${UPLOAD_HEADERS.expires} must be Unix seconds`);
  const given = Buffer.from(m[1]!, 'base64url');
  const expected = mac(key, c);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new VvfError('UNAUTHORIZED', "the upload signature is not made with this coordinator's key");
  if (c.expires * 1000 <= now) throw new VvfError('UNAUTHORIZED', 'the upload signature has expired');
}
