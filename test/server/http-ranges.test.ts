import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVvfError } from '../../src/errors.js';
import {
  type ByteRange,
  contentRange,
  DEFAULT_MAX_RANGES,
  type MultipartPlan,
  parseRange,
  planMultipart,
  type RangeResult,
  unsatisfiedRange,
} from '../../src/server/http-ranges.js';

type Expected = 'none' | 'unsatisfiable' | [number, number][];

function expected(e: Expected): RangeResult {
  if (e === 'none') return { kind: 'none' };
  if (e === 'unsatisfiable') return { kind: 'unsatisfiable' };
  return { kind: 'ranges', ranges: e.map(([start, end]) => ({ start, end })) };
}

function check(cases: [string | undefined, number, Expected][], opts?: { maxRanges?: number }): void {
  for (const [header, size, want] of cases) {
    assert.deepEqual(parseRange(header, size, opts), expected(want), `${JSON.stringify(header)} on ${size} bytes`);
  }
}

const MAX = Number.MAX_SAFE_INTEGER;

test('single ranges: the bytes=0-1 probe, open-ended, suffix and clipped ranges', () => {
  check([
    [undefined, 10, 'none'],
    ['bytes=0-1', 10, [[0, 1]]],
    ['bytes=0-0', 10, [[0, 0]]],
    ['bytes=3-3', 10, [[3, 3]]],
    ['bytes=9-9', 10, [[9, 9]]],
    ['bytes=0-9', 10, [[0, 9]]],
    ['bytes=00-01', 10, [[0, 1]]],
    ['bytes=0-', 10, [[0, 9]]],
    ['bytes=5-', 10, [[5, 9]]],
    ['bytes=9-', 10, [[9, 9]]],
    ['bytes=-1', 10, [[9, 9]]],
    ['bytes=-3', 10, [[7, 9]]],
    ['bytes=-10', 10, [[0, 9]]],
    ['bytes=-11', 10, [[0, 9]]],
    ['bytes=0-10', 10, [[0, 9]]],
    ['bytes=0-100', 10, [[0, 9]]],
    ['bytes=8-100', 10, [[8, 9]]],
  ]);
});

test('unsatisfiable: every range starts at or past the end, or is -0', () => {
  check([
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=10-10', 10, 'unsatisfiable'],
    ['bytes=10-20', 10, 'unsatisfiable'],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=-00', 10, 'unsatisfiable'],
    ['bytes=20-30,40-50', 10, 'unsatisfiable'],
    ['bytes=10-,-0', 10, 'unsatisfiable'],
  ]);
});

test('invalid syntax is ignored (200), never an error or a 416', () => {
  const invalid = [
    '',
    ' ',
    'bytes',
    'bytes=',
    'bytes=,',
    'bytes= , ',
    'bytes=-',
    'bytes=1',
    'bytes=5-2',
    'bytes=a-b',
    'bytes=0-b',
    'bytes=--1',
    'bytes=1--2',
    'bytes=1-2-3',
    'bytes=0 -1',
    'bytes=0- 1',
    'bytes=+1-2',
    'bytes=-+1',
    'bytes=0x1-2',
    'bytes=1.5-2',
    'bytes=1e3-2e3',
    'bytes=0-1;x',
    'bytes=0-1,x',
    'bytes=0-1,5-2',
    'bytes=0-1,--1',
    'bytes=\u0663-\u0664', // Arabic-Indic digits are not DIGIT
    'bytes=0-1\r\n',
    'bytes==0-1',
    '=0-1',
    'bytes =0-1',
    'bytes:0-1',
  ];
  for (const header of invalid) {
    assert.deepEqual(parseRange(header, 10), { kind: 'none' }, JSON.stringify(header));
  }
});

test('other range units are ignored; the bytes unit is case-insensitive', () => {
  check([
    ['items=0-1', 10, 'none'],
    ['byte=0-1', 10, 'none'],
    ['bytesx=0-1', 10, 'none'],
    ['none', 10, 'none'],
    ['BYTES=0-1', 10, [[0, 1]]],
    ['Bytes=0-1', 10, [[0, 1]]],
  ]);
});

