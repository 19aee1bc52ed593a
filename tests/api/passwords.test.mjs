// Password change (with the current password) and reset (with a code sent to the account's email or phone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, expectError, customer, sqlRows, pgUrl, PG } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const login = (email, password, country = 'IN') =>
  srv.api('POST', '/api/v1/sessions', { body: { email, password, country } });

// The newest reset message of an account, and the code in it.
function lastReset(region, userId) {
  const rows = sqlRows(srv.dataDir, region,
    `SELECT channel, message FROM notification WHERE user_id = ${Number(userId)} AND event_id LIKE 'pwreset_%' ORDER BY id DESC LIMIT 1`);
  if (rows.length === 0) return null;
  return { channel: rows[0].channel, code: (rows[0].message.match(/mpr_[A-Za-z0-9_-]+/) || [])[0] };
}

// Moves every reset code of an account into the past (a change no API makes).
function expireResets(region, userId) {
  const q = `UPDATE password_reset SET expires_at = 1 WHERE user_id = ${Number(userId)}`;
  if (PG) execFileSync('psql', ['-qAtX', pgUrl(srv.dataDir, region), '-c', q]);
  else execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(srv.dataDir, `region-${region}.db`), q]);
}

test('a customer changes their password: the current one is checked, other sessions end, this one stays', async () => {
  const c = await customer(srv, 'IN', { address: null });
  const other = await login(c.email, 'correct horse battery');
  assert.equal(other.status, 201, other.text);
  const change = (body, token = c.token) => srv.api('POST', '/api/v1/users/me/password', { token, body });

  expectError(await change({ current_password: 'not the password', new_password: 'a new password' }), 422, 'validation_failed', 'current_password');
  expectError(await change({ current_password: 'correct horse battery', new_password: 'short' }), 422, 'validation_failed', 'new_password');
  expectError(await change({ current_password: 'correct horse battery', new_password: 'correct horse battery' }), 422, 'validation_failed', 'new_password');
  expectError(await change({ current_password: 'correct horse battery' }), 422, 'validation_failed', 'new_password');
  expectError(await change({ current_password: 'correct horse battery', new_password: 'a new password', extra: 1 }), 422, 'validation_failed', 'extra');
  expectError(await srv.api('POST', '/api/v1/users/me/password', { body: { current_password: 'x', new_password: 'a new password' } }), 401, 'unauthorized');
  // nothing changed so far
  assert.equal((await srv.get('/api/v1/users/me', { token: other.json.token })).status, 200);
  assert.equal((await login(c.email, 'correct horse battery')).status, 201);

  const ok = await change({ current_password: 'correct horse battery', new_password: 'a new password' });
  assert.equal(ok.status, 204, ok.text);
  assert.equal((await srv.get('/api/v1/users/me', { token: c.token })).status, 200, 'the session that changed it stays');
  expectError(await srv.get('/api/v1/users/me', { token: other.json.token }), 401, 'unauthorized');
  expectError(await login(c.email, 'correct horse battery'), 401, 'unauthorized');
  assert.equal((await login(c.email, 'a new password')).status, 201);
});

test('wrong current passwords count against the login back-off', async () => {
  const c = await customer(srv, 'IN', { address: null });
  for (let i = 0; i < 5; i++)
    expectError(await srv.api('POST', '/api/v1/users/me/password', { token: c.token, body: { current_password: 'wrong guess ' + i, new_password: 'a new password' } }),
      422, 'validation_failed', 'current_password');
  const r = await srv.api('POST', '/api/v1/users/me/password', { token: c.token, body: { current_password: 'correct horse battery', new_password: 'a new password' } });
  expectError(r, 429, 'rate_limited');
  expectError(await login(c.email, 'correct horse battery'), 429, 'rate_limited');
});

test('staff do not change passwords here', async () => {
  expectError(await srv.api('POST', '/api/v1/users/me/password', { token: srv.adminToken, body: { current_password: 'x', new_password: 'a new password' } }), 403, 'forbidden');
});

