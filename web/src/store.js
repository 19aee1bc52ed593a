// The storefront: catalogue, product, cart, account, checkout, orders and flash sales, on the public API.
import { html, render, useState, useEffect, useRef, call, ApiError, store, useRoute, go, Field, FormError, focusError, fmtDate, fmtNum, fmtWait } from './lib.js';
import { t, tf } from './i18n.js';
import { FlashSales, FlashSale } from './flash.js';

const S = {
  country: store.get('mer.country'), lang: store.get('mer.lang'), token: store.get('mer.token'),
  user: store.get('mer.user'), guestCart: store.get('mer.guestCart'), countries: [],
};
let rerender = () => {};
const setS = (patch) => {
  Object.assign(S, patch);
  for (const k of ['country', 'lang', 'token', 'user', 'guestCart']) if (k in patch) store.set(`mer.${k}`, patch[k]);
  rerender();
};

// Every storefront call: the country and language, the customer's token or the guest cart; a country
// served by another region's site sends the shopper there (421 wrong_region carries its URL).
export async function api(method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  // the API's error messages in the shopper's language (codes and fields stay the same)
  if (S.lang && !headers['accept-language']) headers['accept-language'] = S.lang;
  if (!S.token && S.guestCart && S.guestCart.country === S.country && opts.cart) headers['x-cart-id'] = S.guestCart.id;
  try {
    const r = await call(method, path, { ...opts, headers, token: opts.token === undefined ? S.token : opts.token });
    const cartId = r.headers.get('x-cart-id');
    if (cartId && !S.token) setS({ guestCart: { id: cartId, country: S.country } });
    return r.json;
  } catch (e) {
    if (e.code === 'network') e.message = L('network');
    // a back-off (429 with Retry-After: logins, password changes and resets) says when to try again, in the shopper's words
    if (e.status === 429 && e.retryAfter !== null) e.message = Lf('retryIn', { time: fmtWait(e.retryAfter, loc()) });
    if (e.status === 421 && e.body && e.body.error && e.body.error.url) {
      const target = new URL(e.body.error.url);
      if (target.origin !== location.origin) location.href = elsewhere(target.origin, S.country, S.lang);
    }
    if (e.status === 401 && S.token && opts.token === undefined) setS({ token: null, user: null });
    throw e;
  }
}
const L = (k, fallback) => t(S.lang, k, fallback);
const Lf = (k, vars) => tf(S.lang, k, vars);
// The locale Intl formats numbers and dates for: the shopper's language as written in their country (en-IN, fil-PH).
const loc = () => (S.country ? `${S.lang}-${S.country}` : S.lang || 'en');
// An order's or a payment's status (prefix os or ps) in the shopper's language; the API's value, readable,
// for a status this build does not know.
const statusName = (prefix, s) => L(`${prefix}_${s}`, s.replace(/_/g, ' '));
// A country's name: the API's in the shopper's language, else the browser's (CLDR), else the API's default.
function countryName(c) {
  if (c.names && c.names[S.lang]) return c.names[S.lang];
  try { return new Intl.DisplayNames([S.lang], { type: 'region' }).of(c.code) || c.name; } catch { return c.name; }
}
// The same page on another region's site; the choice travels in the address (storage is per site).
const elsewhere = (origin, countryCode, lang) => `${origin}/#/?country=${countryCode}&lang=${lang}`;
let setNotice = () => {};
const country = () => S.countries.find((c) => c.code === S.country);
const q = () => ({ country: S.country, lang: S.lang });

function useLoad(fn, deps) {
  const [st, setSt] = useState({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setSt((s) => ({ ...s, loading: true }));
    fn().then((data) => live && setSt({ data }), (error) => live && setSt({ error }));
    return () => { live = false; };
  }, [...deps, n]);
  return { ...st, reload: () => setN((x) => x + 1) };
}

function Status({ st }) {
  if (st.error) return html`<p class="error" role="alert">${st.error.message}</p>`;
  if (st.loading && !st.data) return html`<p class="loading" aria-busy="true">…</p>`;
  return null;
}

// ---- header: country, language, navigation ----
let pickSeq = 0; // the country picks so far (a pick waits for /route; a later one supersedes it)
function Header({ cartCount }) {
  const c = country();
  const [notice, setN] = useState(null);
  setNotice = setN;
  const pick = async (code) => {
    const seq = ++pickSeq;
    if (S.user && S.user.country !== code) setS({ token: null, user: null });
    let other = null; // the origin of another region's site serving the country
    try {
      const r = await call('GET', '/route', { query: { country: code } });
      if (r.json && !r.json.served_here && r.json.url && new URL(r.json.url).origin !== location.origin) other = new URL(r.json.url).origin;
    } catch { /* the catalogue calls will say what is wrong */ }
    // the language is chosen once the answer is in (the shopper may have picked one meanwhile), and only the
    // latest of several quick picks applies
    if (seq !== pickSeq) return;
    const nc = S.countries.find((x) => x.code === code);
    const lang = nc && nc.languages.includes(S.lang) ? S.lang : nc ? nc.default_language : S.lang;
    setS({ country: code, lang });
    if (other) {
      setNotice(L('wrongRegion'));
      location.href = elsewhere(other, code, lang);
    }
  };
  return html`<header class="top">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>${L('skip')}</a>
    <a class="brand" href="#/">Meridian</a>
    <nav aria-label=${L('mainNav')}>
      <a href="#/">${L('shop')}</a>
      <a href="#/sales">${L('sales')}</a>
      <a href="#/cart">${L('cart')}${cartCount ? html` <span class="badge" aria-label=${`${L('items')}: ${fmtNum(cartCount, loc())}`}>${fmtNum(cartCount, loc())}</span>` : ''}</a>
      ${S.token ? html`<a href="#/account">${L('account')}</a>` : html`<a href="#/login">${L('login')}</a>`}
    </nav>
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    <div class="pickers">
      <label for="pick-country">${L('country')}</label>
        <select id="pick-country" name="country" value=${S.country} onChange=${(e) => pick(e.currentTarget.value)}>
          ${S.countries.map((x) => html`<option value=${x.code}>${countryName(x)}</option>`)}
        </select>
      <label for="pick-lang">${L('language')}</label>
        <select id="pick-lang" name="lang" value=${S.lang} onChange=${(e) => setS({ lang: e.currentTarget.value })}>
          ${(c ? c.languages : ['en']).map((l) => html`<option value=${l}>${langName(l)}</option>`)}
        </select>
    </div>
  </header>`;
}
function langName(l) {
  try { return new Intl.DisplayNames([l], { type: 'language' }).of(l); } catch { return l; }
}

