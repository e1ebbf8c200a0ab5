import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VvfError } from '../../src/errors.js';
import { stsdCodec } from '../../src/isobmff/boxes/stsd.js';
import { encodeBox } from '../../src/isobmff/codec.js';
import { Cursor } from '../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../src/isobmff/header.js';
import { describeSampleEntry } from '../../src/isobmff/sample-entry.js';

// ---- byte builders ----

const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const fourcc = (s: string): number[] => [...s].map((ch) => ch.charCodeAt(0));
const box = (type: string, ...parts: number[][]): number[] => {
  const payload = parts.flat();
  return [...u32(8 + payload.length), ...fourcc(type), ...payload];
};
const fullBox = (type: string, version: number, flags: number, ...parts: number[][]): number[] =>
  box(type, [version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff], ...parts);

function visualEntry(type: string, width: number, height: number, ...children: number[][]): number[] {
  return box(
    type,
    [...zeros(6), ...u16(1), ...zeros(16), ...u16(width), ...u16(height)],
    [...u32(0x00480000), ...u32(0x00480000), ...zeros(4), ...u16(1), ...zeros(32), ...u16(0x18), 0xff, 0xff],
    ...children,
  );
}

interface AudioFields {
  version?: number;
  channels?: number;
  rate?: number;
  /** Bytes between the samplerate field and the child boxes (QuickTime v1/v2 extensions). */
  extension?: number[];
}

function audioEntry(type: string, f: AudioFields, ...children: number[][]): number[] {
  return box(
    type,
    [...zeros(6), ...u16(1), ...u16(f.version ?? 0), ...zeros(6), ...u16(f.channels ?? 2), ...u16(16), ...zeros(4)],
    u32((f.rate ?? 48000) * 65536),
    f.extension ?? [],
    ...children,
  );
}

/** An MPEG-4 descriptor; `sizeBytes` > 1 pads the size with 0x80 continuation bytes as many writers do. */
function descriptor(tag: number, body: number[], sizeBytes = 1): number[] {
  const size: number[] = [];
  for (let i = sizeBytes - 1; i >= 0; i--) size.push(((body.length >>> (7 * i)) & 0x7f) | (i > 0 ? 0x80 : 0));
  return [tag, ...size, ...body];
}

function esds(oti: number, dsi: number[] | undefined, esPrefix: number[] = [0, 1, 0], sizeBytes = 1): number[] {
  const config = [oti, 0x15, ...zeros(3), ...u32(128000), ...u32(128000), ...(dsi ? descriptor(5, dsi, sizeBytes) : [])];
  return fullBox(
    'esds',
    0,
    0,
    descriptor(3, [...esPrefix, ...descriptor(4, config, sizeBytes), ...descriptor(6, [2], sizeBytes)], sizeBytes),
  );
}

const avcC = (profile: number, compat: number, level: number): number[] =>
  box('avcC', [1, profile, compat, level, 0xff, 0xe1, ...u16(4), 0x67, profile, compat, level, 1, ...u16(2), 0x68, 0xce]);

function hvcC(profileByte: number, compat: number, constraints: number[], level: number): number[] {
  return box('hvcC', [1, profileByte, ...u32(compat), ...constraints, level, 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0]);
}

const colrNclx = (p: number, t: number, m: number, full: number): number[] =>
  box('colr', fourcc('nclx'), u16(p), u16(t), u16(m), [full << 7]);

function expectVvf(fn: () => unknown, code: string, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  });
}

const describe = (bytes: number[], base = 0) => describeSampleEntry(new Uint8Array(bytes), base, 'stsd/entry');

// ---- visual entries ----

test('avc1: avcC gives avc1.PPCCLL in lower-case hex, dimensions and child boxes', () => {
  const info = describe(
    visualEntry('avc1', 1920, 1080, avcC(0x64, 0x00, 0x1f), box('pasp', u32(1), u32(1)), box('btrt', zeros(12))),
  );
  assert.equal(info.format, 'avc1');
  assert.equal(info.kind, 'video');
  assert.equal(info.codec, 'avc1.64001f');
  assert.equal(info.width, 1920);
  assert.equal(info.height, 1080);
  assert.deepEqual(info.boxes, ['avcC', 'pasp', 'btrt']);
  assert.equal(info.encrypted, false);
  assert.equal(info.originalFormat, undefined);
  assert.equal(info.channelCount, undefined);
});

test('avc3 keeps its own fourcc as the prefix; constraint flags are kept', () => {
  assert.equal(describe(visualEntry('avc3', 640, 360, avcC(0x42, 0xc0, 0x1e))).codec, 'avc3.42c01e');
});

