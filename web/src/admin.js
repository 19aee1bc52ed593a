// The admin console: staff log in, then run countries, prices, stock, orders, coupons, flash sales and
// webhooks of the countries they may act for, on the public admin API.
import { html, render, useState, useEffect, useRef, call, store, useRoute, go, Field, FormError, focusError, fmtDate } from './lib.js';
import { Chart } from './chart.js';

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
    return (await call(method, path, { ...opts, token: A.token })).json;
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
const STATUSES = ['', 'pending_payment', 'paid', 'pending_shipment', 'shipped', 'delivered', 'completed', 'cancelled', 'refunded'];
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
  const [limit, setLimit] = useState(has('cod') && has('cod').max_amount !== undefined ? String(has('cod').max_amount) : '');
  const [timeout, setTimeout_] = useState(String(c.order_timeout_minutes ?? ''));
  const [err, setErr] = useState(null);
  const [ok, setOk] = useState(false);
  const form = useRef();
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setOk(false);
    const methods = ['card', 'wallet', 'cod'].filter((m) => pm[m]).map((m) => (m === 'cod' && limit !== '' ? { method: m, max_amount: Number(limit) } : { method: m }));
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
    <${Field} label=${`Cash-on-delivery limit (minor units of ${c.currency})`} name="payment_methods" value=${limit} onInput=${setLimit} error=${err} inputmode="numeric" />
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
function Prices({ id }) {
  const st = useLoad(() => api('GET', `/products/${id}`, { query: { country: A.country, lang: 'en' } }), [id, A.country]);
  const [val, setVal] = useState({});
  const [err, setErr] = useState(null);
  const [ok, setOk] = useState(false);
  if (!st.data) return html`<${Status} st=${st} />`;
  const save = async (e) => {
    e.preventDefault();
    setErr(null); setOk(false);
    const prices = Object.entries(val).filter(([, v]) => v !== '').map(([sku, v]) => ({ sku, country: A.country, amount: Number(v) }));
    try { await api('PUT', '/admin/prices', { body: { prices } }); setOk(true); setVal({}); st.reload(); } catch (x) { setErr(x); }
  };
  return html`<form onSubmit=${save}><table><thead><tr><th scope="col">SKU</th><th scope="col">Attributes</th><th scope="col">Price</th><th scope="col">New price (minor units)</th><th scope="col">Stock</th></tr></thead>
    <tbody>${st.data.skus.map((s) => html`<tr><td>${s.code}</td><td>${Object.values(s.attribute_names || {}).join(' · ')}</td><td>${s.price.formatted}</td>
      <td><label class="visually-hidden" for=${`np-${s.code}`}>New price of ${s.code}</label><input id=${`np-${s.code}`} inputmode="numeric" value=${val[s.code] || ''} placeholder=${s.price.amount}
        onInput=${(e) => setVal({ ...val, [s.code]: e.currentTarget.value })} /></td><td><a href=${`#/stock?sku=${s.code}`}>${s.stock_state.replace(/_/g, ' ')}</a></td></tr>`)}</tbody></table>
    <${FormError} error=${err} />${ok && html`<p class="ok" role="status">Prices saved.</p>`}
    <button type="submit">Save prices</button></form>`;
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
function Coupons() {
  const st = useLoad(() => api('GET', '/admin/coupons', { query: { country: A.country } }), [A.country]);
  const blank = `{\n  "country": "${A.country}",\n  "code": "WELCOME10",\n  "kind": "percent",\n  "value": 1000,\n  "max_discount": 100000,\n  "scope": {"type": "store"}\n}`;
  return html`<section><h1>Coupons · ${A.country}</h1><${Status} st=${st} />
    ${st.data && html`<table><thead><tr><th scope="col">Code</th><th scope="col">Kind</th><th scope="col">Value</th><th scope="col">Valid</th><th scope="col">Used</th></tr></thead>
      <tbody>${st.data.coupons.map((c) => html`<tr><td>${c.code}</td><td>${c.kind}</td><td>${c.value && c.value.formatted ? c.value.formatted : c.value}</td>
        <td>${c.valid_from || ''} – ${c.valid_until || ''}</td><td>${c.redemptions ?? c.used ?? ''}</td></tr>`)}</tbody></table>
      ${!st.data.coupons.length && html`<p>No coupons.</p>`}`}
    <${JsonPost} key=${A.country} title="New coupon" path="/admin/coupons" initial=${blank} onDone=${st.reload} />
  </section>`;
}
// A JSON editor for the admin calls whose input is a document (coupons, flash sales, webhooks).
function JsonPost({ title, path, initial, onDone, method = 'POST' }) {
  const [text, setText] = useState(initial);
  const [err, setErr] = useState(null);
  const [ok, setOk] = useState(null);
  const id = `j-${path.replace(/\W/g, '')}`;
  const submit = async (e) => {
    e.preventDefault();
    setErr(null); setOk(null);
    let body;
    try { body = JSON.parse(text); } catch (x) { setErr({ message: `Not valid JSON: ${x.message}` }); return; }
    try { const r = await api(method, path, { body }); setOk(r); onDone && onDone(r); } catch (x) { setErr(x); }
  };
  return html`<form onSubmit=${submit} class="address-form" style="max-width:48rem">
    <h2><label for=${id}>${title}</label></h2>
    <textarea id=${id} value=${text} onInput=${(e) => setText(e.currentTarget.value)} spellcheck="false"
      aria-describedby=${err ? `${id}-err` : undefined} aria-invalid=${err ? 'true' : undefined}></textarea>
    ${err && html`<p id=${`${id}-err`} class="error" role="alert">${err.field ? html`<b>${err.field}</b>: ` : ''}${err.message}</p>`}
    ${ok && html`<p class="ok" role="status">Created${ok.id ? ` (id ${ok.id})` : ''}.${ok.secret ? ` Secret (shown once): ${ok.secret}` : ''}</p>`}
    <button class="primary" type="submit">Create</button></form>`;
}

// ---- flash sales: create, watch live ----
function FlashAdmin({ query }) {
  const st = useLoad(() => call('GET', '/flash-sales', { query: { country: A.country, lang: 'en' } }).then((r) => r.json), [A.country], 5000);
  const watch = query.get('watch');
  const at = (min) => new Date(Date.now() + min * 60000).toISOString().replace(/\.\d+Z$/, 'Z');
  const blank = JSON.stringify({ country: A.country, titles: { en: 'Launch sale' }, rules: { user_rate: { per_second: 2, burst: 4 } },
    sessions: [{ starts_at: at(2), ends_at: at(32), mode: 'fcfs', items: [{ sku: 'MER-001-01-1', price: 1999900, units: 100 }] }] }, null, 2);
  return html`<section><h1>Flash sales · ${A.country}</h1><${Status} st=${st} />
    ${st.data && html`<table><thead><tr><th scope="col">Sale</th><th scope="col">Session</th><th scope="col">State</th><th scope="col">Starts</th><th scope="col">Sold</th><th scope="col"><span class="visually-hidden">Live view</span></th></tr></thead>
      <tbody>${st.data.sales.flatMap((s) => s.sessions.map((x) => html`<tr><td>${s.id} · ${s.title}</td><td>${x.id} (${x.mode})</td><td><${Badge} s=${x.state} /></td>
        <td>${fmtDate(x.starts_at, 'en', tz())}</td><td>${x.progress} %</td><td><a href=${`#/flash?watch=${s.id}`}>Watch live</a></td></tr>`))}</tbody></table>`}
    ${watch && html`<${FlashLive} key=${watch} id=${watch} />`}
    <${JsonPost} key=${A.country} title="New flash sale" path="/admin/flash-sales" initial=${blank} onDone=${(r) => { st.reload(); go(`/flash?watch=${r.id}`); }} />
  </section>`;
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
function Webhooks() {
  const st = useLoad(() => api('GET', '/admin/webhooks'), []);
  const [open, setOpen] = useState(null);
  return html`<section><h1>Webhooks</h1><${Status} st=${st} />
    ${st.data && html`<ul class="lines">${st.data.webhooks.map((w) => html`<li class="line" style="display:block">
      <button class="link" aria-expanded=${open === w.id} onClick=${() => setOpen(open === w.id ? null : w.id)}>${w.url}</button> · ${(w.events || []).join(', ')} ${w.active === false ? '· inactive' : ''}
      ${open === w.id && html`<${Deliveries} id=${w.id} />`}</li>`)}</ul>${!st.data.webhooks.length && html`<p>No subscriptions.</p>`}`}
    <${JsonPost} title="New subscription" path="/admin/webhooks" initial=${'{\n  "url": "http://127.0.0.1:9999/hook",\n  "events": ["order.*"]\n}'} onDone=${st.reload} />
    <${Events} />
  </section>`;
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
  else if (sec === 'products') page = html`<${Products} query=${route.query} />`;
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
