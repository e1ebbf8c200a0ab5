import { VvfError } from '../errors.js';
import type { Limits } from '../limits.js';
import { cttsCodec } from './boxes/ctts.js';
import { elstCodec } from './boxes/elst.js';
import { ftypCodec } from './boxes/ftyp.js';
import { hdlrCodec } from './boxes/hdlr.js';
import { mdhdCodec } from './boxes/mdhd.js';
import { mehdCodec } from './boxes/mehd.js';
import { mfhdCodec } from './boxes/mfhd.js';
import { mfroCodec } from './boxes/mfro.js';
import { mvhdCodec } from './boxes/mvhd.js';
import { sdtpCodec } from './boxes/sdtp.js';
import { sidxCodec } from './boxes/sidx.js';
import { stcoCodec } from './boxes/stco.js';
import { stscCodec } from './boxes/stsc.js';
import { stsdCodec } from './boxes/stsd.js';
import { stssCodec } from './boxes/stss.js';
import { stszCodec } from './boxes/stsz.js';
import { sttsCodec } from './boxes/stts.js';
import { tfdtCodec } from './boxes/tfdt.js';
import { tfhdCodec } from './boxes/tfhd.js';
import { tfraCodec } from './boxes/tfra.js';
import { tkhdCodec } from './boxes/tkhd.js';
import { trexCodec } from './boxes/trex.js';
import { trunCodec } from './boxes/trun.js';
import type { BoxCodec } from './codec.js';
import { Cursor } from './cursor.js';
import { type BoxHeader, boxSize, readBoxHeaderAt, writeBoxHeader } from './header.js';
import { Writer } from './writer.js';

/** Boxes that only hold other boxes. */
export const CONTAINER_TYPES: ReadonlySet<string> = new Set([
  'moov',
  'trak',
  'edts',
  'mdia',
  'minf',
  'dinf',
  'stbl',
  'mvex',
  'moof',
  'traf',
  'mfra',
]);

// The codecs are typed per box; the registry erases the type, and `leaf()` restores it
// by checking codec identity.
const LEAF_CODECS: ReadonlyMap<string, BoxCodec<unknown>> = new Map<string, BoxCodec<unknown>>([
  ['ftyp', ftypCodec],
  ['styp', ftypCodec],
  ['mvhd', mvhdCodec],
  ['tkhd', tkhdCodec],
  ['elst', elstCodec],
  ['mdhd', mdhdCodec],
  ['hdlr', hdlrCodec],
  ['stsd', stsdCodec],
  ['stts', sttsCodec],
  ['ctts', cttsCodec],
  ['stsc', stscCodec],
  ['stsz', stszCodec],
  ['stz2', stszCodec],
  ['stco', stcoCodec],
  ['co64', stcoCodec],
  ['stss', stssCodec],
  ['sdtp', sdtpCodec],
  ['mehd', mehdCodec],
  ['trex', trexCodec],
  ['mfhd', mfhdCodec],
  ['tfhd', tfhdCodec],
  ['tfdt', tfdtCodec],
  ['trun', trunCodec],
  ['sidx', sidxCodec],
  ['tfra', tfraCodec],
  ['mfro', mfroCodec],
]);

interface NodeBase {
  type: string;
  /** The header as read (offsets are absolute in the source). */
  header: BoxHeader;
  /** Box path such as `moov/trak[1]/tkhd`, for messages. */
  path: string;
}
export interface ContainerNode extends NodeBase {
  kind: 'container';
  children: BoxNode[];
}
export interface LeafNode extends NodeBase {
  kind: 'leaf';
  codec: BoxCodec<unknown>;
  box: unknown;
}
/** A box vvf does not interpret, kept as its bytes (header included). */
export interface OpaqueNode extends NodeBase {
  kind: 'opaque';
  bytes: Uint8Array;
}
export type BoxNode = ContainerNode | LeafNode | OpaqueNode;

export interface ParseTreeOptions {
  /** The tree may hold at most the smaller of maxBoxes and maxTreeBoxes. */
  limits: Pick<Limits, 'maxBoxes' | 'maxDepth'> & Partial<Pick<Limits, 'maxTreeBoxes'>>;
  /** Source name for error messages. */
  source?: string;
}

