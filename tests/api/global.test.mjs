// Worldwide (issue 12 items 1, 2, 4, 6): the deployment `make run-global` starts (scripts/run-global.sh: PostgreSQL
// clusters for the catalogue hub and the regions in, eu, sg, logical replication hub -> regions, the hub's node,
// a node per region, the gateway), then: a price changed at the hub reaches a product page in every region (the
// lag is measured and reported); a region's copy of the catalogue refuses local writes; with the hub down every
// region keeps selling and a catalogue write answers 503 unavailable with Retry-After; back, a change reaches
// every region; a region whose node and cluster were stopped while the hub changed starts again while the hub is
// down (on the copy it has) and catches up when the hub is back.
// Started once, in the SQLite phase of the suite (it brings its own clusters; the api-pg phase would only run
// it a second time).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, PG, client, customer, expectError, wait } from './helpers.mjs';

const skip = PG && 'starts its own PostgreSQL clusters: run once, in the SQLite phase';
const PGSH = 'tests/pg/pg.sh';
const COUNTRIES = { in: 'IN', eu: 'ES', sg: 'VN' };
const PAYMENT = { IN: 'cod', ES: 'wallet', VN: 'cod' }; // a method each country offers that needs no card

let script, state, stateDir, scriptLog = '';
const restarted = []; // nodes this test started again (the script stops only its own)

// Polls fn (every 20 ms) until it returns something truthy, for at most ms; returns [value, elapsed ms].
async function within(ms, what, fn) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return [v, Date.now() - t0];
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await wait(20);
  }
}

before(async () => {
  if (skip) return;
  stateDir = mkdtempSync(join(tmpdir(), 'meridian-global-test-'));
  const file = join(stateDir, 'state.json');
  script = spawn('scripts/run-global.sh', [BIN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLOBAL_PORT: '0', NODE_THREADS: '1', GLOBAL_STATE: file },
  });
  script.stdout.on('data', (d) => { scriptLog += d; });
  script.stderr.on('data', (d) => { scriptLog += d; });
  script.exited = new Promise((res) => script.on('exit', (code, signal) => res({ code, signal })));
  await within(90000, 'run-global.sh ready', async () => {
    if (script.exitCode !== null) throw new Error(`run-global.sh exited ${script.exitCode}:\n${scriptLog}`);
    return existsSync(file);
  });
  state = JSON.parse(readFileSync(file, 'utf8'));
});

after(async () => {
  if (skip || !script) return;
  for (const n of restarted) { n.kill('SIGTERM'); await n.exited; }
  script.kill('SIGTERM');
  const deadline = setTimeout(() => script.kill('SIGKILL'), 60000);
  const { code } = await script.exited;
  clearTimeout(deadline);
  rmSync(stateDir, { recursive: true, force: true });
  assert.ok(code === 130 || code === 143 || code === 0, `run-global.sh ended with ${code}:\n${scriptLog}`);
  assert.ok(!existsSync(state.work), 'run-global.sh removed its directory');
  for (const c of [state.hub.cluster, ...Object.values(state.regions).map((r) => r.cluster)])
    assert.ok(!existsSync(c), `cluster ${c} removed`);
});

const gw = () => client(state.gateway);
const hub = () => client(state.hub.url);
const node = (r) => client(state.regions[r].url);

// The first SKU of product 1 and its price in a country, as a region's node (or the gateway) shows it.
async function priceAt(c, country) {
  const p = await c.get(`/api/v1/products/1?country=${country}`);
  assert.equal(p.status, 200, p.text);
  return { sku: p.json.skus[0].code, amount: p.json.skus[0].price.amount };
}

function setPrices(c, sku, amounts) {
  return c.api('PUT', '/api/v1/admin/prices', {
    token: state.token,
    body: { prices: Object.entries(amounts).map(([country, amount]) => ({ sku, country, amount })) },
  });
}

// Sets a new price in every region's country through c; waits until each region shows it; returns the lags.
async function changeAndWatch(t, c, what, regions = Object.keys(COUNTRIES), through = (r) => gw()) {
  const { sku } = await priceAt(gw(), 'IN');
  const amounts = {};
  for (const r of regions) amounts[COUNTRIES[r]] = (await priceAt(through(r), COUNTRIES[r])).amount + 100 + Math.floor(Math.random() * 900);
  const t0 = Date.now();
  const put = await setPrices(c, sku, amounts);
  assert.equal(put.status, 200, put.text);
  const lags = {};
  await Promise.all(regions.map(async (r) => {
    await within(10000, `${what}: the price in ${r}`, async () => (await priceAt(through(r), COUNTRIES[r])).amount === amounts[COUNTRIES[r]]);
    lags[r] = Date.now() - t0;
  }));
  t.diagnostic(`${what}: hub -> region product page, ms: ${JSON.stringify(lags)}`);
  return { sku, amounts, lags };
}

