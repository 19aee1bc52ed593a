// Wallet payments with signed webhooks, refunds, and events delivered to a local receiver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { startServer, expectError, customer, run } from './helpers.mjs';
import { sendWalletWebhook, sign } from '../../tools/wallet-sim.mjs';

let srv, T, SECRET;
before(async () => {
  srv = await startServer({ args: ['--event-retry-ms', '200', '--webhook-allow-loopback'] });
  T = srv.adminToken;
  SECRET = run(['admin', 'provider-secret', 'wallet', '--data', srv.dataDir]);
});
after(async () => { await srv.stop(); });

const wait = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, tries = 80) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await wait(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function sku(country, category = 'accessories', offset = 0) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=${category}&per_page=10`);
  const p = await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`);
  return p.json.skus[0];
}

async function walletOrder(c, s, qty = 1) {
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: s.code, quantity: qty }] } });
  assert.equal(o.status, 201, o.text);
  return o.json;
}

const hook = (order, extra = {}) => sendWalletWebhook({
  base: srv.base, secret: SECRET, intent: order.payment.intent, amount: order.totals.grand_total.amount,
  currency: order.currency, ...extra,
});

test('wallet: checkout returns a redirect; a signed success webhook pays the order; repeats change nothing', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN');
  const order = await walletOrder(c, s);
  assert.equal(order.status, 'pending_payment');
  assert.match(order.payment.intent, /^pi_in_/);
  assert.ok(order.payment.redirect_url.includes(order.payment.intent));
  const pay = await srv.api('POST', `/api/v1/orders/${order.id}/pay`, { token: c.token, body: {} });
  assert.equal(pay.status, 202);
  assert.equal(pay.json.intent, order.payment.intent);

  const first = await hook(order, { eventId: 'whevt_same' });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.result, 'processed');
  const again = await hook(order, { eventId: 'whevt_same' });
  assert.equal(again.status, 200);
  assert.equal(again.json.result, 'duplicate');
  const other = await hook(order, { eventId: 'whevt_other' });
  assert.equal(other.json.result, 'ignored', 'a second success notice for a paid intent changes nothing');
  const late = await hook(order, { outcome: 'failed' });
  assert.equal(late.json.result, 'ignored', 'a failure arriving after the success changes nothing');
  const got = await srv.get(`/api/v1/orders/${order.id}`, { token: c.token });
  assert.equal(got.json.status, 'paid');
  assert.equal(got.json.payments.filter((p) => p.kind === 'charge' && p.status === 'succeeded').length, 1);
});

test('wallet: a failure then a success (out of order) ends paid; a lone failure leaves it unpaid', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 1);
  const a = await walletOrder(c, s);
  assert.equal((await hook(a, { outcome: 'failed' })).json.result, 'processed');
  let got = await srv.get(`/api/v1/orders/${a.id}`, { token: c.token });
  assert.equal(got.json.status, 'pending_payment');
  assert.equal((await hook(a, { outcome: 'succeeded' })).json.result, 'processed');
  got = await srv.get(`/api/v1/orders/${a.id}`, { token: c.token });
  assert.equal(got.json.status, 'paid');
});

test('wallet: after a failed attempt the customer pays again with a new intent; the old one cannot pay twice', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 2);
  const a = await walletOrder(c, s);
  const wrong = await hook(a, { currency: 'EUR' });
  expectError(wrong, 422, 'validation_failed', 'currency');
  assert.equal((await hook(a, { outcome: 'failed' })).json.result, 'processed');
  const retry = await srv.api('POST', `/api/v1/orders/${a.id}/pay`, { token: c.token, body: {} });
  assert.equal(retry.status, 202, retry.text);
  assert.match(retry.json.intent, /^pi_in_/);
  assert.notEqual(retry.json.intent, a.payment.intent, 'a new attempt has a new intent');
  // asking again while it is open shows the same attempt, not a third one
  const same = await srv.api('POST', `/api/v1/orders/${a.id}/pay`, { token: c.token, body: {} });
  assert.equal(same.json.intent, retry.json.intent);
  const second = { ...a, payment: { ...a.payment, intent: retry.json.intent } };
  assert.equal((await hook(second, { outcome: 'succeeded' })).json.result, 'processed');
  const got = (await srv.get(`/api/v1/orders/${a.id}`, { token: c.token })).json;
  assert.equal(got.status, 'paid');
  const charges = got.payments.filter((p) => p.kind === 'charge');
  assert.deepEqual(charges.map((p) => p.status).sort(), ['failed', 'succeeded']);
  // another customer cannot open attempts on this order
  const other = await customer(srv, 'IN');
  expectError(await srv.api('POST', `/api/v1/orders/${a.id}/pay`, { token: other.token, body: {} }), 404, 'not_found');
});

