// Split shipments and warehouses: an order whose lines no single warehouse can fill ships from several
// (one shipment per warehouse, each with its own state and tracking number); stock per warehouse stays
// exact under races; the order follows its shipments; events and webhooks per step; warehouses listed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, expectError, customer, run, until } from './helpers.mjs';

let srv, T;
const hooks = [];
let hookServer, hookId;
before(async () => {
  srv = await startServer({ regions: 'in,eu', args: ['--event-retry-ms', '200', '--webhook-allow-loopback'] });
  T = srv.adminToken;
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { hooks.push(JSON.parse(body)); res.writeHead(204); res.end(); });
  });
  await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
  const w = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: `http://127.0.0.1:${hookServer.address().port}/`, events: ['shipment.*', 'order.*'] } });
  assert.equal(w.status, 201, w.text);
  hookId = w.json.id;
});
after(async () => {
  await srv.api('DELETE', `/api/v1/admin/webhooks/${hookId}`, { token: T });
  hookServer.closeAllConnections();
  hookServer.close();
  await srv.stop();
});

let skuOffset = 0;
// A fresh SKU sold in IN (a different product each call), with the given units in Mumbai and Bengaluru.
async function skuWith(mum, blr) {
  const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=50');
  const p = await srv.get(`/api/v1/products/${list.json.items[skuOffset++].id}?country=IN`);
  const sku = p.json.skus[0];
  await setStock(sku.code, mum, blr);
  return sku;
}

async function setStock(code, mum, blr) {
  for (const [wh, n] of [['WH-IN-MUM', mum], ['WH-IN-BLR', blr]]) {
    const r = await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: code, warehouse: wh, country: 'IN', on_hand: n, reason: 'test setup' } });
    assert.equal(r.status, 200, r.text);
  }
}

// { MUM: {on_hand, reserved, available, sold}, BLR: ... }
async function stockOf(code) {
  const r = await srv.get(`/api/v1/admin/stock?country=IN&sku=${code}`, { token: T });
  assert.equal(r.status, 200, r.text);
  const out = {};
  for (const w of r.json.warehouses) out[w.warehouse.slice(6)] = { on_hand: w.on_hand, reserved: w.reserved, available: w.available, sold: w.sold };
  return out;
}

const order = (c, body) => srv.api('POST', '/api/v1/orders', { token: c.token, body });
const ship = (o, s, body = {}, token = T) => srv.api('POST', `/api/v1/admin/orders/${o}/shipments/${s}/ship`, { token, body: { country: 'IN', ...body } });
const deliver = (o, s, body = {}, token = T) => srv.api('POST', `/api/v1/admin/orders/${o}/shipments/${s}/deliver`, { token, body: { country: 'IN', ...body } });

