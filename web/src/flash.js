// Flash sales in the storefront: the activity list and page, a countdown on the server's clock,
// reservation, the grab (with the proof of work solved in a Web Worker when the sale asks), the queue
// position while waiting, then checkout with the purchase token.
import { html, useState, useEffect, useRef, fmtDate, fmtDateRange, fmtNum } from './lib.js';

/* global POW_WORKER_URL */
function solve(challenge, bits) {
  return new Promise((resolve, reject) => {
    const w = new Worker(POW_WORKER_URL);
    w.onmessage = (e) => { if (e.data.nonce !== undefined) { w.terminate(); resolve(e.data.nonce); } };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message || 'the proof-of-work worker failed')); };
    w.postMessage({ challenge, bits });
  });
}

// The activity info, polled (the API caches it per second); `offset` = server clock − this clock.
function useSales(ctx, id) {
  const { S, api, q } = ctx;
  const [st, setSt] = useState({});
  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const d = await api('GET', id ? `/flash-sales/${id}` : '/flash-sales', { query: q() });
        // server_time is whole seconds, stamped before the answer travelled: the estimate is never ahead of
        // the server, so the grab button never comes alive before the sale has started there
        const offset = Date.parse(d.server_time) - Date.now();
        if (live) setSt({ data: d, offset });
      } catch (error) { if (live) setSt((s) => ({ ...s, error })); }
    };
    load();
    const t = setInterval(load, 3000);
    return () => { live = false; clearInterval(t); };
  }, [id, S.country, S.lang]);
  return st;
}
function useNow(offset) {
  const [now, setNow] = useState(Date.now() + (offset || 0));
  useEffect(() => { const t = setInterval(() => setNow(Date.now() + (offset || 0)), 250); return () => clearInterval(t); }, [offset]);
  return now;
}
// A countdown (ms) as the locale writes a duration on a clock: "00:04:59", "2 дн. 03:04:05".
function span(ms, locale) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(s / 86400), hours = Math.floor((s % 86400) / 3600), minutes = Math.floor((s % 3600) / 60), seconds = s % 60;
  try {
    return new Intl.DurationFormat(locale, { style: 'digital', hours: '2-digit', hoursDisplay: 'always' }).format({ days, hours, minutes, seconds });
  } catch { // a browser without Intl.DurationFormat
    const two = (n) => fmtNum(n, locale, { minimumIntegerDigits: 2, useGrouping: false });
    const clock = `${two(hours)}:${two(minutes)}:${two(seconds)}`;
    return days ? `${fmtNum(days, locale, { style: 'unit', unit: 'day' })} ${clock}` : clock;
  }
}
// The flash-sale refusal reasons (the API's `reason`; FlashRefusalReason) and the words for each.
export const REASONS = {
  not_started: 'rNotStarted', ended: 'rEnded', sold_out: 'soldOut', not_reserved: 'rNotReserved', limit_reached: 'limit',
  rate_limited_user: 'rRateLimited', rate_limited_ip: 'rRateLimited', blocklist: 'rBlocked', account_too_new: 'rBlocked',
  phone_already_won: 'rOnePerPerson', address_already_won: 'rOnePerPerson', device_already_won: 'rOnePerPerson',
  phone_required: 'rPhoneRequired', challenge_failed: 'rChallengeFailed', reservation_closed: 'rReservationClosed',
};
const stateOf = (x, now) => (x.state === 'sold_out' || x.state === 'ended' ? x.state
  : now < Date.parse(x.starts_at) ? 'upcoming' : now >= Date.parse(x.ends_at) ? 'ended' : x.state === 'upcoming' ? 'live' : x.state);

export function FlashSales({ ctx }) {
  const { L, country, loc } = ctx;
  const st = useSales(ctx);
  const now = useNow(st.offset);
  if (st.error) return html`<p class="error" role="alert">${st.error.message}</p>`;
  if (!st.data) return html`<p class="loading">…</p>`;
  return html`<section><h1>${L('sales')}</h1>
    ${!st.data.sales.length && html`<p>${L('noSales')}</p>`}
    ${st.data.sales.map((s) => html`<article class="sale"><h2><a href=${`#/sales/${s.id}`}>${s.title}</a></h2>
      ${s.sessions.map((x) => { const k = stateOf(x, now); return html`<p><span class=${`status s-${k}`}>${L(k === 'sold_out' ? 'soldOut' : k)}</span>${' '}
        ${fmtDate(x.starts_at, loc(), country() && country().timezone)}${k === 'upcoming' || k === 'live' ? ' · ' : ''}${k === 'upcoming' ? html`${L('startsIn')} <b>${span(Date.parse(x.starts_at) - now, loc())}</b>` : k === 'live' ? html`${L('endsIn')} <b>${span(Date.parse(x.ends_at) - now, loc())}</b>` : ''}</p>`; })}
    </article>`)}
  </section>`;
}

export function FlashSale({ id, ctx }) {
  const { L } = ctx;
  const st = useSales(ctx, id);
  const now = useNow(st.offset);
  const s = st.data && st.data.sale;
  if (st.error) return html`<p class="error" role="alert">${st.error.message}</p>`;
  if (!s) return html`<p class="loading">…</p>`;
  return html`<section><p><a href="#/sales">← ${L('sales')}</a></p><h1>${s.title}</h1>
    ${s.sessions.map((x) => html`<${Session} key=${x.id} sale=${s} x=${x} now=${now} ctx=${ctx} />`)}
  </section>`;
}

