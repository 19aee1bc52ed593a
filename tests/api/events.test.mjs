// Events and outgoing webhooks: concurrent deliveries that one slow subscriber cannot stall, the egress
// policy (no loopback or private addresses unless serve allows them), redelivery, stock.low, and the
// admin stock view of a SKU that is not sold in a country.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { startServer, expectError, customer, wait, until } from './helpers.mjs';

let srv, T;
before(async () => {
  srv = await startServer({ args: ['--event-retry-ms', '200', '--webhook-timeout-ms', '4000', '--webhook-allow-loopback'] });
  T = srv.adminToken;
});
after(async () => { await srv.stop(); });

async function skus(s, country, category, n) {
  const list = await s.get(`/api/v1/products?country=${country}&category=${category}&per_page=${n}`);
  const out = [];
  for (const item of list.json.items) out.push((await s.get(`/api/v1/products/${item.id}?country=${country}`)).json.skus[0]);
  return out;
}

// A receiver: answer(req, res, body) decides; every request is kept in calls.
async function receiver(answer) {
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const call = { at: Date.now(), id: req.headers['x-meridian-event-id'], event: body ? JSON.parse(body) : null, open: true };
      res.on('close', () => { call.open = false; });
      calls.push(call);
      answer(req, res, call);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { calls, port: server.address().port, close: () => { server.closeAllConnections(); server.close(); } };
}

const webhook = (s, url, events) => s.api('POST', '/api/v1/admin/webhooks', { token: s.adminToken, body: { url, events } });
const deliveries = async (s, id, q = '') => (await s.get(`/api/v1/admin/webhooks/${id}/deliveries${q}`, { token: s.adminToken })).json.deliveries;

test('a subscriber that never answers does not delay another one; its attempts time out and it backs off', async () => {
  const slow = await receiver(() => { /* never answers */ });
  const fast = await receiver((req, res) => { res.writeHead(204); res.end(); });
  const subs = [];
  try {
    // the slow one first, so that it has a backlog when the fast one's events are due
    for (const r of [slow, fast]) {
      const w = await webhook(srv, `http://127.0.0.1:${r.port}/hook`, ['order.created']);
      assert.equal(w.status, 201, w.text);
      subs.push(w.json.id);
    }
    const [a] = await skus(srv, 'IN', 'accessories', 1);
    const c = await customer(srv, 'IN');
    const orders = [];
    for (let i = 0; i < 8; i++) {
      const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: a.code }] } });
      assert.equal(o.status, 201, o.text);
      orders.push(o.json.id);
    }
    const placed = Date.now();
    const got = (r) => orders.filter((id) => r.calls.some((k) => k.event.type === 'order.created' && k.event.data.order_id === id));
    await until(() => got(fast).length === orders.length, 'every delivery to the fast subscriber', 40);
    const took = Date.now() - placed;
    assert.ok(took < 3000, `the fast subscriber waited ${took} ms behind the slow one`);
    // the slow one has a few transfers in flight at most, not its whole backlog
    assert.ok(slow.calls.length >= 1 && slow.calls.length <= 4, `slow subscriber: ${slow.calls.length} requests in flight`);
    // its attempts end as timeouts, recorded with the reason
    const timedOut = await until(async () => (await deliveries(srv, subs[0])).find((d) => d.result === 'timeout'), 'a timed-out attempt', 100);
    assert.equal(timedOut.status, 'pending');
    assert.match(timedOut.last_error, /timeout after 4000 ms/);
    assert.ok(timedOut.next_attempt_at);
    // while it keeps failing it gets one probe at a time, after its own back-off
    await wait(500);
    for (let i = 0; i < 20; i++, await wait(100))
      assert.ok(slow.calls.filter((k) => k.open).length <= 1, 'one request at a time to a failing subscriber');
    const fastLog = await deliveries(srv, subs[1]);
    assert.ok(orders.every((id) => fastLog.some((d) => d.order_id === id && d.status === 'delivered' && d.result === 'delivered')));
  } finally {
    for (const id of subs) await srv.api('DELETE', `/api/v1/admin/webhooks/${id}`, { token: T });
    slow.close();
    fast.close();
  }
});

