import { resolve } from 'node:path';
import { checkRoots } from '../../catalog/config.js';
import { VvfError } from '../../errors.js';
import { loadMountConfig } from '../../fuse/config.js';
import { mountCatalogFace } from '../../fuse/face.js';
import type { FuseMount } from '../../fuse/fuse-mount.js';
import { startServer } from '../../server/app.js';
import { loadServeConfig, printableConfig, type ServeConfig } from '../../server/config.js';
import { kernelSender } from '../../server/kernel-send.js';
import { parse } from '../args.js';
import { loadRecipeFile } from '../recipe-file.js';

export const serveUsage = `  serve [options]                       serve virtual files over HTTP (POST /v a recipe, GET /v/{id}.mp4)
      --host <addr>, --port <n>         where to listen (default 127.0.0.1:8080)
      --root <dir>                      local sources may come from here; repeatable
      --origin <url>                    HTTP(S) sources may come from this origin; repeatable
      --config <file.json>              settings file (environment: VVF_PORT, VVF_ROOTS=a,b, …)
      --cache-control <value>           Cache-Control of virtual files
      --max-ranges <n>                  most ranges in one multipart answer
      --store <file.sqlite | none>      where compiled files are kept between runs (default ./vvf-metadata.sqlite)
      --store-max-bytes <n>             most bytes of compiled files the store keeps (SQLite or Redis), least recently used dropped first (default 1 GiB; 0 unlimited)
      --redis <redis://host:port/db>    keep them in Redis instead, shared by every instance (VVF_REDIS)
      --sendfile <auto | off>           send local files' bytes with sendfile(2) when built (default auto; VVF_SENDFILE)
      --register <recipe.json>          register a recipe at start and print its URL; repeatable
      --mount <dir>                     also mount the same files there (see vvf mount), one catalog for both
      --cors <origin | *>               pages of this origin may read the files (CORS); repeatable (VVF_CORS=a,b)
                                        writes (POST, DELETE /v) need VVF_ADMIN_TOKEN as a bearer token when it is set,
                                        else come from loopback clients only
      --log-level <level>               debug, info (default), warn or error: least severe JSON log line written (VVF_LOG_LEVEL)`;

export async function serve(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      root: { type: 'string', multiple: true },
      origin: { type: 'string', multiple: true },
      config: { type: 'string' },
      'cache-control': { type: 'string' },
      'max-ranges': { type: 'string' },
      register: { type: 'string', multiple: true },
      store: { type: 'string' },
      'store-max-bytes': { type: 'string' },
      redis: { type: 'string' },
      sendfile: { type: 'string' },
      mount: { type: 'string' },
      cors: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    },
    'serve',
    serveUsage,
  );
  const flags: Partial<ServeConfig> = {};
  if (values.host !== undefined) flags.host = values.host;
  if (values.port !== undefined) flags.port = Number(values.port);
  if (values.root) flags.roots = values.root;
  if (values.origin) flags.origins = values.origin;
  if (values['cache-control'] !== undefined) flags.cacheControl = values['cache-control'];
  if (values['max-ranges'] !== undefined) flags.maxRanges = Number(values['max-ranges']);
  if (values.store !== undefined) flags.storePath = values.store;
  if (values['store-max-bytes'] !== undefined) flags.storeMaxBytes = Number(values['store-max-bytes']);
  if (values.redis !== undefined) flags.redisUrl = values.redis;
  if (values.sendfile !== undefined) flags.sendfile = values.sendfile as ServeConfig['sendfile'];
  if (values.cors) flags.corsOrigins = values.cors;
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'] as ServeConfig['logLevel'];
  const config = loadServeConfig({ ...(values.config ? { file: values.config } : {}), env: process.env, flags });
  // The command keeps compiled files in SQLite unless told not to (or given Redis); the library defaults to memory.
  if (config.storePath === undefined && config.redisUrl === undefined) config.storePath = 'vvf-metadata.sqlite';
  if (config.storePath === 'none') delete config.storePath;
  checkRoots(config);
  const running = await startServer(config);
  const log = running.log;
  log({
    level: 'info',
    msg: 'vvf serve listening',
    url: running.url,
    config: printableConfig(config),
    sendfile: sendfileState(config),
  });
  process.stderr.write(`vvf: serving at ${running.url} — player page ${running.url}/\n`);
  let registering: string | undefined;
  try {
    for (const path of values.register ?? []) {
      registering = path;
      const entry = await running.registry.register(await loadRecipeFile(path));
      const fileUrl = `${running.url}/v/${entry.id}.mp4`;
      log({ level: 'info', msg: 'registered', recipe: path, id: entry.id, url: fileUrl, size: entry.file.size });
      // The line a person looks for, on stderr so stdout stays JSON lines.
      process.stderr.write(`vvf: ${path} is served as ${fileUrl} (${entry.file.size} bytes)\n`);
    }
  } catch (e) {
    // A recipe asked for at start that cannot be served is a failed start: stop (server and
    // catalog) and exit non-zero with the error, rather than keep serving without it.
    const error = e instanceof VvfError ? e.toJSON() : String(e);
    log({ level: 'error', msg: 'cannot register, stopping', recipe: registering, error });
    await running.close();
    throw e;
  }
  let mounted: FuseMount | undefined;
  if (values.mount !== undefined) {
    try {
      mounted = await mountCatalogFace(resolve(values.mount), running.catalog, loadMountConfig({ env: process.env }), log);
    } catch (e) {
      await running.close();
      throw e;
    }
    log({ level: 'info', msg: 'vvf mount ready', dir: mounted.dir, method: mounted.method });
    process.stderr.write(`vvf: the same files are mounted on ${mounted.dir}\n`);
  }
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log({ level: 'info', msg: `stopping on ${signal}: finishing in-flight responses` });
      (mounted?.close() ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => running.close())
        .then(done, done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

/** Whether bodies go out with sendfile(2), as printed at start. */
function sendfileState(config: ServeConfig): string {
  if (config.sendfile === 'off') return 'off';
  return kernelSender() === null ? 'off (native addon not built: npm run build:native)' : 'on';
}
