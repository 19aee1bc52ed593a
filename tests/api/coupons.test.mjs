// Coupons: kinds, scope, thresholds, limits, budget, payment methods, local-time validity, lifecycle.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, expectError, customer, localTime } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer({ args: ['--webhook-allow-loopback'] }); T = srv.adminToken; });
after(async () => { await srv.stop(); });


const DAY = 86400000;
let seq = 0;
async function coupon(body) {
  const r = await srv.api('POST', '/api/v1/admin/coupons', {
    token: T,
    body: { code: `C${++seq}X${process.pid}`, valid_from: localTime('Asia/Kolkata', -DAY), valid_until: localTime('Asia/Kolkata', DAY), ...body },
  });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function skus(country, category, n) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=${category}&per_page=${n}`);
  const out = [];
  for (const it of list.json.items) out.push({ ...(await srv.get(`/api/v1/products/${it.id}?country=${country}`)).json.skus[0], product_id: it.id });
  return out;
}

const order = (c, body) => srv.api('POST', '/api/v1/orders', { token: c.token, body });
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, tries = 100) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await wait(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('threshold amount: applies at the threshold, not below; tax is computed after the discount', async () => {
  const [a] = await skus('IN', 'phones', 1);
  const cp = await coupon({ country: 'IN', kind: 'threshold_amount', value: 50000, min_subtotal: a.price.amount });
  const c = await customer(srv, 'IN');
  const o = await order(c, { payment_method: 'card', coupon: cp.code.toLowerCase(), lines: [{ sku: a.code }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.coupon, cp.code);
  assert.equal(o.json.totals.discount.amount, 50000);
  assert.equal(o.json.totals.grand_total.amount, a.price.amount - 50000);
  const line = o.json.lines[0];
  assert.equal(line.line_total.amount, a.price.amount - 50000);
  const net = Math.round((a.price.amount - 50000) / 1.18);
  assert.equal(line.tax.amount, a.price.amount - 50000 - net, 'GST is on the discounted price');
  const cheap = (await skus('IN', 'accessories', 1))[0];
  const below = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: cheap.code }] });
  expectError(below, 422, 'validation_failed', 'coupon');
  assert.equal(below.json.error.reason, 'below_minimum');
});

test('percent with a cap, spread over lines; never makes a line negative', async () => {
  const [a, b] = await skus('ES', 'accessories', 2);
  const cp = await coupon({ country: 'ES', kind: 'percent', value: 5000, max_discount: 500 });
  const c = await customer(srv, 'ES');
  const o = await order(c, { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code, quantity: 2 }, { sku: b.code }] });
  assert.equal(o.status, 201, o.text);
  const subtotal = a.price.amount * 2 + b.price.amount;
  assert.equal(o.json.totals.discount.amount, Math.min(500, Math.round(subtotal / 2)));
  assert.equal(o.json.lines.reduce((s, l) => s + l.discount.amount, 0), o.json.totals.discount.amount);
  assert.ok(o.json.lines.every((l) => l.line_total.amount >= 0));
  const vat = o.json.taxes.find((t) => t.kind === 'VAT' && t.rate_bp === 2100);
  assert.ok(vat.taxable.amount + vat.amount.amount <= subtotal - o.json.totals.discount.amount + o.json.totals.shipping.amount);
});

test('fixed amount per unit, scoped to a SKU; other lines untouched', async () => {
  const [a, b] = await skus('IN', 'accessories', 2);
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 10000, scope: { type: 'sku', values: [a.code] } });
  const o = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code, quantity: 2 }, { sku: b.code }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.lines[0].discount.amount, Math.min(20000, a.price.amount * 2));
  assert.equal(o.json.lines[1].discount.amount, 0);
  const none = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: b.code }] });
  expectError(none, 422, 'validation_failed', 'coupon');
  assert.equal(none.json.error.reason, 'not_applicable');
});

test('category scope includes subcategories', async () => {
  const [w] = await skus('IN', 'smartwatches', 1);
  const cp = await coupon({ country: 'IN', kind: 'percent', value: 1000, scope: { type: 'category', values: ['wearables'] } });
  const o = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: w.code }] });
  assert.equal(o.status, 201, o.text);
  assert.ok(o.json.totals.discount.amount > 0);
});

test('per-user limit, frozen by an unpaid order, returned when it is cancelled, consumed when paid', async () => {
  const [a] = await skus('IN', 'accessories', 1);
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, per_user_limit: 1 });
  const c = await customer(srv, 'IN');
  const first = await order(c, { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] });
  assert.equal(first.status, 201, first.text);
  const second = await order(c, { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] });
  expectError(second, 409, 'conflict', 'coupon');
  await srv.api('POST', `/api/v1/orders/${first.json.id}/cancel`, { token: c.token });
  const third = await order(c, { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] });
  assert.equal(third.status, 201, 'the cancelled order gave the coupon back');
  await srv.api('POST', `/api/v1/orders/${third.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  const list = await srv.get('/api/v1/admin/coupons?country=IN', { token: T });
  const mine = list.json.coupons.find((x) => x.code === cp.code);
  assert.equal(mine.usage.redemptions, 1);
  expectError(await order(c, { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] }), 409, 'conflict', 'coupon');
});

