import { VvfError } from '../errors.js';
import { type FtypBox, ftypCodec } from '../isobmff/boxes/ftyp.js';
import { type BoxNode, type ContainerNode, leaf, parseBoxTree } from '../isobmff/tree.js';
import type { Limits } from '../limits.js';
import type { Source } from '../sources/source.js';
import { type ScannedBox, scanBoxes } from './box-scanner.js';
import type { MoofBytes } from './fragment-samples.js';

/** The metadata of one MP4 file (or a byte range of one), as found by a scan. */
export interface Mp4Scan {
  ftyp?: FtypBox;
  moov?: ContainerNode;
  /** The moofs as bytes: the sample reader walks them directly. */
  moofs: MoofBytes[];
  sidxCount: number;
  hasMfra: boolean;
  /** Absolute offset of the first mdat, if any. */
  firstMdat?: number;
  /**
   * Top-level boxes seen, in order, with their parsed trees when they are metadata
   * (moofs only with `trees: 'all'`). Except with `trees: 'all'` (a listing), a run of
   * skipped boxes of one type is one entry spanning them all, with `count` boxes: a
   * file of a million `free` boxes would otherwise hold a million entries.
   */
  boxes: { type: string; start: number; size: number; nodes?: BoxNode[]; count?: number }[];
}

/** Scans a source region's top-level boxes and parses its metadata boxes into trees. */
export async function scanMp4(
  source: Source,
  limits: Limits,
  budget: { metadataBytes: number },
  region: { start?: number; end?: number } = {},
  fragmentHint?: { bytes: number },
  /**
   * 'all' parses every metadata box into a tree (for listings); by default moofs stay
   * bytes and sidx and styp are only counted.
   */
  trees: 'all' | 'except-moof' = 'except-moof',
): Promise<Mp4Scan> {
  const scan: Mp4Scan = { moofs: [], sidxCount: 0, hasMfra: false, boxes: [] };
  const counts = new Map<string, number>();
  const scanOptions = { limits, budget, ...region, ...(fragmentHint ? { fragmentHint } : {}) };
  for await (const batch of scanBoxes(source, scanOptions)) {
    for (const box of batch) addBox(box);
  }
  return scan;

  function addBox({ header, bytes }: ScannedBox): void {
    const last = scan.boxes[scan.boxes.length - 1];
    if (!bytes && trees !== 'all' && last && !last.nodes && last.type === header.type && header.type !== 'mdat') {
      last.size += header.size;
      last.count = (last.count ?? 1) + 1;
      return;
    }
    const entry: Mp4Scan['boxes'][number] = { type: header.type, start: header.start, size: header.size };
    scan.boxes.push(entry);
    if (header.type === 'mdat' && scan.firstMdat === undefined) scan.firstMdat = header.start;
    if (!bytes) return;
    // Ordinals name repeated metadata boxes (moof[3]); only metadata boxes need them.
    const n = counts.get(header.type) ?? 0;
    counts.set(header.type, n + 1);
    const path = n > 0 ? `${header.type}[${n}]` : header.type;
    if (header.type === 'moof') {
      // A view of the scanner's read buffer, which is never reused: safe to keep.
      scan.moofs.push({ start: header.start, bytes, path });
      if (trees !== 'all') return;
    }
    // The movie needs no more of a segment's sidx or styp than that it is there: a
    // segmented hour has thousands of them.
    if (trees !== 'all' && (header.type === 'sidx' || header.type === 'styp')) {
      if (header.type === 'sidx') scan.sidxCount++;
      return;
    }
    const nodes = parseBoxTree(bytes, header.start, '', { limits, source: source.key });
    // The tree's top-level path is the box's own; give repeated boxes their ordinal.
    const node = nodes[0];
    if (node) node.path = path;
    entry.nodes = nodes;
    if (!node) return;
    switch (header.type) {
      case 'ftyp':
      case 'styp': {
        const f = leaf(nodes, header.type, ftypCodec);
        if (f && header.type === 'ftyp') scan.ftyp = f;
        break;
      }
      case 'moov':
        if (scan.moov)
          throw new VvfError('MEDIA_INCONSISTENT', 'more than one moov box', { source: source.key, offset: header.start });
        if (node.kind === 'container') scan.moov = node;
        break;
      case 'sidx':
        scan.sidxCount++;
        break;
      case 'mfra':
        scan.hasMfra = true;
        break;
    }
  }
}
