import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVvfError } from '../../src/errors.js';
import {
  type EvaluateOptions,
  evaluateConditions,
  httpDate,
  ifRangeAllows,
  parseEntityTag,
  parseEntityTagList,
  parseHttpDate,
  type RequestConditions,
  type Validators,
} from '../../src/server/conditional.js';

// RFC 9110's example date; the milliseconds never reach the wire.
const LM_MS = Date.UTC(1994, 10, 6, 8, 49, 37, 250);
const v: Validators = { etag: '"abc"', lastModified: new Date(LM_MS) };
const LM = 'Sun, 06 Nov 1994 08:49:37 GMT';
const LM_850 = 'Sunday, 06-Nov-94 08:49:37 GMT';
const LM_ASCTIME = 'Sun Nov  6 08:49:37 1994';
const BEFORE = 'Sun, 06 Nov 1994 08:49:36 GMT';
const AFTER = 'Sun, 06 Nov 1994 08:49:38 GMT';
const NOW = new Date(Date.UTC(2026, 0, 1));

type Outcome = ReturnType<typeof evaluateConditions>;

function check(cases: [Omit<RequestConditions, 'method'> & { method?: string }, Outcome][], opts: EvaluateOptions = {}): void {
  for (const [c, want] of cases) {
    const req: RequestConditions = { method: 'GET', ...c };
    assert.equal(evaluateConditions(req, v, { now: NOW, ...opts }), want, JSON.stringify(req));
  }
}

test('no conditions: proceed', () => {
  check([
    [{}, 'proceed'],
    [{ method: 'POST' }, 'proceed'],
    [{ ifRange: '"x"' }, 'proceed'],
  ]);
});

test('If-None-Match: weak comparison, *, lists; 304 for GET and HEAD, 412 for other methods', () => {
  check([
    [{ ifNoneMatch: '"abc"' }, 'not-modified'],
    [{ ifNoneMatch: '"abc"', method: 'HEAD' }, 'not-modified'],
    [{ ifNoneMatch: '"abc"', method: 'POST' }, 'precondition-failed'],
    [{ ifNoneMatch: '"abc"', method: 'PUT' }, 'precondition-failed'],
    [{ ifNoneMatch: '"abc"', method: 'DELETE' }, 'precondition-failed'],
    [{ ifNoneMatch: '"abc"', method: 'get' }, 'precondition-failed'], // methods are case-sensitive
    [{ ifNoneMatch: 'W/"abc"' }, 'not-modified'],
    [{ ifNoneMatch: 'W/"abc"', method: 'POST' }, 'precondition-failed'],
    [{ ifNoneMatch: '*' }, 'not-modified'],
    [{ ifNoneMatch: ' * ' }, 'not-modified'],
    [{ ifNoneMatch: '*', method: 'HEAD' }, 'not-modified'],
    [{ ifNoneMatch: '*', method: 'POST' }, 'precondition-failed'],
    [{ ifNoneMatch: '"x", "abc"' }, 'not-modified'],
    [{ ifNoneMatch: '"x",W/"abc"' }, 'not-modified'],
    [{ ifNoneMatch: '"x" ,\t"abc" ,' }, 'not-modified'],
    [{ ifNoneMatch: '"x"' }, 'proceed'],
    [{ ifNoneMatch: '"x"', method: 'POST' }, 'proceed'],
    [{ ifNoneMatch: '"ABC"' }, 'proceed'], // opaque-tags compare case-sensitively
    [{ ifNoneMatch: 'abc' }, 'proceed'],
    [{ ifNoneMatch: 'w/"abc"' }, 'proceed'], // W/ is case-sensitive
    [{ ifNoneMatch: '"x",garbage,"abc"' }, 'proceed'], // a malformed list matches nothing
    [{ ifNoneMatch: '' }, 'proceed'],
    [{ ifNoneMatch: '"a,bc"' }, 'proceed'],
  ]);
  // A comma inside an entity-tag belongs to the tag.
  const commas: Validators = { etag: '"a,b"', lastModified: v.lastModified };
  assert.equal(evaluateConditions({ method: 'GET', ifNoneMatch: '"x", "a,b"' }, commas), 'not-modified');
  assert.equal(evaluateConditions({ method: 'GET', ifNoneMatch: '"a", "b"' }, commas), 'proceed');
});

