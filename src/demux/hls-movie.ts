// HLS presentations (multivariant or media playlists of fMP4 segments) read into one Movie, as DASH is: a track per rendition.
import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import { emptyLayout, type Movie, type MovieLayout } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import type { FragmentTrackState } from './fragment-samples.js';
import { type HlsMediaPlaylist, type HlsParseBudget, type HlsPlaylist, parseM3u8 } from './m3u8.js';
import { type InitContext, MovieBuilder } from './movie-builder.js';
import {
  addInitSegment,
  mapInOrder,
  type NameFormat,
  type OpenUrl,
  type Part,
  readAheadFor,
  type SegmentRef,
  scanSegment,
  smallSegments,
  urlFileName,
} from './segment-scan.js';
import { SNIFF_BYTES, sniffInput, unknownFormatError } from './sniff.js';

export interface HlsReadOptions {
  limits: Limits;
  /** Opens every playlist and segment URL: pass the source policy's opener. */
  open: OpenUrl;
  /** Renditions to read, by name (see {@link readHlsMovie}); default all. */
  renditions?: readonly string[];
  /** Shared by every playlist of the presentation, against maxManifestSegments. */
  budget?: HlsParseBudget;
  /** Segment sources opened and scanned at once. */
  concurrency?: number;
  /** How errors name the input (a file name). */
  inputName?: string;
}

/** A media playlist to read, and what the multivariant playlist says of it. */
interface Stream {
  url: string;
  /** The rendition's name: its representationId. */
  id: string;
  /** EXT-X-MEDIA NAMEs of the playlist, which select it too. */
  aliases: string[];
  subtitles: boolean;
}

/**
 * Reads an HLS presentation into one Movie: a track per rendition (several when a rendition's
 * segments carry several tracks), each with the representationId of its rendition's name, and
 * samples from every segment, each segment (or byte range) read like a DASH SegmentList's.
 *
 * A rendition's name is its media playlist URI without the extension, cut to the shortest
 * ending that tells the playlist apart (`high/index.m3u8`, `low/index.m3u8` are "high" and
 * "low": a last part every playlist shares is dropped); an EXT-X-MEDIA NAME selects it too.
 * Variants come first, then the renditions of EXT-X-MEDIA; a playlist listed twice is read once.
 *
 * EXT-X-DISCONTINUITY: the segments after one are the next piece of the same tracks. Their
 * timestamps may start again from anything (two clips joined), so each piece is moved, per
 * track, to start where the previous piece ends (see {@link Pieces}): decode and presentation
 * times keep increasing, as in one file. A new EXT-X-MAP may give new sample descriptions
 * (other parameter sets, another size), which the tracks carry as further descriptions; a map
 * that changes the number of tracks, a handler or a timescale is refused (UNSUPPORTED).
 *
 * Refused: MPEG-TS segments (UNSUPPORTED "HLS with MPEG-TS segments is not supported"), live
 * playlists without EXT-X-ENDLIST, encryption; other segments that are not MP4 are named by
 * what they are. WebVTT subtitle renditions (no EXT-X-MAP) are left out unless named.
 */
export async function readHlsMovie(playlist: HlsPlaylist, input: string, opts: HlsReadOptions): Promise<Movie> {
  const budget = opts.budget ?? { entries: 0 };
  const name = opts.inputName ?? input;
  // Each URL is opened once (a single file holds every segment of a rendition); what was opened is closed on failure.
  const opened = new Map<string, Promise<Source>>();
  const open: OpenUrl = (url) => {
    let p = opened.get(url);
    if (!p) {
      p = opts.open(url);
      opened.set(url, p);
    }
    return p;
  };
  try {
    // Playlists are read and closed at once: they go through the opener as given.
    return await readPresentation(playlist, input, { ...opts, open }, budget, name, opts.open);
  } catch (e) {
    await Promise.allSettled([...opened.values()].map(async (p) => (await p).close()));
    throw e;
  }
}

