// HTTP(S) Source: every read is one `Range` request over a keep-alive connection.
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ErrorLocation, VvfError } from '../errors.js';
import { checkReadRange, closedError } from './read-range.js';
import type { Source } from './source.js';

/** Options of {@link HttpSource.open}. */
export interface HttpSourceOptions {
  /** Time allowed to connect and receive the response headers, per attempt. Default 10000. */
  timeoutMs?: number;
  /** Time the body may stall between two chunks. Default 10000. */
  idleTimeoutMs?: number;
  /** Extra attempts after a network error, a timeout, a cut-off body or a 5xx. Default 2. */
  retries?: number;
  /** Wait before the first retry; doubled for each further one. Default 100. */
  retryDelayMs?: number;
  /** Extra request headers (e.g. Authorization). `Range` and `Accept-Encoding` are always vvf's own. */
  headers?: Record<string, string>;
  /**
   * Connection pool. Must match the URL's protocol (an `https.Agent` for https:). Default:
   * a shared keep-alive agent per protocol.
   */
  agent?: http.Agent;
  /**
   * Whether open() may follow a redirect to this URL; a refusal fails with SOURCE_FORBIDDEN
   * before any request reaches it. Default: any http(s) URL.
   */
  allowRedirect?: (target: URL) => boolean;
}

interface Settings {
  timeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  headers: Record<string, string>;
  agent: http.Agent | undefined;
  allowRedirect: ((target: URL) => boolean) | undefined;
}

/** Shared keep-alive agents. Free sockets time out before the common 5 s server keep-alive timeout. */
const defaultAgents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 16, scheduling: 'lifo', timeout: 4000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 16, scheduling: 'lifo', timeout: 4000 }),
} as const;

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers vvf sets itself; callers' values for them are dropped. */
const OWN_HEADERS = new Set(['range', 'accept-encoding', 'if-range', 'if-match', 'if-none-match']);
/** Credentials not to carry to another origin on redirect. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** Errors worth another attempt: network failures, timeouts, cut-off bodies, 5xx. */
const transientErrors = new WeakSet<VvfError>();

function transient(e: VvfError): VvfError {
  transientErrors.add(e);
  return e;
}

/**
 * A Source over an HTTP(S) URL whose server supports range requests. `open()` learns the
 * exact size with `Range: bytes=0-0` (following up to 5 redirects); each read then asks
 * for exactly its range at the final URL and checks that the answer is that range of the
 * same content (same total size and, when known, the same strong ETag or Last-Modified).
 *
 * The validator is the strong ETag if the server gives one, else `<size>-<Last-Modified>`,
 * else `<size>`.
 */
export class HttpSource implements Source {
  /** The URL as given to `open()`. */
  readonly key: string;
  readonly validator: string;
  readonly size: number;
  /** The URL reads go to: the given one after redirects. */
  readonly url: string;
  private readonly target: URL;
  private readonly headers: Record<string, string>;
  private readonly settings: Settings;
  /** Strong ETag seen by open(), checked on every answer. */
  private readonly etag: string | undefined;
  /** Last-Modified seen by open(), checked only when there is no strong ETag. */
  private readonly lastModified: string | undefined;
  private readonly inFlight = new Set<ClientRequest>();
  private closed = false;
  private bytesReadSoFar = 0;
  private readCountSoFar = 0;

  private constructor(key: string, target: URL, headers: Record<string, string>, settings: Settings, probe: Probe) {
    this.key = key;
    this.target = target;
    this.url = target.href;
    this.headers = headers;
    this.settings = settings;
    this.size = probe.size;
    this.etag = probe.etag;
    this.lastModified = probe.etag === undefined ? probe.lastModified : undefined;
    this.validator =
      probe.etag !== undefined
        ? probe.etag
        : probe.lastModified !== undefined
          ? `${probe.size}-${probe.lastModified}`
          : `${probe.size}`;
  }

