// PostgreSQL only (tests/pg/api.sh, the api-pg phase of `make test`): what a node does when its database is
// out of reach, and several nodes on one set of databases. Skipped with SQLite files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { BIN, PG, startServer, customer, expectError, pgDataDir, sqlRows, envFor } from './helpers.mjs';

const skip = !PG && 'PostgreSQL mode only (MERIDIAN_TEST_PG_URL, tests/pg/api.sh)';
const pgsh = (...args) => execFileSync('tests/pg/pg.sh', args, { encoding: 'utf8' }).trim();

async function skuOf(srv, country, offset = 0) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=accessories&per_page=10`);
  const p = await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`);
  return p.json.skus[0];
}

const order = (srv, token, sku, extra = {}) => srv.api('POST', '/api/v1/orders', {
  token, ...extra, body: { payment_method: 'card', lines: [{ sku, quantity: 1 }] },
});

test('PostgreSQL unreachable at start: one clear message without the password, exit 1', { skip }, () => {
  const url = 'postgresql://meridian:hunter2@127.0.0.1:1/meridian?connect_timeout=2';
  for (const args of [['serve', '--port', '0'], ['migrate'], ['admin', 'token']]) {
    const r = spawnSync(BIN, [...args, '--data', '/nonexistent', '--catalog-db', url], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /meridian: cannot reach the catalogue database postgresql:\/\/meridian:\*\*\*@127\.0\.0\.1:1\/meridian/);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/, 'the password is never shown');
  }
});

