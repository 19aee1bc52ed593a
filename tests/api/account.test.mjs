// Accounts, sessions, addresses, isolation and login back-off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, expectError, customer, ADDRESSES, run } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

test('register, log in, read me, log out', async () => {
  const r = await srv.api('POST', '/api/v1/users', { body: { email: 'Mixed.Case@Example.TEST', password: 'long enough pw', country: 'IN', name: 'Ravi' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.email, 'mixed.case@example.test');
  assert.equal(r.json.region, 'in');
  assert.equal(r.json.password_hash, undefined);
  expectError(await srv.api('POST', '/api/v1/users', { body: { email: 'mixed.case@example.test', password: 'long enough pw', country: 'IN' } }), 409, 'already_exists', 'email');
  const l = await srv.api('POST', '/api/v1/sessions', { body: { email: 'mixed.case@example.test', password: 'long enough pw', country: 'IN' } });
  assert.equal(l.status, 201, l.text);
  assert.match(l.json.token, /^mct_in_/);
  const me = await srv.get('/api/v1/users/me', { token: l.json.token });
  assert.equal(me.status, 200);
  assert.equal(me.json.name, 'Ravi');
  assert.equal((await srv.api('DELETE', '/api/v1/sessions/current', { token: l.json.token })).status, 204);
  expectError(await srv.get('/api/v1/users/me', { token: l.json.token }), 401, 'unauthorized');
});

test('registration errors name the field; phone accounts work', async () => {
  expectError(await srv.api('POST', '/api/v1/users', { body: { email: 'x@example.test', password: 'short', country: 'IN' } }), 422, 'validation_failed', 'password');
  expectError(await srv.api('POST', '/api/v1/users', { body: { email: 'not-an-email', password: 'long enough pw', country: 'IN' } }), 422, 'validation_failed', 'email');
  expectError(await srv.api('POST', '/api/v1/users', { body: { password: 'long enough pw', country: 'IN' } }), 422, 'validation_failed', 'email');
  expectError(await srv.api('POST', '/api/v1/users', { body: { email: 'y@example.test', password: 'long enough pw', country: 'ZZ' } }), 404, 'unknown_country', 'country');
  expectError(await srv.api('POST', '/api/v1/users', { body: { phone: '+15551234567', password: 'long enough pw', country: 'IN' } }), 422, 'validation_failed', 'phone');
  const p = await srv.api('POST', '/api/v1/users', { body: { phone: '+919876543210', password: 'long enough pw', country: 'IN' } });
  assert.equal(p.status, 201, p.text);
  const l = await srv.api('POST', '/api/v1/sessions', { body: { phone: '+919876543210', password: 'long enough pw', country: 'IN' } });
  assert.equal(l.status, 201);
});

test('an account lives only in its region: other-region nodes answer 421', async () => {
  const inOnly = await startServer({ regions: 'in' });
  try {
    const r = await inOnly.api('POST', '/api/v1/users', { body: { email: 'eu@example.test', password: 'long enough pw', country: 'ES' } });
    expectError(r, 421, 'wrong_region');
    assert.equal(r.json.error.region, 'eu');
    const ok = await inOnly.api('POST', '/api/v1/users', { body: { email: 'in@example.test', password: 'long enough pw', country: 'IN' } });
    assert.equal(ok.status, 201);
  } finally { await inOnly.stop(); }
});

test('wrong passwords back off per account with 429 and Retry-After', async () => {
  const c = await customer(srv, 'IN', { address: null });
  for (let i = 0; i < 5; i++) {
    const r = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'wrong password', country: 'IN' } });
    expectError(r, 401, 'unauthorized');
  }
  const blocked = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'IN' } });
  expectError(blocked, 429, 'rate_limited');
  assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
  await new Promise((r) => setTimeout(r, 1100 * Number(blocked.headers.get('retry-after'))));
  const ok = await srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: 'correct horse battery', country: 'IN' } });
  assert.equal(ok.status, 201, 'after the back-off the right password works');
});

test('unknown accounts fail like wrong passwords', async () => {
  const r = await srv.api('POST', '/api/v1/sessions', { body: { email: 'nobody@example.test', password: 'whatever pw', country: 'IN' } });
  expectError(r, 401, 'unauthorized');
});

