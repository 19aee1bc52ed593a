/*
 * events_metrics.c — the outbox's metrics: deliveries by subscriber and result (counted by the
 * dispatcher after the outcome committed; webhooks together, and each built-in subscriber that calls
 * out), and the backlog of each local region, read at scrape time (on the read pool, module.h).
 *
 * The backlog is an event not delivered yet: not fanned out, or with a delivery still pending (being
 * retried). Both sets are read through partial indexes (outbox_pending, event_delivery_due), so a scrape
 * costs in proportion to the backlog, not to the outbox's history.
 */
#include <stdatomic.h>

#include "core/metrics.h"
#include "events/events.h"
#include "region/country.h"
#include "store/store.h"
#include "core/banned.h"

static const char *const results[MER_DELIVERY__COUNT] = {"delivered", "failed", "dead"};
/* by kind: 0 = every webhook, 1 + i = the i-th built-in subscriber (those that call out are counted);
 * written by the dispatcher thread only */
static _Atomic uint64_t deliveries[1 + MER_EVENTS_MAX_BUILTIN][MER_DELIVERY__COUNT];

static size_t kind_of(const char *subscriber)
{
    if (strncmp(subscriber, "webhook:", 8) == 0)
        return 0;
    const mer_event_subscriber_t *s;
    for (size_t i = 0; (s = mer_events_subscriber_at(i)) != NULL; i++)
        if (strcmp(s->name, subscriber) == 0)
            return 1 + i;
    return SIZE_MAX;
}

void mer_events_note_delivery(const char *subscriber, mer_delivery_result_t result)
{
    size_t k = kind_of(subscriber);
    if (k != SIZE_MAX && result >= 0 && result < MER_DELIVERY__COUNT)
        mer_stat_add(&deliveries[k][result], 1);
}

static void deliveries_line(mer_buf_t *out, const char *kind, size_t k)
{
    for (int r = 0; r < MER_DELIVERY__COUNT; r++)
        mer_buf_printf(out, "meridian_event_deliveries_total{subscriber=\"%s\",result=\"%s\"} %llu\n", kind, results[r],
                       (unsigned long long)mer_stat_get(&deliveries[k][r]));
}

void mer_events_metrics(mer_buf_t *out)
{
    mer_prom_family(out, "meridian_event_deliveries_total", "counter",
                    "Event deliveries attempted, by subscriber kind and result (failed: to be retried; dead: "
                    "given up).");
    deliveries_line(out, "webhook", 0);
    const mer_event_subscriber_t *s;
    for (size_t i = 0; (s = mer_events_subscriber_at(i)) != NULL; i++)
        if (s->attempt)
            deliveries_line(out, s->name, 1 + i);

    const mer_countries_t *cs = mer_countries();
    int64_t count[MER_MAX_REGIONS] = {0}, oldest[MER_MAX_REGIONS] = {0};
    bool known[MER_MAX_REGIONS] = {false};
    for (size_t i = 0; i < cs->nregions && i < MER_MAX_REGIONS; i++) {
        mer_db_t *db = cs->regions[i].local ? mer_store_reader(cs->regions[i].name) : NULL;
        if (db == NULL)
            continue;
        mer_rows_t *r = mer_db_query(db,
                                     "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbox WHERE id IN "
                                     "(SELECT id FROM outbox WHERE fanned_out = 0 UNION "
                                     "SELECT event FROM event_delivery WHERE status = 'pending')",
                                     NULL);
        if (mer_rows_next(r)) {
            count[i] = mer_rows_int(r, 0);
            oldest[i] = mer_rows_int(r, 1);
        }
        known[i] = mer_rows_end(r) == 0;
    }
    int64_t now = mer_now_unix_ms();
    mer_buf_t lb = MER_BUF_INIT;
    mer_prom_family(out, "meridian_outbox_backlog", "gauge",
                    "Events not delivered yet (not fanned out, or a delivery pending), per region.");
    for (size_t i = 0; i < cs->nregions && i < MER_MAX_REGIONS; i++) {
        if (!known[i])
            continue;
        mer_buf_reset(&lb);
        mer_prom_label(&lb, "region", cs->regions[i].name);
        mer_buf_printf(out, "meridian_outbox_backlog{%s} %lld\n", mer_buf_str(&lb), (long long)count[i]);
    }
    mer_prom_family(out, "meridian_outbox_oldest_undelivered_seconds", "gauge",
                    "Age of the oldest event not delivered yet, per region (0 when none).");
    for (size_t i = 0; i < cs->nregions && i < MER_MAX_REGIONS; i++) {
        if (!known[i])
            continue;
        int64_t age = count[i] && oldest[i] && now > oldest[i] ? now - oldest[i] : 0;
        mer_buf_reset(&lb);
        mer_prom_label(&lb, "region", cs->regions[i].name);
        mer_buf_printf(out, "meridian_outbox_oldest_undelivered_seconds{%s} ", mer_buf_str(&lb));
        mer_prom_scaled(out, (uint64_t)age, 3);
        mer_buf_addch(out, '\n');
    }
    mer_buf_release(&lb);
}