test('an order no single warehouse can fill ships from two: shipments, stock per warehouse, states, events', async () => {
  const a = await skuWith(2, 0); // only in Mumbai
  const b = await skuWith(0, 3); // only in Bengaluru
  const c = await customer(srv, 'IN'); // Maharashtra: Mumbai preferred
  const o = await order(c, { payment_method: 'card', lines: [{ sku: a.code, quantity: 2 }, { sku: b.code, quantity: 1 }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.shipments.length, 2, 'one shipment per warehouse');
  const [s1, s2] = o.json.shipments;
  assert.deepEqual([s1.warehouse, s1.status, s1.seq], ['WH-IN-MUM', 'pending', 1]);
  assert.deepEqual(s1.lines, [{ line_no: 1, sku: a.code, quantity: 2 }]);
  assert.deepEqual([s2.warehouse, s2.status, s2.seq], ['WH-IN-BLR', 'pending', 2]);
  assert.deepEqual(s2.lines, [{ line_no: 2, sku: b.code, quantity: 1 }]);
  assert.equal(o.json.warehouse, 'WH-IN-MUM');
  // Karnataka stock for a Maharashtra buyer: not every unit is intra-state, so IGST
  assert.deepEqual(o.json.taxes.map((t) => t.kind), ['IGST']);
  assert.deepEqual((await stockOf(a.code)).MUM, { on_hand: 2, reserved: 2, available: 0, sold: 0 });
  assert.deepEqual((await stockOf(b.code)).BLR, { on_hand: 3, reserved: 1, available: 2, sold: 0 });

  // an unpaid order's shipments cannot ship
  const early = await ship(o.json.id, s1.id, { tracking_number: 'EARLY1' });
  expectError(early, 409, 'conflict', 'status');
  assert.equal(early.json.error.current_status, 'pending_payment');

  const paid = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(paid.status, 200, paid.text);
  // logistics books a tracking number per shipment (after order.paid is fanned out)
  const booked = await until(async () => {
    const v = await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token });
    return v.json.shipments.every((s) => s.tracking_number) && v.json;
  }, 'tracking numbers booked');
  assert.notEqual(booked.shipments[0].tracking_number, booked.shipments[1].tracking_number);
  assert.equal(booked.shipments[0].carrier, 'Delhivery');

  // first parcel: the order is partially shipped; Mumbai's units consumed, Bengaluru's still reserved
  const r1 = await ship(o.json.id, s1.id, { tracking_number: 'MUM-TRACK-1', carrier: 'Blue Dart' });
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.json.status, 'partially_shipped');
  assert.deepEqual([r1.json.shipments[0].status, r1.json.shipments[0].tracking_number, r1.json.shipments[0].carrier], ['shipped', 'MUM-TRACK-1', 'Blue Dart']);
  assert.ok(r1.json.shipments[0].shipped_at);
  assert.equal(r1.json.shipments[1].status, 'pending');
  assert.deepEqual((await stockOf(a.code)).MUM, { on_hand: 0, reserved: 0, available: 0, sold: 2 });
  assert.deepEqual((await stockOf(b.code)).BLR, { on_hand: 3, reserved: 1, available: 2, sold: 0 });
  // the same parcel again, a partially shipped order cancelled: refused with the state that refused
  const again = await ship(o.json.id, s1.id);
  expectError(again, 409, 'conflict', 'status');
  assert.equal(again.json.error.current_status, 'shipped');
  const cancel = await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  expectError(cancel, 409, 'conflict', 'status');
  // a pending parcel cannot be delivered
  const notYet = await deliver(o.json.id, s2.id);
  expectError(notYet, 409, 'conflict', 'status');
  assert.equal(notYet.json.error.current_status, 'pending');

  // last parcel (the booked tracking number): the order is shipped
  const r2 = await ship(o.json.id, s2.id);
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.status, 'shipped');
  assert.equal(r2.json.shipments[1].tracking_number, booked.shipments[1].tracking_number);
  assert.deepEqual((await stockOf(b.code)).BLR, { on_hand: 2, reserved: 0, available: 2, sold: 1 });

  // delivered one by one: the order is delivered with its last shipment
  const d1 = await deliver(o.json.id, s2.id);
  assert.equal(d1.status, 200, d1.text);
  assert.equal(d1.json.status, 'shipped');
  assert.equal(d1.json.shipments[1].status, 'delivered');
  const d2 = await deliver(o.json.id, s1.id);
  assert.equal(d2.json.status, 'delivered');
  assert.ok(d2.json.shipments.every((s) => s.status === 'delivered' && s.delivered_at));
  assert.deepEqual(d2.json.events.map((e) => e.to), ['pending_payment', 'paid', 'partially_shipped', 'shipped', 'delivered']);
  expectError(await deliver(o.json.id, s1.id), 409, 'conflict', 'status');

  // events in the outbox and webhooks, one per step and shipment
  const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.json.id}`, { token: T });
  const types = log.json.events.map((e) => e.type);
  for (const t of ['shipment.shipped', 'shipment.delivered']) assert.equal(types.filter((x) => x === t).length, 2, `${t}: ${types}`);
  assert.ok(types.includes('order.partially_shipped'));
  const mine = await until(() => {
    const got = hooks.filter((h) => h.data && h.data.order_id === o.json.id && h.type.startsWith('shipment.'));
    return got.length === 4 && got;
  }, 'four shipment webhooks');
  const shippedHook = mine.find((h) => h.type === 'shipment.shipped' && h.data.shipment_id === s1.id);
  assert.equal(shippedHook.data.tracking_number, 'MUM-TRACK-1');
  assert.equal(shippedHook.data.warehouse, 'WH-IN-MUM');
  assert.equal(shippedHook.data.number, o.json.number);
  assert.deepEqual(shippedHook.data.lines, [{ line_no: 1, sku: a.code, quantity: 2 }]);
});

test('an order one warehouse can fill ships as one; the order-level routes move every shipment', async () => {
  const a = await skuWith(5, 5);
  const b = await skuWith(0, 5);
  const c = await customer(srv, 'IN');
  // both lines in Bengaluru: one warehouse beats two, even though Mumbai is preferred
  const one = await order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 1 }, { sku: b.code, quantity: 1 }] });
  assert.equal(one.status, 201, one.text);
  assert.equal(one.json.shipments.length, 1);
  assert.equal(one.json.shipments[0].warehouse, 'WH-IN-BLR');
  assert.equal(one.json.warehouse, 'WH-IN-BLR');
  // a line split across warehouses: 7 of a = 5 from Mumbai + 2 from Bengaluru (4 left there after the first)
  const split = await order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 7 }] });
  assert.equal(split.status, 201, split.text);
  assert.deepEqual(split.json.shipments.map((s) => [s.warehouse, s.lines[0].quantity]), [['WH-IN-MUM', 5], ['WH-IN-BLR', 2]]);
  const sa = await stockOf(a.code);
  assert.deepEqual([sa.MUM.reserved, sa.BLR.reserved], [5, 3]);
  // more than every warehouse together: 409, nothing reserved
  const none = await order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 3 }] });
  expectError(none, 409, 'conflict', 'lines');
  assert.match(none.json.error.message, new RegExp(a.code));
  assert.deepEqual(await stockOf(a.code), sa);

  // the order-level ship ships both parcels with the given tracking number; deliver delivers both
  const shipped = await srv.api('POST', `/api/v1/admin/orders/${split.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'ALL-IN-ONE' } });
  assert.equal(shipped.status, 200, shipped.text);
  assert.equal(shipped.json.status, 'shipped');
  assert.ok(shipped.json.shipments.every((s) => s.status === 'shipped' && s.tracking_number === 'ALL-IN-ONE'));
  const after = await stockOf(a.code);
  assert.deepEqual([after.MUM.sold, after.BLR.sold, after.MUM.on_hand, after.BLR.on_hand], [5, 2, 0, 3]);
  const delivered = await srv.api('POST', `/api/v1/admin/orders/${split.json.id}/deliver`, { token: T, body: { country: 'IN' } });
  assert.equal(delivered.json.status, 'delivered');
  assert.equal(delivered.json.payment.status, 'paid', 'cash collected when the last parcel arrives');
  assert.ok(delivered.json.shipments.every((s) => s.status === 'delivered'));

  // cancelling a split order gives each warehouse its own units back
  const a2 = await skuWith(1, 1);
  const c2 = await order(c, { payment_method: 'cod', lines: [{ sku: a2.code, quantity: 2 }] });
  assert.equal(c2.json.shipments.length, 2);
  const cancelled = await srv.api('POST', `/api/v1/orders/${c2.json.id}/cancel`, { token: c.token });
  assert.equal(cancelled.status, 200, cancelled.text);
  assert.ok(cancelled.json.shipments.every((s) => s.status === 'cancelled'));
  const s2 = await stockOf(a2.code);
  assert.deepEqual([s2.MUM.available, s2.BLR.available, s2.MUM.reserved, s2.BLR.reserved], [1, 1, 0, 0]);
});

