import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHandlerName, encodeHandlerName, hdlrCodec } from '../../../src/isobmff/boxes/hdlr.js';
import { assertRoundTrip, be32, boxBytes, fourcc, parseBox, vvfCode } from './roundtrip.js';

const enc = (s: string): number[] => [...new TextEncoder().encode(s)];

function hdlr(preDefined: number, type: string, name: number[]): Uint8Array {
  return boxBytes('hdlr', [
    0,
    0,
    0,
    0,
    ...be32(preDefined),
    ...fourcc(type),
    ...Array.from({ length: 12 }, (_, i) => i),
    ...name,
  ]);
}

test('hdlr with a NUL-terminated name', () => {
  const box = assertRoundTrip(hdlrCodec, hdlr(0, 'vide', [...enc('VideoHandler'), 0]));
  assert.equal(box.handlerType, 'vide');
  assert.equal(box.name, 'VideoHandler');
  assert.equal(box.nameBytes.length, 13);
  assert.equal(box.reserved[11], 11);
});

test('hdlr with a QuickTime Pascal name', () => {
  const box = assertRoundTrip(hdlrCodec, hdlr(0x6d686c72, 'soun', [12, ...enc('SoundHandler')]));
  assert.equal(box.preDefined, 0x6d686c72);
  assert.equal(box.name, 'SoundHandler');
  assert.equal(assertRoundTrip(hdlrCodec, hdlr(0, 'soun', [5, ...enc('Sound'), 0])).name, 'Sound');
});

test('hdlr with no terminator, an empty name, UTF-8 and bytes after the NUL', () => {
  assert.equal(assertRoundTrip(hdlrCodec, hdlr(0, 'text', enc('Subs'))).name, 'Subs');
  assert.equal(assertRoundTrip(hdlrCodec, hdlr(0, 'mdir', [])).name, '');
  assert.equal(assertRoundTrip(hdlrCodec, hdlr(0, 'soun', [...enc('Piste française'), 0])).name, 'Piste française');
  const box = assertRoundTrip(hdlrCodec, hdlr(0, 'vide', [...enc('A'), 0, 0, 0, 7]));
  assert.equal(box.name, 'A');
  assert.equal(box.nameBytes.length, 5);
});

test('encodeHandlerName gives a C string that decodes back', () => {
  const b = encodeHandlerName('VideoHandler');
  assert.equal(b.length, 13);
  assert.equal(b[12], 0);
  assert.equal(decodeHandlerName(b), 'VideoHandler');
});

test('truncated hdlr is a BOX_OVERRUN', () => {
  assert.throws(
    () => parseBox(hdlrCodec, boxBytes('hdlr', [0, 0, 0, 0, ...be32(0), ...fourcc('vide'), 0, 0, 0])),
    vvfCode('BOX_OVERRUN'),
  );
});
