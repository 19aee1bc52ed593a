// `meridian gateway` (issue 12 items 3, 5, 6): three region nodes (in, eu, sg, each on its own data
// directory) and two stand-in nodes for ru (small HTTP servers here that echo what reached them), with the
// gateway in front. Routing by token, query, path, header, cookie and body; an IN customer's requests only
// ever reach the IN node; balancing and health checks; EU down → 503 region_unavailable at once while IN and
// SG keep taking orders; a hanging node → 503 within the upstream timeout; catalogue fallback; edge rate
// limit; X-Request-Id and the client address forwarded; /route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { startServer, startGateway, expectError, customer, freePort, BIN, until, wait } from './helpers.mjs';

const TIMEOUT_MS = 5000; // --upstream-timeout of the gateway under test (a login's argon2id takes ~1 s under ASan on a busy machine)


// A stand-in node: answers /healthz, and every other request with what reached it.
async function echoNode(name, port) {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.url === '/healthz') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"ok"}'); return; }
      if (req.url.startsWith('/api/v1/countries')) { res.writeHead(404); res.end(); return; } // the real nodes give the list
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': req.headers['x-request-id'] || '' });
      res.end(JSON.stringify({ node: name, method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  const p = port || await freePort();
  await new Promise((res) => server.listen(p, '127.0.0.1', res));
  return { name, port: p, url: `http://127.0.0.1:${p}`, seen, server, close: () => new Promise((res) => { server.closeAllConnections(); server.close(res); }) };
}

let nodes, ru, gw, api;
const logs = {};
const nodeArgs = (r) => ['--access-log', logs[r], ...(r === 'eu' ? [] : ['--trusted-proxy', '127.0.0.1'])];

before(async () => {
  nodes = {};
  for (const r of ['in', 'eu', 'sg']) {
    const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'meridian-gwlog-'));
    logs[r] = join(dir, 'access.log');
    // the IN and SG nodes trust the gateway (both on loopback here: its X-Forwarded-For, its catalogue
    // fallbacks); the EU node does not
    nodes[r] = await startServer({ regions: r, args: nodeArgs(r) });
  }
  ru = [await echoNode('ru-0'), await echoNode('ru-1')];
  gw = await startGateway([
    '--region', `in=${nodes.in.base}`, '--region', `eu=${nodes.eu.base}`, '--region', `sg=${nodes.sg.base}`,
    '--region', `ru=${ru[0].url},${ru[1].url}`,
    '--region-urls', 'eu=https://eu.example.test',
    '--health-interval', '100', '--upstream-timeout', String(TIMEOUT_MS), '--route-ttl', '120',
  ]);
  api = gw;
});

after(async () => {
  // exits 0 after all of the above: under the sanitizer build a leak would make it fail
  if (gw) assert.deepEqual(await gw.stop(), { code: 0, signal: null }, gw.log());
  for (const n of Object.values(nodes || {})) {
    try { process.kill(n.child.pid, 'SIGCONT'); } catch { /* gone */ }
    await n.stop();
  }
  if (nodes && nodes.eu) rmSync(nodes.eu.dataDir, { recursive: true, force: true }); // restarted on its directory
  for (const e of ru || []) await e.close().catch(() => {});
});

const upstream = (r) => r.headers.get('x-meridian-upstream');

test('routes by ?country=, X-Country, cookie, /countries/{cc}/ path and JSON body; else the default region', async () => {
  assert.equal(upstream(await api.get('/api/v1/products?country=ES&per_page=1')), 'eu/0');
  assert.equal(upstream(await api.get('/api/v1/products?per_page=1', { headers: { 'x-country': 'SG' } })), 'sg/0');
  const ck = await api.get('/api/v1/products?per_page=1', { headers: { cookie: 'lang=en; country=IN' } });
  assert.equal(ck.status, 200);
  assert.equal(upstream(ck), 'in/0');
  const path = await api.get('/api/v1/admin/countries/RU/launch-plan');
  assert.equal(path.json.node.startsWith('ru-'), true, path.text);
  const reg = await api.api('POST', '/api/v1/users', { body: { email: `gw-${Date.now()}@example.test`, password: 'correct horse battery', country: 'FR', name: 'A' } });
  assert.equal(reg.status, 201, reg.text);
  assert.equal(upstream(reg), 'eu/0');
  assert.equal(upstream(await api.get('/api/v1/categories')), 'in/0', 'no country: the first --region');
});

