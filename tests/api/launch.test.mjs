// Launching a country from a template: plan (nothing changes), apply (all or nothing, not open), readiness,
// open (refused while not ready, forced only by an admin), then shoppers buy there. Bad input changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, expectError, customer, run, until, translateXliff } from './helpers.mjs';

let srv, T, op;
before(async () => {
  srv = await startServer();
  T = srv.adminToken;
  op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-launch@example.test', '--role', 'operator', '--countries', 'IN']);
});
after(async () => { await srv.stop(); });

// Bangladesh from India: 1 INR = 1.42 BDT (exact), phones +5%, cables as they are; only cables and phones sold.
const BD = {
  template: 'IN',
  settings: {
    names: { en: 'Bangladesh', bn: 'বাংলাদেশ' }, currency: 'BDT', languages: ['bn', 'en'], timezone: 'Asia/Dhaka',
    tax: { inclusive: true, rounding: 'half_up', per_line: true, name: 'VAT', rates: { standard: 1500, reduced: 500, zero: 0 } },
    address: { required: ['name', 'line1', 'city', 'postal_code', 'phone'], postal_code_pattern: '^[0-9]{4}$', phone_pattern: '^\\+8801[3-9][0-9]{8}$' },
    payment_methods: [{ method: 'card' }, { method: 'cod', max_amount: 5000000 }],
    invoicing: { seller: { name: 'Meridian Commerce Bangladesh Ltd.', address: 'House 5, Road 2, Gulshan 1, Dhaka 1212', tax_id: '001234567-0101' }, series: 'BD-INV', credit_series: 'BD-CN' },
  },
  pricing: { exchange_rate: '1.42', markups: { phones: 500 } },
  assortment: { categories: ['cables'] },
};
const BD_ADDRESS = { name: 'Rahim Uddin', line1: '12 Road 5, Dhanmondi', city: 'Dhaka', postal_code: '1209', phone: '+8801712345678' };

// The documented arithmetic, independently: half up of A * 71/50 * (10000 + m) / 10000, then BDT's default
// ending: below 10,000 taka the nearest amount ending in 9 taka, from 10,000 taka in 999 taka (a tie goes up).
function expectedPrice(inr, markupBp) {
  const num = BigInt(inr) * 71n * BigInt(10000 + markupBp), den = 50n * 10000n;
  let x = num / den;
  if (2n * (num % den) >= den) x += 1n;
  const [step, ends] = x >= 1000000n ? [100000n, 99900n] : [1000n, 900n];
  if (x === 0n) return 0;
  const k = x >= ends ? (x - ends) / step : -1n;
  const lo = k * step + ends, hi = lo + step;
  let y = lo === x ? x : (x - lo < hi - x ? lo : hi);
  if (y <= 0n) y = ends > 0n ? ends : step;
  return Number(y);
}

async function countriesState() {
  const a = await srv.get('/api/v1/admin/countries', { token: T });
  return { codes: a.json.countries.map((c) => c.code).sort().join(','), launching: a.json.launching.join(',') };
}

async function bdPriceOf(productId) {
  const p = await srv.get(`/api/v1/admin/products/${productId}`, { token: T });
  return p.json.skus.map((s) => s.prices.BD ?? null);
}

let plan;

