// `npm run bench` / `make bench`: ffmpeg's faststart remux against vvf's virtual file, from the same one-hour DASH pair.
import { spawn } from 'node:child_process';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type BenchMedia, ensureBenchMedia, run, words } from './generate.js';
import type { ColdResult, DeserializeResult, MeasureRequest } from './measure.js';
import { moovSizeOf } from './moov-size.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = resolve(process.env.VVF_CACHE_DIR ?? join(ROOT, '.cache'), 'bench');
const RESULTS = join(ROOT, 'bench', 'RESULTS.md');
/** Runs of each measurement; the median is compared with the targets. The machine may be shared. */
const FFMPEG_RUNS = 3;
const COLD_RUNS = 5;
const SERIALIZED_RUNS = 7;

/** Targets of the issue: ffmpeg's remux time over vvf's, and memory over the moov size. */
const COLD_TARGET = 100;
const SERIALIZED_TARGET = 2000;
const MEMORY_TARGET = 1.25;

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Empties the OS page cache so that every measurement reads its sources from disk; false when not permitted. */
async function dropCaches(): Promise<boolean> {
  try {
    await run('sync', []);
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface FfmpegResult {
  wallMs: number;
  /** A `sync` right after: ffmpeg's output sits in the page cache when it exits. */
  syncMs: number;
  bytes: number;
  moovSize: number;
}

async function ffmpegRemux(media: BenchMedia): Promise<FfmpegResult> {
  const out = join(CACHE, 'ffmpeg-faststart.mp4');
  await rm(out, { force: true });
  const t0 = performance.now();
  const input = ['-i', media.video, '-i', media.audio, ...words('-map 0 -map 1')];
  await run('ffmpeg', [...words('-hide_banner -v error -y'), ...input, ...words('-c copy -movflags +faststart'), out]);
  const wallMs = performance.now() - t0;
  await run('sync', []);
  const syncMs = performance.now() - t0 - wallMs;
  const { size } = await stat(out);
  const fh = await open(out, 'r');
  const head = new Uint8Array(4096);
  await fh.read(head, 0, head.length, 0);
  await fh.close();
  await rm(out);
  return { wallMs, syncMs, bytes: size, moovSize: moovSizeOf(head) };
}

/** Runs bench/measure.ts in a fresh node process and returns what it printed. */
function measure<T>(req: MeasureRequest): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const script = join(ROOT, 'bench', 'measure.ts');
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, JSON.stringify(req)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`bench/measure.ts ${req.mode} exited with ${code}`));
      else resolvePromise(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
    });
  });
}

