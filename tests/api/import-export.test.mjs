// Bulk import and export (issue 15 item 5): products and prices as CSV (RFC 4180) and JSON, a report of
// every bad row, all-or-nothing by default, partial and dry-run modes, gzip bodies, who may do it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, expectError, run, customer } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const exp = (kind, q = '', token = T) => srv.get(`/api/v1/admin/export/${kind}${q}`, { token });
const imp = (kind, raw, { q = '', type = 'text/csv', token = T, headers = {} } = {}) =>
  srv.api('POST', `/api/v1/admin/import/${kind}${q}`, { token, raw, headers: { 'content-type': type, ...headers } });

// A minimal RFC 4180 reader for the assertions (quotes, doubled quotes, line breaks inside quotes).
function parseCsv(text) {
  const rows = [];
  let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; } else if (c === '\r' && text[i + 1] === '\n') { /* CRLF */ } else if (c === '\n') { row.push(f); rows.push(row); row = []; f = ''; } else f += c;
  }
  if (f !== '' || row.length) { row.push(f); rows.push(row); }
  return rows;
}

const adminProduct = async (id) => (await srv.get(`/api/v1/admin/products/${id}`, { token: T })).json;

test('export → import round trip leaves prices and products unchanged', async () => {
  const prices = await exp('prices', '?format=csv');
  assert.equal(prices.status, 200, prices.text);
  assert.match(prices.headers.get('content-type'), /^text\/csv/);
  const rows = parseCsv(prices.text);
  assert.deepEqual(rows[0], ['sku', 'country', 'amount', 'currency', 'product']);
  assert.ok(rows.length > 1000);
  const products = await exp('products');
  assert.equal(products.status, 200);
  const before = await exp('products', '?format=json');
  assert.equal(before.status, 200);
  assert.ok(Array.isArray(before.json) && before.json.length > 100);

  const r1 = await imp('prices', prices.text);
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.json.rejected, 0);
  assert.equal(r1.json.applied, rows.length - 1);
  const r2 = await imp('products', products.text);
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.products.created, 0);
  assert.equal((await exp('prices', '?format=csv')).text, prices.text);
  assert.equal((await exp('products')).text, products.text);
  // the JSON form imports too, unchanged
  const r3 = await imp('products', before.text, { type: 'application/json' });
  assert.equal(r3.status, 200, r3.text);
  assert.deepEqual((await exp('products', '?format=json')).json, before.json);
  // a country's price list only
  const inOnly = parseCsv((await exp('prices', '?country=IN')).text);
  assert.ok(inOnly.length > 100 && inOnly.slice(1).every((r) => r[1] === 'IN' && r[3] === 'INR'));
});

