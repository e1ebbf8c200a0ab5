import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLanguage, encodeLanguage, mdhdCodec } from '../../../src/isobmff/boxes/mdhd.js';
import { assertRoundTrip, be16, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('mdhd v0 round-trips and decodes the language', () => {
  const bytes = boxBytes('mdhd', [
    0,
    0,
    0,
    0,
    ...be32(1),
    ...be32(2),
    ...be32(12800),
    ...be32(25600),
    ...be16(0x55c4),
    ...be16(0),
  ]);
  const box = assertRoundTrip(mdhdCodec, bytes);
  assert.equal(box.timescale, 12800);
  assert.equal(box.duration, 25600);
  assert.equal(box.language, 'und');
  assert.equal(box.languageCode, 0x55c4);
  assert.equal(box.preDefined, 0);
});

test('mdhd v1 round-trips with 64-bit times', () => {
  const eng = encodeLanguage('eng');
  const bytes = boxBytes('mdhd', [
    1,
    0,
    0,
    0,
    ...be64(2 ** 35),
    ...be64(2 ** 35),
    ...be32(48000),
    ...be64(2 ** 45),
    ...be16(eng),
    ...be16(5),
  ]);
  const box = assertRoundTrip(mdhdCodec, bytes);
  assert.equal(box.duration, 2 ** 45);
  assert.equal(box.language, 'eng');
  assert.equal(box.preDefined, 5);
});

test('the pad bit and non-letter codes are written back verbatim', () => {
  // Pad bit set on "fra"; QuickTime's 0x7fff and Macintosh code 0 (English) are not letters.
  for (const code of [0x8000 | encodeLanguage('fra'), 0x7fff, 0]) {
    const box = assertRoundTrip(
      mdhdCodec,
      boxBytes('mdhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(1000), ...be32(0), ...be16(code), ...be16(0)]),
    );
    assert.equal(box.languageCode, code);
  }
  assert.equal(decodeLanguage(0x8000 | encodeLanguage('fra')), 'fra');
  assert.equal(decodeLanguage(0x7fff), 'und');
  assert.equal(decodeLanguage(0), 'und');
});

test('encodeLanguage packs three letters', () => {
  assert.equal(encodeLanguage('und'), 0x55c4);
  assert.equal(encodeLanguage('eng'), (5 << 10) | (14 << 5) | 7);
  assert.equal(encodeLanguage('EN'), 0x55c4);
});

test('truncated mdhd is a BOX_OVERRUN', () => {
  assert.throws(
    () => parseBox(mdhdCodec, boxBytes('mdhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(1000), ...be32(0), 0x55])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(
    () => parseBox(mdhdCodec, boxBytes('mdhd', [1, 0, 0, 0, ...be32(0), ...be32(0), ...be32(1000), ...be32(0), ...be32(0)])),
    vvfCode('BOX_OVERRUN'),
  );
});
