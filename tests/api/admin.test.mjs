// Admin calls: authentication, catalogue and country changes visible at once, validation, atomicity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError, run } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const product = (slug, code, extra = {}) => ({
  slug, brand: 'Testco', category: 'phones', tax_class: 'standard',
  texts: { en: { name: `Test ${slug}`, description: 'A phone for tests' }, es: { name: `Prueba ${slug}`, description: 'Un teléfono' } },
  skus: [{ code, attributes: { colour: 'black' }, prices: { ES: 19999, IN: 1999900 } }],
  ...extra,
});

test('admin calls need a bearer token: 401 without, 401 with a bad one', async () => {
  expectError(await srv.api('POST', '/api/v1/admin/products', { body: product('a', 'A-1') }), 401, 'unauthorized');
  const bad = await srv.api('POST', '/api/v1/admin/products', { body: product('a', 'A-1'), token: 'mst_forged' });
  expectError(bad, 401, 'unauthorized');
  assert.equal(bad.headers.get('www-authenticate'), 'Bearer');
  expectError(await srv.get('/api/v1/admin/countries', { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
});

test('a created product is visible to readers at once, localized, and searchable', async () => {
  const before = await srv.get('/api/v1/products?country=ES&per_page=1');
  const r = await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('visible-now', 'VIS-1') });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  const es = await srv.get(`/api/v1/products/${id}?country=ES&lang=es`);
  assert.equal(es.status, 200);
  assert.equal(es.json.name, 'Prueba visible-now');
  assert.equal(es.json.skus[0].price.amount, 19999);
  const de = await srv.get(`/api/v1/products/${id}?country=DE&lang=de`);
  expectError(de, 404, 'not_found'); // no price in DE: not sold there
  const after = await srv.get('/api/v1/products?country=ES&per_page=1');
  assert.equal(after.json.total, before.json.total + 1);
  const found = await srv.get('/api/v1/products?country=ES&q=visible');
  assert.ok(found.json.items.some((i) => i.id === id));
});

test('price changes and translations are visible at once', async () => {
  const r = await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('reprice', 'REP-1') });
  const id = r.json.id;
  const first = await srv.get(`/api/v1/products/${id}?country=IN&lang=hi`);
  assert.equal(first.json.skus[0].price.amount, 1999900);
  assert.equal(first.json.name, 'Test reprice', 'no Hindi text yet: falls back to English');
  const p = await srv.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: 'REP-1', country: 'IN', amount: 1899900 }] } });
  assert.equal(p.status, 200, p.text);
  const t = await srv.api('PATCH', `/api/v1/admin/products/${id}`, { token: T, body: { texts: { hi: { name: 'परीक्षण फ़ोन' } } } });
  assert.equal(t.status, 200, t.text);
  const second = await srv.get(`/api/v1/products/${id}?country=IN&lang=hi`);
  assert.equal(second.json.skus[0].price.amount, 1899900);
  assert.equal(second.json.skus[0].price.formatted, '₹18,999.00');
  assert.equal(second.json.name, 'परीक्षण फ़ोन');
  // removing the only price stops selling there
  await srv.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: 'REP-1', country: 'IN', amount: null }] } });
  expectError(await srv.get(`/api/v1/products/${id}?country=IN`), 404, 'not_found');
  // deactivating hides it everywhere
  await srv.api('PATCH', `/api/v1/admin/products/${id}`, { token: T, body: { active: false } });
  expectError(await srv.get(`/api/v1/products/${id}?country=ES`), 404, 'not_found');
});

test('validation errors name the field and write nothing', async () => {
  const cases = [
    [{ ...product('v1', 'V-1'), slug: 'Bad Slug' }, 'slug'],
    [{ ...product('v2', 'V-2'), category: 'nope' }, 'category'],
    [{ ...product('v3', 'V-3'), texts: { es: { name: 'x' } } }, 'texts.en'],
    [{ ...product('v4', 'V-4'), skus: [{ code: 'V-4', prices: { ES: -5 } }] }, 'skus[0].prices.ES'],
    [{ ...product('v5', 'V-5'), skus: [{ code: 'V-5', prices: { XX: 5 } }] }, 'skus[0].prices.XX'],
    [{ ...product('v6', 'V-6'), skus: [{ code: 'V-6', prices: { ID: 1999950 } }] }, 'skus[0].prices.ID'],
    [{ ...product('v7', 'V-7'), colour: 'red' }, 'colour'],
    [{ ...product('v8', 'V-8'), skus: [] }, 'skus'],
  ];
  for (const [body, field] of cases) {
    const r = await srv.api('POST', '/api/v1/admin/products', { token: T, body });
    expectError(r, 422, 'validation_failed', field);
  }
  const list = await srv.get('/api/v1/products?country=ES&q=Test');
  assert.ok(!list.json.items.some((i) => /v[1-8]$/.test(i.name)));
});

