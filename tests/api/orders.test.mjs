// Carts, checkout and orders: the full flow in IN (GST, COD), ES (VAT, card), VN (zero decimals);
// idempotency; every error; isolation; the state machine; expiry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError, customer, ADDRESSES } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

async function skuIn(country, offset = 0, category = 'phones') {
  const list = await srv.get(`/api/v1/products?country=${country}&category=${category}&per_page=5`);
  const p = await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`);
  return p.json.skus[0];
}

async function stockOf(country, sku) {
  const r = await srv.get(`/api/v1/admin/stock?country=${country}&sku=${sku}`, { token: T });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('India: cart, checkout with GST split CGST+SGST (same state), COD, ship and deliver', async () => {
  const c = await customer(srv, 'IN');
  const sku = await skuIn('IN', 0, 'accessories');
  const before = await stockOf('IN', sku.code);
  let cart = await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: sku.code, quantity: 2 } });
  assert.equal(cart.status, 200, cart.text);
  assert.equal(cart.json.lines[0].quantity, 2);
  assert.equal(cart.json.totals.items.amount, sku.price.amount * 2);
  cart = await srv.get('/api/v1/cart', { token: c.token });
  assert.equal(cart.json.lines.length, 1);

  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod' } });
  assert.equal(o.status, 201, o.text);
  const order = o.json;
  assert.match(order.number, /^IN-\d{4}-\d{7}$/);
  assert.equal(order.status, 'pending_shipment');
  assert.equal(order.payment.method, 'cod');
  assert.equal(order.totals.grand_total.amount, sku.price.amount * 2, 'GST is included in Indian prices');
  const kinds = order.taxes.map((t) => t.kind).sort();
  assert.deepEqual(kinds, ['CGST', 'SGST'], 'Mumbai warehouse and a Maharashtra address: intra-state');
  const cg = order.taxes.find((t) => t.kind === 'CGST'), sg = order.taxes.find((t) => t.kind === 'SGST');
  assert.equal(cg.rate_bp, 900);
  assert.equal(cg.amount.amount + sg.amount.amount, order.totals.tax.amount);
  assert.ok(Math.abs(cg.amount.amount - sg.amount.amount) <= 1);
  assert.match(order.created_at_local, /\+05:30$/);
  assert.equal((await srv.get('/api/v1/cart', { token: c.token })).json.lines.length, 0, 'ordered lines leave the cart');

  const mid = await stockOf('IN', sku.code);
  assert.equal(mid.available, before.available - 2);

  const shipped = await srv.api('POST', `/api/v1/admin/orders/${order.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'DLV123' } });
  assert.equal(shipped.status, 200, shipped.text);
  assert.equal(shipped.json.status, 'shipped');
  assert.equal(shipped.json.tracking_number, 'DLV123');
  const delivered = await srv.api('POST', `/api/v1/admin/orders/${order.id}/deliver`, { token: T, body: { country: 'IN' } });
  assert.equal(delivered.json.status, 'delivered');
  assert.equal(delivered.json.payment.status, 'paid', 'cash collected on delivery');
  const done = await srv.api('POST', `/api/v1/admin/orders/${order.id}/complete`, { token: T, body: { country: 'IN' } });
  assert.equal(done.json.status, 'completed');
  assert.deepEqual(done.json.events.map((e) => e.to), ['pending_shipment', 'shipped', 'delivered', 'completed']);
  assert.ok(done.json.events.every((e) => e.actor && e.at));
  const after = await stockOf('IN', sku.code);
  const sold = (s) => s.warehouses.reduce((a, w) => a + w.sold, 0);
  assert.equal(sold(after) - sold(before), 2, 'shipping consumed the stock');
  assert.equal(after.available, before.available - 2);
});

