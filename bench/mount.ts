// `make bench-mount`: reading the one-hour virtual file of `make bench` through `vvf mount`
// beside reading the same bytes materialized on disk (and, when it installs, through bindfs,
// an existing FUSE filesystem over the materialized file: FUSE's own cost). Writes
// bench/RESULTS-mount.md. Needs root (it drops the page cache for the cold figures).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureBenchMedia, run } from './generate.js';

const execFileP = promisify(execFile);
const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..');
const CACHE_ROOT = resolve(process.env.VVF_CACHE_DIR ?? join(ROOT, '.cache'));
const CACHE = join(CACHE_ROOT, 'bench');
const WORK = join(CACHE_ROOT, 'bench-mount');
const MATERIALIZED_DIR = join(WORK, 'materialized');
const MATERIALIZED = join(MATERIALIZED_DIR, 'hour.mp4');
const RECIPES = join(WORK, 'recipes');
const MNT = join(WORK, 'mnt');
/** A second vvf mount whose READs all go through JS (one reader thread): the native READ path's baseline, in the same rounds. */
const JS_MNT = join(WORK, 'mnt-js');
const WITH_JS_MOUNT = process.env.VVF_BENCH_JS_MOUNT !== '0';
const BINDFS_MNT = join(WORK, 'bindfs');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const PREAD = join(ROOT, 'bench', 'random-pread.py');
const RESULTS = join(ROOT, 'bench', 'RESULTS-mount.md');

/** Rounds of each measurement, the readers taking turns to go first; medians are compared. */
const ROUNDS = Number(process.env.VVF_BENCH_ROUNDS ?? 3);
const PREADS = 1000;
const PREAD_SIZE = 65536;
const CLK_TCK = 100;

const TARGETS = { coldSequential: 0.9, warmSequential: 0.9, ffmpeg: 1.1, randomP99: 2 };

const log = (s: string) => process.stderr.write(`[bench:mount] ${s}\n`);

type Reader = 'direct' | 'vvf' | 'vvfJs' | 'bindfs';

async function dropCaches(): Promise<void> {
  await execFileP('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3');
}

/** Seconds a command takes; it must succeed. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const started = performance.now();
  await run(cmd, args);
  return (performance.now() - started) / 1000;
}

/** CPU seconds and resident memory of a process, from /proc. */
async function processUsage(pid: number): Promise<{ cpu: number; rssMiB: number; hwmMiB: number }> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpu, rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The 1-minute load average: the machine is shared, and figures taken under load move. */
async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
}

/** Each mount's log lines (JSON), kept to read its counters once it has stopped. */
const mountLogs = new Map<ChildProcess, string[]>();

function startMount(root: string, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'mount', dir, '--recipes', RECIPES, '--root', root], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  const mountLog: string[] = [];
  mountLogs.set(child, mountLog);
  // A failed run stops its mounts (vvf mount unmounts on SIGTERM): none is left behind.
  process.once('exit', () => child.kill('SIGTERM'));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('vvf mount did not start in 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`vvf mount exited with ${code}`)));
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        mountLog.push(line);
        if (line.includes('"vvf mount ready"')) {
          clearTimeout(timer);
          resolvePromise(child);
        }
      }
    });
  });
}

async function stopMount(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** How a mount answered its READs, from its last log line ("fuse unmounted"). */
function readCounters(mount: ChildProcess): string {
  for (const line of [...(mountLogs.get(mount) ?? [])].reverse()) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg !== 'fuse unmounted') continue;
      const reads = (entry.requests as Record<string, number> | undefined)?.READ ?? 0;
      const n = (k: string) => Number(entry[k] ?? 0);
      return `${reads} READs: ${n('nativeReads')} answered on the native reader threads, ${n('nativeBusy')} through JS because every other thread was busy, ${reads - n('nativeReads') - n('nativeBusy')} other through JS; ${n('splicedReads')} spliced`;
    } catch {
      // Not a JSON line.
    }
  }
  return 'no counters in the mount log';
}

interface Figures {
  ddCold: number[];
  ddWarm: number[];
  catCold: number[];
  catWarm: number[];
  ffmpegCold: number[];
  ffmpegWarm: number[];
  preadMedian: number[];
  preadP99: number[];
}

