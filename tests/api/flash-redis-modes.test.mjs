// A flash sale on two nodes sharing one PostgreSQL and one Redis (both started here, stopped after), beyond
// first-come-first-served stock: a sale created on one node is on sale on the other at once, reservations,
// logouts and blocklists hold on every node, and a node that stands still (SIGSTOP) past its lease cannot
// record a win whose unit was given back meanwhile (the fence).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedStackMissing, startSharedStack, startServer, expectError, run, ADDRESSES, until, wait, localTime } from './helpers.mjs';

const skip = sharedStackMissing();

let stack, redis, redisDir, dataDir, A, B, T, inUrl;
let buyers = [];
const skus = [];
const IST = (ms) => localTime('Asia/Kolkata', ms);
// (a timeout: a synchronous call that waited for ever on a lock left behind would hang the whole file)
const psql = (sql) => execFileSync('psql', ['-qAt', inUrl, '-c', sql], { encoding: 'utf8', timeout: 30000 }).trim();
const redisCli = (...args) => execFileSync('redis-cli', ['-u', redis, ...args], { encoding: 'utf8', timeout: 30000 }).trim();

async function createSale(srv, code, units, { rules, reservation } = {}) {
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Launch' }, ...(rules ? { rules } : {}),
      sessions: [{ starts_at: IST(-60000), ends_at: IST(3600000), per_user_limit: 1, token_ttl_seconds: 900, ...(reservation ? { reservation } : {}), items: [{ sku: code, price: 10000, units }] }] },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, session: r.json.session_ids[0], sku: code, units, created: Date.now() };
}
const grab = (srv, f, token) => srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
const tokens = (f) => psql(`SELECT token FROM flash_token WHERE session_id = ${f.session}`).split('\n').filter(Boolean);

// fn() until it returns a truthy value, at most ms milliseconds (a failure names what did not happen)
async function within(ms, what, fn) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await wait(20);
  }
}

before(async () => {
  if (skip) return;
  stack = startSharedStack('fm');
  ({ redis, redisDir } = stack);
  inUrl = stack.urls.in;
  dataDir = mkdtempSync(join(tmpdir(), 'meridian-redis-modes-'));
  run(['seed', '--data', dataDir]);
  A = await startServer({ dataDir, args: ['--redis', redis] });
  B = await startServer({ dataDir, args: ['--redis', redis] });
  T = A.adminToken;
  const list = await A.get('/api/v1/products?country=IN&category=accessories&per_page=20');
  for (const p of list.json.items.slice(0, 6)) skus.push((await A.get(`/api/v1/products/${p.id}?country=IN`)).json.skus[0].code);
  buyers = run(['admin', 'load-users', '--data', dataDir, '--country', 'IN', '--count', '40', '--prefix', `m${process.pid}x`,
    '--address', JSON.stringify(ADDRESSES.IN)]).split('\n').filter(Boolean);
  assert.equal(buyers.length, 40);
});

after(async () => {
  if (skip) return;
  for (const n of [A, B]) if (n) { if (n.child.exitCode === null) n.child.kill('SIGCONT'); await n.stop({ keepData: true }); }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  stack?.stop();
});

test('a sale created on one node is on sale on the other within a second, without a restart', { skip }, async (t) => {
  const f = await createSale(A, skus[0], 3);
  const won = await within(1000, 'a grab on node B', async () => { const r = await grab(B, f, buyers[0]); return r.status === 200 && r; });
  t.diagnostic(`node B sold the sale created on node A ${Date.now() - f.created} ms after the 201`);
  assert.equal((await B.get(`/api/v1/flash-sales/${f.id}`)).json.sale.sessions[0].state, 'live');
  // and the other way round; the stock is one: 3 units, whichever node sells them
  const g = await createSale(B, skus[1], 1);
  await within(1000, 'a grab on node A', async () => (await grab(A, g, buyers[1])).status === 200);
  const more = await Promise.all([grab(A, f, buyers[2]), grab(B, f, buyers[3]), grab(A, f, buyers[4]), grab(B, f, buyers[5])]);
  assert.equal(more.filter((r) => r.status === 200).length, 2, more.map((r) => r.status).join(','));
  assert.equal(tokens(f).length, 3);
  assert.ok(tokens(f).includes(won.json.token));
  assert.equal(tokens(g).length, 1);
});

