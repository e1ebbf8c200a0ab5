// The mount's requests in the process's metrics (GET /metrics of `vvf serve --mount`) and
// in its JSON log.
import type { MetricsRegistry } from '../catalog/metrics.js';
import { errnoName } from './errno.js';
import type { FuseStats } from './session.js';

/**
 * Metrics of a mount: requests by opcode, errors by errno, latency by opcode, bytes read.
 * `onRequest` goes to the session's options (READs answered on the native threads reach it
 * when their counters are synced: every second, and when the stats are read); `watch`
 * copies a session's byte counts in before each render.
 */
export function fuseMetrics(registry: MetricsRegistry) {
  const requests = registry.counter('vvf_fuse_requests_total', 'FUSE requests answered, by opcode.');
  const errors = registry.counter('vvf_fuse_errors_total', 'FUSE requests answered with an error, by errno.');
  const latency = registry.histogram('vvf_fuse_request_seconds', 'Time to answer a FUSE request, by opcode.');
  const bytes = registry.counter('vvf_fuse_read_bytes_total', 'Bytes of FUSE READ replies.');
  const spliced = registry.counter('vvf_fuse_spliced_reads_total', 'READ replies spliced from local files (no copy).');
  const native = registry.counter(
    'vvf_fuse_native_reads_total',
    'READs answered on the native reader threads, without the event loop (also in vvf_fuse_requests_total).',
  );
  const changes = registry.counter('vvf_fuse_source_changes_total', 'Open files whose READs found a source changed (EIO).');
  return {
    onRequest(opcode: string, ms: number, errno: number): void {
      requests.inc({ opcode });
      latency.observe(ms / 1000, { opcode });
      if (errno !== 0) errors.inc({ errno: errnoName(errno) });
    },
    watch(stats: () => FuseStats): void {
      registry.beforeRender(() => {
        const s = stats();
        bytes.set({}, s.bytesRead);
        spliced.set({}, s.splicedReads);
        native.set({}, s.nativeReads);
        changes.set({}, s.sourceChanges);
      });
    },
  };
}

/** A summary of a session's counters for a log line. */
export function statsSummary(stats: FuseStats): Record<string, unknown> {
  return {
    requests: stats.requests,
    errors: stats.errors,
    bytesRead: stats.bytesRead,
    splicedReads: stats.splicedReads,
    nativeReads: stats.nativeReads,
    nativeBusy: stats.nativeBusy,
    readerThreads: stats.readerThreads,
    sourceChanges: stats.sourceChanges,
    timeouts: stats.timeouts,
    interrupts: stats.interrupts,
  };
}
