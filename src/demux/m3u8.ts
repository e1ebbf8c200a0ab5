// HLS playlists (RFC 8216): multivariant playlists (variants, renditions) and media playlists (segments, maps, byte ranges).
import { VvfError } from '../errors.js';
import { type Limits, resolveLimits } from '../limits.js';

/** An inclusive byte range, as DASH ranges are: `start` to `end`, both included. */
export interface HlsByteRange {
  start: number;
  end: number;
}

/** A Media Initialization Section (EXT-X-MAP): an absolute URL, maybe a byte range of it. */
export interface HlsMap {
  url: string;
  range?: HlsByteRange;
}

/** One media segment: an absolute URL, maybe a byte range of it. */
export interface HlsSegment {
  url: string;
  range?: HlsByteRange;
  /** EXTINF duration in seconds (nominal: the samples' durations are what count). */
  duration: number;
  /** Index in `maps` of the EXT-X-MAP in force, -1 before any. */
  map: number;
  /** An EXT-X-DISCONTINUITY comes before this segment. */
  discontinuity: boolean;
}

/** A media playlist: the segments of one rendition. */
export interface HlsMediaPlaylist {
  kind: 'media';
  url: string;
  maps: HlsMap[];
  segments: HlsSegment[];
  /** EXT-X-ENDLIST: no segment will be added. */
  endList: boolean;
  /** EXT-X-PLAYLIST-TYPE. */
  playlistType?: 'VOD' | 'EVENT';
}

/** A variant stream (EXT-X-STREAM-INF and the URI line after it). */
export interface HlsVariant {
  url: string;
  bandwidth: number;
  averageBandwidth?: number;
  codecs?: string;
  width?: number;
  height?: number;
  /** GROUP-IDs of the renditions the variant plays with. */
  audio?: string;
  video?: string;
  subtitles?: string;
}

/** An alternative rendition (EXT-X-MEDIA) that has its own media playlist. */
export interface HlsRendition {
  type: 'AUDIO' | 'VIDEO' | 'SUBTITLES';
  url: string;
  groupId: string;
  name: string;
  language?: string;
  isDefault: boolean;
}

/** A multivariant (master) playlist. */
export interface HlsMultivariantPlaylist {
  kind: 'multivariant';
  url: string;
  variants: HlsVariant[];
  renditions: HlsRendition[];
}

export type HlsPlaylist = HlsMediaPlaylist | HlsMultivariantPlaylist;

/**
 * Entries counted across the playlists of one presentation (a multivariant playlist and its media
 * playlists), against maxManifestSegments; pass the same object to every parse of one presentation.
 */
export interface HlsParseBudget {
  entries: number;
}

const PROTOCOLS = new Set(['http:', 'https:', 'file:']);
// As for DASH: a presentation may hold maxManifestSegments entries, never more than four renditions' worth.
const TOTAL_SEGMENTS_FACTOR = 4;
const ATTRIBUTE_NAME = /^[A-Z0-9-]+$/;

/** Tags that only media playlists hold; a playlist with one of these and EXT-X-STREAM-INF is invalid. */
const MEDIA_TAGS = new Set(['EXTINF', 'EXT-X-TARGETDURATION', 'EXT-X-MAP', 'EXT-X-BYTERANGE', 'EXT-X-ENDLIST']);

/**
 * Parses an HLS playlist, resolving every URI against `playlistUrl` (an http(s): or file: URL).
 * Pure: no I/O. Media playlists are checked against the segment limits as they are read:
 * maxSegments per playlist, and maxManifestSegments (at most four times maxSegments) for all
 * the playlists that share `budget`.
 *
 * Throws VvfError: MANIFEST_INVALID (not a playlist, malformed tags or URIs), UNSUPPORTED
 * (encryption, EXT-X-DEFINE variables, EXT-X-GAP, I-frame-only playlists), STRUCTURE_LIMIT,
 * METADATA_LIMIT (text longer than maxManifestBytes), NUMBER_TOO_LARGE.
 */
