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
