// The Linux FUSE kernel protocol (include/uapi/linux/fuse.h, a stable ABI): opcodes,
// flags, and the encoding of the structs vvf reads and writes. All little-endian (x86-64
// and arm64); byte offsets are given next to each field as in the C header.

/** Protocol version vvf speaks: 7.x with x ≥ 28 (FUSE_MAX_PAGES). */
export const FUSE_KERNEL_VERSION = 7;
/** The minor version vvf replies with; the kernel uses the lower of its own and this one. */
export const FUSE_KERNEL_MINOR_VERSION = 38;
/** The kernel refuses a reader buffer smaller than this (FUSE_MIN_READ_BUFFER). */
export const FUSE_MIN_READ_BUFFER = 8192;

/** Opcodes (enum fuse_opcode). */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
} as const;

const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, value]) => [value, name]));

/** `LOOKUP`, `READ`, …, or `OP_<n>` for an opcode this table does not know. */
export function opcodeName(opcode: number): string {
  return opcodeNames.get(opcode) ?? `OP_${opcode}`;
}

/** Opcodes that change the filesystem: a read-only mount answers them EROFS. */
export const WRITING_OPCODES: ReadonlySet<number> = new Set([
  Opcode.SETATTR,
  Opcode.SYMLINK,
  Opcode.MKNOD,
  Opcode.MKDIR,
  Opcode.UNLINK,
  Opcode.RMDIR,
  Opcode.RENAME,
  Opcode.LINK,
  Opcode.WRITE,
  Opcode.SETXATTR,
  Opcode.REMOVEXATTR,
  Opcode.CREATE,
  Opcode.FALLOCATE,
  Opcode.RENAME2,
  Opcode.COPY_FILE_RANGE,
  Opcode.TMPFILE,
]);

/** Opcodes the kernel expects no reply to. */
export const NO_REPLY_OPCODES: ReadonlySet<number> = new Set([Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT]);

/** fuse_init_in.flags / fuse_init_out.flags bits vvf uses. */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  DO_READDIRPLUS: 1 << 13,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  /** flags2 is valid (bit 30). */
  INIT_EXT: 1 << 30,
} as const;

/** fuse_open_out.open_flags. */
export const OpenFlag = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  CACHE_DIR: 1 << 3,
} as const;

/** Codes of unsolicited messages (fuse_out_header.error of a notification, unique 0). */
export const Notify = {
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
} as const;

/** struct fuse_in_header: 40 bytes. */
export const IN_HEADER_SIZE = 40;
/** struct fuse_out_header: 16 bytes. */
export const OUT_HEADER_SIZE = 16;
/** struct fuse_attr: 88 bytes. */
export const ATTR_SIZE = 88;
/** struct fuse_entry_out: 40 + fuse_attr. */
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
/** struct fuse_attr_out: 16 + fuse_attr. */
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
/** struct fuse_init_out: 64 bytes. */
export const INIT_OUT_SIZE = 64;
/** struct fuse_statfs_out (fuse_kstatfs): 80 bytes. */
export const STATFS_OUT_SIZE = 80;
/** struct fuse_dirent without its name: 24 bytes. */
export const DIRENT_SIZE = 24;

/** A request as read from /dev/fuse. */
export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

/** struct fuse_in_header: len@0 u32, opcode@4 u32, unique@8 u64, nodeid@16 u64, uid@24, gid@28, pid@32 u32, total_extlen@36 u16. */
export function decodeInHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: b.readBigUInt64LE(16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
  };
}

/** struct fuse_out_header: len@0 u32 (header + payload), error@4 i32 (-errno or 0), unique@8 u64. */
export function encodeOutHeader(len: number, error: number, unique: bigint): Buffer {
  const b = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
  return b;
}

/** File attributes as vvf reports them. */
export interface Attr {
  ino: bigint;
  size: number;
  /** Type and permission bits (S_IFREG | 0o444, …). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Milliseconds since the epoch; atime, mtime and ctime are all this. */
  mtimeMs: number;
}

/**
 * struct fuse_attr at `at`: ino@0, size@8, blocks@16, atime@24, mtime@32, ctime@40 (u64),
 * atimensec@48, mtimensec@52, ctimensec@56, mode@60, nlink@64, uid@68, gid@72, rdev@76,
 * blksize@80, flags@84 (u32).
 */
export function writeAttr(b: Buffer, at: number, a: Attr): void {
  const seconds = BigInt(Math.floor(a.mtimeMs / 1000));
  const nanos = Math.round((a.mtimeMs - Math.floor(a.mtimeMs / 1000) * 1000) * 1e6);
  b.writeBigUInt64LE(a.ino, at);
  b.writeBigUInt64LE(BigInt(a.size), at + 8);
  // st_blocks counts 512-byte units: du and ls -s see the virtual size.
  b.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), at + 16);
  b.writeBigUInt64LE(seconds, at + 24);
  b.writeBigUInt64LE(seconds, at + 32);
  b.writeBigUInt64LE(seconds, at + 40);
  b.writeUInt32LE(nanos, at + 48);
  b.writeUInt32LE(nanos, at + 52);
  b.writeUInt32LE(nanos, at + 56);
  b.writeUInt32LE(a.mode, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid, at + 68);
  b.writeUInt32LE(a.gid, at + 72);
  b.writeUInt32LE(0, at + 76);
  b.writeUInt32LE(4096, at + 80);
  b.writeUInt32LE(0, at + 84);
}