test('a reservation made on one node is honoured on the other', { skip }, async () => {
  const f = await createSale(A, skus[2], 5, { reservation: { required: true, opens_at: IST(-120000), closes_at: IST(3000000) } });
  await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  const [who, other] = [buyers[10], buyers[11]];
  const r = await A.api('POST', `/api/v1/flash-sales/${f.id}/reservations`, { token: who, body: { session_id: f.session } });
  assert.equal(r.status, 201, r.text);
  // B knows it (the note arrives when the row commits): a second reservation there is "already reserved"
  await within(1000, 'the reservation on node B', async () =>
    (await B.api('POST', `/api/v1/flash-sales/${f.id}/reservations`, { token: who, body: { session_id: f.session } })).status === 200);
  const g = await grab(B, f, who);
  assert.equal(g.status, 200, g.text);
  expectError(await grab(B, f, other), 403, 'not_reserved');
  assert.equal(Number(psql(`SELECT COUNT(*) FROM flash_reservation WHERE session_id = ${f.session}`)), 1);
});

test('a logout or a blocklist entry made on one node takes effect on every node within a second', { skip }, async () => {
  // logout on A: the session is refused on B (the user note, store/notify.h)
  const login = await A.api('POST', '/api/v1/users', { body: { email: `lo${process.pid}@example.test`, password: 'correct horse battery', country: 'IN', name: 'Lo' } });
  assert.equal(login.status, 201, login.text);
  const s = await A.api('POST', '/api/v1/sessions', { body: { email: `lo${process.pid}@example.test`, password: 'correct horse battery', country: 'IN' } });
  assert.equal(s.status, 201, s.text);
  const tok = s.json.token;
  assert.equal((await B.get('/api/v1/users/me', { token: tok })).status, 200); // cached on B
  assert.equal((await A.api('DELETE', '/api/v1/sessions/current', { token: tok })).status, 204);
  await within(1000, 'the logout on node B', async () => (await B.get('/api/v1/users/me', { token: tok })).status === 401);
  // a blocklist (the sale's rules) made on A refuses the buyer on B
  const me = (await A.get('/api/v1/users/me', { token: buyers[20] })).json;
  const f = await createSale(A, skus[3], 5, { rules: { blocklist: { users: [me.id] } } });
  const r = await within(1000, 'the blocklist on node B', async () => { const x = await grab(B, f, buyers[20]); return x.status === 403 && x; });
  expectError(r, 403, 'blocked');
  assert.equal(r.json.error.reason, 'blocklist');
  assert.equal((await grab(B, f, buyers[21])).status, 200);
});

test('rate limits across nodes: a client alternating two nodes gets at most the limit plus the stated slack', { skip }, async (t) => {
  // each node enforces 1/n of the rate and ceil(burst / n) of the burst (n: nodes holding a lease), so over
  // any t seconds a client gets at most rate * t + burst + n - 1 answers that are not 429, however it
  // spreads its requests; on each node alone, the old limits let it have 2 * (burst + rate * t)
  assert.equal(redisCli('ZCARD', 'mer:fs:nodes'), '2', 'both nodes hold a lease');
  const burst = 4, rate = 1, n = 2;
  const byUser = await createSale(A, skus[5], 100, { rules: { user_rate: { per_second: rate, burst } } });
  const byIp = await createSale(A, skus[5], 100, { rules: { ip_rate: { per_second: rate, burst } } });
  for (const f of [byUser, byIp]) await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  for (const [f, who] of [[byUser, () => buyers[35]], [byIp, (i) => buyers[22 + (i % 8)]]]) {
    const t0 = Date.now();
    const out = [];
    for (let i = 0; i < 24; i++) out.push(await grab(i % 2 ? B : A, f, who(i)));
    const secs = (Date.now() - t0) / 1000;
    const passed = out.filter((r) => r.status !== 429).length;
    for (const r of out) if (r.status === 429) expectError(r, 429, 'rate_limited');
    const bound = burst + n - 1 + Math.ceil(rate * secs);
    t.diagnostic(`${f === byUser ? 'per user' : 'per IP'}: ${passed} of 24 passed in ${secs.toFixed(2)} s (bound ${bound}); ${out.filter((r, i) => i % 2 && r.status !== 429).length} of them on B`);
    assert.ok(passed <= bound, `${passed} passed, more than ${bound}: ${out.map((r) => r.status).join(',')}`);
    assert.ok(passed >= 2, 'each node lets its share through');
  }
});

