import type { MovieSummary, TrackSummary } from '../model/summary.js';

/** Human-readable text for `vvf inspect`. */
export function formatSummary(m: MovieSummary): string {
  const lines: string[] = [];
  const l = m.layout;
  lines.push(`${m.input}`);
  lines.push(
    `  duration ${seconds(m.durationSeconds)}, brand ${m.majorBrand || '-'}${m.compatibleBrands.length ? ` (${m.compatibleBrands.join(',')})` : ''}`,
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

function formatTrack(t: TrackSummary): string[] {
  const head = [`track ${t.id}`, t.kind, t.codec];
  if (t.representationId !== undefined) head.push(`representation ${t.representationId}`);
  if (t.width !== undefined && t.height !== undefined) head.push(`${t.width}x${t.height}`);
  if (t.sampleRate !== undefined) head.push(`${t.sampleRate} Hz`);
  if (t.channelCount !== undefined) head.push(`${t.channelCount} ch`);
  if (t.language && t.language !== 'und') head.push(t.language);
  const out = [`  ${head.join(', ')}`];
  const stats = [
    `duration ${seconds(t.durationSeconds)}`,
    `${t.samples} samples`,
    `${t.keyframes} keyframes`,
    `${kbps(t.bitrate)}`,
    `timescale ${t.timescale}`,
  ];
  out.push(`    ${stats.join(', ')}`);
  if (t.gop) {
    out.push(`    GOP ${t.gop.min}..${t.gop.max} samples, mean ${t.gop.mean.toFixed(1)} (${t.gop.meanSeconds.toFixed(2)} s)`);
  }
  if (t.editList) {
    const edits = t.editList.map((e) =>
      e.mediaTime === -1
        ? `empty ${e.segmentDuration}`
        : `${e.segmentDuration}@${e.mediaTime}${e.rate !== 1 ? ` x${e.rate}` : ''}`,
    );
    out.push(`    edit list: ${edits.join(', ')}`);
  }
  if (t.sampleDescriptions > 1) out.push(`    ${t.sampleDescriptions} sample descriptions`);
  if (t.hasNegativeCompositionOffsets) out.push('    negative composition offsets');
  return out;
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
