#!/usr/bin/env node
// Plays the wallet provider (UPI / PayTM / bank redirect style) against a Meridian node: sends the
// signed webhook that tells Meridian a payment intent succeeded or failed.
//
//   node tools/wallet-sim.mjs --base http://127.0.0.1:8080 --secret "$(build/meridian admin provider-secret wallet)" \
//        --intent pi_in_... --amount 1999900 --currency INR [--outcome succeeded|failed] [--times 2]
//        [--event-id whevt_...] [--charge-id wch_...|--no-charge-id] [--extra '{"metadata":{"k":"v"}}']
//        [--skew-seconds -600] [--bad-signature] [--v1-first]
//
// --times N delivers the same event N times (a provider retrying); a different --event-id for the
// same intent is a second, distinct notification; --charge-id sets the wallet's charge id (by default a
// new random one on success) and --no-charge-id leaves it out (it is optional); --extra adds members
// Meridian does not know (it must ignore them); --skew-seconds moves the signed timestamp (a replay of an
// old message); --bad-signature signs with the wrong key. During a secret rotation give --secret
// several times (or comma-separated): the header then carries one v1 per secret, as a provider that
// signs with both keys does; --v1-first puts the signatures before the timestamp.
import { createHmac, randomBytes } from 'node:crypto';

const mac = (secret, t, body) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

export function sign(secret, body, t = Math.floor(Date.now() / 1000)) {
  return `t=${t},v1=${mac(secret, t, body)}`;
}

// The X-Provider-Signature value with one v1 per secret; v1First puts them before t.
export function signatureHeader(secrets, body, t = Math.floor(Date.now() / 1000), { v1First = false } = {}) {
  const v1 = secrets.map((s) => `v1=${mac(s, t, body)}`);
  return (v1First ? [...v1, `t=${t}`] : [`t=${t}`, ...v1]).join(',');
}

// chargeId: undefined = a random one on success, null = left out, a string = that id.
export async function sendWalletWebhook({ base, secret, secrets, intent, amount, currency = '', outcome = 'succeeded',
  eventId = `whevt_${randomBytes(8).toString('hex')}`, chargeId, extra = {}, skewSeconds = 0, badSignature = false,
  v1First = false }) {
  const charge = chargeId === undefined ? (outcome === 'succeeded' ? `wch_${randomBytes(6).toString('hex')}` : undefined)
    : chargeId === null ? undefined : chargeId;
  const body = JSON.stringify({
    id: eventId, type: `payment.${outcome}`, intent, amount, currency: currency || undefined,
    charge_id: charge, created: Math.floor(Date.now() / 1000), ...extra,
  });
  const t = Math.floor(Date.now() / 1000) + skewSeconds;
  const keys = badSignature ? ['not-the-secret'] : (secrets || [secret]);
  const signature = signatureHeader(keys, body, t, { v1First });
  const r = await fetch(`${base}/api/v1/payments/wallet/webhook`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-provider-signature': signature }, body,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, eventId, chargeId: charge };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = {};
  const secretsGiven = [];
  process.argv.slice(2).forEach((a, i, all) => {
    if (!a.startsWith('--')) return;
    const v = all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true;
    if (a === '--secret' && v !== true) secretsGiven.push(...v.split(','));
    else args[a.slice(2)] = v;
  });
  if (!args.base || !secretsGiven.length || !args.intent || !args.amount) {
    console.error('usage: wallet-sim.mjs --base URL --secret S [--secret S2] --intent ID --amount N [--currency C] [--outcome succeeded|failed] [--times N] [--event-id ID] [--charge-id ID|--no-charge-id] [--extra JSON] [--skew-seconds N] [--bad-signature] [--v1-first]');
    process.exit(2);
  }
  const eventId = args['event-id'] || `whevt_${randomBytes(8).toString('hex')}`;
  const outcome = args.outcome || 'succeeded';
  // one charge id for every delivery: a retry repeats the same event
  const chargeId = args['no-charge-id'] ? null : typeof args['charge-id'] === 'string' ? args['charge-id']
    : outcome === 'succeeded' ? `wch_${randomBytes(6).toString('hex')}` : null;
  const extra = typeof args.extra === 'string' ? JSON.parse(args.extra) : {};
  for (let i = 0; i < Number(args.times || 1); i++) {
    const r = await sendWalletWebhook({
      base: args.base, secrets: secretsGiven, intent: args.intent, amount: Number(args.amount),
      currency: args.currency || '', outcome, eventId, chargeId, extra, skewSeconds: Number(args['skew-seconds'] || 0),
      badSignature: Boolean(args['bad-signature']), v1First: Boolean(args['v1-first']),
    });
    console.log(r.status, r.text);
  }
}
