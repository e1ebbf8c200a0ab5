// What the FUSE session asks of a filesystem: a read-only tree of nodes, answered by
// promises. The session owns the protocol (decoding, replies, deadlines, interrupts);
// a filesystem never sees a request's bytes.
import type { Attr, Entry, StatfsInfo } from './kernel-abi.js';

export type { Attr, Entry, StatfsInfo };

/** The root directory's node id, fixed by the protocol (FUSE_ROOT_ID). */
export const ROOT_NODE_ID = 1n;

/** Who asked: the calling process's credentials, from the request header. */
export interface RequestContext {
  uid: number;
  gid: number;
  pid: number;
  /** Aborted when the kernel interrupts the request, its deadline passes, or the session closes. */
  signal: AbortSignal;
}

/** A range of an opened local file, handed to the kernel without a copy (splice). */
export interface FileRange {
  /**
   * The file: leases its descriptor, kept open until `release()`; `check()` throws when
   * the file no longer has the validator it was opened with (FileSource's).
   */
  source: { descriptor(): Promise<{ fd: number; release(): void; check?(): void }> };
  offset: number;
  length: number;
}

/** A READ's bytes as held bytes and ranges of opened local files, for a reply spliced from the files. */
export type ReadPlan = (Uint8Array | FileRange)[];

/**
 * A whole file as held bytes and ranges of local files, in order: `size` bytes in all.
 * The session hands it to the addon's reader threads at OPEN, which then answer the open
 * file's READs themselves. The same object for the same bytes lets the session reuse
 * what it made of it.
 */
export interface FilePlan {
  size: number;
  pieces: ReadPlan;
}

/** One directory entry; `entry` is what READDIRPLUS hands the kernel with it. */
export interface DirEntry {
  name: string;
  entry: Entry;
}

/** The answer to OPEN. */
export interface Opened {
  fh: bigint;
  /** FOPEN_KEEP_CACHE: the kernel keeps the file's page cache from an earlier open. */
  keepCache: boolean;
}

/**
 * A read-only filesystem served by {@link FuseSession}. Methods throw FuseErrno (or any
 * error, which answers EIO; VvfError codes map through the errno table).
 */
export interface FuseFilesystem {
  /** The entry of `name` in directory `parent`, or undefined (ENOENT, not cached). */
  lookup(parent: bigint, name: string, ctx: RequestContext): Promise<Entry | undefined>;
  /** The kernel took a reference to a node (a LOOKUP or READDIRPLUS entry it was sent). */
  addReference(nodeid: bigint): void;
  /** The kernel dropped `nlookup` references to a node. */
  forget(nodeid: bigint, nlookup: bigint): void;
  getattr(nodeid: bigint, ctx: RequestContext): Promise<{ attr: Attr; timeoutMs: number }>;
  open(nodeid: bigint, ctx: RequestContext): Promise<Opened>;
  /**
   * Up to `size` bytes at `offset` as views into buffers (written with one writev):
   * exactly that many, fewer only at end of file; a source that cannot produce them throws.
   * `scratch` (at least `size` bytes), when given, may hold the bytes: the session does not
   * reuse it until the returned promise has settled and the reply is written.
   */
  read(
    nodeid: bigint,
    fh: bigint,
    offset: number,
    size: number,
    ctx: RequestContext,
    scratch?: Uint8Array,
  ): Promise<Uint8Array[]>;
  /**
   * The same bytes as a plan of held bytes and file ranges, or undefined when some bytes
   * are not in local files (the session then calls {@link read}). Optional.
   */
  readPlan?(nodeid: bigint, fh: bigint, offset: number, size: number, ctx: RequestContext): Promise<ReadPlan | undefined>;
  /**
   * The whole file as a {@link FilePlan}, asked at OPEN, or undefined when some bytes are
   * not in local files (its READs then go through {@link read} or {@link readPlan}).
   * Optional; should not throw (a file that cannot be planned is read the other way).
   */
  filePlan?(nodeid: bigint, ctx: RequestContext): Promise<FilePlan | undefined>;
  /**
   * A read of the node found one of its sources changed since the file was compiled (its
   * READs answer EIO): the filesystem may have the file compiled again. Optional.
   */
  sourceChanged?(nodeid: bigint): void;
  release(nodeid: bigint, fh: bigint): void;
  /** Opens a directory: the listing READDIR pages through (with `.` and `..`), fixed until RELEASEDIR. */
  opendir(nodeid: bigint, ctx: RequestContext): Promise<DirEntry[]>;
  /** An extended attribute's value, or undefined (ENODATA). */
  getxattr(nodeid: bigint, name: string, ctx: RequestContext): Promise<Uint8Array | undefined>;
  listxattr(nodeid: bigint, ctx: RequestContext): Promise<string[]>;
  statfs(ctx: RequestContext): Promise<StatfsInfo>;
}