test('bad rows are each reported with row and column; all or nothing applies none of them', async () => {
  const list = parseCsv((await exp('prices', '?country=IN')).text);
  const sku = list[1][0];
  const oldAmount = Number(list[1][2]);
  const csv = [
    'sku,country,amount',
    `${sku},IN,${oldAmount + 100}`, // row 2: good
    'NO-SUCH-SKU,IN,100', // row 3
    `${sku},XX,100`, // row 4
    `${sku},DE,abc`, // row 5
    `${sku},DE,-5`, // row 6
    `${sku},IN,${oldAmount + 200}`, // row 7: the same SKU and country again
    `${sku},VN`, // row 8: a field short
  ].join('\r\n');
  const r = await imp('prices', csv);
  expectError(r, 422, 'validation_failed');
  const e = r.json.error;
  assert.equal(e.rows, 7);
  assert.equal(e.applied, 0);
  assert.equal(e.rejected, 6);
  const by = (row) => e.errors.filter((x) => x.row === row);
  assert.deepEqual(by(3).map((x) => [x.column, x.code]), [['sku', 'unknown_sku']]);
  assert.deepEqual(by(4).map((x) => [x.column, x.code]), [['country', 'unknown_country']]);
  assert.deepEqual(by(5).map((x) => [x.column, x.code]), [['amount', 'invalid_value']]);
  assert.deepEqual(by(6).map((x) => [x.column, x.code]), [['amount', 'invalid_value']]);
  assert.deepEqual(by(7).map((x) => x.code), ['duplicate_row']);
  assert.deepEqual(by(8).map((x) => x.code), ['wrong_field_count']);
  assert.ok(e.errors.every((x) => typeof x.message === 'string' && x.message.length > 0));
  // nothing was applied, not even row 2
  const after = parseCsv((await exp('prices', '?country=IN')).text);
  assert.equal(after.find((x) => x[0] === sku)[2], String(oldAmount));

  // a dry run of a good file reports and writes nothing
  const dry = await imp('prices', `sku,country,amount\n${sku},IN,${oldAmount + 100}\n`, { q: '?dry_run=true' });
  assert.equal(dry.status, 200, dry.text);
  assert.equal(dry.json.dry_run, true);
  assert.equal(dry.json.applied, 0);
  assert.equal(dry.json.rejected, 0);
  assert.equal(parseCsv((await exp('prices', '?country=IN')).text).find((x) => x[0] === sku)[2], String(oldAmount));
  // a dry run of a bad file: the same report
  expectError(await imp('prices', csv, { q: '?dry_run=true' }), 422, 'validation_failed');

  // partial mode applies the good rows and reports the others
  const p = await imp('prices', csv, { q: '?mode=partial' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.applied, 1);
  assert.equal(p.json.rejected, 6);
  const now = parseCsv((await exp('prices', '?country=IN')).text).find((x) => x[0] === sku);
  assert.equal(now[2], String(oldAmount + 100));
});

test('the whole file is refused when it cannot be read: unknown column, broken quoting, bad UTF-8, bad options', async () => {
  expectError(await imp('prices', 'sku,country,amount,colour\nA,IN,1\n'), 422, 'validation_failed', 'header');
  expectError(await imp('prices', 'sku,country,amount\n"A,IN,1\n'), 422, 'validation_failed', 'body');
  expectError(await imp('prices', Buffer.from('sku,country,amount\n\xff,IN,1\n', 'latin1')), 422, 'validation_failed', 'body');
  expectError(await imp('prices', ''), 422, 'validation_failed', 'body');
  expectError(await imp('prices', 'sku\n', { type: 'text/plain' }), 415, 'unsupported_media_type');
  expectError(await imp('prices', 'sku\n', { q: '?mode=some' }), 400, 'invalid_parameter', 'mode');
  expectError(await imp('prices', 'sku\n', { q: '?dry_run=yes' }), 400, 'invalid_parameter', 'dry_run');
  expectError(await imp('stuff', 'sku\n'), 404, 'not_found');
  expectError(await exp('prices', '?format=xml'), 400, 'invalid_parameter', 'format');
  expectError(await imp('prices', '[{"sku": 1.5}]', { type: 'application/json' }), 422, 'validation_failed');
  expectError(await imp('prices', '{"sku": "A"}', { type: 'application/json' }), 422, 'validation_failed', 'body');
  expectError(await imp('prices', 'sku,country,amount\n', { headers: { 'content-encoding': 'gzip' } }), 400, 'invalid_parameter', 'Content-Encoding');
});

test('products: CSV quoting with commas, quotes, line breaks, Devanagari and Cyrillic; new products and SKUs', async () => {
  const desc = 'Слим, "тонкий"\nदूसरी पंक्ति, नया';
  const csv = 'product,brand,category,name,description,sku,attributes,max_per_order\r\n' +
    `bulk-phone-1,"Брэнд, Ltd",phones,"स्मार्टफ़ोन ""नया""","${desc.replace(/"/g, '""')}",BULK-1-A,colour=black;storage=128gb,3\r\n` +
    `bulk-phone-1,"Брэнд, Ltd",phones,"स्मार्टफ़ोन ""नया""","${desc.replace(/"/g, '""')}",BULK-1-B,colour=white;storage=128gb,3\r\n`;
  const r = await imp('products', csv);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.products, { created: 1, updated: 0, skus_created: 2, skus_updated: 0 });
  const row = (await exp('products', '?format=json')).json.filter((x) => x.product === 'bulk-phone-1');
  assert.equal(row.length, 2);
  assert.equal(row[0].brand, 'Брэнд, Ltd');
  assert.equal(row[0].name, 'स्मार्टफ़ोन "नया"');
  assert.equal(row[0].description, desc);
  assert.deepEqual(row[1].attributes, { colour: 'white', storage: '128gb' });
  // the CSV export quotes what needs it, and reads back the same
  const back = parseCsv((await exp('products')).text).filter((x) => x[0] === 'bulk-phone-1');
  assert.equal(back[0][6], desc);
  assert.equal(back[0][1], 'Брэнд, Ltd');
  // prices for the new SKUs, then the storefront lists it in India
  const pr = await imp('prices', 'sku,country,amount,currency\nBULK-1-A,IN,1500000,INR\nBULK-1-B,IN,1600000,\n');
  assert.equal(pr.status, 200, pr.text);
  const s = await srv.get('/api/v1/products?country=IN&q=' + encodeURIComponent('Брэнд'));
  assert.equal(s.status, 200);
  assert.ok(s.json.items.some((x) => x.slug === 'bulk-phone-1'), s.text);
  // a price in the wrong currency, a SKU that belongs to another product, rows of one product that disagree
  const bad = await imp('products', 'product,brand,category,name,sku\n' +
    'bulk-phone-2,B,phones,N,BULK-1-A\n' + // row 2: taken by bulk-phone-1
    'bulk-phone-3,B,no-such-category,N,BULK-3-A\n' + // row 3
    'bulk-phone-4,B,phones,N,BULK-4-A\n' +
    'bulk-phone-4,C,phones,N,BULK-4-B\n' + // row 5: another brand
    'Bad Slug,B,phones,N,bulk-lower\n'); // row 6: two bad columns
  expectError(bad, 422, 'validation_failed');
  const codes = bad.json.error.errors.map((x) => `${x.row}:${x.column}:${x.code}`).sort();
  assert.deepEqual(codes, ['2:sku:sku_taken', '3:category:unknown_category', '5:product:conflicting_row',
    '6:product:invalid_value', '6:sku:invalid_value']);
  assert.equal(bad.json.error.rejected, 4);
  assert.equal((await exp('products', '?format=json')).json.filter((x) => x.product === 'bulk-phone-4').length, 0);
  expectError(await imp('prices', 'sku,country,amount,currency\nBULK-1-A,IN,1500000,EUR\n'), 422, 'validation_failed');
  // JSON with an attributes object
  const j = await imp('products', JSON.stringify([{ product: 'bulk-phone-5', brand: 'B', category: 'phones', name: 'Five', sku: 'BULK-5-A', attributes: { colour: 'red' }, active: false }]), { type: 'application/json' });
  assert.equal(j.status, 200, j.text);
  const five = (await exp('products', '?format=json')).json.find((x) => x.product === 'bulk-phone-5');
  assert.deepEqual(five.attributes, { colour: 'red' });
  assert.equal(five.active, false);
});

