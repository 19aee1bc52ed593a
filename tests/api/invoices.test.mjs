// Tax invoices and credit notes: issued when an order is paid (or refunded), numbered without gaps per
// country and series, India's GST split and HSN codes, EU VAT, PDFs whose text reads back in Devanagari and
// Vietnamese, authorization like orders, and documents that never change once issued.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, expectError, customer, until } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer({ args: ['--event-retry-ms', '200'] }); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const CHENNAI = { name: 'Karthik S', line1: '4 Anna Salai', city: 'Chennai', state: 'TN', postal_code: '600002', phone: '+919812345679' };

async function skuOf(country, category, offset = 0) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=${category}&per_page=10`);
  const p = await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`);
  return p.json.skus[0];
}

// Places and pays an order by card; returns the order as paid.
async function paidOrder(c, lines, lang) {
  const o = await srv.api('POST', `/api/v1/orders${lang ? `?lang=${lang}` : ''}`, { token: c.token, body: { payment_method: 'card', lines } });
  assert.equal(o.status, 201, o.text);
  const paid = await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
  assert.equal(paid.status, 200, paid.text);
  return paid.json;
}

const invoices = (c, id) => srv.get(`/api/v1/orders/${id}/invoices`, { token: c.token });
async function documents(c, id, n = 1) {
  return until(async () => {
    const r = await invoices(c, id);
    return r.status === 200 && r.json.items.length >= n ? r.json.items : null;
  }, `${n} document(s) of order ${id}`);
}

