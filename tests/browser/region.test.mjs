// A shopper on a node that serves only India picks Spain: the storefront follows the API's answer
// (/route: another region's site) to the node serving Spain, and the choice comes along.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, WEB_DIR } from './browser.mjs';
import { startServer } from '../api/helpers.mjs';

let eu, env;
before(async () => {
  eu = await startServer({ regions: 'eu', env: { MERIDIAN_WEB_DIR: WEB_DIR } });
  env = await start({ regions: 'in', args: ['--region-urls', `eu=${eu.base}`] });
});
after(async () => {
  await env?.stop();
  await eu?.stop();
});

test('picking a country of another region sends the shopper to that region\'s site, country and language kept', async () => {
  const route = await env.srv.get('/api/v1/route?country=ES');
  assert.equal(route.json.served_here, false);
  const page = await env.page();
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  await page.getByRole('combobox', { name: /Country|देश/ }).selectOption('ES');
  await page.waitForURL((u) => u.origin === eu.base);
  await page.locator('.grid .card').first().waitFor();
  assert.equal(await page.getByRole('combobox', { name: 'País' }).inputValue(), 'ES');
  assert.match(await page.locator('.grid .card .price').first().textContent(), /€/);
  await env.shot(page, 'storefront-region-redirect');
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