/**
 * Parses the boxes in `bytes` (which sit at absolute offset `base`) into a tree:
 * containers are descended, known leaves parsed, everything else kept as bytes.
 */
export function parseBoxTree(bytes: Uint8Array, base: number, parentPath: string, opts: ParseTreeOptions): BoxNode[] {
  const counter: TreeCounter = { boxes: 0, max: Math.min(opts.limits.maxBoxes, opts.limits.maxTreeBoxes ?? Infinity) };
  try {
    return parseChildren(new Cursor(bytes, base, parentPath), parentPath, 0, opts, counter);
  } catch (e) {
    if (e instanceof VvfError && opts.source !== undefined) throw e.locate({ source: opts.source });
    throw e;
  }
}

/** Boxes of one tree so far, and how many it may hold. */
interface TreeCounter {
  boxes: number;
  max: number;
}

function parseChildren(c: Cursor, parentPath: string, depth: number, opts: ParseTreeOptions, counter: TreeCounter): BoxNode[] {
  if (depth > opts.limits.maxDepth) {
    throw new VvfError('STRUCTURE_LIMIT', `boxes nested deeper than ${opts.limits.maxDepth}`, {
      path: parentPath,
      offset: c.offset,
    });
  }
  // Walked by index, not through Cursor.sub: a container may hold a million boxes, and a
  // Cursor (with its DataView) and a copy per opaque box were most of their cost.
  const { bytes, base } = c;
  const limit = c.position + c.remaining;
  const endOffset = c.endOffset;
  const nodes: BoxNode[] = [];
  const seen = new Map<string, number>();
  let index = c.position;
  // Trailing bytes shorter than a box header are padding some writers leave; ignore them.
  while (limit - index >= 8) {
    if (++counter.boxes > counter.max) {
      const which = counter.max === opts.limits.maxBoxes ? 'maxBoxes' : 'maxTreeBoxes';
      throw new VvfError('STRUCTURE_LIMIT', `more than ${counter.max} boxes in one box tree (limit ${which})`, {
        path: parentPath,
        offset: base + index,
      });
    }
    const h = readBoxHeaderAt(bytes, index, base, endOffset, parentPath, limit);
    const n = seen.get(h.type) ?? 0;
    seen.set(h.type, n + 1);
    const path = `${parentPath === '' ? '' : `${parentPath}/`}${h.type}${n > 0 ? `[${n}]` : ''}`;
    nodes.push(parseNode(h, path, depth, opts, counter, bytes, base, index));
    index += h.size;
  }
  return nodes;
}

function parseNode(
  h: BoxHeader,
  path: string,
  depth: number,
  opts: ParseTreeOptions,
  counter: TreeCounter,
  bytes: Uint8Array,
  base: number,
  start: number,
): BoxNode {
  if (CONTAINER_TYPES.has(h.type)) {
    const payload = new Cursor(bytes, base, path, start + h.headerSize, start + h.size);
    return { kind: 'container', type: h.type, header: h, path, children: parseChildren(payload, path, depth + 1, opts, counter) };
  }
  const codec = LEAF_CODECS.get(h.type);
  if (codec) {
    const payload = new Cursor(bytes, base, path, start + h.headerSize, start + h.size);
    return { kind: 'leaf', type: h.type, header: h, path, codec, box: codec.parse(payload, h) };
  }
  // A view, not a copy: trees live only while a scan is read (the model copies what it keeps).
  return { kind: 'opaque', type: h.type, header: h, path, bytes: bytes.subarray(start, start + h.size) };
}

/** Total size of a node as it would be written. */
export function nodeSize(node: BoxNode): number {
  switch (node.kind) {
    case 'container':
      return boxSize(
        node.children.reduce((s, ch) => s + nodeSize(ch), 0),
        node.type,
      );
    case 'leaf':
      return node.codec.size(node.box);
    case 'opaque':
      return node.bytes.length;
  }
}