// ---- catalogue ----
function Catalogue({ query }) {
  const qs = query.get('q') || '', cat = query.get('category') || '', page = Number(query.get('page') || 1);
  const sort = query.get('sort') || '';
  const [text, setText] = useState(qs);
  const cats = useLoad(() => api('GET', '/categories', { query: { lang: S.lang, country: S.country } }), [S.lang, S.country]);
  // sorted by the API over every match (an order the API does not know would be a 400)
  const list = useLoad(() => api('GET', '/products', { query: { ...q(), q: qs, category: cat, page, per_page: 24, sort } }),
    [S.country, S.lang, qs, cat, page, sort]);
  const nav = (patch) => {
    const p = new URLSearchParams({ q: qs, category: cat, page: String(page), sort, ...patch });
    for (const [k, v] of [...p]) if (!v || (k === 'page' && v === '1')) p.delete(k);
    go(`/?${p}`);
  };
  const items = list.data ? list.data.items : [];
  return html`<section>
    <h1 class="visually-hidden">${L('shop')}</h1>
    <form class="filters" role="search" onSubmit=${(e) => { e.preventDefault(); nav({ q: text, page: '1' }); }}>
      <div class="fl grow"><label for="f-q">${L('search')}</label><input id="f-q" type="search" name="q" value=${text} onInput=${(e) => setText(e.currentTarget.value)} /></div>
      <div class="fl"><label for="f-cat">${L('category')}</label><select id="f-cat" name="category" value=${cat} onChange=${(e) => nav({ category: e.currentTarget.value, page: '1' })}>
        <option value="">${L('all')}</option>
        ${cats.data && cats.data.categories.map((c) => html`<option value=${c.slug}>${c.parent_id ? '— ' : ''}${c.name}</option>`)}
      </select></div>
      <div class="fl"><label for="f-sort">${L('sort')}</label><select id="f-sort" name="sort" value=${sort} onChange=${(e) => nav({ sort: e.currentTarget.value, page: '1' })}>
        <option value="">${L('relevance')}</option><option value="price_asc">${L('priceAsc')}</option>
        <option value="price_desc">${L('priceDesc')}</option><option value="newest">${L('newest')}</option>
      </select></div>
      <button type="submit">${L('search')}</button>
    </form>
    <${Status} st=${list} />
    ${list.data && !items.length && html`<p>${L('noResults')}</p>`}
    <ul class="grid" aria-busy=${list.loading ? 'true' : 'false'}>
      ${items.map((p) => html`<li class="card">
        <a href=${`#/p/${p.id}`} class="card-link">
          <${Placeholder} name=${p.name} cat=${p.category && p.category.slug} />
          <span class="brand-name">${p.brand}</span>
          <span class="name">${p.name}</span>
          <span class="price">${p.sku_count > 1 ? html`<small>${L('from')} </small>` : ''}${p.price_from.formatted}</span>
        </a></li>`)}
    </ul>
    ${list.data && list.data.pages > 1 && html`<nav class="pager" aria-label=${L('page')}>
      <button disabled=${page <= 1} onClick=${() => nav({ page: String(page - 1) })}>${L('prev')}</button>
      <span>${L('page')} ${fmtNum(page, loc())} ${L('of')} ${fmtNum(list.data.pages, loc())}</span>
      <button disabled=${page >= list.data.pages} onClick=${() => nav({ page: String(page + 1) })}>${L('next')}</button>
    </nav>`}
  </section>`;
}

// A tasteful placeholder image: the product's initials on a colour derived from its category.
function Placeholder({ name, cat, big }) {
  let hsh = 0;
  for (const ch of name) hsh = (hsh * 31 + ch.charCodeAt(0)) | 0;
  const base = { phones: 220, tvs: 260, wearables: 160, accessories: 30, 'smart-home': 120 }[cat] ?? 200;
  const hue = (base + (Math.abs(hsh) % 60) - 30 + 360) % 360;
  const initials = name.split(/\s+/).slice(0, 2).map((w) => w[0]).join('');
  return html`<div class=${'ph' + (big ? ' big' : '')} style=${`--h:${hue}`} aria-hidden="true"><span>${initials}</span></div>`;
}

