// A flash sale of one unit with a proof of work: two shoppers watch the countdown (the server's clock);
// one grabs the unit (the proof solved in a Web Worker) and checks out with the purchase token, the
// other is told it is sold out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, WAIT } from './browser.mjs';
import { customer } from '../api/helpers.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

// A page whose shopper is already logged in (the token from the API, as the login page stores it).
async function shopperPage(c) {
  const page = await env.page();
  await page.addInitScript(([token, user]) => {
    localStorage.setItem('mer.token', JSON.stringify(token));
    localStorage.setItem('mer.user', JSON.stringify(user));
    localStorage.setItem('mer.country', '"IN"');
    localStorage.setItem('mer.lang', '"en"');
  }, [c.token, c.user]);
  return page;
}

test('one unit, two shoppers: the first grabs it with a proof of work and checks out, the second sees sold out', async () => {
  const { srv } = env;
  const [a, b] = [await customer(srv, 'IN'), await customer(srv, 'IN')];
  // the sale starts 15 s after it is created: time to open the pages and see the countdown
  const startsAt = new Date(Math.ceil((Date.now() + 15000) / 1000) * 1000);
  const sale = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: srv.adminToken,
    body: {
      country: 'IN', titles: { en: 'X1 launch' }, rules: { pow_bits: 12 },
      sessions: [{ starts_at: startsAt.toISOString().replace('.000', ''), ends_at: new Date(startsAt.getTime() + 1800000).toISOString().replace('.000', ''),
        mode: 'fcfs', cod_allowed: true, items: [{ sku: 'MER-001-01-1', price: 1999900, units: 1 }] }],
    },
  });
  assert.equal(sale.status, 201, sale.text);
  const pa = await shopperPage(a);
  const pb = await shopperPage(b);
  await pa.goto(`/#/sales/${sale.json.id}`);
  await pb.goto(`/#/sales/${sale.json.id}`);
  await pa.getByRole('heading', { level: 1, name: 'X1 launch' }).waitFor();
  await pa.getByText('₹19,999.00').waitFor();
  const countdown = pa.getByTestId('countdown');
  await countdown.waitFor();
  assert.match(await countdown.textContent(), /^00:00:\d\d$/);
  await env.shot(pa, 'storefront-flash-countdown');

  // The button comes alive when the server's clock reaches the start
  const buyA = pa.getByRole('button', { name: 'Buy now' });
  await pa.waitForFunction(() => { const x = [...document.querySelectorAll('button')].find((e) => e.textContent === 'Buy now'); return x && !x.disabled; }, null, { timeout: WAIT });
  await buyA.click();
  await pa.getByRole('link', { name: 'Check out this unit' }).waitFor({ timeout: WAIT });
  await env.shot(pa, 'storefront-flash-won');

  const buyB = pb.getByRole('button', { name: 'Buy now' });
  await pb.waitForFunction(() => { const x = [...document.querySelectorAll('button')].find((e) => e.textContent === 'Buy now'); return (x && !x.disabled) || /Sold out/.test(document.body.textContent); }, null, { timeout: WAIT });
  // the page may turn to "sold out" (the button goes) between the check and the click: then there is nothing
  // to click, and the assertion below still holds
  if (await buyB.isVisible() && await buyB.isEnabled()) await buyB.click({ timeout: 2000 }).catch(() => {});
  await pb.getByTestId('grab-result').or(pb.locator('.card .flag')).getByText('Sold out').first().waitFor({ timeout: WAIT });
  await env.shot(pb, 'storefront-flash-sold-out');

  await pa.getByRole('link', { name: 'Check out this unit' }).click();
  await pa.getByRole('heading', { name: 'Check out' }).waitFor();
  await pa.getByRole('radio', { name: /Cash on delivery/ }).check();
  await pa.getByRole('button', { name: /Place order/ }).click();
  await pa.getByRole('status').getByText('Thank you').waitFor();
  assert.equal(await pa.getByTestId('grand-total').textContent(), '₹19,999.00');
  await env.shot(pa, 'storefront-flash-order');

  const stats = await srv.api('GET', `/api/v1/admin/flash-sales/${sale.json.id}/stats`, { token: srv.adminToken });
  const sess = stats.json.sessions[0];
  assert.equal(sess.wins, 1);
  assert.equal(sess.items[0].left, 0);
  assert.equal(sess.refusals.challenge_failed, 0);
  const orders = await srv.api('GET', '/api/v1/orders', { token: a.token });
  assert.equal(orders.json.orders[0].grand_total.amount, 1999900);
  assert.deepEqual(pa.errors.filter((e) => !/Failed to load resource/.test(e)), []);

  // The operator watches the sale live in the console: wins, units left, refusals by reason, the chart
  const op = await env.page();
  await op.addInitScript((t) => sessionStorage.setItem('mer.staff', t), srv.adminToken);
  await op.goto(`/admin/#/flash?watch=${sale.json.id}`);
  await op.getByRole('heading', { name: `Sale ${sale.json.id}, live` }).waitFor();
  await op.waitForFunction(() => document.querySelector('[data-testid=units-left]')?.textContent === '0 / 1');
  assert.equal(await op.getByTestId('wins').textContent(), '1');
  await op.getByRole('img', { name: /Grabs per second/ }).waitFor();
  if (sess.refusals.sold_out > 0) assert.equal(await op.getByTestId('refusal-sold_out').textContent(), String(sess.refusals.sold_out));
  await env.shot(op, 'console-flash-live');
});

test('a queue-mode sale: the grab is queued, the page polls the voucher and the shopper wins a token', async () => {
  const { srv } = env;
  const c = await customer(srv, 'IN');
  const startsAt = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000);
  const sale = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: srv.adminToken,
    body: {
      country: 'IN', titles: { en: 'Queue sale' },
      sessions: [{ starts_at: startsAt.toISOString().replace('.000', ''), ends_at: new Date(startsAt.getTime() + 1800000).toISOString().replace('.000', ''),
        mode: 'queue', items: [{ sku: 'MER-001-01-2', price: 1999900, units: 5 }] }],
    },
  });
  assert.equal(sale.status, 201, sale.text);
  const page = await shopperPage(c);
  const grabs = [];
  page.on('response', (r) => { if (r.url().endsWith('/grab')) grabs.push(r.status()); });
  await page.goto(`/#/sales/${sale.json.id}`);
  await page.waitForFunction(() => { const x = [...document.querySelectorAll('button')].find((e) => e.textContent === 'Buy now'); return x && !x.disabled; }, null, { timeout: WAIT });
  await page.getByRole('button', { name: 'Buy now' }).click();
  await page.getByRole('link', { name: 'Check out this unit' }).waitFor({ timeout: WAIT });
  assert.deepEqual(grabs, [202]);
  await env.shot(page, 'storefront-flash-queue-won');
});
