import { VvfError } from '../errors.js';
import { describeBox, type Fields, type FieldValue, type TimeContext } from '../isobmff/box-fields.js';
import type { MdhdBox } from '../isobmff/boxes/mdhd.js';
import type { MvhdBox } from '../isobmff/boxes/mvhd.js';
import type { StsdBox } from '../isobmff/boxes/stsd.js';
import type { TfhdBox } from '../isobmff/boxes/tfhd.js';
import type { TkhdBox } from '../isobmff/boxes/tkhd.js';
import { type OpenedBox, openSampleEntry } from '../isobmff/decoder-config/entry-fields.js';
import type { BoxNode } from '../isobmff/tree.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { Source } from '../sources/source.js';
import { scanMp4 } from './mp4-scan.js';

/** A box of a listing, with its fields in their units, its table entries and its children. */
export interface ListedBox {
  type: string;
  /** Absolute offset of the box. */
  offset: number;
  size: number;
  fields?: Fields;
  /** A table's entries: how many there are, and those shown (all, or the first and last few). */
  table?: { count: number; columns: string[]; entries: { index: number; values: FieldValue[] }[] };
  children?: ListedBox[];
}

/** Payload bytes up to which a box vvf does not parse is shown as hex. */
const SHOW_OPAQUE_BYTES = 32;

/** How much of each table a listing shows. */
export interface ListOptions {
  /** Entries shown from each end of a table (default 5). */
  entries?: number;
  /** Every entry of every table. */
  full?: boolean;
  limits?: Partial<Limits>;
}

/** One line of a flat box listing. */
export interface BoxLine {
  depth: number;
  type: string;
  /** Absolute offset of the box. */
  offset: number;
  size: number;
  /** Fields in their units; a table's length as `entries[]`. */
  fields?: Fields;
}

/**
 * The box tree of an MP4 source, as mp4dump or MP4Box -diso show it: every top-level box;
 * inside metadata boxes every child with its fields in their units (tkhd width in pixels,
 * durations also in seconds), table entries (the first and last few unless `full`), and
 * sample entries opened (avcC, hvcC, esds, dOps, … fields). mdat is never read.
 */
export async function listBoxTree(source: Source, options: ListOptions = {}): Promise<ListedBox[]> {
  const scan = await scanMp4(source, resolveLimits(options.limits), { metadataBytes: 0 }, {}, undefined, 'all');
  const shown = options.full ? Number.POSITIVE_INFINITY : Math.max(0, options.entries ?? 5);
  const timescales = new Map<number, number>();
  const ctx: TimeContext = {};
  const out: ListedBox[] = [];
  for (const box of scan.boxes) {
    if (box.nodes) {
      for (const n of box.nodes) {
        if (n.type === 'moov') learnTimescales(n, timescales, ctx);
        out.push(walk(n, ctx, timescales, shown));
      }
    } else out.push({ type: box.type, offset: box.start, size: box.size });
  }
  return out;
}

/** The flat form of listBoxTree: one line per box with its depth (tables are counted, not listed). */
export async function listBoxes(source: Source, limits?: Partial<Limits>): Promise<BoxLine[]> {
  const lines: BoxLine[] = [];
  const flatten = (b: ListedBox, depth: number): void => {
    const line: BoxLine = { depth, type: b.type, offset: b.offset, size: b.size };
    if (b.fields || b.table) line.fields = { ...b.fields, ...(b.table ? { 'entries[]': b.table.count } : {}) };
    lines.push(line);
    for (const c of b.children ?? []) flatten(c, depth + 1);
  };
  for (const b of await listBoxTree(source, { entries: 0, ...(limits ? { limits } : {}) })) flatten(b, 0);
  return lines;
}

/** mvhd's timescale, and each track's mdhd timescale by track id (for traf times). */
function learnTimescales(moov: BoxNode, timescales: Map<number, number>, ctx: TimeContext): void {
  if (moov.kind !== 'container') return;
  for (const child of moov.children) {
    if (child.type === 'mvhd' && child.kind === 'leaf') ctx.movieTimescale = (child.box as MvhdBox).timescale;
    if (child.type === 'trak') {
      const id = leafOf<TkhdBox>(child, ['tkhd'])?.trackId;
      const ts = leafOf<MdhdBox>(child, ['mdia', 'mdhd'])?.timescale;
      if (id !== undefined && ts !== undefined) timescales.set(id, ts);
    }
  }
}

function leafOf<T>(node: BoxNode, path: string[]): T | undefined {
  let n: BoxNode | undefined = node;
  for (const type of path) {
    n = n?.kind === 'container' ? n.children.find((c) => c.type === type) : undefined;
  }
  return n?.kind === 'leaf' ? (n.box as T) : undefined;
}

function walk(node: BoxNode, ctx: TimeContext, timescales: Map<number, number>, shown: number): ListedBox {
  const out: ListedBox = { type: node.type, offset: node.header.start, size: node.header.size };
  if (node.kind === 'container') {
    // Times inside a trak or traf are in that track's timescale.
    let inner = ctx;
    if (node.type === 'trak') {
      const ts = leafOf<MdhdBox>(node, ['mdia', 'mdhd'])?.timescale;
      inner = { ...ctx, ...(ts !== undefined ? { mediaTimescale: ts } : {}) };
    } else if (node.type === 'traf') {
      const id = leafOf<TfhdBox>(node, ['tfhd'])?.trackId;
      const ts = id !== undefined ? timescales.get(id) : undefined;
      inner = { ...ctx, ...(ts !== undefined ? { mediaTimescale: ts } : {}) };
    }
    out.children = node.children.map((c) => walk(c, inner, timescales, shown));
    return out;
  }
  if (node.kind === 'opaque') {
    // Small boxes vvf does not parse (vmhd, smhd, dref, …) show their payload, as MP4Box does.
    const payload = node.bytes.subarray(node.header.headerSize);
    if (payload.length > 0 && payload.length <= SHOW_OPAQUE_BYTES && node.type !== 'free' && node.type !== 'skip') {
      out.fields = { data: Array.from(payload, (b) => b.toString(16).padStart(2, '0')).join(' ') };
    }
    return out;
  }
  const d = describeBox(node.type, node.box, ctx);
  out.fields = d.fields;
  if (d.table) {
    const t = d.table;
    const pick = t.count <= 2 * shown ? range(0, t.count) : [...range(0, shown), ...range(t.count - shown, t.count)];
    out.table = { count: t.count, columns: t.columns, entries: pick.map((i) => ({ index: i, values: t.row(i) })) };
  }
  if (node.type === 'stsd')
    out.children = openEntries(node.box as StsdBox, node.header.start + node.header.headerSize + 8, node.path);
  return out;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** The sample entries of an stsd, opened; one that cannot be read is listed with its error. */
function openEntries(stsd: StsdBox, firstOffset: number, path: string): ListedBox[] {
  let at = firstOffset;
  return stsd.entries.map((entry, i) => {
    const offset = at;
    at += entry.length;
    try {
      return opened(openSampleEntry(entry, offset, `${path}/entry[${i}]`));
    } catch (e) {
      if (!(e instanceof VvfError)) throw e;
      const type = new TextDecoder('latin1').decode(entry.subarray(4, 8));
      return { type, offset, size: entry.length, fields: { error: `${e.code}: ${e.message}` } };
    }
  });
}

function opened(b: OpenedBox): ListedBox {
  const out: ListedBox = { type: b.type, offset: b.offset, size: b.size, fields: b.fields };
  if (b.children) out.children = b.children.map(opened);
  return out;
}
