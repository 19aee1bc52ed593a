/*
 * outbox.c — writing events and the outbox's wake-up counters (the webhook signatures are core/sig.h).
 *
 * Wake-up counters. Every domain writes events (through its region's writer); the outbox must not call
 * the dispatcher for that, so it counts instead: an emit marks the writer thread (a thread-local count),
 * and the writer's commit hook, on the same thread right after the batch committed, adds one to the
 * region's counter and signals an eventfd that the dispatcher polls. A batch that rolled back does not
 * reach the hook; a savepoint rolled back inside a committed batch gives a spurious wake-up, which costs
 * one empty look.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "core/json.h"
#include "core/log.h"
#include "events/events.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

static _Thread_local unsigned long emitted_here; /* events written on this (writer) thread since its last commit */
static _Atomic uint64_t wakes[MER_MAX_REGIONS];  /* per region, in the store's order (mer_store_region_at) */
static int wake_fd = -1;                         /* set once by mer_outbox_init; never closed */

static int region_index(const char *region)
{
    for (size_t i = 0; region && i < MER_MAX_REGIONS; i++) {
        const char *name = mer_store_region_at(i);
        if (name == NULL)
            break;
        if (strcmp(name, region) == 0)
            return (int)i;
    }
    return -1;
}

static void on_commit(const char *region)
{
    if (emitted_here == 0)
        return;
    emitted_here = 0;
    int i = region_index(region);
    if (i < 0)
        return; /* catalog.db has no outbox */
    atomic_fetch_add_explicit(&wakes[i], 1, memory_order_release);
    if (eventfd_write(wake_fd, 1) != 0) {
        /* the eventfd's count is full: it is readable already */
    }
}

void mer_outbox_init(void)
{
    if (wake_fd >= 0)
        return;
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0)
        mer_die("eventfd for the outbox: %s", strerror(errno));
    mer_writer_on_commit(on_commit);
}

uint64_t mer_outbox_wakes(const char *region)
{
    int i = region_index(region);
    return i < 0 ? 0 : atomic_load_explicit(&wakes[i], memory_order_acquire);
}

int mer_outbox_wake_fd(void)
{
    return wake_fd;
}

void mer_outbox_wake_drain(void)
{
    eventfd_t n;
    if (wake_fd >= 0)
        (void)eventfd_read(wake_fd, &n);
}

int mer_event_emit_raw(mer_db_t *db, const char *type, int64_t order_id, const char *payload, size_t len)
{
    /* an event without an order (order_id 0) has order_id NULL; deferred (store/db.h): nobody reads it back
     * before the transaction's next statement, and its failure is only ever passed on */
    int rc = mer_db_defer(db, "INSERT INTO outbox (type, order_id, payload, created_at) VALUES (?, NULLIF(?, 0), ?, ?)",
                          "siSi", type, order_id, payload, len, mer_now_unix_ms());
    if (rc >= 0)
        emitted_here++;
    return rc < 0 ? rc : 0;
}

int mer_event_emit(mer_db_t *db, const char *type, int64_t order_id, json_t *payload)
{
    size_t len;
    char *body = mer_json_dump(payload, &len);
    json_decref(payload);
    int err = mer_event_emit_raw(db, type, order_id, body, len);
    free(body);
    return err;
}

void mer_event_id(const char *region, int64_t id, char out[48])
{
    snprintf(out, 48, "evt_%s_%lld", region, (long long)id);
}

int mer_event_emit_order(mer_db_t *db, const char *type, int64_t order_id)
{
    mer_rows_t *r =
        mer_db_query(db,
                     "SELECT number, status, country, currency, grand_total, refunded_total, user_id, "
                     "payment_method, payment_status, COALESCE(tracking_number, '') FROM orders WHERE id = ?",
                     "i", order_id);
    json_t *p = NULL;
    if (mer_rows_next(r))
        p = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "order_id", (json_int_t)order_id, "number",
                      mer_rows_text(r, 0), "status", mer_rows_text(r, 1), "country", mer_rows_text(r, 2), "currency",
                      mer_rows_text(r, 3), "grand_total", (json_int_t)mer_rows_int(r, 4), "refunded_total",
                      (json_int_t)mer_rows_int(r, 5), "user_id", (json_int_t)mer_rows_int(r, 6), "payment_method",
                      mer_rows_text(r, 7), "payment_status", mer_rows_text(r, 8), "tracking_number",
                      mer_rows_text(r, 9));
    int err = mer_rows_end(r);
    if (err || p == NULL) {
        json_decref(p);
        return err ? err : MER_E_NOT_FOUND;
    }
    return mer_event_emit(db, type, order_id, p);
}
