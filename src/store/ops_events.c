/*
 * ops_events.c — the outbox's backend-specific SQL (see ops_events.h). The two spellings differ only in
 * PostgreSQL's FOR UPDATE SKIP LOCKED (SQLite has one writer per database and no row locks). The outer
 * WHERE repeats the subquery's conditions: under READ COMMITTED an UPDATE that found a row changed by a
 * transaction that committed meanwhile re-checks them on the new row.
 */
#include "store/ops_events.h"

#include <string.h>

#include "core/banned.h"

static bool is_pg(mer_db_t *db)
{
    return strcmp(mer_db_backend_name(db), "postgresql") == 0;
}

mer_rows_t *mer_store_outbox_claim(mer_db_t *db, int64_t limit)
{
    if (is_pg(db))
        return mer_db_query(db,
                            "UPDATE outbox SET fanned_out = 1 WHERE fanned_out = 0 AND id IN (SELECT id FROM outbox "
                            "WHERE fanned_out = 0 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING id",
                            "i", limit);
    return mer_db_query(db,
                        "UPDATE outbox SET fanned_out = 1 WHERE fanned_out = 0 AND id IN (SELECT id FROM outbox "
                        "WHERE fanned_out = 0 ORDER BY id LIMIT ?) RETURNING id",
                        "i", limit);
}

mer_rows_t *mer_store_delivery_claim(mer_db_t *db, const char *subscriber, int64_t now, const char *node,
                                     int64_t lease_until, int64_t limit)
{
    if (is_pg(db))
        return mer_db_query(db,
                            "UPDATE event_delivery SET claimed_by = ?, lease_until = ? WHERE subscriber = ? "
                            "AND status = 'pending' AND next_attempt_at <= ? AND lease_until < ? AND event IN "
                            "(SELECT event FROM event_delivery WHERE subscriber = ? AND status = 'pending' "
                            "AND next_attempt_at <= ? AND lease_until < ? ORDER BY next_attempt_at, event LIMIT ? "
                            "FOR UPDATE SKIP LOCKED) RETURNING event",
                            "sisiisiii", node, lease_until, subscriber, now, now, subscriber, now, now, limit);
    return mer_db_query(db,
                        "UPDATE event_delivery SET claimed_by = ?, lease_until = ? WHERE subscriber = ? "
                        "AND status = 'pending' AND next_attempt_at <= ? AND lease_until < ? AND event IN "
                        "(SELECT event FROM event_delivery WHERE subscriber = ? AND status = 'pending' "
                        "AND next_attempt_at <= ? AND lease_until < ? ORDER BY next_attempt_at, event LIMIT ?) "
                        "RETURNING event",
                        "sisiisiii", node, lease_until, subscriber, now, now, subscriber, now, now, limit);
}
