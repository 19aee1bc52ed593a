// The gateway's edge cache (issue 12 item 7; gateway.h "Edge cache"): public catalogue answers kept at the
// edge for at most min(the node's max-age, --cache-ttl-ms). A hit after a miss (X-Cache, Age) with the node's
// very bytes and headers and the request's own X-Request-Id; nothing with an Authorization header is served
// from the cache or stored in it; Accept-Language keeps separate entries; a price changed through the gateway
// is read back new at once; one changed at the node directly shows after the TTL; --cache-ttl-ms 0 caches
// nothing; non-200 answers are not stored; --cache-mb bounds the memory (LRU); /metrics counts it all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startGateway, customer, until, wait } from './helpers.mjs';

const TTL_MS = 2500; // long enough that a test's reads within it are hits under the sanitizers, short enough to wait out

let node, gw, gw0, gwSmall, T, product, sku;
const regions = () => ['in', 'eu', 'sg', 'ru'].flatMap((r) => ['--region', `${r}=${node.base}`]);
const xcache = (r) => r.headers.get('x-cache');
/* a meridian_gateway_cache_* counter or gauge from /metrics text */
const n = (m, name) => Number(m.match(new RegExp(`^meridian_gateway_cache_${name} ([0-9]+)$`, 'm'))[1]);
let seq = 0;
const fresh = (path) => `${path}${path.includes('?') ? '&' : '?'}t=${process.pid}-${++seq}`; // a URL no test read before

before(async () => {
  node = await startServer(); // every region on one node: the gateway's regions all point at it
  T = node.adminToken;
  // one worker thread: the caches are per thread, and a client's next connection could land on another
  gw = await startGateway([...regions(), '--threads', '1', '--cache-ttl-ms', String(TTL_MS), '--health-interval', '200']);
  gw0 = await startGateway([...regions(), '--cache-ttl-ms', '0', '--health-interval', '200']);
  gwSmall = await startGateway([...regions(), '--threads', '1', '--cache-mb', '1', '--cache-ttl-ms', '60000', '--health-interval', '200']);
  const list = await node.get('/api/v1/products?country=ES&category=accessories&per_page=1');
  product = (await node.get(`/api/v1/products/${list.json.items[0].id}?country=ES`)).json;
  sku = product.skus[0];
});

after(async () => {
  for (const g of [gw, gw0, gwSmall]) if (g) assert.equal((await g.stop()).code, 0, g.log());
  if (node) await node.stop();
});

test('a miss, then a hit with Age and the node\'s bytes and headers; the request id is each request\'s own; HEAD from the GET', async () => {
  const path = fresh(`/api/v1/products/${product.id}?country=ES&lang=es`);
  const direct = await node.get(path);
  const miss = await gw.get(path, { headers: { 'x-request-id': 'edge-miss-1' } });
  assert.equal(miss.status, 200);
  assert.equal(xcache(miss), 'miss');
  const hit = await gw.get(path, { headers: { 'x-request-id': 'edge-hit-2' } });
  assert.equal(xcache(hit), 'hit');
  assert.match(hit.headers.get('age'), /^[0-9]+$/);
  assert.ok(Number(hit.headers.get('age')) <= TTL_MS / 1000);
  assert.equal(hit.headers.get('x-request-id'), 'edge-hit-2');
  assert.equal(miss.headers.get('x-request-id'), 'edge-miss-1');
  assert.equal(hit.text, direct.text, 'the node\'s very bytes');
  assert.equal(hit.text, miss.text);
  for (const h of ['content-type', 'etag', 'cache-control', 'vary', 'content-length'])
    assert.equal(hit.headers.get(h), direct.headers.get(h), h);
  assert.equal(hit.headers.get('x-meridian-upstream'), miss.headers.get('x-meridian-upstream'), 'names the node whose answer it repeats');
  const made = await gw.get(path); // no id sent: the gateway makes one, another each time
  assert.equal(xcache(made), 'hit');
  assert.match(made.headers.get('x-request-id'), /^g/);
  assert.notEqual(made.headers.get('x-request-id'), (await gw.get(path)).headers.get('x-request-id'));
  // If-None-Match: 304 from the cache when it names the stored ETag, as the node answers it; else the page
  const nm = await gw.get(path, { headers: { 'if-none-match': `"nope", W/${direct.headers.get('etag')}` } });
  const nmNode = await node.get(path, { headers: { 'if-none-match': `"nope", W/${direct.headers.get('etag')}` } });
  assert.equal(nmNode.status, 304);
  assert.equal(nm.status, 304);
  assert.equal(xcache(nm), 'hit');
  assert.equal(nm.text, '');
  for (const h of ['etag', 'cache-control', 'vary']) assert.equal(nm.headers.get(h), nmNode.headers.get(h), h);
  const other = await gw.get(path, { headers: { 'if-none-match': '"nope"' } });
  assert.equal(other.status, 200);
  assert.equal(xcache(other), 'hit');
  assert.equal(other.text, direct.text);
  const head = await fetch(gw.base + path, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('x-cache'), 'hit');
  assert.equal(head.headers.get('content-length'), direct.headers.get('content-length'));
  assert.equal((await head.text()).length, 0);
  // the listing, the categories and the countries are cached alike (the node marks them public)
  for (const p of [fresh('/api/v1/products?country=ES&per_page=2'), fresh('/api/v1/categories?country=ES'), fresh('/api/v1/countries')]) {
    assert.equal(xcache(await gw.get(p)), 'miss', p);
    const again = await gw.get(p);
    assert.equal(xcache(again), 'hit', p);
    assert.equal(again.text, (await node.get(p)).text, p);
  }
});

