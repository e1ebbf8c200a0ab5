// Mounting and unmounting a FUSE filesystem without libfuse: as root, mount(2) straight
// from the native addon with the /dev/fuse descriptor in the options; as a user, the
// setuid fusermount3 mounts and hands the descriptor back over a Unix socket
// (_FUSE_COMMFD, one SCM_RIGHTS message: libfuse's lib/mount.c and util/fusermount.c).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { VvfError } from '../errors.js';
import { errnoCodeOf, fuseNative } from './native.js';

/** mount(2) flags (linux/mount.h). */
const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
/** umount2(2): detach now, finish when the last user leaves. */
const MNT_DETACH = 2;

/** How long fusermount3 or a stat of the mount point may take before we give up. */
const HELPER_TIMEOUT_MS = 10_000;

/** Options of {@link mountDevice}. */
export interface MountOptions {
  /** Shown as the mount's source in /proc/mounts. Default `vvf`. */
  fsname?: string;
  /**
   * Let other users see the files (allow_other). Default: true as root; as a user
   * fusermount3 allows it only with `user_allow_other` in /etc/fuse.conf, so false.
   */
  allowOther?: boolean;
  /** Told what happened that the caller may want to log (a dead mount cleared). */
  log?: (message: string) => void;
  /** How to mount: `auto` (mount(2) as root, else fusermount3), or one of the two. Default `auto`. */
  method?: 'auto' | 'mount' | 'fusermount3';
  /** The fusermount3 program. Default `fusermount3` from PATH. */
  fusermount?: string;
}

