/*
 * ops_events.c — the outbox's backend-specific SQL (see ops_events.h). The two spellings differ only in
 * PostgreSQL's FOR UPDATE SKIP LOCKED (SQLite has one writer per database and no row locks). On PostgreSQL the
 * rows are chosen in a CTE, evaluated once: a "WHERE x IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" may be
 * evaluated again for each row it is joined to, each time skipping other rows, and take more than n.
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
                            "WITH c AS (SELECT id FROM outbox WHERE fanned_out = 0 ORDER BY id LIMIT ? "
                            "FOR UPDATE SKIP LOCKED) UPDATE outbox o SET fanned_out = 1 FROM c WHERE o.id = c.id "
                            "RETURNING o.id",
                            "i", limit);
    return mer_db_query(db,
                        "UPDATE outbox SET fanned_out = 1 WHERE fanned_out = 0 AND id IN (SELECT id FROM outbox "
                        "WHERE fanned_out = 0 ORDER BY id LIMIT ?) RETURNING id",
                        "i", limit);
}

int mer_store_delivery_stale(mer_db_t *db, const char *node, int64_t *out)
{
    if (is_pg(db))
        return mer_db_query_int(db, out,
                                "SELECT EXISTS (SELECT 1 FROM event_delivery WHERE lease_until > 0 AND claimed_by <> ? "
                                "AND claimed_by NOT IN (SELECT application_name FROM pg_stat_activity "
                                "WHERE datname = current_database()))",
                                "s", node);
    return mer_db_query_int(
        db, out, "SELECT EXISTS (SELECT 1 FROM event_delivery WHERE lease_until > 0 AND claimed_by <> ?)", "s", node);
}

int mer_store_delivery_release_stale(mer_db_t *db, const char *node)
{
    if (is_pg(db))
        return mer_db_exec(db,
                           "UPDATE event_delivery SET claimed_by = NULL, lease_until = 0 WHERE lease_until > 0 "
                           "AND claimed_by <> ? AND claimed_by NOT IN (SELECT application_name FROM pg_stat_activity "
                           "WHERE datname = current_database())",
                           "s", node);
    return mer_db_exec(db,
                       "UPDATE event_delivery SET claimed_by = NULL, lease_until = 0 WHERE lease_until > 0 "
                       "AND claimed_by <> ?",
                       "s", node);
}

mer_rows_t *mer_store_delivery_claim(mer_db_t *db, const char *subscriber, int64_t now, const char *node,
                                     int64_t lease_until, int64_t limit)
{
    if (is_pg(db))
        return mer_db_query(db,
                            "WITH c AS (SELECT event FROM event_delivery WHERE subscriber = ? AND status = 'pending' "
                            "AND next_attempt_at <= ? AND lease_until < ? ORDER BY next_attempt_at, event LIMIT ? "
                            "FOR UPDATE SKIP LOCKED) UPDATE event_delivery d SET claimed_by = ?, lease_until = ? "
                            "FROM c WHERE d.subscriber = ? AND d.event = c.event RETURNING d.event",
                            "siiisis", subscriber, now, now, limit, node, lease_until, subscriber);
    return mer_db_query(db,
                        "UPDATE event_delivery SET claimed_by = ?, lease_until = ? WHERE subscriber = ? "
                        "AND status = 'pending' AND next_attempt_at <= ? AND lease_until < ? AND event IN "
                        "(SELECT event FROM event_delivery WHERE subscriber = ? AND status = 'pending' "
                        "AND next_attempt_at <= ? AND lease_until < ? ORDER BY next_attempt_at, event LIMIT ?) "
                        "RETURNING event",
                        "sisiisiii", node, lease_until, subscriber, now, now, subscriber, now, now, limit);
}
