import type { JobState, TaskState } from '../catalog/encode-job.js';
import type { Counter, Histogram, MetricsRegistry } from '../catalog/metrics.js';

/** The HTTP face's metrics, in the process's registry beside the catalog's and the other faces'. */
export class ServerMetrics {
  readonly requests: Counter;
  readonly bytes: Counter;
  readonly kernelBytes: Counter;
  readonly firstByte: Histogram;

  constructor(readonly registry: MetricsRegistry) {
    this.requests = registry.counter('vvf_http_requests_total', 'HTTP requests answered, by method and status.');
    this.bytes = registry.counter('vvf_http_response_bytes_total', 'Body bytes sent.');
    this.kernelBytes = registry.counter(
      'vvf_http_sendfile_bytes_total',
      'Body bytes sent with sendfile(2), from the page cache to the socket (part of vvf_http_response_bytes_total).',
    );
    this.firstByte = registry.histogram(
      'vvf_http_time_to_first_byte_seconds',
      'Time from request to the first body byte (or the headers, with no body).',
    );
  }

  render(): string {
    return this.registry.render();
  }
}

/**
 * Encode jobs' metrics, read from the jobs as they are at each render: tasks (chunks and
 * the audio) by state, and the seconds their encoders took.
 */
export function encodeJobMetrics(registry: MetricsRegistry, jobs: () => readonly JobState[]): void {
  const tasks = registry.gauge(
    'vvf_encode_tasks',
    'Tasks of encode jobs (chunks, audio), by state: pending, running, done, failed.',
  );
  const seconds = registry.counter(
    'vvf_encode_seconds_total',
    'Seconds encoders took on the tasks of encode jobs that are done.',
  );
  registry.beforeRender(() => {
    const counts: Record<TaskState['state'], number> = { pending: 0, running: 0, done: 0, failed: 0 };
    let total = 0;
    for (const job of jobs()) {
      for (const t of job.tasks) {
        counts[t.state]++;
        if (t.state === 'done') total += t.seconds ?? 0;
      }
    }
    for (const [state, n] of Object.entries(counts)) tasks.set({ state }, n);
    seconds.set({}, total);
  });
}
