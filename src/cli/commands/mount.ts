import { resolve } from 'node:path';
import { Catalog } from '../../catalog/catalog.js';
import { printableCatalogConfig } from '../../catalog/config.js';
import { RecipeFolder } from '../../catalog/recipe-folder.js';
import { VvfError } from '../../errors.js';
import { loadMountConfig, type MountConfig } from '../../fuse/config.js';
import { mountCatalogFace } from '../../fuse/face.js';
import { unmountLazy } from '../../fuse/mount.js';
import { parse } from '../args.js';

export const mountUsage = `  mount <dir> [options]                 the virtual files as plain files for any program (FUSE, read-only):
                                        <dir>/<name>.mp4 and <dir>/by-id/<id>.mp4; Ctrl-C or vvf umount stops it
      --recipes <dir>                   the recipe files (*.json) of a folder, followed as they change
      --store <file.sqlite | none>      the files vvf serve registered (default ./vvf-metadata.sqlite; none with --recipes)
      --redis <redis://host:port/db>    the files every instance registered in Redis
      --root <dir>, --origin <url>      where sources may come from; repeatable (default: the recipe folder, else .)
      --config <file.json>              settings file (VVF_ROOTS, VVF_STORE, VVF_FUSE_TIMEOUT_MS, …)
      --timeout <ms>                    a read a source does not answer in time fails with EIO (default 5000)
      --splice <auto | off>             local files' bytes go to the kernel by splice(2) (default auto)`;

export const umountUsage = `  umount <dir>                          unmounts a vvf mount (also one left behind by a killed process)`;

const log = (entry: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

export async function mount(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      recipes: { type: 'string' },
      store: { type: 'string' },
      redis: { type: 'string' },
      root: { type: 'string', multiple: true },
      origin: { type: 'string', multiple: true },
      config: { type: 'string' },
      timeout: { type: 'string' },
      splice: { type: 'string' },
    },
    'mount',
    mountUsage,
  );
  if (positionals.length !== 1) throw new VvfError('USAGE', 'expected: vvf mount <dir> [options]');
  const dir = resolve(positionals[0]!);
  const flags: Partial<MountConfig> = {};
  if (values.root) flags.roots = values.root;
  if (values.origin) flags.origins = values.origin;
  if (values.store !== undefined) flags.storePath = values.store;
  if (values.redis !== undefined) flags.redisUrl = values.redis;
  if (values.timeout !== undefined) flags.fuseTimeoutMs = Number(values.timeout);
  if (values.splice !== undefined) flags.splice = values.splice as MountConfig['splice'];
  const config = loadMountConfig({ ...(values.config ? { file: values.config } : {}), env: process.env, flags });
  if (config.roots.length === 0) config.roots = [resolve(values.recipes ?? '.')];
  // Like vvf serve, the files it registered, unless a folder of recipes says what to show.
  if (config.storePath === undefined && config.redisUrl === undefined && values.recipes === undefined)
    config.storePath = 'vvf-metadata.sqlite';
  if (config.storePath === 'none') delete config.storePath;

  const catalog = await Catalog.open(config);
  let folder: RecipeFolder | undefined;
  try {
    if (values.recipes !== undefined) {
      folder = await RecipeFolder.watch(values.recipes, catalog, {
        report: (e) =>
          log(
            e.event === 'refused'
              ? { level: 'warn', msg: 'recipe refused', file: e.file, error: String(e.error) }
              : { level: 'info', msg: `recipe ${e.event}`, file: e.file, id: e.id },
          ),
      });
    }
    const mounted = await mountCatalogFace(dir, catalog, config, log);
    log({
      level: 'info',
      msg: 'vvf mount ready',
      dir: mounted.dir,
      method: mounted.method,
      config: printableCatalogConfig(config),
    });
    process.stderr.write(`vvf: ${(await catalog.list()).length} virtual files mounted on ${mounted.dir} (Ctrl-C unmounts)\n`);
    await new Promise<void>((done) => {
      const stop = (signal: string) => {
        log({ level: 'info', msg: `unmounting on ${signal}` });
        mounted.close().then(done, done);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      // Unmounted from outside (vvf umount, fusermount3 -u): nothing left to serve.
      void mounted.ended.then(done);
    });
  } finally {
    await folder?.close();
    await catalog.close();
  }
  return 0;
}

export async function umount(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, 'umount', umountUsage);
  if (positionals.length !== 1) throw new VvfError('USAGE', 'expected: vvf umount <dir>');
  const dir = resolve(positionals[0]!);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  await unmountLazy(dir, isRoot ? 'mount' : 'fusermount3');
  process.stderr.write(`vvf: unmounted ${dir}\n`);
  return 0;
}