test('the plan: every SKU with template, converted and final price; changes nothing; same from the command line', async () => {
  const before = await countriesState();
  const r = await srv.api('POST', '/api/v1/admin/countries/BD/launch-plan', { token: T, body: BD });
  assert.equal(r.status, 200, r.text);
  plan = r.json;
  assert.equal(plan.country, 'BD');
  assert.equal(plan.template, 'IN');
  assert.match(plan.plan_id, /^[0-9a-f]{64}$/);
  assert.equal(plan.settings.currency, 'BDT');
  assert.equal(plan.settings.currency_digits, 2, 'minor units from ICU');
  assert.equal(plan.pricing.exchange_rate, '71/50');
  assert.equal(plan.pricing.ending_default, true);
  assert.deepEqual(plan.pricing.ending.tiers, [{ from: 0, step: 1000, ends: 900 }, { from: 1000000, step: 100000, ends: 99900 }]);
  // the shipping fee of India converted at the rate: 49.00 INR -> 69.58 BDT
  assert.equal(plan.settings.shipping.fee, 6958);
  const sold = plan.skus.filter((l) => l.sell);
  assert.ok(sold.length >= 10, 'cables are sold');
  assert.equal(plan.summary.sold, sold.length);
  assert.equal(plan.summary.skus, plan.skus.length);
  for (const l of sold) {
    assert.equal(l.category, 'cables');
    assert.equal(l.markup_bp, 0);
    assert.equal(l.final, expectedPrice(l.template_price, 0), `${l.sku}: ${l.template_price} INR paise`);
    assert.equal(l.final % 100, 0);
    assert.equal(Math.floor(l.final / 100) % 10, 9, 'ends in 9 taka');
  }
  // template prices are India's
  const p = await srv.get(`/api/v1/products/${sold[0].product_id}?country=IN`);
  assert.equal(p.json.skus.find((s) => s.code === sold[0].sku).price.amount, sold[0].template_price);
  // what is not sold, and why
  const reasons = new Set(plan.skus.filter((l) => !l.sell).map((l) => l.reason));
  assert.ok(reasons.has('not_in_assortment'));
  assert.ok(reasons.has('not_sold_in_template'), 'the demo catalogue leaves some SKUs unsold in India');
  for (const l of plan.skus.filter((x) => !x.sell && x.reason === 'not_sold_in_template')) assert.equal(l.template_price, null);
  assert.ok(plan.problems.some((x) => x.code === 'texts_missing' && x.language === 'bn' && x.count > 0));
  // nothing changed
  assert.deepEqual(await countriesState(), before);
  assert.deepEqual(await bdPriceOf(sold[0].product_id), p.json.skus.map(() => null));
  // the same plan again, and from the command line
  const again = await srv.api('POST', '/api/v1/admin/countries/BD/launch-plan', { token: T, body: BD });
  assert.equal(again.json.plan_id, plan.plan_id);
  const file = join(srv.dataDir, 'bd-launch.json');
  writeFileSync(file, JSON.stringify(BD));
  const cli = JSON.parse(run(['launch-plan', '--data', srv.dataDir, 'BD', '--request', file]));
  assert.equal(cli.plan_id, plan.plan_id);
  assert.deepEqual(cli.skus, plan.skus);
});

test('markups by category (and its subcategories) and a request ending rule; prices exact', async () => {
  const body = {
    ...BD, assortment: { categories: ['phones', 'accessories'] },
    pricing: { exchange_rate: '142/100', markups: { phones: 500, accessories: -1000 }, ending: { rounding: 'up', tiers: [{ from: 0, step: 10000, ends: 0 }] } },
  };
  const r = await srv.api('POST', '/api/v1/admin/countries/BD/launch-plan', { token: T, body });
  assert.equal(r.status, 200, r.text);
  const sold = r.json.skus.filter((l) => l.sell);
  assert.ok(sold.some((l) => l.category === 'phones') && sold.some((l) => l.category === 'chargers'));
  for (const l of sold) {
    const m = l.category === 'phones' ? 500 : -1000;
    assert.equal(l.markup_bp, m, l.category);
    const num = BigInt(l.template_price) * 71n * BigInt(10000 + m), den = 500000n;
    let x = num / den;
    if (2n * (num % den) >= den) x += 1n;
    assert.equal(l.converted, Number(x));
    assert.equal(l.final, Number(((x + 9999n) / 10000n) * 10000n), 'rounded up to whole 100 taka');
  }
  assert.notEqual(r.json.plan_id, plan.plan_id);
});

