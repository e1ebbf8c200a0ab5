// The read floor of a cold DASH → progressive compile: the moof reads alone, as fast as this disk allows.
//
// The first 64 KiB of the progressive file hold the moov's size and the video's stts, which
// depend on every sample of every fragment: no tool can produce them before it has read every
// moof. This script times just those reads, with nothing parsed, from a cold page cache and
// (for comparison) a warm one, at several queue depths, buffered and with O_DIRECT. It prints
// the figures as JSON and writes them into bench/RESULTS.md (the section "The read floor").
//
// Run: `npm run bench:floor` (after `make bench` made the media). Needs root to drop the page cache.
import { execFileSync, spawn } from 'node:child_process';
import { constants, readSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DASH = resolve(process.env.VVF_CACHE_DIR ?? join(ROOT, '.cache'), 'bench', 'dash');
const RESULTS = join(ROOT, 'bench', 'RESULTS.md');
const SCRIPT = fileURLToPath(import.meta.url);
/** Bytes read at each fragment's start: a moof of this media is 0.6–1.3 KB. */
const READ_BYTES = 8192;
const DEPTHS = [1, 8, 64, 128];
const RUNS = 3;

interface Job {
  file: string;
  offset: number;
}

/** The start of every media segment (a moof) in the manifest's SegmentList byte ranges. */
async function jobs(): Promise<Job[]> {
  const mpd = await readFile(join(DASH, 'manifest.mpd'), 'utf8');
  const out: Job[] = [];
  for (const rep of mpd.split('<Representation').slice(1)) {
    const file = /<BaseURL>([^<]+)<\/BaseURL>/.exec(rep)?.[1];
    if (!file) throw new Error('a representation without BaseURL');
    for (const m of rep.matchAll(/mediaRange="(\d+)-\d+"/g)) out.push({ file: join(DASH, file), offset: Number(m[1]) });
  }
  return out;
}

/** `--child DEPTH direct|buffered`: one timed pass in a fresh process (its thread pool sized to the depth). */
async function child(depth: number, mode: string): Promise<void> {
  const list = await jobs();
  const direct = mode === 'direct';
  const flags = constants.O_RDONLY | (direct ? constants.O_DIRECT : 0);
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  for (const j of list) if (!handles.has(j.file)) handles.set(j.file, await open(j.file, flags));
  // O_DIRECT needs a buffer aligned to the device's block: find an aligned offset by trying.
  const aligned = async (): Promise<Buffer> => {
    const big = Buffer.allocUnsafeSlow(READ_BYTES + 4096);
    const probe = handles.values().next().value!;
    for (let at = 0; at < 4096; at += 16) {
      const b = big.subarray(at, at + READ_BYTES);
      if (!direct) return b;
      try {
        await probe.read(b, 0, READ_BYTES, 0);
        return b;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      }
    }
    throw new Error('no aligned buffer for O_DIRECT');
  };
  const buffers = await Promise.all(Array.from({ length: depth }, aligned));
  if (mode === 'sync') {
    // Blocking reads, one at a time: no thread pool hand-off, so from the page cache this is the syscalls alone.
    const b = buffers[0]!;
    const fds = new Map([...handles].map(([f, h]) => [f, h.fd]));
    const t = performance.now();
    for (const j of list) readSync(fds.get(j.file)!, b, 0, READ_BYTES, j.offset);
    process.stdout.write(`${JSON.stringify({ reads: list.length, ms: performance.now() - t })}\n`);
    return;
  }
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    buffers.map(async (b) => {
      while (next < list.length) {
        const j = list[next++]!;
        await handles.get(j.file)!.read(b, 0, READ_BYTES, j.offset - (direct ? j.offset % 4096 : 0));
      }
    }),
  );
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ reads: list.length, ms })}\n`);
}

function runChild(depth: number, mode: string): Promise<{ reads: number; ms: number }> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--child', String(depth), mode], {
      cwd: ROOT,
      env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, depth)) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`child exited ${code}`)),
    );
  });
}

async function dropCaches(): Promise<void> {
  execFileSync('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rows: { depth: number; mode: string; cold: number; warm: number }[] = [];
  let reads = 0;
  for (const mode of ['buffered', 'sync', 'direct']) {
    for (const depth of mode === 'sync' ? [1] : DEPTHS) {
      const cold: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await dropCaches();
        const r = await runChild(depth, mode);
        reads = r.reads;
        cold.push(r.ms);
      }
      // Warm: the same pass again with the moofs in the page cache (O_DIRECT always goes to the disk).
      const warm: number[] = [];
      for (let i = 0; i < RUNS; i++) warm.push((await runChild(depth, mode)).ms);
      rows.push({ depth, mode, cold: median(cold), warm: median(warm) });
      process.stderr.write(
        `[bench:floor] ${mode} depth ${depth}: cold ${median(cold).toFixed(0)} ms, warm ${median(warm).toFixed(1)} ms\n`,
      );
    }
  }
  const best = Math.min(...rows.map((r) => r.cold));
  const bestWarm = Math.min(...rows.filter((r) => r.mode !== 'direct').map((r) => r.warm));
  process.stdout.write(`${JSON.stringify({ reads, rows, bestColdMs: best, bestWarmMs: bestWarm })}\n`);

  const table = rows
    .map(
      (r) =>
        `| ${r.mode} | ${r.depth} | ${r.cold.toFixed(0)} ms | ${r.mode === 'direct' ? '(disk)' : `${r.warm.toFixed(1)} ms`} |`,
    )
    .join('\n');
  const section = `## The read floor

Command: \`npm run bench:floor\` (bench/floor.ts), run on ${new Date().toISOString().slice(0, 10)}.
The first 64 KiB of the progressive file contain the moov's size and the video's stts, which depend on every sample,
so every one of the ${reads} moofs must be read before the first byte exists. This times those reads alone
(${READ_BYTES} bytes at the start of each media segment of the manifest's SegmentList, nothing parsed), in a fresh process,
with as many reads in flight as the depth (the thread pool sized to match); medians of ${RUNS}. Cold: page cache dropped first,
as \`make bench\` does for ffmpeg and vvf alike. O_DIRECT bypasses the page cache and its read-ahead: the device's own floor.
\`sync\` is \`readSync\`, one read at a time on the main thread: no thread-pool hand-off, so warm it is the system calls alone.

| reads | in flight | cold | warm |
| --- | ---: | ---: | ---: |
${table}

Fastest cold pass: **${best.toFixed(0)} ms**; fastest warm pass (page cache): ${bestWarm.toFixed(1)} ms.
`;
  const results = await readFile(RESULTS, 'utf8');
  const heading = '\n## The read floor';
  const at = results.indexOf(heading);
  let updated: string;
  if (at >= 0) {
    const next = results.indexOf('\n## ', at + heading.length);
    updated = `${results.slice(0, at + 1)}${section}${next >= 0 ? results.slice(next) : ''}`;
  } else {
    updated = `${results.replace(/\n*$/, '\n')}\n${section}`;
  }
  await writeFile(RESULTS, updated);
}

const [flag, depth, mode] = process.argv.slice(2);
if (flag === '--child') await child(Number(depth), mode ?? 'buffered');
else await main();
