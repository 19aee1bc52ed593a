// The console's amount and time conversions (web/src/money.js), without a browser: amounts typed in major
// units become exact integer minor units (no binary floating point: 0.29 is 29, not 28.999...), and a
// country's wall-clock time becomes the right UTC instant on both sides of a DST change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMajor, toMajor, fmtMinor, zonedToUtc, utcToZoned } from '../../web/src/money.js';

test('amounts in major units become exact minor units', () => {
  const ok = [
    ['52999.99', 2, 5299999], ['52,999.99', 2, 5299999], ['1,52,999.99', 2, 15299999], [' 52 999.99 ', 2, 5299999],
    ['0.29', 2, 29], ['0.57', 2, 57], ['1.15', 2, 115], ['4.35', 2, 435], ['.5', 2, undefined],
    ['1299', 0, 1299], ['1,299,000', 0, 1299000], ['12.5', 2, 1250], ['1.005', 3, 1005], ['7', 3, 7000],
    ['100.', 2, 10000], ['-5', 2, -500], ['11258999068426.24', 2, 2 ** 50], ['0', 2, 0],
  ];
  for (const [text, digits, want] of ok) {
    const r = parseMajor(text, digits);
    if (want === undefined) assert.ok(r.error, `${text} refused`);
    else assert.deepEqual(r, { value: want }, `${text} with ${digits} digits`);
  }
  for (const [text, digits] of [['1299,99', 2], ['1299.5', 0], ['1.2345', 3], ['12.345', 2], ['1e3', 2], ['abc', 2],
    ['1,2,3', 2], ['12,34.5', 2], ['11258999068426.25', 2], ['--5', 2], ['0x10', 2]]) {
    assert.ok(parseMajor(text, digits).error, `${text} with ${digits} digits is refused`);
  }
  assert.deepEqual(parseMajor('  ', 2), { empty: true });
  assert.equal(toMajor(5299999, 2), '52999.99');
  assert.equal(toMajor(5, 2), '0.05');
  assert.equal(toMajor(1299, 0), '1299');
  assert.equal(toMajor(1005, 3), '1.005');
  for (const n of [0, 1, 29, 5299999, 2 ** 50]) assert.equal(parseMajor(toMajor(n, 2), 2).value, n);
  assert.equal(fmtMinor(5299999, 'INR', 2, 'IN'), '₹52,999.99');
  assert.equal(fmtMinor(2 ** 50, 'INR', 2, 'IN'), '₹1,12,58,99,90,68,426.24', 'no rounding through a double');
});

test('wall-clock times of a country become UTC instants', () => {
  assert.equal(zonedToUtc('2031-01-26T10:00', 'Asia/Kolkata'), '2031-01-26T04:30:00Z');
  assert.equal(zonedToUtc('2031-07-01T20:00', 'Europe/Madrid'), '2031-07-01T18:00:00Z');
  assert.equal(zonedToUtc('2031-12-01T20:00', 'Europe/Madrid'), '2031-12-01T19:00:00Z');
  assert.equal(zonedToUtc('2031-03-30T02:30', 'Europe/Madrid'), '2031-03-30T01:30:00Z', 'a skipped time moves forward');
  assert.equal(zonedToUtc('2031-01-01T00:00', 'Asia/Ho_Chi_Minh'), '2030-12-31T17:00:00Z');
  assert.equal(zonedToUtc('not a time', 'Asia/Kolkata'), null);
  assert.equal(utcToZoned('2031-01-26T04:30:00Z', 'Asia/Kolkata'), '2031-01-26T10:00');
  assert.equal(utcToZoned(Date.parse('2031-07-01T18:00:00Z'), 'Europe/Madrid'), '2031-07-01T20:00');
});
