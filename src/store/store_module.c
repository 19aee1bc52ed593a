/*
 * store_module.c — the store as a module of a serving process: the region writers' lifecycle, the
 * workers' read connections, and the databases' part of /metrics and /readyz.
 */
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

static int store_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    const char *name;
    for (size_t i = 0; (name = mer_store_region_at(i)) != NULL; i++)
        if (mer_writer_start(name) != 0)
            mer_die("cannot start the writer of region %s", name);
    return 0;
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
    .stop = mer_writer_stop_all,
    .metrics = mer_writer_metrics,
    .ready = store_ready,
};