test('PostgreSQL gone while serving: writes 503 with Retry-After, reads from memory 200, back by itself', { skip, timeout: 120000 }, async () => {
  const [url, dir] = pgsh('start').split(' ');
  const dataDir = pgDataDir(url);
  let srv;
  try {
    srv = await startServer({ dataDir, seed: true, regions: 'in' });
    const c = await customer(srv, 'IN');
    const sku = await skuOf(srv, 'IN');
    assert.equal((await order(srv, c.token, sku.code)).status, 201);
    pgsh('down', dir);
    // writes: 503 unavailable with Retry-After, whatever the write (an order, a registration)
    for (let i = 0; i < 3; i++) {
      const r = await order(srv, c.token, sku.code);
      expectError(r, 503, 'unavailable');
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
    }
    const reg = await srv.api('POST', '/api/v1/users', { body: { email: `down-${Date.now()}@example.test`, password: 'correct horse battery', country: 'IN', name: 'X' } });
    expectError(reg, 503, 'unavailable');
    assert.ok(reg.headers.get('retry-after'));
    // the catalogue is served from memory
    const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=10');
    assert.equal(list.status, 200, list.text);
    const p = await srv.get(`/api/v1/products/${list.json.items[0].id}?country=IN`);
    assert.equal(p.status, 200, p.text);
    pgsh('up', dir);
    // no restart: the node reconnects when the database answers again
    let r;
    for (let i = 0; i < 50; i++) {
      r = await order(srv, c.token, sku.code);
      if (r.status !== 503) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(r.status, 201, r.text);
    assert.equal((await srv.get(`/api/v1/orders/${r.json.id}`, { token: c.token })).status, 200);
    // nothing half-written while it was down: the two acknowledged orders and their lines, no more
    const uid = Number(c.user.id);
    const rows = sqlRows(dataDir, 'in', `SELECT COUNT(*) AS n FROM orders WHERE user_id = ${uid}`);
    assert.equal(Number(rows[0].n), 2);
    assert.equal(Number(sqlRows(dataDir, 'in', 'SELECT COUNT(*) AS n FROM order_line WHERE order_id NOT IN (SELECT id FROM orders)')[0].n), 0);

    // under load: buyers keep ordering (each retrying with its own Idempotency-Key) while PostgreSQL stops and
    // starts again; only 503s while it is down, then every buyer has exactly one order, none lost or doubled
    const buyers = [];
    for (let i = 0; i < 12; i++) buyers.push(await customer(srv, 'IN'));
    const others = new Set();
    const runs = buyers.map(async (b, i) => {
      const headers = { 'idempotency-key': `outage-${i}` };
      const ids = new Set();
      for (let k = 0; k < 400; k++) {
        const r = await order(srv, b.token, sku.code, { headers });
        if (r.status === 201) ids.add(r.json.id);
        else if (r.status !== 503) others.add(`${r.status} ${r.text}`);
        if (ids.size && k > 20) break; // ordered, and asked again a few times (each time the same order)
        await new Promise((res) => setTimeout(res, 25));
      }
      return ids;
    });
    await new Promise((res) => setTimeout(res, 150));
    pgsh('down', dir);
    await new Promise((res) => setTimeout(res, 1000));
    pgsh('up', dir);
    const got = await Promise.all(runs);
    assert.deepEqual([...others], [], 'only 201 and 503 answers');
    for (const ids of got) assert.equal(ids.size, 1, 'one order per buyer, the same one on every retry');
    const users = buyers.map((b) => Number(b.user.id)).join(',');
    const per = sqlRows(dataDir, 'in', `SELECT user_id, COUNT(*) AS n FROM orders WHERE user_id IN (${users}) GROUP BY user_id`);
    assert.equal(per.length, buyers.length, 'every buyer\'s order is there');
    for (const row of per) assert.equal(Number(row.n), 1, `user ${row.user_id}: exactly one order`);
    assert.doesNotMatch(srv.log(), /password=[^*]/);
  } finally {
    if (srv) await srv.stop();
    pgsh('stop', dir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---- two nodes on one set of databases ----

// polls fn until it returns true; returns the milliseconds it took, or fails after ms
async function within(ms, what, fn) {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function twoNodes(opts = {}) {
  const a = await startServer(opts);
  const b = await startServer({ ...opts, dataDir: a.dataDir, seed: false }); // the same databases
  return [a, b];
}

test('two nodes: a price change or a logout on one is seen on the other within a second; orders are shared', { skip, timeout: 120000 }, async () => {
  const [n1, n2] = await twoNodes({ regions: 'in' });
  try {
    const T = n1.adminToken;
    const sku = await skuOf(n2, 'IN', 1);
    // node 2 has the product page (and its price) cached
    const list = await n2.get('/api/v1/products?country=IN&category=accessories&per_page=10');
    const pid = list.json.items[1].id;
    const priceOn = async (srv) => (await srv.get(`/api/v1/products/${pid}?country=IN`)).json.skus.find((s) => s.code === sku.code).price.amount;
    assert.equal(await priceOn(n2), sku.price.amount);
    assert.equal(await priceOn(n2), sku.price.amount);
    const newPrice = sku.price.amount + 100;
    const put = await n1.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: sku.code, country: 'IN', amount: newPrice }] } });
    assert.equal(put.status, 200, put.text);
    await within(1000, 'the new price on node 2', async () => (await priceOn(n2)) === newPrice);

    // a session known to node 2, logged out on node 1
    const c = await customer(n1, 'IN');
    assert.equal((await n2.get('/api/v1/users/me', { token: c.token })).status, 200);
    assert.equal((await n2.get('/api/v1/users/me', { token: c.token })).status, 200); // now from node 2's cache
    assert.equal((await n1.api('DELETE', '/api/v1/sessions/current', { token: c.token })).status, 204);
    await within(1000, 'the logout on node 2', async () => (await n2.get('/api/v1/users/me', { token: c.token })).status === 401);

    // an order placed on node 1 is read on node 2
    const d = await customer(n2, 'IN');
    const o = await order(n1, d.token, sku.code);
    assert.equal(o.status, 201, o.text);
    const read = await n2.get(`/api/v1/orders/${o.json.id}`, { token: d.token });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.json.number, o.json.number);
    assert.equal(read.json.totals.grand_total.amount, o.json.totals.grand_total.amount);
    // ids come from each node's own block of the sequence (store/db.h, mer_db_insert): an order placed later
    // on node 1 has a smaller id than the one placed before it on node 2; the list is newest first all the same
    const numbers = [o.json.number];
    for (const srv of [n2, n1]) {
      await new Promise((res) => setTimeout(res, 5)); // (a later millisecond: created_at orders the list)
      const next = await order(srv, d.token, sku.code);
      assert.equal(next.status, 201, next.text);
      numbers.unshift(next.json.number);
    }
    for (const srv of [n1, n2]) {
      const mine = await srv.get('/api/v1/orders', { token: d.token });
      assert.equal(mine.status, 200, mine.text);
      assert.deepEqual(mine.json.orders.map((i) => i.number), numbers, 'newest first');
    }
    // a warehouse created on node 1 serves node 2's next order (each writer keeps the warehouses in memory)
    const only = await skuOf(n1, 'IN', 2);
    const wh = await n1.api('POST', '/api/v1/admin/warehouses', { token: T, body: { code: 'WH-IN-PNQ', name: 'Pune', country: 'IN', state: 'MH', serves: ['IN'] } });
    assert.equal(wh.status, 201, wh.text);
    for (const [code, n] of [['WH-IN-MUM', 0], ['WH-IN-BLR', 0], ['WH-IN-PNQ', 3]]) {
      const put = await n1.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: only.code, warehouse: code, country: 'IN', on_hand: n, reason: 'test setup' } });
      assert.equal(put.status, 200, put.text);
    }
    await within(1000, 'node 2 ordering from the new warehouse', async () => {
      const r = await order(n2, d.token, only.code);
      return r.status === 201 && r.json.warehouse === 'WH-IN-PNQ';
    });

    // both nodes cancel one unpaid order at once: one moves it, the other is told it changed; stock comes back once
    const stockOf = async () => {
      const s = await n1.get(`/api/v1/admin/stock?country=IN&sku=${sku.code}`, { token: T });
      return s.json.warehouses.reduce((a, w) => a + w.reserved, 0);
    };
    for (let round = 0; round < 5; round++) {
      const o2 = await order(n1, d.token, sku.code);
      assert.equal(o2.status, 201, o2.text);
      const reserved = await stockOf();
      const both = await Promise.all([n1, n2].map((srv) => srv.api('POST', `/api/v1/orders/${o2.json.id}/cancel`, { token: d.token })));
      const codes = both.map((r) => r.status).sort();
      assert.equal(codes.filter((s) => s === 200).length, 1, `one cancel wins: ${both.map((r) => r.text)}`);
      assert.equal(codes.filter((s) => s === 409).length, 1, `the other is a conflict: ${both.map((r) => r.text)}`);
      assert.equal(await stockOf(), reserved - 1, 'the reservation is released once');
    }
  } finally {
    await n2.stop();
    await n1.stop();
  }
});

