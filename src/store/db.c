/*
 * db.c — store/db.h's public functions: the backend chosen when a connection opens, dispatch, and what
 * all backends share (fault injection, migrations). See store/db_int.h.
 */
#include "store/db_int.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/banned.h"

/* ---- fault injection (db.h: mer_db_fault_set) ---------------------------------------------------------------
 * Kept apart from the rest: one relaxed atomic load per statement and per commit when nothing is armed. */

enum { FAULT_NONE, FAULT_STMT, FAULT_COMMIT };

static struct {
    _Atomic int kind;      /* FAULT_*; stored last (release) when armed, so match is complete before */
    _Atomic int64_t left;  /* matching calls still to pass before the one that fails; fires at 1 */
    _Atomic int64_t fired; /* faults injected since start */
    char match[128];       /* substring of the SQL (stmt) or of the file path (commit); "" = any */
} fault;

int mer_db_fault_set(const char *spec)
{
    atomic_store_explicit(&fault.kind, FAULT_NONE, memory_order_release);
    if (spec == NULL || *spec == '\0')
        return 0;
    int kind;
    const char *p = spec;
    if (strncmp(p, "stmt:", 5) == 0) {
        kind = FAULT_STMT;
        p += 5;
    } else if (strncmp(p, "commit:", 7) == 0) {
        kind = FAULT_COMMIT;
        p += 7;
    } else {
        return MER_E_VALIDATION;
    }
    const char *colon = strchr(p, ':');
    size_t nlen = colon ? (size_t)(colon - p) : strlen(p);
    int64_t n;
    if (mer_parse_int64(p, nlen, 1, INT64_MAX, &n) != 0)
        return MER_E_VALIDATION;
    const char *match = colon ? colon + 1 : "";
    if (strlen(match) >= sizeof(fault.match))
        return MER_E_VALIDATION;
    snprintf(fault.match, sizeof(fault.match), "%s", match);
    atomic_store_explicit(&fault.left, n, memory_order_relaxed);
    atomic_store_explicit(&fault.kind, kind, memory_order_release);
    mer_log_warn("storage fault injection armed: %s", spec);
    return 0;
}

int64_t mer_db_fault_fired(void)
{
    return atomic_load(&fault.fired);
}

/* The cheap test on every statement and commit. */
static inline bool fault_armed(void)
{
    return MER_UNLIKELY(atomic_load_explicit(&fault.kind, memory_order_relaxed) != FAULT_NONE);
}

/* Is this the call that must fail? subject is the SQL (stmt) or the path (commit). Disarms when it fires. */
static bool fault_hit(int kind, const char *subject)
{
    if (atomic_load_explicit(&fault.kind, memory_order_acquire) != kind)
        return false;
    if (fault.match[0] && (subject == NULL || strstr(subject, fault.match) == NULL))
        return false;
    if (atomic_fetch_sub(&fault.left, 1) != 1)
        return false;
    int expect = kind;
    atomic_compare_exchange_strong(&fault.kind, &expect, FAULT_NONE); /* one-shot */
    atomic_fetch_add(&fault.fired, 1);
    return true;
}

/* ---- end of fault injection ---------------------------------------------------------------------------------- */

bool mer_db_fault_stmt(const mer_db_t *db, const char *sql)
{
    if (!fault_armed() || !fault_hit(FAULT_STMT, sql))
        return false;
    mer_log_error("db %s: injected fault: disk I/O error in: %.200s", db->path, sql);
    return true;
}

bool mer_db_fault_commit(mer_db_t *db)
{
    if (!fault_armed() || mer_db_total_changes(db) == db->begin_changes)
        return false;
    /* the label names the database whatever the backend (a PostgreSQL URL does not say "region-in") */
    const char *subject = fault.match[0] && strstr(db->path, fault.match) == NULL ? db->label : db->path;
    if (!fault_hit(FAULT_COMMIT, subject))
        return false;
    mer_log_error("db %s: injected fault: disk I/O error at COMMIT", db->path);
    return true;
}

/* Once per process, before any connection. */
static void configure_once(void)
{
    const char *f = getenv("MERIDIAN_FAULT");
    if (f && mer_db_fault_set(f) != 0)
        mer_log_error("MERIDIAN_FAULT=%s not understood (stmt:N[:SQL text] or commit:N[:path text]); ignored", f);
}

