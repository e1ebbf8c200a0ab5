import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Catalog } from '../catalog/catalog.js';
import type { JobState } from '../catalog/encode-job.js';
import { manifestRecipe } from '../catalog/manifest-recipe.js';
import type { Registered, Registry } from '../catalog/registry.js';
import { isSignedPath, verifySigned } from '../catalog/signed-url.js';
import { UPLOAD_ROUTE } from '../catalog/upload-auth.js';
import { mpdName, multivariantName, offersDash, offersHls } from '../compose/presentation-paths.js';
import { isPresentation, parseRecipe, type RecipeLayout } from '../compose/recipe.js';
import { VvfError } from '../errors.js';
import type { MetadataStore } from '../store/metadata-store.js';
import { isPresentationFile, presentationFiles } from '../virtual/presentation-file.js';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { checkWriteAllowed } from './admin-auth.js';
import type { ServeConfig } from './config.js';
import { CorsPolicy } from './cors.js';
import { responseErrors, responsePaths, sendError } from './errors.js';
import { atLevel, type LogSink, requestLevel, stdoutSink } from './log.js';
import { encodeJobMetrics, ServerMetrics } from './metrics.js';
import { renderIndexPage } from './page.js';
import { pageDataFor } from './page-data.js';
import { servePlayerPage } from './player-page.js';
import { ASSET_ROUTE, PLAYER_PAGE, servePlayerAsset } from './players.js';
import { type ServeFileOptions, serveFile } from './serve-file.js';
import { handleUpload, type UploadOptions } from './upload.js';

/** A running `vvf serve`. */
export interface VvfServer {
  server: Server;
  /** Base URL the server answers at. */
  url: string;
  registry: Registry;
  /** The virtual files this server answers for (shared with the other faces of the process). */
  catalog: Catalog;
  /** Stops accepting connections and waits for in-flight responses to finish. */
  close(): Promise<void>;
  /** The server's log, at its configured level: other parts of the process log through it. */
  log: LogSink;
}

export type { LogSink } from './log.js';

const MAX_BODY = 1 << 20;

/** What a launcher may add to a server besides its configuration. */
export interface ServerOptions {
  log?: LogSink;
  store?: MetadataStore;
  catalog?: Catalog;
  /** The upload route (`PUT /upload/<path>`), for an encode coordinator; without it there is none. */
  upload?: UploadOptions;
  /** Encode jobs the page lists and /metrics counts (the coordinator's, as they go). */
  jobs?: () => readonly JobState[];
}

export type { UploadOptions } from './upload.js';

