// The storefront speaks the shopper's language, not only the catalogue: a shopper switches the country to
// Vietnam, then to Russia, and the page's own labels, buttons, messages, country names, statuses, dates and
// percentages follow (web/src/i18n.js; numbers and dates by Intl), with no English left in the page's chrome.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, signIn } from './browser.mjs';
import { customer } from '../api/helpers.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

// English words of the header and the catalogue's filters: none may be left once the language is not English.
const ENGLISH = ['Shop', 'Flash sales', 'Cart', 'Log in', 'Country', 'Language', 'Search products', 'Category', 'All categories',
  'Sort', 'Relevance', 'Price: low to high', 'Skip to content'];
async function noEnglish(page) {
  const text = await page.evaluate(() => [...document.querySelectorAll('header, form.filters')]
    .map((e) => `${e.innerText}\n${[...e.querySelectorAll('option, [aria-label]')].map((o) => o.textContent + ' ' + (o.getAttribute('aria-label') || '')).join('\n')}`)
    .join('\n'));
  const lines = text.split('\n').map((s) => s.trim());
  assert.deepEqual(ENGLISH.filter((w) => lines.includes(w)), [], text);
}

test('switching the country to Vietnam, then to Russia: the storefront\'s words in Vietnamese, then in Russian', async () => {
  const page = await env.page({ locale: 'en-US' });
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  await page.getByRole('combobox', { name: /Country|देश/ }).selectOption('VN');

  // Vietnam: the country's language is chosen, and every label of the page is Vietnamese
  await page.getByRole('combobox', { name: 'Quốc gia' }).waitFor();
  assert.equal(await page.getByRole('combobox', { name: 'Ngôn ngữ' }).inputValue(), 'vi');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'vi');
  const nav = page.getByRole('navigation', { name: 'Chính' });
  await nav.getByRole('link', { name: 'Cửa hàng' }).waitFor();
  await nav.getByRole('link', { name: 'Giỏ hàng' }).waitFor();
  await nav.getByRole('link', { name: 'Đăng nhập' }).waitFor();
  await page.getByRole('searchbox', { name: 'Tìm sản phẩm' }).waitFor();
  assert.deepEqual(await page.getByRole('combobox', { name: 'Sắp xếp' }).locator('option').allTextContents(),
    ['Liên quan', 'Giá: thấp đến cao', 'Giá: cao đến thấp', 'Mới nhất']);
  await page.locator('.grid .card .price').filter({ hasText: '₫' }).first().waitFor();
  // the other countries named in Vietnamese too (the API names a country in its own languages and English)
  assert.equal(await page.locator('#pick-country option[value=DE]').textContent(), 'Đức');
  await noEnglish(page);
  await env.shot(page, 'storefront-vi-catalogue');

  await page.locator('.grid .card-link').first().click();
  await page.getByRole('button', { name: 'Thêm vào giỏ hàng' }).click();
  await page.getByRole('status').getByText('Đã thêm vào giỏ hàng.').waitFor();
  await page.getByText(/^(Còn hàng|Sắp hết hàng)$/).waitFor();
  await page.getByLabel('Số lượng').waitFor();
  await env.shot(page, 'storefront-vi-product');

  // Russia: the same page, now Russian
  await page.getByRole('combobox', { name: 'Quốc gia' }).selectOption('RU');
  await page.getByRole('combobox', { name: 'Страна' }).waitFor();
  assert.equal(await page.getByRole('combobox', { name: 'Язык' }).inputValue(), 'ru');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'ru');
  const ru = page.getByRole('navigation', { name: 'Главное меню' });
  await ru.getByRole('link', { name: 'Корзина' }).waitFor();
  await ru.getByRole('link', { name: 'Магазин' }).click();
  await page.getByRole('searchbox', { name: 'Поиск товаров' }).waitFor();
  assert.deepEqual(await page.getByRole('combobox', { name: 'Сортировка' }).locator('option').allTextContents(),
    ['По релевантности', 'Сначала дешевле', 'Сначала дороже', 'Сначала новые']);
  await page.locator('.grid .card .price').filter({ hasText: '₽' }).first().waitFor();
  assert.equal(await page.locator('#pick-country option[value=IN]').textContent(), 'Индия');
  await noEnglish(page);
  await env.shot(page, 'storefront-ru-catalogue');
  await page.locator('.grid .card-link').first().click();
  await page.getByRole('button', { name: 'В корзину' }).waitFor();
  await page.getByText(/^(В наличии|Осталось мало)$/).waitFor();
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('a Russian shopper\'s order: status, payment method, date and tax rate in Russian', async () => {
  const shopper = await customer(env.srv, 'RU', { address: { name: 'Иван Петров', line1: 'ул. Тверская, 1', city: 'Москва', postal_code: '125009', phone: '+79161234567' } });
  const pid = (await env.srv.get('/api/v1/products?country=RU&per_page=1')).json.items[0].id;
  const sku = (await env.srv.get(`/api/v1/products/${pid}?country=RU`)).json.skus.find((s) => s.stock_state !== 'out_of_stock').code;
  await env.srv.api('POST', '/api/v1/cart/items', { token: shopper.token, body: { sku, quantity: 1 } });
  const order = await env.srv.api('POST', '/api/v1/orders', { token: shopper.token, body: { payment_method: 'cod' } });
  assert.equal(order.status, 201, order.text);

  const page = await env.page({ locale: 'en-US' });
  await signIn(page, shopper, 'RU', 'ru');
  await page.goto(`/#/orders/${order.json.id}`);
  await page.getByRole('heading', { name: `Заказ ${order.json.number}` }).waitFor();
  const status = page.getByTestId('order-status');
  assert.equal(await status.getAttribute('data-status'), 'pending_shipment');
  assert.equal(await status.textContent(), 'ожидает отправки');
  const line = await status.locator('xpath=..').textContent();
  assert.match(line, /Способ оплаты: Оплата при получении \(не оплачен\)/);
  assert.match(line, /\d{4}\sг\./); // the date as Russian writes it (Intl): "3 дек. 2026 г., 14:05"
  assert.match(await page.locator('dt.tax-line').first().textContent(), /\d\s%$/); // "20 %": Intl's Russian percent
  await page.getByRole('heading', { name: 'Налоги' }).waitFor();
  await page.getByRole('button', { name: 'Отменить заказ' }).waitFor();
  await env.shot(page, 'storefront-ru-order');

  await page.getByRole('link', { name: /Мои заказы/ }).click();
  const row = page.getByRole('row').filter({ hasText: order.json.number });
  await row.getByText('ожидает отправки').waitFor();
  await row.getByRole('button', { name: `Отменить заказ ${order.json.number}` }).click();
  await row.getByText('отменён').waitFor();
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('a language chosen while a country pick still waits for /route is kept (the pick does not put back the old one)', async () => {
  const page = await env.page({ locale: 'en-US' });
  await page.goto('/');
  await page.locator('.grid .card').first().waitFor();
  assert.equal(await page.getByRole('combobox', { name: 'भाषा' }).inputValue(), 'hi'); // a first visit: India, in Hindi
  let release;
  const held = new Promise((r) => { release = r; });
  let asked = 0;
  await page.route('**/api/v1/route?*', async (route) => { asked++; await held; await route.continue(); });
  await page.getByRole('combobox', { name: 'देश' }).selectOption('IN');
  await page.getByRole('combobox', { name: 'भाषा' }).selectOption('en');
  await page.getByRole('searchbox', { name: 'Search products' }).waitFor();
  assert.equal(asked, 1);
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/route'));
  release();
  await answered;
  await page.waitForTimeout(300); // the pick's answer is handled after the response arrives
  assert.equal(await page.getByRole('combobox', { name: 'Language' }).inputValue(), 'en');
  await page.getByRole('searchbox', { name: 'Search products' }).waitFor();
});
