/*
 * ops_events.h — named storage operations of the outbox whose SQL is backend-specific: taking work that
 * several nodes on one region database could otherwise each do (events/events.h says what is taken).
 *
 * Both run inside the caller's writer transaction and hand the taken rows to that transaction alone:
 * another node's concurrent call never returns the same rows (PostgreSQL: the rows are locked by the
 * UPDATE and the subquery skips rows another transaction holds, FOR UPDATE SKIP LOCKED, so two nodes
 * neither wait for each other nor deadlock; SQLite: one writer per database). The caller reads the rows
 * and ends with mer_rows_end(); the rows come in no particular order.
 */
#ifndef MER_OPS_EVENTS_H
#define MER_OPS_EVENTS_H

#include "store/db.h"

/* Marks up to limit of the oldest outbox events not fanned out yet as fanned out; column: id. */
mer_rows_t *mer_store_outbox_claim(mer_db_t *db, int64_t limit);

/*
 * Claims up to limit of subscriber's pending deliveries due at now that no node holds (lease_until < now):
 * claimed_by = node, lease_until = lease_until (oldest due first); column: event.
 */
mer_rows_t *mer_store_delivery_claim(mer_db_t *db, const char *subscriber, int64_t now, const char *node,
                                     int64_t lease_until, int64_t limit);

/*
 * Claims whose node is gone (a node killed, or restarted under a new name, holding them): PostgreSQL, those of
 * a node with no connection to the database left (nodes name their connections, application_name); SQLite,
 * whose database has one node, every claim not node's. mer_store_delivery_stale says whether there are any
 * (a read, cheap: claimed rows are indexed); mer_store_delivery_release_stale frees them (writer) and returns
 * how many, or a negative error, so that they are attempted at once rather than after their lease.
 */
int mer_store_delivery_stale(mer_db_t *db, const char *node, int64_t *out);
int mer_store_delivery_release_stale(mer_db_t *db, const char *node);

#endif