test('whitespace around elements and empty list elements are accepted', () => {
  check([
    ['bytes= 0-1', 10, [[0, 1]]],
    ['bytes=0-1 ', 10, [[0, 1]]],
    [' bytes=0-1', 10, [[0, 1]]],
    ['bytes=\t0-1', 10, [[0, 1]]],
    [
      'bytes=0-1 ,\t5-6',
      10,
      [
        [0, 1],
        [5, 6],
      ],
    ],
    [
      'bytes=0-1,,5-6',
      10,
      [
        [0, 1],
        [5, 6],
      ],
    ],
    ['bytes=,0-1', 10, [[0, 1]]],
    ['bytes=0-1,', 10, [[0, 1]]],
    ['bytes= , 0-1 , ', 10, [[0, 1]]],
  ]);
});

test('several ranges: sorted, overlapping and adjacent ones merged, unsatisfiable ones dropped', () => {
  check([
    [
      'bytes=0-1,5-6',
      10,
      [
        [0, 1],
        [5, 6],
      ],
    ],
    [
      'bytes=5-6,0-1',
      10,
      [
        [0, 1],
        [5, 6],
      ],
    ],
    ['bytes=0-1,2-3', 10, [[0, 3]]],
    ['bytes=2-3,0-1', 10, [[0, 3]]],
    ['bytes=0-1,1-2', 10, [[0, 2]]],
    ['bytes=0-5,3-9', 10, [[0, 9]]],
    ['bytes=0-4,5-9', 10, [[0, 9]]],
    ['bytes=2-4,0-9', 10, [[0, 9]]],
    ['bytes=0-0,0-0', 10, [[0, 0]]],
    ['bytes=0-2,1-3,2-4,3-5', 10, [[0, 5]]],
    [
      'bytes=5-7,1-2,0-0,8-9',
      10,
      [
        [0, 2],
        [5, 9],
      ],
    ],
    [
      'bytes=-5,0-1',
      10,
      [
        [0, 1],
        [5, 9],
      ],
    ],
    ['bytes=0-1,20-30', 10, [[0, 1]]],
    ['bytes=90-99,0-9', 10, [[0, 9]]],
    ['bytes=0-1,-0', 10, [[0, 1]]],
    [
      'bytes=1-1,3-3,5-5,7-7',
      10,
      [
        [1, 1],
        [3, 3],
        [5, 5],
        [7, 7],
      ],
    ],
  ]);
});

test('numbers past 2^53 are exact: a first-pos past the end, a last-pos clipped, a suffix of everything', () => {
  check([
    ['bytes=0-9007199254740991', 10, [[0, 9]]],
    ['bytes=0-9007199254740993', 10, [[0, 9]]],
    ['bytes=0-99999999999999999999', 10, [[0, 9]]],
    ['bytes=0-9223372036854775808', 10, [[0, 9]]],
    ['bytes=9007199254740993-', 10, 'unsatisfiable'],
    ['bytes=9223372036854775807-', 10, 'unsatisfiable'],
    ['bytes=-9007199254740993', 10, [[0, 9]]],
    ['bytes=-99999999999999999999', 10, [[0, 9]]],
    ['bytes=99999999999999999998-99999999999999999999', 10, 'unsatisfiable'],
    ['bytes=99999999999999999999-99999999999999999998', 10, 'none'], // last < first, however long
    ['bytes=9007199254740993-9007199254740992', 10, 'none'], // both round to 2^53 as doubles
    [`bytes=${'0'.repeat(40)}5-6`, 10, [[5, 6]]],
    [`bytes=5-${'9'.repeat(400)}`, 10, [[5, 9]]],
    // A representation of 2^53 - 1 bytes: the last byte is 2^53 - 2.
    ['bytes=0-', MAX, [[0, MAX - 1]]],
    ['bytes=-1', MAX, [[MAX - 1, MAX - 1]]],
    ['bytes=9007199254740990-9007199254740999', MAX, [[MAX - 1, MAX - 1]]],
    ['bytes=9007199254740991-', MAX, 'unsatisfiable'],
    ['bytes=-9007199254740991', MAX, [[0, MAX - 1]]],
    ['bytes=-9007199254740990', MAX, [[1, MAX - 1]]],
  ]);
});