test('If-Match: strong comparison, *, lists; failure is 412 for every method', () => {
  check([
    [{ ifMatch: '"abc"' }, 'proceed'],
    [{ ifMatch: '"abc"', method: 'PUT' }, 'proceed'],
    [{ ifMatch: '*' }, 'proceed'],
    [{ ifMatch: '"x", "abc"' }, 'proceed'],
    [{ ifMatch: 'W/"abc"' }, 'precondition-failed'], // weak tags never match strongly
    [{ ifMatch: 'W/"abc"', method: 'HEAD' }, 'precondition-failed'],
    [{ ifMatch: '"x"' }, 'precondition-failed'],
    [{ ifMatch: '"x"', method: 'POST' }, 'precondition-failed'],
    [{ ifMatch: 'garbage' }, 'precondition-failed'],
    [{ ifMatch: '"x",garbage,"abc"' }, 'precondition-failed'],
    [{ ifMatch: '' }, 'precondition-failed'],
  ]);
  // A weak current tag never matches If-Match.
  assert.equal(
    evaluateConditions({ method: 'GET', ifMatch: '"abc"' }, { etag: 'W/"abc"', lastModified: v.lastModified }),
    'precondition-failed',
  );
});

test('If-Modified-Since: exact by default (nginx), not-later-than with modifiedSince before (RFC); three date forms', () => {
  check([
    [{ ifModifiedSince: LM }, 'not-modified'],
    [{ ifModifiedSince: LM, method: 'HEAD' }, 'not-modified'],
    [{ ifModifiedSince: LM_850 }, 'not-modified'],
    [{ ifModifiedSince: LM_ASCTIME }, 'not-modified'],
    [{ ifModifiedSince: AFTER }, 'proceed'],
    [{ ifModifiedSince: BEFORE }, 'proceed'],
    [{ ifModifiedSince: LM, method: 'POST' }, 'proceed'], // only GET and HEAD
    [{ ifModifiedSince: 'garbage' }, 'proceed'],
    [{ ifModifiedSince: `${LM}; length=10` }, 'proceed'],
    [{ ifModifiedSince: 'sun, 06 nov 1994 08:49:37 gmt' }, 'proceed'],
    [{ ifModifiedSince: `${LM}, ${LM}` }, 'proceed'], // a list is not a date
    [{ ifModifiedSince: LM, ifNoneMatch: '"x"' }, 'proceed'], // ignored when If-None-Match is present
  ]);
  check(
    [
      [{ ifModifiedSince: LM }, 'not-modified'],
      [{ ifModifiedSince: AFTER }, 'not-modified'],
      [{ ifModifiedSince: 'Fri, 01 Jan 2100 00:00:00 GMT' }, 'not-modified'],
      [{ ifModifiedSince: BEFORE }, 'proceed'],
      [{ ifModifiedSince: AFTER, method: 'POST' }, 'proceed'],
    ],
    { modifiedSince: 'before' },
  );
});

test('If-Unmodified-Since: 412 when modified after the date; ignored when malformed or when If-Match is present', () => {
  check([
    [{ ifUnmodifiedSince: LM }, 'proceed'],
    [{ ifUnmodifiedSince: AFTER }, 'proceed'],
    [{ ifUnmodifiedSince: BEFORE }, 'precondition-failed'],
    [{ ifUnmodifiedSince: BEFORE, method: 'PUT' }, 'precondition-failed'],
    [{ ifUnmodifiedSince: 'Sunday, 06-Nov-94 08:49:36 GMT' }, 'precondition-failed'],
    [{ ifUnmodifiedSince: 'Sun Nov  6 08:49:36 1994' }, 'precondition-failed'],
    [{ ifUnmodifiedSince: 'garbage' }, 'proceed'],
    [{ ifUnmodifiedSince: 'Sun, 31 Feb 1994 08:49:36 GMT' }, 'proceed'],
    [{ ifUnmodifiedSince: BEFORE, ifMatch: '"abc"' }, 'proceed'],
    [{ ifUnmodifiedSince: AFTER, ifMatch: '"x"' }, 'precondition-failed'],
  ]);
});

