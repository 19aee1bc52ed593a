// The admin console: staff log in, then run countries, prices, stock, orders, coupons, flash sales and
// webhooks of the countries they may act for, on the public admin API.
import { html, render, useState, useEffect, useRef, call, store, useRoute, go, Field, FormError, focusError, fmtDate } from './lib.js';
import { Chart } from './chart.js';
import { parseMajor, toMajor, fmtMinor, zonedToUtc, utcToZoned } from './money.js';

const A = { token: sessionStorage.getItem('mer.staff') || null, country: store.get('mer.adminCountry', 'IN'), countries: [] };
let rerender = () => {};
const setA = (p) => {
  Object.assign(A, p);
  if ('token' in p) { if (p.token) sessionStorage.setItem('mer.staff', p.token); else sessionStorage.removeItem('mer.staff'); }
  if ('country' in p) store.set('mer.adminCountry', p.country);
  rerender();
};
async function api(method, path, opts = {}) {
  try {
    return (await call(method, path, { cache: 'no-cache', ...opts, token: A.token })).json;
  } catch (e) {
    if (e.status === 401) setA({ token: null });
    throw e;
  }
}
function useLoad(fn, deps, every) {
  const [st, setSt] = useState({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () => fn().then((data) => live && setSt({ data }), (error) => live && setSt((s) => ({ ...s, error, loading: false })));
    run();
    const t = every ? setInterval(run, every) : null;
    return () => { live = false; if (t) clearInterval(t); };
  }, [...deps, n]);
  return { ...st, reload: () => setN((x) => x + 1) };
}
const Status = ({ st }) => (st.error ? html`<p class="error" role="alert">${st.error.message}</p>`
  : st.loading && !st.data ? html`<p class="loading">Loading…</p>` : null);
const tz = () => (A.countries.find((c) => c.code === A.country) || {}).timezone;
// An amount the API gives as plain minor units (payments, limits), formatted with its currency's digits.
function minor(amount, currency) {
  const c = A.countries.find((x) => x.currency === currency);
  const digits = c ? c.currency_digits : 2;
  try { return new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(amount / 10 ** digits); } catch { return `${amount} ${currency}`; }
}
const Badge = ({ s }) => html`<span class=${`status s-${s}`}>${String(s).replace(/_/g, ' ')}</span>`;

// ---- form helpers: the API's `field` placed at an input, amounts in major units, local times ----
const countryOf = (code) => A.countries.find((c) => c.code === code) || { code, currency: 'USD', currency_digits: 2, languages: ['en'], timezone: 'UTC', payment_methods: [] };
// The API names a member (sessions[0].items[1].price); the forms name their inputs by the same paths. The
// error goes to the input of that name, else the first input inside it (sessions[0] -> sessions[0].starts_at),
// else the nearest one around it (rules.blocklist.ips[3] -> rules.blocklist.ips); `placed` says it found one
// (otherwise the form shows it as a form-level error).
function placeError(form, err) {
  if (!err || !err.field || !form) return err;
  const f = err.field;
  const names = [...form.querySelectorAll('[name]')].map((e) => e.name);
  const hit = names.find((n) => n === f) || names.find((n) => n.startsWith(`${f}.`) || n.startsWith(`${f}[`)) ||
    names.filter((n) => f.startsWith(`${n}.`) || f.startsWith(`${n}[`)).sort((a, b) => b.length - a.length)[0];
  return hit ? { ...err, field: hit, message: hit === f ? err.message : `${err.message} (${f})`, placed: true } : err;
}
// Submits body() (which may throw { field, message } for what the browser itself refuses, like an amount
// it cannot read); shows the error at its field, focuses it, or calls done(answer).
function useSubmit(form, body, send, done) {
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (busy) return;
    setErr(null);
    let shown;
    try {
      const b = body();
      setBusy(true);
      const r = await send(b);
      done(r);
    } catch (x) {
      shown = placeError(form.current, x.field || x.message ? x : { message: String(x) });
      setErr(shown);
      focusError(form.current, shown);
    } finally { setBusy(false); }
  };
  return { err, submit, busy, clear: () => setErr(null) };
}
// An amount typed in major units of the country's currency; the hint shows it as the currency shows it.
function Amount({ label, name, value, onInput, error, c, hint }) {
  const p = parseMajor(value, c.currency_digits);
  const shown = p.value !== undefined ? `= ${fmtMinor(p.value, c.currency, c.currency_digits, c.code)}` : p.error || hint || `In ${c.currency}, e.g. ${c.currency_digits ? `1299.${'9'.repeat(c.currency_digits)}` : '1299'}`;
  return html`<${Field} label=${`${label} (${c.currency})`} name=${name} value=${value} onInput=${onInput} error=${error} inputmode="decimal" hint=${shown} />`;
}
// The amount in minor units, or undefined when empty; an unreadable one is thrown as the field's error.
function amountOf(name, text, c) {
  const p = parseMajor(text, c.currency_digits);
  if (p.error) throw { field: name, message: p.error };
  return p.value;
}
// A whole number, or undefined when empty; anything else goes to the API as typed (it names the field).
const intOf = (text) => { const t = String(text ?? '').trim(); return t === '' ? undefined : /^-?\d+$/.test(t) ? Number(t) : t; };
// A datetime-local value in the country's zone, sent as the UTC instant (the hint shows which).
const whenOf = (text, c) => (text ? zonedToUtc(text, c.timezone) || text : undefined);
function When({ label, name, value, onInput, error, c }) {
  const utc = value && zonedToUtc(value, c.timezone);
  return html`<${Field} label=${`${label} (${c.timezone})`} name=${name} type="datetime-local" value=${value} onInput=${onInput} error=${error}
    hint=${utc ? `= ${utc.replace('T', ' ').replace(/:00Z$/, ' UTC')}` : `Local time in ${c.timezone}`} />`;
}
function Check({ label, name, checked, onChange }) {
  return html`<label class="check"><input type="checkbox" name=${name} checked=${checked} onChange=${(e) => onChange(e.currentTarget.checked)} /> ${label}</label>`;
}
const clean = (o) => { for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]; return o; };
const localNow = (c, min) => utcToZoned((Math.floor(Date.now() / 60000) + min) * 60000, c.timezone);

