import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import type { ServerMetrics } from './metrics.js';

/** Times every read of a source and counts its failures by error code. */
export function instrumentSource(source: Source, metrics: ServerMetrics): Source {
  const read = source.read.bind(source);
  (source as { read: Source['read'] }).read = async (offset: number, length: number) => {
    const started = performance.now();
    try {
      return await read(offset, length);
    } catch (e) {
      metrics.sourceErrors.inc({ code: e instanceof VvfError ? e.code : 'INTERNAL' });
      throw e;
    } finally {
      metrics.sourceReads.observe((performance.now() - started) / 1000);
    }
  };
  return source;
}