  /**
   * Opens a URL. A server that does not honour range requests fails with
   * SOURCE_BAD_RESPONSE; one that cannot be reached (refused, DNS, 404) with
   * SOURCE_UNREACHABLE; one that does not answer in time with SOURCE_TIMEOUT.
   */
  static async open(url: string, opts?: HttpSourceOptions): Promise<HttpSource> {
    const settings = resolveSettings(opts);
    let target: URL;
    try {
      target = new URL(url);
    } catch (e) {
      throw new VvfError('USAGE', `not a valid URL: ${url}`, { source: url }, { cause: e });
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new VvfError('USAGE', `not an http(s) URL: ${url}`, { source: url });
    }
    const key = target.href;
    let headers = ownHeaders(settings.headers);
    const tracker = new Set<ClientRequest>();
    for (let hop = 0; ; hop++) {
      const current = target;
      const currentHeaders = headers;
      const answer = await withRetries(settings, () => probe(current, currentHeaders, settings, tracker, key));
      if (answer.kind === 'found') return new HttpSource(key, target, headers, settings, answer);
      if (hop >= MAX_REDIRECTS) {
        throw new VvfError('SOURCE_BAD_RESPONSE', `more than ${MAX_REDIRECTS} redirects`, { source: key });
      }
      if (answer.location.protocol !== 'http:' && answer.location.protocol !== 'https:') {
        throw new VvfError('SOURCE_BAD_RESPONSE', `redirect to a non-http URL: ${answer.location.href}`, { source: key });
      }
      if (settings.allowRedirect && !settings.allowRedirect(answer.location)) {
        throw new VvfError('SOURCE_FORBIDDEN', `redirect to ${answer.location.origin} is not allowed`, { source: key });
      }
      if (answer.location.origin !== target.origin) headers = withoutCredentials(headers);
      target = answer.location;
    }
  }

  get bytesRead(): number {
    return this.bytesReadSoFar;
  }

  get readCount(): number {
    return this.readCountSoFar;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return new Uint8Array(0);
    let bytes: Uint8Array;
    try {
      bytes = await withRetries(
        this.settings,
        () => this.readOnce(offset, length),
        () => this.closed,
      );
    } catch (e) {
      // A read cut short by close() reports the close, not the broken connection it caused.
      throw this.closed ? closedError(this.key) : e;
    }
    this.bytesReadSoFar += length;
    return bytes;
  }