test('a partial refund before shipping takes units out of the last shipment and back to its warehouse', async () => {
  const a = await skuWith(1, 2);
  const c = await customer(srv, 'IN');
  const o = await order(c, { payment_method: 'card', lines: [{ sku: a.code, quantity: 3 }] });
  assert.equal(o.status, 201, o.text);
  assert.equal((await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } })).status, 200);
  const rf = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/refunds`, { token: T, body: { country: 'IN', lines: [{ line_no: 1, quantity: 2 }], reason: 'customer changed mind' } });
  assert.equal(rf.status, 201, rf.text);
  assert.equal(rf.json.shipments[0].status, 'pending');
  assert.equal(rf.json.shipments[1].status, 'cancelled', 'Bengaluru had both refunded units: nothing left to ship');
  const s = await stockOf(a.code);
  assert.deepEqual([s.MUM.reserved, s.BLR.reserved, s.BLR.available], [1, 0, 2]);
  const shipped = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'ONE-LEFT' } });
  assert.equal(shipped.json.status, 'shipped');
  const after = await stockOf(a.code);
  assert.deepEqual([after.MUM.sold, after.BLR.sold], [1, 0]);
});

test('races: concurrent split checkouts never oversell a warehouse; two ship calls for one parcel, one wins', async () => {
  const a = await skuWith(3, 3);
  const customers = await Promise.all(Array.from({ length: 8 }, () => customer(srv, 'IN')));
  const results = await Promise.all(customers.map((c) => order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 2 }] })));
  const ok = results.filter((r) => r.status === 201);
  assert.equal(ok.length, 3, `statuses: ${results.map((r) => r.status)}`);
  assert.ok(results.filter((r) => r.status !== 201).every((r) => r.status === 409));
  const s = await stockOf(a.code);
  assert.deepEqual(s.MUM, { on_hand: 3, reserved: 3, available: 0, sold: 0 });
  assert.deepEqual(s.BLR, { on_hand: 3, reserved: 3, available: 0, sold: 0 });
  const units = ok.flatMap((r) => r.json.shipments.map((x) => [x.warehouse, x.lines[0].quantity]));
  const sum = (wh) => units.filter(([w]) => w === wh).reduce((n, [, q]) => n + q, 0);
  assert.deepEqual([sum('WH-IN-MUM'), sum('WH-IN-BLR')], [3, 3], 'the shipments hold exactly the reserved units');

  const o = ok.find((r) => r.json.shipments.length === 2) || ok[0];
  const sid = o.json.shipments[0].id;
  const two = await Promise.all([ship(o.json.id, sid, { tracking_number: 'RACE-1' }), ship(o.json.id, sid, { tracking_number: 'RACE-2' })]);
  assert.deepEqual(two.map((r) => r.status).sort(), [200, 409]);
  const q = o.json.shipments[0].lines[0].quantity;
  const after = await stockOf(a.code);
  const wh = o.json.shipments[0].warehouse.slice(6);
  assert.equal(after[wh].sold, q, 'consumed once');
  assert.equal(after[wh].on_hand, 3 - q);
});

test('authorization: staff of the country only; customers see their own orders\' shipments only', async () => {
  const a = await skuWith(1, 1);
  const c = await customer(srv, 'IN');
  const other = await customer(srv, 'IN');
  const o = await order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 2 }] });
  assert.equal(o.status, 201, o.text);
  const sid = o.json.shipments[0].id;
  expectError(await ship(o.json.id, sid, {}, c.token), 403, 'forbidden');
  expectError(await srv.get(`/api/v1/orders/${o.json.id}`, { token: other.token }), 404, 'not_found');
  const opEs = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-es-ship@example.test', '--role', 'operator', '--countries', 'ES']);
  expectError(await ship(o.json.id, sid, { tracking_number: 'X1' }, opEs), 403, 'forbidden');
  expectError(await srv.get('/api/v1/admin/warehouses?country=IN', { token: opEs }), 403, 'forbidden');
  const opIn = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-in-ship@example.test', '--role', 'operator', '--countries', 'IN']);
  // another order's shipment, an unknown one, bad bodies
  const o2 = await order(c, { payment_method: 'cod', lines: [{ sku: a.code, quantity: 0 }] });
  assert.equal(o2.status, 422);
  expectError(await ship(o.json.id, 999999, { tracking_number: 'X1' }, opIn), 404, 'not_found');
  expectError(await ship(999999, sid, { tracking_number: 'X1' }, opIn), 404, 'not_found');
  expectError(await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/shipments/${sid}/ship`, { token: opIn, body: { country: 'ES', tracking_number: 'X1' } }), 403, 'forbidden');
  expectError(await ship(o.json.id, sid, { tracking_number: 'X1', colour: 'red' }, opIn), 422, 'validation_failed', 'colour');
  expectError(await deliver(o.json.id, sid, { tracking_number: 'X1' }, opIn), 422, 'validation_failed', 'tracking_number');
  const fine = await ship(o.json.id, sid, { tracking_number: 'OP-IN-1' }, opIn);
  assert.equal(fine.status, 200, fine.text);
  assert.equal(fine.json.shipments[0].tracking_number, 'OP-IN-1');
  assert.equal(fine.json.events.at(-1).actor.startsWith('operator:'), true);
  // the customer sees the shipment as it is now
  const mine = await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token });
  assert.equal(mine.json.shipments[0].status, 'shipped');
});

