// DASH MPD manifest (ISO/IEC 23009-1): periods, representations and their fully resolved segment URLs.
import { VvfError } from '../errors.js';
import { type Limits, resolveLimits } from '../limits.js';
import { UrlTemplate } from './mpd-template.js';
import {
  addR,
  ceilDiv,
  invalid,
  type MpdLocation,
  parseByteRange,
  parseDuration,
  parseInt53,
  parseUint,
  type Rational,
  subR,
  toSeconds,
  ZERO,
} from './mpd-values.js';
import { attr, child, children, parseMpdXml, text, type XmlNode } from './mpd-xml.js';

/** An inclusive byte range, as in HTTP ranges and DASH `@range="first-last"`. */
export interface MpdByteRange {
  start: number;
  end: number;
}

/** One segment (or initialization segment): an absolute URL, maybe a byte range of it, and its timing when known. */
export interface MpdSegmentRef {
  url: string;
  range?: MpdByteRange;
  /** Media time of the segment start, in the representation's timescale. */
  time?: number;
  /** Duration in the representation's timescale (nominal: the last one may run past the period end). */
  duration?: number;
  /** The segment's `$Number$`. */
  number?: number;
}

/** One Representation with everything it inherits from its AdaptationSet and Period resolved. */
export interface MpdRepresentation {
  id: string;
  bandwidth: number;
  mimeType?: string;
  codecs?: string;
  contentType: 'video' | 'audio' | 'text' | 'other';
  width?: number;
  height?: number;
  audioSamplingRate?: number;
  lang?: string;
  adaptationSetId?: string;
  /** Units of `time`/`duration` in the segment refs (SegmentTemplate/SegmentList default 1; SegmentBase only when given). */
  timescale?: number;
  addressing: 'SegmentBase' | 'SegmentTemplate' | 'SegmentList' | 'BaseURL';
  /** Initialization segment (SegmentTemplate@initialization, SegmentList/Initialization, SegmentBase/Initialization@range). */
  init?: MpdSegmentRef;
  /** For SegmentBase: the sidx byte range (@indexRange) in `mediaUrl`. */
  indexRange?: MpdByteRange;
  /**
   * Media segments in order, with absolute URLs. Empty for SegmentBase and plain BaseURL
   * representations: their one file is `mediaUrl`.
   */
  segments: MpdSegmentRef[];
  /** The file URL for SegmentBase / plain BaseURL representations. */
  mediaUrl?: string;
  /**
   * @presentationTimeOffset in `timescale` units, when not 0: the media time the period starts
   * presenting at (for media whose init segment has no edit list to say so).
   */
  presentationTimeOffset?: number;
  /** A ContentProtection element applies (on the AdaptationSet or the Representation). */
  encrypted: boolean;
}

/** One Period: its place on the presentation timeline and its representations. */
export interface MpdPeriod {
  id?: string;
  startSeconds: number;
  durationSeconds?: number;
  representations: MpdRepresentation[];
}

/** A parsed MPD. */
export interface MpdManifest {
  type: 'static' | 'dynamic';
  durationSeconds?: number;
  periods: MpdPeriod[];
}

type Addressing = 'SegmentTemplate' | 'SegmentList' | 'SegmentBase';
// When one level holds several (invalid), the most specific kind wins.
const ADDRESSING: readonly Addressing[] = ['SegmentTemplate', 'SegmentList', 'SegmentBase'];
const PROTOCOLS = new Set(['http:', 'https:', 'file:']);
// The per-representation cap is maxSegments; the whole manifest may hold maxManifestSegments,
// and never more than a few times maxSegments (so that lowering one lowers both).
const TOTAL_SEGMENTS_FACTOR = 4;

/** Segments (and SegmentTimeline entries) a whole manifest may hold. */
function manifestCap(limits: Limits): number {
  return Math.min(limits.maxManifestSegments, limits.maxSegments * TOTAL_SEGMENTS_FACTOR);
}

