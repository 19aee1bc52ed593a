/*
 * events.h — the outbox and its dispatcher: every change that other systems must hear about (order
 * created, paid, cancelled, shipped, delivered, refunded; stock low; money to give back) is written as
 * an event row in the same transaction as the change itself, so an event exists exactly when its change
 * committed, and nothing is lost if the process dies.
 *
 * The dispatcher (one thread per node) delivers each event to every subscriber, at least once:
 *   1. fan-out: for each new event, one event_delivery row per interested subscriber (writer job);
 *   2. delivery: due rows are attempted; failures are retried with exponential back-off (base doubling
 *      per attempt, at most an hour apart) and given up ("dead", visible to admins) after 12 attempts, or
 *      at once, without another attempt, when their webhook subscription is deleted;
 *   3. outcome: results are written back through the region's writer.
 * Subscribers:
 *   - logistics      (in-process) on order.paid and COD order.created: books a shipment with a carrier
 *                    and tracking number, in the same transaction that marks the delivery done;
 *   - notifications  (in-process) records the message the customer would get, once per event;
 *   - payments       (provider call) on payment.refund_required: refunds through the provider with the
 *                    event id as idempotency key, then records the refund;
 *   - webhook:<id>   (HTTP) POSTs the event to a configured URL, signed (see README: verifying
 *                    Meridian's webhooks). A 2xx answer is success.
 * Every event carries an id ("evt_..."); a subscriber that sees an id twice must ignore the repeat.
 */
#ifndef MER_EVENTS_H
#define MER_EVENTS_H

#include <jansson.h>

#include "core/buf.h"
#include "store/db.h"

/*
 * Writes an event into the outbox of the database being written (writer thread, inside the job's
 * transaction). payload is stolen. Returns 0 or a negative error.
 */
int mer_event_emit(mer_db_t *db, const char *type, int64_t order_id, json_t *payload);

/* The same with an already serialised JSON payload. */
int mer_event_emit_raw(mer_db_t *db, const char *type, int64_t order_id, const char *payload, size_t len);
/* The public id of outbox row id in a region: "evt_<region>_<id>". out needs 48 bytes. */
void mer_event_id(const char *region, int64_t id, char out[48]);

/* Builds the standard order payload (id, number, status, country, totals, user) from the database and
 * emits `type` for it. */
int mer_event_emit_order(mer_db_t *db, const char *type, int64_t order_id);

/* Starts the dispatcher; retry_base_ms is the first back-off (doubles per attempt). */
void mer_events_start(int64_t retry_base_ms);
void mer_events_stop(void);
/* Wakes the dispatcher (called after commits that wrote events). */
void mer_events_kick(void);
/* Counts an emitted event, so the commit that carries it wakes the dispatcher. */
void mer_events_note_emit(void);

/* How an attempted delivery ended, for metrics: delivered, failed (to be retried), dead (given up). */
typedef enum {
    MER_DELIVERY_DELIVERED,
    MER_DELIVERY_FAILED,
    MER_DELIVERY_DEAD,
    MER_DELIVERY__COUNT
} mer_delivery_result_t;
/* Counts a delivery to subscriber ("webhook:<id>", "payments") whose outcome committed (dispatcher thread only). */
void mer_events_note_delivery(const char *subscriber, mer_delivery_result_t result);
/* Appends the outbox's metrics (deliveries by result, backlog per region) for /metrics. */
void mer_events_metrics(mer_buf_t *out);

/* Admin routes: webhooks and the event log. */
void mer_events_http_init(void);

/* HMAC-SHA256 signature header value "t=<unix>,v1=<hex>" of body with secret, at time t. */
void mer_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[128]);
/* Checks such a header; tolerance in seconds. Returns 0, or -1 (malformed/bad signature) / -2 (stale). */
int mer_webhook_verify(const char *secret, const char *header, size_t hlen, const char *body, size_t len,
                       int64_t now_s, int64_t tolerance_s);

#endif
