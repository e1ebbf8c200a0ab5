// For every fixture and stream, the model's samples equal the packets ffprobe reports:
// count, sizes, decode and presentation times, durations, key flags, and byte positions
// where ffprobe reads the same file vvf does.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import type { Movie, Track } from '../../src/model/movie.js';
import { type ProbeStream, probePackets } from '../oracle/ffprobe.js';

const opened: Movie[] = [];

after(async () => {
  for (const m of opened) await Promise.all(m.sources.map((s) => s.close()));
});

/** The first index where the model and ffprobe disagree, described; undefined when they agree. */
function firstMismatch(track: Track, probe: ProbeStream, comparePositions: boolean, fragmented: boolean): string | undefined {
  const s = track.samples;
  if (s.count !== probe.packets.length) return `sample count ${s.count} != ffprobe ${probe.packets.length}`;
  const isAudio = track.kind === 'audio';
  // ffmpeg's mov demuxer presents negative composition offsets by adding the most
  // negative one to every pts (its dts_shift), leaving dts alone.
  let minOffset = 0;
  for (let i = 0; i < s.count; i++) minOffset = Math.min(minOffset, s.compositionOffset[i]!);
  const ptsShift = -minOffset;
  for (let i = 0; i < s.count; i++) {
    const p = probe.packets[i]!;
    const next = probe.packets[i + 1];
    const dts = s.decodeTime[i]!;
    const pts = dts + s.compositionOffset[i]! + ptsShift;
    // ffmpeg's mov demuxer gives a packet the duration `next dts - dts`, and the last one
    // `stream duration - dts`; for fragmented input it leaves out or rewrites some (the
    // first AAC packet, the last packet), since its stream duration is not the sum of the
    // trun durations. Where it differs, the container's duration must equal the gap to
    // the next packet's dts; the last packet of fragmented input has nothing to check against.
    let probeDuration: number | undefined = p.duration;
    if (Number.isNaN(p.duration) || p.duration !== (next ? next.dts - p.dts : p.duration)) {
      probeDuration = next ? next.dts - p.dts : undefined;
    } else if (!next && fragmented) {
      probeDuration = undefined;
    }
    const fields: [string, number | boolean, number | boolean][] = [
      ['size', s.size[i]!, p.size],
      ['dts', dts, p.dts],
      ['pts', pts, p.pts],
      ['duration', s.duration[i]!, probeDuration ?? s.duration[i]!],
      // ffmpeg marks every audio packet as a keyframe, whatever the sample flags say.
      ['key', isAudio ? true : s.sync[i] === 1, p.key],
    ];
    if (comparePositions) fields.push(['pos', s.offset[i]!, p.pos]);
    for (const [name, ours, theirs] of fields) {
      if (ours !== theirs) return `sample ${i}: ${name} ${ours} != ffprobe ${theirs}`;
    }
  }
  return undefined;
}

describe('model equals ffprobe packets', async () => {
  const all = await ensureFixtures();
  for (const fixture of all) {
    test(fixture.name, async () => {
      const movie = await openMovie(fixture.input);
      opened.push(movie);
      assert.equal(movie.tracks.length, fixture.streams.length, 'track count');
      for (const stream of fixture.streams) {
        const track =
          stream.representationId !== undefined
            ? movie.tracks.find((t) => t.representationId === stream.representationId)
            : movie.tracks.find((t) => t.sourceTrackId === stream.trackId);
        assert.ok(track, `a track for ${stream.kind} stream ${stream.representationId ?? stream.trackId}`);
        assert.equal(track.kind, stream.kind);
        const probed = await probePackets(stream.probeFile, { ignoreEditlist: true });
        const probe = probed.find((p) => p.index === stream.probeStreamIndex);
        assert.ok(probe, `ffprobe stream ${stream.probeStreamIndex} of ${stream.probeFile}`);
        assert.equal(track.timescale, probe.timeBase[1], 'timescale is the stream time base');
        const sameFile =
          track.samples.count > 0 && movie.sources[track.samples.sourceIndex[0]!]!.key === realpathSync(stream.probeFile);
        const mismatch = firstMismatch(track, probe, sameFile, movie.layout.kind !== 'progressive');
        assert.equal(mismatch, undefined, `${fixture.name} ${stream.kind}: ${mismatch}`);
      }
    });
  }
});
