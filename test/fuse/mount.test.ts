// The vvf tree mounted in this process and used by real programs (ls, stat, cat, cmp, dd,
// getfattr): exact sizes and bytes, names, xattrs, a catalog that changes, concurrent
// readers, and sources that fail or hang (EIO within the deadline, never a hung reader).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FuseMount, mountCatalog } from '../../src/fuse/fuse-mount.js';
import { fuseNativeOrNull } from '../../src/fuse/native.js';
import { nodeIdOfEtag, safeBaseName } from '../../src/fuse/tree.js';
import { FileSource } from '../../src/sources/file-source.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { failingFile, forceUnmount, hangingFile, isMounted, MemoryCatalog, memoryFile, pattern, run } from './fuse-helpers.js';

const MiB = 1 << 20;
const DEADLINE_MS = 1000;
const canMount = process.getuid?.() === 0 && fuseNativeOrNull() !== null;
const skip = canMount ? false : 'needs root and the native addon (npm run build:native)';

let work = '';
let mnt = '';
let mount: FuseMount | undefined;
const catalog = new MemoryCatalog();
const files = new Map<string, { path: string; data: Buffer }>();

function reference(name: string, data: Buffer): string {
  const path = join(work, `${name}.ref`);
  writeFileSync(path, data);
  files.set(name, { path, data });
  return path;
}

