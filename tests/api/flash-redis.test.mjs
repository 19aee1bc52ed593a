// A flash sale on two nodes sharing one PostgreSQL (tests/pg/pg.sh) and one Redis (tests/redis/redis.sh),
// both started here and stopped after: exactly the units, nobody over the limit, sold out everywhere,
// kill -9 of a node and of Redis, Redis unreachable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedStackMissing, startSharedStack, startServer, expectError, run, ADDRESSES, until, wait } from './helpers.mjs';

const skip = sharedStackMissing();

let stack, redis, redisDir, dataDir, A, B, T;
const sales = {};
let buyers = [];
const REDIS_ARGS = () => ['--redis', redis];

function psql(sql) {
  return execFileSync('psql', ['-qAt', process.env.MERIDIAN_REGION_DB.match(/in=([^,]+)/)[1], '-c', sql], { encoding: 'utf8' }).trim();
}
const redisCli = (...args) => execFileSync('redis-cli', ['-u', redis, ...args], { encoding: 'utf8' }).trim();

function localTime(tz, offsetMs) {
  const d = new Date(Date.now() + offsetMs);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}
const IST = (ms) => localTime('Asia/Kolkata', ms);

async function createSale(srv, code, units, ttl = 900, rules = undefined) {
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T, body: { country: 'IN', titles: { en: 'Launch' }, ...(rules ? { rules } : {}), sessions: [{ starts_at: IST(-60000), ends_at: IST(3600000), per_user_limit: 1, token_ttl_seconds: ttl, items: [{ sku: code, price: 10000, units }] }] },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, session: r.json.session_ids[0], sku: code, units };
}

const grab = (srv, f, token) => srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
// a grab that never throws: a node that was killed answers { status: 0 }
const tryGrab = (srv, f, token) => grab(srv, f, token).catch(() => ({ status: 0 }));

// Fires every buyer once, node chosen by pick(i), at most `width` requests in flight. Returns the answers.
async function race(f, list, pick, width = 64, onAnswer = () => {}) {
  const out = new Array(list.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < list.length) {
      const i = next++;
      const node = pick(i);
      out[i] = await tryGrab(node, f, list[i]);
      out[i].node = node;
      onAnswer(i, out[i]);
    }
  }));
  return out;
}

const dbTokens = (f) => psql(`SELECT token FROM flash_token WHERE session_id = ${f.session}`).split('\n').filter(Boolean);
const perUserMax = (f) => Number(psql(`SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) n FROM flash_token WHERE session_id = ${f.session} GROUP BY user_id) x`));

// Redis's side of an item: central stock and the allotments of the given (live) nodes' ids, or all
function redisUnits(f) {
  const stock = Number(redisCli('GET', `mer:fs:${f.session}:0:stock`) || 0);
  const alloc = redisCli('HVALS', `mer:fs:${f.session}:0:alloc`).split('\n').filter(Boolean).map(Number).reduce((a, b) => a + b, 0);
  return { stock, alloc };
}

async function startNode() {
  return startServer({ dataDir, args: REDIS_ARGS() });
}

before(async () => {
  if (skip) return;
  stack = startSharedStack('fr');
  ({ redis, redisDir } = stack);
  dataDir = mkdtempSync(join(tmpdir(), 'meridian-redis-test-'));
  run(['seed', '--data', dataDir]);
  A = await startNode();
  T = A.adminToken;
  const list = await A.get('/api/v1/products?country=IN&category=accessories&per_page=20');
  const skus = [];
  for (const p of list.json.items.slice(0, 6)) skus.push((await A.get(`/api/v1/products/${p.id}?country=IN`)).json.skus[0].code);
  for (const [i, name] of ['race', 'both', 'killnode', 'killredis', 'down'].entries())
    sales[name] = await createSale(A, skus[i], name === 'both' || name === 'down' ? 5 : 200);
  sales.reopen = await createSale(A, skus[5], 1, 1); // one unit, tokens live one second
  sales.device = await createSale(A, skus[0], 5, 900, { one_per_device: true });
  // the second node loads the sales from the database (a sale made later would need it restarted)
  B = await startNode();
  buyers = run(['admin', 'load-users', '--data', dataDir, '--country', 'IN', '--count', '2000', '--prefix', `r${process.pid}x`,
    '--address', JSON.stringify(ADDRESSES.IN)]).split('\n').filter(Boolean);
  assert.equal(buyers.length, 2000);
});

