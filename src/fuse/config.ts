import { absoluteRoots, type CatalogConfig, catalogSettings, defaultCatalogConfig } from '../catalog/config.js';
import { loadSettings, mergeSpecs, type SettingsSpec } from '../catalog/settings.js';

/** How `vvf mount` runs: the catalog's settings and the mount's own. */
export interface MountConfig extends CatalogConfig {
  /** A request not answered within this fails with EIO: a reader never hangs on a source. */
  fuseTimeoutMs: number;
  /** `auto`: READ replies of local files' bytes go by splice(2), without a copy; `off`: always copied. */
  splice: 'auto' | 'off';
  /** The mount's readahead in KiB (root only; 0 keeps the kernel's; default: what the session chooses). */
  readaheadKb?: number;
  /**
   * The most threads reading /dev/fuse; with 2 or more, READs of local files' bytes are
   * answered on them without the event loop (1: every request through JS). Default: the
   * session's (32, of which 4 start with it).
   */
  fuseThreads?: number;
}

export const defaultMountConfig: Readonly<MountConfig> = Object.freeze({
  ...defaultCatalogConfig,
  fuseTimeoutMs: 5000,
  splice: 'auto',
});

type FuseSettings = Omit<MountConfig, keyof CatalogConfig>;

const fuseSettings: SettingsSpec<FuseSettings> = {
  env: {
    VVF_FUSE_TIMEOUT_MS: 'fuseTimeoutMs',
    VVF_SPLICE: 'splice',
    VVF_READAHEAD_KB: 'readaheadKb',
    VVF_FUSE_THREADS: 'fuseThreads',
  },
  numbers: new Set(['fuseTimeoutMs', 'readaheadKb', 'fuseThreads']),
  lists: new Set(),
  optional: new Set(['readaheadKb', 'fuseThreads']),
  choices: { splice: ['auto', 'off'] },
};

export const mountSettings: SettingsSpec<MountConfig> = mergeSpecs(catalogSettings, fuseSettings);

/** Defaults, then the config file, then VVF_* variables, then flags. Roots become absolute. */
export function loadMountConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<MountConfig> }): MountConfig {
  return absoluteRoots(loadSettings(defaultMountConfig, mountSettings, opts));
}
