// Segment planning and fragment boxes on made-up tracks: boundaries at keyframes past each
// multiple of the target, the edit list's origin, trun versions and flags, one traf per description run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OutputTrack } from '../../src/compose/composition.js';
import type { Edit } from '../../src/compose/edits.js';
import { fragmentBoxes } from '../../src/compose/fragmented-boxes.js';
import { planSegments } from '../../src/compose/fragmented-plan.js';
import { SYNC_SAMPLE_FLAGS } from '../../src/isobmff/boxes/sample-flags.js';
import { tfdtCodec } from '../../src/isobmff/boxes/tfdt.js';
import { tfhdCodec } from '../../src/isobmff/boxes/tfhd.js';
import { trunCodec } from '../../src/isobmff/boxes/trun.js';
import { leaf, parseBoxTree } from '../../src/isobmff/tree.js';
import { defaultLimits } from '../../src/limits.js';
import type { Track } from '../../src/model/movie.js';
import { SampleTableBuilder } from '../../src/model/sample-table.js';

interface Made {
  frames: number;
  gop: number;
  /** Ticks per frame at timescale 1000. */
  tick?: number;
  offsets?: (i: number) => number;
  description?: (i: number) => number;
  edits?: Edit[] | null;
}

/** A video track of `frames` frames at 25 fps (timescale 1000), a keyframe every `gop`. */
function track(m: Made): OutputTrack {
  const tick = m.tick ?? 40;
  const b = new SampleTableBuilder(1e6);
  const at = b.reserve(m.frames);
  for (let i = 0; i < m.frames; i++) {
    b.decodeTime[at + i] = i * tick;
    b.duration[at + i] = tick;
    b.size[at + i] = 100 + i;
    b.offset[at + i] = i * 1000;
    b.sync[at + i] = i % m.gop === 0 ? 1 : 0;
    b.compositionOffset[at + i] = m.offsets?.(i) ?? 0;
    b.descriptionIndex[at + i] = m.description?.(i) ?? 1;
  }
  const descriptions = [1, 2].map((n) => ({ bytes: new Uint8Array([n]), format: 'avc1', codec: 'avc1.64001e' }));
  const template = { id: 1, kind: 'video', timescale: 1000 } as unknown as Track;
  return {
    id: 1,
    template,
    descriptions: m.description ? descriptions : descriptions.slice(0, 1),
    samples: b.finish(),
    edits: m.edits ?? null,
    prefixes: new Map(),
  };
}

describe('planSegments', () => {
  test('a segment starts at the first keyframe at or after the next multiple past the previous start', () => {
    // Keyframes every 1.2 s: with a 2 s target, 3.6 s is before the multiple 4 s, so 4.8 s starts the third
    // segment, and the next multiple past 4.8 s is 6 s, where a keyframe is.
    const t = track({ frames: 200, gop: 30 });
    const plan = planSegments(t, 2);
    assert.deepEqual([...plan.starts], [0, 60, 120, 150, 200]);
    assert.deepEqual([...plan.decodeTimes], [0, 2400, 4800, 6000]);
    assert.deepEqual([...plan.presentationTimes], [0, 2400, 4800, 6000, 8000]);
    // A target shorter than a GOP: one segment per keyframe.
    assert.deepEqual([...planSegments(t, '1/2').starts], [0, 30, 60, 90, 120, 150, 180, 200]);
    // The default is 4 s.
    assert.deepEqual([...planSegments(t).starts], [0, 120, 200]);
  });

  test('times count from the first edit that shows media, and each segment presents from its earliest frame', () => {
    // B-frames: every frame presented 80 ticks after its decode, the keyframe one frame late; the edit starts at 80.
    const offsets = (i: number) => (i % 25 === 0 ? 80 : i % 25 === 1 ? 120 : 40);
    const t = track({ frames: 100, gop: 25, offsets, edits: [{ mediaTime: 80, duration: 4000 }] });
    const plan = planSegments(t, 2);
    assert.equal(plan.origin, 80);
    // Keyframes every second (presented 80 ticks later): 2 s from the origin is the keyframe decoded at 2 s.
    assert.deepEqual([...plan.starts], [0, 50, 100]);
    assert.equal(plan.presentationTimes[1], 50 * 40 + 80);
  });
});

/** The fragment's boxes followed by a zero payload, so that the mdat parses. */
function withPayload(f: { bytes: Uint8Array; payloadSize: number }): Uint8Array {
  const all = new Uint8Array(f.bytes.length + f.payloadSize);
  all.set(f.bytes);
  return all;
}

describe('fragmentBoxes', () => {
  test('trun version 1 only with a negative offset; first-sample flags for a GOP; data offset at the mdat payload', () => {
    for (const negative of [false, true]) {
      const t = track({ frames: 10, gop: 10, offsets: (i) => (negative ? (i % 2 ? -40 : 40) : i % 2 ? 0 : 80) });
      const f = fragmentBoxes(t, 0, 10, 7);
      const [moof, mdat] = parseBoxTree(withPayload(f), 0, '', { limits: defaultLimits });
      assert.equal(moof?.type, 'moof');
      assert.equal(mdat?.type, 'mdat');
      assert.equal(moof.kind === 'container' && moof.children.length, 2, 'mfhd and one traf');
      const traf = moof.kind === 'container' ? moof.children[1]! : moof;
      const tfhd = leaf(traf, 'tfhd', tfhdCodec)!;
      const trun = leaf(traf, 'trun', trunCodec)!;
      assert.equal(trun.version, negative ? 1 : 0);
      assert.equal(tfhd.flags & 0x20000, 0x20000, 'default-base-is-moof');
      assert.equal(trun.firstSampleFlags, SYNC_SAMPLE_FLAGS);
      assert.equal(trun.sampleFlags, null);
      assert.equal(tfhd.defaultSampleDuration, 40);
      assert.equal(trun.dataOffset, f.bytes.length, 'the samples start right after the mdat header');
      assert.equal(f.size, f.bytes.length + f.payloadSize);
      assert.equal(
        f.payloadSize,
        [...t.samples.size].reduce((a, b) => a + b, 0),
      );
      assert.deepEqual([...(trun.compositionOffsets ?? [])], [...t.samples.compositionOffset]);
    }
  });

  test('a change of sample description starts another traf with its index and decode time', () => {
    const t = track({ frames: 10, gop: 5, description: (i) => (i < 5 ? 1 : 2) });
    const f = fragmentBoxes(t, 0, 10, 1);
    const [moof] = parseBoxTree(withPayload(f), 0, '', { limits: defaultLimits });
    assert.ok(moof?.kind === 'container');
    const trafs = moof.children.filter((n) => n.type === 'traf');
    assert.equal(trafs.length, 2);
    assert.deepEqual(
      trafs.map((traf) => leaf(traf, 'tfhd', tfhdCodec)?.sampleDescriptionIndex),
      [1, 2],
    );
    assert.deepEqual(
      trafs.map((traf) => leaf(traf, 'tfdt', tfdtCodec)?.baseMediaDecodeTime),
      [0, 200],
    );
    const offsets = trafs.map((traf) => leaf(traf, 'trun', trunCodec)?.dataOffset ?? 0);
    assert.equal(offsets[1]! - offsets[0]!, 100 + 101 + 102 + 103 + 104);
  });
});