  /** Aborts reads in flight; later reads fail. Shared agents (and their idle sockets) stay. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const req of this.inFlight) req.destroy(closedError(this.key));
    this.inFlight.clear();
  }

  private async readOnce(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw closedError(this.key);
    const end = offset + length - 1;
    const where: ErrorLocation = { source: this.key, offset };
    const headers = { ...this.headers, range: `bytes=${offset}-${end}` };
    const res = await send(this.target, headers, this.settings, this.inFlight, where);
    const status = res.statusCode ?? 0;
    if (status !== 206) {
      res.destroy();
      throw this.statusError(res, where);
    }
    try {
      checkIdentityEncoding(res, where);
      const range = parseContentRange(res.headers['content-range']);
      if (range === undefined) {
        throw new VvfError('SOURCE_BAD_RESPONSE', `206 without a valid Content-Range (${res.headers['content-range']})`, where);
      }
      // A changed total says the content changed; check it before blaming the server.
      if (range.total !== undefined && range.total !== this.size) {
        throw new VvfError('SOURCE_CHANGED', `size is now ${range.total}, was ${this.size}`, where);
      }
      this.checkSameContent(res, where);
      if (range.start !== offset || range.end !== end) {
        throw new VvfError('SOURCE_BAD_RESPONSE', `asked for bytes ${offset}-${end}, got ${range.start}-${range.end}`, where);
      }
      const contentLength = res.headers['content-length'];
      if (contentLength !== undefined && Number(contentLength) !== length) {
        throw new VvfError('SOURCE_BAD_RESPONSE', `asked for ${length} bytes, Content-Length is ${contentLength}`, where);
      }
    } catch (e) {
      res.destroy();
      throw e;
    }
    return readBody(res, length, this.settings.idleTimeoutMs, where);
  }

  private checkSameContent(res: IncomingMessage, where: ErrorLocation): void {
    const etag = res.headers.etag;
    if (this.etag !== undefined && etag !== undefined && etag !== this.etag) {
      throw new VvfError('SOURCE_CHANGED', `ETag is now ${etag}, was ${this.etag}`, where);
    }
    const lastModified = res.headers['last-modified'];
    if (this.lastModified !== undefined && lastModified !== undefined && lastModified !== this.lastModified) {
      throw new VvfError('SOURCE_CHANGED', `Last-Modified is now ${lastModified}, was ${this.lastModified}`, where);
    }
  }

  private statusError(res: IncomingMessage, where: ErrorLocation): VvfError {
    const status = res.statusCode ?? 0;
    if (status === 412) return new VvfError('SOURCE_CHANGED', 'precondition failed (HTTP 412)', where);
    if (status === 416) {
      const total = parseUnsatisfiedRange(res.headers['content-range']);
      if (total !== undefined && total !== this.size) {
        return new VvfError('SOURCE_CHANGED', `size is now ${total}, was ${this.size} (HTTP 416)`, where);
      }
    }
    return commonStatusError(status, where);
  }
}

type Probe = { kind: 'found'; size: number; etag: string | undefined; lastModified: string | undefined };
type ProbeAnswer = Probe | { kind: 'redirect'; location: URL };

/** One `Range: bytes=0-0` request: learns the size and validator, or where to go next. */
async function probe(
  url: URL,
  headers: Record<string, string>,
  settings: Settings,
  tracker: Set<ClientRequest>,
  key: string,
): Promise<ProbeAnswer> {
  const where: ErrorLocation = { source: key };
  const res = await send(url, { ...headers, range: 'bytes=0-0' }, settings, tracker, where);
  const status = res.statusCode ?? 0;
  if (REDIRECT_STATUSES.has(status)) {
    res.destroy();
    const location = res.headers.location;
    if (location === undefined) throw new VvfError('SOURCE_BAD_RESPONSE', `HTTP ${status} without Location`, where);
    try {
      return { kind: 'redirect', location: new URL(location, url) };
    } catch (e) {
      throw new VvfError('SOURCE_BAD_RESPONSE', `HTTP ${status} with a bad Location: ${location}`, where, { cause: e });
    }
  }
  const strongEtag = strongETag(res.headers.etag);
  const lastModified = res.headers['last-modified'];
  if (status === 416) {
    // The one range answer that is not an error: an empty resource has no byte 0.
    res.destroy();
    if (parseUnsatisfiedRange(res.headers['content-range']) === 0) {
      return { kind: 'found', size: 0, etag: strongEtag, lastModified };
    }
  }
  if (status !== 206) {
    res.destroy();
    throw commonStatusError(status, where);
  }
  try {
    checkIdentityEncoding(res, where);
    const range = parseContentRange(res.headers['content-range']);
    if (range === undefined || range.start !== 0 || range.end !== 0 || range.total === undefined) {
      throw new VvfError('SOURCE_BAD_RESPONSE', `unexpected Content-Range for bytes 0-0: ${res.headers['content-range']}`, where);
    }
    await readBody(res, 1, settings.idleTimeoutMs, where);
    return { kind: 'found', size: range.total, etag: strongEtag, lastModified };
  } catch (e) {
    res.destroy();
    throw e;
  }
}

function commonStatusError(status: number, where: ErrorLocation): VvfError {
  if (status === 200) {
    return new VvfError(
      'SOURCE_BAD_RESPONSE',
      'server ignored the range request (HTTP 200 instead of 206); range requests are required',
      where,
    );
  }
  if (status === 404 || status === 410) return new VvfError('SOURCE_UNREACHABLE', `not found (HTTP ${status})`, where);
  const e = new VvfError('SOURCE_BAD_RESPONSE', `unexpected HTTP ${status}`, where);
  return status >= 500 ? transient(e) : e;
}

/**
 * Sends a GET and resolves with the response once its headers arrive. Connecting and
 * receiving the headers must take less than `timeoutMs`.
 */
function send(
  url: URL,
  headers: Record<string, string>,
  settings: Settings,
  tracker: Set<ClientRequest>,
  where: ErrorLocation,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const agent = settings.agent ?? (url.protocol === 'https:' ? defaultAgents['https:'] : defaultAgents['http:']);
    const request = url.protocol === 'https:' ? https.request : http.request;
    let req: ClientRequest;
    try {
      req = request(url, { method: 'GET', headers, agent });
    } catch (e) {
      reject(new VvfError('USAGE', `cannot send the request: ${describe(e)}`, where, { cause: e }));
      return;
    }
    tracker.add(req);
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy(transient(new VvfError('SOURCE_TIMEOUT', `no response within ${settings.timeoutMs} ms`, where)));
    }, settings.timeoutMs);
    req.on('response', (res) => {
      answered = true;
      clearTimeout(timer);
      res.once('close', () => tracker.delete(req));
      resolve(res);
    });
    // Errors after the headers arrived surface on the response, where readBody sees them.
    req.on('error', (e) => {
      clearTimeout(timer);
      if (answered) return;
      tracker.delete(req);
      reject(networkError(e, where));
    });
    req.end();
  });
}

