// The player page of a presentation (`/v/<id>/player.html?player=dashjs|hlsjs|shaka&manifest=…`): a <video> driven
// by dash.js, hls.js or Shaka Player, a rendition menu, and what the player reports, kept on `window` for tests.
import type { ServerResponse } from 'node:http';
import type { PresentationLayout } from '../compose/presentation-index.js';
import { VvfError } from '../errors.js';
import { isPresentationFile, presentationFiles } from '../virtual/presentation-file.js';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { escapeHtml, formatBitrate, formatDuration, renderLinks, renderRenditions, STYLE } from './page.js';
import { type PageLink, type PageRendition, pageRenditions } from './page-data.js';
import {
  ASSET_ROUTE,
  manifestsFor,
  PLAYER_NAMES,
  PLAYER_PAGE,
  PLAYERS,
  type PlayerAsset,
  type PlayerName,
  playerInstalled,
  playersFor,
} from './players.js';

/** Everything the player page shows. */
export interface PlayerPage {
  id: string;
  layout: PresentationLayout;
  durationSeconds: number;
  player: PlayerAsset;
  /** The manifest played, relative to the presentation's directory (`manifest.mpd`). */
  manifest: string;
  renditions: PageRendition[];
  /** The other players' pages (and this one's), relative to this page. */
  players: PageLink[];
  /** This player's page for each manifest it plays, relative to this page. */
  manifests: PageLink[];
  /** Seconds the player buffers ahead (`?buffer=`), when not its own default. */
  buffer?: number;
}

/** The most a page may ask a player to buffer ahead, in seconds. */
const MAX_BUFFER_SECONDS = 600;

/**
 * The page data for `GET /v/<id>/player.html`: `player` (default: dash.js where the
 * presentation has an MPD, else hls.js) and `manifest` (default: the player's first one)
 * checked against what is installed and what the presentation offers; `buffer`, seconds
 * to buffer ahead (a short one makes switches and seeks fetch segments, as they do in a long
 * presentation).
 */
export async function playerPageFor(entry: { id: string; file: VirtualFile }, query: URLSearchParams): Promise<PlayerPage> {
  if (!isPresentationFile(entry.file)) {
    throw new VvfError('NOT_FOUND', `${entry.id} is a progressive file: play /v/${entry.id}.mp4 (the index page has it)`);
  }
  const index = (await presentationFiles(entry.file)).index;
  const available = playersFor(index.layout);
  const asked = query.get('player');
  let player: PlayerAsset | undefined;
  if (asked === null) {
    player = available[0];
    if (!player) throw new VvfError('NOT_FOUND', `no player for a ${index.layout} presentation is installed on this server`);
  } else {
    if (!PLAYER_NAMES.includes(asked as PlayerName)) {
      throw new VvfError('USAGE', `player must be one of ${PLAYER_NAMES.join(', ')}, not ${JSON.stringify(asked)}`);
    }
    player = PLAYERS[asked as PlayerName];
    if (!playerInstalled(player)) {
      throw new VvfError('NOT_FOUND', `${player.pkg} is not installed on this server (npm install ${player.pkg})`);
    }
  }
  const playable = manifestsFor(player, index.layout);
  if (playable.length === 0) {
    throw new VvfError(
      'NOT_FOUND',
      `${player.label} plays ${player.plays.join(' or ')} manifests; ${entry.id} is a ${index.layout} presentation (players: ${available.map((p) => p.name).join(', ')})`,
    );
  }
  const manifest = query.get('manifest') ?? playable[0]!;
  if (!playable.includes(manifest)) {
    throw new VvfError(
      'NOT_FOUND',
      `${player.label} plays ${playable.join(', ')} of ${entry.id}, not ${JSON.stringify(manifest)}`,
    );
  }
  const bufferParam = query.get('buffer');
  const buffer = bufferParam === null ? undefined : Number(bufferParam);
  if (buffer !== undefined && !(buffer > 0 && buffer <= MAX_BUFFER_SECONDS)) {
    throw new VvfError('USAGE', `buffer must be seconds, more than 0 and at most ${MAX_BUFFER_SECONDS}`);
  }
  // Switching player keeps the form (segments or single file) when the other player offers it.
  const single = manifest.includes('-single');
  const page = (p: PlayerAsset, m?: string) => {
    const q = new URLSearchParams({ player: p.name });
    if (m !== undefined) q.set('manifest', m);
    if (buffer !== undefined) q.set('buffer', String(buffer));
    return `${PLAYER_PAGE}?${q}`;
  };
  return {
    id: entry.id,
    layout: index.layout,
    durationSeconds: index.duration,
    player,
    manifest,
    renditions: pageRenditions(index),
    players: available.map((p) => ({
      label: p.label,
      url: page(
        p,
        manifestsFor(p, index.layout).find((m) => m.includes('-single') === single),
      ),
    })),
    manifests: playable.map((m) => ({ label: m, url: page(player, m) })),
    ...(buffer !== undefined ? { buffer } : {}),
  };
}