test('two nodes: 300 buyers racing for 50 units over both get exactly 50 orders; stock 0, never negative', { skip, timeout: 180000 }, async () => {
  const [n1, n2] = await twoNodes({ regions: 'in' });
  try {
    const T = n1.adminToken;
    const sku = (await skuOf(n1, 'IN', 2)).code;
    for (const [wh, n] of [['WH-IN-MUM', 30], ['WH-IN-BLR', 20]]) {
      const r = await n1.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku, warehouse: wh, country: 'IN', on_hand: n, reason: 'test setup' } });
      assert.equal(r.status, 200, r.text);
    }
    const tokens = execFileSync(BIN, ['admin', 'load-users', '--data', n1.dataDir, '--country', 'IN', '--count', '300', '--prefix', 'twonode',
      '--address', JSON.stringify({ name: 'Asha Rao', line1: '12 MG Road', city: 'Mumbai', state: 'MH', postal_code: '400001', phone: '+919812345678' })],
    { encoding: 'utf8', env: envFor(['--data', n1.dataDir]) }).split('\n').filter(Boolean);
    assert.equal(tokens.length, 300);
    const results = await Promise.all(tokens.map((token, i) => order(i % 2 ? n2 : n1, token, sku)));
    const ok = results.filter((r) => r.status === 201);
    const statuses = [...new Set(results.map((r) => r.status))];
    assert.equal(ok.length, 50, `201s: ${ok.length}; statuses: ${statuses}`);
    assert.equal(results.filter((r) => r.status === 409).length, 250, `statuses: ${statuses}`);
    assert.equal(new Set(ok.map((r) => r.json.number)).size, 50, 'order numbers are unique across nodes');
    for (const srv of [n1, n2]) {
      const s = await srv.get(`/api/v1/admin/stock?country=IN&sku=${sku}`, { token: T });
      const sum = (k) => s.json.warehouses.reduce((a, w) => a + w[k], 0);
      assert.equal(sum('available'), 0);
      assert.equal(sum('reserved'), 50);
    }
    const neg = sqlRows(n1.dataDir, 'in', 'SELECT COUNT(*) AS n FROM stock WHERE on_hand - reserved < 0 OR reserved < 0');
    assert.equal(Number(neg[0].n), 0, 'no stock row below zero');
    // both nodes show the product sold out
    await within(1000, 'sold out on both nodes', async () => {
      for (const srv of [n1, n2]) {
        const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=10');
        const p = await srv.get(`/api/v1/products/${list.json.items[2].id}?country=IN`);
        if (p.json.skus.find((s) => s.code === sku).stock_state !== 'out_of_stock') return false;
      }
      return true;
    });
  } finally {
    await n2.stop();
    await n1.stop();
  }
});

