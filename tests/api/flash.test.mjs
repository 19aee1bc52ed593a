// Flash sales: activity info, reservations, grabs in fcfs / queue / draw modes, anti-scalper rules,
// checkout with purchase tokens, expiry and cancellation returning units.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, expectError, run, ADDRESSES, localTime } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const IST = (ms) => localTime('Asia/Kolkata', ms);
let prefixSeq = 0;
const users = (n, country = 'IN') => run(['admin', 'load-users', '--data', srv.dataDir, '--country', country, '--count', String(n),
  '--prefix', `f${process.pid}x${++prefixSeq}x`, '--address', JSON.stringify(ADDRESSES[country])]).split('\n').filter(Boolean);

async function sku(offset = 0) {
  const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=20');
  return (await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=IN`)).json.skus[0];
}

async function sale(session, { rules, country = 'IN' } = {}) {
  const s = session.items ? session : { ...session, items: [{ sku: (await sku()).code, price: 10000, units: 5 }] };
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country, titles: { en: 'Launch', hi: 'लॉन्च' }, ...(rules ? { rules } : {}), sessions: [{ starts_at: IST(-60000), ends_at: IST(3600000), ...s }] },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, session: r.json.session_ids[0], sku: s.items[0].sku };
}

const grab = (f, token, extra = {}, headers = {}) => srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, headers, body: { session_id: f.session, sku: f.sku, ...extra } });

test('activity info: localized, priced, with state and progress; cacheable with an ETag', async () => {
  const s = await sku(1);
  const f = await sale({ items: [{ sku: s.code, price: 9900, units: 4 }] });
  const r = await srv.get(`/api/v1/flash-sales/${f.id}?lang=hi`);
  assert.equal(r.status, 200);
  assert.ok(r.json.server_time);
  assert.equal(r.json.sale.title, 'लॉन्च');
  const sess = r.json.sale.sessions[0];
  assert.equal(sess.state, 'live');
  assert.equal(sess.progress, 0);
  assert.match(sess.starts_at_local, /\+05:30$/);
  assert.equal(sess.items[0].flash_price.amount, 9900);
  assert.equal(sess.items[0].regular_price.amount, s.price.amount);
  assert.match(r.headers.get('cache-control'), /max-age/);
  assert.ok(r.headers.get('etag'));
  const list = await srv.get('/api/v1/flash-sales?country=IN');
  assert.ok(list.json.sales.some((x) => x.id === f.id));
  expectError(await srv.get('/api/v1/flash-sales/99999'), 404, 'not_found');
  const [u1, u2] = users(2);
  assert.equal((await grab(f, u1)).status, 200);
  assert.equal((await grab(f, u2)).status, 200);
  const after2 = await srv.get(`/api/v1/flash-sales/${f.id}`);
  assert.equal(after2.json.sale.sessions[0].progress, 50, 'progress follows the stock');
});

test('fcfs: one unit per buyer, sold out from memory, then a token buys at the flash price', async () => {
  const s = await sku(2);
  const f = await sale({ items: [{ sku: s.code, price: 12300, units: 2 }] });
  const [a, b, c] = users(3);
  const ga = await grab(f, a);
  assert.equal(ga.status, 200, ga.text);
  assert.match(ga.json.token, /^ft_[0-9a-f]{32}$/);
  assert.equal(ga.json.price.amount, 12300);
  expectError(await grab(f, a), 409, 'limit_reached');
  assert.equal((await grab(f, b)).status, 200);
  const sold = await grab(f, c);
  expectError(sold, 409, 'sold_out');
  const info = await srv.get(`/api/v1/flash-sales/${f.id}`);
  assert.equal(info.json.sale.sessions[0].state, 'sold_out');
  // checkout with the token: the flash price, once
  const o = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'card', flash_token: ga.json.token } });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.lines.length, 1);
  assert.equal(o.json.lines[0].sale_type, 'flash');
  assert.equal(o.json.lines[0].unit_price.amount, 12300);
  const again = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'card', flash_token: ga.json.token } });
  expectError(again, 409, 'conflict', 'flash_token');
  const other = await srv.api('POST', '/api/v1/orders', { token: c, body: { payment_method: 'card', flash_token: ga.json.token } });
  expectError(other, 422, 'validation_failed', 'flash_token');
  // a normal-price line of the same SKU never gets the flash price
  const normal = await srv.api('POST', '/api/v1/orders', { token: c, body: { payment_method: 'card', lines: [{ sku: s.code }] } });
  assert.equal(normal.json.lines[0].unit_price.amount, s.price.amount);
  assert.equal(normal.json.lines[0].sale_type, 'normal');
  // COD refused when the session disallows it
  const gb = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: T });
  assert.equal(gb.json.sessions[0].tokens.consumed, 1);
  assert.ok(gb.json.sessions[0].refusals.sold_out >= 1);
  assert.ok(gb.json.sessions[0].refusals.limit_reached >= 1);
});

test('a cancelled order gives its flash unit back and the session leaves sold_out', async () => {
  const s = await sku(3);
  const f = await sale({ items: [{ sku: s.code, price: 5000, units: 1 }], cod_allowed: false });
  const [a, b] = users(2);
  const g = await grab(f, a);
  assert.equal(g.status, 200);
  expectError(await grab(f, b), 409, 'sold_out');
  const cod = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'cod', flash_token: g.json.token } });
  expectError(cod, 422, 'validation_failed', 'payment_method');
  const o = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'card', flash_token: g.json.token } });
  assert.equal(o.status, 201, o.text);
  assert.equal((await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: a })).status, 200);
  let ok = null;
  for (let i = 0; i < 40 && !ok; i++) {
    await wait(100);
    const r = await grab(f, b);
    if (r.status === 200) ok = r;
  }
  assert.ok(ok, 'the unit came back to the session');
});

test('a paid flash order refunded in full before shipping gives its unit back', async () => {
  const s = await sku(13);
  const f = await sale({ items: [{ sku: s.code, price: 5000, units: 1 }] });
  const [a, b] = users(2);
  const g = await grab(f, a);
  assert.equal(g.status, 200, g.text);
  const o = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'card', flash_token: g.json.token } });
  assert.equal(o.status, 201, o.text);
  const paid = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: a, body: { card_token: 'tok_visa' } });
  assert.equal(paid.status, 200, paid.text);
  expectError(await grab(f, b), 409, 'sold_out');
  const refund = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/refunds`, { token: T, body: { country: 'IN', reason: 'customer changed mind', all: true } });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(refund.json.status, 'refunded');
  let ok = null;
  for (let i = 0; i < 40 && !ok; i++) {
    await wait(100);
    const r = await grab(f, b);
    if (r.status === 200) ok = r;
  }
  assert.ok(ok, 'the refunded unit came back to the session');
});