// polls a voucher on a node until it is decided
async function outcome(srv, f, v, token) {
  return until(async () => { const q = await srv.get(`/api/v1/flash-sales/${f.id}/queue/${v}`, { token }); return q.status === 200 && q.json.status !== 'pending' && q.json; }, `voucher ${v} decided`, 100);
}

test('queue mode across nodes: one arrival order, the first units to the first numbers, the same answer on both nodes', { skip }, async () => {
  const r = await A.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Queue' }, sessions: [{ mode: 'queue', starts_at: IST(-60000), ends_at: IST(3600000), items: [{ sku: skus[0], price: 100, units: 3 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const f = { id: r.json.id, session: r.json.session_ids[0], sku: skus[0] };
  await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  const who = buyers.slice(12, 20);
  // everyone at once, spread over both nodes; one buyer also fires at the other node
  const answers = await Promise.all([...who.map((u, i) => grab(i % 2 ? B : A, f, u)), grab(A, f, who[1])]);
  // one ticket per buyer, whichever node: of who[1]'s two shots (at B and at A) one is queued
  const [shotB, shotA] = [answers[1], answers[who.length]];
  assert.deepEqual([shotB.status, shotA.status].sort(), [202, 409], `${shotB.text} ${shotA.text}`);
  expectError(shotB.status === 409 ? shotB : shotA, 409, 'limit_reached');
  if (shotB.status === 409) answers[1] = Object.assign(shotA, { viaA: true });
  const queued = [];
  answers.slice(0, who.length).forEach((x, i) => {
    assert.equal(x.status, 202, x.text);
    const at = x.viaA ? A : i % 2 ? B : A;
    queued.push({ u: who[i], v: x.json.voucher, seq: Number(x.json.voucher.split('-')[1]), at, other: at === A ? B : A });
  });
  assert.deepEqual(queued.map((q) => q.seq).sort((a, b) => a - b), who.map((_, i) => i + 1), 'one numbering over both nodes');
  for (const q of queued) {
    q.r = await outcome(q.other, f, q.v, q.u); // asked at the node that did not take the grab
    assert.deepEqual(await outcome(q.at, f, q.v, q.u), q.r, 'the same answer on both nodes');
  }
  queued.sort((a, b) => a.seq - b.seq);
  assert.deepEqual(queued.map((q) => q.r.status), queued.map((_, i) => (i < 3 ? 'won' : 'lost')), 'the first three numbers win');
  assert.deepEqual(tokens(f).sort(), queued.slice(0, 3).map((q) => q.r.token).sort(), 'exactly the winners hold tokens');
  // a winner checks out on the node that did not decide (or did; either works)
  const o = await B.api('POST', '/api/v1/orders', { token: queued[0].u, body: { payment_method: 'card', flash_token: queued[0].r.token } });
  assert.equal(o.status, 201, o.text);
});

test('queue across nodes: a winner\'s token that expires gives its unit to a later ticket', { skip, timeout: 60000 }, async () => {
  const r = await A.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Queue ttl' }, sessions: [{ mode: 'queue', starts_at: IST(-60000), ends_at: IST(3600000), token_ttl_seconds: 1, items: [{ sku: skus[3], price: 100, units: 1 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const f = { id: r.json.id, session: r.json.session_ids[0], sku: skus[3] };
  await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  const x = await grab(A, f, buyers[36]);
  assert.equal(x.status, 202, x.text);
  assert.equal((await outcome(B, f, x.json.voucher, buyers[36])).status, 'won');
  // the token lives one second; whichever node's processor expires it, the unit is the queue's again
  await until(() => psql(`SELECT state FROM flash_token WHERE session_id = ${f.session}`) === 'expired', 'the token expired', 100);
  const y = await grab(B, f, buyers[37]);
  assert.equal(y.status, 202, y.text);
  assert.equal((await outcome(A, f, y.json.voucher, buyers[37])).status, 'won');
  for (const n of [A, B]) assert.equal((await n.get('/healthz')).status, 200);
});