test('bad input: clear 4xx with the field, nothing changed', async () => {
  const before = await countriesState();
  const bad = [
    [{ ...BD, template: 'XX' }, 422, 'validation_failed', 'template'],
    [{ ...BD, settings: { ...BD.settings, currency: 'XYZ' } }, 422, 'validation_failed', 'settings.currency'],
    [{ ...BD, settings: { ...BD.settings, currency: 'bdt' } }, 422, 'validation_failed', 'settings.currency'],
    [{ ...BD, settings: { ...BD.settings, timezone: 'Asia/Nowhere' } }, 422, 'validation_failed', 'settings.timezone'],
    [{ ...BD, settings: { ...BD.settings, names: undefined } }, 422, 'validation_failed', 'settings.names'],
    [{ ...BD, pricing: { exchange_rate: 1.42 } }, 422, 'validation_failed', 'pricing.exchange_rate'],
    [{ ...BD, pricing: { exchange_rate: '1,42' } }, 422, 'validation_failed', 'pricing.exchange_rate'],
    [{ ...BD, pricing: { exchange_rate: '0' } }, 422, 'validation_failed', 'pricing.exchange_rate'],
    [{ ...BD, pricing: { exchange_rate: '-1.5' } }, 422, 'validation_failed', 'pricing.exchange_rate'],
    [{ ...BD, pricing: { exchange_rate: '1/0' } }, 422, 'validation_failed', 'pricing.exchange_rate'],
    [{ ...BD, pricing: { exchange_rate: '1.42', markups: { 'no-such-category': 500 } } }, 422, 'validation_failed', 'pricing.markups.no-such-category'],
    [{ ...BD, pricing: { exchange_rate: '1.42', markups: { phones: 1.5 } } }, 422, 'validation_failed', 'pricing.markups.phones'],
    [{ ...BD, pricing: { exchange_rate: '1.42', ending: { tiers: [{ from: 0, step: 1000, ends: 1000 }] } } }, 422, 'validation_failed', 'pricing.ending.tiers[0].ends'],
    [{ ...BD, assortment: { categories: ['nope'] } }, 422, 'validation_failed', 'assortment.categories'],
    [{ ...BD, surprise: 1 }, 422, 'validation_failed', 'surprise'],
  ];
  for (const path of ['launch-plan', 'launch']) {
    for (const [body, status, code, field] of bad) {
      const r = await srv.api('POST', `/api/v1/admin/countries/BD/${path}`, { token: T, body });
      expectError(r, status, code, field);
    }
    expectError(await srv.api('POST', `/api/v1/admin/countries/ZZ/${path}`, { token: T, body: BD }), 422, 'validation_failed', 'code');
    expectError(await srv.api('POST', `/api/v1/admin/countries/IN/${path}`, { token: T, body: { ...BD } }), 409, 'already_exists', 'code');
    expectError(await srv.api('POST', `/api/v1/admin/countries/BD/${path}`, { token: op, body: BD }), 403, 'forbidden');
    expectError(await srv.api('POST', `/api/v1/admin/countries/BD/${path}`, { body: BD }), 401, 'unauthorized');
    expectError(await srv.api('POST', `/api/v1/admin/countries/BD/${path}`, { token: T, raw: '{"template": ', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
  }
  // a plan id that is not the plan of this request (the catalogue or the rules changed since)
  const stale = await srv.api('POST', '/api/v1/admin/countries/BD/launch', { token: T, body: { ...BD, pricing: { ...BD.pricing, exchange_rate: '1.43' }, plan_id: plan.plan_id } });
  expectError(stale, 409, 'conflict', 'plan_id');
  assert.deepEqual(await countriesState(), before);
  assert.equal((await srv.get('/api/v1/route?country=BD')).status, 404);
  const sold = plan.skus.find((l) => l.sell);
  assert.ok((await bdPriceOf(sold.product_id)).every((x) => x === null), 'no price was written');
});

test('apply: country, assortment and prices in one go, not open; invisible to shoppers; twice is refused', async () => {
  const r = await srv.api('POST', '/api/v1/admin/countries/BD/launch', { token: T, body: { ...BD, plan_id: plan.plan_id } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, 'launching');
  assert.equal(r.json.plan_id, plan.plan_id);
  assert.equal(r.json.prices_written, plan.summary.sold);
  // prices are the plan's, exactly
  const byProduct = new Map();
  for (const l of plan.skus) if (l.sell) byProduct.set(l.product_id, [...(byProduct.get(l.product_id) || []), l]);
  for (const [pid, lines] of byProduct) {
    const p = await srv.get(`/api/v1/admin/products/${pid}`, { token: T });
    for (const l of lines) assert.equal(p.json.skus.find((s) => s.code === l.sku).prices.BD, l.final, l.sku);
  }
  const state = await countriesState();
  assert.match(state.codes, /BD/);
  assert.equal(state.launching, 'BD');
  // shoppers: 404 unknown_country everywhere
  const pid = [...byProduct.keys()][0];
  expectError(await srv.get('/api/v1/products?country=BD'), 404, 'unknown_country', 'country');
  expectError(await srv.get(`/api/v1/products/${pid}?country=BD`), 404, 'unknown_country', 'country');
  expectError(await srv.get('/api/v1/route?country=BD'), 404, 'unknown_country');
  assert.ok(!(await srv.get('/api/v1/countries')).json.countries.some((c) => c.code === 'BD'));
  expectError(await srv.api('POST', '/api/v1/users', { body: { email: 'early@example.test', password: 'correct horse battery', country: 'BD' } }), 404, 'unknown_country', 'country');
  expectError(await srv.api('POST', '/api/v1/cart/items?country=BD', { body: { sku: byProduct.get(pid)[0].sku, quantity: 1 } }), 404, 'unknown_country', 'country');
  // applying twice
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/launch', { token: T, body: BD }), 409, 'already_exists', 'code');
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/launch-plan', { token: T, body: BD }), 409, 'already_exists', 'code');
});

test('readiness refuses to open while Bengali texts and stock are missing; then open, register and buy', async () => {
  let rd = await srv.get('/api/v1/admin/countries/BD/readiness', { token: T });
  assert.equal(rd.status, 200, rd.text);
  assert.equal(rd.json.status, 'launching');
  assert.equal(rd.json.ready, false);
  const sold = plan.skus.filter((l) => l.sell);
  const products = [...new Set(sold.map((l) => l.product_id))];
  const texts = rd.json.blockers.filter((b) => b.kind === 'text_missing');
  assert.ok(texts.every((b) => b.language === 'bn'));
  const productTexts = texts.filter((b) => b.product_id);
  assert.equal(productTexts.length, products.length * 2, 'name and description of each product, in Bengali');
  assert.ok(productTexts.every((b) => ['name', 'description'].includes(b.field) && b.id === `product:${b.product_id}:${b.field}`));
  assert.deepEqual(new Set(productTexts.map((b) => b.product_id)), new Set(products));
  // what a shopper there also sees: the category of the cables and its parent, the cables' attributes
  const others = texts.filter((b) => !b.product_id).map((b) => b.text);
  assert.deepEqual([...new Set(others)].sort(), ['attribute_name', 'attribute_value', 'category_name']);
  assert.equal(texts.filter((b) => b.text === 'category_name').length, 2, 'cables and accessories');
  assert.equal(rd.json.counts.no_stock, sold.length, 'no warehouse delivers to Bangladesh yet');
  // opening is refused with the list; an operator of the country may not force it
  const refused = await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: T, body: {} });
  expectError(refused, 409, 'not_ready', 'country');
  assert.equal(refused.json.error.blockers.length, rd.json.blockers.length);
  const opBD = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-bd@example.test', '--role', 'operator', '--countries', 'BD']);
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: opBD, body: { force: true, reason: 'go' } }), 403, 'forbidden', 'force');
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: T, body: { force: true } }), 422, 'validation_failed', 'reason');
  expectError(await srv.get('/api/v1/admin/countries/BD/readiness', { token: op }), 403, 'forbidden', 'country');
  assert.equal((await srv.get('/api/v1/admin/countries/BD/readiness', { token: opBD })).status, 200);

  // stock in a Dhaka warehouse
  const wh = await srv.api('POST', '/api/v1/admin/warehouses', { token: T, body: { code: 'WH-BD-DHK', name: 'Dhaka', country: 'BD', serves: ['BD'] } });
  assert.equal(wh.status, 201, wh.text);
  for (const l of sold) {
    const s = await srv.api('PUT', '/api/v1/admin/stock', { token: opBD, body: { sku: l.sku, warehouse: 'WH-BD-DHK', country: 'BD', on_hand: 20, reason: 'launch stock' } });
    assert.equal(s.status, 200, s.text);
  }
  rd = await srv.get('/api/v1/admin/countries/BD/readiness', { token: T });
  assert.equal(rd.json.counts.no_stock, undefined);
  assert.equal(rd.json.ready, false, 'the texts are still missing');
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: T, body: {} }), 409, 'not_ready');

  // the Bengali texts: the translation workflow's XLIFF export, filled in by a script, imported in one go
  const xliff = await srv.get('/api/v1/admin/translations/bn/export?format=xliff', { token: T });
  assert.equal(xliff.status, 200, xliff.text);
  for (const b of texts) assert.ok(xliff.text.includes(`<unit id="${b.id}">`), `the export has ${b.id}`);
  const imp = await srv.api('POST', '/api/v1/admin/translations/bn/import', {
    token: T, raw: translateXliff(xliff.text, 'বাংলা'), headers: { 'content-type': 'application/xliff+xml' },
  });
  assert.equal(imp.status, 200, imp.text);
  rd = await srv.get('/api/v1/admin/countries/BD/readiness', { token: T });
  assert.equal(rd.json.ready, true, JSON.stringify(rd.json.blockers));
  assert.deepEqual(rd.json.blockers, []);

  const opened = await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: opBD, body: {} });
  assert.equal(opened.status, 200, opened.text);
  assert.equal(opened.json.forced, false);
  expectError(await srv.api('POST', '/api/v1/admin/countries/BD/open', { token: T, body: {} }), 409, 'conflict');
  assert.equal((await countriesState()).launching, '');

  // shoppers now see it, in Bengali, and buy
  const pub = (await srv.get('/api/v1/countries')).json.countries.find((c) => c.code === 'BD');
  assert.equal(pub.currency, 'BDT');
  assert.equal(pub.timezone, 'Asia/Dhaka');
  const list = await srv.get('/api/v1/products?country=BD&lang=bn');
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.total, products.length);
  const line = sold[0];
  const page = await srv.get(`/api/v1/products/${line.product_id}?country=BD&lang=bn`);
  const english = await srv.get(`/api/v1/products/${line.product_id}?country=IN&lang=en`);
  assert.equal(page.json.name, `বাংলা ${english.json.name}`);
  const sku = page.json.skus.find((s) => s.code === line.sku);
  assert.equal(sku.price.amount, line.final);
  assert.equal(sku.price.currency, 'BDT');
  assert.equal(sku.stock_state, 'in_stock');
  const c = await customer(srv, 'BD', { address: BD_ADDRESS });
  const cart = await srv.api('POST', '/api/v1/cart/items', { token: c.token, body: { sku: line.sku, quantity: 2 } });
  assert.equal(cart.status, 200, cart.text);
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'cod' } });
  assert.equal(o.status, 201, o.text);
  assert.match(o.json.number, /^BD-\d{4}-\d{7}$/);
  assert.equal(o.json.totals.grand_total.currency, 'BDT');
  assert.equal(o.json.totals.grand_total.amount, line.final * 2, 'VAT included; free shipping above 708.58 BDT');
  assert.deepEqual(o.json.taxes.map((t) => [t.kind, t.rate_bp]), [['VAT', 1500]]);
  // paid by card, it gets the first invoice of the new country's own series, from its own seller
  const card = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku: line.sku, quantity: 1 }] } });
  assert.equal(card.status, 201, card.text);
  const paid = await srv.api('POST', `/api/v1/orders/${card.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(paid.status, 200, paid.text);
  const inv = await until(async () => (await srv.get(`/api/v1/orders/${card.json.id}/invoices`, { token: c.token })).json.items[0], 'the BD invoice');
  assert.equal(inv.number, 'BD-INV-0000001');
  assert.equal(inv.document.seller.tax_id, '001234567-0101');
  assert.equal(inv.document.title, 'VAT Invoice');
});

test('an admin may force a country open over its blockers; who and why are kept', async () => {
  const np = {
    template: 'IN',
    settings: { names: { en: 'Nepal' }, currency: 'NPR', languages: ['ne', 'en'], timezone: 'Asia/Kathmandu', address: { required: ['name', 'line1', 'city'] } },
    pricing: { exchange_rate: '1.6' }, assortment: { categories: ['chargers'] },
  };
  const a = await srv.api('POST', '/api/v1/admin/countries/NP/launch', { token: T, body: np });
  assert.equal(a.status, 201, a.text);
  const rd = await srv.get('/api/v1/admin/countries/NP/readiness', { token: T });
  assert.equal(rd.json.ready, false);
  const f = await srv.api('POST', '/api/v1/admin/countries/NP/open', { token: T, body: { force: true, reason: 'soft launch, texts follow' } });
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.forced, true);
  assert.equal(f.json.blockers_overridden, rd.json.blockers.length);
  assert.ok(f.json.opened_by > 0);
  assert.equal((await srv.get('/api/v1/products?country=NP')).status, 200);
  if (!process.env.MERIDIAN_TEST_PG_URL) { // the launch record, in catalog.db beside the running server
    const out = execFileSync('sqlite3', ['-readonly', '-json', join(srv.dataDir, 'catalog.db'),
      "SELECT template, applied_by, opened_by, forced, force_reason, blockers_at_open FROM country_launch WHERE country = 'NP'"], { encoding: 'utf8' });
    const [row] = JSON.parse(out);
    assert.equal(row.template, 'IN');
    assert.equal(row.opened_by, f.json.opened_by);
    assert.equal(row.forced, 1);
    assert.equal(row.force_reason, 'soft launch, texts follow');
    assert.equal(JSON.parse(row.blockers_at_open).length, rd.json.blockers.length);
  }
});

test('apply is all or nothing: a storage fault on its last write leaves no country and no price', async () => {
  const f = await startServer({ env: { MERIDIAN_FAULT: 'stmt:1:INTO country_launch' } });
  try {
    const r = await f.api('POST', '/api/v1/admin/countries/BD/launch', { token: f.adminToken, body: BD });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json.error.code, 'internal_error');
    assert.match(f.log(), /injected fault/);
    const a = await f.get('/api/v1/admin/countries', { token: f.adminToken });
    assert.ok(!a.json.countries.some((c) => c.code === 'BD'), 'no country');
    assert.deepEqual(a.json.launching, []);
    const line = plan.skus.find((l) => l.sell);
    const p = await f.get(`/api/v1/admin/products/${line.product_id}`, { token: f.adminToken });
    assert.ok(p.json.skus.every((s) => s.prices.BD === undefined), 'no price');
    // the fault fired once: the same launch now goes through
    const again = await f.api('POST', '/api/v1/admin/countries/BD/launch', { token: f.adminToken, body: BD });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json.prices_written, plan.summary.sold);
  } finally {
    await f.stop();
  }
});