test('an expired token returns its unit; the buyer may try again', async () => {
  const s = await sku(4);
  const f = await sale({ items: [{ sku: s.code, price: 5000, units: 1 }], token_ttl_seconds: 1 });
  const [a, b] = users(2);
  const g = await grab(f, a);
  assert.equal(g.status, 200);
  expectError(await grab(f, b), 409, 'sold_out');
  await wait(1200);
  const late = await srv.api('POST', '/api/v1/orders', { token: a, body: { payment_method: 'card', flash_token: g.json.token } });
  expectError(late, 409, 'conflict', 'flash_token');
  let ok = null;
  for (let i = 0; i < 40 && !ok; i++) {
    const r = await grab(f, b);
    if (r.status === 200) ok = r;
    else await wait(100);
  }
  assert.ok(ok, 'the expired unit was given to the next buyer');
});

test('timing and reservations: 425 before the start, 403 without a reservation, reservations idempotent', async () => {
  const s = await sku(5);
  const later = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Soon' }, sessions: [{ starts_at: IST(3600000), ends_at: IST(7200000), items: [{ sku: s.code, price: 100, units: 1 }],
      reservation: { required: true, opens_at: IST(-60000), closes_at: IST(3000000) } }] },
  });
  assert.equal(later.status, 201, later.text);
  const f = { id: later.json.id, session: later.json.session_ids[0], sku: s.code };
  const [a, b] = users(2);
  const early = await grab(f, a);
  expectError(early, 425, 'not_started');
  assert.match(early.json.error.message, /\+05:30/);
  const r1 = await srv.api('POST', `/api/v1/flash-sales/${f.id}/reservations`, { token: a, body: { session_id: f.session } });
  assert.equal(r1.status, 201, r1.text);
  const r2 = await srv.api('POST', `/api/v1/flash-sales/${f.id}/reservations`, { token: a, body: { session_id: f.session } });
  assert.equal(r2.status, 200);
  const stats = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: T });
  assert.equal(stats.json.sessions[0].reservations, 1);
  // a live session that needs reservations
  const live = await sale({ items: [{ sku: s.code, price: 100, units: 3 }], reservation: { required: true, opens_at: IST(-120000), closes_at: IST(-60000) } });
  expectError(await grab(live, b), 403, 'not_reserved');
  const closed = await srv.api('POST', `/api/v1/flash-sales/${live.id}/reservations`, { token: b, body: { session_id: live.session } });
  expectError(closed, 409, 'conflict');
  expectError(await srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { body: { session_id: f.session, sku: s.code } }), 401, 'unauthorized');
});

