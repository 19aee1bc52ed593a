// Flash sales on a node serving several regions: ids name one sale everywhere (each region database
// stores its sales under ids the catalogue gives out), across restarts, and for sales written before that.
// Also: a sale whose sessions have already ended is refused; one_per_phone counts delivery-address phones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, expectError, customer, ADDRESSES, PG, localTime } from './helpers.mjs';

let srv, T, dataDir;
before(async () => { srv = await startServer({ regions: 'in,eu' }); T = srv.adminToken; dataDir = srv.dataDir; });
after(async () => { await srv.stop(); rmSync(dataDir, { recursive: true, force: true }); });

// Stops the node, runs between() on its stopped data, and starts it again on the same data.
async function restart(between = () => {}) {
  await srv.stop({ keepData: true });
  between();
  srv = await startServer({ regions: 'in,eu', dataDir });
  T = srv.adminToken;
}

const TZ = { IN: 'Asia/Kolkata', ES: 'Europe/Madrid' };

async function skuIn(country, offset = 0) {
  const list = await srv.get(`/api/v1/products?country=${country}&category=accessories&per_page=20`);
  return (await srv.get(`/api/v1/products/${list.json.items[offset].id}?country=${country}`)).json.skus[0].code;
}

// A live fcfs session that needs a reservation, whose window is open now.
async function createSale(country, { rules, offset = 0, title = `Launch ${country}` } = {}) {
  const t = (ms) => localTime(TZ[country], ms);
  const sku = await skuIn(country, offset);
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T,
    body: { country, titles: { en: title }, ...(rules ? { rules } : {}),
      sessions: [{ starts_at: t(-60000), ends_at: t(3600000), reservation: { required: true, opens_at: t(-120000), closes_at: t(3000000) },
        items: [{ sku, price: country === 'IN' ? 10000 : 1000, units: 5 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, session: r.json.session_ids[0], sku, country, title };
}

const reserve = (f, token) => srv.api('POST', `/api/v1/flash-sales/${f.id}/reservations`, { token, body: { session_id: f.session } });
const grab = (f, token) => srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });

// Each country's customer sees, reserves and grabs their own sale; the stats are the right sale's.
async function checkOwnSale(f, other, buyer, stats = { reservations: 1, wins: 1 }) {
  const info = await srv.get(`/api/v1/flash-sales/${f.id}`);
  assert.equal(info.status, 200, info.text);
  assert.equal(info.json.sale.country, f.country);
  assert.equal(info.json.sale.title, f.title);
  assert.equal(info.json.sale.sessions[0].id, f.session);
  const list = await srv.get(`/api/v1/flash-sales?country=${f.country}`);
  assert.ok(list.json.sales.some((x) => x.id === f.id));
  assert.ok(!list.json.sales.some((x) => x.id === other.id), `${other.country}'s sale is not listed in ${f.country}`);
  if (buyer) {
    const res = await reserve(f, buyer);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.session_id, f.session);
    const g = await grab(f, buyer);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.sku, f.sku);
    assert.equal(g.json.session_id, f.session);
    f.token = g.json.token;
  }
  const st = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: T });
  assert.equal(st.status, 200, st.text);
  assert.equal(st.json.id, f.id);
  assert.equal(st.json.country, f.country);
  assert.equal(st.json.sessions[0].session_id, f.session);
  assert.equal(st.json.sessions[0].items[0].sku, f.sku);
  assert.equal(st.json.sessions[0].reservations, stats.reservations);
  assert.equal(st.json.sessions[0].wins, stats.wins);
}

test('sale ids are unique across regions: IN and ES customers see, reserve, grab and buy their own sale', async () => {
  const inSale = await createSale('IN');
  const esSale = await createSale('ES');
  assert.notEqual(inSale.id, esSale.id, 'two regions, two sales, two ids');
  assert.notEqual(inSale.session, esSale.session, 'session ids are unique too');
  const asha = await customer(srv, 'IN');
  const lucia = await customer(srv, 'ES');
  await checkOwnSale(inSale, esSale, asha.token);
  await checkOwnSale(esSale, inSale, lucia.token);
  // the other country's sale stays the other country's
  expectError(await grab(inSale, lucia.token), 403, 'forbidden');
  expectError(await grab(esSale, asha.token), 403, 'forbidden');
  // each token buys its own SKU at its own flash price
  for (const [f, who, amount] of [[inSale, asha, 10000], [esSale, lucia, 1000]]) {
    const o = await srv.api('POST', '/api/v1/orders', { token: who.token, body: { payment_method: 'card', flash_token: f.token } });
    assert.equal(o.status, 201, o.text);
    const line = o.json.lines.find((l) => l.sale_type === 'flash');
    assert.equal(line.sku, f.sku);
    assert.equal(line.unit_price.amount, amount);
  }
  // metrics name each session under its own sale
  const m = await srv.get('/metrics');
  assert.match(m.text, new RegExp(`meridian_flash_wins_total\\{region="eu",sale="${esSale.id}",session="${esSale.session}"\\} 1`));

  // a restart rebuilds every sale under the same id
  await restart();
  await checkOwnSale(inSale, esSale, null);
  await checkOwnSale(esSale, inSale, null);
  const next = await createSale('ES', { offset: 1, title: 'After the restart' });
  assert.ok(![inSale.id, esSale.id].includes(next.id), 'an id is never given twice');
  assert.ok(![inSale.session, esSale.session].includes(next.session));
});

