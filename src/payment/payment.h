/*
 * payment.h — payment providers behind one interface.
 *
 * A provider turns "charge this order" into a result, and refunds. Providers are looked up by the
 * order's payment method. Calls to a provider never run on an event loop or inside the writer's
 * transaction (a real provider is a network call): the order module runs them on the offload pool and
 * then records the outcome through the writer.
 *
 * `card` is a simulated card acquirer: a charge with card_token "tok_visa" (or any "tok_ok..."/"tok_visa..."
 * token) succeeds, "tok_decline" is declined, "tok_error" fails as an outage would. Refunds succeed.
 * `cod` needs no provider: the courier collects the money on delivery.
 */
#ifndef MER_PAYMENT_H
#define MER_PAYMENT_H

#include "core/common.h"
#include "module.h"

typedef enum { MER_PAY_SUCCEEDED = 0, MER_PAY_DECLINED, MER_PAY_ERROR, MER_PAY_PENDING } mer_pay_status_t;

typedef struct mer_charge {
    const char *order_number;
    int64_t amount;
    const char *currency;
    const char *card_token; /* card only */
    const char *idem_key;   /* the same key never charges twice (acquirers de-duplicate on it) */
} mer_charge_t;

typedef struct mer_pay_result {
    mer_pay_status_t status;
    char provider_ref[64]; /* the provider's id of the charge or refund */
    char message[128];
    char redirect_url[256]; /* redirect providers (wallet): where to send the customer */
} mer_pay_result_t;

typedef struct mer_payment_provider {
    const char *method; /* "card", "wallet" */
    void (*charge)(const mer_charge_t *in, mer_pay_result_t *out);
    /* idem_key: the same key must never refund twice (providers de-duplicate on it) */
    void (*refund)(const char *charge_ref, int64_t amount, const char *currency, const char *idem_key,
                   mer_pay_result_t *out);
} mer_payment_provider_t;

/* The wallet's redirect URL for an intent: <wallet base URL>/pay?intent=<id>. */
void mer_wallet_redirect_url(const char *intent, const char *currency, char *out, size_t cap);
/*
 * A new wallet payment intent for a region: "pi_<region>_<24 random hex>" (the region tells the webhook
 * which database holds it), and its redirect URL.
 */
void mer_wallet_new_intent(const char *region, const char *currency, char intent[64], char *url, size_t url_cap);
/* Sets the wallet base URL (serve --wallet-url). */
void mer_wallet_configure(const char *base_url);
/*
 * The secret a provider signs its webhooks with (catalog.db, created at random on first use). Writes
 * it into out (>= 65 bytes). Returns 0 or an error. Used by `meridian admin provider-secret`.
 */
struct mer_db;
int mer_payment_secret(struct mer_db *catalog, const char *provider, char out[80]);
/*
 * Rotates a provider's secret: a new random secret (written into out) becomes current, and the one it
 * replaces keeps verifying for keep_ms more milliseconds (0: stops at once), so the provider can switch
 * to the new one without a failed webhook. Rotating again replaces the previous secret. The webhook
 * reads the secrets on every call: no restart is needed. Returns 0 or an error.
 */
int mer_payment_secret_rotate(struct mer_db *catalog, const char *provider, int64_t keep_ms, char out[80]);
/*
 * The secrets that verify a provider's webhooks at now_ms: the current one, then the previous one while
 * its window lasts. Returns how many (0..2; 0 when none was ever made) or a negative error.
 */
int mer_payment_secrets(struct mer_db *catalog, const char *provider, int64_t now_ms, char out[2][80]);

/*
 * An order's payment status as its own money gives it (region database): "refund_pending" while a
 * refund is pending, else "unpaid" (nothing paid), "paid" (nothing refunded), "refunded" (all of it) or
 * "partially_refunded". A duplicate charge (payment.duplicate_of set: it succeeded when the order already
 * held the money of another charge) and its refunds are not the order's money and do not count. Returns
 * 0 or an error.
 */