test('refunds: cash on delivery is refunded by hand at once, and order.refunded follows order.refund_requested', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 5);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: s.code, quantity: 1 }] } });
  assert.equal(o.status, 201, o.text);
  const shipped = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/ship`, { token: T, body: { country: 'IN', tracking_number: 'COD1' } });
  assert.equal(shipped.status, 200, shipped.text);
  const delivered = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/deliver`, { token: T, body: { country: 'IN' } });
  assert.equal(delivered.status, 200, delivered.text);
  // a lower-case country is the same country
  const refund = await srv.api('POST', `/api/v1/admin/orders/${o.json.id}/refunds`, { token: T, body: { country: 'in', reason: 'returned', all: true } });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(refund.json.payment.status, 'refunded');
  const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.json.id}`, { token: T });
  const types = log.json.events.map((e) => e.type);
  assert.ok(types.includes('order.refund_requested') && types.includes('order.refunded'), types.join(','));
  const at = (t) => log.json.events.findIndex((e) => e.type === t);
  assert.ok(at('order.refunded') < at('order.refund_requested'), 'newest first: refunded was recorded after refund_requested');
});

test('wallet: bad signatures, stale timestamps, tampered bodies and unknown intents are refused or ignored', async () => {
  const c = await customer(srv, 'IN');
  const order = await walletOrder(c, await sku('IN', 'accessories', 2));
  expectError(await hook(order, { badSignature: true }), 400, 'invalid_signature');
  expectError(await hook(order, { skewSeconds: -600 }), 400, 'stale_webhook');
  expectError(await hook(order, { skewSeconds: 600 }), 400, 'stale_webhook');
  // a valid signature over another body
  const body = JSON.stringify({ id: 'whevt_t', type: 'payment.succeeded', intent: order.payment.intent, amount: 1 });
  const t = Math.floor(Date.now() / 1000);
  const sig = `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')}`;
  const tampered = await fetch(`${srv.base}/api/v1/payments/wallet/webhook`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-provider-signature': sig },
    body: body.replace('"amount":1', '"amount":100000000'),
  });
  assert.equal(tampered.status, 400);
  expectError(await hook(order, { amount: 1 }), 422, 'validation_failed', 'amount');
  const unknown = await sendWalletWebhook({ base: srv.base, secret: SECRET, intent: 'pi_in_nothing', amount: 1 });
  assert.equal(unknown.json.result, 'ignored');
  expectError(await srv.api('POST', '/api/v1/payments/wallet/webhook', { body: {} }), 400, 'invalid_signature');
  assert.equal((await srv.get(`/api/v1/orders/${order.id}`, { token: c.token })).json.status, 'pending_payment');
});

test('wallet: a payment after the order timed out is recorded and refunded automatically', async () => {
  const my = (await srv.get('/api/v1/admin/countries', { token: T })).json.countries.find((x) => x.code === 'MY');
  const quick = { ...my, order_timeout_seconds: 1 };
  delete quick.order_timeout_minutes;
  assert.equal((await srv.api('PUT', '/api/v1/admin/countries/MY', { token: T, body: quick })).status, 200);
  const c = await customer(srv, 'MY', { address: { name: 'Ali', line1: '1 Jalan Ampang', city: 'Kuala Lumpur', state: 'KL', postal_code: '50450', phone: '+60123456789' } });
  const order = await walletOrder(c, await sku('MY'));
  await until(async () => (await srv.get(`/api/v1/orders/${order.id}`, { token: c.token })).json.status === 'cancelled', 'expiry');
  const r = await hook(order);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result, 'refunded');
  const done = await until(async () => {
    const o = (await srv.get(`/api/v1/orders/${order.id}`, { token: c.token })).json;
    return o.payment.status === 'refunded' ? o : null;
  }, 'automatic refund');
  assert.equal(done.status, 'cancelled');
  assert.equal(done.payments.find((p) => p.kind === 'charge').status, 'succeeded', 'the money was recorded, not lost');
  const refund = done.payments.find((p) => p.kind === 'refund');
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.amount, order.totals.grand_total.amount);
  my.order_timeout_minutes = 30;
  await srv.api('PUT', '/api/v1/admin/countries/MY', { token: T, body: my });
});