interface Context {
  source: string;
  limits: Limits;
  dynamic: boolean;
  /** An http(s) manifest may only point at http(s) URLs, never at local files. */
  remote: boolean;
  /** Segments expanded so far in the whole manifest. */
  total: number;
  /** S elements walked so far: an inherited timeline is walked once per representation. */
  timelineEntries: number;
}

interface PeriodContext {
  /** Period duration in seconds, when known. */
  duration: Rational | undefined;
}

/** One run of equal-duration segments from a SegmentTimeline. */
interface TimelineRun {
  t: number;
  d: number;
  n: number;
}

/**
 * Parses a DASH MPD into periods and representations, with every segment URL resolved against
 * the BaseURL chain and `manifestUrl` (an http(s): or file: URL). Pure: no I/O.
 *
 * Throws VvfError: MANIFEST_INVALID (malformed XML or values), UNKNOWN_FORMAT (root is not MPD),
 * UNSUPPORTED (dynamic manifests without a finite timeline, xlink remote elements),
 * STRUCTURE_LIMIT (more than `maxSegments` segments in a representation, or `maxManifestSegments`
 * (at most four times maxSegments) in the manifest), METADATA_LIMIT (text longer than `maxManifestBytes`), NUMBER_TOO_LARGE.
 */
export function parseMpd(xml: string, manifestUrl: string, limits?: Partial<Limits>): MpdManifest {
  const lim = resolveLimits(limits);
  const source = manifestUrl;
  // UTF-8 takes at least one byte per UTF-16 unit and at most three.
  if (
    xml.length > lim.maxManifestBytes ||
    (xml.length * 3 > lim.maxManifestBytes && Buffer.byteLength(xml) > lim.maxManifestBytes)
  ) {
    throw new VvfError('METADATA_LIMIT', `manifest is larger than ${lim.maxManifestBytes} bytes`, { source });
  }
  let manifestBase: URL;
  try {
    manifestBase = new URL(manifestUrl);
  } catch (e) {
    throw new VvfError('USAGE', `manifest URL ${JSON.stringify(manifestUrl)} is not an absolute URL`, { source }, { cause: e });
  }
  if (!PROTOCOLS.has(manifestBase.protocol)) {
    throw new VvfError('USAGE', `manifest URL scheme ${manifestBase.protocol} is not supported`, { source });
  }

  const root = parseMpdXml(xml, source);
  const loc = (path: string): MpdLocation => ({ source, path });
  const type = attr(root, 'type') ?? 'static';
  if (type !== 'static' && type !== 'dynamic')
    throw invalid(`MPD@type must be static or dynamic, not ${JSON.stringify(type)}`, loc('MPD@type'));
  const ctx: Context = {
    source,
    limits: lim,
    dynamic: type === 'dynamic',
    remote: manifestBase.protocol !== 'file:',
    total: 0,
    timelineEntries: 0,
  };
  const mpdDurationAttr = attr(root, 'mediaPresentationDuration');
  const mpdDuration =
    mpdDurationAttr === undefined ? undefined : parseDuration(mpdDurationAttr, loc('MPD@mediaPresentationDuration'));
  const mpdBase = resolveBase(root, manifestBase, ctx, 'MPD');

  const periodNodes = children(root, 'Period');
  if (periodNodes.length === 0) throw invalid('the MPD has no Period', loc('MPD'));
  const timing = periodTiming(periodNodes, mpdDuration, ctx);

  const periods: MpdPeriod[] = [];
  periodNodes.forEach((pNode, pi) => {
    const pPath = `MPD/Period[${pi}]`;
    rejectRemote(pNode, ctx, pPath);
    const { start, duration } = timing[pi]!;
    const pBase = resolveBase(pNode, mpdBase, ctx, pPath);
    const pctx: PeriodContext = { duration };
    const representations: MpdRepresentation[] = [];
    children(pNode, 'AdaptationSet').forEach((asNode, ai) => {
      const asPath = `${pPath}/AdaptationSet[${ai}]`;
      rejectRemote(asNode, ctx, asPath);
      const asBase = resolveBase(asNode, pBase, ctx, asPath);
      children(asNode, 'Representation').forEach((repNode, ri) => {
        const repPath = `${asPath}/Representation[${ri}]`;
        const repBase = resolveBase(repNode, asBase, ctx, repPath);
        representations.push(buildRepresentation(pNode, asNode, repNode, repBase, ctx, pctx, repPath));
      });
    });
    const period: MpdPeriod = { startSeconds: toSeconds(start), representations };
    const id = attr(pNode, 'id');
    if (id !== undefined) period.id = id;
    if (duration !== undefined) period.durationSeconds = toSeconds(duration);
    periods.push(period);
  });

  const manifest: MpdManifest = { type, periods };
  const last = timing[timing.length - 1]!;
  const total = mpdDuration ?? (last.duration === undefined ? undefined : addR(last.start, last.duration));
  if (total !== undefined) manifest.durationSeconds = toSeconds(total);
  return manifest;
}