test('India: another state is inter-state IGST; COD above the limit is refused', async () => {
  const c = await customer(srv, 'IN', { address: { ...ADDRESSES.IN, state: 'TN', city: 'Chennai', postal_code: '600001' } });
  const sku = await skuIn('IN', 1);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }] } });
  assert.equal(o.status, 201, o.text);
  assert.deepEqual(o.json.taxes.map((t) => t.kind), ['IGST']);
  assert.equal(o.json.taxes[0].rate_bp, 1800);
  const big = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: sku.code, quantity: 10 }] } });
  expectError(big, 422, 'validation_failed', 'payment_method');
});

test('Spain: VAT included, card payment, then cancel refunds', async () => {
  const c = await customer(srv, 'ES');
  const sku = await skuIn('ES');
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }] } });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.status, 'pending_payment');
  assert.deepEqual(o.json.taxes.map((t) => t.kind), ['VAT']);
  assert.equal(o.json.taxes[0].rate_bp, 2100);
  assert.equal(o.json.taxes[0].taxable.amount + o.json.taxes[0].amount.amount, o.json.totals.grand_total.amount - o.json.totals.shipping.amount + o.json.totals.shipping.amount);
  assert.match(o.json.totals.grand_total.formatted, /€/);
  assert.ok(o.json.pay_before_local);
  const declined = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_decline' } });
  expectError(declined, 422, 'validation_failed', 'card_token');
  const paid = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(paid.status, 200, paid.text);
  assert.equal(paid.json.status, 'paid');
  // the declined attempt stays on record as a failed charge; the second one succeeded
  const charges = paid.json.payments.filter((p) => p.kind === 'charge');
  assert.deepEqual(charges.map((p) => p.status), ['failed', 'succeeded']);
  const again = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  expectError(again, 409, 'conflict');
  assert.equal(again.json.error.current_status, 'paid');
  const cancelled = await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  assert.equal(cancelled.status, 200, cancelled.text);
  assert.equal(cancelled.json.status, 'refunded');
  assert.equal(cancelled.json.totals.refunded.amount, cancelled.json.totals.grand_total.amount);
  // the provider refund runs through the outbox; the order shows it pending, then done
  let after = cancelled.json;
  for (let i = 0; i < 50 && after.payment.status !== 'refunded'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json;
  }
  assert.equal(after.payment.status, 'refunded');
  const refund = after.payments.find((p) => p.kind === 'refund');
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.amount, after.totals.grand_total.amount);
  assert.match(refund.reference, /^re_/);
  const shipAfter = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'ES', tracking_number: 'X' } });
  expectError(shipAfter, 409, 'conflict');
  assert.equal(shipAfter.json.error.current_status, 'refunded');
});

test('Vietnam: zero-decimal VND amounts all the way', async () => {
  const c = await customer(srv, 'VN');
  const sku = await skuIn('VN', 0, 'accessories');
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: sku.code, quantity: 3 }] } });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.currency, 'VND');
  assert.equal(o.json.totals.items.amount, sku.price.amount * 3);
  for (const m of [o.json.totals.grand_total, o.json.totals.tax, ...o.json.lines.map((l) => l.tax)]) {
    assert.ok(Number.isInteger(m.amount));
    assert.ok(!/[.,]\d{2}\s*₫$/.test(m.formatted), m.formatted);
  }
  assert.match(o.json.created_at_local, /\+07:00$/);
});

test('idempotency: same key same order; same key other body 422; no key two orders', async () => {
  const c = await customer(srv, 'IN');
  const sku = await skuIn('IN', 2);
  const body = { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }] };
  const headers = { 'idempotency-key': 'checkout-42' };
  const a = await srv.api('POST', '/api/v1/orders', { token: c.token, body, headers });
  const b = await srv.api('POST', '/api/v1/orders', { token: c.token, body, headers });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(b.json.id, a.json.id);
  assert.equal(b.json.number, a.json.number);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  const other = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { ...body, payment_method: 'cod' }, headers });
  expectError(other, 422, 'idempotency_key_reused');
  // concurrent retries with one key still make one order
  const key = { 'idempotency-key': 'race-1' };
  const all = await Promise.all(Array.from({ length: 8 }, () => srv.api('POST', '/api/v1/orders', { token: c.token, body, headers: key })));
  assert.ok(all.every((r) => r.status === 201));
  assert.equal(new Set(all.map((r) => r.json.id)).size, 1);
  // the key is per user
  const d = await customer(srv, 'IN');
  const e = await srv.api('POST', '/api/v1/orders', { token: d.token, body, headers });
  assert.equal(e.status, 201);
  assert.notEqual(e.json.id, a.json.id);
  const list = await srv.get('/api/v1/orders', { token: c.token });
  assert.equal(list.json.total, 2);
});