test('redelivery: an admin sends a delivered event again, and only to a subscriber of its type', async () => {
  const r = await receiver((req, res) => { res.writeHead(200); res.end('ok'); });
  let id;
  try {
    const w = await webhook(srv, `http://127.0.0.1:${r.port}/`, ['order.created']);
    assert.equal(w.status, 201, w.text);
    id = w.json.id;
    const [a] = await skus(srv, 'IN', 'accessories', 2);
    const c = await customer(srv, 'IN');
    const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: a.code }] } });
    assert.equal(o.status, 201, o.text);
    const first = await until(() => r.calls.find((k) => k.event.data.order_id === o.json.id), 'the first delivery');
    const d = await until(async () => (await deliveries(srv, id)).find((x) => x.event_id === first.id && x.status === 'delivered'), 'delivered');
    assert.equal(d.attempts, 1);

    const again = await srv.api('POST', `/api/v1/admin/webhooks/${id}/deliveries/${first.id}/redeliver`, { token: T });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.status, 'pending');
    await until(() => r.calls.filter((k) => k.id === first.id).length === 2, 'the redelivery');
    const after = await until(async () => (await deliveries(srv, id, '?status=delivered')).find((x) => x.event_id === first.id && x.attempts === 2), 'recorded');
    assert.equal(after.result, 'delivered');

    // an event of a type the webhook does not take, an unknown event, a malformed id, a deleted webhook
    assert.equal((await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token })).status, 200);
    const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.json.id}`, { token: T });
    const other = log.json.events.find((e) => e.type === 'order.cancelled');
    expectError(await srv.api('POST', `/api/v1/admin/webhooks/${id}/deliveries/${other.id}/redeliver`, { token: T }), 409, 'conflict');
    expectError(await srv.api('POST', `/api/v1/admin/webhooks/${id}/deliveries/evt_in_99999999/redeliver`, { token: T }), 404, 'not_found');
    expectError(await srv.api('POST', `/api/v1/admin/webhooks/${id}/deliveries/nonsense/redeliver`, { token: T }), 404, 'not_found', 'event_id');
    expectError(await srv.get(`/api/v1/admin/webhooks/${id}/deliveries?status=lost`, { token: T }), 400, 'invalid_parameter', 'status');
    expectError(await srv.get('/api/v1/admin/webhooks/99999/deliveries', { token: T }), 404, 'not_found');
    assert.equal((await srv.api('DELETE', `/api/v1/admin/webhooks/${id}`, { token: T })).status, 204);
    expectError(await srv.api('POST', `/api/v1/admin/webhooks/${id}/deliveries/${first.id}/redeliver`, { token: T }), 409, 'conflict');
    id = null;
  } finally {
    if (id) await srv.api('DELETE', `/api/v1/admin/webhooks/${id}`, { token: T });
    r.close();
  }
});

test('redelivery is attempted at once, even to a subscriber that is backing off after a failure', async () => {
  // a long back-off: after its first failure the subscriber would not be tried again for 8 s
  const s = await startServer({ regions: 'in', args: ['--event-retry-ms', '8000', '--webhook-allow-loopback'] });
  let n = 0;
  const r = await receiver((req, res) => { res.writeHead(++n === 1 ? 500 : 200); res.end(); });
  try {
    const w = await webhook(s, `http://127.0.0.1:${r.port}/`, ['order.created']);
    assert.equal(w.status, 201, w.text);
    const [a] = await skus(s, 'IN', 'accessories', 1);
    const c = await customer(s, 'IN');
    const o = await s.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: a.code }] } });
    assert.equal(o.status, 201, o.text);
    const first = await until(() => r.calls.find((k) => k.event.data.order_id === o.json.id), 'the first delivery');
    await until(async () => (await deliveries(s, w.json.id)).find((x) => x.event_id === first.id && x.result === 'http_error'), 'the failure recorded');
    // the receiver is fixed; the operator asks for the event again
    const t0 = Date.now();
    const again = await s.api('POST', `/api/v1/admin/webhooks/${w.json.id}/deliveries/${first.id}/redeliver`, { token: s.adminToken });
    assert.equal(again.status, 202, again.text);
    const second = await until(() => r.calls.filter((k) => k.id === first.id)[1], 'the redelivery', 100);
    assert.ok(second.at - t0 < 4000, `redelivered after ${second.at - t0} ms, not at once`);
    const d = await until(async () => (await deliveries(s, w.json.id)).find((x) => x.event_id === first.id && x.status === 'delivered'), 'delivered');
    assert.equal(d.attempts, 2);
  } finally {
    r.close();
    await s.stop();
  }
});

