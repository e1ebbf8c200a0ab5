import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import type { MetricsRegistry } from './metrics.js';

/** Source-read metrics, shared by every face of a process. */
export function sourceMetrics(registry: MetricsRegistry) {
  return {
    reads: registry.histogram('vvf_source_read_seconds', 'Latency of source reads.'),
    errors: registry.counter('vvf_source_errors_total', 'Source reads that failed, by error code.'),
  };
}

/** Times every read of a source and counts its failures by error code. */
export function instrumentSource(source: Source, metrics: ReturnType<typeof sourceMetrics>): Source {
  const read = source.read.bind(source);
  (source as { read: Source['read'] }).read = async (offset: number, length: number) => {
    const started = performance.now();
    try {
      return await read(offset, length);
    } catch (e) {
      metrics.errors.inc({ code: e instanceof VvfError ? e.code : 'INTERNAL' });
      throw e;
    } finally {
      metrics.reads.observe((performance.now() - started) / 1000);
    }
  };
  return source;
}