async function readPresentation(
  playlist: HlsPlaylist,
  input: string,
  opts: HlsReadOptions,
  budget: HlsParseBudget,
  name: string,
  openPlaylist: OpenUrl,
): Promise<Movie> {
  const streams =
    playlist.kind === 'media'
      ? [{ url: playlist.url, id: stem(playlist.url), aliases: [], subtitles: false }]
      : listStreams(playlist, opts.limits, input);
  if (streams.length === 0)
    throw new VvfError('MANIFEST_INVALID', 'the playlist lists no variant or rendition', { source: input });
  const chosen = opts.renditions ? select(streams, opts.renditions, input) : streams;
  if (chosen.length > opts.limits.maxTracks) {
    throw new VvfError(
      'STRUCTURE_LIMIT',
      `the playlist lists ${chosen.length} renditions (limit maxTracks: ${opts.limits.maxTracks})`,
      {
        source: input,
      },
    );
  }
  const named = new Set(opts.renditions ? chosen : []);
  // Media playlists are small: fetch them a few at a time.
  const playlists = await mapInOrder(chosen, 8, async (s): Promise<[Stream, HlsMediaPlaylist]> => {
    if (playlist.kind === 'media') return [s, playlist];
    const pl = await loadMediaPlaylist(s, openPlaylist, opts.limits, budget);
    return [s, pl];
  });

  const builder = new MovieBuilder(opts.limits, input);
  const metadata = { metadataBytes: 0 };
  const layout = emptyLayout('segmented');
  let readCount = 0;
  for (const [stream, pl] of playlists) {
    const what = playlist.kind === 'media' ? name : `${name}, rendition "${stream.id}"`;
    if (stream.subtitles && firstMap(pl) < 0) {
      // Subtitles without a map are WebVTT text segments, which have no samples in MP4 terms.
      if (!named.has(stream)) continue;
      throw new VvfError('UNSUPPORTED', `HLS subtitles in WebVTT segments are not supported (${what})`, { source: pl.url });
    }
    await readRendition(stream, pl, builder, layout, metadata, opts, what, name);
    readCount++;
  }
  if (readCount === 0)
    throw new VvfError('MANIFEST_INVALID', 'the playlist lists no rendition with fMP4 segments', { source: input });
  layout.metadataBytes = metadata.metadataBytes;
  return builder.finish(layout);
}