async function pdfText(c, id, number) {
  const r = await fetch(`${srv.base}/api/v1/orders/${id}/invoices/${number}?format=pdf`, { headers: { authorization: `Bearer ${c.token}` } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/pdf');
  const bytes = Buffer.from(await r.arrayBuffer());
  assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
  const dir = mkdtempSync(join(tmpdir(), 'meridian-pdf-'));
  try {
    writeFileSync(join(dir, 'i.pdf'), bytes);
    return execFileSync('pdftotext', ['-enc', 'UTF-8', join(dir, 'i.pdf'), '-'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const seqOf = (number) => Number(number.slice(number.lastIndexOf('-') + 1));

test('India within one state: a GST tax invoice with GSTIN, place of supply, HSN per line, CGST + SGST; its PDF reads back in Hindi', async () => {
  const c = await customer(srv, 'IN'); // Mumbai, Maharashtra: the seller's state
  const phone = await skuOf('IN', 'phones');
  const charger = await skuOf('IN', 'chargers');
  const o = await paidOrder(c, [{ sku: phone.code, quantity: 1 }, { sku: charger.code, quantity: 2 }], 'hi');
  const [inv] = await documents(c, o.id);
  assert.equal(inv.kind, 'invoice');
  assert.match(inv.number, /^IN-INV-\d{7}$/);
  const d = inv.document;
  assert.equal(d.title, 'Tax Invoice (GST)');
  assert.equal(d.number, inv.number);
  assert.equal(d.seller.tax_id, '27AAJCM4521K1Z3');
  assert.equal(d.seller.state, 'MH');
  assert.equal(d.place_of_supply, 'MH');
  assert.equal(d.supply, 'intra-state');
  assert.equal(d.order.number, o.number);
  assert.equal(d.buyer.name, 'Asha Rao');
  assert.deepEqual(d.lines.map((l) => l.hsn), ['8517', '8504']);
  assert.deepEqual(d.lines.map((l) => l.quantity), [1, 2]);
  assert.deepEqual(d.taxes.map((t) => t.kind).sort(), ['CGST', 'SGST']);
  const taxSum = d.taxes.reduce((s, t) => s + t.amount.amount, 0);
  assert.equal(taxSum, o.totals.tax.amount);
  assert.equal(d.totals.grand_total.amount, o.totals.grand_total.amount);
  for (const l of d.lines) assert.equal(l.taxable.amount + l.tax.amount, l.total.amount, 'tax included in the line total');
  assert.ok(/[\u0900-\u097F]/.test(d.lines[0].name), 'the order was placed in Hindi');

  const text = await pdfText(c, o.id, inv.number);
  for (const want of [inv.number, '27AAJCM4521K1Z3', 'CGST', 'SGST', '8517', o.number, d.totals.grand_total.formatted, d.lines[0].name]) {
    assert.ok(text.includes(want), `the PDF text has ${want}`);
  }
});

test('India across states: IGST, place of supply is the buyer\'s state', async () => {
  const c = await customer(srv, 'IN', { address: CHENNAI });
  const o = await paidOrder(c, [{ sku: (await skuOf('IN', 'phones', 1)).code, quantity: 1 }]);
  const [inv] = await documents(c, o.id);
  assert.equal(inv.document.place_of_supply, 'TN');
  assert.equal(inv.document.supply, 'inter-state');
  assert.deepEqual(inv.document.taxes.map((t) => t.kind), ['IGST']);
  assert.equal(inv.document.taxes[0].amount.amount, o.totals.tax.amount);
});

test('numbers are consecutive per series, without gaps, however many orders are paid at once', async () => {
  const c = await customer(srv, 'IN');
  const s = await skuOf('IN', 'cables');
  const orders = await Promise.all([0, 1, 2, 3, 4].map(() => paidOrder(c, [{ sku: s.code, quantity: 1 }])));
  const numbers = [];
  for (const o of orders) numbers.push((await documents(c, o.id))[0].number);
  const seqs = numbers.map(seqOf).sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `no gap: ${numbers}`);
  assert.equal(new Set(numbers).size, numbers.length);
});

test('a refund issues a credit note that names the invoice; the invoice is never changed', async () => {
  const c = await customer(srv, 'IN');
  const a = await skuOf('IN', 'cases');
  const b = await skuOf('IN', 'cables', 1);
  const o = await paidOrder(c, [{ sku: a.code, quantity: 2 }, { sku: b.code, quantity: 1 }]);
  const [inv] = await documents(c, o.id);
  const r = await srv.api('POST', `/api/v1/admin/orders/${o.id}/refunds`, { token: T, body: { country: 'IN', reason: 'damaged', lines: [{ line_no: 1, quantity: 1 }] } });
  assert.equal(r.status, 201, r.text);
  const docs = await documents(c, o.id, 2);
  const cn = docs[1];
  assert.equal(cn.kind, 'credit_note');
  assert.match(cn.number, /^IN-CN-\d{7}$/);
  assert.equal(cn.document.refers_to, inv.number);
  assert.deepEqual(cn.document.lines.map((l) => [l.line_no, l.quantity]), [[1, 1]]);
  const refunded = (await srv.get(`/api/v1/orders/${o.id}`, { token: c.token })).json.totals.refunded.amount;
  assert.equal(cn.document.totals.grand_total.amount, refunded, 'the credit note is for what was refunded');
  const cnTax = cn.document.taxes.reduce((s, t) => s + t.amount.amount, 0);
  assert.equal(cnTax, cn.document.totals.tax.amount, 'the tax rows add up to the tax credited');
  assert.ok(cn.document.totals.grand_total.amount > 0 && cn.document.totals.grand_total.amount < inv.document.totals.grand_total.amount);
  assert.deepEqual(docs[0], inv, 'the invoice is as it was issued');
  const text = await pdfText(c, o.id, cn.number);
  assert.ok(text.includes(inv.number) && text.includes('Credit Note'));

  // a new seller name applies to new documents only
  const country = (await srv.get('/api/v1/admin/countries', { token: T })).json.countries.find((x) => x.code === 'IN');
  country.invoicing.seller.name = 'Meridian Commerce India (renamed) Pvt. Ltd.';
  const put = await srv.api('PUT', '/api/v1/admin/countries/IN', { token: T, body: country });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual((await documents(c, o.id, 2))[0], inv);
});

test('Spain: a VAT invoice; Vietnam: Vietnamese text in the PDF', async () => {
  const es = await customer(srv, 'ES');
  const o = await paidOrder(es, [{ sku: (await skuOf('ES', 'phones')).code, quantity: 1 }], 'es');
  const [inv] = await documents(es, o.id);
  assert.match(inv.number, /^ES-INV-\d{7}$/);
  assert.equal(inv.document.title, 'VAT Invoice');
  assert.equal(inv.document.seller.tax_id, 'ESB87654321');
  assert.deepEqual(inv.document.taxes.map((t) => t.kind), ['VAT']);
  assert.equal('hsn' in inv.document.lines[0], false);
  assert.equal(inv.document.place_of_supply, undefined);

  const vn = await customer(srv, 'VN');
  const ov = await paidOrder(vn, [{ sku: (await skuOf('VN', 'phones')).code, quantity: 1 }], 'vi');
  const [iv] = await documents(vn, ov.id);
  const text = await pdfText(vn, ov.id, iv.number);
  assert.ok(text.includes('Nguyễn An'), 'the buyer\'s name with its stacked accents');
  assert.ok(text.includes('Công ty TNHH Meridian Commerce Việt Nam'));
});

test('documents are the order owner\'s and staff\'s only; bad requests are clear', async () => {
  const c = await customer(srv, 'IN');
  const o = await paidOrder(c, [{ sku: (await skuOf('IN', 'chargers', 1)).code, quantity: 1 }]);
  const [inv] = await documents(c, o.id);
  const other = await customer(srv, 'IN');
  expectError(await invoices(other, o.id), 404, 'not_found');
  expectError(await srv.get(`/api/v1/orders/${o.id}/invoices/${inv.number}?format=pdf`, { token: other.token }), 404, 'not_found');
  expectError(await srv.get(`/api/v1/orders/${o.id}/invoices`), 401, 'unauthorized');
  expectError(await srv.get(`/api/v1/orders/${o.id}/invoices/IN-INV-9999999`, { token: c.token }), 404, 'not_found');
  expectError(await srv.get(`/api/v1/orders/${o.id}/invoices/${inv.number}?format=xml`, { token: c.token }), 400, 'invalid_parameter', 'format');
  const one = await srv.get(`/api/v1/orders/${o.id}/invoices/${inv.number}`, { token: c.token });
  assert.deepEqual(one.json, inv.document);
  // staff: by country, and only their countries
  const admin = await srv.get(`/api/v1/admin/orders/${o.id}/invoices?country=IN`, { token: T });
  assert.equal(admin.status, 200);
  assert.equal(admin.json.items[0].number, inv.number);
  expectError(await srv.get(`/api/v1/admin/orders/${o.id}/invoices?country=ES`, { token: T }), 404, 'not_found');
  expectError(await srv.get(`/api/v1/orders/${o.id}/invoices`, { token: T }), 403, 'forbidden');
});
