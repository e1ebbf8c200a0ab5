import type { BoxNode } from '../isobmff/tree.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { Source } from '../sources/source.js';
import { scanMp4 } from './mp4-scan.js';

/** One line of a box tree listing. */
export interface BoxLine {
  depth: number;
  type: string;
  /** Absolute offset of the box. */
  offset: number;
  size: number;
  /** Scalar fields of parsed boxes; table lengths as `name[]`. */
  fields?: Record<string, string | number>;
}

/**
 * Lists the box tree of an MP4 source with offsets and sizes: every top-level box,
 * and inside metadata boxes every child. mdat is never read.
 */
export async function listBoxes(source: Source, limits?: Partial<Limits>): Promise<BoxLine[]> {
  const scan = await scanMp4(source, resolveLimits(limits), { metadataBytes: 0 }, {}, undefined, 'all');
  const lines: BoxLine[] = [];
  for (const box of scan.boxes) {
    if (box.nodes) for (const n of box.nodes) walk(n, 0, lines);
    else lines.push({ depth: 0, type: box.type, offset: box.start, size: box.size });
  }
  return lines;
}

function walk(node: BoxNode, depth: number, out: BoxLine[]): void {
  const line: BoxLine = { depth, type: node.type, offset: node.header.start, size: node.header.size };
  if (node.kind === 'leaf') line.fields = scalarFields(node.box);
  out.push(line);
  if (node.kind === 'container') for (const ch of node.children) walk(ch, depth + 1, out);
}

function scalarFields(box: unknown): Record<string, string | number> {
  const fields: Record<string, string | number> = {};
  if (typeof box !== 'object' || box === null) return fields;
  for (const [k, v] of Object.entries(box)) {
    if (k === 'type' || k === 'trailing') continue;
    if (typeof v === 'number' || typeof v === 'string') fields[k] = v;
    else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) fields[`${k}[]`] = (v as Uint8Array).length;
    else if (Array.isArray(v)) fields[`${k}[]`] = v.length;
  }
  return fields;
}