/** Answers `GET /v/<id>/player.html`. */
export async function servePlayerPage(
  res: ServerResponse,
  entry: { id: string; file: VirtualFile },
  query: URLSearchParams,
  head: boolean,
): Promise<void> {
  const html = renderPlayerPage(await playerPageFor(entry, query));
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : html);
}

/**
 * The player page: self-contained but for the player's script, which vvf serves from its
 * node_modules under `/assets/`. Every URL is relative to the page, so that the page works
 * behind a proxy that serves vvf under a path. What the script reads is JSON in a data
 * block, `<` escaped so that no string closes it.
 */
export function renderPlayerPage(p: PlayerPage): string {
  const config = {
    player: p.player.name,
    label: p.player.label,
    manifest: p.manifest,
    buffer: p.buffer ?? null,
    renditions: p.renditions.map((r) => ({ id: r.id, kind: r.kind, width: r.width, height: r.height, bandwidth: r.bandwidth })),
  };
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  const options = p.renditions
    .filter((r) => r.kind === 'video')
    .map(
      (r) =>
        `<option value="${escapeHtml(r.id)}">${escapeHtml(`${r.id} · ${r.width ?? '?'}×${r.height ?? '?'} · ${formatBitrate(r.bandwidth)}`)}</option>`,
    );
  const self = p.manifests.find((m) => m.label === p.manifest)?.url;
  const selfPlayer = p.players.find((l) => l.label === p.player.label)?.url;
  const assets = `../..${ASSET_ROUTE}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vvf — ${escapeHtml(p.id)} with ${escapeHtml(p.player.label)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}${PLAYER_STYLE}</style>
</head>
<body>
<header><h1><a href="../../">vvf</a></h1><p><code>${escapeHtml(p.id)}</code> · ${escapeHtml(p.layout)} · ${escapeHtml(formatDuration(p.durationSeconds))} · <a href="${escapeHtml(p.manifest)}">${escapeHtml(p.manifest)}</a></p></header>
<main>
<section class="file" data-id="${escapeHtml(p.id)}" data-player="${escapeHtml(p.player.name)}">
<video controls muted playsinline preload="auto"></video>
<p class="status" id="status">loading ${escapeHtml(p.player.label)}…</p>
<p class="links"><label>Rendition: <select id="rendition"><option value="">auto (ABR)</option>${options.join('')}</select></label></p>
${renderLinks('Player', 'players', p.players, selfPlayer)}
${renderLinks('Manifest', 'manifests', p.manifests, self)}
${renderRenditions(p.renditions)}
<h3>Events</h3>
<ol class="events" id="events"></ol>
</section>
</main>
<script type="application/json" id="vvf-config">${json}</script>
<script src="${escapeHtml(assets + p.player.asset)}"></script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const PLAYER_STYLE = `
header h1 a { color: inherit; text-decoration: none; }
.status { font: 0.9em ui-monospace, "DejaVu Sans Mono", monospace; color: var(--muted); margin: 0.4em 0; }
.events { font: 0.85em ui-monospace, "DejaVu Sans Mono", monospace; max-height: 16em; overflow: auto; padding-left: 2.5em; }
.events .error { color: #b3261e; }
`;

// Plain browser script. Each player gets a small adapter (its rendition, a way to pick one)
// so that the page's menu and tests drive them alike; the adapters call each player's own API.
// For tests: window.vvfPlayer is the player object; window.vvfEvents what it and the <video>
// reported, {type, detail, fatal, currentTime, at} with type ready, error (fatal: whether the
// player gave up), rendition, select, resize, seeked or ended; window.vvf the adapter
// ({player, version, ready, rendition(), select(id | '')}).
const SCRIPT = `
(() => {
  const config = JSON.parse(document.getElementById('vvf-config').textContent);
  const video = document.querySelector('video');
  const status = document.getElementById('status');
  const menu = document.getElementById('rendition');
  const list = document.getElementById('events');
  const manifestUrl = new URL(config.manifest, location.href).href;
  const videos = config.renditions.filter((r) => r.kind === 'video');
  const events = [];
  const vvf = { player: config.player, version: '', ready: false, rendition: () => undefined, select: () => {} };
  window.vvf = vvf;
  window.vvfEvents = events;
  window.vvfPlayer = null;

  const current = () => {
    try { return vvf.rendition(); } catch (e) { return undefined; }
  };
  const show = () => {
    const parts = [config.label + (vvf.version ? ' ' + vvf.version : ''), vvf.ready ? 'ready' : 'loading'];
    const r = current();
    if (r) parts.push('rendition ' + r);
    if (video.videoWidth) parts.push(video.videoWidth + '×' + video.videoHeight);
    parts.push(video.currentTime.toFixed(1) + ' / ' + (Number.isFinite(video.duration) ? video.duration.toFixed(1) : '?') + ' s');
    status.textContent = parts.join(' · ');
  };
  const record = (type, detail, fatal) => {
    const e = {
      type,
      detail: detail === undefined || detail === null ? '' : String(detail),
      fatal: type === 'error' && fatal !== false,
      currentTime: video.currentTime,
      at: performance.now(),
    };
    events.push(e);
    const li = document.createElement('li');
    li.className = type;
    li.textContent = e.currentTime.toFixed(2) + ' s · ' + type + (e.detail ? ': ' + e.detail : '');
    list.append(li);
    while (list.children.length > 200) list.firstElementChild.remove();
    show();
  };
  const message = (e) => (e && (e.message || e.code)) ? String(e.message || e.code) : String(e);

  // Which rendition of the presentation a player's description of one is: by id (a DASH
  // Representation@id), by playlist URL (v1.m3u8), else by picture size, then bandwidth.
  const renditionOf = (d) => {
    if (!d) return undefined;
    if (d.id && videos.some((r) => r.id === d.id)) return d.id;
    const m = d.url ? /(?:^|\\/)([A-Za-z][A-Za-z0-9_]*)(?:-single)?\\.m3u8(?:[?#].*)?$/.exec(d.url) : null;
    if (m && videos.some((r) => r.id === m[1])) return m[1];
    const same = videos.filter((r) => r.width === d.width && r.height === d.height);
    if (same.length === 1) return same[0].id;
    let best;
    for (const r of same.length > 0 ? same : videos) {
      if (!best || Math.abs(r.bandwidth - d.bandwidth) < Math.abs(best.bandwidth - d.bandwidth)) best = r;
    }
    return best && best.id;
  };

  const startDashjs = (ready) => {
    const D = window.dashjs;
    if (!D) throw new Error('dash.js did not load');
    const on = D.MediaPlayer.events;
    const p = D.MediaPlayer().create();
    window.vvfPlayer = p;
    const rep = (r) => r && { id: r.id, width: r.width, height: r.height, bandwidth: r.bandwidth };
    p.on(on.ERROR, (e) => record('error', message(e.error)));
    p.on(on.PLAYBACK_ERROR, (e) => record('error', 'playback: ' + message(e.error)));
    p.on(on.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType === 'video') record('rendition', renditionOf(rep(e.newRepresentation)) || '');
    });
    p.on(on.STREAM_INITIALIZED, () => ready());
    if (config.buffer) {
      const b = config.buffer;
      p.updateSettings({ streaming: { buffer: { bufferTimeDefault: b, bufferTimeAtTopQuality: b, bufferTimeAtTopQualityLongForm: b } } });
    }
    p.initialize(video, manifestUrl, false);
    // dash.js 5 names representations; 4 numbered qualities.
    const legacy = typeof p.setRepresentationForTypeById !== 'function';
    const bitrates = () => p.getBitrateInfoListFor('video').map((b) => ({ width: b.width, height: b.height, bandwidth: b.bitrate }));
    return {
      version: p.getVersion(),
      rendition: () => renditionOf(legacy ? bitrates()[p.getQualityFor('video')] : rep(p.getCurrentRepresentationForType('video'))),
      select: (id) => {
        p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: !id } } } });
        if (!id) return;
        if (!legacy) p.setRepresentationForTypeById('video', id, true);
        else {
          const i = bitrates().findIndex((b) => renditionOf(b) === id);
          if (i >= 0) p.setQualityFor('video', i, true);
        }
      },
    };
  };

  const startHlsjs = (ready) => {
    const H = window.Hls;
    if (!H) throw new Error('hls.js did not load');
    if (!H.isSupported()) throw new Error('hls.js: this browser has no Media Source Extensions');
    const h = new H(config.buffer ? { maxBufferLength: config.buffer, maxMaxBufferLength: config.buffer } : {});
    window.vvfPlayer = h;
    const level = (i) => {
      const l = h.levels[i];
      return l && { url: l.uri || (Array.isArray(l.url) ? l.url[0] : l.url), width: l.width, height: l.height, bandwidth: l.bitrate };
    };
    h.on(H.Events.ERROR, (_, d) => record('error', d.type + ' ' + d.details + (d.error ? ': ' + message(d.error) : ''), d.fatal));
    h.on(H.Events.LEVEL_SWITCHED, (_, d) => record('rendition', renditionOf(level(d.level)) || ''));
    h.on(H.Events.MANIFEST_PARSED, () => ready());
    h.loadSource(manifestUrl);
    h.attachMedia(video);
    return {
      version: H.version,
      rendition: () => renditionOf(level(h.currentLevel)),
      select: (id) => {
        if (!id) {
          h.currentLevel = -1;
          return;
        }
        // currentLevel switches now, dropping what is buffered of the other level.
        const i = h.levels.findIndex((_, n) => renditionOf(level(n)) === id);
        if (i >= 0) h.currentLevel = i;
      },
    };
  };

  const startShaka = async (ready) => {
    const S = window.shaka;
    if (!S) throw new Error('Shaka Player did not load');
    S.polyfill.installAll();
    if (!S.Player.isBrowserSupported()) throw new Error('Shaka Player does not support this browser');
    const p = new S.Player();
    window.vvfPlayer = p;
    const describe = (t) => t && { id: t.originalVideoId, width: t.width, height: t.height, bandwidth: t.videoBandwidth || t.bandwidth };
    const active = () => p.getVariantTracks().find((t) => t.active);
    p.addEventListener('error', (e) => record('error', 'shaka ' + (e.detail ? e.detail.code : '') + ': ' + message(e.detail)));
    for (const name of ['adaptation', 'variantchanged']) {
      p.addEventListener(name, () => record('rendition', renditionOf(describe(active())) || ''));
    }
    if (config.buffer) p.configure({ streaming: { bufferingGoal: config.buffer } });
    const adapter = {
      version: S.Player.version,
      rendition: () => renditionOf(describe(active())),
      select: (id) => {
        p.configure({ abr: { enabled: !id } });
        if (!id) return;
        const now = active();
        const tracks = p.getVariantTracks().filter((t) => renditionOf(describe(t)) === id);
        const track = tracks.find((t) => now && t.audioId === now.audioId) || tracks[0];
        if (track) p.selectVariantTrack(track, true);
      },
    };
    await p.attach(video);
    await p.load(manifestUrl);
    ready();
    return adapter;
  };

  video.addEventListener('error', () => record('error', 'video: ' + (video.error ? video.error.code + ' ' + video.error.message : '')));
  video.addEventListener('resize', () => record('resize', video.videoWidth + 'x' + video.videoHeight));
  video.addEventListener('seeked', () => record('seeked', video.currentTime.toFixed(3)));
  video.addEventListener('ended', () => record('ended'));
  video.addEventListener('timeupdate', show);
  menu.addEventListener('change', () => vvf.select(menu.value));

  let loaded = false;
  let started = false;
  const ready = () => {
    loaded = true;
    if (started && !vvf.ready) {
      vvf.ready = true;
      record('ready', config.label + ' ' + vvf.version + ', ' + config.manifest);
    }
  };
  const start = { dashjs: startDashjs, hlsjs: startHlsjs, shaka: startShaka }[config.player];
  Promise.resolve()
    .then(() => start(ready))
    .then((adapter) => {
      vvf.version = adapter.version;
      vvf.rendition = adapter.rendition;
      vvf.select = (id) => {
        menu.value = id || '';
        adapter.select(id);
        record('select', id || 'auto');
      };
      started = true;
      if (loaded) ready();
      show();
    })
    .catch((e) => record('error', message(e)));
})();
`;