after(async () => {
  if (skip) return;
  for (const n of [A, B]) if (n) await n.stop({ keepData: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  stack?.stop();
});

test('2,000 buyers race for 200 units over two nodes: exactly 200 tokens, nobody over the limit, sold out on both', { skip }, async (t) => {
  const f = sales.race;
  const t0 = Date.now();
  const out = await race(f, buyers, (i) => (i % 2 ? B : A));
  const won = out.filter((r) => r.status === 200);
  for (const r of out) assert.ok(r.status === 200 || (r.status === 409 && r.json.error.code === 'sold_out'), `${r.status} ${r.text}`);
  // a unit may still sit in a node's allotment when the last buyers were sent to the other node: an idle
  // allotment goes back within a second, so the losers try once more
  if (won.length < 200) {
    await wait(1500);
    const losers = buyers.filter((_, i) => out[i].status !== 200);
    for (const r of await race(f, losers, () => A)) if (r.status === 200) won.push(r);
  }
  const firstB = out.filter((r) => r.status === 200 && r.node === B).length;
  t.diagnostic(`${won.length} wins (first pass: ${firstB} on B, ${out.filter((r) => r.status === 200).length - firstB} on A); the race took ${Date.now() - t0} ms`);
  const tokens = won.map((r) => r.json.token);
  assert.equal(tokens.length, 200, `tokens: ${tokens.length} in ${Date.now() - t0} ms`);
  assert.equal(new Set(tokens).size, 200);
  const db = dbTokens(f);
  assert.equal(db.length, 200, 'every answered token is durable, and only those');
  for (const t of tokens) assert.ok(db.includes(t));
  assert.equal(perUserMax(f), 1, 'nobody over the limit');
  // sold out everywhere, answered from memory
  for (const n of [A, B]) {
    await until(async () => (await n.get(`/api/v1/flash-sales/${f.id}`)).json.sale.sessions[0].state === 'sold_out', 'sold_out on every node', 40);
    expectError(await grab(n, f, buyers[0]), 409, 'sold_out');
  }
  // each node measured the delay from the last unit sold (Redis's clock) to its own sold_out flag
  for (const n of [A, B]) {
    const m = (await n.get('/metrics')).text.split('\n').find((l) => l.startsWith('meridian_flash_sold_out_lag_seconds') && l.includes(`session="${f.session}"`));
    assert.ok(m, 'the sold-out delay is in /metrics');
    assert.ok(Number(m.split(' ').pop()) < 1, m);
    t.diagnostic(m);
  }
  // a token one node answered checks out on the other (read from its row there), once
  const i = out.findIndex((r) => r.status === 200);
  const [other, same] = out[i].node === A ? [B, A] : [A, B];
  const o = await other.api('POST', '/api/v1/orders', { token: buyers[i], body: { payment_method: 'card', flash_token: out[i].json.token } });
  assert.equal(o.status, 201, o.text);
  expectError(await same.api('POST', '/api/v1/orders', { token: buyers[i], body: { payment_method: 'card', flash_token: out[i].json.token } }), 409, 'conflict');
  // reconciliation: units = central + allotments + tokens
  const { stock, alloc } = redisUnits(f);
  assert.equal(stock + alloc + db.length, 200);
});

test('a buyer firing at both nodes at once gets one unit', { skip }, async () => {
  const f = sales.both;
  const who = buyers.slice(0, 3);
  for (const u of who) {
    const shots = await Promise.all(Array.from({ length: 10 }, (_, i) => grab(i % 2 ? B : A, f, u)));
    const ok = shots.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, shots.map((r) => r.status).join(','));
    for (const r of shots) if (r.status !== 200) expectError(r, 409, 'limit_reached');
  }
  assert.equal(perUserMax(f), 1);
  assert.equal(dbTokens(f).length, 3);
});

test('one per device across nodes: ten accounts on one device firing at both nodes at once win one unit', { skip }, async () => {
  const f = sales.device;
  const who = buyers.slice(200, 210);
  const shots = await Promise.all(who.map((u, i) => (i % 2 ? B : A).api('POST', `/api/v1/flash-sales/${f.id}/grab`,
    { token: u, headers: { 'x-device-id': 'shared-phone-1' }, body: { session_id: f.session, sku: f.sku } })));
  assert.equal(shots.filter((r) => r.status === 200).length, 1, shots.map((r) => r.status).join(','));
  for (const r of shots) if (r.status !== 200) expectError(r, 403, 'blocked');
  assert.ok(shots.some((r) => r.json?.error?.reason === 'device_already_won'));
  assert.equal(dbTokens(f).length, 1);
});

test('kill -9 of a node mid-sale: no answered token lost, its allotment sold by the other after the lease', { skip }, async (t) => {
  const f = sales.killnode;
  const answered = [];
  let killed = false;
  const deadB = B;
  const out = await race(f, buyers, (i) => (i % 2 && !killed ? deadB : A), 32, (i, r) => {
    if (r.status === 200) answered.push(r.json.token);
    if (!killed && answered.length >= 60) { killed = true; deadB.child.kill('SIGKILL'); }
  });
  assert.ok(killed);
  await deadB.exited;
  // a new node B comes up at once under a new node id (the dead one's lease runs out regardless); the
  // grabs below all go to A
  B = await startNode();
  const byB = out.findIndex((r) => r.status === 200 && r.node === deadB);
  assert.ok(byB >= 0, 'the killed node had answered wins');
  // the dead node's lease (5 s) expires and the reaper gives its allotment back; the survivor sells it
  // and so do the units of its wins that never got their row (their pending entries are resolved
  // against the database)
  const lastTry = Date.now() + 15000;
  let rest = buyers.filter((_, i) => out[i].status !== 200);
  while (Date.now() < lastTry) {
    const again = await race(f, rest, () => A);
    for (const r of again) if (r.status === 200) answered.push(r.json.token);
    rest = rest.filter((_, i) => again[i].status !== 200);
    if (dbTokens(f).length === 200) break;
    await wait(1000);
  }
  const db = dbTokens(f);
  for (const t of answered) assert.ok(db.includes(t), `answered token ${t} is durable`);
  assert.equal(new Set(answered).size, answered.length);
  assert.ok(db.length <= 200, `no oversell: ${db.length}`);
  assert.equal(db.length, 200, 'every unit sold once: the dead node\'s allotment and unrecorded wins by the survivor');
  const { stock, alloc } = redisUnits(f);
  assert.equal(stock + alloc, 0, 'nothing left in Redis');
  assert.equal(perUserMax(f), 1);
  const resolved = (A.log() + B.log()).split('never recorded gave its unit back').length - 1;
  t.diagnostic(`${db.length} tokens; ${answered.length} answered; ${resolved} unrecorded wins of the dead node given back`);
  // the restarted node rebuilds from the durable wins: a token the killed node answered buys there
  const o = await B.api('POST', '/api/v1/orders', { token: buyers[byB], body: { payment_method: 'card', flash_token: out[byB].json.token } });
  assert.equal(o.status, 201, o.text);
});

test('a token that expires on one node reopens the sold-out session on every node', { skip }, async () => {
  const f = sales.reopen;
  // (a 503 is "try again": under a loaded machine a command can time out right after the restart above)
  const first = await until(async () => { const r = await grab(A, f, buyers[100]); return r.status === 503 ? null : r; }, 'an answer', 30);
  assert.equal(first.status, 200, first.text);
  for (const n of [A, B]) {
    await until(async () => (await n.get(`/api/v1/flash-sales/${f.id}`)).json.sale.sessions[0].state === 'sold_out', 'sold out everywhere', 40);
    expectError(await grab(n, f, buyers[101]), 409, 'sold_out');
  }
  // the token lives one second; whichever node's processor expires it gives the unit back through Redis
  for (const n of [A, B])
    await until(async () => (await n.get(`/api/v1/flash-sales/${f.id}`)).json.sale.sessions[0].state === 'live', 'open again everywhere', 60);
  const second = await grab(B, f, buyers[101]);
  assert.equal(second.status, 200, second.text);
  assert.equal(dbTokens(f).length, 2);
});

test('Redis killed and restarted mid-sale: no oversell, no lost token', { skip }, async (t) => {
  const f = sales.killredis;
  const answered = [];
  let restarted = false;
  const out = await race(f, buyers, (i) => (i % 2 ? B : A), 32, (i, r) => {
    if (r.status === 200) answered.push(r.json.token);
    if (!restarted && answered.length >= 80) {
      restarted = true;
      execFileSync('tests/redis/redis.sh', ['restart', redisDir]);
    }
  });
  assert.ok(restarted);
  for (const r of out) assert.ok([200, 409, 503].includes(r.status), `${r.status} ${r.text}`);
  // the nodes reconnect by themselves; those who met a 503 try again
  await until(async () => (await grab(A, f, buyers[0])).status !== 503, 'node A reconnects', 60);
  // a grab whose script ran but whose answer was lost with the connection wrote no row: its pending entry
  // gives the unit back once the node reaches Redis again
  let rest = buyers.filter((_, i) => out[i].status !== 200);
  for (let round = 0; round < 8; round++) {
    const again = await race(f, rest, (i) => (i % 2 ? B : A));
    for (const r of again) if (r.status === 200) answered.push(r.json.token);
    rest = rest.filter((_, i) => again[i].status !== 200);
    if (dbTokens(f).length === 200) break;
    await wait(1200);
  }
  const db = dbTokens(f);
  for (const t of answered) assert.ok(db.includes(t), `answered token ${t} is durable`);
  assert.ok(db.length <= 200, `no oversell: ${db.length}`);
  assert.equal(db.length, 200, 'every unit sold once, none lost to the restart');
  t.diagnostic(`${db.length} tokens; ${answered.length} answered`);
  assert.equal(perUserMax(f), 1);
});

test('Redis unreachable: grabs answer 503 fast with Retry-After, other routes work, the node reconnects', { skip }, async () => {
  const f = sales.down;
  execFileSync('tests/redis/redis.sh', ['kill', redisDir]);
  await until(async () => (await grab(A, f, buyers[5])).status === 503, 'node A notices', 40);
  const t0 = Date.now();
  const r = await grab(A, f, buyers[6]);
  expectError(r, 503, 'unavailable');
  assert.equal(r.headers.get('retry-after'), '1');
  assert.ok(Date.now() - t0 < 1000, `answered in ${Date.now() - t0} ms`);
  assert.equal((await B.get('/api/v1/products?country=IN')).status, 200);
  assert.equal((await A.get(`/api/v1/flash-sales/${f.id}`)).status, 200);
  execFileSync('tests/redis/redis.sh', ['restart', redisDir]);
  for (const n of [A, B]) await until(async () => (await grab(n, f, buyers[n === A ? 7 : 8])).status === 200, 'reconnected', 60);
});
