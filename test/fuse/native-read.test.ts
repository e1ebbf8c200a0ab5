// READs answered on the addon's reader threads (native/fuse.c, src/fuse/native-reads.ts):
// a VirtualFile over several local files and held bytes, read at random offsets and
// lengths (O_DIRECT, so every read is a READ) by another process and compared with the
// materialized bytes, spliced and copied; a source rewritten or cut under an open file
// gives EIO, never other bytes, and the catalog hears of it; the metrics count these
// READs; RELEASE closes the descriptors the open file held.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetricsRegistry } from '../../src/catalog/metrics.js';
import { fuseMetrics } from '../../src/fuse/face-metrics.js';
import { type FuseMount, mountCatalog } from '../../src/fuse/fuse-mount.js';
import { fuseNativeOrNull, hasNativeReads } from '../../src/fuse/native.js';
import { FileSource } from '../../src/sources/file-source.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { forceUnmount, isMounted, MemoryCatalog, pattern, run } from './fuse-helpers.js';

const MiB = 1 << 20;
const native = fuseNativeOrNull();
const canMount = process.getuid?.() === 0 && native !== null && hasNativeReads(native);
const skip = canMount ? false : 'needs root and the native addon with native READs (npm run build:native)';

/** Random preads of a file compared with a reference: prints a JSON summary. */
const RANDOM_READS = `
import json, os, random, sys
path, ref_path, count, seed, direct = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
fixed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
ref = open(ref_path, "rb").read()
fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
rng = random.Random(seed)
size = len(ref)
bad = []
for _ in range(count):
    at = rng.randrange(0, size + 100)
    length = fixed or rng.choice([1, 17, 4095, 4096, 65536, 131077, 1 << 20, rng.randrange(1, 600000)])
    try:
        got = os.pread(fd, length, at)
    except OSError as e:
        bad.append([at, length, "errno %d" % e.errno])
        continue
    if got != ref[at:at + length]:
        bad.append([at, length, "got %d bytes, other than the reference" % len(got)])
os.close(fd)
print(json.dumps({"count": count, "bad": bad[:10], "badCount": len(bad)}))
`;

/** Holds a file open (O_DIRECT) and reads what it is told on stdin ("offset length"): ok, differ, short n, or errno n. */
const HOLD_OPEN = `
import os, sys
path, ref_path = sys.argv[1], sys.argv[2]
ref = open(ref_path, "rb").read()
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
print("open", flush=True)
for line in sys.stdin:
    at, length = (int(x) for x in line.split())
    try:
        got = os.pread(fd, length, at)
    except OSError as e:
        print("errno %d" % e.errno, flush=True)
        continue
    want = ref[at:at + length]
    print("ok" if got == want else ("short %d" % len(got) if want.startswith(got) else "differ"), flush=True)
os.close(fd)
`;

/** A process holding a file of the mount open, answering read requests one line at a time. */
class Holder {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  readonly exited: Promise<void>;

  constructor(script: string, path: string, ref: string) {
    this.child = spawn('python3', [script, path, ref]);
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w(line);
      else this.lines.push(line);
    });
  }

  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the reader did not answer in 10 s')), 10_000);
      this.waiting = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
  }

  read(offset: number, length: number): Promise<string> {
    this.child.stdin.write(`${offset} ${length}\n`);
    return this.next();
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }
}

/** Descriptors of this process open on `path` (the pool's and the open files' duplicates). */
function descriptorsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // Closed between the listing and the readlink.
    }
  }
  return n;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

let work = '';
const catalog = new MemoryCatalog();
const registry = new MetricsRegistry();
const metrics = fuseMetrics(registry);
let spliced: FuseMount | undefined;
let copied: FuseMount | undefined;
let jsOnly: FuseMount | undefined;
let splicedDir = '';
let copiedDir = '';
let jsOnlyDir = '';
let randomScript = '';
let holdScript = '';
let reference = '';
const sourcePaths: string[] = [];

