import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VvfError } from '../errors.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { Movie } from '../model/movie.js';
import { openSource } from '../sources/open-source.js';
import type { Source } from '../sources/source.js';
import { readDashMovie } from './dash-movie.js';
import { readHlsMovie } from './hls-movie.js';
import { parseM3u8 } from './m3u8.js';
import { readMp4Movie } from './mp4-movie.js';
import { parseMpd } from './mpd.js';
import { SNIFF_BYTES, sniffInput, unknownFormatError } from './sniff.js';

export interface OpenMovieOptions {
  limits?: Partial<Limits>;
  /**
   * Opens a source from a path or an absolute URL. Faces that restrict what may be
   * read (roots, allowlists) pass their own.
   */
  openSource?: (spec: string) => Promise<Source>;
  /** For DASH manifests: representation ids to read; for HLS playlists: rendition names (default all). */
  representations?: readonly string[];
}

/**
 * A manifest input may name one representation or rendition after a `#`: `master.m3u8#720p`,
 * `manifest.mpd#video=1`. Split only after a manifest's extension (a path or a URL's path),
 * so that other inputs keep a `#` in their names. A URL's fragment never reaches the server.
 */
export function splitManifestFragment(input: string): { input: string; rendition?: string } {
  if (isUrl(input)) {
    const hash = input.indexOf('#');
    if (hash < 0) return { input };
    let path: string;
    try {
      path = new URL(input).pathname;
    } catch {
      return { input };
    }
    const fragment = input.slice(hash + 1);
    if (!MANIFEST_PATH.test(path) || fragment === '') return { input };
    let rendition = fragment;
    try {
      rendition = decodeURIComponent(fragment);
    } catch {}
    return { input: input.slice(0, hash), rendition };
  }
  const hash = input.lastIndexOf('#');
  if (hash <= 0 || hash === input.length - 1 || !MANIFEST_PATH.test(input.slice(0, hash))) return { input };
  return { input: input.slice(0, hash), rendition: input.slice(hash + 1) };
}

const MANIFEST_PATH = /\.(mpd|m3u8|m3u)$/i;

/** Whether `input` names a URL rather than a local path. */
export function isUrl(input: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(input);
}

/**
 * Opens any supported input as a Movie: a progressive or fragmented MP4 file, a DASH
 * manifest (.mpd) or an HLS playlist (.m3u8) of fMP4 segments, whose segments are files or
 * URLs. The kind is told from the content. A manifest's `#name` suffix selects one
 * representation or rendition (see {@link splitManifestFragment}).
 */
export async function openMovie(spec: string, options: OpenMovieOptions = {}): Promise<Movie> {
  const limits = resolveLimits(options.limits);
  const open = options.openSource ?? ((s: string) => openSource(s));
  const { input, rendition } = splitManifestFragment(spec);
  let representations = options.representations;
  if (rendition !== undefined) {
    if (representations && !(representations.length === 1 && representations[0] === rendition)) {
      throw new VvfError('USAGE', `${inputName(spec)} names "${rendition.slice(0, 100)}" and the representation option another`, {
        source: input,
      });
    }
    representations = [rendition];
  }
  const source = await open(input);
  let movie: Movie;
  try {
    // Eight bytes tell an MP4 by its first box: a virtual file's header may be shorter than
    // SNIFF_BYTES, and reading past it would read its sources for nothing.
    const first = sniffInput(await source.read(0, Math.min(source.size, 8)), source.size);
    const found =
      first.kind === 'mp4' || first.kind === 'empty'
        ? first
        : sniffInput(await source.read(0, Math.min(source.size, SNIFF_BYTES)), source.size);
    if (found.kind === 'xml' || found.kind === 'hls') {
      movie = await openManifest(source, input, found.kind, limits, open, representations);
    } else if (found.kind === 'mp4') {
      if (rendition !== undefined) {
        throw new VvfError(
          'USAGE',
          `${inputName(spec)}: only a manifest has representations, and ${inputName(input)} is an MP4 file`,
          {
            source: source.key,
          },
        );
      }
      movie = await readMp4Movie(source, limits);
    } else {
      throw unknownFormatError(found, inputName(input), source.key);
    }
  } catch (e) {
    await source.close().catch(() => {});
    throw e;
  }
  return movie;
}

async function openManifest(
  source: Source,
  input: string,
  kind: 'xml' | 'hls',
  limits: Limits,
  open: (spec: string) => Promise<Source>,
  representations: readonly string[] | undefined,
): Promise<Movie> {
  if (source.size > limits.maxManifestBytes) {
    throw new VvfError(
      'METADATA_LIMIT',
      `manifest of ${source.size} bytes exceeds ${limits.maxManifestBytes} (limit maxManifestBytes)`,
      {
        source: source.key,
      },
    );
  }
  const text = new TextDecoder().decode(await source.read(0, source.size));
  await source.close();
  // Segment URLs are relative to where the manifest was actually found: its source key
  // (an absolute path for files) rather than the working directory.
  const manifestUrl = isUrl(input) ? input : pathToFileURL(isAbsolute(source.key) ? source.key : resolve(input)).href;
  const openUrl = (url: string) => {
    if (!url.startsWith('file:')) return open(url);
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (e) {
      throw new VvfError('MANIFEST_INVALID', `unusable file URL ${url}`, { source: source.key }, { cause: e });
    }
    return open(path);
  };
  if (kind === 'hls') {
    // One budget for the multivariant playlist and every media playlist it names.
    const budget = { entries: 0 };
    const playlist = parseM3u8(text, manifestUrl, limits, budget);
    return readHlsMovie(playlist, input, {
      limits,
      open: openUrl,
      budget,
      inputName: inputName(input),
      ...(representations ? { renditions: representations } : {}),
    });
  }
  const manifest = parseMpd(text, manifestUrl, limits);
  const opts = { limits, open: openUrl, ...(representations ? { representations } : {}) };
  return readDashMovie(manifest, input, opts);
}

/** How an error names an input: its file name (a URL's without the query), never a full path. */
function inputName(input: string): string {
  let path = input;
  if (isUrl(input)) {
    try {
      path = new URL(input).pathname;
    } catch {}
  }
  return basename(path) || input;
}
