// A product write applies to the snapshot product by product (issue 15 item 6): the change is visible to
// the next read (product page, listing, search), a renamed product is no longer found by its old name,
// a new brand joins the facets once the background index build has run, and categories still reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, until } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const search = async (q, extra = '') => (await srv.get(`/api/v1/products?country=IN&per_page=50&q=${encodeURIComponent(q)}${extra}`)).json;

test('create, rename, reprice, add a SKU: each visible to the next read, search included', async () => {
  const made = await srv.api('POST', '/api/v1/admin/products', { token: T, body: {
    slug: 'quokka-phone', brand: 'Quokkatel', category: 'phones',
    texts: { en: { name: 'Quokka Phone', description: 'Marsupial grade' } },
    skus: [{ code: 'QUOKKA-1', attributes: { colour: 'black' }, prices: { IN: 1000000 } }],
  } });
  assert.equal(made.status, 201, made.text);
  const id = made.json.id;
  assert.deepEqual((await search('quokka')).items.map((x) => x.id), [id]);
  assert.deepEqual((await search('quokkq')).items.map((x) => x.id), [id]); // a typo, in the delta too

  const patched = await srv.api('PATCH', `/api/v1/admin/products/${id}`, { token: T, body: { texts: { en: { name: 'Wombat Phone', description: 'Burrow grade' } } } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual((await search('wombat')).items.map((x) => x.id), [id]);
  assert.deepEqual((await search('marsupial')).items, []);
  const page = await srv.get(`/api/v1/products/${id}?country=IN&lang=en`);
  assert.equal(page.json.name, 'Wombat Phone');

  const priced = await srv.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: 'QUOKKA-1', country: 'IN', amount: 1200000 }] } });
  assert.equal(priced.status, 200, priced.text);
  assert.equal((await srv.get(`/api/v1/products/${id}?country=IN`)).json.skus[0].price.amount, 1200000);

  const sku = await srv.api('POST', `/api/v1/admin/products/${id}/skus`, { token: T, body: { code: 'QUOKKA-2', attributes: { colour: 'white' }, prices: { IN: 1300000 } } });
  assert.equal(sku.status, 201, sku.text);
  assert.equal((await srv.get(`/api/v1/products/${id}?country=IN`)).json.skus.length, 2);
  // the SKU is found by code at once (cart)
  const admin = await srv.get(`/api/v1/admin/products/${id}`, { token: T });
  assert.deepEqual(admin.json.skus.map((s) => s.code), ['QUOKKA-1', 'QUOKKA-2']);

  // the new brand is a facet once the full index is rebuilt in the background
  await until(async () => (await search('wombat')).facets.brand.some((b) => b.value === 'Quokkatel' && b.count === 1), 'the brand facet');
  // the brand filter then finds it, and the rest of the catalogue is still searchable
  assert.deepEqual((await search('phone', '&brand=Quokkatel')).items.map((x) => x.id), [id]);
  assert.ok((await search('nova')).items.length > 0);
});

test('many writes in a row keep reads consistent', async () => {
  const list = (await srv.get('/api/v1/products?country=IN&per_page=20')).json.items;
  for (const [i, it] of list.entries()) {
    const r = await srv.api('PATCH', `/api/v1/admin/products/${it.id}`, { token: T, body: { texts: { en: { name: `Renamed ${i} Zebu${i}x`, description: 'x' } } } });
    assert.equal(r.status, 200, r.text);
  }
  for (const [i, it] of list.entries())
    assert.deepEqual((await search(`zebu${i}x`)).items.map((x) => x.id), [it.id]);
  const total = (await srv.get('/api/v1/products?country=IN&per_page=1')).json.total;
  assert.equal((await search('renamed')).total, list.length);
  assert.ok(total >= list.length);
  // a category is not a product change: the snapshot reloads, and still finds them
  const cat = await srv.api('POST', '/api/v1/admin/categories', { token: T, body: { slug: 'gizmos', names: { en: 'Gizmos' } } });
  assert.equal(cat.status, 201, cat.text);
  assert.equal((await search('renamed')).total, list.length);
});

test('a product whose SKUs have no attributes (an empty facet table in the delta)', async () => {
  const made = await srv.api('POST', '/api/v1/admin/products', { token: T, body: {
    slug: 'plain-cable', brand: 'Plainco', category: 'cables',
    texts: { en: { name: 'Plain Cable', description: 'No options' } },
    skus: [{ code: 'PLAIN-1', prices: { IN: 49900 } }],
  } });
  assert.equal(made.status, 201, made.text);
  const p = await srv.api('PATCH', `/api/v1/admin/products/${made.json.id}`, { token: T, body: { brand: 'Plainerco' } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual((await search('plainerco')).items.map((x) => x.id), [made.json.id]);
});