test('hvc1: Main profile at level 3.1 gives the standard example hvc1.1.6.L93.B0', () => {
  // compatibility flags 1 and 2 are bits 30 and 29 of the field; reversed they read 6.
  const info = describe(visualEntry('hvc1', 1280, 720, hvcC(0x01, 0x60000000, [0xb0, 0, 0, 0, 0, 0], 93)));
  assert.equal(info.codec, 'hvc1.1.6.L93.B0');
  assert.deepEqual(info.boxes, ['hvcC']);
});

test('hev1: profile space letter, high tier, inner zero constraint bytes kept, trailing ones dropped', () => {
  // space 1 (A), tier 1, profile 4; compatibility flag 4 only; constraints B0 03 00 00 01 00.
  const info = describe(visualEntry('hev1', 64, 64, hvcC(0x64, 0x08000000, [0xb0, 0x03, 0, 0, 0x01, 0], 120)));
  assert.equal(info.codec, 'hev1.A4.10.H120.B0.3.0.0.1');
});

test('hvc1 with all constraint bytes zero has no constraint fields', () => {
  assert.equal(describe(visualEntry('hvc1', 64, 64, hvcC(0x02, 0x20000000, zeros(6), 150))).codec, 'hvc1.2.4.L150');
});

test('vp09: version 1 vpcC gives the full two-digit form', () => {
  // profile 2, level 4.1, 10 bits, 4:2:0 colocated (1), full range, BT.2020 PQ.
  const vpcC = fullBox('vpcC', 1, 0, [2, 41, (10 << 4) | (1 << 1) | 1, 9, 16, 9, ...u16(0)]);
  assert.equal(describe(visualEntry('vp09', 3840, 2160, vpcC)).codec, 'vp09.02.41.10.01.09.16.09.01');
});

test('vp09: a version 0 vpcC (draft layout) gives only the mandatory fields', () => {
  const vpcC = fullBox('vpcC', 0, 0, [0, 31, (8 << 4) | 1, (1 << 4) | 0, 0, ...u16(0)]);
  assert.equal(describe(visualEntry('vp09', 64, 64, vpcC)).codec, 'vp09.00.31.08');
});

/** av1C's four fixed bytes. */
function av1CHead(
  profile: number,
  level: number,
  tier: number,
  bits: number,
  mono: number,
  sx: number,
  sy: number,
  csp: number,
): number[] {
  const high = bits > 8 ? 1 : 0;
  const twelve = bits === 12 ? 1 : 0;
  return [0x81, (profile << 5) | level, (tier << 7) | (high << 6) | (twelve << 5) | (mono << 4) | (sx << 3) | (sy << 2) | csp, 0];
}

test('av01: the standard example av01.0.04M.10.0.112.09.16.09.0 from av1C and an nclx colr', () => {
  const info = describe(visualEntry('av01', 64, 64, box('av1C', av1CHead(0, 4, 0, 10, 0, 1, 1, 2)), colrNclx(9, 16, 9, 0)));
  assert.equal(info.codec, 'av01.0.04M.10.0.112.09.16.09.0');
  assert.deepEqual(info.boxes, ['av1C', 'colr']);
});

test('av01: an nclx colr after an ICC colr still sets the colour', () => {
  const icc = box('colr', fourcc('prof'), zeros(16));
  const info = describe(visualEntry('av01', 64, 64, box('av1C', av1CHead(0, 4, 0, 10, 0, 1, 1, 2)), icc, colrNclx(9, 16, 9, 1)));
  assert.equal(info.codec, 'av01.0.04M.10.0.112.09.16.09.1');
});

test('av01: default colour and 4:2:0 with unknown sample position give the short form', () => {
  assert.equal(describe(visualEntry('av01', 64, 64, box('av1C', av1CHead(0, 8, 0, 8, 0, 1, 1, 0)))).codec, 'av01.0.08M.08');
});

test('av01: a non-default chroma sample position keeps the full form even with default colour', () => {
  assert.equal(
    describe(visualEntry('av01', 64, 64, box('av1C', av1CHead(0, 4, 0, 10, 0, 1, 1, 2)))).codec,
    'av01.0.04M.10.0.112.01.01.01.0',
  );
});

