// The HTTP contract shared by every route: errors, limits, request ids, ops endpoints, shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startServer, expectError, customer, ADDRESSES } from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Writes bytes on a fresh connection and collects what comes back until the server closes it (or ms pass).
function raw(port, bytes, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let closed = false;
    const done = () => { clearTimeout(timer); s.destroy(); resolve({ text: out, closed }); };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => { out += d; });
    s.on('end', () => { closed = true; done(); });
    s.on('error', () => { closed = true; done(); });
    s.write(bytes);
  });
}

// The responses in a raw HTTP/1.1 byte stream: status, lower-case headers, body (by Content-Length).
function responses(text) {
  const out = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status: Number(lines[0].split(' ')[1]), headers, body, json: (() => { try { return JSON.parse(body); } catch { return null; } })() });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

// A raw answer in the JSON error envelope with a request id.
function expectRawError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res));
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.ok(res.headers['x-request-id'], 'an X-Request-Id header');
  assert.equal(res.json?.error?.code, code, res.body);
  assert.ok(res.json.error.message.length > 0);
}

let srv;
before(async () => { srv = await startServer({ args: ['--max-body', '4096'] }); });
after(async () => { await srv.stop(); });

test('unknown route is 404 with the error envelope', async () => {
  expectError(await srv.get('/api/v1/nope'), 404, 'not_found');
  expectError(await srv.get('/no-such-page'), 404, 'not_found'); // / is the storefront (src/web)
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
  expectError(r, 413, 'payload_too_large');
  assert.ok(r.headers.get('x-request-id'));
});

