// What the console's forms need beyond lib.js: amounts typed in major units (as the currency shows them)
// turned into the API's integer minor units exactly, and wall-clock times of a country's time zone turned
// into UTC instants. No floating point touches an amount: the decimal string is parsed digit by digit.

const MAX_MINOR = 1125899906842624n; // 2^50, the API's largest amount

// "52,999.99" with 2 digits -> 5299999. A point is the decimal separator; commas (or spaces) may group the
// integer part in threes, or Indian style (1,52,999), so "1299,99" (a decimal comma) is refused rather than
// read as 129999 major units. A leading minus is kept (the API says why a negative amount is wrong).
// Answers { value } (a safe integer), { empty: true }, or { error } (a message for the operator).
export function parseMajor(text, digits) {
  const s = String(text ?? '').trim().replace(/[\s\u00a0\u202f_]/g, '');
  if (s === '') return { empty: true };
  const m = /^([-+]?)(\d[\d,]*)(?:\.(\d*))?$/.exec(s);
  if (!m) return { error: `Not an amount: type digits, with a point for decimals (e.g. ${example(digits)}).` };
  const [, sign, whole, frac = ''] = m;
  if (whole.includes(',')) {
    const groups = whole.split(',');
    const ok = groups[0].length >= 1 && groups[0].length <= 3 && groups[groups.length - 1].length === 3 &&
      groups.slice(1, -1).every((g) => g.length === 2 || g.length === 3);
    if (!ok) return { error: `Use a point for decimals and commas only between thousands (e.g. ${example(digits)}).` };
  }
  if (frac.length > digits) {
    return { error: digits === 0 ? 'This currency has no decimals: type whole units.' : `At most ${digits} decimal${digits > 1 ? 's' : ''} in this currency.` };
  }
  const minor = BigInt(whole.replace(/,/g, '') + frac.padEnd(digits, '0'));
  if (minor > MAX_MINOR) return { error: 'This amount is too large.' };
  return { value: Number(sign === '-' ? -minor : minor) };
}
const example = (digits) => (digits ? `1299.${'9'.repeat(digits)}` : '1299');

// 5299999 minor units with 2 digits -> "52999.99": what the operator would type for an amount (the
// inverse of parseMajor, for pre-filling inputs).
export function toMajor(minor, digits) {
  const neg = minor < 0;
  const s = String(Math.abs(minor)).padStart(digits + 1, '0');
  return (neg ? '-' : '') + (digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s);
}

// minor units, formatted as the country shows its currency (en-IN: ₹52,999.99)
export function fmtMinor(minor, currency, digits, country) {
  const major = toMajor(minor, digits); // a string: Intl formats it without going through a binary double
  try {
    return new Intl.NumberFormat(`en-${country || 'US'}`, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(major);
  } catch { return `${major} ${currency}`; }
}

// How far the wall clock of timeZone is ahead of UTC at instant t (ms), in ms.
function offsetAt(t, timeZone) {
  const p = {};
  for (const x of new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(t))) p[x.type] = x.value;
  return Date.UTC(+p.year, p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(t / 1000) * 1000;
}

// "2026-12-03T14:30" (an <input type=datetime-local> value) as wall time in timeZone -> "2026-12-03T09:00:00Z",
// or null when the text is not such a time. A time the clocks skip (a DST gap) moves forward by the gap.
export function zonedToUtc(local, timeZone) {
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?$/.exec(local || '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let t = wall - offsetAt(wall, timeZone);
  t = wall - offsetAt(t, timeZone);
  return new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
}

// An instant (ms or ISO text) as "YYYY-MM-DDTHH:MM" wall time in timeZone (a datetime-local value).
export function utcToZoned(at, timeZone) {
  const t = typeof at === 'number' ? at : Date.parse(at);
  return new Date(t + offsetAt(t, timeZone)).toISOString().slice(0, 16);
}