test('two nodes: pairs of orders with one Idempotency-Key racing over both make one order per key, answered as a replay, never a 500', { skip, timeout: 180000 }, async () => {
  const [n1, n2] = await twoNodes({ regions: 'in' });
  try {
    const T = n1.adminToken;
    const sku = (await skuOf(n1, 'IN', 3)).code;
    for (const wh of ['WH-IN-MUM', 'WH-IN-BLR']) {
      const r = await n1.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku, warehouse: wh, country: 'IN', on_hand: 1000, reason: 'test setup' } });
      assert.equal(r.status, 200, r.text);
    }
    const tokens = execFileSync(BIN, ['admin', 'load-users', '--data', n1.dataDir, '--country', 'IN', '--count', '30', '--prefix', 'idemrace',
      '--address', JSON.stringify({ name: 'Asha Rao', line1: '12 MG Road', city: 'Mumbai', state: 'MH', postal_code: '400001', phone: '+919812345678' })],
    { encoding: 'utf8', env: envFor(['--data', n1.dataDir]) }).split('\n').filter(Boolean);
    assert.equal(tokens.length, 30);
    const rounds = 4;
    const statuses = new Map();
    for (let round = 0; round < rounds; round++) {
      // every customer sends one request to each node at once, both with the same key and body
      const pairs = await Promise.all(tokens.map((token, i) => Promise.all([n1, n2].map((srv) =>
        order(srv, token, sku, { headers: { 'idempotency-key': `race-${round}-${i}` } })))));
      for (const [i, pair] of pairs.entries()) {
        for (const r of pair) statuses.set(r.status, (statuses.get(r.status) || 0) + 1);
        const what = `round ${round}, customer ${i}: ${pair.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join(' | ')}`;
        for (const r of pair) {
          if (r.status === 409)
            expectError(r, 409, 'conflict', 'Idempotency-Key'); // only while the first is still uncommitted
          else
            assert.equal(r.status, 201, what);
        }
        const made = pair.filter((r) => r.status === 201);
        assert.ok(made.length > 0, what);
        assert.equal(new Set(made.map((r) => r.json.id)).size, 1, `one order: ${what}`);
        // one answer made it, any other replays it: the same answer as a retry gets
        assert.ok(made.filter((r) => r.headers.get('idempotent-replayed') !== 'true').length <= 1, what);
        for (const r of made) {
          assert.equal(r.json.number, made[0].json.number, what);
          assert.deepEqual(r.json.totals, made[0].json.totals, what);
        }
        const again = await order(i % 2 ? n1 : n2, tokens[i], sku, { headers: { 'idempotency-key': `race-${round}-${i}` } });
        assert.equal(again.status, 201, again.text);
        assert.equal(again.headers.get('idempotent-replayed'), 'true');
        assert.equal(again.json.id, made[0].json.id);
      }
    }
    assert.ok(!statuses.has(500), `statuses: ${[...statuses]}`);
    const keys = sqlRows(n1.dataDir, 'in', "SELECT COUNT(*) AS n, COUNT(DISTINCT order_id) AS orders FROM idempotency WHERE key LIKE 'race-%'");
    assert.equal(Number(keys[0].n), tokens.length * rounds);
    assert.equal(Number(keys[0].orders), tokens.length * rounds);
    const orders = sqlRows(n1.dataDir, 'in', "SELECT COUNT(*) AS n FROM orders WHERE user_id IN (SELECT user_id FROM idempotency WHERE key LIKE 'race-%')");
    assert.equal(Number(orders[0].n), tokens.length * rounds, 'one order per key, none without its key');
    const lost = sqlRows(n1.dataDir, 'in', "SELECT COUNT(*) AS n FROM idempotency i WHERE key LIKE 'race-%' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = i.order_id AND o.user_id = i.user_id)");
    assert.equal(Number(lost[0].n), 0, 'every key names its own order');

    // the last unit: the pair's second request, refused for the stock the first took, still answers its replay
    const last = (await skuOf(n1, 'IN', 4)).code;
    for (let k = 0; k < 8; k++) {
      for (const [wh, n] of [['WH-IN-MUM', k + 1], ['WH-IN-BLR', 0]]) {
        const r = await n1.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: last, warehouse: wh, country: 'IN', on_hand: n, reason: 'test setup' } });
        assert.equal(r.status, 200, r.text);
      }
      const headers = { 'idempotency-key': `last-${k}` };
      const pair = await Promise.all([n1, n2].map((srv) => order(srv, tokens[k], last, { headers })));
      const what = pair.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join(' | ');
      assert.ok(pair.every((r) => r.status === 201 || (r.status === 409 && r.json.error.field === 'Idempotency-Key')), what);
      assert.equal(new Set(pair.filter((r) => r.status === 201).map((r) => r.json.id)).size, 1, what);
    }
  } finally {
    await n2.stop();
    await n1.stop();
  }
});

