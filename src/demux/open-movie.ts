import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VvfError } from '../errors.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { Movie } from '../model/movie.js';
import { openSource } from '../sources/open-source.js';
import type { Source } from '../sources/source.js';
import { readDashMovie } from './dash-movie.js';
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
  /** For DASH manifests: representation ids to read (default all). */
  representations?: readonly string[];
}

/** Whether `input` names a URL rather than a local path. */
export function isUrl(input: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(input);
}

/**
 * Opens any supported input as a Movie: a progressive or fragmented MP4 file, or a DASH
 * manifest (.mpd) whose segments are files or URLs. The kind is told from the content.
 */
export async function openMovie(input: string, options: OpenMovieOptions = {}): Promise<Movie> {
  const limits = resolveLimits(options.limits);
  const open = options.openSource ?? ((spec: string) => openSource(spec));
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
    if (found.kind === 'xml') {
      movie = await openManifest(source, input, limits, open, options.representations);
    } else if (found.kind === 'mp4') {
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
  const xml = new TextDecoder().decode(await source.read(0, source.size));
  await source.close();
  // Segment URLs are relative to where the manifest was actually found: its source key
  // (an absolute path for files) rather than the working directory.
  const manifestUrl = isUrl(input) ? input : pathToFileURL(isAbsolute(source.key) ? source.key : resolve(input)).href;
  const manifest = parseMpd(xml, manifestUrl, limits);
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