test('a customer token goes to its own region whatever country it names; a staff token follows the country', async () => {
  const c = await customer(api, 'IN');
  assert.match(c.token, /^mct_in_/);
  const me = await api.get('/api/v1/users/me?country=ES', { token: c.token, headers: { 'x-country': 'SG' } });
  assert.equal(upstream(me), 'in/0');
  const other = await api.get('/api/v1/products?country=ES', { token: c.token });
  assert.equal(upstream(other), 'in/0', 'never to EU, even for an EU country');
  expectError(other, 421, 'wrong_region');
  const staff = await api.get('/api/v1/admin/stock?country=SG&sku=X', { token: nodes.sg.adminToken });
  assert.equal(upstream(staff), 'sg/0');
});

test('an IN customer\'s requests reach the IN node only (every node\'s access log)', async () => {
  const c = await customer(api, 'IN');
  const ids = [];
  const calls = [
    ['GET', '/api/v1/users/me'], ['GET', '/api/v1/orders'], ['GET', '/api/v1/cart?country=ES'],
    ['GET', '/api/v1/users/me/addresses'], ['GET', '/api/v1/products?country=DE'],
  ];
  for (const [i, [m, p]] of calls.entries()) {
    const id = `incust-${process.pid}-${i}`;
    ids.push(id);
    const r = await api.api(m, p, { token: c.token, headers: { 'x-request-id': id, 'x-country': 'SG', cookie: 'country=ES' } });
    assert.equal(r.headers.get('x-request-id'), id, 'the node answers under the id it was sent');
  }
  await wait(600); // the access logs are flushed every 200 ms
  const inLog = readFileSync(logs.in, 'utf8');
  for (const id of ids) assert.ok(inLog.includes(`"id":"${id}"`), `${id} in the IN node's log`);
  for (const r of ['eu', 'sg']) {
    const text = readFileSync(logs[r], 'utf8');
    assert.ok(!text.includes('incust-'), `no IN customer request in the ${r} node's log`);
    assert.ok(!text.includes(c.email), `no IN customer email in the ${r} node's log`);
  }
  for (const e of ru) assert.ok(!e.seen.some((s) => (s.headers['x-request-id'] || '').startsWith('incust-')));
});

