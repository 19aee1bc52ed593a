// bench/scenario-flash2.sh: how long after the last unit is sold every node answers sold_out, while 2,000
// buyers race over both nodes. The last unit is sold inside the Redis script that also publishes "sold",
// before its token is written; so the figure is the time from the first node showing sold_out (the
// earliest sign of that script seen from outside) to every node showing it, polled every millisecond.
// The client's receipt of the last win (after its durable commit) is printed beside it.
// usage: node flash2-soldout.mjs NODE1 NODE2 SALE SESSION SKU TOKENS
import { readFileSync } from 'node:fs';
const [n1, n2, sale, session, sku, file] = process.argv.slice(2);
const tokens = readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, 2000);
const nodes = [n1, n2];
const seen = [0, 0];
let lastWin = 0, wins = 0, done = false;
const poll = async (k) => {
  while (!done) {
    const r = await fetch(`${nodes[k]}/api/v1/flash-sales/${sale}`).then((x) => x.json()).catch(() => null);
    const st = r && r.sale.sessions[0].state;
    if (st === 'sold_out' && !seen[k]) seen[k] = performance.now();
    if (st !== 'sold_out') seen[k] = 0;
    await new Promise((res) => setTimeout(res, 1));
  }
};
const pollers = [poll(0), poll(1)];
// a unit left in one node's allotment when its buyers stopped goes back after a second idle: a second
// and third pass of the same buyers picks those up
for (let pass = 0; pass < 3 && wins < 200; pass++) {
if (pass) await new Promise((res) => setTimeout(res, 1300));
let next = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  while (next < tokens.length) {
    const i = next++;
    const r = await fetch(`${nodes[i % 2]}/api/v1/flash-sales/${sale}/grab`, {
      method: 'POST', headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: Number(session), sku }),
    });
    await r.text();
    if (r.status === 200) { wins++; lastWin = performance.now(); }
  }
}));
}
await new Promise((res) => setTimeout(res, 300));
done = true;
await Promise.all(pollers);
// each node's own measure: Redis's clock when the last unit went (in the message) to its flag
const lags = [];
for (const n of nodes) {
  const m = await fetch(`${n}/metrics`).then((x) => x.text());
  const line = m.split('\n').find((l) => l.startsWith('meridian_flash_sold_out_lag_seconds') && l.includes(`session="${session}"`));
  lags.push(line ? (Number(line.split(' ').pop()) * 1000).toFixed(2) + ' ms' : 'n/a');
}
console.log(`   last unit sold (in Redis) to sold_out on each node (meridian_flash_sold_out_lag_seconds): ${lags.join(', ')}`);
const first = Math.min(...seen), last = Math.max(...seen);
console.log(`   sold out everywhere: ${wins} wins for 200 units; ` + (seen.every(Boolean)
  ? `first node to every node showing sold_out: ${(last - first).toFixed(1)} ms (the last win's answer, after its commit, came ${(lastWin - first).toFixed(1)} ms after the first node showed sold_out)`
  : 'not sold out on every node'));