/** Writes bits MSB first, for building AV1 sequence headers. */
class Bits {
  private readonly bits: number[] = [];
  put(value: number, n: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  bytes(): number[] {
    // trailing_bits: a one, then zeros to the byte boundary.
    const b = [...this.bits, 1];
    while (b.length % 8) b.push(0);
    const out: number[] = [];
    for (let i = 0; i < b.length; i += 8) out.push(b.slice(i, i + 8).reduce((v, x) => v * 2 + (x ?? 0), 0));
    return out;
  }
}

/** An OBU with has_size_field set (and an extension header when asked). */
function obu(type: number, payload: number[], extension = false): number[] {
  return [(type << 3) | (extension ? 0x04 : 0) | 0x02, ...(extension ? [0x20] : []), payload.length, ...payload];
}

test('av01: a full sequence header with timing, decoder model and two operating points', () => {
  const b = new Bits()
    .put(0, 3) // seq_profile
    .put(0, 1) // still_picture
    .put(0, 1) // reduced_still_picture_header
    .put(1, 1) // timing_info_present_flag
    .put(1, 32) // num_units_in_display_tick
    .put(25, 32) // time_scale
    .put(1, 1) // equal_picture_interval
    .put(1, 1) // num_ticks_per_picture_minus_1 = uvlc 0
    .put(1, 1) // decoder_model_info_present_flag
    .put(9, 5) // buffer_delay_length_minus_1
    .put(1, 32) // num_units_in_decoding_tick
    .put(0, 5) // buffer_removal_time_length_minus_1
    .put(0, 5) // frame_presentation_time_length_minus_1
    .put(1, 1) // initial_display_delay_present_flag
    .put(1, 5) // operating_points_cnt_minus_1
    .put(0x101, 12) // operating_point_idc[0]
    .put(12, 5) // seq_level_idx[0] (> 7, so a tier bit follows)
    .put(1, 1) // seq_tier[0]
    .put(1, 1) // decoder_model_present_for_this_op[0]
    .put(5, 10) // decoder_buffer_delay
    .put(5, 10) // encoder_buffer_delay
    .put(0, 1) // low_delay_mode_flag
    .put(1, 1) // initial_display_delay_present_for_this_op[0]
    .put(3, 4) // initial_display_delay_minus_1
    .put(0x001, 12) // operating_point_idc[1]
    .put(5, 5) // seq_level_idx[1]
    .put(0, 1) // decoder_model_present_for_this_op[1]
    .put(0, 1) // initial_display_delay_present_for_this_op[1]
    .put(5, 4) // frame_width_bits_minus_1
    .put(5, 4) // frame_height_bits_minus_1
    .put(63, 6) // max_frame_width_minus_1
    .put(63, 6) // max_frame_height_minus_1
    .put(1, 1) // frame_id_numbers_present_flag
    .put(0, 4) // delta_frame_id_length_minus_2
    .put(0, 3) // additional_frame_id_length_minus_1
    .put(0b111, 3) // 128x128 superblock, filter intra, intra edge filter
    .put(0b1111, 4) // interintra, masked compound, warped motion, dual filter
    .put(1, 1) // enable_order_hint
    .put(0b11, 2) // jnt_comp, ref_frame_mvs
    .put(0, 1) // seq_choose_screen_content_tools
    .put(1, 1) // seq_force_screen_content_tools
    .put(0, 1) // seq_choose_integer_mv
    .put(1, 1) // seq_force_integer_mv
    .put(6, 3) // order_hint_bits_minus_1
    .put(0b111, 3) // superres, cdef, restoration
    .put(1, 1) // high_bitdepth
    .put(0, 1) // mono_chrome
    .put(1, 1) // color_description_present_flag
    .put(9, 8)
    .put(16, 8)
    .put(9, 8)
    .put(1, 1) // color_range
    .put(1, 2) // chroma_sample_position: vertical
    .put(0, 1) // separate_uv_delta_q
    .put(0, 1); // film_grain_params_present
  // av1C's own fields disagree on purpose: the sequence header wins.
  const config = [...av1CHead(0, 0, 0, 8, 0, 1, 1, 0), ...obu(5, [1, 2, 3], true), ...obu(1, b.bytes())];
  assert.equal(describe(visualEntry('av01', 64, 64, box('av1C', config))).codec, 'av01.0.12H.10.0.111.09.16.09.1');
});

test('av01: a reduced still-picture header in profile 1 with sRGB colour', () => {
  const b = new Bits()
    .put(1, 3) // seq_profile
    .put(1, 1) // still_picture
    .put(1, 1) // reduced_still_picture_header
    .put(5, 5) // seq_level_idx[0]
    .put(3, 4)
    .put(3, 4)
    .put(15, 4)
    .put(15, 4) // frame size bits and sizes
    .put(0, 3) // superblock / intra tools
    .put(0, 3) // superres, cdef, restoration
    .put(0, 1) // high_bitdepth (profile 1 has no mono_chrome bit)
    .put(1, 1) // color_description_present_flag
    .put(1, 8)
    .put(13, 8)
    .put(0, 8) // BT.709 primaries, sRGB transfer, identity matrix: 4:4:4 full range, nothing more coded
    .put(0, 1); // separate_uv_delta_q
  const config = [...av1CHead(1, 5, 0, 8, 0, 0, 0, 0), ...obu(1, b.bytes())];
  assert.equal(describe(visualEntry('av01', 16, 16, box('av1C', config))).codec, 'av01.1.05M.08.0.000.01.13.00.1');
});

test('av01: a monochrome sequence header without colour description', () => {
  const b = new Bits()
    .put(0, 3)
    .put(0, 1)
    .put(1, 1)
    .put(4, 5) // profile 0, reduced, level 4
    .put(3, 4)
    .put(3, 4)
    .put(15, 4)
    .put(15, 4)
    .put(0, 6)
    .put(0, 1) // high_bitdepth
    .put(1, 1) // mono_chrome
    .put(0, 1) // color_description_present_flag
    .put(0, 1) // color_range
    .put(0, 1);
  const config = [...av1CHead(0, 4, 0, 8, 1, 1, 1, 0), ...obu(1, b.bytes())];
  assert.equal(describe(visualEntry('av01', 16, 16, box('av1C', config))).codec, 'av01.0.04M.08.1.110.01.01.01.0');
});

test('av01: a truncated sequence header is BOX_OVERRUN', () => {
  const config = [...av1CHead(0, 4, 0, 8, 0, 1, 1, 0), ...obu(1, [0x00])];
  expectVvf(() => describe(visualEntry('av01', 16, 16, box('av1C', config))), 'BOX_OVERRUN');
  const past = [...av1CHead(0, 4, 0, 8, 0, 1, 1, 0), 0x0a, 0x05, 0x00];
  expectVvf(() => describe(visualEntry('av01', 16, 16, box('av1C', past))), 'BOX_OVERRUN');
});

test('mp4v: esds gives mp4v.20.<profile_and_level_indication>', () => {
  const vos = [0, 0, 1, 0xb0, 0xf5, 0, 0, 1, 0xb5];
  assert.equal(describe(visualEntry('mp4v', 64, 64, esds(0x20, vos))).codec, 'mp4v.20.245');
});

test('a visual entry with no child boxes, or only a QuickTime terminator, is tolerated', () => {
  const bare = describe(visualEntry('avc1', 320, 240));
  assert.equal(bare.codec, 'avc1');
  assert.deepEqual(bare.boxes, []);
  assert.equal(bare.width, 320);
  const terminated = describe(visualEntry('avc1', 320, 240, avcC(0x4d, 0x40, 0x1f), zeros(4)));
  assert.equal(terminated.codec, 'avc1.4d401f');
  assert.deepEqual(terminated.boxes, ['avcC']);
});

// ---- audio entries ----

test('mp4a: AAC-LC from esds, channel count and the 16.16 sample rate', () => {
  const info = describe(audioEntry('mp4a', { channels: 2, rate: 44100 }, esds(0x40, [0x12, 0x10]), box('btrt', zeros(12))));
  assert.equal(info.kind, 'audio');
  assert.equal(info.codec, 'mp4a.40.2');
  assert.equal(info.channelCount, 2);
  assert.equal(info.sampleRate, 44100);
  assert.deepEqual(info.boxes, ['esds', 'btrt']);
  assert.equal(info.width, undefined);
});

test('mp4a: escaped audio object type (31 → 32 + 6 bits), 4-byte descriptor sizes and all ES flags', () => {
  // AOT 42 (USAC): 11111 001010 …
  const es = [0, 1, 0x80 | 0x40 | 0x20 | 3, ...u16(7), 3, ...fourcc('abc'), ...u16(9)];
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0xf9, 0x40, 0x00], es, 4))).codec, 'mp4a.40.42');
});

