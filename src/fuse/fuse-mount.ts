// A mounted vvf filesystem: the mount, its session, and stopping both.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { VvfError } from '../errors.js';
import type { FuseFilesystem } from './filesystem.js';
import { type MountedDevice, type MountOptions, mountDevice } from './mount.js';
import { FuseSession, type FuseSessionOptions, type FuseStats } from './session.js';
import { type CatalogView, VvfTree, type VvfTreeOptions } from './tree.js';

/** See {@link FuseMountOptions.readaheadKb}. */
const DEFAULT_READAHEAD_KB = 16 << 10;

/** How long the kernel has to send INIT after mount(2). */
const INIT_TIMEOUT_MS = 5000;

/** Options of {@link mountCatalog} and {@link mountFilesystem}. */
export interface FuseMountOptions extends MountOptions, FuseSessionOptions, VvfTreeOptions {
  /**
   * Readahead of the mount in KiB (the bdi's read_ahead_kb, which caps what INIT's
   * max_readahead can give): set after mounting when we may (root). Default 16 MiB: a
   * cold sequential reader then has many READs in flight (the sources' reads overlap on
   * the thread pool); one READ's worth (1 MiB) left a cold dd at 100–180 MB/s, 16 MiB
   * gave 450–820 MB/s on the same loaded machine. 0 leaves the kernel's default (128 KiB).
   */
  readaheadKb?: number;
}

/** A mounted filesystem. */
export class FuseMount {
  /** The mount point (absolute). */
  readonly dir: string;
  /** `mount` (mount(2) as root) or `fusermount3`. */
  readonly method: 'mount' | 'fusermount3';
  /** True when a dead mount was found on `dir` and cleared before mounting. */
  readonly clearedDeadMount: boolean;
  /** Resolves when the filesystem stops being served: {@link close}, or unmounted from outside. */
  readonly ended: Promise<void>;
  private readonly device: MountedDevice;
  private readonly session: FuseSession;
  private closing: Promise<void> | undefined;

  /** @internal */
  constructor(device: MountedDevice, session: FuseSession) {
    this.device = device;
    this.session = session;
    this.dir = device.dir;
    this.method = device.method;
    this.clearedDeadMount = device.clearedDeadMount;
    this.ended = session.ended;
    // Unmounted from outside (umount, fusermount3 -u): the connection ends; make sure the mount point is clear too.
    // (A failure here is the caller's to see when it calls close() itself.)
    session.ended.then(() => this.close()).catch(() => undefined);
  }

  /** Counters: requests by opcode, errors by errno, bytes read, timeouts, interrupts. */
  get stats(): FuseStats {
    return this.session.stats;
  }

  /** Whether READ replies are spliced from local files. */
  get splicing(): boolean {
    return this.session.splicing;
  }

  /** Whether READs of local files' bytes are answered on the native reader threads, without the event loop. */
  get nativeReading(): boolean {
    return this.session.nativeReading;
  }

  /**
   * Stops serving: answers requests in flight EIO, unmounts lazily (the mount point is
   * free at once; processes with files open get errors) and ends the connection.
   * Idempotent; call it on SIGTERM.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.session.failPending(5 /* EIO */);
      let unmountError: unknown;
      try {
        await this.device.unmount();
      } catch (e) {
        unmountError = e;
      }
      await this.session.close();
      if (unmountError !== undefined) throw unmountError;
    })();
    return this.closing;
  }
}

/** Mounts any {@link FuseFilesystem} on `dir` and serves it until {@link FuseMount.close}. */
export async function mountFilesystem(dir: string, fs: FuseFilesystem, opts: FuseMountOptions = {}): Promise<FuseMount> {
  const device = await mountDevice(dir, opts);
  const session = new FuseSession(device.fd, fs, opts);
  const mount = new FuseMount(device, session);
  if (fs instanceof VvfTree) fs.setOnStale((nodeid) => session.notifyInvalInode(nodeid));
  session.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      session.initialized,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new VvfError('USAGE', `the kernel did not start the FUSE session on ${device.dir}`)),
          INIT_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (e) {
    await mount.close().catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const kb = opts.readaheadKb ?? DEFAULT_READAHEAD_KB;
  if (kb > 0) await setReadahead(device.dir, kb, opts.log);
  return mount;
}

/** Mounts the vvf tree of a catalog on `dir` (see {@link VvfTree} for the layout). */
export function mountCatalog(dir: string, catalog: CatalogView, opts: FuseMountOptions = {}): Promise<FuseMount> {
  return mountFilesystem(dir, new VvfTree(catalog, opts), opts);
}

/**
 * Raises the mount's readahead: the kernel keeps the smaller of INIT's max_readahead and
 * the bdi's read_ahead_kb (128 by default), and larger readahead means fewer, larger
 * READs for a sequential reader. Writable by root only; otherwise left as it is.
 */
async function setReadahead(dir: string, kb: number, log?: (message: string) => void): Promise<void> {
  try {
    const dev = BigInt((await stat(dir, { bigint: true })).dev);
    const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
    const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
    const path = `/sys/class/bdi/${major}:${minor}/read_ahead_kb`;
    if ((await readFile(path, 'utf8')).trim() === String(kb)) return;
    await writeFile(path, String(kb));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') log?.(`could not set the mount's readahead: ${String(e)}`);
  }
}
