// Search as shoppers expect it: typos, accents, other scripts, facets with counts, sort orders, 400s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const q = (s) => encodeURIComponent(s);
async function list(path) {
  const r = await srv.get(path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
}
// Every item of a listing, over all its pages.
async function all(path) {
  const first = await list(`${path}&per_page=100`);
  const items = [...first.items];
  for (let p = 2; p <= first.pages; p++) items.push(...(await list(`${path}&per_page=100&page=${p}`)).items);
  assert.equal(items.length, first.total);
  return { first, items };
}

test('typos: nvoa finds Nova, as nova does; a long word tolerates two edits', async () => {
  const typo = await all('/api/v1/products?country=ES&q=nvoa');
  const exact = await all('/api/v1/products?country=ES&q=nova');
  assert.ok(typo.items.length > 0);
  for (const it of typo.items) assert.equal(it.brand, 'Nova');
  assert.deepEqual(typo.items.map((i) => i.id).sort(), exact.items.map((i) => i.id).sort());
  const phones = await list('/api/v1/products?country=DE&lang=de&q=smrtphnoe&category=phones');
  const right = await list('/api/v1/products?country=DE&lang=de&q=smartphone&category=phones');
  assert.ok(right.total > 0);
  assert.equal(phones.total, right.total);
  // three letters get no typo: "nvo" is not a prefix of anything and finds nothing
  assert.equal((await list('/api/v1/products?country=ES&q=nvo')).total, 0);
  // a word that matches as typed is not widened by typos: every hit really has it
  for (const it of exact.items) assert.equal(it.brand, 'Nova');
});

test('accents: with or without them, in Spanish, Vietnamese, German and Polish', async () => {
  const pairs = [
    ['ES', 'es', 'teléfonos', 'telefonos'],
    ['VN', 'vi', 'điện thoại', 'dien thoai'],
    ['DE', 'de', 'Zubehör', 'zubehor'],
    ['PL', 'pl', 'Urządzenia', 'urzadzenia'],
    ['FR', 'fr', 'téléviseurs', 'televiseurs'],
  ];
  for (const [cc, lang, accented, plain] of pairs) {
    const a = await list(`/api/v1/products?country=${cc}&lang=${lang}&q=${q(accented)}&per_page=100`);
    const b = await list(`/api/v1/products?country=${cc}&lang=${lang}&q=${q(plain)}&per_page=100`);
    assert.ok(a.total > 0, `${cc} ${accented}`);
    assert.equal(a.total, b.total, `${cc}: ${accented} vs ${plain}`);
    assert.deepEqual(a.items.map((i) => i.id), b.items.map((i) => i.id));
  }
});

test('scripts: Cyrillic, Devanagari and Thai, typed in the script or romanised', async () => {
  const ru = await list(`/api/v1/products?country=RU&lang=ru&q=${q('смартфон')}&per_page=100`);
  assert.ok(ru.total > 0);
  for (const it of ru.items) assert.match(it.name, /Смартфон/);
  const latin = await list('/api/v1/products?country=RU&lang=ru&q=smartfon&per_page=100');
  assert.deepEqual(latin.items.map((i) => i.id), ru.items.map((i) => i.id), 'Latin letters find the Cyrillic name');
  const ruTypo = await list(`/api/v1/products?country=RU&lang=ru&q=${q('смартофн')}&per_page=100`);
  assert.equal(ruTypo.total, ru.total, 'a typo in Cyrillic is tolerated too');

  const th = await list(`/api/v1/products?country=TH&lang=th&q=${q('สมาร์ทโฟน')}&per_page=100`);
  assert.ok(th.total > 0);
  for (const it of th.items) assert.match(it.name, /สมาร์ทโฟน/);

  const hi = await list(`/api/v1/products?country=IN&lang=hi&q=${q('स्मार्टवॉच')}&per_page=100`);
  assert.ok(hi.total > 0);
  for (const it of hi.items) assert.match(it.name, /स्मार्टवॉच/);
  // a Thai shopper in Thailand does not get matches from Russian texts
  assert.equal((await list(`/api/v1/products?country=TH&lang=th&q=${q('смартфон')}`)).total, 0);
});

test('relevance: the closest name first', async () => {
  const r = await list('/api/v1/products?country=ES&q=nova+x1');
  assert.equal(r.sort, 'relevance');
  assert.ok(r.items[0].name.startsWith('Nova X1 '), r.items[0].name);
  const exactFirst = await list('/api/v1/products?country=ES&q=x1');
  assert.match(exactFirst.items[0].name, / X1 /);
});

test('sort orders: price ascending and descending over every page, newest first', async () => {
  const asc = (await all('/api/v1/products?country=IN&sort=price_asc')).items.map((i) => i.price_from.amount);
  for (let i = 1; i < asc.length; i++) assert.ok(asc[i - 1] <= asc[i], `price_asc at ${i}`);
  const desc = (await all('/api/v1/products?country=IN&sort=price_desc')).items.map((i) => i.price_from.amount);
  for (let i = 1; i < desc.length; i++) assert.ok(desc[i - 1] >= desc[i], `price_desc at ${i}`);
  assert.deepEqual([...asc].reverse().sort((a, b) => a - b), asc);
  assert.equal(asc.length, desc.length);

  const body = {
    slug: 'brand-new-phone', brand: 'Freshco', category: 'phones', tax_class: 'standard',
    texts: { en: { name: 'Freshco Brand New Phone', description: 'Just in' } },
    skus: [{ code: 'FRESH-1', attributes: { colour: 'black' }, prices: { IN: 999900 } }],
  };
  const made = await srv.api('POST', '/api/v1/admin/products', { token: srv.adminToken, body });
  assert.equal(made.status, 201, made.text);
  const newest = await list('/api/v1/products?country=IN&sort=newest');
  assert.equal(newest.sort, 'newest');
  assert.equal(newest.items[0].id, made.json.id);
  for (let i = 2; i < newest.items.length; i++) assert.ok(newest.items[i - 1].id > newest.items[i].id, 'same time: newer id first');
  // and a sort applies to a search too
  const s = await list('/api/v1/products?country=IN&q=freshco&sort=price_desc');
  assert.equal(s.items[0].id, made.json.id);
});

// The 1-2-5 ladder of price buckets in major units, as the API documents it.
function bucketOf(amount, unit) {
  const m = [1, 2, 5];
  if (amount < unit) return [0, unit];
  for (let i = 0; ; i++) {
    const lo = unit * m[i % 3] * 10 ** Math.floor(i / 3);
    const hi = unit * m[(i + 1) % 3] * 10 ** Math.floor((i + 1) / 3);
    if (amount >= lo && amount < hi) return [lo, hi];
  }
}

test('facets: counts over the whole matching set agree with the products themselves', async () => {
  const { first, items } = await all('/api/v1/products?country=ES&lang=es');
  const f = first.facets;
  const brands = {}, cats = {}, colours = {}, buckets = {};
  const catList = (await list('/api/v1/categories?country=ES&lang=es')).categories;
  const parentOf = Object.fromEntries(catList.map((c) => [c.slug, catList.find((p) => p.id === c.parent_id)?.slug]));
  for (const it of items) {
    brands[it.brand] = (brands[it.brand] || 0) + 1;
    for (let c = it.category.slug; c; c = parentOf[c]) cats[c] = (cats[c] || 0) + 1;
    const p = (await list(`/api/v1/products/${it.id}?country=ES&lang=es`));
    const seen = new Set(), seenB = new Set();
    for (const s of p.skus) {
      if (s.attributes.colour && !seen.has(s.attributes.colour)) {
        seen.add(s.attributes.colour);
        colours[s.attributes.colour] = (colours[s.attributes.colour] || 0) + 1;
      }
      const key = bucketOf(s.price.amount, 100).join('-');
      if (!seenB.has(key)) { seenB.add(key); buckets[key] = (buckets[key] || 0) + 1; }
    }
  }
  assert.deepEqual(Object.fromEntries(f.brand.map((b) => [b.value, b.count])), brands);
  assert.deepEqual(Object.fromEntries(f.category.map((c) => [c.value, c.count])), cats);
  const colourFacet = f.attributes.find((a) => a.key === 'colour');
  assert.equal(colourFacet.name, 'Color');
  assert.deepEqual(Object.fromEntries(colourFacet.values.map((v) => [v.value, v.count])), colours);
  assert.equal(colourFacet.values.find((v) => v.value === 'black').name, 'Negro');
  assert.deepEqual(Object.fromEntries(f.price.map((b) => [`${b.min}-${b.max}`, b.count])), buckets);
  for (const b of f.price) {
    assert.equal(b.from.currency, 'EUR');
    assert.equal(b.from.amount, b.min);
  }
  assert.ok(f.attributes.some((a) => a.key === 'storage'));
  // counts are sorted, most first
  for (let i = 1; i < f.brand.length; i++) assert.ok(f.brand[i - 1].count >= f.brand[i].count);
});

test('facet filters: each value gives as many products as its count; a facet ignores its own filter', async () => {
  const base = await list('/api/v1/products?country=ES&q=nova');
  const cat = base.facets.category.find((c) => c.value === 'phones');
  assert.equal((await list(`/api/v1/products?country=ES&q=nova&category=phones`)).total, cat.count);

  const full = await list('/api/v1/products?country=ES');
  const nova = full.facets.brand.find((b) => b.value === 'Nova');
  const byBrand = await list('/api/v1/products?country=ES&brand=Nova');
  assert.equal(byBrand.total, nova.count);
  assert.deepEqual(byBrand.facets.brand, full.facets.brand, 'the brand facet still offers every brand');
  const two = await list('/api/v1/products?country=ES&brand=Nova,Lumio');
  assert.equal(two.total, nova.count + full.facets.brand.find((b) => b.value === 'Lumio').count);

  const black = full.facets.attributes.find((a) => a.key === 'colour').values.find((v) => v.value === 'black');
  const byColour = await all('/api/v1/products?country=ES&attr.colour=black');
  assert.equal(byColour.first.total, black.count);
  for (const it of byColour.items.slice(0, 10)) {
    const p = (await list(`/api/v1/products/${it.id}?country=ES`));
    const blacks = p.skus.filter((s) => s.attributes.colour === 'black');
    assert.ok(blacks.length > 0);
    assert.equal(it.price_from.amount, Math.min(...blacks.map((s) => s.price.amount)), 'price_from of the matching SKUs');
  }

  const bucket = full.facets.price[2];
  const byPrice = await all(`/api/v1/products?country=ES&price_min=${bucket.min}&price_max=${bucket.max}`);
  assert.equal(byPrice.first.total, bucket.count);
  for (const it of byPrice.items) assert.ok(it.price_from.amount >= bucket.min && it.price_from.amount < bucket.max);
  assert.deepEqual(byPrice.first.facets.price, full.facets.price, 'the price facet ignores the price filter');

  // filters combine: brand and colour and price together
  const combo = await list(`/api/v1/products?country=ES&brand=Nova&attr.colour=black&price_min=${bucket.min}&price_max=${bucket.max}`);
  const novaBlack = combo.facets.attributes.find((a) => a.key === 'colour').values.find((v) => v.value === 'black');
  assert.ok(combo.total <= novaBlack.count);
  for (const it of combo.items) assert.equal(it.brand, 'Nova');
  // values nobody has match nothing (they are not errors: stock and catalogues change)
  assert.equal((await list('/api/v1/products?country=ES&brand=Nobody')).total, 0);
  assert.equal((await list('/api/v1/products?country=ES&attr.colour=plaid')).total, 0);
});

test('prices and buckets are in the country\'s currency and minor units', async () => {
  const vn = await list('/api/v1/products?country=VN&lang=vi');
  assert.ok(vn.facets.price.length > 0);
  for (const b of vn.facets.price) {
    assert.equal(b.from.currency, 'VND');
    assert.match(String(b.min), /^(0|[125]0*)$/, 'VND has no minor unit: bounds are 1-2-5 in dong');
  }
  const inr = await list('/api/v1/products?country=IN');
  for (const b of inr.facets.price) assert.match(String(b.max), /^[125]0*00$/, 'INR bounds are whole rupees (paise)');
});

test('bad sort, facet and price parameters are 400 naming the field', async () => {
  expectError(await srv.get('/api/v1/products?country=ES&sort=cheapest'), 400, 'invalid_parameter', 'sort');
  expectError(await srv.get('/api/v1/products?country=ES&sort='), 400, 'invalid_parameter', 'sort');
  expectError(await srv.get('/api/v1/products?country=ES&attr.flavour=mint'), 400, 'invalid_parameter', 'attr.flavour');
  expectError(await srv.get('/api/v1/products?country=ES&attr.=x'), 400, 'invalid_parameter', 'attr.');
  expectError(await srv.get('/api/v1/products?country=ES&price_min=-1'), 400, 'invalid_parameter', 'price_min');
  expectError(await srv.get('/api/v1/products?country=ES&price_max=abc'), 400, 'invalid_parameter', 'price_max');
  expectError(await srv.get('/api/v1/products?country=ES&price_min=5000&price_max=5000'), 400, 'invalid_parameter', 'price_max');
  expectError(await srv.get('/api/v1/products?country=ES&brand=' + 'a,'.repeat(9)), 400, 'invalid_parameter', 'brand');
  expectError(await srv.get('/api/v1/products?country=ES&brand=' + 'x'.repeat(201)), 400, 'invalid_parameter', 'brand');
});

test('answers are cached under the parsed query: parameter order does not matter', async () => {
  const a = await srv.get('/api/v1/products?country=ES&q=nova&sort=price_asc&attr.colour=black');
  const b = await srv.get('/api/v1/products?attr.colour=black&sort=price_asc&q=nova&country=ES');
  assert.equal(a.text, b.text);
  assert.equal(a.headers.get('etag'), b.headers.get('etag'));
  const c = await srv.get('/api/v1/products?country=ES&q=nova&sort=price_asc&attr.colour=black', { headers: { 'if-none-match': a.headers.get('etag') } });
  assert.equal(c.status, 304);
});