test('total budget and redemption count', async () => {
  const [a] = await skus('IN', 'accessories', 1);
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 1000, budget: 2000 });
  for (let i = 0; i < 2; i++)
    assert.equal((await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] })).status, 201);
  expectError(await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] }), 409, 'conflict', 'coupon');
  const cp2 = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, max_redemptions: 1 });
  assert.equal((await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp2.code, lines: [{ sku: a.code }] })).status, 201);
  expectError(await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp2.code, lines: [{ sku: a.code }] }), 409, 'conflict', 'coupon');
});

test('prepaid-only coupons refuse cash on delivery', async () => {
  const [a] = await skus('IN', 'accessories', 1);
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, payment_methods: ['card', 'wallet'] });
  const cod = await order(await customer(srv, 'IN'), { payment_method: 'cod', coupon: cp.code, lines: [{ sku: a.code }] });
  expectError(cod, 422, 'validation_failed', 'coupon');
  assert.equal(cod.json.error.reason, 'payment_method');
  assert.equal((await order(await customer(srv, 'IN'), { payment_method: 'wallet', coupon: cp.code, lines: [{ sku: a.code }] })).status, 201);
});

test('validity is in the country\'s local time: a coupon ending now in India has ended, one ending in 6 s has not', async () => {
  const [a] = await skus('IN', 'accessories', 1);
  // "until" given as an Indian wall-clock time: if it were read as UTC it would be 5.5 hours off; 6 s leaves
  // a loaded machine time to register and order before it ends
  const t0 = Date.now();
  const ends = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, per_user_limit: 0, valid_until: localTime('Asia/Kolkata', 6000) });
  assert.match(ends.valid_until_local, /\+05:30$/);
  const c = await customer(srv, 'IN');
  const ok = await order(c, { payment_method: 'card', coupon: ends.code, lines: [{ sku: a.code }] });
  assert.equal(ok.status, 201, ok.text);
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + 7000 - Date.now())));
  const late = await order(c, { payment_method: 'card', coupon: ends.code, lines: [{ sku: a.code }] });
  expectError(late, 422, 'validation_failed', 'coupon');
  assert.equal(late.json.error.reason, 'expired');
  const future = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, valid_from: localTime('Asia/Kolkata', 3600000), valid_until: localTime('Asia/Kolkata', 7200000) });
  const early = await order(c, { payment_method: 'card', coupon: future.code, lines: [{ sku: a.code }] });
  expectError(early, 422, 'validation_failed', 'coupon');
  assert.equal(early.json.error.reason, 'not_started');
});