test('a large price file in one gzip request: 20,000 rows, one writer job', async () => {
  const all = parseCsv((await exp('prices')).text).slice(1);
  const lines = ['sku,country,amount'];
  for (let i = 0; lines.length <= 20000; i++) {
    const [sku, cc, amount] = all[i % all.length];
    if (i >= all.length) break;
    lines.push(`${sku},${cc},${amount}`);
  }
  const body = gzipSync(Buffer.from(lines.join('\n') + '\n'));
  const trips = async () => Number((await srv.get('/metrics')).text.match(/^meridian_db_round_trips_total (\d+)$/m)[1]);
  const trips0 = await trips();
  const t0 = Date.now();
  const r = await imp('prices', body, { headers: { 'content-encoding': 'gzip' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.applied, lines.length - 1);
  assert.ok(Date.now() - t0 < 30000);
  // not a round trip per row: with PostgreSQL the rows go 1,000 to a pipeline (store/db.h, batches); SQLite
  // files make none (the reload after it and the metrics reads make a few dozen)
  const used = (await trips()) - trips0;
  assert.ok(used < 200, `${used} round trips for ${lines.length - 1} rows`);
  // a price of the file is served
  const [sku, cc, amount] = lines[lines.length - 1].split(',');
  const back = parseCsv((await exp('prices', `?country=${cc}`)).text).find((x) => x[0] === sku);
  assert.equal(back[2], amount);
});

test('who may: admins everything; operators their countries\' prices only; nobody else', async () => {
  const op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-bulk@example.test', '--role', 'operator', '--countries', 'IN']);
  const sku = parseCsv((await exp('prices', '?country=IN')).text)[1][0];
  expectError(await imp('prices', 'sku,country,amount\n', { token: null }), 401, 'unauthorized');
  expectError(await exp('prices', '', null), 401, 'unauthorized');
  expectError(await imp('products', 'product\n', { token: op }), 403, 'forbidden');
  expectError(await exp('products', '', op), 403, 'forbidden');
  expectError(await exp('prices', '?country=DE', op), 403, 'forbidden', 'country');
  const mine = parseCsv((await exp('prices', '', op)).text);
  assert.ok(mine.length > 1 && mine.slice(1).every((r) => r[1] === 'IN'));
  const r = await imp('prices', `sku,country,amount\n${sku},IN,1000000\n${sku},DE,100000\n`, { token: op });
  expectError(r, 422, 'validation_failed');
  assert.deepEqual(r.json.error.errors.map((x) => [x.row, x.column, x.code]), [[3, 'country', 'forbidden']]);
  const ok = await imp('prices', `sku,country,amount\n${sku},IN,1000000\n`, { token: op });
  assert.equal(ok.status, 200, ok.text);
  // a customer token is not staff
  const c = await customer(srv, 'IN');
  assert.ok(c.token);
  expectError(await imp('prices', 'sku\n', { token: c.token }), 403, 'forbidden');
  expectError(await exp('prices', '', c.token), 403, 'forbidden');
});

test('stock per warehouse: export, import into the region of the country, all or nothing, partial, dry run, who may', async () => {
  const ex = await exp('stock', '?country=IN&format=csv');
  assert.equal(ex.status, 200, ex.text);
  const rows = parseCsv(ex.text);
  assert.deepEqual(rows[0], ['sku', 'warehouse', 'country', 'on_hand', 'reserved', 'available']);
  assert.ok(rows.length > 10);
  const [sku, wh, , onHand] = rows[1];
  const other = parseCsv((await exp('stock', '?country=DE')).text)[1][1]; // a warehouse of region eu
  // an unedited export imports unchanged (the extra columns are ignored)
  const same = await imp('stock', ex.text, { q: '?country=IN' });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.applied, rows.length - 1);
  assert.equal(same.json.region, 'in');
  // a bad row in the database's eyes (a warehouse of another region) refuses the whole file
  const bad = `sku,warehouse,on_hand\n${sku},${wh},${Number(onHand) + 7}\n${sku},${other},5\nNO-SUCH,${wh},1\n${sku},${wh},-1\n`;
  const r = await imp('stock', bad, { q: '?country=IN' });
  expectError(r, 422, 'validation_failed');
  assert.deepEqual(r.json.error.errors.map((e) => [e.row, e.column, e.code]), [[4, 'sku', 'unknown_sku'], [5, 'on_hand', 'invalid_value']]);
  const r2 = await imp('stock', `sku,warehouse,on_hand\n${sku},${wh},${Number(onHand) + 7}\n${sku},${other},5\n`, { q: '?country=IN' });
  expectError(r2, 422, 'validation_failed');
  assert.deepEqual(r2.json.error.errors.map((e) => [e.row, e.column, e.code]), [[3, 'warehouse', 'unknown_warehouse']]);
  const find = async () => parseCsv((await exp('stock', '?country=IN')).text).find((x) => x[0] === sku && x[1] === wh)[3];
  assert.equal(await find(), onHand); // nothing applied
  // a dry run finds the same, writes nothing
  const dry = await imp('stock', `sku,warehouse,on_hand\n${sku},${wh},${Number(onHand) + 7}\n${sku},${other},5\n`, { q: '?country=IN&dry_run=true' });
  expectError(dry, 422, 'validation_failed');
  assert.equal(await find(), onHand);
  // partial: the good row
  const p = await imp('stock', `sku,warehouse,on_hand,reason\n${sku},${wh},${Number(onHand) + 7},recount\n${sku},${other},5,\n`, { q: '?country=IN&mode=partial' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.applied, 1);
  assert.equal(p.json.rejected, 1);
  assert.equal(await find(), String(Number(onHand) + 7));
  const view = await srv.get(`/api/v1/admin/stock?country=IN&sku=${sku}`, { token: T });
  assert.ok(view.json.movements.some((m) => m.reason === 'recount' && m.d_on_hand === 7), view.text);
  // JSON too
  const j = await imp('stock', JSON.stringify([{ sku, warehouse: wh, on_hand: Number(onHand) }]), { type: 'application/json', q: '?country=IN' });
  assert.equal(j.status, 200, j.text);
  assert.equal(await find(), onHand);
  // who may: an operator of IN, not of DE; the country is required
  const op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'op-stock@example.test', '--role', 'operator', '--countries', 'IN']);
  assert.equal((await exp('stock', '?country=IN', op)).status, 200);
  expectError(await exp('stock', '?country=DE', op), 403, 'forbidden');
  expectError(await imp('stock', 'sku,warehouse,on_hand\n', { q: '?country=DE', token: op }), 403, 'forbidden');
  expectError(await imp('stock', 'sku,warehouse,on_hand\n'), 400, 'missing_parameter', 'country');
});