export function parseM3u8(
  text: string,
  playlistUrl: string,
  limits?: Partial<Limits>,
  budget: HlsParseBudget = { entries: 0 },
): HlsPlaylist {
  const lim = resolveLimits(limits);
  const source = playlistUrl;
  if (
    text.length > lim.maxManifestBytes ||
    (text.length * 3 > lim.maxManifestBytes && Buffer.byteLength(text) > lim.maxManifestBytes)
  ) {
    throw new VvfError('METADATA_LIMIT', `playlist is larger than ${lim.maxManifestBytes} bytes (limit maxManifestBytes)`, {
      source,
    });
  }
  let base: URL;
  try {
    base = new URL(playlistUrl);
  } catch (e) {
    throw new VvfError('USAGE', `playlist URL ${JSON.stringify(playlistUrl)} is not an absolute URL`, { source }, { cause: e });
  }
  if (!PROTOCOLS.has(base.protocol))
    throw new VvfError('USAGE', `playlist URL scheme ${base.protocol} is not supported`, { source });

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n|\r/);
  if (lines[0]?.trim() !== '#EXTM3U') throw invalidAt(source, 1, 'the first line is not #EXTM3U');
  const p = new Parser(source, base, lim, budget);
  for (let i = 1; i < lines.length; i++) p.line(lines[i]!.trim(), i + 1);
  return p.finish();
}