test('admin validation and rights', async () => {
  const bad = [
    [{ country: 'IN', kind: 'gift', value: 1 }, 'kind'],
    [{ country: 'IN', kind: 'percent', value: 20000 }, 'value'],
    [{ country: 'IN', kind: 'fixed_amount', value: 1, valid_until: 'tomorrow' }, 'valid_until'],
    [{ country: 'IN', kind: 'fixed_amount', value: 1, valid_until: localTime('Asia/Kolkata', -2 * DAY) }, 'valid_until'],
    [{ country: 'IN', kind: 'fixed_amount', value: 1, scope: { type: 'sku', values: ['NOPE'] } }, 'scope.values'],
    [{ country: 'IN', kind: 'fixed_amount', value: 1, payment_methods: ['bitcoin'] }, 'payment_methods'],
  ];
  for (const [body, field] of bad) {
    const r = await srv.api('POST', '/api/v1/admin/coupons', { token: T, body: { code: `BAD${++seq}`, valid_from: localTime('Asia/Kolkata', -DAY), valid_until: localTime('Asia/Kolkata', DAY), ...body } });
    expectError(r, 422, 'validation_failed', field);
  }
  const unknown = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: 'NOSUCH', lines: [{ sku: (await skus('IN', 'accessories', 1))[0].code }] });
  expectError(unknown, 422, 'validation_failed', 'coupon');
  const c = await customer(srv, 'IN', { address: null });
  expectError(await srv.api('POST', '/api/v1/admin/coupons', { token: c.token, body: {} }), 403, 'forbidden');
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100 });
  const off = await srv.api('PATCH', `/api/v1/admin/coupons/${cp.id}`, { token: T, body: { country: 'IN', active: false } });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.active, false);
  const r = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: (await skus('IN', 'accessories', 1))[0].code }] });
  expectError(r, 422, 'validation_failed', 'coupon');
});

test('admin answers use the input\'s shapes: payment_methods and scope.values as sent; PATCH counts usage', async () => {
  const [a] = await skus('IN', 'accessories', 1);
  const cp = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, payment_methods: ['card', 'wallet'], scope: { type: 'sku', values: [a.code] } });
  assert.deepEqual(cp.payment_methods, ['card', 'wallet']);
  assert.deepEqual(cp.scope, { type: 'sku', values: [a.code] });
  const cat = await coupon({ country: 'IN', kind: 'percent', value: 1000, scope: { type: 'category', values: ['wearables'] } });
  assert.deepEqual(cat.scope, { type: 'category', values: ['wearables'] });
  assert.deepEqual(cat.payment_methods, [], 'no methods = any, an empty array');
  const prod = await coupon({ country: 'IN', kind: 'percent', value: 1000, scope: { type: 'product', values: [a.product_id] } });
  assert.deepEqual(prod.scope, { type: 'product', values: [a.product_id] });
  assert.deepEqual((await coupon({ country: 'IN', kind: 'percent', value: 1000 })).scope, { type: 'store', values: [] });
  // an answer's scope and methods are valid input for the same coupon
  const copy = await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, scope: cp.scope, payment_methods: cp.payment_methods });
  assert.deepEqual([copy.scope, copy.payment_methods], [cp.scope, cp.payment_methods]);

  for (let i = 0; i < 2; i++) {
    const o = await order(await customer(srv, 'IN'), { payment_method: 'card', coupon: cp.code, lines: [{ sku: a.code }] });
    assert.equal(o.status, 201, o.text);
  }
  const listed = (await srv.get('/api/v1/admin/coupons?country=IN', { token: T })).json.coupons.find((x) => x.code === cp.code);
  assert.deepEqual([listed.payment_methods, listed.scope], [cp.payment_methods, cp.scope]);
  assert.equal(listed.usage.redemptions, 2);
  assert.ok(listed.usage.discount_given > 0);
  const off = await srv.api('PATCH', `/api/v1/admin/coupons/${cp.id}`, { token: T, body: { country: 'IN', active: false } });
  assert.equal(off.status, 200, off.text);
  assert.deepEqual(off.json.usage, listed.usage, 'PATCH reports the same usage as the list');
  assert.deepEqual([off.json.payment_methods, off.json.scope], [cp.payment_methods, cp.scope]);
});

