/*
 * wallet.c — the redirect wallet (UPI / PayTM / bank-redirect style) and the provider webhook.
 *
 * Checkout with payment_method "wallet" opens a payment intent ("pi_<region>_<random>"; the region in
 * the id tells which database holds it) and answers with a redirect URL. The customer pays at the
 * wallet; the wallet then calls POST /api/v1/payments/wallet/webhook with
 *     {"id": "whevt_...", "type": "payment.succeeded" | "payment.failed", "intent": "pi_...",
 *      "charge_id": "...", "amount": 1999900, "currency": "INR"}
 * signed in the header X-Provider-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
 * (parts in any order; several v1 values, one per secret the wallet signs with during a rotation).
 * Members Meridian does not know are ignored, so a wallet that adds one does not fail every payment.
 *
 * Identity. A wallet payment is its intent: one charge row per attempt, made by Meridian, unique. The
 * wallet's charge_id is only a reference: it may be missing (the spec makes it optional) or already be
 * the reference of another payment (a wallet that reuses ids). Neither may lose a paid order: a success
 * without charge_id is recorded with no reference, and one whose charge_id another payment holds is
 * recorded without it, flagged in its reason and the log; refunds then go by the intent.
 *
 * Safety rules: a bad signature or a timestamp more than 5 minutes off is refused (400); an event id
 * already processed changes nothing (200 "duplicate"); a failure arriving after a success changes nothing
 * (200 "ignored"); a success for an order that was cancelled meanwhile (timed out) is recorded and the
 * money is refunded automatically through the outbox (200 "refunded"); a success for an old attempt of
 * an order that another attempt has paid is recorded as a duplicate of that payment and refunded in full,
 * the order staying paid (200 "refunded"). A validly signed event is never answered 5xx by its content.
 *
 * Secrets live in catalog.db (provider_secret) and are read on every webhook, so a rotation made with
 * `meridian admin provider-secret wallet --rotate` takes effect without a restart.
 *
 * The webhook is a service (mer_wallet_webhook_verify, mer_wallet_webhook_apply: payment.h) and a thin
 * adapter (h_webhook): the signature is checked on the read pool (catalog.db), the request's members on
 * the loop, and the event applied by the intent's region writer. What it does to the order goes through
 * the order module's operations (mer_payment_order_ops_t): payment does not include order.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>

#include "core/log.h"
#include "core/sig.h"
#include "events/events.h"
#include "http/req.h"
#include "payment/payment_int.h"
#include "region/country.h"
#include "store/store.h"
#include "core/banned.h"

#define WEBHOOK_TOLERANCE_S 300

static void wallet_charge(const mer_charge_t *in, mer_pay_result_t *out)
{
    (void)in;
    memset(out, 0, sizeof(*out));
    out->status = MER_PAY_PENDING; /* the customer pays at the wallet; the webhook brings the result */
}

const mer_payment_provider_t mer_wallet_sim = {"wallet", wallet_charge, mer_sim_refund};

static char wallet_base[200] = "https://wallet.example.test";

void mer_wallet_configure(const char *base_url)
{
    if (base_url && *base_url)
        snprintf(wallet_base, sizeof(wallet_base), "%s", base_url);
}

void mer_wallet_redirect_url(const char *intent, const char *currency, char *out, size_t cap)
{
    snprintf(out, cap, "%s/pay?intent=%s&currency=%s", wallet_base, intent, currency);
}

void mer_wallet_new_intent(const char *region, const char *currency, char intent[64], char *url, size_t url_cap)
{
    unsigned char raw[12];
    char hex[25];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(intent, 64, "pi_%s_%s", region, hex);
    mer_wallet_redirect_url(intent, currency, url, url_cap);
}

static void new_secret(char out[80])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, 65, raw, sizeof(raw));
}

