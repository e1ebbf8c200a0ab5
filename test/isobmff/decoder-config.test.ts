// Decoder configurations read from hand-made bytes: the cases the fixtures do not reach (PCE,
// explicit SBR/PS, Opus family 1, E-AC-3 extra channels, SPS VUI colour) and damaged boxes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cursor } from '../../src/isobmff/cursor.js';
import { parseAvcSps } from '../../src/isobmff/decoder-config/avcc.js';
import { layoutOfMask, mask } from '../../src/isobmff/decoder-config/channel-layout.js';
import { ac3Channels, parseDac3, parseDec3 } from '../../src/isobmff/decoder-config/dac3.js';
import { opusChannels, parseDops } from '../../src/isobmff/decoder-config/dops.js';
import { aacProfileName, parseAudioSpecificConfig } from '../../src/isobmff/decoder-config/esds.js';
import { describeMedia } from '../../src/isobmff/decoder-config/index.js';

/** Packs bit fields MSB first. */
function bits(fields: [number, number][]): Uint8Array {
  let s = '';
  for (const [v, n] of fields) if (n > 0) s += v.toString(2).padStart(n, '0');
  while (s.length % 8) s += '0';
  return Uint8Array.from(s.match(/.{8}/g) ?? [], (b) => Number.parseInt(b, 2));
}

