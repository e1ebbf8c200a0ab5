// The vvf tree: a read-only filesystem over a catalog's virtual files.
//   <mnt>/<name>.mp4        readable names, made unique (name.mp4, name-2.mp4 by id order)
//   <mnt>/by-id/<id>.mp4    the same files by catalog id (hard links: one inode)
import { createHash } from 'node:crypto';
import { isVvfError } from '../errors.js';
import type { PlannedPiece } from '../virtual/virtual-file.js';
import { Errno, FuseErrno } from './errno.js';
import type { Attr, DirEntry, Entry, FilePlan, FileRange, FuseFilesystem, Opened, ReadPlan, StatfsInfo } from './filesystem.js';
import { ROOT_NODE_ID } from './filesystem.js';

/** The bytes of one catalog file, as a {@link VirtualFile} has them. */
export interface CatalogFile {
  size: number;
  etag: string;
  /** Exactly `length` bytes at `offset`, as views into buffers; throws rather than return fewer. */
  readPieces(offset: number, length: number, scratch?: Uint8Array): Promise<Uint8Array[]>;
  /** The same bytes as held bytes and ranges of opened sources (local files can be spliced). */
  planPieces?(offset: number, length: number): Promise<PlannedPiece[]>;
}

/** One virtual file of the catalog. */
export interface CatalogEntry {
  id: string;
  /** A readable name, without `.mp4`; may collide with others'. */
  name: string;
  file: CatalogFile;
  created: Date;
  /** Shown as JSON in the `user.vvf.recipe` extended attribute. */
  recipe: unknown;
}

/** The catalog as the mount sees it: implemented by the catalog layer. */
export interface CatalogView {
  list(): Promise<CatalogEntry[]>;
  get(id: string): Promise<CatalogEntry | undefined>;
  /** A read of the entry's file found a source changed: compile it again (Catalog.invalidate). Optional. */
  invalidate?(entry: CatalogEntry): void;
}

/** Options of {@link VvfTree}. */
export interface VvfTreeOptions {
  /** How long a listing is reused before the catalog is asked again. Default 200 ms. */
  listCacheMs?: number;
  /** How long the kernel may cache names and attributes. Default 1000 ms (files registered or deleted show within it). */
  cacheTimeoutMs?: number;
  /** Owner of every node. Default: the process's uid and gid. */
  uid?: number;
  gid?: number;
  /** Called with the node of a file whose id now names other bytes (or is gone), so its cached pages can be dropped. */
  onStale?: (nodeid: bigint) => void;
}

const BY_ID_NODE_ID = 2n;
const BY_ID = 'by-id';
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const EXTENSION = '.mp4';
/** Bytes of a name before its suffix and extension: NAME_MAX (255) with room for `-<n>.mp4`. */
const MAX_BASE_BYTES = 200;
const XATTR_ETAG = 'user.vvf.etag';
const XATTR_RECIPE = 'user.vvf.recipe';
const XATTR_ID = 'user.vvf.id';

interface Listing {
  at: number;
  byName: Map<string, CatalogEntry>;
  byId: Map<string, CatalogEntry>;
  /** File names of the root, in listing order. */
  names: string[];
  ids: string[];
  /** Node id of each id's current bytes. */
  nodeOfId: Map<string, bigint>;
}

interface Node {
  entry: CatalogEntry;
  /** References the kernel holds (LOOKUP, READDIRPLUS entries) minus those it forgot. */
  refs: bigint;
  /** No longer in the catalog (reported to onStale once). */
  stale?: boolean;
}

/**
 * A node id (and st_ino) for a file's bytes: from its etag, so the same bytes have the
 * same inode across remounts, both names of a file share it, and bytes that change get
 * a new one (the kernel's page cache of a node is therefore never stale: every open
 * keeps it). 63 bits, above the directories' fixed ids.
 */
export function nodeIdOfEtag(etag: string): bigint {
  const digest = createHash('sha256').update(etag).digest();
  const n = digest.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return n < 16n ? n + 16n : n;
}

/**
 * A name safe as one path component: no `/`, NUL or control characters, not `.` or
 * `..`, at most {@link MAX_BASE_BYTES} bytes of UTF-8 (cut on a character boundary).
 */
