#!/usr/bin/env node
// Plays the wallet provider (UPI / PayTM / bank redirect style) against a Meridian node: sends the
// signed webhook that tells Meridian a payment intent succeeded or failed.
//
//   node tools/wallet-sim.mjs --base http://127.0.0.1:8080 --secret "$(build/meridian admin provider-secret wallet)" \
//        --intent pi_in_... --amount 1999900 --currency INR [--outcome succeeded|failed] [--times 2]
//        [--event-id whevt_...] [--skew-seconds -600] [--bad-signature]
//
// --times N delivers the same event N times (a provider retrying); a different --event-id for the
// same intent is a second, distinct notification; --skew-seconds moves the signed timestamp (a replay
// of an old message); --bad-signature signs with the wrong key.
import { createHmac, randomBytes } from 'node:crypto';

export function sign(secret, body, t = Math.floor(Date.now() / 1000)) {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export async function sendWalletWebhook({ base, secret, intent, amount, currency = '', outcome = 'succeeded',
  eventId = `whevt_${randomBytes(8).toString('hex')}`, skewSeconds = 0, badSignature = false }) {
  const body = JSON.stringify({
    id: eventId, type: `payment.${outcome}`, intent, amount, currency: currency || undefined,
    charge_id: outcome === 'succeeded' ? `wch_${randomBytes(6).toString('hex')}` : undefined,
    created: Math.floor(Date.now() / 1000),
  });
  const t = Math.floor(Date.now() / 1000) + skewSeconds;
  const signature = sign(badSignature ? 'not-the-secret' : secret, body, t);
  const r = await fetch(`${base}/api/v1/payments/wallet/webhook`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-provider-signature': signature }, body,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, eventId };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
    return acc;
  }, []));
  if (!args.base || !args.secret || !args.intent || !args.amount) {
    console.error('usage: wallet-sim.mjs --base URL --secret S --intent ID --amount N [--currency C] [--outcome succeeded|failed] [--times N] [--event-id ID] [--skew-seconds N] [--bad-signature]');
    process.exit(2);
  }
  const eventId = args['event-id'] || `whevt_${randomBytes(8).toString('hex')}`;
  for (let i = 0; i < Number(args.times || 1); i++) {
    const r = await sendWalletWebhook({
      base: args.base, secret: args.secret, intent: args.intent, amount: Number(args.amount), currency: args.currency || '',
      outcome: args.outcome || 'succeeded', eventId, skewSeconds: Number(args['skew-seconds'] || 0),
      badSignature: Boolean(args['bad-signature']),
    });
    console.log(r.status, r.text);
  }
}
