import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseRecipe, resolveRecipePaths } from '../compose/recipe.js';
import { VvfError } from '../errors.js';
import { SourcePolicy } from '../sources/source-policy.js';
import { compileRecipe } from '../virtual/compile.js';
import type { ServeConfig } from './config.js';
import { sendError } from './errors.js';
import { type Registered, Registry, recipeId } from './registry.js';
import { serveFile } from './serve-file.js';

/** A running `vvf serve`. */
export interface VvfServer {
  server: Server;
  /** Base URL the server answers at. */
  url: string;
  registry: Registry;
  /** Stops accepting connections and waits for in-flight responses to finish. */
  close(): Promise<void>;
}

/** One structured log line per event (JSON), to stdout unless given another sink. */
export type LogSink = (entry: Record<string, unknown>) => void;

const MAX_BODY = 1 << 20;

export async function startServer(config: ServeConfig, opts: { log?: LogSink } = {}): Promise<VvfServer> {
  const log: LogSink =
    opts.log ?? ((entry) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`));
  const policy = new SourcePolicy({
    roots: config.roots,
    origins: config.origins,
    http: { timeoutMs: config.sourceTimeoutMs, idleTimeoutMs: config.sourceTimeoutMs },
  });
  const open = (spec: string) => policy.open(spec);
  const registry = new Registry(async (recipe) => (await compileRecipe(recipe, { openSource: open })).file);
  let baseUrl = '';

  const describe = (r: Registered) => ({
    id: r.id,
    url: `${baseUrl}/v/${r.id}.mp4`,
    size: r.file.size,
    etag: r.file.etag,
    created: r.created.toISOString(),
    recipe: r.recipe,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
      return;
    }
    if (path === '/v' && method === 'POST') {
      const recipe = parseRecipe(JSON.parse(await readBody(req)) as unknown);
      const root = config.roots[0];
      const resolved = root ? resolveRecipePaths(recipe, (p) => resolve(root, p)) : recipe;
      const known = registry.get(recipeId(resolved)) !== undefined;
      const entry = await registry.register(resolved);
      json(res, known ? 200 : 201, describe(entry));
      return;
    }
    if (path === '/v' && (method === 'GET' || method === 'HEAD')) {
      json(res, 200, { files: registry.list().map(describe) }, method === 'HEAD');
      return;
    }
    const m = /^\/v\/([A-Za-z0-9_-]+)(\.mp4)?$/.exec(path);
    if (m) {
      const entry = registry.get(m[1]!);
      if (method === 'DELETE' && !m[2]) {
        if (await registry.delete(m[1]!)) res.writeHead(204).end();
        else json(res, 404, { error: 'NOT_FOUND', message: `no virtual file ${m[1]}` });
        return;
      }
      if (m[2] && (method === 'GET' || method === 'HEAD')) {
        if (!entry) {
          json(res, 404, { error: 'NOT_FOUND', message: `no virtual file ${m[1]}` }, method === 'HEAD');
          return;
        }
        await serveFile(req, res, entry.file, {
          cacheControl: config.cacheControl,
          maxRanges: config.maxRanges,
          lastModified: entry.created,
        });
        return;
      }
      res.writeHead(405, { allow: m[2] ? 'GET, HEAD' : 'DELETE', 'content-length': 0 }).end();
      return;
    }
    json(res, 404, { error: 'NOT_FOUND', message: `nothing at ${path}` }, method === 'HEAD');
  };

  const server = createServer((req, res) => {
    const id = randomUUID();
    const started = performance.now();
    let bytes = 0;
    const write = res.write.bind(res);
    res.write = ((chunk: Uint8Array | string, ...rest: never[]) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.on('close', () => {
      log({
        level: res.writableFinished ? 'info' : 'warn',
        msg: res.writableFinished ? 'request' : 'request aborted',
        req: id,
        method: req.method,
        path: req.url,
        range: req.headers.range,
        status: res.statusCode,
        bytes,
        ms: Math.round((performance.now() - started) * 100) / 100,
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

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolvePromise());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = config.publicUrl ?? `http://${host}:${address.port}`;

  return {
    server,
    url: baseUrl,
    registry,
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      await registry.closeAll();
    },
  };
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
