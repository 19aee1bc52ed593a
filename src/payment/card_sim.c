/*
 * card_sim.c — the simulated card acquirer (see payment.h). Deterministic by token so tests can ask for
 * each outcome; references are random like a real acquirer's.
 */
#include <sodium.h>
#include <stdio.h>

#include "payment/payment.h"
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

static void card_refund(const char *charge_ref, int64_t amount, const char *currency, mer_pay_result_t *out)
{
    (void)charge_ref;
    (void)amount;
    (void)currency;
    memset(out, 0, sizeof(*out));
    out->status = MER_PAY_SUCCEEDED;
    new_ref("re", out->provider_ref);
    snprintf(out->message, sizeof(out->message), "refunded");
}

const mer_payment_provider_t mer_card_sim = {"card", card_charge, card_refund};