/** Reads one media playlist's init segments and segments into the builder. */
async function readRendition(
  stream: Stream,
  pl: HlsMediaPlaylist,
  builder: MovieBuilder,
  layout: MovieLayout,
  metadata: { metadataBytes: number },
  opts: HlsReadOptions,
  what: string,
  inputName: string,
): Promise<void> {
  const first = pl.segments[0];
  if (!first) throw new VvfError('MANIFEST_INVALID', `the media playlist lists no segment (${what})`, { source: pl.url });
  if (pl.segments.length > opts.limits.maxSegments) {
    throw new VvfError('STRUCTURE_LIMIT', `rendition "${stream.id}" has more than ${opts.limits.maxSegments} segments`, {
      source: pl.url,
    });
  }
  const tsError = () =>
    new VvfError(
      'UNSUPPORTED',
      `HLS with MPEG-TS segments is not supported (${what}); ffmpeg -i ${inputName} -c copy out.mp4 remuxes it to MP4`,
      { source: pl.url },
    );
  if (first.map < 0 && /\.ts$/i.test(urlFileName(first.url))) throw tsError();
  if (!pl.endList) {
    throw new VvfError(
      'UNSUPPORTED',
      `a live HLS playlist (no EXT-X-ENDLIST) is not supported: its segments still change (${what})`,
      {
        source: pl.url,
      },
    );
  }
  const nameFormat: NameFormat = (found, segment, key) =>
    found.kind === 'mpeg-ts' ? tsError() : unknownFormatError(found, `${segment} of ${what}`, key);
  const scanOpts = { limits: opts.limits, open: opts.open, nameFormat };

  // Segments before any EXT-X-MAP carry their own init (a moov): the first segment's serves them.
  const initRef = (map: number): SegmentRef => (map < 0 ? first : pl.maps[map]!);
  const firstInit = await scanSegment(initRef(first.map), scanOpts, metadata);
  const [initSource, initScan] = firstInit;
  if (!initScan.moov) {
    const detail = first.map < 0 ? 'has no EXT-X-MAP and its first segment holds no moov' : 'has an EXT-X-MAP that holds no moov';
    throw new VvfError('BOX_MISSING', `the media playlist ${detail} (${what})`, { source: initSource.key });
  }
  const base = addInitSegment(builder, layout, initSource, initScan.moov, initScan.ftyp, stream.id);

  // The first segment alone first: a playlist of segments that are not MP4 fails after one read, not thirty.
  const hint = { bytes: 0 };
  const scanVia = smallSegments(pl.segments) ? readAheadFor() : undefined;
  const scanOne = (seg: SegmentRef) => scanSegment(seg, scanOpts, metadata, hint, scanVia);
  const head = first.map < 0 ? firstInit : await scanOne(first);
  const rest = await mapInOrder(pl.segments.slice(1), opts.concurrency ?? 32, scanOne);
  const media: Part[] = [head, ...rest];

  // One context per init: maps naming the same bytes share one.
  const keyOf = (ref: SegmentRef) => `${ref.url}\u0000${ref.range ? `${ref.range.start}-${ref.range.end}` : ''}`;
  const contexts = new Map<string, InitContext>([[keyOf(initRef(first.map)), base]]);
  const contextFor = async (map: number): Promise<InitContext> => {
    const ref = initRef(map);
    const key = keyOf(ref);
    let ctx = contexts.get(key);
    if (!ctx) {
      const [source, scan] = await scanSegment(ref, scanOpts, metadata);
      if (!scan.moov)
        throw new VvfError('BOX_MISSING', `an EXT-X-MAP of the media playlist holds no moov (${what})`, { source: source.key });
      ctx = builder.joinInit(base, scan.moov, builder.addSource(source));
      contexts.set(key, ctx);
    }
    return ctx;
  };

  builder.expectMoofs(
    base,
    media.reduce((n, [, scan]) => n + scan.moofs.length, 0),
  );
  const pieces = new Pieces([...base.tracks.values()]);
  for (const [i, seg] of pl.segments.entries()) {
    const [source, scan, dataEnd] = media[i]!;
    if (seg.discontinuity && i > 0) pieces.next();
    const ctx = await contextFor(seg.map);
    const sourceIndex = builder.addSource(source);
    layout.sidxCount += scan.sidxCount;
    layout.hasMfra ||= scan.hasMfra;
    for (const moof of scan.moofs) {
      layout.fragmentCount++;
      builder.addMoof(ctx, moof, { start: moof.start, sourceIndex, dataEnd, source: source.key });
    }
  }
  pieces.next();
  layout.segmentCount += pl.segments.length;
}

/**
 * The pieces of a media playlist between EXT-X-DISCONTINUITY tags, whose timestamps may start
 * again from anything. Each piece is moved, per track, to start where the previous one ends:
 * at the previous piece's decode end, or later if its first presented sample would otherwise
 * come before the previous piece's last presented one ends (B-frames: a piece cut short may
 * present past its decode end). A gap in decode time is carried by the previous sample's
 * duration, as compose does when it plays files one after another.
 */
class Pieces {
  /** Per track, where the current piece's samples begin. */
  private starts: number[];
  /** Per track, where the previous pieces ended in decode and in presentation time. */
  private ends: { decode: number; present: number }[] | undefined;

  constructor(private readonly tracks: FragmentTrackState[]) {
    this.starts = tracks.map(() => 0);
  }