test('two nodes: kill -9 of one under order load loses no acknowledged order; the stock balances', { skip, timeout: 180000 }, async () => {
  const [n1, n2] = await twoNodes({ regions: 'in' });
  try {
    const T = n1.adminToken;
    const sku = (await skuOf(n1, 'IN', 3)).code;
    const INITIAL = 400;
    for (const [wh, n] of [['WH-IN-MUM', INITIAL], ['WH-IN-BLR', 0]]) {
      const r = await n1.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku, warehouse: wh, country: 'IN', on_hand: n, reason: 'test setup' } });
      assert.equal(r.status, 200, r.text);
    }
    const tokens = execFileSync(BIN, ['admin', 'load-users', '--data', n1.dataDir, '--country', 'IN', '--count', '40', '--prefix', 'kill',
      '--address', JSON.stringify({ name: 'Asha Rao', line1: '12 MG Road', city: 'Mumbai', state: 'MH', postal_code: '400001', phone: '+919812345678' })],
    { encoding: 'utf8', env: envFor(['--data', n1.dataDir]) }).split('\n').filter(Boolean);
    const acked = [];
    let stop = false;
    const clients = tokens.map(async (token, i) => {
      const srv = i % 2 ? n2 : n1;
      while (!stop) {
        try {
          const r = await order(srv, token, sku);
          if (r.status === 201) acked.push({ token, id: r.json.id, number: r.json.number });
        } catch { return; } // node 1 died under us
      }
    });
    await new Promise((res) => setTimeout(res, 1500));
    n1.child.kill('SIGKILL');
    await n1.exited;
    await new Promise((res) => setTimeout(res, 500)); // node 2 goes on meanwhile
    stop = true;
    await Promise.all(clients);
    assert.ok(acked.length > 10, `only ${acked.length} orders acknowledged`);
    for (const o of acked) {
      const r = await n2.get(`/api/v1/orders/${o.id}`, { token: o.token });
      assert.equal(r.status, 200, `order ${o.number}, acknowledged, is missing`);
      assert.equal(r.json.number, o.number);
    }
    const s = await n2.get(`/api/v1/admin/stock?country=IN&sku=${sku}`, { token: T });
    const sum = (k) => s.json.warehouses.reduce((a, w) => a + w[k], 0);
    assert.equal(sum('available') + sum('reserved') + sum('sold'), INITIAL, `stock does not balance: ${s.text}`);
    const units = sqlRows(n2.dataDir, 'in', `SELECT COALESCE(SUM(quantity), 0) AS n FROM order_line WHERE sku_code = '${sku}'`);
    assert.equal(sum('reserved'), Number(units[0].n), 'reserved units equal the units of stored orders');
  } finally {
    await n2.stop();
    await n1.stop(); // (already dead: only its data directory goes)
  }
});