test('a duplicate SKU code is 409 and leaves no half-written product', async () => {
  const ok = await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('dup-a', 'DUP-1') });
  assert.equal(ok.status, 201);
  const before = (await srv.get('/api/v1/products?country=ES&per_page=1')).json.total;
  const r = await srv.api('POST', '/api/v1/admin/products', {
    token: T, body: { ...product('dup-b', 'DUP-2'), skus: [{ code: 'DUP-9', prices: { ES: 100 } }, { code: 'DUP-1', prices: { ES: 100 } }] },
  });
  expectError(r, 409, 'already_exists');
  const after = (await srv.get('/api/v1/products?country=ES&per_page=1')).json.total;
  assert.equal(after, before);
  const again = await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('dup-b', 'DUP-9') });
  assert.equal(again.status, 201, 'the slug and SKU of the failed call were not kept');
  expectError(await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('dup-b', 'DUP-10') }), 409, 'already_exists', 'slug');
});

test('a country is added at runtime: KWD with three decimals, no restart', async () => {
  const kw = {
    region: 'sg', names: { en: 'Kuwait (test)', ar: 'الكويت' }, currency: 'KWD', languages: ['en'],
    timezone: 'Asia/Kuwait',
    tax: { inclusive: false, rounding: 'half_up', per_line: true, rates: { standard: 500 } },
    payment_methods: [{ method: 'card' }], shipping: { fee: 1500 },
    address: { required: ['name', 'line1', 'city', 'phone'], phone_pattern: '^\\+965[0-9]{8}$' },
  };
  expectError(await srv.get('/api/v1/products?country=KW'), 404, 'unknown_country');
  const r = await srv.api('PUT', '/api/v1/admin/countries/KW', { token: T, body: kw });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.currency_digits, 3);
  const c = (await srv.get('/api/v1/countries')).json.countries.find((x) => x.code === 'KW');
  assert.equal(c.currency, 'KWD');
  assert.deepEqual(c.address, kw.address); // the public view carries the address rules, for forms
  const p = await srv.api('POST', '/api/v1/admin/products', { token: T, body: { ...product('kw-phone', 'KW-1'), skus: [{ code: 'KW-1', prices: { KW: 123456 } }] } });
  assert.equal(p.status, 201, p.text);
  const d = await srv.get(`/api/v1/products/${p.json.id}?country=KW&lang=en`);
  assert.equal(d.status, 200);
  assert.equal(d.json.tax_included, false);
  assert.equal(d.json.skus[0].price.amount, 123456);
  assert.match(d.json.skus[0].price.formatted, /123\.456/);
  // changing it again is 200, and a bad change is refused with the field and changes nothing
  const again = await srv.api('PUT', '/api/v1/admin/countries/KW', { token: T, body: { ...kw, timezone: 'Mars/Olympus' } });
  expectError(again, 422, 'validation_failed', 'timezone');
  assert.equal((await srv.get('/api/v1/countries')).json.countries.find((x) => x.code === 'KW').timezone, 'Asia/Kuwait');
  const ok = await srv.api('PUT', '/api/v1/admin/countries/KW', { token: T, body: { ...kw, shipping: { fee: 2000 } } });
  assert.equal(ok.status, 200);
  expectError(await srv.api('PUT', '/api/v1/admin/countries/KW', { token: T, body: { ...kw, region: 'atlantis' } }), 422, 'validation_failed', 'region');
});

