import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Movie } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import { MovieBuilder } from './movie-builder.js';
import { scanMp4 } from './mp4-scan.js';

/**
 * Reads one MP4 file into the model: progressive (moov first or last) or fragmented
 * (moov + moof/mdat pairs, with or without sidx and mfra). Reads only box headers and
 * metadata boxes, never mdat.
 */
export async function readMp4Movie(source: Source, limits: Limits): Promise<Movie> {
  const budget = { metadataBytes: 0 };
  const scan = await scanMp4(source, limits, budget);
  if (!scan.moov) {
    const what = scan.boxes.length === 0 ? 'the input holds no boxes' : 'the input has no moov box';
    throw new VvfError(scan.boxes.length === 0 ? 'UNKNOWN_FORMAT' : 'BOX_MISSING', what, { source: source.key });
  }
  const builder = new MovieBuilder(limits, source.key);
  const sourceIndex = builder.addSource(source);
  if (scan.ftyp) {
    builder.majorBrand = scan.ftyp.majorBrand;
    builder.compatibleBrands = scan.ftyp.compatibleBrands;
  }
  const context = builder.addInit(scan.moov, sourceIndex);
  builder.expectMoofs(context, scan.moofs.length);
  for (const moof of scan.moofs) {
    builder.addMoof(context, moof, { start: moof.start, sourceIndex, dataEnd: source.size, source: source.key });
  }
  const moov = scan.moov.header;
  return builder.finish({
    kind: scan.moofs.length > 0 ? 'fragmented' : 'progressive',
    moovOffset: moov.start,
    moovSize: moov.size,
    moovPosition: scan.firstMdat === undefined ? 'no-mdat' : moov.start < scan.firstMdat ? 'before-mdat' : 'after-mdat',
    fragmentCount: scan.moofs.length,
    sidxCount: scan.sidxCount,
    hasMfra: scan.hasMfra,
    segmentCount: 0,
    metadataBytes: budget.metadataBytes,
  });
}