char *mer_db_redact(const char *path)
{
    mer_buf_t b = MER_BUF_INIT;
    const char *p = path, *scheme = strstr(path, "://");
    if (scheme) { /* user:password@ before the host */
        const char *auth = scheme + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (at && colon && (slash == NULL || at < slash)) {
            mer_buf_add(&b, path, (size_t)(colon + 1 - path));
            mer_buf_addstr(&b, "***");
            p = at;
        }
    }
    while (*p) { /* password=... as a URL parameter or a key=value pair */
        const char *hit = strstr(p, "password=");
        if (hit == NULL) {
            mer_buf_addstr(&b, p);
            break;
        }
        hit += strlen("password=");
        mer_buf_add(&b, p, (size_t)(hit - p));
        mer_buf_addstr(&b, "***");
        p = hit + strcspn(hit, "&; ");
    }
    char *out = mer_xstrndup(b.len ? mer_buf_str(&b) : "", b.len);
    mer_buf_release(&b);
    return out;
}

bool mer_db_is_url(const char *path)
{
    return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
}

int mer_db_open(const char *path, int flags, mer_db_t **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_once);
    const mer_db_backend_t *be = mer_db_is_url(path) ? &mer_db_pg : &mer_db_sqlite;
    int err = be->open(path, flags, out);
    if (err == 0)
        (*out)->be = be;
    return err;
}

void mer_db_close(mer_db_t *db)
{
    if (db)
        db->be->close(db);
}

const char *mer_db_path(const mer_db_t *db)
{
    return db->path;
}

const char *mer_db_backend_name(const mer_db_t *db)
{
    return db->be->name;
}

bool mer_db_can_notify(const mer_db_t *db)
{
    return db->be->notify != NULL;
}

int mer_db_notify(mer_db_t *db, const char *channel, const char *payload)
{
    return db->be->notify ? db->be->notify(db, channel, payload) : 0;
}

int mer_db_listen(mer_db_t *db, const char *channel)
{
    if (strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != strlen(channel) || channel[0] == '\0')
        MER_BUG("bad channel name: %s", channel);
    return db->be->listen ? db->be->listen(db, channel) : MER_E_UNAVAILABLE;
}

int mer_db_wait_notes(mer_db_t *db, int timeout_ms, void (*fn)(void *arg, const char *payload), void *arg)
{
    return db->be->wait_notes ? db->be->wait_notes(db, timeout_ms, fn, arg) : MER_E_UNAVAILABLE;
}

char *mer_db_quote(mer_db_t *db, const char *text, bool identifier)
{
    return db->be->quote ? db->be->quote(db, text, identifier) : NULL;
}

bool mer_db_has_table(mer_db_t *db, const char *name)
{
    int64_t n = 0;
    return mer_db_query_int(db, &n, db->be->has_table_sql, "s", name) == 0 && n > 0;
}

void mer_db_set_label(mer_db_t *db, const char *label)
{
    snprintf(db->label, sizeof(db->label), "%s", label);
}

int mer_db_exec(mer_db_t *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    db->statements++;
    int rc = db->be->exec(db, sql, types, ap);
    va_end(ap);
    return rc;
}

int mer_db_deferred_error(const mer_db_t *db, int err, const char *sql)
{
    if (err >= 0 || err == MER_E_UNAVAILABLE || err == MER_E_INTERNAL)
        return err;
    mer_log_error("db %s: a deferred statement failed (%s): %.200s", db->path, mer_err_code(err), sql);
    return MER_E_INTERNAL;
}

int mer_db_defer(mer_db_t *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    db->statements++; /* a statement like any other, whenever it is sent */
    int rc = db->be->defer ? db->be->defer(db, sql, types, ap) : db->be->exec(db, sql, types, ap);
    va_end(ap);
    return rc < 0 ? mer_db_deferred_error(db, rc, sql) : 0;
}

int mer_db_defer_result(mer_db_t *db, mer_db_later_t *later, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    db->statements++;
    int rc = db->be->defer_result(db, later, sql, types, ap);
    va_end(ap);
    return rc < 0 ? mer_db_deferred_error(db, rc, sql) : 0;
}

int mer_db_insert(mer_db_t *db, int64_t *id, const char *sql, const char *types, ...)
{
    if (types == NULL || types[0] != 'n' || strncmp(sql, "INSERT INTO ", 12) != 0)
        MER_BUG("mer_db_insert: the id is the first parameter, type 'n': %s", sql);
    va_list ap;
    va_start(ap, types);
    db->statements++; /* (the fetch of a block of ids is not counted: it is not the caller's statement) */
    int rc = db->be->insert(db, id, sql, types, ap);
    va_end(ap);
    return rc < 0 ? mer_db_deferred_error(db, rc, sql) : 0;
}

int mer_db_flush(mer_db_t *db)
{
    int rc = db->be->flush ? db->be->flush(db) : 0;
    return rc < 0 ? mer_db_deferred_error(db, rc, "(deferred statements)") : 0;
}

mer_rows_t *mer_db_query(mer_db_t *db, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    db->statements++;
    mer_rows_t *r = db->be->query(db, sql, types, ap);
    va_end(ap);
    r->db = db;
    return r;
}

