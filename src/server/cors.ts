import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS (the Fetch standard's HTTP extensions, https://fetch.spec.whatwg.org/#http-cors-protocol),
 * so that players on other origins can read virtual files: the allowed origins are configured
 * (`*` allows any); a preflight OPTIONS is answered here; responses expose the headers a
 * player needs to use ranges (Content-Range, Content-Length, Accept-Ranges, ETag).
 */
export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.any = origins.includes('*');
    // Origins compare as serialized by browsers: scheme://host[:port], lower case, no trailing slash.
    this.origins = new Set(origins.filter((o) => o !== '*').map((o) => o.replace(/\/+$/, '').toLowerCase()));
  }

  get enabled(): boolean {
    return this.any || this.origins.size > 0;
  }

  /** The Access-Control-Allow-Origin value for a request's Origin, or undefined when it is not allowed. */
  allowedOrigin(origin: string | undefined): string | undefined {
    if (origin === undefined) return undefined;
    // With `*`, answer `*` rather than echo: caches may then share one response for all origins.
    if (this.any) return '*';
    return this.origins.has(origin.toLowerCase()) ? origin : undefined;
  }

  /**
   * Adds the CORS headers of an actual (not preflight) response. `Vary: Origin` whenever the
   * answer depends on the origin, so that a shared cache does not hand one origin's answer to another.
   */
  decorate(req: IncomingMessage, res: ServerResponse): void {
    if (!this.enabled) return;
    if (!this.any) res.setHeader('vary', 'Origin');
    const allowed = this.allowedOrigin(header(req.headers.origin));
    if (allowed === undefined) return;
    res.setHeader('access-control-allow-origin', allowed);
    res.setHeader('access-control-expose-headers', EXPOSED);
  }

  /**
   * Answers a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method); false
   * when the request is not one. A preflight from an origin that is not allowed gets a 204
   * without CORS headers: the browser then refuses the actual request.
   */
  preflight(req: IncomingMessage, res: ServerResponse): boolean {
    if (
      req.method !== 'OPTIONS' ||
      req.headers.origin === undefined ||
      req.headers['access-control-request-method'] === undefined
    )
      return false;
    const headers: Record<string, string> = { 'content-length': '0', allow: METHODS };
    if (!this.any && this.enabled) headers.vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
    const allowed = this.allowedOrigin(header(req.headers.origin));
    if (allowed !== undefined) {
      headers['access-control-allow-origin'] = allowed;
      headers['access-control-allow-methods'] = METHODS;
      headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      headers['access-control-max-age'] = '600';
    }
    res.writeHead(204, headers).end();
    return true;
  }
}

/** What players read from range responses (Fetch exposes only safelisted headers by default). */
const EXPOSED = 'Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified';
const METHODS = 'GET, HEAD, POST, DELETE, OPTIONS';
/** Request headers a cross-origin client may send: ranges, conditionals, and the admin token for writes. */
const ALLOWED_HEADERS =
  'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, Authorization, Content-Type';

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