test('representations of one byte and of none', () => {
  check([
    ['bytes=0-1', 1, [[0, 0]]],
    ['bytes=0-0', 1, [[0, 0]]],
    ['bytes=0-', 1, [[0, 0]]],
    ['bytes=-1', 1, [[0, 0]]],
    ['bytes=-5', 1, [[0, 0]]],
    ['bytes=0-0,0-0', 1, [[0, 0]]],
    ['bytes=-5,0-1', 1, [[0, 0]]],
    ['bytes=1-', 1, 'unsatisfiable'],
    ['bytes=-0', 1, 'unsatisfiable'],
    // Empty: nothing to serve in a 206. From 0 or a non-zero suffix → the whole (empty) 200, as nginx.
    [undefined, 0, 'none'],
    ['bytes=0-1', 0, 'none'],
    ['bytes=0-0', 0, 'none'],
    ['bytes=0-', 0, 'none'],
    ['bytes=00-5', 0, 'none'],
    ['bytes=-1', 0, 'none'],
    ['bytes=-99999999999999999999', 0, 'none'],
    ['bytes=5-9,-3', 0, 'none'],
    ['bytes=5-2', 0, 'none'],
    ['bytes=-0', 0, 'unsatisfiable'],
    ['bytes=1-', 0, 'unsatisfiable'],
    ['bytes=5-9', 0, 'unsatisfiable'],
    ['bytes=99999999999999999999-', 0, 'unsatisfiable'],
  ]);
});

function disjointRanges(n: number): string {
  return `bytes=${Array.from({ length: n }, (_, i) => `${2 * i}-${2 * i}`).join(',')}`;
}

test('maxRanges: more satisfiable range-specs than the cap are ignored (200), counted before merging', () => {
  assert.equal(DEFAULT_MAX_RANGES, 16);
  const sixteen = parseRange(disjointRanges(16), 100);
  assert.equal(sixteen.kind === 'ranges' && sixteen.ranges.length, 16);
  assert.deepEqual(parseRange(disjointRanges(17), 100), { kind: 'none' });
  check(
    [
      [
        'bytes=0-1,5-6',
        10,
        [
          [0, 1],
          [5, 6],
        ],
      ],
      ['bytes=0-1,3-4,6-7', 10, 'none'],
      ['bytes=0-1,2-3,4-5', 10, 'none'], // would merge into one, but three were asked
      ['bytes=0-1,20-30,40-50', 10, [[0, 1]]], // unsatisfiable specs do not count
      ['bytes=0-1,1-2', 10, [[0, 2]]],
    ],
    { maxRanges: 2 },
  );
  check(
    [
      ['bytes=0-1', 10, [[0, 1]]],
      ['bytes=0-1,5-6', 10, 'none'],
    ],
    { maxRanges: 1 },
  );
  // 0 turns ranges off altogether, as nginx's max_ranges 0.
  check(
    [
      ['bytes=0-1', 10, 'none'],
      ['bytes=20-30', 10, 'none'],
    ],
    { maxRanges: 0 },
  );
  const many = parseRange(disjointRanges(1000), 2000, { maxRanges: Number.POSITIVE_INFINITY });
  assert.equal(many.kind === 'ranges' && many.ranges.length, 1000);
});

test('long hostile headers end in a plain answer', () => {
  assert.deepEqual(parseRange(`bytes=${'0-0,'.repeat(5000)}`, 10), { kind: 'none' });
  assert.deepEqual(parseRange(`bytes=${'20-30,'.repeat(5000)}3-4`, 10), { kind: 'ranges', ranges: [{ start: 3, end: 4 }] });
  assert.deepEqual(parseRange(`bytes=${','.repeat(10000)}`, 10), { kind: 'none' });
  assert.deepEqual(parseRange(`bytes=${' '.repeat(10000)}x`, 10), { kind: 'none' });
});

test('bad arguments are usage errors', () => {
  for (const size of [-1, 1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => parseRange('bytes=0-1', size),
      (e) => isVvfError(e) && e.code === 'USAGE',
      `size ${size}`,
    );
  }
  for (const maxRanges of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => parseRange('bytes=0-1', 10, { maxRanges }),
      (e) => isVvfError(e) && e.code === 'USAGE',
      `maxRanges ${maxRanges}`,
    );
  }
});