function Session({ sale, x, now, ctx }) {
  const { L, S, api, country, loc } = ctx;
  const k = stateOf(x, now);
  const [res, setRes] = useState(null); // { kind: 'reserved'|'won'|'queued'|'lost'|'error'|'solving', ... }
  const poll = useRef(null);
  useEffect(() => () => clearInterval(poll.current), []);
  const reserve = async () => {
    try { await api('POST', `/flash-sales/${sale.id}/reservations`, { body: { session_id: x.id } }); setRes({ kind: 'reserved' }); }
    catch (e) { setRes({ kind: 'error', error: e }); }
  };
  const grab = async (item, retried) => {
    try {
      const ch = await api('GET', `/flash-sales/${sale.id}/challenge`);
      let proof;
      if (ch.bits > 0) {
        setRes({ kind: 'solving' });
        proof = { challenge: ch.challenge, nonce: await solve(ch.challenge, ch.bits) };
      }
      const r = await api('POST', `/flash-sales/${sale.id}/grab`, { body: { session_id: x.id, sku: item.sku, ...(proof ? { proof } : {}) } });
      if (r.token) { setRes({ kind: 'won', token: r.token, expires: r.expires_at, item }); return; }
      setRes({ kind: 'queued', position: r.position, voucher: r.voucher });
      clearInterval(poll.current);
      poll.current = setInterval(async () => {
        try {
          const v = await api('GET', `/flash-sales/${sale.id}/queue/${r.voucher}`);
          if (v.status === 'won') { clearInterval(poll.current); setRes({ kind: 'won', token: v.token, expires: v.expires_at, item }); }
          else if (v.status === 'lost') { clearInterval(poll.current); setRes({ kind: 'lost', reason: v.reason }); }
          else setRes({ kind: 'queued', position: v.position, voucher: r.voucher });
        } catch { /* try again on the next tick */ }
      }, 1000);
    } catch (e) {
      // the clocks may still disagree by a moment at the start: try once more a second later
      if (e.status === 425 && !retried) { setTimeout(() => grab(item, true), 1000); return; }
      setRes({ kind: 'error', error: e });
    }
  };
  const tzone = country() && country().timezone;
  const reservation = x.reservation || {};
  const resOpen = reservation.required && (!reservation.opens_at || now >= Date.parse(reservation.opens_at)) &&
    (!reservation.closes_at || now < Date.parse(reservation.closes_at));
  // a refusal in the shopper's language by its reason (the API's message is English); other errors as the API says
  const msg = (e) => {
    if (e.status === undefined) return L('rChallengeFailed'); // the proof-of-work worker failed
    const key = REASONS[(e.body && e.body.error && e.body.error.reason) || e.code];
    return key ? L(key) : e.message;
  };
  return html`<article class="sale" aria-labelledby=${`sess-${x.id}`}>
    <h2 id=${`sess-${x.id}`}><span class=${`status s-${k}`} data-testid="sale-state">${L(k === 'sold_out' ? 'soldOut' : k)}</span> ${fmtDateRange(x.starts_at, x.ends_at, loc(), tzone)}</h2>
    ${k === 'upcoming' && html`<p>${L('startsIn')}</p><p class="countdown" data-testid="countdown" role="timer" aria-live="off">${span(Date.parse(x.starts_at) - now, loc())}</p>`}
    ${k === 'live' && html`<p>${L('endsIn')} <span class="countdown" role="timer" aria-live="off">${span(Date.parse(x.ends_at) - now, loc())}</span></p>`}
    ${reservation.required && html`<p>${!S.token ? html`<a href="#/login?next=${encodeURIComponent(`sales/${sale.id}`)}">${L('loginFirst')}</a>`
      : res && res.kind === 'reserved' ? html`<span class="ok">${L('reserved')} ✓</span>`
      : html`<button onClick=${reserve} disabled=${!resOpen}>${L('reserve')}</button>`}</p>`}
    <ul class="grid">${x.items.map((i) => html`<li class="card" style="padding:.75rem">
      <p class="name">${i.name}</p>
      <p><span class="price big">${i.flash_price.formatted}</span> <s class="muted">${i.regular_price.formatted}</s></p>
      <div class="progress" role="progressbar" aria-label=${L('sold')} aria-valuenow=${i.progress} aria-valuemin="0" aria-valuemax="100"><span style=${`width:${i.progress}%`}></span></div>
      ${i.sold_out ? html`<p class="flag">${L('soldOut')}</p>`
        : !S.token ? html`<p><a href="#/login?next=${encodeURIComponent(`sales/${sale.id}`)}">${L('loginFirst')}</a></p>`
        : html`<p><button class="primary" disabled=${k !== 'live' || (res && (res.kind === 'solving' || res.kind === 'won'))} onClick=${() => grab(i)}>${L('grab')}</button></p>`}
    </li>`)}</ul>
    <div aria-live="polite" data-testid="grab-result">
      ${res && res.kind === 'solving' && html`<p>${L('solving')}</p>`}
      ${res && res.kind === 'queued' && html`<p>${L('queued')} <b>${fmtNum(res.position, loc())}</b></p>`}
      ${res && res.kind === 'lost' && html`<p class="flag">${L(res.reason === 'ended' ? 'rEnded' : 'lost')}</p>`}
      ${res && res.kind === 'error' && html`<p class="error" role="alert">${msg(res.error)}</p>`}
      ${res && res.kind === 'won' && html`<p class="ok">${L('won')} ${fmtDate(res.expires, loc(), tzone)}</p>
        <p><a class="button primary" href=${`#/checkout?flash=${encodeURIComponent(res.token)}&sku=${encodeURIComponent(res.item.sku)}&price=${encodeURIComponent(res.item.flash_price.formatted)}&name=${encodeURIComponent(res.item.name)}&cod=${x.cod_allowed ? 1 : 0}`}>${L('checkoutToken')}</a></p>`}
    </div>
  </article>`;
}