test('without --webhook-allow-loopback: literal loopback/private URLs are 422, and a name resolving to one is refused at connect time', async () => {
  const strict = await startServer({ args: ['--event-retry-ms', '200'] });
  const r = await receiver((req, res) => { res.writeHead(204); res.end(); });
  try {
    for (const url of [`http://127.0.0.1:${r.port}/`, 'http://[::1]/x', 'http://10.1.2.3/', 'http://172.20.0.1/', 'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/', 'http://[fd00::1]/', 'http://[fe80::1]/', 'http://0.0.0.0/', 'http://2130706433/',
      'http://[::ffff:127.0.0.1]/', 'http://localhost:8080/', 'http://api.localhost/', 'ftp://example.com/', 'not a url'])
      expectError(await webhook(strict, url, ['order.created']), 422, 'validation_failed', 'url');
    const msg = (await webhook(strict, `http://127.0.0.1:${r.port}/`, [])).json.error.message;
    assert.match(msg, /127\.0\.0\.1 is a loopback address.*--webhook-allow-loopback/);
    assert.equal((await webhook(strict, 'https://hooks.example.com/meridian', ['order.paid'])).status, 201);

    // a name is only known at connect time: this machine's own name resolves to a loopback or private address
    const name = hostname();
    const { address } = await lookup(name, { family: 4 }).catch(() => ({ address: '' }));
    const cls = /^127\./.test(address) ? 'loopback' : /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(address) ? 'private' : null;
    if (cls === null) return; // a public host name: nothing to show here
    const w = await webhook(strict, `http://${name}:${r.port}/hook`, ['order.created']);
    assert.equal(w.status, 201, w.text);
    const [a] = await skus(strict, 'IN', 'accessories', 1);
    const c = await customer(strict, 'IN');
    const o = await strict.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: a.code }] } });
    assert.equal(o.status, 201, o.text);
    const d = await until(async () => (await deliveries(strict, w.json.id)).find((x) => x.order_id === o.json.id && x.attempts >= 1), 'a refused attempt');
    assert.equal(d.result, 'refused');
    assert.equal(d.status, 'pending');
    assert.match(d.last_error, new RegExp(`refused: ${address.replace(/\./g, '\\.')} is a ${cls}`));
    assert.equal(r.calls.length, 0, 'nothing reached the receiver');
  } finally {
    r.close();
    await strict.stop();
  }
});