test('anti-scalper: blocklist, account age, one win per phone and device, rate limits, proof of work', async () => {
  const s = await sku(6);
  const [a, b, c, d] = users(4);
  const me = await srv.get('/api/v1/users/me', { token: a });
  const blocked = await sale({ items: [{ sku: s.code, price: 100, units: 10 }] }, { rules: { blocklist: { users: [me.json.id] } } });
  const rb = await grab(blocked, a);
  expectError(rb, 403, 'blocked');
  assert.equal(rb.json.error.reason, 'blocklist');
  const aged = await sale({ items: [{ sku: s.code, price: 100, units: 10 }] }, { rules: { min_account_age_days: 30 } });
  const ra = await grab(aged, b);
  expectError(ra, 403, 'blocked');
  assert.equal(ra.json.error.reason, 'account_too_new');
  // every load-test user has the same address: one win per delivery address
  const addr = await sale({ items: [{ sku: s.code, price: 100, units: 10 }] }, { rules: { one_per_address: true } });
  assert.equal((await grab(addr, c)).status, 200);
  const rc = await grab(addr, d);
  expectError(rc, 403, 'blocked');
  assert.equal(rc.json.error.reason, 'address_already_won');
  const dev = await sale({ items: [{ sku: s.code, price: 100, units: 10 }] }, { rules: { one_per_device: true } });
  assert.equal((await grab(dev, a, {}, { 'x-device-id': 'phone-123' })).status, 200);
  const rd = await grab(dev, b, {}, { 'x-device-id': 'phone-123' });
  assert.equal(rd.json.error.reason, 'device_already_won');
  const rate = await sale({ items: [{ sku: s.code, price: 100, units: 10 }], per_user_limit: 100 }, { rules: { user_rate: { per_second: 1, burst: 2 } } });
  assert.equal((await grab(rate, c)).status, 200);
  assert.equal((await grab(rate, c)).status, 200);
  const rr = await grab(rate, c);
  expectError(rr, 429, 'rate_limited');
  assert.ok(rr.headers.get('retry-after'));
  const pow = await sale({ items: [{ sku: s.code, price: 100, units: 10 }] }, { rules: { pow_bits: 8 } });
  expectError(await grab(pow, d), 403, 'blocked');
  const ch = await srv.get(`/api/v1/flash-sales/${pow.id}/challenge`, { token: d });
  assert.equal(ch.json.bits, 8);
  let nonce = 0;
  for (;; nonce++) {
    const h = createHash('sha256').update(`${ch.json.challenge}:${nonce}`).digest();
    if (h[0] === 0) break;
  }
  const solved = await grab(pow, d, { proof: { challenge: ch.json.challenge, nonce: String(nonce) } });
  assert.equal(solved.status, 200, solved.text);
  const stolen = await grab(pow, a, { proof: { challenge: ch.json.challenge, nonce: String(nonce) } });
  expectError(stolen, 403, 'blocked', undefined);
  assert.equal(stolen.json.error.reason, 'challenge_failed', 'a challenge is bound to its account');
  const stats = await srv.get(`/api/v1/admin/flash-sales/${pow.id}/stats`, { token: T });
  assert.equal(stats.json.sessions[0].refusals.challenge_failed, 2);
});

