// Names of a presentation's manifests, playlists and segment files, relative to the one directory they are all served from.
import { assert } from '../errors.js';
import type { PresentationIndex, PresentationLayout, PresentedTrack } from './presentation-index.js';

/**
 * How manifests address media: `segments` — an init segment and numbered media segments per
 * track (DASH live profile, HLS with one URI per segment); `single` — each track's single
 * file with a sidx, addressed by byte ranges (DASH on-demand profile, HLS EXT-X-BYTERANGE).
 */
export type ManifestForm = 'segments' | 'single';

/** SegmentTemplate@initialization: must expand to {@link initPath}. */
export const DASH_INIT_TEMPLATE = '$RepresentationID$/init.mp4';
/** SegmentTemplate@media: must expand to {@link segmentPath}. */
export const DASH_MEDIA_TEMPLATE = '$RepresentationID$/$Number$.m4s';
/** SegmentTemplate@startNumber: the number in the URL of a track's first segment. */
export const FIRST_SEGMENT_NUMBER = 1;

// Ids become path segments and template values: letters, digits and `_` only, so that no
// name of one track can be the name of another (`v1-single.m3u8`) or of a manifest.
const TRACK_ID = /^[A-Za-z][A-Za-z0-9_]*$/;
const RESERVED_IDS = new Set(['manifest']);

/** The DASH manifest of a form: `manifest.mpd`, `manifest-single.mpd`. */
export function mpdName(form: ManifestForm): string {
  return form === 'segments' ? 'manifest.mpd' : 'manifest-single.mpd';
}

/** The HLS multivariant playlist of a form: `manifest.m3u8`, `manifest-single.m3u8`. */
export function multivariantName(form: ManifestForm): string {
  return form === 'segments' ? 'manifest.m3u8' : 'manifest-single.m3u8';
}

/** A track's HLS media playlist: `v1.m3u8` (segments), `v1-single.m3u8` (byte ranges of `v1.mp4`). */
export function playlistName(trackId: string, form: ManifestForm): string {
  return form === 'segments' ? `${trackId}.m3u8` : `${trackId}-single.m3u8`;
}

/** A track's init segment: `v1/init.mp4`. */
export function initPath(trackId: string): string {
  return `${trackId}/init.mp4`;
}

/**
 * Media segment `segment` (0-based, an index into the track's `segments`) of a track: its
 * URL carries the DASH `$Number$`, `segment + 1` (`v1/1.m4s` is the first).
 */
export function segmentPath(trackId: string, segment: number): string {
  return `${trackId}/${segment + FIRST_SEGMENT_NUMBER}.m4s`;
}

/** A track's single file (init segment, sidx, every segment): `v1.mp4`. */
export function singleFilePath(trackId: string): string {
  return `${trackId}.mp4`;
}

/** Whether a presentation of this layout offers an MPD. */
export function offersDash(layout: PresentationLayout): boolean {
  return layout === 'dash' || layout === 'cmaf';
}

/** Whether a presentation of this layout offers HLS playlists. */
export function offersHls(layout: PresentationLayout): boolean {
  return layout === 'hls' || layout === 'cmaf';
}

/** What a name under a presentation's directory stands for (see {@link resolvePresentationPath}). */
export type PresentationPath =
  | { kind: 'mpd'; form: ManifestForm }
  | { kind: 'multivariant'; form: ManifestForm }
  | { kind: 'playlist'; track: PresentedTrack; form: ManifestForm }
  | { kind: 'init'; track: PresentedTrack }
  /** `segment` is 0-based: `[track.segments[segment], track.segments[segment + 1])` of the single file. */
  | { kind: 'segment'; track: PresentedTrack; segment: number }
  | { kind: 'single'; track: PresentedTrack };

const PLAYLIST = /^([A-Za-z][A-Za-z0-9_]*)(-single)?\.m3u8$/;
const SINGLE = /^([A-Za-z][A-Za-z0-9_]*)\.mp4$/;
const INIT = /^([A-Za-z][A-Za-z0-9_]*)\/init\.mp4$/;
// No leading zeros: each segment has one name.
const SEGMENT = /^([A-Za-z][A-Za-z0-9_]*)\/([1-9][0-9]{0,14})\.m4s$/;

/**
 * What `path` (relative to the presentation's directory, as the manifests write it) names in
 * this presentation, or `undefined` when it names nothing: the inverse of the functions above,
 * for the routes. Manifests the layout does not offer name nothing; segment files exist in
 * every layout.
 */
export function resolvePresentationPath(index: PresentationIndex, path: string): PresentationPath | undefined {
  for (const form of ['segments', 'single'] as const) {
    if (path === mpdName(form)) return offersDash(index.layout) ? { kind: 'mpd', form } : undefined;
    if (path === multivariantName(form)) return offersHls(index.layout) ? { kind: 'multivariant', form } : undefined;
  }
  const track = (id: string | undefined): PresentedTrack | undefined => index.tracks.find((t) => t.id === id);
  let m = PLAYLIST.exec(path);
  if (m !== null) {
    const t = track(m[1]);
    return t && offersHls(index.layout)
      ? { kind: 'playlist', track: t, form: m[2] === undefined ? 'segments' : 'single' }
      : undefined;
  }
  m = SINGLE.exec(path);
  if (m !== null) {
    const t = track(m[1]);
    return t ? { kind: 'single', track: t } : undefined;
  }
  m = INIT.exec(path);
  if (m !== null) {
    const t = track(m[1]);
    return t ? { kind: 'init', track: t } : undefined;
  }
  m = SEGMENT.exec(path);
  if (m !== null) {
    const t = track(m[1]);
    const segment = Number(m[2]) - FIRST_SEGMENT_NUMBER;
    return t && segment < t.segments.length - 1 ? { kind: 'segment', track: t, segment } : undefined;
  }
  return undefined;
}

/** Every track id can be a path segment and a template value, and no two are equal (else the names above collide). */
export function checkTrackIds(index: PresentationIndex): void {
  const seen = new Set<string>();
  for (const t of index.tracks) {
    assert(TRACK_ID.test(t.id) && !RESERVED_IDS.has(t.id), `track id ${JSON.stringify(t.id)} is a plain name`);
    assert(!seen.has(t.id), `track id ${t.id} is unique`);
    seen.add(t.id);
  }
}
