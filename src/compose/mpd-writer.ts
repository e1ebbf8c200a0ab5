// DASH MPD writer (ISO/IEC 23009-1): a static MPD of a presentation, as numbered segments (live profile) or one file per track (on-demand profile).
import { assert } from '../errors.js';
import { ceilMilliseconds, languageTag, scaleTicks, xsDuration } from './manifest-values.js';
import type { PresentationIndex, PresentationSet, PresentedTrack } from './presentation-index.js';
import {
  checkTrackIds,
  DASH_INIT_TEMPLATE,
  DASH_MEDIA_TEMPLATE,
  FIRST_SEGMENT_NUMBER,
  type ManifestForm,
  singleFilePath,
} from './presentation-paths.js';

/**
 * MPD@profiles of each form. Not the CMAF profile (urn:mpeg:dash:profile:cmaf:2019): it
 * requires every segment to be a CMAF fragment (one traf per moof, edit lists that only
 * skip media), which a track with two sample descriptions or an empty edit is not.
 */
export const DASH_PROFILES: Readonly<Record<ManifestForm, string>> = {
  segments: 'urn:mpeg:dash:profile:isoff-live:2011',
  single: 'urn:mpeg:dash:profile:isoff-on-demand:2011',
};

/** Content-Type of an MPD (ISO/IEC 23009-1 Annex C). */
export const MPD_CONTENT_TYPE = 'application/dash+xml';

/** The namespace of MPD elements. */
export const MPD_NAMESPACE = 'urn:mpeg:dash:schema:mpd:2011';
/** AudioChannelConfiguration scheme whose value is the channel count. */
export const AUDIO_CHANNELS_SCHEME = 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011';

/** Role scheme of ISO/IEC 23009-1 (`main`, `alternate`, …). */
export const ROLE_SCHEME = 'urn:mpeg:dash:role:2011';

const MIME_TYPES = { video: 'video/mp4', audio: 'audio/mp4', text: 'application/mp4' } as const;

type Attrs = readonly (readonly [name: string, value: string | number | undefined])[];

/**
 * A static MPD for the presentation. `segments`: live profile, a SegmentTemplate per
 * Representation (`$RepresentationID$/init.mp4`, `$RepresentationID$/$Number$.m4s` from 1)
 * with the exact SegmentTimeline of the track. `single`: on-demand profile, each
 * Representation one file (`v1.mp4`) with SegmentBase byte ranges of its init segment and
 * sidx. URLs are relative: the MPD is served from the directory that holds the media.
 * mediaPresentationDuration is the index's duration rounded up to the millisecond.
 */
export function writeMpd(index: PresentationIndex, form: ManifestForm): string {
  checkTrackIds(index);
  const byId = new Map(index.tracks.map((t) => [t.id, t]));
  let longestSegment = 0n;
  for (const t of index.tracks) {
    longestSegment = maxBig(longestSegment, scaleTicks(longestSegmentTicks(t), t.timescale, 1000n, 'ceil'));
  }

  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    open('MPD', [
      ['xmlns', MPD_NAMESPACE],
      ['profiles', DASH_PROFILES[form]],
      ['type', 'static'],
      ['mediaPresentationDuration', xsDuration(ceilMilliseconds(index.duration))],
      // @bandwidth is each track's peak over one segment: with the longest segment buffered, a
      // link of that rate keeps up (the MPD's definition of the pair).
      ['minBufferTime', xsDuration(longestSegment)],
    ]),
  );
  out.push(
    open(
      'Period',
      [
        ['id', '0'],
        ['start', 'PT0S'],
      ],
      1,
    ),
  );
  index.sets.forEach((set, k) => {
    const tracks = set.tracks.map((id) => {
      const t = byId.get(id);
      assert(t !== undefined, `set ${k} lists a track of the index (${id})`);
      return t;
    });
    // Of several sets of a kind, the first is the main one (as HLS's DEFAULT=YES rendition):
    // players that choose by Role (shaka) otherwise choose by bandwidth.
    const sameKind = index.sets.filter((s) => s.kind === set.kind);
    const main = sameKind.length > 1 && sameKind[0] === set;
    writeAdaptationSet(out, set, k, tracks, form, main);
  });
  out.push(close('Period', 1), close('MPD'), '');
  return out.join('\n');
}

function writeAdaptationSet(
  out: string[],
  set: PresentationSet,
  k: number,
  tracks: PresentedTrack[],
  form: ManifestForm,
  main: boolean,
): void {
  const single = form === 'single';
  const video = set.kind === 'video';
  const maxRate = video ? maxFrameRate(tracks) : undefined;
  out.push(
    open(
      'AdaptationSet',
      [
        ['id', k],
        ['contentType', set.kind],
        ['mimeType', MIME_TYPES[set.kind]],
        ['lang', set.kind === 'video' ? undefined : languageTag(set.language)],
        // The on-demand profile speaks of subsegments (the sidx's references), the live one of segments.
        [single ? 'subsegmentAlignment' : 'segmentAlignment', set.aligned ? 'true' : undefined],
        // Every segment starts at a sync sample: SAP type 1 (a closed GOP's IDR, any audio frame).
        [single ? 'subsegmentStartsWithSAP' : 'startWithSAP', 1],
        ['maxWidth', video ? maxOf(tracks.map((t) => t.width)) : undefined],
        ['maxHeight', video ? maxOf(tracks.map((t) => t.height)) : undefined],
        ['maxFrameRate', maxRate && frameRateValue(maxRate)],
      ],
      2,
    ),
  );
  if (main) {
    out.push(
      empty(
        'Role',
        [
          ['schemeIdUri', ROLE_SCHEME],
          ['value', 'main'],
        ],
        3,
      ),
    );
  }
  for (const t of tracks) writeRepresentation(out, t, form);
  out.push(close('AdaptationSet', 2));
}

