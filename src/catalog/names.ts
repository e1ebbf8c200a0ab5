import type { Recipe } from '../compose/recipe.js';
import { splitManifestFragment } from '../demux/open-movie.js';

const MAX_NAME = 100;

/**
 * A name a person recognises a virtual file by, for listings and the mount's file names:
 * the recipe's `name`, else the first source's file name without its extension (a manifest: its folder too, since
 * manifests are often all called `manifest.mpd`), the clip when there is one, and how
 * many pieces follow. Not unique: faces that need unique names add to it.
 */
export function readableName(recipe: Recipe): string {
  if (recipe.name !== undefined) return safeName(recipe.name);
  const first = recipe.pieces[0];
  const source = first?.tracks[0]?.source ?? 'virtual';
  // `master.m3u8#720p`: the video's name, then the rendition.
  const { input, rendition } = splitManifestFragment(source);
  let name = baseName(input);
  if (rendition !== undefined) name += `.${rendition}`;
  if (first?.start !== undefined || first?.end !== undefined) name += `.${first.start ?? 0}-${first.end ?? 'end'}`;
  if (recipe.pieces.length > 1) name += `+${recipe.pieces.length - 1}`;
  return safeName(name);
}

function baseName(source: string): string {
  let path = source;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    try {
      path = decodeURIComponent(new URL(source).pathname);
    } catch {
      path = source.replace(/[?#].*$/s, '');
    }
  }
  const parts = path.split(/[\\/]/).filter((p) => p !== '');
  const file = parts.at(-1) ?? 'virtual';
  const stem = file.replace(/\.[A-Za-z0-9]{1,5}$/, '');
  // manifest.mpd, master.m3u8, index.*: the folder says which video it is.
  const generic = /^(manifest|master|index|playlist|stream|main)$/i.test(stem);
  const folder = parts.at(-2);
  return generic && folder !== undefined ? `${folder}-${stem}` : stem;
}

/** A file name that is safe anywhere: no separators, control characters or leading dots; bounded length. */
export function safeName(name: string): string {
  const cleaned = name
    .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, MAX_NAME);
  return cleaned === '' ? 'virtual' : cleaned;
}