// ---- product ----
function Product({ id, onCart }) {
  const st = useLoad(() => api('GET', `/products/${id}`, { query: q() }), [id, S.country, S.lang]);
  const media = useLoad(() => api('GET', `/products/${id}/media`, { query: { lang: S.lang } }), [id, S.lang]);
  const [sel, setSel] = useState({});
  const [qty, setQty] = useState(1);
  const [msg, setMsg] = useState(null);
  const [err, setErr] = useState(null);
  const p = st.data;
  useEffect(() => {
    if (p && p.skus.length) {
      const first = p.skus.find((s) => s.stock_state !== 'out_of_stock') || p.skus[0];
      setSel({ ...first.attributes });
    }
  }, [p && p.id, S.country]);
  if (!p) return html`<${Status} st=${st} />`;
  const sku = p.skus.find((s) => Object.entries(sel).every(([k, v]) => s.attributes[k] === v));
  const exists = (key, value) => p.skus.some((s) => s.attributes[key] === value &&
    Object.entries(sel).every(([k, v]) => k === key || s.attributes[k] === v));
  const add = async (e) => {
    e.preventDefault();
    setMsg(null); setErr(null);
    try {
      await api('POST', '/cart/items', { query: S.token ? undefined : { country: S.country }, body: { sku: sku.code, quantity: qty }, cart: true });
      setMsg(L('added'));
      onCart();
    } catch (x) { setErr(x); }
  };
  const stock = sku ? { in_stock: L('inStock'), low_stock: L('lowStock'), out_of_stock: L('outOfStock') }[sku.stock_state] || sku.stock_state : '';
  // the chosen SKU's own images first, then the product's; the placeholder when it has none
  const imgs = (media.data ? media.data.items : []).filter((m) => !m.sku || (sku && m.sku === sku.code))
    .sort((a, b) => (b.sku ? 1 : 0) - (a.sku ? 1 : 0));
  return html`<article class="product">
    ${imgs.length ? html`<figure class="photo">
      <img src=${imgs[0].urls.large} srcset=${`${imgs[0].urls.medium} 480w, ${imgs[0].urls.large} 1200w`}
        sizes="(max-width: 700px) 100vw, 480px" alt=${imgs[0].alt || p.name} width=${imgs[0].width} height=${imgs[0].height} />
      ${imgs.length > 1 && html`<ul class="thumbs">${imgs.slice(1, 6).map((m) => html`<li><img src=${m.urls.thumb} alt=${m.alt || ''} loading="lazy" /></li>`)}</ul>`}
    </figure>` : html`<${Placeholder} name=${p.name} cat=${p.category && p.category.slug} big />`}
    <div>
      <p class="crumbs"><a href=${`#/?category=${p.category.slug}`}>${p.category.name}</a></p>
      <h1>${p.name}</h1>
      <p class="brand-name">${p.brand}</p>
      <p>${p.description}</p>
      <form onSubmit=${add}>
        ${p.attributes.map((a) => html`<fieldset class="attr"><legend>${a.name}</legend>
          ${a.values.map((v) => html`<label class=${'chip' + (sel[a.key] === v.value ? ' on' : '') + (exists(a.key, v.value) ? '' : ' na')}>
            <input type="radio" name=${`attr-${a.key}`} value=${v.value} checked=${sel[a.key] === v.value}
              onChange=${() => setSel(bestMatch(p, { ...sel, [a.key]: v.value }, a.key))} />${v.name}</label>`)}
        </fieldset>`)}
        <p class="price big" aria-live="polite">${sku ? sku.price.formatted : '—'}
          ${p.tax_included && html` <small>${L('tax')}</small>`}</p>
        <p class=${'stock ' + (sku ? sku.stock_state : '')}>${stock}</p>
        <div class="row">
          <${Field} label=${L('quantity')} name="quantity" type="number" inputmode="numeric" value=${qty}
            onInput=${(v) => setQty(Math.max(1, Number(v) || 1))} error=${err} />
          <button type="submit" class="primary" disabled=${!sku || sku.stock_state === 'out_of_stock'}>${L('addToCart')}</button>
        </div>
        <${FormError} error=${err} fields=${['quantity']} />
        ${msg && html`<p class="ok" role="status">${msg} <a href="#/cart">${L('cart')} →</a></p>`}
      </form>
    </div>
  </article>`;
}
// Keeps the attribute just chosen and picks the closest SKU for the others.
function bestMatch(p, want, key) {
  const ok = p.skus.filter((s) => s.attributes[key] === want[key]);
  const score = (s) => Object.entries(want).filter(([k, v]) => s.attributes[k] === v).length;
  const best = ok.sort((a, b) => score(b) - score(a))[0];
  return best ? { ...best.attributes } : want;
}

// ---- cart ----
function Cart({ onCart }) {
  const st = useLoad(() => (S.token || S.guestCart ? api('GET', '/cart', { query: q(), cart: true }) : Promise.resolve(null)),
    [S.country, S.lang, S.token]);
  const [err, setErr] = useState(null);
  const change = async (sku, quantity) => {
    setErr(null);
    try {
      if (quantity <= 0) await api('DELETE', `/cart/items/${encodeURIComponent(sku)}`, { query: q(), cart: true });
      else await api('PATCH', `/cart/items/${encodeURIComponent(sku)}`, { query: q(), body: { quantity }, cart: true });
      st.reload(); onCart();
    } catch (x) { setErr(x); }
  };
  const c = st.data;
  if (st.error && st.error.status === 404) { setS({ guestCart: null }); }
  if (!c && !st.loading) return html`<section><h1>${L('cart')}</h1><p>${L('emptyCart')}</p></section>`;
  if (!c) return html`<${Status} st=${st} />`;
  return html`<section>
    <h1>${L('cart')}</h1>
    ${!c.lines.length && html`<p>${L('emptyCart')}</p>`}
    <${FormError} error=${err} />
    ${c.lines.length > 0 && html`<ul class="lines">
      ${c.lines.map((l) => html`<li class="line">
        <div class="grow"><a href=${`#/p/${l.product_id}`}>${l.name}</a>
          <small class="muted"> ${Object.values(l.attributes || {}).join(' · ')}</small>
          ${l.price_changed && html`<p class="flag">${L('priceChanged')}</p>`}
          ${!l.in_stock && html`<p class="flag">${L('outOfStock')}</p>`}
          ${!l.available && html`<p class="flag">${L('notSoldHere')}</p>`}
        </div>
        <label class="qty">${L('quantity')}
          <input type="number" min="0" value=${l.quantity} onChange=${(e) => change(l.sku, Number(e.currentTarget.value))} /></label>
        <span class="price">${l.line_total.formatted}</span>
        <button class="link" onClick=${() => change(l.sku, 0)} aria-label=${`${L('remove')}: ${l.name}`}>${L('remove')}</button>
      </li>`)}
    </ul>
    <${Totals} totals=${c.totals} taxIncluded=${c.tax_included} />
    <p class="actions"><a class="button primary" href=${S.token ? '#/checkout' : '#/login?next=checkout'}>${L('checkout')}</a></p>`}
  </section>`;
}

function Totals({ totals, taxIncluded, taxes }) {
  return html`<dl class="totals">
    <dt>${L('items')}</dt><dd>${totals.items.formatted}</dd>
    ${totals.discount && totals.discount.amount > 0 && html`<dt>${L('discount')}</dt><dd>−${totals.discount.formatted}</dd>`}
    <dt>${L('shipping')}</dt><dd>${totals.shipping.formatted}</dd>
    ${taxes && taxes.map((x) => html`<dt class="tax-line">${x.kind} ${fmtNum(x.rate_bp / 10000, loc(), { style: 'percent', maximumFractionDigits: 2 })}</dt><dd class="tax-line" data-kind=${x.kind}>${x.amount.formatted}</dd>`)}
    <dt>${taxIncluded ? L('tax') : L('taxAdded')}</dt><dd>${totals.tax.formatted}</dd>
    <dt class="grand">${L('total')}</dt><dd class="grand" data-testid="grand-total">${totals.grand_total.formatted}</dd>
    ${totals.store_credit && totals.store_credit.amount > 0 && html`<dt>${L('storeCredit')}</dt><dd data-testid="store-credit">−${totals.store_credit.formatted}</dd>
      <dt>${L('amountDue')}</dt><dd data-testid="amount-due">${totals.amount_due.formatted}</dd>`}
  </dl>`;
}

// ---- log in, register ----
function Auth({ mode, next, reset, onCart }) {
  const [f, setF] = useState({ email: '', password: '', name: '', phone: '' });
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const form = useRef();
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setBusy(true);
    try {
      if (mode === 'register') {
        await api('POST', '/users', { token: null, body: { email: f.email, password: f.password, name: f.name, country: S.country, ...(f.phone ? { phone: f.phone } : {}) } });
      }
      const headers = S.guestCart && S.guestCart.country === S.country ? { 'x-cart-id': S.guestCart.id } : {};
      const r = await api('POST', '/sessions', { token: null, headers, body: { email: f.email, password: f.password, country: S.country } });
      setS({ token: r.token, user: r.user, guestCart: null });
      onCart();
      go(next ? `/${next}` : mode === 'register' ? '/account' : '/');
    } catch (x) { setErr(x); focusError(form.current, x); } finally { setBusy(false); }
  };
  const fields = ['email', 'password', 'name', 'phone', 'country'];
  return html`<section class="narrow">
    <h1>${mode === 'register' ? L('register') : L('login')}</h1>
    ${reset && mode === 'login' && html`<p class="ok" role="status">${L('pwReset')}</p>`}
    <form ref=${form} onSubmit=${submit} novalidate>
      ${mode === 'register' && html`<${Field} label=${L('name')} name="name" value=${f.name} onInput=${set('name')} error=${err} autocomplete="name" required />`}
      <${Field} label=${L('email')} name="email" type="email" value=${f.email} onInput=${set('email')} error=${err} autocomplete="email" required />
      <${Field} label=${L('password')} name="password" type="password" value=${f.password} onInput=${set('password')} error=${err}
        autocomplete=${mode === 'register' ? 'new-password' : 'current-password'} required />
      ${mode === 'register' && html`<${Field} label=${L('phone')} name="phone" type="tel" value=${f.phone} onInput=${set('phone')} error=${err} autocomplete="tel" />`}
      <${FormError} error=${err} fields=${fields} />
      <button class="primary" type="submit" disabled=${busy}>${mode === 'register' ? L('register') : L('login')}</button>
    </form>
    ${mode === 'login' && html`<p><a href="#/reset">${L('forgot')}</a></p>`}
    <p>${mode === 'register' ? html`${L('haveAccount')} <a href=${`#/login${next ? '?next=' + next : ''}`}>${L('login')}</a>`
      : html`${L('noAccount')} <a href=${`#/register${next ? '?next=' + next : ''}`}>${L('register')}</a>`}</p>
  </section>`;
}

// ---- account: addresses and orders ----
export function AddressForm({ onSaved }) {
  const blank = { name: '', line1: '', line2: '', city: '', state: '', postal_code: '', phone: '' };
  const [a, setA] = useState(blank);
  const [err, setErr] = useState(null);
  const form = useRef();
  const set = (k) => (v) => setA({ ...a, [k]: v });
  const c = country();
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      const body = Object.fromEntries(Object.entries(a).filter(([, v]) => v !== ''));
      await api('POST', '/users/me/addresses', { body });
      setA(blank);
      onSaved();
    } catch (x) { setErr(x); focusError(form.current, x); }
  };
  // the states checkout accepts come with the country (GET /countries: address.states); names where known
  const codes = c && c.address && c.address.states;
  const states = codes && codes.length ? codes.map((k) => [k, STATE_NAMES[`${S.country}-${k}`] || k]) : null;
  return html`<form ref=${form} class="address-form" onSubmit=${submit} novalidate>
    <h3>${L('addAddress')}${c ? ` (${countryName(c)})` : ''}</h3>
    <${Field} label=${L('name')} name="name" value=${a.name} onInput=${set('name')} error=${err} autocomplete="name" />
    <${Field} label=${L('line1')} name="line1" value=${a.line1} onInput=${set('line1')} error=${err} autocomplete="address-line1" />
    <${Field} label=${L('line2')} name="line2" value=${a.line2} onInput=${set('line2')} error=${err} autocomplete="address-line2" />
    <${Field} label=${L('city')} name="city" value=${a.city} onInput=${set('city')} error=${err} autocomplete="address-level2" />
    <${Field} label=${L('state')} name="state" value=${a.state} onInput=${set('state')} error=${err} autocomplete="address-level1"
      options=${states && [['', '—'], ...states]} />
    <${Field} label=${L('postal')} name="postal_code" value=${a.postal_code} onInput=${set('postal_code')} error=${err}
      autocomplete="postal-code" inputmode=${S.country === 'IN' ? 'numeric' : undefined} hint=${S.country === 'IN' ? L('pinHint') : undefined} />
    <${Field} label=${L('phone')} name="phone" type="tel" value=${a.phone} onInput=${set('phone')} error=${err} autocomplete="tel" />
    <${FormError} error=${err} fields=${Object.keys(blank)} />
    <button type="submit">${L('save')}</button>
  </form>`;
}
// Display names of state codes (ISO 3166-2 subdivision codes as the countries' data lists them).
const STATE_NAMES = Object.fromEntries([['AN', 'Andaman and Nicobar Islands'], ['AP', 'Andhra Pradesh'], ['AR', 'Arunachal Pradesh'],
  ['AS', 'Assam'], ['BR', 'Bihar'], ['CH', 'Chandigarh'], ['CG', 'Chhattisgarh'],
  ['DH', 'Dadra and Nagar Haveli and Daman and Diu'], ['DL', 'Delhi'], ['GA', 'Goa'], ['GJ', 'Gujarat'], ['HP', 'Himachal Pradesh'],
  ['HR', 'Haryana'], ['JH', 'Jharkhand'], ['JK', 'Jammu and Kashmir'], ['KA', 'Karnataka'], ['KL', 'Kerala'], ['LA', 'Ladakh'],
  ['LD', 'Lakshadweep'], ['MH', 'Maharashtra'], ['ML', 'Meghalaya'], ['MN', 'Manipur'], ['MP', 'Madhya Pradesh'], ['MZ', 'Mizoram'],
  ['NL', 'Nagaland'], ['OD', 'Odisha'], ['PB', 'Punjab'], ['PY', 'Puducherry'], ['RJ', 'Rajasthan'], ['SK', 'Sikkim'],
  ['TN', 'Tamil Nadu'], ['TR', 'Tripura'], ['TS', 'Telangana'], ['UK', 'Uttarakhand'], ['UP', 'Uttar Pradesh'],
  ['WB', 'West Bengal']].map(([k, v]) => [`IN-${k}`, v]));

function Account() {
  const addrs = useLoad(() => api('GET', '/users/me/addresses'), [S.token]);
  const orders = useLoad(() => api('GET', '/orders', { query: { lang: S.lang } }), [S.token, S.lang]);
  const [err, setErr] = useState(null);
  if (!S.token) { go('/login?next=account'); return null; }
  const logout = async () => {
    try { await api('DELETE', '/sessions/current'); } catch { /* gone anyway */ }
    setS({ token: null, user: null });
    go('/');
  };
  const cancel = async (o) => {
    setErr(null);
    try { await api('POST', `/orders/${o.id}/cancel`, { body: {} }); orders.reload(); } catch (x) { setErr(x); }
  };
  const list = (addrs.data && (addrs.data.addresses || addrs.data.items)) || [];
  return html`<section>
    <h1>${L('account')}</h1>
    <p>${S.user && (S.user.name || S.user.email)} · <button class="link" onClick=${logout}>${L('logout')}</button></p>
    <h2>${L('orders')}</h2>
    <${FormError} error=${err} />
    <${Status} st=${orders} />
    ${orders.data && !orders.data.orders.length && html`<p>${L('noOrders')}</p>`}
    ${orders.data && orders.data.orders.length > 0 && html`<table class="orders">
      <thead><tr><th scope="col">${L('order')}</th><th scope="col">${L('status')}</th><th scope="col">${L('total')}</th><th scope="col"><span class="visually-hidden">${L('actions')}</span></th></tr></thead>
      <tbody>${orders.data.orders.map((o) => html`<tr>
        <td><a href=${`#/orders/${o.id}`}>${o.number}</a><br /><small>${fmtDate(o.created_at, loc(), country() && country().timezone)}</small></td>
        <td><span class=${`status s-${o.status}`} data-status=${o.status}>${statusName('os', o.status)}</span></td>
        <td>${o.grand_total.formatted}</td>
        <td>${['pending_payment', 'pending_shipment', 'paid'].includes(o.status) &&
          html`<button class="link" onClick=${() => cancel(o)} aria-label=${`${L('cancel')} ${o.number}`}>${L('cancel')}</button>`}</td>
      </tr>`)}</tbody></table>`}
    <h2>${L('addresses')}</h2>
    <ul class="addresses">${list.map((a) => html`<li><${Addr} a=${a} /></li>`)}</ul>
    <${AddressForm} onSaved=${addrs.reload} />
    <${PasswordForm} />
  </section>`;
}

// ---- account: the password ----
// A change needs the current password (a wrong one counts against the login back-off: 429 says when to try
// again); the API ends the account's other sessions and keeps this one.
function PasswordForm() {
  const blank = { current_password: '', new_password: '' };
  const [f, setF] = useState(blank);
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const form = useRef();
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setDone(false); };
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setDone(false); setBusy(true);
    try {
      await api('POST', '/users/me/password', { body: f });
      setF(blank);
      setDone(true);
    } catch (x) { setErr(x); focusError(form.current, x); } finally { setBusy(false); }
  };
  return html`<form ref=${form} class="password-form" onSubmit=${submit} novalidate aria-labelledby="pw-title">
    <h2 id="pw-title">${L('changePassword')}</h2>
    ${S.user && S.user.email && html`<input type="email" name="username" autocomplete="username" value=${S.user.email} hidden readonly />`}
    <${Field} label=${L('currentPassword')} name="current_password" type="password" value=${f.current_password}
      onInput=${set('current_password')} error=${err} autocomplete="current-password" required />
    <${Field} label=${L('newPassword')} name="new_password" type="password" value=${f.new_password}
      onInput=${set('new_password')} error=${err} autocomplete="new-password" hint=${L('pwHint')} required />
    <${FormError} error=${err} fields=${Object.keys(blank)} />
    ${done && html`<p class="ok" role="status">${L('pwChanged')}</p>`}
    <button type="submit" disabled=${busy}>${L('changePassword')}</button>
  </form>`;
}

// ---- a forgotten password ----
// Step 1 asks for the account's email and sends it with the shop's country (the account lives in that
// country's region); the API answers the same whether or not the account exists, and so does this page.
// Step 2 takes the code from the message (email or SMS) and a new password; the API ends every session of
// the account, and the shopper logs in again. A link with the code (#/reset?code=...) opens step 2 filled in;
// the code then leaves the address bar, so that it stays out of the browser's history.
function Reset({ code: linked }) {
  const [step, setStep] = useState(linked ? 'set' : 'ask');
  const [f, setF] = useState({ email: '', code: linked || '', new_password: '' });
  const [sent, setSent] = useState(null); // the API's answer to step 1: { message, expires_in_s }
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const form = useRef();
  const set = (k) => (v) => setF({ ...f, [k]: v });
  useEffect(() => {
    if (!linked) return;
    setF((x) => ({ ...x, code: linked }));
    setStep('set');
    history.replaceState(history.state, '', '#/reset');
  }, [linked]);
  // a step's first field takes the focus when the shopper moves between the steps (not on arrival: the page has it)
  const arrived = useRef(true);
  useEffect(() => {
    if (arrived.current) { arrived.current = false; return; }
    const el = form.current && form.current.querySelector(step === 'ask' ? '[name="email"]' : '[name="code"]');
    if (el) el.focus();
  }, [step]);
  const to = (next) => { setErr(null); setSent(null); setStep(next); };
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setBusy(true);
    try {
      if (step === 'ask') {
        setSent(await api('POST', '/password-resets', { token: null, body: { email: f.email.trim(), country: S.country } }));
        setStep('set');
      } else {
        await api('POST', '/password-resets/confirm', { token: null, body: { code: f.code.trim(), new_password: f.new_password } });
        // every session of the account ended: this browser's too, when it was logged in to it (a 401 forgets it)
        if (S.token) await api('GET', '/users/me').catch(() => {});
        go('/login?reset=1');
      }
    } catch (x) { setErr(x); focusError(form.current, x); } finally { setBusy(false); }
  };
  return html`<section class="narrow">
    <h1>${L('resetTitle')}</h1>
    ${step === 'ask' ? html`<form key="ask" ref=${form} onSubmit=${submit} novalidate>
        <p>${L('resetAsk')}</p>
        <${Field} label=${L('email')} name="email" type="email" value=${f.email} onInput=${set('email')} error=${err} autocomplete="email" required />
        <${FormError} error=${err} fields=${['email']} />
        <button class="primary" type="submit" disabled=${busy}>${L('sendCode')}</button>
      </form>
      <p><button class="link" type="button" onClick=${() => to('set')}>${L('haveCode')}</button></p>`
    : html`${sent && html`<p class="ok" role="status">${Lf('codeSent', { time: fmtWait(sent.expires_in_s, loc()) })}</p>`}
      <form key="set" ref=${form} onSubmit=${submit} novalidate>
        ${f.email && html`<input type="email" name="username" autocomplete="username" value=${f.email} hidden readonly />`}
        <${Field} label=${L('resetCode')} name="code" value=${f.code} onInput=${set('code')} error=${err} autocomplete="one-time-code" required />
        <${Field} label=${L('newPassword')} name="new_password" type="password" value=${f.new_password} onInput=${set('new_password')} error=${err}
          autocomplete="new-password" hint=${L('pwHint')} required />
        <${FormError} error=${err} fields=${['code', 'new_password']} />
        <button class="primary" type="submit" disabled=${busy}>${L('setPassword')}</button>
      </form>
      <p><button class="link" type="button" onClick=${() => to('ask')}>${L('newCode')}</button></p>`}
    <p><a href="#/login">${L('login')}</a></p>
  </section>`;
}
const Addr = ({ a }) => html`<address>${a.name}<br />${a.line1}${a.line2 ? html`, ${a.line2}` : ''}<br />${a.city}${a.state ? `, ${a.state}` : ''} ${a.postal_code}<br />${a.phone}</address>`;

// ---- checkout ----
function Checkout({ query, onCart }) {
  const flash = query.get('flash');
  const cart = useLoad(() => (flash ? Promise.resolve(null) : api('GET', '/cart', { query: q() })), [S.token, S.country, flash]);
  const addrs = useLoad(() => api('GET', '/users/me/addresses'), [S.token]);
  // the customer's store credit (GET /store-credit): offered when there is some; a failed read offers none
  const credit = useLoad(() => (S.token ? api('GET', '/store-credit') : Promise.resolve(null)), [S.token]);
  const [useCredit, setUseCredit] = useState(false);
  const [method, setMethod] = useState(null);
  const [addressId, setAddressId] = useState(null);
  const [coupon, setCoupon] = useState('');
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(`web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
  const form = useRef();
  if (!S.token) { go('/login?next=checkout'); return null; }
  const c = country();
  const list = (addrs.data && (addrs.data.addresses || addrs.data.items)) || [];
  const total = cart.data && cart.data.totals.grand_total;
  const balance = credit.data && credit.data.balance && credit.data.balance.amount > 0 &&
    (!total || credit.data.balance.currency === total.currency) ? credit.data.balance : null;
  // what the payment method collects: the grand total less the credit applied ("max": at most the grand total)
  const applied = useCredit && balance && total ? Math.min(balance.amount, total.amount) : 0;
  const due = total ? total.amount - applied : null;
  const methods = (c ? c.payment_methods : []).filter((m) => !flash || m.method !== 'cod' || query.get('cod') === '1');
  const usable = (m) => !(m.max_amount !== undefined && due !== null && due > m.max_amount);
  const chosen = method || (methods.find(usable) || {}).method;
  const addr = addressId || (list.find((a) => a.default) || list[0] || {}).id;
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setBusy(true);
    try {
      const body = flash ? { payment_method: chosen, address_id: addr, flash_token: flash, ...(coupon ? { coupon } : {}) }
        : { payment_method: chosen, address_id: addr, expected_total: total.amount, ...(coupon ? { coupon } : {}) };
      if (useCredit && balance) body.store_credit = 'max';
      const o = await api('POST', '/orders', { body, headers: { 'idempotency-key': key.current } });
      // an order the credit paid in full is paid already: no wallet, no card step (the order page offers none)
      if (o.status !== 'paid' && o.payment && o.payment.redirect_url) { toWallet(o.payment.redirect_url, o); return; }
      onCart();
      go(`/orders/${o.id}?new=1`);
    } catch (x) {
      setErr(x); focusError(form.current, x);
      if (x.status === 409) cart.reload();
      if (x.field === 'store_credit') credit.reload(); // the balance changed meanwhile
    } finally { setBusy(false); }
  };
  if (cart.data && !cart.data.lines.length) return html`<section><h1>${L('checkout')}</h1><p>${L('emptyCart')}</p></section>`;
  return html`<section>
    <h1>${L('checkout')}</h1>
    ${flash ? html`<p class="sale">${L('sale')}: <b>${query.get('name')}</b> · <span class="price">${query.get('price')}</span></p>` : html`<${Status} st=${cart} />`}
    ${cart.data && html`<${Totals} totals=${cart.data.totals} taxIncluded=${cart.data.tax_included} />`}
    <h2>${L('deliverTo')}</h2>
    ${addrs.data && !list.length && html`<p>${L('needAddress')}</p>`}
    ${list.length > 0 && html`<fieldset class="choices"><legend class="visually-hidden">${L('deliverTo')}</legend>
      ${list.map((a) => html`<label class="choice"><input type="radio" name="address_id" value=${a.id} checked=${a.id === addr}
        onChange=${() => setAddressId(a.id)} /><${Addr} a=${a} /></label>`)}</fieldset>`}
    <details open=${addrs.data && !list.length}><summary>${L('addAddress')}</summary><${AddressForm} onSaved=${addrs.reload} /></details>
    <form ref=${form} onSubmit=${submit} novalidate>
      <fieldset class="choices"><legend>${L('payment')}</legend>
        ${methods.map((m) => html`<label class=${'choice' + (usable(m) ? '' : ' na')}>
          <input type="radio" name="payment_method" value=${m.method} checked=${chosen === m.method} disabled=${!usable(m)}
            onChange=${() => setMethod(m.method)} />${L(m.method)}
          ${m.max_amount !== undefined && html`<small class="hint"> ${L('codLimit')} ${fmtMinor(m.max_amount, c)}</small>`}</label>`)}
      </fieldset>
      ${balance && html`<fieldset class="choices"><legend>${L('storeCredit')}</legend>
        <p id="credit-balance">${L('creditBalance')}: <b data-testid="credit-balance">${balance.formatted}</b></p>
        <label class="choice"><input type="checkbox" name="store_credit" checked=${useCredit} aria-describedby="credit-balance"
          onChange=${(e) => setUseCredit(e.currentTarget.checked)} />${L('useCredit')}</label>
      </fieldset>`}
      <${Field} label=${L('coupon')} name="coupon" value=${coupon} onInput=${setCoupon} error=${err} />
      <${FormError} error=${err} fields=${['coupon']} />
      <button class="primary" type="submit" disabled=${busy || !addr || (!cart.data && !flash)}>${L('placeOrder')}${total ? ` · ${applied ? fmtMinor(due, c) : total.formatted}` : ''}</button>
    </form>
  </section>`;
}
// To the wallet: its page learns the amount to show (what is due after store credit: the intent's amount) and
// where to send the shopper back (this order).
function toWallet(url, o) {
  const u = new URL(url);
  u.searchParams.set('amount', String((o.totals.amount_due || o.totals.grand_total).amount));
  u.searchParams.set('return', `${location.origin}/#/orders/${o.id}`);
  location.href = u.href;
}