test('a price changed at the hub reaches a product page in every region (lag measured); the regions\' copies refuse local writes', { skip, timeout: 120000 }, async (t) => {
  await changeAndWatch(t, hub(), 'written at the hub\'s node');
  // a region's node writes the catalogue at the hub (--hub-db): the other regions receive it too
  await changeAndWatch(t, node('in'), 'written at region in\'s node');
  // read-only on the region side: only the replication worker writes the copy
  assert.throws(() => execFileSync('psql', ['-q', state.regions.eu.catalog_db, '-c', "UPDATE price SET amount = 1 WHERE country = 'ES'"], { stdio: 'pipe' }),
    /replica of the hub/);
});

test('hub down: every region keeps selling, catalogue writes answer 503 with Retry-After; back: a change reaches every region', { skip, timeout: 120000 }, async (t) => {
  const buyers = {};
  for (const r of Object.keys(COUNTRIES)) buyers[r] = await customer(gw(), COUNTRIES[r]);
  execFileSync(PGSH, ['down', state.hub.cluster]);
  try {
    const { sku } = await priceAt(gw(), 'IN');
    for (const [r, c] of [['in', node('in')], ['hub', hub()]]) {
      const w = await setPrices(c, sku, { IN: 123400 });
      expectError(w, 503, 'unavailable');
      assert.ok(Number(w.headers.get('retry-after')) >= 1, `${r}: Retry-After`);
    }
    // an order placed in IN (and in the others) while the hub is down; catalogue reads keep answering
    for (const r of Object.keys(COUNTRIES)) {
      const country = COUNTRIES[r];
      const list = await gw().get(`/api/v1/products?country=${country}&category=accessories&per_page=1`);
      assert.equal(list.status, 200, list.text);
      const p = await gw().get(`/api/v1/products/${list.json.items[0].id}?country=${country}`);
      const o = await gw().api('POST', '/api/v1/orders', { token: buyers[r].token, body: { payment_method: PAYMENT[country], lines: [{ sku: p.json.skus[0].code, quantity: 1 }] } });
      assert.equal(o.status, 201, `${r}: ${o.text}`);
      assert.equal(o.headers.get('x-meridian-upstream'), `${r}/0`);
    }
  } finally {
    execFileSync(PGSH, ['up', state.hub.cluster]);
  }
  // back: the region node's connection to the hub comes back by itself on its next write
  const { sku } = await priceAt(gw(), 'IN');
  await within(15000, 'a catalogue write accepted again', async () => (await setPrices(node('in'), sku, { IN: (await priceAt(gw(), 'IN')).amount })).status === 200);
  await changeAndWatch(t, hub(), 'after the hub came back');
});

test('a region stopped (node and cluster) while the hub changed prices starts even while the hub is down, and catches up when the hub is back', { skip, timeout: 120000 }, async (t) => {
  const eu = state.regions.eu;
  const before = await priceAt(node('eu'), 'ES');
  process.kill(eu.pid, 'SIGTERM');
  await within(15000, 'the eu node stopped', async () => { try { process.kill(eu.pid, 0); return false; } catch { return true; } });
  execFileSync(PGSH, ['down', eu.cluster]);
  let es;
  try {
    // changes while eu is away; in and sg get them
    await changeAndWatch(t, hub(), 'while eu is down', ['in', 'sg']);
    await changeAndWatch(t, hub(), 'while eu is down (2)', ['in', 'sg']);
    es = before.amount + 7;
    const put = await setPrices(hub(), before.sku, { ES: es });
    assert.equal(put.status, 200, put.text);
  } finally {
    // the hub goes down before eu's cluster returns: eu must not catch up yet
    execFileSync(PGSH, ['down', state.hub.cluster]);
    execFileSync(PGSH, ['up', eu.cluster]);
  }
  // eu's node starts while the hub is down: it serves the copy it has
  let t0;
  try {
    const child = spawn(BIN, eu.args.split(' '), { stdio: ['ignore', 'ignore', 'pipe'] });
    child.exited = new Promise((res) => child.on('exit', res));
    restarted.push(child);
    await within(30000, 'the eu node ready again (hub down)', async () => { try { return (await fetch(`${eu.url}/readyz`)).ok; } catch { return false; } });
    assert.equal((await priceAt(node('eu'), 'ES')).amount, before.amount, 'the copy as it was');
    expectError(await setPrices(node('eu'), before.sku, { ES: es + 1 }), 503, 'unavailable');
  } finally {
    execFileSync(PGSH, ['up', state.hub.cluster]);
    t0 = Date.now();
  }
  // the hub back: eu receives what it missed
  const [, lag] = await within(15000, 'eu caught up', async () => (await priceAt(node('eu'), 'ES')).amount === es);
  t.diagnostic(`eu caught up ${lag} ms after the hub came back (${Date.now() - t0} ms)`);
  // and follows the hub again
  await changeAndWatch(t, hub(), 'after eu came back', ['eu'], node);
});