// Finds a nonce so that SHA-256(challenge:nonce) starts with `bits` zero bits (bits <= 8), skipping `skip` answers.
function solve(challenge, bits, skip = 0) {
  for (let nonce = 0; ; nonce++) {
    const h = createHash('sha256').update(`${challenge}:${nonce}`).digest();
    if ((h[0] >> (8 - bits)) === 0 && skip-- === 0) return { challenge, nonce: String(nonce) };
  }
}

test('proof of work: a solved challenge is accepted once, however it is replayed', async () => {
  const s = await sku(10);
  const f = await sale({ items: [{ sku: s.code, price: 100, units: 20 }], per_user_limit: 10 }, { rules: { pow_bits: 4 } });
  const [a] = users(1);
  const challenge = async () => (await srv.get(`/api/v1/flash-sales/${f.id}/challenge`, { token: a })).json.challenge;
  const refused = (r, why) => {
    expectError(r, 403, 'blocked');
    assert.equal(r.json.error.reason, 'challenge_failed', why);
  };
  const c1 = await challenge();
  await wait(5);
  const c2 = await challenge();
  assert.notEqual(c1, c2);
  // the newer one first, then the older one: both are fresh
  const p2 = solve(c2, 4);
  assert.equal((await grab(f, a, { proof: p2 })).status, 200);
  refused(await grab(f, a, { proof: p2 }), 'a replayed proof is refused');
  refused(await grab(f, a, { proof: solve(c2, 4, 1) }), 'another nonce for a used challenge is refused');
  const p1 = solve(c1, 4);
  assert.equal((await grab(f, a, { proof: p1 })).status, 200, 'an older challenge not used yet is accepted');
  refused(await grab(f, a, { proof: p1 }));
  // nor in another sale
  const g = await sale({ items: [{ sku: s.code, price: 100, units: 5 }] }, { rules: { pow_bits: 4 } });
  refused(await grab(g, a, { proof: p2 }), 'a used challenge is refused in every sale');
  // racing copies of one proof: exactly one is accepted
  const p3 = solve(await challenge(), 4);
  const race = await Promise.all(Array.from({ length: 8 }, () => grab(f, a, { proof: p3 })));
  assert.equal(race.filter((r) => r.status === 200).length, 1, race.map((r) => r.status).join(','));
  for (const r of race.filter((x) => x.status !== 200)) refused(r);
  const stats = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: T });
  assert.equal(stats.json.sessions[0].wins, 3);
  assert.equal(stats.json.sessions[0].refusals.challenge_failed, 10);
});

test('rate limits above 1000 per second are kept exactly (not rounded to 1 ms)', async () => {
  const s = await sku(11);
  // every grab without a proof passes the rate limit and stops at the challenge, without touching storage
  const f = await sale({ items: [{ sku: s.code, price: 100, units: 5 }] },
    { rules: { ip_rate: { per_second: 100000, burst: 1 }, pow_bits: 1 } });
  const [a] = users(1);
  const seen = {};
  for (let i = 0; i < 150; i++) {
    const r = await grab(f, a);
    const k = `${r.status} ${r.json.error?.reason}`;
    seen[k] = (seen[k] || 0) + 1;
  }
  // one request every 10 microseconds is allowed: one after another, none is over the limit
  assert.deepEqual(seen, { '403 challenge_failed': 150 });
});

test('queue mode: 202 with a voucher, decided in arrival order', async () => {
  const s = await sku(7);
  const f = await sale({ mode: 'queue', items: [{ sku: s.code, price: 100, units: 3 }] });
  const us = users(8);
  // all at once: the server numbers them in arrival order
  const answers = await Promise.all(us.map((u) => grab(f, u)));
  const queued = [];
  answers.forEach((r, i) => {
    if (r.status === 202) {
      assert.match(r.json.voucher, /^q\d+-\d+$/);
      queued.push({ u: us[i], v: r.json.voucher, seq: Number(r.json.voucher.split('-')[1]) });
    } else {
      expectError(r, 409, 'sold_out'); // once the queue has handed out every unit, later grabs hear it at once
    }
  });
  assert.ok(queued.length >= 3);
  for (const q of queued) {
    for (let i = 0; i < 50; i++) {
      q.r = (await srv.get(`/api/v1/flash-sales/${f.id}/queue/${q.v}`, { token: q.u })).json;
      if (q.r.status !== 'pending') break;
      await wait(100);
    }
  }
  queued.sort((a, b) => a.seq - b.seq);
  assert.deepEqual(queued.map((q) => q.r.status), queued.map((_, i) => (i < 3 ? 'won' : 'lost')),
    'the first three in arrival order win, everyone after loses');
  for (const q of queued.slice(0, 3)) assert.match(q.r.token, /^ft_/);
  expectError(await grab(f, queued[0].u), 409, 'sold_out');
  expectError(await srv.get(`/api/v1/flash-sales/${f.id}/queue/${queued[0].v}`, { token: queued[1].u }), 404, 'not_found');
});

