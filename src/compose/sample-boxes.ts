import { type CttsBox, cttsCodec } from '../isobmff/boxes/ctts.js';
import { type SdtpBox, sdtpCodec } from '../isobmff/boxes/sdtp.js';
import { type StscBox, stscCodec } from '../isobmff/boxes/stsc.js';
import { type StssBox, stssCodec } from '../isobmff/boxes/stss.js';
import { type StszBox, stszCodec } from '../isobmff/boxes/stsz.js';
import { type SttsBox, sttsCodec } from '../isobmff/boxes/stts.js';
import { type BoxNode, leafNode } from '../isobmff/tree.js';
import type { SampleTable } from '../model/sample-table.js';

/** Run-length encodes a column: equal neighbours become one (count, value) entry. */
function runs<T extends Uint32Array | Int32Array>(values: T, make: (n: number) => T): { counts: Uint32Array; values: T } {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[i - 1]) n++;
  const counts = new Uint32Array(n);
  const out = make(n);
  let k = -1;
  for (let i = 0; i < values.length; i++) {
    if (i === 0 || values[i] !== values[i - 1]) {
      k++;
      out[k] = values[i] ?? 0;
    }
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return { counts, values: out };
}

/** stts, ctts (when any offset is not 0; version 1 when any is negative), stss (when not all are sync), sdtp, stsz. */
export function sampleTableBoxes(s: SampleTable): BoxNode[] {
  const nodes: BoxNode[] = [];
  const d = runs(s.duration, (n) => new Uint32Array(n));
  nodes.push(leafNode<SttsBox>('stts', sttsCodec, { version: 0, flags: 0, counts: d.counts, deltas: d.values }));
  let negative = false;
  let nonZero = false;
  for (let i = 0; i < s.count; i++) {
    const o = s.compositionOffset[i] ?? 0;
    if (o !== 0) nonZero = true;
    if (o < 0) negative = true;
  }
  if (nonZero) {
    const c = runs(s.compositionOffset, (n) => new Int32Array(n));
    nodes.push(
      leafNode<CttsBox>('ctts', cttsCodec, { version: negative ? 1 : 0, flags: 0, counts: c.counts, offsets: c.values }),
    );
  }
  let syncCount = 0;
  for (let i = 0; i < s.count; i++) if (s.sync[i]) syncCount++;
  if (syncCount < s.count) {
    const samples = new Uint32Array(syncCount);
    let k = 0;
    for (let i = 0; i < s.count; i++) if (s.sync[i]) samples[k++] = i + 1;
    nodes.push(leafNode<StssBox>('stss', stssCodec, { version: 0, flags: 0, samples }));
  }
  if (s.dependency) nodes.push(leafNode<SdtpBox>('sdtp', sdtpCodec, { version: 0, flags: 0, entries: s.dependency }));
  let constant = s.count > 0;
  for (let i = 1; i < s.count && constant; i++) if (s.size[i] !== s.size[0]) constant = false;
  nodes.push(
    leafNode<StszBox>('stsz', stszCodec, {
      type: 'stsz',
      version: 0,
      flags: 0,
      sampleSize: constant ? (s.size[0] ?? 0) : 0,
      fieldSize: 32,
      sampleCount: s.count,
      sizes: constant ? null : s.size,
    }),
  );
  return nodes;
}

/** stsc from per-chunk sample counts and description indexes: runs of equal chunks become one entry. */
export function stscBox(samplesPerChunk: Uint32Array, chunkDescription: Uint32Array): BoxNode {
  const first: number[] = [];
  const per: number[] = [];
  const desc: number[] = [];
  for (let c = 0; c < samplesPerChunk.length; c++) {
    const n = samplesPerChunk[c] ?? 0;
    const d = chunkDescription[c] ?? 1;
    if (per.length === 0 || per[per.length - 1] !== n || desc[desc.length - 1] !== d) {
      first.push(c + 1);
      per.push(n);
      desc.push(d);
    }
  }
  return leafNode<StscBox>('stsc', stscCodec, {
    version: 0,
    flags: 0,
    firstChunks: Uint32Array.from(first),
    samplesPerChunk: Uint32Array.from(per),
    descriptionIndexes: Uint32Array.from(desc),
  });
}