test('errors h2o raises before any route (413, broken chunks, unknown Transfer-Encoding, 417) use the envelope', async () => {
  const head = 'POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  // declared too large: refused before the body is read
  expectRawError(responses((await raw(srv.port, head + 'Content-Length: 100000\r\n\r\n')).text)[0], 413, 'payload_too_large');
  // chunked and too large: refused while reading
  const chunk = 'x'.repeat(3000);
  const chunked = `${head}Transfer-Encoding: chunked\r\n\r\n${(3000).toString(16)}\r\n${chunk}\r\n${(3000).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
  expectRawError(responses((await raw(srv.port, chunked)).text)[0], 413, 'payload_too_large');
  expectRawError(responses((await raw(srv.port, `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n`)).text)[0], 400, 'bad_request');
  expectRawError(responses((await raw(srv.port, `${head}Transfer-Encoding: gzip\r\n\r\n`)).text)[0], 400, 'bad_request');
  expectRawError(responses((await raw(srv.port, `${head}Content-Length: 2\r\nExpect: magic\r\n\r\n{}`)).text)[0], 417, 'expectation_failed');
});

test('a request that is not HTTP at all gets the envelope and a closed connection', async () => {
  const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
  for (const bytes of [
    'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n', // a bad request line
    'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n', // a header without a colon
    `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`, // more than 100 headers
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', // TLS spoken to a cleartext port
  ]) {
    const { text, closed } = await raw(srv.port, bytes);
    const rs = responses(text);
    assert.equal(rs.length, 1, text);
    expectRawError(rs[0], 400, 'bad_request');
    assert.ok(closed);
  }
  // a head that arrives in pieces is still served
  const s = net.connect(srv.port, '127.0.0.1');
  let out = '';
  s.on('data', (d) => { out += d; });
  s.write('GET /heal');
  await sleep(100);
  s.write('thz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await new Promise((r) => s.on('close', r));
  assert.equal(responses(out)[0].status, 200);
});

test('request smuggling: several Content-Length headers, or one with Transfer-Encoding, are 400 and close', async () => {
  const head = 'POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  for (const framing of [
    'Content-Length: 2\r\nContent-Length: 41\r\n', // different: a proxy that takes the last reads the next request as body
    'Content-Length: 2\r\ncontent-length: 2\r\n', // identical duplicates are refused too
    'Content-Length: 41\r\nTransfer-Encoding: chunked\r\n',
  ]) {
    const body = framing.includes('chunked') ? '2\r\n{}\r\n0\r\n\r\n' : '{}';
    const { text, closed } = await raw(srv.port, head + framing + '\r\n' + body + smuggled);
    const rs = responses(text);
    expectRawError(rs[0], 400, 'bad_request');
    assert.equal(rs[0].headers.connection, 'close');
    assert.equal(rs.length, 1, `the bytes after the refused request are not served: ${text}`);
    assert.ok(closed, 'the server closes the connection');
  }
  // one Content-Length is fine, and keep-alive goes on
  const ok = responses((await raw(srv.port, head + 'Content-Length: 2\r\n\r\n{}' + smuggled, 1500)).text);
  assert.equal(ok.length, 2);
  assert.notEqual(ok[0].status, 400, ok[0].body);
  assert.equal(ok[1].status, 200);
});

test('answers that depend on X-Country or Accept-Language name them in Vary, 304s included', async () => {
  const vary = (r) => (r.headers.get('vary') || '').toLowerCase().split(/\s*,\s*/);
  const h = { 'x-country': 'IN', 'accept-language': 'hi' };
  const a = await srv.get('/api/v1/products?per_page=1', { headers: h });
  assert.equal(a.status, 200);
  assert.match(a.headers.get('cache-control'), /public/);
  assert.ok(vary(a).includes('x-country') && vary(a).includes('accept-language'), a.headers.get('vary'));
  const nm = await srv.get('/api/v1/products?per_page=1', { headers: { ...h, 'if-none-match': a.headers.get('etag') } });
  assert.equal(nm.status, 304);
  assert.deepEqual(vary(nm), vary(a));
  // the same URL really answers differently per header value
  const es = await srv.get('/api/v1/products?per_page=1', { headers: { 'x-country': 'ES', 'accept-language': 'hi' } });
  assert.notEqual(es.headers.get('etag'), a.headers.get('etag'));
  assert.ok(vary(es).includes('x-country'));
  const p = await srv.get(`/api/v1/products/${a.json.items[0].id}`, { headers: h });
  assert.equal(p.status, 200);
  assert.ok(vary(p).includes('x-country') && vary(p).includes('accept-language'), p.headers.get('vary'));
  // taken from the query string, they are part of the URL: no Vary on them, so caches share the answer
  const q = await srv.get('/api/v1/products?per_page=1&country=IN&lang=hi', { headers: h });
  assert.ok(!vary(q).includes('x-country') && !vary(q).includes('accept-language'), q.headers.get('vary'));
  const f = await srv.get('/api/v1/flash-sales', { headers: h });
  assert.equal(f.status, 200);
  assert.match(f.headers.get('cache-control'), /public/);
  assert.ok(vary(f).includes('x-country') && vary(f).includes('accept-language'), f.headers.get('vary'));
  // countries depends on the query only: public (a shared cache such as the gateway's may keep it), with
  // no Vary, so the URL alone identifies it; route is this node's own view and not marked public
  const c = await srv.get('/api/v1/countries', { headers: h });
  assert.equal(c.status, 200);
  assert.equal(c.headers.get('cache-control'), 'public, max-age=5');
  assert.equal(c.headers.get('vary'), null);
  const r = await srv.get('/api/v1/route?country=IN', { headers: h });
  assert.equal(r.status, 200);
  assert.ok(!/public/.test(r.headers.get('cache-control') || '') || r.headers.get('vary'), '/api/v1/route');
});

test('--max-connections: clients that trickle partial request heads cannot hold every slot', async () => {
  const other = await startServer({ args: ['--max-connections', '4'] }); // idle timeout stays 30 s
  const socks = [];
  try {
    for (let i = 0; i < 8; i++) { // more slow clients than slots, on both worker threads
      const s = net.connect(other.port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '); // and never the rest
    }
    await new Promise((r) => setTimeout(r, 300));
    const start = Date.now();
    const r = await fetch(other.base + '/healthz', { signal: AbortSignal.timeout(15000) });
    assert.equal(r.status, 200);
    // before, a new client waited for the 30 s head timeout; now stalled heads are evicted after 2 s
    assert.ok(Date.now() - start < 12000, `a new client waited ${Date.now() - start} ms`);
    const m = (await other.get('/metrics')).text;
    assert.ok(Number(/^meridian_http_connections_evicted_total (\d+)$/m.exec(m)[1]) >= 1, m);
  } finally {
    for (const s of socks) s.destroy();
    await other.stop();
  }
});

test('--max-connections: at the cap the oldest idle keep-alive connections make room for new clients', async () => {
  const other = await startServer({ args: ['--max-connections', '4'] }); // 2 per worker thread
  const socks = [];
  try {
    assert.match(other.log(), /accepting at most 4 connections/);
    // eight keep-alive clients, each served once and then idle
    const served = [];
    for (let i = 0; i < 8; i++) {
      const s = net.connect(other.port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
      served.push(new Promise((resolve) => {
        let got = '';
        s.on('data', (d) => { got += d; if (got.includes('"status":"ok"')) resolve(true); });
        s.on('close', () => resolve(got.includes('"status":"ok"')));
      }));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    // every one is answered, though only four fit at a time: older idle ones were closed for them
    assert.deepEqual(await Promise.all(served), Array(8).fill(true));
    const start = Date.now();
    const r = await fetch(other.base + '/healthz', { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - start < 3000, `a new client waited ${Date.now() - start} ms`);
    const m = (await other.get('/metrics')).text;
    assert.match(m, /^meridian_http_connections_max 4$/m);
    assert.ok(Number(/^meridian_http_connections (\d+)$/m.exec(m)[1]) <= 4, m);
  } finally {
    for (const s of socks) s.destroy();
    await other.stop();
  }
});

test('fd exhaustion: idle connections past the cap neither spin the CPU nor lock out new clients', async () => {
  // a low fd limit (the server derives its connection cap from it) and many more idle connections
  const other = await startServer({ nofile: 256, args: ['--idle-timeout', '60000'] });
  const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  const cpu = () => {
    const f = readFileSync(`/proc/${other.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / tck; // utime + stime, seconds
  };
  const socks = [];
  try {
    assert.match(other.log(), /accepting at most \d+ connections \(fd limit 256/);
    for (let i = 0; i < 400; i++) {
      const s = net.connect(other.port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
    }
    await sleep(1500);
    const c0 = cpu(), t0 = Date.now();
    await sleep(1500);
    const share = (cpu() - c0) / ((Date.now() - t0) / 1000);
    assert.ok(share < 0.3, `the server used ${Math.round(share * 100)}% of a core while saturated with idle connections`);
    const start = Date.now();
    const r = await fetch(other.base + '/healthz', { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - start < 3000, `a new client waited ${Date.now() - start} ms`);
    assert.doesNotMatch(other.log(), /out of file descriptors/);
    const m = (await other.get('/metrics')).text;
    const cap = Number(/^meridian_http_connections_max (\d+)$/m.exec(m)[1]);
    assert.ok(cap > 0 && cap < 256, m);
    assert.ok(Number(/^meridian_http_connections (\d+)$/m.exec(m)[1]) <= cap);
    assert.ok(Number(/^meridian_http_connections_evicted_total (\d+)$/m.exec(m)[1]) > 0, 'idle connections were closed to make room');
  } finally {
    for (const s of socks) s.destroy();
    await other.stop();
  }
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

test('readyz asks every module: one check per database this node holds', async () => {
  const r = await srv.get('/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json.checks).sort(), ['catalog', 'eu', 'in', 'ru', 'sg']);
  const one = await startServer({ regions: 'in' });
  try {
    const o = await one.get('/readyz');
    assert.equal(o.status, 200);
    assert.deepEqual(o.json.checks, { catalog: 'ok', in: 'ok' });
  } finally {
    await one.stop();
  }
});

test('Idempotency-Key is ignored on a route whose table does not honour it', async () => {
  const c = await customer(srv, 'IN', { address: null });
  for (const key of ['same-key', 'same-key', 'not a valid key']) {
    const a = await srv.api('POST', '/api/v1/users/me/addresses', { token: c.token, body: ADDRESSES.IN, headers: { 'idempotency-key': key } });
    assert.equal(a.status, 201, a.text);
  }
  const list = await srv.get('/api/v1/users/me/addresses', { token: c.token });
  assert.equal(list.json.addresses.length, 3, list.text);
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
