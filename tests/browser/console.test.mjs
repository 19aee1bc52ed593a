// An operator for India logs in to the console with a password, finds a customer's order, ships it,
// marks it delivered (cash on delivery is paid then) and refunds one unit of a line; the API agrees. Then
// changes India's cash-on-delivery limit: a wrong one is refused at the field, a right one is saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { start } from './browser.mjs';
import { BIN, customer } from '../api/helpers.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('an operator ships an order, refunds a line and sets the COD limit', async () => {
  const { srv } = env;
  execFileSync(BIN, ['admin', 'create', '--data', srv.dataDir, '--email', 'ops-in@example.test', '--role', 'operator', '--countries', 'IN'],
    { input: 'a long operator password\n', stdio: ['pipe', 'pipe', 'pipe'] });
  const c = await customer(srv, 'IN');
  const add = await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: 'MER-010-01-1', quantity: 2 } });
  assert.equal(add.status, 200, add.text);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod' } });
  assert.equal(o.status, 201, o.text);
  const number = o.json.number;

  const page = await env.page();
  await page.goto('/admin/');
  // a wrong password: the API's answer is shown, nothing else happens
  await page.getByLabel('Email').fill('ops-in@example.test');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel('Password').fill('a long operator password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Orders · IN' }).waitFor();
  await env.shot(page, 'console-orders');
  await page.getByRole('link', { name: number }).click();
  await page.getByRole('heading', { name: new RegExp(`Order ${number}`) }).waitFor();

  await page.getByLabel('Tracking number').fill('TRK-123456');
  await page.getByRole('button', { name: 'Ship' }).click();
  await page.getByRole('status').getByText('Order shipped.').waitFor();
  await page.getByRole('heading', { name: new RegExp(`Order ${number}`) }).getByText('shipped').waitFor();
  await page.getByRole('button', { name: 'Mark delivered' }).click();
  await page.getByRole('status').getByText('Order delivered.').waitFor();
  await page.getByRole('heading', { name: new RegExp(`Order ${number}`) }).getByText('delivered').waitFor();

  await page.getByLabel('Refund units of line 1').fill('1');
  await page.getByLabel('Refund reason').fill('customer returned one speaker');
  await page.getByRole('button', { name: 'Refund selected units' }).click();
  await page.getByRole('status').getByText('Refund requested.').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=refunded]')?.textContent === '₹8,759.99');
  await env.shot(page, 'console-order-refunded');

  // Countries (an admin's business): the API's validation error is shown at the field, nothing changes;
  // a valid limit is saved
  const adminPage = await env.page();
  await adminPage.addInitScript((t) => sessionStorage.setItem('mer.staff', t), srv.adminToken);
  await adminPage.goto('/admin/#/countries');
  await checkCountries(adminPage);
  await adminPage.close();

  const after_ = await srv.api('GET', `/api/v1/admin/orders/${o.json.id}?country=IN`, { token: srv.adminToken });
  assert.equal(after_.json.status, 'delivered');
  assert.equal(after_.json.totals.refunded.amount, 875999);
  assert.equal(after_.json.lines[0].refunded_quantity, 1);
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

async function checkCountries(page) {
  const { srv } = env;
  await page.getByRole('button', { name: 'Save IN' }).waitFor();
  const limit = page.getByLabel(/Cash-on-delivery limit/);
  await limit.fill('-5');
  await page.getByRole('button', { name: 'Save IN' }).click();
  await page.locator('.field.has-error').getByRole('alert').waitFor();
  await page.waitForFunction(() => document.activeElement?.name === 'payment_methods');
  await env.shot(page, 'console-country-error');
  const unchanged = (await srv.get('/api/v1/countries')).json.countries.find((x) => x.code === 'IN');
  assert.equal(unchanged.payment_methods.find((m) => m.method === 'cod').max_amount, 5000000);
  await limit.fill('60000'); // rupees, typed as the currency shows them
  await page.getByRole('button', { name: 'Save IN' }).click();
  await page.getByRole('status').getByText('Saved.').waitFor();
  const changed = (await srv.get('/api/v1/countries')).json.countries.find((x) => x.code === 'IN');
  assert.equal(changed.payment_methods.find((m) => m.method === 'cod').max_amount, 6000000);
}