/**
 * Each period's start and duration: @start, else the previous period's end; @duration, else up to
 * the next period's @start, else (last period) up to the MPD's mediaPresentationDuration.
 */
function periodTiming(
  nodes: XmlNode[],
  mpdDuration: Rational | undefined,
  ctx: Context,
): { start: Rational; duration: Rational | undefined }[] {
  const at = (i: number, name: string): MpdLocation => ({ source: ctx.source, path: `MPD/Period[${i}]@${name}` });
  const explicitStart = (i: number): Rational | undefined => {
    const s = attr(nodes[i]!, 'start');
    return s === undefined ? undefined : parseDuration(s, at(i, 'start'));
  };
  const out: { start: Rational; duration: Rational | undefined }[] = [];
  let start = explicitStart(0) ?? ZERO;
  for (let i = 0; i < nodes.length; i++) {
    const durAttr = attr(nodes[i]!, 'duration');
    const nextStart = i + 1 < nodes.length ? explicitStart(i + 1) : undefined;
    let duration: Rational | undefined;
    if (durAttr !== undefined) duration = parseDuration(durAttr, at(i, 'duration'));
    else if (nextStart !== undefined) duration = subR(nextStart, start);
    else if (i === nodes.length - 1 && mpdDuration !== undefined) duration = subR(mpdDuration, start);
    if (duration !== undefined && duration.n < 0n) throw invalid('the period ends before it starts', at(i, 'start'));
    out.push({ start, duration });
    if (i + 1 < nodes.length) {
      if (nextStart !== undefined) start = nextStart;
      else if (duration !== undefined) start = addR(start, duration);
      else throw invalid('the period has no @start and the previous one no duration', at(i + 1, 'start'));
    }
  }
  return out;
}

/** xlink remote elements would need fetching; this parser does no I/O. */
function rejectRemote(node: XmlNode, ctx: Context, path: string): void {
  if (attr(node, 'href') !== undefined) {
    throw new VvfError('UNSUPPORTED', 'remote (xlink:href) MPD elements are not supported', { source: ctx.source, path });
  }
}

/** The element's first BaseURL resolved against `base` (alternates for other CDNs are ignored). */
function resolveBase(node: XmlNode, base: URL, ctx: Context, path: string): URL {
  const b = child(node, 'BaseURL');
  if (b === undefined) return base;
  const rel = text(b);
  return rel === '' ? base : resolveUrl(rel, base, ctx, `${path}/BaseURL`);
}

// A relative path of plain characters, with no "." or ".." segment, resolves by appending it to the
// base's directory: a fast path for the million URLs a template can make (new URL costs ~1 µs).
const PLAIN_RELATIVE = /^[A-Za-z0-9_~\-.][A-Za-z0-9_~\-./]*$/;
const DOT_SEGMENT = /(?:^|\/)\.{1,2}(?:\/|$)/;

/** Resolves many segment URLs against one base. */
class SegmentUrls {
  private readonly dir: string;
  constructor(
    private readonly base: URL,
    private readonly ctx: Context,
  ) {
    this.dir = new URL('./', base).href;
  }
  href(rel: string, path: string): string {
    if (PLAIN_RELATIVE.test(rel) && !DOT_SEGMENT.test(rel)) return this.dir + rel;
    return resolveUrl(rel, this.base, this.ctx, path).href;
  }
}

