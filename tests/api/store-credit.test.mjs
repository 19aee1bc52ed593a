// Store credit spent at checkout: credit earned through a cash-on-delivery return (refunded as store credit) is
// applied to an order's grand total after coupons and tax (an amount, or "max"); the rest is due by the payment
// method; an order the credit pays in full is paid at once. The spend is a negative ledger row written with the
// order, so the balance never goes below zero (two orders at once: exactly one gets the credit); an order that
// is cancelled, expires or is refunded gives its credit back once; an Idempotency-Key replay spends nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PG, startServer, expectError, customer, until, skuSupply, sqlRows } from './helpers.mjs';

let srv, T;
before(async () => {
  srv = await startServer({ regions: 'in' });
  freshSku = skuSupply(srv, 100);
  T = srv.adminToken;
});
after(async () => { await srv.stop(); });

// A fresh accessory SKU sold in IN with 100 units in Mumbai and none in Bengaluru.
let freshSku;

const order = (c, body, headers) => srv.api('POST', '/api/v1/orders', { token: c.token, body, headers });
const credit = async (c) => (await srv.get('/api/v1/store-credit', { token: c.token })).json;
const view = async (c, id) => (await srv.get(`/api/v1/orders/${id}`, { token: c.token })).json;

// Ships and delivers order id (staff).
async function deliver(id) {
  for (const what of ['ship', 'deliver']) {
    const r = await srv.api('POST', `/api/v1/admin/orders/${id}/${what}`, { token: T, body: { country: 'IN', tracking_number: `TRK${id}` } });
    assert.equal(r.status, 200, r.text);
  }
}

// Returns `units` units of line 1 of order id, approved and received: the return as refunded.
async function giveBack(c, id, units, method) {
  const r = await srv.api('POST', `/api/v1/orders/${id}/returns`, { token: c.token, body: { lines: [{ line_no: 1, quantity: units }], reason: 'no_longer_needed', refund_method: method } });
  assert.equal(r.status, 201, r.text);
  const step = (what, body = {}) => srv.api('POST', `/api/v1/admin/returns/${r.json.id}/${what}`, { token: T, body: { country: 'IN', ...body } });
  assert.equal((await step('approve')).status, 200);
  const rc = await step('receive', { lines: [{ line_no: 1, condition: 'resellable' }] });
  assert.equal(rc.json.status, 'refunded', rc.text);
  return rc.json;
}

// Credit for c: a cash-on-delivery order of `units` units of sku, delivered, returned whole as store credit.
// Returns the balance afterwards.
async function earn(c, sku, units = 5) {
  const o = await order(c, { payment_method: 'cod', lines: [{ sku: sku.code, quantity: units }] });
  assert.equal(o.status, 201, o.text);
  await deliver(o.json.id);
  await giveBack(c, o.json.id, units, 'store_credit');
  const sc = await credit(c);
  assert.ok(sc.balance.amount > 0, JSON.stringify(sc));
  return sc.balance.amount;
}