function invalidAt(source: string, line: number, detail: string): VvfError {
  return new VvfError('MANIFEST_INVALID', `line ${line}: ${detail}`, { source });
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** The line-by-line state of one playlist. */
class Parser {
  private readonly remote: boolean;
  private readonly cap: number;
  private media = false;
  private multivariant = false;
  // Media playlist state.
  private readonly maps: HlsMap[] = [];
  private readonly segments: HlsSegment[] = [];
  private endList = false;
  private playlistType: 'VOD' | 'EVENT' | undefined;
  private pendingDuration: number | undefined;
  private pendingRange: { length: number; offset: number | undefined; line: number } | undefined;
  private pendingDiscontinuity = false;
  // Multivariant state.
  private readonly variants: HlsVariant[] = [];
  private readonly renditions: HlsRendition[] = [];
  private pendingVariant: { attrs: Map<string, string>; line: number } | undefined;
  // Consecutive segments usually repeat a URI (a single file with byte ranges): resolve it once.
  private lastUri = '';
  private lastUrl = '';

  constructor(
    private readonly source: string,
    private readonly base: URL,
    private readonly limits: Limits,
    private readonly budget: HlsParseBudget,
  ) {
    this.remote = base.protocol !== 'file:';
    this.cap = Math.min(limits.maxManifestSegments, limits.maxSegments * TOTAL_SEGMENTS_FACTOR);
  }

  line(text: string, n: number): void {
    if (text === '') return;
    if (!text.startsWith('#')) {
      this.uri(text, n);
      return;
    }
    // Lines starting with # but not #EXT are comments.
    if (!text.startsWith('#EXT')) return;
    const colon = text.indexOf(':');
    const tag = colon < 0 ? text.slice(1) : text.slice(1, colon);
    const value = colon < 0 ? '' : text.slice(colon + 1);
    if (MEDIA_TAGS.has(tag)) this.kind('media', n);
    switch (tag) {
      case 'EXTINF': {
        const d = value.split(',')[0]?.trim() ?? '';
        const duration = Number(d);
        if (!/^(\d+\.?\d*|\.\d+)$/.test(d) || !Number.isFinite(duration)) throw this.invalid(n, `EXTINF duration ${quote(d)}`);
        this.pendingDuration = duration;
        return;
      }
      case 'EXT-X-BYTERANGE':
        this.pendingRange = { ...this.byteRange(value, n), line: n };
        return;
      case 'EXT-X-MAP': {
        const attrs = this.attributes(value, n);
        const uri = attrs.get('URI');
        if (uri === undefined) throw this.invalid(n, 'EXT-X-MAP has no URI');
        this.reserve(n);
        const map: HlsMap = { url: this.resolve(uri, n) };
        const range = attrs.get('BYTERANGE');
        if (range !== undefined) {
          // The offset is required for a map (RFC 8216bis); a missing one can only mean the start.
          const r = this.byteRange(range, n);
          map.range = this.inclusive(r.length, r.offset ?? 0, n);
        }
        this.maps.push(map);
        return;
      }
      case 'EXT-X-DISCONTINUITY':
        this.kind('media', n);
        this.pendingDiscontinuity = true;
        return;
      case 'EXT-X-ENDLIST':
        this.endList = true;
        return;
      case 'EXT-X-PLAYLIST-TYPE':
        this.kind('media', n);
        if (value === 'VOD' || value === 'EVENT') this.playlistType = value;
        else throw this.invalid(n, `EXT-X-PLAYLIST-TYPE ${quote(value)}`);
        return;
      case 'EXT-X-KEY': {
        this.kind('media', n);
        const method = this.attributes(value, n).get('METHOD');
        if (method === undefined) throw this.invalid(n, 'EXT-X-KEY has no METHOD');
        if (method !== 'NONE') {
          throw new VvfError('UNSUPPORTED', `encrypted HLS (EXT-X-KEY METHOD=${method.slice(0, 40)}) is not supported`, {
            source: this.source,
          });
        }
        return;
      }
      case 'EXT-X-GAP':
        throw new VvfError('UNSUPPORTED', `line ${n}: EXT-X-GAP (a segment that is missing) is not supported`, {
          source: this.source,
        });
      case 'EXT-X-I-FRAMES-ONLY':
        throw new VvfError('UNSUPPORTED', 'I-frame-only playlists (EXT-X-I-FRAMES-ONLY) are not supported as input', {
          source: this.source,
        });
      case 'EXT-X-DEFINE':
        throw new VvfError('UNSUPPORTED', `line ${n}: variable substitution (EXT-X-DEFINE) is not supported`, {
          source: this.source,
        });
      case 'EXT-X-STREAM-INF':
        this.kind('multivariant', n);
        if (this.pendingVariant) throw this.invalid(n, 'EXT-X-STREAM-INF follows another without a URI line between');
        this.pendingVariant = { attrs: this.attributes(value, n), line: n };
        return;
      case 'EXT-X-MEDIA':
        this.kind('multivariant', n);
        this.rendition(this.attributes(value, n), n);
        return;
      case 'EXT-X-I-FRAME-STREAM-INF':
        // I-frame variants point into the same segments for trick play: nothing to read.
        this.kind('multivariant', n);
        return;
      default:
        // RFC 8216 §6.3.1: unknown tags are ignored (EXT-X-VERSION, EXT-X-MEDIA-SEQUENCE, EXT-X-PART, …).
        return;
    }
  }

  finish(): HlsPlaylist {
    if (this.pendingVariant) throw this.invalid(this.pendingVariant.line, 'EXT-X-STREAM-INF has no URI line after it');
    if (this.multivariant)
      return { kind: 'multivariant', url: this.source, variants: this.variants, renditions: this.renditions };
    const out: HlsMediaPlaylist = {
      kind: 'media',
      url: this.source,
      maps: this.maps,
      segments: this.segments,
      endList: this.endList,
    };
    if (this.playlistType !== undefined) out.playlistType = this.playlistType;
    return out;
  }

  private kind(kind: 'media' | 'multivariant', n: number): void {
    if (kind === 'media') this.media = true;
    else this.multivariant = true;
    if (this.media && this.multivariant)
      throw this.invalid(n, 'the playlist mixes media playlist and multivariant playlist tags');
  }

  private uri(text: string, n: number): void {
    if (this.pendingVariant) {
      this.variant(this.pendingVariant.attrs, this.resolve(text, n), this.pendingVariant.line);
      this.pendingVariant = undefined;
      return;
    }
    if (this.multivariant) throw this.invalid(n, `URI ${quote(text)} follows no EXT-X-STREAM-INF`);
    this.media = true;
    if (this.pendingDuration === undefined) throw this.invalid(n, `segment ${quote(text)} has no EXTINF`);
    this.reserve(n);
    if (this.segments.length >= this.limits.maxSegments) {
      throw new VvfError(
        'STRUCTURE_LIMIT',
        `the playlist lists more than ${this.limits.maxSegments} segments (limit maxSegments)`,
        { source: this.source },
      );
    }
    const url = this.resolve(text, n);
    const segment: HlsSegment = {
      url,
      duration: this.pendingDuration,
      map: this.maps.length - 1,
      discontinuity: this.pendingDiscontinuity,
    };
    const r = this.pendingRange;
    if (r !== undefined) {
      let offset = r.offset;
      if (offset === undefined) {
        // Without an offset the range continues the previous segment's, which must be of the same resource.
        const prev = this.segments[this.segments.length - 1];
        if (prev?.range === undefined || prev.url !== url) {
          throw this.invalid(r.line, 'EXT-X-BYTERANGE has no offset and the previous segment is not a range of the same URI');
        }
        offset = prev.range.end + 1;
      }
      segment.range = this.inclusive(r.length, offset, r.line);
    }
    this.segments.push(segment);
    this.pendingDuration = undefined;
    this.pendingRange = undefined;
    this.pendingDiscontinuity = false;
  }

  private variant(attrs: Map<string, string>, url: string, n: number): void {
    this.reserve(n);
    const v: HlsVariant = { url, bandwidth: this.uint(attrs.get('BANDWIDTH') ?? '0', n, 'BANDWIDTH') };
    const average = attrs.get('AVERAGE-BANDWIDTH');
    if (average !== undefined) v.averageBandwidth = this.uint(average, n, 'AVERAGE-BANDWIDTH');
    const codecs = attrs.get('CODECS');
    if (codecs !== undefined) v.codecs = codecs;
    const resolution = attrs.get('RESOLUTION');
    if (resolution !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(resolution);
      if (!m) throw this.invalid(n, `RESOLUTION ${quote(resolution)}`);
      v.width = this.uint(m[1]!, n, 'RESOLUTION');
      v.height = this.uint(m[2]!, n, 'RESOLUTION');
    }
    for (const [attr, key] of [
      ['AUDIO', 'audio'],
      ['VIDEO', 'video'],
      ['SUBTITLES', 'subtitles'],
    ] as const) {
      const g = attrs.get(attr);
      if (g !== undefined) v[key] = g;
    }
    this.variants.push(v);
  }

  private rendition(attrs: Map<string, string>, n: number): void {
    const type = attrs.get('TYPE');
    if (type === undefined) throw this.invalid(n, 'EXT-X-MEDIA has no TYPE');
    const uri = attrs.get('URI');
    // Closed captions travel inside the video; a rendition without a URI is in the variant's own segments.
    if (type === 'CLOSED-CAPTIONS' || uri === undefined) return;
    if (type !== 'AUDIO' && type !== 'VIDEO' && type !== 'SUBTITLES') throw this.invalid(n, `EXT-X-MEDIA TYPE ${quote(type)}`);
    const groupId = attrs.get('GROUP-ID');
    const name = attrs.get('NAME');
    if (groupId === undefined || name === undefined) throw this.invalid(n, 'EXT-X-MEDIA needs GROUP-ID and NAME');
    this.reserve(n);
    const r: HlsRendition = { type, url: this.resolve(uri, n), groupId, name, isDefault: attrs.get('DEFAULT') === 'YES' };
    const language = attrs.get('LANGUAGE');
    if (language !== undefined) r.language = language;
    this.renditions.push(r);
  }

  /** Counts one more entry of the presentation against maxManifestSegments, before it is kept. */
  private reserve(n: number): void {
    if (++this.budget.entries > this.cap) {
      throw new VvfError(
        'STRUCTURE_LIMIT',
        `line ${n}: the playlists list more than ${this.cap} segments, maps and streams (limit maxManifestSegments)`,
        { source: this.source },
      );
    }
  }

  /** `<n>[@<o>]` of EXT-X-BYTERANGE and of EXT-X-MAP's BYTERANGE. */
  private byteRange(value: string, n: number): { length: number; offset: number | undefined } {
    const m = /^(\d+)(?:@(\d+))?$/.exec(value.trim());
    if (!m) throw this.invalid(n, `byte range ${quote(value)} is not <length>[@<offset>]`);
    const length = this.uint(m[1]!, n, 'byte range length');
    if (length === 0) throw this.invalid(n, 'a byte range of 0 bytes');
    return { length, offset: m[2] === undefined ? undefined : this.uint(m[2], n, 'byte range offset') };
  }

  private inclusive(length: number, offset: number, n: number): HlsByteRange {
    const end = offset + length - 1;
    if (!Number.isSafeInteger(end))
      throw new VvfError('NUMBER_TOO_LARGE', `line ${n}: byte range ends past 2^53`, { source: this.source });
    return { start: offset, end };
  }

  private uint(s: string, n: number, what: string): number {
    if (!/^\d+$/.test(s)) throw this.invalid(n, `${what} ${quote(s)} is not a decimal integer`);
    const v = Number(s);
    if (!Number.isSafeInteger(v))
      throw new VvfError('NUMBER_TOO_LARGE', `line ${n}: ${what} ${quote(s)} exceeds 2^53`, { source: this.source });
    return v;
  }

  /**
   * An attribute list: NAME=value pairs separated by commas, values plain or quoted strings (which
   * may hold commas). Quotes are removed; enumerated and numeric values are kept as written.
   */
  private attributes(text: string, n: number): Map<string, string> {
    const out = new Map<string, string>();
    let i = 0;
    while (i < text.length) {
      const eq = text.indexOf('=', i);
      if (eq < 0) throw this.invalid(n, `attribute ${quote(text.slice(i))} has no value`);
      const name = text.slice(i, eq).trim();
      if (!ATTRIBUTE_NAME.test(name)) throw this.invalid(n, `attribute name ${quote(name)}`);
      let value: string;
      let next: number;
      if (text[eq + 1] === '"') {
        const close = text.indexOf('"', eq + 2);
        if (close < 0) throw this.invalid(n, `attribute ${name} has an unterminated quoted string`);
        value = text.slice(eq + 2, close);
        next = close + 1;
        while (next < text.length && text[next] === ' ') next++;
        if (next < text.length && text[next] !== ',') throw this.invalid(n, `text after the quoted value of ${name}`);
      } else {
        const comma = text.indexOf(',', eq + 1);
        next = comma < 0 ? text.length : comma;
        value = text.slice(eq + 1, next).trim();
      }
      if (out.has(name)) throw this.invalid(n, `attribute ${name} appears twice`);
      out.set(name, value);
      i = next + 1;
    }
    return out;
  }

  private resolve(rel: string, n: number): string {
    if (rel === this.lastUri) return this.lastUrl;
    let u: URL;
    try {
      u = new URL(rel, this.base);
    } catch (e) {
      throw new VvfError('MANIFEST_INVALID', `line ${n}: invalid URI ${quote(rel)}`, { source: this.source }, { cause: e });
    }
    // A remote playlist may not point at local files.
    if (!PROTOCOLS.has(u.protocol) || (this.remote && u.protocol === 'file:')) {
      throw this.invalid(n, `URI scheme ${u.protocol} is not allowed here`);
    }
    this.lastUri = rel;
    this.lastUrl = u.href;
    return u.href;
  }

  private invalid(n: number, detail: string): VvfError {
    return invalidAt(this.source, n, detail);
  }
}