// ---- log in ----
function Login() {
  const [f, setF] = useState({ email: '', password: '', token: '' });
  const [err, setErr] = useState(null);
  const form = useRef();
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      if (f.token) {
        await call('GET', '/admin/webhooks', { token: f.token.trim() });
        setA({ token: f.token.trim() });
      } else {
        const r = await call('POST', '/staff/sessions', { body: { email: f.email, password: f.password } });
        setA({ token: r.json.token });
      }
      go('/orders');
    } catch (x) {
      setErr(x.status === 403 ? { ...x, message: 'This token is not a staff token.' } : x);
      focusError(form.current, x);
    }
  };
  const set = (k) => (v) => setF({ ...f, [k]: v });
  return html`<main id="main" class="narrow" tabindex="-1">
    <h1>Meridian console</h1>
    <form ref=${form} onSubmit=${submit} novalidate>
      <${Field} label="Email" name="email" type="email" value=${f.email} onInput=${set('email')} error=${err} autocomplete="username" />
      <${Field} label="Password" name="password" type="password" value=${f.password} onInput=${set('password')} error=${err} autocomplete="current-password" />
      <details><summary>Use a staff token instead</summary>
        <${Field} label="Staff token" name="token" value=${f.token} onInput=${set('token')} error=${err}
          hint="from: build/meridian admin token --data data" /></details>
      <${FormError} error=${err} fields=${['email', 'password', 'token']} />
      <button class="primary" type="submit">Log in</button>
    </form>
  </main>`;
}

