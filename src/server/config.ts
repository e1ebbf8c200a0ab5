import {
  absoluteRoots,
  type CatalogConfig,
  catalogSettings,
  defaultCatalogConfig,
  printableCatalogConfig,
} from '../catalog/config.js';
import { loadSettings, mergeSpecs, type SettingsSpec } from '../catalog/settings.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

/** How `vvf serve` runs: the catalog's settings and HTTP's. Every field can come from the config file, the environment or a flag. */
export interface ServeConfig extends CatalogConfig {
  host: string;
  port: number;
  /** Cache-Control of virtual files. */
  cacheControl: string;
  /** Most ranges in one multipart request; more are answered with the whole file. */
  maxRanges: number;
  /** Time to receive a request's headers and body. */
  requestTimeoutMs: number;
  /** Keep-alive: how long an idle connection stays open. */
  idleTimeoutMs: number;
  /** URL clients reach the server at, for the links it answers (default http://host:port). */
  publicUrl?: string;
  /** HMAC key of signed URLs (/s/…); without one, signed URLs are refused. Never printed. */
  signingKey?: string;
  /**
   * `auto`: send local files' bytes with sendfile(2) when the native addon is built (no
   * copy through user space, as nginx's `sendfile on`); `off`: always copy.
   */
  sendfile: 'auto' | 'off';
  /** How long a client may stop reading mid-response before it is cut (nginx's send_timeout). */
  sendTimeoutMs: number;
  /**
   * Bearer token that POST and DELETE /v need (`Authorization: Bearer <token>`). Without one,
   * only loopback clients may write. Never printed; from the environment or the config file.
   */
  adminToken?: string;
  /** Origins whose pages may read the files (CORS), e.g. `https://player.example.com`; `*` for any. Empty: no CORS headers. */
  corsOrigins: string[];
  /** Least severe log lines written: debug, info (default), warn or error. */
  logLevel: LogLevel;
}

export const defaultServeConfig: Readonly<ServeConfig> = Object.freeze({
  ...defaultCatalogConfig,
  host: '127.0.0.1',
  port: 8080,
  cacheControl: 'public, max-age=3600',
  maxRanges: 16,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  sendfile: 'auto',
  sendTimeoutMs: 60_000,
  corsOrigins: [],
  logLevel: 'info',
});

type HttpSettings = Omit<ServeConfig, keyof CatalogConfig>;

const httpSettings: SettingsSpec<HttpSettings> = {
  env: {
    VVF_HOST: 'host',
    VVF_PORT: 'port',
    VVF_CACHE_CONTROL: 'cacheControl',
    VVF_MAX_RANGES: 'maxRanges',
    VVF_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
    VVF_IDLE_TIMEOUT_MS: 'idleTimeoutMs',
    VVF_PUBLIC_URL: 'publicUrl',
    VVF_SIGNING_KEY: 'signingKey',
    VVF_SENDFILE: 'sendfile',
    VVF_SEND_TIMEOUT_MS: 'sendTimeoutMs',
    VVF_CORS: 'corsOrigins',
    VVF_ADMIN_TOKEN: 'adminToken',
    VVF_LOG_LEVEL: 'logLevel',
  },
  numbers: new Set(['port', 'maxRanges', 'requestTimeoutMs', 'idleTimeoutMs', 'sendTimeoutMs']),
  lists: new Set(['corsOrigins']),
  optional: new Set(['publicUrl', 'signingKey', 'adminToken']),
  choices: { sendfile: ['auto', 'off'], logLevel: LOG_LEVELS },
};

export const serveSettings: SettingsSpec<ServeConfig> = mergeSpecs(catalogSettings, httpSettings);

/**
 * The configuration: defaults, then the JSON config file, then environment variables
 * (VVF_PORT, VVF_ROOTS=a,b, …), then flags — later ones win. Roots become absolute.
 */
export function loadServeConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<ServeConfig> }): ServeConfig {
  return absoluteRoots(loadSettings(defaultServeConfig, serveSettings, opts));
}

/** The configuration as it may be printed or logged: secrets replaced. */
export function printableConfig(config: ServeConfig): Record<string, unknown> {
  return {
    ...printableCatalogConfig(config),
    ...(config.signingKey !== undefined ? { signingKey: '(set)' } : {}),
    ...(config.adminToken !== undefined ? { adminToken: '(set)' } : {}),
  };
}