test('mp4a: HE-AAC explicit signalling gives the first object type (5)', () => {
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0x2b, 0x8a, 0x08, 0x00]))).codec, 'mp4a.40.5');
});

test('mp4a: backward-compatible HE-AAC (LC core, then sync extension 0x2b7) is mp4a.40.5, with PS mp4a.40.29', () => {
  // LC, 24 kHz, stereo; 0x2b7, SBR, sbrPresentFlag 1, 48 kHz.
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0x13, 0x10, 0x56, 0xe5, 0x98]))).codec, 'mp4a.40.5');
  // What ffmpeg's encoder writes at 24 kHz: the same extension with sbrPresentFlag 0 (no SBR): LC.
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0x13, 0x10, 0x56, 0xe5, 0x00]))).codec, 'mp4a.40.2');
  // LC, 24 kHz, mono; 0x2b7 SBR 48 kHz; 0x548 psPresentFlag 1.
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0x13, 0x08, 0x56, 0xe5, 0x9d, 0x48, 0x80]))).codec, 'mp4a.40.29');
  // A configuration cut short still names its first object type.
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x40, [0x13]))).codec, 'mp4a.40.2');
});

test('mp4a: objectTypeIndication other than 0x40 is lower-case hex with no object type', () => {
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x6b, undefined))).codec, 'mp4a.6b');
  assert.equal(describe(audioEntry('mp4a', {}, esds(0x67, [0x12, 0x10]))).codec, 'mp4a.67');
});