/** A name's entry: the node it resolves to and how long the kernel may cache it. */
export interface Entry {
  nodeid: bigint;
  attr: Attr;
  entryTimeoutMs: number;
  attrTimeoutMs: number;
}

function writeTimeout(b: Buffer, secondsAt: number, nanosAt: number, ms: number): void {
  b.writeBigUInt64LE(BigInt(Math.floor(ms / 1000)), secondsAt);
  b.writeUInt32LE((ms % 1000) * 1_000_000, nanosAt);
}

/**
 * struct fuse_entry_out at `at`: nodeid@0, generation@8, entry_valid@16, attr_valid@24 (u64),
 * entry_valid_nsec@32, attr_valid_nsec@36 (u32), attr@40.
 */
export function writeEntryOut(b: Buffer, at: number, e: Entry): void {
  b.writeBigUInt64LE(e.nodeid, at);
  b.writeBigUInt64LE(0n, at + 8);
  writeTimeout(b, at + 16, at + 32, e.entryTimeoutMs);
  writeTimeout(b, at + 24, at + 36, e.attrTimeoutMs);
  writeAttr(b, at + 40, e.attr);
}

export function encodeEntryOut(e: Entry): Buffer {
  const b = Buffer.alloc(ENTRY_OUT_SIZE);
  writeEntryOut(b, 0, e);
  return b;
}

/** struct fuse_attr_out: attr_valid@0 u64, attr_valid_nsec@8 u32, dummy@12, attr@16. */
export function encodeAttrOut(attr: Attr, timeoutMs: number): Buffer {
  const b = Buffer.alloc(ATTR_OUT_SIZE);
  writeTimeout(b, 0, 8, timeoutMs);
  writeAttr(b, 16, attr);
  return b;
}