/** A seeded PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('random valid range sets select exactly the bytes RFC 9110 says, as maximal runs', () => {
  const rand = prng(4);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  for (let iter = 0; iter < 3000; iter++) {
    const size = Math.floor(rand() * 12) + 1;
    const numbers = [0, 1, 2, size - 1, size, size + 1, Math.floor(rand() * 20)];
    const specs: string[] = [];
    const selected = new Array<boolean>(size).fill(false);
    const count = Math.floor(rand() * 4) + 1;
    for (let i = 0; i < count; i++) {
      const kind = pick(['a-b', 'a-', '-n']);
      const a = pick(numbers);
      const b = a + Math.floor(rand() * 5);
      if (kind === 'a-b') {
        specs.push(`${a}-${b}`);
        for (let x = a; x <= b && x < size; x++) selected[x] = true;
      } else if (kind === 'a-') {
        specs.push(`${a}-`);
        for (let x = a; x < size; x++) selected[x] = true;
      } else {
        specs.push(`-${a}`);
        for (let x = Math.max(0, size - a); x < size && a > 0; x++) selected[x] = true;
      }
    }
    // The reference answer: runs of selected bytes.
    const runs: ByteRange[] = [];
    for (let x = 0; x < size; x++) {
      if (!selected[x]) continue;
      const last = runs[runs.length - 1];
      if (last !== undefined && last.end === x - 1) last.end = x;
      else runs.push({ start: x, end: x });
    }
    const header = `bytes=${specs.join(pick([',', ', ', ' ,\t']))}`;
    const want: RangeResult = runs.length === 0 ? { kind: 'unsatisfiable' } : { kind: 'ranges', ranges: runs };
    assert.deepEqual(parseRange(header, size, { maxRanges: 100 }), want, `${header} on ${size} bytes`);
  }
});

test('Content-Range values', () => {
  assert.equal(contentRange({ start: 0, end: 1 }, 10), 'bytes 0-1/10');
  assert.equal(contentRange({ start: 9, end: 9 }, 10), 'bytes 9-9/10');
  assert.equal(contentRange({ start: 0, end: MAX - 1 }, MAX), `bytes 0-${MAX - 1}/${MAX}`);
  assert.equal(unsatisfiedRange(10), 'bytes */10');
  assert.equal(unsatisfiedRange(0), 'bytes */0');
  for (const [r, size] of [
    [{ start: 0, end: 10 }, 10],
    [{ start: 5, end: 4 }, 10],
    [{ start: -1, end: 4 }, 10],
    [{ start: 0, end: 0 }, 0],
    [{ start: 0.5, end: 4 }, 10],
  ] as [ByteRange, number][]) {
    assert.throws(
      () => contentRange(r, size),
      (e) => isVvfError(e) && e.code === 'USAGE',
    );
  }
  assert.throws(
    () => unsatisfiedRange(-1),
    (e) => isVvfError(e) && e.code === 'USAGE',
  );
});

const DATA = new Uint8Array(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff));

/** The whole body a plan describes: each head, then the range's bytes, then the tail. */
function materialize(plan: MultipartPlan, data: Uint8Array): Buffer {
  return Buffer.concat([
    ...plan.parts.flatMap((p) => [Buffer.from(p.head), data.subarray(p.range.start, p.range.end + 1)]),
    Buffer.from(plan.tail),
  ]);
}

test('multipart plan: the exact body, byte for byte, as nginx 1.22 frames it', () => {
  const ranges = [
    { start: 0, end: 1 },
    { start: 95, end: 99 },
  ];
  const plan = planMultipart(ranges, 100, 'video/mp4', 'B0UND');
  assert.equal(plan.boundary, 'B0UND');
  assert.equal(plan.contentType, 'multipart/byteranges; boundary=B0UND');
  const want = Buffer.concat([
    Buffer.from('\r\n--B0UND\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/100\r\n\r\n'),
    DATA.subarray(0, 2),
    Buffer.from('\r\n--B0UND\r\nContent-Type: video/mp4\r\nContent-Range: bytes 95-99/100\r\n\r\n'),
    DATA.subarray(95, 100),
    Buffer.from('\r\n--B0UND--\r\n'),
  ]);
  const body = materialize(plan, DATA);
  assert.deepEqual(body, want);
  assert.equal(plan.length, want.length);
  assert.deepEqual(
    plan.parts.map((p) => p.range),
    ranges,
  );
});