test('part of the credit: the rest is due by card, the ledger shows the spend', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 2);
  const o = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 3 }], store_credit: Math.floor(bal / 2) });
  assert.equal(o.status, 201, o.text);
  const part = Math.floor(bal / 2), g = o.json.totals.grand_total.amount;
  assert.ok(g > part);
  assert.equal(o.json.totals.store_credit.amount, part);
  assert.equal(o.json.totals.store_credit.currency, 'INR');
  assert.equal(o.json.totals.amount_due.amount, g - part);
  assert.equal(o.json.status, 'pending_payment');
  assert.equal(o.json.payment.status, 'unpaid');
  const sc = await credit(c);
  assert.equal(sc.balance.amount, bal - part);
  assert.equal(sc.entries[0].amount.amount, -part);
  assert.equal(sc.entries[0].reason, `order ${o.json.number}`);

  // the card pays the amount due, not the grand total
  const p = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(p.status, 200, p.text);
  const v = await view(c, o.json.id);
  assert.equal(v.status, 'paid');
  assert.ok(v.payments.some((x) => x.kind === 'charge' && x.amount === g - part && x.status === 'succeeded'), JSON.stringify(v.payments));
  assert.equal(v.totals.store_credit.amount, part, 'a loaded order shows its credit');

  // refunded in full (cancelled after payment): card money back to the card, credit back as credit
  const cx = await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  assert.equal(cx.status, 200, cx.text);
  assert.equal(cx.json.status, 'refunded');
  const back = await until(async () => {
    const x = await view(c, o.json.id);
    return x.payment.status === 'refunded' && x;
  }, 'the card refund');
  assert.equal(back.totals.refunded.amount, g, 'all of it');
  assert.deepEqual(back.payments.filter((x) => x.kind === 'refund').map((x) => x.amount), [g - part], 'the card is refunded what it paid');
  const after = await credit(c);
  assert.equal(after.balance.amount, bal);
  assert.equal(after.entries[0].reason, `order ${o.json.number} refunded`);

  // a wallet order: its payment intent is for the amount due
  const w = await order(c, { payment_method: 'wallet', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 10 });
  assert.equal(w.status, 201, w.text);
  assert.ok(w.json.payment.intent);
  const wv = await view(c, w.json.id);
  assert.deepEqual(wv.payments.map((x) => [x.kind, x.status, x.amount]), [['charge', 'pending', w.json.totals.grand_total.amount - 10]]);
});

test('returns of an order paid mostly with credit: a card refunded in full is only part of it', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 5);
  const probe = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 2 }] });
  const g = probe.json.totals.grand_total.amount;
  assert.equal((await srv.api('POST', `/api/v1/orders/${probe.json.id}/cancel`, { token: c.token })).status, 200);
  // the card pays 100 minor units, less than one unit's refund: the first return empties the card
  const part = g - 100;
  assert.ok(part <= bal, `${part} <= ${bal}`);
  const o = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 2 }], store_credit: part });
  assert.equal(o.status, 201, o.text);
  const p = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(p.status, 200, p.text);
  await deliver(o.json.id);
  const line = (await view(c, o.json.id)).lines[0].line_total.amount;
  assert.ok(Math.floor(line / 2) > 100, `a unit (${line / 2}) is worth more than the card paid`);

  await giveBack(c, o.json.id, 1, 'original');
  const first = await until(async () => {
    const v = await view(c, o.json.id);
    return v.payment.status !== 'refund_pending' && v;
  }, 'the card refund confirmed');
  assert.equal(first.payment.status, 'partially_refunded', 'the card is back in full, the order is not');
  assert.equal(first.totals.refunded.amount, Math.floor(line / 2));
  assert.deepEqual(first.payments.filter((x) => x.kind === 'refund').map((x) => [x.amount, x.status]), [[100, 'succeeded']]);

  // the second unit can still be returned: all of it as credit, nothing waits for the card
  const second = await giveBack(c, o.json.id, 1, 'original');
  assert.equal(second.refund.amount.amount, line - Math.floor(line / 2));
  const v = await view(c, o.json.id);
  assert.equal(v.totals.refunded.amount, line);
  assert.equal(v.payment.status, line >= g ? 'refunded' : 'partially_refunded');
  assert.equal((await credit(c)).balance.amount, bal - part + (line - 100));
});