int mer_db_query_int(mer_db_t *db, int64_t *out, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    db->statements++;
    int rc = db->be->query_int(db, out, sql, types, ap);
    va_end(ap);
    return rc;
}

bool mer_rows_next(mer_rows_t *r)
{
    return r->db->be->next(r);
}

int64_t mer_rows_int(mer_rows_t *r, int col)
{
    return r->db->be->col_int(r, col);
}

const char *mer_rows_text(mer_rows_t *r, int col)
{
    return r->db->be->col_text(r, col);
}

size_t mer_rows_len(mer_rows_t *r, int col)
{
    return r->db->be->col_len(r, col);
}

bool mer_rows_null(mer_rows_t *r, int col)
{
    return r->db->be->col_null(r, col);
}

int mer_rows_end(mer_rows_t *r)
{
    return r->db->be->end(r);
}

int mer_db_script(mer_db_t *db, const char *sql)
{
    return db->be->script(db, sql);
}

/* Transaction and savepoint commands are not counted in mer_db_statements, however the backend sends them
 * (SQLite's BEGIN and COMMIT go through mer_db_exec): each of these functions puts the count back. */

int mer_db_begin(mer_db_t *db)
{
    int64_t n = db->statements;
    db->begin_changes = mer_db_total_changes(db);
    int rc = db->be->begin(db);
    db->statements = n;
    return rc;
}

int mer_db_commit(mer_db_t *db)
{
    int64_t n = db->statements;
    int rc = db->be->commit(db);
    db->statements = n;
    return rc;
}

int mer_db_commit_nosync(mer_db_t *db, int *sync_fd)
{
    *sync_fd = -1;
    if (db->be->commit_nosync == NULL)
        return mer_db_commit(db);
    int64_t n = db->statements;
    int rc = db->be->commit_nosync(db, sync_fd);
    db->statements = n;
    if (rc)
        *sync_fd = -1;
    return rc;
}

void mer_db_rollback(mer_db_t *db)
{
    int64_t n = db->statements;
    db->be->rollback(db);
    db->statements = n;
}

int64_t mer_db_total_changes(mer_db_t *db)
{
    return db->be->total_changes(db);
}

int64_t mer_db_statements(const mer_db_t *db)
{
    return db->statements;
}

int64_t mer_db_scan_steps(const mer_db_t *db)
{
    return db->scan_steps;
}

static char node_name[24];

static void make_node_name(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(node_name, sizeof(node_name), "%x.%lx", (unsigned)getpid(), (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
}

const char *mer_db_node(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_node_name);
    return node_name;
}

int mer_db_savepoint(mer_db_t *db)
{
    int rc = mer_db_exec(db, "SAVEPOINT sp", NULL);
    db->statements--;
    return rc < 0 ? rc : 0;
}

int mer_db_release(mer_db_t *db)
{
    int rc = mer_db_exec(db, "RELEASE sp", NULL);
    db->statements--;
    return rc < 0 ? rc : 0;
}

void mer_db_rollback_to(mer_db_t *db)
{
    mer_db_exec(db, "ROLLBACK TO sp", NULL);
    mer_db_exec(db, "RELEASE sp", NULL);
    db->statements -= 2;
}

void mer_db_wal_manual(mer_db_t *db)
{
    if (db->be->wal_manual)
        db->be->wal_manual(db);
}

int64_t mer_db_wal_pages(const mer_db_t *db)
{
    return db->be->wal_pages ? db->be->wal_pages(db) : 0;
}

int mer_db_checkpoint(mer_db_t *db, int64_t *wal_pages, int64_t *copied)
{
    *wal_pages = *copied = 0;
    return db->be->checkpoint ? db->be->checkpoint(db, wal_pages, copied) : 0;
}

int mer_db_migrate(mer_db_t *db, const mer_migration_t *m, size_t n)
{
    int64_t have = 0;
    int err = mer_db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL);
    if (err < 0)
        return err;
    err = mer_db_query_int(db, &have, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL);
    if (err < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (m[i].version <= have)
            continue;
        bool run = m[i].only == NULL || strcmp(m[i].only, db->be->name) == 0;
        char *own = run && db->be->ddl ? db->be->ddl(m[i].sql) : NULL;
        const char *sql = own ? own : m[i].sql;
        if ((err = mer_db_begin(db)) != 0) {
            free(own);
            return err;
        }
        err = run ? mer_db_script(db, sql) : 0;
        free(own);
        if (err != 0 || (err = mer_db_exec(db, "INSERT INTO schema_version (version) VALUES (?)", "i",
                                           (int64_t)m[i].version)) < 0) {
            mer_db_rollback(db);
            return err;
        }
        if ((err = mer_db_commit(db)) != 0)
            return err;
        mer_log_info("%s: migrated to schema version %d", db->path, m[i].version);
    }
    return 0;
}