test('draw mode: entries, a seeded draw whose seed matches the published commitment, verifiable winners', async () => {
  const s = await sku(8);
  // the entries must all arrive before the end, also on a loaded machine: 6 s, then the draw after it
  const endsIn = 6000, t0 = Date.now();
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Lucky draw' }, sessions: [{ mode: 'draw', starts_at: IST(-60000), ends_at: IST(endsIn), items: [{ sku: s.code, price: 100, units: 2 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const f = { id: r.json.id, session: r.json.session_ids[0], sku: s.code };
  const before = await srv.get(`/api/v1/flash-sales/${f.id}`);
  const commitment = before.json.sale.sessions[0].draw.seed_commitment;
  assert.match(commitment, /^[0-9a-f]{64}$/);
  assert.equal(before.json.sale.sessions[0].draw.seed, undefined, 'the seed is secret until the draw');
  const us = users(5);
  const tickets = [];
  for (const u of us) {
    const g = await grab(f, u);
    assert.equal(g.status, 202, g.text);
    tickets.push({ u, v: g.json.voucher });
  }
  expectError(await grab(f, us[0]), 409, 'limit_reached');
  await wait(Math.max(0, t0 + endsIn - Date.now()) + 500);
  let info;
  for (let i = 0; i < 50; i++) {
    info = await srv.get(`/api/v1/flash-sales/${f.id}`);
    if (info.json.sale.sessions[0].draw.seed) break;
    await wait(100);
  }
  const draw = info.json.sale.sessions[0].draw;
  assert.equal(createHash('sha256').update(Buffer.from(draw.seed, 'hex')).digest('hex'), commitment, 'the seed matches the commitment');
  const ranked = [...draw.all_tickets].sort((x, y) => Buffer.compare(
    createHash('sha256').update(Buffer.concat([Buffer.from(draw.seed, 'hex'), Buffer.from(x)])).digest(),
    createHash('sha256').update(Buffer.concat([Buffer.from(draw.seed, 'hex'), Buffer.from(y)])).digest()));
  assert.deepEqual([...draw.winning_tickets].sort(), ranked.slice(0, 2).sort(), 'anyone can recompute the winners');
  let won = 0;
  for (const { u, v } of tickets) {
    const q = await srv.get(`/api/v1/flash-sales/${f.id}/queue/${v}`, { token: u });
    assert.ok(['won', 'lost'].includes(q.json.status));
    if (q.json.status === 'won') {
      won++;
      assert.ok(draw.winning_tickets.includes(v));
    }
  }
  assert.equal(won, 2);
});

