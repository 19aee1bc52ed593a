// Product images: upload (admin), checks on type, size and content, variants made with libvips and served
// immutable, alt texts localized, SKU images, deletion; and that a refused upload changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, expectError, customer, png } from './helpers.mjs';

let srv, T, product, skuCodes;

// Width and height of a WebP file (lossy VP8, lossless VP8L or extended VP8X).
function webpSize(b) {
  assert.equal(b.toString('latin1', 0, 4), 'RIFF');
  assert.equal(b.toString('latin1', 8, 12), 'WEBP');
  const kind = b.toString('latin1', 12, 16);
  if (kind === 'VP8 ') return [b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff];
  if (kind === 'VP8L') {
    const v = b.readUInt32LE(21);
    return [(v & 0x3fff) + 1, ((v >> 14) & 0x3fff) + 1];
  }
  if (kind === 'VP8X') return [b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1];
  throw new Error(`not a WebP kind: ${kind}`);
}

const upload = (id, body, { type = 'image/png', token = T, query = '' } = {}) =>
  srv.api('POST', `/api/v1/admin/products/${id}/media${query}`, { raw: body, token, headers: { 'content-type': type } });
const fetchFile = (path, headers = {}) => fetch(srv.base + path, { headers });
const list = async (id, q = '') => (await srv.get(`/api/v1/products/${id}/media${q}`)).json.items;

before(async () => {
  srv = await startServer();
  T = srv.adminToken;
  const r = await srv.get('/api/v1/products?country=IN&per_page=50');
  for (const p of r.json.items) { // a product with two SKUs or more
    const full = await srv.get(`/api/v1/products/${p.id}?country=IN`);
    if (full.json.skus.length >= 2) { product = p; skuCodes = full.json.skus.map((s) => s.code); break; }
  }
});
after(async () => {
  const dir = srv.dataDir;
  await srv.stop();
  rmSync(dir, { recursive: true, force: true }); // the last server was started on a kept directory
});

test('an uploaded PNG becomes WebP variants that fit their box, never enlarged, served immutable', async () => {
  const img = png(400, 200);
  const r = await upload(product.id, img);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.width, 400);
  assert.equal(r.json.height, 200);
  assert.equal(r.json.bytes, img.length);
  assert.equal(r.json.content_type, 'image/png');
  assert.equal(r.json.digest, createHash('sha256').update(img).digest('hex'));
  assert.equal(r.json.sku, null);
  const want = { thumb: [160, 80], medium: [400, 200], large: [400, 200] };
  for (const [name, size] of Object.entries(want)) {
    const url = r.json.urls[name];
    assert.equal(url, `/media/${r.json.digest}/${name}.webp`);
    const f = await fetchFile(url);
    assert.equal(f.status, 200);
    assert.equal(f.headers.get('content-type'), 'image/webp');
    assert.equal(f.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const etag = f.headers.get('etag');
    assert.equal(etag, `"${r.json.digest}-${name}.webp"`);
    assert.deepEqual(webpSize(Buffer.from(await f.arrayBuffer())), size, name);
    assert.equal((await fetchFile(url, { 'if-none-match': etag })).status, 304);
    assert.equal((await fetchFile(url, { 'if-none-match': `"other", W/${etag}` })).status, 304);
    assert.equal((await fetchFile(url, { 'if-none-match': '"other"' })).status, 200);
  }
  // the original is kept but never served (it may carry the camera's metadata); no other name is a file
  for (const bad of [`/media/${r.json.digest}/original.png`, `/media/${r.json.digest}/huge.webp`,
    `/media/${'0'.repeat(64)}/thumb.webp`, `/media/${r.json.digest.toUpperCase()}/thumb.webp`, '/media/abc/thumb.webp']) {
    expectError(await srv.get(bad), 404, 'not_found');
  }
  const items = await list(product.id);
  assert.ok(items.some((i) => i.id === r.json.id && i.urls.thumb === r.json.urls.thumb));
});

