// A customer's password on the storefront: changed on the account page (the current one checked, the error at
// its field, the other sessions ended), and reset by a code (the login page's "Forgot your password?": ask
// for a code, take it from the message, set a new password, log in with it). The code reaches the customer
// by email, which Meridian records in the region's notification table: the test reads it from there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { start, signIn } from './browser.mjs';
import { customer, sqlRows, until } from '../api/helpers.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

const OLD = 'correct horse battery'; // customer()'s password

// A shopper's page in India, in English.
async function shopperPage() {
  const page = await env.page();
  await page.addInitScript(() => {
    if (!sessionStorage.getItem('seeded')) {
      sessionStorage.setItem('seeded', '1');
      localStorage.setItem('mer.country', '"IN"');
      localStorage.setItem('mer.lang', '"en"');
    }
  });
  return page;
}

// Logs in through the login page; ok: whether the password should be taken.
async function logIn(page, email, password, ok = true) {
  const main = page.locator('main');
  await main.getByLabel('Email').fill(email);
  await main.getByLabel('Password', { exact: true }).fill(password);
  await main.getByRole('button', { name: 'Log in' }).click();
  if (ok) await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).waitFor();
  else await main.locator('.form-error').waitFor();
}

// The newest reset code sent to an account (its message in the region's notification table).
async function sentCode(userId, not) {
  return until(() => {
    const rows = sqlRows(env.srv.dataDir, 'in',
      `SELECT message FROM notification WHERE user_id = ${Number(userId)} AND event_id LIKE 'pwreset_%' ORDER BY id DESC LIMIT 1`);
    const code = rows.length ? (rows[0].message.match(/mpr_[A-Za-z0-9_-]+/) || [])[0] : null;
    return code && code !== not ? code : null;
  }, 'a reset code in the notification table');
}

// The field of a form whose label is `label`, and its error.
const fieldOf = (page, label) => page.locator('main .field').filter({ has: page.getByLabel(label, { exact: true }) });

test('the account page changes the password: a wrong current one is shown at its field, then the new one logs in', async () => {
  const c = await customer(env.srv, 'IN', { address: null });
  const other = await env.srv.api('POST', '/api/v1/sessions', { body: { email: c.email, password: OLD, country: 'IN' } });
  assert.equal(other.status, 201, other.text);
  const page = await shopperPage();
  await page.goto('/#/login');
  await logIn(page, c.email, OLD);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
  const form = page.locator('form.password-form');
  await form.getByRole('heading', { name: 'Change password' }).waitFor();
  assert.equal(await form.getByLabel('Current password').getAttribute('autocomplete'), 'current-password');
  assert.equal(await form.getByLabel('New password').getAttribute('autocomplete'), 'new-password');

  // a wrong current password: the API's error at that field, which takes the focus; nothing changed
  await form.getByLabel('Current password').fill('not my password');
  await form.getByLabel('New password').fill('a new password 42');
  await form.getByRole('button', { name: 'Change password' }).click();
  const current = fieldOf(page, 'Current password');
  await current.getByRole('alert').waitFor();
  assert.match(await current.getByRole('alert').textContent(), /current password/i);
  assert.equal(await form.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'current_password');
  await env.shot(page, 'password-change-error');
  assert.equal((await env.srv.get('/api/v1/users/me', { token: other.json.token })).status, 200);

  // a new password that is too short: at the new password's field
  await form.getByLabel('Current password').fill(OLD);
  await form.getByLabel('New password').fill('short');
  await form.getByRole('button', { name: 'Change password' }).click();
  await fieldOf(page, 'New password').getByRole('alert').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'new_password');
  assert.equal(await current.getByRole('alert').count(), 0, 'the earlier error is gone');

  await form.getByLabel('New password').fill('a new password 42');
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.getByRole('status').getByText('Your password is changed.').waitFor();
  assert.equal(await form.getByLabel('Current password').inputValue(), '', 'the form is cleared');
  assert.equal(await form.getByLabel('New password').inputValue(), '');
  await env.shot(page, 'password-changed');
  // the other session ended; the page's own goes on
  assert.equal((await env.srv.get('/api/v1/users/me', { token: other.json.token })).status, 401);
  const mine = JSON.parse(await page.evaluate(() => localStorage.getItem('mer.token')));
  assert.equal((await env.srv.get('/api/v1/users/me', { token: mine })).status, 200);

  // log out, then the old password is refused and the new one logs in
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' }).click();
  await logIn(page, c.email, OLD, false);
  await logIn(page, c.email, 'a new password 42');
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('a back-off (429) on the password change says when to try again, in the shopper\'s language', async () => {
  const c = await customer(env.srv, 'IN', { address: null });
  const page = await env.page();
  await signIn(page, c, 'IN', 'hi');
  // the API's 429 as attempt_start answers it (the back-off itself is tested in tests/api/passwords.test.mjs;
  // its first blocks last a second or two, too short to see on a page)
  await page.route('**/api/v1/users/me/password', (route) => route.fulfill({
    status: 429, headers: { 'retry-after': '120', 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code: 'rate_limited', message: 'too many failed logins; retry in 120 seconds' } }),
  }));
  await page.goto('/#/account');
  const form = page.locator('form.password-form');
  await form.getByLabel('मौजूदा पासवर्ड').fill(OLD);
  await form.getByLabel('नया पासवर्ड').fill('a new password 42');
  await form.getByRole('button', { name: 'पासवर्ड बदलें' }).click();
  const alert = form.locator('.form-error');
  await alert.waitFor();
  assert.equal(await alert.textContent(), 'बहुत ज़्यादा कोशिशें हुईं। 2 मिनट बाद फिर से कोशिश करें।');
  await page.waitForFunction(() => document.activeElement && document.activeElement.classList.contains('form-error'));
});

