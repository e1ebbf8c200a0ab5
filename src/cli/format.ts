import type { MovieSummary, TrackSummary } from '../model/summary.js';

/** Human-readable text for `vvf inspect`. */
export function formatSummary(m: MovieSummary): string {
  const lines: string[] = [];
  const l = m.layout;
  lines.push(`${m.input}`);
  const header =
    Math.abs(m.headerDurationSeconds - m.durationSeconds) >= 0.0005 ? ` (movie header ${seconds(m.headerDurationSeconds)})` : '';
  lines.push(
    `  duration ${seconds(m.durationSeconds)}${header}, brand ${m.majorBrand || '-'}${m.compatibleBrands.length ? ` (${m.compatibleBrands.join(',')})` : ''}`,
  );
  const layout = [`layout ${l.kind}`];
  if (l.kind === 'progressive')
    layout.push(
      `moov ${l.moovPosition === 'before-mdat' ? 'first' : l.moovPosition === 'after-mdat' ? 'last' : 'only'} at ${l.moovOffset} (${l.moovSize} bytes)`,
    );
  else layout.push(`moov at ${l.moovOffset} (${l.moovSize} bytes)`);
  if (l.fragmentCount > 0) layout.push(`${l.fragmentCount} fragments`);
  if (l.segmentCount > 0) layout.push(`${l.segmentCount} segments`);
  if (l.sidxCount > 0) layout.push(`${l.sidxCount} sidx`);
  if (l.hasMfra) layout.push('mfra');
  lines.push(`  ${layout.join(', ')}`);
  lines.push(
    `  ${m.sources} source${m.sources === 1 ? '' : 's'}, ${bytes(m.sampleBytes)} of samples, ${bytes(l.metadataBytes)} of metadata read`,
  );
  for (const t of m.tracks) lines.push(...formatTrack(t));
  return lines.join('\n');
}

/** Edit lists longer than this are shown as their first and last entries. */
const EDITS_SHOWN = 6;

function formatTrack(t: TrackSummary): string[] {
  const head = [`track ${t.id}`, t.kind, t.codec];
  if (t.representationId !== undefined) head.push(`representation ${t.representationId}`);
  if (t.width !== undefined && t.height !== undefined) head.push(`${t.width}x${t.height}`);
  if (t.sampleRate !== undefined) head.push(`${t.sampleRate} Hz`);
  if (t.channelCount !== undefined)
    head.push(t.channelLayout ? `${t.channelLayout} (${t.channelCount} ch)` : `${t.channelCount} ch`);
  head.push(`language ${t.language || 'und'}`);
  const out = [`  ${head.join(', ')}`];
  // What ffprobe says of the stream besides: names, rate, pixels and colour.
  const detail: string[] = [];
  const codec = [t.codecName, t.profile].filter((x) => x !== undefined).join(' ');
  if (codec) detail.push(codec);
  if (t.levelName !== undefined) detail.push(`level ${t.levelName}`);
  if (t.frameRate) detail.push(`${fps(t.frameRate.fps)} fps${t.frameRate.constant ? '' : ' (variable)'}`);
  if (t.pixelFormat !== undefined) detail.push(t.pixelFormat);
  if (t.sampleAspectRatio !== undefined) detail.push(`SAR ${t.sampleAspectRatio}`);
  if (t.colour) {
    const c = t.colour;
    const desc = [c.matrix ?? '-', c.primaries ?? '-', c.transfer ?? '-'].join('/');
    if (c.range) detail.push(`${c.range} range`);
    if (desc !== '-/-/-') detail.push(`colour ${desc} (matrix/primaries/transfer)`);
  }
  if (detail.length > 0) out.push(`    ${detail.join(', ')}`);
  const media =
    Math.abs(t.mediaDurationSeconds - t.durationSeconds) >= 0.0005 ? ` (media ${seconds(t.mediaDurationSeconds)})` : '';
  const stats = [
    `duration ${seconds(t.durationSeconds)}${media}`,
    `${t.samples} sample${t.samples === 1 ? '' : 's'}`,
    `${t.keyframes} keyframe${t.keyframes === 1 ? '' : 's'}`,
    `${kbps(t.bitrate)}`,
    `timescale ${t.timescale}`,
  ];
  // A delayed start (leading empty edits, or a first presentation time after zero) is shown as ffprobe's start_time.
  if (Math.abs(t.startSeconds) >= 0.0005) stats.unshift(`starts at ${t.startSeconds.toFixed(3)} s`);
  out.push(`    ${stats.join(', ')}`);
  if (t.gop) {
    out.push(`    GOP ${t.gop.min}..${t.gop.max} samples, mean ${t.gop.mean.toFixed(1)} (${t.gop.meanSeconds.toFixed(2)} s)`);
  }
  if (t.editList) out.push(`    edit list: ${formatEdits(t.editList)}`);
  if (t.unreadableConfig) out.push(`    unreadable decoder configuration: ${t.unreadableConfig.join(', ')}`);
  if (t.sampleDescriptions > 1) out.push(`    ${t.sampleDescriptions} sample descriptions`);
  if (t.hasNegativeCompositionOffsets) out.push('    negative composition offsets');
  return out;
}

/** Each edit in seconds: `empty 0.500 s` (a delay) or `0.021 s +5.000 s` (media from 0.021 s, for 5 s); long lists summarised. */
function formatEdits(edits: NonNullable<TrackSummary['editList']>): string {
  const one = (e: (typeof edits)[number]): string =>
    e.mediaTimeSeconds === null
      ? `empty ${e.segmentDurationSeconds.toFixed(3)} s`
      : `media ${e.mediaTimeSeconds.toFixed(3)} s for ${e.segmentDurationSeconds.toFixed(3)} s${e.rate !== 1 ? ` at x${e.rate}` : ''}`;
  if (edits.length <= EDITS_SHOWN) return edits.map(one).join(', ');
  const total = edits.reduce((a, e) => a + e.segmentDurationSeconds, 0);
  const empty = edits.filter((e) => e.mediaTimeSeconds === null).length;
  const shown = [...edits.slice(0, 3).map(one), `… ${edits.length - 5} more …`, ...edits.slice(-2).map(one)];
  return `${edits.length} edits (${empty} empty), ${total.toFixed(3)} s in all: ${shown.join(', ')}`;
}

/** Frame rate as ffmpeg prints it: whole numbers plain, else two decimals. */
function fps(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function seconds(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const ss = sec.toFixed(3).padStart(6, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function kbps(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(2)} Mb/s` : `${(bps / 1000).toFixed(0)} kb/s`;
}