function resolveUrl(rel: string, base: URL, ctx: Context, path: string): URL {
  let u: URL;
  try {
    u = new URL(rel, base);
  } catch (e) {
    throw new VvfError('MANIFEST_INVALID', `invalid URL ${JSON.stringify(rel)}`, { source: ctx.source, path }, { cause: e });
  }
  if (!PROTOCOLS.has(u.protocol) || (ctx.remote && u.protocol === 'file:')) {
    throw invalid(`URL scheme ${u.protocol} is not allowed here`, { source: ctx.source, path });
  }
  return u;
}

/** The addressing element that applies: the most specific level's kind, its attributes and children merged down the levels. */
function mergeSegmentInfo(levels: XmlNode[]): { kind: Addressing; info: XmlNode } | undefined {
  let kind: Addressing | undefined;
  for (let i = levels.length - 1; i >= 0 && kind === undefined; i--) {
    kind = ADDRESSING.find((k) => child(levels[i]!, k) !== undefined);
  }
  if (kind === undefined) return undefined;
  // Lower levels override attributes one by one, and child elements (SegmentTimeline, Initialization, …) as a whole.
  const merged: Record<string, unknown> = {};
  for (const level of levels) {
    const el = child(level, kind);
    if (el === undefined) continue;
    for (const key of Object.keys(el)) merged[key] = el[key];
  }
  return { kind, info: merged };
}

function buildRepresentation(
  period: XmlNode,
  as: XmlNode,
  rep: XmlNode,
  repBase: URL,
  ctx: Context,
  pctx: PeriodContext,
  path: string,
): MpdRepresentation {
  const at = (name: string): MpdLocation => ({ source: ctx.source, path: `${path}@${name}` });
  const inherited = (name: string): string | undefined => attr(rep, name) ?? attr(as, name);
  const optUint = (name: string): number | undefined => {
    const v = inherited(name);
    return v === undefined ? undefined : parseUint(v, at(name));
  };

  const id = attr(rep, 'id');
  if (id === undefined) throw invalid('Representation has no @id', at('id'));
  const bandwidthAttr = attr(rep, 'bandwidth');
  if (bandwidthAttr === undefined) throw invalid('Representation has no @bandwidth', at('bandwidth'));
  const bandwidth = parseUint(bandwidthAttr, at('bandwidth'));
  const mimeType = inherited('mimeType');
  const codecs = inherited('codecs');
  const contentType = classify(inherited('contentType'), mimeType, codecs);
  const encrypted = children(as, 'ContentProtection').length > 0 || children(rep, 'ContentProtection').length > 0;

  const seg = mergeSegmentInfo([period, as, rep]);
  let r: MpdRepresentation;
  if (seg === undefined) {
    r = {
      id,
      bandwidth,
      contentType,
      addressing: 'BaseURL',
      segments: [],
      mediaUrl: repBase.href,
      encrypted,
    };
  } else {
    const segPath = `${path}/${seg.kind}`;
    if (seg.kind === 'SegmentList') rejectRemote(seg.info, ctx, segPath);
    const addressed =
      seg.kind === 'SegmentTemplate'
        ? templateSegments(seg.info, repBase, id, bandwidth, ctx, pctx, segPath)
        : seg.kind === 'SegmentList'
          ? listSegments(seg.info, repBase, ctx, pctx, segPath)
          : baseSegments(seg.info, repBase, ctx, segPath);
    r = { id, bandwidth, contentType, addressing: seg.kind, ...addressed, encrypted };
  }
  if (mimeType !== undefined) r.mimeType = mimeType;
  if (codecs !== undefined) r.codecs = codecs;
  const width = optUint('width');
  if (width !== undefined) r.width = width;
  const height = optUint('height');
  if (height !== undefined) r.height = height;
  // May list two rates (core and SBR): the first is the one the decoder starts from.
  const rate = inherited('audioSamplingRate')?.trim().split(/\s+/)[0];
  if (rate !== undefined) r.audioSamplingRate = parseUint(rate, at('audioSamplingRate'));
  const lang = inherited('lang');
  if (lang !== undefined) r.lang = lang;
  const asId = attr(as, 'id');
  if (asId !== undefined) r.adaptationSetId = asId;
  return r;
}