test('alt texts follow ?lang= and Accept-Language with a fallback; position orders the list', async () => {
  const a = (await upload(product.id, png(64, 64), { query: '?position=5' })).json;
  const b = (await upload(product.id, png(48, 64), { query: '?position=1' })).json;
  let r = await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { alt: { en: 'Front, black', es: 'Frente, negro' } } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.alt_texts, { en: 'Front, black', es: 'Frente, negro' });
  const es = (await list(product.id, '?lang=es')).find((i) => i.id === a.id);
  assert.equal(es.alt, 'Frente, negro');
  assert.equal(es.lang, 'es');
  const al = await srv.get(`/api/v1/products/${product.id}/media`, { headers: { 'accept-language': 'es-MX,es;q=0.9' } });
  assert.equal(al.json.items.find((i) => i.id === a.id).alt, 'Frente, negro');
  assert.match(al.headers.get('vary') || '', /Accept-Language/i);
  assert.equal((await list(product.id, '?lang=hi')).find((i) => i.id === a.id).alt, 'Front, black');
  assert.equal('alt_texts' in es, false, 'the public list shows one text per image');
  // a null removes one locale's text
  r = await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { alt: { es: null }, position: 0 } });
  assert.deepEqual(r.json.alt_texts, { en: 'Front, black' });
  const ordered = (await list(product.id)).map((i) => i.id);
  assert.ok(ordered.indexOf(a.id) < ordered.indexOf(b.id), 'position 0 sorts before position 1');
  // bad changes: nothing changes
  expectError(await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { alt: { 'not a tag': 'x' } } }), 422, 'validation_failed', 'alt.not a tag');
  expectError(await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { alt: { en: 'x'.repeat(301) } } }), 422, 'validation_failed', 'alt.en');
  expectError(await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { position: -1 } }), 422, 'validation_failed', 'position');
  expectError(await srv.api('PATCH', `/api/v1/admin/media/${a.id}`, { token: T, body: { colour: 'red' } }), 422, 'validation_failed');
  expectError(await srv.api('PATCH', '/api/v1/admin/media/999999', { token: T, body: { position: 1 } }), 404, 'not_found');
  assert.equal((await list(product.id, '?lang=en')).find((i) => i.id === a.id).alt, 'Front, black');
});

test('a SKU image shows for that SKU with the product-wide ones, not for the other SKUs', async () => {
  assert.ok(skuCodes.length >= 2, 'the seeded product has two SKUs');
  const s = await upload(product.id, png(32, 32), { query: `?sku=${encodeURIComponent(skuCodes[1])}` });
  assert.equal(s.status, 201, s.text);
  assert.equal(s.json.sku, skuCodes[1]);
  const forSku = await list(product.id, `?sku=${encodeURIComponent(skuCodes[1])}`);
  assert.ok(forSku.some((i) => i.id === s.json.id));
  assert.ok(forSku.some((i) => i.sku === null), 'product-wide images are listed too');
  const other = await list(product.id, `?sku=${encodeURIComponent(skuCodes[0])}`);
  assert.equal(other.some((i) => i.id === s.json.id), false);
});

test('refused uploads answer a clear error and store nothing', async () => {
  const before = await list(product.id);
  const img = png(40, 40);
  const cust = await customer(srv, 'IN');
  expectError(await upload(product.id, img, { token: null }), 401, 'unauthorized');
  expectError(await upload(product.id, img, { token: cust.token }), 403, 'forbidden');
  expectError(await upload(product.id, img, { type: 'text/plain' }), 415, 'unsupported_media_type', 'Content-Type');
  expectError(await upload(product.id, img, { type: 'image/gif' }), 415, 'unsupported_media_type', 'Content-Type');
  expectError(await upload(product.id, img, { type: 'image/jpeg' }), 422, 'validation_failed', 'body');
  expectError(await upload(product.id, Buffer.alloc(0)), 400, 'missing_parameter', 'body');
  // cut in the middle of its pixel data (a file cut after its last row is whole to a decoder)
  expectError(await upload(product.id, png(40, 40, { cut: 1500 })), 422, 'validation_failed', 'body');
  const bomb = await upload(product.id, png(8, 8, { ihdr: [30000, 30000] }));
  expectError(bomb, 422, 'validation_failed', 'body');
  assert.match(bomb.json.error.message, /30000 x 30000/);
  expectError(await upload(999999, img), 404, 'not_found');
  expectError(await upload(product.id, img, { query: '?sku=NO-SUCH-SKU' }), 400, 'invalid_parameter', 'sku');
  expectError(await upload(product.id, img, { query: '?position=-3' }), 400, 'invalid_parameter', 'position');
  const big = Buffer.concat([png(8, 8), Buffer.alloc(1100 * 1024)]);
  expectError(await upload(product.id, big), 413, 'payload_too_large');
  assert.deepEqual(await list(product.id), before);
});

