#!/usr/bin/env node
// The wallet simulator *page* for local runs: plays the wallet a shopper is redirected to at checkout
// (UPI / PayTM / bank redirect style). Serve Meridian with --wallet-url pointing here; the storefront
// sends the shopper to <this>/pay?intent=...&currency=...&amount=...&return=..., the page shows the
// payment with Approve / Decline, sends Meridian the signed webhook (tools/wallet-sim.mjs) and returns
// the shopper to the store.
//
//   node tools/wallet-page.mjs --base http://127.0.0.1:8080 --secret "$(build/meridian admin provider-secret wallet --data data)" [--port 8090]
import http from 'node:http';
import { sendWalletWebhook } from './wallet-sim.mjs';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Wallet simulator</title><style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;color:#1c2230}
.box{border:1px solid #dde1ea;border-radius:12px;padding:1.25rem;background:#fff}button{font:inherit;padding:.6rem 1.2rem;border-radius:10px;border:1px solid #9aa3b5;margin-right:.5rem;min-height:44px;cursor:pointer}
.pay{background:#15803d;border-color:#15803d;color:#fff;font-weight:600}h1{font-size:1.3rem}.amt{font-size:2rem;font-weight:700}</style></head><body>${body}</body></html>`;

// Only a return address on the store's own origin is followed (no open redirect).
function safeReturn(ret, base) {
  try { const u = new URL(ret); return u.origin === new URL(base).origin ? u.href : base; } catch { return base; }
}

// opts.base (Meridian's URL) and opts.secret are read on every request, so a caller may fill them in
// after starting the page (a test learns Meridian's port only once the page's URL is on its command line).
export function startWalletPage(opts) {
  const { port = 0, host = '127.0.0.1' } = opts;
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/pay') { res.writeHead(404).end('not found'); return; }
    if (req.method === 'GET') {
      const p = Object.fromEntries(url.searchParams);
      let shown = `${p.amount ?? '?'} ${p.currency ?? ''}`;
      try {
        const digits = new Intl.NumberFormat('en', { style: 'currency', currency: p.currency }).resolvedOptions().maximumFractionDigits;
        shown = new Intl.NumberFormat('en', { style: 'currency', currency: p.currency }).format(Number(p.amount) / 10 ** digits);
      } catch { /* show the raw figures */ }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(`<main class="box"><h1>Wallet simulator</h1>
        <p>Payment request <code>${esc(p.intent)}</code></p><p class="amt">${esc(shown)}</p>
        <form method="post" action="/pay"><input type="hidden" name="intent" value="${esc(p.intent)}"><input type="hidden" name="amount" value="${esc(p.amount)}">
        <input type="hidden" name="currency" value="${esc(p.currency)}"><input type="hidden" name="return" value="${esc(p.return || '')}">
        <button class="pay" name="outcome" value="succeeded">Approve payment</button><button name="outcome" value="failed">Decline</button></form>
        <p><small>For local runs only: this page signs the webhook with the provider secret.</small></p></main>`));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const f = Object.fromEntries(new URLSearchParams(body));
    const { base, secret } = opts;
    let r;
    try {
      r = await sendWalletWebhook({ base, secret, intent: f.intent, amount: Number(f.amount), currency: f.currency,
        outcome: f.outcome === 'failed' ? 'failed' : 'succeeded' });
    } catch (e) {
      r = { status: 0, text: String(e) };
    }
    if (r.status !== 200) {
      res.writeHead(502, { 'content-type': 'text/html; charset=utf-8' }).end(page(`<main class="box"><h1>Meridian refused the webhook</h1><pre>${esc(r.text)}</pre></main>`));
      return;
    }
    res.writeHead(303, { location: safeReturn(f.return, base) }).end();
  }).on('error', () => {});
  return new Promise((resolve) => server.listen(port, host, () => resolve({ server, url: `http://${host}:${server.address().port}` })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
  const base = arg('base', 'http://127.0.0.1:8080');
  const secret = arg('secret');
  if (!secret) { console.error('usage: wallet-page.mjs --base URL --secret SECRET [--port 8090]'); process.exit(2); }
  const { url } = await startWalletPage({ base, secret, port: Number(arg('port', 8090)) });
  console.log(`wallet simulator at ${url}/pay (serve Meridian with --wallet-url ${url})`);
}