  /** Ends the current piece (moving it after the previous pieces) and starts the next. */
  next(): void {
    const ends = this.ends;
    this.tracks.forEach((track, i) => {
      const s = track.samples;
      const from = this.starts[i]!;
      const end = ends?.[i];
      if (!end || s.count <= from) return;
      const first = s.decodeTime[from]!;
      let lead = Number.POSITIVE_INFINITY;
      for (let k = from; k < s.count; k++) lead = Math.min(lead, s.decodeTime[k]! + s.compositionOffset[k]! - first);
      const base = Math.max(end.decode, end.present - lead);
      if (base > end.decode && from > 0) {
        const d = s.duration[from - 1]! + base - end.decode;
        if (d > 0xffff_ffff)
          throw new VvfError('NUMBER_TOO_LARGE', 'the gap before a discontinuity exceeds a sample duration (2^32 ticks)');
        s.duration[from - 1] = d;
      }
      const shift = base - first;
      if (shift === 0) return;
      for (let k = from; k < s.count; k++) {
        const t = s.decodeTime[k]! + shift;
        if (!Number.isSafeInteger(t)) throw new VvfError('NUMBER_TOO_LARGE', 'decode times after a discontinuity exceed 2^53');
        s.decodeTime[k] = t;
      }
      track.nextDecodeTime += shift;
    });
    this.ends = this.tracks.map((track, i) => {
      const s = track.samples;
      const from = this.starts[i]!;
      const previous = ends?.[i];
      if (s.count <= from) return previous ?? { decode: track.nextDecodeTime, present: track.nextDecodeTime };
      let present = previous?.present ?? Number.NEGATIVE_INFINITY;
      for (let k = from; k < s.count; k++)
        present = Math.max(present, s.decodeTime[k]! + s.compositionOffset[k]! + s.duration[k]!);
      const last = s.count - 1;
      return { decode: s.decodeTime[last]! + s.duration[last]!, present };
    });
    this.starts = this.tracks.map((track) => track.samples.count);
  }
}

/** The EXT-X-MAP in force for the first segment, -1 when none. */
function firstMap(pl: HlsMediaPlaylist): number {
  return pl.segments[0]?.map ?? (pl.maps.length > 0 ? 0 : -1);
}

/** Fetches and parses a variant's or rendition's media playlist through the opener. */
async function loadMediaPlaylist(
  stream: Stream,
  open: OpenUrl,
  limits: Limits,
  budget: HlsParseBudget,
): Promise<HlsMediaPlaylist> {
  const source = await open(stream.url);
  let text: string;
  try {
    if (source.size > limits.maxManifestBytes) {
      throw new VvfError(
        'METADATA_LIMIT',
        `playlist of ${source.size} bytes exceeds ${limits.maxManifestBytes} (limit maxManifestBytes)`,
        { source: source.key },
      );
    }
    const bytes = await source.read(0, source.size);
    const found = sniffInput(bytes.subarray(0, SNIFF_BYTES), source.size);
    if (found.kind !== 'hls')
      throw unknownFormatError(found, `rendition "${stream.id}" (${urlFileName(stream.url)})`, source.key);
    text = new TextDecoder().decode(bytes);
  } finally {
    await source.close();
  }
  const pl = parseM3u8(text, stream.url, limits, budget);
  if (pl.kind !== 'media') {
    throw new VvfError('MANIFEST_INVALID', `rendition "${stream.id}" is a multivariant playlist, not a media playlist`, {
      source: stream.url,
    });
  }
  return pl;
}

