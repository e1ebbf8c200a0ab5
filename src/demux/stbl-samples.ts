import { VvfError } from '../errors.js';
import { cttsCodec } from '../isobmff/boxes/ctts.js';
import { sdtpCodec } from '../isobmff/boxes/sdtp.js';
import { stcoCodec } from '../isobmff/boxes/stco.js';
import { stscCodec } from '../isobmff/boxes/stsc.js';
import { stssCodec } from '../isobmff/boxes/stss.js';
import { stszCodec } from '../isobmff/boxes/stsz.js';
import { sttsCodec } from '../isobmff/boxes/stts.js';
import { type ContainerNode, leaf, leaves } from '../isobmff/tree.js';
import type { SampleTableBuilder } from '../model/sample-table.js';

/**
 * Appends the samples described by a progressive sample table (stbl) to `out`, with
 * decode times starting at 0. Every count is checked against the others and every
 * sample against the source size, so a hostile table cannot point outside the file.
 */
export function readStblSamples(
  stbl: ContainerNode,
  out: SampleTableBuilder,
  sourceIndex: number,
  sourceSize: number,
  source: string,
): void {
  const where = (box: string) => ({ path: `${stbl.path}/${box}`, source });
  const stsz = leaf(stbl, 'stsz', stszCodec) ?? leaf(stbl, 'stz2', stszCodec);
  const stts = leaf(stbl, 'stts', sttsCodec);
  const stsc = leaf(stbl, 'stsc', stscCodec);
  const stco = leaf(stbl, 'stco', stcoCodec) ?? leaf(stbl, 'co64', stcoCodec);
  if (!stsz || !stts || !stsc || !stco) {
    // A track whose samples all live in fragments may carry an empty table, or none.
    if (!stsz || stsz.sampleCount === 0) return;
    throw new VvfError('BOX_MISSING', 'sample table lacks stts, stsc or stco', where(''));
  }
  const n = stsz.sampleCount;
  if (n === 0) return;
  // A constant-size stsz claims its count with no bytes behind it: bound it by the source
  // before allocating columns for it.
  if (!stsz.sizes && n * Math.max(1, stsz.sampleSize) > sourceSize) {
    throw new VvfError(
      'MEDIA_INCONSISTENT',
      `stsz claims ${n} samples of ${stsz.sampleSize} bytes in a ${sourceSize}-byte source`,
      where(stsz.type),
    );
  }
  const first = out.reserve(n);

  // Sizes.
  if (stsz.sizes) {
    if (stsz.sizes.length < n)
      throw new VvfError('MEDIA_INCONSISTENT', `stsz lists ${stsz.sizes.length} of ${n} sizes`, where(stsz.type));
    out.size.set(stsz.sizes.subarray(0, n), first);
  } else {
    out.size.fill(stsz.sampleSize, first, first + n);
  }

  // Decode times and durations.
  let i = 0;
  let t = 0;
  for (let e = 0; e < stts.counts.length && i < n; e++) {
    const count = Math.min(stts.counts[e] ?? 0, n - i);
    const delta = stts.deltas[e] ?? 0;
    for (let k = 0; k < count; k++, i++) {
      out.decodeTime[first + i] = t;
      out.duration[first + i] = delta;
      t += delta;
    }
  }
  if (i < n) throw new VvfError('MEDIA_INCONSISTENT', `stts covers ${i} of ${n} samples`, where('stts'));

  // Composition offsets; a short ctts leaves the rest at 0, as other readers do.
  const ctts = leaf(stbl, 'ctts', cttsCodec);
  if (ctts) {
    i = 0;
    for (let e = 0; e < ctts.counts.length && i < n; e++) {
      const count = Math.min(ctts.counts[e] ?? 0, n - i);
      out.compositionOffset.fill(ctts.offsets[e] ?? 0, first + i, first + i + count);
      i += count;
    }
  }

  // Chunks: stsc runs over stco chunk offsets give each sample's offset and description.
  const chunks = stco.offsets.length;
  i = 0;
  for (let e = 0; e < stsc.firstChunks.length && i < n; e++) {
    const firstChunk = stsc.firstChunks[e] ?? 0;
    const nextChunk = e + 1 < stsc.firstChunks.length ? (stsc.firstChunks[e + 1] ?? 0) : chunks + 1;
    const perChunk = stsc.samplesPerChunk[e] ?? 0;
    const desc = stsc.descriptionIndexes[e] ?? 0;
    if (firstChunk < 1 || nextChunk <= firstChunk || nextChunk > chunks + 1) {
      throw new VvfError(
        'MEDIA_INCONSISTENT',
        `stsc entry ${e} has chunks ${firstChunk}..${nextChunk - 1} of ${chunks}`,
        where('stsc'),
      );
    }
    if (perChunk === 0) continue;
    for (let chunk = firstChunk; chunk < nextChunk && i < n; chunk++) {
      let offset = stco.offsets[chunk - 1] ?? 0;
      const m = Math.min(perChunk, n - i);
      for (let k = 0; k < m; k++, i++) {
        const size = out.size[first + i] ?? 0;
        if (offset + size > sourceSize) {
          throw new VvfError(
            'MEDIA_INCONSISTENT',
            `sample ${i + 1} (${size} bytes at ${offset}) lies past the end of the source (${sourceSize})`,
            where(stco.type),
          );
        }
        out.offset[first + i] = offset;
        out.descriptionIndex[first + i] = desc;
        offset += size;
      }
    }
  }
  if (i < n) throw new VvfError('MEDIA_INCONSISTENT', `stsc/stco place ${i} of ${n} samples`, where('stsc'));
  out.sourceIndex.fill(sourceIndex, first, first + n);

  // Sync samples: no stss means every sample is a sync sample.
  const stss = leaf(stbl, 'stss', stssCodec);
  if (stss) {
    for (const s of stss.samples) {
      if (s < 1 || s > n) throw new VvfError('MEDIA_INCONSISTENT', `stss names sample ${s} of ${n}`, where('stss'));
      out.sync[first + s - 1] = 1;
    }
  } else {
    out.sync.fill(1, first, first + n);
  }

  const sdtp = leaves(stbl, 'sdtp', sdtpCodec)[0];
  if (sdtp && sdtp.entries.length >= n) out.withDependency().set(sdtp.entries.subarray(0, n), first);
}