test('mp4a: QuickTime sound v1 with the esds inside a wave atom', () => {
  const wave = box('wave', box('frma', fourcc('mp4a')), box('mp4a', zeros(4)), esds(0x40, [0x11, 0x90]), [
    ...u32(8),
    ...zeros(4),
  ]);
  const info = describe(
    audioEntry(
      'mp4a',
      { version: 1, channels: 2, rate: 48000, extension: [...u32(1024), ...u32(0), ...u32(4), ...u32(2)] },
      wave,
    ),
  );
  assert.equal(info.codec, 'mp4a.40.2');
  assert.equal(info.sampleRate, 48000);
  assert.deepEqual(info.boxes, ['wave']);
});

test('lpcm: QuickTime sound v2 takes the float64 rate and the 32-bit channel count', () => {
  const rate = new Uint8Array(8);
  new DataView(rate.buffer).setFloat64(0, 96000);
  const extension = [...u32(72), ...rate, ...u32(6), ...u32(0x7f000000), ...u32(24), ...u32(0x0c), ...u32(18), ...u32(1)];
  const info = describe(audioEntry('lpcm', { version: 2, channels: 3, rate: 1, extension }));
  assert.equal(info.sampleRate, 96000);
  assert.equal(info.channelCount, 6);
  assert.equal(info.codec, 'lpcm');
});

test('mp4a: ISO AudioSampleEntryV1 (children right after the fields) and its srat box', () => {
  const srat = fullBox('srat', 0, 0, u32(192000));
  const info = describe(audioEntry('mp4a', { version: 1, channels: 2, rate: 0 }, srat, esds(0x40, [0x11, 0x90])));
  assert.equal(info.sampleRate, 192000);
  assert.equal(info.codec, 'mp4a.40.2');
  assert.deepEqual(info.boxes, ['srat', 'esds']);
});

test('Opus, ac-3, ec-3, fLaC codec strings; Opus keeps the entry rate, not dOps InputSampleRate', () => {
  const dOps = box('dOps', [0, 2, ...u16(312), ...u32(44100), ...u16(0), 0]);
  const opus = describe(audioEntry('Opus', { channels: 2, rate: 48000 }, dOps));
  assert.equal(opus.codec, 'opus');
  assert.equal(opus.sampleRate, 48000);
  assert.equal(describe(audioEntry('ac-3', {}, box('dac3', [0x10, 0x3d, 0xe0]))).codec, 'ac-3');
  assert.equal(describe(audioEntry('ec-3', {}, box('dec3', [0x01, 0x40, 0x20, 0x0f, 0x00]))).codec, 'ec-3');
  assert.equal(describe(audioEntry('fLaC', {}, fullBox('dfLa', 0, 0, zeros(38)))).codec, 'flac');
});

// ---- protected, restricted and other entries ----

function sinf(original: string, scheme: string): number[] {
  return box(
    'sinf',
    box('frma', fourcc(original)),
    fullBox('schm', 0, 0, fourcc(scheme), u32(0x10000)),
    box('schi', fullBox('tenc', 0, 0, zeros(24))),
  );
}

test('encv: encrypted, original format from frma, scheme from schm, codec from the original format', () => {
  const info = describe(visualEntry('encv', 64, 64, avcC(0x64, 0, 0x1f), sinf('avc1', 'cenc')));
  assert.equal(info.format, 'encv');
  assert.equal(info.kind, 'video');
  assert.equal(info.encrypted, true);
  assert.equal(info.originalFormat, 'avc1');
  assert.equal(info.scheme, 'cenc');
  assert.equal(info.codec, 'avc1.64001f');
  assert.deepEqual(info.boxes, ['avcC', 'sinf']);
});

test('enca: AAC behind cbcs', () => {
  const info = describe(audioEntry('enca', {}, esds(0x40, [0x11, 0x90]), sinf('mp4a', 'cbcs')));
  assert.equal(info.kind, 'audio');
  assert.equal(info.encrypted, true);
  assert.equal(info.originalFormat, 'mp4a');
  assert.equal(info.codec, 'mp4a.40.2');
});

test('enca without sinf is still encrypted, and named by its fourcc', () => {
  const info = describe(audioEntry('enca', {}));
  assert.equal(info.encrypted, true);
  assert.equal(info.originalFormat, undefined);
  assert.equal(info.codec, 'enca');
});

