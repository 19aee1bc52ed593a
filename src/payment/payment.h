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
/* Registers POST /api/v1/payments/{provider}/webhook and loads the secrets. */
void mer_payment_http_init(void);

/* The provider for a payment method, or NULL (cod). */
const mer_payment_provider_t *mer_payment_provider(const char *method);
const char *mer_pay_status_name(mer_pay_status_t s);

#endif
