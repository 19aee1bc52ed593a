/*
 * replica.h — the catalogue hub and its regions' copies: PostgreSQL logical replication, set up and watched.
 *
 * Worldwide (README "Running worldwide"), the catalogue is written once, in the hub's database, and every
 * region holds a copy in its own PostgreSQL that the hub's publication fills (a subscription per region). The
 * copy is read-only to everyone but the replication worker, and its replicated rows send the notes a catalogue
 * writer sends (store/notify.h), so the region's nodes, which listen on the copy, reload what changed. A region
 * node writes the catalogue at the hub (mer_store_locate_hub); while the hub is down it sells on its copy and
 * the changes made meanwhile arrive when the hub returns (the hub's replication slot keeps them for the region,
 * so a region that was down catches up as well).
 *
 * What is replicated, with the note of each table: mer_schema_replicated (schema.c). Customer, order, stock and
 * payment data are in the region databases, which no publication names: they never leave their region. Ids
 * are given out at the hub only (sequences are not replicated, and a copy takes no writes).
 *
 * Every function here is for `meridian replica` and tests, never on an event loop. Each is idempotent: run
 * again after a migration that added a table, it brings the publication and the subscription up to date.
 */
#ifndef MER_REPLICA_H
#define MER_REPLICA_H

#include "store/db.h"

#define MER_REPLICA_PUBLICATION "meridian_catalog"

/* On the hub (migrated): creates the publication of the replicated tables, or sets it to the current list.
 * The hub's server needs wal_level=logical. Returns 0 or a negative error (logged). */
int mer_replica_publish(mer_db_t *hub);
/*
 * In a region's copy (an empty database, or a copy made before): migrates it to the current catalogue schema,
 * installs the note and read-only triggers, and subscribes it to the hub's publication as
 * "meridian_<name>" (the hub keeps a replication slot of that name: one name per region), hub_url being how
 * the copy's server reaches the hub; a subscription that exists is refreshed (new tables are copied).
 * name: 1-32 of [a-z0-9_]. Returns 0, MER_E_VALIDATION for a bad name, or another negative error (logged).
 */
int mer_replica_subscribe(mer_db_t *copy, const char *hub_url, const char *name);
/* Waits up to timeout_ms until every table of the subscription has its initial copy. Returns 0 or
 * MER_E_UNAVAILABLE (not yet). */
int mer_replica_wait(mer_db_t *copy, const char *name, int timeout_ms);

#endif