function box(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setUint32(0, out.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(body, 8);
  return out;
}

function cursor(b: Uint8Array): Cursor {
  return new Cursor(b, 0, 'test');
}

test('AudioSpecificConfig: mono LC, explicit HE-AAC v2, and channels counted from a PCE', () => {
  const mono = parseAudioSpecificConfig(Uint8Array.from([0x12, 0x08]), 'asc', 0);
  assert.deepEqual([mono.objectType, mono.samplingFrequency, mono.channels], [2, 44100, { channels: 1, layout: 'mono' }]);
  // AOT 29 (PS), 24 kHz core, mono, 48 kHz output, core AOT 2.
  const ps = parseAudioSpecificConfig(
    bits([
      [29, 5],
      [6, 4],
      [1, 4],
      [3, 4],
      [2, 5],
    ]),
    'asc',
    0,
  );
  assert.equal(aacProfileName(ps), 'HE-AACv2');
  assert.equal(ps.extensionSamplingFrequency, 48000);
  assert.deepEqual(ps.channels, { channels: 2, layout: 'stereo' }, 'parametric stereo decodes to two channels');
  // channelConfiguration 0: GASpecificConfig then a PCE with a front pair, a front single, a back pair and an LFE.
  const pce = parseAudioSpecificConfig(
    bits([
      ...[
        [2, 5],
        [3, 4],
        [0, 4],
        [0, 3],
      ], // LC, 48 kHz, configuration 0, GASpecificConfig flags
      ...[
        [0, 4],
        [0, 2],
        [3, 4],
        [2, 4],
        [0, 4],
        [1, 4],
        [1, 2],
        [0, 3],
        [0, 4],
        [0, 3],
      ], // PCE counts
      ...[
        [0, 1],
        [0, 4],
        [1, 1],
        [1, 4],
        [1, 1],
        [2, 4],
      ], // front single, front pair, back pair
    ] as [number, number][]),
    'asc',
    0,
  );
  assert.equal(pce.channels?.channels, 6);
});

test('AudioSpecificConfig: backward-compatible SBR and PS (sync extensions 0x2b7 and 0x548 after the core)', () => {
  const asc = (fields: [number, number][]) => parseAudioSpecificConfig(bits(fields), 'asc', 0);
  const core24k = (channels: number): [number, number][] => [
    [2, 5], // LC
    [6, 4], // 24 kHz
    [channels, 4],
    [0, 3], // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag
  ];
  const sbr48k: [number, number][] = [
    [0x2b7, 11],
    [5, 5], // extensionAudioObjectType SBR
    [1, 1], // sbrPresentFlag
    [3, 4], // 48 kHz
  ];
  const he = asc([...core24k(2), ...sbr48k]);
  assert.deepEqual(
    [he.objectType, he.extensionObjectType, he.samplingFrequency, he.extensionSamplingFrequency, aacProfileName(he)],
    [2, 5, 24000, 48000, 'HE-AAC'],
  );
  assert.deepEqual(he.channels, { channels: 2, layout: 'stereo' });
  assert.deepEqual(bits([...core24k(2), ...sbr48k]), Uint8Array.from([0x13, 0x10, 0x56, 0xe5, 0x98]));

  const v2 = asc([...core24k(1), ...sbr48k, [0x548, 11], [1, 1]]);
  assert.deepEqual([v2.extensionObjectType, v2.extensionSamplingFrequency, aacProfileName(v2)], [29, 48000, 'HE-AACv2']);
  assert.deepEqual(v2.channels, { channels: 2, layout: 'stereo' }, 'parametric stereo decodes to two channels');
  assert.equal(asc([...core24k(1), ...sbr48k, [0x548, 11], [0, 1]]).extensionObjectType, 5, 'psPresentFlag 0');

  // sbrPresentFlag 0 (ffmpeg's encoder writes this at 24 kHz and below) and other object types: no extension.
  for (const tail of [
    [
      [0x2b7, 11],
      [5, 5],
      [0, 1],
    ],
    [
      [0x2b7, 11],
      [22, 5],
      [1, 1],
      [3, 4],
    ],
    [
      [0x2b6, 11],
      [5, 5],
      [1, 1],
      [3, 4],
    ],
    [[0x2b7, 11]], // cut short after the sync word
  ] as [number, number][][]) {
    const lc = asc([...core24k(2), ...tail]);
    assert.equal(lc.extensionObjectType, undefined, JSON.stringify(tail));
    assert.equal(lc.extensionSamplingFrequency, undefined);
    assert.equal(aacProfileName(lc), 'LC');
  }

  // After a program_config_element: its element tags, the byte alignment (from the ASC's start)
  // and a comment are skipped to reach the extension.
  const pce = asc([
    [2, 5],
    [3, 4],
    [0, 4],
    [0, 3], // LC, 48 kHz core, configuration 0, GASpecificConfig flags
    ...([
      [0, 4],
      [1, 2],
      [3, 4],
      [1, 4], // one front element
      [0, 4],
      [0, 4],
      [1, 2], // one LFE
      [1, 3], // one data element
      [1, 4], // one coupling element
      [0, 3], // no mixdowns
      [1, 1],
      [0, 4], // front: a pair
      [1, 4], // LFE tag
      [2, 4], // data element tag
      [0, 1],
      [3, 4], // coupling element
      [0, 4], // byte_alignment: 68 bits so far
    ] as [number, number][]),
    [2, 8],
    [0x6869, 16], // comment "hi"
    [0x2b7, 11],
    [5, 5],
    [1, 1],
    [0, 4], // 96 kHz
  ]);
  assert.deepEqual([pce.channels?.channels, pce.extensionObjectType, pce.extensionSamplingFrequency], [3, 5, 96000]);
});

test('Opus mapping family 1 and AC-3 / E-AC-3 layouts as ffmpeg names them', () => {
  const dops = bits([
    [0, 8],
    [6, 8],
    [312, 16],
    [48000, 32],
    [0, 16],
    [1, 8],
    [4, 8],
    [2, 8],
    [0, 8],
    [4, 8],
    [1, 8],
    [2, 8],
    [3, 8],
    [5, 8],
  ]);
  assert.deepEqual(opusChannels(parseDops(cursor(dops))), { channels: 6, layout: '5.1' });
  // fscod 0, bsid 8, bsmod 0, acmod 7 (3/2), lfeon, 384 kbit/s.
  const dac3 = parseDac3(
    cursor(
      bits([
        [0, 2],
        [8, 5],
        [0, 3],
        [7, 3],
        [1, 1],
        [14, 5],
        [0, 5],
      ]),
    ),
  );
  assert.equal(dac3.bitRate, 384);
  assert.deepEqual(ac3Channels(dac3), { channels: 6, layout: '5.1(side)' });
  // One independent substream, 3/2 + LFE, one dependent substream adding the back pair: 7.1.
  const dec3 = parseDec3(
    cursor(
      bits([
        [768, 13],
        [0, 3],
        [0, 2],
        [16, 5],
        [0, 2],
        [0, 3],
        [7, 3],
        [1, 1],
        [0, 3],
        [1, 4],
        [0b010000000, 9],
      ]),
    ),
  );
  assert.deepEqual(ac3Channels(dec3.substreams[0]!), { channels: 8, layout: '7.1' });
  assert.deepEqual(layoutOfMask(mask('FL', 'FR', 'TC')), { channels: 3, layout: '3 channels (FL+FR+TC)' });
});

test('an H.264 SPS with VUI: crop, sample aspect ratio, colour and full range', () => {
  // Baseline SPS for 1920x1080 (68 MBs high, cropped by 4 lines), VUI: SAR 4:3 (idc 14), full range bt709.
  const ue = (v: number): [number, number][] => {
    const n = (v + 1).toString(2).length;
    return [
      [0, n - 1],
      [v + 1, n],
    ];
  };
  const sps = bits([
    [0x67, 8],
    [66, 8],
    [0xc0, 8],
    [40, 8],
    ...ue(0),
    ...ue(0),
    ...ue(2),
    ...ue(1),
    [0, 1],
    ...ue(119),
    ...ue(67),
    [1, 1],
    [1, 1],
    [1, 1],
    ...ue(0),
    ...ue(0),
    ...ue(0),
    ...ue(4),
    [1, 1],
    [1, 1],
    [14, 8],
    [0, 1],
    [1, 1],
    [5, 3],
    [1, 1],
    [1, 1],
    [1, 8],
    [1, 8],
    [1, 8],
    [0, 1],
    [0, 1],
    [1, 1],
  ]);
  const s = parseAvcSps(sps, 'sps', 0);
  assert.deepEqual([s.width, s.height], [1920, 1080]);
  assert.deepEqual(s.sampleAspectRatio, [4, 3]);
  assert.equal(s.fullRange, true);
  assert.deepEqual(s.colour, { primaries: 1, transfer: 1, matrix: 1, fullRange: true });
});

test('a damaged configuration box is named, and the rest of the entry still counts', () => {
  // avc1 entry whose avcC lists an SPS of 32 bytes and holds 1.
  const fields = new Uint8Array(78);
  const v = new DataView(fields.buffer);
  v.setUint16(6, 1);
  v.setUint16(24, 320);
  v.setUint16(26, 240);
  const avcC = box('avcC', Uint8Array.from([1, 100, 0, 30, 0xff, 0xe1, 0x00, 0x20, 0x67]));
  const pasp = box('pasp', Uint8Array.from([0, 0, 0, 4, 0, 0, 0, 3]));
  const d = describeMedia(box('avc1', Uint8Array.from([...fields, ...avcC, ...pasp])));
  assert.deepEqual(d.unreadable, ['avcC']);
  assert.equal(d.codecName, 'h264');
  assert.equal(d.profile, undefined);
  assert.deepEqual(d.sampleAspectRatio, [4, 3], 'pasp is read though avcC is not');
});

test('mutated sample entries of every fixture: a result or a VvfError, quickly', async () => {
  const { ensureFixtures } = await import('../../scripts/fixtures.js');
  const { openMovie } = await import('../../src/demux/open-movie.js');
  const { openSampleEntry } = await import('../../src/isobmff/decoder-config/entry-fields.js');
  const { VvfError } = await import('../../src/errors.js');
  const entries: Uint8Array[] = [];
  for (const f of (await ensureFixtures()).filter((x) => !x.input.endsWith('.mpd'))) {
    const movie = await openMovie(f.input);
    for (const t of movie.tracks) for (const d of t.descriptions) entries.push(d.bytes);
    await Promise.all(movie.sources.map((s) => s.close()));
  }
  let seed = 1;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const started = performance.now();
  let refused = 0;
  for (let round = 0; round < 3000; round++) {
    const entry = Uint8Array.from(entries[round % entries.length]!);
    // Leave the entry's own header alone half the time so the configuration boxes get hit.
    for (let k = 0; k < 1 + random(4); k++) entry[(round % 2 ? 8 : 0) + random(entry.length - 8)] = random(256);
    for (const read of [() => describeMedia(entry), () => openSampleEntry(entry, 0, 'stsd/entry')]) {
      try {
        read();
      } catch (e) {
        if (!(e instanceof VvfError)) throw new Error(`round ${round}: ${String(e)}`);
        refused++;
      }
    }
  }
  assert.ok(refused > 0);
  assert.ok(performance.now() - started < 5000, `${performance.now() - started} ms`);
});
