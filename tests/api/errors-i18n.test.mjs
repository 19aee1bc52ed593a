// Errors in the shopper's language: ?lang=, Accept-Language, the country's language, then English; the
// code and the field never change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError, customer } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

function says(res, status, code, field, lang, message) {
  expectError(res, status, code, field);
  assert.equal(res.headers.get('content-language'), lang, res.text);
  if (message instanceof RegExp) assert.match(res.json.error.message, message);
  else assert.equal(res.json.error.message, message);
}

test('a validation error follows ?lang= with its fallback, then Accept-Language, then the country', async () => {
  const url = '/api/v1/products?country=ES&sort=cheapest';
  says(await srv.get(`${url}&lang=es`), 400, 'invalid_parameter', 'sort', 'es', 'sort debe ser relevance, price_asc, price_desc o newest');
  says(await srv.get(`${url}&lang=es-MX`), 400, 'invalid_parameter', 'sort', 'es', 'sort debe ser relevance, price_asc, price_desc o newest');
  says(await srv.get(`${url}&lang=de`), 400, 'invalid_parameter', 'sort', 'de', 'sort muss relevance, price_asc, price_desc oder newest sein');
  says(await srv.get(url, { headers: { 'accept-language': 'fr-CH, fr;q=0.9, en;q=0.5' } }), 400, 'invalid_parameter', 'sort', 'fr',
    'sort doit valoir relevance, price_asc, price_desc ou newest');
  // nothing asked: the country's language, as for texts
  says(await srv.get(url), 400, 'invalid_parameter', 'sort', 'es', 'sort debe ser relevance, price_asc, price_desc o newest');
  // English as before, word for word
  says(await srv.get(`${url}&lang=en`), 400, 'invalid_parameter', 'sort', 'en', 'sort must be one of relevance, price_asc, price_desc, newest');
  says(await srv.get('/api/v1/products?country=GB&sort=cheapest'), 400, 'invalid_parameter', 'sort', 'en', 'sort must be one of relevance, price_asc, price_desc, newest');
  // a language nobody translated falls through to the next one
  says(await srv.get(`${url}&lang=sw`), 400, 'invalid_parameter', 'sort', 'es', /^sort debe ser/);
  const page = await srv.get('/api/v1/products?country=TH&page=0');
  says(page, 400, 'invalid_parameter', 'page', 'th', 'page ต้องเป็นจำนวนเต็มตั้งแต่ 1 ถึง 10000');
  const hi = await srv.get('/api/v1/products?country=IN&lang=hi&per_page=500');
  says(hi, 400, 'invalid_parameter', 'per_page', 'hi', 'per_page 1 से 100 तक का पूर्णांक होना चाहिए');
});

test('a message without its own translation: the code\'s, then the English details', async () => {
  const r = await srv.get(`/api/v1/products?country=IT&lang=it&q=${'x'.repeat(101)}`);
  says(r, 400, 'invalid_parameter', 'q', 'it', 'un parametro ha un valore non valido (q is longer than 100 bytes)');
});

test('not found and unknown country, in Hindi, Russian and French', async () => {
  says(await srv.get('/api/v1/products/999999?country=IN&lang=hi'), 404, 'not_found', undefined, 'hi', 'उत्पाद 999999, IN में नहीं बिकता');
  says(await srv.get('/api/v1/products/999999?country=RU'), 404, 'not_found', undefined, 'ru', 'товар 999999 не продаётся в стране RU');
  says(await srv.get('/api/v1/products?country=XX&lang=fr'), 404, 'unknown_country', 'country', 'fr', 'le pays XX n\'est pas desservi par cette boutique');
});

test('authentication and log-in errors', async () => {
  says(await srv.get('/api/v1/users/me/addresses?lang=ru'), 401, 'unauthorized', undefined, 'ru', 'для этого вызова нужен токен Authorization: Bearer');
  says(await srv.get('/api/v1/users/me/addresses?lang=pl', { headers: { authorization: 'Bearer nope' } }), 401, 'unauthorized', undefined, 'pl',
    'token dostępu jest brakujący, błędny, wygasły lub unieważniony');
  const c = await customer(srv, 'VN');
  const login = await srv.api('POST', '/api/v1/sessions?lang=vi', { body: { email: c.email, password: 'not the password', country: 'VN' } });
  says(login, 401, 'unauthorized', undefined, 'vi', 'email, số điện thoại hoặc mật khẩu không đúng');
  const reg = await srv.api('POST', '/api/v1/users', { body: { email: 'x@example.test', country: 'ID' }, headers: { 'accept-language': 'id-ID' } });
  says(reg, 422, 'validation_failed', 'password', 'id', 'password wajib diisi');
});

test('out of stock at checkout, in the customer\'s country language', async () => {
  const c = await customer(srv, 'IN');
  const list = await srv.get('/api/v1/products?country=IN&category=phones&per_page=1');
  const p = await srv.get(`/api/v1/products/${list.json.items[0].id}?country=IN`);
  const sku = p.json.skus[0].code;
  for (const wh of ['WH-IN-MUM', 'WH-IN-BLR']) {
    const s = await srv.api('PUT', '/api/v1/admin/stock', { token: srv.adminToken, body: { sku, warehouse: wh, country: 'IN', on_hand: 0, reason: 'test' } });
    assert.equal(s.status, 200, s.text);
  }
  // no ?lang and no Accept-Language: the customer's country (India) speaks Hindi first
  const r = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku }] } });
  expectError(r, 409, 'conflict', 'lines');
  assert.equal(r.headers.get('content-language'), 'hi');
  assert.match(r.json.error.message, /[\u0900-\u097F]/, r.json.error.message);
  assert.ok(r.json.error.message.includes(sku), 'the SKU is named');
  const en = await srv.api('POST', '/api/v1/orders?lang=en', { token: c.token, body: { payment_method: 'card', lines: [{ sku }] } });
  expectError(en, 409, 'conflict', 'lines');
  assert.match(en.json.error.message, /^out of stock/);
});
