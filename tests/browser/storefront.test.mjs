// A shopper in India: browses, adds a phone, registers (the guest cart merges), adds an address with an
// Indian PIN code and state, checks out with cash on delivery, sees the GST split (CGST + SGST) on the
// confirmation, finds the order in the history and cancels it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './browser.mjs';
import { png } from '../api/helpers.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('India: browse, cart, register, address errors, COD checkout with the GST split, history, cancel', async () => {
  const page = await env.page();
  await page.goto('/');
  // A first visit starts in the country's own language (Hindi for India); the shopper picks English
  await page.getByRole('combobox', { name: /Country|देश/ }).selectOption('IN');
  await page.getByRole('combobox', { name: /Language|भाषा/ }).selectOption('en');
  await page.getByRole('searchbox', { name: 'Search products' }).fill('Meridian X1');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: /Meridian X1 Smartphone/ }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Meridian X1 Smartphone' }).waitFor();
  await env.shot(page, 'storefront-product');
  // The price follows the SKU chosen by its attributes
  await page.getByRole('radio', { name: '256 GB' }).check();
  await page.getByText('₹30,399.99').first().waitFor();
  await page.getByRole('radio', { name: '128 GB' }).check();
  await page.getByText('₹26,499.99').first().waitFor();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByRole('status').getByText('Added to your cart.').waitFor();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('heading', { name: 'Cart' }).waitFor();
  await page.getByText('₹26,499.99').first().waitFor();
  await env.shot(page, 'storefront-cart');
  await page.getByRole('link', { name: 'Check out' }).click();

  // Log in page -> register (the guest cart is merged on login)
  await page.getByRole('link', { name: 'Create account' }).click();
  const email = `asha-${Date.now()}@example.test`;
  await page.getByLabel('Name').fill('Asha Rao');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.getByRole('heading', { name: 'Check out' }).waitFor();
  // An address with a wrong PIN code: the API's error is shown at the field it names, and focused
  const form = page.locator('form.address-form');
  await form.getByLabel('Name').fill('Asha Rao');
  await form.getByLabel('Address', { exact: true }).fill('12 MG Road');
  await form.getByLabel('City').fill('Mumbai');
  await form.getByLabel('State / province').selectOption('MH');
  // the states offered are the ones checkout accepts, from the country's own data (Telangana is TS, not TG)
  const offered = await form.getByLabel('State / province').locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  const india = (await env.srv.get('/api/v1/countries')).json.countries.find((c) => c.code === 'IN');
  assert.deepEqual(offered, india.address.states);
  assert.ok(offered.includes('TS') && offered.includes('CG') && !offered.includes('TG'));
  await form.getByLabel('Postal code').fill('40001');
  await form.getByLabel('Phone').fill('+919812345678');
  await form.getByRole('button', { name: 'Save' }).click();
  const pinError = form.locator('.field.has-error').filter({ has: page.getByLabel('Postal code') });
  await pinError.getByRole('alert').waitFor();
  assert.match(await pinError.getByRole('alert').textContent(), /postal code/i);
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'postal_code');
  await env.shot(page, 'storefront-address-error');
  await form.getByLabel('Postal code').fill('400001');
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('12 MG Road').first().waitFor();

  await page.getByRole('radio', { name: /Cash on delivery/ }).check();
  await env.shot(page, 'storefront-checkout');
  await page.getByRole('button', { name: /Place order/ }).click();
  await page.getByRole('status').getByText('Thank you').waitFor();
  // the rates as the locale writes a percentage (Intl: "9%" in English)
  await page.getByText('CGST 9%').waitFor();
  await page.getByText('SGST 9%').waitFor();
  const cgst = await page.locator('dd[data-kind="CGST"]').textContent();
  const sgst = await page.locator('dd[data-kind="SGST"]').textContent();
  assert.match(cgst, /^₹[\d,]+\.\d\d$/);
  assert.match(sgst, /^₹[\d,]+\.\d\d$/);
  assert.equal(await page.getByTestId('grand-total').textContent(), '₹26,499.99');
  assert.equal(await page.getByTestId('order-status').textContent(), 'pending shipment');
  const number = await page.getByTestId('order-number').textContent();
  assert.match(number, /^IN-\d{4}-\d+$/);
  await env.shot(page, 'storefront-order-confirmation');

  // The API agrees: the order the page shows is the shopper's, with the same split
  await page.getByRole('link', { name: /Your orders/ }).click();
  const row = page.getByRole('row').filter({ hasText: number });
  await row.waitFor();
  await env.shot(page, 'storefront-account');
  await row.getByRole('button', { name: `Cancel order ${number}` }).click();
  await row.getByText('cancelled').waitFor();
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('a phone-sized screen: the catalogue and a product page fit 360 px without sideways scrolling', async () => {
  const page = await env.page({ width: 360, height: 740 });
  await page.goto('/#/p/1');
  await page.getByRole('button', { name: /Add to cart|कार्ट में डालें/ }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow} px wider than the screen`);
  await env.shot(page, 'storefront-product-360');
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow2 <= 0, `catalogue is ${overflow2} px wider than the screen`);
  await env.shot(page, 'storefront-catalogue-360');
});

test('a returning shopper\'s product page paints from one API call, without waiting for the country list', async () => {
  const page = await env.page();
  await page.addInitScript(() => { localStorage.setItem('mer.country', '"IN"'); localStorage.setItem('mer.lang', '"en"'); });
  let release;
  const held = new Promise((r) => { release = r; });
  const api = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/api/')) api.push(u.pathname); });
  await page.route('**/api/v1/countries', async (route) => { await held; await route.continue(); });
  await page.goto('/#/p/1', { waitUntil: 'commit' });
  await page.getByRole('heading', { level: 1, name: 'Meridian X1 Smartphone' }).waitFor();
  await page.getByText('₹26,499.99').first().waitFor();
  release();
  await page.getByRole('combobox', { name: 'Country' }).locator('option[value=IN]').waitFor({ state: 'attached' });
  assert.deepEqual(api.filter((p) => p !== '/api/v1/cart' && !p.endsWith('/media')).slice(0, 2).sort(), ['/api/v1/countries', '/api/v1/products/1']);
});

test('a guest\'s cart flags a price that changed since the phone was added', async () => {
  const page = await env.page();
  await page.addInitScript(() => { localStorage.setItem('mer.country', '"IN"'); localStorage.setItem('mer.lang', '"en"'); });
  await page.goto('/#/p/2');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByRole('status').getByText('Added to your cart.').waitFor();
  const sku = (await env.srv.get('/api/v1/products/2?country=IN&lang=en')).json.skus[0];
  const put = await env.srv.api('PUT', '/api/v1/admin/prices', { token: env.srv.adminToken, body: { prices: [{ sku: sku.code, country: 'IN', amount: sku.price.amount + 100000 }] } });
  assert.ok(put.status < 300, put.text);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Cart/ }).click();
  await page.locator('.line .flag').getByText('Price changed').waitFor();
  await env.shot(page, 'storefront-cart-price-changed');
});

test('the product page shows the product\'s photo with its alt text in the shopper\'s language', async () => {
  const pid = (await env.srv.get('/api/v1/products?country=ES&per_page=1')).json.items[0].id;
  const up = await env.srv.api('POST', `/api/v1/admin/products/${pid}/media`, { token: env.srv.adminToken, raw: png(640, 480), headers: { 'content-type': 'image/png' } });
  assert.equal(up.status, 201, up.text);
  const alt = await env.srv.api('PATCH', `/api/v1/admin/media/${up.json.id}`, { token: env.srv.adminToken, body: { alt: { en: 'The phone, front', es: 'El teléfono, de frente' } } });
  assert.equal(alt.status, 200, alt.text);
  const page = await env.page();
  await page.addInitScript(() => { localStorage.setItem('mer.country', '"ES"'); localStorage.setItem('mer.lang', '"es"'); });
  await page.goto(`/#/p/${pid}`);
  const img = page.getByRole('img', { name: 'El teléfono, de frente' });
  await img.waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('.photo > img'); return i && i.complete && i.naturalWidth > 0; });
  assert.match(await img.evaluate((i) => i.currentSrc), /\/media\/[0-9a-f]{64}\/(medium|large)\.webp$/);
  await env.shot(page, 'storefront-product-photo');
});

test('sorting the catalogue asks the API for the order over every match, not this page', async () => {
  const page = await env.page();
  await page.addInitScript(() => { localStorage.setItem('mer.country', '"IN"'); localStorage.setItem('mer.lang', '"en"'); });
  const asked = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname === '/api/v1/products') asked.push(u.searchParams.get('sort')); });
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  await page.getByRole('combobox', { name: 'Sort' }).selectOption('price_desc');
  await page.waitForFunction(() => location.hash.includes('sort=price_desc'));
  await page.locator('.grid .card').first().waitFor();
  assert.ok(asked.includes('price_desc'), JSON.stringify(asked));
  const top = (await env.srv.get('/api/v1/products?country=IN&lang=en&sort=price_desc&per_page=1')).json.items[0];
  await page.locator('.grid .card').first().getByText(top.name).waitFor();
});
