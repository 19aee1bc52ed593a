// Residency proof (issue 12 item 5) and payment webhooks through the gateway. Three region nodes (in, eu, sg),
// each on its own data directory (on PostgreSQL: its own databases), behind `meridian gateway`. Customers with
// distinctive emails, phone numbers, names and address lines register, add addresses and place orders in every
// region through the gateway; wallet payments are confirmed by the provider's signed webhooks, sent to the
// gateway with no country. Then every process is stopped and every store of every region is dumped in full
// (SQLite: `sqlite3 .dump` of every database file plus the raw bytes of every file in the data directory;
// PostgreSQL: pg_dump of each of the node's databases), and every log (each node's access log and
// stdout/stderr, the gateway's access log and stdout/stderr) is read: no customer value appears anywhere
// outside its home region — and the same scan of the home region's dumps finds every one of them, so the scan
// is shown to work. Also: an IN customer's token is refused by the EU node, and the gateway never sends an IN
// customer's request to EU (access logs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, startGateway, expectError, run, wait, ADDRESSES, PG, pgUrl } from './helpers.mjs';
import { sign } from '../../tools/wallet-sim.mjs';

const HOME = { in: 'IN', eu: 'ES', sg: 'VN' }; // a country of each region
const REGIONS = Object.keys(HOME);
const PHONE = { IN: ['+919', 9], ES: ['+346', 8], VN: ['+849', 8] }; // prefix, random digits: valid in each country
const PASSWORD = 'correct horse battery';

let nodes = {}, gw, logDir;
const secrets = {};
// per region: the values that must stay home ({ kind, value, token }: token is a distinctive part of the value
// that survives any encoding of it, searched too), the customers, and the request ids their calls were sent with
// ids: requests sent to a node; edge: public catalogue reads the gateway answered from its edge cache (X-Cache: hit)
const data = Object.fromEntries(REGIONS.map((r) => [r, { values: [], customers: [], ids: [], edge: [] }]));

before(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'meridian-residency-'));
  for (const r of REGIONS) {
    nodes[r] = await startServer({ regions: r, args: ['--access-log', join(logDir, `${r}.access.log`), '--trusted-proxy', '127.0.0.1'] });
    secrets[r] = run(['admin', 'provider-secret', 'wallet', '--data', nodes[r].dataDir]);
  }
  gw = await startGateway([...REGIONS.flatMap((r) => ['--region', `${r}=${nodes[r].base}`]),
    '--access-log', join(logDir, 'gateway.access.log'), '--health-interval', '200']);
});

