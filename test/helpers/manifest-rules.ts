// Rules players rely on in a presentation's MPD and HLS playlists, as checks that list what is wrong (empty: all hold): for the writers' tests and for manifests as served.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { PresentationIndex, PresentedTrack } from '../../src/compose/presentation-index.js';
import {
  type ManifestForm,
  mpdName,
  multivariantName,
  offersDash,
  offersHls,
  type PresentationPath,
  playlistName,
  resolvePresentationPath,
} from '../../src/compose/presentation-paths.js';

/** Options of every check. */
export interface RuleOptions {
  /**
   * Bytes of a track's single file as served (from a HEAD, say); default the index's
   * `size`. Byte ranges must end inside it.
   */
  fileSize?: (trackId: string) => number;
}

const LIVE_PROFILE = 'urn:mpeg:dash:profile:isoff-live:2011';
const ON_DEMAND_PROFILE = 'urn:mpeg:dash:profile:isoff-on-demand:2011';
const MPD_NAMESPACE = 'urn:mpeg:dash:schema:mpd:2011';

type Node = { readonly [key: string]: unknown };

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});

function kids(node: Node, name: string): Node[] {
  const v = node[name];
  return Array.isArray(v) ? (v as Node[]) : [];
}

function at(node: Node, name: string): string | undefined {
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** Text of the first child element `name` (a leaf parses to a string, one with attributes to a node). */
function childText(node: Node, name: string): string {
  const v = node[name];
  const first: unknown = Array.isArray(v) ? v[0] : undefined;
  if (typeof first === 'string') return first.trim();
  const text = typeof first === 'object' && first !== null ? (first as Node)['#text'] : undefined;
  return typeof text === 'string' ? text.trim() : '';
}

/** Bytes of the track's single file as served. */
function sizeOf(t: PresentedTrack, opts: RuleOptions): number {
  return opts.fileSize ? opts.fileSize(t.id) : t.size;
}

/** An xs:duration of days, hours, minutes and seconds as exact seconds `n / d`. */
function parseXsDuration(s: string): { n: bigint; d: bigint } | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d+))?S)?)?$/.exec(s);
  if (m === null || s === 'P' || s.endsWith('T')) return undefined;
  const whole = BigInt(m[1] ?? 0) * 86400n + BigInt(m[2] ?? 0) * 3600n + BigInt(m[3] ?? 0) * 60n + BigInt(m[4] ?? 0);
  const frac = m[5] ?? '';
  const d = 10n ** BigInt(frac.length);
  return { n: whole * d + BigInt(frac === '' ? 0 : frac), d };
}

/** `a-b` (inclusive) as numbers. */
function parseRange(s: string | undefined): { first: number; last: number } | undefined {
  const m = s === undefined ? null : /^(\d+)-(\d+)$/.exec(s);
  return m === null ? undefined : { first: Number(m[1]), last: Number(m[2]) };
}

function expandTemplate(template: string, id: string, num: number): string {
  return template.replace(/\$(RepresentationID|Number)(?:%0(\d+)d)?\$|\$\$/g, (whole, name: string | undefined, width) => {
    if (whole === '$$') return '$';
    const v = name === 'Number' ? String(num) : id;
    return width === undefined ? v : v.padStart(Number(width), '0');
  });
}

function resolvesTo(
  index: PresentationIndex,
  url: string,
  want: (p: PresentationPath) => boolean,
  what: string,
  problems: string[],
): void {
  const p = resolvePresentationPath(index, url);
  if (p === undefined) problems.push(`${what}: ${JSON.stringify(url)} names nothing the presentation serves`);
  else if (!want(p)) {
    const which = p.kind === 'segment' ? ` ${p.segment}` : '';
    problems.push(`${what}: ${JSON.stringify(url)} names ${p.kind}${which}${'track' in p ? ` of ${p.track.id}` : ''}`);
  }
}