test('draw mode across nodes: entries from both nodes, drawn once, the same winners on both nodes', { skip, timeout: 60000 }, async () => {
  const endsIn = 5000, t0 = Date.now();
  const r = await A.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Draw' }, sessions: [{ mode: 'draw', starts_at: IST(-60000), ends_at: IST(endsIn), items: [{ sku: skus[1], price: 100, units: 2 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const f = { id: r.json.id, session: r.json.session_ids[0], sku: skus[1] };
  await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  const who = buyers.slice(24, 30);
  const tickets = [];
  for (const [i, u] of who.entries()) {
    const g = await grab(i % 2 ? B : A, f, u);
    assert.equal(g.status, 202, g.text);
    tickets.push({ u, v: g.json.voucher });
  }
  expectError(await grab(B, f, who[0]), 409, 'limit_reached');
  assert.equal(new Set(tickets.map((t) => t.v)).size, who.length, 'no two entries share a ticket');
  await wait(Math.max(0, t0 + endsIn - Date.now()) + 300);
  const draws = [];
  for (const n of [A, B]) {
    const info = await until(async () => { const x = await n.get(`/api/v1/flash-sales/${f.id}`); return x.json.sale.sessions[0].draw.seed && x; }, 'the draw', 100);
    draws.push(info.json.sale.sessions[0].draw);
  }
  assert.equal(draws[0].seed, draws[1].seed);
  assert.deepEqual([...draws[0].all_tickets].sort(), tickets.map((t) => t.v).sort(), 'every entry of both nodes is in the draw');
  assert.deepEqual([...draws[0].winning_tickets].sort(), [...draws[1].winning_tickets].sort());
  assert.equal(draws[0].winning_tickets.length, 2);
  assert.equal(createHash('sha256').update(Buffer.from(draws[0].seed, 'hex')).digest('hex'), draws[0].seed_commitment);
  // each winner's token issued once, whichever node it is asked at
  const won = [];
  for (const { u, v } of tickets) {
    const a = await outcome(A, f, v, u), b = await outcome(B, f, v, u);
    assert.deepEqual(a, b, 'the same answer on both nodes');
    if (a.status === 'won') won.push(a.token);
  }
  assert.equal(won.length, 2);
  assert.deepEqual(tokens(f).sort(), won.sort(), 'two tokens, drawn once');
});

