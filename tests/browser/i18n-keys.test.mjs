// The storefront's words (web/src/i18n.js), without a browser: every language a demo country speaks has a
// table, and every table has exactly the keys English has (a missing key would show English on a page in
// that language; an extra one is a typo or a leftover), each a non-empty string with the same {placeholders}
// as English. The order and payment statuses and the flash-sale refusal reasons cover the API's enums
// (docs/openapi.yaml), so nothing the API can send is shown as its raw value or its English message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { T, t, tf } from '../../web/src/i18n.js';
import { REASONS } from '../../web/src/flash.js';

const en = Object.keys(T.en);
const placeholders = (s) => (s.match(/\{[^}]*\}/g) || []).sort();

test('every language has exactly the keys English has, each a non-empty string with English\'s placeholders', () => {
  const problems = [];
  for (const [lang, table] of Object.entries(T)) {
    for (const k of en) {
      if (!(k in table)) problems.push(`${lang}: missing ${k}`);
      else if (typeof table[k] !== 'string' || !table[k].trim()) problems.push(`${lang}.${k}: empty`);
      else if (placeholders(table[k]).join() !== placeholders(T.en[k]).join()) problems.push(`${lang}.${k}: placeholders ${placeholders(table[k])} vs ${placeholders(T.en[k])}`);
    }
    for (const k of Object.keys(table)) if (!(k in T.en)) problems.push(`${lang}: ${k} is not an English key`);
    // a table pasted from English by mistake: most words differ (a few, such as "Total" or "Email", may not)
    if (lang !== 'en') {
      const same = en.filter((k) => table[k] === T.en[k]);
      if (same.length > en.length / 5) problems.push(`${lang}: ${same.length} of ${en.length} words are English's (${same.slice(0, 8).join(', ')}…)`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every language of a demo country has a table', () => {
  const seed = JSON.parse(readFileSync(new URL('../../seed/countries.json', import.meta.url), 'utf8'));
  const spoken = new Set(Object.values(seed.countries).flatMap((c) => c.languages));
  assert.deepEqual([...spoken].filter((l) => !T[l]), []);
  for (const l of ['hi', 'en', 'ms', 'id', 'fil', 'th', 'vi', 'ru', 'es', 'fr', 'it', 'de', 'pl']) assert.ok(T[l], l);
});

const yaml = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8');
const enumOf = (schema) => {
  const m = new RegExp(`\\n    ${schema}:\\n[\\s\\S]*?\\n      enum: \\[([^\\]]*)\\]`).exec(yaml);
  assert.ok(m, `${schema} in docs/openapi.yaml`);
  return m[1].split(',').map((s) => s.trim()).filter(Boolean);
};

test('every order and payment status the API can send has words', () => {
  const missing = [...enumOf('OrderStatus').map((s) => `os_${s}`), ...enumOf('PaymentStatus').map((s) => `ps_${s}`)]
    .filter((k) => !(k in T.en));
  assert.deepEqual(missing, []);
});

test('every reason a flash sale refuses a shopper for has words (the API\'s own message is English)', () => {
  const reasons = enumOf('FlashRefusalReason');
  assert.ok(reasons.length > 10);
  assert.deepEqual(reasons.filter((r) => !(REASONS[r] in T.en)), []);
});

test('t(): the language\'s word, else English\'s, else the fallback or the key', () => {
  assert.equal(t('vi', 'cart'), 'Giỏ hàng');
  assert.equal(t('ru', 'cart'), 'Корзина');
  assert.equal(t('xx', 'cart'), 'Cart');
  assert.equal(t('ru', 'os_on_the_moon', 'on the moon'), 'on the moon');
  assert.equal(t('ru', 'card'), 'Банковская карта');
  assert.equal(t('ru', 'paypal'), 'paypal');
});

test('tf(): the word with its {placeholders} filled in, in the language\'s own order', () => {
  assert.equal(tf('en', 'retryIn', { time: '2 minutes' }), 'Too many tries. Try again in 2 minutes.');
  assert.equal(tf('hi', 'retryIn', { time: '2 मिनट' }), 'बहुत ज़्यादा कोशिशें हुईं। 2 मिनट बाद फिर से कोशिश करें।');
  assert.equal(tf('xx', 'retryIn', {}), 'Too many tries. Try again in {time}.');
});