test('"max" on an order the credit covers: paid at once, nothing due, shipped without a payment step', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 5);
  const o = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 'max' });
  assert.equal(o.status, 201, o.text);
  const g = o.json.totals.grand_total.amount;
  assert.ok(g < bal, `${g} < ${bal}`);
  assert.equal(o.json.totals.store_credit.amount, g, 'never more than the grand total');
  assert.equal(o.json.totals.amount_due.amount, 0);
  assert.equal(o.json.status, 'paid');
  assert.equal(o.json.payment.status, 'paid');
  assert.equal(o.json.expires_at, undefined);
  assert.equal((await credit(c)).balance.amount, bal - g);
  // placed and paid at once: two events, one message each (not "now paid" twice)
  const told = await until(() => {
    const rows = sqlRows(srv.dataDir, 'in', `SELECT message FROM notification WHERE message LIKE '%${o.json.number}%' ORDER BY id`);
    return rows.length >= 2 && rows.map((x) => x.message);
  }, 'the notifications');
  assert.deepEqual(told, [`Thank you: your order ${o.json.number} is placed`, `Your order ${o.json.number} is now paid`]);
  expectError(await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } }), 409, 'conflict');
  const s = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'TRK-CREDIT-1' } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.status, 'shipped');

  // "max" with a balance below the total: all of it, the rest due; a cash-on-delivery order collects the rest
  const left = bal - g;
  const o2 = await order(c, { payment_method: 'cod', lines: [{ sku: sku.code, quantity: 10 }], store_credit: 'max' });
  assert.equal(o2.status, 201, o2.text);
  const g2 = o2.json.totals.grand_total.amount;
  assert.equal(o2.json.totals.store_credit.amount, left);
  assert.equal(o2.json.totals.amount_due.amount, g2 - left);
  assert.equal(o2.json.status, 'pending_shipment');
  assert.equal((await credit(c)).balance.amount, 0);
  for (const what of ['ship', 'deliver']) {
    const r = await srv.api('POST', `/api/v1/admin/orders/${o2.json.id}/${what}`, { token: T, body: { country: 'IN', tracking_number: 'TRK-CREDIT-2' } });
    assert.equal(r.status, 200, r.text);
  }
  const v2 = await view(c, o2.json.id);
  assert.deepEqual(v2.payments.filter((x) => x.kind === 'charge').map((x) => [x.provider, x.amount]), [['cod', g2 - left]], 'collected on delivery: the amount due');

  // "max" with nothing left: no credit applied
  const o3 = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 'max' });
  assert.equal(o3.status, 201, o3.text);
  assert.equal(o3.json.totals.store_credit.amount, 0);
  assert.equal(o3.json.status, 'pending_payment');
});

test('more than the balance, or a malformed amount: 422 store_credit, nothing changed', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 2);
  const stock = async () => (await srv.get(`/api/v1/admin/stock?country=IN&sku=${sku.code}`, { token: T })).json.available;
  const before = await stock();
  const r = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: bal + 1 });
  expectError(r, 422, 'validation_failed', 'store_credit');
  assert.match(r.json.error.message, new RegExp(`\\b${bal}\\b`), 'the message gives the balance');
  for (const bad of [0, -5, 1.5, 'all', true, null])
    expectError(await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: bad }), 422, 'validation_failed', 'store_credit');
  assert.equal((await credit(c)).balance.amount, bal);
  assert.equal((await credit(c)).entries.length, 1);
  assert.equal(await stock(), before, 'no stock reserved');
  assert.equal((await srv.get('/api/v1/orders', { token: c.token })).json.total, 1, 'only the order that earned the credit');
  // a customer without credit
  const d = await customer(srv, 'IN');
  expectError(await order(d, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 1 }), 422, 'validation_failed', 'store_credit');
});