function writeRepresentation(out: string[], t: PresentedTrack, form: ManifestForm): void {
  out.push(
    open(
      'Representation',
      [
        ['id', t.id],
        ['bandwidth', Math.ceil(t.bandwidth)],
        ['codecs', t.codec],
        ['width', t.width],
        ['height', t.height],
        ['frameRate', t.frameRate && frameRateValue(t.frameRate)],
        ['audioSamplingRate', t.sampleRate],
      ],
      3,
    ),
  );
  // Schema order: descriptors (AudioChannelConfiguration) before BaseURL and segment addressing.
  if (t.channels !== undefined) {
    out.push(
      empty(
        'AudioChannelConfiguration',
        [
          ['schemeIdUri', AUDIO_CHANNELS_SCHEME],
          ['value', t.channels],
        ],
        4,
      ),
    );
  }
  if (form === 'single') {
    out.push(`${indent(4)}<BaseURL>${escapeXml(singleFilePath(t.id))}</BaseURL>`);
    out.push(
      open(
        'SegmentBase',
        [
          ['timescale', t.timescale],
          ['presentationTimeOffset', t.presentationTimeOffset],
          ['indexRange', inclusiveRange(t.index)],
        ],
        4,
      ),
      empty('Initialization', [['range', inclusiveRange(t.init)]], 5),
      close('SegmentBase', 4),
    );
  } else {
    out.push(
      open(
        'SegmentTemplate',
        [
          ['timescale', t.timescale],
          ['presentationTimeOffset', t.presentationTimeOffset],
          ['initialization', DASH_INIT_TEMPLATE],
          ['media', DASH_MEDIA_TEMPLATE],
          ['startNumber', FIRST_SEGMENT_NUMBER],
        ],
        4,
      ),
      open('SegmentTimeline', [], 5),
      ...timeline(t).map((s) => empty('S', s, 6)),
      close('SegmentTimeline', 5),
      close('SegmentTemplate', 4),
    );
  }
  out.push(close('Representation', 3));
}

/** S elements: @t on the first (the timeline is contiguous after it), runs of equal @d as @r. */
function timeline(t: PresentedTrack): Attrs[] {
  const count = t.times.length - 1;
  assert(count >= 1 && t.segments.length === count + 1, `track ${t.id} has segments, with times and spans for each`);
  const runs: Attrs[] = [];
  let i = 0;
  while (i < count) {
    const d = (t.times[i + 1] as number) - (t.times[i] as number);
    assert(d > 0, `segment ${i} of track ${t.id} presents something`);
    let r = 0;
    while (i + r + 1 < count && (t.times[i + r + 2] as number) - (t.times[i + r + 1] as number) === d) r++;
    runs.push([
      ['t', i === 0 ? t.times[0] : undefined],
      ['d', d],
      ['r', r > 0 ? r : undefined],
    ]);
    i += r + 1;
  }
  return runs;
}

function longestSegmentTicks(t: PresentedTrack): number {
  let longest = 0;
  for (let i = 0; i + 1 < t.times.length; i++) longest = Math.max(longest, (t.times[i + 1] as number) - (t.times[i] as number));
  return longest;
}

/** A half-open span as DASH's inclusive `first-last`. */
function inclusiveRange([start, end]: readonly [number, number]): string {
  assert(end > start, `byte span ${start}-${end} is not empty`);
  return `${start}-${end - 1}`;
}

/** FrameRateType: an integer, or `num/den` reduced. */
function frameRateValue(rate: { num: number; den: number }): string {
  const g = gcd(rate.num, rate.den);
  const num = rate.num / g;
  const den = rate.den / g;
  return den === 1 ? String(num) : `${num}/${den}`;
}

function maxFrameRate(tracks: readonly PresentedTrack[]): { num: number; den: number } | undefined {
  let best: { num: number; den: number } | undefined;
  for (const t of tracks) {
    const r = t.frameRate;
    if (r && r.den > 0 && (!best || BigInt(r.num) * BigInt(best.den) > BigInt(best.num) * BigInt(r.den))) best = r;
  }
  return best;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a === 0 ? 1 : a;
}

function maxOf(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function indent(depth: number): string {
  return '  '.repeat(depth);
}

function attrText(attrs: Attrs): string {
  return attrs
    .filter((a) => a[1] !== undefined)
    .map(([name, value]) => ` ${name}="${escapeXml(String(value))}"`)
    .join('');
}

function open(name: string, attrs: Attrs, depth = 0): string {
  return `${indent(depth)}<${name}${attrText(attrs)}>`;
}

function empty(name: string, attrs: Attrs, depth: number): string {
  return `${indent(depth)}<${name}${attrText(attrs)}/>`;
}

function close(name: string, depth = 0): string {
  return `${indent(depth)}</${name}>`;
}

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text safe inside an attribute value or element content. */
function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}