/** struct fuse_open_out: fh@0 u64, open_flags@8 u32, padding@12. */
export function encodeOpenOut(fh: bigint, openFlags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(fh, 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

/** struct fuse_init_in: major@0, minor@4, max_readahead@8, flags@12, flags2@16 (when INIT_EXT). */
export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function decodeInitIn(body: Buffer): InitIn {
  return {
    major: body.readUInt32LE(0),
    minor: body.readUInt32LE(4),
    maxReadahead: body.length >= 12 ? body.readUInt32LE(8) : 0,
    flags: body.length >= 16 ? body.readUInt32LE(12) : 0,
  };
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
}

/**
 * struct fuse_init_out: major@0, minor@4, max_readahead@8, flags@12 (u32),
 * max_background@16, congestion_threshold@18 (u16), max_write@20, time_gran@24 (u32),
 * max_pages@28, map_alignment@30 (u16), flags2@32 u32, unused[7].
 */
export function encodeInitOut(o: InitOut): Buffer {
  const b = Buffer.alloc(INIT_OUT_SIZE);
  b.writeUInt32LE(o.major, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(o.flags >>> 0, 12);
  b.writeUInt16LE(o.maxBackground, 16);
  b.writeUInt16LE(o.congestionThreshold, 18);
  b.writeUInt32LE(o.maxWrite, 20);
  b.writeUInt32LE(o.timeGran, 24);
  b.writeUInt16LE(o.maxPages, 28);
  return b;
}

/** struct fuse_read_in (also READDIR's): fh@0 u64, offset@8 u64, size@16 u32, read_flags@20, lock_owner@24, flags@32. */
export interface ReadIn {
  fh: bigint;
  offset: number;
  size: number;
}

export function decodeReadIn(body: Buffer): ReadIn {
  const offset = body.readBigUInt64LE(8);
  // Offsets past 2^53 cannot address a vvf file: clamp so the read answers end-of-file.
  return {
    fh: body.readBigUInt64LE(0),
    offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset),
    size: body.readUInt32LE(16),
  };
}

/** struct fuse_open_in: flags@0 (the open(2) flags), open_flags@4. */
export function decodeOpenFlags(body: Buffer): number {
  return body.readUInt32LE(0);
}

/** struct fuse_release_in / fuse_flush_in / fuse_getattr_in: fh is at 0 (release, flush) or 8 (getattr). */
export function decodeFh(body: Buffer, at: number): bigint {
  return body.length >= at + 8 ? body.readBigUInt64LE(at) : 0n;
}

/** struct fuse_forget_in: nlookup@0 u64. */
export function decodeForget(body: Buffer): bigint {
  return body.readBigUInt64LE(0);
}

/** struct fuse_batch_forget_in: count@0 u32, dummy@4; then count × fuse_forget_one {nodeid@0, nlookup@8}. */
export function decodeBatchForget(body: Buffer): { nodeid: bigint; nlookup: bigint }[] {
  const count = body.readUInt32LE(0);
  const out: { nodeid: bigint; nlookup: bigint }[] = [];
  // The count is checked against the bytes that hold it.
  const fits = Math.min(count, Math.floor((body.length - 8) / 16));
  for (let i = 0; i < fits; i++) {
    out.push({ nodeid: body.readBigUInt64LE(8 + i * 16), nlookup: body.readBigUInt64LE(16 + i * 16) });
  }
  return out;
}

/** struct fuse_interrupt_in: unique@0 u64. */
export function decodeInterrupt(body: Buffer): bigint {
  return body.readBigUInt64LE(0);
}

/** struct fuse_getxattr_in (also LISTXATTR's): size@0 u32, padding@4; GETXATTR's name follows at 8, NUL-terminated. */
export function decodeGetxattr(body: Buffer): { size: number; name: string } {
  return { size: body.readUInt32LE(0), name: body.length > 8 ? cString(body, 8) : '' };
}

/** struct fuse_getxattr_out: size@0 u32, padding@4 (the answer to a size-0 probe). */
export function encodeGetxattrOut(size: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(size, 0);
  return b;
}

/** A NUL-terminated string (LOOKUP's name, GETXATTR's name). */
export function cString(b: Buffer, at: number): string {
  const end = b.indexOf(0, at);
  return b.toString('utf8', at, end < 0 ? b.length : end);
}

/** struct fuse_access_in: mask@0 u32. */
export function decodeAccessMask(body: Buffer): number {
  return body.length >= 4 ? body.readUInt32LE(0) : 0;
}

/** Statistics for STATFS. */
export interface StatfsInfo {
  blocks: number;
  files: number;
}

/**
 * struct fuse_kstatfs: blocks@0, bfree@8, bavail@16, files@24, ffree@32 (u64), bsize@40,
 * namelen@44, frsize@48, padding@52 (u32), spare[6].
 */
export function encodeStatfsOut(s: StatfsInfo): Buffer {
  const b = Buffer.alloc(STATFS_OUT_SIZE);
  b.writeBigUInt64LE(BigInt(s.blocks), 0);
  b.writeBigUInt64LE(BigInt(s.files), 24);
  b.writeUInt32LE(4096, 40);
  b.writeUInt32LE(255, 44);
  b.writeUInt32LE(4096, 48);
  return b;
}

/** d_type of a mode: the S_IFMT bits shifted down (DT_DIR 4, DT_REG 8). */
export function direntType(mode: number): number {
  return (mode & 0o170000) >> 12;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes one fuse_dirent of this name takes (24 + name, padded to 8). */
export function direntSize(name: Buffer): number {
  return align8(DIRENT_SIZE + name.length);
}

/** Bytes one fuse_direntplus of this name takes (entry_out + dirent). */
export function direntplusSize(name: Buffer): number {
  return align8(ENTRY_OUT_SIZE + DIRENT_SIZE + name.length);
}

/** struct fuse_dirent at `at`: ino@0 u64, off@8 u64 (the next entry's offset), namelen@16, type@20, name@24. */
export function writeDirent(b: Buffer, at: number, ino: bigint, nextOffset: number, type: number, name: Buffer): number {
  b.writeBigUInt64LE(ino, at);
  b.writeBigUInt64LE(BigInt(nextOffset), at + 8);
  b.writeUInt32LE(name.length, at + 16);
  b.writeUInt32LE(type, at + 20);
  name.copy(b, at + DIRENT_SIZE);
  const end = at + DIRENT_SIZE + name.length;
  const padded = align8(end - at) + at;
  b.fill(0, end, padded);
  return padded;
}

/** struct fuse_direntplus at `at`: entry_out, then fuse_dirent. */
export function writeDirentplus(b: Buffer, at: number, entry: Entry, nextOffset: number, name: Buffer): number {
  writeEntryOut(b, at, entry);
  return writeDirent(b, at + ENTRY_OUT_SIZE, entry.attr.ino, nextOffset, direntType(entry.attr.mode), name);
}

/** struct fuse_notify_inval_inode_out: ino@0 u64 (the nodeid), off@8 i64, len@16 i64 (0 and -1: everything). */
export function encodeNotifyInvalInode(nodeid: bigint): Buffer[] {
  const body = Buffer.alloc(24);
  body.writeBigUInt64LE(nodeid, 0);
  body.writeBigInt64LE(0n, 8);
  body.writeBigInt64LE(-1n, 16);
  return [encodeOutHeader(OUT_HEADER_SIZE + body.length, Notify.INVAL_INODE, 0n), body];
}
