import { basename } from 'node:path';
import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Movie, MovieLayout } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import { MovieBuilder } from './movie-builder.js';
import { type Mp4Scan, scanMp4 } from './mp4-scan.js';
import type { MpdManifest, MpdRepresentation, MpdSegmentRef } from './mpd.js';
import { ReadAheadSource } from './read-ahead.js';
import { SNIFF_BYTES, sniffInput, unknownFormatError } from './sniff.js';

/** Opens the source behind an absolute URL from a manifest (file: or http(s):). */
export type OpenUrl = (url: string) => Promise<Source>;

export interface DashReadOptions {
  limits: Limits;
  open: OpenUrl;
  /** Representation ids to read (default: every representation of the period). */
  representations?: readonly string[];
  /** Segment sources opened and scanned at once. */
  concurrency?: number;
}

/**
 * Reads a DASH presentation into one Movie: a track per representation (its init
 * segment's moov), with samples from every media segment, each segment its own source.
 * Only box headers, moov, sidx and moof boxes are read.
 */
export async function readDashMovie(manifest: MpdManifest, input: string, opts: DashReadOptions): Promise<Movie> {
  if (manifest.periods.length !== 1) {
    throw new VvfError('UNSUPPORTED', `manifests with ${manifest.periods.length} periods are not supported (one period only)`, {
      source: input,
    });
  }
  const period = manifest.periods[0]!;
  let reps = period.representations;
  if (opts.representations) {
    const wanted = opts.representations;
    for (const id of wanted) {
      if (!reps.some((r) => r.id === id))
        throw new VvfError(
          'USAGE',
          `no representation with id "${id.slice(0, 100)}"; the manifest has ${reps
            .slice(0, 50)
            .map((r) => `"${r.id}"`)
            .join(', ')}${reps.length > 50 ? ', …' : ''}`,
          { source: input },
        );
    }
    reps = reps.filter((r) => wanted.includes(r.id));
  }
  if (reps.length === 0) throw new VvfError('MANIFEST_INVALID', 'the manifest lists no representation', { source: input });

  // Segments often share a file (SegmentList with media ranges, SegmentBase): open each URL once.
  const opened = new Map<string, Promise<Source>>();
  const openOnce = opts.open;
  const open: OpenUrl = (url) => {
    let p = opened.get(url);
    if (!p) {
      p = openOnce(url);
      opened.set(url, p);
    }
    return p;
  };
  opts = { ...opts, open };
  const builder = new MovieBuilder(opts.limits, input);
  const budget = { metadataBytes: 0 };
  const layout: MovieLayout = {
    kind: 'fragmented',
    moovOffset: -1,
    moovSize: 0,
    moovPosition: 'before-mdat',
    fragmentCount: 0,
    sidxCount: 0,
    hasMfra: false,
    segmentCount: 0,
    metadataBytes: 0,
  };
  for (const rep of reps) {
    if (rep.encrypted)
      throw new VvfError('UNSUPPORTED', `representation "${rep.id}" is encrypted (ContentProtection)`, { source: input });
    const parts =
      rep.segments.length > 0 ? await readSegmented(rep, opts, budget) : await readSingleFile(rep, opts, budget, input);
    const [initSource, initScan] = parts.init;
    if (!initScan.moov) {
      throw new VvfError('BOX_MISSING', `the initialization data of representation "${rep.id}" has no moov`, {
        source: initSource.key,
      });
    }
    if (layout.moovOffset < 0) {
      layout.moovOffset = initScan.moov.header.start;
      layout.moovSize = initScan.moov.header.size;
      if (initScan.ftyp) {
        builder.majorBrand = initScan.ftyp.majorBrand;
        builder.compatibleBrands = initScan.ftyp.compatibleBrands;
      }
    }
    const context = builder.addInit(initScan.moov, builder.addSource(initSource), rep.id);
    builder.expectMoofs(
      context,
      parts.media.reduce((n, [, scan]) => n + scan.moofs.length, 0),
    );
    for (const [source, scan, dataEnd] of parts.media) {
      const sourceIndex = builder.addSource(source);
      layout.sidxCount += scan.sidxCount;
      layout.hasMfra ||= scan.hasMfra;
      for (const moof of scan.moofs) {
        layout.fragmentCount++;
        builder.addMoof(context, moof, { start: moof.start, sourceIndex, dataEnd, source: source.key });
      }
    }
    if (rep.segments.length > 0) {
      layout.kind = 'segmented';
      layout.segmentCount += rep.segments.length;
    }
  }
  layout.metadataBytes = budget.metadataBytes;
  return builder.finish(layout);
}