test('resv: restricted, not encrypted, original format from rinf', () => {
  const rinf = box('rinf', box('frma', fourcc('hvc1')), fullBox('schm', 0, 0, fourcc('stvi'), u32(0)));
  const info = describe(visualEntry('resv', 64, 64, hvcC(0x01, 0x60000000, [0x90, 0, 0, 0, 0, 0], 30), rinf));
  assert.equal(info.encrypted, false);
  assert.equal(info.originalFormat, 'hvc1');
  assert.equal(info.codec, 'hvc1.1.6.L30.90');
});

test('other entries: wvtt children are listed; an unknown fourcc is described by its fourcc alone', () => {
  const wvtt = describe(box('wvtt', zeros(6), u16(1), box('vttC', fourcc('WEBVTT'))));
  assert.equal(wvtt.kind, 'other');
  assert.equal(wvtt.codec, 'wvtt');
  assert.deepEqual(wvtt.boxes, ['vttC']);
  const unknown = describe(box('abcd', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  assert.equal(unknown.kind, 'other');
  assert.equal(unknown.codec, 'abcd');
  assert.deepEqual(unknown.boxes, []);
});

// ---- malformed entries ----

test('malformed: a visual entry cut inside its fixed fields is BOX_OVERRUN', () => {
  const bytes = visualEntry('avc1', 64, 64).slice(0, 40);
  bytes.splice(0, 4, ...u32(40));
  expectVvf(() => describe(bytes), 'BOX_OVERRUN');
});

test('malformed: an entry claiming more bytes than it was given is BOX_OVERRUN at the entry', () => {
  const bytes = visualEntry('avc1', 64, 64);
  bytes.splice(0, 4, ...u32(bytes.length + 10));
  expectVvf(() => describe(bytes, 4000), 'BOX_OVERRUN', 4000);
});

test('malformed: a child box overrunning the entry is BOX_OVERRUN at the child (absolute offset)', () => {
  const child = avcC(0x64, 0, 0x1f);
  child.splice(0, 4, ...u32(500));
  expectVvf(() => describe(visualEntry('avc1', 64, 64, child), 1000), 'BOX_OVERRUN', 1000 + 86);
});

test('malformed: a child box smaller than its header is BOX_INVALID', () => {
  expectVvf(() => describe(visualEntry('avc1', 64, 64, [...u32(4), ...fourcc('avcC'), 0, 0, 0, 0])), 'BOX_INVALID', 86);
});

test('malformed: a truncated avcC or hvcC is BOX_OVERRUN', () => {
  expectVvf(() => describe(visualEntry('avc1', 64, 64, box('avcC', [1, 0x64]))), 'BOX_OVERRUN');
  expectVvf(() => describe(visualEntry('hvc1', 64, 64, box('hvcC', [1, 1, 0x60, 0, 0, 0, 0xb0]))), 'BOX_OVERRUN');
});

test('malformed: esds descriptors that overrun, or sizes longer than 4 bytes', () => {
  const overrun = fullBox('esds', 0, 0, [3, 100, 0, 1, 0]);
  expectVvf(() => describe(audioEntry('mp4a', {}, overrun)), 'BOX_OVERRUN');
  const longSize = fullBox('esds', 0, 0, [3, 0x80, 0x80, 0x80, 0x80, 0x05, 0, 1, 0, 0, 0]);
  expectVvf(() => describe(audioEntry('mp4a', {}, longSize)), 'BOX_INVALID');
  const cutAsc = esds(0x40, [0xf8]); // escape code 31 needs six more bits
  expectVvf(() => describe(audioEntry('mp4a', {}, cutAsc)), 'BOX_OVERRUN');
});

test('malformed: an audio entry cut inside its fixed fields, and a QuickTime v2 rate that is not a number', () => {
  const cut = audioEntry('mp4a', {}).slice(0, 20);
  cut.splice(0, 4, ...u32(20));
  expectVvf(() => describe(cut), 'BOX_OVERRUN');
  const extension = [...u32(72), 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, ...u32(2), ...zeros(20)];
  expectVvf(() => describe(audioEntry('lpcm', { version: 2, extension })), 'BOX_INVALID');
});

// ---- codec strings against independent packagers ----

const shaka = fileURLToPath(
  new URL(`../../node_modules/shaka-packager/bin/packager-${process.platform}-${process.arch}`, import.meta.url),
);

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Bytes of the first stsd box under moov/trak/mdia/minf/stbl, and its absolute offset. */
function findStsd(file: Uint8Array): { start: number; end: number } {
  let start = 0;
  let end = file.length;
  for (const type of ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']) {
    const c = new Cursor(file, 0, type, start, end);
    let found = false;
    while (c.remaining >= 8 && !found) {
      const at = c.position;
      const h = readBoxHeader(c, end);
      if (h.type === type) {
        start = type === 'stsd' ? at : at + h.headerSize;
        end = at + h.size;
        found = true;
      } else {
        c.skip(h.size - h.headerSize);
      }
    }
    assert.ok(found, `no ${type} box`);
  }
  return { start, end };
}

/** Parses the first stsd entry of an MP4 / init segment; also checks that stsd round-trips. */
function firstEntry(path: string) {
  const file = new Uint8Array(readFileSync(path));
  const { start, end } = findStsd(file);
  const c = new Cursor(file, 0, 'stsd', start, end);
  const h = readBoxHeader(c, end);
  const stsd = stsdCodec.parse(new Cursor(file, 0, 'stsd', start + h.headerSize, end), h);
  assert.deepEqual(encodeBox(stsdCodec, stsd), file.subarray(start, end), 'stsd round trip');
  assert.equal(stsd.entries.length, 1);
  return describeSampleEntry(stsd.entries[0] ?? new Uint8Array(), start + 16, 'stsd/entry[1]');
}

function mpdCodecs(mpd: string): string {
  const m = /codecs="([^"]*)"/.exec(readFileSync(mpd, 'utf8'));
  assert.ok(m?.[1], `no codecs attribute in ${mpd}`);
  return m[1];
}