test('checkout errors', async () => {
  const c = await customer(srv, 'IN');
  const sku = await skuIn('IN');
  expectError(await srv.api('POST', '/api/v1/orders', { body: { payment_method: 'card' } }), 401, 'unauthorized');
  expectError(await srv.api('POST', '/api/v1/orders', { token: T, body: { payment_method: 'card' } }), 403, 'forbidden');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card' } }), 422, 'validation_failed', 'lines');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'bitcoin', lines: [{ sku: sku.code }] } }), 422, 'validation_failed', 'payment_method');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { lines: [{ sku: sku.code }] } }), 422, 'validation_failed', 'payment_method');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: 'NOPE' }] } }), 422, 'validation_failed', 'lines[0].sku');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 11 }] } }), 422, 'validation_failed', 'lines[0].quantity');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }], address_id: 999999 } }), 422, 'validation_failed', 'address_id');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }], address: { ...ADDRESSES.IN, postal_code: '1' } } }), 422, 'validation_failed', 'address.postal_code');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }], expected_total: 1 } }), 409, 'conflict', 'expected_total');
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }] }, headers: { 'idempotency-key': 'x'.repeat(101) } }), 400, 'invalid_parameter', 'Idempotency-Key');
  assert.equal((await srv.get('/api/v1/orders', { token: c.token })).json.total, 0, 'no failed call left an order');
});

test('out of stock is 409 and reserves nothing', async () => {
  const c = await customer(srv, 'IN');
  const sku = await skuIn('IN', 3);
  for (const wh of ['WH-IN-MUM', 'WH-IN-BLR'])
    assert.equal((await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: sku.code, warehouse: wh, country: 'IN', on_hand: 1, reason: 'test' } })).status, 200);
  // 3 units where the warehouses hold 2 together (2 would ship from both: split shipments, shipments.test.mjs)
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 3 }] } });
  expectError(o, 409, 'conflict', 'lines');
  const s = await stockOf('IN', sku.code);
  assert.equal(s.available, 2);
  assert.ok(s.warehouses.every((w) => w.reserved === 0));
  const detail = await srv.get(`/api/v1/products/${sku.product_id || ''}`);
  assert.ok(detail.status >= 400 || detail.status === 200);
  const adj = await srv.api('POST', '/api/v1/admin/stock/adjust', { token: T, body: { sku: sku.code, warehouse: 'WH-IN-MUM', country: 'IN', delta: -5, reason: 'broken' } });
  expectError(adj, 409, 'conflict', 'delta');
  assert.ok(s.movements.length >= 2 && s.movements.every((m) => m.actor.startsWith('staff:')), 'admin changes are audited');
});