// A limit the country data gives in minor units (it has no `formatted`): formatted here for the locale.
function fmtMinor(amount, c) {
  try {
    return new Intl.NumberFormat(`${S.lang}-${c.code}`, { style: 'currency', currency: c.currency }).format(amount / 10 ** c.currency_digits);
  } catch { return String(amount); }
}

// ---- one order ----
function Order({ id, query }) {
  const st = useLoad(() => api('GET', `/orders/${id}`, { query: { lang: S.lang } }), [id, S.lang]);
  const [err, setErr] = useState(null);
  const [card, setCard] = useState('tok_visa');
  const o = st.data;
  if (!o) return html`<${Status} st=${st} />`;
  const act = async (fn) => { setErr(null); try { await fn(); st.reload(); } catch (x) { setErr(x); } };
  const pay = async (e) => {
    e.preventDefault();
    act(async () => {
      const r = await api('POST', `/orders/${o.id}/pay`, { body: o.payment.method === 'card' ? { card_token: card } : {} });
      const url = (r && r.payment && r.payment.redirect_url) || (r && r.redirect_url);
      if (url) toWallet(url, o);
    });
  };
  return html`<section class="order">
    ${query.get('new') && html`<p class="ok" role="status">${L('thanks')}</p>`}
    <h1>${L('order')} <span data-testid="order-number">${o.number}</span></h1>
    <p>${L('status')}: <span class=${`status s-${o.status}`} data-testid="order-status" data-status=${o.status}>${statusName('os', o.status)}</span>${' · '}${L('payment')}: ${L(o.payment.method)} (${statusName('ps', o.payment.status)}) · ${fmtDate(o.created_at, loc(), o.timezone)}</p>
    <table class="lines-table"><thead><tr><th scope="col">#</th><th scope="col">${L('items')}</th><th scope="col">${L('quantity')}</th><th scope="col">${L('total')}</th></tr></thead>
      <tbody>${o.lines.map((l) => html`<tr><td>${fmtNum(l.line_no, loc())}</td><td>${l.name}</td><td>${fmtNum(l.quantity, loc())}</td><td>${l.line_total.formatted}</td></tr>`)}</tbody></table>
    <h2>${L('taxes')}</h2>
    <${Totals} totals=${o.totals} taxIncluded=${o.tax_included} taxes=${o.taxes} />
    ${o.address && html`<h2>${L('deliverTo')}</h2><${Addr} a=${o.address} />`}
    <${FormError} error=${err} />
    ${o.status === 'pending_payment' && html`<form class="row" onSubmit=${pay}>
      ${o.payment.method === 'card' && html`<${Field} label=${L('cardToken')} name="card_token" value=${card} onInput=${setCard} error=${err} />`}
      <button class="primary" type="submit">${o.payment.method === 'wallet' ? L('payNow') : L('pay')}</button></form>`}
    ${['pending_payment', 'pending_shipment', 'paid'].includes(o.status) &&
      html`<p><button onClick=${() => act(() => api('POST', `/orders/${o.id}/cancel`, { body: {} }))}>${L('cancel')}</button></p>`}
    <p><a href="#/account">← ${L('orders')}</a></p>
  </section>`;
}