describe('FUSE mount of the vvf tree', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'vvf-fuse-'));
    mnt = join(work, 'mnt');
    mkdirSync(mnt);
    const a = pattern(3 * MiB + 12345, 1);
    const b = pattern(5 * MiB + 7, 2);
    const c = pattern(100, 3);
    reference('a', a);
    reference('b', b);
    reference('c', c);
    // A real VirtualFile: held header bytes, then ranges of two local files (the splice path).
    const head = pattern(4321, 9);
    const fa = await FileSource.open(files.get('a')!.path);
    const fb = await FileSource.open(files.get('b')!.path);
    const builder = new VirtualFileBuilder([fa, fb]);
    builder.addBytes(head);
    builder.addSourceRange(0, 1000, 2 * MiB);
    builder.addSourceRange(1, 3, 3 * MiB);
    builder.addSourceRange(0, 5, 777);
    const vf = builder.build({ format: 'test-v1', resolve: async (ref) => (ref.key === fa.key ? fa : fb) });
    reference('v', Buffer.concat([head, a.subarray(1000, 1000 + 2 * MiB), b.subarray(3, 3 + 3 * MiB), a.subarray(5, 5 + 777)]));
    catalog.add('id-a', 'movie', memoryFile(a, '"etag-a"'), { recipe: 'a' });
    catalog.add('id-b', 'movie', memoryFile(b, '"etag-b"'));
    catalog.add('id-c', 'weird/name\u0000.', memoryFile(c, '"etag-c"'));
    catalog.add('id-v', 'virtual', vf);
    catalog.add('id-bad', 'bad', failingFile(a, '"etag-bad"', MiB + 5));
    catalog.add('id-hang', 'hang', hangingFile(2 * MiB, '"etag-hang"'));
    mount = await mountCatalog(mnt, catalog, { deadlineMs: DEADLINE_MS });
  });

  after(async () => {
    await mount?.close();
    await forceUnmount(mnt);
    assert.equal(isMounted(mnt), false, 'no mount is left');
    rmSync(work, { recursive: true, force: true });
  });

  afterEach(() => {
    assert.equal(mount?.stats.inFlight, 0, 'every request was answered');
  });

  test('lists unique, safe names at the root and ids under by-id, with exact sizes and modes', async () => {
    const root = await run('ls', ['-la', '--time-style=+%s', mnt]);
    assert.equal(root.code, 0, root.stderr);
    const lines = root.stdout.split('\n');
    const sizeOf = (name: string) => lines.find((l) => l.endsWith(` ${name}`))?.split(/\s+/)[4];
    assert.equal(sizeOf('movie.mp4'), String(files.get('a')!.data.length));
    assert.equal(sizeOf('movie-2.mp4'), String(files.get('b')!.data.length));
    assert.equal(sizeOf('weird_name_..mp4'), '100');
    assert.ok(lines.some((l) => l.startsWith('dr-xr-xr-x') && l.endsWith(' by-id')));
    assert.ok(lines.filter((l) => l.endsWith('.mp4')).every((l) => l.startsWith('-r--r--r--')));
    const byId = await run('ls', [join(mnt, 'by-id')]);
    assert.deepEqual(byId.stdout.trim().split('\n').sort(), [
      'id-a.mp4',
      'id-b.mp4',
      'id-bad.mp4',
      'id-c.mp4',
      'id-hang.mp4',
      'id-v.mp4',
    ]);
  });

  test('both names of a file are one inode, numbered by etag, nlink 2, mtime = created', async () => {
    const s = await run('stat', ['-c', '%i %h %s %Y %a', join(mnt, 'movie.mp4'), join(mnt, 'by-id', 'id-a.mp4')]);
    assert.equal(s.code, 0, s.stderr);
    const [one, two] = s.stdout.trim().split('\n');
    assert.equal(one, two);
    const ino = nodeIdOfEtag('"etag-a"').toString();
    assert.equal(one, `${ino} 2 ${files.get('a')!.data.length} ${Date.UTC(2024, 0, 2, 3, 4, 5) / 1000} 444`);
  });

  test('bytes are equal through cat, cmp and dd, for memory files and a real VirtualFile', async () => {
    for (const [name, ref] of [
      ['movie.mp4', 'a'],
      ['movie-2.mp4', 'b'],
      ['weird_name_..mp4', 'c'],
      ['virtual.mp4', 'v'],
      ['by-id/id-v.mp4', 'v'],
    ] as const) {
      const r = await run('cmp', [join(mnt, name), files.get(ref)!.path]);
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
    }
    const dd = await run('sh', [
      '-c',
      `dd if=${join(mnt, 'virtual.mp4')} bs=1M skip=2 2>/dev/null | cmp - ${files.get('v')!.path} -i 0:${2 * MiB}`,
    ]);
    assert.equal(dd.code, 0, dd.stdout + dd.stderr);
    // Reading past the end gives end of file, not an error.
    const tail = await run('dd', [`if=${join(mnt, 'weird_name_..mp4')}`, 'of=/dev/null', 'bs=1', 'skip=200']);
    assert.equal(tail.code, 0, tail.stderr);
  });

  test('extended attributes: etag, id, recipe; size probes; ENODATA for unknown names', async () => {
    const file = join(mnt, 'movie.mp4');
    const d = await run('getfattr', ['-d', '--absolute-names', file]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /user\.vvf\.etag="\\"etag-a\\""/);
    assert.match(d.stdout, /user\.vvf\.recipe="\{\\"recipe\\":\\"a\\"\}"/);
    assert.match(d.stdout, /user\.vvf\.id="id-a"/);
    const missing = await run('getfattr', ['-n', 'user.nope', '--absolute-names', file]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such attribute/);
    // A buffer too small is ERANGE; a size-0 probe answers the size (python's os.getxattr probes, then reads).
    const py = await run('python3', [
      '-c',
      `import os,ctypes,sys
libc=ctypes.CDLL(None,use_errno=True)
buf=ctypes.create_string_buffer(3)
n=libc.getxattr(sys.argv[1].encode(),b"user.vvf.etag",buf,3)
print(n, ctypes.get_errno(), libc.getxattr(sys.argv[1].encode(),b"user.vvf.etag",None,0), os.getxattr(sys.argv[1],"user.vvf.etag").decode())`,
      file,
    ]);
    assert.equal(py.code, 0, py.stderr);
    assert.equal(py.stdout.trim(), `-1 34 8 "etag-a"`);
  });

  test('a file registered later appears and a deleted one disappears, without remounting', async () => {
    const data = pattern(4096, 7);
    catalog.add('id-new', 'fresh', memoryFile(data, '"etag-new"'));
    let seen = false;
    for (let i = 0; i < 20 && !seen; i++) {
      seen = (await run('ls', [mnt])).stdout.split('\n').includes('fresh.mp4');
      if (!seen) await sleep(100);
    }
    assert.ok(seen, 'fresh.mp4 appeared');
    // A name looked up before it existed is not cached as missing.
    const cat = await run('cat', [join(mnt, 'by-id', 'id-new.mp4')]);
    assert.equal(cat.code, 0, cat.stderr);
    catalog.delete('id-new');
    let gone = false;
    for (let i = 0; i < 30 && !gone; i++) {
      gone = (await run('stat', [join(mnt, 'fresh.mp4')])).code !== 0;
      if (!gone) await sleep(100);
    }
    assert.ok(gone, 'fresh.mp4 disappeared');
  });

  test('a file whose bytes change (new etag) is read anew under the same names', async () => {
    const one = pattern(300_000, 11);
    const two = pattern(200_000, 12);
    const onePath = reference('one', one);
    const twoPath = reference('two', two);
    catalog.add('id-chg', 'changing', memoryFile(one, '"etag-one"'));
    await sleep(250);
    const first = await run('cmp', [join(mnt, 'by-id', 'id-chg.mp4'), onePath]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    catalog.add('id-chg', 'changing', memoryFile(two, '"etag-two"'));
    let same = false;
    for (let i = 0; i < 30 && !same; i++) {
      same = (await run('cmp', [join(mnt, 'by-id', 'id-chg.mp4'), twoPath])).code === 0;
      if (!same) await sleep(100);
    }
    assert.ok(same, 'the new bytes are read within the cache timeout');
    const ino = await run('stat', ['-c', '%i', join(mnt, 'changing.mp4')]);
    assert.equal(ino.stdout.trim(), nodeIdOfEtag('"etag-two"').toString());
    catalog.delete('id-chg');
  });

  test('eight concurrent readers of the same and of different files all get the right bytes', async () => {
    const jobs = [
      ['virtual.mp4', 'v'],
      ['virtual.mp4', 'v'],
      ['virtual.mp4', 'v'],
      ['movie-2.mp4', 'b'],
      ['movie-2.mp4', 'b'],
      ['movie.mp4', 'a'],
      ['by-id/id-a.mp4', 'a'],
      ['by-id/id-v.mp4', 'v'],
    ] as const;
    const results = await Promise.all(jobs.map(([name, ref]) => run('cmp', [join(mnt, name), files.get(ref)!.path], 30_000)));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${jobs[i]![0]}: ${r.stdout}${r.stderr}`);
    });
  });

  test('a source that fails mid-read gives EIO within the deadline while another file keeps reading', async () => {
    const [bad, good] = await Promise.all([
      run('dd', [`if=${join(mnt, 'bad.mp4')}`, 'of=/dev/null', 'bs=1M']),
      run('cmp', [join(mnt, 'movie-2.mp4'), files.get('b')!.path]),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Input\/output error/);
    assert.ok(bad.ms < 4 * DEADLINE_MS, `failed in ${bad.ms} ms`);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    // The bytes before the failure were right: never padding.
    const head = await run('sh', [
      '-c',
      `dd if=${join(mnt, 'bad.mp4')} bs=1M count=1 2>/dev/null | cmp -n ${MiB} - ${files.get('a')!.path}`,
    ]);
    assert.equal(head.code, 0, head.stdout + head.stderr);
  });

  test('a source that never answers gives EIO within the deadline, not a hung reader', async () => {
    const before = mount!.stats.timeouts;
    const r = await run('cat', [join(mnt, 'hang.mp4')], 20_000);
    assert.equal(r.signal, null, 'cat finished by itself');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Input\/output error/);
    // Readahead, then the page read itself: at most a couple of deadlines.
    assert.ok(r.ms < 3 * DEADLINE_MS + 1000, `failed in ${r.ms} ms`);
    assert.ok(mount!.stats.timeouts > before);
    assert.ok((mount!.stats.errors.EIO ?? 0) > 0);
  });

  test('killing a reader blocked on a hanging source leaves the mount working', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('dd', [`if=${join(mnt, 'by-id', 'id-hang.mp4')}`, 'of=/dev/null', 'bs=4k', 'iflag=direct'], {
      stdio: 'ignore',
    });
    // Until its READ is in our hands (dd may take a while to start on a busy machine).
    for (let i = 0; i < 250 && mount!.stats.inFlight === 0; i++) await sleep(20);
    assert.equal(mount!.stats.inFlight, 1, 'the READ is pending');
    const exited = new Promise<number>((resolve) => {
      const t = performance.now();
      child.on('exit', () => resolve(performance.now() - t));
    });
    const interrupts = mount!.stats.interrupts;
    child.kill('SIGKILL');
    const ms = await exited;
    assert.ok(ms < DEADLINE_MS, `the killed reader went away in ${ms} ms`);
    // Its READ was in our hands: the kernel's INTERRUPT was answered EINTR at once.
    assert.equal(mount!.stats.interrupts, interrupts + 1);
    const r = await run('cmp', [join(mnt, 'movie.mp4'), files.get('a')!.path]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await sleep(DEADLINE_MS + 200);
  });

  test('a local source cut short under the mount gives EIO for the bytes it lost, never zeros', async () => {
    const data = pattern(6 * MiB, 21);
    const path = join(work, 'shrinking.bin');
    writeFileSync(path, data);
    const source = await FileSource.open(path);
    const builder = new VirtualFileBuilder([source]);
    builder.addBytes(pattern(1000, 22));
    builder.addSourceRange(0, 0, data.length);
    catalog.add('id-shrink', 'shrinking', builder.build({ format: 'test-v1', resolve: async () => source }));
    await sleep(250);
    const file = join(mnt, 'by-id', 'id-shrink.mp4');
    const head = await run('head', ['-c', '100', file]);
    assert.equal(head.code, 0, head.stderr);
    truncateSync(path, 3 * MiB);
    const r = await run('cat', [file], 20_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Input\/output error/);
    // Whatever cat got before the error is the file's own bytes: cmp finds no difference, only an early end.
    const whole = reference('shrinking', Buffer.concat([pattern(1000, 22), data]));
    const prefix = await run('sh', ['-c', `cat ${file} 2>/dev/null | cmp - ${whole}`], 20_000);
    assert.match(prefix.stderr, /EOF on -/);
    assert.doesNotMatch(prefix.stdout, /differ/);
    catalog.delete('id-shrink');
    await source.close();
  });

  test('writes are refused: the mount is read-only', async () => {
    const w = await run('sh', ['-c', `echo x > ${join(mnt, 'movie.mp4')}`]);
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /Read-only file system/);
    const t = await run('touch', [join(mnt, 'new.mp4')]);
    assert.notEqual(t.code, 0);
    const df = await run('df', [mnt]);
    assert.equal(df.code, 0, df.stderr);
  });

  test('counters: requests by opcode, bytes read', () => {
    const s = mount!.stats;
    assert.ok((s.requests.READ ?? 0) > 0);
    assert.ok((s.requests.LOOKUP ?? 0) > 0);
    assert.ok(s.bytesRead > 10 * MiB);
    // The VirtualFile over local files was answered with splice.
    assert.ok(s.splicedReads > 0);
  });
});

test('safe names: no slash, NUL, dot names; capped in bytes on a character boundary', () => {
  assert.equal(safeBaseName('a/b\u0000c'), 'a_b_c');
  assert.equal(safeBaseName('..'), '_..');
  assert.equal(safeBaseName(''), '_');
  const long = safeBaseName('é'.repeat(300));
  assert.ok(Buffer.byteLength(long) <= 200);
  assert.equal(long, 'é'.repeat(100));
});