/** Reads exactly `length` body bytes; a shorter, longer or stalled body is an error. */
function readBody(res: IncomingMessage, length: number, idleTimeoutMs: number, where: ErrorLocation): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const out = new Uint8Array(length);
    let got = 0;
    let settled = false;
    const finish = (error: VvfError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off('data', onData);
      if (error === undefined) {
        resolve(out);
      } else {
        res.destroy();
        reject(error);
      }
    };
    const short = (why: string): VvfError =>
      transient(new VvfError('SOURCE_BAD_RESPONSE', `body ended after ${got} of ${length} bytes (${why})`, where));
    const timer = setTimeout(() => {
      finish(
        transient(new VvfError('SOURCE_TIMEOUT', `body stalled for ${idleTimeoutMs} ms after ${got} of ${length} bytes`, where)),
      );
    }, idleTimeoutMs);
    const onData = (chunk: Buffer): void => {
      if (got + chunk.length > length) {
        finish(new VvfError('SOURCE_BAD_RESPONSE', `body longer than the ${length} bytes asked`, where));
        return;
      }
      out.set(chunk, got);
      got += chunk.length;
      timer.refresh();
    };
    res.on('data', onData);
    res.once('end', () => finish(got === length ? undefined : short('end of body')));
    res.once('error', (e) => finish(e instanceof VvfError ? e : short(describe(e))));
    res.once('close', () => finish(got === length && res.complete ? undefined : short('connection closed')));
  });
}

function networkError(e: unknown, where: ErrorLocation): VvfError {
  if (e instanceof VvfError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // The HTTP parser rejected what the server sent: retrying will not fix a broken server.
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return new VvfError('SOURCE_BAD_RESPONSE', `malformed HTTP response: ${describe(e)}`, where, { cause: e });
  }
  return transient(new VvfError('SOURCE_UNREACHABLE', describe(e), where, { cause: e }));
}

async function withRetries<T>(settings: Settings, attempt: () => Promise<T>, stop: () => boolean = () => false): Promise<T> {
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof VvfError) || !transientErrors.has(e) || tried >= settings.retries || stop()) throw e;
      await sleep(settings.retryDelayMs * 2 ** tried);
    }
  }
}

function checkIdentityEncoding(res: IncomingMessage, where: ErrorLocation): void {
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new VvfError(
      'SOURCE_BAD_RESPONSE',
      `server sent Content-Encoding ${encoding} despite Accept-Encoding: identity`,
      where,
    );
  }
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`). */
function parseContentRange(value: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  if (m === null) return undefined;
  const start = safeNumber(m[1]);
  const end = safeNumber(m[2]);
  const total = m[3] === '*' ? undefined : safeNumber(m[3]);
  if (start === undefined || end === undefined || end < start) return undefined;
  if (m[3] !== '*' && (total === undefined || end >= total)) return undefined;
  return { start, end, total };
}

/** `bytes *\/TOTAL`, as sent with 416. */
function parseUnsatisfiedRange(value: string | undefined): number | undefined {
  const m = /^bytes\s+\*\/(\d+)$/i.exec(value?.trim() ?? '');
  return m === null ? undefined : safeNumber(m[1]);
}

function safeNumber(digits: string | undefined): number | undefined {
  if (digits === undefined) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

function strongETag(value: string | undefined): string | undefined {
  return value !== undefined && !value.startsWith('W/') ? value : undefined;
}

function ownHeaders(user: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(user)) {
    if (!OWN_HEADERS.has(name.toLowerCase())) out[name] = value;
  }
  out['accept-encoding'] = 'identity';
  return out;
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

function resolveSettings(opts: HttpSourceOptions | undefined): Settings {
  const settings: Settings = {
    timeoutMs: opts?.timeoutMs ?? 10_000,
    idleTimeoutMs: opts?.idleTimeoutMs ?? 10_000,
    retries: opts?.retries ?? 2,
    retryDelayMs: opts?.retryDelayMs ?? 100,
    headers: opts?.headers ?? {},
    agent: opts?.agent,
    allowRedirect: opts?.allowRedirect,
  };
  for (const name of ['timeoutMs', 'idleTimeoutMs'] as const) {
    if (!(settings[name] > 0 && Number.isFinite(settings[name]))) {
      throw new VvfError('USAGE', `${name} must be a positive number, got ${settings[name]}`);
    }
  }
  if (!Number.isSafeInteger(settings.retries) || settings.retries < 0) {
    throw new VvfError('USAGE', `retries must be a whole number >= 0, got ${settings.retries}`);
  }
  if (!(settings.retryDelayMs >= 0 && Number.isFinite(settings.retryDelayMs))) {
    throw new VvfError('USAGE', `retryDelayMs must be >= 0, got ${settings.retryDelayMs}`);
  }
  return settings;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === undefined || e.message.startsWith(code) ? e.message : `${code}: ${e.message}`;
  }
  return String(e);
}
