// Opens sources only from configured local roots and allowed HTTP(S) origins.
import { constants } from 'node:fs';
import { type FileHandle, lstat, open as openFile, readlink, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VvfError } from '../errors.js';
import { FileSource } from './file-source.js';
import { HttpSource, type HttpSourceOptions } from './http-source.js';
import type { Source } from './source.js';

/** Options of {@link SourcePolicy}. */
export interface SourcePolicyOptions {
  /** Directories local sources may come from (absolute after resolution). Empty: no local files at all. */
  roots: string[];
  /**
   * Allowed HTTP(S) origins, e.g. "https://cdn.example.com" or "http://127.0.0.1:8080"
   * (scheme + host + port exactly); "*" not allowed. Empty: no URLs.
   */
  origins: string[];
  /** Passed to HttpSource (timeouts, retries). */
  http?: HttpSourceOptions;
}

/** A configured root: as given (resolved, lexical) and its real path once known. */
interface Root {
  given: string;
  real: string | undefined;
}

/** Symbolic links followed in one resolution before giving up, as the kernel does (ELOOP). */
const MAX_SYMLINKS = 40;

/**
 * Decides which paths and URLs may be opened, and opens them. Pass `(s) => policy.open(s)`
 * as `openSource` to `openMovie` or `compileRecipe`: every open, including each segment a
 * DASH manifest names, then goes through the policy, so neither a recipe nor a manifest
 * can reach a file outside the roots or a server outside the allowed origins.
 *
 * Local paths must lie inside a root, both as written (after normalizing `.` and `..`)
 * and after following symbolic links. A path outside the roots is refused without the
 * file system being touched, so the answer never tells whether it exists; symbolic links
 * are followed one component at a time and refused as soon as they lead outside, again
 * without looking at what lies there. URLs must be http: or https:, carry no user
 * information, and have exactly an allowed origin, also after redirects.
 */
export class SourcePolicy {
  private readonly roots: Root[];
  private readonly origins: ReadonlySet<string>;
  private readonly http: HttpSourceOptions | undefined;

  /** Fails with USAGE for a malformed root or origin. Roots' real paths are found on first use. */
  constructor(opts: SourcePolicyOptions) {
    this.roots = opts.roots.map((r) => {
      if (typeof r !== 'string' || r === '' || r.includes('\0')) {
        throw new VvfError('USAGE', `not a usable root directory: ${JSON.stringify(r)}`);
      }
      return { given: resolve(r), real: undefined };
    });
    this.origins = new Set(opts.origins.map(parseOrigin));
    this.http = opts.http;
  }

  /**
   * Opens a path (relative paths resolve against the first root, not the working
   * directory), a `file:` URL (checked as the path it names) or an http(s) URL, if the
   * policy allows it; else fails with SOURCE_FORBIDDEN. A missing file inside a root fails
   * with SOURCE_NOT_FOUND (a request naming nothing, answered 404), an unreadable one with
   * SOURCE_UNREACHABLE.
   */
  async open(spec: string): Promise<Source> {
    const target = await this.resolveSpec(spec);
    if (target.kind === 'url') return this.openUrl(target.url, spec);
    return this.openFile(target.path, spec);
  }

  /**
   * Checks without opening: the key {@link open} would give the source (the real path of
   * a file, the normalized URL), or throws as {@link open} would. A URL is not contacted, so
   * a redirect to a refused origin is found only by `open`.
   */
  async check(spec: string): Promise<string> {
    const target = await this.resolveSpec(spec);
    return target.kind === 'url' ? target.url.href : target.path;
  }

  private async resolveSpec(spec: string): Promise<{ kind: 'url'; url: URL } | { kind: 'file'; path: string }> {
    if (typeof spec !== 'string') throw forbidden('not a path or URL', undefined);
    // Paths with NUL are truncated by the C library; URLs cannot hold one legitimately.
    if (spec.includes('\0')) throw forbidden('NUL character in the name', redact(spec));
    // Told apart as openSource does, so that the policy checks what openSource would open.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase();
    if (scheme === 'http' || scheme === 'https') return { kind: 'url', url: this.checkUrl(spec) };
    if (scheme === 'file') return { kind: 'file', path: await this.checkPath(filePath(spec), spec) };
    if (scheme !== undefined && scheme.length > 1 && spec.slice(scheme.length + 1).startsWith('//')) {
      throw forbidden(`URL scheme ${scheme}: is not allowed`, redact(spec));
    }
    return { kind: 'file', path: await this.checkPath(spec, spec) };
  }