/** Variants, then EXT-X-MEDIA renditions, each media playlist once, with their names. */
function listStreams(pl: Extract<HlsPlaylist, { kind: 'multivariant' }>, limits: Limits, input: string): Stream[] {
  const byUrl = new Map<string, { url: string; aliases: string[]; subtitles: boolean }>();
  for (const v of pl.variants) if (!byUrl.has(v.url)) byUrl.set(v.url, { url: v.url, aliases: [], subtitles: false });
  for (const r of pl.renditions) {
    let s = byUrl.get(r.url);
    if (!s) {
      s = { url: r.url, aliases: [], subtitles: r.type === 'SUBTITLES' };
      byUrl.set(r.url, s);
    }
    if (!s.aliases.includes(r.name)) s.aliases.push(r.name);
  }
  // Every stream may become a track: more than maxTracks is refused before any is named or fetched.
  if (byUrl.size > limits.maxTracks) {
    throw new VvfError(
      'STRUCTURE_LIMIT',
      `the playlist lists ${byUrl.size} media playlists (limit maxTracks: ${limits.maxTracks})`,
      {
        source: input,
      },
    );
  }
  const list = [...byUrl.values()];
  const ids = uniqueNames(list.map((s) => pathParts(s.url)));
  return list.map((s, i) => ({ ...s, id: ids[i]! }));
}

/** The streams `wanted` names, by name or by EXT-X-MEDIA NAME. */
function select(streams: Stream[], wanted: readonly string[], input: string): Stream[] {
  const out: Stream[] = [];
  for (const w of wanted) {
    let found = streams.filter((s) => s.id === w);
    if (found.length === 0) found = streams.filter((s) => s.aliases.includes(w));
    if (found.length > 1) {
      throw new VvfError('USAGE', `"${w.slice(0, 100)}" names ${found.length} renditions; use one of ${list(found)}`, {
        source: input,
      });
    }
    const s = found[0];
    if (!s)
      throw new VvfError('USAGE', `no rendition "${w.slice(0, 100)}"; the playlist has ${list(streams)}`, { source: input });
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

function list(streams: Stream[]): string {
  return `${streams
    .slice(0, 50)
    .map((s) => `"${s.id}"`)
    .join(', ')}${streams.length > 50 ? ', …' : ''}`;
}

const MAX_NAME_PARTS = 8;

/** A URL's path parts (the last few), the last without its playlist extension. */
function pathParts(url: string): string[] {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    path = url.split(/[?#]/)[0] ?? url;
  }
  // A name needs a few parts at most; a path of thousands would only slow the naming down.
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .slice(-MAX_NAME_PARTS);
  const last = parts.length - 1;
  if (last >= 0) parts[last] = parts[last]!.replace(/\.m3u8?$/i, '');
  return parts;
}

/** The name of a playlist read on its own: its file name without the extension. */
function stem(url: string): string {
  return pathParts(url).at(-1) || 'playlist';
}

/**
 * Short distinct names for paths: a last part they all share is dropped (every playlist
 * called index.m3u8), then each takes the shortest ending that no other has. Paths that
 * remain equal (the same path with other queries) are numbered.
 */
function uniqueNames(paths: string[][]): string[] {
  let drop = 0;
  if (paths.length > 1) {
    for (;;) {
      const at = (p: string[]) => p[p.length - 1 - drop];
      const first = at(paths[0]!);
      if (first === undefined || !paths.every((p) => p.length > drop + 1 && at(p) === first)) break;
      drop++;
    }
  }
  const trimmed = paths.map((p) => p.slice(0, p.length - drop));
  const names: (string | undefined)[] = trimmed.map(() => undefined);
  const longest = Math.max(1, ...trimmed.map((p) => p.length));
  for (let len = 1; len <= longest && names.includes(undefined); len++) {
    const ending = (p: string[]) => p.slice(-len).join('/');
    const counts = new Map<string, number>();
    for (const p of trimmed) counts.set(ending(p), (counts.get(ending(p)) ?? 0) + 1);
    trimmed.forEach((p, i) => {
      if (names[i] === undefined && (counts.get(ending(p)) === 1 || len >= p.length)) names[i] = ending(p);
    });
  }
  const seen = new Map<string, number>();
  return names.map((n, i) => {
    const name = n || `rendition-${i + 1}`;
    const k = (seen.get(name) ?? 0) + 1;
    seen.set(name, k);
    return k === 1 ? name : `${name}~${k}`;
  });
}
