// The FUSE face: mount a catalog's virtual files as a read-only filesystem.
export { Errno, errnoName, errnoOf, FuseErrno } from './errno.js';
export type { DirEntry, FilePlan, FileRange, FuseFilesystem, Opened, ReadPlan, RequestContext } from './filesystem.js';
export { FuseMount, type FuseMountOptions, mountCatalog, mountFilesystem } from './fuse-mount.js';
export { clearDeadMount, type MountedDevice, type MountOptions, mountDevice, unmountLazy } from './mount.js';
export { FuseSession, type FuseSessionOptions, type FuseStats } from './session.js';
export {
  type CatalogEntry,
  type CatalogFile,
  type CatalogView,
  nodeIdOfEtag,
  safeBaseName,
  VvfTree,
  type VvfTreeOptions,
} from './tree.js';
