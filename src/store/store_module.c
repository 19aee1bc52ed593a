/*
 * store_module.c — the store as a module of a serving process: the writers' lifecycle (one per region
 * database and one for catalog.db), the read pool, and the databases' part of /metrics and /readyz.
 */
#include <unistd.h>

#include "core/err.h"
#include "store/notify.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

static mer_exec_t *read_pool;

int mer_store_read_submit(mer_job_t *job)
{
    return read_pool ? mer_exec_submit(read_pool, job) : MER_E_UNAVAILABLE;
}

static int store_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    const char *name;
    if (mer_writer_start(MER_STORE_CATALOG) != 0)
        mer_die("cannot start the writer of the catalogue");
    for (size_t i = 0; (name = mer_store_region_at(i)) != NULL; i++)
        if (mer_writer_start(name) != 0)
            mer_die("cannot start the writer of region %s", name);
    /* one reader per core: reads of local SQLite files cost CPU, not waiting, and more threads than cores
     * only switch (measured: the flash-sale grab with first-time tokens, 4 readers 0.50 of nginx, 2 0.62) */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    read_pool = mer_exec_start("reader", (int)MER_MAX(1, MER_MIN(cores, 8)), NULL);
    return 0;
}

/* Writers drain; the listeners of other nodes' changes (started once every module's init has registered its
 * handlers: mer_notify_start in main.c), whose handlers may read, stop first. */
static void store_stop(void)
{
    mer_notify_stop();
    mer_writer_stop_all();
}

/* After the workers have exited, nothing submits reads any more: the read pool goes. */
static void store_release(void)
{
    mer_exec_stop(read_pool);
    read_pool = NULL;
}

/* Does a database answer a query on this thread's read connection? */
static bool db_answers(const char *region)
{
    int64_t one = 0;
    mer_db_t *db = mer_store_reader(region);
    return db && mer_db_query_int(db, &one, "SELECT 1", NULL) == 0;
}

static void store_ready(mer_ready_t *out)
{
    const char *name;
    out->check(out, "catalog", db_answers(MER_STORE_CATALOG));
    for (size_t i = 0; (name = mer_store_region_at(i)) != NULL; i++)
        out->check(out, name, db_answers(name));
}

const mer_module_t mer_store_module = {
    .name = "store",
    .init = store_init,
    .thread_exit = mer_store_thread_release,
    .stop_phase = MER_STOP_WRITERS,
    .stop = store_stop,
    .release = store_release,
    .metrics = mer_writer_metrics,
    .ready = store_ready,
};