test('a region is added at runtime and served at once: its database, its writer, its stock on product pages', async () => {
  const reg = await srv.api('PUT', '/api/v1/admin/regions/latam', { token: T, body: { base_url: 'http://latam.example.test' } });
  assert.equal(reg.status, 201, reg.text);
  const listed = (await srv.get('/api/v1/admin/countries', { token: T })).json.regions.find((x) => x.name === 'latam');
  assert.equal(listed.served_here, true, 'a node serving every region takes the new one on');
  assert.equal((await srv.api('PUT', '/api/v1/admin/regions/latam', { token: T, body: { base_url: 'http://latam2.example.test' } })).status, 200);
  const cl = {
    region: 'latam', names: { en: 'Chile (test)' }, currency: 'CLP', languages: ['es'], timezone: 'America/Santiago',
    tax: { inclusive: true, rounding: 'half_up', per_line: false, rates: { standard: 1900 } },
    payment_methods: [{ method: 'card' }], shipping: { fee: 0 }, address: { required: ['name', 'line1', 'city'] },
  };
  assert.equal((await srv.api('PUT', '/api/v1/admin/countries/CL', { token: T, body: cl })).status, 201);
  const p = await srv.api('POST', '/api/v1/admin/products', { token: T, body: { ...product('cl-phone', 'CL-1'), skus: [{ code: 'CL-1', prices: { CL: 500000 } }] } });
  assert.equal(p.status, 201, p.text);
  const page = async () => (await srv.get(`/api/v1/products/${p.json.id}?country=CL`)).json.skus[0].stock_state;
  assert.equal(await page(), 'out_of_stock');
  // writes in the new region go through its own writer
  const wh = await srv.api('POST', '/api/v1/admin/warehouses', { token: T, body: { code: 'WH-CL-SCL', name: 'Santiago', country: 'CL', serves: ['CL'] } });
  assert.equal(wh.status, 201, wh.text);
  const st = await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: 'CL-1', warehouse: 'WH-CL-SCL', country: 'CL', on_hand: 3, reason: 'test' } });
  assert.equal(st.status, 200, st.text);
  assert.equal(await page(), 'in_stock', 'the cached page follows the stock state at once');
  assert.equal((await srv.api('PUT', '/api/v1/admin/stock', { token: T, body: { sku: 'CL-1', warehouse: 'WH-CL-SCL', country: 'CL', on_hand: 0, reason: 'test' } })).status, 200);
  assert.equal(await page(), 'out_of_stock');
});

test('country operators: own countries\' prices only; no product or country changes', async () => {
  const op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-in@example.test', '--role', 'operator', '--countries', 'IN']);
  await srv.api('POST', '/api/v1/admin/products', { token: T, body: product('op-phone', 'OP-1') });
  const own = await srv.api('PUT', '/api/v1/admin/prices', { token: op, body: { prices: [{ sku: 'OP-1', country: 'IN', amount: 100000 }] } });
  assert.equal(own.status, 200, own.text);
  const other = await srv.api('PUT', '/api/v1/admin/prices', { token: op, body: { prices: [{ sku: 'OP-1', country: 'ES', amount: 100 }] } });
  expectError(other, 403, 'forbidden');
  expectError(await srv.api('POST', '/api/v1/admin/products', { token: op, body: product('op-2', 'OP-2') }), 403, 'forbidden');
  expectError(await srv.api('PUT', '/api/v1/admin/countries/KW', { token: op, body: {} }), 403, 'forbidden');
  assert.equal((await srv.get('/api/v1/admin/countries', { token: op })).status, 200);
  // stock in their own country, named in any case; never another country's
  const lower = await srv.get('/api/v1/admin/stock?country=in&sku=OP-1', { token: op });
  assert.equal(lower.status, 200, lower.text);
  expectError(await srv.get('/api/v1/admin/stock?country=es&sku=OP-1', { token: op }), 403, 'forbidden');
});

test('categories and attribute translations', async () => {
  const c = await srv.api('POST', '/api/v1/admin/categories', { token: T, body: { slug: 'foldables', parent: 'phones', names: { en: 'Foldables', de: 'Faltbare' } } });
  assert.equal(c.status, 201, c.text);
  expectError(await srv.api('POST', '/api/v1/admin/categories', { token: T, body: { slug: 'foldables', names: { en: 'x' } } }), 409, 'already_exists');
  const p = await srv.api('POST', '/api/v1/admin/products', {
    token: T, body: { ...product('fold-1', 'FOLD-1'), category: 'foldables', skus: [{ code: 'FOLD-1', attributes: { hinge: 'titanium' }, prices: { DE: 99900 } }] },
  });
  assert.equal(p.status, 201, p.text);
  const a = await srv.api('PUT', '/api/v1/admin/attribute-texts', { token: T, body: { hinge: { de: 'Scharnier' }, 'hinge=titanium': { de: 'Titan' } } });
  assert.equal(a.status, 200, a.text);
  const d = await srv.get(`/api/v1/products/${p.json.id}?country=DE&lang=de`);
  assert.equal(d.json.category.name, 'Faltbare');
  assert.equal(d.json.attributes[0].name, 'Scharnier');
  assert.equal(d.json.skus[0].attribute_names.hinge, 'Titan');
  const phones = await srv.get('/api/v1/products?country=DE&category=phones&per_page=100&q=fold');
  assert.ok(phones.json.items.some((i) => i.id === p.json.id), 'a subcategory\'s products are in the parent category');
});