test('cart: guest cart, merge on login, price-change and not-sold flags, limits', async () => {
  const sku = await skuIn('ES', 1);
  const g = await srv.api('POST', '/api/v1/cart/items?country=ES', { body: { sku: sku.code, quantity: 2 } });
  assert.equal(g.status, 200, g.text);
  const cartId = g.headers.get('x-cart-id');
  assert.match(cartId, /^g_eu_/);
  const again = await srv.api('POST', '/api/v1/cart/items', { body: { sku: sku.code, quantity: 1 }, headers: { 'x-cart-id': cartId } });
  assert.equal(again.json.lines[0].quantity, 3);
  expectError(await srv.api('POST', '/api/v1/cart/items', { body: { sku: sku.code, quantity: 8 }, headers: { 'x-cart-id': cartId } }), 422, 'validation_failed', 'quantity');
  expectError(await srv.get('/api/v1/cart', { headers: { 'x-cart-id': 'g_eu_doesnotexist' } }), 404, 'not_found');
  expectError(await srv.api('POST', '/api/v1/cart/items', { body: { sku: sku.code } }), 400, 'missing_parameter', 'country');
  // price change is flagged on the next read
  await srv.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: sku.code, country: 'ES', amount: sku.price.amount + 1000 }] } });
  const flagged = await srv.get('/api/v1/cart', { headers: { 'x-cart-id': cartId } });
  assert.equal(flagged.json.lines[0].price_changed, true);
  assert.equal(flagged.json.lines[0].unit_price.amount, sku.price.amount + 1000);
  assert.equal(flagged.json.lines[0].added_unit_price.amount, sku.price.amount);
  assert.ok(flagged.json.warnings.some((w) => w.code === 'price_changed'));
  // log in with the guest cart: lines move to the user's cart
  const c = await customer(srv, 'ES');
  await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: sku.code, quantity: 1 } });
  const login = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'ES' }, headers: { 'x-cart-id': cartId } });
  assert.equal(login.status, 201);
  const merged = await srv.get('/api/v1/cart', { token: login.json.token });
  assert.equal(merged.json.lines.length, 1);
  assert.equal(merged.json.lines[0].quantity, 4);
  expectError(await srv.get('/api/v1/cart', { headers: { 'x-cart-id': cartId } }), 404, 'not_found');
  // a SKU that stops being sold is flagged and left out of the totals
  await srv.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: sku.code, country: 'ES', amount: null }] } });
  const gone = await srv.get('/api/v1/cart', { token: login.json.token });
  assert.equal(gone.json.lines[0].available, false);
  assert.equal(gone.json.totals.items.amount, 0);
  assert.ok(gone.json.warnings.some((w) => w.code === 'not_sold_here'));
  // remove
  const del = await srv.api('DELETE', `/api/v1/cart/items/${sku.code}`, { token: login.json.token });
  assert.equal(del.json.lines.length, 0);
});

test('isolation: nobody reads or changes another customer\'s orders or cart', async () => {
  const a = await customer(srv, 'IN');
  const b = await customer(srv, 'IN');
  const sku = await skuIn('IN');
  await srv.api('POST', '/api/v1/cart/items', { token: a.token, body: { sku: sku.code, quantity: 1 } });
  const o = await srv.api('POST', '/api/v1/orders', { token: a.token, body: { payment_method: 'card', lines: [{ sku: sku.code }] } });
  expectError(await srv.get(`/api/v1/orders/${o.json.id}`, { token: b.token }), 404, 'not_found');
  expectError(await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: b.token }), 404, 'not_found');
  expectError(await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: b.token, body: { card_token: 'tok_visa' } }), 404, 'not_found');
  assert.equal((await srv.get('/api/v1/orders', { token: b.token })).json.total, 0);
  assert.equal((await srv.get('/api/v1/cart', { token: b.token })).json.lines.length, 0);
  expectError(await srv.get(`/api/v1/orders/${o.json.id}`), 401, 'unauthorized');
  expectError(await srv.get('/api/v1/cart?country=ES', { token: a.token }), 403, 'forbidden');
  // an Indian operator sees Indian orders, not Spanish ones
  const { run } = await import('./helpers.mjs');
  const op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op2@example.test', '--role', 'operator', '--countries', 'IN']);
  assert.equal((await srv.get(`/api/v1/admin/orders/${o.json.id}?country=IN`, { token: op })).status, 200);
  expectError(await srv.get(`/api/v1/admin/orders/${o.json.id}?country=ES`, { token: op }), 403, 'forbidden');
  expectError(await srv.get(`/api/v1/admin/orders?country=IN`, { token: a.token }), 403, 'forbidden');
});