/** Segment start times of a timeline, and where the last ends. */
function expandTimeline(tl: Node): { starts: number[]; end: number } | string {
  const starts: number[] = [];
  let time: number | undefined;
  for (const s of kids(tl, 'S')) {
    const t = at(s, 't');
    if (t !== undefined) time = Number(t);
    if (time === undefined) time = 0;
    const d = Number(at(s, 'd'));
    if (!(d > 0)) return `S@d ${at(s, 'd')} is not positive`;
    const r = Number(at(s, 'r') ?? 0);
    if (!Number.isInteger(r) || r < 0) return `S@r ${at(s, 'r')} is not a count (open-ended repeats make no finite list)`;
    for (let k = 0; k <= r; k++) {
      starts.push(time);
      time += d;
    }
  }
  return { starts, end: time ?? 0 };
}

/**
 * What is wrong with an MPD of `index` in `form`: well-formed XML in the MPD namespace,
 * static, the profile of the form; mediaPresentationDuration at or past the index's
 * duration by at most 1 ms; one Representation per track with its codec and bandwidth;
 * `segments` — SegmentTemplate in the track's timescale and offset whose timeline starts at
 * `times[0]`, has one entry per segment at the index's times and sums to the track's span, and
 * whose URLs name that track's init and segments; `single` — BaseURL naming the track's file,
 * inclusive indexRange and Initialization@range equal to the index's spans and inside the file;
 * aligned AdaptationSets whose segment boundaries really coincide.
 */
