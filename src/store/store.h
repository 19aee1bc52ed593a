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

#include "core/exec.h"
#include "module.h"
#include "store/db.h"

#define MER_STORE_CATALOG NULL /* the "region" argument that names catalog.db */
#define MER_MAX_REGIONS 16     /* region databases at most */
#define MER_REGION_NAME_MAX 16 /* a region's name ("in", "eu"), NUL included: region-<name>.db */

/*
 * Where the databases live when not in the data directory: catalog, a database URL for the catalogue
 * (NULL or "": catalog.db); regions, "name=URL,name=URL" (a region not listed: region-<name>.db). URLs are
 * PostgreSQL's ("postgresql://user@host:port/db", store/db.h). Start-up only, before mer_store_init.
 * Returns 0, or MER_E_VALIDATION for a list it cannot read (nothing is set then).
 */
int mer_store_locate(const char *catalog, const char *regions);
/*
 * A region's replica of the catalogue (store/replica.h): the catalogue located by mer_store_locate is the
 * region's copy, which the hub's logical replication fills and which refuses writes; url is the hub's
 * database, where the catalogue's writer jobs run (mer_store_job_begin), so that admin changes are made once,
 * at the hub, and come back through replication. Reads, the snapshot and the listener stay on the copy: the
 * region keeps serving what it has while the hub is down (its catalogue writes then answer 503 unavailable).
 * NULL or "": none. Start-up only, before mer_store_init. Returns 0 or MER_E_VALIDATION (not a URL).
 */
int mer_store_locate_hub(const char *url);
/* Is the catalogue a replica written at a hub (mer_store_locate_hub)? */
bool mer_store_catalog_replica(void);
/* Is the catalogue in a database server (a URL given to mer_store_locate) rather than a file? */
bool mer_store_catalog_remote(void);

/* Is there a Meridian store: catalog.db under dir, or a located catalogue database that has been migrated
 * (an empty PostgreSQL database is no store yet)? Start-up only, after mer_store_locate. Returns 1 or 0, or
 * a negative error when the catalogue's database server cannot be reached (logged). */
int mer_store_exists(const char *dir);
/* Opens (creating and migrating) catalog.db under dir, or the located catalogue. Start-up only. Returns 0
 * or a negative error. */
int mer_store_init(const char *dir);
/* Opens (creating and migrating) region-<name>.db. Start-up only. */
int mer_store_open_region(const char *name);
void mer_store_shutdown(void);
/* The name of the i-th region database open (in the order opened), or NULL when i is past the last. */
const char *mer_store_region_at(size_t i);
const char *mer_store_dir(void);
/* Where a database (region NULL = the catalogue) was opened from: a file path or a URL (with its password:
 * never log it, mer_db_redact). NULL if this node does not hold it. */
const char *mer_store_location(const char *region);
/* Is a database this node holds (region NULL = the catalogue) in a database server, where every statement
 * that waits for its result is a network round trip, rather than a file? Any thread. */
bool mer_store_remote(const char *region);

/*
 * Locks the writer of a database and returns it; region NULL = catalog.db. NULL if this node does not
 * hold that region. Pair with mer_store_write_end(). For start-up, the command line and the writer
 * threads; never on an event loop (while serving, writes are writer jobs: store/writer.h).
 */
#define mer_store_write_begin(region) mer_store_write_begin_at((region), __FILE__, __LINE__)
mer_db_t *mer_store_write_begin_at(const char *region, const char *file, int line);
void mer_store_write_end(const char *region);
/*
 * Same lock, but the connection where that database's changes are made: the hub's for a replica catalogue
 * (mer_store_locate_hub), else the one mer_store_write_begin returns. The writer thread's batches
 * (store/writer.h) and start-up code that allocates catalogue ids use it. Pair with mer_store_write_end().
 */
#define mer_store_job_begin(region) mer_store_job_begin_at((region), __FILE__, __LINE__)
mer_db_t *mer_store_job_begin_at(const char *region, const char *file, int line);

/*
 * The calling thread's read connection to a database (region NULL = catalog.db), or NULL. Never on an
 * event loop (the loop rule, core/exec.h: debug builds abort): request handlers read in a job on the read
 * pool (mer_store_read_submit) or inside a writer job.
 */
#define mer_store_reader(region) mer_store_reader_at((region), __FILE__, __LINE__)
mer_db_t *mer_store_reader_at(const char *region, const char *file, int line);
/* Closes the calling thread's read connections (a read-pool or background thread's exit). */
void mer_store_thread_release(void);

/*
 * The read pool: threads with their own read connections, for the reads a request needs. job->work()
 * runs on a pool thread (and calls mer_store_reader there), job->done() back on the submitting loop.
 * Returns 0, or MER_E_UNAVAILABLE (not serving, or stopping) without queuing. Started by the store
 * module's init; stops with the pools (MER_STOP_POOLS).
 */
int mer_store_read_submit(mer_job_t *job);

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

/* The catalogue's tables the hub replicates to the regions, and the note each replicated row sends
 * (schema.c, store/replica.h). */
typedef struct mer_replicated_table {
    const char *table;
    const char *topic; /* store/notify.h's topic, NULL: none */
    const char *key;   /* the column naming the product ("sku_id": through the SKU), "": none */
} mer_replicated_table_t;
extern const mer_replicated_table_t mer_schema_replicated[];
extern const size_t mer_schema_replicated_n;
/* The functions of the replicated catalogue's triggers (PostgreSQL). */
extern const char mer_schema_replica_functions[];

#endif