export async function startServer(config: ServeConfig, opts: ServerOptions = {}): Promise<VvfServer> {
  // Every line carries a level; those below the configured one are dropped here, for every sink.
  const log = atLevel(opts.log ?? stdoutSink, config.logLevel ?? 'info');
  // A catalog given by the caller is shared with other faces and outlives this server.
  const catalog = opts.catalog ?? (await Catalog.open(config, opts.store ? { store: opts.store } : {}));
  const registry = catalog.registry;
  const metrics = new ServerMetrics(catalog.metrics);
  if (opts.jobs) encodeJobMetrics(catalog.metrics, opts.jobs);
  // Body bytes the sendfile path sends behind res.write, counted per response for logs and metrics.
  const sentCounters = new WeakMap<ServerResponse, (bytes: number) => void>();
  const serveOptions = (entry: Registered, res: ServerResponse): ServeFileOptions => {
    const onSent = sentCounters.get(res);
    return {
      cacheControl: config.cacheControl,
      maxRanges: config.maxRanges,
      lastModified: entry.created,
      // A file whose sources changed once may be rewritten in place again: copy its bytes, so that
      // each read is checked after it is made. sendfile hands the socket the file's pages, whose
      // content may still change after vvf's check, until the client has read them.
      sendfile: config.sendfile !== 'off' && entry.sourcesChanged !== true,
      sendTimeoutMs: config.sendTimeoutMs,
      ...(onSent ? { onSent } : {}),
      ...(entry.previousEtags ? { previousEtags: entry.previousEtags } : {}),
    };
  };
  /**
   * Serves a registered file. A source found changed before anything was sent makes the
   * catalog compile the recipe again, and this request is answered from the new file (the
   * same etag when only validators moved); found changed mid-response, the response is cut
   * and the next request gets the new file. `again` gives the entry after invalidation.
   */
  const serveEntry = async (
    req: IncomingMessage,
    res: ServerResponse,
    entry: Registered,
    again: () => Promise<Registered | undefined>,
    pick: (entry: Registered) => Promise<VirtualFile> = wholeFile,
  ): Promise<void> => {
    try {
      await serveFile(req, res, await pick(entry), { ...serveOptions(entry, res), throwBeforeStart: sourceChanged });
    } catch (e) {
      if (!sourceChanged(e) || res.headersSent) throw e;
      catalog.invalidate(entry);
      const fresh = await again();
      if (!fresh) throw e;
      await serveFile(req, res, await pick(fresh), serveOptions(fresh, res));
      return;
    }
    if (sourceChanged(responseErrors.get(res))) catalog.invalidate(entry);
  };
  let baseUrl = '';

  const describe = (r: Registered) => ({
    id: r.id,
    url: isPresentation(r.recipe) ? `${baseUrl}/v/${r.id}/${manifestNames(r.recipe.layout)[0]}` : `${baseUrl}/v/${r.id}.mp4`,
    ...(isPresentation(r.recipe)
      ? { layout: r.recipe.layout, manifests: manifestNames(r.recipe.layout).map((name) => `${baseUrl}/v/${r.id}/${name}`) }
      : {}),
    size: r.file.size,
    etag: r.file.etag,
    created: r.created.toISOString(),
    // Paths relative to their root: a client never learns where the roots lie on the server.
    recipe: catalog.shown.recipe(r.recipe),
  });

  const cors = new CorsPolicy(config.corsOrigins);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (cors.preflight(req, res)) return;
    // On every answer, errors included: a player must be able to read why it failed.
    cors.decorate(req, res);
    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      const pages = await Promise.all((await catalog.list()).map(pageDataFor));
      // The page is public: errors on it name paths relative to their root, as every answer does.
      const html = renderIndexPage(
        pages.map((p) => (p.error === undefined ? p : { ...p, error: hidePaths(p.error) })),
        (opts.jobs?.() ?? []).map(shownJob),
      );
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
        'cache-control': 'no-store',
      });
      res.end(method === 'HEAD' ? undefined : html);
      return;
    }
    if (path === '/metrics' && (method === 'GET' || method === 'HEAD')) {
      const text = metrics.render();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }
    if (isSignedPath(path) && (method === 'GET' || method === 'HEAD')) {
      if (!config.signingKey)
        throw new VvfError('SOURCE_FORBIDDEN', 'signed URLs are not enabled on this server (no signing key)');
      const signed = verifySigned(path, config.signingKey);
      const recipe = catalog.underRoot(signed.recipe);
      await serveEntry(req, res, await catalog.fileFor(recipe), () => catalog.fileFor(recipe), partPicker(signed.part));
      return;
    }
    if (opts.upload && path.startsWith(UPLOAD_ROUTE) && method === 'PUT') {
      await handleUpload(req, res, path, opts.upload);
      return;
    }
    const dash = /^\/dash\/(.+\.mpd)\.mp4$/.exec(path);
    if (dash && (method === 'GET' || method === 'HEAD')) {
      const manifest = decodePath(dash[1]!);
      const recipe = manifestRecipe(manifest, { video: url.searchParams.get('video'), audio: url.searchParams.get('audio') });
      const resolved = catalog.underRoot(recipe);
      await serveEntry(req, res, await catalog.fileFor(resolved), () => catalog.fileFor(resolved));
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      // /healthz: the process is alive (200 whatever the store does: restarting it would not help);
      // /readyz: it can take every request, so a balancer sends it traffic (503 while the store is down).
      const store = catalog.storeState();
      const ready = store !== 'down';
      json(res, path === '/readyz' && !ready ? 503 : 200, { status: ready ? 'ok' : 'degraded', store }, method === 'HEAD');
      return;
    }
    if (path === '/v' && method === 'POST') {
      checkWriteAllowed(req, config.adminToken);
      const resolved = catalog.underRoot(parseRecipe(JSON.parse(await readBody(req)) as unknown));
      const { entry, created } = await catalog.register(resolved);
      json(res, created ? 201 : 200, describe(entry));
      return;
    }
    if (path === '/v' && (method === 'GET' || method === 'HEAD')) {
      json(res, 200, { files: (await catalog.list()).map(describe) }, method === 'HEAD');
      return;
    }
    if (path.startsWith(ASSET_ROUTE) && (method === 'GET' || method === 'HEAD')) {
      await servePlayerAsset(req, res, path.slice(ASSET_ROUTE.length));
      return;
    }
    // Before the parts: no part of a presentation is named `player.html`.
    const player = /^\/v\/([A-Za-z0-9_-]+)\/(.+)$/.exec(path);
    if (player?.[2] === PLAYER_PAGE && (method === 'GET' || method === 'HEAD')) {
      const entry = await catalog.get(player[1]!);
      if (!entry) throw new VvfError('NOT_FOUND', `no virtual file ${player[1]}`);
      await servePlayerPage(res, entry, url.searchParams, method === 'HEAD');
      return;
    }
    const inside = /^\/v\/([A-Za-z0-9_-]+)\/(.+)$/.exec(path);
    if (inside) {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
        return;
      }
      const entry = await catalog.get(inside[1]!);
      if (!entry) throw new VvfError('NOT_FOUND', `no virtual file ${inside[1]}`);
      await serveEntry(req, res, entry, () => catalog.get(entry.id), partPicker(decodePath(inside[2]!)));
      return;
    }
    const m = /^\/v\/([A-Za-z0-9_-]+)(\.mp4)?$/.exec(path);
    if (m) {
      const entry = method === 'DELETE' ? undefined : await catalog.get(m[1]!);
      if (method === 'DELETE' && !m[2]) {
        checkWriteAllowed(req, config.adminToken);
        if (await catalog.delete(m[1]!)) res.writeHead(204).end();
        else json(res, 404, { error: 'NOT_FOUND', message: `no virtual file ${m[1]}` });
        return;
      }
      if (m[2] && (method === 'GET' || method === 'HEAD')) {
        if (!entry) {
          json(res, 404, { error: 'NOT_FOUND', message: `no virtual file ${m[1]}` }, method === 'HEAD');
          return;
        }
        await serveEntry(req, res, entry, () => catalog.get(entry.id));
        return;
      }
      res.writeHead(405, { allow: m[2] ? 'GET, HEAD' : 'DELETE', 'content-length': 0 }).end();
      return;
    }
    json(res, 404, { error: 'NOT_FOUND', message: `nothing at ${path}` }, method === 'HEAD');
  };

  const hidePaths = (text: string) => catalog.shown.text(text);
  // A job as the public page shows it: paths relative to their root, as everywhere else.
  const shownJob = (job: JobState): JobState => ({
    ...job,
    input: hidePaths(job.input),
    tasks: job.tasks.map((t) => (t.error === undefined ? t : { ...t, error: hidePaths(t.error) })),
    ...(job.failure !== undefined ? { failure: hidePaths(job.failure) } : {}),
  });
  const server = createServer((req, res) => {
    const id = randomUUID();
    responsePaths.set(res, hidePaths);
    const started = performance.now();
    log({ level: 'debug', msg: 'request start', req: id, method: req.method, path: req.url, range: req.headers.range });
    let bytes = 0;
    let firstByte = 0;
    const count = (chunk: unknown) => {
      if (firstByte === 0) firstByte = performance.now();
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytes += chunk.length;
    };
    sentCounters.set(res, (n) => {
      if (firstByte === 0) firstByte = performance.now();
      bytes += n;
      metrics.kernelBytes.inc({}, n);
    });
    const write = res.write.bind(res);
    res.write = ((chunk: Uint8Array | string, ...rest: never[]) => {
      count(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    const end = res.end.bind(res);
    res.end = ((chunk?: unknown, ...rest: never[]) => {
      count(chunk);
      return end(chunk as never, ...rest);
    }) as typeof res.end;
    res.on('close', () => {
      const error = responseErrors.get(res);
      metrics.requests.inc({ method: req.method ?? '', status: String(res.statusCode) });
      metrics.bytes.inc({}, bytes);
      if (firstByte > 0) metrics.firstByte.observe((firstByte - started) / 1000);
      log({
        level: requestLevel(res.statusCode, res.writableFinished),
        msg: res.writableFinished ? 'request' : 'request aborted',
        req: id,
        method: req.method,
        path: req.url,
        range: req.headers.range,
        status: res.statusCode,
        bytes,
        ms: Math.round((performance.now() - started) * 100) / 100,
        // The whole error, source paths included: the client's body shows display names only.
        ...(error instanceof VvfError ? { error: error.toJSON() } : error !== undefined ? { error: String(error) } : {}),
      });
    });
    handle(req, res).catch((e: unknown) => {
      if (!(e instanceof VvfError) && !(e instanceof SyntaxError))
        log({ level: 'error', msg: 'internal error', req: id, error: String(e) });
      sendError(res, e instanceof SyntaxError ? new VvfError('USAGE', `invalid JSON: ${e.message}`) : e);
    });
  });
  server.requestTimeout = config.requestTimeoutMs;
  server.headersTimeout = Math.min(config.requestTimeoutMs, 60_000);
  server.keepAliveTimeout = config.idleTimeoutMs;

  try {
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolvePromise());
    });
  } catch (e) {
    // A store connection left open would keep the process alive.
    if (!opts.catalog) await catalog.close();
    throw listenError(e, config);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = config.publicUrl ?? `http://${host}:${address.port}`;

  return {
    server,
    url: baseUrl,
    log,
    registry,
    catalog,
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      if (!opts.catalog) await catalog.close();
    },
  };
}