export function mpdProblems(text: string, index: PresentationIndex, form: ManifestForm, opts: RuleOptions = {}): string[] {
  const problems: string[] = [];
  const valid = XMLValidator.validate(text);
  if (valid !== true) return [`MPD is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`];
  const root = kids(xml.parse(text) as Node, 'MPD')[0];
  if (root === undefined) return ['the root element is not MPD'];
  if (at(root, 'xmlns') !== MPD_NAMESPACE) problems.push(`MPD@xmlns is ${at(root, 'xmlns')}, not ${MPD_NAMESPACE}`);
  if (at(root, 'type') !== 'static') problems.push(`MPD@type is ${at(root, 'type')}, not static`);
  const profiles = (at(root, 'profiles') ?? '').split(',').map((p) => p.trim());
  const [want, other] = form === 'segments' ? [LIVE_PROFILE, ON_DEMAND_PROFILE] : [ON_DEMAND_PROFILE, LIVE_PROFILE];
  if (!profiles.includes(want)) problems.push(`MPD@profiles (${profiles.join(',')}) lacks ${want}`);
  if (profiles.includes(other)) problems.push(`MPD@profiles claims ${other}, which the ${form} form is not`);
  if (parseXsDuration(at(root, 'minBufferTime') ?? '') === undefined) problems.push('MPD@minBufferTime is not a duration');

  const mpd = parseXsDuration(at(root, 'mediaPresentationDuration') ?? '');
  if (mpd === undefined) {
    problems.push(`MPD@mediaPresentationDuration ${at(root, 'mediaPresentationDuration')} is not a duration`);
  } else {
    const over = Number(mpd.n) / Number(mpd.d) - index.duration;
    // The index's duration is a float: allow its rounding noise, nothing more.
    if (over < -1e-9) problems.push(`mediaPresentationDuration ends ${-over} s before the media (${index.duration} s)`);
    if (over > 0.001 + 1e-9) problems.push(`mediaPresentationDuration is ${over} s longer than the media (${index.duration} s)`);
  }

  const periods = kids(root, 'Period');
  if (periods.length !== 1) problems.push(`${periods.length} Periods, not 1`);
  const seen = new Set<string>();
  const byId = new Map(index.tracks.map((t) => [t.id, t]));
  for (const [ai, as] of kids(periods[0] ?? {}, 'AdaptationSet').entries()) {
    const boundaries: { t: PresentedTrack; starts: number[]; pto: number }[] = [];
    for (const rep of kids(as, 'Representation')) {
      const id = at(rep, 'id') ?? '';
      const where = `Representation ${id}`;
      const t = byId.get(id);
      if (t === undefined) {
        problems.push(`${where} is no track of the index`);
        continue;
      }
      if (seen.has(id)) problems.push(`${where} appears twice`);
      seen.add(id);
      const codecs = at(rep, 'codecs') ?? at(as, 'codecs');
      if (codecs !== t.codec) problems.push(`${where}: codecs ${codecs}, not ${t.codec}`);
      const bandwidth = Number(at(rep, 'bandwidth'));
      if (!Number.isInteger(bandwidth) || bandwidth < t.bandwidth)
        problems.push(`${where}: bandwidth ${bandwidth} < ${t.bandwidth}`);
      const mime = at(rep, 'mimeType') ?? at(as, 'mimeType') ?? '';
      const mimeWant = { video: 'video/mp4', audio: 'audio/mp4', text: 'application/mp4' }[t.kind];
      if (mime !== mimeWant) problems.push(`${where}: mimeType ${mime}, not ${mimeWant}`);

      if (form === 'segments') {
        const st = kids(rep, 'SegmentTemplate')[0] ?? kids(as, 'SegmentTemplate')[0];
        if (st === undefined) {
          problems.push(`${where} has no SegmentTemplate`);
          continue;
        }
        if (Number(at(st, 'timescale') ?? 1) !== t.timescale) problems.push(`${where}: timescale ${at(st, 'timescale')}`);
        const pto = Number(at(st, 'presentationTimeOffset') ?? 0);
        if (pto !== t.presentationTimeOffset)
          problems.push(`${where}: presentationTimeOffset ${pto}, not ${t.presentationTimeOffset}`);
        const init = at(st, 'initialization');
        if (init === undefined) problems.push(`${where} has no initialization template`);
        else resolvesTo(index, expandTemplate(init, id, 0), (p) => p.kind === 'init' && p.track === t, `${where} init`, problems);
        const tl = kids(st, 'SegmentTimeline')[0];
        if (tl === undefined) {
          problems.push(`${where} has no SegmentTimeline`);
          continue;
        }
        const timeline = expandTimeline(tl);
        if (typeof timeline === 'string') {
          problems.push(`${where}: ${timeline}`);
          continue;
        }
        const count = t.times.length - 1;
        const first = kids(tl, 'S')[0];
        if (first === undefined || at(first, 't') === undefined || Number(at(first, 't')) !== t.times[0]) {
          problems.push(`${where}: first S@t is ${first && at(first, 't')}, not times[0] = ${t.times[0]}`);
        }
        if (timeline.starts.length !== count) problems.push(`${where}: ${timeline.starts.length} segments, not ${count}`);
        const span = (t.times[count] as number) - (t.times[0] as number);
        const sum = timeline.end - (timeline.starts[0] ?? 0);
        if (sum !== span) problems.push(`${where}: the timeline sums to ${sum}, not times[last] - times[0] = ${span}`);
        timeline.starts.forEach((s, i) => {
          if (i < count && s !== t.times[i]) problems.push(`${where}: segment ${i} starts at ${s}, not ${t.times[i]}`);
        });
        const media = at(st, 'media');
        const startNumber = Number(at(st, 'startNumber') ?? 1);
        if (media === undefined) problems.push(`${where} has no media template`);
        else {
          for (let i = 0; i < timeline.starts.length; i++) {
            resolvesTo(
              index,
              expandTemplate(media, id, startNumber + i),
              (p) => p.kind === 'segment' && p.track === t && p.segment === i,
              `${where} segment ${i}`,
              problems,
            );
          }
        }
        boundaries.push({ t, starts: timeline.starts, pto });
      } else {
        const base = childText(rep, 'BaseURL');
        resolvesTo(index, base, (p) => p.kind === 'single' && p.track === t, `${where} BaseURL`, problems);
        const sb = kids(rep, 'SegmentBase')[0];
        if (sb === undefined) {
          problems.push(`${where} has no SegmentBase`);
          continue;
        }
        const size = sizeOf(t, opts);
        const rangeProblem = (name: string, value: string | undefined, span: readonly [number, number]) => {
          const r = parseRange(value);
          if (r === undefined || r.first !== span[0] || r.last !== span[1] - 1) {
            problems.push(`${where}: ${name} ${value} is not the inclusive ${span[0]}-${span[1] - 1}`);
          } else if (r.last >= size) {
            problems.push(`${where}: ${name} ${value} ends past the file (${size} bytes)`);
          }
        };
        rangeProblem('indexRange', at(sb, 'indexRange'), t.index);
        rangeProblem('Initialization@range', at(kids(sb, 'Initialization')[0] ?? {}, 'range'), t.init);
        if (Number(at(sb, 'timescale') ?? 1) !== t.timescale)
          problems.push(`${where}: SegmentBase@timescale ${at(sb, 'timescale')}`);
        const pto = Number(at(sb, 'presentationTimeOffset') ?? 0);
        if (pto !== t.presentationTimeOffset)
          problems.push(`${where}: presentationTimeOffset ${pto}, not ${t.presentationTimeOffset}`);
        // The sidx holds the index's times: those are what switching relies on.
        boundaries.push({ t, starts: t.times.slice(0, -1), pto });
      }
    }
    const aligned = at(as, form === 'segments' ? 'segmentAlignment' : 'subsegmentAlignment') === 'true';
    if (aligned) problems.push(...alignmentProblems(`AdaptationSet ${ai}`, boundaries));
  }
  for (const t of index.tracks) if (!seen.has(t.id)) problems.push(`track ${t.id} has no Representation`);
  return problems;
}