test('illegal transitions are 409 with the current state', async () => {
  const c = await customer(srv, 'IN');
  const sku = await skuIn('IN');
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: sku.code }] } });
  const deliver = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/deliver`, { token: T, body: { country: 'IN' } });
  expectError(deliver, 409, 'conflict');
  assert.equal(deliver.json.error.current_status, 'pending_shipment');
  const pay = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  expectError(pay, 409, 'conflict');
  assert.equal(pay.json.error.current_status, 'pending_shipment', 'cash on delivery is not paid online');
  // logistics books a shipment for a COD order as soon as it is created; shipping then needs no number
  let booked;
  for (let i = 0; i < 50 && !booked; i++) {
    await new Promise((r) => setTimeout(r, 100));
    booked = (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json.shipment;
  }
  assert.ok(booked, 'a shipment was booked');
  assert.equal(booked.carrier, 'Delhivery');
  const shipped = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'IN' } });
  assert.equal(shipped.status, 200, shipped.text);
  assert.equal(shipped.json.tracking_number, booked.tracking_number);
  const late = await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  expectError(late, 409, 'conflict');
  assert.equal(late.json.error.current_status, 'shipped');
});

test('unpaid orders are cancelled after the country timeout and their stock comes back', async () => {
  const kw = (await srv.get('/api/v1/admin/countries', { token: T })).json.countries.find((c) => c.code === 'MY');
  const my = { ...kw, order_timeout_seconds: 1 };
  delete my.order_timeout_minutes;
  const put = await srv.api('PUT', '/api/v1/admin/countries/MY', { token: T, body: my });
  assert.equal(put.status, 200, put.text);
  const c = await customer(srv, 'MY', { address: { name: 'Ali', line1: '1 Jalan Ampang', city: 'Kuala Lumpur', state: 'KL', postal_code: '50450', phone: '+60123456789' } });
  const sku = await skuIn('MY');
  const before = await stockOf('MY', sku.code);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 2 }] } });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.tax_included, false);
  assert.equal(o.json.totals.grand_total.amount, o.json.totals.items.amount + o.json.totals.shipping.amount + o.json.totals.tax.amount, 'SST is added on top in Malaysia');
  assert.equal((await stockOf('MY', sku.code)).available, before.available - 2);
  let status;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json;
    if (status.status === 'cancelled') break;
  }
  assert.equal(status.status, 'cancelled');
  assert.equal(status.events.at(-1).actor, 'system');
  assert.equal((await stockOf('MY', sku.code)).available, before.available);
  expectError(await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } }), 409, 'conflict');
});

test('product pages show stock state and follow sell-outs at once', async () => {
  const c = await customer(srv, 'IN');
  const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=10');
  const pid = list.json.items[5].id;
  const p1 = await srv.get(`/api/v1/products/${pid}?country=IN`);
  const sku = p1.json.skus[0];
  assert.equal(sku.stock_state, 'in_stock');
  for (const [wh, n] of [['WH-IN-MUM', 1], ['WH-IN-BLR', 0]])
    await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: sku.code, warehouse: wh, country: 'IN', on_hand: n, reason: 'test' } });
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }] } });
  assert.equal(o.status, 201, o.text);
  const p2 = await srv.get(`/api/v1/products/${pid}?country=IN`);
  assert.equal(p2.json.skus.find((s) => s.code === sku.code).stock_state, 'out_of_stock');
  await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  const p3 = await srv.get(`/api/v1/products/${pid}?country=IN`);
  assert.equal(p3.json.skus.find((s) => s.code === sku.code).stock_state, 'in_stock', 'a cancelled order gives the unit back');
  // a paid order refunded before shipping gives its unit back too, and the cached page follows
  const o2 = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code }] } });
  assert.equal(o2.status, 201, o2.text);
  assert.equal((await srv.api('POST', `/api/v1/orders/${o2.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } })).status, 200);
  const p4 = await srv.get(`/api/v1/products/${pid}?country=IN`);
  assert.equal(p4.json.skus.find((s) => s.code === sku.code).stock_state, 'out_of_stock');
  const refund = await srv.api('POST', `/api/v1/admin/orders/${o2.json.id}/refunds`, { token: T, body: { country: 'IN', reason: 'test', lines: [{ line_no: 1, quantity: 1 }] } });
  assert.equal(refund.status, 201, refund.text);
  const p5 = await srv.get(`/api/v1/products/${pid}?country=IN`);
  assert.equal(p5.json.skus.find((s) => s.code === sku.code).stock_state, 'in_stock', 'a refund before shipping gives the unit back');
});

