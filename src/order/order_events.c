/*
 * order_events.c — the order module's event subscribers, and the order operations it lends payment.
 *
 * Both subscribers run in-process, inside the fan-out transaction on the region's writer (events.h, the
 * subscriber table), and are idempotent on the event id:
 *   - logistics, on order.paid and on order.created of a cash-on-delivery order (status
 *     pending_shipment): books a shipment with the country's carrier and a tracking number;
 *   - notifications, on every order.* event: records "Your order <number> is now <status>".
 */
#include <sodium.h>
#include <stdio.h>

#include "events/events.h"
#include "order/order.h"
#include "order/order_events.h"
#include "order/refund.h"
#include "payment/payment.h"
#include "core/banned.h"

static int logistics_apply(mer_db_t *db, const mer_event_t *ev)
{
    char status[32], cc[8];
    /* ship when an order is paid, or right away for cash on delivery */
    if (!mer_event_str(ev, "status", status, sizeof(status)) ||
        (strcmp(status, "paid") != 0 && strcmp(status, "pending_shipment") != 0))
        return 0;
    const char *country = mer_event_str(ev, "country", cc, sizeof(cc)) ? cc : NULL;
    unsigned char raw[5];
    char tracking[40];
    randombytes_buf(raw, sizeof(raw));
    snprintf(tracking, sizeof(tracking), "%s%02X%02X%02X%02X%02X", country ? country : "XX", raw[0], raw[1], raw[2],
             raw[3], raw[4]);
    static const char *const carriers[] = {"Delhivery", "Ninja Van", "CDEK", "DHL"};
    const char *carrier = country && strcmp(country, "IN") == 0                ? carriers[0]
                          : country && strcmp(country, "RU") == 0              ? carriers[2]
                          : country && strchr("SG MY ID PH TH VN", country[0]) ? carriers[1]
                                                                               : carriers[3];
    if (mer_db_exec(db,
                    "INSERT INTO shipment (order_id, carrier, tracking_number, event_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                    "isssi", ev->order_id, carrier, tracking, ev->id, mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    /* split shipments (shipment.h): each parcel gets its own tracking number with the same carrier, the
     * first the order's booked one (a repeat finds them booked and changes nothing) */
    int64_t ids[16], seqs[16];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT s.id, s.seq, b.tracking_number FROM order_shipment s JOIN shipment b ON "
                                 "b.order_id = s.order_id WHERE s.order_id = ? AND s.status = 'pending' AND "
                                 "s.tracking_number = '' ORDER BY s.seq",
                                 "i", ev->order_id);
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(ids)) {
        ids[n] = mer_rows_int(r, 0);
        seqs[n] = mer_rows_int(r, 1);
        if (seqs[n] == 1)
            snprintf(tracking, sizeof(tracking), "%s", mer_rows_text(r, 2));
        n++;
    }
    if (mer_rows_end(r) != 0)
        return MER_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        char t[40];
        if (seqs[i] == 1) {
            snprintf(t, sizeof(t), "%s", tracking);
        } else {
            randombytes_buf(raw, sizeof(raw));
            snprintf(t, sizeof(t), "%s%02X%02X%02X%02X%02X", country ? country : "XX", raw[0], raw[1], raw[2], raw[3],
                     raw[4]);
        }
        if (mer_db_exec(db, "UPDATE order_shipment SET carrier = ?, tracking_number = ? WHERE id = ?", "ssi", carrier,
                        t, ids[i]) != 1)
            return MER_E_INTERNAL;
    }
    return 0;
}

static int notifications_apply(mer_db_t *db, const mer_event_t *ev)
{
    char number[64], status[32];
    int64_t user_id;
    if (!mer_event_str(ev, "number", number, sizeof(number)) || !mer_event_str(ev, "status", status, sizeof(status)))
        return 0; /* not an order's payload: nothing to tell */
    if (!mer_event_int(ev, "user_id", &user_id))
        user_id = -1; /* user_id NULL when the payload has none (-1 is never an id) */
    /* an order placed already paid (store credit) is announced twice, created then paid: one message each */
    char message[160];
    if (strcmp(ev->type, "order.created") == 0)
        snprintf(message, sizeof(message), "Thank you: your order %s is placed", number);
    else
        snprintf(message, sizeof(message), "Your order %s is now %s", number, status);
    return mer_db_defer(db,
                        "INSERT INTO notification (event_id, user_id, channel, message, created_at) "
                        "VALUES (?, NULLIF(?, -1), 'email', ?, ?) ON CONFLICT (event_id) DO NOTHING",
                        "sisi", ev->id, user_id, message, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

static const mer_event_subscriber_t notifications = {
    .name = "notifications",
    .events = "order.*",
    .raw = true,
    .apply = notifications_apply,
};

static const mer_event_subscriber_t logistics = {
    .name = "logistics",
    .events = "order.paid,order.created",
    .raw = true,
    .apply = logistics_apply,
};

/* ---- what payment asks of orders ---- */

static int order_refunded(mer_db_t *db, int64_t order_id)
{
    int err = mer_refund_settle_status(db, order_id);
    if (err)
        return err;
    return mer_event_emit_order(db, "order.refunded", order_id) != 0 ? MER_E_INTERNAL : 0;
}

static int order_number(mer_db_t *db, int64_t order_id, char out[MER_PAYMENT_ORDER_NUMBER_MAX])
{
    out[0] = '\0';
    mer_rows_t *r = mer_db_query(db, "SELECT number FROM orders WHERE id = ?", "i", order_id);
    if (mer_rows_next(r))
        snprintf(out, MER_PAYMENT_ORDER_NUMBER_MAX, "%s", mer_rows_text(r, 0));
    return mer_rows_end(r);
}

_Static_assert(MER_PAYMENT_ORDER_NUMBER_MAX >= MER_ORDER_NUMBER_MAX, "an order number fits payment's buffer");

static const mer_payment_order_ops_t payment_ops = {
    .charge_succeeded = mer_order_charge_succeeded,
    .refunded = order_refunded,
    .number = order_number,
};

void mer_order_events_init(void)
{
    mer_events_subscribe(&notifications);
    mer_events_subscribe(&logistics);
    mer_payment_set_order_ops(&payment_ops);
}
