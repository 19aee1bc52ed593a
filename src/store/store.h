/*
 * store.h — the databases of one node and who may use which connection.
 *
 * Layout under the data directory (--data):
 *     catalog.db          the catalogue hub's data as this node sees it: regions, countries, categories,
 *                         products, SKUs, translations, price lists, staff accounts. Not personal data.
 *     region-<name>.db    one per region this node serves: that region's customers, addresses, carts,
 *                         orders, payments, stock. A region's personal data is never written anywhere else.
 *
 * Connections. Each database has one writer connection, used under its mutex (mer_store_write_begin /
 * _end); the order path batches many requests into one writer transaction (group commit). Each worker
 * thread has its own read-only connection per database (WAL lets reads run beside the writer), opened on
 * first use and closed when the worker stops.
 */
#ifndef MER_STORE_H
#define MER_STORE_H

#include "module.h"
#include "store/db.h"

#define MER_STORE_CATALOG NULL /* the "region" argument that names catalog.db */

/* Opens (creating and migrating) catalog.db under dir. Start-up only. Returns 0 or a negative error. */
int mer_store_init(const char *dir);
/* Opens (creating and migrating) region-<name>.db. Start-up only. */
int mer_store_open_region(const char *name);
void mer_store_shutdown(void);
/* The name of the i-th region database open (in the order opened), or NULL when i is past the last. */
const char *mer_store_region_at(size_t i);
const char *mer_store_dir(void);

/*
 * Locks the writer of a database and returns it; region NULL = catalog.db. NULL if this node does not
 * hold that region. Pair with mer_store_write_end().
 */
mer_db_t *mer_store_write_begin(const char *region);
void mer_store_write_end(const char *region);

/* The calling thread's read connection to a database (region NULL = catalog.db), or NULL. */
mer_db_t *mer_store_reader(const char *region);
/* Closes the calling thread's read connections (worker exit). */
void mer_store_thread_release(void);

/*
 * The store as a module (store_module.c): init starts the writer of every region database open; each
 * worker closes its read connections on exit; the writers drain at MER_STOP_WRITERS; /metrics gets the
 * writers' series and /readyz one check per database ("catalog", then each region's name).
 */
extern const mer_module_t mer_store_module;

/* The migrations of each kind of database (src/store/schema.c). */
extern const mer_migration_t mer_schema_catalog[];
extern const size_t mer_schema_catalog_n;
extern const mer_migration_t mer_schema_region[];
extern const size_t mer_schema_region_n;

#endif
