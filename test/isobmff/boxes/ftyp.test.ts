import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ftypCodec } from '../../../src/isobmff/boxes/ftyp.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { assertRoundTrip, be32, boxBytes, fourcc, parseBox, vvfCode } from './roundtrip.js';

test('ftyp round-trips and lists its brands', () => {
  const bytes = boxBytes('ftyp', [...fourcc('isom'), ...be32(512), ...fourcc('isom'), ...fourcc('iso2'), ...fourcc('avc1')]);
  const box = assertRoundTrip(ftypCodec, bytes);
  assert.equal(box.type, 'ftyp');
  assert.equal(box.majorBrand, 'isom');
  assert.equal(box.minorVersion, 512);
  assert.deepEqual(box.compatibleBrands, ['isom', 'iso2', 'avc1']);
});

test('styp takes its type from the header', () => {
  const box = assertRoundTrip(ftypCodec, boxBytes('styp', [...fourcc('msdh'), ...be32(0), ...fourcc('msix')]));
  assert.equal(box.type, 'styp');
  assert.deepEqual(box.compatibleBrands, ['msix']);
});

test('ftyp with no compatible brands and with a partial trailing brand', () => {
  assert.deepEqual(assertRoundTrip(ftypCodec, boxBytes('ftyp', [...fourcc('qt  '), ...be32(0)])).compatibleBrands, []);
  const box = assertRoundTrip(ftypCodec, boxBytes('ftyp', [...fourcc('mp42'), ...be32(1), ...fourcc('mp41'), 0x61, 0x62]));
  assert.deepEqual(box.compatibleBrands, ['mp41']);
  assert.deepEqual(box.trailing, new Uint8Array([0x61, 0x62]));
});

test('ftyp written from a built box', () => {
  const bytes = encodeBox(ftypCodec, { type: 'ftyp', majorBrand: 'iso5', minorVersion: 0, compatibleBrands: ['iso6', 'mp41'] });
  assert.deepEqual(bytes, boxBytes('ftyp', [...fourcc('iso5'), ...be32(0), ...fourcc('iso6'), ...fourcc('mp41')]));
});

test('truncated ftyp is a BOX_OVERRUN', () => {
  assert.throws(() => parseBox(ftypCodec, boxBytes('ftyp', [...fourcc('isom'), 0, 0])), vvfCode('BOX_OVERRUN'));
});

test('ftypCodec refuses other box types', () => {
  assert.throws(() => parseBox(ftypCodec, boxBytes('free', [...fourcc('isom'), ...be32(0)])), vvfCode('BOX_INVALID'));
});