/** A mounted FUSE connection: the /dev/fuse descriptor the session reads, and how to undo the mount. */
export interface MountedDevice {
  fd: number;
  dir: string;
  method: 'mount' | 'fusermount3';
  /** True when a dead mount (ENOTCONN) was found on `dir` and lazily unmounted first. */
  clearedDeadMount: boolean;
  /** Lazily unmounts (idempotent). Does not close `fd`. */
  unmount(): Promise<void>;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Mounts an empty FUSE connection read-only on `dir` and returns its descriptor; the
 * caller serves it (the kernel's INIT is the first request). A dead mount left on `dir`
 * by a killed server is cleared first. Missing privilege is a USAGE error naming what
 * is needed.
 */
export async function mountDevice(dir: string, opts: MountOptions = {}): Promise<MountedDevice> {
  const target = resolve(dir);
  const method = opts.method === undefined || opts.method === 'auto' ? (isRoot() ? 'mount' : 'fusermount3') : opts.method;
  const cleared = await clearDeadMount(target, method, opts);
  const info = await statWithTimeout(target);
  if (!info.isDirectory()) throw new VvfError('USAGE', `mount point ${target} is not a directory`);
  const fsname = safeOption(opts.fsname ?? 'vvf');
  let fd: number;
  if (method === 'mount') {
    fd = mountDirect(target, fsname, opts.allowOther ?? true);
  } else {
    fd = await mountWithFusermount(target, fsname, opts);
  }
  let unmounted: Promise<void> | undefined;
  return {
    fd,
    dir: target,
    method,
    clearedDeadMount: cleared,
    unmount: () => {
      unmounted ??= unmountLazy(target, method, opts);
      return unmounted;
    },
  };
}

/** Mount options are comma-separated: a name with a comma or `=` would inject options. */
function safeOption(value: string): string {
  return value.replace(/[,=\\\s]/g, '_');
}

function mountDirect(target: string, fsname: string, allowOther: boolean): number {
  const native = fuseNative();
  let fd: number;
  try {
    fd = openSync('/dev/fuse', 'r+');
  } catch (e) {
    throw needPrivilege(target, `cannot open /dev/fuse (${errnoCodeOf(e) ?? String(e)})`);
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  // default_permissions: the kernel checks the mode bits (0444/0555) itself.
  const data = [`fd=${fd}`, 'rootmode=40000', `user_id=${uid}`, `group_id=${gid}`, 'default_permissions'];
  if (allowOther) data.push('allow_other');
  try {
    native.fuseMount(fsname, target, 'fuse.vvf', MS_NOSUID | MS_NODEV | MS_RDONLY, data.join(','));
  } catch (e) {
    closeSync(fd);
    const code = errnoCodeOf(e);
    if (code === 'EPERM' || code === 'EACCES') throw needPrivilege(target, `mount(2) refused (${code})`);
    throw new VvfError('USAGE', `cannot mount ${target}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
  return fd;
}

function needPrivilege(target: string, why: string): VvfError {
  return new VvfError(
    'USAGE',
    `cannot mount ${target}: ${why}; mounting needs root, or fusermount3 (Debian package fuse3) and read-write access to /dev/fuse`,
  );
}

interface HelperResult {
  status: number | null;
  stderr: string;
  error?: Error;
}

/** Runs a helper with a bounded wait; `extraFd`, when given, becomes the child's descriptor 3. */
function runHelper(program: string, args: string[], env: NodeJS.ProcessEnv, extraFd?: number): Promise<HelperResult> {
  return new Promise((done) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(program, args, { stdio, env });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ status: null, stderr, error: new Error(`${program} did not finish within ${HELPER_TIMEOUT_MS} ms`) });
    }, HELPER_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      done({ status: null, stderr, error });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stderr });
    });
  });
}

async function mountWithFusermount(target: string, fsname: string, opts: MountOptions): Promise<number> {
  const native = fuseNative();
  const program = opts.fusermount ?? 'fusermount3';
  const [ours, theirs] = native.socketPair();
  const options = ['ro', 'nosuid', 'nodev', 'default_permissions', `fsname=${fsname}`, 'subtype=vvf'];
  if (opts.allowOther === true) options.push('allow_other');
  let result: HelperResult;
  try {
    result = await runHelper(program, ['-o', options.join(','), '--', target], { ...process.env, _FUSE_COMMFD: '3' }, theirs);
  } finally {
    closeSync(theirs);
  }
  try {
    if (result.error !== undefined) {
      const missing = errnoCodeOf(result.error) === 'ENOENT';
      throw needPrivilege(target, missing ? `${program} is not installed` : result.error.message);
    }
    const fd = native.recvFd(ours);
    if (result.status !== 0 || fd < 0) {
      if (fd >= 0) closeSync(fd);
      const said = result.stderr.trim().split('\n')[0] ?? '';
      throw needPrivilege(target, `${program} failed${said === '' ? '' : `: ${said}`}`);
    }
    return fd;
  } finally {
    closeSync(ours);
  }
}

/** Lazily unmounts `dir`: umount2(MNT_DETACH) as root, `fusermount3 -u -z` as a user. */
export async function unmountLazy(dir: string, method: 'mount' | 'fusermount3', opts: MountOptions = {}): Promise<void> {
  if (method === 'mount') {
    try {
      fuseNative().fuseUmount(dir, MNT_DETACH);
      return;
    } catch (e) {
      const code = errnoCodeOf(e);
      // Not mounted (any more): nothing to undo.
      if (code === 'EINVAL' || code === 'ENOENT') return;
      throw new VvfError('USAGE', `cannot unmount ${dir}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    }
  }
  const program = opts.fusermount ?? 'fusermount3';
  const r = await runHelper(program, ['-u', '-z', '--', dir], process.env);
  if (r.status !== 0) {
    const said = r.stderr.trim().split('\n')[0] ?? r.error?.message ?? '';
    // fusermount3 says "not mounted" / "entry … not found in /etc/mtab" for a mount already gone.
    if (/not (mounted|found)/.test(said)) return;
    throw new VvfError('USAGE', `cannot unmount ${dir}: ${program} failed${said === '' ? '' : `: ${said}`}`);
  }
}

/**
 * A FUSE mount whose server died (kill -9) answers every access with ENOTCONN
 * ("Transport endpoint is not connected") until it is unmounted. Clears one such mount
 * on `dir` and says so (true); false when `dir` is fine.
 */
export async function clearDeadMount(dir: string, method: 'mount' | 'fusermount3', opts: MountOptions = {}): Promise<boolean> {
  try {
    await statWithTimeout(dir);
    // stat may be answered from attributes the kernel cached before the server died; statfs always asks.
    await withTimeout(statfs(dir), dir);
    return false;
  } catch (e) {
    if (errnoCodeOf(e) !== 'ENOTCONN') throw e;
  }
  await unmountLazy(dir, method, opts);
  opts.log?.(`cleared a dead FUSE mount on ${dir} (its server had gone away)`);
  return true;
}

/** A call on the mount point that gives up after a while: a hung mount would otherwise hang the caller. */
async function withTimeout<T>(call: Promise<T>, path: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new VvfError('USAGE', `mount point ${path} does not answer (a hung mount?); unmount it with umount -l`)),
      HELPER_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** stat(2) of the mount point, bounded in time; errors other than ENOTCONN become USAGE. */
async function statWithTimeout(path: string) {
  try {
    return await withTimeout(stat(path), path);
  } catch (e) {
    if (e instanceof VvfError || errnoCodeOf(e) === 'ENOTCONN') throw e;
    throw new VvfError('USAGE', `mount point ${path}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
}