after(async () => {
  if (gw) await gw.stop();
  for (const n of Object.values(nodes)) {
    await n.stop();
    rmSync(n.dataDir, { recursive: true, force: true });
  }
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

const upstream = (r) => r.headers.get('x-meridian-upstream');
const token = () => `q${randomBytes(5).toString('hex')}`; // letters and digits: no encoding changes it
const digits = (n) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

// A value that must stay in region r; returns it.
function keep(r, kind, value, tok = value) {
  data[r].values.push({ kind, value, token: tok.toLowerCase() });
  return value;
}

let seq = 0;
// A call through the gateway on behalf of region r's customers, under a request id of r's.
async function call(r, method, path, opts = {}) {
  const id = `res-${r}-${process.pid}-${++seq}`;
  const res = await gw.api(method, path, { ...opts, headers: { ...(opts.headers || {}), 'x-request-id': id } });
  assert.equal(upstream(res), `${r}/0`, `${method} ${path} of a customer of ${r} went to ${upstream(res)}: ${res.text}`);
  if (res.headers.get('x-cache') === 'hit') {
    assert.ok(!opts.token, 'a request with a token is never answered from the edge cache');
    data[r].edge.push(id);
  } else {
    data[r].ids.push(id);
  }
  return res;
}

async function someSku(r, country) {
  const list = await call(r, 'GET', `/api/v1/products?country=${country}&category=accessories&per_page=1`);
  const p = await call(r, 'GET', `/api/v1/products/${list.json.items[0].id}?country=${country}`);
  return p.json.skus[0].code;
}

test('customers, addresses and orders in every region, all through the gateway', async () => {
  for (const r of REGIONS) {
    const country = HOME[r];
    for (let i = 0; i < 2; i++) {
      const t = token();
      const email = keep(r, 'email', `res.${t}@example.test`, t);
      const [pre, n] = PHONE[country];
      const phone = pre + digits(n);
      keep(r, 'phone', phone, phone.slice(1)); // also as it would read without its '+' (or with it encoded)
      const tn = token();
      const name = keep(r, 'name', `Ottilie ${tn[0].toUpperCase()}${tn.slice(1)} Brandvold`, tn);
      const reg = await call(r, 'POST', '/api/v1/users', { body: { email, phone, password: PASSWORD, country, name } });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.json.region, r);
      assert.equal(reg.json.phone, phone, 'the phone as stored (E.164)');
      const login = await call(r, 'POST', '/api/v1/sessions', { body: { email, password: PASSWORD, country } });
      assert.equal(login.status, 201, login.text);
      assert.match(login.json.token, new RegExp(`^mct_${r}_`));
      const c = { token: login.json.token, email, country };
      const ta = token(), tl = token();
      const addr = await call(r, 'POST', '/api/v1/users/me/addresses', {
        token: c.token,
        body: {
          ...ADDRESSES[country],
          name: keep(r, 'address name', `Casimir ${ta} Oyelaran`, ta),
          line1: keep(r, 'address line', `${100 + i} ${tl} Residency Lane`, tl),
          phone: ((p) => keep(r, 'address phone', p, p.slice(1)))(pre + digits(n)),
        },
      });
      assert.equal(addr.status, 201, addr.text);
      // a cash-on-delivery order where the country takes it, else a card order; and a wallet order, paid below
      // by the provider's webhook
      const method = country === 'ES' ? 'card' : 'cod';
      const o = await call(r, 'POST', '/api/v1/orders', { token: c.token, body: { payment_method: method, lines: [{ sku: await someSku(r, country), quantity: 1 }] } });
      assert.equal(o.status, 201, o.text);
      if (method === 'card') {
        const pay = await call(r, 'POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } });
        assert.ok(pay.status < 300, pay.text);
      }
      const w = await call(r, 'POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'wallet', lines: [{ sku: await someSku(r, country), quantity: 1 }] } });
      assert.equal(w.status, 201, w.text);
      assert.match(w.json.payment.intent, new RegExp(`^pi_${r}_`));
      keep(r, 'payment intent', w.json.payment.intent);
      c.wallet = w.json;
      // the customer's own reads, each with hints that name other regions: the token decides
      const other = REGIONS.find((x) => x !== r);
      for (const p of ['/api/v1/users/me', '/api/v1/orders', `/api/v1/orders/${o.json.id}`, '/api/v1/users/me/addresses']) {
        const got = await call(r, 'GET', p, { token: c.token, headers: { 'x-country': HOME[other], cookie: `country=${HOME[other]}` } });
        assert.equal(got.status, 200, got.text);
      }
      data[r].customers.push(c);
    }
  }
});

// The provider's webhook for a wallet order: POSTed to the gateway, with no country and no token.
async function webhook(order, { secret, outcome = 'succeeded', chargeId, body: bodyOverride } = {}) {
  const body = JSON.stringify({
    id: `whevt_${randomBytes(8).toString('hex')}`, type: `payment.${outcome}`, intent: order.payment.intent,
    amount: order.totals.grand_total.amount, currency: order.currency, charge_id: chargeId,
  });
  return gw.api('POST', '/api/v1/payments/wallet/webhook', {
    raw: bodyOverride || body, headers: { 'content-type': 'application/json', 'x-provider-signature': sign(secret, body) },
  });
}

test('payment webhooks through the gateway reach the region that owns the payment; signatures are checked there', async () => {
  for (const r of REGIONS) {
    for (const c of data[r].customers) {
      const charge = keep(r, 'wallet charge id', `wch_${token()}`);
      const hook = await webhook(c.wallet, { secret: secrets[r], chargeId: charge });
      assert.equal(hook.status, 200, hook.text);
      assert.equal(hook.json.result, 'processed');
      assert.equal(upstream(hook), `${r}/0`, 'the region named by the intent, not the default region');
      const o = await call(r, 'GET', `/api/v1/orders/${c.wallet.id}`, { token: c.token });
      assert.equal(o.json.status, 'paid', o.text);
    }
  }
  // the gateway neither checks nor needs a provider's secret: each region verifies with its own, over the
  // bytes the provider sent
  const c = data.eu.customers[0];
  const wrongKey = await webhook(c.wallet, { secret: secrets.in });
  expectError(wrongKey, 400, 'invalid_signature');
  assert.equal(upstream(wrongKey), 'eu/0');
  const tampered = await webhook(c.wallet, { secret: secrets.eu, body: JSON.stringify({ id: 'whevt_x', type: 'payment.failed', intent: c.wallet.payment.intent, amount: 1 }) });
  expectError(tampered, 400, 'invalid_signature');
  assert.equal(upstream(tampered), 'eu/0');
  // an intent of a region behind no node here: refused at the edge, for the provider to retry later
  const nowhere = await gw.api('POST', '/api/v1/payments/wallet/webhook', { body: { id: 'whevt_y', type: 'payment.succeeded', intent: 'pi_zz_00', amount: 1 } });
  expectError(nowhere, 503, 'region_unavailable');
  assert.equal(nowhere.json.error.region, 'zz');
});

test('an IN customer\'s token is refused by the EU node (and the SG node) when sent to it directly', async () => {
  const c = data.in.customers[0];
  for (const r of ['eu', 'sg']) {
    for (const p of ['/api/v1/users/me', '/api/v1/orders', '/api/v1/users/me/addresses']) {
      const res = await nodes[r].get(p, { token: c.token });
      expectError(res, 401, 'unauthorized');
    }
  }
  assert.equal((await nodes.in.get('/api/v1/users/me', { token: c.token })).status, 200, 'its own region takes it');
});

// Every file under dir, recursively.
function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

// The full contents of a region node's stores: [{ what, text, dump }] (dump: a database dump, as opposed to
// a file's raw bytes).
function storeContents(r) {
  const out = [];
  const max = { encoding: 'utf8', maxBuffer: 1 << 30 };
  if (PG) {
    for (const db of ['catalog', ...REGIONS, 'ru']) {
      out.push({ what: `${r} node: pg_dump of its ${db} database`, text: execFileSync('pg_dump', ['--no-owner', pgUrl(nodes[r].dataDir, db)], max), dump: true });
    }
  }
  for (const f of files(nodes[r].dataDir)) {
    const bytes = readFileSync(f);
    out.push({ what: `${r} node: ${f}`, text: bytes.toString('latin1') }); // byte for byte
    if (bytes.subarray(0, 16).toString('latin1') === 'SQLite format 3\0') {
      out.push({ what: `${r} node: sqlite3 .dump of ${f}`, text: execFileSync('sqlite3', ['-readonly', f, '.dump'], max), dump: true });
    }
  }
  return out;
}

const hits = (text, v) => {
  const t = text.toLowerCase();
  return t.includes(v.value.toLowerCase()) || t.includes(v.token);
};

test('the gateway never sent a customer\'s request to another region (every node\'s access log)', async () => {
  await wait(600); // access logs are flushed every 200 ms
  const logs = Object.fromEntries(REGIONS.map((r) => [r, readFileSync(join(logDir, `${r}.access.log`), 'utf8')]));
  for (const r of REGIONS) {
    for (const id of data[r].ids) assert.ok(logs[r].includes(`"id":"${id}"`), `${id} in ${r}'s access log`);
    // a public catalogue read answered from the gateway's edge cache reached no node at all
    for (const id of data[r].edge) for (const x of REGIONS) assert.ok(!logs[x].includes(`"id":"${id}"`), `${id} (an edge hit) in ${x}'s access log`);
    for (const other of REGIONS.filter((x) => x !== r)) {
      assert.ok(!logs[other].includes(`res-${r}-`), `no request of a ${r} customer in ${other}'s access log`);
    }
  }
});

test('residency scan: no customer value in any other region\'s stores or logs, nor the gateway\'s; the home region\'s dumps hold every one', async () => {
  // stop everything first: logs complete, databases closed (and still on disk)
  assert.deepEqual(await gw.stop(), { code: 0, signal: null }, gw.log());
  for (const r of REGIONS) await nodes[r].stop({ keepData: true });
  const stores = Object.fromEntries(REGIONS.map((r) => [r, storeContents(r)]));
  const logs = Object.fromEntries(REGIONS.map((r) => [r, [
    { what: `${r} node: access log`, text: readFileSync(join(logDir, `${r}.access.log`), 'utf8') },
    { what: `${r} node: stdout and stderr`, text: nodes[r].log() },
  ]]));
  const gatewayLogs = [
    { what: 'gateway: access log', text: readFileSync(join(logDir, 'gateway.access.log'), 'utf8') },
    { what: 'gateway: stdout and stderr', text: gw.log() },
  ];
  assert.ok(gatewayLogs[0].text.includes(`res-in-${process.pid}-`), 'the gateway\'s access log has the requests');
  let scanned = 0;
  for (const r of REGIONS) {
    assert.ok(data[r].values.length >= 16, `values of ${r}: ${data[r].values.length}`);
    const elsewhere = [...REGIONS.filter((x) => x !== r).flatMap((x) => [...stores[x], ...logs[x]]), ...gatewayLogs];
    for (const v of data[r].values) {
      for (const place of elsewhere) {
        assert.ok(!hits(place.text, v), `${r}'s ${v.kind} ${v.value} found in ${place.what}`);
        scanned++;
      }
      // the scan works: the home region's full dumps hold the value as it was sent
      assert.ok(stores[r].some((s) => s.dump && s.text.toLowerCase().includes(v.value.toLowerCase())), `${r}'s ${v.kind} ${v.value} in its own dump`);
      // and the access logs, at home too, carry ids, never a customer's data (README "Operating it")
      for (const place of [logs[r][0], gatewayLogs[0]]) {
        assert.ok(!hits(place.text, v), `${r}'s ${v.kind} ${v.value} in ${place.what}`);
      }
    }
  }
  assert.ok(scanned > 0);
});
