// The storefront's static files (src/web/web.c): served from the directory the build writes, with the
// encoding the client takes, long-lived caching for hashed assets and revalidation for the pages; and
// when the UI is not built, the server still starts, serves the API and says how to build the pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { startServer } from './helpers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'meridian-web-'));
const page = '<!doctype html><title>shop</title><script type="module" src="/assets/store-ABC123.js"></script>';
const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;
function put(name, data, { gz = true, br = true } = {}) {
  writeFileSync(join(dir, name), data);
  if (gz) writeFileSync(join(dir, `${name}.gz`), gzipSync(data));
  if (br) writeFileSync(join(dir, `${name}.br`), brotliCompressSync(Buffer.from(data)));
}
mkdirSync(join(dir, 'assets'));
put('index.html', page);
const console_ = `<!doctype html><title>console</title>${'<p>console</p>'.repeat(50)}`;
put('admin.html', console_, { br: false });
put('assets/store-ABC123.js', script);
put('assets/style-DEF456.css', 'body{margin:0}', { gz: false, br: false });

let srv, bare;
before(async () => {
  srv = await startServer({ env: { MERIDIAN_WEB_DIR: dir } });
  bare = await startServer({ env: { MERIDIAN_WEB_DIR: join(dir, 'nothing-here') } });
});
after(async () => {
  await srv?.stop();
  await bare?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const get = (s, path, headers = {}) => fetch(s.base + path, { headers: { 'accept-encoding': 'identity', ...headers } });

test('the storefront page is revalidated (no-cache, ETag, 304) and the console answers at /admin/', async () => {
  const r = await get(srv, '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  assert.equal(await r.text(), page);
  const etag = r.headers.get('etag');
  assert.match(etag, /^W\/"[0-9a-f]{16}"$/); // weak: the br, gzip and plain bytes share it
  const again = await get(srv, '/', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal((await again.text()).length, 0);
  const admin = await get(srv, '/admin/');
  assert.equal(admin.status, 200);
  assert.equal(await admin.text(), console_);
  assert.equal((await get(srv, '/admin')).status, 200);
});

test('hashed assets are immutable and come precompressed in the encoding the client prefers', async () => {
  const plain = await get(srv, '/assets/store-ABC123.js');
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.match(plain.headers.get('content-type'), /^text\/javascript/);
  assert.equal(plain.headers.get('content-encoding'), null);
  assert.match(plain.headers.get('vary'), /Accept-Encoding/);
  assert.equal(await plain.text(), script);

  const br = await fetch(srv.base + '/assets/store-ABC123.js', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
  assert.equal(br.headers.get('content-encoding'), 'br');
  assert.equal(await br.text(), script); // fetch decodes it
  const gz = await get(srv, '/assets/store-ABC123.js', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.equal(await gz.text(), script);
  const noBr = await get(srv, '/assets/store-ABC123.js', { 'accept-encoding': 'br;q=0, gzip' });
  assert.equal(noBr.headers.get('content-encoding'), 'gzip');
  // the smaller twin only: a tiny file whose .gz would be bigger is sent as it is
  // a file without twins is sent as it is, whatever the client accepts
  const css = await get(srv, '/assets/style-DEF456.css', { 'accept-encoding': 'br, gzip' });
  assert.equal(css.headers.get('content-encoding'), null);
  assert.match(css.headers.get('content-type'), /^text\/css/);
  // the console page has a .gz but no .br twin
  const adm = await get(srv, '/admin/', { 'accept-encoding': 'br, gzip' });
  assert.equal(adm.headers.get('content-encoding'), 'gzip');
});

test('an unknown asset is a 404 in the error envelope; the API is unchanged beside the pages', async () => {
  const r = await srv.get('/assets/nope-000.js');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'not_found');
  assert.equal((await srv.get('/assets/..%2Findex.html')).status, 404);
  assert.equal((await srv.get('/api/v1/countries')).status, 200);
  assert.equal((await srv.api('POST', '/')).status, 405);
});

test('without a built UI the server starts, serves the API and the page says how to build it', async () => {
  const r = await get(bare, '/');
  assert.equal(r.status, 200);
  assert.match(await r.text(), /not built.*make/s);
  assert.equal((await bare.get('/api/v1/countries')).status, 200);
  assert.equal((await bare.get('/assets/store-ABC123.js')).status, 404);
});
