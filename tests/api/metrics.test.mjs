// GET /metrics: valid Prometheus text (promtool check metrics), bounded labels, and the series an operator
// alerts on moving with real traffic: requests by route template and status, latency histograms, the
// writers, the outbox, flash-sale grabs and refusals. An idle node must not look busy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, run, until, ADDRESSES } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const wait = (ms) => new Promise((r) => setTimeout(r, ms));

// Parses the exposition text: { types: {family: type}, helps: {family: n}, samples: [{name, labels, value}] }.
function parse(text) {
  const types = {}, helps = {}, samples = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    let m;
    if ((m = line.match(/^# TYPE (\S+) (\S+)$/))) {
      assert.equal(types[m[1]], undefined, `# TYPE ${m[1]} appears twice`);
      types[m[1]] = m[2];
    } else if ((m = line.match(/^# HELP (\S+) /))) {
      helps[m[1]] = (helps[m[1]] || 0) + 1;
    } else {
      m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
      assert.ok(m, `unparsable sample line: ${line}`);
      const labels = {};
      for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
  }
  return { types, helps, samples };
}

async function scrape(s = srv) {
  const r = await s.get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return { text: r.text, ...parse(r.text) };
}

// The value of the one sample named `name` whose labels include `want`; 0 when there is none.
function value(m, name, want = {}) {
  const hits = m.samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `${name} ${JSON.stringify(want)} matches ${hits.length} series`);
  return hits.length ? hits[0].value : 0;
}

const sum = (m, name, want = {}) => m.samples
  .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!r.error, `promtool is needed (Debian package prometheus; scripts/install-deps.sh test): ${r.error}`);
  assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}`);
}

const ORDER = '/api/v1/orders/{id}';
const GRAB = '/api/v1/flash-sales/{id}/grab';

test('metrics: promtool-valid, one HELP/TYPE per family, and the alerting series follow real traffic', async () => {
  // a flash sale live now in IN, and a customer to grab it
  const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=1');
  const sku = (await srv.get(`/api/v1/products/${list.json.items[0].id}?country=IN`)).json.skus[0].code;
  const ist = (ms) => new Date(Date.now() + ms + 5.5 * 3600000).toISOString().slice(0, 19);
  const sale = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: srv.adminToken,
    body: { country: 'IN', titles: { en: 'Metrics' }, sessions: [{ starts_at: ist(-60000), ends_at: ist(3600000), items: [{ sku, price: 10000, units: 5 }] }] },
  });
  assert.equal(sale.status, 201, sale.text);
  const [buyer] = run(['admin', 'load-users', '--data', srv.dataDir, '--country', 'IN', '--count', '1',
    '--prefix', `m${process.pid}x`, '--address', JSON.stringify(ADDRESSES.IN)]).split('\n').filter(Boolean);
  const grab = () => srv.api('POST', `/api/v1/flash-sales/${sale.json.id}/grab`, {
    token: buyer, body: { session_id: sale.json.session_ids[0], sku },
  });

  const before = await scrape();
  // traffic: two 401s on a templated route (raw ids 987654 and 987655), a 404, a win, a refusal, a write
  assert.equal((await srv.get('/api/v1/orders/987654')).status, 401);
  assert.equal((await srv.get('/api/v1/orders/987655')).status, 401);
  assert.equal((await srv.get('/api/v1/no/such/987656')).status, 404);
  assert.equal((await grab()).status, 200);
  assert.equal((await grab()).status, 409, 'the second grab is over the one-per-buyer limit');
  const reg = await srv.api('POST', '/api/v1/users', { body: { email: `m${process.pid}-${Date.now()}@example.test`, password: 'correct horse battery', country: 'IN', name: 'M' } });
  assert.equal(reg.status, 201, reg.text);
  // a request is counted when its answer has been handed to the kernel, which can be just after the
  // client has read it: scrape until the last one is in
  const m = await until(async () => {
    const s = await scrape();
    const n = (labels) => value(s, 'meridian_http_requests_total', labels) - value(before, 'meridian_http_requests_total', labels);
    return n({ method: 'POST', route: '/api/v1/users', status: '201' }) >= 1 && n({ method: 'POST', route: GRAB, status: '409' }) >= 1 ? s : null;
  }, 'the requests to be counted');

  promtool(m.text);
  // every family once, with HELP and TYPE; every sample belongs to a declared family
  for (const f of Object.keys(m.types)) assert.equal(m.helps[f], 1, `# HELP ${f} once`);
  for (const s of m.samples) {
    const family = m.types[s.name] ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(m.types[family], `${s.name} has a # TYPE`);
  }
  // labels carry route templates, never raw paths
  assert.ok(!m.text.includes('98765'), 'no raw path (id) in any label');
  for (const s of m.samples.filter((x) => x.labels.route)) assert.ok(s.labels.route === 'unmatched' || s.labels.route.startsWith('/'));

  // requests by route template and exact status
  const d = (name, labels) => value(m, name, labels) - value(before, name, labels);
  assert.equal(d('meridian_http_requests_total', { method: 'GET', route: ORDER, status: '401' }), 2);
  assert.equal(d('meridian_http_requests_total', { route: 'unmatched', status: '404' }), 1);
  assert.equal(d('meridian_http_requests_total', { method: 'POST', route: GRAB, status: '200' }), 1);
  assert.equal(d('meridian_http_requests_total', { method: 'POST', route: GRAB, status: '409' }), 1);
  assert.equal(d('meridian_http_requests_total', { method: 'POST', route: '/api/v1/users', status: '201' }), 1);
  assert.ok(d('meridian_http_responses_total', { class: '4xx' }) >= 4);

  // latency: a histogram per route, cumulative, ending at +Inf == _count, with a positive sum
  assert.equal(m.types.meridian_http_request_duration_seconds, 'histogram');
  const H = 'meridian_http_request_duration_seconds';
  assert.equal(d(`${H}_count`, { method: 'GET', route: ORDER }), 2);
  const buckets = m.samples.filter((s) => s.name === `${H}_bucket` && s.labels.route === ORDER);
  assert.ok(buckets.length >= 10);
  assert.equal(buckets.at(-1).labels.le, '+Inf');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
  assert.equal(buckets.at(-1).value, value(m, `${H}_count`, { route: ORDER }));
  assert.ok(value(m, `${H}_sum`, { method: 'POST', route: GRAB }) > 0);

  // the writer of region in: the registration and the win were committed writes
  assert.equal(m.types.meridian_writer_queue_depth, 'gauge');
  assert.ok(m.samples.some((s) => s.name === 'meridian_writer_queue_depth' && s.labels.region === 'in' && s.value >= 0));
  assert.ok(d('meridian_writer_batches_total', { region: 'in', result: 'committed' }) >= 1);
  assert.ok(d('meridian_writer_jobs_total', { region: 'in', result: 'ok' }) >= 2);
  for (const h of ['meridian_writer_batch_jobs', 'meridian_writer_commit_seconds', 'meridian_writer_queue_wait_seconds']) {
    assert.equal(m.types[h], 'histogram');
    assert.ok(d(`${h}_count`, { region: 'in' }) >= 1, `${h} observed the writes`);
  }

  // flash sale: the two grabs, one win, one refusal by reason — in one session of region in
  const grabs = m.samples.filter((s) => s.name === 'meridian_flash_grabs_total' && s.value !== value(before, s.name, s.labels));
  assert.equal(grabs.length, 1);
  assert.equal(grabs[0].labels.region, 'in');
  assert.equal(grabs[0].value - value(before, grabs[0].name, grabs[0].labels), 2);
  const session = { region: 'in', session: grabs[0].labels.session };
  assert.equal(d('meridian_flash_wins_total', session), 1);
  assert.equal(d('meridian_flash_refusals_total', { ...session, reason: 'limit_reached' }), 1);

  // the outbox: a backlog gauge per region, deliveries by result
  assert.equal(m.types.meridian_outbox_backlog, 'gauge');
  for (const region of ['in', 'sg', 'eu', 'ru']) assert.ok(m.samples.some((s) => s.name === 'meridian_outbox_backlog' && s.labels.region === region));
  assert.equal(m.types.meridian_event_deliveries_total, 'counter');
  assert.ok(m.samples.some((s) => s.name === 'meridian_event_deliveries_total' && s.labels.subscriber === 'webhook' && s.labels.result === 'delivered'));
});