test('a forgotten password: the login page\'s link, a code by email, a wrong code at its field, then the new password logs in', async () => {
  const c = await customer(env.srv, 'IN', { address: null });
  const page = await shopperPage();
  await page.goto('/#/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { level: 1, name: 'Reset your password' }).waitFor();

  // the answer is the same for an address with no account (the page cannot tell, and does not)
  const main = page.locator('main');
  await main.getByLabel('Email').fill(`nobody-${c.email}`);
  await main.getByRole('button', { name: 'Send code' }).click();
  const neutral = 'If an account has this email, we have sent a code to it. The code is valid for 30 minutes.';
  await main.getByRole('status').getByText(neutral).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'code');
  await main.getByRole('button', { name: 'Send me a new code' }).click();
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'email');
  await main.getByLabel('Email').fill(c.email);
  await main.getByRole('button', { name: 'Send code' }).click();
  await main.getByRole('status').getByText(neutral).waitFor();
  await env.shot(page, 'password-reset-sent');
  const code = await sentCode(c.user.id);
  assert.match(code, /^mpr_in_/);

  // a wrong code: the API's error at the code's field, focused; the password is unchanged
  const codeField = main.getByLabel('Code from the message');
  assert.equal(await codeField.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await main.getByLabel('New password').getAttribute('autocomplete'), 'new-password');
  await codeField.fill(code.slice(0, -3) + (code.endsWith('AAA') ? 'BBB' : 'AAA'));
  await main.getByLabel('New password').fill('reset password 42');
  await main.getByRole('button', { name: 'Set new password' }).click();
  const err = fieldOf(page, 'Code from the message').getByRole('alert');
  await err.waitFor();
  assert.match(await err.textContent(), /code/i);
  assert.equal(await codeField.getAttribute('aria-invalid'), 'true');
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'code');
  await env.shot(page, 'password-reset-wrong-code');
  assert.equal((await env.srv.get('/api/v1/users/me', { token: c.token })).status, 200);

  await codeField.fill(code);
  await main.getByRole('button', { name: 'Set new password' }).click();
  await page.waitForFunction(() => location.hash === '#/login?reset=1');
  await main.getByRole('status').getByText('Your password is changed. Log in with the new one.').waitFor();
  await env.shot(page, 'password-reset-done');
  // every session of the account ended
  assert.equal((await env.srv.get('/api/v1/users/me', { token: c.token })).status, 401);
  await logIn(page, c.email, OLD, false);
  await logIn(page, c.email, 'reset password 42');
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});

test('a link with the code (#/reset?code=...) opens the second step filled in, and the code leaves the address bar', async () => {
  const c = await customer(env.srv, 'IN', { address: null });
  const r = await env.srv.api('POST', '/api/v1/password-resets', { body: { email: c.email, country: 'IN' } });
  assert.equal(r.status, 202, r.text);
  const code = await sentCode(c.user.id);
  // this browser is logged in to the account: the reset ends its session too, and the page forgets it
  const page = await env.page();
  await page.addInitScript(([t, u]) => {
    localStorage.setItem('mer.country', '"IN"');
    localStorage.setItem('mer.lang', '"en"');
    localStorage.setItem('mer.token', JSON.stringify(t));
    localStorage.setItem('mer.user', JSON.stringify(u));
  }, [c.token, c.user]);
  await page.goto(`/#/reset?code=${encodeURIComponent(code)}`);
  const main = page.locator('main');
  await page.getByRole('heading', { level: 1, name: 'Reset your password' }).waitFor();
  assert.equal(await main.getByLabel('Code from the message').inputValue(), code);
  assert.equal(await page.evaluate(() => location.hash), '#/reset');
  await main.getByLabel('New password').fill('linked password 42');
  await main.getByRole('button', { name: 'Set new password' }).click();
  await main.getByRole('status').getByText('Your password is changed. Log in with the new one.').waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('mer.token')), null);
  await logIn(page, c.email, 'linked password 42');
});
