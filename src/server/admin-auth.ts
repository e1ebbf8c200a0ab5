import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { VvfError } from '../errors.js';

/**
 * Who may change the catalog over HTTP (POST and DELETE /v). With a token configured, a
 * request must carry `Authorization: Bearer <token>` (RFC 6750 §2.1), compared in constant
 * time. Without one, only clients on the loopback interface may write: a server reachable
 * from the network is read-only until it is given a token. Behind a reverse proxy on the
 * same host every client looks local: configure a token there.
 */
export function checkWriteAllowed(req: IncomingMessage, token: string | undefined): void {
  if (token !== undefined && token !== '') {
    const given = bearer(req.headers.authorization);
    if (given === undefined) throw new VvfError('UNAUTHORIZED', 'this write needs Authorization: Bearer <admin token>');
    if (!sameSecret(given, token)) throw new VvfError('UNAUTHORIZED', 'the admin token is not the configured one');
    return;
  }
  if (!isLoopback(req.socket.remoteAddress))
    throw new VvfError(
      'FORBIDDEN',
      'writes are allowed from loopback clients only (no admin token is configured: VVF_ADMIN_TOKEN)',
    );
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(header ?? '');
  return m?.[1];
}

/** Equal secrets, in time that depends on neither's content nor length (both hashed to 32 bytes first). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === '::1';
}