int mer_payment_secret(mer_db_t *db, const char *provider, char out[80])
{
    mer_rows_t *r = mer_db_query(db, "SELECT secret FROM provider_secret WHERE provider = ?", "s", provider);
    bool found = mer_rows_next(r);
    if (found)
        snprintf(out, 80, "%s", mer_rows_text(r, 0));
    int err = mer_rows_end(r);
    if (err || found)
        return err;
    new_secret(out);
    return mer_db_exec(db, "INSERT INTO provider_secret (provider, secret) VALUES (?, ?)", "ss", provider, out) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_payment_secret_rotate(mer_db_t *db, const char *provider, int64_t keep_ms, char out[80])
{
    char old[80];
    int err = mer_payment_secret(db, provider, old); /* the one being replaced (made now if there was none) */
    if (err)
        return err;
    new_secret(out);
    return mer_db_exec(db,
                       "UPDATE provider_secret SET previous_secret = secret, previous_until = ?, secret = ? "
                       "WHERE provider = ?",
                       "iss", keep_ms > 0 ? mer_now_unix_ms() + keep_ms : 0, out, provider) != 1
               ? MER_E_INTERNAL
               : 0;
}

int mer_payment_secrets(mer_db_t *db, const char *provider, int64_t now_ms, char out[2][80])
{
    int n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT secret, COALESCE(previous_secret, ''), previous_until FROM provider_secret "
                                 "WHERE provider = ?",
                                 "s", provider);
    if (mer_rows_next(r)) {
        snprintf(out[n++], 80, "%s", mer_rows_text(r, 0));
        if (mer_rows_len(r, 1) && mer_rows_int(r, 2) > now_ms)
            snprintf(out[n++], 80, "%s", mer_rows_text(r, 1));
    }
    int err = mer_rows_end(r);
    return err ? err : n;
}

int mer_wallet_webhook_verify(mer_db_t *catalog, const char *header, size_t hlen, const char *body, size_t len,
                              int64_t now_ms)
{
    char secrets[2][80];
    int nsecrets = mer_payment_secrets(catalog, "wallet", now_ms, secrets);
    if (nsecrets < 0)
        return nsecrets;
    const char *keys[2] = {secrets[0], secrets[1]};
    int v = mer_webhook_verify_any(keys, (size_t)nsecrets, header, hlen, body, len, now_ms / 1000, WEBHOOK_TOLERANCE_S);
    sodium_memzero(secrets, sizeof(secrets));
    return v == -1 ? MER_E_INVALID_SIGNATURE : v == -2 ? MER_E_STALE_WEBHOOK : 0;
}

/* A success for charge pay_id (pending or failed): recorded, then the order is paid, or the money given back. */
static int hook_succeeded(mer_db_t *db, const mer_wallet_event_t *ev, mer_wallet_outcome_t *out, int64_t pay_id,
                          int64_t order_id, int64_t amount, const char *pstatus, int64_t now)
{
    const mer_payment_order_ops_t *orders = mer_payment_order_ops();
    /* the charge_id is a reference, not the payment's identity (the intent is): a missing one is no
     * reference (NULL, never ''), and one that another payment already holds is not taken from it */
    const char *ref = ev->charge_id[0] ? ev->charge_id : NULL;
    char reason[1200] = "";
    if (strcmp(pstatus, "failed") == 0)
        snprintf(reason, sizeof(reason), "reported failed at the wallet, then succeeded");
    if (ref) {
        int64_t other = 0, other_order = 0;
        mer_rows_t *r = mer_db_query(db,
                                     "SELECT id, order_id FROM payment WHERE provider = 'wallet' AND provider_ref = ? "
                                     "AND id <> ?",
                                     "si", ref, pay_id);
        if (mer_rows_next(r)) {
            other = mer_rows_int(r, 0);
            other_order = mer_rows_int(r, 1);
        }
        int err = mer_rows_end(r);
        if (err)
            return err;
        char number[MER_PAYMENT_ORDER_NUMBER_MAX] = "";
        if (other && (err = orders->number(db, other_order, number)) != 0)
            return err;
        if (other) {
            snprintf(reason, sizeof(reason),
                     "the wallet reported charge_id %s, which is already the reference of payment %lld (order %s); "
                     "recorded by its intent, check with the wallet",
                     ref, (long long)other, number);
            snprintf(out->message, sizeof(out->message), "%s", reason);
            mer_log_warn("wallet intent %s: charge_id %s already belongs to payment %lld (order %s); recorded "
                         "without it",
                         ev->intent, ref, (long long)other, number);
            ref = NULL;
        }
    }
    if (mer_db_exec(
            db, "UPDATE payment SET status = 'succeeded', provider_ref = ?, reason = ?, created_at = ? WHERE id = ?",
            "ssii", ref, reason, now, pay_id) != 1)
        return MER_E_INTERNAL;
    char current[20] = "";
    int err = orders->charge_succeeded(db, order_id, pay_id, amount, "provider:wallet", "paid at the wallet", current);
    if (err < 0)
        return err;
    if (err == 1) { /* the order cannot take the money any more (cancelled, expired): given back */
        mer_log_warn("wallet payment %s arrived for order %lld in state %s; refunding", ev->intent, (long long)order_id,
                     current);
        snprintf(out->message, sizeof(out->message), "the order is %s; the payment was recorded and is being refunded",
                 current);
    } else if (err == 2) { /* another attempt paid the order: this money is a duplicate, given back */
        mer_log_warn("wallet payment %s paid order %lld a second time; refunding it", ev->intent, (long long)order_id);
        snprintf(out->message, sizeof(out->message),
                 "the order was already paid by another attempt; this payment was recorded and is being refunded");
    }
    out->result = err ? "refunded" : "processed";
    return 0;
}