/** Splits a multipart/byteranges body the way a client would and returns each part's headers and bytes. */
function parseMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; bytes: Buffer }[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: { headers: Record<string, string>; bytes: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  assert.equal(at, 0, 'body starts with the first delimiter');
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 4).toString() === '--\r\n') {
      assert.equal(at + 4, body.length, 'nothing after the close delimiter');
      return parts;
    }
    assert.equal(body.subarray(at, at + 2).toString(), '\r\n');
    const headEnd = body.indexOf('\r\n\r\n', at);
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(at + 2, headEnd)
      .toString('latin1')
      .split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(delimiter, headEnd + 4);
    assert.ok(next > 0, 'every part is followed by a delimiter');
    parts.push({ headers, bytes: body.subarray(headEnd + 4, next) });
    at = next;
  }
}

test('multipart plan: length equals the body, and a client reads back every range', () => {
  const cases: ByteRange[][] = [
    [{ start: 0, end: 0 }],
    [
      { start: 0, end: 1 },
      { start: 5, end: 6 },
    ],
    [
      { start: 1, end: 1 },
      { start: 3, end: 3 },
      { start: 5, end: 5 },
      { start: 7, end: 7 },
      { start: 10, end: 99 },
    ],
    [
      { start: 90, end: 99 },
      { start: 0, end: 9 },
    ],
  ];
  for (const ranges of cases) {
    for (const type of ['application/octet-stream', 'video/mp4; codecs="avc1.64001f"', '']) {
      const plan = planMultipart(ranges, DATA.length, type);
      assert.match(plan.boundary, /^[0-9a-f]{24}$/);
      const body = materialize(plan, DATA);
      assert.equal(plan.length, body.length);
      const parts = parseMultipart(body, plan.boundary);
      assert.equal(parts.length, ranges.length);
      parts.forEach((part, i) => {
        const r = ranges[i]!;
        assert.equal(part.headers['content-range'], `bytes ${r.start}-${r.end}/${DATA.length}`);
        assert.equal(part.headers['content-type'], type === '' ? undefined : type);
        assert.deepEqual(part.bytes, Buffer.from(DATA.subarray(r.start, r.end + 1)));
      });
    }
  }
  assert.notEqual(
    planMultipart([{ start: 0, end: 0 }], 1, 'x/y').boundary,
    planMultipart([{ start: 0, end: 0 }], 1, 'x/y').boundary,
  );
});

test('multipart plan: lengths of huge representations are computed, not materialized', () => {
  const size = MAX;
  const ranges = [
    { start: 0, end: 2 ** 52 },
    { start: MAX - 10, end: MAX - 1 },
  ];
  const plan = planMultipart(ranges, size, 'video/mp4', 'b');
  const heads = plan.parts.reduce((n, p) => n + p.head.length, 0);
  assert.equal(plan.length, heads + (2 ** 52 + 1) + 10 + plan.tail.length);
  assert.equal(
    Buffer.from(plan.parts[1]!.head).toString(),
    `\r\n--b\r\nContent-Type: video/mp4\r\nContent-Range: bytes ${MAX - 10}-${MAX - 1}/${MAX}\r\n\r\n`,
  );
});

test('multipart plan: boundaries that need quoting, and bad input', () => {
  assert.equal(
    planMultipart([{ start: 0, end: 0 }], 1, 'x/y', "it's:a b").contentType,
    `multipart/byteranges; boundary="it's:a b"`,
  );
  assert.equal(planMultipart([{ start: 0, end: 0 }], 1, 'x/y', 'x'.repeat(70)).boundary.length, 70);
  const usage = (e: unknown) => isVvfError(e) && e.code === 'USAGE';
  assert.throws(() => planMultipart([], 10, 'x/y'), usage);
  assert.throws(() => planMultipart([{ start: 0, end: 10 }], 10, 'x/y'), usage);
  assert.throws(() => planMultipart([{ start: 0, end: 1 }], 10, 'x/y\r\nSet-Cookie: a=b'), usage);
  assert.throws(() => planMultipart([{ start: 0, end: 1 }], 10, 'x/\u00e9'), usage);
  for (const boundary of ['', 'a\r\nb', 'trailing ', 'x'.repeat(71), 'semi;colon', 'quo"te']) {
    assert.throws(() => planMultipart([{ start: 0, end: 1 }], 10, 'x/y', boundary), usage, JSON.stringify(boundary));
  }
});