test('evaluation order of RFC 9110 §13.2.2', () => {
  check([
    // 1 before 3: a failed If-Match is 412 even when If-None-Match would give 304.
    [{ ifMatch: '"x"', ifNoneMatch: '"abc"' }, 'precondition-failed'],
    [{ ifMatch: '"abc"', ifNoneMatch: '"abc"' }, 'not-modified'],
    // 2 before 3 and 4.
    [{ ifUnmodifiedSince: BEFORE, ifNoneMatch: '"abc"' }, 'precondition-failed'],
    [{ ifUnmodifiedSince: BEFORE, ifModifiedSince: LM }, 'precondition-failed'],
    // 3 decides over 4: If-None-Match not matching → 200 even if the date says not modified.
    [{ ifNoneMatch: '"x"', ifModifiedSince: LM }, 'proceed'],
    [{ ifNoneMatch: '"abc"', ifModifiedSince: BEFORE }, 'not-modified'],
    [{ ifMatch: '*', ifUnmodifiedSince: BEFORE, ifNoneMatch: '"x"', ifModifiedSince: LM }, 'proceed'],
  ]);
});

test('If-Range: a strong ETag match or an exact, strong date; anything else sends 200', () => {
  const later = { now: new Date(LM_MS + 86_400_000) };
  const cases: [string | undefined, boolean][] = [
    [undefined, true],
    ['"abc"', true],
    [' "abc"\t', true],
    ['W/"abc"', false],
    ['"x"', false],
    ['"ABC"', false],
    ['"abc", "x"', false],
    ['"abc"garbage', false],
    ['"abc', false],
    ['abc', false],
    ['*', false],
    ['', false],
    [LM, true],
    [LM_850, true],
    [LM_ASCTIME, true],
    [AFTER, false],
    [BEFORE, false],
    ['garbage', false],
    [`${LM} x`, false],
  ];
  for (const [ifRange, want] of cases) {
    assert.equal(ifRangeAllows(ifRange, v, later), want, JSON.stringify(ifRange));
  }
  // A weak current ETag cannot satisfy If-Range.
  assert.equal(ifRangeAllows('"abc"', { etag: 'W/"abc"', lastModified: v.lastModified }, later), false);
});

test('If-Range dates: the one-second rule', () => {
  const at = (ms: number) => ({ now: new Date(ms) });
  const second = Math.floor(LM_MS / 1000) * 1000;
  // Still inside the second Last-Modified names: the file could change again under the same date.
  assert.equal(ifRangeAllows(LM, v, at(LM_MS)), false);
  assert.equal(ifRangeAllows(LM, v, at(second + 999)), false);
  assert.equal(ifRangeAllows(LM, v, at(second - 5000)), false); // Last-Modified in the future
  // Once that second is over, the date is a strong validator.
  assert.equal(ifRangeAllows(LM, v, at(second + 1000)), true);
  // The ETag needs no such wait.
  assert.equal(ifRangeAllows('"abc"', v, at(LM_MS)), true);
  // Default now is the real clock, long after 1994.
  assert.equal(ifRangeAllows(LM, v), true);
});