int mer_wallet_webhook_apply(mer_db_t *db, const mer_wallet_event_t *ev, mer_wallet_outcome_t *out, mer_verr_t *e)
{
    int64_t now = mer_now_unix_ms();
    out->result = NULL;
    out->message[0] = '\0';
    int rc = mer_db_exec(db,
                         "INSERT INTO webhook_seen (provider, event_id, received_at) VALUES ('wallet', ?, ?) "
                         "ON CONFLICT DO NOTHING",
                         "si", ev->id, now);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        out->result = "duplicate";
        return 0;
    }
    int64_t pay_id = 0, order_id = 0, amount = 0;
    char pstatus[16] = "", pcurrency[4] = "";
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT id, order_id, amount, status, currency FROM payment WHERE intent = ? AND "
                                 "kind = 'charge' "
                                 "AND provider = 'wallet'",
                                 "s", ev->intent);
    bool found = mer_rows_next(r);
    if (found) {
        pay_id = mer_rows_int(r, 0);
        order_id = mer_rows_int(r, 1);
        amount = mer_rows_int(r, 2);
        snprintf(pstatus, sizeof(pstatus), "%s", mer_rows_text(r, 3));
        snprintf(pcurrency, sizeof(pcurrency), "%s", mer_rows_text(r, 4));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!found) {
        out->result = "ignored";
        snprintf(out->message, sizeof(out->message), "no payment intent %s", ev->intent);
        return 0;
    }
    if (ev->currency[0] && strcmp(ev->currency, pcurrency) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "currency", "currency %s does not match the intent's %s", ev->currency,
                            pcurrency);
    if (ev->amount != amount)
        return mer_verr_set(e, MER_E_VALIDATION, "amount", "amount %lld does not match the intent's %lld",
                            (long long)ev->amount, (long long)amount);
    if (strcmp(ev->type, "payment.failed") == 0) {
        if (strcmp(pstatus, "pending") != 0) {
            out->result = "ignored"; /* out of order: the outcome is already known */
            return 0;
        }
        if (mer_db_exec(db, "UPDATE payment SET status = 'failed', reason = 'declined at the wallet' WHERE id = ?", "i",
                        pay_id) != 1)
            return MER_E_INTERNAL;
        out->result = "processed";
        return 0;
    }
    /* payment.succeeded */
    if (strcmp(pstatus, "succeeded") == 0) {
        out->result = "ignored";
        return 0;
    }
    return hook_succeeded(db, ev, out, pay_id, order_id, amount, pstatus, now);
}

/* ---- the HTTP adapter ---- */

typedef struct hook_call {
    mer_call_t c;
    char *body; /* the signed bytes (owned) */
    size_t len;
    char sig[MER_WEBHOOK_SIG_MAX + 1];
    size_t slen;
    bool has_sig;
    mer_wallet_event_t ev;
    mer_wallet_outcome_t out;
} hook_call_t;

static int hook_apply(mer_db_t *db, mer_call_t *c)
{
    hook_call_t *h = (hook_call_t *)c;
    int err = mer_wallet_webhook_apply(db, &h->ev, &h->out, &c->verr);
    if (err)
        return err;
    c->result = json_pack("{s:s,s:s}", "result", h->out.result, "message", h->out.message);
    return 0;
}

