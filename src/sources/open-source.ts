// Opens the right Source for a path or URL.
import { fileURLToPath } from 'node:url';
import { VvfError } from '../errors.js';
import { FileSource, type FileSourceOptions } from './file-source.js';
import { HttpSource, type HttpSourceOptions } from './http-source.js';
import type { Source } from './source.js';

/** Options of {@link openSource}: those of the file and HTTP sources together. */
export interface OpenSourceOptions extends FileSourceOptions, HttpSourceOptions {}

/**
 * Opens `spec` as a Source: an `http:` or `https:` URL gives an {@link HttpSource}; a
 * `file:` URL or a plain path (absolute or relative to the working directory) gives a
 * {@link FileSource}. Any other URL scheme fails with USAGE.
 */
export async function openSource(spec: string, opts?: OpenSourceOptions): Promise<Source> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return HttpSource.open(spec, opts);
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(spec);
    } catch (e) {
      throw new VvfError('USAGE', `not a usable file URL: ${spec}`, { source: spec }, { cause: e });
    }
    return FileSource.open(path, opts);
  }
  // `c:\video.mp4` style paths have a one-letter "scheme"; anything longer with `//` is a URL we cannot read.
  if (scheme !== undefined && scheme.length > 1 && spec.slice(scheme.length + 1).startsWith('//')) {
    throw new VvfError('USAGE', `unsupported URL scheme ${scheme}: (use a path, file:, http: or https:)`, { source: spec });
  }
  return FileSource.open(spec, opts);
}