  private checkUrl(spec: string): URL {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw forbidden('not a valid URL', redact(spec));
    }
    if (url.username !== '' || url.password !== '') throw forbidden('URLs with user information are not allowed', redact(spec));
    if (!this.origins.has(url.origin)) throw forbidden(`origin ${url.origin} is not allowed`, url.href);
    return url;
  }

  private async openUrl(url: URL, spec: string): Promise<Source> {
    const allowRedirect = (u: URL) => u.username === '' && u.password === '' && this.origins.has(u.origin);
    const source = await HttpSource.open(url.href, { ...this.http, allowRedirect });
    // HttpSource follows redirects itself, so a target outside the allowed origins has
    // already been sent the one-byte probe; refusing here keeps any read from going there.
    let final: URL | undefined;
    try {
      final = new URL(source.url);
    } catch {
      final = undefined;
    }
    if (final === undefined || final.username !== '' || final.password !== '' || !this.origins.has(final.origin)) {
      await source.close().catch(() => undefined);
      throw forbidden(`redirected to ${final?.origin ?? 'an invalid URL'}, which is not allowed`, redact(spec));
    }
    return source;
  }

  /**
   * The real path of `path` if it lies inside a root, or throws. Outside paths are refused
   * before any file-system call; inside ones are resolved link by link.
   */
  private async checkPath(path: string, spec: string): Promise<string> {
    if (path.includes('\0')) throw forbidden('NUL character in the name', redact(spec));
    const first = this.roots[0];
    if (first === undefined) throw forbidden('local files are not allowed', spec);
    const abs = isAbsolute(path) ? resolve(path) : resolve(first.given, path);
    const roots = await this.resolvedRoots();
    // A real path is accepted too: sources are reopened by their key, which is the real path.
    if (!roots.some((r) => within(abs, r.given) || (r.real !== undefined && within(abs, r.real)))) {
      throw forbidden('path is outside the allowed roots', spec);
    }
    const real = await walk(abs, roots, spec);
    // Opening a FIFO or a device would block or read forever: only regular files are sources.
    let isFile: boolean;
    try {
      isFile = (await lstat(real)).isFile();
    } catch (e) {
      throw unreachable(spec, e);
    }
    if (!isFile) throw new VvfError('SOURCE_UNREACHABLE', 'not a regular file', { source: spec });
    return real;
  }

  private async openFile(real: string, spec: string): Promise<Source> {
    const source = await FileSource.open(real);
    try {
      // FileSource resolves the path again: a link swapped in since the check shows here.
      if (source.key !== real) throw forbidden('the path changed while it was opened', spec);
      await this.confirmOpened(real, source.inode, spec);
    } catch (e) {
      await source.close().catch(() => undefined);
      throw e;
    }
    return source;
  }

  /**
   * Closes the race between checking a path and opening it: opens `real` once more, asks
   * the kernel which file that descriptor is (Linux /proc), and requires it to be `real`
   * and the same inode FileSource opened. A link
   * swapped in and out around FileSource's open gives a different inode.
   */
  private async confirmOpened(real: string, inode: string, spec: string): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await openFile(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      throw forbidden('the path changed while it was opened', spec);
    }
    try {
      const stats = await handle.stat({ bigint: true });
      const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
      // Without /proc, resolving once more is the best check left.
      const where = opened ?? (await walk(real, await this.resolvedRoots(), spec));
      if (where !== real || inode !== String(stats.ino)) throw forbidden('the path changed while it was opened', spec);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** The roots with their real paths; a root that cannot be resolved yet (missing) is retried next time. */
  private async resolvedRoots(): Promise<readonly Root[]> {
    await Promise.all(
      this.roots.map(async (r) => {
        if (r.real === undefined) r.real = await realpath(r.given).catch(() => undefined);
      }),
    );
    return this.roots;
  }
}

