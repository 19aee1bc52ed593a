// What the storefront and the console share: the API client, the error type, small form helpers.
import { h, render } from 'preact';
import { useState, useEffect, useRef } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);
export { h, render, useState, useEffect, useRef };

// retryAfter: the answer's Retry-After in seconds (a 429's or a 503's wait), null when it has none.
export class ApiError extends Error {
  constructor(status, body, headers) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_error';
    this.field = e.field || null;
    this.body = body;
    this.retryAfter = retryAfter(headers && headers.get('retry-after'));
  }
}
// Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3); null when absent or unreadable.
function retryAfter(v) {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

// One call of the public API. query: an object of query parameters (undefined/'' left out); token: the
// bearer token; headers: extra headers; cache: fetch's cache mode (the console revalidates every read,
// so a price it just saved is not shown from the browser's cache). Answers { json, headers, status }, or
// throws ApiError.
export async function call(method, path, { body, query, token, headers = {}, cache } = {}) {
  const q = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '') : [];
  const url = `/api/v1${path}${q.length ? '?' + new URLSearchParams(q) : ''}`;
  const h2 = { ...headers };
  if (token) h2.authorization = `Bearer ${token}`;
  if (body !== undefined) h2['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers: h2, body: body === undefined ? undefined : JSON.stringify(body), cache });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: 'The server cannot be reached. Check your connection and try again.' } });
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json, res.headers);
  return { json, headers: res.headers, status: res.status };
}

export const store = {
  get: (k, d = null) => { try { const v = localStorage.getItem(k); return v === null ? d : JSON.parse(v); } catch { return d; } },
  set: (k, v) => { try { if (v === null || v === undefined) localStorage.removeItem(k); else localStorage.setItem(k, JSON.stringify(v)); } catch { /* private mode */ } },
};

// The current hash route: "#/p/12?x=1" -> { parts: ['p', '12'], query: URLSearchParams }
export function useRoute() {
  const parse = () => {
    const raw = location.hash.replace(/^#\/?/, '');
    const [p, q = ''] = raw.split('?');
    return { parts: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q), raw };
  };
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => { setRoute(parse()); };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
export const go = (path) => { location.hash = path; };

// A labelled input whose error (the API's `field`) is shown beside it and announced.
let fieldSeq = 0;
export function Field({ label, name, error, type = 'text', value, onInput, hint, options, autocomplete, required, inputmode }) {
  const id = useRef(`f${++fieldSeq}-${name}`).current;
  const err = error && error.field === name ? error.message : null;
  const describedBy = [hint ? `${id}-hint` : '', err ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id, name, 'aria-invalid': err ? 'true' : undefined, 'aria-describedby': describedBy, required,
    onInput: (e) => onInput(e.currentTarget.value), value: value ?? '',
  };
  return html`<div class=${'field' + (err ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    ${options
      ? html`<select ...${common} onChange=${common.onInput}>${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select>`
      : html`<input ...${common} type=${type} autocomplete=${autocomplete} inputmode=${inputmode} />`}
    ${hint && html`<small id=${`${id}-hint`} class="hint">${hint}</small>`}
    ${err && html`<p id=${`${id}-err`} class="error" role="alert">${err}</p>`}
  </div>`;
}

// After a failed submit: move focus to the field the API named (or the form's error line).
export function focusError(form, err) {
  requestAnimationFrame(() => {
    const el = (err && err.field && form && form.querySelector(`[name="${CSS.escape(err.field)}"]`)) ||
      (form && form.querySelector('.form-error'));
    if (el) el.focus();
  });
}

// A form-level error (one the API did not tie to a field of this form).
export function FormError({ error, fields = [] }) {
  if (!error || (error.field && fields.includes(error.field))) return null;
  return html`<p class="form-error error" role="alert" tabindex="-1">${error.message}</p>`;
}

export function fmtDate(iso, lang, timeZone) {
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(iso));
  } catch { return iso; }
}
// Two instants as one range, as the locale writes it ("3 Dec 2026, 12:00 – 2:00 pm": the shared date once).
export function fmtDateRange(from, to, lang, timeZone) {
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone }).formatRange(new Date(from), new Date(to));
  } catch { return `${fmtDate(from, lang, timeZone)} – ${fmtDate(to, lang, timeZone)}`; }
}
// A number as the locale writes it (opts: Intl.NumberFormat's, e.g. a percent).
export function fmtNum(n, lang, opts) {
  try { return new Intl.NumberFormat(lang, opts).format(n); } catch { return String(n); }
}
// A wait in seconds as the locale writes it, rounded up to a unit a person reads: "45 seconds", "5 minutes",
// "2 hours" (a Retry-After, a code's lifetime).
export function fmtWait(seconds, lang) {
  const s = Math.max(1, Math.ceil(seconds));
  const [n, unit] = s < 60 ? [s, 'second'] : s < 2 * 3600 ? [Math.ceil(s / 60), 'minute'] : [Math.ceil(s / 3600), 'hour'];
  return fmtNum(n, lang, { style: 'unit', unit, unitDisplay: 'long' });
}