// ---- the app ----
function App() {
  const route = useRoute();
  const [, force] = useState(0);
  const [cartCount, setCartCount] = useState(0);
  rerender = () => force((x) => x + 1);
  const refreshCart = async () => {
    if (!S.token && !(S.guestCart && S.guestCart.country === S.country)) { setCartCount(0); return; }
    try {
      const c = await api('GET', '/cart', { query: q(), cart: true });
      setCartCount(c.lines.reduce((n, l) => n + l.quantity, 0));
    } catch { setCartCount(0); }
  };
  useEffect(() => { refreshCart(); }, [S.token, S.country]);
  useEffect(() => { document.documentElement.lang = S.lang || 'en'; }, [S.lang]);
  useEffect(() => { const m = document.getElementById('main'); if (m && route.parts.length) m.focus({ preventScroll: true }); scrollTo(0, 0); }, [route.raw.split('?')[0]]);
  const [a, b] = route.parts;
  let page;
  if (!a) page = html`<${Catalogue} query=${route.query} />`;
  else if (a === 'p') page = html`<${Product} id=${b} onCart=${refreshCart} />`;
  else if (a === 'cart') page = html`<${Cart} onCart=${refreshCart} />`;
  else if (a === 'login' || a === 'register') page = html`<${Auth} mode=${a} next=${route.query.get('next')} reset=${route.query.get('reset') === '1'} onCart=${refreshCart} />`;
  else if (a === 'reset') page = html`<${Reset} code=${route.query.get('code')} />`;
  else if (a === 'account') page = html`<${Account} />`;
  else if (a === 'checkout') page = html`<${Checkout} query=${route.query} onCart=${refreshCart} />`;
  else if (a === 'orders') page = html`<${Order} id=${b} query=${route.query} />`;
  else if (a === 'sales' && b) page = html`<${FlashSale} id=${b} ctx=${{ S, api, L, q, country, loc }} />`;
  else if (a === 'sales') page = html`<${FlashSales} ctx=${{ S, api, L, q, country, loc }} />`;
  else page = html`<p>${L('notFound')} <a href="#/">${L('shop')}</a></p>`;
  return html`<${Header} cartCount=${cartCount} />
    <main id="main" tabindex="-1" lang=${S.lang}>${page}</main>
    <footer class="foot"><small>Meridian · ${country() ? countryName(country()) : ''} · ${country() && country().currency}</small></footer>`;
}