test('X-Request-Id (kept or made) and the client address reach the node', async () => {
  const r = await api.get('/api/v1/products?country=RU', { headers: { 'x-request-id': 'trace-42' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.headers['x-request-id'], 'trace-42');
  assert.equal(r.headers.get('x-request-id'), 'trace-42');
  assert.match(r.json.headers['x-forwarded-for'], /127\.0\.0\.1/);
  const made = await api.get('/api/v1/products?country=RU', { headers: { 'x-request-id': 'bad id with spaces' } });
  assert.match(made.json.headers['x-request-id'], /^g[0-9a-f]{8}-\d+-\d+$/);
  const none = await api.get('/api/v1/products?country=RU');
  assert.match(none.json.headers['x-request-id'], /^g/);
  assert.notEqual(none.json.headers['x-request-id'], made.json.headers['x-request-id']);
  // hop-by-hop headers stay on their hop
  const hop = await new Promise((res, rej) => {
    const req = http.request(`${api.base}/api/v1/products?country=RU`, { headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5', te: 'trailers' } }, (resp) => {
      let b = '';
      resp.on('data', (d) => { b += d; });
      resp.on('end', () => res(JSON.parse(b)));
    });
    req.on('error', rej);
    req.end();
  });
  assert.equal(hop.headers['keep-alive'], undefined);
  assert.equal(hop.headers.te, undefined);
});

test('a node behind a trusted gateway takes the client address from the last X-Forwarded-For entry', async () => {
  const xff = { 'x-forwarded-for': '198.51.100.7, 203.0.113.5' };
  await nodes.in.get('/api/v1/products?country=IN&per_page=1', { headers: { ...xff, 'x-request-id': `xff-in-${process.pid}` } });
  await nodes.eu.get('/api/v1/products?country=ES&per_page=1', { headers: { ...xff, 'x-request-id': `xff-eu-${process.pid}` } });
  await wait(600);
  const line = (r, id) => readFileSync(logs[r], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.id === id);
  assert.equal(line('in', `xff-in-${process.pid}`).peer, '203.0.113.5', 'the address the proxy appended');
  assert.equal(line('eu', `xff-eu-${process.pid}`).peer, '127.0.0.1', 'a node that trusts no proxy keeps the peer');
});

test('balances over the nodes of a region; a node that stops is taken out, and put back when it answers', async () => {
  const before = ru.map((e) => e.seen.length);
  for (let i = 0; i < 20; i++) assert.equal((await api.get(`/api/v1/products?country=RU&i=${i}`)).status, 200);
  const got = ru.map((e, i) => e.seen.length - before[i]);
  assert.ok(got[0] >= 5 && got[1] >= 5, `both nodes served: ${got}`);

  const port = ru[1].port;
  await ru[1].close();
  // GETs still succeed: a failed attempt is retried on the other node, then the health check takes it out
  for (let i = 0; i < 10; i++) {
    const r = await api.get(`/api/v1/products?country=RU&k=${i}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.node, 'ru-0');
  }
  const m = await api.get('/metrics');
  assert.match(m.text, new RegExp(`meridian_gateway_node_up\\{region="ru",node="http://127.0.0.1:${port}"\\} 0`));
  ru[1] = await echoNode('ru-1', port);
  await until(async () => (await api.get('/api/v1/products?country=RU')).json.node === 'ru-1', 'ru-1 back in the pool');
});

test('a write without Idempotency-Key is not sent twice; with one it is retried', async () => {
  // ru-1 answers nothing and closes: the connection is made, the request sent, the answer never comes
  const port = ru[1].port;
  await ru[1].close();
  const hang = http.createServer((req, res) => {
    if (req.url === '/healthz') res.end('{"status":"ok"}'); // healthy to the checks, failing every request
    else req.socket.destroy();
  });
  await new Promise((res) => hang.listen(port, '127.0.0.1', res));
  const before = ru[0].seen.length;
  // a health check may catch the port closed, and a failed request takes the node out: wait for it in the pool
  const inPool = async () => (await api.get('/metrics')).text.includes(`meridian_gateway_node_up{region="ru",node="http://127.0.0.1:${port}"} 1`);
  try {
    await until(inPool, 'ru-1 in the pool');
    let sawFailure = false;
    for (let i = 0; i < 4; i++) {
      const r = await api.api('POST', '/api/v1/orders?country=RU', { body: { n: i } });
      if (r.status === 503) {
        expectError(r, 503, 'region_unavailable');
        assert.match(r.json.error.message, /Idempotency-Key/);
        sawFailure = true;
      }
    }
    assert.ok(sawFailure, 'a POST that reached a failing node is answered 503, not retried');
    await until(inPool, 'ru-1 back in the pool'); // the failing node answers its health checks
    for (let i = 0; i < 4; i++) {
      const r = await api.api('POST', '/api/v1/orders?country=RU', { body: { k: i }, headers: { 'idempotency-key': `k-${i}` } });
      assert.equal(r.status, 200, `with an Idempotency-Key the write goes to the other node: ${r.text}`);
      assert.equal(r.json.node, 'ru-0');
    }
    assert.match((await api.get('/metrics')).text, /meridian_gateway_retries_total [1-9]/);
  } finally { // also on a failure: a server left listening keeps the test file from ever ending
    await new Promise((res) => { hang.closeAllConnections(); hang.close(res); });
  }
  ru[1] = await echoNode('ru-1', port);
  await until(async () => (await api.get('/api/v1/products?country=RU')).json.node === 'ru-1', 'ru-1 back');
  assert.ok(ru[0].seen.length >= before);
});

test('/api/v1/route answers like httpdns: the region, its public URL and a TTL', async () => {
  const r = await api.get('/api/v1/route?country=ES');
  assert.equal(r.status, 200);
  assert.deepEqual({ ...r.json, healthy: undefined }, { country: 'ES', region: 'eu', url: 'https://eu.example.test', ttl: 120, healthy: undefined });
  assert.equal(r.headers.get('cache-control'), 'public, max-age=120');
  const inr = await api.get('/api/v1/route?country=in');
  assert.equal(inr.json.region, 'in');
  assert.equal(inr.json.url, nodes.in.base, 'default: the first node of the region');
  expectError(await api.get('/api/v1/route?country=ZZ'), 404, 'unknown_country');
  expectError(await api.get('/api/v1/route'), 400, 'missing_parameter');
});

async function sku(country) {
  const list = await api.get(`/api/v1/products?country=${country}&category=accessories&per_page=1`);
  const p = await api.get(`/api/v1/products/${list.json.items[0].id}?country=${country}`);
  return p.json.skus[0];
}

async function order(c, country, method) {
  const s = await sku(country);
  return api.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: method, lines: [{ sku: s.code, quantity: 1 }] } });
}

test('a client cannot mark its own request as a catalogue fallback', async () => {
  // straight to a node that trusts no proxy: the mark is ignored, the country is still another region's
  expectError(await nodes.eu.get('/api/v1/products?country=IN&per_page=1', { headers: { 'x-meridian-fallback': 'in' } }), 421, 'wrong_region');
  // through the gateway, to a region that is up: the client's mark is dropped at the edge
  const list = await api.get('/api/v1/products?country=IN&category=accessories&per_page=1');
  const p = await api.get(`/api/v1/products/${list.json.items[0].id}?country=IN`, { headers: { 'x-meridian-fallback': 'eu' } });
  assert.equal(p.status, 200);
  assert.equal(upstream(p), 'in/0');
  assert.equal(p.headers.get('x-meridian-fallback'), null);
  assert.equal(p.headers.get('x-meridian-stock'), null);
  assert.ok(p.json.skus.every((k) => k.stock_state === 'in_stock'), p.text);
});

let euC; // an EU customer registered before EU stops, for the restart
test('EU stopped: EU calls get 503 region_unavailable at once; IN and SG still take orders; catalogue reads fall back', async () => {
  const inC = await customer(api, 'IN');
  const sgC = await customer(api, 'VN');
  euC = await customer(api, 'ES');
  assert.match(euC.token, /^mct_eu_/);
  const list = await api.get('/api/v1/products?country=ES&category=accessories&per_page=1');
  const home = await api.get(`/api/v1/products/${list.json.items[0].id}?country=ES&lang=es`);
  assert.equal(upstream(home), 'eu/0');
  assert.ok(home.json.skus.some((k) => k.stock_state === 'in_stock'), home.text);
  await nodes.eu.stop({ keepData: true });

  let t = Date.now();
  const r = await api.get('/api/v1/orders', { token: euC.token });
  expectError(r, 503, 'region_unavailable');
  assert.equal(r.json.error.region, 'eu');
  assert.ok(Date.now() - t < TIMEOUT_MS, `answered in ${Date.now() - t} ms`);
  await until(async () => /node_up\{region="eu"[^}]*\} 0/.test((await api.get('/metrics')).text), 'EU taken out');
  t = Date.now();
  const w = await api.api('POST', '/api/v1/cart/items', { token: euC.token, body: { sku: 'X', quantity: 1 } });
  expectError(w, 503, 'region_unavailable');
  assert.ok(Date.now() - t < 500, 'refused without trying a node');
  const oi = await order(inC, 'IN', 'cod');
  assert.equal(oi.status, 201, oi.text);
  assert.equal(upstream(oi), 'in/0');
  const os = await order(sgC, 'VN', 'cod');
  assert.equal(os.status, 201, os.text);
  assert.equal(upstream(os), 'sg/0');

  // public catalogue reads go to a region that is up, which answers them from its catalogue copy with
  // stock unknown (stock is the region's own data); a customer's never do
  const cat = await api.get('/api/v1/countries?country=ES');
  assert.equal(cat.status, 200);
  assert.ok(cat.headers.get('x-meridian-fallback'));
  const page = await api.get(`/api/v1/products/${home.json.id}?country=ES&lang=es`);
  assert.equal(page.status, 200, page.text);
  const by = page.headers.get('x-meridian-fallback');
  assert.ok(by === 'sg' || by === 'in', `answered by a region that is up: ${by}`);
  assert.equal(upstream(page).split('/')[0], by);
  assert.equal(page.headers.get('x-meridian-stock'), 'unknown');
  assert.deepEqual({ ...page.json, skus: undefined }, { ...home.json, skus: undefined }, 'the same product, names and prices');
  assert.deepEqual(page.json.skus.map((k) => ({ ...k, stock_state: undefined })), home.json.skus.map((k) => ({ ...k, stock_state: undefined })));
  assert.ok(page.json.skus.every((k) => k.stock_state === 'unknown'), page.text);
  assert.notEqual(page.headers.get('etag'), home.headers.get('etag'));
  const search = await api.get('/api/v1/products?country=FR&q=phone&per_page=2');
  assert.equal(search.status, 200, search.text);
  assert.ok(search.json.items.length > 0);
  assert.ok(search.headers.get('x-meridian-fallback'));
  const cats = await api.get('/api/v1/categories?country=DE');
  assert.equal(cats.status, 200, cats.text);
  assert.ok(cats.headers.get('x-meridian-fallback'));
  // anything personal (a customer's token, even on a catalogue read) is still 503
  expectError(await api.get('/api/v1/countries?country=ES', { token: euC.token }), 503, 'region_unavailable');
  expectError(await api.get(`/api/v1/products/${home.json.id}?country=ES`, { token: euC.token }), 503, 'region_unavailable');
  expectError(await api.get('/api/v1/cart?country=ES'), 503, 'region_unavailable');
  expectError(await api.api('POST', '/api/v1/sessions', { body: { email: euC.email, password: 'correct horse battery', country: 'ES' } }), 503, 'region_unavailable');
  expectError(await api.get('/api/v1/flash-sales?country=ES'), 503, 'region_unavailable');
  assert.match((await api.get('/metrics')).text, /meridian_gateway_fallbacks_total [1-9]/);
});

test('EU restarted: its node comes back into the pool and serves its customers and its own catalogue again', async () => {
  nodes.eu = await startServer({ regions: 'eu', dataDir: nodes.eu.dataDir, port: nodes.eu.port, seed: false, args: nodeArgs('eu') });
  await until(async () => /node_up\{region="eu"[^}]*\} 1/.test((await api.get('/metrics')).text), 'EU back in the pool');
  const me = await api.get('/api/v1/users/me', { token: euC.token });
  assert.equal(me.status, 200, me.text);
  assert.equal(upstream(me), 'eu/0');
  assert.equal(me.json.email, euC.email, 'the customer registered before the stop');
  const list = await api.get('/api/v1/products?country=ES&category=accessories&per_page=1');
  const page = await api.get(`/api/v1/products/${list.json.items[0].id}?country=ES`);
  assert.equal(upstream(page), 'eu/0');
  assert.equal(page.headers.get('x-meridian-fallback'), null);
  assert.ok(page.json.skus.some((k) => k.stock_state === 'in_stock'), page.text);
  const o = await order(euC, 'ES', 'card');
  assert.equal(o.status, 201, o.text);
  assert.equal(upstream(o), 'eu/0');
});

test('a node that hangs: 503 region_unavailable within the upstream timeout', async () => {
  process.kill(nodes.sg.child.pid, 'SIGSTOP');
  await wait(100); // stopped: its threads are off the CPU
  try {
    const t = Date.now();
    const r = await api.get('/api/v1/flash-sales?country=SG&hang=1'); // not a catalogue read: no fallback
    expectError(r, 503, 'region_unavailable');
    assert.equal(r.json.error.region, 'sg');
    assert.ok(Date.now() - t < TIMEOUT_MS + 1000, `answered in ${Date.now() - t} ms`);
    assert.equal((await api.get('/api/v1/products?country=IN&per_page=1')).status, 200, 'IN unaffected');
  } finally {
    process.kill(nodes.sg.child.pid, 'SIGCONT');
  }
  await until(async () => (await api.get('/api/v1/products?country=SG&per_page=1')).status === 200, 'SG back');
});

test('edge rate limit per client address: 429 rate_limited with Retry-After', async () => {
  const small = await startGateway(['--region', `ru=${ru[0].url}`, '--region', `in=${nodes.in.base}`, '--rate', '2', '--burst', '3']);
  try {
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await small.get('/api/v1/products?country=RU'));
    assert.deepEqual(got.slice(0, 3).map((r) => r.status), [200, 200, 200]);
    const limited = got.find((r) => r.status === 429);
    assert.ok(limited, 'over the burst');
    expectError(limited, 429, 'rate_limited');
    assert.ok(limited.json.error.retry_after_ms > 0);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await small.get('/healthz')).status, 200, 'its own health is never limited');
    assert.match((await small.get('/metrics')).text, /meridian_gateway_rate_limited_total [1-9]/);
  } finally {
    await small.stop();
  }
});

test('regions from $MERIDIAN_GATEWAY_REGIONS; SIGTERM stops the gateway cleanly; a bad --region refuses to start', async () => {
  const g = await startGateway([], { MERIDIAN_GATEWAY_REGIONS: `in=${nodes.in.base};sg=${nodes.sg.base}` });
  assert.equal(upstream(await g.get('/api/v1/products?country=VN&per_page=1')), 'sg/0');
  assert.deepEqual(await g.stop(), { code: 0, signal: null });
  const { spawnSync } = await import('node:child_process');
  for (const [bad, why] of [[['--region', 'in=ftp://x'], /not http:\/\/HOST:PORT/], [[], /at least one region/],
    [['--region', 'in=http://127.0.0.1:1', '--default-region', 'eu'], /default-region eu/]]) {
    const r = spawnSync(BIN, ['gateway', '--port', '0', ...bad], { encoding: 'utf8', env: { ...process.env, MERIDIAN_GATEWAY_REGIONS: '' } });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, why);
  }
});
