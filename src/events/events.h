/*
 * events.h — the outbox and its dispatcher: every change that other systems must hear about (order
 * created, paid, cancelled, shipped, delivered, refunded; stock low; money to give back) is written as
 * an event row in the same transaction as the change itself, so an event exists exactly when its change
 * committed, and nothing is lost if the process dies.
 *
 * The dispatcher (one thread per node) delivers each event to every subscriber, at least once:
 *   1. fan-out: for each new event, one event_delivery row per interested subscriber (writer job; an
 *      in-process subscriber applies its effect in that job instead);
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
 * Subscribers. The dispatcher knows none of the built-in ones by name: a domain registers its own in
 * the subscriber table (mer_events_subscribe) at its init. Today:
 *   - logistics      (order, in-process) on order.paid and COD order.created: books a shipment with a
 *                    carrier and tracking number, in the fan-out transaction;
 *   - notifications  (order, in-process) records the message the customer would get, once per event;
 *   - payments       (payment, provider call) on payment.refund_required: refunds through the provider
 *                    with the event id as idempotency key, then records the refund (and the order's
 *                    payment status follows, through the order module's callback, payment.h);
 *   - webhook:<id>   (HTTP, the dispatcher's own) POSTs the event to a configured URL, signed (see README:
 *                    verifying Meridian's webhooks). A 2xx answer is success.
 * Several nodes on one region database each run a dispatcher, and still each event is fanned out by one
 * pass and each delivery attempted by one node at a time: a fan-out pass takes its events in its own
 * transaction (store/ops_events.h), and a due delivery row is claimed (claimed_by, lease_until) before it
 * is attempted; its outcome is written only while the claim is the node's, and a claim whose node died
 * is freed as soon as the database sees that node gone (store/ops_events.h), at the latest when its lease
 * (twice the webhook time limit, plus 2 s) runs out.
 * The outbox does not call the dispatcher: each commit that carried events moves its region's wake-up
 * counter (mer_outbox_wakes), and the dispatcher waits for the counters to move.
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

/*
 * The outbox's wake-up counters (outbox.c). Each commit of a region's writer that carried events adds one
 * to that region's counter; a reader waits for a counter to move instead of being called. mer_outbox_init
 * (the events module's init, before the dispatcher starts) registers the commit hook. mer_outbox_wakes: a
 * region's counter (0 for a region the store has not opened); any thread. mer_outbox_wake_fd: a
 * descriptor that becomes readable when any counter moves (poll it; mer_outbox_wake_drain re-arms it),
 * -1 before init.
 */
void mer_outbox_init(void);
uint64_t mer_outbox_wakes(const char *region);
int mer_outbox_wake_fd(void);
void mer_outbox_wake_drain(void);

/* ---- the subscriber table (subscribers.c) ----
 *
 * A subscriber built into the process, registered by its domain at init (before the events module's init
 * starts the dispatcher; in module table order, domains come first). It is one of two kinds:
 *   - in-process (apply set): apply runs for every event it takes, on the region's writer thread inside
 *     the fan-out transaction, so its effect commits together with the event's fan-out. It must be
 *     idempotent on ev->id. An error rolls the whole fan-out pass back; the pass is tried again later.
 *   - a call outside the process (attempt set, e.g. a payment provider): each event it takes gets a
 *     delivery row, attempted at least once with back-off like a webhook's. attempt runs on the dispatcher
 *     thread outside any transaction (it may block on the network) and returns 0 (done; it may leave a
 *     reference for record in ref) or non-zero with the reason in why. record (optional) then runs in the
 *     transaction that marks the delivery done, so its effect commits with that mark; an error from it
 *     rolls its effect back and counts as a failed attempt.
 */
typedef struct mer_event {
    int64_t seq;         /* n: the outbox row's id in its region */
    const char *id;      /* "evt_<region>_<n>": the key to de-duplicate on */
    const char *region;  /* the region whose outbox holds it */
    const char *type;    /* "order.paid" */
    int64_t order_id;    /* 0: not about an order */
    const char *payload; /* the JSON text */
    json_t *data;        /* payload parsed (borrowed; NULL when it is not JSON) */
} mer_event_t;

#define MER_EVENT_REF_MAX 64 /* what an attempt hands to record (a provider's reference), NUL included */

typedef struct mer_event_subscriber {
    const char *name;   /* unique, 1..31 characters, not "webhook:..." (delivery rows and metrics use it) */
    const char *events; /* the event types it takes, as mer_events_wants reads them: "order.paid,order.*" */
    /* an in-process one that reads the payload's text itself (mer_event_str, mer_event_int): the fan-out
     * then does not parse the payload for it (ev->data may be NULL); false: ev->data is the parsed payload */
    bool raw;
    int (*apply)(mer_db_t *db, const mer_event_t *ev);
    int (*attempt)(const mer_event_t *ev, char ref[MER_EVENT_REF_MAX], char *why, size_t cap);
    int (*record)(mer_db_t *db, const mer_event_t *ev, const char *ref);
} mer_event_subscriber_t;

/* A string member of ev's payload, unescaped into out (cap bytes), or an integer one; false when absent, of
 * another type, or too long for out. Reads the payload's text (core/json.h: mer_json_text_str), no tree. */
bool mer_event_str(const mer_event_t *ev, const char *key, char *out, size_t cap);
bool mer_event_int(const mer_event_t *ev, const char *key, int64_t *out);

#define MER_EVENTS_MAX_BUILTIN 16 /* built-in subscribers at most */
/* Adds s (static storage) to the table; start-up only (mer_die on a full table or a repeated name). */
void mer_events_subscribe(const mer_event_subscriber_t *s);
/* The registered subscriber called name, or NULL; the i-th one (NULL past the last). */
const mer_event_subscriber_t *mer_events_subscriber(const char *name);
const mer_event_subscriber_t *mer_events_subscriber_at(size_t i);
/*
 * Fans one event out to the table (writer thread, inside the fan-out transaction): applies it to every
 * in-process subscriber that takes it and writes a delivery row (due at now) for every other one. ev->data
 * may be NULL: it is parsed here when a subscriber that is not raw takes the event. Returns 0 or the first
 * error.
 */
int mer_events_fan_out_one(mer_db_t *db, const mer_event_t *ev, int64_t now);

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
/* Wakes the dispatcher (events are woken for by the outbox's counters; this is for anything else); any
 * thread. */
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

/* Does a subscription's event list ("order.paid,order.*", "*") take events of this type? */
bool mer_events_wants(const char *list, const char *type);
/* How an attempted delivery ended, for metrics: delivered, failed (to be retried), dead (given up). */
typedef enum {
    MER_DELIVERY_DELIVERED,
    MER_DELIVERY_FAILED,
    MER_DELIVERY_DEAD,
    MER_DELIVERY__COUNT
} mer_delivery_result_t;
/* Counts a delivery to subscriber ("webhook:<id>", or a built-in one that calls out, e.g. "payments") whose
 * outcome committed (dispatcher thread only). */
void mer_events_note_delivery(const char *subscriber, mer_delivery_result_t result);
/* Appends the outbox's metrics (deliveries by result, backlog per region) for /metrics. */
void mer_events_metrics(mer_buf_t *out);

/*
 * The events module (events_http.c): the admin routes (webhooks and the event log), the dispatcher's
 * lifecycle and the outbox metrics.
 */
extern const mer_module_t mer_events_module;

#endif
