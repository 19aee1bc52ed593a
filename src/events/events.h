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
 *   3. outcome: results are written back through the region's writer, with the attempt's result
 *      (delivered, http_error, timeout, connect_error, refused, error).
 * Webhook deliveries run concurrently (libcurl's multi interface, on the dispatcher thread) and one
 * subscriber cannot stall the others: each has at most a few transfers in flight, its own back-off
 * after a failure (no new attempts to it until then; the others go on), and every transfer has connect
 * and total timeouts; the total in flight is bounded too. Deliveries to loopback and private addresses
 * are refused at connect time unless allowed (see egress.c and mer_events_config_t).
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
#include "module.h"
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

/* Where webhooks may connect to, beyond public addresses (serve --webhook-allow-loopback / -private). */
#define MER_EGRESS_LOOPBACK 1u /* 127/8, 0/8, ::1, :: */
#define MER_EGRESS_PRIVATE 2u  /* 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, ... (the list: egress.c) */

typedef struct mer_events_config {
    int64_t retry_base_ms;      /* first back-off of a failed delivery (doubles per attempt); 0 = 1000 */
    int64_t webhook_timeout_ms; /* a webhook transfer's total time limit; 0 = 10000 (connect: a third) */
    unsigned egress_allow;      /* MER_EGRESS_* bits */
} mer_events_config_t;

/* Sets the dispatcher's options (start-up, before the module's init). */
void mer_events_configure(const mer_events_config_t *cfg);
/* Starts the dispatcher (the module's init) and stops it (its stop, with the producers of writes). */
void mer_events_start(void);
void mer_events_stop(void);
/* Wakes the dispatcher (called after commits that wrote events); any thread. */
void mer_events_kick(void);
/* Ends the back-off of a webhook subscriber ("webhook:<id>") and wakes the dispatcher, so that a delivery
 * an admin asked for again is attempted now even if the subscriber has been failing; any thread. */
void mer_events_probe(const char *subscriber);
/* The MER_EGRESS_* bits the dispatcher was started with. */
unsigned mer_events_egress_allow(void);

/*
 * The address policy (egress.c). mer_webhook_addr_check: may a webhook connect to this address?
 * Returns 0, or -1 with the reason ("refused: 127.0.0.1 is a loopback address ...") in why.
 * mer_webhook_url_check: is url an http(s) URL whose host is not a literal refused address (nor
 * "localhost")? Names are checked when resolved, at connect time. Returns 0, or -1 with the reason.
 */
struct sockaddr;
int mer_webhook_addr_check(const struct sockaddr *sa, unsigned allow, char *why, size_t cap);
int mer_webhook_url_check(const char *url, unsigned allow, char *why, size_t cap);
/* Counts an emitted event, so the commit that carries it wakes the dispatcher. */
void mer_events_note_emit(void);

/* Does a subscription's event list ("order.paid,order.*", "*") take events of this type? */
bool mer_events_wants(const char *list, const char *type);
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

/*
 * The events module (events_http.c): the admin routes (webhooks and the event log), the dispatcher's
 * lifecycle and the outbox metrics.
 */
extern const mer_module_t mer_events_module;

/* HMAC-SHA256 signature header value "t=<unix>,v1=<hex>" of body with secret, at time t. */
void mer_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[128]);
/* Checks such a header; tolerance in seconds. Returns 0, or -1 (malformed/bad signature) / -2 (stale). */
int mer_webhook_verify(const char *secret, const char *header, size_t hlen, const char *body, size_t len, int64_t now_s,
                       int64_t tolerance_s);
/*
 * The same against several secrets (a rotation: the new one and the one it replaces; NULL or "" entries
 * are skipped). The header's comma-separated parts may come in any order and carry up to 8 `v1=` values
 * (a sender signing with each of its secrets); it verifies when any v1 matches any secret. Parts with
 * other keys (`v0=...`) are ignored; a missing or repeated `t`, no `v1`, or a header longer than
 * MER_WEBHOOK_SIG_MAX is malformed (-1).
 */
#define MER_WEBHOOK_SIG_MAX 1024
int mer_webhook_verify_any(const char *const *secrets, size_t nsecrets, const char *header, size_t hlen,
                           const char *body, size_t len, int64_t now_s, int64_t tolerance_s);

#endif
