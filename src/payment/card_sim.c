/*
 * card_sim.c — the simulated card acquirer (see payment.h). Deterministic by token so tests can ask for
 * each outcome; references are random like a real acquirer's.
 */
#include <sodium.h>
#include <stdio.h>

#include "payment/payment_int.h"
#include "core/banned.h"

static void new_ref(const char *prefix, char out[64])
{
    unsigned char raw[12];
    char hex[25];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(out, 64, "%s_%s", prefix, hex);
}

static void card_charge(const mer_charge_t *in, mer_pay_result_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *t = in->card_token ? in->card_token : "";
    if (strncmp(t, "tok_visa", 8) == 0 || strncmp(t, "tok_ok", 6) == 0 || strncmp(t, "tok_mastercard", 14) == 0) {
        out->status = MER_PAY_SUCCEEDED;
        new_ref("ch", out->provider_ref);
        snprintf(out->message, sizeof(out->message), "approved");
    } else if (strncmp(t, "tok_error", 9) == 0) {
        out->status = MER_PAY_ERROR;
        snprintf(out->message, sizeof(out->message), "the card network did not answer");
    } else {
        out->status = MER_PAY_DECLINED;
        snprintf(out->message, sizeof(out->message), "the card was declined");
    }
}

/* Refund references derive from the idempotency key, as an acquirer that de-duplicates would answer. */
void mer_sim_refund(const char *charge_ref, int64_t amount, const char *currency, const char *idem_key,
                    mer_pay_result_t *out)
{
    unsigned char h[12];
    char hex[25];
    (void)amount;
    (void)currency;
    memset(out, 0, sizeof(*out));
    if (charge_ref == NULL || charge_ref[0] == '\0') {
        out->status = MER_PAY_ERROR;
        snprintf(out->message, sizeof(out->message), "no charge to refund");
        return;
    }
    crypto_generichash(h, sizeof(h), (const unsigned char *)idem_key, strlen(idem_key), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    out->status = MER_PAY_SUCCEEDED;
    snprintf(out->provider_ref, sizeof(out->provider_ref), "re_%s", hex);
    snprintf(out->message, sizeof(out->message), "refunded");
}

const mer_payment_provider_t mer_card_sim = {"card", card_charge, mer_sim_refund};