test('cancel gives the credit back once; a credit-paid order cancelled is refunded as credit', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 5);
  const o = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 100 });
  assert.equal(o.status, 201, o.text);
  assert.equal((await credit(c)).balance.amount, bal - 100);
  const cx = await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token });
  assert.equal(cx.json.status, 'cancelled', cx.text);
  expectError(await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token }), 409, 'conflict');
  let sc = await credit(c);
  assert.equal(sc.balance.amount, bal);
  assert.deepEqual(sc.entries.slice(0, 2).map((x) => [x.amount.amount, x.reason]),
    [[100, `order ${o.json.number} cancelled`], [-100, `order ${o.json.number}`]]);

  const paid = await order(c, { payment_method: 'wallet', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 'max' });
  assert.equal(paid.json.status, 'paid', paid.text);
  assert.equal(paid.json.payment.intent, undefined, 'no wallet payment to make');
  const g = paid.json.totals.grand_total.amount;
  // the credit is a payment, not a discount: the invoice has the order's taxable amounts and total
  const docs = (n) => until(async () => {
    const r = await srv.get(`/api/v1/orders/${paid.json.id}/invoices`, { token: c.token });
    return r.status === 200 && r.json.items.length >= n && r.json.items;
  }, `${n} document(s)`);
  const [inv] = await docs(1);
  assert.equal(inv.kind, 'invoice');
  assert.equal(inv.document.totals.grand_total.amount, g);
  assert.deepEqual(inv.document.taxes.map((t) => [t.kind, t.taxable.amount, t.amount.amount]),
    paid.json.taxes.map((t) => [t.kind, t.taxable.amount, t.amount.amount]));
  const rf = await srv.api('POST', `/api/v1/orders/${paid.json.id}/cancel`, { token: c.token });
  assert.equal(rf.json.status, 'refunded', rf.text);
  const v = await view(c, paid.json.id);
  assert.equal(v.payment.status, 'refunded');
  assert.equal(v.payments.length, 0, 'no provider refund');
  sc = await credit(c);
  assert.equal(sc.balance.amount, bal);
  assert.deepEqual(sc.entries.slice(0, 2).map((x) => [x.amount.amount, x.reason]),
    [[g, `order ${paid.json.number} refunded`], [-g, `order ${paid.json.number}`]]);
  const [, note] = await docs(2);
  assert.deepEqual([note.kind, note.document.totals.grand_total.amount], ['credit_note', g]);
});

test('an Idempotency-Key replay returns the same order and spends nothing more', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 2);
  const body = { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 50 };
  const headers = { 'idempotency-key': 'credit-1' };
  const a = await order(c, body, headers);
  const b = await order(c, body, headers);
  assert.equal(a.status, 201, a.text);
  assert.equal(b.json.id, a.json.id);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  assert.equal(b.json.totals.store_credit.amount, 50);
  assert.equal(b.json.totals.amount_due.amount, a.json.totals.amount_due.amount);
  const sc = await credit(c);
  assert.equal(sc.balance.amount, bal - 50);
  assert.equal(sc.entries.filter((x) => x.amount.amount < 0).length, 1);
});

test('two orders at once that together exceed the balance: exactly one gets the credit', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 2);
  const ask = Math.floor(bal / 2) + 1;
  const rs = await Promise.all([1, 2].map(() => order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 3 }], store_credit: ask })));
  const ok = rs.filter((r) => r.status === 201);
  assert.equal(ok.length, 1, rs.map((r) => r.text).join('\n'));
  expectError(rs.find((r) => r.status !== 201), 422, 'validation_failed', 'store_credit');
  assert.equal((await credit(c)).balance.amount, bal - ask);
});

test('an order that expires unpaid gives its credit back once', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 2);
  const cfg = (await srv.get('/api/v1/admin/countries', { token: T })).json.countries.find((x) => x.code === 'IN');
  const fast = { ...cfg, order_timeout_seconds: 1 };
  delete fast.order_timeout_minutes;
  assert.equal((await srv.api('PUT', '/api/v1/admin/countries/IN', { token: T, body: fast })).status, 200);
  try {
    const o = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 1 }], store_credit: 70 });
    assert.equal(o.status, 201, o.text);
    assert.equal((await credit(c)).balance.amount, bal - 70);
    const v = await until(async () => {
      const x = await view(c, o.json.id);
      return x.status === 'cancelled' && x;
    }, 'the order expired', 100);
    assert.equal(v.events.at(-1).actor, 'system');
    const sc = await until(async () => { const x = await credit(c); return x.balance.amount === bal && x; }, 'the credit back');
    assert.equal(sc.entries.filter((x) => x.reason === `order ${o.json.number} cancelled`).length, 1);
  } finally {
    assert.equal((await srv.api('PUT', '/api/v1/admin/countries/IN', { token: T, body: cfg })).status, 200);
  }
});