// A webhook receiver that keeps every request (the event id, when it came); hold(call) true: never answered.
async function hookReceiver(hold) {
  const calls = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const call = { at: Date.now(), id: req.headers['x-meridian-event-id'] };
      calls.push(call);
      if (!hold(call)) res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { calls, port: server.address().port, close: () => { server.closeAllConnections(); server.close(); } };
}

test('two nodes: each webhook delivery is made once; a node killed holding one leaves it to the other, before its lease ends', { skip, timeout: 180000 }, async () => {
  const TIMEOUT = 3000; // a webhook transfer's limit; a claim's lease is twice that and 2 s
  const [n1, n2] = await twoNodes({ regions: 'in', args: ['--webhook-allow-loopback', '--event-retry-ms', '200', '--webhook-timeout-ms', String(TIMEOUT)] });
  let holdNext = false, held = null;
  const rcv = await hookReceiver((call) => {
    if (!holdNext || held) return false;
    held = call;
    return true;
  });
  try {
    const T = n1.adminToken;
    const w = await n1.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: `http://127.0.0.1:${rcv.port}/hook`, events: ['order.created'] } });
    assert.equal(w.status, 201, w.text);
    const sub = `webhook:${w.json.id}`;
    await new Promise((res) => setTimeout(res, 600)); // both dispatchers have loaded the subscription
    const sku = (await skuOf(n1, 'IN', 4)).code;
    const buyers = [];
    for (let i = 0; i < 8; i++) buyers.push(await customer(i % 2 ? n2 : n1, 'IN'));
    // 40 orders over both nodes, while both dispatchers run
    const placed = [];
    for (let round = 0; round < 5; round++) {
      const rs = await Promise.all(buyers.map((b, i) => order((i + round) % 2 ? n2 : n1, b.token, sku)));
      for (const r of rs) { assert.equal(r.status, 201, r.text); placed.push(r.json.id); }
    }
    const rows = () => sqlRows(n1.dataDir, 'in', `SELECT event, status, attempts, claimed_by FROM event_delivery WHERE subscriber = '${sub}'`);
    await within(20000, '40 deliveries made', async () => rows().filter((r) => r.status === 'delivered').length === placed.length);
    await new Promise((res) => setTimeout(res, 1500)); // a second attempt, if any, would come by now
    const per = new Map();
    for (const c of rcv.calls) per.set(c.id, (per.get(c.id) || 0) + 1);
    assert.equal(per.size, placed.length, 'one event per order at the receiver');
    for (const [id, n] of per) assert.equal(n, 1, `${id} delivered ${n} times`);
    for (const r of rows()) assert.deepEqual([r.status, Number(r.attempts), r.claimed_by], ['delivered', 1, null]);

    // the next delivery hangs at the receiver: the node that claimed it is killed; the other one delivers it,
    // without waiting for the claim's lease to run out: the dead node's connections are gone, so is its claim
    holdNext = true;
    assert.equal((await order(n2, buyers[0].token, sku)).status, 201);
    await within(10000, 'the held delivery', async () => held !== null);
    const [claim] = sqlRows(n1.dataDir, 'in', `SELECT claimed_by, lease_until FROM event_delivery WHERE subscriber = '${sub}' AND status = 'pending'`);
    assert.ok(claim && claim.claimed_by, `the pending delivery is claimed: ${JSON.stringify(claim)}`);
    const pid = parseInt(claim.claimed_by.split('.')[0], 16);
    const victim = [n1, n2].find((n) => n.child.pid === pid);
    assert.ok(victim, `the claim names a node: ${claim.claimed_by}`);
    const survivor = victim === n1 ? n2 : n1;
    victim.child.kill('SIGKILL');
    await victim.exited;
    await within(3 * TIMEOUT + 10000, 'the other node delivers it', async () => rcv.calls.filter((c) => c.id === held.id).length === 2);
    const again = rcv.calls.filter((c) => c.id === held.id)[1];
    assert.ok(again.at < Number(claim.lease_until), `redelivered only ${again.at - Number(claim.lease_until)} ms after the lease ran out`);
    await within(5000, 'recorded delivered', async () => rows().every((r) => r.status === 'delivered'));
    assert.ok(survivor.child.exitCode === null);
  } finally {
    rcv.close();
    await n2.stop();
    await n1.stop();
  }
});