const emptyFigures = (): Figures => ({
  ddCold: [],
  ddWarm: [],
  catCold: [],
  catWarm: [],
  ffmpegCold: [],
  ffmpegWarm: [],
  preadMedian: [],
  preadP99: [],
});

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench-mount needs root: it drops the page cache and mounts with mount(2)');
  const media = await ensureBenchMedia(CACHE);
  await mkdir(RECIPES, { recursive: true });
  await mkdir(MNT, { recursive: true });
  await mkdir(MATERIALIZED_DIR, { recursive: true });
  const recipe = {
    name: 'hour',
    tracks: [
      { source: media.manifest, kind: 'video' },
      { source: media.manifest, kind: 'audio' },
    ],
  };
  const loadAtStart = await loadAverage();
  const recipePath = join(RECIPES, 'hour.json');
  await writeFile(recipePath, JSON.stringify(recipe));
  await run('umount', ['-l', MNT]).catch(() => undefined);

  const mount = await startMount(media.dir, MNT);
  let jsMount: ChildProcess | undefined;
  if (WITH_JS_MOUNT) {
    await mkdir(JS_MNT, { recursive: true });
    await run('umount', ['-l', JS_MNT]).catch(() => undefined);
    jsMount = await startMount(media.dir, JS_MNT, { ...process.env, VVF_FUSE_THREADS: '1' });
  }
  const mounted = join(MNT, 'hour.mp4');
  const size = (await stat(mounted)).size;
  if (!existsSync(MATERIALIZED) || (await stat(MATERIALIZED)).size !== size) {
    log(`materializing the virtual file (${(size / 1e9).toFixed(2)} GB) with vvf remux, not through the mount`);
    await rm(MATERIALIZED, { force: true });
    // remux writes a temporary file beside the output and renames it: a cut run leaves no half file.
    await run(process.execPath, [CLI, 'remux', recipePath, '-o', MATERIALIZED]);
  }
  log('checking that the mount reads the materialized bytes (cmp)');
  await run('cmp', [mounted, MATERIALIZED]);
  if (jsMount) await run('cmp', [join(JS_MNT, 'hour.mp4'), MATERIALIZED]);

  let bindfs = false;
  try {
    await mkdir(BINDFS_MNT, { recursive: true });
    await run('umount', ['-l', BINDFS_MNT]).catch(() => undefined);
    await run('bindfs', ['-r', MATERIALIZED_DIR, BINDFS_MNT]);
    bindfs = true;
  } catch (e) {
    log(`no bindfs comparison: ${(e as Error).message.split('\n')[0]}`);
  }
  const pathOf: Record<Reader, string> = {
    direct: MATERIALIZED,
    vvf: mounted,
    vvfJs: join(JS_MNT, 'hour.mp4'),
    bindfs: join(BINDFS_MNT, 'hour.mp4'),
  };
  const readers: Reader[] = ['direct', 'vvf', ...(jsMount ? (['vvfJs'] as const) : []), ...(bindfs ? (['bindfs'] as const) : [])];
  const figures: Record<Reader, Figures> = {
    direct: emptyFigures(),
    vvf: emptyFigures(),
    vvfJs: emptyFigures(),
    bindfs: emptyFigures(),
  };
  let mountCpu = 0;
  let mountBytes = 0;
  /** The mount's CPU seconds during warm reads only: none means the page cache served them, not vvf. */
  let warmCpu = 0;
  let warmBytes = 0;
  const measure = async <T>(reader: Reader, work: () => Promise<T>, warm = false): Promise<T> => {
    const before = reader === 'vvf' ? await processUsage(mount.pid!) : undefined;
    const result = await work();
    if (before) {
      const used = (await processUsage(mount.pid!)).cpu - before.cpu;
      mountCpu += used;
      if (warm) {
        warmCpu += used;
        warmBytes += size;
      }
    }
    return result;
  };

  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with a different reader: what runs first meets a machine in another state.
      const order = readers.map((_, i) => readers[(i + round) % readers.length]!);
      log(`round ${round + 1} of ${ROUNDS}: ${order.join(', ')}`);
      for (const reader of order) {
        const path = pathOf[reader];
        const f = figures[reader];
        await dropCaches();
        f.ddCold.push(size / 1e6 / (await measure(reader, () => timed('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M']))));
        f.ddWarm.push(size / 1e6 / (await measure(reader, () => timed('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M']), true)));
        await dropCaches();
        f.catCold.push(size / 1e6 / (await measure(reader, () => timed('sh', ['-c', `cat "$1" > /dev/null`, 'cat', path]))));
        f.catWarm.push(
          size / 1e6 / (await measure(reader, () => timed('sh', ['-c', `cat "$1" > /dev/null`, 'cat', path]), true)),
        );
        const ffmpeg = ['-v', 'error', '-i', path, '-map', '0', '-c', 'copy', '-f', 'null', '-'];
        await dropCaches();
        f.ffmpegCold.push(await measure(reader, () => timed('ffmpeg', ffmpeg)));
        f.ffmpegWarm.push(await measure(reader, () => timed('ffmpeg', ffmpeg)));
        await dropCaches();
        const pread = JSON.parse(
          await measure(reader, () => run('python3', [PREAD, path, String(PREADS), String(PREAD_SIZE), String(round + 1)])),
        ) as { median_ms: number; p99_ms: number };
        f.preadMedian.push(pread.median_ms);
        f.preadP99.push(pread.p99_ms);
        // Bytes the mount served: 4 whole reads, ffmpeg's 2 (about the whole file), the preads.
        if (reader === 'vvf') mountBytes += 6 * size + PREADS * PREAD_SIZE;
      }
    }
  } finally {
    if (bindfs) await run('umount', ['-l', BINDFS_MNT]).catch(() => undefined);
  }
  // The floor of a warm read from a page cache of 4 KiB pages (FUSE's; ext4 caches the
  // materialized file in large folios): the same bytes on tmpfs, which has no large pages
  // unless mounted with huge=.
  const shm = join('/dev/shm', `vvf-bench-${process.pid}.mp4`);
  const tmpfsWarm: { dd: number[]; cat: number[] } = { dd: [], cat: [] };
  try {
    await run('cp', [MATERIALIZED, shm]);
    for (let round = 0; round < ROUNDS; round++) {
      tmpfsWarm.dd.push(size / 1e6 / (await timed('dd', [`if=${shm}`, 'of=/dev/null', 'bs=1M'])));
      tmpfsWarm.cat.push(size / 1e6 / (await timed('sh', ['-c', `cat "$1" > /dev/null`, 'cat', shm])));
    }
  } finally {
    await rm(shm, { force: true });
  }
  const usage = await processUsage(mount.pid!);
  await stopMount(mount);
  if (jsMount) await stopMount(jsMount);
  const loadAtEnd = await loadAverage();
  const threads = process.env.VVF_FUSE_THREADS;

  const m = (r: Reader, k: keyof Figures) => median(figures[r][k]);
  const ratio = (a: number, b: number) => a / b;
  const rows: [string, keyof Figures, 'MB/s' | 's' | 'ms', boolean][] = [
    ['dd bs=1M, cold', 'ddCold', 'MB/s', true],
    ['dd bs=1M, warm', 'ddWarm', 'MB/s', true],
    ['cat, cold', 'catCold', 'MB/s', true],
    ['cat, warm', 'catWarm', 'MB/s', true],
    ['ffmpeg -c copy -f null, cold', 'ffmpegCold', 's', false],
    ['ffmpeg -c copy -f null, warm', 'ffmpegWarm', 's', false],
    [`${PREADS} random 64 KiB preads, cold: median`, 'preadMedian', 'ms', false],
    [`${PREADS} random 64 KiB preads, cold: p99`, 'preadP99', 'ms', false],
  ];
  const fmt = (v: number, unit: string) => (unit === 'MB/s' ? v.toFixed(0) : unit === 's' ? v.toFixed(2) : v.toFixed(3));
  const table = [
    `| measurement | direct (disk file) | vvf mount | vvf / direct |${jsMount ? ' vvf, READs through JS | ÷ direct |' : ''}${bindfs ? ' bindfs | bindfs / direct |' : ''}`,
    `|---|---:|---:|---:|${jsMount ? '---:|---:|' : ''}${bindfs ? '---:|---:|' : ''}`,
    ...rows.map(([label, key, unit]) => {
      const d = m('direct', key);
      const v = m('vvf', key);
      const j = jsMount ? m('vvfJs', key) : 0;
      const b = bindfs ? m('bindfs', key) : 0;
      return `| ${label} | ${fmt(d, unit)} ${unit} | ${fmt(v, unit)} ${unit} | ${ratio(v, d).toFixed(2)}× |${jsMount ? ` ${fmt(j, unit)} ${unit} | ${ratio(j, d).toFixed(2)}× |` : ''}${bindfs ? ` ${fmt(b, unit)} ${unit} | ${ratio(b, d).toFixed(2)}× |` : ''}`;
    }),
  ].join('\n');
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const coldSeq = ratio(m('vvf', 'ddCold'), m('direct', 'ddCold'));
  const warmSeq = ratio(m('vvf', 'ddWarm'), m('direct', 'ddWarm'));
  const ffmpegRatio = Math.max(
    ratio(m('vvf', 'ffmpegCold'), m('direct', 'ffmpegCold')),
    ratio(m('vvf', 'ffmpegWarm'), m('direct', 'ffmpegWarm')),
  );
  const p99Ratio = ratio(m('vvf', 'preadP99'), m('direct', 'preadP99'));
  const gb = mountBytes / 1e9;
  const md = `# vvf mount: reading a virtual file through FUSE

Command: \`make bench-mount\` (\`npx tsx bench/mount.ts\` once \`make setup\` has run; root). Generated by \`bench/mount.ts\` on ${new Date().toISOString()}.

Input: the one-hour 1080p DASH pair of \`make bench\` (${(media.totalBytes / 1e9).toFixed(2)} GB), as one progressive virtual file
(${(size / 1e9).toFixed(2)} GB, recipe \`{ name: "hour", tracks: [video, audio of manifest.mpd] }\`) mounted by \`vvf mount --recipes\`.
Direct: the same bytes materialized by \`vvf remux\` on the same disk. ${bindfs ? 'bindfs: `bindfs -r` over the folder of the materialized file, an existing FUSE filesystem doing the same job: what FUSE itself costs.' : ''}
Cold: \`sync; echo 3 > /proc/sys/vm/drop_caches\` before the read (the sources' pages and the mount's both dropped). Warm: the same read again.
Medians of ${ROUNDS} rounds, the readers taking turns to go first. Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}.${jsMount ? '\nvvf, READs through JS: a second `vvf mount` of the same recipe with one reader thread (VVF_FUSE_THREADS=1), every request through the event loop as before native READs, read in the same rounds.' : ''}
Load average (1 min) ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end (the bench's own readers add about 1). vvf mount: reader threads ${threads ?? 'default'}; ${readCounters(mount)}.${jsMount ? ` Through JS: ${readCounters(jsMount)}.` : ''}

${table}

Floor of a warm read from 4 KiB page-cache pages (FUSE's page cache has them; ext4 keeps the materialized file in large
folios): the same bytes on tmpfs read at ${median(tmpfsWarm.dd).toFixed(0)} MB/s with dd bs=1M and ${median(tmpfsWarm.cat).toFixed(0)} MB/s with cat, warm
— vvf's warm reads are served by the kernel's page cache alone: the mount process used ${warmCpu.toFixed(2)} CPU s for
${(warmBytes / 1e9).toFixed(1)} GB of warm reads. They are ${(m('vvf', 'ddWarm') / median(tmpfsWarm.dd)).toFixed(2)}× (dd) and ${(m('vvf', 'catWarm') / median(tmpfsWarm.cat)).toFixed(2)}× (cat) of that.

The mount process: ${(mountCpu / gb).toFixed(2)} CPU s per GB read through it (${mountCpu.toFixed(1)} s for ${gb.toFixed(1)} GB), RSS ${usage.rssMiB.toFixed(0)} MiB at the end, peak ${usage.hwmMiB.toFixed(0)} MiB.

## Targets

| target | figure | |
|---|---:|---|
| cold sequential ≥ ${TARGETS.coldSequential} × direct cold | ${coldSeq.toFixed(2)}× | ${verdict(coldSeq >= TARGETS.coldSequential)} |
| warm sequential ≥ ${TARGETS.warmSequential} × direct warm | ${warmSeq.toFixed(2)}× | ${verdict(warmSeq >= TARGETS.warmSequential)} |
| ffmpeg ≤ ${TARGETS.ffmpeg} × direct (worse of cold and warm) | ${ffmpegRatio.toFixed(2)}× | ${verdict(ffmpegRatio <= TARGETS.ffmpeg)} |
| random 64 KiB p99 ≤ ${TARGETS.randomP99} × direct | ${p99Ratio.toFixed(2)}× | ${verdict(p99Ratio <= TARGETS.randomP99)} |

Every round's figures: \`${JSON.stringify(figures)}\`
`;
  const previous = await readFile(RESULTS, 'utf8').catch(() => '');
  const notesAt = previous.indexOf('\n## Notes');
  await writeFile(RESULTS, notesAt >= 0 ? `${md}${previous.slice(notesAt)}` : md);
  log(`wrote ${relative(ROOT, RESULTS)}`);
  process.stdout.write(`${md}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-mount failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