test('a request with Authorization is never served from the cache, and its answer is never stored', async () => {
  const c = await customer(gw, 'ES');
  const path = fresh(`/api/v1/products/${product.id}?country=ES`);
  const mine = await gw.get(path, { token: c.token });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(xcache(mine), null, 'not even looked up');
  assert.equal(xcache(await gw.get(path)), 'miss', 'the customer\'s answer was not stored');
  assert.equal(xcache(await gw.get(path)), 'hit');
  for (const token of [c.token, T]) { // a customer's token, a staff token: straight to the node
    const r = await gw.get(path, { token });
    assert.equal(r.status, 200, r.text);
    assert.equal(xcache(r), null);
    assert.equal(r.headers.get('age'), null);
  }
  const basic = await gw.get(path, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(xcache(basic), null, 'any Authorization');
  const since = await gw.get(path, { headers: { 'if-modified-since': 'Thu, 03 Dec 2026 10:00:00 GMT' } });
  assert.equal(xcache(since), null, 'If-Modified-Since goes to the node');
  assert.equal(since.status, 200);
});

test('Accept-Language keeps its own entries', async () => {
  const path = fresh(`/api/v1/products/${product.id}?country=ES`);
  const es = await gw.get(path, { headers: { 'accept-language': 'es' } });
  const en = await gw.get(path, { headers: { 'accept-language': 'en' } });
  assert.equal(xcache(es), 'miss');
  assert.equal(xcache(en), 'miss', 'another language: another entry');
  assert.equal(es.json.lang, 'es');
  assert.equal(en.json.lang, 'en');
  const es2 = await gw.get(path, { headers: { 'accept-language': 'es' } });
  const en2 = await gw.get(path, { headers: { 'accept-language': 'en' } });
  assert.equal(xcache(es2), 'hit');
  assert.equal(xcache(en2), 'hit');
  assert.equal(es2.text, es.text);
  assert.equal(en2.text, en.text);
  // X-Country too: the same path for two countries
  const list = fresh('/api/v1/products?per_page=1');
  const fr = await gw.get(list, { headers: { 'x-country': 'FR' } });
  const de = await gw.get(list, { headers: { 'x-country': 'DE' } });
  assert.equal(xcache(de), 'miss');
  assert.equal(xcache(await gw.get(list, { headers: { 'x-country': 'FR' } })), 'hit');
  assert.notEqual(fr.text, de.text);
});

async function setPrice(via, amount) {
  const r = await via.api('PUT', '/api/v1/admin/prices', { token: T, body: { prices: [{ sku: sku.code, country: 'ES', amount }] } });
  assert.equal(r.status, 200, r.text);
}

test('a price changed through the gateway is read back new at once', async () => {
  const path = `/api/v1/products/${product.id}?country=ES&rw=${process.pid}`;
  await gw.get(path);
  const before = await gw.get(path);
  assert.equal(xcache(before), 'hit');
  const amount = before.json.skus[0].price.amount + 100;
  await setPrice(gw, amount);
  const after = await gw.get(path);
  assert.equal(after.json.skus[0].price.amount, amount, 'the admin reads back what they wrote');
  assert.equal(xcache(after), 'miss');
  assert.match((await gw.get('/metrics')).text, /meridian_gateway_cache_flushes_total [1-9]/);
});

test('a price changed at the node directly shows through the gateway after the TTL at most', async () => {
  const path = `/api/v1/products/${product.id}?country=ES&direct=${process.pid}`;
  await gw.get(path);
  const before = await gw.get(path);
  assert.equal(xcache(before), 'hit');
  const old = before.json.skus[0].price.amount, amount = old + 7;
  const changed = Date.now();
  await setPrice(node, amount);
  const stale = await gw.get(path);
  if (Date.now() - changed < TTL_MS / 2) { // (a machine slow enough to let the entry expire meanwhile proves nothing here)
    assert.equal(xcache(stale), 'hit');
    assert.equal(stale.json.skus[0].price.amount, old, 'another writer is not seen within the TTL');
  }
  await until(async () => (await gw.get(path)).json.skus[0].price.amount === amount, 'the new price through the gateway', 200);
  assert.ok(Date.now() - changed <= TTL_MS + 1500, `seen after ${Date.now() - changed} ms`);
});

test('--cache-ttl-ms 0 caches nothing', async () => {
  const path = fresh(`/api/v1/products/${product.id}?country=ES`);
  for (let i = 0; i < 3; i++) {
    const r = await gw0.get(path);
    assert.equal(r.status, 200);
    assert.equal(xcache(r), null);
    assert.equal(r.headers.get('age'), null);
  }
  const m = (await gw0.get('/metrics')).text;
  assert.match(m, /meridian_gateway_cache_hits_total 0\n/);
  assert.match(m, /meridian_gateway_cache_entries 0\n/);
});

test('non-200 answers are not stored', async () => {
  const missing = fresh('/api/v1/products/987654321?country=ES');
  for (let i = 0; i < 2; i++) {
    const r = await gw.get(missing);
    assert.equal(r.status, 404);
    assert.equal(xcache(r), 'miss');
  }
  const unknown = fresh('/api/v1/products?country=ZZ');
  assert.equal(xcache(await gw.get(unknown)), 'miss');
  assert.equal(xcache(await gw.get(unknown)), 'miss');
  // an answer without Cache-Control: public (a route the node does not mark) is not stored either
  const flash = await gw.get(fresh('/api/v1/flash-sales?country=IN'));
  assert.equal(xcache(flash), null, 'not a catalogue route');
});

test('/metrics counts hits, misses, stores, bytes and entries', async () => {
  const path = fresh(`/api/v1/products/${product.id}?country=IT`);
  const m0 = (await gw.get('/metrics')).text;
  await gw.get(path);
  await gw.get(path);
  await wait(10);
  const m1 = (await gw.get('/metrics')).text;
  assert.ok(n(m1, 'misses_total') >= n(m0, 'misses_total') + 1);
  assert.ok(n(m1, 'stores_total') >= n(m0, 'stores_total') + 1);
  assert.ok(n(m1, 'hits_total') >= n(m0, 'hits_total') + 1);
  assert.ok(n(m1, 'bytes') > 0);
  assert.ok(n(m1, 'entries') > 0);
  assert.match(m1, /^meridian_gateway_cache_evictions_total [0-9]+$/m);
});

test('--cache-mb bounds the cache: the least recently used answers make room', async () => {
  const first = fresh(`/api/v1/products/${product.id}?country=ES`);
  assert.equal(xcache(await gwSmall.get(first)), 'miss');
  // ~2.6 KB an entry in 1 MB: 600 distinct pages do not fit; `first` is kept the most recently used
  for (let i = 0; i < 600; i++) {
    assert.equal(xcache(await gwSmall.get(fresh(`/api/v1/products/${product.id}?country=ES`))), 'miss');
    if (i % 50 === 0) assert.equal(xcache(await gwSmall.get(first)), 'hit', 'a page read often stays');
  }
  const m = (await gwSmall.get('/metrics')).text;
  assert.ok(n(m, 'evictions_total') > 0, m);
  assert.ok(n(m, 'bytes') <= 1024 * 1024, `bytes ${n(m, 'bytes')}`);
  assert.ok(n(m, 'entries') < 601);
  assert.equal(xcache(await gwSmall.get(first)), 'hit');
});