test('stock.low: emitted once when available stock falls below the threshold, again only after it came back', async () => {
  const r = await receiver((req, res) => { res.writeHead(204); res.end(); });
  let id;
  try {
    const w = await webhook(srv, `http://127.0.0.1:${r.port}/`, ['stock.*']);
    assert.equal(w.status, 201, w.text);
    id = w.json.id;
    const [, , s] = await skus(srv, 'IN', 'phones', 3);
    const stock = async () => (await srv.get(`/api/v1/admin/stock?country=IN&sku=${s.code}`, { token: T })).json;
    const before = await stock();
    assert.equal(before.sold_here, true);
    assert.equal(before.low_threshold, 0);
    assert.equal(before.low, false);
    const A = before.available;

    // validation: unknown SKU, bad threshold, unknown field
    expectError(await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', sku: 'NOPE', threshold: 3 } }), 422, 'validation_failed', 'sku');
    expectError(await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', sku: s.code, threshold: -1 } }), 422, 'validation_failed', 'threshold');
    expectError(await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', sku: s.code, threshold: 3, x: 1 } }), 422, 'validation_failed', 'x');

    const t = await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', sku: s.code, threshold: A - 1 } });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(t.json, { country: 'IN', threshold: A - 1, scope: 'sku', sku: s.code });
    assert.equal((await stock()).low, false, 'at the threshold is not below it');

    const lowEvents = async () => (await srv.get('/api/v1/admin/events?country=IN&limit=1000', { token: T })).json.events
      .filter((e) => e.type === 'stock.low' && e.data.sku === s.code);
    const c = await customer(srv, 'IN');
    const buy = async (q) => {
      const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: s.code, quantity: q }] } });
      assert.equal(o.status, 201, o.text);
      return o.json.id;
    };
    const o1 = await buy(2); // A - 2 < A - 1: low
    let evs = await lowEvents();
    assert.equal(evs.length, 1);
    assert.deepEqual({ ...evs[0].data }, { sku: s.code, sku_id: s.id, product_id: evs[0].data.product_id, country: 'IN', available: A - 2, threshold: A - 1 });
    assert.equal((await stock()).low, true);
    const o2 = await buy(1); // still low: nothing new
    assert.equal((await lowEvents()).length, 1);
    await until(() => r.calls.some((k) => k.event.type === 'stock.low' && k.event.data.sku === s.code), 'stock.low at the webhook');

    // both orders cancelled: back above the threshold, so the next fall announces again
    for (const o of [o1, o2]) assert.equal((await srv.api('POST', `/api/v1/orders/${o}/cancel`, { token: c.token })).status, 200);
    const back = await stock();
    assert.equal(back.available, A);
    assert.equal(back.low, false);
    assert.equal((await lowEvents()).length, 1);

    // a checkout that fails after reserving (another line is out of stock) announces nothing: the event
    // belongs to the transaction of the change, and the change did not happen
    const [, , , , gone] = await skus(srv, 'IN', 'phones', 5);
    for (const wh of ['WH-IN-MUM', 'WH-IN-BLR'])
      assert.equal((await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: gone.code, warehouse: wh, country: 'IN', on_hand: 0, reason: 'test' } })).status, 200);
    const failed = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: s.code, quantity: 2 }, { sku: gone.code }] } });
    expectError(failed, 409, 'conflict', 'lines');
    assert.equal((await lowEvents()).length, 1);
    assert.equal((await stock()).available, A);

    // an admin stock change crosses it too
    const adj = await srv.api('POST', '/api/v1/admin/stock/adjust', { token: T, body: { sku: s.code, warehouse: 'WH-IN-MUM', country: 'IN', delta: -5, reason: 'damaged' } });
    assert.equal(adj.status, 200, adj.text);
    evs = await lowEvents();
    assert.equal(evs.length, 2);
    assert.equal(evs[0].data.available, A - 5);
    assert.equal((await srv.api('POST', '/api/v1/admin/stock/adjust', { token: T, body: { sku: s.code, warehouse: 'WH-IN-MUM', country: 'IN', delta: 5, reason: 'found' } })).status, 200);
    assert.equal((await stock()).low, false);

    // a country default applies to SKUs without their own threshold; 0 turns the SKU's off
    const d = await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', threshold: 7 } });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.scope, 'country_default');
    const [other] = await skus(srv, 'IN', 'accessories', 1);
    assert.equal((await srv.get(`/api/v1/admin/stock?country=IN&sku=${other.code}`, { token: T })).json.low_threshold, 7);
    assert.equal((await stock()).low_threshold, A - 1);
    assert.equal((await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', threshold: 0 } })).status, 200);
    assert.equal((await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'IN', sku: s.code, threshold: 0 } })).status, 200);
  } finally {
    if (id) await srv.api('DELETE', `/api/v1/admin/webhooks/${id}`, { token: T });
    r.close();
  }
});

test('admin stock of a SKU not sold in a country: available 0 and not_sold_here, as checkout says', async () => {
  // a product sold in Germany but not in Spain (seeded countries each leave some out); both served by WH-DE-BER
  const de = await srv.get('/api/v1/products?country=DE&per_page=100');
  let code = null;
  for (const p of de.json.items) {
    if ((await srv.get(`/api/v1/products/${p.id}?country=ES`)).status === 404) {
      code = (await srv.get(`/api/v1/products/${p.id}?country=DE`)).json.skus[0].code;
      break;
    }
  }
  assert.ok(code, 'a product sold in DE and not in ES');
  const es = await srv.get(`/api/v1/admin/stock?country=ES&sku=${code}`, { token: T });
  assert.equal(es.status, 200, es.text);
  assert.equal(es.json.sold_here, false);
  assert.equal(es.json.available, 0);
  assert.deepEqual(es.json.warnings.map((w) => w.code), ['not_sold_here']);
  assert.ok(es.json.warehouses.some((w) => w.available > 0), 'the units are there, just not for sale in ES');
  const deStock = await srv.get(`/api/v1/admin/stock?country=DE&sku=${code}`, { token: T });
  assert.equal(deStock.json.sold_here, true);
  assert.ok(deStock.json.available > 0);
  assert.equal(deStock.json.warnings, undefined);
  // checkout in Spain refuses it the same way
  const c = await customer(srv, 'ES');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: code }] } }), 422, 'validation_failed', 'lines[0].sku');
  // and no threshold can be set for it there
  expectError(await srv.api('PUT', '/api/v1/admin/stock/threshold', { token: T, body: { country: 'ES', sku: code, threshold: 5 } }), 422, 'validation_failed', 'sku');
});
