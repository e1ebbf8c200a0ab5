// The index page of vvf serve: every virtual file in a <video>, its tracks, and a map of where its bytes come from.
import type { JobState } from '../catalog/encode-job.js';
import type { ByteMapSegment, PageFile, PageLink, PageRendition, PageTrack } from './page-data.js';

export type { ByteMapSegment, PageFile, PageRendition, PageTrack } from './page-data.js';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Width of the byte map's SVG coordinate space. */
const MAP_WIDTH = 1000;
/** Header runs are drawn at least this wide (in map units) so that a few KB of header stay visible. */
const MIN_HEADER_WIDTH = 2;
/** Legend entries shown; the rest are counted. */
const MAX_LEGEND = 48;
const HEADER_COLOUR = '#222831';

/**
 * The index page: self-contained HTML (inline CSS and script, no external asset), every
 * string from the files escaped.
 */
export function renderIndexPage(files: PageFile[], jobs: readonly JobState[] = []): string {
  const listed =
    files.length === 0
      ? `<p class="empty">No virtual files yet. Register one with a recipe:</p>
<pre>curl -X POST http://HOST/v -d '{"tracks":["talk/manifest.mpd"]}'</pre>`
      : files.map(renderFile).join('\n');
  const body = jobs.length > 0 ? `${jobs.map(renderJob).join('\n')}\n${listed}` : listed;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vvf — virtual files</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>vvf</h1><p>${jobs.length > 0 ? `${jobs.length} encode job${jobs.length === 1 ? '' : 's'} · ` : ''}${files.length} virtual file${files.length === 1 ? '' : 's'} · <a href="/v">JSON</a></p></header>
<main>
${body}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function renderFile(f: PageFile): string {
  if (f.presentation !== undefined) return renderPresentation(f);
  const id = escapeHtml(f.id);
  const codecs = f.tracks.map((t) => t.codec).filter((c) => c !== '');
  const type = `video/mp4${codecs.length > 0 ? `; codecs="${codecs.join(', ')}"` : ''}`;
  const duration = Math.max(0, ...f.tracks.map((t) => t.durationSeconds));
  return `<section class="file" id="file-${id}" data-id="${id}">
<h2><a href="${escapeHtml(f.url)}">${id}.mp4</a></h2>
<p class="meta">${escapeHtml(formatBytes(f.size))} (${escapeHtml(f.size.toLocaleString('en-US'))} bytes) · ${escapeHtml(formatDuration(duration))} · etag <code>${escapeHtml(f.etag)}</code> · created ${escapeHtml(f.created)}</p>
<div class="player">
<video controls muted playsinline preload="metadata" data-type="${escapeHtml(type)}">
<source src="${escapeHtml(f.url)}" type="${escapeHtml(type)}">
</video>
<p class="warning" hidden></p>
</div>
${f.error !== undefined ? `<p class="error">Tracks could not be read: ${escapeHtml(f.error)}</p>` : renderTracks(f.tracks)}
${renderByteMap(f)}
</section>`;
}

/**
 * An encode job: its state, chunks done of total, who runs what, and its rungs — once
 * published, each links to its progressive file and the set to its player page.
 */
function renderJob(job: JobState): string {
  const chunks = job.tasks.filter((t) => t.id !== 'audio');
  const done = chunks.filter((t) => t.state === 'done').length;
  const audio = job.tasks.find((t) => t.id === 'audio');
  const running = job.tasks.filter((t) => t.state === 'running');
  const failed = job.tasks.filter((t) => t.state === 'failed' || t.error !== undefined);
  const published = job.published;
  const rows = job.rungs.map((r) => {
    const id = published?.rungs[r.name];
    const file = id !== undefined ? `<a href="/v/${escapeHtml(id)}.mp4">${escapeHtml(id)}.mp4</a>` : '—';
    return `<tr data-rung="${escapeHtml(r.name)}"><td>${escapeHtml(r.name)}</td><td>${r.width}×${r.height}</td><td>${escapeHtml(formatBitrate(r.bitrate))}</td><td>${file}</td></tr>`;
  });
  const set = published?.presentation;
  const links: PageLink[] =
    set !== undefined
      ? [
          { label: 'player', url: `/v/${set}/player.html` },
          { label: 'manifest.mpd', url: `/v/${set}/manifest.mpd` },
          { label: 'manifest.m3u8', url: `/v/${set}/manifest.m3u8` },
        ]
      : [];
  return `<section class="file job" data-fingerprint="${escapeHtml(job.fingerprint)}" data-state="${escapeHtml(job.state)}">
<h2>encode <code>${escapeHtml(job.input)}</code> <span class="layout">${escapeHtml(job.state)}</span></h2>
<p class="meta"><span class="chunks">${done} of ${chunks.length} chunks done</span>${audio ? ` · audio ${escapeHtml(audio.state)}` : ''} · started ${escapeHtml(job.started)} · updated ${escapeHtml(job.updated)}</p>
<progress max="${chunks.length}" value="${done}"></progress>
${running.length > 0 ? `<p class="running">Running: ${running.map((t) => `${escapeHtml(t.id)}${t.worker ? ` on ${escapeHtml(t.worker)}` : ''} (attempt ${t.attempts})`).join(', ')}</p>` : ''}
${failed.map((t) => `<p class="error">${escapeHtml(t.id)}: ${escapeHtml(t.state)}${t.error !== undefined ? `: ${escapeHtml(t.error)}` : ''}</p>`).join('\n')}
${job.failure !== undefined ? `<p class="error">Failed: ${escapeHtml(job.failure)}</p>` : ''}
<table class="tracks rungs">
<thead><tr><th>rung</th><th>picture</th><th>bitrate cap</th><th>published</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${renderLinks('The set', 'players', links)}
</section>`;
}

/** A fragmented presentation: its renditions, manifests and player pages (it has no single file to play in a <video>). */
function renderPresentation(f: PageFile): string {
  const p = f.presentation!;
  const id = escapeHtml(f.id);
  const n = p.renditions.length;
  return `<section class="file presentation" id="file-${id}" data-id="${id}" data-layout="${escapeHtml(p.layout)}">
<h2><a href="${escapeHtml(f.url)}">${id}</a> <span class="layout">${escapeHtml(p.layout)}</span></h2>
<p class="meta">${escapeHtml(formatDuration(p.durationSeconds))} · ${n} rendition${n === 1 ? '' : 's'} · ${escapeHtml(String(p.segmentSeconds))} s segments · package ${escapeHtml(formatBytes(f.size))} · etag <code>${escapeHtml(f.etag)}</code> · created ${escapeHtml(f.created)}</p>
${f.error !== undefined ? `<p class="error">The presentation could not be read: ${escapeHtml(f.error)}</p>` : ''}
${renderLinks('Play with', 'players', p.players)}
${renderLinks('Manifests', 'manifests', p.manifests)}
${renderRenditions(p.renditions)}
${renderByteMap(f)}
</section>`;
}

/** A labelled row of links; `current` (a URL) is marked as the page being shown. */
export function renderLinks(label: string, kind: string, links: PageLink[], current?: string): string {
  if (links.length === 0) return '';
  const items = links.map((l) =>
    l.url === current
      ? `<a href="${escapeHtml(l.url)}" aria-current="page">${escapeHtml(l.label)}</a>`
      : `<a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a>`,
  );
  return `<p class="links ${escapeHtml(kind)}">${escapeHtml(label)}: ${items.join(' · ')}</p>`;
}

/** The renditions of a presentation as a table: id, kind, codec, format, bandwidth, segments. */
export function renderRenditions(renditions: PageRendition[]): string {
  const rows = renditions.map((r) => {
    const format =
      r.width !== undefined && r.height !== undefined
        ? `${r.width}×${r.height}${r.frameRate !== undefined ? ` @ ${formatRate(r.frameRate)} fps` : ''}`
        : r.sampleRate !== undefined
          ? `${r.sampleRate} Hz${r.channels !== undefined ? `, ${r.channels} ch` : ''}`
          : '';
    const language = r.language !== 'und' ? ` (${r.language})` : '';
    return `<tr data-rendition="${escapeHtml(r.id)}"><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.kind + language)}</td><td><code>${escapeHtml(r.codec)}</code></td><td>${escapeHtml(format)}</td><td>${escapeHtml(formatBitrate(r.bandwidth))}</td><td>${escapeHtml(formatBitrate(r.averageBandwidth))}</td><td>${r.segments}</td></tr>`;
  });
  return `<table class="tracks renditions">
<thead><tr><th>rendition</th><th>kind</th><th>codec</th><th>format</th><th>peak</th><th>average</th><th>segments</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

/** `1.08 Mb/s`-style rates (powers of 1000, as bitrates are counted). */
export function formatBitrate(bitsPerSecond: number): string {
  if (bitsPerSecond < 1000) return `${Math.round(bitsPerSecond)} b/s`;
  const kb = bitsPerSecond / 1000;
  if (kb < 1000) return `${kb.toFixed(kb < 10 ? 2 : kb < 100 ? 1 : 0)} kb/s`;
  const mb = kb / 1000;
  return `${mb.toFixed(mb < 10 ? 2 : mb < 100 ? 1 : 0)} Mb/s`;
}

function formatRate(fps: number): string {
  return Number.isInteger(fps) ? String(fps) : fps.toFixed(3);
}

function renderTracks(tracks: PageTrack[]): string {
  const rows = tracks.map((t) => {
    const detail =
      t.width !== undefined && t.height !== undefined
        ? `${t.width}×${t.height}`
        : t.sampleRate !== undefined
          ? `${t.sampleRate} Hz${t.channelCount !== undefined ? `, ${t.channelCount} ch` : ''}`
          : '';
    return `<tr><td>${t.id}</td><td>${escapeHtml(t.kind)}</td><td><code>${escapeHtml(t.codec)}</code></td><td>${escapeHtml(detail)}</td><td>${escapeHtml(formatDuration(t.durationSeconds))}</td></tr>`;
  });
  return `<table class="tracks">
<thead><tr><th>track</th><th>kind</th><th>codec</th><th>format</th><th>duration</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

/** Colour of source `i`: hues a golden angle apart, so neighbours in the list differ. */
export function sourceColour(i: number): string {
  const hue = (i * 137.508 + 200) % 360;
  return `hsl(${hue.toFixed(1)} ${i % 2 === 0 ? 70 : 55}% ${i % 3 === 0 ? 48 : i % 3 === 1 ? 58 : 40}%)`;
}

function segmentTitle(f: PageFile, s: ByteMapSegment): string {
  const range = `bytes ${s.start.toLocaleString('en-US')}–${(s.end - 1).toLocaleString('en-US')} (${formatBytes(s.end - s.start)})`;
  const what =
    s.kind === 'header'
      ? 'header, made by vvf'
      : `${f.sources[s.source ?? 0] ?? `source ${s.source}`}${s.sourceOffset !== undefined ? ` from byte ${s.sourceOffset.toLocaleString('en-US')}` : ''}`;
  const merged = s.mergedBytes ? `; with ${formatBytes(s.mergedBytes)} of other runs too small to draw` : '';
  return `${range}: ${what}${merged}`;
}

function renderByteMap(f: PageFile): string {
  const size = f.size;
  const rect = (s: ByteMapSegment): string => {
    const x = size > 0 ? (s.start / size) * MAP_WIDTH : 0;
    let w = size > 0 ? ((s.end - s.start) / size) * MAP_WIDTH : 0;
    if (s.kind === 'header') w = Math.max(w, MIN_HEADER_WIDTH);
    const fill = s.kind === 'header' ? HEADER_COLOUR : sourceColour(s.source ?? 0);
    const kind = s.kind === 'header' ? 'header' : `source-${s.source ?? 0}`;
    return `<rect x="${x.toFixed(3)}" y="0" width="${w.toFixed(3)}" height="1" fill="${escapeHtml(fill)}" data-kind="${kind}"><title>${escapeHtml(segmentTitle(f, s))}</title></rect>`;
  };
  // Header runs last, so their minimum width draws over their neighbours rather than under.
  const rects = [...f.byteMap.filter((s) => s.kind !== 'header'), ...f.byteMap.filter((s) => s.kind === 'header')].map(rect);

  const headerBytes = f.headerBytes ?? f.byteMap.reduce((a, s) => a + (s.kind === 'header' ? s.end - s.start : 0), 0);
  const perSource =
    f.sourceBytes ??
    f.byteMap.reduce<number[]>((a, s) => {
      if (s.kind === 'source') a[s.source ?? 0] = (a[s.source ?? 0] ?? 0) + (s.end - s.start);
      return a;
    }, []);
  const used = f.sources.map((name, i) => ({ name, i, bytes: perSource[i] ?? 0 })).filter((s) => s.bytes > 0);
  const drawn = new Set(f.byteMap.filter((s) => s.kind === 'source').map((s) => s.source ?? 0));
  const share = (b: number) => (size > 0 ? `${((100 * b) / size).toFixed(b / size < 0.01 ? 2 : 1)}%` : '');
  const legend = [
    `<li><span class="swatch" style="background:${HEADER_COLOUR}"></span>header (made by vvf) <span class="n">${escapeHtml(formatBytes(headerBytes))} · ${escapeHtml(share(headerBytes))}</span></li>`,
    ...used
      .slice(0, MAX_LEGEND)
      .map(
        (s) =>
          `<li><span class="swatch" style="background:${escapeHtml(sourceColour(s.i))}"></span>${escapeHtml(s.name)} <span class="n">${escapeHtml(formatBytes(s.bytes))} · ${escapeHtml(share(s.bytes))}${drawn.has(s.i) ? '' : ' · too small to see on the map'}</span></li>`,
      ),
    ...(used.length > MAX_LEGEND ? [`<li class="more">and ${used.length - MAX_LEGEND} more sources</li>`] : []),
  ];
  return `<figure class="bytemap">
<figcaption>Byte map: where each byte of the file comes from (${used.length} source${used.length === 1 ? '' : 's'})</figcaption>
<svg viewBox="0 0 ${MAP_WIDTH} 1" preserveAspectRatio="none" role="img" aria-label="byte map of ${escapeHtml(f.id)}">
${rects.join('\n')}
</svg>
<div class="axis"><span>0</span><span>${escapeHtml(formatBytes(size / 2))}</span><span>${escapeHtml(formatBytes(size))}</span></div>
<p class="detail">Point at the map for the byte ranges.</p>
<ul class="legend">
${legend.join('\n')}
</ul>
</figure>`;
}

/** `1.5 MB`-style sizes (powers of 1024, as ls -h). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0 s';
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = (seconds % 60).toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** The pages' style sheet (the player page uses it too). */
export const STYLE = `
:root { color-scheme: light dark; --fg: #1d1f23; --bg: #fafaf8; --muted: #666; --line: #ddd; --card: #fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --bg: #16181c; --muted: #9a9a9a; --line: #333; --card: #1e2126; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1em; padding: 0.8em 1.5em; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 1.4em; }
header p { margin: 0; color: var(--muted); }
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em 3em; }
a { color: #2a6fdb; }
code { font: 0.9em ui-monospace, "DejaVu Sans Mono", monospace; }
.file { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1em 1.2em; margin: 1.2em 0; }
.file h2 { margin: 0 0 0.2em; font-size: 1.15em; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.meta { margin: 0 0 0.8em; color: var(--muted); font-size: 0.9em; overflow-wrap: anywhere; }
video { width: 100%; max-height: 60vh; background: #000; border-radius: 4px; display: block; }
.warning, .error { color: #b3261e; }
table.tracks { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
table.tracks th, table.tracks td { text-align: left; padding: 0.25em 1em 0.25em 0; border-bottom: 1px solid var(--line); }
table.tracks th { color: var(--muted); font-weight: 600; }
.bytemap { margin: 0.8em 0 0; }
.bytemap figcaption { font-weight: 600; margin-bottom: 0.3em; }
.bytemap svg { width: 100%; height: 36px; display: block; border: 1px solid var(--line); border-radius: 3px; background: repeating-linear-gradient(45deg, #8882 0 4px, transparent 4px 8px); }
.bytemap rect:hover { opacity: 0.7; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 0.8em; }
.detail { min-height: 1.4em; margin: 0.2em 0; font-size: 0.88em; color: var(--muted); }
.legend { list-style: none; padding: 0; margin: 0.3em 0 0; display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; font-size: 0.88em; }
.legend .n { color: var(--muted); }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; vertical-align: -0.1em; margin-right: 0.35em; }
.empty { color: var(--muted); }
.layout { font: 600 0.7em system-ui, sans-serif; text-transform: uppercase; color: var(--muted); border: 1px solid var(--line); border-radius: 3px; padding: 0 0.35em; vertical-align: 0.15em; }
.links { margin: 0.3em 0; font-size: 0.92em; }
.links a[aria-current] { font-weight: 600; color: inherit; text-decoration: none; }
.job progress { width: 100%; }
`;

// Plain browser script: warns when the browser can't play a file's codecs, and shows the
// byte range under the pointer (an SVG <title> tooltip takes a while to appear).
const SCRIPT = `
for (const section of document.querySelectorAll('section.file')) {
  const video = section.querySelector('video');
  const warning = section.querySelector('.warning');
  if (video && warning && video.canPlayType(video.dataset.type || 'video/mp4') === '') {
    warning.textContent = 'This browser says it cannot play ' + (video.dataset.type || 'video/mp4') + '.';
    warning.hidden = false;
  }
  if (video && warning) {
    video.addEventListener('error', () => {
      warning.textContent = 'Playback failed' + (video.error && video.error.message ? ': ' + video.error.message : '.');
      warning.hidden = false;
    });
  }
  const detail = section.querySelector('.detail');
  const svg = section.querySelector('.bytemap svg');
  if (detail && svg) {
    const initial = detail.textContent;
    svg.addEventListener('mouseover', (e) => {
      const title = e.target instanceof SVGRectElement ? e.target.querySelector('title') : null;
      if (title) detail.textContent = title.textContent;
    });
    svg.addEventListener('mouseleave', () => { detail.textContent = initial; });
  }
}
`;
