// After-sales returns (RMA): a customer returns delivered lines within the country's window; staff approve
// or reject, receive (resellable units back in stock, damaged not) and the refund follows the refund path
// (cash on delivery: bank transfer or store credit as the country allows). Every transition, its events
// and webhooks, authorization, and the races: two approvals at once, a return after a full refund.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, expectError, customer, run, until, skuSupply } from './helpers.mjs';

let srv, T;
const hooks = [];
let hookServer, hookId;
before(async () => {
  srv = await startServer({ regions: 'in,eu', args: ['--event-retry-ms', '200', '--webhook-allow-loopback'] });
  freshSku = skuSupply(srv, 10);
  T = srv.adminToken;
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { hooks.push(JSON.parse(body)); res.writeHead(204); res.end(); });
  });
  await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
  const w = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: `http://127.0.0.1:${hookServer.address().port}/`, events: ['return.*'] } });
  assert.equal(w.status, 201, w.text);
  hookId = w.json.id;
});
after(async () => {
  await srv.api('DELETE', `/api/v1/admin/webhooks/${hookId}`, { token: T });
  hookServer.closeAllConnections();
  hookServer.close();
  await srv.stop();
});

// A fresh accessory SKU sold in IN with 10 units in Mumbai and none in Bengaluru.
let freshSku;

async function stockOf(code) {
  const r = await srv.get(`/api/v1/admin/stock?country=IN&sku=${code}`, { token: T });
  return r.json;
}

// A delivered order of c: lines [{sku, quantity}], card (paid) or cod.
async function delivered(c, method, lines) {
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: method, lines } });
  assert.equal(o.status, 201, o.text);
  if (method === 'card') {
    const p = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
    assert.equal(p.status, 200, p.text);
  }
  const s = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: `TRK${o.json.id}` } });
  assert.equal(s.status, 200, s.text);
  const d = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/deliver`, { token: T, body: { country: 'IN' } });
  assert.equal(d.json.status, 'delivered', d.text);
  return d.json;
}

const ask = (c, orderId, body) => srv.api('POST', `/api/v1/orders/${orderId}/returns`, { token: c.token, body });
const step = (id, what, body = {}, token = T) => srv.api('POST', `/api/v1/admin/returns/${id}/${what}`, { token, body: { country: 'IN', ...body } });

test('card order: request, approve, receive resellable -> stock back, refund through the provider, events', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const o = await delivered(c, 'card', [{ sku: sku.code, quantity: 2 }]);
  const before = await stockOf(sku.code);

  const r = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'defective', comment: 'screen flickers' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, 'requested');
  assert.deepEqual(r.json.refund.method, 'original');
  assert.equal(r.json.order_number, o.number);
  assert.deepEqual(r.json.lines.map((l) => [l.line_no, l.sku, l.quantity]), [[1, sku.code, 1]]);

  const a = await step(r.json.id, 'approve', { note: 'send it to Mumbai' });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.status, 'approved');

  const rc = await step(r.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable' }] });
  assert.equal(rc.status, 200, rc.text);
  assert.equal(rc.json.status, 'refunded');
  assert.deepEqual([rc.json.lines[0].condition, rc.json.lines[0].restocked_to], ['resellable', 'WH-IN-MUM']);
  const half = Math.floor(o.lines[0].line_total.amount / 2);
  assert.equal(rc.json.refund.amount.amount, half);
  assert.deepEqual(rc.json.events.map((e) => e.to), ['requested', 'approved', 'received', 'refunded']);
  assert.ok(rc.json.events.every((e) => e.actor && e.at));

  // stock: the unit is back on hand in Mumbai, logged as returned
  const after = await stockOf(sku.code);
  const mum = (s) => s.warehouses.find((w) => w.warehouse === 'WH-IN-MUM');
  assert.equal(mum(after).on_hand, mum(before).on_hand + 1);
  assert.ok(after.movements.some((m) => m.reason === 'returned' && m.order_id === o.id && m.d_on_hand === 1));

  // the money: a refund of the card charge, confirmed by the provider through the payments subscriber
  const paidBack = await until(async () => {
    const v = await srv.get(`/api/v1/orders/${o.id}`, { token: c.token });
    return v.json.payment.status === 'partially_refunded' && v.json;
  }, 'the refund confirmed');
  assert.equal(paidBack.totals.refunded.amount, half);
  assert.equal(paidBack.lines[0].refunded_quantity, 1);
  assert.ok(paidBack.payments.some((p) => p.kind === 'refund' && p.amount === half && p.status === 'succeeded'));

  // events and webhooks, one per step
  const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.id}`, { token: T });
  const types = log.json.events.map((e) => e.type);
  for (const t of ['return.requested', 'return.approved', 'return.received', 'return.refunded', 'order.refund_requested'])
    assert.ok(types.includes(t), `${t} in ${types}`);
  const got = await until(() => {
    const mine = hooks.filter((h) => h.data && h.data.return_id === r.json.id);
    return mine.length === 4 && mine;
  }, 'four return webhooks');
  assert.deepEqual(got.map((h) => h.type).sort(), ['return.approved', 'return.received', 'return.refunded', 'return.requested']);

  // the customer sees it; the rest of the line can still be returned, the returned unit not again
  const mine = await srv.get(`/api/v1/returns/${r.json.id}`, { token: c.token });
  assert.equal(mine.json.status, 'refunded');
  const list = await srv.get('/api/v1/returns', { token: c.token });
  assert.deepEqual(list.json.returns.map((x) => x.id), [r.json.id]);
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 2 }], reason: 'defective' }), 422, 'validation_failed', 'lines[0].quantity');
  const second = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'no_longer_needed' });
  assert.equal(second.status, 201, second.text);
});

