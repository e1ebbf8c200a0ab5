// inspect's text: edit lists in seconds, a long one summarised (first three, last two, totals).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary } from '../../src/cli/format.js';
import type { EditSummary, MovieSummary, TrackSummary } from '../../src/model/summary.js';

function edit(segmentDuration: number, mediaTime: number): EditSummary {
  return {
    segmentDuration,
    mediaTime,
    rate: 1,
    segmentDurationSeconds: segmentDuration / 1000,
    mediaTimeSeconds: mediaTime === -1 ? null : mediaTime / 48000,
  };
}

function movie(editList: EditSummary[]): MovieSummary {
  const track: TrackSummary = {
    id: 1,
    kind: 'audio',
    codec: 'mp4a.40.2',
    codecName: 'aac',
    profile: 'LC',
    handler: 'soun',
    language: 'eng',
    timescale: 48000,
    startSeconds: 0,
    durationSeconds: 90,
    mediaDurationSeconds: 90.022,
    samples: 10,
    keyframes: 10,
    bytes: 1000,
    bitrate: 64000,
    sampleRate: 48000,
    channelCount: 1,
    channelLayout: 'mono',
    sampleDescriptions: 1,
    editList,
    editTimescale: 1000,
    firstCompositionOffsetSeconds: 0,
    hasNegativeCompositionOffsets: false,
  };
  return {
    input: 'a.mp4',
    layout: {
      kind: 'progressive',
      moovOffset: 0,
      moovSize: 0,
      moovPosition: 'before-mdat',
      fragmentCount: 0,
      sidxCount: 0,
      hasMfra: false,
      segmentCount: 0,
      metadataBytes: 0,
    },
    majorBrand: 'isom',
    compatibleBrands: [],
    timescale: 1000,
    durationSeconds: 90,
    headerDurationSeconds: 90.022,
    sources: 1,
    sampleBytes: 1000,
    tracks: [track],
  };
}

test('short edit lists are listed in seconds; long ones summarised', () => {
  const short = formatSummary(movie([edit(500, -1), edit(90000, 1024)]));
  assert.match(short, /duration 1:30\.000 \(movie header 1:30\.022\)/);
  assert.match(short, /duration 1:30\.000 \(media 1:30\.022\)/);
  assert.match(short, /edit list: empty 0\.500 s, media 0\.021 s for 90\.000 s$/m);
  assert.match(short, /mp4a\.40\.2, 48000 Hz, mono \(1 ch\), language eng/);

  const long = formatSummary(movie(Array.from({ length: 40 }, (_, i) => (i % 2 ? edit(2000, 48000 * i) : edit(250, -1)))));
  const line = long.split('\n').find((l) => l.includes('edit list'))!;
  assert.match(
    line,
    /edit list: 40 edits \(20 empty\), 45\.000 s in all: empty 0\.250 s, media 1\.000 s for 2\.000 s, empty 0\.250 s, … 35 more …, empty 0\.250 s, media 39\.000 s for 2\.000 s$/,
  );
  assert.ok(line.length < 200);
});
