// The HTTP contract shared by every route: errors, limits, request ids, ops endpoints, shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, expectError } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--max-body', '4096'] }); });
after(async () => { await srv.stop(); });

test('unknown route is 404 with the error envelope', async () => {
  expectError(await srv.get('/api/v1/nope'), 404, 'not_found');
  expectError(await srv.get('/'), 404, 'not_found');
});

test('wrong method is 405 with Allow', async () => {
  const r = await srv.api('DELETE', '/api/v1/products');
  expectError(r, 405, 'method_not_allowed');
  assert.match(r.headers.get('allow'), /GET/);
});

test('every answer carries a request id', async () => {
  const a = await srv.get('/healthz');
  const b = await srv.get('/healthz');
  assert.ok(a.headers.get('x-request-id'));
  assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
});

test('malformed JSON is 400 invalid_json with line and column', async () => {
  const r = await srv.api('PUT', '/api/v1/admin/regions/xx', {
    token: srv.adminToken, raw: '{\n  "base_url": "http://a",\n  oops\n}', headers: { 'content-type': 'application/json' },
  });
  expectError(r, 400, 'invalid_json');
  assert.equal(r.json.error.line, 3);
  assert.ok(r.json.error.column > 0);
});

test('a body that is not an object, or empty, is invalid_json', async () => {
  expectError(await srv.api('PUT', '/api/v1/admin/regions/xx', { token: srv.adminToken, body: [1, 2] }), 400, 'invalid_json');
  expectError(await srv.api('PUT', '/api/v1/admin/regions/xx', { token: srv.adminToken, raw: '', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
});

test('a non-JSON content type is 415', async () => {
  const r = await srv.api('PUT', '/api/v1/admin/regions/xx', { token: srv.adminToken, raw: 'base_url=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expectError(r, 415, 'unsupported_media_type');
});

test('a body over the limit is 413', async () => {
  const big = JSON.stringify({ base_url: 'x'.repeat(10000) });
  const r = await srv.api('PUT', '/api/v1/admin/regions/xx', { token: srv.adminToken, raw: big, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 413);
});

test('healthz, readyz and metrics', async () => {
  const h = await srv.get('/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.json.status, 'ok');
  const r = await srv.get('/readyz');
  assert.equal(r.status, 200);
  assert.equal(r.json.checks.catalog, 'ok');
  assert.equal(r.json.checks.in, 'ok');
  await srv.get('/api/v1/products?country=IN');
  const m = await srv.get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /text\/plain/);
  assert.match(m.text, /meridian_http_responses_total\{class="2xx"\} [1-9]/);
  assert.match(m.text, /meridian_catalog_products [1-9][0-9]*/);
});

test('HEAD is answered like GET without a body', async () => {
  const r = await fetch(srv.base + '/api/v1/countries', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal((await r.text()).length, 0);
});

test('keep-alive: many requests on one connection', async () => {
  const port = srv.port;
  const replies = await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => { data += d; if ((data.match(/HTTP\/1\.1 200/g) || []).length === 3) { s.end(); resolve(data); } });
    s.on('error', reject);
    const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    s.write(req + req + req);
  });
  assert.equal((replies.match(/HTTP\/1\.1 200/g) || []).length, 3);
});

test('SIGTERM finishes in-flight work and exits 0', async () => {
  const other = await startServer();
  const pending = other.get('/api/v1/products?country=ES&lang=es');
  const res = await pending;
  assert.equal(res.status, 200);
  const { code } = await other.stop();
  assert.equal(code, 0, other.log().split('\n').filter((l) => !l.includes('"info"')).slice(0, 30).join('\n'));
  assert.match(other.log(), /stopped/);
});

test('HTTP/2 over cleartext (prior knowledge) serves the same API', async () => {
  const http2 = await import('node:http2');
  const client = http2.connect(srv.base);
  try {
    const body = await new Promise((resolve, reject) => {
      const req = client.request({ ':path': '/api/v1/countries', ':method': 'GET' });
      let data = '';
      let status = 0;
      req.on('response', (h) => { status = h[':status']; });
      req.on('data', (d) => { data += d; });
      req.on('end', () => resolve({ status, data }));
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.status, 200);
    assert.ok(JSON.parse(body.data).countries.length >= 13);
  } finally { client.close(); }
});

test('access log: one JSON line per request, with the id sent in X-Request-Id', async () => {
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { customer } = await import('./helpers.mjs');
  const file = join(mkdtempSync(join(tmpdir(), 'meridian-log-')), 'access.log');
  const other = await startServer({ args: ['--access-log', file] });
  const r = await other.get('/api/v1/products?country=IN&per_page=1');
  const id = r.headers.get('x-request-id');
  await other.get('/api/v1/nope');
  // a customer (registered and logged in with an email, a name and an address) and a staff member
  const c = await customer(other, 'IN');
  const mine2 = await other.get('/api/v1/orders/424242', { token: c.token });
  const staff = await other.get('/api/v1/admin/orders?country=IN', { token: other.adminToken });
  await other.stop();
  const text = readFileSync(file, 'utf8');
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  const byId = (res) => lines.find((l) => l.id === res.headers.get('x-request-id'));
  const mine = lines.find((l) => l.id === id);
  assert.ok(mine, 'the request is in the log under its id');
  assert.equal(mine.type, 'access');
  assert.equal(mine.method, 'GET');
  assert.equal(mine.status, 200);
  assert.match(mine.path, /^\/api\/v1\/products/);
  assert.ok(mine.bytes > 0);
  // real timings: a listing reads the catalogue and serialises JSON, which takes microseconds at least
  assert.ok(Number.isInteger(mine.us) && mine.us > 0, `us is measured, got ${mine.us}`);
  assert.equal(mine.route, '/api/v1/products');
  assert.equal(mine.country, 'IN');
  assert.equal(mine.account_id, null);
  assert.equal(mine.staff_id, null);
  const nope = lines.find((l) => l.status === 404 && l.path === '/api/v1/nope');
  assert.ok(nope);
  assert.equal(nope.route, null);
  // the customer: the template, not the id, as route; the account id; the account's country
  const o = byId(mine2);
  assert.equal(o.route, '/api/v1/orders/{id}');
  assert.equal(o.path, '/api/v1/orders/424242');
  assert.equal(o.account_id, c.user.id);
  assert.equal(o.staff_id, null);
  assert.equal(o.country, 'IN');
  const s = byId(staff);
  assert.equal(s.route, '/api/v1/admin/orders');
  assert.ok(Number.isInteger(s.staff_id) && s.staff_id > 0);
  assert.equal(s.account_id, null);
  // every line has the new fields, and no line carries an email, a name, a token or a password
  for (const l of lines) for (const k of ['route', 'country', 'account_id', 'staff_id', 'us']) assert.ok(k in l, `${k} in ${JSON.stringify(l)}`);
  assert.ok(lines.some((l) => l.route === '/api/v1/sessions' && l.status === 201), 'the login is logged');
  for (const secret of [c.email, '@', 'Asha Rao', c.token, 'correct horse']) assert.ok(!text.includes(secret), `the log holds ${secret}`);
});
