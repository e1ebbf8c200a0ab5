// The FUSE face on a catalog: mounts its files, counts requests in the process's metrics,
// logs what a person running it wants to know.
import type { Catalog } from '../catalog/catalog.js';
import { isPresentationFile } from '../virtual/presentation-file.js';
import type { MountConfig } from './config.js';
import { fuseMetrics, statsSummary } from './face-metrics.js';
import { type FuseMount, mountCatalog } from './fuse-mount.js';

/** One JSON log entry. */
export type LogSink = (entry: Record<string, unknown>) => void;

/** How often the mount logs its counters while it runs. */
const SUMMARY_MS = 60_000;

/**
 * Mounts the catalog's virtual files on `dir` until the returned mount is closed. Files
 * registered or deleted (by this process or another sharing the store) show within the
 * tree's listing cache time; the kernel does not cache a name that was not there.
 */
export async function mountCatalogFace(
  dir: string,
  catalog: Catalog,
  config: Pick<MountConfig, 'fuseTimeoutMs' | 'splice' | 'readaheadKb' | 'fuseThreads'>,
  log: LogSink,
): Promise<FuseMount> {
  const metrics = fuseMetrics(catalog.metrics);
  // A fragmented presentation is a package of parts, not a file a program opens whole: it has no file here.
  const files = {
    list: async () => (await catalog.list()).filter((e) => !isPresentationFile(e.file)),
    get: async (id: string) => {
      const e = await catalog.get(id);
      return e && !isPresentationFile(e.file) ? e : undefined;
    },
  };
  const mount = await mountCatalog(dir, files, {
    deadlineMs: config.fuseTimeoutMs,
    splice: config.splice,
    ...(config.readaheadKb !== undefined ? { readaheadKb: config.readaheadKb } : {}),
    ...(config.fuseThreads !== undefined ? { readerThreads: config.fuseThreads } : {}),
    onRequest: metrics.onRequest,
    log: (message) => log({ level: 'warn', msg: message, face: 'fuse' }),
  });
  metrics.watch(() => mount.stats);
  if (mount.clearedDeadMount)
    log({ level: 'warn', msg: `cleared a dead mount on ${mount.dir} (left by a process that was killed)`, face: 'fuse' });
  const summary = setInterval(() => log({ level: 'info', msg: 'fuse requests', ...statsSummary(mount.stats) }), SUMMARY_MS);
  summary.unref();
  void mount.ended.then(() => {
    clearInterval(summary);
    log({ level: 'info', msg: 'fuse unmounted', dir: mount.dir, ...statsSummary(mount.stats) });
  });
  return mount;
}