// Exports are streamed (http/req.h: mer_call_stream): a chunk of about 64 KiB at a time, each made by a read
// job after a cursor, so the server holds one chunk whatever the size of the catalogue.
const CHUNK = 65536;
const streamStats = async () => {
  const t = (await srv.get('/metrics')).text;
  const v = (name) => Number(t.match(new RegExp(`^${name} (\\d+)$`, 'm'))[1]);
  return { streams: v('meridian_stream_answers_total'), chunks: v('meridian_stream_chunks_total'), max: v('meridian_stream_chunk_max_bytes') };
};

test('exports of a large catalogue are streamed in bounded chunks: every row once, in order, whatever the size', async () => {
  const N = 1500; // products x 3 SKUs x 3 prices: each export is well over ten chunks
  const lines = ['product,brand,category,name,description,sku,attributes,max_per_order'];
  for (let i = 0; i < N; i++)
    for (let k = 1; k <= 3; k++)
      lines.push(`stream-${i},Brand${i % 7},phones,Stream Phone ${i},"A phone, number ${i}, with a longer description to fill the rows",STREAM-${i}-${k},colour=c${k};storage=${64 * k}gb,5`);
  const pi = await imp('products', gzipSync(Buffer.from(lines.join('\n') + '\n')), { headers: { 'content-encoding': 'gzip' } });
  assert.equal(pi.status, 200, pi.text);
  const prices = ['sku,country,amount'];
  for (let i = 0; i < N; i++)
    for (let k = 1; k <= 3; k++) for (const cc of ['IN', 'DE', 'VN']) prices.push(`STREAM-${i}-${k},${cc},${(1000 + i) * 100 + k}`);
  const pr = await imp('prices', gzipSync(Buffer.from(prices.join('\n') + '\n')), { headers: { 'content-encoding': 'gzip' } });
  assert.equal(pr.status, 200, pr.text);

  const before = await streamStats();
  const p = await exp('products', '?format=csv');
  assert.equal(p.status, 200);
  assert.equal(p.headers.get('content-length'), null); // chunked: the size is not known up front
  assert.match(p.headers.get('content-disposition'), /products\.csv/);
  const bytes = Buffer.byteLength(p.text);
  const rows = parseCsv(p.text);
  assert.deepEqual(rows[0], ['product', 'brand', 'category', 'tax_class', 'active', 'name', 'description', 'sku', 'attributes', 'position', 'max_per_order']);
  const skus = rows.slice(1).map((r) => r[7]);
  assert.equal(new Set(skus).size, skus.length, 'a SKU came out twice (at a chunk boundary?)');
  const mine = rows.filter((r) => r[0].startsWith('stream-'));
  assert.equal(mine.length, 3 * N);
  assert.deepEqual(mine.slice(0, 4).map((r) => r[7]), ['STREAM-0-1', 'STREAM-0-2', 'STREAM-0-3', 'STREAM-1-1']);
  assert.deepEqual(mine.find((r) => r[7] === `STREAM-${N - 1}-3`).slice(0, 3), [`stream-${N - 1}`, `Brand${(N - 1) % 7}`, 'phones']);
  // the same rows as JSON
  const j = await exp('products', '?format=json');
  assert.equal(j.status, 200);
  assert.equal(j.json.length, skus.length);
  assert.deepEqual(j.json.map((x) => x.sku), skus);
  const after = await streamStats();
  assert.equal(after.streams - before.streams, 2);
  // memory: no chunk held more than one chunk's worth (plus the row that crossed the mark), while each
  // answer was many chunks long
  assert.ok(bytes > 10 * CHUNK, `only ${bytes} bytes`);
  assert.ok(after.max <= CHUNK + 4096, `a chunk of ${after.max} bytes`);
  assert.ok(after.chunks - before.chunks >= Math.ceil(bytes / (CHUNK + 4096)) + Math.ceil(Buffer.byteLength(j.text) / (CHUNK + 4096)),
    `${after.chunks - before.chunks} chunks for ${bytes} + ${j.text.length} bytes`);

  // prices: every (SKU, country) once, the header first
  const c = await exp('prices');
  const prows = parseCsv(c.text);
  assert.deepEqual(prows[0], ['sku', 'country', 'amount', 'currency', 'product']);
  const keys = prows.slice(1).map((r) => `${r[0]}/${r[1]}`);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(prows.filter((r) => r[0].startsWith('STREAM-')).length, 9 * N);
  assert.deepEqual(prows.find((r) => r[0] === `STREAM-${N - 1}-3` && r[1] === 'VN'), [`STREAM-${N - 1}-3`, 'VN', String((1000 + N - 1) * 100 + 3), 'VND', `stream-${N - 1}`]);
  const cj = await exp('prices', '?format=json&country=IN');
  assert.equal(cj.json.length, prows.filter((r) => r[1] === 'IN').length);

  // stock: more rows in one warehouse than one query reads (keyset pages of 1,000 rows)
  const wh = parseCsv((await exp('stock', '?country=IN')).text)[1][1];
  const stock = ['sku,warehouse,on_hand'];
  for (let i = 0; i < N; i++) for (let k = 1; k <= 3; k++) stock.push(`STREAM-${i}-${k},${wh},${i % 50}`);
  const si = await imp('stock', stock.join('\n') + '\n', { q: '?country=IN' });
  assert.equal(si.status, 200, si.text);
  const s0 = await streamStats();
  const se = await exp('stock', '?country=IN');
  assert.equal(se.status, 200);
  const srows = parseCsv(se.text).slice(1);
  const skeys = srows.map((r) => `${r[1]}/${r[0]}`);
  assert.equal(new Set(skeys).size, skeys.length);
  const inWh = srows.filter((r) => r[1] === wh && r[0].startsWith('STREAM-'));
  assert.equal(inWh.length, 3 * N);
  assert.deepEqual(inWh.find((r) => r[0] === `STREAM-${N - 1}-2`).slice(2, 6), ['IN', String((N - 1) % 50), '0', String((N - 1) % 50)]);
  const sj = await exp('stock', '?country=IN&format=json');
  assert.equal(sj.json.length, srows.length);
  const s1 = await streamStats();
  assert.ok(s1.chunks - s0.chunks >= 4, `${s1.chunks - s0.chunks} chunks`);
  assert.ok(s1.max <= CHUNK + 4096);
});

test('a client that goes away in the middle of a streamed export ends it; the server carries on', async () => {
  const ac = new AbortController();
  const r = await fetch(`${srv.base}/api/v1/admin/export/products?format=json`, { headers: { authorization: `Bearer ${T}` }, signal: ac.signal });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  const first = await reader.read();
  assert.ok(first.value.length > 0);
  ac.abort();
  await reader.read().catch(() => {});
  // the next exports and reads still work
  const again = await exp('prices', '?country=DE');
  assert.equal(again.status, 200);
  assert.ok(parseCsv(again.text).length > 1);
  assert.equal((await srv.get('/api/v1/products?country=IN&per_page=1')).status, 200);
});