test('a deleted image leaves the list; its files stay served for caches that hold the URL', async () => {
  const img = png(90, 30);
  const r = (await upload(product.id, img)).json;
  const del = await srv.api('DELETE', `/api/v1/admin/media/${r.id}`, { token: T });
  assert.equal(del.status, 204);
  assert.equal((await list(product.id)).some((i) => i.id === r.id), false);
  expectError(await srv.api('DELETE', `/api/v1/admin/media/${r.id}`, { token: T }), 404, 'not_found');
  assert.equal((await fetchFile(r.urls.thumb)).status, 200);
});

test('images survive a restart: rows in catalog.db, files in the data directory', async () => {
  const r = (await upload(product.id, png(120, 60))).json;
  await srv.stop({ keepData: true });
  srv = await startServer({ dataDir: srv.dataDir });
  T = srv.adminToken;
  assert.ok((await list(product.id)).some((i) => i.id === r.id));
  const f = await fetchFile(r.urls.medium);
  assert.equal(f.status, 200);
  assert.deepEqual(webpSize(Buffer.from(await f.arrayBuffer())), [120, 60]);
});

test('the sweep removes files no image names any more, past the grace period, and keeps shared ones', async () => {
  await srv.stop({ keepData: true });
  srv = await startServer({ dataDir: srv.dataDir, args: ['--media-grace', '0'] });
  T = srv.adminToken;
  const other = (await srv.get('/api/v1/products?country=IN&per_page=50')).json.items.find((p) => p.id !== product.id);
  const shared = png(70, 70);
  const a1 = (await upload(product.id, shared)).json;
  const a2 = (await upload(other.id, shared)).json; // the same content: the same files
  assert.equal(a1.digest, a2.digest);
  const solo = (await upload(product.id, png(50, 20))).json;
  const gone = async (url) => {
    for (const deadline = Date.now() + 10000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
      if ((await fetchFile(url)).status === 404) return true;
    return false;
  };
  const original = (d) => join(srv.dataDir, 'media', d.slice(0, 2), `${d}-original.png`);
  assert.ok(existsSync(original(solo.digest)));
  assert.equal((await srv.api('DELETE', `/api/v1/admin/media/${a1.id}`, { token: T })).status, 204);
  assert.equal((await srv.api('DELETE', `/api/v1/admin/media/${solo.id}`, { token: T })).status, 204);
  // a sweep after both deletes removed the unshared image's files, the original too ...
  assert.ok(await gone(solo.urls.thumb), 'the files of a deleted image are removed');
  for (const name of ['medium', 'large']) assert.equal((await fetchFile(solo.urls[name])).status, 404);
  assert.equal(existsSync(original(solo.digest)), false);
  // ... and kept the files another product's image still names
  for (const name of ['thumb', 'medium', 'large']) assert.equal((await fetchFile(a2.urls[name])).status, 200);
  assert.ok(existsSync(original(a2.digest)));
  assert.equal((await srv.api('DELETE', `/api/v1/admin/media/${a2.id}`, { token: T })).status, 204);
  assert.ok(await gone(a2.urls.large), 'the last image naming the files is gone: so are they');
});