test('a coupon that expires while its order waits for the writer is refused with reason expired too', async (t) => {
  const [, , , a] = await skus('IN', 'accessories', 4);
  for (const wh of ['WH-IN-MUM', 'WH-IN-BLR']) {
    const r = await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: a.code, warehouse: wh, country: 'IN', on_hand: 1000, reason: 'test setup' } });
    assert.equal(r.status, 200, r.text);
  }
  const c = await customer(srv, 'IN');
  // coupons ending on the next whole seconds; around each end, orders stream in so that some pass the
  // up-front check just before it and meet the writer's check just after it
  const first = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const ends = [0, 1, 2, 3].map((i) => first + i * 1000);
  const cps = [];
  for (const end of ends) cps.push(await coupon({ country: 'IN', kind: 'fixed_amount', value: 100, per_user_limit: 0, valid_until: localTime('Asia/Kolkata', end + 500 - Date.now()) /* the second of end */ }));
  let onWriter = 0;
  for (let i = 0; i < ends.length && onWriter === 0; i++) {
    await wait(ends[i] - 100 - Date.now());
    const worker = async () => {
      const out = [];
      while (Date.now() < ends[i] + 60) out.push(await order(c, { payment_method: 'card', coupon: cps[i].code, lines: [{ sku: a.code }] }));
      return out;
    };
    const rs = (await Promise.all(Array.from({ length: 16 }, worker))).flat();
    for (const r of rs.filter((x) => x.status !== 201)) {
      expectError(r, 422, 'validation_failed', 'coupon');
      assert.equal(r.json.error.reason, 'expired', r.text);
      if (!/ended at/.test(r.json.error.message)) onWriter++; // the up-front check says when it ended
    }
  }
  if (onWriter === 0) t.skip('no order reached the writer between the two checks this time');
});

test('webhook answers give events as the array that was sent', async () => {
  const sub = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: 'http://127.0.0.1:9/a', events: ['order.paid', 'payment.*'] } });
  assert.equal(sub.status, 201, sub.text);
  assert.deepEqual(sub.json.events, ['order.paid', 'payment.*']);
  const any = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: 'http://127.0.0.1:9/b' } });
  assert.equal(any.status, 201, any.text);
  assert.deepEqual(any.json.events, ['*']);
  const list = (await srv.get('/api/v1/admin/webhooks', { token: T })).json.webhooks;
  assert.deepEqual(list.find((w) => w.id === sub.json.id).events, ['order.paid', 'payment.*']);
  assert.deepEqual(list.find((w) => w.id === any.json.id).events, ['*']);
  for (const w of [sub, any]) assert.equal((await srv.api('DELETE', `/api/v1/admin/webhooks/${w.json.id}`, { token: T })).status, 204);
});

test('deleting a webhook gives up its pending deliveries at once instead of retrying them', async () => {
  let calls = 0;
  const receiver = http.createServer((req, res) => { calls++; req.resume(); res.writeHead(503); res.end(); });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    const sub = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: `http://127.0.0.1:${receiver.address().port}/`, events: ['order.created'] } });
    assert.equal(sub.status, 201, sub.text);
    const [a] = await skus('IN', 'accessories', 1);
    const o = await order(await customer(srv, 'IN'), { payment_method: 'card', lines: [{ sku: a.code }] });
    assert.equal(o.status, 201, o.text);
    const delivery = async () => {
      const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.json.id}`, { token: T });
      const ev = log.json.events.find((e) => e.type === 'order.created');
      return ev && ev.deliveries.find((d) => d.subscriber === `webhook:${sub.json.id}`);
    };
    await until(async () => (await delivery())?.attempts >= 1, 'a failed first attempt');
    assert.equal((await srv.api('DELETE', `/api/v1/admin/webhooks/${sub.json.id}`, { token: T })).status, 204);
    const d = await until(async () => { const x = await delivery(); return (x.status !== 'pending' || x.last_error === 'subscription removed') && x; }, 'the delivery to end');
    assert.equal(d.status, 'dead', JSON.stringify(d));
    assert.equal(d.last_error, 'subscription removed');
    assert.ok(d.attempts < 12);
    const seen = calls;
    await wait(1500);
    assert.equal(calls, seen, 'no attempt after it was given up');
  } finally { receiver.close(); }
});
