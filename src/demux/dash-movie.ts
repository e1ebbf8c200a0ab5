import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import { emptyLayout, type Movie } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import { MovieBuilder } from './movie-builder.js';
import type { MpdManifest, MpdRepresentation } from './mpd.js';
import { addInitSegment, mapInOrder, type OpenUrl, readAheadFor, scanSegment, smallSegments } from './segment-scan.js';

export type { OpenUrl } from './segment-scan.js';

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
  const layout = emptyLayout('fragmented');
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
    const context = addInitSegment(builder, layout, initSource, initScan.moov, initScan.ftyp, rep.id);
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
  return withPresentationOffsets(builder.finish(layout), reps);
}

/**
 * A representation's @presentationTimeOffset is where its period starts presenting, in media
 * time: the job an edit list does in a file. When the init segment has no edit list of its
 * own, the track gets one edit from that media time to its end (DASH players apply the offset;
 * so reading the manifest gives what they present).
 */
function withPresentationOffsets(movie: Movie, reps: readonly MpdRepresentation[]): Movie {
  for (const track of movie.tracks) {
    const rep = reps.find((r) => r.id === track.representationId);
    if (!rep?.presentationTimeOffset || track.editList) continue;
    const mediaTime = Math.round((rep.presentationTimeOffset * track.timescale) / (rep.timescale ?? 1));
    if (!Number.isSafeInteger(mediaTime) || mediaTime <= 0) continue;
    track.editList = [{ segmentDuration: 0, mediaTime, mediaRateInteger: 1, mediaRateFraction: 0 }];
  }
  return movie;
}

/** SegmentBase or a bare BaseURL: one fragmented file holds the init and every fragment. */
async function readSingleFile(rep: MpdRepresentation, opts: DashReadOptions, budget: { metadataBytes: number }, input: string) {
  if (!rep.mediaUrl)
    throw new VvfError('MANIFEST_INVALID', `representation "${rep.id}" has neither segments nor a media URL`, { source: input });
  const part = await scanSegment({ url: rep.mediaUrl }, opts, budget);
  return { init: [part[0], part[1]] as const, media: [part] };
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