/** Segment boundaries of every Representation, on the period timeline, must be the same. */
function alignmentProblems(where: string, reps: { t: PresentedTrack; starts: number[]; pto: number }[]): string[] {
  const ref = reps[0];
  if (ref === undefined) return [];
  const out: string[] = [];
  for (const r of reps.slice(1)) {
    if (r.starts.length !== ref.starts.length) {
      out.push(`${where} claims alignment but ${r.t.id} has ${r.starts.length} segments and ${ref.t.id} ${ref.starts.length}`);
      continue;
    }
    r.starts.forEach((s, i) => {
      const a = BigInt(s - r.pto) * BigInt(ref.t.timescale);
      const b = BigInt((ref.starts[i] as number) - ref.pto) * BigInt(r.t.timescale);
      if (a !== b) out.push(`${where} claims alignment but segment ${i} of ${r.t.id} and ${ref.t.id} start apart`);
    });
  }
  return out;
}

/** One line of a playlist: a tag with its value, or a URI. */
type Line = { tag: string; value: string; line: number } | { uri: string; line: number };

function playlistLines(text: string): Line[] {
  const out: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === '') return;
    if (s.startsWith('#EXT')) {
      const colon = s.indexOf(':');
      out.push(
        colon < 0 ? { tag: s, value: '', line: i + 1 } : { tag: s.slice(0, colon), value: s.slice(colon + 1), line: i + 1 },
      );
    } else if (!s.startsWith('#')) {
      out.push({ uri: s, line: i + 1 });
    }
  });
  return out;
}

/** An attribute list: names to raw values (quoted strings keep their quotes). */
function attributes(value: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of value.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) m.set(a[1] as string, a[2] as string);
  return m;
}

function unquote(v: string | undefined): string | undefined {
  return v !== undefined && v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : undefined;
}

function versionProblems(lines: Line[], least: number): string[] {
  const versions = lines.filter((l) => 'tag' in l && l.tag === '#EXT-X-VERSION');
  if (versions.length !== 1) return [`${versions.length} EXT-X-VERSION tags, not 1`];
  const v = Number((versions[0] as { value: string }).value);
  return v >= least ? [] : [`EXT-X-VERSION ${v} is below ${least}`];
}

/**
 * What is wrong with a multivariant playlist of `index` in `form`: `#EXTM3U` first; every
 * URI names a media playlist of that form; renditions have unique NAMEs per group and at most
 * one DEFAULT; each STREAM-INF has a URI line, BANDWIDTH ≥ AVERAGE-BANDWIDTH, BANDWIDTH and
 * AVERAGE-BANDWIDTH at least its track's plus the highest of its audio and subtitle groups,
 * and CODECS that include its track's and every codec of those groups; every video track is a
 * variant and every audio track a rendition or (no video) a variant.
 */