/** A VirtualFile of held bytes and ranges of `sources`, and its bytes materialized at `<work>/<name>.ref`. */
function layout(name: string, sources: FileSource[], data: Buffer[], steps: (number | Buffer)[][]) {
  const builder = new VirtualFileBuilder(sources);
  const parts: Buffer[] = [];
  for (const step of steps) {
    if (step[0] instanceof Buffer) {
      builder.addBytes(step[0]);
      parts.push(step[0]);
    } else {
      const [index, offset, length] = step as number[];
      builder.addSourceRange(index!, offset!, length!);
      parts.push(data[index!]!.subarray(offset!, offset! + length!));
    }
  }
  const file = builder.build({
    format: 'test-v1',
    resolve: async (ref) => sources.find((s) => s.key === ref.key)!,
  });
  const ref = join(work, `${name}.ref`);
  writeFileSync(ref, Buffer.concat(parts));
  return { file, ref };
}

describe('READs answered on the native reader threads', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'vvf-native-read-'));
    splicedDir = join(work, 'spliced');
    copiedDir = join(work, 'copied');
    jsOnlyDir = join(work, 'js-only');
    mkdirSync(splicedDir);
    mkdirSync(copiedDir);
    mkdirSync(jsOnlyDir);
    randomScript = join(work, 'random-reads.py');
    holdScript = join(work, 'hold-open.py');
    writeFileSync(randomScript, RANDOM_READS);
    writeFileSync(holdScript, HOLD_OPEN);
    const data = [pattern(7 * MiB + 123, 31), pattern(3 * MiB + 4567, 32), pattern(10_000, 33)];
    const sources: FileSource[] = [];
    for (const [i, d] of data.entries()) {
      const path = join(work, `source-${i}.bin`);
      writeFileSync(path, d);
      sourcePaths.push(path);
      sources.push(await FileSource.open(path));
    }
    // Held bytes, long runs of each source, and many short runs taking turns between two sources.
    const steps: (number | Buffer)[][] = [
      [pattern(5000, 34)],
      [0, 1000, 2 * MiB],
      [pattern(333, 35)],
      [1, 3, MiB + 77],
      [2, 0, 10_000],
    ];
    for (let i = 0; i < 40; i++) {
      steps.push([0, 3 * MiB + i * 9000, 4097 + i * 13]);
      steps.push([1, 1.5 * MiB + i * 7000, 2049 + i * 11]);
      if (i % 7 === 0) steps.push([pattern(100 + i, 36 + i)]);
    }
    steps.push([pattern(77, 90)], [0, 5, 777]);
    const v = layout('v', sources, data, steps);
    reference = v.ref;
    catalog.add('id-v', 'virtual', v.file);
    spliced = await mountCatalog(splicedDir, catalog, { deadlineMs: 2000, onRequest: metrics.onRequest });
    metrics.watch(() => spliced!.stats);
    // Copied replies (pread + writev), and only two threads: one READ at a time there, the others through JS.
    copied = await mountCatalog(copiedDir, catalog, { deadlineMs: 2000, splice: 'off', readerThreads: 2 });
    // One thread: every READ through JS (spliced on the thread pool), as before native READs.
    jsOnly = await mountCatalog(jsOnlyDir, catalog, { deadlineMs: 2000, readerThreads: 1 });
    assert.ok(spliced.nativeReading && copied.nativeReading && !jsOnly.nativeReading);
  });

  after(async () => {
    await spliced?.close();
    await copied?.close();
    await jsOnly?.close();
    for (const dir of [splicedDir, copiedDir, jsOnlyDir]) {
      await forceUnmount(dir);
      assert.equal(isMounted(dir), false, 'no mount is left');
    }
    rmSync(work, { recursive: true, force: true });
  });

  test('random offsets and lengths, spliced: the bytes of the materialized file, across held bytes and sources', async () => {
    const before = spliced!.stats.nativeReads;
    for (const [seed, direct] of [
      [1, '1'],
      [2, '0'],
    ] as const) {
      const r = await run(
        'python3',
        [randomScript, join(splicedDir, 'virtual.mp4'), reference, '400', String(seed), direct],
        60_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).badCount, 0, r.stdout);
    }
    const whole = await run('cmp', [join(splicedDir, 'virtual.mp4'), reference]);
    assert.equal(whole.code, 0, whole.stdout + whole.stderr);
    const s = spliced!.stats;
    assert.ok(s.nativeReads - before >= 400, `${s.nativeReads - before} READs answered natively`);
    assert.ok(s.splicedReads > 0);
    assert.equal(s.inFlight, 0);
  });

  test('random offsets and lengths, copied, four readers at once on two threads: the same bytes', async () => {
    const readers = [3, 4, 5, 6].map((seed) =>
      run('python3', [randomScript, join(copiedDir, 'by-id', 'id-v.mp4'), reference, '200', String(seed), '1'], 60_000),
    );
    for (const r of await Promise.all(readers)) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).badCount, 0, r.stdout);
    }
    const s = copied!.stats;
    assert.ok(s.nativeReads > 0);
    // Copied, never spliced, on this mount.
    assert.equal(s.splicedReads, 0);
    // One thread stays at the device: READs beyond one at a time went through JS, and were right too.
    assert.ok((s.requests.READ ?? 0) >= s.nativeReads);
  });

  test('eight readers of 1 MiB at once: more reader threads start (4 at first), all bytes right', async () => {
    assert.equal(spliced!.stats.readerThreads >= 4, true);
    const readers = [11, 12, 13, 14, 15, 16, 17, 18].map((seed) =>
      run('python3', [randomScript, join(splicedDir, 'virtual.mp4'), reference, '100', String(seed), '1', String(MiB)], 60_000),
    );
    for (const r of await Promise.all(readers)) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).badCount, 0, r.stdout);
    }
    const threads = spliced!.stats.readerThreads;
    assert.ok(threads > 4 && threads <= 32, `${threads} reader threads`);
  });

  test('RELEASE closes the descriptors an open file held; none are left after many opens', async () => {
    const path = join(splicedDir, 'virtual.mp4');
    // Warm: the sources are opened by the pool on the first plan.
    await run('head', ['-c', '1', path]);
    await sleep(100);
    const idle = sourcePaths.map(descriptorsOn);
    const holder = new Holder(holdScript, path, reference);
    assert.equal(await holder.next(), 'open');
    assert.equal(await holder.read(4096, 8192), 'ok');
    // One duplicate per source for the open file.
    assert.deepEqual(
      sourcePaths.map(descriptorsOn),
      idle.map((n) => n + 1),
    );
    await holder.close();
    await until('the descriptors are closed at RELEASE', () => sourcePaths.every((p, i) => descriptorsOn(p) === idle[i]));
    const many = await Promise.all(Array.from({ length: 20 }, () => run('head', ['-c', '100000', path])));
    assert.ok(many.every((r) => r.code === 0));
    await until('no descriptor is left after 20 opens', () => sourcePaths.every((p, i) => descriptorsOn(p) === idle[i]));
  });

  test('the metrics count READs answered natively: requests, bytes, latency', async () => {
    const r = await run('python3', [randomScript, join(splicedDir, 'virtual.mp4'), reference, '100', '7', '1'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const s = spliced!.stats;
    const text = registry.render();
    const value = (line: RegExp) => Number(line.exec(text)?.[1] ?? Number.NaN);
    assert.equal(value(/^vvf_fuse_native_reads_total (\d+)$/m), s.nativeReads);
    assert.ok(s.nativeReads >= 500, `${s.nativeReads} native READs`);
    assert.equal(value(/^vvf_fuse_requests_total\{opcode="READ"\} (\d+)$/m), s.requests.READ);
    assert.equal(value(/^vvf_fuse_request_seconds_count\{opcode="READ"\} (\d+)$/m), s.requests.READ);
    assert.equal(value(/^vvf_fuse_read_bytes_total (\d+)$/m), s.bytesRead);
    assert.ok(s.bytesRead > 10 * MiB, `${s.bytesRead} bytes`);
    // Latencies are real: their sum is positive and below a second per READ.
    const sum = value(/^vvf_fuse_request_seconds_sum\{opcode="READ"\} ([\d.e-]+)$/m);
    assert.ok(sum > 0 && sum < s.requests.READ!, `sum ${sum}`);
  });

  for (const [change, through] of [
    ['rewritten in place', 'native'],
    ['cut short', 'native'],
    ['rewritten in place', 'js'],
    ['cut short', 'js'],
  ] as const) {
    test(`a source ${change} under an open file (READs through ${through}): EIO, never other bytes; the catalog is told`, async () => {
      const mount = through === 'native' ? spliced! : jsOnly!;
      const data = pattern(4 * MiB, change === 'cut short' ? 41 : 42);
      const id = `id-${change.replace(/ /g, '-')}-${through}`;
      const path = join(work, `${id}.bin`);
      writeFileSync(path, data);
      const source = await FileSource.open(path);
      const v = layout(id, [source], [data], [[pattern(3000, 43)], [0, 0, data.length], [pattern(50, 44)]]);
      catalog.add(id, id, v.file);
      await sleep(250);
      const file = join(through === 'native' ? splicedDir : jsOnlyDir, 'by-id', `${id}.mp4`);
      const holder = new Holder(holdScript, file, v.ref);
      try {
        assert.equal(await holder.next(), 'open');
        assert.equal(await holder.read(0, 65536), 'ok');
        assert.equal(await holder.read(2 * MiB, 65536), 'ok');
        const changes = mount.stats.sourceChanges;
        const eio = mount.stats.errors.EIO ?? 0;
        // Multigrain timestamps make a rewrite right after the stat visible; coarse ones might not be.
        await sleep(20);
        if (change === 'cut short') {
          truncateSync(path, 3 * MiB);
        } else {
          const fd = openSync(path, 'r+');
          writeSync(fd, pattern(MiB, 45), 0, MiB, MiB);
          closeSync(fd);
        }
        // Bytes before, inside and after the changed part: each answer is EIO (5), never other bytes.
        for (const [at, length] of [
          [0, 65536],
          [MiB + 3000, 100_000],
          [2 * MiB, 65536],
          [3 * MiB + 10, 4096],
        ] as const) {
          assert.equal(await holder.read(at, length), 'errno 5', `read of ${length} at ${at}`);
        }
        // Counted where a READ on the threads found it (through JS, the source's own check fails).
        assert.equal(mount.stats.sourceChanges, changes + (through === 'native' ? 1 : 0));
        assert.ok((mount.stats.errors.EIO ?? 0) >= eio + 4);
        await until('the catalog is told to compile the file again', () => catalog.invalidated.includes(id));
      } finally {
        await holder.close();
      }
      // A new open of the changed file reads EIO too (planned again, the source fails its check).
      const again = new Holder(holdScript, file, v.ref);
      try {
        assert.equal(await again.next(), 'open');
        assert.equal(await again.read(3000, 4096), 'errno 5');
      } finally {
        await again.close();
        catalog.delete(id);
        await source.close();
      }
    });
  }
});

