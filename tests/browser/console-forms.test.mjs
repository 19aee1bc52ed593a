// The console's create forms, in a browser: an admin creates a flash sale (times typed in India's local time,
// the flash price in rupees) after the API refused a session ending before it starts, at that session's
// end field; a coupon (percent off, a cap in rupees) after a code the API refuses; a webhook subscription
// after a URL the API refuses, then stops it. Then prices typed in major units: rupees with paise and a
// 0-decimal currency (VND); the API stores the exact minor units, and an amount with a decimal comma is
// refused at its input before anything is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './browser.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

async function adminPage(hash) {
  const page = await env.page();
  await page.addInitScript((t) => sessionStorage.setItem('mer.staff', t), env.srv.adminToken);
  await page.goto(`/admin/#${hash}`);
  return page;
}
// the .field around the input of that name shows an alert, and that input has the focus
async function errorAt(page, name) {
  const field = page.locator('.field.has-error', { has: page.locator(`[name="${name}"]`) });
  await field.getByRole('alert').waitFor();
  await page.waitForFunction((n) => document.activeElement?.name === n, name);
  return (await field.getByRole('alert').textContent()).trim();
}

test('an admin creates a flash sale, a coupon and a webhook with the console forms', async () => {
  const { srv } = env;
  const T = srv.adminToken;
  const page = await adminPage('/flash');
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'New flash sale' }) });
  await form.getByRole('heading').waitFor();
  await form.getByLabel('Title (en)').fill('Republic Day launch');
  await form.getByLabel('Title (hi), optional').fill('गणतंत्र दिवस लॉन्च');
  // times are India's wall clock (UTC+05:30); the end before the start: the API names sessions[0].ends_at
  await form.getByLabel('Starts (Asia/Kolkata)').fill('2031-01-26T10:00');
  await form.getByLabel('Ends (Asia/Kolkata)').fill('2031-01-26T09:00');
  await form.getByLabel('SKU 1', { exact: true }).fill('MER-001-01-1');
  await form.getByLabel('Flash price of SKU 1 (INR)').fill('18,999.50');
  await form.getByText('= ₹18,999.50').waitFor();
  await form.getByLabel('Units of SKU 1').fill('5');
  await form.getByRole('button', { name: 'Create flash sale' }).click();
  const msg = await errorAt(page, 'sessions[0].ends_at');
  assert.ok(msg.length > 0);
  await env.shot(page, 'console-flash-form-error');
  assert.equal((await srv.get('/api/v1/flash-sales?country=IN')).json.sales.length, 0, 'nothing was created');

  await form.getByLabel('Ends (Asia/Kolkata)').fill('2031-01-26T10:30');
  await form.getByText('= 2031-01-26 05:00 UTC').waitFor();
  await form.getByRole('button', { name: 'Create flash sale' }).click();
  const ok = await page.getByRole('status').filter({ hasText: /Flash sale \d+ created/ }).textContent();
  const id = Number(/Flash sale (\d+)/.exec(ok)[1]);
  const { sale } = (await srv.get(`/api/v1/flash-sales/${id}?lang=hi`)).json;
  assert.equal(sale.country, 'IN');
  assert.equal(sale.title, 'गणतंत्र दिवस लॉन्च');
  const s = sale.sessions[0];
  assert.equal(Date.parse(s.starts_at), Date.parse('2031-01-26T04:30:00Z'));
  assert.equal(Date.parse(s.ends_at), Date.parse('2031-01-26T05:00:00Z'));
  assert.equal(s.mode, 'fcfs');
  const stats = (await srv.get(`/api/v1/admin/flash-sales/${id}/stats`, { token: T })).json.sessions[0];
  assert.equal(stats.items[0].sku, 'MER-001-01-1');
  assert.equal(stats.items[0].units, 5);
  assert.equal(s.items[0].flash_price.amount, 1899950, 'the flash price in paise');

  // a sale in Spain (chosen in the form): euros, Madrid's clock in summer (UTC+2) and in winter (UTC+1);
  // a second SKU in the first session, a second session in queue mode with a reservation window
  await page.goto('/admin/#/flash');
  await page.reload(); // a fresh form: the first sale's page (its live view, its reloads) is gone
  // the form is ready (its default country, India, rendered) before another country is chosen: a choice
  // made earlier would be replaced by the default once the page has loaded
  await form.getByLabel('Starts (Asia/Kolkata)').waitFor();
  await form.getByLabel('Country').selectOption('ES');
  await form.getByLabel('Starts (Europe/Madrid)').waitFor();
  await form.getByLabel('Title (es), optional').fill('Lanzamiento');
  await form.getByLabel('Title (en)').fill('Launch');
  await form.getByLabel('Starts (Europe/Madrid)').fill('2031-07-01T20:00');
  await form.getByLabel('Ends (Europe/Madrid)').fill('2031-07-01T21:00');
  await form.getByLabel('SKU 1', { exact: true }).fill('MER-001-01-1');
  await form.getByLabel('Flash price of SKU 1 (EUR)').fill('499');
  await form.getByLabel('Units of SKU 1').fill('3');
  await form.getByRole('button', { name: 'Add a SKU to session 1' }).click();
  await form.getByLabel('SKU 2', { exact: true }).fill('MER-001-01-2');
  await form.getByLabel('Flash price of SKU 2 (EUR)').fill('1,099.90');
  await form.getByLabel('Units of SKU 2').fill('2');
  await form.getByRole('button', { name: 'Add a session' }).click();
  const s2 = form.getByRole('group', { name: 'Session 2' });
  await s2.getByLabel('Starts (Europe/Madrid)').fill('2031-12-01T20:00');
  await s2.getByLabel('Ends (Europe/Madrid)').fill('2031-12-01T20:30');
  await s2.getByLabel('Mode', { exact: true }).selectOption('queue');
  await s2.getByLabel('Reservation required').check();
  await s2.getByLabel('Reservations open (Europe/Madrid)').fill('2031-11-30T09:00');
  await s2.getByLabel('Reservations close (Europe/Madrid)').fill('2031-12-01T19:55');
  await s2.getByLabel('SKU 1', { exact: true }).fill('MER-001-01-1');
  await s2.getByLabel('Flash price of SKU 1 (EUR)').fill('450.5');
  await s2.getByLabel('Units of SKU 1').fill('1');
  await form.getByRole('button', { name: 'Create flash sale' }).click();
  const ok2 = await page.getByRole('status').filter({ hasText: /Flash sale \d+ created/ }).textContent();
  const es = (await srv.get(`/api/v1/flash-sales/${/Flash sale (\d+)/.exec(ok2)[1]}?lang=es`)).json.sale;
  assert.equal(es.country, 'ES');
  assert.equal(es.title, 'Lanzamiento');
  assert.equal(Date.parse(es.sessions[0].starts_at), Date.parse('2031-07-01T18:00:00Z'));
  assert.equal(Date.parse(es.sessions[1].starts_at), Date.parse('2031-12-01T19:00:00Z'));
  assert.deepEqual(es.sessions[0].items.map((i) => [i.sku, i.flash_price.amount, i.units]), [['MER-001-01-1', 49900, 3], ['MER-001-01-2', 109990, 2]]);
  assert.equal(es.sessions[1].mode, 'queue');
  assert.equal(es.sessions[1].items[0].flash_price.amount, 45050);
  assert.equal(es.sessions[1].reservation.required, true);
  assert.equal(Date.parse(es.sessions[1].reservation.opens_at), Date.parse('2031-11-30T08:00:00Z'));

  // a coupon: a code the API refuses is shown at the code; then 12.5 % off, at most ₹500
  await page.goto('/admin/#/coupons');
  const cf = page.locator('form', { has: page.getByRole('heading', { name: 'New coupon' }) });
  await cf.getByLabel('Code').fill('NO WAY!');
  await cf.getByLabel('Percent off').fill('12.5');
  await cf.getByLabel('Largest discount, optional (INR)').fill('500');
  await cf.getByRole('button', { name: 'Create coupon' }).click();
  await errorAt(page, 'code');
  await env.shot(page, 'console-coupon-error');
  await cf.getByLabel('Code').fill('launch125');
  await cf.getByRole('button', { name: 'Create coupon' }).click();
  await page.getByRole('status').getByText('Coupon LAUNCH125 created.').waitFor();
  const row = page.locator('tr[data-code=LAUNCH125]');
  await row.getByText('active', { exact: true }).waitFor();
  await row.getByText('12.50 % (at most ₹500.00)').waitFor();
  const coupon = (await srv.get('/api/v1/admin/coupons?country=IN', { token: T })).json.coupons.find((c) => c.code === 'LAUNCH125');
  assert.equal(coupon.kind, 'percent');
  assert.equal(coupon.value, 1250, 'basis points');
  assert.equal(coupon.max_discount, 50000, 'paise');
  assert.equal(coupon.active, true);
  await row.getByRole('button', { name: 'Deactivate LAUNCH125' }).click();
  await row.getByText('inactive', { exact: true }).waitFor();
  await env.shot(page, 'console-coupons');
  assert.equal((await srv.get('/api/v1/admin/coupons?country=IN', { token: T })).json.coupons.find((c) => c.code === 'LAUNCH125').active, false);

  // a webhook: a URL the API refuses is shown at the URL; then one for order.paid, whose secret is shown once
  await page.goto('/admin/#/webhooks');
  const wf = page.locator('form', { has: page.getByRole('heading', { name: 'New subscription' }) });
  await wf.getByLabel('URL').fill('ftp://erp.example.com/meridian');
  await wf.getByRole('button', { name: 'Subscribe' }).click();
  await errorAt(page, 'url');
  await wf.getByLabel('URL').fill('https://erp.example.com/meridian');
  await wf.getByLabel('order.paid').check();
  await wf.getByRole('button', { name: 'Subscribe' }).click();
  const secret = await page.getByTestId('secret').textContent();
  assert.match(secret, /^whsec_[0-9a-f]{48}$/);
  const hooks = (await srv.get('/api/v1/admin/webhooks', { token: T })).json.webhooks;
  assert.equal(hooks.length, 1);
  assert.deepEqual(hooks[0].events, ['order.paid']);
  const hrow = page.locator(`tr[data-id="${hooks[0].id}"]`);
  await hrow.getByText('active', { exact: true }).waitFor();
  await hrow.getByRole('button', { name: `Stop ${hooks[0].id}` }).click();
  await hrow.getByText('stopped', { exact: true }).waitFor();
  assert.equal((await srv.get('/api/v1/admin/webhooks', { token: T })).json.webhooks[0].active, false);
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('prices are typed in major units and stored as exact minor units', async () => {
  const { srv } = env;
  const page = await adminPage('/products');
  // the first product sold in the country, its first SKU: a new price typed, its formatted value shown
  const setPrice = async (country, typed, shown) => {
    const p = (await srv.get(`/api/v1/products?country=${country}&lang=en&per_page=1`)).json.items[0];
    const code = (await srv.get(`/api/v1/products/${p.id}?country=${country}&lang=en`)).json.skus[0].code;
    await page.getByLabel('Search').fill(p.name);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: p.name, exact: true }).click();
    const input = page.getByLabel(`New price of ${code}`);
    await input.fill(typed);
    await page.getByText(`= ${shown}`).waitFor();
    await page.getByRole('button', { name: 'Save prices' }).click();
    await page.getByRole('status').getByText('Prices saved.').waitFor();
    await page.getByTestId(`price-${code}`).getByText(shown).waitFor();
    const after_ = (await srv.get(`/api/v1/products/${p.id}?country=${country}&lang=en`)).json.skus.find((s) => s.code === code);
    return { after: after_, input, code, product: p };
  };
  const inr = await setPrice('IN', '52,999.99', '₹52,999.99');
  assert.equal(inr.after.price.amount, 5299999, 'paise, exactly');
  // a decimal comma is refused at its input, focused, and nothing is sent
  await inr.input.fill('1299,99');
  await page.getByRole('button', { name: 'Save prices' }).click();
  await page.locator('td.has-error').getByRole('alert').waitFor();
  await page.waitForFunction((n) => document.activeElement?.name === n, `np-${inr.code}`);
  await env.shot(page, 'console-price-error');
  const still = (await srv.get(`/api/v1/products/${inr.product.id}?country=IN&lang=en`)).json.skus.find((s) => s.code === inr.code);
  assert.equal(still.price.amount, 5299999);

  // Vietnam's dong has no minor unit: 1,299,000 typed is 1299000 stored
  await page.getByLabel('Country', { exact: true }).selectOption('VN');
  await page.getByRole('heading', { name: 'Products and prices · VN' }).waitFor();
  const vnd = await setPrice('VN', '1,299,000', '₫1,299,000');
  assert.equal(vnd.after.price.amount, 1299000);
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