test('returns of an order paid with credit: card first, the rest back as credit', async () => {
  const sku = await freshSku();
  const c = await customer(srv, 'IN');
  const bal = await earn(c, sku, 10);
  const a = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 2 }], store_credit: 'max' });
  assert.equal(a.json.status, 'paid', a.text);
  const g = a.json.totals.grand_total.amount;
  const b = await order(c, { payment_method: 'card', lines: [{ sku: sku.code, quantity: 2 }], store_credit: g - 1 });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.json.totals.amount_due.amount, 1);
  const p = await srv.api('POST', `/api/v1/orders/${b.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(p.status, 200, p.text);
  await deliver(a.json.id);
  await deliver(b.json.id);
  assert.equal((await credit(c)).balance.amount, bal - g - (g - 1));

  // all credit: the unit's refund goes back as credit
  const ra = await giveBack(c, a.json.id, 1, 'original');
  const unit = ra.refund.amount.amount;
  assert.ok(unit > 1);
  let sc = await credit(c);
  assert.deepEqual([sc.entries[0].amount.amount, sc.entries[0].reason], [unit, `order ${a.json.number} refunded`]);
  // 1 paid by card: that to the card, the rest as credit
  const rb = await giveBack(c, b.json.id, 1, 'original');
  assert.equal(rb.refund.amount.amount, unit);
  sc = await credit(c);
  assert.deepEqual([sc.entries[0].amount.amount, sc.entries[0].reason], [unit - 1, `order ${b.json.number} refunded`]);
  assert.equal(sc.balance.amount, bal - g - (g - 1) + unit + unit - 1);
  const vb = await view(c, b.json.id);
  assert.deepEqual(vb.payments.filter((x) => x.kind === 'refund').map((x) => x.amount), [1]);
  assert.equal(vb.totals.refunded.amount, unit);
  const va = await view(c, a.json.id);
  assert.equal(va.payment.status, 'partially_refunded');
  assert.equal(va.totals.refunded.amount, unit);
});

test('PostgreSQL, two nodes on one database: orders racing for the same credit never spend more than the balance', { skip: !PG && 'PostgreSQL mode only (tests/pg/api.sh)', timeout: 120000 }, async () => {
  const n2 = await startServer({ regions: 'in', dataDir: srv.dataDir, seed: false }); // the same databases
  try {
    const sku = await freshSku();
    for (let round = 0; round < 4; round++) {
      const c = await customer(srv, 'IN');
      const bal = await earn(c, sku, 2);
      // explicit amounts that together exceed the balance: exactly one order gets its credit
      const ask = Math.floor(bal / 2) + 1;
      const rs = await Promise.all([srv, n2, srv, n2, srv, n2, srv, n2].map((n) => n.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 3 }], store_credit: ask } })));
      assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => r.text).join('\n'));
      for (const r of rs.filter((x) => x.status !== 201)) expectError(r, 422, 'validation_failed', 'store_credit');
      assert.equal((await credit(c)).balance.amount, bal - ask);
      // "max" on both nodes at once: together they apply exactly what is left, the balance ends at 0
      const left = bal - ask;
      const ms = await Promise.all([srv, n2].map((n) => n.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: sku.code, quantity: 3 }], store_credit: 'max' } })));
      assert.ok(ms.every((r) => r.status === 201), ms.map((r) => r.text).join('\n'));
      assert.equal(ms[0].json.totals.store_credit.amount + ms[1].json.totals.store_credit.amount, left);
      const sc = await credit(c);
      assert.equal(sc.balance.amount, 0);
      assert.equal(sc.entries.reduce((a, x) => a + x.amount.amount, 0), 0, 'the ledger adds up to the balance');
    }
  } finally {
    await n2.stop();
  }
});