// ---- orders ----
const STATUSES = ['', 'pending_payment', 'paid', 'pending_shipment', 'partially_shipped', 'shipped', 'delivered', 'completed', 'cancelled', 'refunded'];
function Orders({ query }) {
  const status = query.get('status') || '';
  const page = Number(query.get('page') || 1);
  const st = useLoad(() => api('GET', '/admin/orders', { query: { country: A.country, status, page, per_page: 25 } }), [A.country, status, page]);
  const d = st.data;
  return html`<section>
    <h1>Orders · ${A.country}</h1>
    <div class="toolbar"><label for="o-status">Status</label>
      <select id="o-status" value=${status} onChange=${(e) => go(`/orders?status=${e.currentTarget.value}`)}>
        ${STATUSES.map((s) => html`<option value=${s}>${s ? s.replace(/_/g, ' ') : 'any'}</option>`)}</select></div>
    <${Status} st=${st} />
    ${d && html`<div class="table-wrap"><table><thead><tr><th scope="col">Order</th><th scope="col">Placed</th><th scope="col">Status</th><th scope="col">Payment</th><th scope="col">Total</th></tr></thead>
      <tbody>${d.orders.map((o) => html`<tr><td><a href=${`#/orders/${o.id}`}>${o.number}</a></td><td>${fmtDate(o.created_at, 'en', tz())}</td>
        <td><${Badge} s=${o.status} /></td><td>${o.payment_method}</td><td>${o.grand_total.formatted}</td></tr>`)}</tbody></table></div>
      ${!d.orders.length && html`<p>No orders.</p>`}
      <nav class="pager" aria-label="Pages"><button disabled=${page <= 1} onClick=${() => go(`/orders?status=${status}&page=${page - 1}`)}>Previous</button>
        <span>Page ${page} of ${Math.max(1, Math.ceil(d.total / d.per_page))}</span>
        <button disabled=${page * d.per_page >= d.total} onClick=${() => go(`/orders?status=${status}&page=${page + 1}`)}>Next</button></nav>`}
  </section>`;
}

function OrderDetail({ id }) {
  const st = useLoad(() => api('GET', `/admin/orders/${id}`, { query: { country: A.country } }), [id, A.country]);
  const [err, setErr] = useState(null);
  const [msg, setMsg] = useState(null);
  const [tracking, setTracking] = useState('');
  const [note, setNote] = useState('');
  const [qty, setQty] = useState({});
  const [reason, setReason] = useState('');
  const o = st.data;
  if (!o) return html`<${Status} st=${st} />`;
  const act = async (label, fn) => {
    setErr(null); setMsg(null);
    try { await fn(); setMsg(label); st.reload(); } catch (x) { setErr(x); }
  };
  const move = (verb, extra = {}) => act(`Order ${verb === 'ship' ? 'shipped' : verb === 'deliver' ? 'delivered' : verb === 'complete' ? 'completed' : 'cancelled'}.`,
    () => api('POST', `/admin/orders/${o.id}/${verb}`, { body: { country: o.country, ...(note ? { note } : {}), ...extra } }));
  const refund = (e) => {
    e.preventDefault();
    const lines = Object.entries(qty).filter(([, q]) => Number(q) > 0).map(([line_no, q]) => ({ line_no: Number(line_no), quantity: Number(q) }));
    act('Refund requested.', () => api('POST', `/admin/orders/${o.id}/refunds`, { body: { country: o.country, reason: reason || 'refund from console', lines } }));
  };
  return html`<section>
    <p><a href="#/orders">← Orders</a></p>
    <h1>Order ${o.number} <${Badge} s=${o.status} /></h1>
    <p>Payment: ${o.payment.method} · <span data-testid="payment-status">${o.payment.status.replace(/_/g, ' ')}</span> · placed ${fmtDate(o.created_at, 'en', o.timezone)}
      ${o.shipment && html` · shipment ${o.shipment.carrier || ''} ${o.shipment.tracking_number || ''}`}</p>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}
    <${FormError} error=${err} fields=${[]} />
    <div class="toolbar">
      <div class="fl"><label for="o-note">Note (optional)</label><input id="o-note" value=${note} onInput=${(e) => setNote(e.currentTarget.value)} /></div>
      <div class="fl"><label for="o-track">Tracking number</label><input id="o-track" value=${tracking} onInput=${(e) => setTracking(e.currentTarget.value)} /></div>
      <button onClick=${() => move('ship', tracking ? { tracking_number: tracking } : {})}>Ship</button>
      <button onClick=${() => move('deliver')}>Mark delivered</button>
      <button onClick=${() => move('complete')}>Complete</button>
      <button class="danger" onClick=${() => move('cancel')}>Cancel order</button>
    </div>
    <form onSubmit=${refund}>
      <div class="table-wrap"><table><thead><tr><th scope="col">#</th><th scope="col">SKU</th><th scope="col">Item</th><th scope="col">Qty</th><th scope="col">Refunded</th><th scope="col">Total</th><th scope="col">Refund units</th></tr></thead>
        <tbody>${o.lines.map((l) => html`<tr><td>${l.line_no}</td><td>${l.sku}</td><td>${l.name}</td><td>${l.quantity}</td><td>${l.refunded_quantity || 0}</td><td>${l.line_total.formatted}</td>
          <td><label class="visually-hidden" for=${`rq-${l.line_no}`}>Refund units of line ${l.line_no}</label>
            <input id=${`rq-${l.line_no}`} type="number" min="0" max=${l.quantity} value=${qty[l.line_no] || ''} style="width:5rem"
              onInput=${(e) => setQty({ ...qty, [l.line_no]: e.currentTarget.value })} /></td></tr>`)}</tbody></table></div>
      <div class="toolbar"><div class="fl"><label for="o-reason">Refund reason</label><input id="o-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} /></div>
        <button type="submit">Refund selected units</button></div>
    </form>
    <dl class="totals"><dt>Items</dt><dd>${o.totals.items.formatted}</dd><dt>Shipping</dt><dd>${o.totals.shipping.formatted}</dd>
      ${(o.taxes || []).map((x) => html`<dt class="tax-line">${x.kind} ${x.rate_bp / 100} %</dt><dd class="tax-line">${x.amount.formatted}</dd>`)}
      <dt>Total</dt><dd>${o.totals.grand_total.formatted}</dd><dt>Refunded</dt><dd data-testid="refunded">${o.totals.refunded.formatted}</dd></dl>
    <h2>History</h2>
    <ul>${(o.events || []).map((e) => html`<li>${fmtDate(e.at || e.created_at, 'en', o.timezone)}: ${e.from ? `${e.from} → ` : ''}${e.to || e.type || e.status} ${e.note ? `(${e.note})` : ''} ${e.actor ? `· ${e.actor}` : ''}</li>`)}</ul>
    ${o.payments && html`<h2>Payments</h2><ul>${o.payments.map((p) => html`<li>${p.kind} · ${p.provider} · ${p.status} · ${minor(p.amount, o.currency)}${p.reference ? ` · ${p.reference}` : ''}${p.reason ? ` · ${p.reason}` : ''}</li>`)}</ul>`}
  </section>`;
}

// ---- countries ----
function Countries() {
  const st = useLoad(() => api('GET', '/admin/countries'), []);
  const c = st.data && st.data.countries.find((x) => x.code === A.country);
  return html`<section><h1>Countries</h1><${Status} st=${st} />
    ${st.data && html`<div class="table-wrap"><table><thead><tr><th scope="col">Code</th><th scope="col">Name</th><th scope="col">Region</th><th scope="col">Currency</th><th scope="col">Payment methods</th></tr></thead>
      <tbody>${st.data.countries.map((x) => html`<tr><td><button class="link" onClick=${() => setA({ country: x.code })}>${x.code}</button></td><td>${x.names.en}</td><td>${x.region}</td><td>${x.currency}</td>
        <td>${x.payment_methods.map((m) => m.method + (m.max_amount !== undefined ? ` ≤ ${minor(m.max_amount, x.currency)}` : '')).join(', ')}</td></tr>`)}</tbody></table></div>`}
    ${c && html`<${CountryForm} key=${c.code} c=${c} onSaved=${st.reload} />`}
  </section>`;
}
function CountryForm({ c, onSaved }) {
  const has = (m) => c.payment_methods.find((x) => x.method === m);
  const [pm, setPm] = useState({ card: !!has('card'), wallet: !!has('wallet'), cod: !!has('cod') });
  const cur = { ...countryOf(c.code), ...c };
  const [limit, setLimit] = useState(has('cod') && has('cod').max_amount !== undefined ? toMajor(has('cod').max_amount, cur.currency_digits) : '');
  const [timeout, setTimeout_] = useState(String(c.order_timeout_minutes ?? ''));
  const [err, setErr] = useState(null);
  const [ok, setOk] = useState(false);
  const form = useRef();
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setOk(false);
    const p = parseMajor(limit, cur.currency_digits);
    if (p.error) { const shown = { field: 'payment_methods', message: p.error }; setErr(shown); focusError(form.current, shown); return; }
    const methods = ['card', 'wallet', 'cod'].filter((m) => pm[m]).map((m) => (m === 'cod' && p.value !== undefined ? { method: m, max_amount: p.value } : { method: m }));
    const body = { ...c, payment_methods: methods, order_timeout_minutes: timeout === '' ? c.order_timeout_minutes : Number(timeout) };
    delete body.code;
    try { await api('PUT', `/admin/countries/${c.code}`, { body }); setOk(true); onSaved(); } catch (x) {
      // payment_methods[i].max_amount and the like: shown (and focused) at the limit's field, API's words
      const shown = /^payment_methods/.test(x.field || '') ? { field: 'payment_methods', message: x.message } : x;
      setErr(shown);
      focusError(form.current, shown);
    }
  };
  return html`<form ref=${form} class="address-form" onSubmit=${submit} novalidate>
    <h2>${c.names.en} (${c.code})</h2>
    <fieldset class="choices"><legend>Payment methods</legend>
      ${['card', 'wallet', 'cod'].map((m) => html`<label class="choice"><input type="checkbox" name=${`pm-${m}`} checked=${pm[m]} onChange=${(e) => setPm({ ...pm, [m]: e.currentTarget.checked })} />${m}</label>`)}
    </fieldset>
    <${Amount} label="Cash-on-delivery limit" name="payment_methods" value=${limit} onInput=${setLimit} error=${err} c=${cur} />
    <${Field} label="Unpaid orders are cancelled after (minutes)" name="order_timeout_minutes" value=${timeout} onInput=${setTimeout_} error=${err} inputmode="numeric" />
    <${FormError} error=${err} fields=${['payment_methods', 'order_timeout_minutes']} />
    ${ok && html`<p class="ok" role="status">Saved.</p>`}
    <button class="primary" type="submit">Save ${c.code}</button>
  </form>`;
}

// ---- products and prices ----
function Products({ query }) {
  const q = query.get('q') || '';
  const [text, setText] = useState(q);
  const [open, setOpen] = useState(null);
  const st = useLoad(() => api('GET', '/products', { query: { country: A.country, lang: 'en', q, per_page: 20 } }), [A.country, q]);
  return html`<section><h1>Products and prices · ${A.country}</h1>
    <form class="toolbar" role="search" onSubmit=${(e) => { e.preventDefault(); go(`/products?q=${encodeURIComponent(text)}`); }}>
      <div class="fl"><label for="p-q">Search</label><input id="p-q" type="search" value=${text} onInput=${(e) => setText(e.currentTarget.value)} /></div><button>Search</button></form>
    <${Status} st=${st} />
    ${st.data && html`<ul class="lines">${st.data.items.map((p) => html`<li class="line" style="display:block">
      <button class="link" aria-expanded=${open === p.id} onClick=${() => setOpen(open === p.id ? null : p.id)}>${p.name}</button> · from ${p.price_from.formatted}
      ${open === p.id && html`<${Prices} id=${p.id} />`}</li>`)}</ul>`}
  </section>`;
}
// New prices typed in major units of the country's currency (52999.99 for INR, 1299000 for VND).
function Prices({ id }) {
  const st = useLoad(() => api('GET', `/products/${id}`, { query: { country: A.country, lang: 'en' } }), [id, A.country]);
  const [val, setVal] = useState({});
  const [ok, setOk] = useState(false);
  const form = useRef();
  const c = countryOf(A.country);
  const sent = useRef([]);
  const body = () => {
    const rows = Object.entries(val).filter(([, v]) => v.trim() !== '');
    sent.current = rows.map(([sku]) => sku);
    return { prices: rows.map(([sku, v]) => ({ sku, country: A.country, amount: amountOf(`np-${sku}`, v, c) })) };
  };
  // the API names prices[i].amount...: the input of the i-th SKU sent
  const send = (b) => api('PUT', '/admin/prices', { body: b }).catch((x) => {
    const m = /^prices\[(\d+)\]/.exec(x.field || '');
    if (m && sent.current[m[1]]) x.field = `np-${sent.current[m[1]]}`;
    throw x;
  });
  const { err, submit, busy } = useSubmit(form, body, send, () => { setOk(true); setVal({}); st.reload(); });
  if (!st.data) return html`<${Status} st=${st} />`;
  return html`<form ref=${form} onSubmit=${(e) => { setOk(false); submit(e); }} novalidate><table><thead><tr><th scope="col">SKU</th><th scope="col">Attributes</th><th scope="col">Price</th><th scope="col">New price (${c.currency})</th><th scope="col">Stock</th></tr></thead>
    <tbody>${st.data.skus.map((s) => {
      const p = parseMajor(val[s.code], c.currency_digits);
      const e = err && err.field === `np-${s.code}` ? err.message : null;
      const note = e || p.error || (p.value !== undefined ? `= ${fmtMinor(p.value, c.currency, c.currency_digits, c.code)}` : null);
      return html`<tr><td>${s.code}</td><td>${Object.values(s.attribute_names || {}).join(' · ')}</td><td data-testid=${`price-${s.code}`}>${s.price.formatted}</td>
      <td class=${e ? 'has-error' : ''}><label class="visually-hidden" for=${`np-${s.code}`}>New price of ${s.code} in ${c.currency}</label><input id=${`np-${s.code}`} name=${`np-${s.code}`} inputmode="decimal"
        value=${val[s.code] || ''} placeholder=${toMajor(s.price.amount, c.currency_digits)} aria-invalid=${e ? 'true' : undefined} aria-describedby=${note ? `np-${s.code}-note` : undefined}
        onInput=${(ev) => setVal({ ...val, [s.code]: ev.currentTarget.value })} />
        ${note && html`<small id=${`np-${s.code}-note`} class=${e || p.error ? 'error' : 'hint'} role=${e ? 'alert' : undefined}>${note}</small>`}</td>
      <td><a href=${`#/stock?sku=${s.code}`}>${s.stock_state.replace(/_/g, ' ')}</a></td></tr>`;
    })}</tbody></table>
    <${FormError} error=${err && !err.placed ? err : null} />${ok && html`<p class="ok" role="status">Prices saved.</p>`}
    <button type="submit" disabled=${busy}>Save prices</button></form>`;
}

// ---- stock ----
function Stock({ query }) {
  const sku = query.get('sku') || '';
  const [text, setText] = useState(sku);
  const [adj, setAdj] = useState({ warehouse: '', delta: '', reason: '' });
  const [err, setErr] = useState(null);
  const st = useLoad(() => (sku ? api('GET', '/admin/stock', { query: { country: A.country, sku } }) : Promise.resolve(null)), [A.country, sku]);
  const s = st.data;
  const adjust = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      await api('POST', '/admin/stock/adjust', { body: { country: A.country, sku, warehouse: adj.warehouse || (s && s.warehouses[0].warehouse), delta: Number(adj.delta), reason: adj.reason || 'console adjustment' } });
      setAdj({ ...adj, delta: '' }); st.reload();
    } catch (x) { setErr(x); }
  };
  return html`<section><h1>Stock · ${A.country}</h1>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); go(`/stock?sku=${encodeURIComponent(text)}`); }}>
      <div class="fl"><label for="s-sku">SKU</label><input id="s-sku" value=${text} placeholder="MER-001-01-1" onInput=${(e) => setText(e.currentTarget.value)} /></div><button>Show</button></form>
    ${sku && html`<${Status} st=${st} />`}
    ${s && html`<p>${s.sku}: <b>${s.available}</b> available in ${s.country}${s.low ? ' · low' : ''}${s.sold_here ? '' : ' · not sold here'}</p>
      <table><thead><tr><th scope="col">Warehouse</th><th scope="col">State</th><th scope="col">On hand</th><th scope="col">Reserved</th><th scope="col">Available</th><th scope="col">Sold</th></tr></thead>
      <tbody>${s.warehouses.map((w) => html`<tr><td>${w.warehouse}</td><td>${w.state || ''}</td><td>${w.on_hand}</td><td>${w.reserved}</td><td>${w.available}</td><td>${w.sold}</td></tr>`)}</tbody></table>
      <form class="toolbar" onSubmit=${adjust}>
        <div class="fl"><label for="s-wh">Warehouse</label><select id="s-wh" value=${adj.warehouse} onChange=${(e) => setAdj({ ...adj, warehouse: e.currentTarget.value })}>
          ${s.warehouses.map((w) => html`<option value=${w.warehouse}>${w.warehouse}</option>`)}</select></div>
        <div class="fl"><label for="s-delta">Change (+/− units)</label><input id="s-delta" name="delta" inputmode="numeric" value=${adj.delta} onInput=${(e) => setAdj({ ...adj, delta: e.currentTarget.value })} /></div>
        <div class="fl"><label for="s-reason">Reason</label><input id="s-reason" name="reason" value=${adj.reason} onInput=${(e) => setAdj({ ...adj, reason: e.currentTarget.value })} /></div>
        <button type="submit">Adjust</button></form><${FormError} error=${err} />`}
  </section>`;
}

// ---- coupons ----
// A coupon's state now: inactive (switched off), scheduled (not yet valid), expired, or active.
const couponState = (c, now = Date.now()) => (!c.active ? 'inactive' : Date.parse(c.valid_from) > now ? 'scheduled' : Date.parse(c.valid_until) <= now ? 'expired' : 'active');
function Coupons() {
  const st = useLoad(() => api('GET', '/admin/coupons', { query: { country: A.country } }), [A.country]);
  const [err, setErr] = useState(null);
  const c = countryOf(A.country);
  const money = (v) => fmtMinor(v, c.currency, c.currency_digits, c.code);
  const local = (x) => String(x || '').slice(0, 16).replace('T', ' ');
  const toggle = async (x) => {
    setErr(null);
    try { await api('PATCH', `/admin/coupons/${x.id}`, { body: { country: x.country, active: !x.active } }); st.reload(); } catch (e) { setErr(e); }
  };
  return html`<section><h1>Coupons · ${A.country}</h1><${Status} st=${st} /><${FormError} error=${err} />
    ${st.data && html`<div class="table-wrap"><table><thead><tr><th scope="col">Code</th><th scope="col">Kind</th><th scope="col">Value</th><th scope="col">Minimum</th>
      <th scope="col">Valid (${c.timezone})</th><th scope="col">State</th><th scope="col">Used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${st.data.coupons.map((x) => html`<tr data-code=${x.code}><td>${x.code}</td><td>${x.kind.replace(/_/g, ' ')}</td>
        <td>${x.kind === 'percent' ? `${toMajor(x.value, 2)} %${x.max_discount ? ` (at most ${money(x.max_discount)})` : ''}` : money(x.value)}</td>
        <td>${x.min_subtotal ? money(x.min_subtotal) : '—'}</td>
        <td>${local(x.valid_from_local)} – ${local(x.valid_until_local)}</td><td><${Badge} s=${couponState(x)} /></td>
        <td>${x.usage.redemptions}${x.max_redemptions ? ` / ${x.max_redemptions}` : ''} · ${money(x.usage.discount_given)}${x.budget ? ` of ${money(x.budget)}` : ''}</td>
        <td><button class="link" onClick=${() => toggle(x)}>${x.active ? 'Deactivate' : 'Activate'} ${x.code}</button></td></tr>`)}</tbody></table></div>
      ${!st.data.coupons.length && html`<p>No coupons.</p>`}`}
    <${CouponForm} key=${A.country} c=${c} onDone=${st.reload} />
  </section>`;
}
// A new coupon (POST /admin/coupons): amounts in major units, a percentage in percent, times local.
function CouponForm({ c, onDone }) {
  const [f, setF] = useState({ code: '', kind: 'percent', value: '', min_subtotal: '', max_discount: '', scope: 'store', values: '',
    valid_from: localNow(c, 0), valid_until: localNow(c, 7 * 24 * 60), budget: '', max_redemptions: '', per_user_limit: '1', methods: {} });
  const [ok, setOk] = useState(null);
  const form = useRef();
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const pct = f.kind === 'percent';
  const body = () => {
    let value;
    if (pct) {
      const p = parseMajor(f.value, 2); // percent with up to 2 decimals = basis points
      if (p.error) throw { field: 'value', message: p.error.replace(/ in this currency/, '') };
      value = p.value;
    } else value = amountOf('value', f.value, c);
    // in the order the form shows them, so the first unreadable amount is the one focused
    const max_discount = pct ? amountOf('max_discount', f.max_discount, c) : undefined;
    const min_subtotal = f.kind === 'fixed_amount' ? undefined : amountOf('min_subtotal', f.min_subtotal, c);
    const budget = amountOf('budget', f.budget, c);
    const values = f.values.split(',').map((v) => v.trim()).filter(Boolean).map((v) => (f.scope === 'product' && /^\d+$/.test(v) ? Number(v) : v));
    return clean({ country: c.code, code: f.code.trim(), kind: f.kind, value, min_subtotal, max_discount,
      scope: f.scope === 'store' ? { type: 'store' } : { type: f.scope, values }, valid_from: whenOf(f.valid_from, c), valid_until: whenOf(f.valid_until, c),
      budget, max_redemptions: intOf(f.max_redemptions), per_user_limit: intOf(f.per_user_limit),
      payment_methods: Object.keys(f.methods).filter((m) => f.methods[m]) });
  };
  const { err, submit, busy } = useSubmit(form, body, (b) => api('POST', '/admin/coupons', { body: b }), (r) => { setOk(r); setF({ ...f, code: '' }); onDone(); });
  return html`<form ref=${form} class="address-form wide" onSubmit=${submit} novalidate aria-labelledby="cp-new">
    <h2 id="cp-new">New coupon</h2>
    <div class="grid2">
      <${Field} label="Code" name="code" value=${f.code} onInput=${set('code')} error=${err} hint="3-32 letters, digits, - and _" />
      <${Field} label="Kind" name="kind" value=${f.kind} onInput=${set('kind')} error=${err}
        options=${[['percent', 'Percentage off'], ['threshold_amount', 'Amount off above a minimum'], ['fixed_amount', 'Amount off every unit']]} />
      ${pct ? html`<${Field} label="Percent off" name="value" value=${f.value} onInput=${set('value')} error=${err} inputmode="decimal" hint="e.g. 10 or 12.5" />`
        : html`<${Amount} label="Amount off" name="value" value=${f.value} onInput=${set('value')} error=${err} c=${c} />`}
      ${pct && html`<${Amount} label="Largest discount, optional" name="max_discount" value=${f.max_discount} onInput=${set('max_discount')} error=${err} c=${c} />`}
      ${f.kind !== 'fixed_amount' && html`<${Amount} label="Minimum eligible subtotal, optional" name="min_subtotal" value=${f.min_subtotal} onInput=${set('min_subtotal')} error=${err} c=${c} />`}
      <${When} label="Valid from" name="valid_from" value=${f.valid_from} onInput=${set('valid_from')} error=${err} c=${c} />
      <${When} label="Valid until" name="valid_until" value=${f.valid_until} onInput=${set('valid_until')} error=${err} c=${c} />
      <${Field} label="Applies to" name="scope.type" value=${f.scope} onInput=${set('scope')} error=${err}
        options=${[['store', 'The whole store'], ['category', 'Categories'], ['product', 'Products'], ['sku', 'SKUs']]} />
      ${f.scope !== 'store' && html`<${Field} label="Which (comma-separated slugs, ids or SKU codes)" name="scope.values" value=${f.values} onInput=${set('values')} error=${err} />`}
      <${Amount} label="Budget, optional" name="budget" value=${f.budget} onInput=${set('budget')} error=${err} c=${c} hint="Total discount it may give; empty = unlimited" />
      <${Field} label="Orders in all (empty = unlimited)" name="max_redemptions" value=${f.max_redemptions} onInput=${set('max_redemptions')} error=${err} inputmode="numeric" />
      <${Field} label="Orders per customer (0 = unlimited)" name="per_user_limit" value=${f.per_user_limit} onInput=${set('per_user_limit')} error=${err} inputmode="numeric" />
    </div>
    <fieldset class="inline"><legend>Payment methods (none = any)</legend>
      ${c.payment_methods.map((m) => html`<${Check} label=${m.method} name=${`pm-${m.method}`} checked=${!!f.methods[m.method]}
        onChange=${(v) => setF({ ...f, methods: { ...f.methods, [m.method]: v } })} />`)}</fieldset>
    <${FormError} error=${err && !err.placed ? err : null} />
    ${ok && html`<p class="ok" role="status">Coupon ${ok.code} created.</p>`}
    <button class="primary" type="submit" disabled=${busy}>Create coupon</button>
  </form>`;
}

// ---- flash sales: create, watch live ----
function FlashAdmin({ query }) {
  const st = useLoad(() => call('GET', '/flash-sales', { query: { country: A.country, lang: 'en' } }).then((r) => r.json), [A.country], 5000);
  const watch = query.get('watch');
  return html`<section><h1>Flash sales · ${A.country}</h1><${Status} st=${st} />
    ${st.data && st.data.sales.length > 0 && html`<div class="table-wrap"><table><thead><tr><th scope="col">Sale</th><th scope="col">Session</th><th scope="col">State</th><th scope="col">Starts</th><th scope="col">Sold</th><th scope="col"><span class="visually-hidden">Live view</span></th></tr></thead>
      <tbody>${st.data.sales.flatMap((s) => s.sessions.map((x) => html`<tr><td>${s.id} · ${s.title}</td><td>${x.id} (${x.mode})</td><td><${Badge} s=${x.state} /></td>
        <td>${fmtDate(x.starts_at, 'en', tz())}</td><td>${x.progress} %</td><td><a href=${`#/flash?watch=${s.id}`}>Watch live</a></td></tr>`))}</tbody></table></div>`}
    ${st.data && !st.data.sales.length && html`<p>No flash sales.</p>`}
    ${watch && html`<${FlashLive} key=${watch} id=${watch} />`}
    <${FlashForm} key=${A.country} onDone=${(r) => { st.reload(); go(`/flash?watch=${r.id}`); }} />
  </section>`;
}
const newItem = () => ({ sku: '', price: '', units: '' });
const newSession = (c, after = 5) => ({ starts_at: localNow(c, after), ends_at: localNow(c, after + 30), mode: 'fcfs', per_user_limit: '1',
  token_ttl_seconds: '900', cod_allowed: false, reserve: false, opens_at: '', closes_at: '', items: [newItem()] });
// A new sale: titles in the country's languages, its rules, 1-16 sessions of 1-16 items (POST /admin/flash-sales).
function FlashForm({ onDone }) {
  const [country, setCountry] = useState(A.country);
  const c = countryOf(country);
  const [titles, setTitles] = useState({});
  const [rules, setRules] = useState({ min_account_age_days: '', one_per_phone: false, one_per_address: false, one_per_device: false,
    user_per_second: '', user_burst: '', ip_per_second: '', ip_burst: '', pow_bits: '', block_users: '', block_ips: '' });
  const [sessions, setSessions] = useState(() => [newSession(c)]);
  const [ok, setOk] = useState(null);
  const form = useRef();
  const setR = (k) => (v) => setRules({ ...rules, [k]: v });
  const setS = (i, p) => setSessions(sessions.map((x, j) => (j === i ? { ...x, ...p } : x)));
  const setI = (i, k, p) => setS(i, { items: sessions[i].items.map((x, j) => (j === k ? { ...x, ...p } : x)) });
  const list = (text) => text.split(/[\s,]+/).filter(Boolean);
  const rate = (ps, b) => (rules[ps] === '' && rules[b] === '' ? undefined : clean({ per_second: intOf(rules[ps]), burst: intOf(rules[b]) }));
  const body = () => {
    const t = {};
    for (const [l, v] of Object.entries(titles)) if (v.trim() && c.languages.includes(l)) t[l] = v.trim();
    const blocklist = rules.block_users.trim() || rules.block_ips.trim()
      ? { users: list(rules.block_users).map(intOf), ips: list(rules.block_ips) } : undefined;
    const r = clean({ min_account_age_days: intOf(rules.min_account_age_days), one_per_phone: rules.one_per_phone || undefined,
      one_per_address: rules.one_per_address || undefined, one_per_device: rules.one_per_device || undefined,
      user_rate: rate('user_per_second', 'user_burst'), ip_rate: rate('ip_per_second', 'ip_burst'), pow_bits: intOf(rules.pow_bits), blocklist });
    return clean({ country, titles: t, rules: Object.keys(r).length ? r : undefined,
      sessions: sessions.map((x, i) => clean({ starts_at: whenOf(x.starts_at, c), ends_at: whenOf(x.ends_at, c), mode: x.mode,
        per_user_limit: intOf(x.per_user_limit), token_ttl_seconds: intOf(x.token_ttl_seconds), cod_allowed: x.cod_allowed,
        reservation: x.reserve ? clean({ required: true, opens_at: whenOf(x.opens_at, c), closes_at: whenOf(x.closes_at, c) }) : undefined,
        items: x.items.map((it, k) => clean({ sku: it.sku.trim() || undefined, price: amountOf(`sessions[${i}].items[${k}].price`, it.price, c), units: intOf(it.units) })) })) });
  };
  const { err, submit, busy } = useSubmit(form, body, (b) => api('POST', '/admin/flash-sales', { body: b }), (r) => { setOk(r); onDone(r); });
  const langs = ['en', ...c.languages.filter((l) => l !== 'en')];
  return html`<form ref=${form} class="address-form wide" onSubmit=${submit} novalidate aria-labelledby="fs-new">
    <h2 id="fs-new">New flash sale</h2>
    <${Field} label="Country" name="country" value=${country} onInput=${setCountry} error=${err}
      options=${A.countries.map((x) => [x.code, `${x.code} · ${x.name}`])} hint=${`${c.currency}, times in ${c.timezone}`} />
    <fieldset><legend>Title</legend>
      ${langs.map((l) => html`<${Field} key=${l} label=${`Title (${l})${l === 'en' ? '' : ', optional'}`} name=${`titles.${l}`} value=${titles[l] || ''}
        onInput=${(v) => setTitles({ ...titles, [l]: v })} error=${err} />`)}</fieldset>
    <details><summary>Rules against scalpers (optional)</summary><fieldset><legend class="visually-hidden">Rules</legend>
      <div class="grid2">
        <${Field} label="Minimum account age (days)" name="rules.min_account_age_days" value=${rules.min_account_age_days} onInput=${setR('min_account_age_days')} error=${err} inputmode="numeric" />
        <${Field} label="Proof of work (leading zero bits, 0-24)" name="rules.pow_bits" value=${rules.pow_bits} onInput=${setR('pow_bits')} error=${err} inputmode="numeric" />
        <${Field} label="Grabs per second per account" name="rules.user_rate.per_second" value=${rules.user_per_second} onInput=${setR('user_per_second')} error=${err} inputmode="numeric" />
        <${Field} label="Burst per account" name="rules.user_rate.burst" value=${rules.user_burst} onInput=${setR('user_burst')} error=${err} inputmode="numeric" />
        <${Field} label="Grabs per second per IP address" name="rules.ip_rate.per_second" value=${rules.ip_per_second} onInput=${setR('ip_per_second')} error=${err} inputmode="numeric" />
        <${Field} label="Burst per IP address" name="rules.ip_rate.burst" value=${rules.ip_burst} onInput=${setR('ip_burst')} error=${err} inputmode="numeric" />
      </div>
      <${Check} label="One win per phone number" name="rules.one_per_phone" checked=${rules.one_per_phone} onChange=${setR('one_per_phone')} />
      <${Check} label="One win per delivery address" name="rules.one_per_address" checked=${rules.one_per_address} onChange=${setR('one_per_address')} />
      <${Check} label="One win per device" name="rules.one_per_device" checked=${rules.one_per_device} onChange=${setR('one_per_device')} />
      <${Field} label="Blocked customer ids (comma-separated)" name="rules.blocklist.users" value=${rules.block_users} onInput=${setR('block_users')} error=${err} />
      <${Field} label="Blocked IP addresses (comma-separated)" name="rules.blocklist.ips" value=${rules.block_ips} onInput=${setR('block_ips')} error=${err} />
    </fieldset></details>
    ${sessions.map((x, i) => html`<fieldset key=${i} class="session"><legend>Session ${i + 1}</legend>
      <div class="grid2">
        <${When} label="Starts" name=${`sessions[${i}].starts_at`} value=${x.starts_at} onInput=${(v) => setS(i, { starts_at: v })} error=${err} c=${c} />
        <${When} label="Ends" name=${`sessions[${i}].ends_at`} value=${x.ends_at} onInput=${(v) => setS(i, { ends_at: v })} error=${err} c=${c} />
        <${Field} label="Mode" name=${`sessions[${i}].mode`} value=${x.mode} onInput=${(v) => setS(i, { mode: v })} error=${err}
          options=${[['fcfs', 'First come, first served'], ['queue', 'Queue'], ['draw', 'Draw (lottery at the end)']]} />
        <${Field} label="Units per customer (first come mode)" name=${`sessions[${i}].per_user_limit`} value=${x.per_user_limit} onInput=${(v) => setS(i, { per_user_limit: v })} error=${err} inputmode="numeric" />
        <${Field} label="Purchase token valid for (seconds)" name=${`sessions[${i}].token_ttl_seconds`} value=${x.token_ttl_seconds} onInput=${(v) => setS(i, { token_ttl_seconds: v })} error=${err} inputmode="numeric" />
      </div>
      <${Check} label="Cash on delivery allowed" name=${`sessions[${i}].cod_allowed`} checked=${x.cod_allowed} onChange=${(v) => setS(i, { cod_allowed: v })} />
      <${Check} label="Reservation required" name=${`sessions[${i}].reservation.required`} checked=${x.reserve}
        onChange=${(v) => setS(i, { reserve: v, opens_at: x.opens_at || localNow(c, 0), closes_at: x.closes_at || x.starts_at })} />
      ${x.reserve && html`<div class="grid2">
        <${When} label="Reservations open" name=${`sessions[${i}].reservation.opens_at`} value=${x.opens_at} onInput=${(v) => setS(i, { opens_at: v })} error=${err} c=${c} />
        <${When} label="Reservations close" name=${`sessions[${i}].reservation.closes_at`} value=${x.closes_at} onInput=${(v) => setS(i, { closes_at: v })} error=${err} c=${c} /></div>`}
      ${x.items.map((it, k) => html`<div class="row item" key=${k}>
        <${Field} label=${`SKU ${k + 1}`} name=${`sessions[${i}].items[${k}].sku`} value=${it.sku} onInput=${(v) => setI(i, k, { sku: v })} error=${err} />
        <${Amount} label=${`Flash price of SKU ${k + 1}`} name=${`sessions[${i}].items[${k}].price`} value=${it.price} onInput=${(v) => setI(i, k, { price: v })} error=${err} c=${c} />
        <${Field} label=${`Units of SKU ${k + 1}`} name=${`sessions[${i}].items[${k}].units`} value=${it.units} onInput=${(v) => setI(i, k, { units: v })} error=${err} inputmode="numeric" />
        ${x.items.length > 1 && html`<button type="button" class="link" onClick=${() => setS(i, { items: x.items.filter((_, j) => j !== k) })}>Remove SKU ${k + 1} of session ${i + 1}</button>`}
      </div>`)}
      ${x.items.length < 16 && html`<button type="button" onClick=${() => setS(i, { items: [...x.items, newItem()] })}>Add a SKU to session ${i + 1}</button>`}
      ${sessions.length > 1 && html` <button type="button" class="danger" onClick=${() => setSessions(sessions.filter((_, j) => j !== i))}>Remove session ${i + 1}</button>`}
    </fieldset>`)}
    ${sessions.length < 16 && html`<p><button type="button" onClick=${() => setSessions([...sessions, newSession(c, 40 * sessions.length + 5)])}>Add a session</button></p>`}
    <${FormError} error=${err && !err.placed ? err : null} />
    ${ok && html`<p class="ok" role="status">Flash sale ${ok.id} created (sessions ${ok.session_ids.join(', ')}).</p>`}
    <button class="primary" type="submit" disabled=${busy}>Create flash sale</button>
  </form>`;
}
function FlashLive({ id }) {
  const [series, setSeries] = useState([]);
  const [last, setLast] = useState(null);
  const prev = useRef(null);
  useEffect(() => {
    let live = true;
    const tick = async () => {
      try {
        const s = await api('GET', `/admin/flash-sales/${id}/stats`);
        if (!live) return;
        const now = Date.now();
        const grabs = s.sessions.reduce((n, x) => n + x.wins + Object.values(x.refusals).reduce((a, b) => a + b, 0), 0);
        if (prev.current) {
          const dt = (now - prev.current.t) / 1000;
          setSeries((old) => [...old.slice(-59), Math.max(0, (grabs - prev.current.g) / dt)]);
        }
        prev.current = { t: now, g: grabs };
        setLast(s);
      } catch { /* keep the last picture */ }
    };
    tick();
    const t = setInterval(tick, 1000);
    return () => { live = false; clearInterval(t); };
  }, [id]);
  if (!last) return html`<p class="loading">Loading stats…</p>`;
  return html`<div class="sale" aria-live="off"><h2>Sale ${id}, live</h2>
    ${last.sessions.map((x) => html`<div>
      <div class="kpis">
        <div class="kpi">Wins<b data-testid="wins">${x.wins}</b></div>
        <div class="kpi">Reservations<b>${x.reservations}</b></div>
        ${x.items.map((i) => html`<div class="kpi">${i.sku} left<b data-testid="units-left">${i.left} / ${i.units}</b></div>`)}
      </div>
      <h3>Refusals by reason</h3>
      <ul class="kpis">${Object.entries(x.refusals).filter(([, n]) => n > 0).map(([k, n]) => html`<li class="kpi">${k.replace(/_/g, ' ')}<b data-testid=${`refusal-${k}`}>${n}</b></li>`)}</ul>
    </div>`)}
    <h3 id="chart-title">Grabs per second (last minute)</h3>
    <${Chart} values=${series} label="Grabs per second over the last minute" />
  </div>`;
}

// ---- webhooks and events ----
const EVENT_TYPES = ['order.created', 'order.paid', 'order.shipped', 'order.delivered', 'order.completed', 'order.cancelled',
  'order.refund_requested', 'order.refunded', 'payment.refund_required', 'stock.low'];
function Webhooks() {
  const st = useLoad(() => api('GET', '/admin/webhooks'), []);
  const [open, setOpen] = useState(null);
  const [err, setErr] = useState(null);
  const stop = async (w) => { setErr(null); try { await api('DELETE', `/admin/webhooks/${w.id}`); st.reload(); } catch (x) { setErr(x); } };
  return html`<section><h1>Webhooks</h1><${Status} st=${st} /><${FormError} error=${err} />
    ${st.data && html`<div class="table-wrap"><table><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Since</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${st.data.webhooks.map((w) => html`<tr data-id=${w.id}><td><button class="link" aria-expanded=${open === w.id} onClick=${() => setOpen(open === w.id ? null : w.id)}>${w.url}</button></td>
        <td>${(w.events || []).join(', ')}</td><td><${Badge} s=${w.active === false ? 'stopped' : 'active'} /></td><td>${fmtDate(w.created_at, 'en')}</td>
        <td>${w.active !== false && html`<button class="link" onClick=${() => stop(w)}>Stop ${w.id}</button>`}</td></tr>
        ${open === w.id && html`<tr><td colspan="5"><${Deliveries} id=${w.id} /></td></tr>`}`)}</tbody></table></div>
      ${!st.data.webhooks.length && html`<p>No subscriptions.</p>`}`}
    <${WebhookForm} onDone=${st.reload} />
    <${Events} />
  </section>`;
}
// A new subscription (POST /admin/webhooks): the URL, the event types ticked and any patterns typed.
function WebhookForm({ onDone }) {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState({});
  const [more, setMore] = useState('');
  const [ok, setOk] = useState(null);
  const form = useRef();
  const body = () => ({ url: url.trim(), events: [...EVENT_TYPES.filter((t) => types[t]), ...more.split(/[\s,]+/).filter(Boolean)] });
  const { err, submit, busy } = useSubmit(form, body, (b) => api('POST', '/admin/webhooks', { body: b }), (r) => { setOk(r); setUrl(''); setTypes({}); setMore(''); onDone(); });
  return html`<form ref=${form} class="address-form wide" onSubmit=${submit} novalidate aria-labelledby="wh-new">
    <h2 id="wh-new">New subscription</h2>
    <${Field} label="URL" name="url" type="url" value=${url} onInput=${setUrl} error=${err} hint="http:// or https://, e.g. https://erp.example.com/meridian" />
    <fieldset class="inline"><legend>Events (none ticked and no pattern = every event)</legend>
      ${EVENT_TYPES.map((t) => html`<${Check} label=${t} name=${`ev-${t}`} checked=${!!types[t]} onChange=${(v) => setTypes({ ...types, [t]: v })} />`)}</fieldset>
    <${Field} label="Other patterns (comma-separated, e.g. order.*)" name="events" value=${more} onInput=${setMore} error=${err} />
    <${FormError} error=${err && !err.placed ? err : null} />
    ${ok && html`<p class="ok" role="status">Subscription ${ok.id} created. Signing secret (shown only now): <code data-testid="secret">${ok.secret}</code></p>`}
    <button class="primary" type="submit" disabled=${busy}>Subscribe</button>
  </form>`;
}
function Deliveries({ id }) {
  const st = useLoad(() => api('GET', `/admin/webhooks/${id}/deliveries`), [id]);
  const [err, setErr] = useState(null);
  const redeliver = async (ev) => { setErr(null); try { await api('POST', `/admin/webhooks/${id}/deliveries/${ev}/redeliver`, { body: {} }); st.reload(); } catch (x) { setErr(x); } };
  const list = st.data && (st.data.deliveries || []);
  return html`<div><${Status} st=${st} /><${FormError} error=${err} />${list && html`<table><thead><tr><th scope="col">Event</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last result</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${list.map((d) => html`<tr><td>${d.event_id} ${d.type || ''}</td><td>${d.state || d.status}</td><td>${d.attempts}</td><td>${d.last_result || d.result || ''}</td>
      <td><button class="link" onClick=${() => redeliver(d.event_id)}>Redeliver</button></td></tr>`)}</tbody></table>`}</div>`;
}
function Events() {
  const st = useLoad(() => api('GET', '/admin/events', { query: { country: A.country } }), [A.country]);
  return html`<h2>Events · ${A.country}</h2><${Status} st=${st} />
    ${st.data && html`<div class="table-wrap"><table><thead><tr><th scope="col">Event</th><th scope="col">Type</th><th scope="col">When</th><th scope="col">Deliveries</th></tr></thead>
      <tbody>${st.data.events.map((e) => html`<tr><td>${e.id}</td><td>${e.type}</td><td>${fmtDate(e.created_at, 'en', tz())}</td>
        <td>${(e.deliveries || []).map((d) => `${d.subscriber || d.webhook_id || ''}: ${d.state || d.status}`).join(', ')}</td></tr>`)}</tbody></table></div>`}`;
}

// ---- shell ----
const SECTIONS = [['orders', 'Orders'], ['countries', 'Countries'], ['products', 'Products & prices'], ['stock', 'Stock'],
  ['coupons', 'Coupons'], ['flash', 'Flash sales'], ['webhooks', 'Webhooks & events']];
function App() {
  const route = useRoute();
  const [, force] = useState(0);
  rerender = () => force((x) => x + 1);
  useEffect(() => { call('GET', '/countries').then((r) => { A.countries = r.json.countries; rerender(); }, () => {}); }, []);
  useEffect(() => { const m = document.getElementById('main'); if (m) m.focus({ preventScroll: true }); }, [route.parts.join('/')]);
  if (!A.token) return html`<${Login} />`;
  const [a, b] = route.parts;
  const sec = a || 'orders';
  let page;
  if (sec === 'orders' && b) page = html`<${OrderDetail} id=${b} />`;
  else if (sec === 'orders') page = html`<${Orders} query=${route.query} />`;
  else if (sec === 'countries') page = html`<${Countries} />`;
  else if (sec === 'products') page = html`<${Products} key=${A.country} query=${route.query} />`;
  else if (sec === 'stock') page = html`<${Stock} query=${route.query} />`;
  else if (sec === 'coupons') page = html`<${Coupons} />`;
  else if (sec === 'flash') page = html`<${FlashAdmin} query=${route.query} />`;
  else if (sec === 'webhooks') page = html`<${Webhooks} />`;
  else page = html`<p>Not found.</p>`;
  const logout = async () => { try { await api('DELETE', '/sessions/current'); } catch { /* gone anyway */ } setA({ token: null }); };
  return html`<div class="console">
    <nav aria-label="Console">
      <a class="brand" href="#/orders">Meridian console</a>
      ${SECTIONS.map(([k, t]) => html`<a href=${`#/${k}`} aria-current=${sec === k ? 'page' : undefined}>${t}</a>`)}
      <label for="a-country" style="color:#d1d5db;margin-top:1rem">Country</label>
      <select id="a-country" value=${A.country} onChange=${(e) => setA({ country: e.currentTarget.value })}>
        ${A.countries.map((c) => html`<option value=${c.code}>${c.code} · ${c.name}</option>`)}</select>
      <button class="link" style="color:#e5e7eb;text-align:left" onClick=${logout}>Log out</button>
    </nav>
    <main id="main" tabindex="-1">${page}</main>
  </div>`;
}
const el = document.getElementById('app');
el.textContent = '';
render(html`<${App} />`, el);