/* On the loop, once the signature verified: the request's members, then the intent's region writer. */
static void hook_verified(mer_call_t *c)
{
    hook_call_t *h = (hook_call_t *)c;
    mer_req_t *r = c->r;
    c->reply = NULL;
    /* members Meridian does not know (metadata, created, ...) are ignored, and so are event types: a
     * provider may add some, and must not be refused forever for it */
    mer_verr_t e = {0};
    const char *id = NULL, *type = NULL, *intent = NULL, *charge = "", *currency = "";
    int64_t amount = 0;
    if (mer_json_str(r->body, "id", "id", 1, MER_WALLET_ID_MAX, true, &id, &e) ||
        mer_json_str(r->body, "type", "type", 1, MER_WALLET_ID_MAX, true, &type, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (strcmp(type, "payment.succeeded") != 0 && strcmp(type, "payment.failed") != 0) {
        mer_reply_json(r, 200, json_pack("{s:s,s:s}", "result", "ignored", "message", "event type not handled"));
        return;
    }
    if (mer_json_str(r->body, "intent", "intent", 4, 63, true, &intent, &e) ||
        mer_json_str(r->body, "charge_id", "charge_id", 0, MER_WALLET_ID_MAX, false, &charge, &e) ||
        mer_json_int(r->body, "amount", "amount", 0, INT64_C(1) << 52, true, &amount, &e) ||
        mer_json_str(r->body, "currency", "currency", 3, 3, false, &currency, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    /* pi_<region>_<random> */
    mer_wallet_event_t *ev = &h->ev;
    const char *us = strncmp(intent, "pi_", 3) == 0 ? strchr(intent + 3, '_') : NULL;
    if (us == NULL || (size_t)(us - intent - 3) >= sizeof(ev->region)) {
        mer_reply_error(r, MER_E_VALIDATION, "intent", "%s is not an intent of this store", intent);
        return;
    }
    snprintf(ev->region, sizeof(ev->region), "%.*s", (int)(us - intent - 3), intent + 3);
    const mer_region_t *rg = mer_region_find(mer_countries(), ev->region);
    if (rg == NULL || !rg->local) {
        mer_reply_error(r, MER_E_NOT_FOUND, "intent", "intent %s belongs to no region of this node", intent);
        return;
    }
    snprintf(ev->region, sizeof(ev->region), "%s", rg->name);
    snprintf(ev->id, sizeof(ev->id), "%s", id);
    snprintf(ev->type, sizeof(ev->type), "%s", type);
    snprintf(ev->intent, sizeof(ev->intent), "%s", intent);
    snprintf(ev->charge_id, sizeof(ev->charge_id), "%s", charge);
    snprintf(ev->currency, sizeof(ev->currency), "%s", currency);
    ev->amount = amount;
    mer_call_write(c, ev->region, hook_apply);
}

/* Read pool: the signature against the secrets in catalog.db. */
static int hook_verify(mer_db_t *catalog, mer_call_t *c)
{
    hook_call_t *h = (hook_call_t *)c;
    int err =
        mer_wallet_webhook_verify(catalog, h->has_sig ? h->sig : NULL, h->slen, h->body, h->len, mer_now_unix_ms());
    if (err == MER_E_INVALID_SIGNATURE || err == MER_E_STALE_WEBHOOK)
        mer_verr_set(&c->verr, err, "X-Provider-Signature", "%s", mer_err_message(err));
    return err;
}

static void hook_free(mer_call_t *c)
{
    free(((hook_call_t *)c)->body);
}

static void h_webhook(mer_req_t *r)
{
    if (r->params[0].len != 6 || memcmp(r->params[0].base, "wallet", 6) != 0) {
        mer_reply_error(r, MER_E_NOT_FOUND, "provider", "no provider %.*s takes webhooks",
                        (int)MER_MIN(r->params[0].len, 20), r->params[0].base);
        return;
    }
    size_t slen = 0;
    const char *sig = mer_req_header(r, "x-provider-signature", &slen);
    hook_call_t *h = mer_call_new(r, sizeof(*h));
    /* a header longer than any signature is malformed: it is kept as "too long" (slen) without its bytes */
    h->has_sig = sig != NULL;
    h->slen = slen;
    if (sig && slen <= MER_WEBHOOK_SIG_MAX)
        memcpy(h->sig, sig, slen);
    h->len = r->h2o->entity.len;
    h->body = mer_xmalloc(h->len + 1);
    memcpy(h->body, r->h2o->entity.base, h->len);
    h->body[h->len] = '\0';
    h->c.reply = hook_verified;
    h->c.cleanup = hook_free;
    mer_call_read(&h->c, MER_STORE_CATALOG, hook_verify);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/payments/{provider}/webhook", h_webhook, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

static const mer_routes_t payment_routes = {routes, MER_ARRAY_LEN(routes)};

static int payment_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    char secret[80]; /* made on first start; the webhook reads the current ones on every call */
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_payment_secret(db, "wallet", secret);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err)
        mer_die("cannot load the wallet webhook secret");
    mer_payment_events_register();
    return 0;
}

const mer_module_t mer_payment_module = {
    .name = "payment",
    .init = payment_init,
    .routes = MER_MODULE_ROUTES(&payment_routes),
};