export function safeBaseName(name: string): string {
  let s = name.replace(/[/\u0000-\u001f\u007f]/g, '_').trim();
  if (s === '' || s === '.' || s === '..') s = `_${s}`;
  if (Buffer.byteLength(s) > MAX_BASE_BYTES) {
    let cut = '';
    for (const ch of s) {
      if (Buffer.byteLength(cut + ch) > MAX_BASE_BYTES) break;
      cut += ch;
    }
    s = cut;
  }
  return s;
}

/** `name.mp4`, `name-2.mp4`, … given to entries in id order: the same set of files always gets the same names. */
function assignNames(entries: CatalogEntry[]): Map<string, CatalogEntry> {
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byName = new Map<string, CatalogEntry>();
  for (const e of sorted) {
    const base = safeBaseName(e.name);
    let name = base + EXTENSION;
    for (let n = 2; byName.has(name); n++) name = `${base}-${n}${EXTENSION}`;
    byName.set(name, e);
  }
  return byName;
}

/** Planned pieces as a {@link ReadPlan}; undefined when a source has no descriptor (not a local file). */
function toReadPlan(planned: PlannedPiece[]): ReadPlan | undefined {
  const plan: ReadPlan = [];
  for (const p of planned) {
    if (p instanceof Uint8Array) {
      plan.push(p);
      continue;
    }
    const source = p.source;
    if (source.descriptor === undefined) return undefined;
    plan.push({ source: source as FileRange['source'], offset: p.offset, length: p.length });
  }
  return plan;
}

/** The vvf tree over a {@link CatalogView}. */
export class VvfTree implements FuseFilesystem {
  private readonly catalog: CatalogView;
  private readonly listCacheMs: number;
  private readonly timeoutMs: number;
  private readonly uid: number;
  private readonly gid: number;
  private readonly mountedAt = Date.now();
  private onStale: ((nodeid: bigint) => void) | undefined;
  private listing: Listing | undefined;
  private refreshing: Promise<Listing> | undefined;
  private readonly nodes = new Map<bigint, Node>();
  /** Whole-file plans by file, made at the first OPEN that asks (the session keeps what it makes of each). */
  private readonly plans = new WeakMap<CatalogFile, Promise<FilePlan | undefined>>();

  constructor(catalog: CatalogView, opts: VvfTreeOptions = {}) {
    this.catalog = catalog;
    this.listCacheMs = opts.listCacheMs ?? 200;
    this.timeoutMs = Math.round(opts.cacheTimeoutMs ?? 1000);
    this.uid = opts.uid ?? process.getuid?.() ?? 0;
    this.gid = opts.gid ?? process.getgid?.() ?? 0;
    this.onStale = opts.onStale;
  }

  /** Sets where stale nodes are reported (the session's NOTIFY_INVAL_INODE). */
  setOnStale(onStale: (nodeid: bigint) => void): void {
    this.onStale = onStale;
  }

