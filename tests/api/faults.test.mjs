// Storage faults (db.h's fault switch, MERIDIAN_FAULT): the Nth matching statement or commit fails as a
// disk I/O error would. The client gets a clean 5xx JSON envelope, nothing half-written remains (checked
// through the API and in the region's SQLite file), and the server keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, customer, sqlRows } from './helpers.mjs';

// One server per fault: each arms one fault for its whole process.
async function withFault(fault, fn) {
  const srv = await startServer({ env: { MERIDIAN_FAULT: fault } });
  try {
    await fn(srv);
    const h = await srv.get('/healthz');
    assert.equal(h.status, 200, 'the server keeps serving after the fault');
    assert.match(srv.log(), /injected fault/, 'the fault fired');
  } finally {
    const { code, signal } = await srv.stop();
    assert.equal(signal, null, `server died of ${signal}:\n${srv.log().slice(-3000)}`);
    assert.equal(code, 0, `server exit code ${code}:\n${srv.log().slice(-3000)}`);
  }
}

// Reads a region's database (region null: the catalogue) beside the running server (WAL lets a reader in).
const sql = (srv, region, query) => sqlRows(srv.dataDir, region || 'catalog', query);
const one = (srv, region, query) => Object.values(sql(srv, region, query)[0])[0];

function expectFault(res) {
  assert.ok(res.status === 500 || res.status === 503, `5xx expected, got ${res.status} ${res.text}`);
  assert.ok(res.json && res.json.error, `JSON error envelope expected: ${res.text}`);
  assert.match(res.json.error.code, /^(internal_error|unavailable)$/);
  assert.ok(res.json.error.message.length > 0);
}

async function skuOf(srv, country, offset = 0) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=accessories&per_page=10`);
  const p = await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`);
  return p.json.skus[0];
}

// SKUs live in catalog.db, their stock in the region's database
function reservedOf(srv, code) {
  const id = Number(one(srv, null, `SELECT id FROM sku WHERE code = '${code.replace(/'/g, "''")}'`));
  return one(srv, 'in', `SELECT COALESCE(SUM(reserved), 0) AS n FROM stock WHERE sku_id = ${id}`);
}

test('checkout: a failing order-line insert leaves no order, no lines, no reservation; the retry succeeds', async () => {
  await withFault('stmt:1:INSERT INTO order_line', async (srv) => {
    const c = await customer(srv, 'IN');
    const s = await skuOf(srv, 'IN');
    const reserved0 = reservedOf(srv, s.code);
    const orders0 = one(srv, 'in', 'SELECT COUNT(*) AS n FROM orders');
    const failed = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: s.code, quantity: 2 }] } });
    expectFault(failed);
    assert.equal(one(srv, 'in', 'SELECT COUNT(*) AS n FROM orders'), orders0, 'no order row');
    assert.equal(one(srv, 'in', 'SELECT COUNT(*) AS n FROM order_line WHERE order_id NOT IN (SELECT id FROM orders)'), 0);
    assert.equal(one(srv, 'in', 'SELECT COUNT(*) AS n FROM payment WHERE order_id NOT IN (SELECT id FROM orders)'), 0);
    assert.equal(reservedOf(srv, s.code), reserved0, 'no stock reserved for the failed order');
    assert.equal((await srv.get('/api/v1/orders', { token: c.token })).json.total, 0, 'the API shows no order');

    const ok = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: s.code, quantity: 2 }] } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(one(srv, 'in', `SELECT COUNT(*) AS n FROM order_line WHERE order_id = ${Number(ok.json.id)}`), 1);
    assert.equal(reservedOf(srv, s.code), reserved0 + 2);
  });
});

test('checkout: a failing payment insert (the last write) undoes the order it belonged to', async () => {
  await withFault("stmt:1:VALUES (?, 'wallet', 'charge'", async (srv) => {
    const c = await customer(srv, 'IN');
    const s = await skuOf(srv, 'IN', 1);
    const reserved0 = reservedOf(srv, s.code);
    const failed = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: s.code }] } });
    expectFault(failed);
    assert.equal(one(srv, 'in', `SELECT COUNT(*) AS n FROM orders WHERE user_id = ${Number(c.user.id)}`), 0);
    assert.equal(one(srv, 'in', 'SELECT COUNT(*) AS n FROM order_line WHERE order_id NOT IN (SELECT id FROM orders)'), 0);
    assert.equal(one(srv, 'in', 'SELECT COUNT(*) AS n FROM order_tax WHERE order_id NOT IN (SELECT id FROM orders)'), 0);
    assert.equal(reservedOf(srv, s.code), reserved0);
    const ok = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: s.code }] } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.status, 'pending_payment');
  });
});