// the older data is written with the sqlite3 shell (scripts/install-deps.sh test installs it)
let sqlite3 = true;
try { execFileSync('sqlite3', ['-version']); } catch { sqlite3 = false; }

test('queue vouchers name their own sale\'s session in each region', async () => {
  const made = {};
  for (const country of ['IN', 'ES']) {
    const t = (ms) => localTime(TZ[country], ms);
    const sku = await skuIn(country, 6);
    const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
      token: T, body: { country, titles: { en: `Queue ${country}` }, sessions: [{ mode: 'queue', starts_at: t(-60000), ends_at: t(3600000), items: [{ sku, price: 500, units: 3 }] }] },
    });
    assert.equal(r.status, 201, r.text);
    made[country] = { id: r.json.id, session: r.json.session_ids[0], sku, buyer: (await customer(srv, country)).token };
  }
  assert.notEqual(made.IN.id, made.ES.id);
  for (const f of Object.values(made)) {
    const g = await grab(f, f.buyer);
    assert.equal(g.status, 202, g.text);
    assert.equal(g.json.voucher, `q${f.session}-1`);
    f.voucher = g.json.voucher;
  }
  for (const f of Object.values(made)) {
    let q;
    for (let i = 0; i < 50; i++) {
      q = await srv.get(`/api/v1/flash-sales/${f.id}/queue/${f.voucher}`, { token: f.buyer });
      if (q.json.status !== 'pending') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(q.json.status, 'won', q.text);
    assert.equal(q.json.sku, f.sku);
  }
  // a voucher is found only under its own sale
  expectError(await srv.get(`/api/v1/flash-sales/${made.IN.id}/queue/${made.ES.voucher}`, { token: made.ES.buyer }), 404, 'not_found');
});

test('sales numbered by their region database before: a clashing id is given a new one at start-up', { skip: (!sqlite3 && 'no sqlite3 shell') ||
  (PG && 'the older version that numbered sales per region database only ever wrote SQLite files') }, async () => {
  const inSale = await createSale('IN', { offset: 2, title: 'Old IN' });
  const esSale = await createSale('ES', { offset: 2, title: 'Old ES' });
  const lucia = await customer(srv, 'ES');
  assert.equal((await reserve(esSale, lucia.token)).status, 201);
  // as an older version wrote them: the ES sale under the IN sale's id, and no ids in the catalogue
  const sql = (db, q) => execFileSync('sqlite3', [join(dataDir, db), q], { encoding: 'utf8' }).trim();
  await restart(() => {
    sql('region-eu.db', `PRAGMA foreign_keys=OFF; UPDATE flash_sale SET id = ${inSale.id} WHERE id = ${esSale.id};` +
      ` UPDATE flash_session SET sale_id = ${inSale.id} WHERE sale_id = ${esSale.id};`);
    sql('catalog.db', 'DELETE FROM flash_sale_id; DELETE FROM flash_session_id;');
  });
  // one of the two keeps the id, the other (whichever region loads second) is given a new one
  const find = async (country, title) => (await srv.get(`/api/v1/flash-sales?country=${country}`)).json.sales.find((x) => x.title === title);
  const es = await find('ES', 'Old ES'), ind = await find('IN', 'Old IN');
  assert.ok(es && ind);
  assert.notEqual(es.id, ind.id);
  assert.ok([es.id, ind.id].includes(inSale.id));
  for (const [id, country] of [[es.id, 'ES'], [ind.id, 'IN']])
    assert.equal((await srv.get(`/api/v1/flash-sales/${id}`)).json.sale.country, country);
  // the sales keep their sessions, reservations and stats
  assert.equal((await grab({ ...esSale, id: es.id }, lucia.token)).status, 200);
  const st = await srv.get(`/api/v1/admin/flash-sales/${es.id}/stats`, { token: T });
  assert.equal(st.json.country, 'ES');
  assert.equal(st.json.sessions[0].session_id, esSale.session);
  assert.equal(st.json.sessions[0].reservations, 1);
  assert.equal(st.json.sessions[0].wins, 1);
  // a second restart changes nothing more
  await restart();
  assert.equal((await find('ES', 'Old ES')).id, es.id);
  assert.equal((await find('IN', 'Old IN')).id, ind.id);
  // and new ids come after every claimed one
  const next = await createSale('IN', { offset: 3 });
  assert.ok(next.id > Math.max(es.id, ind.id, esSale.id));
});