export function writeNode(w: Writer, node: BoxNode): void {
  switch (node.kind) {
    case 'container':
      writeBoxHeader(w, node.type, nodeSize(node), node.header.usertype);
      for (const ch of node.children) writeNode(w, ch);
      return;
    case 'leaf':
      node.codec.write(w, node.box);
      return;
    case 'opaque':
      w.bytesFrom(node.bytes);
      return;
  }
}

/** Serializes nodes one after another. */
export function encodeNodes(nodes: BoxNode[]): Uint8Array {
  const w = new Writer(nodes.reduce((s, n) => s + nodeSize(n), 0));
  for (const n of nodes) writeNode(w, n);
  return w.finish();
}

/** Children of a container with the given type. */
export function childrenOf(node: BoxNode | BoxNode[], type: string): BoxNode[] {
  const out: BoxNode[] = [];
  for (const n of childList(node)) if (n.type === type) out.push(n);
  return out;
}

/** The first child container of a type, or undefined. */
export function containerChild(node: BoxNode | BoxNode[], type: string): ContainerNode | undefined {
  const n = firstOfType(node, type);
  return n?.kind === 'container' ? n : undefined;
}

/** The parsed leaf boxes of a type among a node's children, typed by their codec. */
export function leaves<T>(node: BoxNode | BoxNode[], type: string, codec: BoxCodec<T>): T[] {
  const out: T[] = [];
  for (const n of childList(node)) {
    if (n.type === type && n.kind === 'leaf' && n.codec === (codec as BoxCodec<unknown>)) out.push(n.box as T);
  }
  return out;
}

/** The first parsed leaf of a type, or undefined. */
export function leaf<T>(node: BoxNode | BoxNode[], type: string, codec: BoxCodec<T>): T | undefined {
  // Stops at the first match: a container may hold a million other boxes.
  for (const n of childList(node)) {
    if (n.type === type && n.kind === 'leaf' && n.codec === (codec as BoxCodec<unknown>)) return n.box as T;
  }
  return undefined;
}

function childList(node: BoxNode | BoxNode[]): readonly BoxNode[] {
  return Array.isArray(node) ? node : node.kind === 'container' ? node.children : [];
}

function firstOfType(node: BoxNode | BoxNode[], type: string): BoxNode | undefined {
  for (const n of childList(node)) if (n.type === type) return n;
  return undefined;
}

/** Like `leaf` but a missing box is a BOX_MISSING error located at the parent. */
export function requireLeaf<T>(node: ContainerNode, type: string, codec: BoxCodec<T>): T {
  const b = leaf(node, type, codec);
  if (b === undefined) {
    throw new VvfError('BOX_MISSING', `${node.type} has no ${type} box`, { path: node.path, offset: node.header.start });
  }
  return b;
}

export function requireContainer(node: ContainerNode, type: string): ContainerNode {
  const b = containerChild(node, type);
  if (b === undefined) {
    throw new VvfError('BOX_MISSING', `${node.type} has no ${type} box`, { path: node.path, offset: node.header.start });
  }
  return b;
}

// Building trees for output. Headers of built nodes are placeholders: writing computes sizes.
function builtHeader(type: string): BoxHeader {
  return { type, start: 0, headerSize: 8, size: 0, large: false, toEnd: false };
}

/** A container node to write. */
export function containerNode(type: string, children: BoxNode[]): ContainerNode {
  return { kind: 'container', type, header: builtHeader(type), path: type, children };
}

/** A parsed-box node to write with its codec. */
export function leafNode<T>(type: string, codec: BoxCodec<T>, box: T): LeafNode {
  return { kind: 'leaf', type, header: builtHeader(type), path: type, codec: codec as BoxCodec<unknown>, box };
}

/** A box given by its payload bytes. */
export function rawNode(type: string, payload: Uint8Array | number[]): OpaqueNode {
  const body = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  const w = new Writer(boxSize(body.length, type));
  writeBoxHeader(w, type, w.bytes.length);
  w.bytesFrom(body);
  return { kind: 'opaque', type, header: builtHeader(type), path: type, bytes: w.finish() };
}
