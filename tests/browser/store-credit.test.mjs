// Store credit at checkout: a customer with credit (a cash-on-delivery order delivered and returned as store
// credit, as tests/api/store-credit.test.mjs earns it) sees the balance on the checkout page with a "Use my store
// credit" box; checked, the order is placed with store_credit "max": an order the credit covers is paid at once
// (no payment step), a larger one shows the credit and the amount due and still asks for the card. The API
// confirms each order's credit is min(balance, grand total) and the balance went down by it. Without credit
// (or when the balance cannot be read) the page offers none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { start, signIn } from './browser.mjs';
import { customer, skuSupply } from '../api/helpers.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let env, T;
before(async () => { env = await start(); T = env.srv.adminToken; });
after(async () => { await env?.stop(); });

const balanceOf = async (c) => {
  const r = await env.srv.get('/api/v1/store-credit', { token: c.token });
  assert.equal(r.status, 200, r.text);
  return r.json.balance;
};

// Credit for c: a cash-on-delivery order of `units` of sku, shipped and delivered by staff, returned whole
// with refund_method store_credit.
async function earn(c, sku, units) {
  const o = await env.srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod', lines: [{ sku: sku.code, quantity: units }] } });
  assert.equal(o.status, 201, o.text);
  for (const what of ['ship', 'deliver']) {
    const r = await env.srv.api('POST', `/api/v1/admin/orders/${o.json.id}/${what}`, { token: T, body: { country: 'IN', tracking_number: `TRK${o.json.id}` } });
    assert.equal(r.status, 200, r.text);
  }
  const ret = await env.srv.api('POST', `/api/v1/orders/${o.json.id}/returns`, { token: c.token,
    body: { lines: [{ line_no: 1, quantity: units }], reason: 'no_longer_needed', refund_method: 'store_credit' } });
  assert.equal(ret.status, 201, ret.text);
  const step = (what, body = {}) => env.srv.api('POST', `/api/v1/admin/returns/${ret.json.id}/${what}`, { token: T, body: { country: 'IN', ...body } });
  assert.equal((await step('approve')).status, 200);
  const rc = await step('receive', { lines: [{ line_no: 1, condition: 'resellable' }] });
  assert.equal(rc.json.status, 'refunded', rc.text);
}

// A page logged in as c, in India, in English.
async function pageOf(c) {
  const page = await env.page({ bypassCSP: true });
  await signIn(page, c, 'IN', 'en');
  return page;
}

// Puts `units` of sku in c's cart (emptied first); answers the cart's grand total.
async function fillCart(c, sku, units) {
  const cart = await env.srv.get('/api/v1/cart?country=IN', { token: c.token });
  for (const l of cart.json.lines) await env.srv.api('DELETE', `/api/v1/cart/items/${encodeURIComponent(l.sku)}`, { token: c.token });
  const r = await env.srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: sku.code, quantity: units } });
  assert.ok(r.status < 300, r.text);
  return (await env.srv.get('/api/v1/cart?country=IN', { token: c.token })).json.totals.grand_total;
}

// Checks out c's cart by card with the store-credit box ticked; answers the order as the API shows it.
let visits = 0; // a new query string each time: a real page load (a hash change alone keeps the page's state)
async function checkOutWithCredit(page, c, balance) {
  await page.goto(`/?v=${++visits}#/checkout`);
  await page.getByTestId('credit-balance').getByText(balance.formatted, { exact: true }).waitFor();
  await page.getByRole('radio', { name: 'Card' }).check();
  await page.getByRole('checkbox', { name: 'Use my store credit' }).check();
  await page.getByRole('button', { name: /Place order/ }).click();
  await page.getByRole('status').getByText('Thank you').waitFor();
  const id = /#\/orders\/(\d+)/.exec(page.url())[1];
  const o = await env.srv.get(`/api/v1/orders/${id}`, { token: c.token });
  assert.equal(o.status, 200, o.text);
  return o.json;
}

test('checkout offers the store credit; "max" pays what it covers, the rest stays due', async () => {
  const sku = await skuSupply(env.srv, 100)();
  const c = await customer(env.srv, 'IN');
  const page = await pageOf(c);

  // no credit yet: no box (nor when the balance cannot be read)
  assert.equal((await balanceOf(c)).amount, 0);
  await fillCart(c, sku, 1);
  const noBox = async () => {
    const read = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/store-credit');
    await page.goto(`/?v=${++visits}#/checkout`);
    await read;
    await page.locator('.totals').waitFor();
    await page.waitForTimeout(200); // time to render what the answer would show
    assert.equal(await page.locator('input[name=store_credit]').count(), 0);
  };
  await noBox();

  await earn(c, sku, 2);
  const bal = await balanceOf(c);
  assert.ok(bal.amount > 0);
  await page.route('**/api/v1/store-credit', (r) => r.fulfill({ status: 500, contentType: 'application/json', body: '{"error":{"code":"internal","message":"x"}}' }));
  await noBox();
  await page.unroute('**/api/v1/store-credit');

  // one unit: the credit covers it; the order is paid at once and no payment step is offered
  const g1 = await fillCart(c, sku, 1);
  assert.ok(g1.amount <= bal.amount, `${g1.amount} <= ${bal.amount}`);
  await page.goto(`/?v=${++visits}#/checkout`);
  await page.getByTestId('credit-balance').getByText(bal.formatted, { exact: true }).waitFor();
  await page.getByRole('checkbox', { name: 'Use my store credit' }).waitFor();
  await page.addScriptTag({ path: AXE });
  const axe = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.deepEqual(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id), []);
  await env.shot(page, 'storefront-checkout-store-credit');

  const o1 = await checkOutWithCredit(page, c, bal);
  assert.equal(o1.totals.store_credit.amount, Math.min(bal.amount, o1.totals.grand_total.amount));
  assert.equal(o1.totals.amount_due.amount, 0);
  assert.equal(o1.status, 'paid');
  assert.equal(await page.getByTestId('order-status').getAttribute('data-status'), 'paid');
  assert.equal(await page.getByTestId('store-credit').textContent(), `−${o1.totals.store_credit.formatted}`);
  assert.equal(await page.getByTestId('amount-due').textContent(), o1.totals.amount_due.formatted);
  assert.equal(await page.getByRole('button', { name: /^Pay/ }).count(), 0, 'no payment step');
  const left = await balanceOf(c);
  assert.equal(left.amount, bal.amount - o1.totals.store_credit.amount);
  assert.ok(left.amount > 0, 'some credit left for the next order');
  await env.shot(page, 'storefront-order-paid-with-credit');

  // three units: more than what is left; all of it applies, the card is asked for the rest
  const g2 = await fillCart(c, sku, 3);
  assert.ok(g2.amount > left.amount, `${g2.amount} > ${left.amount}`);
  const o2 = await checkOutWithCredit(page, c, left);
  assert.equal(o2.totals.store_credit.amount, Math.min(left.amount, o2.totals.grand_total.amount));
  assert.equal(o2.totals.amount_due.amount, o2.totals.grand_total.amount - left.amount);
  assert.equal(o2.status, 'pending_payment');
  assert.equal(await page.getByTestId('store-credit').textContent(), `−${o2.totals.store_credit.formatted}`);
  assert.equal(await page.getByTestId('amount-due').textContent(), o2.totals.amount_due.formatted);
  await page.getByRole('button', { name: 'Pay', exact: true }).waitFor();
  assert.equal((await balanceOf(c)).amount, 0);
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