test('spliceReply sends nothing when a file is no longer what the caller expected (ESTALE)', {
  skip: native === null,
}, async () => {
  const n = native!;
  const dir = mkdtempSync(join(tmpdir(), 'vvf-splice-check-'));
  const path = join(dir, 'source.bin');
  const data = pattern(100_000, 51);
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  const [pipeR, pipeW] = n.replyPipe(1 << 20);
  // A pipe standing in for /dev/fuse: what reaches it is what the kernel would get.
  const [outR, outW] = n.replyPipe(1 << 20);
  const splice = (expected: BigInt64Array) =>
    new Promise<Error | null>((resolve) =>
      n.spliceReply(outW, pipeR, pipeW, [Buffer.from('head'), [fd, 1000, 5000, expected]], resolve),
    );
  try {
    const st = fstatSync(fd, { bigint: true });
    const now = BigInt64Array.of(st.size, st.mtimeNs, st.ctimeNs, st.ino);
    const changed = BigInt64Array.of(st.size, st.mtimeNs, st.ctimeNs + 1n, st.ino);
    const refused = await splice(changed);
    assert.equal((refused as NodeJS.ErrnoException | null)?.code, 'ESTALE');
    const sent = await splice(now);
    assert.equal(sent, null);
    // Only the second reply's bytes came out, whole.
    const got = Buffer.alloc(10_000);
    const n1 = readSync(outR, got, 0, got.length, null);
    assert.deepEqual(got.subarray(0, n1), Buffer.concat([Buffer.from('head'), data.subarray(1000, 6000)]));
  } finally {
    for (const f of [fd, pipeR, pipeW, outR, outW]) closeSync(f);
    rmSync(dir, { recursive: true, force: true });
  }
});