test('two payments of one order at once: one charge succeeds, the other is refused, nothing is charged twice', async () => {
  const c = await customer(srv, 'ES');
  const sku = await skuIn('ES');
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }] } });
  assert.equal(o.status, 201, o.text);
  const both = await Promise.all([1, 2, 3].map(() =>
    srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } })));
  assert.equal(both.filter((r) => r.status === 200).length, 1, both.map((r) => r.text).join('\n'));
  both.filter((r) => r.status !== 200).forEach((r) => expectError(r, 409, 'conflict'));
  const after = (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json;
  assert.equal(after.status, 'paid');
  assert.equal(after.payments.filter((p) => p.kind === 'charge' && p.status === 'succeeded').length, 1);
});

// A product of admin-made SKUs priced in IN only, with stock in the Mumbai warehouse.
async function indianSkus(slug, prices, { maxPerOrder = 1000, onHand = 1000 } = {}) {
  const skus = prices.map((amount, i) => ({ code: `${slug.toUpperCase()}-${i}`, attributes: { size: `s${i}` }, prices: { IN: amount }, max_per_order: maxPerOrder }));
  const p = await srv.api('POST', '/api/v1/admin/products', { token: T, body: {
    slug, brand: 'Testco', category: 'phones', tax_class: 'standard',
    texts: { en: { name: `Test ${slug}`, description: 'for tests' } }, skus,
  } });
  assert.equal(p.status, 201, p.text);
  for (const s of skus) {
    const st = await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: s.code, warehouse: 'WH-IN-MUM', country: 'IN', on_hand: onHand, reason: 'test' } });
    assert.equal(st.status, 200, st.text);
  }
  return skus.map((s) => s.code);
}