test('refunds: per line, partial, never more than paid; full refund before shipping releases stock', async () => {
  const c = await customer(srv, 'IN');
  const s1 = await sku('IN', 'accessories', 3), s2 = await sku('IN', 'accessories', 4);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: s1.code, quantity: 3 }, { sku: s2.code, quantity: 1 }] } });
  assert.equal(o.status, 201, o.text);
  await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  const refundUrl = `/api/v1/admin/orders/${o.json.id}/refunds`;
  expectError(await srv.api('POST', refundUrl, { token: T, body: { country: 'IN', reason: 'x' } }), 422, 'validation_failed', 'lines');
  expectError(await srv.api('POST', refundUrl, { token: T, body: { country: 'IN', reason: 'x', lines: [{ line_no: 1, quantity: 4 }] } }), 422, 'validation_failed');
  const one = await srv.api('POST', refundUrl, { token: T, body: { country: 'IN', reason: 'damaged', lines: [{ line_no: 1, quantity: 1 }] } });
  assert.equal(one.status, 201, one.text);
  const line1 = o.json.lines[0];
  assert.equal(one.json.totals.refunded.amount, Math.floor(line1.line_total.amount / 3));
  assert.equal(one.json.status, 'paid', 'a partial refund leaves the order paid');
  const rest = await srv.api('POST', refundUrl, { token: T, body: { country: 'IN', reason: 'changed mind', lines: [{ line_no: 1, quantity: 2 }, { line_no: 2, quantity: 1 }] } });
  assert.equal(rest.status, 201, rest.text);
  assert.equal(rest.json.status, 'refunded', 'every unit refunded before shipping: the order is refunded');
  assert.equal(rest.json.totals.refunded.amount, o.json.totals.grand_total.amount - o.json.totals.shipping.amount);
  const more = await srv.api('POST', refundUrl, { token: T, body: { country: 'IN', reason: 'again', lines: [{ line_no: 2, quantity: 1 }] } });
  expectError(more, 422, 'validation_failed');
  const settled = await until(async () => {
    const x = (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json;
    return x.payments.filter((p) => p.kind === 'refund').every((p) => p.status === 'succeeded') ? x : null;
  }, 'refunds to settle');
  const refunds = settled.payments.filter((p) => p.kind === 'refund');
  assert.equal(refunds.length, 2);
  assert.ok(refunds.reduce((a, p) => a + p.amount, 0) <= o.json.totals.grand_total.amount);
  // unpaid orders have nothing to refund
  const unpaid = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: s1.code }] } });
  expectError(await srv.api('POST', `/api/v1/admin/orders/${unpaid.json.id}/refunds`, { token: T, body: { country: 'IN', reason: 'x', all: true } }), 409, 'conflict');
});