/** `https://host:port` as URL.origin spells it (default port dropped, host lowercased). */
function parseOrigin(origin: string): string {
  if (typeof origin !== 'string' || origin.includes('*')) {
    throw new VvfError('USAGE', `not an origin: ${JSON.stringify(origin)} (wildcards are not supported)`);
  }
  let url: URL;
  try {
    url = new URL(origin);
  } catch (e) {
    throw new VvfError('USAGE', `not an origin: ${JSON.stringify(origin)}`, {}, { cause: e });
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new VvfError('USAGE', `not an http(s) origin (scheme, host and port only): ${JSON.stringify(origin)}`);
  }
  return url.origin;
}

/** The path a `file:` URL names; `%2e%2e` segments are already resolved by the URL parser. */
function filePath(spec: string): string {
  try {
    return fileURLToPath(spec);
  } catch {
    // A host (file://server/…), an encoded slash or a malformed URL: nothing the roots can vouch for.
    throw forbidden('not a usable local file URL', redact(spec));
  }
}

/**
 * Resolves `abs` (absolute, normalized, lexically inside a root) the way the kernel would,
 * one component at a time, and returns its real path. Only paths inside a root's real path
 * are looked at; outside them the walk may only pass down through a root's own ancestors,
 * so a link that leads anywhere else is refused without touching what it points to.
 */
async function walk(abs: string, roots: readonly Root[], spec: string): Promise<string> {
  const reals = roots.flatMap((r) => (r.real === undefined ? [] : [r.real]));
  const known = roots.flatMap((r) => (r.real === undefined ? [r.given] : [r.given, r.real]));
  // A stack of the components still to resolve, the next one last.
  const todo = abs.split(sep).reverse();
  let at: string = sep;
  let links = 0;
  for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      at = dirname(at);
      continue;
    }
    const next = join(at, part);
    if (!reals.some((r) => within(next, r))) {
      // A root as configured stands for its real path, which may lie elsewhere.
      const root = roots.find((r) => r.given === next);
      if (root !== undefined && root.real === undefined)
        throw new VvfError('SOURCE_UNREACHABLE', 'cannot open file: the root does not exist', { source: spec });
      if (root?.real !== undefined) at = root.real;
      else if (known.some((k) => within(k, next))) at = next;
      else throw forbidden('path is outside the allowed roots', spec);
      continue;
    }
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch (e) {
      throw unreachable(spec, e);
    }
    if (!isLink) {
      at = next;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw unreachable(spec, new Error('ELOOP: too many symbolic links'));
    let target: string;
    try {
      target = await readlink(next);
    } catch (e) {
      throw unreachable(spec, e);
    }
    if (isAbsolute(target)) at = sep;
    todo.push(...target.split(sep).reverse());
  }
  if (!reals.some((r) => within(at, r))) throw forbidden('path is outside the allowed roots', spec);
  return at;
}

/** Whether `path` is `dir` or inside it (`/data2` is not inside `/data`). */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** The spec without user information, so that no password reaches an error message or a log. */
function redact(spec: string): string {
  let out = spec;
  try {
    const url = new URL(spec);
    if (url.username !== '' || url.password !== '') {
      url.username = '';
      url.password = '';
      out = url.href;
    }
  } catch {
    // Not a URL: nothing to hide.
  }
  return out.replace(/\0/g, '\\0');
}

function forbidden(detail: string, source: string | undefined): VvfError {
  return new VvfError('SOURCE_FORBIDDEN', detail, source === undefined ? {} : { source });
}

function unreachable(spec: string, e: unknown): VvfError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = code ?? (e instanceof Error ? e.message : String(e));
  // Nothing there (inside the roots: outside, the answer is SOURCE_FORBIDDEN whether it exists or not)
  // is the request's mistake, not a failing source.
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG')
    return new VvfError('SOURCE_NOT_FOUND', `no such file (${code})`, { source: spec }, { cause: e });
  return new VvfError('SOURCE_UNREACHABLE', `cannot open file: ${why}`, { source: spec }, { cause: e });
}