/** The manifests a presentation of `layout` offers, the main one first. */
function manifestNames(layout: Exclude<RecipeLayout, 'progressive'>): string[] {
  const names: string[] = [];
  for (const form of ['segments', 'single'] as const) {
    if (offersDash(layout)) names.push(mpdName(form));
    if (offersHls(layout)) names.push(multivariantName(form));
  }
  return names;
}

/** The file of a progressive entry; a presentation's package is never served whole. */
async function wholeFile(entry: Registered): Promise<VirtualFile> {
  if (isPresentationFile(entry.file)) {
    throw new VvfError(
      'NOT_FOUND',
      `${entry.id} is a ${entry.recipe.layout} presentation: its manifests and segments are under /v/${entry.id}/`,
    );
  }
  return entry.file;
}

/**
 * What serves a path under an entry's directory: a part of its presentation (a manifest, a
 * playlist, a segment, a single file); no part (a `.mp4` signed path) is the whole file.
 */
function partPicker(part: string | undefined): (entry: Registered) => Promise<VirtualFile> {
  if (part === undefined) return wholeFile;
  return async (entry) => {
    if (!isPresentationFile(entry.file)) {
      throw new VvfError('NOT_FOUND', `${entry.id} is a progressive file: nothing is under it`);
    }
    const file = await (await presentationFiles(entry.file)).part(part);
    if (!file) throw new VvfError('NOT_FOUND', `presentation ${entry.id} has no ${part}`);
    return file;
  };
}

/** A source of the file changed under it (size, mtime, inode or ctime of a local file; an HTTP validator). */
function sourceChanged(e: unknown): boolean {
  return e instanceof VvfError && e.code === 'SOURCE_CHANGED';
}

/**
 * A path segment percent-decoded; malformed escapes (`%ZZ`, overlong UTF-8 such as
 * `%c0%ae`) are the client's mistake (400), not a failure of the server.
 */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new VvfError('USAGE', 'malformed percent-encoding in the path');
  }
}

/** Why the server could not listen, in one line a person acts on (a port in use is common). */
function listenError(e: unknown, config: ServeConfig): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE') return new VvfError('USAGE', `cannot listen on ${where}: the address is in use (--port, VVF_PORT)`);
  if (code === 'EACCES')
    return new VvfError('USAGE', `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new VvfError('USAGE', `cannot listen on ${where}: no such local address (--host, VVF_HOST)`);
  if (code !== undefined) return new VvfError('USAGE', `cannot listen on ${where}: ${code}`, {}, { cause: e });
  return e;
}

function json(res: ServerResponse, status: number, body: unknown, head = false): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new VvfError('USAGE', `request body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