test('addresses: validated by country rules, one default, private to the owner', async () => {
  const a = await customer(srv, 'IN', { address: null });
  const b = await customer(srv, 'IN', { address: null });
  const bad = [
    [{ ...ADDRESSES.IN, postal_code: '040001' }, 'postal_code'],
    [{ ...ADDRESSES.IN, phone: '+911234' }, 'phone'],
    [{ ...ADDRESSES.IN, city: '' }, 'city'],
    [{ ...ADDRESSES.IN, state: 'ZZ' }, 'state'],
    [{ ...ADDRESSES.IN, planet: 'Mars' }, 'planet'],
  ];
  for (const [body, field] of bad)
    expectError(await srv.api('POST', '/api/v1/users/me/addresses', { token: a.token, body }), 422, 'validation_failed', field);
  const first = await srv.api('POST', '/api/v1/users/me/addresses', { token: a.token, body: ADDRESSES.IN });
  assert.equal(first.status, 201);
  assert.equal(first.json.default, true, 'the first address is the default');
  const second = await srv.api('POST', '/api/v1/users/me/addresses', { token: a.token, body: { ...ADDRESSES.IN, city: 'Pune', default: true } });
  assert.equal(second.json.default, true);
  const list = await srv.get('/api/v1/users/me/addresses', { token: a.token });
  assert.equal(list.json.addresses.length, 2);
  assert.equal(list.json.addresses.filter((x) => x.default).length, 1);
  const patched = await srv.api('PATCH', `/api/v1/users/me/addresses/${first.json.id}`, { token: a.token, body: { city: 'Thane', default: true } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.city, 'Thane');
  expectError(await srv.api('PATCH', `/api/v1/users/me/addresses/${first.json.id}`, { token: a.token, body: { postal_code: '1' } }), 422, 'validation_failed', 'postal_code');
  // another user cannot see, change or delete it
  expectError(await srv.get(`/api/v1/users/me/addresses/${first.json.id}`, { token: b.token }), 404, 'not_found');
  expectError(await srv.api('PATCH', `/api/v1/users/me/addresses/${first.json.id}`, { token: b.token, body: { city: 'X' } }), 404, 'not_found');
  expectError(await srv.api('DELETE', `/api/v1/users/me/addresses/${first.json.id}`, { token: b.token }), 404, 'not_found');
  assert.equal((await srv.get('/api/v1/users/me/addresses', { token: b.token })).json.addresses.length, 0);
  assert.equal((await srv.api('DELETE', `/api/v1/users/me/addresses/${first.json.id}`, { token: a.token })).status, 204);
  const after = await srv.get('/api/v1/users/me/addresses', { token: a.token });
  assert.equal(after.json.addresses.length, 1);
  assert.equal(after.json.addresses[0].default, true, 'a remaining address becomes the default');
  expectError(await srv.get('/api/v1/users/me/addresses'), 401, 'unauthorized');
});

test('customers get 403 on admin routes; staff log in with a password', async () => {
  const c = await customer(srv, 'IN', { address: null });
  expectError(await srv.get('/api/v1/admin/countries', { token: c.token }), 403, 'forbidden');
  run(['admin', 'create', '--data', srv.dataDir, '--email', 'ops@example.test', '--role', 'operator', '--countries', 'IN'],
    { input: 'a long staff password\n', stdio: ['pipe', 'pipe', 'pipe'] });
  expectError(await srv.api('POST', '/api/v1/staff/sessions', { body: { email: 'ops@example.test', password: 'wrong one' } }), 401, 'unauthorized');
  const l = await srv.api('POST', '/api/v1/staff/sessions', { body: { email: 'ops@example.test', password: 'a long staff password' } });
  assert.equal(l.status, 201, l.text);
  assert.match(l.json.token, /^mst_/);
  const me = await srv.get('/api/v1/users/me', { token: l.json.token });
  assert.equal(me.json.role, 'operator');
  assert.equal((await srv.get('/api/v1/admin/orders?country=IN', { token: l.json.token })).status, 200);
  expectError(await srv.get('/api/v1/admin/orders?country=ES', { token: l.json.token }), 403, 'forbidden');
});

test('long non-ASCII text is kept whole; lower-case country codes are stored canonically', async () => {
  const name = 'अ'.repeat(150); // 150 characters, 450 bytes
  const r = await srv.api('POST', '/api/v1/users', { body: { email: `utf8-${Date.now()}@example.test`, password: 'long enough pw', country: 'IN', name } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.name, name);
  const c = await customer(srv, 'IN', { address: null });
  const a = await srv.api('POST', '/api/v1/users/me/addresses', { token: c.token, body: { ...ADDRESSES.IN, country: 'in', line1: 'मार्ग '.repeat(30).trim() } });
  assert.equal(a.status, 201, a.text);
  assert.equal(a.json.country, 'IN');
  assert.equal(a.json.line1, 'मार्ग '.repeat(30).trim());
  assert.equal((await srv.get('/api/v1/healthz')).status, 404, 'the server is still up');
  assert.equal((await srv.get('/healthz')).status, 200);
});

test('lockout holds for long emails (the back-off key once stopped at 119 characters)', async () => {
  const local = 'a'.repeat(200);
  const email = `${local}@example.test`; // 213 characters
  const twin = `${local}@example.tesu`; // the same but for the last character
  for (const e of [email, twin])
    assert.equal((await srv.api('POST', '/api/v1/users', { body: { email: e, password: 'long enough pw', country: 'IN' } })).status, 201);
  for (let i = 0; i < 5; i++)
    expectError(await srv.api('POST', '/api/v1/sessions', { body: { email, password: 'wrong password', country: 'IN' } }), 401, 'unauthorized');
  const blocked = await srv.api('POST', '/api/v1/sessions', { body: { email, password: 'long enough pw', country: 'IN' } });
  expectError(blocked, 429, 'rate_limited');
  assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
  const other = await srv.api('POST', '/api/v1/sessions', { body: { email: twin, password: 'long enough pw', country: 'IN' } });
  assert.equal(other.status, 201, 'another account is not locked out by a near-identical key');
});

test('an account may have both an email and a phone, and logs in with either', async () => {
  const body = { email: 'both@example.test', phone: '+91 70000-00001', password: 'long enough pw', country: 'IN', name: 'Both' };
  const r = await srv.api('POST', '/api/v1/users', { body });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.email, 'both@example.test');
  assert.equal(r.json.phone, '+917000000001', 'the phone is stored normalized (E.164)');
  // either one is unique in the region: the answer names the one taken
  expectError(await srv.api('POST', '/api/v1/users', { body: { ...body, email: 'other@example.test' } }), 409, 'already_exists', 'phone');
  expectError(await srv.api('POST', '/api/v1/users', { body: { ...body, phone: '+917000000002' } }), 409, 'already_exists', 'email');
  expectError(await srv.api('POST', '/api/v1/users', { body: { ...body, email: 'third@example.test', phone: '+917000000001' } }), 409, 'already_exists', 'phone');
  expectError(await srv.api('POST', '/api/v1/users', { body: { ...body, email: 'x2@example.test', phone: '+91 7000 abc' } }), 422, 'validation_failed', 'phone');
  const byEmail = await srv.api('POST', '/api/v1/sessions', { body: { email: 'both@example.test', password: 'long enough pw', country: 'IN' } });
  assert.equal(byEmail.status, 201, byEmail.text);
  assert.equal(byEmail.json.user.phone, '+917000000001');
  const byPhone = await srv.api('POST', '/api/v1/sessions', { body: { phone: '0091 (70000) 00001', password: 'long enough pw', country: 'IN' } });
  assert.equal(byPhone.status, 201, byPhone.text);
  assert.equal(byPhone.json.user.id, byEmail.json.user.id);
  assert.equal(byPhone.json.user.email, 'both@example.test', 'the answer describes the account, not just the name used');
  const me = await srv.get('/api/v1/users/me', { token: byEmail.json.token });
  assert.equal(me.json.phone, '+917000000001', 'an email session still carries the account phone');
  expectError(await srv.api('POST', '/api/v1/sessions', { body: { email: 'both@example.test', phone: '+917000000001', password: 'long enough pw', country: 'IN' } }), 422, 'validation_failed', 'phone');
});

test('the login answer reports the account\'s country, not the one sent', async () => {
  const r = await srv.api('POST', '/api/v1/users', { body: { email: 'es-home@example.test', password: 'long enough pw', country: 'ES' } });
  assert.equal(r.status, 201, r.text);
  const l = await srv.api('POST', '/api/v1/sessions', { body: { email: 'es-home@example.test', password: 'long enough pw', country: 'FR' } });
  assert.equal(l.status, 201, l.text);
  assert.equal(l.json.user.country, 'ES');
  assert.equal(l.json.user.region, 'eu');
  assert.equal((await srv.get('/api/v1/users/me', { token: l.json.token })).json.country, 'ES');
});

// The session cache forgets one customer at a time: a logout or an address change of one customer sends
// only that customer's next request to the store (on launch day others keep being answered from memory),
// while their own next request sees the change.
test('a logout or an address change invalidates only that customer\'s cached session', async () => {
  const stats = async () => {
    const m = (await srv.get('/metrics')).text;
    const num = (res) => Number(new RegExp(`^meridian_auth_cache_total\\{result="${res}"\\} (\\d+)$`, 'm').exec(m)[1]);
    return { hit: num('hit'), miss: num('miss') };
  };
  const a = await customer(srv, 'IN');
  const b = await customer(srv, 'IN');
  assert.equal((await srv.get('/api/v1/users/me', { token: b.token })).status, 200); // cached now
  let s0 = await stats();
  assert.equal((await srv.get('/api/v1/users/me', { token: b.token })).status, 200);
  let s1 = await stats();
  assert.deepEqual(s1, { hit: s0.hit + 1, miss: s0.miss }, 'a cached session answers from memory');

  // A changes an address: B stays cached; A's next check reads the store again
  const addr = await srv.api('POST', '/api/v1/users/me/addresses', { token: a.token, body: { ...ADDRESSES.IN, line1: '7 Hill Road', default: true } });
  assert.equal(addr.status, 201, addr.text);
  s0 = await stats();
  assert.equal((await srv.get('/api/v1/users/me', { token: b.token })).status, 200);
  assert.equal((await srv.get('/api/v1/users/me', { token: a.token })).status, 200);
  s1 = await stats();
  assert.deepEqual(s1, { hit: s0.hit + 1, miss: s0.miss + 1 });

  // A logs out: A's token is refused at once, B is still answered from the cache
  assert.equal((await srv.api('DELETE', '/api/v1/sessions/current', { token: a.token })).status, 204);
  s0 = await stats();
  expectError(await srv.get('/api/v1/users/me', { token: a.token }), 401, 'unauthorized');
  assert.equal((await srv.get('/api/v1/users/me', { token: b.token })).status, 200);
  s1 = await stats();
  assert.deepEqual(s1, { hit: s0.hit + 1, miss: s0.miss + 1 });
});