  private async current(): Promise<Listing> {
    const l = this.listing;
    if (l !== undefined && Date.now() - l.at < this.listCacheMs) return l;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<Listing> {
    const entries = await this.catalog.list();
    const byName = assignNames(entries);
    const byId = new Map<string, CatalogEntry>();
    const nodeOfId = new Map<string, bigint>();
    for (const e of entries) {
      const id = safeBaseName(e.id);
      if (byId.has(id)) continue;
      byId.set(id, e);
      nodeOfId.set(e.id, nodeIdOfEtag(e.file.etag));
    }
    const fresh: Listing = { at: Date.now(), byName, byId, names: [...byName.keys()], ids: [...byId.keys()], nodeOfId };
    const live = new Set(nodeOfId.values());
    for (const [nodeid, node] of this.nodes) {
      if (live.has(nodeid)) continue;
      // These bytes are no longer in the catalog: drop their pages; forget the node once the kernel has.
      if (node.refs > 0n) {
        if (!node.stale) this.onStale?.(nodeid);
        node.stale = true;
      } else {
        this.nodes.delete(nodeid);
      }
    }
    this.listing = fresh;
    return fresh;
  }

  private fileEntry(e: CatalogEntry): Entry {
    const nodeid = nodeIdOfEtag(e.file.etag);
    if (!this.nodes.has(nodeid)) this.nodes.set(nodeid, { entry: e, refs: 0n });
    return { nodeid, attr: this.fileAttr(nodeid, e), entryTimeoutMs: this.timeoutMs, attrTimeoutMs: this.timeoutMs };
  }

  private fileAttr(nodeid: bigint, e: CatalogEntry): Attr {
    return {
      ino: nodeid,
      size: e.file.size,
      mode: S_IFREG | 0o444,
      nlink: 2,
      uid: this.uid,
      gid: this.gid,
      mtimeMs: e.created.getTime(),
    };
  }

  private dirEntry(nodeid: bigint): Entry {
    const attr: Attr = {
      ino: nodeid,
      size: 4096,
      mode: S_IFDIR | 0o555,
      nlink: nodeid === ROOT_NODE_ID ? 3 : 2,
      uid: this.uid,
      gid: this.gid,
      mtimeMs: this.mountedAt,
    };
    return { nodeid, attr, entryTimeoutMs: this.timeoutMs, attrTimeoutMs: this.timeoutMs };
  }

  private node(nodeid: bigint): Node {
    const n = this.nodes.get(nodeid);
    if (n === undefined) throw new FuseErrno(Errno.ESTALE);
    return n;
  }

  async lookup(parent: bigint, name: string): Promise<Entry | undefined> {
    if (parent === ROOT_NODE_ID) {
      if (name === BY_ID) return this.dirEntry(BY_ID_NODE_ID);
      const e = (await this.current()).byName.get(name);
      return e === undefined ? undefined : this.fileEntry(e);
    }
    if (parent === BY_ID_NODE_ID) {
      if (!name.endsWith(EXTENSION)) return undefined;
      const e = (await this.current()).byId.get(name.slice(0, -EXTENSION.length));
      return e === undefined ? undefined : this.fileEntry(e);
    }
    throw new FuseErrno(Errno.ENOTDIR);
  }

  addReference(nodeid: bigint): void {
    const n = this.nodes.get(nodeid);
    if (n !== undefined) n.refs++;
  }

  forget(nodeid: bigint, nlookup: bigint): void {
    const n = this.nodes.get(nodeid);
    // The node itself goes at the next refresh that no longer lists it: a LOOKUP of it may be mid-way.
    if (n !== undefined) n.refs -= nlookup;
  }

  async getattr(nodeid: bigint): Promise<{ attr: Attr; timeoutMs: number }> {
    if (nodeid === ROOT_NODE_ID || nodeid === BY_ID_NODE_ID)
      return { attr: this.dirEntry(nodeid).attr, timeoutMs: this.timeoutMs };
    return { attr: this.fileAttr(nodeid, this.node(nodeid).entry), timeoutMs: this.timeoutMs };
  }

  async open(nodeid: bigint): Promise<Opened> {
    if (nodeid === ROOT_NODE_ID || nodeid === BY_ID_NODE_ID) throw new FuseErrno(Errno.EISDIR);
    this.node(nodeid);
    // A node's bytes never change (its id comes from the etag): keep the page cache of earlier opens.
    return { fh: 0n, keepCache: true };
  }

  /** The range a read covers: fewer bytes than asked only at end of file. */
  private clamp(file: CatalogFile, offset: number, size: number): number {
    return offset >= file.size ? 0 : Math.min(size, file.size - offset);
  }

  async read(
    nodeid: bigint,
    _fh: bigint,
    offset: number,
    size: number,
    _ctx?: unknown,
    scratch?: Uint8Array,
  ): Promise<Uint8Array[]> {
    const entry = this.node(nodeid).entry;
    const file = entry.file;
    const length = this.clamp(file, offset, size);
    if (length === 0) return [];
    const pieces = await this.noticingChange(
      entry,
      file.readPieces(offset, length, scratch !== undefined && scratch.length >= length ? scratch : undefined),
    );
    let total = 0;
    for (const p of pieces) total += p.length;
    // Never padding, never a silent short read: the reader gets these bytes or EIO.
    if (total !== length) throw new FuseErrno(Errno.EIO, `read produced ${total} of ${length} bytes`);
    return pieces;
  }

  async readPlan(nodeid: bigint, _fh: bigint, offset: number, size: number): Promise<ReadPlan | undefined> {
    const entry = this.node(nodeid).entry;
    const file = entry.file;
    if (file.planPieces === undefined) return undefined;
    const length = this.clamp(file, offset, size);
    if (length === 0) return [];
    const planned = await this.noticingChange(entry, file.planPieces(offset, length));
    const plan = toReadPlan(planned);
    if (plan === undefined) return undefined;
    let total = 0;
    for (const p of plan) total += p.length;
    if (total !== length) throw new FuseErrno(Errno.EIO, `read plan has ${total} of ${length} bytes`);
    return plan;
  }

  /**
   * The whole file as held bytes and ranges of local files, made once per file (planning
   * opens its sources and checks their validators, and counts as one read of the whole
   * file in its read counters); undefined when some bytes are not in local files, or the
   * file cannot be planned now (its READs then report why).
   */
  async filePlan(nodeid: bigint): Promise<FilePlan | undefined> {
    const entry = this.node(nodeid).entry;
    const file = entry.file;
    if (file.planPieces === undefined) return undefined;
    let plan = this.plans.get(file);
    if (plan === undefined) {
      const planPieces = file.planPieces.bind(file);
      plan = (async () => {
        const pieces = file.size === 0 ? [] : toReadPlan(await planPieces(0, file.size));
        return pieces === undefined ? undefined : { size: file.size, pieces };
      })();
      this.plans.set(file, plan);
    }
    try {
      return await this.noticingChange(entry, plan);
    } catch {
      // Not kept: the next OPEN tries again (a source may be back).
      if (this.plans.get(file) === plan) this.plans.delete(file);
      return undefined;
    }
  }

  /** A read of the node's file found a source changed: the catalog compiles it again; its plan is dropped. */
  sourceChanged(nodeid: bigint): void {
    const node = this.nodes.get(nodeid);
    if (node === undefined) return;
    this.plans.delete(node.entry.file);
    this.catalog.invalidate?.(node.entry);
  }

  /** `work`'s result; a SOURCE_CHANGED failure is also reported to {@link sourceChanged}'s catalog. */
  private async noticingChange<T>(entry: CatalogEntry, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (e) {
      if (isVvfError(e) && e.code === 'SOURCE_CHANGED') {
        this.plans.delete(entry.file);
        this.catalog.invalidate?.(entry);
      }
      throw e;
    }
  }

  release(): void {}

  async opendir(nodeid: bigint): Promise<DirEntry[]> {
    if (nodeid !== ROOT_NODE_ID && nodeid !== BY_ID_NODE_ID) throw new FuseErrno(Errno.ENOTDIR);
    const l = await this.current();
    const out: DirEntry[] = [
      { name: '.', entry: this.dirEntry(nodeid) },
      { name: '..', entry: this.dirEntry(ROOT_NODE_ID) },
    ];
    if (nodeid === ROOT_NODE_ID) {
      out.push({ name: BY_ID, entry: this.dirEntry(BY_ID_NODE_ID) });
      for (const name of l.names) out.push({ name, entry: this.fileEntry(l.byName.get(name)!) });
    } else {
      for (const id of l.ids) out.push({ name: id + EXTENSION, entry: this.fileEntry(l.byId.get(id)!) });
    }
    return out;
  }

  async getxattr(nodeid: bigint, name: string): Promise<Uint8Array | undefined> {
    if (nodeid === ROOT_NODE_ID || nodeid === BY_ID_NODE_ID) return undefined;
    const e = this.node(nodeid).entry;
    if (name === XATTR_ETAG) return Buffer.from(e.file.etag);
    if (name === XATTR_ID) return Buffer.from(e.id);
    if (name === XATTR_RECIPE) return Buffer.from(JSON.stringify(e.recipe) ?? 'null');
    return undefined;
  }

  async listxattr(nodeid: bigint): Promise<string[]> {
    if (nodeid === ROOT_NODE_ID || nodeid === BY_ID_NODE_ID) return [];
    this.node(nodeid);
    return [XATTR_ETAG, XATTR_ID, XATTR_RECIPE];
  }

  async statfs(): Promise<StatfsInfo> {
    const l = await this.current();
    let blocks = 0;
    for (const e of l.byId.values()) blocks += Math.ceil(e.file.size / 4096);
    return { blocks, files: l.byId.size + 2 };
  }
}