export function multivariantProblems(text: string, index: PresentationIndex, form: ManifestForm): string[] {
  const problems: string[] = [];
  if (!text.startsWith('#EXTM3U\n') && !text.startsWith('#EXTM3U\r\n')) problems.push('the first line is not #EXTM3U');
  const lines = playlistLines(text);
  problems.push(...versionProblems(lines, 1));
  const playlistOf = (uri: string | undefined, what: string): PresentedTrack | undefined => {
    const p = uri === undefined ? undefined : resolvePresentationPath(index, uri);
    if (p?.kind === 'playlist' && p.form === form) return p.track;
    problems.push(`${what}: ${JSON.stringify(uri)} is no ${form} media playlist of the presentation`);
    return undefined;
  };

  const groups = new Map<string, { names: Set<string>; defaults: number; tracks: PresentedTrack[] }>();
  const listed = new Set<string>();
  for (const l of lines) {
    if (!('tag' in l) || l.tag !== '#EXT-X-MEDIA') continue;
    const a = attributes(l.value);
    const type = a.get('TYPE');
    const group = unquote(a.get('GROUP-ID'));
    const name = unquote(a.get('NAME'));
    const where = `EXT-X-MEDIA line ${l.line}`;
    if (type === undefined || group === undefined || name === undefined) {
      problems.push(`${where} lacks TYPE, GROUP-ID or NAME`);
      continue;
    }
    const key = `${type}/${group}`;
    const g = groups.get(key) ?? { names: new Set(), defaults: 0, tracks: [] };
    groups.set(key, g);
    if (g.names.has(name)) problems.push(`${where}: NAME ${name} repeats in group ${group}`);
    g.names.add(name);
    if (a.get('DEFAULT') === 'YES') {
      g.defaults++;
      if (a.get('AUTOSELECT') !== 'YES') problems.push(`${where}: DEFAULT=YES without AUTOSELECT=YES`);
    }
    const language = unquote(a.get('LANGUAGE'));
    if (language !== undefined) {
      try {
        Intl.getCanonicalLocales(language);
      } catch {
        problems.push(`${where}: LANGUAGE ${language} is not a language tag`);
      }
    }
    const t = playlistOf(unquote(a.get('URI')), where);
    if (t) {
      g.tracks.push(t);
      listed.add(t.id);
      const wantType = t.kind === 'audio' ? 'AUDIO' : t.kind === 'text' ? 'SUBTITLES' : 'VIDEO';
      if (type !== wantType) problems.push(`${where}: TYPE ${type} for a ${t.kind} track`);
    }
  }
  for (const [key, g] of groups) if (g.defaults > 1) problems.push(`group ${key} has ${g.defaults} DEFAULT=YES members`);

  lines.forEach((l, i) => {
    if (!('tag' in l) || l.tag !== '#EXT-X-STREAM-INF') return;
    const where = `EXT-X-STREAM-INF line ${l.line}`;
    const next = lines[i + 1];
    const t = playlistOf(next && 'uri' in next ? next.uri : undefined, where);
    const a = attributes(l.value);
    const bandwidth = Number(a.get('BANDWIDTH'));
    const average = a.has('AVERAGE-BANDWIDTH') ? Number(a.get('AVERAGE-BANDWIDTH')) : undefined;
    if (!Number.isInteger(bandwidth)) problems.push(`${where}: BANDWIDTH ${a.get('BANDWIDTH')} is not an integer`);
    if (average !== undefined && !(bandwidth >= average))
      problems.push(`${where}: BANDWIDTH ${bandwidth} < AVERAGE-BANDWIDTH ${average}`);
    const codecs = (unquote(a.get('CODECS')) ?? '').split(',').map((c) => c.trim());
    if (t === undefined) return;
    listed.add(t.id);
    let peak = t.bandwidth;
    let mean = t.averageBandwidth;
    const need = [t.codec];
    for (const [attr, type] of [
      ['AUDIO', 'AUDIO'],
      ['SUBTITLES', 'SUBTITLES'],
      ['VIDEO', 'VIDEO'],
    ] as const) {
      const group = unquote(a.get(attr));
      if (group === undefined) continue;
      const g = groups.get(`${type}/${group}`);
      if (g === undefined) {
        problems.push(`${where}: ${attr} group ${group} has no EXT-X-MEDIA`);
        continue;
      }
      peak += Math.max(0, ...g.tracks.map((r) => r.bandwidth));
      mean += Math.max(0, ...g.tracks.map((r) => r.averageBandwidth));
      need.push(...g.tracks.map((r) => r.codec));
    }
    for (const c of new Set(need)) if (!codecs.includes(c)) problems.push(`${where}: CODECS ${codecs.join(',')} lacks ${c}`);
    if (bandwidth < peak) problems.push(`${where}: BANDWIDTH ${bandwidth} < the peak sum ${peak}`);
    if (average !== undefined && average < mean)
      problems.push(`${where}: AVERAGE-BANDWIDTH ${average} < the average sum ${mean}`);
    if (
      t.kind === 'video' &&
      t.width !== undefined &&
      t.height !== undefined &&
      a.get('RESOLUTION') !== `${t.width}x${t.height}`
    ) {
      problems.push(`${where}: RESOLUTION ${a.get('RESOLUTION')}, not ${t.width}x${t.height}`);
    }
  });
  // Text in HLS is IMSC1 in fMP4 (stpp); WebVTT-in-MP4 tracks have no place in it.
  for (const t of index.tracks) {
    const expected = t.kind !== 'text' || t.codec.startsWith('stpp');
    if (expected && !listed.has(t.id)) problems.push(`track ${t.id} (${t.kind}) is in no variant or rendition`);
  }
  return problems;
}