type Addressed = Pick<
  MpdRepresentation,
  'segments' | 'init' | 'indexRange' | 'mediaUrl' | 'timescale' | 'presentationTimeOffset'
>;

/** Timing attributes shared by SegmentTemplate and SegmentList (MultipleSegmentBaseType). */
function timing(info: XmlNode, ctx: Context, path: string) {
  const at = (name: string): MpdLocation => ({ source: ctx.source, path: `${path}@${name}` });
  const opt = (name: string): number | undefined => {
    const v = attr(info, name);
    return v === undefined ? undefined : parseUint(v, at(name));
  };
  const timescale = opt('timescale') ?? 1;
  if (timescale === 0) throw invalid('@timescale must not be 0', at('timescale'));
  const duration = opt('duration');
  if (duration === 0) throw invalid('@duration must not be 0', at('duration'));
  return {
    timescale,
    duration,
    presentationTimeOffset: opt('presentationTimeOffset') ?? 0,
    startNumber: opt('startNumber') ?? 1,
    endNumber: opt('endNumber'),
  };
}

function templateSegments(
  info: XmlNode,
  repBase: URL,
  representationId: string,
  bandwidth: number,
  ctx: Context,
  pctx: PeriodContext,
  path: string,
): Addressed {
  const loc = (name: string): MpdLocation => ({ source: ctx.source, path: `${path}@${name}` });
  const t = timing(info, ctx, path);
  const out: Addressed = {
    segments: [],
    timescale: t.timescale,
    ...(t.presentationTimeOffset > 0 ? { presentationTimeOffset: t.presentationTimeOffset } : {}),
  };

  const initAttr = attr(info, 'initialization');
  const initEl = child(info, 'Initialization');
  if (initAttr !== undefined) {
    const url = new UrlTemplate(initAttr, loc('initialization')).expand({ representationId, bandwidth }, loc('initialization'));
    out.init = { url: resolveUrl(url, repBase, ctx, `${path}@initialization`).href };
  } else if (initEl !== undefined) {
    out.init = initRef(initEl, repBase, ctx, `${path}/Initialization`);
  }

  const mediaAttr = attr(info, 'media');
  if (mediaAttr === undefined) throw invalid('SegmentTemplate has no @media', loc('media'));
  const media = new UrlTemplate(mediaAttr, loc('media'));
  const urls = new SegmentUrls(repBase, ctx);
  const segment = (number: number, time: number, duration: number | undefined): MpdSegmentRef => {
    const rel = media.expand({ representationId, bandwidth, number, time }, loc('media'));
    const ref: MpdSegmentRef = { url: urls.href(rel, `${path}@media`), number, time };
    if (duration !== undefined) ref.duration = duration;
    return ref;
  };

  const timeline = child(info, 'SegmentTimeline');
  if (timeline !== undefined) {
    const { runs, count } = timelineRuns(timeline, t.timescale, t.presentationTimeOffset, ctx, pctx, `${path}/SegmentTimeline`);
    checkNumbers(t.startNumber, count, ctx, path);
    reserve(count, ctx, path);
    let number = t.startNumber;
    for (const run of runs) {
      for (let k = 0; k < run.n; k++) out.segments.push(segment(number++, run.t + k * run.d, run.d));
    }
  } else if (t.duration !== undefined) {
    if (ctx.dynamic) {
      throw new VvfError('UNSUPPORTED', 'a dynamic manifest with SegmentTemplate@duration has no finite segment list', {
        source: ctx.source,
        path,
      });
    }
    if (pctx.duration === undefined) throw invalid('cannot count segments: the period duration is unknown', loc('duration'));
    // Fixed-duration segments cover the period: ceil(periodDuration * timescale / duration), exactly.
    let count = ceilDiv(pctx.duration.n * BigInt(t.timescale), pctx.duration.d * BigInt(t.duration));
    if (t.endNumber !== undefined) {
      const byEnd = BigInt(t.endNumber) - BigInt(t.startNumber) + 1n;
      if (byEnd < count) count = byEnd < 0n ? 0n : byEnd;
    }
    const n = reserveBig(count, ctx, path);
    checkNumbers(t.startNumber, n, ctx, path);
    if (!Number.isSafeInteger(t.presentationTimeOffset + n * t.duration)) {
      throw new VvfError('NUMBER_TOO_LARGE', 'segment times exceed 2^53', { source: ctx.source, path });
    }
    for (let i = 0; i < n; i++)
      out.segments.push(segment(t.startNumber + i, t.presentationTimeOffset + i * t.duration, t.duration));
  } else {
    // Neither a timeline nor a duration: the representation is one segment.
    reserve(1, ctx, path);
    out.segments.push(segment(t.startNumber, t.presentationTimeOffset, undefined));
  }
  return out;
}