test('a reset code resets the password once and ends every session', async () => {
  const c = await customer(srv, 'IN', { address: null });
  const r = await srv.api('POST', '/api/v1/password-resets', { body: { email: c.email, country: 'IN' } });
  assert.equal(r.status, 202, r.text);
  const sent = lastReset('in', c.user.id);
  assert.equal(sent.channel, 'email');
  assert.match(sent.code, /^mpr_in_/);
  // only the code's hash is stored
  assert.equal(sqlRows(srv.dataDir, 'in', `SELECT COUNT(*) AS n FROM password_reset WHERE hash = '${sent.code}'`)[0].n, 0);

  const confirm = (code, new_password = 'reset password 1') => srv.api('POST', '/api/v1/password-resets/confirm', { body: { code, new_password } });
  expectError(await confirm(sent.code, 'short'), 422, 'validation_failed', 'new_password');
  expectError(await confirm(sent.code.slice(0, -2) + 'xx'), 422, 'validation_failed', 'code');
  expectError(await confirm('not a code'), 422, 'validation_failed', 'code');
  assert.equal((await srv.get('/api/v1/users/me', { token: c.token })).status, 200, 'bad attempts changed nothing');

  const ok = await confirm(sent.code);
  assert.equal(ok.status, 204, ok.text);
  expectError(await srv.get('/api/v1/users/me', { token: c.token }), 401, 'unauthorized');
  expectError(await login(c.email, 'correct horse battery'), 401, 'unauthorized');
  assert.equal((await login(c.email, 'reset password 1')).status, 201);
  expectError(await confirm(sent.code, 'reset password 2'), 422, 'validation_failed', 'code');
  assert.equal((await login(c.email, 'reset password 1')).status, 201, 'a used code changes nothing');
});

test('asking for a reset answers the same for an unknown account, and a newer code voids the older', async () => {
  const c = await customer(srv, 'IN', { address: null });
  const known = await srv.api('POST', '/api/v1/password-resets', { body: { email: c.email, country: 'IN' } });
  const unknown = await srv.api('POST', '/api/v1/password-resets', { body: { email: 'nobody-' + c.email, country: 'IN' } });
  assert.equal(known.status, 202);
  assert.equal(unknown.status, 202);
  assert.deepEqual(unknown.json, known.json);
  assert.equal(sqlRows(srv.dataDir, 'in', `SELECT COUNT(*) AS n FROM notification WHERE message LIKE '%nobody-%'`)[0].n, 0);

  const first = lastReset('in', c.user.id).code;
  assert.equal((await srv.api('POST', '/api/v1/password-resets', { body: { email: c.email, country: 'IN' } })).status, 202);
  const second = lastReset('in', c.user.id).code;
  assert.notEqual(first, second);
  expectError(await srv.api('POST', '/api/v1/password-resets/confirm', { body: { code: first, new_password: 'reset password 1' } }), 422, 'validation_failed', 'code');

  expireResets('in', c.user.id);
  expectError(await srv.api('POST', '/api/v1/password-resets/confirm', { body: { code: second, new_password: 'reset password 1' } }), 422, 'validation_failed', 'code');
  assert.equal((await login(c.email, 'correct horse battery')).status, 201, 'an expired code changes nothing');

  expectError(await srv.api('POST', '/api/v1/password-resets', { body: { country: 'IN' } }), 422, 'validation_failed', 'email');
  expectError(await srv.api('POST', '/api/v1/password-resets', { body: { email: c.email, country: 'ZZ' } }), 404, 'unknown_country', 'country');
});

test('reset requests for one account are limited; a phone account gets its code by sms', async () => {
  const phone = '+919812300017';
  const reg = await srv.api('POST', '/api/v1/users', { body: { phone, password: 'correct horse battery', country: 'IN' } });
  assert.equal(reg.status, 201, reg.text);
  for (let i = 0; i < 5; i++)
    assert.equal((await srv.api('POST', '/api/v1/password-resets', { body: { phone, country: 'IN' } })).status, 202);
  assert.equal(lastReset('in', reg.json.id).channel, 'sms');
  expectError(await srv.api('POST', '/api/v1/password-resets', { body: { phone, country: 'IN' } }), 429, 'rate_limited');
});

test('a reset code of a region this node does not serve is answered 421', async () => {
  const inOnly = await startServer({ regions: 'in' });
  try {
    const r = await inOnly.api('POST', '/api/v1/password-resets/confirm', { body: { code: 'mpr_eu_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', new_password: 'reset password 1' } });
    expectError(r, 421, 'wrong_region', 'code');
  } finally { await inOnly.stop(); }
});
