/**
 * Prometheus metrics in the text exposition format, with no dependency: counters and
 * histograms with label sets, rendered on GET /metrics.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      for (const [i, b] of this.buckets.entries()) lines.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}`);
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter('vvf_http_requests_total', 'HTTP requests answered, by method and status.');
  readonly bytes = new Counter('vvf_http_response_bytes_total', 'Body bytes sent.');
  readonly kernelBytes = new Counter(
    'vvf_http_sendfile_bytes_total',
    'Body bytes sent with sendfile(2), from the page cache to the socket (part of vvf_http_response_bytes_total).',
  );
  readonly firstByte = new Histogram(
    'vvf_http_time_to_first_byte_seconds',
    'Time from request to the first body byte (or the headers, with no body).',
    SECONDS,
  );
  readonly cache = new Counter('vvf_metadata_cache_total', 'Compiled-file lookups, by result (hit, miss).');
  readonly sourceReads = new Histogram('vvf_source_read_seconds', 'Latency of source reads.', SECONDS);
  readonly sourceErrors = new Counter('vvf_source_errors_total', 'Source reads that failed, by error code.');

  render(): string {
    return `${[this.requests, this.bytes, this.kernelBytes, this.firstByte, this.cache, this.sourceReads, this.sourceErrors].map((m) => m.render()).join('\n')}\n`;
  }
}