test('metrics: a refund delivered through the outbox is counted, and the backlog drains to 0', async () => {
  const { customer } = await import('./helpers.mjs');
  const c = await customer(srv, 'ES');
  const list = await srv.get('/api/v1/products?country=ES&per_page=1');
  const sku = (await srv.get(`/api/v1/products/${list.json.items[0].id}?country=ES`)).json.skus[0].code;
  const o = await srv.api('POST', '/api/v1/orders', { token: c.token, body: { payment_method: 'card', lines: [{ sku }] } });
  assert.equal(o.status, 201, o.text);
  assert.equal((await srv.api('POST', `/api/v1/orders/${o.json.id}/pay`, { token: c.token, body: { card_token: 'tok_visa' } })).status, 200);
  const before = await scrape();
  assert.equal((await srv.api('POST', `/api/v1/orders/${o.json.id}/cancel`, { token: c.token })).status, 200);
  const delivered = { subscriber: 'payments', result: 'delivered' };
  let m = await scrape();
  for (let i = 0; i < 100 && (value(m, 'meridian_event_deliveries_total', delivered) === value(before, 'meridian_event_deliveries_total', delivered) ||
    value(m, 'meridian_outbox_backlog', { region: 'eu' }) !== 0); i++) {
    await wait(100);
    m = await scrape();
  }
  assert.equal(value(m, 'meridian_event_deliveries_total', delivered) - value(before, 'meridian_event_deliveries_total', delivered), 1,
    'the provider refund was delivered once');
  assert.equal(value(m, 'meridian_outbox_backlog', { region: 'eu' }), 0);
  assert.equal(value(m, 'meridian_outbox_oldest_undelivered_seconds', { region: 'eu' }), 0);
  promtool(m.text);
});

test('metrics: an idle node does not count background work as writer batches', async () => {
  const idle = await startServer();
  try {
    await wait(300);
    const a = await scrape(idle);
    await wait(2500); // the expiry sweeper ticks every second, the dispatcher every 200 ms
    const b = await scrape(idle);
    promtool(b.text);
    for (const name of ['meridian_writer_batches_total', 'meridian_writer_jobs_total', 'meridian_writer_batch_jobs_count',
      'meridian_writer_commit_seconds_count']) {
      assert.ok(b.samples.some((s) => s.name === name), `${name} is exported`);
      assert.equal(sum(b, name), sum(a, name), `${name} moved while nothing happened`);
    }
  } finally {
    await idle.stop();
  }
});