interface OracleCase {
  name: string;
  kind: 'video' | 'audio';
  encoder: string;
  args: string[];
  /** ffmpeg's dash muxer or shaka-packager writes the MPD. */
  oracle: 'ffmpeg' | 'shaka';
  /** Extra shaka arguments (encryption). */
  shakaArgs?: string[];
  /** The string we must produce, from the oracle's (when the oracle departs from the spec). */
  expect?: (oracle: string) => string;
  check?: (info: ReturnType<typeof describeSampleEntry>) => void;
}

const VIDEO_IN = ['-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=25:duration=1', '-pix_fmt', 'yuv420p'];
const AUDIO_IN = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=1'];
const KEY = '00112233445566778899aabbccddeeff';

const cases: OracleCase[] = [
  { name: 'H.264 high', kind: 'video', encoder: 'libx264', args: ['-profile:v', 'high'], oracle: 'ffmpeg' },
  { name: 'H.264 constrained baseline', kind: 'video', encoder: 'libx264', args: ['-profile:v', 'baseline'], oracle: 'ffmpeg' },
  // ffmpeg's dash muxer writes a bare "hvc1" for HEVC; shaka writes the full string.
  {
    name: 'HEVC main',
    kind: 'video',
    encoder: 'libx265',
    args: ['-tag:v', 'hvc1', '-x265-params', 'log-level=error'],
    oracle: 'shaka',
  },
  {
    name: 'HEVC main 10',
    kind: 'video',
    encoder: 'libx265',
    args: ['-pix_fmt', 'yuv420p10le', '-tag:v', 'hvc1', '-x265-params', 'log-level=error'],
    oracle: 'shaka',
  },
  // ffmpeg's dash muxer writes only vp09.PP.LL.DD; shaka writes the full form.
  {
    name: 'VP9 profile 0',
    kind: 'video',
    encoder: 'libvpx-vp9',
    args: ['-b:v', '100k', '-deadline', 'realtime'],
    oracle: 'shaka',
  },
  {
    name: 'VP9 profile 2',
    kind: 'video',
    encoder: 'libvpx-vp9',
    args: ['-pix_fmt', 'yuv420p10le', '-b:v', '100k', '-deadline', 'realtime'],
    oracle: 'shaka',
  },
  {
    name: 'AV1 libaom, no colour description',
    kind: 'video',
    encoder: 'libaom-av1',
    args: ['-cpu-used', '8', '-b:v', '100k'],
    oracle: 'ffmpeg',
  },
  {
    // ffmpeg writes the full form whenever the sequence header has a colour description,
    // even when it holds only the defaults; the AV1 binding says to omit ".0.110.01.01.01.0".
    name: 'AV1 libaom, BT.709 tagged',
    kind: 'video',
    encoder: 'libaom-av1',
    args: ['-cpu-used', '8', '-b:v', '100k', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709'],
    oracle: 'ffmpeg',
    expect: (s) => (s.endsWith('.0.110.01.01.01.0') ? s.slice(0, -'.0.110.01.01.01.0'.length) : s),
    check: (info) => assert.ok(info.boxes.includes('colr')),
  },
  {
    // rav1e codes colour description 2/2/2 (unspecified) in the sequence header, so the
    // binding's full form applies. (shaka-packager 3 ignores the sequence header's colour
    // and writes av01.0.31M.08 here; ffmpeg follows the binding.)
    name: 'AV1 rav1e, unspecified colour',
    kind: 'video',
    encoder: 'librav1e',
    args: ['-speed', '10'],
    oracle: 'ffmpeg',
  },
  {
    name: 'AV1 SVT-AV1',
    kind: 'video',
    encoder: 'libsvtav1',
    args: ['-preset', '12', '-svtav1-params', 'lp=1'],
    oracle: 'ffmpeg',
  },
  {
    name: 'H.264 encrypted (cbcs)',
    kind: 'video',
    encoder: 'libx264',
    args: [],
    oracle: 'shaka',
    shakaArgs: [
      '--enable_raw_key_encryption',
      '--keys',
      `label=:key_id=${KEY}:key=${KEY}`,
      '--protection_scheme',
      'cbcs',
      '--clear_lead',
      '0',
    ],
    check: (info) => {
      assert.equal(info.format, 'encv');
      assert.equal(info.encrypted, true);
      assert.equal(info.originalFormat, 'avc1');
      assert.equal(info.scheme, 'cbcs');
    },
  },
  { name: 'AAC-LC', kind: 'audio', encoder: 'aac', args: [], oracle: 'ffmpeg' },
  { name: 'Opus', kind: 'audio', encoder: 'libopus', args: [], oracle: 'ffmpeg' },
  { name: 'AC-3', kind: 'audio', encoder: 'ac3', args: [], oracle: 'ffmpeg' },
  { name: 'E-AC-3', kind: 'audio', encoder: 'eac3', args: [], oracle: 'ffmpeg' },
  // FLAC in MP4 needs -strict -2 in this ffmpeg, so shaka packages it.
  { name: 'FLAC', kind: 'audio', encoder: 'flac', args: ['-strict', '-2'], oracle: 'shaka' },
];

test('codec strings match the codecs attribute written by ffmpeg (dash) and shaka-packager', async (t) => {
  const encoders = run('ffmpeg', ['-hide_banner', '-encoders']);
  const hasEncoder = (name: string) => new RegExp(`^ [A-Z.]{6} ${name.replace(/[-]/g, '\\-')} `, 'm').test(encoders);
  const dir = mkdtempSync(join(tmpdir(), 'vvf-sample-entry-'));
  try {
    for (const [i, k] of cases.entries()) {
      await t.test(k.name, (st) => {
        if (!hasEncoder(k.encoder)) {
          st.skip(`encoder ${k.encoder} not in this ffmpeg build`);
          return;
        }
        if (k.oracle === 'shaka' && !existsSync(shaka)) {
          st.skip(`no shaka-packager binary at ${shaka}`);
          return;
        }
        const input = k.kind === 'video' ? VIDEO_IN : AUDIO_IN;
        const codecArg = k.kind === 'video' ? '-c:v' : '-c:a';
        const ff = ['-v', 'error', '-y', ...input, codecArg, k.encoder, ...k.args];
        let initPath: string;
        let mpdPath: string;
        if (k.oracle === 'ffmpeg') {
          const out = join(dir, `d${i}`);
          mkdirSync(out);
          mpdPath = join(out, 'm.mpd');
          run('ffmpeg', [...ff, '-f', 'dash', '-dash_segment_type', 'mp4', mpdPath]);
          const init = readdirSync(out).find((f) => f.startsWith('init'));
          assert.ok(init, 'ffmpeg wrote no init segment');
          initPath = join(out, init);
        } else {
          const src = join(dir, `s${i}.mp4`);
          run('ffmpeg', [...ff, src]);
          initPath = join(dir, `p${i}.mp4`);
          mpdPath = join(dir, `p${i}.mpd`);
          run(shaka, [`in=${src},stream=${k.kind},output=${initPath}`, '--mpd_output', mpdPath, ...(k.shakaArgs ?? [])]);
        }
        const oracle = mpdCodecs(mpdPath);
        const info = firstEntry(initPath);
        const expected = k.expect ? k.expect(oracle) : oracle;
        if (k.encoder === 'libx265') {
          // shaka-packager 3 writes HEVC hex fields in lower case; the standard's examples
          // (hvc1.1.6.L93.B0) use upper case, which is what we write.
          assert.equal(
            info.codec,
            expected.replace(/\.([0-9a-f]+)(?=\.|$)/g, (m) => m.toUpperCase()),
          );
        } else {
          assert.equal(info.codec, expected);
        }
        assert.equal(info.kind, k.kind);
        if (k.kind === 'video') {
          assert.equal(info.width, 64);
          assert.equal(info.height, 64);
        } else {
          assert.equal(info.sampleRate, 48000);
          assert.ok((info.channelCount ?? 0) >= 1);
        }
        k.check?.(info);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
