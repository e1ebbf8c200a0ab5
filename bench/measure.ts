// One vvf measurement in a fresh process (run.ts starts it after dropping the page cache); prints its figures as JSON.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { layoutProgressive } from '../src/compose/progressive.js';
import { parseRecipe, type Recipe } from '../src/compose/recipe.js';
import { composeRecipe } from '../src/compose/resolve.js';
import { openMovie } from '../src/demux/open-movie.js';
import { resolveLimits } from '../src/limits.js';
import type { Movie } from '../src/model/movie.js';
import { openSource } from '../src/sources/open-source.js';
import { resolverFor, virtualFileFromLayout } from '../src/virtual/compile.js';
import { resolveWith } from '../src/virtual/source-ref.js';
import { VirtualFile } from '../src/virtual/virtual-file.js';
import { moovSizeOf } from './moov-size.js';

/** What the parent asks for. */
export type MeasureRequest =
  | {
      mode: 'cold';
      recipe: 'manifest' | 'files';
      manifest: string;
      video: string;
      audio: string;
      serializedOut?: string;
      /** Compile once first (warming the JIT), then drop the page cache and measure: a server that has been running. */
      warmProcess?: boolean;
    }
  | { mode: 'deserialize'; serialized: string; expectedHead: string };

/** Figures of a cold compile: milliseconds unless named otherwise. */
export interface ColdResult {
  mode: 'cold';
  recipe: 'manifest' | 'files';
  warmProcess: boolean;
  parseMs: number;
  /** Track selection and composition (composeRecipe with the movie already parsed). */
  composeMs: number;
  /** layoutProgressive: interleaving, moov boxes, stco/co64 fixed point. */
  layoutMs: number;
  /** VirtualFile from the layout (extents, etag). */
  buildMs: number;
  /** The read of the first 64 KiB alone. */
  readMs: number;
  /** From nothing parsed to the first 64 KiB in hand. */
  firstBytesMs: number;
  serializeMs: number;
  serializedBytes: number;
  fileSize: number;
  extentCount: number;
  memoryBytes: number;
  sampleCount: number;
  moovSize: number;
  /** Bytes of metadata the demuxer read from the sources, and read calls it made. */
  metadataBytesRead: number;
  sourceReads: number;
  /** Process RSS growth from before parsing to the file built (movies, composition and layout still alive). */
  rssGrowthBytes: number;
  /** Packets per track when vvf's demuxer reads the virtual file back, in track order (video, audio). */
  readBackSamples: number[];
  /** Sum of sample sizes of the read-back tracks equals the mdat payload of the virtual file. */
  readBackBytesMatch: boolean;
}

export interface DeserializeResult {
  mode: 'deserialize';
  /** Reading the serialized buffer from disk (page cache dropped). */
  loadMs: number;
  deserializeMs: number;
  readMs: number;
  /** deserialize + the first 64 KiB, the buffer in hand. */
  firstBytesMs: number;
  /** deserialize + the first 64 KiB again in the same process (median of 5): JIT warm, as in a running server. */
  warmFirstBytesMs: number;
  /** A 64 KiB read at the end of the file: opens the video source (cold) and reads it. */
  tailReadMs: number;
  /** The first 64 KiB equal those of the cold compile. */
  firstBytesMatch: boolean;
  /** Heap + array-buffer growth held by the loaded VirtualFile after GC. */
  retainedBytes: number;
  memoryBytes: number;
}

const FIRST_BYTES = 65536;

