// The players of the player page (dash.js, hls.js, Shaka Player): which manifests each plays, and their scripts,
// served by vvf from its own node_modules.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PresentationLayout } from '../compose/presentation-index.js';
import { mpdName, multivariantName, offersDash, offersHls } from '../compose/presentation-paths.js';
import { VvfError } from '../errors.js';

/** The players the page knows. */
export type PlayerName = 'dashjs' | 'hlsjs' | 'shaka';

export const PLAYER_NAMES: readonly PlayerName[] = ['dashjs', 'hlsjs', 'shaka'];

/** What the page needs of a player: its label, the npm package and the one script that holds it. */
export interface PlayerAsset {
  name: PlayerName;
  label: string;
  /** npm package. */
  pkg: string;
  /** Its file name under {@link ASSET_ROUTE}. */
  asset: string;
  /** Manifests it plays. */
  plays: readonly ('dash' | 'hls')[];
}

/** Where the scripts are served: `/assets/<asset>`. */
export const ASSET_ROUTE = '/assets/';

export const PLAYERS: Readonly<Record<PlayerName, PlayerAsset>> = {
  dashjs: { name: 'dashjs', label: 'dash.js', pkg: 'dashjs', asset: 'dash.all.min.js', plays: ['dash'] },
  hlsjs: { name: 'hlsjs', label: 'hls.js', pkg: 'hls.js', asset: 'hls.min.js', plays: ['hls'] },
  shaka: { name: 'shaka', label: 'Shaka Player', pkg: 'shaka-player', asset: 'shaka-player.compiled.js', plays: ['dash', 'hls'] },
};

const require = createRequire(import.meta.url);

/**
 * The script file of a player in node_modules, or undefined when its package is not installed.
 * Each package's main entry is resolved and the browser build found beside it: dashjs's
 * `require` entry is its UMD build, hls.js's is unminified, shaka-player's is the compiled build.
 */
export function playerScriptPath(player: PlayerAsset): string | undefined {
  let main: string;
  try {
    main = require.resolve(player.pkg);
  } catch {
    return undefined;
  }
  const file = join(dirname(main), player.asset);
  return existsSync(file) ? file : undefined;
}

/** Whether the player's package is installed (shaka-player is a development dependency). */
export function playerInstalled(player: PlayerAsset): boolean {
  return playerScriptPath(player) !== undefined;
}

/** The manifests a presentation of `layout` offers, the main one first (as `POST /v` lists them). */
export function presentationManifests(layout: PresentationLayout): string[] {
  const names: string[] = [];
  for (const form of ['segments', 'single'] as const) {
    if (offersDash(layout)) names.push(mpdName(form));
    if (offersHls(layout)) names.push(multivariantName(form));
  }
  return names;
}

/** Whether a manifest is an MPD or an HLS playlist. */
export function manifestFormat(name: string): 'dash' | 'hls' {
  return name.endsWith('.mpd') ? 'dash' : 'hls';
}

/** The manifests of a presentation of `layout` that `player` plays, its default first. */
export function manifestsFor(player: PlayerAsset, layout: PresentationLayout): string[] {
  return presentationManifests(layout)
    .filter((m) => player.plays.includes(manifestFormat(m)))
    .sort((a, b) => player.plays.indexOf(manifestFormat(a)) - player.plays.indexOf(manifestFormat(b)));
}

/**
 * The installed players that play a presentation of `layout`, the default first: dash.js
 * where there is an MPD, else hls.js.
 */
export function playersFor(layout: PresentationLayout): PlayerAsset[] {
  return PLAYER_NAMES.map((n) => PLAYERS[n]).filter((p) => manifestsFor(p, layout).length > 0 && playerInstalled(p));
}

/** The player page of presentation `id`, relative to the server root; no player or manifest: the defaults. */
export function playerPageUrl(id: string, player?: PlayerName, manifest?: string): string {
  const query = new URLSearchParams();
  if (player !== undefined) query.set('player', player);
  if (manifest !== undefined) query.set('manifest', manifest);
  const q = query.toString();
  return `/v/${encodeURIComponent(id)}/${PLAYER_PAGE}${q === '' ? '' : `?${q}`}`;
}

/** The player page's name under a presentation's directory: no part of a presentation ends in `.html`. */
export const PLAYER_PAGE = 'player.html';

interface LoadedAsset {
  body: Buffer;
  etag: string;
}

// A few hundred KB to a MB each; read once per process.
const loaded = new Map<PlayerName, Promise<LoadedAsset>>();

function load(player: PlayerAsset): Promise<LoadedAsset> {
  let p = loaded.get(player.name);
  if (p === undefined) {
    const file = playerScriptPath(player);
    if (file === undefined) {
      throw new VvfError('NOT_FOUND', `${player.pkg} is not installed on this server (npm install ${player.pkg})`);
    }
    p = readFile(file).then((body) => ({
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 24)}"`,
    }));
    p.catch(() => loaded.delete(player.name));
    loaded.set(player.name, p);
  }
  return p;
}

/** Answers `GET /assets/<name>`: a player's script, or 404 naming the package when it is not installed. */
export async function servePlayerAsset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  const player = Object.values(PLAYERS).find((p) => p.asset === name);
  if (!player) {
    const names = Object.values(PLAYERS).map((p) => p.asset);
    throw new VvfError('NOT_FOUND', `no asset ${name} (assets: ${names.join(', ')})`);
  }
  const asset = await load(player);
  const headers = {
    'content-type': 'text/javascript; charset=utf-8',
    etag: asset.etag,
    // The content changes only when the package is upgraded, and then so does the etag.
    'cache-control': 'public, max-age=3600',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
