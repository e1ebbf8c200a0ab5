// What the server shows of encode jobs a launcher hands it: the page lists each (state, chunks
// done, who runs what, rungs linked once published, every string escaped) and /metrics counts
// their tasks by state and the seconds their encoders took.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobState } from '../../src/catalog/encode-job.js';
import { MetricsRegistry } from '../../src/catalog/metrics.js';
import { encodeJobMetrics } from '../../src/server/metrics.js';
import { renderIndexPage } from '../../src/server/page.js';

const EVIL = '<script>alert("x")</script>&\'';

function job(overrides: Partial<JobState> = {}): JobState {
  return {
    version: 1,
    fingerprint: 'fp',
    input: `talks/${EVIL}.mp4`,
    started: '2026-01-01T00:00:00.000Z',
    updated: '2026-01-01T00:01:00.000Z',
    state: 'encoding',
    rungs: [
      { name: '720p', width: 1280, height: 720, bitrate: 3_000_000 },
      { name: '360p', width: 640, height: 360, bitrate: 800_000 },
    ],
    plan: { timescale: 1000, cuts: [0, 10_000, 20_000], duration: 30_000, decodeFallback: false },
    tasks: [
      { id: 'audio', state: 'done', attempts: 1, outputs: {}, seconds: 2 },
      { id: 'chunk-0000', state: 'done', attempts: 1, outputs: {}, seconds: 10.5, worker: 'a:1' },
      { id: 'chunk-0001', state: 'running', attempts: 2, outputs: {}, worker: `b:${EVIL}`, error: `exit 1: ${EVIL}` },
      { id: 'chunk-0002', state: 'pending', attempts: 0, outputs: {} },
    ],
    ...overrides,
  };
}

test('the page lists a running job: chunks done of total, who runs what, rungs not yet linked; nothing unescaped', () => {
  const html = renderIndexPage([], [job()]);
  assert.match(html, /1 encode job · 0 virtual files/);
  assert.match(html, /<section class="file job" data-fingerprint="fp" data-state="encoding">/);
  assert.match(html, /1 of 3 chunks done<\/span> · audio done/);
  assert.match(html, /<progress max="3" value="1">/);
  assert.match(html, /Running: chunk-0001 on b:&#60;script&#62;/);
  assert.ok(!html.includes(EVIL), 'no raw string of the job');
  assert.equal(html.match(/<script/g)?.length, 1, "only the page's own script");
  assert.doesNotMatch(html, /player\.html/);
});

test('a published job links each rung to its file and the set to its player page', () => {
  const done = job({
    state: 'done',
    published: { rungs: { '720p': 'r720', '360p': 'r360' }, presentation: 'set1' },
    tasks: job().tasks.map((t) => ({ ...t, state: 'done' as const })),
  });
  const html = renderIndexPage([], [done]);
  assert.match(html, /data-state="done"/);
  assert.match(html, /3 of 3 chunks done/);
  assert.match(html, /<a href="\/v\/r720\.mp4">r720\.mp4<\/a>/);
  assert.match(html, /<a href="\/v\/r360\.mp4">r360\.mp4<\/a>/);
  assert.match(html, /<a href="\/v\/set1\/player\.html">player<\/a>/);
  assert.match(html, /<a href="\/v\/set1\/manifest\.mpd">/);
});

test('/metrics: tasks by state, and encode seconds of the done ones', () => {
  const registry = new MetricsRegistry();
  let jobs: JobState[] = [job()];
  encodeJobMetrics(registry, () => jobs);
  const text = registry.render();
  assert.match(text, /^# TYPE vvf_encode_tasks gauge$/m);
  assert.match(text, /^vvf_encode_tasks\{state="done"\} 2$/m);
  assert.match(text, /^vvf_encode_tasks\{state="running"\} 1$/m);
  assert.match(text, /^vvf_encode_tasks\{state="pending"\} 1$/m);
  assert.match(text, /^vvf_encode_tasks\{state="failed"\} 0$/m);
  assert.match(text, /^vvf_encode_seconds_total 12\.5$/m);
  jobs = [];
  assert.match(registry.render(), /^vvf_encode_tasks\{state="done"\} 0$/m);
});
