// What an encode's coordinator holds to plan and track its chunks, for a 1-hour and a 10-hour source:
// everything but the source's sample table should stay the same size (issue 10, "memory under concurrency").
//
// Each duration is measured in a fresh process: a synthetic movie (30 fps video with a keyframe
// every 2 s, 48 kHz AAC) is built as vvf's model holds it, then analyzed and planned into chunks
// of 10 s with a job state per chunk, as `vvf encode` does. Heap after a full GC is read before
// and after planning; the difference is what planning and tracking cost.
//
// Run: `npx tsx bench/encode-plan.ts` (writes bench/RESULTS-encode.md).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobState } from '../src/encode/job-state.js';
import { analyzeSource, planChunks } from '../src/encode/plan.js';
import { emptyLayout, type Movie, type Track } from '../src/model/movie.js';
import { SampleTableBuilder } from '../src/model/sample-table.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'RESULTS-encode.md');

function track(kind: 'video' | 'audio', hours: number): Track {
  const video = kind === 'video';
  const timescale = video ? 15360 : 48000;
  const duration = video ? 512 : 1024;
  const count = Math.round((hours * 3600 * timescale) / duration);
  const b = new SampleTableBuilder(count + 1, { path: kind });
  b.expect(count);
  const at = b.reserve(count);
  for (let i = 0; i < count; i++) {
    b.offset[at + i] = i * 4096;
    b.size[at + i] = 4096;
    b.decodeTime[at + i] = i * duration;
    b.duration[at + i] = duration;
    b.sync[at + i] = !video || i % 60 === 0 ? 1 : 0;
    b.descriptionIndex[at + i] = 1;
  }
  const header = { version: 0, flags: 0 } as never;
  return {
    id: video ? 1 : 2,
    sourceTrackId: video ? 1 : 2,
    kind,
    handler: video ? 'vide' : 'soun',
    timescale,
    duration: count * duration,
    language: 'und',
    ...(video ? { width: 1920, height: 1080 } : { sampleRate: 48000, channelCount: 2 }),
    codec: video ? 'avc1.640028' : 'mp4a.40.2',
    descriptions: [],
    editList: null,
    editTimescale: 1000,
    tkhd: header,
    mdhd: header,
    hdlr: header,
    samples: b.finish(),
  };
}

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/** In the child: build, measure, print one JSON line. */
function measure(hours: number): void {
  const before = heap();
  const movie: Movie = {
    sources: [],
    input: `synthetic-${hours}h`,
    timescale: 1000,
    duration: hours * 3_600_000,
    majorBrand: 'isom',
    compatibleBrands: [],
    tracks: [track('video', hours), track('audio', hours)],
    layout: emptyLayout('progressive'),
  };
  const model = heap() - before;
  const analysis = analyzeSource(movie);
  const plan = planChunks(movie, 10);
  const job: Pick<JobState, 'tasks' | 'plan'> = {
    plan: { timescale: plan.timescale, cuts: plan.cuts, duration: plan.duration, decodeFallback: false },
    tasks: plan.cuts.map((_, i) => ({
      id: `chunk-${String(i).padStart(4, '0')}`,
      state: 'done' as const,
      attempts: 1,
      outputs: Object.fromEntries(
        ['1080p', '720p', '480p', '360p'].map((r) => [`chunks/${r}/${i}.mp4`, { size: 1e7, sha256: 'f'.repeat(64) }]),
      ),
      frames: plan.frames[i] ?? 0,
      seconds: 12.5,
    })),
  };
  const planned = heap() - before - model;
  const state = Buffer.byteLength(JSON.stringify(job));
  console.log(
    JSON.stringify({
      hours,
      samples: movie.tracks.reduce((n, t) => n + t.samples.count, 0),
      chunks: plan.cuts.length,
      frames: analysis.video.frames,
      modelBytes: model,
      planBytes: planned,
      jobJsonBytes: state,
      rss: process.memoryUsage().rss,
    }),
  );
}

async function main(): Promise<void> {
  const hours = process.argv[2];
  if (hours !== undefined) {
    measure(Number(hours));
    return;
  }
  const rows: Record<string, number>[] = [];
  for (const h of [1, 10]) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), String(h)], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    rows.push(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>);
  }
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const [one, ten] = rows as [Record<string, number>, Record<string, number>];
  const table = [
    '| source | samples | chunks | model (sample tables) | planning + job state | per chunk | job.json | RSS |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.hours} h | ${r.samples} | ${r.chunks} | ${mib(r.modelBytes!)} MiB | ${mib(r.planBytes!)} MiB | ${Math.round(r.planBytes! / r.chunks!)} B | ${mib(r.jobJsonBytes!)} MiB | ${mib(r.rss!)} MiB |`,
    ),
  ].join('\n');
  const text = `# Encode coordinator memory (\`npx tsx bench/encode-plan.ts\`)

What the coordinator of \`vvf encode\` holds to plan and track a job, for a synthetic 1-hour and
10-hour source (30 fps video with a keyframe every 2 s, 48 kHz AAC; chunks of 10 s; four
rungs). Measured in a fresh process each, heap + array buffers after a full GC.

${table}

The sample tables grow with the source (${mib(ten.modelBytes!)} / ${mib(one.modelBytes!)} MiB =
${(ten.modelBytes! / one.modelBytes!).toFixed(1)}×), as they must; planning and tracking cost about
${Math.round(ten.planBytes! / ten.chunks!)} bytes a chunk, ${mib(ten.planBytes!)} MiB for 10 hours: the
10-hour job fits in the memory of the 1-hour one plus its sample tables. The encoders' memory
does not depend on the source's length at all: each reads one chunk over HTTP
(\`vvf encode\` reports the coordinator's and the largest encoder's peak RSS at the end of a run).

Run on ${new Date().toISOString().slice(0, 10)}.
`;
  await writeFile(RESULTS, text);
  process.stdout.write(`${table}\n`);
}

await main();
