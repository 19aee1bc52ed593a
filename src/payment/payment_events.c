/*
 * payment_events.c — the payments event subscriber: money an order must give back.
 *
 * payment.refund_required (written with the refund row, pending) is delivered to the provider that took
 * the charge: the refund is asked for with the event id as the idempotency key, so a retry never refunds
 * twice. Once the provider confirmed it, the refund row is recorded succeeded in the same transaction that
 * marks the delivery done, and the order's payment status follows (mer_payment_refund_confirmed).
 */
#include <stdio.h>

#include "events/events.h"
#include "payment/payment_int.h"
#include "core/banned.h"

/* Dispatcher thread, outside any transaction: the provider call. */
static int refund_attempt(const mer_event_t *ev, char ref[MER_EVENT_REF_MAX], char *why, size_t cap)
{
    const char *provider = json_string_value(json_object_get(ev->data, "provider"));
    const char *charge = json_string_value(json_object_get(ev->data, "charge_ref"));
    const char *currency = json_string_value(json_object_get(ev->data, "currency"));
    int64_t amount = json_integer_value(json_object_get(ev->data, "amount"));
    const mer_payment_provider_t *pp = provider ? mer_payment_provider(provider) : NULL;
    if (pp == NULL) {
        snprintf(why, cap, "no provider %s", provider ? provider : "(none)");
        return -1;
    }
    mer_pay_result_t res;
    memset(&res, 0, sizeof(res));
    pp->refund(charge, amount, currency ? currency : "", ev->id, &res);
    if (res.status != MER_PAY_SUCCEEDED) {
        snprintf(why, cap, "%s", res.message);
        return -1;
    }
    snprintf(ref, MER_EVENT_REF_MAX, "%s", res.provider_ref);
    return 0;
}

/* Writer thread, in the transaction that marks the delivery done: the confirmed refund. */
static int refund_record(mer_db_t *db, const mer_event_t *ev, const char *ref)
{
    int64_t payment_id = json_integer_value(json_object_get(ev->data, "payment_id"));
    int rc = mer_payment_refund_confirmed(db, payment_id, ref);
    return rc < 0 ? rc : 0;
}

static const mer_event_subscriber_t payments = {
    .name = "payments",
    .events = "payment.refund_required",
    .attempt = refund_attempt,
    .record = refund_record,
};

void mer_payment_events_register(void)
{
    mer_events_subscribe(&payments);
}
