import { createHmac, timingSafeEqual } from 'node:crypto';
import { isPresentation, parseRecipe, type Recipe } from '../compose/recipe.js';
import { VvfError } from '../errors.js';

/**
 * Stateless URLs: the recipe travels in the path with an HMAC-SHA256 over it (and an
 * optional expiry), so any instance that shares the key serves it without a lookup.
 * Path form: `/s/<payload>.<signature>.mp4`, both base64url; the payload is JSON
 * `{ "r": recipe, "e": expiry in Unix seconds }`. A fragmented presentation's recipe signs a
 * directory, `/s/<payload>.<signature>/`: its manifests and segments are named under it
 * (the signature covers them all, since manifests name their parts relative to themselves).
 */
export function signRecipe(recipe: Recipe, key: string, opts: { expiresAt?: number } = {}): string {
  const payload = Buffer.from(
    JSON.stringify({ r: recipe, ...(opts.expiresAt !== undefined ? { e: Math.floor(opts.expiresAt) } : {}) }),
  ).toString('base64url');
  return `/s/${payload}.${signature(payload, key)}${isPresentation(recipe) ? '/' : '.mp4'}`;
}

function signature(payload: string, key: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

const SIGNED_PATH = /^\/s\/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})(?:\.mp4|\/(.+))$/;

export function isSignedPath(path: string): boolean {
  return path.startsWith('/s/');
}

/**
 * The recipe of a signed path, if the signature is right and it has not expired;
 * otherwise SOURCE_FORBIDDEN (the server answers 403). The signature is checked before
 * anything of the payload is parsed.
 */
export function verifySignedPath(path: string, key: string, now = Date.now()): Recipe {
  return verifySigned(path, key, now).recipe;
}

/**
 * The recipe of a signed path, as {@link verifySignedPath}, and what the path names under a
 * signed presentation's directory (`manifest.mpd`, `v1/3.m4s`; undefined for a `.mp4` path).
 */
export function verifySigned(path: string, key: string, now = Date.now()): { recipe: Recipe; part?: string } {
  const m = SIGNED_PATH.exec(path);
  if (!m) throw new VvfError('SOURCE_FORBIDDEN', 'malformed signed URL');
  const [, payload, sig, part] = m as unknown as [string, string, string, string | undefined];
  const expected = Buffer.from(signature(payload, key), 'base64url');
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new VvfError('SOURCE_FORBIDDEN', 'bad signature');
  let body: { r?: unknown; e?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { r?: unknown; e?: unknown };
  } catch {
    throw new VvfError('SOURCE_FORBIDDEN', 'malformed signed URL');
  }
  if (body.e !== undefined && (typeof body.e !== 'number' || body.e * 1000 <= now))
    throw new VvfError('SOURCE_FORBIDDEN', 'signed URL expired');
  const recipe = parseRecipe(body.r);
  return part === undefined ? { recipe } : { recipe, part };
}