int mer_payment_order_status(struct mer_db *region, int64_t order_id, char out[24]);
/*
 * The provider confirmed refund payment_id (the payments subscriber, in the writer's transaction): the
 * refund becomes succeeded with the provider's reference; when it gave back the order's own money, the
 * order follows (mer_payment_order_ops_t.refunded). Returns 1 when it gave back the order's own money,
 * 0 when it was already recorded or returned a duplicate charge (the order is unchanged), or a negative
 * error.
 */
int mer_payment_refund_confirmed(struct mer_db *region, int64_t payment_id, const char *provider_ref);

/*
 * What payments need from orders. The order module depends on payment, not the other way round: it hands
 * these operations over at its init (mer_payment_set_order_ops, static storage), and payment calls them
 * in the writer transaction that records a payment. Every one returns 0 (or what is said) or a negative
 * error.
 */
#define MER_PAYMENT_ORDER_NUMBER_MAX 32
typedef struct mer_payment_order_ops {
    /* Charge payment_id (amount) of order_id succeeded: pay the order, or give the money back when it was
     * closed meanwhile (1) or already paid by another charge (2); *current: the order's state. */
    int (*charge_succeeded)(struct mer_db *db, int64_t order_id, int64_t payment_id, int64_t amount, const char *actor,
                            const char *note, char current[20]);
    /* A refund of the order's own money was confirmed: the order's payment status follows
     * (mer_payment_order_status) and the order announces it. */
    int (*refunded)(struct mer_db *db, int64_t order_id);
    /* The order's number, for messages; "" when there is no such order. */
    int (*number)(struct mer_db *db, int64_t order_id, char out[MER_PAYMENT_ORDER_NUMBER_MAX]);
} mer_payment_order_ops_t;
void mer_payment_set_order_ops(const mer_payment_order_ops_t *ops);

/*
 * The wallet's webhook as a service (wallet.c), apart from HTTP. The adapter parses the request into a
 * mer_wallet_event_t and checks it, then:
 *   1. mer_wallet_webhook_verify (catalog.db, read): the signature header against the provider's current
 *      secrets; 0, MER_E_INVALID_SIGNATURE (malformed, or no secret matches) or MER_E_STALE_WEBHOOK (the
 *      timestamp is more than 5 minutes off now_ms), or another error;
 *   2. mer_wallet_webhook_apply (the intent's region, writer transaction): records the event once (a
 *      repeated id changes nothing) and applies it to the intent's payment, and through the order ops to
 *      its order. Returns 0 with out->result ("processed", "duplicate", "ignored", "refunded") and
 *      out->message, or an error with e describing it (a field that does not match the intent).
 */
#define MER_WALLET_ID_MAX 200 /* event and charge ids, in characters (UTF-8: up to 4 bytes each) */
typedef struct mer_wallet_event {
    char id[MER_WALLET_ID_MAX * 4 + 1];        /* the wallet's event id ("whevt_...") */
    char type[32];                             /* payment.succeeded, payment.failed */
    char intent[64];                           /* pi_<region>_<random> */
    char region[16];                           /* taken from the intent */
    char charge_id[MER_WALLET_ID_MAX * 4 + 1]; /* "" when the wallet gave none */
    char currency[4];                          /* "" when the wallet gave none */
    int64_t amount;
} mer_wallet_event_t;
typedef struct mer_wallet_outcome {
    const char *result; /* static */
    char message[1200];
} mer_wallet_outcome_t;
struct mer_verr;
int mer_wallet_webhook_verify(struct mer_db *catalog, const char *header, size_t hlen, const char *body, size_t len,
                              int64_t now_ms);
int mer_wallet_webhook_apply(struct mer_db *region, const mer_wallet_event_t *ev, mer_wallet_outcome_t *out,
                             struct mer_verr *e);

/*
 * The payment module (wallet.c): POST /api/v1/payments/{provider}/webhook; init makes the wallet's
 * webhook secret on first start and registers the payments event subscriber (payment_events.c). The
 * wallet's URL is configured before (mer_wallet_configure).
 */
extern const mer_module_t mer_payment_module;

/* The provider for a payment method, or NULL (cod). */
const mer_payment_provider_t *mer_payment_provider(const char *method);
const char *mer_pay_status_name(mer_pay_status_t s);

#endif