test('HTTP dates: the three forms of RFC 9110 §5.6.7', () => {
  const when = Date.UTC(1994, 10, 6, 8, 49, 37);
  const cases: [string, number | undefined][] = [
    [LM, when],
    [LM_850, when],
    [LM_ASCTIME, when],
    ['Sun Nov 06 08:49:37 1994', when],
    [` ${LM}\t`, when],
    ['Thu, 29 Feb 1996 00:00:00 GMT', Date.UTC(1996, 1, 29)],
    ['Sat, 01 Jan 0000 00:00:00 GMT', Date.UTC(2000, 0, 1) - 730485 * 86_400_000],
    ['Fri, 31 Dec 9999 23:59:59 GMT', Date.UTC(9999, 11, 31, 23, 59, 59)],
    ['Sun, 06 Nov 1994 23:59:60 GMT', Date.UTC(1994, 10, 7)], // leap second
    ['Sun, 31 Feb 1994 08:49:37 GMT', undefined],
    ['Thu, 29 Feb 1900 00:00:00 GMT', undefined],
    ['Sun, 00 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 24:00:00 GMT', undefined],
    ['Sun, 06 Nov 1994 08:60:00 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49:61 GMT', undefined],
    ['Sun, 6 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 94 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['Sun, 06 Nov 1994 08:49:37 +0000', undefined],
    ['Sun, 06 Nov 1994 08:49:37', undefined],
    ['Sun, 06 nov 1994 08:49:37 GMT', undefined],
    ['Sunday, 06 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06-Nov-94 08:49:37 GMT', undefined],
    ['Sunday, 06-Nov-1994 08:49:37 GMT', undefined],
    ['Sun Nov 6 08:49:37 1994', undefined],
    ['Sun Nov  6 08:49:37 1994 GMT', undefined],
    ['1994-11-06T08:49:37Z', undefined],
    ['784111777', undefined],
    ['', undefined],
  ];
  for (const [value, want] of cases) {
    assert.equal(parseHttpDate(value, NOW)?.getTime(), want, JSON.stringify(value));
  }
});

test('RFC 850 two-digit years: more than 50 years ahead means the previous century', () => {
  const now = new Date(Date.UTC(2026, 5, 1));
  const year = (yy: string) => parseHttpDate(`Sunday, 06-Nov-${yy} 08:49:37 GMT`, now)?.getUTCFullYear();
  assert.equal(year('94'), 1994);
  assert.equal(year('26'), 2026);
  assert.equal(year('00'), 2000);
  assert.equal(year('76'), 2076);
  assert.equal(year('77'), 1977);
  assert.equal(year('99'), 1999);
});

test('httpDate writes IMF-fixdate and reads back to the second', () => {
  assert.equal(httpDate(new Date(LM_MS)), LM);
  assert.equal(httpDate(new Date(Date.UTC(2026, 0, 5, 1, 2, 3))), 'Mon, 05 Jan 2026 01:02:03 GMT');
  assert.equal(httpDate(new Date(0)), 'Thu, 01 Jan 1970 00:00:00 GMT');
  const ancient = new Date(0);
  ancient.setUTCFullYear(999, 0, 1);
  assert.equal(httpDate(ancient), 'Tue, 01 Jan 0999 00:00:00 GMT');
  let t = 0;
  for (let i = 0; i < 500; i++) {
    t = (t * 48271 + 12345) % 253402300799; // seconds up to 9999-12-31
    const d = new Date(t * 1000 + (i % 1000));
    assert.equal(httpDate(d), d.toUTCString());
    assert.equal(parseHttpDate(httpDate(d))?.getTime(), t * 1000);
  }
  const usage = (e: unknown) => isVvfError(e) && e.code === 'USAGE';
  assert.throws(() => httpDate(new Date(Number.NaN)), usage);
  assert.throws(() => httpDate(new Date(Date.UTC(10000, 0, 1))), usage);
});

test('entity-tag lists', () => {
  assert.deepEqual(parseEntityTagList('"a", W/"b",,"c,d" ,""'), [
    { weak: false, opaque: '"a"' },
    { weak: true, opaque: '"b"' },
    { weak: false, opaque: '"c,d"' },
    { weak: false, opaque: '""' },
  ]);
  assert.deepEqual(parseEntityTagList(''), []);
  assert.deepEqual(parseEntityTagList(' , '), []);
  for (const bad of ['"a', 'a', '"a" "b"', 'w/"a"', 'W/ "a"', '"a b"', '"a\x7f"', '"a"x', '*', '"a",*']) {
    assert.equal(parseEntityTagList(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseEntityTag('W/"x"'), { weak: true, opaque: '"x"' });
  assert.equal(parseEntityTag('"x", "y"'), undefined);
  assert.equal(parseEntityTag(''), undefined);
});

test('invalid validators are usage errors', () => {
  const usage = (e: unknown) => isVvfError(e) && e.code === 'USAGE';
  assert.throws(
    () => evaluateConditions({ method: 'GET', ifNoneMatch: '"x"' }, { etag: 'abc', lastModified: new Date() }),
    usage,
  );
  assert.throws(() => evaluateConditions({ method: 'GET' }, { etag: '"abc"', lastModified: new Date(Number.NaN) }), usage);
  assert.throws(() => ifRangeAllows('"abc"', { etag: 'abc', lastModified: new Date() }), usage);
});
