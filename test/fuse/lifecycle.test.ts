// Mounts held by other processes, which the tests kill: a dead mount left by kill -9 is
// cleared by the next mount (and said so), SIGTERM with a reader blocked on a hanging
// source answers the reader and leaves no mount, and a user (nobody) mounts through
// fusermount3. No test leaves a mount behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fuseNativeOrNull } from '../../src/fuse/native.js';
import { forceUnmount, isMounted, pattern, run } from './fuse-helpers.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot && fuseNativeOrNull() !== null ? false : 'needs root and the native addon (npm run build:native)';
const CHILD = join(import.meta.dirname, 'mount-child.ts');
const NOBODY = 65534;

let work = '';
let dataPath = '';
const children: ChildProcess[] = [];
const mountPoints: string[] = [];

interface ChildReport {
  ready: boolean;
  method?: string;
  cleared?: boolean;
  error?: string;
}

/** Starts mount-child.ts (optionally through a prefix such as setpriv) and waits for its one JSON line. */
async function startChild(
  dir: string,
  deadlineMs: number,
  prefix: string[] = [],
): Promise<{ child: ChildProcess; report: ChildReport }> {
  const args = [...prefix, process.execPath, '--import', 'tsx', CHILD, dir, dataPath, String(deadlineMs)];
  const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const report = await new Promise<ChildReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mount child did not report within 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as ChildReport);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mount child exited ${code}: ${out}${err}`));
    });
  });
  return { child, report };
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${ms} ms`)), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function newMountPoint(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  mountPoints.push(dir);
  return dir;
}

describe('FUSE mounts held by other processes', { skip }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'vvf-fuse-life-'));
    // Readable by nobody, for the fusermount3 test.
    chmodSync(work, 0o755);
    dataPath = join(work, 'data.bin');
    writeFileSync(dataPath, pattern(2 * 1024 * 1024 + 99, 4), { mode: 0o644 });
  });

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const dir of mountPoints) await forceUnmount(dir);
  });

  after(() => {
    for (const dir of mountPoints) assert.equal(isMounted(dir), false, `${dir} left mounted`);
    rmSync(work, { recursive: true, force: true });
  });

  test('kill -9 leaves a dead mount; the next mount on the same dir clears it and says so', async () => {
    const dir = newMountPoint('killed');
    const first = await startChild(dir, 5000);
    assert.equal(first.report.ready, true);
    assert.equal(first.report.cleared, false);
    const cmp = await run('cmp', [join(dir, 'data.mp4'), dataPath]);
    assert.equal(cmp.code, 0, cmp.stdout + cmp.stderr);
    first.child.kill('SIGKILL');
    await exited(first.child, 5000);
    // statfs always reaches the (dead) server; stat may be answered from cached attributes.
    const dead = await run('stat', ['-f', dir], 5000);
    assert.match(dead.stderr, /Transport endpoint is not connected/);
    const second = await startChild(dir, 5000);
    assert.equal(second.report.ready, true);
    assert.equal(second.report.cleared, true);
    const again = await run('cmp', [join(dir, 'data.mp4'), dataPath]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child, 10_000), 0);
    assert.equal(isMounted(dir), false);
  });

  test('SIGTERM with a reader blocked on a hanging source: the reader gets an error at once and the mount is gone', async () => {
    const dir = newMountPoint('term');
    // A deadline far away: only the shutdown can answer the blocked read.
    const { child } = await startChild(dir, 60_000);
    const reader = run('dd', [`if=${join(dir, 'hang.mp4')}`, 'of=/dev/null', 'bs=64k'], 20_000);
    await sleep(300);
    const t = performance.now();
    child.kill('SIGTERM');
    const r = await reader;
    assert.equal(r.signal, null, 'dd ended by itself');
    assert.notEqual(r.code, 0);
    assert.ok(performance.now() - t < 3000, `the reader was answered in ${performance.now() - t} ms`);
    assert.equal(await exited(child, 10_000), 0);
    assert.equal(isMounted(dir), false);
  });

  test('a user mounts through fusermount3 and unmounts on SIGTERM', async (t) => {
    if ((await run('sh', ['-c', 'command -v fusermount3'])).code !== 0) {
      t.skip('fusermount3 is not installed (Debian package fuse3)');
      return;
    }
    const dir = newMountPoint('user');
    chownSync(dir, NOBODY, NOBODY);
    const asNobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
    const { child, report } = await startChild(dir, 5000, asNobody);
    assert.equal(report.ready, true, report.error);
    assert.equal(report.method, 'fusermount3');
    assert.ok(isMounted(dir));
    // Without allow_other only the mounting user may look inside.
    const cmp = await run(asNobody[0]!, [...asNobody.slice(1), 'cmp', join(dir, 'data.mp4'), dataPath]);
    assert.equal(cmp.code, 0, cmp.stdout + cmp.stderr);
    child.kill('SIGTERM');
    assert.equal(await exited(child, 10_000), 0);
    assert.equal(isMounted(dir), false);
  });
});