test('events: order events reach a webhook receiver, signed, at least once, despite failures', async () => {
  const got = [];
  let calls = 0;
  let secret = '';
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      calls++;
      if (calls <= 2) { res.writeHead(503); res.end(); return; } // the first attempts fail
      const sig = req.headers['x-meridian-signature'];
      const [tp, vp] = sig.split(',');
      const t = tp.slice(2);
      const expect = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
      got.push({ ok: vp.slice(3) === expect, event: JSON.parse(body), id: req.headers['x-meridian-event-id'] });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    const sub = await srv.api('POST', '/api/v1/admin/webhooks', { token: T, body: { url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ['order.*'] } });
    assert.equal(sub.status, 201, sub.text);
    secret = sub.json.secret;
    const c = await customer(srv, 'IN');
    const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: (await sku('IN', 'accessories', 5)).code }] } });
    await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
    await until(() => ['order.created', 'order.paid'].every((t) => got.some((g) => g.event.type === t && g.event.data.order_id === o.json.id)), 'webhook deliveries');
    assert.ok(got.every((g) => g.ok), 'every delivery is signed with the subscription secret');
    const created = got.find((g) => g.event.type === 'order.created' && g.event.data.order_id === o.json.id);
    assert.match(created.id, /^evt_/);
    assert.equal(created.event.id, created.id);
    assert.equal(created.event.data.number, o.json.number);
    assert.ok(calls >= 3, 'the failed attempts were retried');
    // the outcome is recorded after the receiver answered: wait for the write, it is not instantaneous
    const d = await until(async () => {
      const log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${o.json.id}`, { token: T });
      const ev = log.json.events.find((e) => e.type === 'order.created');
      const x = ev && ev.deliveries.find((y) => y.subscriber.startsWith('webhook:'));
      return x && x.status !== 'pending' ? x : null;
    }, 'the delivery recorded');
    assert.equal(d.status, 'delivered');
    // logistics booked a shipment when the order was paid
    const paid = await until(async () => (await srv.get(`/api/v1/orders/${o.json.id}`, { token: c.token })).json.shipment, 'shipment');
    assert.match(paid.tracking_number, /^IN/);
    assert.equal((await srv.api('DELETE', `/api/v1/admin/webhooks/${sub.json.id}`, { token: T })).status, 204);
  } finally { receiver.close(); }
});

// ---- issue 8: payments real providers can talk to ----

const orderOf = async (c, o) => (await srv.get(`/api/v1/orders/${o.id}`, { token: c.token })).json;
const chargeOf = (o, intent) => o.payments.find((p) => p.kind === 'charge' && p.intent === intent);

test('wallet: successes without charge_id pay every order, and are refunded by their intent (issue 8 #1)', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 6);
  const a = await walletOrder(c, s), b = await walletOrder(c, s);
  const ra = await hook(a, { chargeId: null });
  assert.equal(ra.status, 200, ra.text);
  assert.equal(ra.json.result, 'processed');
  // the second payment without a charge id used to hit the unique reference index: 500, order lost
  const rb = await hook(b, { chargeId: null });
  assert.equal(rb.status, 200, rb.text);
  assert.equal(rb.json.result, 'processed');
  const again = await hook(b, { chargeId: null, eventId: rb.eventId });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.result, 'duplicate', 'a repeated event is idempotent');
  for (const o of [a, b]) {
    const got = await orderOf(c, o);
    assert.equal(got.status, 'paid');
    const ch = chargeOf(got, o.payment.intent);
    assert.equal(ch.status, 'succeeded');
    assert.equal(ch.reference, '', 'no charge id: no reference, not an empty one that collides');
  }
  // with no charge id the refund goes to the wallet by the intent, and completes
  const refund = await srv.api('POST', `/api/v1/admin/orders/${b.id}/refunds`, { token: T, body: { country: 'IN', reason: 'changed mind', all: true } });
  assert.equal(refund.status, 201, refund.text);
  const done = await until(async () => {
    const o = await orderOf(c, b);
    return o.payment.status === 'refunded' ? o : null;
  }, 'refund by intent');
  assert.equal(done.payments.find((p) => p.kind === 'refund').status, 'succeeded');
});

test('wallet: a charge_id already used by another order is recorded by the intent and flagged, not a 500 (issue 8 #1)', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 7);
  const d = await walletOrder(c, s), e = await walletOrder(c, s);
  const shared = `wch_shared_${Date.now()}`;
  assert.equal((await hook(d, { chargeId: shared })).json.result, 'processed');
  const re = await hook(e, { chargeId: shared });
  assert.equal(re.status, 200, re.text);
  assert.equal(re.json.result, 'processed', 'the customer paid: the order is paid');
  assert.match(re.json.message, new RegExp(shared));
  const gd = await orderOf(c, d), ge = await orderOf(c, e);
  assert.equal(ge.status, 'paid');
  const chd = chargeOf(gd, d.payment.intent), che = chargeOf(ge, e.payment.intent);
  assert.equal(chd.reference, shared, 'the first payment keeps its reference');
  assert.equal(che.reference, '');
  assert.match(che.reason, new RegExp(`${shared}.*payment ${chd.id}.*${d.number}`), che.reason);
  // the same event again changes nothing; a refund of the flagged payment goes by its intent
  assert.equal((await hook(e, { chargeId: shared, eventId: re.eventId })).json.result, 'duplicate');
  const refund = await srv.api('POST', `/api/v1/admin/orders/${e.id}/refunds`, { token: T, body: { country: 'IN', reason: 'check', all: true } });
  assert.equal(refund.status, 201, refund.text);
  await until(async () => (await orderOf(c, e)).payment.status === 'refunded', 'refund of the flagged payment');
  assert.equal((await orderOf(c, d)).payment.status, 'paid', 'the other order is untouched');
});

test('wallet: members Meridian does not know are ignored (issue 8 #10)', async () => {
  const c = await customer(srv, 'IN');
  const o = await walletOrder(c, await sku('IN', 'accessories', 1));
  const r = await hook(o, { extra: { metadata: { cart: 'abc', n: 1 }, livemode: false, created: 1733200000123 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result, 'processed');
  assert.equal((await orderOf(c, o)).status, 'paid');
  // an event type Meridian does not handle is acknowledged whatever its body holds
  const body = JSON.stringify({ id: `whevt_${Date.now()}`, type: 'payment.dispute_opened_by_the_customer_bank', dispute: { id: 'dp_1' } });
  const typed = await fetch(`${srv.base}/api/v1/payments/wallet/webhook`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-provider-signature': sign(SECRET, body) }, body,
  });
  assert.equal(typed.status, 200, await typed.text());
  // known members are still checked
  const o2 = await walletOrder(c, await sku('IN', 'accessories', 1));
  expectError(await hook(o2, { extra: { amount: 'lots' } }), 422, 'validation_failed', 'amount');
});

test('wallet: signature parts in any order, several v1 values; a repeated t or no matching v1 is refused (issue 8 #10)', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 1);
  const o = await walletOrder(c, s);
  expectError(await hook(o, { secrets: ['old-secret-gone', 'another-wrong-one'] }), 400, 'invalid_signature');
  const r = await hook(o, { secrets: ['old-secret-gone', SECRET], v1First: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result, 'processed');
  // by hand: spaces, an unknown scheme, and the timestamp last
  const o2 = await walletOrder(c, s);
  const body = JSON.stringify({ id: `whevt_${Date.now()}`, type: 'payment.succeeded', intent: o2.payment.intent, amount: o2.totals.grand_total.amount });
  const t = Math.floor(Date.now() / 1000);
  const mac = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
  const send = (sig) => fetch(`${srv.base}/api/v1/payments/wallet/webhook`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-provider-signature': sig }, body,
  });
  assert.equal((await send(`t=${t},t=${t},v1=${mac}`)).status, 400, 'two timestamps are malformed');
  assert.equal((await send(`v1=${mac}`)).status, 400, 'no timestamp');
  const ok = await send(`v0=abc, v1=${mac} ,t=${t}`);
  assert.equal(ok.status, 200, await ok.text());
  assert.equal((await orderOf(c, o2)).status, 'paid');
});

test('wallet: rotating the provider secret keeps the previous one valid for a window, without a restart (issue 8 #10)', async () => {
  const c = await customer(srv, 'IN');
  const s = await sku('IN', 'accessories', 1);
  const old = SECRET;
  assert.throws(() => run(['admin', 'provider-secret', 'card', '--data', srv.dataDir]), 'only the wallet has a secret');
  assert.throws(() => run(['admin', 'provider-secret', 'wallet', '--keep-previous-hours', '1', '--data', srv.dataDir]));
  const fresh = run(['admin', 'provider-secret', 'wallet', '--rotate', '--data', srv.dataDir]);
  assert.match(fresh, /^[0-9a-f]{64}$/);
  assert.notEqual(fresh, old);
  assert.equal(run(['admin', 'provider-secret', 'wallet', '--data', srv.dataDir]), fresh, 'the new secret is current');
  const paidWith = async (secrets) => {
    const o = await walletOrder(c, s);
    return sendWalletWebhook({ base: srv.base, secrets, intent: o.payment.intent, amount: o.totals.grand_total.amount });
  };
  assert.equal((await paidWith([old])).json.result, 'processed', 'the previous secret verifies during the window');
  assert.equal((await paidWith([fresh])).json.result, 'processed', 'the new one verifies at once');
  assert.equal((await paidWith([fresh, old])).json.result, 'processed', 'both at once, as a provider mid-rotation signs');
  // a second rotation with no window: only the newest verifies
  const newest = run(['admin', 'provider-secret', 'wallet', '--rotate', '--keep-previous-hours', '0', '--data', srv.dataDir]);
  SECRET = newest;
  expectError(await paidWith([fresh]), 400, 'invalid_signature');
  expectError(await paidWith([old]), 400, 'invalid_signature');
  assert.equal((await paidWith([newest])).json.result, 'processed');
});

test('wallet: a success after a failure notice says so plainly, not "declined" (issue 8 #10)', async () => {
  const c = await customer(srv, 'IN');
  const o = await walletOrder(c, await sku('IN', 'accessories', 2));
  assert.equal((await hook(o, { outcome: 'failed' })).json.result, 'processed');
  assert.equal(chargeOf(await orderOf(c, o), o.payment.intent).reason, 'declined at the wallet');
  assert.equal((await hook(o)).json.result, 'processed');
  const got = await orderOf(c, o);
  assert.equal(got.status, 'paid');
  const ch = chargeOf(got, o.payment.intent);
  assert.equal(ch.status, 'succeeded');
  assert.equal(ch.reason, 'reported failed at the wallet, then succeeded');
});

test('wallet: a late success for an old attempt of an order paid by a new one is a duplicate, refunded; the order stays paid (issue 8 #10)', async () => {
  const c = await customer(srv, 'IN');
  const a = await walletOrder(c, await sku('IN', 'accessories', 3));
  assert.equal((await hook(a, { outcome: 'failed' })).json.result, 'processed');
  const retry = await srv.api('POST', `/api/v1/orders/${a.id}/pay`, { token: c.token, body: {} });
  assert.equal(retry.status, 202, retry.text);
  assert.equal((await hook({ ...a, payment: { ...a.payment, intent: retry.json.intent } })).json.result, 'processed');
  // the wallet changes its mind about the first attempt: the customer paid twice
  const late = await hook(a);
  assert.equal(late.status, 200, late.text);
  assert.equal(late.json.result, 'refunded');
  assert.match(late.json.message, /already paid/);
  const total = a.totals.grand_total.amount;
  const settled = await until(async () => {
    const o = await orderOf(c, a);
    return o.payments.some((p) => p.kind === 'refund' && p.status === 'succeeded') ? o : null;
  }, 'the duplicate refund');
  assert.equal(settled.status, 'paid');
  assert.equal(settled.payment.status, 'paid', 'the order still holds its own money');
  assert.equal(settled.totals.refunded.amount, 0, 'the duplicate refund is not the order\'s refund');
  const first = chargeOf(settled, a.payment.intent), second = chargeOf(settled, retry.json.intent);
  assert.equal(first.status, 'succeeded');
  assert.equal(first.duplicate_of, second.id);
  assert.doesNotMatch(first.reason, /declined/, first.reason);
  assert.match(first.reason, new RegExp(`already paid by payment ${second.id}`));
  assert.equal(second.duplicate_of, undefined);
  const back = settled.payments.find((p) => p.kind === 'refund');
  assert.equal(back.refund_of, first.id);
  assert.equal(back.amount, total);
  let log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${a.id}`, { token: T });
  assert.ok(!log.json.events.some((e) => e.type === 'order.refunded'), 'no order.refunded for the order: it was not refunded');
  // the order's own money is all still refundable, and then it reads refunded
  const refund = await srv.api('POST', `/api/v1/admin/orders/${a.id}/refunds`, { token: T, body: { country: 'IN', reason: 'returned', all: true } });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(refund.json.totals.refunded.amount, total);
  const all = await until(async () => {
    const o = await orderOf(c, a);
    return o.payment.status === 'refunded' ? o : null;
  }, 'the staff refund');
  assert.equal(all.payments.filter((p) => p.kind === 'refund' && p.refund_of === second.id).length, 1);
  log = await srv.get(`/api/v1/admin/events?country=IN&order_id=${a.id}`, { token: T });
  assert.equal(log.json.events.filter((e) => e.type === 'order.refunded').length, 1);
});