type Part = [source: Source, scan: Mp4Scan, dataEnd: number];

/** SegmentBase or a bare BaseURL: one fragmented file holds the init and every fragment. */
async function readSingleFile(rep: MpdRepresentation, opts: DashReadOptions, budget: { metadataBytes: number }, input: string) {
  if (!rep.mediaUrl)
    throw new VvfError('MANIFEST_INVALID', `representation "${rep.id}" has neither segments nor a media URL`, { source: input });
  const source = await opts.open(rep.mediaUrl);
  const scan = await namingFormat(scanMp4(source, opts.limits, budget), source, 0, rep.mediaUrl);
  const part: Part = [source, scan, source.size];
  return { init: [source, scan] as const, media: [part] };
}

/** An init segment plus media segments, each a file or a byte range of one. */
async function readSegmented(rep: MpdRepresentation, opts: DashReadOptions, budget: { metadataBytes: number }) {
  if (rep.segments.length > opts.limits.maxSegments) {
    throw new VvfError('STRUCTURE_LIMIT', `representation "${rep.id}" has more than ${opts.limits.maxSegments} segments`);
  }
  const init = rep.init ?? (rep.mediaUrl ? { url: rep.mediaUrl } : undefined);
  if (!init) throw new VvfError('MANIFEST_INVALID', `representation "${rep.id}" has segments but no initialization segment`);
  const [initSource, initScan] = await scanSegment(init, opts, budget);
  // Segments of one representation look alike: each is read in one go once one has been seen.
  const hint = { bytes: 0 };
  const scanVia = smallSegments(rep.segments) ? readAheadFor() : undefined;
  const media = await mapInOrder(rep.segments, opts.concurrency ?? 32, (seg) => scanSegment(seg, opts, budget, hint, scanVia));
  return { init: [initSource, initScan] as const, media };
}

async function scanSegment(
  ref: MpdSegmentRef,
  opts: DashReadOptions,
  budget: { metadataBytes: number },
  hint?: { bytes: number },
  scanVia?: (source: Source) => Source,
): Promise<Part> {
  const source = await opts.open(ref.url);
  const end = ref.range ? ref.range.end + 1 : source.size;
  if (ref.range && (ref.range.start > ref.range.end || end > source.size)) {
    throw new VvfError(
      'MANIFEST_INVALID',
      `byte range ${ref.range.start}-${ref.range.end} lies outside ${source.size}-byte ${ref.url}`,
      {
        source: source.key,
      },
    );
  }
  const start = ref.range?.start ?? 0;
  const scan = await namingFormat(
    scanMp4(scanVia ? scanVia(source) : source, opts.limits, budget, { start, end }, hint),
    source,
    start,
    ref.url,
  );
  return [source, scan, end];
}

/**
 * A segment whose very first box is malformed may not be MP4 at all (a manifest of
 * MPEG-TS or WebM segments): then the error names what it is instead of the box.
 * Only on that error path is the head read again.
 */
async function namingFormat<T>(scanning: Promise<T>, source: Source, start: number, url: string): Promise<T> {
  try {
    return await scanning;
  } catch (e) {
    if (!(e instanceof VvfError) || !e.code.startsWith('BOX_') || e.offset !== start) throw e;
    const head = await source.read(start, Math.min(source.size - start, SNIFF_BYTES)).catch(() => undefined);
    const found = head ? sniffInput(head, source.size - start) : undefined;
    if (!found || found.kind === 'mp4') throw e;
    const name = basename((url.split(/[?#]/)[0] ?? url).replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''));
    throw unknownFormatError(found, `segment ${name || url}`, source.key);
  }
}

/** Below this average size, segments that are byte ranges of one file are scanned through a ReadAheadSource. */
const SMALL_SEGMENT = 128 * 1024;

function smallSegments(segments: readonly MpdSegmentRef[]): boolean {
  let bytes = 0;
  let ranged = 0;
  for (const s of segments) {
    if (!s.range) continue;
    ranged++;
    bytes += s.range.end + 1 - s.range.start;
  }
  return ranged > 1 && ranged === segments.length && bytes / ranged < SMALL_SEGMENT;
}

/** One ReadAheadSource per underlying source, for the scans of one representation. */
function readAheadFor(): (source: Source) => Source {
  const views = new Map<Source, ReadAheadSource>();
  return (source) => {
    let v = views.get(source);
    if (!v) {
      v = new ReadAheadSource(source);
      views.set(source, v);
    }
    return v;
  };
}

/** Maps with at most `limit` calls in flight, results in input order. */
async function mapInOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