function recipeFor(req: Extract<MeasureRequest, { mode: 'cold' }>): Recipe {
  // The manifest form names the same two files through the MPD's SegmentList byte ranges.
  if (req.recipe === 'manifest') {
    return parseRecipe({
      tracks: [
        { source: req.manifest, kind: 'video' },
        { source: req.manifest, kind: 'audio' },
      ],
    });
  }
  return parseRecipe({ tracks: [{ source: req.video }, { source: req.audio }] });
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

function held(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The steps of compileRecipe one at a time, so that each can be timed. */
async function compileTimed(recipe: Recipe) {
  const limits = resolveLimits();
  const movies: Movie[] = [];
  const t0 = performance.now();
  const parsed = new Map<string, Movie>();
  for (const piece of recipe.pieces) {
    for (const ref of piece.tracks) {
      if (parsed.has(ref.source)) continue;
      const m = await openMovie(ref.source, { limits });
      parsed.set(ref.source, m);
      movies.push(m);
    }
  }
  const t1 = performance.now();
  const composition = await composeRecipe(recipe, {
    maxSamplesPerTrack: limits.maxSamplesPerTrack,
    open: async (source) => parsed.get(source)!,
  });
  const t2 = performance.now();
  const layout = layoutProgressive(composition);
  const t3 = performance.now();
  const file = virtualFileFromLayout(
    layout,
    composition.sources,
    resolverFor(composition.sources, (s) => openSource(s)),
  );
  const t4 = performance.now();
  const head = await file.read(0, FIRST_BYTES);
  const t5 = performance.now();
  return { movies, composition, file, head, t: [t0, t1, t2, t3, t4, t5] as const };
}

/** Empties the page cache (run.ts checked that it may). */
async function dropCaches(): Promise<void> {
  execFileSync('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

async function cold(req: Extract<MeasureRequest, { mode: 'cold' }>): Promise<ColdResult> {
  const recipe = recipeFor(req);
  if (req.warmProcess) {
    const warm = await compileTimed(recipe);
    await warm.file.close();
    for (const m of warm.movies) for (const s of m.sources) await s.close();
    await dropCaches();
  }
  const rss0 = process.memoryUsage().rss;
  const { movies, composition, file, head, t } = await compileTimed(recipe);
  const [t0, t1, t2, t3, t4, t5] = t;
  const rssGrowthBytes = process.memoryUsage().rss - rss0;

  const serialized = file.serialize();
  const t6 = performance.now();
  if (req.serializedOut) {
    await writeFile(req.serializedOut, serialized);
    await writeFile(`${req.serializedOut}.head`, head);
  }

  let metadataBytesRead = 0;
  let sourceReads = 0;
  for (const m of movies) {
    metadataBytesRead += m.layout.metadataBytes;
    for (const s of m.sources) sourceReads += s.readCount;
  }
  let sampleCount = 0;
  for (const t of composition.tracks) sampleCount += t.samples.count;

  // Read the virtual file back with vvf's own demuxer: a VirtualFile is a Source.
  const back = await openMovie(file.key, { openSource: async () => file });
  let payload = 0;
  for (const t of back.tracks) for (let i = 0; i < t.samples.count; i++) payload += t.samples.size[i] ?? 0;
  let headerBytes = file.size;
  for (const t of back.tracks)
    for (let i = 0; i < t.samples.count; i++) headerBytes = Math.min(headerBytes, t.samples.offset[i] ?? 0);

  return {
    mode: 'cold',
    recipe: req.recipe,
    warmProcess: req.warmProcess ?? false,
    parseMs: t1 - t0,
    composeMs: t2 - t1,
    layoutMs: t3 - t2,
    buildMs: t4 - t3,
    readMs: t5 - t4,
    firstBytesMs: t5 - t0,
    serializeMs: t6 - t5,
    serializedBytes: serialized.length,
    fileSize: file.size,
    extentCount: file.extentCount,
    memoryBytes: file.memoryBytes(),
    sampleCount,
    moovSize: moovSizeOf(head),
    metadataBytesRead,
    sourceReads,
    rssGrowthBytes,
    readBackSamples: back.tracks.map((t) => t.samples.count),
    readBackBytesMatch: headerBytes + payload === file.size,
  };
}

async function deserialize(req: Extract<MeasureRequest, { mode: 'deserialize' }>): Promise<DeserializeResult> {
  gc();
  const before = held();
  const t0 = performance.now();
  let buf: Uint8Array | undefined = await readFile(req.serialized);
  const t1 = performance.now();
  const file = VirtualFile.deserialize(
    buf,
    resolveWith((key) => openSource(key)),
  );
  const t2 = performance.now();
  const head = await file.read(0, FIRST_BYTES);
  const t3 = performance.now();
  const tail = await file.read(file.size - FIRST_BYTES, FIRST_BYTES);
  const t4 = performance.now();
  const again: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    const f = VirtualFile.deserialize(
      buf,
      resolveWith((key) => openSource(key)),
    );
    await f.read(0, FIRST_BYTES);
    again.push(performance.now() - a);
  }
  again.sort((x, y) => x - y);
  buf = undefined;
  gc();
  const retainedBytes = held() - before - head.byteLength - tail.byteLength;
  const result: DeserializeResult = {
    mode: 'deserialize',
    loadMs: t1 - t0,
    deserializeMs: t2 - t1,
    readMs: t3 - t2,
    firstBytesMs: t3 - t1,
    warmFirstBytesMs: again[2]!,
    tailReadMs: t4 - t3,
    firstBytesMatch: Buffer.from(head).equals(await readFile(req.expectedHead)),
    retainedBytes,
    memoryBytes: file.memoryBytes(),
  };
  await file.close();
  return result;
}

const req = JSON.parse(process.argv[2] ?? '{}') as MeasureRequest;
const result = req.mode === 'cold' ? await cold(req) : await deserialize(req);
process.stdout.write(`${JSON.stringify(result)}\n`);
// Pooled descriptors keep the event loop alive.
process.exit(0);
