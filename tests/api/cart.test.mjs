// Carts: what a login merge does with guest-cart lines that do not fit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, customer } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

// n SKUs sold in a country: [{ code, max_per_order }]
async function skus(country, n) {
  const out = [];
  for (let page = 1; out.length < n; page++) {
    const list = await srv.get(`/api/v1/products?country=${country}&per_page=50&page=${page}`);
    assert.ok(list.json.items.length > 0, 'the catalogue has enough SKUs');
    for (const item of list.json.items) {
      const p = await srv.get(`/api/v1/products/${item.id}?country=${country}`);
      for (const s of p.json.skus) if (s.price && out.length < n) out.push(s.code);
    }
  }
  return out;
}

test('login merge says which guest lines were dropped (cart full) or capped, and drops nothing silently', async () => {
  const codes = await skus('ES', 53);
  const c = await customer(srv, 'ES', { address: null });
  // the customer's cart: 48 lines, the first at its purchase limit
  for (const sku of codes.slice(0, 48)) {
    const r = await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku } });
    assert.equal(r.status, 200, r.text);
  }
  let cart = await srv.get('/api/v1/cart', { token: c.token });
  const limit = cart.json.lines.find((l) => l.sku === codes[0]).max_per_order;
  assert.equal((await srv.api('PATCH', `/api/v1/cart/items/${codes[0]}`, { token: c.token, body: { quantity: limit } })).status, 200);
  // the guest cart: one line the customer has too, and five new ones of which two fit
  const guestCodes = [codes[0], ...codes.slice(48, 53)];
  let cartId;
  for (const sku of guestCodes) {
    const r = await srv.api('POST', `/api/v1/cart/items?country=ES`, { body: { sku, quantity: 1 }, headers: cartId ? { 'x-cart-id': cartId } : {} });
    assert.equal(r.status, 200, r.text);
    cartId = r.headers.get('x-cart-id');
  }
  const login = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'ES' }, headers: { 'x-cart-id': cartId } });
  assert.equal(login.status, 201, login.text);
  const m = login.json.cart_merge;
  assert.ok(m, `the login answer reports the merge: ${login.text}`);
  assert.equal(m.merged, 3, 'the shared line and two new lines');
  assert.deepEqual(m.capped.map((x) => [x.sku, x.requested, x.quantity, x.reason]), [[codes[0], limit + 1, limit, 'quantity_capped']]);
  assert.equal(m.dropped.length, 3, 'five new lines, room for two');
  for (const d of m.dropped) {
    assert.equal(d.reason, 'cart_full');
    assert.equal(d.quantity, 1);
    assert.equal(d.sale_type, 'normal');
    assert.ok(guestCodes.includes(d.sku));
  }
  cart = await srv.get('/api/v1/cart', { token: login.json.token });
  assert.equal(cart.json.lines.length, 50, 'the cart holds at most 50 lines');
  const inCart = new Set(cart.json.lines.map((l) => l.sku));
  for (const sku of guestCodes) {
    const dropped = m.dropped.some((d) => d.sku === sku);
    assert.equal(inCart.has(sku), !dropped, `${sku} is either in the cart or reported dropped`);
  }
  assert.equal(cart.json.lines.find((l) => l.sku === codes[0]).quantity, limit);
});

test('login merge of a guest cart that fits reports nothing dropped; a stale cart id reports nothing', async () => {
  const [sku] = await skus('ES', 1);
  const c = await customer(srv, 'ES', { address: null });
  const g = await srv.api('POST', '/api/v1/cart/items?country=ES', { body: { sku, quantity: 2 } });
  const cartId = g.headers.get('x-cart-id');
  const login = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'ES' }, headers: { 'x-cart-id': cartId } });
  assert.equal(login.status, 201, login.text);
  assert.deepEqual(login.json.cart_merge, { merged: 1, dropped: [], capped: [] });
  const again = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'ES' }, headers: { 'x-cart-id': cartId } });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.cart_merge, undefined, 'the guest cart was merged already');
  const plain = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'ES' } });
  assert.equal(plain.json.cart_merge, undefined);
});