const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`);
const mb = (x: number) => `${(x / 1e6).toFixed(2)} MB`;
const range = (xs: number[]) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

async function diskUsage(dir: string): Promise<number> {
  const out = await run('du', ['-sb', dir]);
  return Number(out.split('\t')[0]);
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  const media = await ensureBenchMedia(CACHE);
  const canDrop = await dropCaches();
  log(
    canDrop
      ? 'the page cache is dropped before every measurement'
      : 'cannot drop the page cache (not root?): sources may be warm',
  );

  const ffmpeg: FfmpegResult[] = [];
  for (let i = 0; i < FFMPEG_RUNS; i++) {
    await dropCaches();
    log(`ffmpeg -c copy -movflags +faststart, run ${i + 1}/${FFMPEG_RUNS}`);
    ffmpeg.push(await ffmpegRemux(media));
  }

  const serialized = join(CACHE, 'virtual.vvf');
  const base = { manifest: media.manifest, video: media.video, audio: media.audio };
  const cold: Record<'manifest' | 'files' | 'warm', ColdResult[]> = { manifest: [], files: [], warm: [] };
  // `warm`: the manifest recipe in a process that compiled it once already (JIT warm), sources cold.
  const variants = canDrop ? (['manifest', 'files', 'warm'] as const) : (['manifest', 'files'] as const);
  for (const variant of variants) {
    for (let i = 0; i < COLD_RUNS; i++) {
      await dropCaches();
      log(`vvf from cold sources (${variant}), run ${i + 1}/${COLD_RUNS}`);
      const recipe = variant === 'files' ? 'files' : 'manifest';
      const req: MeasureRequest = { mode: 'cold', recipe, ...base, warmProcess: variant === 'warm' };
      if (variant === 'manifest' && i === 0) req.serializedOut = serialized;
      cold[variant].push(await measure<ColdResult>(req));
    }
  }
  const des: DeserializeResult[] = [];
  for (let i = 0; i < SERIALIZED_RUNS; i++) {
    await dropCaches();
    log(`vvf from the serialized form, run ${i + 1}/${SERIALIZED_RUNS}`);
    des.push(await measure<DeserializeResult>({ mode: 'deserialize', serialized, expectedHead: `${serialized}.head` }));
  }
  const load1 = loadavg();
  const disk = await diskUsage(CACHE);

  // Figures.
  const ff = median(ffmpeg.map((r) => r.wallMs));
  const ffSync = median(ffmpeg.map((r) => r.syncMs));
  const ratioRange = (vvf: number, digits: number) =>
    `${(Math.min(...ffmpeg.map((r) => r.wallMs)) / vvf).toFixed(digits)}×–${(Math.max(...ffmpeg.map((r) => r.wallMs)) / vvf).toFixed(digits)}×`;
  const ffBytes = ffmpeg[0]!.bytes;
  const ffMoov = ffmpeg[0]!.moovSize;
  const m = cold.manifest;
  const f = cold.files;
  const w = cold.warm;
  const warmFirst = w.length > 0 ? median(w.map((r) => r.firstBytesMs)) : Number.NaN;
  const desWarm = median(des.map((r) => r.warmFirstBytesMs));
  const c0 = m[0]!;
  const coldFirst = median(m.map((r) => r.firstBytesMs));
  const filesFirst = median(f.map((r) => r.firstBytesMs));
  const desFirst = median(des.map((r) => r.firstBytesMs));
  const desLoad = median(des.map((r) => r.loadMs));
  const memoryRatio = c0.memoryBytes / c0.moovSize;
  const coldRatio = ff / coldFirst;
  const desRatio = ff / desFirst;
  const desLoadRatio = ff / (desFirst + desLoad);
  const sameSizes = [...m, ...f, ...w].every((r) => r.fileSize === c0.fileSize && r.memoryBytes === c0.memoryBytes);
  const readBackOk =
    [...m, ...f, ...w].every(
      (r) => r.readBackSamples.join(',') === `${media.videoPackets},${media.audioPackets}` && r.readBackBytesMatch,
    ) && des.every((r) => r.firstBytesMatch);
  const retained = median(des.map((r) => r.retainedBytes));
  const step = (k: keyof ColdResult, rs: ColdResult[]) => median(rs.map((r) => r[k] as number));

  const table = [
    ['', 'ffmpeg', 'vvf', 'ffmpeg / vvf', 'target', ''],
    ['progressive file from the DASH pair (wall)', ms(ff), '', '', '', ''],
    [
      'first 64 KiB, cold sources (manifest)',
      '',
      ms(coldFirst),
      `${coldRatio.toFixed(1)}×`,
      `> ${COLD_TARGET}×`,
      pass(coldRatio > COLD_TARGET),
    ],
    [
      'first 64 KiB, cold sources (two files)',
      '',
      ms(filesFirst),
      `${(ff / filesFirst).toFixed(1)}×`,
      '(same)',
      pass(ff / filesFirst > COLD_TARGET),
    ],
    [
      'first 64 KiB, serialized form in hand',
      '',
      ms(desFirst),
      `${desRatio.toFixed(0)}×`,
      `> ${SERIALIZED_TARGET}×`,
      pass(desRatio > SERIALIZED_TARGET),
    ],
    ['  … counting its load from disk (cold)', '', ms(desFirst + desLoad), `${desLoadRatio.toFixed(0)}×`, '(info)', ''],
    ['  … in a process that did it before', '', ms(desWarm), `${(ff / desWarm).toFixed(0)}×`, '(info)', ''],
    ['first 64 KiB, cold sources, warm process', '', ms(warmFirst), `${(ff / warmFirst).toFixed(1)}×`, '(info)', ''],
    [
      'memory per file / moov size',
      '',
      `${memoryRatio.toFixed(3)}`,
      '',
      `≤ ${MEMORY_TARGET}`,
      pass(memoryRatio <= MEMORY_TARGET),
    ],
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const text = table
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
  process.stdout.write(`\n${text}\n\n`);
  process.stdout.write(
    [
      `ffmpeg: ${FFMPEG_RUNS} runs ${range(ffmpeg.map((r) => r.wallMs))} (a sync after it: ${ms(ffSync)} more), wrote ${ffBytes} bytes (moov ${ffMoov} bytes)`,
      `ratios against ffmpeg's fastest and slowest run: cold ${ratioRange(coldFirst, 1)}, serialized ${ratioRange(desFirst, 0)}`,
      `vvf cold (manifest), median of ${COLD_RUNS}: parse ${ms(step('parseMs', m))}, compose ${ms(step('composeMs', m))}, layout ${ms(step('layoutMs', m))}, build ${ms(step('buildMs', m))}, read ${ms(step('readMs', m))}`,
      `vvf cold (two files), median of ${COLD_RUNS}: parse ${ms(step('parseMs', f))}, compose ${ms(step('composeMs', f))}, layout ${ms(step('layoutMs', f))}, build ${ms(step('buildMs', f))}, read ${ms(step('readMs', f))}`,
      `vvf serialized, median of ${SERIALIZED_RUNS}: deserialize ${ms(median(des.map((r) => r.deserializeMs)))}, read ${ms(median(des.map((r) => r.readMs)))}; load ${ms(desLoad)}; ${c0.serializedBytes} bytes`,
      `virtual file: ${c0.fileSize} bytes, ${c0.extentCount} extents, ${c0.sampleCount} samples, moov ${c0.moovSize} bytes; holds ${c0.memoryBytes} bytes (${(c0.memoryBytes / c0.sampleCount).toFixed(2)} B/sample)`,
      `read back by vvf: ${readBackOk ? 'same packet counts as ffprobe, sizes add up, serialized first bytes equal' : 'MISMATCH'}; all runs same size: ${sameSizes}`,
      `page cache dropped: ${canDrop}; load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end; cache ${mb(disk)}`,
    ].join('\n') + '\n',
  );

  const cpu = cpus()[0]?.model ?? 'unknown';
  const cacheShown = relative(ROOT, CACHE).startsWith('..') ? CACHE : relative(ROOT, CACHE);
  const md = `# Benchmark: DASH → progressive MP4 (vvf issue 3)

Command: \`make bench\` (same as \`npm run bench\` once \`make setup\` has run). Generated by \`bench/run.ts\`.

Run on ${started.toISOString().slice(0, 10)}: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${media.ffmpegVersion.replace(/ Copyright.*/, '')}.
The machine was shared with other work: load average ${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end.
Page cache: ${canDrop ? 'dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`) before every single measurement, ffmpeg and vvf alike' : '**not** dropped (no permission): sources may have been warm'}.