test('queue across nodes: a number whose row never comes is voided after a moment, and the queue moves on', { skip, timeout: 60000 }, async () => {
  // a third node whose first entry row fails: it takes number 1 in Redis and never writes it
  const C = await startServer({ dataDir, args: ['--redis', redis], env: { MERIDIAN_FAULT: 'stmt:1:INSERT INTO flash_entry' } });
  try {
    const r = await A.api('POST', '/api/v1/admin/flash-sales', {
      token: T, body: { country: 'IN', titles: { en: 'Queue gap' }, sessions: [{ mode: 'queue', starts_at: IST(-60000), ends_at: IST(3600000), items: [{ sku: skus[2], price: 100, units: 2 }] }] },
    });
    assert.equal(r.status, 201, r.text);
    const f = { id: r.json.id, session: r.json.session_ids[0], sku: skus[2] };
    for (const n of [B, C]) await within(1000, 'the sale on every node', async () => (await n.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
    expectError(await grab(C, f, buyers[32]), 503, 'unavailable');
    const y = await grab(A, f, buyers[33]), z = await grab(B, f, buyers[34]);
    assert.equal(y.status, 202, y.text);
    assert.equal(z.status, 202, z.text);
    assert.deepEqual([y.json.voucher, z.json.voucher], [`q${f.session}-2`, `q${f.session}-3`], 'number 1 went to the failed entry');
    const t0 = Date.now();
    const ry = await outcome(B, f, y.json.voucher, buyers[33]), rz = await outcome(A, f, z.json.voucher, buyers[34]);
    assert.equal(ry.status, 'won');
    assert.equal(rz.status, 'won');
    assert.ok(Date.now() - t0 < 8000, `the queue waited ${Date.now() - t0} ms for the missing number`);
    assert.equal(psql(`SELECT state FROM flash_fence WHERE token = 'q${f.session}-1'`), 'void');
    assert.equal(tokens(f).length, 2);
    // the buyer whose entry failed may queue again (its counts were given back); the stock is gone
    const again = await grab(A, f, buyers[32]);
    assert.equal(again.status, 202, again.text);
    assert.equal((await outcome(A, f, again.json.voucher, buyers[32])).status, 'lost');
  } finally {
    await C.stop({ keepData: true });
  }
});

test('a node frozen (SIGSTOP) past its lease with a win in flight cannot record it once its unit was given back', { skip, timeout: 90000 }, async (t) => {
  const f = await createSale(A, skus[4], 1);
  await within(1000, 'the sale on node B', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
  // hold the token table so that B's win, taken in Redis, waits in B's writer before its row
  const lock = spawn('psql', ['-qAt', inUrl], { stdio: ['pipe', 'ignore', 'inherit'] });
  const lockExited = new Promise((res) => lock.on('exit', res));
  try {
    lock.stdin.write('BEGIN; LOCK TABLE flash_token IN SHARE ROW EXCLUSIVE MODE; SELECT 1;\n');
    await until(() => psql("SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'flash_token' AND l.mode = 'ShareRowExclusiveLock' AND l.granted") === '1', 'the lock', 100);
    const inFlight = grab(B, f, buyers[30]).catch((e) => ({ status: 0, text: String(e) }));
    await until(() => psql("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO flash_token%'") === '1', 'B\'s win waiting for its row', 200);
    assert.equal(Number(redisCli('GET', `mer:fs:${f.session}:0:stock`) || 0), 0, 'the unit is B\'s win in Redis');
    B.child.kill('SIGSTOP');
    const stopped = Date.now();
    // B's lease runs out; A voids B's unrecorded win in the database and gives its unit back
    await until(() => psql("SELECT COUNT(*) FROM flash_fence WHERE state = 'void' AND token LIKE 'ft\\_%'") === '1', 'the win voided by node A', 300);
    t.diagnostic(`node A fenced node B's win ${Date.now() - stopped} ms after the SIGSTOP`);
    await until(async () => Number(redisCli('GET', `mer:fs:${f.session}:0:stock`) || 0) === 1, 'the unit back in stock', 100);
    lock.stdin.end('COMMIT;\n');
    await lockExited;
    // the unit is sold again, on A
    const other = await grab(A, f, buyers[31]);
    assert.equal(other.status, 200, other.text);
    // B wakes up: its win finds the fence taken and is not recorded
    B.child.kill('SIGCONT');
    const late = await inFlight;
    assert.notEqual(late.status, 200, `the frozen node answered a win: ${late.text}`);
    if (late.status) expectError(late, 503, 'unavailable');
    const rows = tokens(f);
    assert.deepEqual(rows, [other.json.token], 'one unit, one token');
    assert.equal(Number(redisCli('GET', `mer:fs:${f.session}:0:stock`) || 0), 0);
    const alloc = redisCli('HVALS', `mer:fs:${f.session}:0:alloc`).split('\n').filter(Boolean).map(Number).reduce((a, b) => a + b, 0);
    assert.equal(alloc, 0, 'no unit given back twice');
  } finally { // a failed assertion must not leave the table locked or node B stopped for the tests after it
    if (lock.exitCode === null) lock.kill();
    B.child.kill('SIGCONT');
  }
  // B serves again
  await within(5000, 'node B answers again', async () => (await B.get(`/api/v1/flash-sales/${f.id}`)).status === 200);
});
