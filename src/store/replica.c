/*
 * replica.c — the hub's publication and a region's subscription (see replica.h). The statements are
 * PostgreSQL's DDL, which takes no parameters: table and trigger names come from schema.c, the subscription's
 * name and connection are quoted by the server's own rules (mer_db_quote).
 */
#include "store/replica.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

int mer_replica_publish(mer_db_t *hub)
{
    if (!mer_db_has_table(hub, "schema_version")) {
        mer_log_error("%s holds no catalogue: seed the hub first (meridian seed --catalog-db URL)", mer_db_path(hub));
        return MER_E_NOT_FOUND;
    }
    int64_t have = 0;
    int err = mer_db_query_int(hub, &have, "SELECT COUNT(*) FROM pg_publication WHERE pubname = ?", "s",
                               MER_REPLICA_PUBLICATION);
    if (err)
        return err;
    mer_buf_t sql = MER_BUF_INIT;
    mer_buf_printf(&sql, have ? "ALTER PUBLICATION %s SET TABLE " : "CREATE PUBLICATION %s FOR TABLE ",
                   MER_REPLICA_PUBLICATION);
    for (size_t i = 0; i < mer_schema_replicated_n; i++)
        mer_buf_printf(&sql, "%s%s", i ? ", " : "", mer_schema_replicated[i].table);
    err = mer_db_script(hub, mer_buf_str(&sql));
    mer_buf_release(&sql);
    return err;
}

static bool good_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return false;
    return true;
}

/* One statement of the copy's triggers; table, topic and key are schema.c's constants. */
static int run_fmt(mer_db_t *db, const char *fmt, ...) MER_PRINTF(2, 3);
static int run_fmt(mer_db_t *db, const char *fmt, ...)
{
    mer_buf_t b = MER_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mer_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    int err = mer_db_script(db, mer_buf_str(&b));
    mer_buf_release(&b);
    return err;
}

static int install_triggers(mer_db_t *copy)
{
    int err = mer_db_script(copy, mer_schema_replica_functions);
    for (size_t i = 0; i < mer_schema_replicated_n && err == 0; i++) {
        const mer_replicated_table_t *t = &mer_schema_replicated[i];
        err = run_fmt(copy,
                      "DROP TRIGGER IF EXISTS meridian_guard ON %s;"
                      "CREATE TRIGGER meridian_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s "
                      "FOR EACH STATEMENT EXECUTE FUNCTION meridian_replica_guard();"
                      "DROP TRIGGER IF EXISTS meridian_note ON %s",
                      t->table, t->table, t->table);
        if (err == 0 && t->topic)
            err = run_fmt(copy,
                          "CREATE TRIGGER meridian_note AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW "
                          "EXECUTE FUNCTION meridian_replica_note('%s', '%s');"
                          "ALTER TABLE %s ENABLE ALWAYS TRIGGER meridian_note",
                          t->table, t->topic, t->key, t->table);
    }
    return err;
}

int mer_replica_subscribe(mer_db_t *copy, const char *hub_url, const char *name)
{
    if (!good_name(name) || !mer_db_is_url(hub_url))
        return MER_E_VALIDATION;
    int err = mer_db_migrate(copy, mer_schema_catalog, mer_schema_catalog_n);
    if (err == 0)
        err = install_triggers(copy);
    if (err)
        return err;
    char sub[48];
    snprintf(sub, sizeof(sub), "meridian_%s", name);
    int64_t have = 0;
    if ((err = mer_db_query_int(copy, &have, "SELECT COUNT(*) FROM pg_subscription WHERE subname = ?", "s", sub)))
        return err;
    char *ident = mer_db_quote(copy, sub, true), *conn = mer_db_quote(copy, hub_url, false);
    if (ident == NULL || conn == NULL)
        err = MER_E_INTERNAL;
    /* CREATE and ALTER SUBSCRIPTION run outside a transaction: one statement per script */
    else if (have)
        err = run_fmt(copy, "ALTER SUBSCRIPTION %s CONNECTION %s", ident, conn) ||
                      run_fmt(copy, "ALTER SUBSCRIPTION %s ENABLE", ident) ||
                      run_fmt(copy, "ALTER SUBSCRIPTION %s REFRESH PUBLICATION", ident)
                  ? MER_E_INTERNAL
                  : 0;
    else
        err =
            run_fmt(copy, "CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s", ident, conn, MER_REPLICA_PUBLICATION);
    free(ident);
    free(conn);
    return err;
}

int mer_replica_wait(mer_db_t *copy, const char *name, int timeout_ms)
{
    char sub[48];
    snprintf(sub, sizeof(sub), "meridian_%s", name);
    for (int waited = 0;; waited += 100) {
        int64_t pending = 0, tables = 0;
        int err = mer_db_query_int(copy, &tables,
                                   "SELECT COUNT(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = "
                                   "r.srsubid WHERE s.subname = ?",
                                   "s", sub);
        if (err == 0)
            err = mer_db_query_int(copy, &pending,
                                   "SELECT COUNT(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = "
                                   "r.srsubid WHERE s.subname = ? AND r.srsubstate NOT IN ('r', 's')",
                                   "s", sub);
        if (err)
            return err;
        if (tables > 0 && pending == 0)
            return 0;
        if (waited >= timeout_ms)
            return MER_E_UNAVAILABLE;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
}
