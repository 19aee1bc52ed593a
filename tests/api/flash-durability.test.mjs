// Flash sales under load: 20,000 buyers for 2,000 units; and kill -9 in the middle of a sale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, run, ADDRESSES } from './helpers.mjs';

function localIST(offsetMs) {
  const d = new Date(Date.now() + offsetMs);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

async function setup(srv, units, prefix, n, mode = 'fcfs') {
  const list = await srv.get('/api/v1/products?country=IN&category=phones&per_page=1');
  const skuCode = (await srv.get(`/api/v1/products/${list.json.items[0].id}?country=IN`)).json.skus[0].code;
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: srv.adminToken,
    body: { country: 'IN', titles: { en: 'X1 launch' }, sessions: [{ mode, starts_at: localIST(-60000), ends_at: localIST(3600000), per_user_limit: 1, items: [{ sku: skuCode, price: 999900, units }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const tokens = run(['admin', 'load-users', '--data', srv.dataDir, '--country', 'IN', '--count', String(n), '--prefix', prefix,
    '--address', JSON.stringify(ADDRESSES.IN)], { maxBuffer: 64 << 20 }).split('\n').filter(Boolean);
  return { id: r.json.id, session: r.json.session_ids[0], sku: skuCode, tokens };
}

// Runs fn over items with at most `width` in flight.
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

test('race: 20,000 buyers, 2,000 units through the real server: exactly 2,000 tokens, nobody over the limit', async () => {
  const srv = await startServer({ regions: 'in' });
  try {
    const f = await setup(srv, 2000, 'race', 20000);
    const won = new Map();
    const statuses = {};
    // every buyer tries twice, in a shuffled order, many at a time
    const attempts = [...f.tokens, ...f.tokens].map((t, i) => ({ t, k: (i * 7919) % (f.tokens.length * 2) }))
      .sort((a, b) => a.k - b.k).map((x) => x.t);
    await pool(attempts, 128, async (token) => {
      const r = await srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 200) won.set(token, (won.get(token) || 0) + 1);
    });
    const tokens = [...won.values()].reduce((a, b) => a + b, 0);
    assert.equal(tokens, 2000, JSON.stringify(statuses));
    assert.ok([...won.values()].every((n) => n === 1), 'nobody holds more than one token');
    const stats = await srv.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: srv.adminToken });
    const s = stats.json.sessions[0];
    assert.equal(s.tokens.issued, 2000);
    assert.equal(s.items[0].left, 0);
    assert.equal(statuses[409], 40000 - 2000, 'everyone else heard sold_out or limit_reached');
  } finally { await srv.stop(); }
});

test('crash: kill -9 mid-sale; every token a client received is still valid and units reconcile', async () => {
  const srv = await startServer({ regions: 'in' });
  const UNITS = 600;
  const f = await setup(srv, UNITS, 'crash', 3000);
  const received = [];
  let stop = false;
  const grabbing = pool(f.tokens, 64, async (token) => {
    if (stop) return;
    try {
      const r = await srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
      if (r.status === 200) received.push({ buyer: token, token: r.json.token });
    } catch { stop = true; }
  });
  await new Promise((r) => setTimeout(r, 400));
  srv.child.kill('SIGKILL');
  await srv.exited;
  stop = true;
  await grabbing;
  console.log(`# tokens received before the kill: ${received.length} of ${UNITS}`);
  const again = await startServer({ regions: 'in', dataDir: srv.dataDir });
  try {
    // sell some of the tokens received before the crash: they must all still be valid
    for (const { buyer, token } of received.slice(0, 20)) {
      const o = await again.api('POST', '/api/v1/orders', { token: buyer, body: { payment_method: 'card', flash_token: token } });
      assert.equal(o.status, 201, `token ${token} received before the crash was not honoured: ${o.text}`);
    }
    const stats = await again.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: again.adminToken });
    const s = stats.json.sessions[0];
    const outstanding = s.tokens.issued || 0, sold = s.tokens.consumed || 0;
    assert.ok(outstanding + sold >= received.length, 'every token a client received is on record');
    assert.equal(s.items[0].left + outstanding + sold, UNITS, `units do not reconcile: ${JSON.stringify(s)}`);
    // the sale goes on after the restart, and still never oversells
    let more = 0;
    await pool(f.tokens.slice(1000), 64, async (token) => {
      const r = await again.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
      if (r.status === 200) more++;
    });
    const end = (await again.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: again.adminToken })).json.sessions[0];
    assert.equal(end.items[0].left + (end.tokens.issued || 0) + (end.tokens.consumed || 0), UNITS);
    assert.ok((end.tokens.issued || 0) + (end.tokens.consumed || 0) <= UNITS);
  } finally {
    await again.stop();
    rmSync(srv.dataDir, { recursive: true, force: true });
  }
});

test('crash: kill -9 with queue vouchers pending; every voucher is decided after the restart, in arrival order', async () => {
  const srv = await startServer({ regions: 'in' });
  const UNITS = 300;
  const f = await setup(srv, UNITS, 'qcrash', 1500, 'queue');
  const vouchers = [];
  let stop = false;
  const grabbing = pool(f.tokens, 64, async (token) => {
    if (stop) return;
    try {
      const r = await srv.api('POST', `/api/v1/flash-sales/${f.id}/grab`, { token, body: { session_id: f.session, sku: f.sku } });
      if (r.status === 202) vouchers.push({ buyer: token, v: r.json.voucher, seq: Number(r.json.voucher.split('-')[1]) });
    } catch { stop = true; }
  });
  let finished = false;
  grabbing.then(() => { finished = true; });
  while (vouchers.length < 200 && !stop && !finished) await new Promise((r) => setTimeout(r, 5));
  srv.child.kill('SIGKILL');
  await srv.exited;
  stop = true;
  await grabbing;
  console.log(`# queue vouchers received before the kill: ${vouchers.length}`);
  const again = await startServer({ regions: 'in', dataDir: srv.dataDir });
  try {
    const outcome = new Map();
    for (let round = 0; round < 100 && outcome.size < vouchers.length; round++) {
      for (const q of vouchers) {
        if (outcome.has(q.v)) continue;
        const r = await again.get(`/api/v1/flash-sales/${f.id}/queue/${q.v}`, { token: q.buyer });
        assert.equal(r.status, 200, `voucher ${q.v} given before the crash is unknown after it: ${r.text}`);
        if (r.json.status !== 'pending') outcome.set(q.v, r.json.status);
      }
      if (outcome.size < vouchers.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(outcome.size, vouchers.length, 'every voucher is decided');
    // within the vouchers we saw, nobody later in the queue won while someone earlier lost
    const sorted = [...vouchers].sort((a, b) => a.seq - b.seq).map((q) => outcome.get(q.v));
    const firstLost = sorted.indexOf('lost');
    if (firstLost >= 0) assert.ok(sorted.slice(firstLost).every((x) => x === 'lost'), sorted.join(','));
    const s = (await again.get(`/api/v1/admin/flash-sales/${f.id}/stats`, { token: again.adminToken })).json.sessions[0];
    const held = (s.tokens.issued || 0) + (s.tokens.consumed || 0);
    assert.equal(s.items[0].left + held, UNITS, `units do not reconcile: ${JSON.stringify(s)}`);
    assert.ok(sorted.filter((x) => x === 'won').length <= held);
  } finally {
    await again.stop();
    rmSync(srv.dataDir, { recursive: true, force: true });
  }
});