// First paint needs no waterfall: the page asks for the countries (preloaded by the HTML, in parallel
// with this script) and, when the shopper's country is already known, renders at once, so a product page
// makes its one API call straight away.
async function boot() {
  const el = document.getElementById('app');
  const hq = new URLSearchParams(location.hash.split('?')[1] || '');
  if (hq.get('country')) {
    if (S.user && S.user.country !== hq.get('country')) { S.token = null; S.user = null; store.set('mer.token', null); store.set('mer.user', null); }
    S.country = hq.get('country');
    S.lang = hq.get('lang') || null;
  }
  const countries = call('GET', '/countries').then((r) => r.json.countries);
  const settle = (list) => {
    S.countries = list;
    const codes = list.map((c) => c.code);
    if (!codes.includes(S.country)) {
      const guess = (navigator.language || 'en').split('-')[1];
      S.country = codes.includes(guess) ? guess : codes.includes('IN') ? 'IN' : codes[0];
    }
    const c = country();
    if (!S.lang || !c.languages.includes(S.lang)) S.lang = c.default_language;
    store.set('mer.country', S.country); store.set('mer.lang', S.lang);
  };
  const show = () => { el.textContent = ''; render(html`<${App} />`, el); };
  if (S.country && S.lang) {
    show();
    countries.then((list) => { settle(list); rerender(); }, (e) => render(html`<p class="error" role="alert">${e.message}</p>`, el));
    return;
  }
  try {
    settle(await countries);
  } catch (e) {
    render(html`<p class="error" role="alert">${e.message}</p>`, el);
    return;
  }
  show();
}
boot();
export { ApiError };