test('order totals never overflow: nine SKUs at the largest price are 422 by card and COD, and change nothing', async () => {
  const MAX = 2 ** 50; // the largest price an admin may set, and the largest order total
  const codes = await indianSkus('maxprice', Array(9).fill(MAX));
  const c = await customer(srv, 'IN');
  const order = (quantity, payment_method) => srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method, lines: codes.map((sku) => ({ sku, quantity })) } });
  for (const method of ['card', 'cod', 'wallet']) {
    // 1000 units of one SKU already cost 2^60: that line is refused (this was a 201 with a negative total)
    const big = await order(1000, method);
    expectError(big, 422, 'validation_failed', 'lines[0].quantity');
    assert.match(big.json.error.message, /1125899906842624/);
    // one unit of each: every line is within the limit, their sum is not
    expectError(await order(1, method), 422, 'validation_failed', 'lines');
  }
  // the line at fault is named where the client put it, and a flash-free order with a small first line too
  const small = await skuIn('IN', 0, 'accessories');
  const mixed = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: small.code, quantity: 1 }, { sku: codes[3], quantity: 2 }] } });
  expectError(mixed, 422, 'validation_failed', 'lines[1].quantity');
  // a coupon does not get to spread a discount over such an order either
  const coupon = await srv.api('POST', '/api/v1/admin/coupons', { token: T, body: { code: 'BIGTEN', country: 'IN', kind: 'percent', value: 1000, valid_from: '2020-01-01T00:00', valid_until: '2099-01-01T00:00' } });
  assert.equal(coupon.status, 201, coupon.text);
  const withCoupon = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', coupon: 'BIGTEN', lines: codes.map((sku) => ({ sku, quantity: 1000 })) } });
  expectError(withCoupon, 422, 'validation_failed', 'lines[0].quantity');
  // nothing was ordered or reserved
  assert.equal((await srv.get('/api/v1/orders', { token: c.token })).json.total, 0);
  for (const code of codes) assert.equal((await stockOf('IN', code)).available, 1000);

  // exactly the limit is an order: one unit by card, a positive total; cash on delivery stays under max_amount
  const one = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: codes[0], quantity: 1 }] } });
  assert.equal(one.status, 201, one.text);
  assert.equal(one.json.totals.grand_total.amount, MAX);
  assert.ok(one.json.totals.tax.amount > 0);
  const cod = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: codes[1], quantity: 1 }] } });
  expectError(cod, 422, 'validation_failed', 'payment_method');
  // paid and refunded by line, the largest amount comes back whole
  assert.equal((await srv.api('POST', `/api/v1/orders/${one.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } })).status, 200);
  const refund = await srv.api('POST', `/api/v1/admin/orders/${one.json.id}/refunds`, { token: T, body: { country: 'IN', reason: 'test', lines: [{ line_no: 1, quantity: 1 }] } });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(refund.json.totals.refunded.amount, MAX);

  // the cart leaves out what would take its totals beyond the limit, and checkout refuses it
  await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: codes[2], quantity: 1000 } });
  let cart = await srv.get('/api/v1/cart', { token: c.token });
  assert.equal(cart.status, 200, cart.text);
  assert.deepEqual(cart.json.warnings, [{ code: 'total_too_large', sku: codes[2] }]);
  assert.equal(cart.json.totals.grand_total.amount, 0);
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod' } }), 422, 'validation_failed', 'lines[0].quantity');
  await srv.api('PATCH', `/api/v1/cart/items/${codes[2]}`, { token: c.token, body: { quantity: 1 } });
  await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: codes[4], quantity: 1 } });
  cart = await srv.get('/api/v1/cart', { token: c.token });
  assert.deepEqual(cart.json.warnings, [{ code: 'total_too_large', sku: codes[4] }], 'the line added last is left out');
  assert.equal(cart.json.totals.grand_total.amount, MAX);
  assert.ok(cart.json.totals.tax.amount > 0);
  expectError(await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card' } }), 422, 'validation_failed', 'lines');
  assert.equal((await srv.get('/api/v1/orders', { token: c.token })).json.total, 1);
  assert.equal((await srv.get('/api/v1/cart', { token: c.token })).json.lines.length, 2, 'a refused checkout leaves the cart alone');
});

test('India: CGST and SGST are the order\'s GST split once, at most one paisa apart', async () => {
  // ₹1, ₹2, ₹7, ₹9 and ₹15 at 18 % contain 15, 31, 107, 137 and 229 paise of GST: all odd, so splitting each
  // line gave SGST one paisa more than CGST per line (and shipping's 747 paise, below ₹499, one more)
  const codes = await indianSkus('oddgst', [100, 200, 700, 900, 1500]);
  const c = await customer(srv, 'IN');
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: codes.map((sku) => ({ sku, quantity: 1 })) } });
  assert.equal(o.status, 201, o.text);
  assert.deepEqual(o.json.lines.map((l) => l.tax.amount), [15, 31, 107, 137, 229]);
  assert.ok(o.json.totals.shipping.amount > 0);
  assert.deepEqual(o.json.taxes.map((t) => t.kind), ['CGST', 'SGST']);
  const [cg, sg] = o.json.taxes;
  assert.equal(cg.amount.amount + sg.amount.amount, o.json.totals.tax.amount, 'the halves add up to the tax');
  assert.ok(sg.amount.amount - cg.amount.amount >= 0 && sg.amount.amount - cg.amount.amount <= 1,
    `CGST ${cg.amount.amount} and SGST ${sg.amount.amount} differ by more than one paisa`);
  assert.equal(cg.taxable.amount, sg.taxable.amount);
  assert.equal(o.json.totals.tax.amount, 15 + 31 + 107 + 137 + 229 + 747);
  // what the order shows later is what was computed
  const again = await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token });
  assert.deepEqual(again.json.taxes, o.json.taxes);
});