test('cash on delivery: bank transfer or store credit as the country allows; damaged units are not restocked', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const o = await delivered(c, 'cod', [{ sku: sku.code, quantity: 3 }]);
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'damaged' }), 422, 'validation_failed', 'refund_method');
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'damaged', refund_method: 'original' }), 422, 'validation_failed', 'refund_method');
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'damaged', refund_method: 'bank_transfer' }), 422, 'validation_failed', 'refund_account.holder');
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'broken', refund_method: 'store_credit' }), 422, 'validation_failed', 'reason');

  const bank = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'damaged', refund_method: 'bank_transfer', refund_account: { holder: 'Asha Rao', number: '000123456789', bank_code: 'HDFC0001234' } });
  assert.equal(bank.status, 201, bank.text);
  assert.deepEqual(bank.json.refund.account, { holder: 'Asha Rao', number: '****6789', bank_code: 'HDFC0001234' }, 'the number is never shown whole');
  assert.equal((await step(bank.json.id, 'approve')).status, 200);
  const before = await stockOf(sku.code);
  const rc = await step(bank.json.id, 'receive', { lines: [{ line_no: 1, condition: 'damaged' }] });
  assert.equal(rc.status, 200, rc.text);
  assert.equal(rc.json.status, 'refunded');
  assert.equal(rc.json.lines[0].condition, 'damaged');
  assert.equal(rc.json.lines[0].restocked_to, undefined);
  assert.deepEqual((await stockOf(sku.code)).warehouses, before.warehouses, 'damaged units do not go back to stock');
  const third = Math.floor(o.lines[0].line_total.amount / 3);
  const v = await srv.get(`/api/v1/orders/${o.id}`, { token: c.token });
  assert.equal(v.json.payment.status, 'partially_refunded', 'cash on delivery is paid out at once');
  assert.ok(v.json.payments.some((p) => p.kind === 'refund' && p.provider === 'cod' && p.amount === third && p.status === 'succeeded' && /bank_transfer/.test(p.reason)));

  // store credit, then the country allows bank transfers only: store credit is refused
  const credit = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'no_longer_needed', refund_method: 'store_credit' });
  assert.equal(credit.status, 201, credit.text);
  assert.equal((await step(credit.json.id, 'approve')).status, 200);
  const rc2 = await step(credit.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable', warehouse: 'WH-IN-BLR' }] });
  assert.equal(rc2.status, 200, rc2.text);
  assert.equal(rc2.json.lines[0].restocked_to, 'WH-IN-BLR', 'the warehouse staff chose');
  assert.equal(rc2.json.refund.method, 'store_credit');
  assert.ok(rc2.json.refund.amount.amount > 0);
  const sc = await srv.get('/api/v1/store-credit', { token: c.token });
  assert.equal(sc.status, 200, sc.text);
  assert.equal(sc.json.balance.amount, rc2.json.refund.amount.amount, 'the credit is in the ledger');
  assert.deepEqual(sc.json.entries.map((x) => x.return_id), [credit.json.id]);
  expectError(await srv.get('/api/v1/store-credit', { token: T }), 403, 'forbidden');
  const blr = (await stockOf(sku.code)).warehouses.find((w) => w.warehouse === 'WH-IN-BLR');
  assert.equal(blr.on_hand, 1);
  const p = await srv.api('PUT', '/api/v1/admin/return-policy', { token: T, body: { country: 'IN', window_days: 7, cod_refund: ['bank_transfer'] } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json, { country: 'IN', window_days: 7, returns_accepted: true, cod_refund: ['bank_transfer'] });
  try {
    expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other', refund_method: 'store_credit' }), 422, 'validation_failed', 'refund_method');
  } finally {
    await srv.api('PUT', '/api/v1/admin/return-policy', { token: T, body: { country: 'IN', window_days: 7, cod_refund: ['bank_transfer', 'store_credit'] } });
  }
  const pub = await srv.get('/api/v1/return-policy?country=ES');
  assert.deepEqual(pub.json, { country: 'ES', window_days: 14, returns_accepted: true, cod_refund: ['bank_transfer', 'store_credit'] });
});

