// The translation workflow: export what a language lacks as XLIFF 2.0 or PO, translate it (here a script),
// import it back (checked, all or nothing), the storefront serves it, coverage follows, an edited English
// text makes its translations outdated. Hostile and malformed files change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, expectError, translateXliff, xmlUnescape } from './helpers.mjs';

let srv, T;
before(async () => { srv = await startServer(); T = srv.adminToken; });
after(async () => { await srv.stop(); });

const XLIFF = 'application/xliff+xml';
const PO = 'text/x-gettext-translation';

const coverage = async (lang) => {
  const r = await srv.get(`/api/v1/admin/translations/coverage?lang=${lang}`, { token: T });
  assert.equal(r.status, 200, r.text);
  return r.json.languages[0];
};
const exportFile = async (lang, format) => {
  const r = await srv.get(`/api/v1/admin/translations/${lang}/export?format=${format}`, { token: T });
  assert.equal(r.status, 200, r.text);
  return r;
};
const importFile = (lang, type, raw) =>
  srv.api('POST', `/api/v1/admin/translations/${lang}/import`, { token: T, raw, headers: { 'content-type': type } });

// An independent check of a file, when the Debian tool is installed (xmllint, msgfmt): its exit status and
// what it printed, or null without the tool.
function tool(cmd, args, text, suffix) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'tr-'));
  const f = join(dir, `file${suffix}`);
  writeFileSync(f, text);
  try {
    const r = spawnSync(cmd, [...args, f], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
// msgfmt's only complaint about an exported file: the translator's header fields still hold their
// template values (a tool fills them in)
const msgfmtOk = (r) => r === null || (r.status === 0 && r.out.split('\n').every((l) => l === '' || /still has the initial default value/.test(l)));

function units(xml) {
  return [...xml.matchAll(/<unit id="([^"]+)">[\s\S]*?<source>([\s\S]*?)<\/source>/g)].map((m) => ({ id: m[1], source: xmlUnescape(m[2]) }));
}
// Fills every PO entry's msgstr with a marked copy of its msgid (single- or multi-line).
function translatePo(po, mark) {
  return po.split('\n\n').map((block) => {
    if (!/^msgctxt /m.test(block)) return block; // the header
    const lines = block.split('\n');
    const i = lines.findIndex((l) => l.startsWith('msgid '));
    const j = lines.findIndex((l) => l.startsWith('msgstr '));
    const id = lines.slice(i, j);
    const str = id.map((l, k) => (k === 0 ? l.replace(/^msgid "/, 'msgstr "') : l));
    const first = str.findIndex((l, k) => k > 0 || l !== 'msgstr ""');
    str[first] = str[first].replace(/"/, `"${mark} `);
    return [...lines.slice(0, j), ...str].join('\n');
  }).join('\n\n');
}
const poValue = (s) => JSON.parse(s);

test('export XLIFF 2.0 for a new language, translate it, import it: the storefront serves it and coverage is full', async () => {
  const before = await coverage('bn');
  assert.ok(before.total > 400, JSON.stringify(before));
  assert.equal(before.missing, before.total);
  assert.equal(before.translated, 0);
  assert.deepEqual(Object.keys(before.kinds).sort(), ['attribute_name', 'attribute_value', 'category_name', 'flash_sale_title', 'product_description', 'product_name']);

  const r = await exportFile('bn', 'xliff');
  assert.match(r.headers.get('content-type'), /^application\/xliff\+xml/);
  assert.match(r.headers.get('content-disposition'), /catalog-bn\.xlf/);
  const xml = r.text;
  assert.match(xml, /<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="bn">/);
  const us = units(xml);
  assert.equal(us.length, before.total);
  assert.equal(Number(r.headers.get('x-translation-units')), before.total);
  assert.ok(us.some((u) => u.id === 'attr:colour'));
  assert.ok(us.some((u) => u.id === 'attr:colour:black'));
  assert.ok(us.some((u) => /^category:\d+:name$/.test(u.id)));
  assert.ok(us.some((u) => /^product:\d+:description$/.test(u.id)));
  assert.match(xml, /<note category="context">Product name \(brand /);
  const lint = tool('xmllint', ['--noout'], xml, '.xlf');
  if (lint !== null) assert.deepEqual(lint, { status: 0, out: '' });

  const translated = translateXliff(xml, '[bn]');
  const imp = await importFile('bn', XLIFF, translated);
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.json.added, before.total);
  assert.equal(imp.json.updated, 0);
  assert.equal(imp.json.texts.length, before.total);
  assert.ok(imp.json.texts.every((t) => t.result === 'added'));

  const name = us.find((u) => /^product:\d+:name$/.test(u.id));
  const pid = name.id.split(':')[1];
  const page = await srv.get(`/api/v1/products/${pid}?country=IN&lang=bn`);
  assert.equal(page.status, 200);
  assert.equal(page.json.name, `[bn] ${name.source}`);
  assert.equal(page.json.description, `[bn] ${us.find((u) => u.id === `product:${pid}:description`).source}`);
  const cats = await srv.get('/api/v1/categories?country=IN&lang=bn');
  assert.ok(JSON.stringify(cats.json).includes('[bn] '), cats.text);

  const after = await coverage('bn');
  assert.equal(after.translated, after.total);
  assert.equal(after.missing, 0);
  // nothing left to export
  assert.equal(units((await exportFile('bn', 'xliff')).text).length, 0);
  // importing the same file again changes nothing
  const again = await importFile('bn', XLIFF, translated);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.unchanged, before.total);
  assert.equal(again.json.added + again.json.updated, 0);
});

test('export PO for a language, translate it, import it', async () => {
  const r = await exportFile('ja', 'po');
  assert.match(r.headers.get('content-type'), /^text\/x-gettext-translation/);
  const po = r.text;
  assert.match(po, /"Language: ja\\n"/);
  assert.match(po, /"Content-Type: text\/plain; charset=UTF-8\\n"/);
  assert.match(po, /^msgctxt "attr:colour:black"$/m);
  assert.match(po, /^#\. Product name \(brand /m);
  const check = tool('msgfmt', ['--check', '-o', '/dev/null'], po, '.po');
  assert.ok(msgfmtOk(check), check && check.out);
  const n = (po.match(/^msgctxt /gm) || []).length;
  const cov = await coverage('ja');
  assert.equal(n, cov.total);

  const translated = translatePo(po, '[ja]');
  const check2 = tool('msgfmt', ['--check', '-o', '/dev/null'], translated, '.po');
  assert.ok(msgfmtOk(check2), check2 && check2.out);
  const imp = await importFile('ja', `${PO}; charset=utf-8`, translated);
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.json.added, n);
  const m = po.match(/msgctxt "product:(\d+):name"\nmsgid (".*")/);
  const page = await srv.get(`/api/v1/products/${m[1]}?country=SG&lang=ja`);
  assert.equal(page.json.name, `[ja] ${poValue(m[2])}`);
  assert.equal((await coverage('ja')).translated, cov.total);
});

test('an edited English text makes its translations outdated: exported again, still served until replaced', async () => {
  // a product with one translation made now
  const created = await srv.api('POST', '/api/v1/admin/products', {
    token: T,
    body: {
      slug: 'outdated-phone', brand: 'Testco', category: 'phones',
      texts: { en: { name: 'Outdated Phone', description: 'Old description' }, sw: { name: 'Simu', description: 'Maelezo' } },
      skus: [{ code: 'OUTD-1', prices: { IN: 1999900 } }],
    },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const ids = [`product:${id}:name`, `product:${id}:description`];
  const inExport = async () => units((await exportFile('sw', 'xliff')).text).filter((u) => ids.includes(u.id));
  assert.deepEqual(await inExport(), []);
  const before = await coverage('sw');

  const p = await srv.api('PATCH', `/api/v1/admin/products/${id}`, { token: T, body: { texts: { en: { name: 'Outdated Phone 2', description: 'Old description' } } } });
  assert.equal(p.status, 200, p.text);
  const after = await coverage('sw');
  assert.equal(after.outdated, before.outdated + 1);
  assert.equal(after.kinds.product_name.outdated, before.kinds.product_name.outdated + 1);
  assert.equal(after.kinds.product_description.outdated, before.kinds.product_description.outdated);
  const again = await inExport();
  assert.deepEqual(again.map((u) => u.id), [`product:${id}:name`]);
  assert.equal(again[0].source, 'Outdated Phone 2');
  const xml = (await exportFile('sw', 'xliff')).text;
  assert.match(xml, /<note category="outdated">The source text changed. It was: Outdated Phone — and its translation was: Simu<\/note>/);
  const po = (await exportFile('sw', 'po')).text;
  assert.match(po, new RegExp(`#, fuzzy\\n#\\| msgid "Outdated Phone"\\nmsgctxt "product:${id}:name"\\nmsgid "Outdated Phone 2"\\nmsgstr "Simu"`));
  // the shopper still sees the old translation
  assert.equal((await srv.get(`/api/v1/products/${id}?country=IN&lang=sw`)).json.name, 'Simu');
  // a fuzzy PO entry is not imported; once the translator clears the flag it is
  const mine = po.split('\n\n').find((b) => b.includes(`msgctxt "product:${id}:name"`));
  const header = po.split('\n\n')[0];
  const fuzzy = await importFile('sw', PO, `${header}\n\n${mine.replace('msgstr "Simu"', 'msgstr "Simu 2"')}\n`);
  assert.equal(fuzzy.status, 200, fuzzy.text);
  assert.equal(fuzzy.json.skipped, 1);
  assert.equal((await coverage('sw')).outdated, after.outdated);
  const done = await importFile('sw', PO, `${header}\n\n${mine.replace('#, fuzzy\n', '').replace('msgstr "Simu"', 'msgstr "Simu 2"')}\n`);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.updated, 1);
  assert.deepEqual(done.json.texts, [{ id: `product:${id}:name`, result: 'updated' }]);
  assert.equal((await coverage('sw')).outdated, before.outdated);
  assert.equal((await srv.get(`/api/v1/products/${id}?country=IN&lang=sw`)).json.name, 'Simu 2');
  assert.deepEqual(await inExport(), []);

  // attribute texts: a new English name outdates the translations made from the raw id or the old text
  const a = await srv.api('PUT', '/api/v1/admin/attribute-texts', { token: T, body: { 'colour=black': { sw: 'Nyeusi' } } });
  assert.equal(a.status, 200, a.text);
  const c1 = await coverage('sw');
  const a2 = await srv.api('PUT', '/api/v1/admin/attribute-texts', { token: T, body: { 'colour=black': { en: 'Jet black' } } });
  assert.equal(a2.status, 200, a2.text);
  const c2 = await coverage('sw');
  assert.equal(c2.kinds.attribute_value.outdated, c1.kinds.attribute_value.outdated + 1);
  assert.ok(units((await exportFile('sw', 'xliff')).text).some((u) => u.id === 'attr:colour:black' && u.source === 'Jet black'));
});

test('coverage per country lists its languages; the source language is complete', async () => {
  const r = await srv.get('/api/v1/admin/translations/coverage?country=IN', { token: T });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.country, 'IN');
  assert.equal(r.json.source_language, 'en');
  assert.deepEqual(r.json.languages.map((l) => l.language), ['hi', 'en']);
  const en = r.json.languages[1];
  assert.equal(en.source, true);
  assert.equal(en.translated, en.total);
  const all = await srv.get('/api/v1/admin/translations/coverage', { token: T });
  assert.ok(all.json.languages.length >= 10);
  expectError(await srv.get('/api/v1/admin/translations/coverage?country=ZZ', { token: T }), 404, 'unknown_country');
  expectError(await srv.get('/api/v1/admin/translations/coverage'), 401, 'unauthorized');
});

// ---- bad input: a clear 4xx and nothing changed ----

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const doc = (body, lang = 'de-CH') =>
  `${HEAD}<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="${lang}"><file id="f">${body}</file></xliff>`;
const unit = (id, source, target) => `<unit id="${id}"><segment><source>${source}</source><target>${target}</target></segment></unit>`;

let good; // a valid unit the hostile files carry along: it must not be applied either
async function goodUnit() {
  if (!good) {
    const u = units((await exportFile('de-CH', 'xliff')).text).find((x) => /^category:/.test(x.id));
    good = unit(u.id, u.source.replace(/&/g, '&amp;').replace(/</g, '&lt;'), 'Kategorie');
  }
  return good;
}

async function refused(lang, type, raw, status, code) {
  const before = await coverage(lang);
  const r = await importFile(lang, type, raw);
  expectError(r, status, code);
  assert.deepEqual(await coverage(lang), before, 'nothing changed');
  return r;
}

test('hostile XLIFF: entity declarations, external entities, a DOCTYPE at all — refused, nothing changed', async () => {
  const g = await goodUnit();
  const laughs = `${HEAD}<!DOCTYPE xliff [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>` +
    '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="de-CH"><file id="f">' + g.replace('Kategorie', '&c;') + '</file></xliff>';
  let r = await refused('de-CH', XLIFF, laughs, 400, 'invalid_parameter');
  assert.match(r.json.error.message, /DOCTYPE is not allowed/);
  const external = `${HEAD}<!DOCTYPE xliff [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
    '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="de-CH"><file id="f">' + g.replace('Kategorie', '&x;') + '</file></xliff>';
  r = await refused('de-CH', XLIFF, external, 400, 'invalid_parameter');
  assert.doesNotMatch(r.text, /root:/);
  r = await refused('de-CH', XLIFF, doc(g.replace('Kategorie', '&undefined;')), 400, 'invalid_parameter');
  assert.match(r.json.error.message, /undefined entity/);
});

test('malformed or wrong XLIFF and PO: broken XML, wrong language, unknown ids, lost placeholders — 4xx, nothing changed', async () => {
  const g = await goodUnit();
  let r = await refused('de-CH', XLIFF, doc(g).replace('</file>', '<unit id="x">'), 400, 'invalid_parameter');
  assert.match(r.json.error.message, /line \d+, column \d+/);
  await refused('de-CH', XLIFF, doc(g).replace('</target>', '<b>bold</b></target>'), 400, 'invalid_parameter');
  await refused('de-CH', XLIFF, doc(g).replace('version="2.0"', 'version="1.2"'), 400, 'invalid_parameter');
  await refused('de-CH', XLIFF, '{"not": "xml"}', 400, 'invalid_parameter');
  await refused('de-CH', XLIFF, Buffer.from(doc(g).replace('Kategorie', 'Kateg\u00f6rie'), 'latin1'), 400, 'invalid_parameter');

  r = await refused('de-CH', XLIFF, doc(g, 'fr'), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'wrong_language');

  r = await refused('de-CH', XLIFF, doc(g + unit('product:999999:name', 'x', 'y') + unit('attr:nope', 'x', 'y')), 422, 'validation_failed');
  assert.deepEqual(r.json.error.problems.map((p) => [p.code, p.id]), [['unknown_id', 'product:999999:name'], ['unknown_id', 'attr:nope']]);
  r = await refused('de-CH', XLIFF, doc(g + g), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'duplicate_id');
  r = await refused('de-CH', XLIFF, doc(g.replace(/<source>[^<]*/, '<source>Edited source')), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'source_changed');
  r = await refused('de-CH', XLIFF, doc(g.replace('Kategorie', 'K'.repeat(101))), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'too_long');

  // placeholders and markup of the source must be kept
  const created = await srv.api('POST', '/api/v1/admin/products', {
    token: T,
    body: {
      slug: 'placeholder-phone', brand: 'Testco', category: 'phones',
      texts: { en: { name: 'Save {amount} on %s', description: 'Now <b>cheaper</b> by %1$d%%' } },
      skus: [{ code: 'PLACE-1', prices: { IN: 1999900 } }],
    },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const two = (name, desc) => unit(`product:${id}:name`, esc('Save {amount} on %s'), esc(name)) +
    unit(`product:${id}:description`, esc('Now <b>cheaper</b> by %1$d%%'), esc(desc));
  r = await refused('de-CH', XLIFF, doc(g + two('Spare {betrag} auf %s', 'Jetzt <b>billiger</b> um %d')), 422, 'validation_failed');
  assert.deepEqual(r.json.error.problems.map((p) => p.code).sort(), ['placeholder_missing', 'placeholder_missing', 'placeholder_unknown', 'placeholder_unknown']);
  r = await refused('de-CH', XLIFF, doc(two('Spare {amount} auf %s', 'Jetzt billiger um %1$d%%')), 422, 'validation_failed');
  assert.deepEqual(r.json.error.problems.map((p) => [p.code, p.id]), [['markup_missing', `product:${id}:description`], ['markup_missing', `product:${id}:description`]]);
  // a description alone: its product has no name in the language yet
  r = await refused('de-CH', XLIFF, doc(unit(`product:${id}:description`, esc('Now <b>cheaper</b> by %1$d%%'), esc('<b>Billiger</b> um %1$d%%'))), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'name_needed');
  // all kept: accepted, order may change
  const ok = await importFile('de-CH', XLIFF, doc(two('Auf %s {amount} sparen', 'Um %1$d%% <b>billiger</b>')));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.added, 2);
  assert.equal((await srv.get(`/api/v1/products/${id}?country=DE&lang=de-CH`)).status, 404); // not sold in DE
  assert.equal((await srv.get(`/api/v1/products/${id}?country=IN&lang=de-CH`)).json.description, 'Um %1$d%% <b>billiger</b>');

  // PO: plural forms, unknown escapes, another charset, a missing msgstr, a wrong Language
  const head = (lang = 'de-CH', cs = 'UTF-8') => `msgid ""\nmsgstr ""\n"Language: ${lang}\\n"\n"Content-Type: text/plain; charset=${cs}\\n"\n\n`;
  const gid = g.match(/unit id="([^"]+)"/)[1], gsrc = xmlUnescape(g.match(/<source>([^<]*)/)[1]);
  const entry = (str) => `msgctxt "${gid}"\nmsgid ${JSON.stringify(gsrc)}\nmsgstr ${str}\n`;
  r = await refused('de-CH', PO, head() + entry('"Kategorie"') + 'msgid "a"\nmsgid_plural "b"\nmsgstr[0] "c"\n', 400, 'invalid_parameter');
  assert.match(r.json.error.message, /line \d+: plural forms/);
  await refused('de-CH', PO, head() + entry('"Kat\\qegorie"'), 400, 'invalid_parameter');
  await refused('de-CH', PO, head('de-CH', 'ISO-8859-1') + entry('"Kategorie"'), 400, 'invalid_parameter');
  await refused('de-CH', PO, head() + `msgctxt "${gid}"\nmsgid "x"\n`, 400, 'invalid_parameter');
  await refused('de-CH', PO, entry('"Kategorie"'), 400, 'invalid_parameter'); // no header
  r = await refused('de-CH', PO, head('it') + entry('"Kategorie"'), 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'wrong_language');
  r = await refused('de-CH', PO, head() + entry('"Kategorie"') + 'msgid "no context"\nmsgstr "x"\n', 422, 'validation_failed');
  assert.equal(r.json.error.problems[0].code, 'unknown_id');
  // and the valid PO entry alone goes in
  const okPo = await importFile('de-CH', PO, head() + entry('"Kate\\"gorie\\""'));
  assert.equal(okPo.status, 200, okPo.text);
  assert.equal(okPo.json.added, 1);
});

test('a huge file is refused with 413; other requests: 415 without a file type, 400 for bad languages or formats', async () => {
  const g = await goodUnit();
  const huge = doc(g + `<unit id="pad"><notes><note>${'x'.repeat(2 << 20)}</note></notes></unit>`);
  // over --max-body but within 4 times it, the body is read whole and refused on an open connection: the
  // client reads its 413 (h2o refusing it from the Content-Length would close with the body unread, and the
  // kernel's reset often lost the answer: "fetch failed")
  const before = await coverage('de-CH');
  const r = await importFile('de-CH', XLIFF, huge);
  expectError(r, 413, 'payload_too_large');
  assert.deepEqual(await coverage('de-CH'), before, 'nothing changed');
  await refused('de-CH', 'application/json', doc(g), 415, 'unsupported_media_type');
  expectError(await importFile('en', XLIFF, doc(g, 'en')), 400, 'invalid_parameter', 'lang');
  expectError(await importFile('DE_ch', XLIFF, doc(g)), 400, 'invalid_parameter', 'lang');
  expectError(await srv.get('/api/v1/admin/translations/de/export?format=csv', { token: T }), 400, 'invalid_parameter', 'format');
  expectError(await srv.get('/api/v1/admin/translations/en/export', { token: T }), 400, 'invalid_parameter', 'lang');
  expectError(await srv.api('POST', '/api/v1/admin/translations/de/import', { raw: doc(g), headers: { 'content-type': XLIFF } }), 401, 'unauthorized');
});

test('flash-sale titles: exported for the languages of the sale\'s country, imported, served by the activity info', async () => {
  const madrid = (ms) => {
    const d = new Date(Date.now() + ms);
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Madrid', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
  };
  const list = await srv.get('/api/v1/products?country=ES&per_page=1');
  const sku = (await srv.get(`/api/v1/products/${list.json.items[0].id}?country=ES`)).json.skus[0].code;
  const before = await coverage('es');
  const r = await srv.api('POST', '/api/v1/admin/flash-sales', {
    token: T,
    body: { country: 'ES', titles: { en: 'Summer {brand} deal' }, sessions: [{ starts_at: madrid(60000), ends_at: madrid(3600000), items: [{ sku, price: 1000, units: 5 }] }] },
  });
  assert.equal(r.status, 201, r.text);
  const id = `flash:${r.json.id}:title`;
  const after = await coverage('es');
  assert.equal(after.kinds.flash_sale_title.missing, before.kinds.flash_sale_title.missing + 1);
  const xml = (await exportFile('es', 'xliff')).text;
  assert.deepEqual(units(xml).filter((u) => u.id === id), [{ id, source: 'Summer {brand} deal' }]);
  assert.match(xml, /Title of a flash sale in ES/);
  // not a text of languages the sale's country does not speak
  assert.ok(!units((await exportFile('bn', 'xliff')).text).some((u) => u.id === id));
  assert.equal((await exportFile('bn', 'po')).text.includes(id), false);

  const one = (target) => doc(unit(id, 'Summer {brand} deal', target), 'es');
  const bad = await refused('es', XLIFF, one('Oferta de verano'), 422, 'validation_failed');
  assert.equal(bad.json.error.problems[0].code, 'placeholder_missing');
  const ok = await importFile('es', XLIFF, one('Oferta de verano {brand}'));
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.texts, [{ id, result: 'added' }]);
  assert.equal((await coverage('es')).kinds.flash_sale_title.missing, before.kinds.flash_sale_title.missing);
  const es = await srv.get(`/api/v1/flash-sales/${r.json.id}?lang=es`);
  assert.equal(es.status, 200, es.text);
  assert.equal(es.json.sale.title, 'Oferta de verano {brand}');
  assert.equal((await srv.get(`/api/v1/flash-sales/${r.json.id}?lang=en`)).json.sale.title, 'Summer {brand} deal');
  const listEs = await srv.get('/api/v1/flash-sales?country=ES&lang=es');
  assert.ok(listEs.json.sales.some((s) => s.title === 'Oferta de verano {brand}'), listEs.text);
});
