// Throughput of sequential reads through the mount (not a test; run by hand as root):
//   node --import tsx test/fuse/read-bench.ts [MiB]
// A VirtualFile over a local file is mounted in several configurations (each twice, as
// ONLY=<part of a name> selects); each is read with
// `dd bs=1M` twice: cold (fresh mount, source dropped from the page cache with
// fadvise) and warm (the mount's page cache, kept across opens). Prints MB/s and the
// mount process's CPU seconds per GB.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountCatalog } from '../../src/fuse/fuse-mount.js';
import { FileSource } from '../../src/sources/file-source.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { forceUnmount, MemoryCatalog, pattern, run } from './fuse-helpers.js';

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 512) * MiB;
const work = mkdtempSync(join(tmpdir(), 'vvf-fuse-bench-'));
const mnt = join(work, 'mnt');
mkdirSync(mnt);
const srcPath = join(work, 'source.bin');
const block = pattern(8 * MiB, 5);
const chunks: Buffer[] = [];
for (let at = 0; at < size; at += block.length) chunks.push(block.subarray(0, Math.min(block.length, size - at)));
writeFileSync(srcPath, Buffer.concat(chunks));

interface Config {
  name: string;
  splice: 'auto' | 'off';
  maxPages: number;
  readaheadKb: number;
}
const only = process.env.ONLY;
const all: Config[] = [
  { name: 'writev, 256 pages, readahead 128k', splice: 'off', maxPages: 256, readaheadKb: 0 },
  { name: 'writev, 256 pages, readahead 1M', splice: 'off', maxPages: 256, readaheadKb: 1024 },
  { name: 'writev, 248 pages, readahead 992k', splice: 'off', maxPages: 248, readaheadKb: 992 },
  { name: 'splice, 248 pages, readahead 992k', splice: 'auto', maxPages: 248, readaheadKb: 992 },
  { name: 'splice, 256 pages, readahead 1M (fits a 2 MiB pipe only)', splice: 'auto', maxPages: 256, readaheadKb: 1024 },
];
const configs = all.filter((c) => only === undefined || c.name.includes(only));

async function ddRate(path: string): Promise<{ mbps: number; seconds: number }> {
  const t = performance.now();
  const r = await run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M'], 300_000);
  if (r.code !== 0) throw new Error(r.stderr);
  const seconds = (performance.now() - t) / 1000;
  return { mbps: size / 1e6 / seconds, seconds };
}

try {
  const direct = await ddRate(srcPath);
  console.log(`direct read of the source (warm): ${direct.mbps.toFixed(0)} MB/s`);
  for (const c of [...configs, ...configs]) {
    const source = await FileSource.open(srcPath);
    const b = new VirtualFileBuilder([source]);
    b.addBytes(pattern(4096 + 123, 1));
    b.addSourceRange(0, 0, size - 8192);
    const vf = b.build({ format: 'bench', resolve: async () => source });
    const catalog = new MemoryCatalog();
    catalog.add('bench', 'bench', vf);
    const m = await mountCatalog(mnt, catalog, { splice: c.splice, maxPages: c.maxPages, readaheadKb: c.readaheadKb });
    try {
      const file = join(mnt, 'bench.mp4');
      await run('dd', [`if=${srcPath}`, 'iflag=nocache', 'count=0'], 10_000);
      let cpu = process.cpuUsage();
      const cold = await ddRate(file);
      const coldCpu = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      const warm = await ddRate(file);
      const warmCpu = process.cpuUsage(cpu);
      const perGb = (u: NodeJS.CpuUsage) => ((u.user + u.system) / 1e6 / (size / 1e9)).toFixed(2);
      console.log(
        `${c.name}: cold ${cold.mbps.toFixed(0)} MB/s (mount CPU ${perGb(coldCpu)} s/GB), warm ${warm.mbps.toFixed(0)} MB/s (${perGb(warmCpu)} s/GB); spliced ${m.stats.splicedReads} of ${m.stats.requests.READ} READs`,
      );
    } finally {
      await m.close();
      await source.close();
    }
  }
} finally {
  await forceUnmount(mnt);
  rmSync(work, { recursive: true, force: true });
}