test('events: a failing write at the end of a fan-out (deferred, seen at its RELEASE) fails that pass alone; the event is fanned out again, once', async () => {
  // the order's notification row is the fan-out job's last write: on PostgreSQL it is deferred (store/db.h)
  // and its failure comes back with the job's RELEASE, which must undo that job and keep the order
  await withFault('stmt:1:INSERT INTO notification', async (srv) => {
    const c = await customer(srv, 'IN');
    const s = await skuOf(srv, 'IN', 2);
    const ok = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: s.code }] } });
    assert.equal(ok.status, 201, ok.text);
    const count = () => Number(one(srv, 'in', `SELECT COUNT(*) AS n FROM notification WHERE message LIKE '%${ok.json.number}%'`));
    let n = 0;
    for (let i = 0; i < 100 && n === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      n = count();
    }
    assert.equal(n, 1, 'the event was fanned out after the failed pass');
    assert.equal(one(srv, 'in', `SELECT COUNT(*) AS n FROM orders WHERE id = ${Number(ok.json.id)}`), 1, 'the order stays');
    assert.equal((await srv.get(`/api/v1/orders/${ok.json.id}`, { token: c.token })).status, 200);
  });
});

test('registration: a failed commit is a 5xx, keeps no account, and the retry registers', async () => {
  // the first commit in region "in" that writes anything is this registration's batch
  await withFault('commit:1:region-in', async (srv) => {
    const email = `fault-${process.pid}-${Date.now()}@example.test`;
    const body = { email, password: 'correct horse battery', country: 'IN', name: 'Test' };
    const failed = await srv.api('POST', '/api/v1/users', { body });
    expectFault(failed);
    assert.equal(one(srv, 'in', `SELECT COUNT(*) AS n FROM "user" WHERE email = '${email}'`), 0);
    const login = await srv.api('POST', '/api/v1/sessions', { body: { email, password: body.password, country: 'IN' } });
    assert.equal(login.status, 401, login.text);
    const ok = await srv.api('POST', '/api/v1/users', { body });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(one(srv, 'in', `SELECT COUNT(*) AS n FROM "user" WHERE email = '${email}'`), 1);
  });
});

test('refund: a failure after the refund payment was written keeps neither the payment nor the order change', async () => {
  await withFault('stmt:1:UPDATE orders SET refunded_total', async (srv) => {
    const c = await customer(srv, 'IN');
    const s = await skuOf(srv, 'IN', 2);
    const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: s.code }] } });
    assert.equal(o.status, 201, o.text);
    const pay = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
    assert.equal(pay.status, 200, pay.text);
    const id = Number(o.json.id);
    const before = sql(srv, 'in', `SELECT status, payment_status, refunded_total FROM orders WHERE id = ${id}`)[0];
    const refunds = `SELECT COUNT(*) AS n FROM payment WHERE order_id = ${id} AND kind = 'refund'`;
    const body = { country: 'IN', reason: 'fault test', all: true };
    const failed = await srv.api('POST', `/api/v1/admin/orders/${id}/refunds`, { token: srv.adminToken, body });
    expectFault(failed);
    assert.equal(one(srv, 'in', refunds), 0, 'no refund payment without its order change');
    assert.deepEqual(sql(srv, 'in', `SELECT status, payment_status, refunded_total FROM orders WHERE id = ${id}`)[0], before);
    const got = await srv.get(`/api/v1/orders/${id}`, { token: c.token });
    assert.equal(got.json.status, 'paid');
    assert.equal(got.json.payments.filter((p) => p.kind === 'refund').length, 0);

    const ok = await srv.api('POST', `/api/v1/admin/orders/${id}/refunds`, { token: srv.adminToken, body });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.status, 'refunded');
    assert.equal(one(srv, 'in', refunds), 1);
  });
});

test('a fault spec the server does not understand is reported and ignored', async () => {
  const srv = await startServer({ env: { MERIDIAN_FAULT: 'disk:full' } });
  try {
    const c = await customer(srv, 'IN');
    assert.ok(c.token);
    assert.match(srv.log(), /MERIDIAN_FAULT=disk:full not understood/);
  } finally {
    await srv.stop();
  }
});
