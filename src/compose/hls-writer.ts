// HLS playlists (RFC 8216): a presentation's multivariant playlist and each track's media playlist, over numbered segments or byte ranges of the single file.
import { assert, VvfError } from '../errors.js';
import { codecFourcc, decimal, languageName, languageTag, scaleTicks } from './manifest-values.js';
import type { PresentationIndex, PresentedTrack } from './presentation-index.js';
import { checkTrackIds, initPath, type ManifestForm, playlistName, segmentPath, singleFilePath } from './presentation-paths.js';

/** Content-Type of every playlist (RFC 8216 4). */
export const HLS_CONTENT_TYPE = 'application/vnd.apple.mpegurl';

/** EXT-X-VERSION of every playlist: 6 is the least for EXT-X-MAP; 7 is what fMP4 HLS writers declare. */
export const HLS_VERSION = 7;

/** Decimals of EXTINF: microseconds, far below what adds up to a visible drift. */
const EXTINF_DIGITS = 6;
const EXTINF_UNITS = 1_000_000n;

/** A rendition in a multivariant playlist: an EXT-X-MEDIA tag's attributes. */
interface Rendition {
  track: PresentedTrack;
  group: string;
  name: string;
  language: string | undefined;
  isDefault: boolean;
  autoselect: boolean;
}

/**
 * The multivariant playlist. Audio tracks become EXT-X-MEDIA renditions in one group per
 * codec (`audio-mp4a`: several languages in one group), IMSC1 (`stpp`) text tracks a
 * `subtitles` group; each video track is one EXT-X-STREAM-INF per audio group, whose
 * BANDWIDTH and AVERAGE-BANDWIDTH add the group's highest rate (and the subtitles') to the
 * video's (RFC 8216 4.3.4.2: the largest sum over playable combinations) and whose CODECS
 * lists every codec of the group. Without video, each audio track is a variant of its own.
 * WebVTT-in-MP4 (`wvtt`) tracks are left out: HLS carries WebVTT as text segments.
 * Media playlists are named by {@link playlistName}.
 */
export function writeMultivariantPlaylist(index: PresentationIndex, form: ManifestForm): string {
  checkTrackIds(index);
  const video = tracksOf(index, 'video');
  const audio = tracksOf(index, 'audio');
  const subtitles = tracksOf(index, 'text').filter((t) => codecFourcc(t.codec) === 'stpp');
  const out = ['#EXTM3U', `#EXT-X-VERSION:${HLS_VERSION}`, '#EXT-X-INDEPENDENT-SEGMENTS'];

  const subtitleRenditions = renditions(subtitles, () => 'subtitles', false);
  const subtitleGroup = subtitleRenditions[0]?.group;
  const audioRenditions = video.length > 0 ? renditions(audio, (t) => `audio-${audioFamily(t.codec)}`, true) : [];
  for (const r of [...audioRenditions, ...subtitleRenditions]) out.push(mediaTag(r, form));

  const subtitleExtra = extra(subtitleRenditions.map((r) => r.track));
  if (video.length > 0) {
    const groups = groupBy(audioRenditions, (r) => r.group);
    for (const v of video) {
      const audioGroups: (string | undefined)[] = groups.size > 0 ? [...groups.keys()] : [undefined];
      for (const group of audioGroups) {
        const audioExtra = extra(group === undefined ? [] : (groups.get(group) ?? []).map((r) => r.track));
        out.push(
          streamInf(
            [
              ['BANDWIDTH', Math.ceil(v.bandwidth + audioExtra.peak + subtitleExtra.peak)],
              ['AVERAGE-BANDWIDTH', Math.ceil(v.averageBandwidth + audioExtra.average + subtitleExtra.average)],
              ['CODECS', quoted([v.codec, ...audioExtra.codecs, ...subtitleExtra.codecs].join(','))],
              ['RESOLUTION', v.width !== undefined && v.height !== undefined ? `${v.width}x${v.height}` : undefined],
              [
                'FRAME-RATE',
                v.frameRate && v.frameRate.den > 0
                  ? decimal(scaleTicks(v.frameRate.num, v.frameRate.den, 1000n, 'round'), 3)
                  : undefined,
              ],
              ['AUDIO', group === undefined ? undefined : quoted(group)],
              ['SUBTITLES', subtitleGroup === undefined ? undefined : quoted(subtitleGroup)],
            ],
            playlistName(v.id, form),
          ),
        );
      }
    }
  } else {
    for (const a of audio) {
      out.push(
        streamInf(
          [
            ['BANDWIDTH', Math.ceil(a.bandwidth + subtitleExtra.peak)],
            ['AVERAGE-BANDWIDTH', Math.ceil(a.averageBandwidth + subtitleExtra.average)],
            ['CODECS', quoted([a.codec, ...subtitleExtra.codecs].join(','))],
            ['SUBTITLES', subtitleGroup === undefined ? undefined : quoted(subtitleGroup)],
          ],
          playlistName(a.id, form),
        ),
      );
    }
  }
  out.push('');
  return out.join('\n');
}