function listSegments(info: XmlNode, repBase: URL, ctx: Context, pctx: PeriodContext, path: string): Addressed {
  const t = timing(info, ctx, path);
  const out: Addressed = {
    segments: [],
    timescale: t.timescale,
    ...(t.presentationTimeOffset > 0 ? { presentationTimeOffset: t.presentationTimeOffset } : {}),
  };
  const initEl = child(info, 'Initialization');
  if (initEl !== undefined) out.init = initRef(initEl, repBase, ctx, `${path}/Initialization`);

  const segmentUrls = children(info, 'SegmentURL');
  reserve(segmentUrls.length, ctx, path);
  checkNumbers(t.startNumber, segmentUrls.length, ctx, path);
  const urls = new SegmentUrls(repBase, ctx);
  // Times come from the timeline when there is one, else from the fixed @duration.
  const times: number[] = [];
  const durations: number[] = [];
  const timeline = child(info, 'SegmentTimeline');
  if (timeline !== undefined) {
    const { runs } = timelineRuns(timeline, t.timescale, t.presentationTimeOffset, ctx, pctx, `${path}/SegmentTimeline`);
    for (const run of runs) {
      for (let k = 0; k < run.n && times.length < segmentUrls.length; k++) {
        times.push(run.t + k * run.d);
        durations.push(run.d);
      }
    }
  } else if (t.duration !== undefined) {
    if (!Number.isSafeInteger(t.presentationTimeOffset + segmentUrls.length * t.duration)) {
      throw new VvfError('NUMBER_TOO_LARGE', 'segment times exceed 2^53', { source: ctx.source, path });
    }
    for (let i = 0; i < segmentUrls.length; i++) {
      times.push(t.presentationTimeOffset + i * t.duration);
      durations.push(t.duration);
    }
  }
  segmentUrls.forEach((u, i) => {
    const uPath = `${path}/SegmentURL[${i}]`;
    const media = attr(u, 'media');
    const ref: MpdSegmentRef = {
      url: media === undefined ? repBase.href : urls.href(media, `${uPath}@media`),
    };
    const range = attr(u, 'mediaRange');
    if (range !== undefined) ref.range = parseByteRange(range, { source: ctx.source, path: `${uPath}@mediaRange` });
    const time = times[i];
    if (time !== undefined) ref.time = time;
    const duration = durations[i];
    if (duration !== undefined) ref.duration = duration;
    ref.number = t.startNumber + i;
    out.segments.push(ref);
  });
  return out;
}

