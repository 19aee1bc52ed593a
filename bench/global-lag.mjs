// Catalogue replication lag hub -> regions under a stream of price changes (bench/scenario-global.sh; issue 12
// item 7). Reads the deployment scripts/run-global.sh wrote (GLOBAL_STATE), then for SECONDS sends RATE price
// changes a second to the hub's node (PUT /api/v1/admin/prices: the first SKU of product 1 in IN, ES and VN, each
// change one higher than the last), while one poller per region reads that product page from the region's node
// every 5 ms. A change's lag in a region is the time from the hub's answer (committed at the hub) to the first
// poll of that region that shows it or a later change. Prints one line per region: changes, p50, p95, max (ms).
//   node bench/global-lag.mjs STATE RATE SECONDS
import { readFileSync } from 'node:fs';

const [stateFile, rateArg = '20', secsArg = '10'] = process.argv.slice(2);
const state = JSON.parse(readFileSync(stateFile, 'utf8'));
const rate = Number(rateArg), secs = Number(secsArg);
const REGION_COUNTRY = { in: 'IN', eu: 'ES', sg: 'VN' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function price(base, country) {
  const r = await fetch(`${base}/api/v1/products/1?country=${country}`);
  const j = await r.json();
  return { sku: j.skus[0].code, amount: j.skus[0].price.amount };
}

const { sku, amount: start } = await price(state.regions.in.url, 'IN');
const acked = []; // change i (amount start + 1 + i): the time the hub answered
const seen = Object.fromEntries(Object.keys(REGION_COUNTRY).map((r) => [r, []])); // first time each was seen
let stop = false;

async function poll(region) {
  const country = REGION_COUNTRY[region];
  const base = state.regions[region].url;
  // every region starts from its own price: changes set start + 1 + i everywhere
  while (!stop) {
    let amount;
    try { amount = (await price(base, country)).amount; } catch { await sleep(5); continue; }
    const now = performance.now();
    const upto = amount - start - 1; // the last change this answer shows
    for (let i = 0; i <= upto && i < acked.length; i++) if (seen[region][i] === undefined) seen[region][i] = now;
    await sleep(5);
  }
}

const pollers = Object.keys(REGION_COUNTRY).map(poll);
const n = Math.round(rate * secs);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const amount = start + 1 + i;
  const r = await fetch(`${state.hub.url}/api/v1/admin/prices`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prices: Object.values(REGION_COUNTRY).map((country) => ({ sku, country, amount })) }),
  });
  if (r.status !== 200) throw new Error(`price change ${i}: ${r.status} ${await r.text()}`);
  acked[i] = performance.now();
}
// let the last changes arrive (10 s at most)
const deadline = performance.now() + 10000;
while (performance.now() < deadline && Object.values(seen).some((s) => s.filter((x) => x !== undefined).length < n)) await sleep(20);
stop = true;
await Promise.all(pollers);

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const achieved = (n / ((acked[n - 1] - t0) / 1000)).toFixed(0);
console.log(`${n} price changes at ${rate}/s (achieved ${achieved}/s) to the hub's node; lag = hub's answer -> first product-page poll (every 5 ms) showing it`);
for (const region of Object.keys(REGION_COUNTRY)) {
  const lags = acked.map((t, i) => (seen[region][i] === undefined ? null : Math.max(0, seen[region][i] - t))).filter((x) => x !== null).sort((a, b) => a - b);
  const missing = n - lags.length;
  console.log(`region ${region}: ${lags.length} changes seen${missing ? ` (${missing} NOT seen within 10 s)` : ''}, lag p50 ${pct(lags, 50).toFixed(1)} ms, p95 ${pct(lags, 95).toFixed(1)} ms, max ${lags[lags.length - 1].toFixed(1)} ms`);
}