/**
 * The media playlist of one track (VOD, ending in EXT-X-ENDLIST). `segments`: EXT-X-MAP is
 * the init segment (`v1/init.mp4`), then one URI per segment (`v1/1.m4s`, …). `single`:
 * EXT-X-MAP is the init segment's byte range of `v1.mp4`, then each segment an
 * EXT-X-BYTERANGE of it. Segment i lasts `(times[i+1] - times[i]) / timescale` seconds,
 * written with 6 decimals; EXT-X-TARGETDURATION is the largest of them rounded to the
 * nearest integer, as written (at least 1).
 *
 * Throws VvfError NOT_FOUND when the index has no track `trackId`.
 */
export function writeMediaPlaylist(index: PresentationIndex, trackId: string, form: ManifestForm): string {
  checkTrackIds(index);
  const t = index.tracks.find((x) => x.id === trackId);
  if (t === undefined) throw new VvfError('NOT_FOUND', `presentation has no track ${JSON.stringify(trackId)}`);
  const count = t.times.length - 1;
  assert(count >= 1 && t.segments.length === count + 1, `track ${t.id} has segments, with times and spans for each`);
  const durations: bigint[] = [];
  let target = 1n;
  for (let i = 0; i < count; i++) {
    const us = scaleTicks((t.times[i + 1] as number) - (t.times[i] as number), t.timescale, EXTINF_UNITS, 'round');
    durations.push(us);
    // RFC 8216 4.3.3.1: every EXTINF, rounded to the nearest integer, is at most the target.
    const rounded = (us + EXTINF_UNITS / 2n) / EXTINF_UNITS;
    if (rounded > target) target = rounded;
  }
  const single = form === 'single';
  const file = singleFilePath(t.id);
  const out = [
    '#EXTM3U',
    `#EXT-X-VERSION:${HLS_VERSION}`,
    `#EXT-X-TARGETDURATION:${target}`,
    // No EXT-X-MEDIA-SEQUENCE: its absence means 0, and URLs do not carry it.
    '#EXT-X-PLAYLIST-TYPE:VOD',
    // Also in the multivariant playlist; here too for clients given this playlist alone.
    '#EXT-X-INDEPENDENT-SEGMENTS',
    single ? `#EXT-X-MAP:URI=${quoted(file)},BYTERANGE=${quoted(byteRange(t.init))}` : `#EXT-X-MAP:URI=${quoted(initPath(t.id))}`,
  ];
  durations.forEach((us, i) => {
    out.push(`#EXTINF:${decimal(us, EXTINF_DIGITS)},`);
    if (single) {
      out.push(`#EXT-X-BYTERANGE:${byteRange([t.segments[i] as number, t.segments[i + 1] as number])}`, file);
    } else {
      out.push(segmentPath(t.id, i));
    }
  });
  out.push('#EXT-X-ENDLIST', '');
  return out.join('\n');
}