test('GET /admin/warehouses lists the warehouses of a country with where they deliver and their stock', async () => {
  const r = await srv.get('/api/v1/admin/warehouses?country=IN', { token: T });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.country, 'IN');
  assert.deepEqual(r.json.warehouses.map((w) => w.code), ['WH-IN-MUM', 'WH-IN-BLR']);
  const mum = r.json.warehouses[0];
  assert.deepEqual([mum.name, mum.country, mum.state, mum.serves], ['Mumbai (Bhiwandi)', 'IN', 'MH', ['IN']]);
  assert.ok(mum.stock.skus > 0 && mum.stock.on_hand > 0);
  assert.equal(mum.stock.available, mum.stock.on_hand - mum.stock.reserved);
  const es = await srv.get('/api/v1/admin/warehouses?country=ES', { token: T });
  assert.deepEqual(es.json.warehouses.map((w) => w.code), ['WH-DE-BER', 'WH-ES-MAD']);
  assert.deepEqual(es.json.warehouses[1].serves, ['ES', 'FR', 'IT']);
  // a new warehouse shows up at once
  const nw = await srv.api('POST', '/api/v1/admin/warehouses', { token: T, body: { code: 'WH-IN-DEL', name: 'Delhi (Gurugram)', country: 'IN', state: 'HR', serves: ['IN'] } });
  assert.equal(nw.status, 201, nw.text);
  const again = await srv.get('/api/v1/admin/warehouses?country=IN', { token: T });
  assert.deepEqual(again.json.warehouses.at(-1), { id: nw.json.id, code: 'WH-IN-DEL', name: 'Delhi (Gurugram)', country: 'IN', state: 'HR', serves: ['IN'], stock: { skus: 0, on_hand: 0, reserved: 0, available: 0, sold: 0 } });
  // and orders are served from it at once (the writer keeps the warehouses serving a country in memory)
  const only = await skuWith(0, 0);
  const put = await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: only.code, warehouse: 'WH-IN-DEL', country: 'IN', on_hand: 2, reason: 'test setup' } });
  assert.equal(put.status, 200, put.text);
  const buyer = await customer(srv, 'IN');
  const fromDel = await order(buyer, { payment_method: 'card', lines: [{ sku: only.code, quantity: 1 }] });
  assert.equal(fromDel.status, 201, fromDel.text);
  assert.equal(fromDel.json.warehouse, 'WH-IN-DEL');
  expectError(await srv.get('/api/v1/admin/warehouses', { token: T }), 400, 'missing_parameter', 'country');
  expectError(await srv.get('/api/v1/admin/warehouses?country=ZZ', { token: T }), 404, 'unknown_country');
  const c = await customer(srv, 'IN');
  expectError(await srv.get('/api/v1/admin/warehouses?country=IN', { token: c.token }), 403, 'forbidden');
  expectError(await srv.get('/api/v1/admin/warehouses?country=IN'), 401, 'unauthorized');
});
