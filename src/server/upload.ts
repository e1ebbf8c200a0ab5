// PUT /upload/<path>: encoded outputs sent back by queue workers, written under one folder once their size and checksum hold.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DoneFile } from '../catalog/encode-job.js';
import { UPLOAD_HEADERS, UPLOAD_ROUTE, verifyUpload } from '../catalog/upload-auth.js';
import { VvfError } from '../errors.js';

/**
 * The upload route's settings. Only a launcher that expects uploads (the encode coordinator)
 * gives them; a server without them has no upload route at all.
 */
export interface UploadOptions {
  /** Every upload is written under this folder, nowhere else. */
  dir: string;
  /** The shared key uploads are signed with. */
  key: string;
  /** Whether `path` (relative to `dir`, `/`-separated) may be written now; anything else is refused (403). */
  accept(path: string): boolean;
  /** Told once a verified upload is in place under its name. */
  uploaded?(path: string, file: DoneFile): void;
  /** Largest upload accepted, bytes (default 64 GiB). */
  maxBytes?: number;
}

/** A path segment: no separators, no `.` or `..`, nothing a shell or a URL treats specially. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The relative path an upload URL names, checked segment by segment (USAGE otherwise). */
export function uploadPath(urlPath: string): string {
  let rest: string;
  try {
    rest = decodeURIComponent(urlPath.slice(UPLOAD_ROUTE.length));
  } catch {
    throw new VvfError('USAGE', 'malformed percent-encoding in the path');
  }
  const segments = rest.split('/');
  if (segments.length === 0 || segments.length > 8 || !segments.every((s) => SEGMENT.test(s) && s.length <= 128))
    throw new VvfError('USAGE', `${UPLOAD_ROUTE}${rest} is not a path of an output`);
  return segments.join('/');
}

/**
 * Answers an upload: the signature (method, path, size, checksum, expiry under the shared
 * key) first, then whether the path is expected, then the body, streamed into a new file of
 * its own beside the target (`O_EXCL`) while it is hashed; only when its size and SHA-256
 * are the declared ones is it renamed over the target. Anything else leaves no file behind.
 */
export async function handleUpload(
  req: IncomingMessage,
  res: ServerResponse,
  urlPath: string,
  opts: UploadOptions,
): Promise<void> {
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined || !/^\d{1,15}$/.test(lengthHeader))
    throw new VvfError('USAGE', 'an upload needs Content-Length (its exact size)');
  const size = Number(lengthHeader);
  const sha256 = String(req.headers[UPLOAD_HEADERS.sha256] ?? '');
  const expires = Number(req.headers[UPLOAD_HEADERS.expires] ?? Number.NaN);
  res.setHeader('www-authenticate', 'VVF-HMAC-SHA256 realm="vvf upload"');
  verifyUpload(opts.key, { path: urlPath, size, sha256, expires }, req.headers.authorization);
  res.removeHeader('www-authenticate');
  const path = uploadPath(urlPath);
  const root = resolve(opts.dir);
  const target = resolve(root, ...path.split('/'));
  // The segments cannot climb, but say so where it matters: nothing is written outside the folder.
  if (!target.startsWith(root + sep) || relative(root, target).split(sep).join('/') !== path)
    throw new VvfError('FORBIDDEN', `${path} is outside the upload folder`);
  if (!opts.accept(path)) throw new VvfError('FORBIDDEN', `no upload of ${path} is expected now`);
  if (size > (opts.maxBytes ?? 64 * 2 ** 30)) throw new VvfError('USAGE', `an upload of ${size} bytes is larger than allowed`);

  await mkdir(join(target, '..'), { recursive: true });
  // `.partial`: a coordinator that starts again removes what a crash left of an upload.
  const temp = `${target}.${randomBytes(6).toString('hex')}.upload.partial`;
  const hash = createHash('sha256');
  let received = 0;
  // Opened before any byte is read, so that a failure always finds the file it must remove.
  const file = await open(temp, 'wx', 0o644).catch((e: NodeJS.ErrnoException) => {
    throw new VvfError('OUTPUT_UNWRITABLE', `${path}: ${e.code ?? e.message}`);
  });
  try {
    await pipeline(
      req,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          received += chunk.length;
          // More than declared cannot come through Node's parser; stop early all the same.
          if (received > size) throw new VvfError('UPLOAD_MISMATCH', `${path}: more than the ${size} bytes declared`);
          hash.update(chunk);
          yield chunk;
        }
      },
      file.createWriteStream(),
    );
    const digest = hash.digest('hex');
    if (received !== size) throw new VvfError('UPLOAD_MISMATCH', `${path}: ${received} bytes received, ${size} declared`);
    if (digest !== sha256) throw new VvfError('UPLOAD_MISMATCH', `${path}: SHA-256 ${digest}, ${sha256} declared`);
    await rename(temp, target);
  } catch (e) {
    await file.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    if (e instanceof VvfError) throw e;
    if (req.readableAborted || req.destroyed)
      throw new VvfError('CLIENT_GONE', `${path}: the upload stopped after ${received} bytes`);
    throw new VvfError('OUTPUT_UNWRITABLE', `${path}: ${(e as Error).message}`, {}, { cause: e });
  }
  opts.uploaded?.(path, { size, sha256 });
  const body = `${JSON.stringify({ path, size, sha256 })}\n`;
  res.writeHead(201, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