/**
 * What is wrong with the media playlist of track `trackId` in `form`: `#EXTM3U` first; a
 * version that allows EXT-X-MAP (6) and byte ranges; one EXT-X-TARGETDURATION ≥ every EXTINF
 * rounded to the nearest integer; EXT-X-MAP before the first segment, naming the track's init
 * segment (or the init segment's bytes of its single file); VOD with EXT-X-ENDLIST; one
 * segment per index segment, each EXTINF within a microsecond of the index's duration; URIs
 * that name that track's segments in order, or (single) byte ranges that are the index's
 * spans, contiguous, inside the file.
 */
export function mediaPlaylistProblems(
  text: string,
  index: PresentationIndex,
  trackId: string,
  form: ManifestForm,
  opts: RuleOptions = {},
): string[] {
  const t = index.tracks.find((x) => x.id === trackId);
  if (t === undefined) return [`the index has no track ${trackId}`];
  const problems: string[] = [];
  if (!text.startsWith('#EXTM3U\n') && !text.startsWith('#EXTM3U\r\n')) problems.push('the first line is not #EXTM3U');
  const lines = playlistLines(text);
  problems.push(...versionProblems(lines, 6));
  const tags = (name: string) => lines.filter((l): l is Extract<Line, { tag: string }> => 'tag' in l && l.tag === name);
  const targets = tags('#EXT-X-TARGETDURATION');
  const target = targets.length === 1 ? Number(targets[0]?.value) : Number.NaN;
  if (targets.length !== 1 || !Number.isInteger(target) || target < 1)
    problems.push('EXT-X-TARGETDURATION is not one integer ≥ 1');
  if (tags('#EXT-X-PLAYLIST-TYPE')[0]?.value !== 'VOD') problems.push('not EXT-X-PLAYLIST-TYPE:VOD');
  if (tags('#EXT-X-ENDLIST').length !== 1) problems.push('no EXT-X-ENDLIST');
  if (lines.some((l) => 'tag' in l && (l.tag === '#EXT-X-STREAM-INF' || l.tag === '#EXT-X-MEDIA'))) {
    problems.push('multivariant tags in a media playlist');
  }

  const size = sizeOf(t, opts);
  const count = t.times.length - 1;
  const firstUri = lines.findIndex((l) => 'uri' in l);
  const mapAt = lines.findIndex((l) => 'tag' in l && l.tag === '#EXT-X-MAP');
  if (mapAt < 0 || (firstUri >= 0 && mapAt > firstUri)) problems.push('no EXT-X-MAP before the first segment');
  else {
    const map = attributes((lines[mapAt] as { value: string }).value);
    const uri = unquote(map.get('URI')) ?? '';
    if (form === 'segments') {
      resolvesTo(index, uri, (p) => p.kind === 'init' && p.track === t, 'EXT-X-MAP', problems);
    } else {
      resolvesTo(index, uri, (p) => p.kind === 'single' && p.track === t, 'EXT-X-MAP', problems);
      const r = /^(\d+)@(\d+)$/.exec(unquote(map.get('BYTERANGE')) ?? '');
      const [len, off] = r === null ? [Number.NaN, Number.NaN] : [Number(r[1]), Number(r[2])];
      if (off !== t.init[0] || off + len !== t.init[1] || off + len > size) {
        problems.push(
          `EXT-X-MAP BYTERANGE ${map.get('BYTERANGE')} is not the init segment ${t.init[1] - t.init[0]}@${t.init[0]}`,
        );
      }
    }
  }

  // Segments: EXTINF, maybe EXT-X-BYTERANGE, then the URI.
  let duration: number | undefined;
  let range: { len: number; off: number | undefined } | undefined;
  let segment = 0;
  let end = t.segments[0] as number;
  let total = 0;
  for (const l of lines) {
    if ('tag' in l) {
      if (l.tag === '#EXTINF') duration = Number(l.value.split(',')[0]);
      if (l.tag === '#EXT-X-BYTERANGE') {
        const m = /^(\d+)(?:@(\d+))?$/.exec(l.value);
        range =
          m === null
            ? { len: Number.NaN, off: undefined }
            : { len: Number(m[1]), off: m[2] === undefined ? undefined : Number(m[2]) };
      }
      continue;
    }
    const where = `segment ${segment} (line ${l.line})`;
    if (duration === undefined || !(duration >= 0)) problems.push(`${where} has no EXTINF`);
    else {
      total += duration;
      // Math.round rounds halves up, as players do when they compare with the target.
      if (Math.round(duration) > target) problems.push(`${where}: EXTINF ${duration} rounds above the target duration ${target}`);
      const exact = ((t.times[segment + 1] ?? Number.NaN) - (t.times[segment] ?? Number.NaN)) / t.timescale;
      if (!(Math.abs(duration - exact) <= 1e-6)) problems.push(`${where}: EXTINF ${duration}, not ${exact}`);
    }
    if (form === 'segments') {
      resolvesTo(index, l.uri, (p) => p.kind === 'segment' && p.track === t && p.segment === segment, where, problems);
      if (range !== undefined) problems.push(`${where} has a byte range`);
    } else {
      resolvesTo(index, l.uri, (p) => p.kind === 'single' && p.track === t, where, problems);
      if (range === undefined) problems.push(`${where} has no EXT-X-BYTERANGE`);
      else {
        const off = range.off ?? end;
        if (off !== end) problems.push(`${where}: starts at ${off}, not where the previous ended (${end})`);
        if (off !== t.segments[segment] || off + range.len !== t.segments[segment + 1]) {
          problems.push(
            `${where}: bytes ${range.len}@${off}, not the index's [${t.segments[segment]}, ${t.segments[segment + 1]})`,
          );
        }
        if (off + range.len > size) problems.push(`${where}: ends past the file (${size} bytes)`);
        end = off + range.len;
      }
    }
    segment++;
    duration = undefined;
    range = undefined;
  }
  if (segment !== count) problems.push(`${segment} segments, not ${count}`);
  const span = ((t.times[count] as number) - (t.times[0] as number)) / t.timescale;
  if (!(Math.abs(total - span) <= count * 1e-6)) problems.push(`EXTINFs sum to ${total} s, not ${span}`);
  return problems;
}

/**
 * Every manifest of a presentation in `form` — the MPD when the layout offers DASH, the
 * multivariant playlist and every media playlist when it offers HLS — fetched by name
 * through `get` (the server's answer, say), checked by the rules above. Keys of the result
 * are names; only names with problems appear.
 */
export async function presentationProblems(
  index: PresentationIndex,
  form: ManifestForm,
  get: (name: string) => Promise<string> | string,
  opts: RuleOptions = {},
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const note = (name: string, problems: string[]) => {
    if (problems.length > 0) out.set(name, problems);
  };
  if (offersDash(index.layout)) note(mpdName(form), mpdProblems(await get(mpdName(form)), index, form, opts));
  if (offersHls(index.layout)) {
    note(multivariantName(form), multivariantProblems(await get(multivariantName(form)), index, form));
    for (const t of index.tracks) {
      const name = playlistName(t.id, form);
      note(name, mediaPlaylistProblems(await get(name), index, t.id, form, opts));
    }
  }
  return out;
}
