// errno values the FUSE face answers with, and the one table mapping vvf's error kinds to them.
import { type ErrorKind, isVvfError } from '../errors.js';

/** Linux errno numbers (asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENODATA: 61,
  EOVERFLOW: 75,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ESTALE: 116,
} as const;

const errnoNames = new Map<number, string>(Object.entries(Errno).map(([name, value]) => [value, name]));

/** `EIO`, `ENOENT`, …, or `E<n>`. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** An error that answers a FUSE request with a chosen errno. */
export class FuseErrno extends Error {
  readonly errno: number;
  constructor(errno: number, message?: string) {
    super(message ?? errnoName(errno));
    this.name = 'FuseErrno';
    this.errno = errno;
  }
}

/**
 * errno of each kind of vvf error. A reader sees EIO for anything that went wrong with a
 * source or the media: the file exists, but its bytes cannot be produced now. Programs
 * retry EIO no better than anything else, and EIO is what a failing disk gives them.
 */
const BY_KIND: Record<ErrorKind, number> = {
  'bad-input': Errno.EIO,
  // A file of the tree whose source is gone: the file is there, its bytes are not (the tree
  // answers ENOENT itself for names that do not exist).
  'not-found': Errno.EIO,
  forbidden: Errno.EACCES,
  'source-failed': Errno.EIO,
  timeout: Errno.EIO,
  busy: Errno.EAGAIN,
  cancelled: Errno.EINTR,
  bug: Errno.EIO,
};

/** The errno a failed operation answers with: FuseErrno's own, a VvfError's by kind, else EIO. */
export function errnoOf(e: unknown): number {
  if (e instanceof FuseErrno) return e.errno;
  if (isVvfError(e)) return BY_KIND[e.kind];
  return Errno.EIO;
}
