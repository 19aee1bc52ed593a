// Countries, routing, and region enforcement.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError, run, PG, sqlRows } from './helpers.mjs';

let all, inOnly;
before(async () => {
  all = await startServer();
  inOnly = await startServer({ regions: 'in', args: ['--region-urls', 'eu=https://eu.example.test,sg=https://sg.example.test'] });
});
after(async () => { await all.stop(); await inOnly.stop(); });

test('countries: the demo countries with currency, languages, timezone, region', async () => {
  const r = await all.get('/api/v1/countries?lang=en');
  assert.equal(r.status, 200);
  const by = Object.fromEntries(r.json.countries.map((c) => [c.code, c]));
  for (const code of ['SG', 'MY', 'ID', 'PH', 'TH', 'VN', 'IN', 'RU', 'ES', 'FR', 'IT', 'DE', 'PL', 'GB']) assert.ok(by[code], code);
  assert.equal(by.IN.currency, 'INR');
  assert.equal(by.IN.timezone, 'Asia/Kolkata');
  assert.equal(by.IN.region, 'in');
  assert.equal(by.IN.default_language, 'hi');
  assert.equal(by.VN.currency_digits, 0);
  assert.equal(by.ID.practical_digits, 0);
  assert.equal(by.ID.currency_digits, 2);
  assert.equal(by.ES.region, 'eu');
  assert.equal(by.ES.tax_included, true);
  assert.ok(by.IN.payment_methods.some((p) => p.method === 'cod' && p.max_amount > 0));
  const regions = new Set(r.json.countries.map((c) => c.region));
  assert.deepEqual([...regions].sort(), ['eu', 'in', 'ru', 'sg']);
});

test('route answers for any known country from any node', async () => {
  const r = await inOnly.get('/api/v1/route?country=ES');
  assert.equal(r.status, 200);
  assert.equal(r.json.region, 'eu');
  assert.equal(r.json.url, 'https://eu.example.test');
  assert.equal(r.json.served_here, false);
  const own = await inOnly.get('/api/v1/route?country=IN');
  assert.equal(own.json.served_here, true);
  assert.equal(own.json.url, inOnly.base);
  expectError(await inOnly.get('/api/v1/route?country=ZZ'), 404, 'unknown_country');
  expectError(await inOnly.get('/api/v1/route'), 400, 'missing_parameter', 'country');
});

test('a country of another region is 421 wrong_region with its region and URL', async () => {
  const r = await inOnly.get('/api/v1/products?country=ES');
  expectError(r, 421, 'wrong_region');
  assert.equal(r.json.error.region, 'eu');
  assert.equal(r.json.error.url, 'https://eu.example.test');
  const d = await inOnly.get('/api/v1/products/1?country=SG');
  expectError(d, 421, 'wrong_region');
  assert.equal(d.json.error.region, 'sg');
  assert.equal((await inOnly.get('/api/v1/products?country=IN')).status, 200);
});

test('a node serving only in creates only its own region database', async () => {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(inOnly.dataDir).filter((f) => f.endsWith('.db'));
  if (!PG) {
    assert.deepEqual(files.sort(), ['catalog.db', 'region-in.db']);
    return;
  }
  // PostgreSQL: no files, and of the region databases (all created empty) only in's has tables
  assert.deepEqual(files, []);
  const tables = (db) => sqlRows(inOnly.dataDir, db, "SELECT 1 FROM pg_tables WHERE schemaname = 'public'").length;
  assert.ok(tables('catalog') > 0 && tables('in') > 0);
  for (const other of ['sg', 'eu', 'ru']) assert.equal(tables(other), 0, `region ${other} got tables`);
});

test('an unknown region in --regions refuses to start', async () => {
  assert.throws(() => run(['serve', '--data', all.dataDir, '--regions', 'mars', '--port', '1']), /./);
});
