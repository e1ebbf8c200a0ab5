// The encoder command lines: every rung from one decode, keyframes forced at the same instants,
// and what each kind of encoder needs besides its name (software, NVENC, VAAPI, QSV).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkArgs, fillArgs, INPUT_ARG, outputArg } from '../../src/encode/ffmpeg-args.js';
import type { Rung } from '../../src/encode/ladder.js';

const RUNGS: Rung[] = [
  { name: '720p', width: 1280, height: 720, bitrate: 3_000_000 },
  { name: '360p', width: 640, height: 360, bitrate: 800_000 },
];

function argAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

test('software: one split, a scale per rung, capped CRF, the same forced keyframes in every output', () => {
  const args = chunkArgs('in.mp4', RUNGS, ['a.mp4', 'b.mp4'], { codec: 'h264', gopSeconds: 2 });
  assert.equal(
    argAfter(args, '-filter_complex'),
    '[0:v]split=2[s0][s1];[s0]scale=1280:720:flags=bicubic,setsar=1[o0];[s1]scale=640:360:flags=bicubic,setsar=1[o1]',
  );
  assert.deepEqual(
    args.filter((_, i) => args[i - 1] === '-force_key_frames'),
    ['expr:gte(t,n_forced*2)', 'expr:gte(t,n_forced*2)'],
  );
  assert.deepEqual(
    args.filter((_, i) => args[i - 1] === '-maxrate'),
    ['3000000', '800000'],
  );
  assert.ok(args.includes('-crf') && args.includes('open-gop=0') && !args.includes('-vaapi_device'));
  assert.equal(args.indexOf('-i') + 1, args.indexOf('in.mp4'));
});

test('VAAPI and QSV: the device opened before the input, frames uploaded after scaling; NVENC: IDR at forced keyframes', () => {
  const vaapi = chunkArgs('in.mp4', RUNGS, ['a.mp4', 'b.mp4'], { codec: 'h264', gopSeconds: 2, encoder: 'h264_vaapi' });
  assert.ok(vaapi.indexOf('-vaapi_device') < vaapi.indexOf('-i'));
  assert.equal(argAfter(vaapi, '-vaapi_device'), '/dev/dri/renderD128');
  assert.match(argAfter(vaapi, '-filter_complex')!, /scale=1280:720:flags=bicubic,setsar=1,format=nv12,hwupload\[o0\]/);
  assert.equal(argAfter(vaapi, '-c:v'), 'h264_vaapi');
  assert.ok(!vaapi.includes('-crf'), 'hardware encoders aim at the bitrate');
  const qsv = chunkArgs('in.mp4', RUNGS, ['a.mp4', 'b.mp4'], {
    codec: 'h264',
    gopSeconds: 2,
    encoder: 'h264_qsv',
    device: '/dev/dri/renderD129',
  });
  assert.equal(argAfter(qsv, '-init_hw_device'), 'qsv=hw,child_device=/dev/dri/renderD129');
  assert.equal(argAfter(qsv, '-filter_hw_device'), 'hw');
  assert.match(argAfter(qsv, '-filter_complex')!, /format=nv12,hwupload=extra_hw_frames=64\[o1\]/);
  const nvenc = chunkArgs('in.mp4', RUNGS.slice(1), ['a.mp4'], { codec: 'h264', gopSeconds: 2, encoder: 'h264_nvenc' });
  assert.equal(argAfter(nvenc, '-forced-idr'), '1');
  assert.equal(argAfter(nvenc, '-filter_complex'), '[0:v]scale=640:360:flags=bicubic,setsar=1[o0]');
});

test('placeholders are filled once each, and arguments that name others are refused', () => {
  const args = chunkArgs(INPUT_ARG, RUNGS, [outputArg(0), outputArg(1)], { codec: 'h264', gopSeconds: 2 });
  const filled = fillArgs(args, 'http://c/x.mp4', ['/tmp/a.mp4', '/tmp/b.mp4']);
  assert.equal(argAfter(filled, '-i'), 'http://c/x.mp4');
  assert.deepEqual(filled.slice(-1), ['/tmp/b.mp4']);
  assert.throws(() => fillArgs([...args, INPUT_ARG], 'x', ['a', 'b']), /twice/);
  assert.throws(() => fillArgs(args, 'x', ['a']), /names no output/);
});