/** Tracks of a kind in set order (best first within a set), then any no set lists. */
function tracksOf(index: PresentationIndex, kind: PresentedTrack['kind']): PresentedTrack[] {
  const ids = index.sets.filter((s) => s.kind === kind).flatMap((s) => s.tracks);
  const ordered = ids.map((id) => index.tracks.find((t) => t.id === id)).filter((t): t is PresentedTrack => t !== undefined);
  const rest = index.tracks.filter((t) => t.kind === kind && !ids.includes(t.id));
  return [...ordered, ...rest];
}

/**
 * EXT-X-MEDIA attributes of tracks grouped by `groupOf`. Names are unique in a group (a
 * repeated name gets ` 2`, ` 3`, so corresponding members of two groups keep the same
 * name); only the first of each language is AUTOSELECT, since autoselectable renditions
 * of a group should differ in language (RFC 8216 4.3.4.1.1).
 */
function renditions(tracks: PresentedTrack[], groupOf: (t: PresentedTrack) => string, defaultFirst: boolean): Rendition[] {
  const out: Rendition[] = [];
  for (const track of tracks) {
    const group = groupOf(track);
    const members = out.filter((r) => r.group === group);
    const language = languageTag(track.language);
    const base = language === undefined ? (track.kind === 'audio' ? 'Audio' : 'Subtitles') : languageName(language);
    let name = base;
    for (let n = 2; members.some((r) => r.name === name); n++) name = `${base} ${n}`;
    out.push({
      track,
      group,
      name,
      language,
      isDefault: defaultFirst && members.length === 0,
      autoselect: !members.some((r) => r.language === language),
    });
  }
  return out;
}

function mediaTag(r: Rendition, form: ManifestForm): string {
  const audio = r.track.kind === 'audio';
  return `#EXT-X-MEDIA:${attributeList([
    ['TYPE', audio ? 'AUDIO' : 'SUBTITLES'],
    ['GROUP-ID', quoted(r.group)],
    ['NAME', quoted(r.name)],
    ['LANGUAGE', r.language === undefined ? undefined : quoted(r.language)],
    ['DEFAULT', r.isDefault ? 'YES' : 'NO'],
    ['AUTOSELECT', r.autoselect ? 'YES' : 'NO'],
    ['CHANNELS', audio && r.track.channels !== undefined ? quoted(String(r.track.channels)) : undefined],
    ['URI', quoted(playlistName(r.track.id, form))],
  ])}`;
}

/** What the renditions of a group add to a variant: the highest rates any one of them makes, and every codec. */
function extra(tracks: PresentedTrack[]): { peak: number; average: number; codecs: string[] } {
  return {
    peak: Math.max(0, ...tracks.map((t) => t.bandwidth)),
    average: Math.max(0, ...tracks.map((t) => t.averageBandwidth)),
    codecs: [...new Set(tracks.map((t) => t.codec))],
  };
}

/** Audio groups by codec: `mp4a`, `ec-3`, `opus`. */
function audioFamily(codec: string): string {
  return codecFourcc(codec).replace(/[^A-Za-z0-9_-]/g, '_');
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = m.get(k);
    if (list) list.push(item);
    else m.set(k, [item]);
  }
  return m;
}

type AttributeList = readonly (readonly [name: string, value: string | number | undefined])[];

function attributeList(attrs: AttributeList): string {
  return attrs
    .filter((a) => a[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
}

function streamInf(attrs: AttributeList, uri: string): string {
  return `#EXT-X-STREAM-INF:${attributeList(attrs)}\n${uri}`;
}

/** A quoted-string: no `"`, CR or LF may appear inside (RFC 8216 4.2). */
function quoted(s: string): string {
  return `"${s.replace(/["\r\n]/g, '')}"`;
}

/** A half-open span as `<length>@<offset>`. */
function byteRange([start, end]: readonly [number, number]): string {
  assert(end > start, `byte span ${start}-${end} is not empty`);
  return `${end - start}@${start}`;
}