test('a sale whose sessions have already ended is refused with 422 and the field', async () => {
  const sku = await skuIn('IN', 4);
  const t = (ms) => localTime(TZ.IN, ms);
  const before = (await srv.get('/api/v1/flash-sales?country=IN')).json.sales.length;
  const ended = { starts_at: t(-7200000), ends_at: t(-3600000), items: [{ sku, price: 100, units: 1 }] };
  const live = { starts_at: t(-60000), ends_at: t(3600000), items: [{ sku, price: 100, units: 1 }] };
  for (const [sessions, field] of [[[ended], 'sessions[0].ends_at'], [[live, ended], 'sessions[1].ends_at']]) {
    const r = await srv.api('POST', '/api/v1/admin/flash-sales', { token: T, body: { country: 'IN', titles: { en: 'Too late' }, sessions } });
    expectError(r, 422, 'validation_failed', field);
    assert.match(r.json.error.message, /\+05:30/, 'the end is shown in the country\'s time');
  }
  assert.equal((await srv.get('/api/v1/flash-sales?country=IN')).json.sales.length, before, 'nothing was created');
});

test('one_per_phone counts the delivery address\'s phone: accounts sharing a phone get one unit between them', async () => {
  const phone = '+919876500012';
  const f = await createSale('IN', { rules: { one_per_phone: true }, offset: 5 });
  // an account that logs in with the phone, and two email accounts delivering to it
  const password = 'correct horse battery';
  assert.equal((await srv.api('POST', '/api/v1/users', { body: { phone, password, country: 'IN', name: 'P' } })).status, 201);
  const login = await srv.api('POST', '/api/v1/sessions', { body: { phone, password, country: 'IN' } });
  assert.equal(login.status, 201, login.text);
  const byPhone = login.json.token;
  const b = await customer(srv, 'IN', { address: { ...ADDRESSES.IN, line1: '1 Ring Road', phone } });
  const c = await customer(srv, 'IN', { address: { ...ADDRESSES.IN, line1: '2 Ring Road', phone } });
  const other = await customer(srv, 'IN', { address: { ...ADDRESSES.IN, line1: '3 Ring Road', phone: '+919876500013' } });
  for (const tok of [byPhone, b.token, c.token, other.token]) assert.equal((await reserve(f, tok)).status, 201);
  assert.equal((await grab(f, b.token)).status, 200);
  for (const tok of [byPhone, c.token]) {
    const r = await grab(f, tok);
    expectError(r, 403, 'blocked');
    assert.equal(r.json.error.reason, 'phone_already_won');
  }
  const won = await grab(f, other.token);
  assert.equal(won.status, 200, 'another phone is another buyer');
  // an account with no phone at all could not be counted: it is refused
  const none = await customer(srv, 'IN', { address: null });
  assert.equal((await reserve(f, none.token)).status, 201);
  const rn = await grab(f, none.token);
  expectError(rn, 403, 'blocked');
  assert.equal(rn.json.error.reason, 'phone_required');
  // the unit goes to the phone that won it, not to a phone that won already
  const elsewhere = { ...ADDRESSES.IN, line1: '4 Ring Road', phone };
  const o1 = await srv.api('POST', '/api/v1/orders', { token: other.token, body: { payment_method: 'card', flash_token: won.json.token, address: elsewhere } });
  expectError(o1, 422, 'validation_failed', 'address.phone');
  const o2 = await srv.api('POST', '/api/v1/orders', { token: other.token, body: { payment_method: 'card', flash_token: won.json.token } });
  assert.equal(o2.status, 201, o2.text);
  const st = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: T });
  assert.equal(st.json.sessions[0].wins, 2);
  assert.equal(st.json.sessions[0].refusals.phone_already_won, 2);
  assert.equal(st.json.sessions[0].refusals.phone_required, 1);
});