test('admin validation and rights', async () => {
  const s = await sku(9), t = await sku(12);
  const bad = [
    [{ sessions: [] }, 'sessions'],
    [{ sessions: [{ starts_at: IST(0), ends_at: IST(-1000), items: [{ sku: s.code, price: 1, units: 1 }] }] }, 'sessions[0].ends_at'],
    [{ sessions: [{ starts_at: IST(0), ends_at: IST(1000), mode: 'lottery', items: [{ sku: s.code, price: 1, units: 1 }] }] }, 'sessions[0].mode'],
    [{ sessions: [{ starts_at: IST(0), ends_at: IST(1000), items: [{ sku: 'NOPE', price: 1, units: 1 }] }] }, 'sessions[0].items[0].sku'],
    [{ sessions: [{ starts_at: IST(0), ends_at: IST(1000), items: [{ sku: s.code, price: 1, units: 0 }] }] }, 'sessions[0].items[0].units'],
    [{ rules: { pow_bits: 40 }, sessions: [{ starts_at: IST(0), ends_at: IST(1000), items: [{ sku: s.code, price: 1, units: 1 }] }] }, 'rules.pow_bits'],
    // one SKU twice in a session: the second is named
    [{ sessions: [{ starts_at: IST(0), ends_at: IST(1000), items: [{ sku: s.code, price: 1, units: 1 }] },
      { starts_at: IST(0), ends_at: IST(1000), items: [{ sku: t.code, price: 1, units: 1 }, { sku: s.code, price: 1, units: 1 }, { sku: t.code, price: 2, units: 1 }] }] },
    'sessions[1].items[2].sku'],
  ];
  // the blocklist: arrays of customer ids and IP addresses
  const blocklists = [
    [{ users: 7 }, 'rules.blocklist.users'],
    [{ users: [1, '7'] }, 'rules.blocklist.users[1]'],
    [{ users: [0] }, 'rules.blocklist.users[0]'],
    [{ users: [-3] }, 'rules.blocklist.users[0]'],
    [{ users: [1.5] }, 'rules.blocklist.users[0]'],
    [{ users: Array.from({ length: 10001 }, (_, i) => i + 1) }, 'rules.blocklist.users'],
    [{ ips: '203.0.113.7' }, 'rules.blocklist.ips'],
    [{ ips: ['203.0.113.7', 42] }, 'rules.blocklist.ips[1]'],
    [{ ips: ['not-an-ip'] }, 'rules.blocklist.ips[0]'],
    [{ ips: ['203.0.113.0/24'] }, 'rules.blocklist.ips[0]'],
    [{ ips: ['203.0.113.256'] }, 'rules.blocklist.ips[0]'],
    [{ ips: [''] }, 'rules.blocklist.ips[0]'],
    [{ ips: [' 203.0.113.7'] }, 'rules.blocklist.ips[0]'],
    [{ ips: ['1'.repeat(80)] }, 'rules.blocklist.ips[0]'],
    [{ ips: Array.from({ length: 10001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`) }, 'rules.blocklist.ips'],
  ];
  for (const [blocklist, field] of blocklists)
    bad.push([{ rules: { blocklist }, sessions: [{ starts_at: IST(0), ends_at: IST(1000), items: [{ sku: s.code, price: 1, units: 1 }] }] }, field]);
  for (const [body, field] of bad) {
    const r = await srv.api('POST', '/api/v1/admin/flash-sales', { token: T, body: { country: 'IN', titles: { en: 'x' }, ...body } });
    expectError(r, 422, 'validation_failed', field);
  }
  const [u] = users(1);
  expectError(await srv.api('POST', '/api/v1/admin/flash-sales', { token: u, body: {} }), 403, 'forbidden');
  // accepted: one SKU in two sessions; IP addresses in any standard spelling, compared in their usual form
  const two = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'x' }, rules: { blocklist: { users: [], ips: ['2001:DB8:0::1', '::ffff:127.0.0.1'] } },
      sessions: [0, 1].map(() => ({ starts_at: IST(-60000), ends_at: IST(60000), items: [{ sku: s.code, price: 100, units: 1 }] })) },
  });
  assert.equal(two.status, 201, two.text);
  const local = await grab({ id: two.json.id, session: two.json.session_ids[1], sku: s.code }, u);
  expectError(local, 403, 'blocked');
  assert.equal(local.json.error.reason, 'blocklist', '::ffff:127.0.0.1 is 127.0.0.1');
  // staff take no part in sales: their ids are not customers' ids
  const f = await sale({ mode: 'queue', items: [{ sku: s.code, price: 100, units: 1 }] });
  expectError(await srv.get(`/api/v1/flash-sales/${f.id}/challenge`, { token: T }), 403, 'forbidden');
  expectError(await srv.get(`/api/v1/flash-sales/${f.id}/queue/q${f.session}-1`, { token: T }), 403, 'forbidden');
  // a bad session id on the draw route is a plain 404
  expectError(await srv.api('POST', `/api/v1/admin/flash-sales/${f.id}/sessions/abc/draw`, { token: T }), 404, 'not_found');
});