## Input

One hour of 1920x1080 25 fps H.264 (x264 ultrafast with B-frames, 5 Mb/s, 2-second GOPs; testsrc2 with temporal noise)
and 128 kb/s stereo AAC: 60 s encoded once, looped 60 times with \`-stream_loop 59 -c copy\` straight into ffmpeg's DASH
muxer (\`-f dash -single_file 1 -seg_duration 2 -use_template 1 -use_timeline 1\`), one file per stream, a SegmentList MPD.

| file | bytes |
| --- | ---: |
| video.m4s | ${(await stat(media.video)).size} |
| audio.m4s | ${(await stat(media.audio)).size} |
| manifest.mpd | ${(await stat(media.manifest)).size} |

${media.videoPackets} video and ${media.audioPackets} audio packets (ffprobe), ${c0.sampleCount} in all; 1800 video fragments, 1801 audio.
Made once in ${media.generationSeconds.toFixed(0)} s and cached in \`${cacheShown}/dash\`; \`${cacheShown}\` holds ${mb(disk)} in all (the DASH files and the serialized virtual file, nothing else).

## Results

Medians: ffmpeg of ${FFMPEG_RUNS} runs, vvf cold of ${COLD_RUNS}, serialized of ${SERIALIZED_RUNS}; each run in a fresh process after dropping the page cache.

| | ffmpeg | vvf | ffmpeg / vvf | target | |
| --- | ---: | ---: | ---: | ---: | --- |
| progressive file from the DASH pair (wall time) | ${ms(ff)} | | | | |
| first 64 KiB, cold sources (recipe on the manifest) | | ${ms(coldFirst)} | ${coldRatio.toFixed(1)}× | > ${COLD_TARGET}× | **${pass(coldRatio > COLD_TARGET)}** |
| first 64 KiB, cold sources (recipe on the two files) | | ${ms(filesFirst)} | ${(ff / filesFirst).toFixed(1)}× | > ${COLD_TARGET}× | ${pass(ff / filesFirst > COLD_TARGET)} |
| first 64 KiB, serialized form in hand | | ${ms(desFirst)} | ${desRatio.toFixed(0)}× | > ${SERIALIZED_TARGET}× | **${pass(desRatio > SERIALIZED_TARGET)}** |
| … plus loading the serialized form from a cold disk | | ${ms(desFirst + desLoad)} | ${desLoadRatio.toFixed(0)}× | | |
| … in a process that has deserialized it before (JIT warm) | | ${ms(desWarm)} | ${(ff / desWarm).toFixed(0)}× | | |
| first 64 KiB, cold sources, in a process that compiled once before (JIT warm) | | ${ms(warmFirst)} | ${(ff / warmFirst).toFixed(1)}× | | |
| memory held per virtual file / moov size | | ${memoryRatio.toFixed(3)} | | ≤ ${MEMORY_TARGET} | **${pass(memoryRatio <= MEMORY_TARGET)}** |

ffmpeg \`-i video.m4s -i audio.m4s -map 0 -map 1 -c copy -movflags +faststart\`: ${ms(ff)} (runs ${range(ffmpeg.map((r) => r.wallMs))}), ${ffBytes} bytes written, moov ${ffMoov} bytes.
Its output is still in the page cache when it exits; a \`sync\` right after took ${ms(ffSync)} more (not counted in the ratios).
Ratios against ffmpeg's fastest and slowest run instead of the median: cold ${ratioRange(coldFirst, 1)}, serialized ${ratioRange(desFirst, 0)}.

vvf, recipe \`{ tracks: [{ source: manifest.mpd, kind: 'video' }, { source: manifest.mpd, kind: 'audio' }] }\` (the MPD's
SegmentList addresses the same two files by byte range; this is the headline figure), the steps of \`compileRecipe\` timed one by one:

| step | manifest recipe | two-files recipe | manifest, JIT warm |
| --- | ---: | ---: | ---: |
| parse (openMovie, cold) | ${ms(step('parseMs', m))} | ${ms(step('parseMs', f))} | ${ms(step('parseMs', w))} |
| compose (composeRecipe, movies parsed) | ${ms(step('composeMs', m))} | ${ms(step('composeMs', f))} | ${ms(step('composeMs', w))} |
| layout (layoutProgressive) | ${ms(step('layoutMs', m))} | ${ms(step('layoutMs', f))} | ${ms(step('layoutMs', w))} |
| VirtualFile (virtualFileFromLayout) | ${ms(step('buildMs', m))} | ${ms(step('buildMs', f))} | ${ms(step('buildMs', w))} |
| read(0, 65536) | ${ms(step('readMs', m))} | ${ms(step('readMs', f))} | ${ms(step('readMs', w))} |
| **first 64 KiB in hand** | **${ms(coldFirst)}** (runs ${range(m.map((r) => r.firstBytesMs))}) | **${ms(filesFirst)}** (runs ${range(f.map((r) => r.firstBytesMs))}) | **${ms(warmFirst)}** |
| metadata read from the sources | ${c0.metadataBytesRead} bytes in ${c0.sourceReads} reads | ${f[0]!.metadataBytesRead} bytes in ${f[0]!.sourceReads} reads | (same) |
| process RSS growth (movies, composition, layout alive) | ${mb(step('rssGrowthBytes', m))} | ${mb(step('rssGrowthBytes', f))} | |

From the serialized form (\`serialize()\`: ${c0.serializedBytes} bytes, ${ms(c0.serializeMs)}), in a fresh process,
\`VirtualFile.deserialize(buf, resolveWith(openSource))\` then \`read(0, 65536)\`, sources opened lazily:
deserialize ${ms(median(des.map((r) => r.deserializeMs)))} + read ${ms(median(des.map((r) => r.readMs)))} = **${ms(desFirst)}** (runs ${range(des.map((r) => r.firstBytesMs))});
loading the buffer from disk after dropping the cache adds ${ms(desLoad)}. A later 64 KiB read at the end of the file
(opens the video source, cold) took ${ms(median(des.map((r) => r.tailReadMs)))}.

Memory: the virtual file (${c0.fileSize} bytes, ${c0.extentCount} extents) holds ${c0.memoryBytes} bytes (\`memoryBytes()\`: header
bytes and extent columns) for ${c0.sampleCount} samples, ${(c0.memoryBytes / c0.sampleCount).toFixed(2)} bytes per sample, ${memoryRatio.toFixed(3)} × its moov
(${c0.moovSize} bytes). Heap and array buffers retained by a deserialized file after GC: ${mb(retained)}.

Checks: vvf's own demuxer reading the virtual file back finds ${c0.readBackSamples.join(' + ')} samples (ffprobe on the DASH files: ${media.videoPackets} + ${media.audioPackets})
and their sizes add up to the file size; the deserialized file's first 64 KiB equal the compiled one's: ${readBackOk ? 'yes' : '**no**'}.
Every run gave the same file: ${sameSizes ? 'yes' : '**no**'}.
`;
  // A hand-written "## Notes" section (analysis of the figures) is kept across runs.
  const previous = await readFile(RESULTS, 'utf8').catch(() => '');
  const notesAt = previous.indexOf('\n## Notes');
  await writeFile(RESULTS, notesAt >= 0 ? `${md}${previous.slice(notesAt)}` : md);
  log(`wrote ${relative(ROOT, RESULTS)}`);
}

await main();