function baseSegments(info: XmlNode, repBase: URL, ctx: Context, path: string): Addressed {
  const loc = (name: string): MpdLocation => ({ source: ctx.source, path: `${path}@${name}` });
  const out: Addressed = { segments: [], mediaUrl: repBase.href };
  const ts = attr(info, 'timescale');
  if (ts !== undefined) {
    out.timescale = parseUint(ts, loc('timescale'));
    if (out.timescale === 0) throw invalid('@timescale must not be 0', loc('timescale'));
  }
  const pto = attr(info, 'presentationTimeOffset');
  if (pto !== undefined) {
    const v = parseUint(pto, loc('presentationTimeOffset'));
    if (v > 0) out.presentationTimeOffset = v;
  }
  const indexRange = attr(info, 'indexRange');
  if (indexRange !== undefined) out.indexRange = parseByteRange(indexRange, loc('indexRange'));
  const initEl = child(info, 'Initialization');
  if (initEl !== undefined) out.init = initRef(initEl, repBase, ctx, `${path}/Initialization`);
  return out;
}

/** An Initialization (or RepresentationIndex-like) element: @sourceURL, defaulting to the BaseURL, and @range. */
function initRef(el: XmlNode, repBase: URL, ctx: Context, path: string): MpdSegmentRef {
  const src = attr(el, 'sourceURL');
  const ref: MpdSegmentRef = { url: src === undefined ? repBase.href : resolveUrl(src, repBase, ctx, `${path}@sourceURL`).href };
  const range = attr(el, 'range');
  if (range !== undefined) ref.range = parseByteRange(range, { source: ctx.source, path: `${path}@range` });
  return ref;
}

/**
 * The runs of a SegmentTimeline, counted before anything is expanded: S@r can claim 2^31 repeats,
 * and a negative @r repeats up to the next S@t or the period end.
 */
function timelineRuns(
  timeline: XmlNode,
  timescale: number,
  presentationTimeOffset: number,
  ctx: Context,
  pctx: PeriodContext,
  path: string,
): { runs: TimelineRun[]; count: number } {
  const max = ctx.limits.maxSegments;
  const ss = children(timeline, 'S');
  if (ss.length > max) throw segmentLimit(ss.length, ctx, path);
  // S elements that make no segment (a negative @r up to an equal @t) still cost time.
  ctx.timelineEntries += ss.length;
  if (ctx.timelineEntries > manifestCap(ctx.limits)) {
    throw new VvfError(
      'STRUCTURE_LIMIT',
      `the manifest's SegmentTimelines hold more than ${manifestCap(ctx.limits)} entries (limit maxManifestSegments)`,
      {
        source: ctx.source,
        path,
      },
    );
  }
  const runs: TimelineRun[] = [];
  let time = 0; // The first S without @t starts at 0.
  let count = 0;
  for (let i = 0; i < ss.length; i++) {
    const s = ss[i]!;
    const at = (name: string): MpdLocation => ({ source: ctx.source, path: `${path}/S[${i}]@${name}` });
    const tAttr = attr(s, 't');
    // A @t jumps: gaps and resets are honoured as written.
    if (tAttr !== undefined) time = parseUint(tAttr, at('t'));
    const dAttr = attr(s, 'd');
    if (dAttr === undefined) throw invalid('S has no @d', at('d'));
    const d = parseUint(dAttr, at('d'));
    if (d === 0) throw invalid('S@d must not be 0', at('d'));
    const rAttr = attr(s, 'r');
    const r = rAttr === undefined ? 0 : parseInt53(rAttr, at('r'));
    let n: bigint;
    if (r >= 0) {
      n = BigInt(r) + 1n;
    } else {
      const next = ss[i + 1];
      const nextT = next === undefined ? undefined : attr(next, 't');
      if (nextT !== undefined) {
        n = ceilDiv(BigInt(parseUint(nextT, { source: ctx.source, path: `${path}/S[${i + 1}]@t` })) - BigInt(time), BigInt(d));
      } else if (ctx.dynamic) {
        throw new VvfError(
          'UNSUPPORTED',
          'a dynamic manifest with an open-ended SegmentTimeline has no finite segment list',
          at('r'),
        );
      } else if (pctx.duration === undefined) {
        throw invalid('S@r is negative but the period duration is unknown', at('r'));
      } else {
        // Up to the period end in media time: presentationTimeOffset + periodDuration * timescale.
        const pd = pctx.duration;
        const endN = BigInt(presentationTimeOffset) * pd.d + pd.n * BigInt(timescale);
        n = ceilDiv(endN - BigInt(time) * pd.d, BigInt(d) * pd.d);
      }
      if (n < 0n) n = 0n;
    }
    if (BigInt(count) + n > BigInt(max)) throw segmentLimit(BigInt(count) + n, ctx, path);
    const k = Number(n);
    const end = time + k * d;
    if (!Number.isSafeInteger(end)) throw new VvfError('NUMBER_TOO_LARGE', 'segment times exceed 2^53', at('d'));
    if (k > 0) runs.push({ t: time, d, n: k });
    count += k;
    time = end;
  }
  return { runs, count };
}

