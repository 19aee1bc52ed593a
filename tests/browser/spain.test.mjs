// A shopper in Spain browses in Spanish with prices in euros, registers, adds a Madrid address and pays
// with the wallet: the storefront sends her to the wallet simulator page (tools/wallet-page.mjs), she
// approves, the wallet's signed webhook pays the order and she is back on the order, paid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, WAIT } from './browser.mjs';
import { run } from '../api/helpers.mjs';
import { startWalletPage } from '../../tools/wallet-page.mjs';

let env, wallet;
const walletOpts = {};
before(async () => {
  wallet = await startWalletPage(walletOpts);
  env = await start({ args: ['--wallet-url', wallet.url] });
  walletOpts.base = env.srv.base;
  walletOpts.secret = run(['admin', 'provider-secret', 'wallet', '--data', env.srv.dataDir]);
});
after(async () => {
  await env?.stop();
  wallet?.server.close();
});

test('Spain: Spanish pages, € prices, wallet payment through the simulator page', async () => {
  const page = await env.page({ locale: 'es-ES' });
  await page.goto('/');
  await page.getByRole('combobox', { name: /Country|País|देश/ }).selectOption('ES');
  await page.getByRole('combobox', { name: 'Idioma' }).selectOption('es');
  // The catalogue in Spanish, prices in euros as Spain writes them
  await page.getByRole('searchbox', { name: 'Buscar productos' }).fill('Aster Charge 1');
  await page.getByRole('button', { name: 'Buscar productos' }).click();
  const card = page.getByRole('link', { name: /Aster Charge 1 Cargador rápido/ }).first();
  await card.waitFor();
  assert.match(await card.textContent(), /\d+,\d\d\s€/);
  await env.shot(page, 'storefront-es-catalogue');
  await card.click();
  await page.getByRole('button', { name: 'Añadir al carrito' }).click();
  await page.getByRole('status').getByText('Añadido al carrito.').waitFor();
  await page.getByRole('navigation', { name: 'Principal' }).getByRole('link', { name: /Carrito/ }).click();
  await page.getByRole('link', { name: 'Tramitar pedido' }).click();
  await page.getByRole('link', { name: 'Crear cuenta' }).click();
  await page.getByLabel('Nombre').fill('Lucía García');
  await page.getByLabel('Correo electrónico').fill(`lucia-${Date.now()}@example.test`);
  await page.getByLabel('Contraseña').fill('correct horse battery');
  await page.getByRole('button', { name: 'Crear cuenta' }).click();
  await page.getByRole('heading', { name: 'Tramitar pedido' }).waitFor();

  const form = page.locator('form.address-form');
  await form.getByLabel('Nombre').fill('Lucía García');
  await form.getByLabel('Dirección', { exact: true }).fill('Calle Mayor 5');
  await form.getByLabel('Ciudad').fill('Madrid');
  await form.getByLabel('Código postal').fill('28013');
  await form.getByLabel('Teléfono').fill('+34612345678');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await page.getByText('Calle Mayor 5').first().waitFor();
  // Spain offers card and wallet, no cash on delivery
  assert.equal(await page.getByRole('radio', { name: /Contra reembolso/ }).count(), 0);
  await page.getByRole('radio', { name: /Monedero/ }).check();
  await env.shot(page, 'storefront-es-checkout');
  await page.getByRole('button', { name: /Realizar pedido/ }).click();

  // The wallet simulator page, then back to the order, paid
  await page.waitForURL((u) => u.origin === wallet.url, { timeout: WAIT });
  await page.getByRole('heading', { name: 'Wallet simulator' }).waitFor();
  await env.shot(page, 'wallet-simulator');
  await page.getByRole('button', { name: 'Approve payment' }).click();
  await page.waitForURL((u) => u.origin === env.srv.base, { timeout: WAIT });
  await page.getByTestId('order-number').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=order-status]')?.dataset.status === 'paid', null, { timeout: WAIT });
  assert.equal(await page.getByTestId('order-status').textContent(), 'pagado');
  const total = await page.getByTestId('grand-total').textContent();
  assert.match(total, /^\d+,\d\d\s€$/);
  assert.match(await page.getByTestId('order-number').textContent(), /^ES-/);
  await page.getByText('VAT 21 %').or(page.getByText('IVA incluido')).first().waitFor();
  await env.shot(page, 'storefront-es-order-paid');
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