test('refusals: not delivered, beyond delivered, twice the same units, after the window, after a full refund', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  // shipped, not delivered
  const o1 = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: sku.code, quantity: 1 }] } });
  await srv.api('POST', `/api/v1/admin/orders/${o1.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'NOTYET1' } });
  const early = await ask(c, o1.json.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other', refund_method: 'store_credit' });
  expectError(early, 409, 'conflict', 'status');
  assert.equal(early.json.error.current_status, 'shipped');

  const o = await delivered(c, 'card', [{ sku: sku.code, quantity: 2 }]);
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 3 }], reason: 'other' }), 422, 'validation_failed', 'lines[0].quantity');
  expectError(await ask(c, o.id, { lines: [{ line_no: 2, quantity: 1 }], reason: 'other' }), 422, 'validation_failed', 'lines[0].line_no');
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }, { line_no: 1, quantity: 1 }], reason: 'other' }), 422, 'validation_failed', 'lines[1].line_no');
  expectError(await ask(c, o.id, { lines: [], reason: 'other' }), 422, 'validation_failed', 'lines');
  const first = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 2 }], reason: 'other' });
  assert.equal(first.status, 201, first.text);
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' }), 422, 'validation_failed', 'lines[0].quantity');
  // a rejected return frees its units again
  expectError(await step(first.json.id, 'reject'), 422, 'validation_failed', 'note');
  const rej = await step(first.json.id, 'reject', { note: 'photos show water damage' });
  assert.equal(rej.json.status, 'rejected');
  expectError(await step(first.json.id, 'approve'), 409, 'conflict', 'status');

  // after the window: delivered 8 days ago in a 7-day country (the delivery's time moved back in the
  // region's SQLite file; tests/pg/api.sh has no such file)
  if (!process.env.MERIDIAN_TEST_PG_URL) {
    const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(srv.dataDir, 'region-in.db'), q], { encoding: 'utf8' });
    sql(`UPDATE order_event SET at = at - ${8 * 86400000} WHERE order_id = ${o.id} AND to_status = 'delivered';`);
    const late = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' });
    expectError(late, 409, 'conflict', 'order_id');
    assert.match(late.json.error.message, /7 days/);
    sql(`UPDATE order_event SET at = at + ${8 * 86400000} WHERE order_id = ${o.id} AND to_status = 'delivered';`);
    assert.equal((await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' })).status, 201, 'within the window again');
  }

  // a return open while staff refund the whole order: receiving it is refused, nothing refunded twice
  const open = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' });
  assert.equal(open.status, 201, open.text);
  assert.equal((await step(open.json.id, 'approve')).status, 200);
  const all = await srv.api('POST', `/api/v1/admin/orders/${o.id}/refunds`, { token: T, body: { country: 'IN', all: true, reason: 'goodwill' } });
  assert.equal(all.status, 201, all.text);
  const stockBefore = await stockOf(sku.code);
  expectError(await step(open.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable' }] }), 409, 'conflict');
  assert.deepEqual((await stockOf(sku.code)).warehouses, stockBefore.warehouses, 'a refused receipt restocks nothing');
  assert.equal((await srv.get(`/api/v1/returns/${open.json.id}`, { token: c.token })).json.status, 'approved');
  // and after the full refund no new return
  expectError(await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' }), 409, 'conflict', 'order_id');

  // a country without returns
  await srv.api('PUT', '/api/v1/admin/return-policy', { token: T, body: { country: 'IN', window_days: 0, cod_refund: [] } });
  try {
    const o2 = await delivered(c, 'card', [{ sku: sku.code, quantity: 1 }]);
    const none = await ask(c, o2.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' });
    expectError(none, 409, 'conflict', 'order_id');
    assert.match(none.json.error.message, /not offered/);
  } finally {
    await srv.api('PUT', '/api/v1/admin/return-policy', { token: T, body: { country: 'IN', window_days: 7, cod_refund: ['bank_transfer', 'store_credit'] } });
  }
});

test('races: two approvals at once, one wins; two receipts at once, one refund', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const o = await delivered(c, 'card', [{ sku: sku.code, quantity: 2 }]);
  const r = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 2 }], reason: 'wrong_item' });
  const two = await Promise.all([step(r.json.id, 'approve'), step(r.json.id, 'approve')]);
  assert.deepEqual(two.map((x) => x.status).sort(), [200, 409]);
  const loser = two.find((x) => x.status === 409);
  assert.equal(loser.json.error.current_status, 'approved');
  const rcv = await Promise.all([1, 2].map(() => step(r.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable' }] })));
  assert.deepEqual(rcv.map((x) => x.status).sort(), [200, 409]);
  const v = await srv.get(`/api/v1/orders/${o.id}`, { token: c.token });
  assert.equal(v.json.payments.filter((p) => p.kind === 'refund').length, 1, 'refunded once');
  assert.equal(v.json.lines[0].refunded_quantity, 2);
  const s = await stockOf(sku.code);
  assert.equal(s.movements.filter((m) => m.reason === 'returned' && m.order_id === o.id).length, 1, 'restocked once');
  const ev = await srv.get(`/api/v1/admin/returns/${r.json.id}?country=IN`, { token: T });
  assert.deepEqual(ev.json.events.map((e) => e.to), ['requested', 'approved', 'received', 'refunded']);
});

test('authorization and the customer\'s cancel: own returns only, staff of the country only', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const other = await customer(srv, 'IN');
  const o = await delivered(c, 'card', [{ sku: sku.code, quantity: 1 }]);
  // another customer cannot ask to return the order, see or cancel the return
  expectError(await ask(other, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' }), 404, 'not_found');
  const r = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' });
  assert.equal(r.status, 201, r.text);
  expectError(await srv.get(`/api/v1/returns/${r.json.id}`, { token: other.token }), 404, 'not_found');
  expectError(await srv.api('POST', `/api/v1/returns/${r.json.id}/cancel`, { token: other.token }), 404, 'not_found');
  assert.deepEqual((await srv.get('/api/v1/returns', { token: other.token })).json.returns, []);
  // customers do not approve; staff of another country neither; staff read under /admin
  expectError(await step(r.json.id, 'approve', {}, c.token), 403, 'forbidden');
  const opEs = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-es-rma@example.test', '--role', 'operator', '--countries', 'ES']);
  expectError(await step(r.json.id, 'approve', {}, opEs), 403, 'forbidden');
  expectError(await srv.api('POST', `/api/v1/admin/returns/${r.json.id}/approve`, { token: T, body: { country: 'ES' } }), 404, 'not_found');
  expectError(await srv.get(`/api/v1/returns/${r.json.id}`, { token: T }), 403, 'forbidden');
  expectError(await srv.api('PUT', '/api/v1/admin/return-policy', { token: opEs, body: { country: 'IN', window_days: 30, cod_refund: [] } }), 403, 'forbidden');
  const opIn = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-in-rma@example.test', '--role', 'operator', '--countries', 'IN']);
  const listed = await srv.get('/api/v1/admin/returns?country=IN&status=requested', { token: opIn });
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.json.returns.some((x) => x.id === r.json.id));
  expectError(await srv.get('/api/v1/admin/returns?country=IN&status=lost', { token: opIn }), 400, 'invalid_parameter', 'status');
  // the customer withdraws it; nothing more can happen to it
  const cancelled = await srv.api('POST', `/api/v1/returns/${r.json.id}/cancel`, { token: c.token });
  assert.equal(cancelled.status, 200, cancelled.text);
  assert.equal(cancelled.json.status, 'cancelled');
  expectError(await step(r.json.id, 'approve', {}, opIn), 409, 'conflict', 'status');
  expectError(await srv.api('POST', `/api/v1/returns/${r.json.id}/cancel`, { token: c.token }), 409, 'conflict', 'status');
  expectError(await step(999999, 'approve', {}, opIn), 404, 'not_found');
  // receiving needs every line's condition
  const r2 = await ask(c, o.id, { lines: [{ line_no: 1, quantity: 1 }], reason: 'other' });
  assert.equal(r2.status, 201, r2.text);
  expectError(await step(r2.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable' }] }), 409, 'conflict', 'status');
  assert.equal((await step(r2.json.id, 'approve', {}, opIn)).status, 200);
  expectError(await step(r2.json.id, 'receive', { lines: [{ line_no: 1, condition: 'mint' }] }), 422, 'validation_failed', 'lines[0].condition');
  expectError(await step(r2.json.id, 'receive', { lines: [{ line_no: 2, condition: 'damaged' }] }), 422, 'validation_failed', 'lines[0].line_no');
  expectError(await step(r2.json.id, 'receive', { lines: [{ line_no: 1, condition: 'resellable', warehouse: 'WH-DE-BER' }] }), 422, 'validation_failed', 'lines[0].warehouse');
  const ok = await step(r2.json.id, 'receive', { lines: [{ line_no: 1, condition: 'damaged' }] }, opIn);
  assert.equal(ok.json.status, 'refunded');
  assert.equal(ok.json.events.at(-2).actor.startsWith('operator:'), true);
  // every step is an event for webhooks, the cancel and the rejection (test 3) too
  const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.id}`, { token: T });
  const types = log.json.events.map((e) => e.type);
  for (const t of ['return.requested', 'return.cancelled', 'return.approved', 'return.received', 'return.refunded'])
    assert.ok(types.includes(t), `${t} in ${types}`);
  await until(() => hooks.some((h) => h.type === 'return.cancelled' && h.data.return_id === r.json.id), 'the cancel webhook');
  await until(() => hooks.some((h) => h.type === 'return.rejected'), 'a rejection webhook');
});