/** Counts `n` more segments against the per-representation and per-manifest caps, before they are made. */
function reserve(n: number, ctx: Context, path: string): void {
  const max = ctx.limits.maxSegments;
  if (n > max) throw segmentLimit(n, ctx, path);
  if (ctx.total + n > manifestCap(ctx.limits)) {
    throw new VvfError(
      'STRUCTURE_LIMIT',
      `the manifest lists more than ${manifestCap(ctx.limits)} segments (limit maxManifestSegments)`,
      {
        source: ctx.source,
        path,
      },
    );
  }
  ctx.total += n;
}

function reserveBig(n: bigint, ctx: Context, path: string): number {
  if (n > BigInt(ctx.limits.maxSegments)) throw segmentLimit(n, ctx, path);
  const k = Number(n);
  reserve(k, ctx, path);
  return k;
}

function checkNumbers(startNumber: number, count: number, ctx: Context, path: string): void {
  if (!Number.isSafeInteger(startNumber + count)) {
    throw new VvfError('NUMBER_TOO_LARGE', 'segment numbers exceed 2^53', { source: ctx.source, path });
  }
}

function segmentLimit(n: number | bigint, ctx: Context, path: string): VvfError {
  return new VvfError('STRUCTURE_LIMIT', `${n} segments exceed the limit of ${ctx.limits.maxSegments} (limit maxSegments)`, {
    source: ctx.source,
    path,
  });
}

const CODEC_TYPES: Record<string, 'video' | 'audio' | 'text'> = {};
for (const c of [
  'avc1',
  'avc2',
  'avc3',
  'avc4',
  'hev1',
  'hvc1',
  'dvh1',
  'dvhe',
  'dva1',
  'dvav',
  'dav1',
  'vp08',
  'vp09',
  'av01',
  'mp4v',
  'vvc1',
  'vvi1',
]) {
  CODEC_TYPES[c] = 'video';
}
for (const c of [
  'mp4a',
  'ac-3',
  'ec-3',
  'ac-4',
  'opus',
  'flac',
  'fLaC',
  'alac',
  'dtsc',
  'dtse',
  'dtsh',
  'dtsl',
  'dtsx',
  'mha1',
  'mhm1',
  'mhm2',
]) {
  CODEC_TYPES[c] = 'audio';
}
for (const c of ['stpp', 'wvtt', 'tx3g', 'c608', 'c708', 'ttml', 'vtt']) CODEC_TYPES[c] = 'text';

/** @contentType, else the mimeType's top-level type, else the first codec's 4CC. */
function classify(
  contentType: string | undefined,
  mimeType: string | undefined,
  codecs: string | undefined,
): MpdRepresentation['contentType'] {
  if (contentType !== undefined) {
    const c = contentType.trim();
    return c === 'video' || c === 'audio' || c === 'text' ? c : 'other';
  }
  const mime = mimeType?.trim().toLowerCase();
  const top = mime?.split('/')[0];
  if (top === 'video' || top === 'audio' || top === 'text') return top;
  if (mime === 'application/ttml+xml') return 'text';
  const fourcc = codecs?.split(',')[0]?.trim().split('.')[0];
  return (fourcc !== undefined && Object.hasOwn(CODEC_TYPES, fourcc) ? CODEC_TYPES[fourcc] : undefined) ?? 'other';
}
