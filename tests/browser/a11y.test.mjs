// axe-core scans the main pages of the storefront and the console (as a shopper and an operator see
// them, with data): no serious or critical violation. Also: the keyboard reaches the catalogue, and each
// page's JavaScript stays within the 60 kB (compressed) budget as the server sends it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, WEB_DIR } from './browser.mjs';
import { customer } from '../api/helpers.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let env, shopper, order;
before(async () => {
  env = await start();
  shopper = await customer(env.srv, 'IN');
  await env.srv.api('POST', '/api/v1/cart/items', { token: shopper.token, body: { sku: 'MER-001-01-1', quantity: 1 } });
  order = (await env.srv.api('POST', '/api/v1/orders', { token: shopper.token, body: { payment_method: 'cod' } })).json;
  await env.srv.api('POST', '/api/v1/cart/items', { token: shopper.token, body: { sku: 'MER-010-01-1', quantity: 1 } });
});
after(async () => { await env?.stop(); });

async function scan(page, name) {
  await page.addScriptTag({ path: AXE });
  const r = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  if (process.env.AXE_DEBUG) console.log(name, r.violations.map((v) => `${v.id}:${v.impact}`).join(' '));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  await env.shot(page, `a11y-${name}`);
  return bad.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

test('no serious or critical axe violation on the storefront pages', async () => {
  const page = await env.page({ bypassCSP: true });
  await page.addInitScript(([token, user]) => {
    if (!sessionStorage.getItem('seeded')) {
      sessionStorage.setItem('seeded', '1');
      localStorage.setItem('mer.country', '"IN"');
      localStorage.setItem('mer.lang', '"hi"');
      if (token) { localStorage.setItem('mer.token', JSON.stringify(token)); localStorage.setItem('mer.user', JSON.stringify(user)); }
    }
  }, [null, null]);
  const found = [];
  let n = 0; // a new query string each time: a real page load (a hash change alone keeps the page's state)
  const visit = async (hash, ready, name) => {
    await page.goto(`/?v=${++n}${hash}`);
    await ready();
    found.push(...await scan(page, name));
  };
  await visit('#/', () => page.locator('.grid .card').first().waitFor(), 'catalogue-hi');
  await visit('#/p/1', () => page.locator('.product h1').waitFor(), 'product-hi');
  await visit('#/login', () => page.locator('form input[name=email]').waitFor(), 'login');
  await visit('#/register', () => page.locator('form input[name=name]').waitFor(), 'register');
  await visit('#/reset', () => page.locator('form input[name=email]').waitFor(), 'reset');
  await visit('#/reset?code=mpr_in_a11y', async () => {
    await page.locator('form input[name=new_password]').fill('a new password');
    await page.locator('form button[type=submit]').click();
    await page.locator('.field.has-error').getByRole('alert').waitFor();
  }, 'reset-code-error');
  await visit('#/sales', () => page.locator('main h1').waitFor(), 'sales');
  // as a logged-in customer
  await page.evaluate(([t, u]) => { localStorage.setItem('mer.token', JSON.stringify(t)); localStorage.setItem('mer.user', JSON.stringify(u)); localStorage.setItem('mer.lang', '"en"'); }, [shopper.token, shopper.user]);
  await visit('#/cart', () => page.locator('.lines .line').first().waitFor(), 'cart');
  await visit('#/checkout', () => page.locator('input[name=payment_method]').first().waitFor(), 'checkout');
  await visit(`#/orders/${order.id}`, () => page.getByTestId('order-number').waitFor(), 'order');
  await visit('#/account', () => page.locator('table.orders').waitFor(), 'account');
  assert.deepEqual(found, []);
});

test('no serious or critical axe violation on the console pages', async () => {
  const page = await env.page({ bypassCSP: true });
  const found = [];
  await page.goto('/admin/');
  await page.locator('input[name=email]').waitFor();
  found.push(...await scan(page, 'console-login'));
  await page.evaluate((t) => sessionStorage.setItem('mer.staff', t), env.srv.adminToken);
  let n = 0;
  const visit = async (hash, ready, name) => {
    await page.goto(`/admin/?v=${++n}${hash}`);
    await ready();
    found.push(...await scan(page, name));
  };
  await visit('#/orders', () => page.getByRole('link', { name: order.number }).waitFor(), 'console-orders');
  await visit(`#/orders/${order.id}`, () => page.getByRole('button', { name: 'Ship' }).waitFor(), 'console-order');
  await visit('#/countries', () => page.getByRole('button', { name: 'Save IN' }).waitFor(), 'console-countries');
  await visit('#/stock?sku=MER-001-01-1', () => page.getByRole('button', { name: 'Adjust' }).waitFor(), 'console-stock');
  await visit('#/flash', () => page.getByRole('button', { name: 'Create' }).waitFor(), 'console-flash');
  await visit('#/webhooks', () => page.getByRole('heading', { name: /Events/ }).waitFor(), 'console-webhooks');
  await visit('#/coupons', () => page.getByRole('button', { name: 'Create coupon' }).waitFor(), 'console-coupons');
  // the new-sale form with the API's error at a session's field, and a product's prices in major units
  await visit('#/flash', async () => {
    await page.getByLabel('Title (en)').fill('a11y');
    await page.getByRole('button', { name: 'Create flash sale' }).click();
    await page.locator('.field.has-error').getByRole('alert').waitFor();
  }, 'console-flash-error');
  await visit('#/products', async () => {
    await page.locator('main li button.link').first().click();
    await page.getByRole('button', { name: 'Save prices' }).waitFor();
  }, 'console-prices');
  assert.deepEqual(found, []);
});

test('the keyboard reaches the search box and a product from the top of the page', async () => {
  const page = await env.page();
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  let reached = null;
  for (let i = 0; i < 15 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => (document.activeElement.type === 'search' ? 'search' : null));
  }
  assert.equal(reached, 'search');
  await page.keyboard.type('Meridian X1');
  await page.keyboard.press('Enter');
  await page.locator('.grid .card').first().waitFor();
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.classList.contains('card-link'))) break;
  }
  await page.keyboard.press('Enter');
  await page.locator('.product h1').waitFor();
});

test('each page sends at most 60 kB of compressed JavaScript', async () => {
  const files = JSON.parse(readFileSync(join(WEB_DIR, 'sizes.json'), 'utf8'));
  for (const [pageName, scripts] of Object.entries(files)) {
    let total = 0;
    for (const f of scripts) {
      const r = await fetch(`${env.srv.base}/assets/${f}`, { headers: { 'accept-encoding': 'br' } });
      assert.equal(r.headers.get('content-encoding'), 'br');
      total += Number(r.headers.get('content-length')) || (await r.arrayBuffer()).byteLength;
    }
    assert.ok(total <= 60 * 1024, `${pageName}: ${total} bytes`);
  }
});
