/*
 * db_pg.c — the PostgreSQL implementation of store/db.h, with libpq.
 *
 * Statements: the domain's portable SQL ('?' placeholders) is rewritten once to PostgreSQL's $1..$n
 * (outside string literals and quoted names) and prepared on the server the first time a connection
 * runs it (PQprepare, named s<k>), cached by the address of the SQL text like the SQLite backend.
 * Parameters travel as text with their type: 'i' as int8, text ('s', 'S') as text, 'n' as a text NULL.
 * A statement is prepared with the types of its first use, so domain SQL binds one type per position.
 * Results come back whole (PQexecPrepared) and are walked row by row.
 *
 * Transactions: BEGIN (PostgreSQL has no BEGIN IMMEDIATE: concurrent writers are kept apart by row locks
 * and constraints), savepoints as in SQLite. A COMMIT that the server turned into a ROLLBACK (the
 * transaction had failed) is reported as an error.
 *
 * Round trips. Inside a transaction, two kinds of command are not sent on their own but queued, and go in
 * the same round trip as the next synchronous statement or the COMMIT (libpq's pipeline mode, in order; the
 * statement is sent after them, and a failure of one of them is that statement's error, the statement
 * itself then skipped by the server):
 *   - SAVEPOINT, RELEASE and ROLLBACK TO, whose results nothing waits for (the writer brackets every job
 *     with them);
 *   - deferred statements (db.h: mer_db_defer), prepared like the others, their parameters copied.
 * So a writer job costs the round trips of its synchronous statements, no more: its deferred INSERTs ride
 * with the next read or RETURNING. A deferred statement may hand its result back (mer_db_defer_result: filled
 * when the round trip that carried it returns). An INSERT whose id the caller needs (mer_db_insert) is
 * deferred too: the id comes from a block of the table's sequence that the connection fetched beforehand
 * (next_id: one SELECT nextval(...) FROM generate_series per ID_BLOCK ids, itself a synchronous statement that
 * carries what is queued). The one rule that keeps errors where they belong: deferred statements
 * never cross a savepoint command. SAVEPOINT and RELEASE with deferred statements queued before them are
 * sent at once with them (one round trip), so a deferred failure is seen inside the savepoint that queued it
 * (the job's), and there the server skipped the RELEASE, so ROLLBACK TO undoes exactly that job; ROLLBACK TO
 * drops queued deferred statements (undone anyway). A deferred failure becomes the connection's sticky error
 * (every call returns it until ROLLBACK TO or ROLLBACK: the server's transaction is aborted meanwhile).
 * ROLLBACK drops the queue. mer_db_round_trips() counts the round trips made, for /metrics and the benchmark.
 *
 * Errors: SQLSTATE 23505 is MER_E_ALREADY_EXISTS, other class 23 MER_E_CONFLICT; serialization failures,
 * deadlocks, lock timeouts and a lost connection MER_E_UNAVAILABLE (a lost connection is reset on the
 * next call, its prepared statements forgotten); anything else MER_E_INTERNAL, logged with the SQL.
 */
#include <ctype.h>
#include <stdatomic.h>
#include <string.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/db_int.h"
#include "core/banned.h"

#define STMT_CACHE 256  /* slots; a power of two */
#define MAX_PENDING 256 /* commands queued for the next round trip; a full queue is sent at once */
#define MAX_PARAMS 64
#define ID_BLOCK 64 /* ids fetched at once for mer_db_insert */
#define ID_TABLES 8 /* tables mer_db_insert keeps a block for */
#define INT8OID 20
#define TEXTOID 25

typedef struct pg_stmt {
    const char *sql; /* the caller's text (the cache key) */
    int nparams;
    char name[12];
} pg_stmt_t;

/* A command queued for the next round trip. */
typedef struct pg_pending {
    const char *sql;       /* the caller's text: a savepoint command (sent as text), or a deferred statement's */
    char name[12];         /* a deferred statement's prepared name ("" for a savepoint command) */
    int n;                 /* parameters */
    char **values;         /* their copies (NULL: SQL NULL), one allocation with the texts; NULL when n is 0 */
    bool deferred;         /* a deferred statement (its failure is sticky) */
    mer_db_later_t *later; /* mer_db_defer_result's: filled when its result comes back */
    bool fault;            /* an injected fault: a command that fails on the server is sent instead */
} pg_pending_t;

/* Ids of one table's id column not used yet (mer_db_insert): values of its sequence, drawn by this connection. */
typedef struct pg_ids {
    char table[64]; /* "orders" ("" = free slot) */
    char column[64];
    int64_t ids[ID_BLOCK];
    int next, n; /* ids[next..n) are unused */
} pg_ids_t;

typedef struct pg_db {
    mer_db_t base;
    PGconn *conn;
    pg_stmt_t stmts[STMT_CACHE];
    int next_name;
    int64_t changes;                   /* rows changed by INSERT/UPDATE/DELETE since open */
    pg_pending_t pending[MAX_PENDING]; /* queued commands, oldest first; deferred ones after the last savepoint
                                          command (they never cross one) */
    int npending, ndeferred;
    int sticky; /* a deferred statement's error: every call returns it until ROLLBACK TO or ROLLBACK */
    pg_ids_t ids[ID_TABLES];
} pg_db_t;

/* What a deferred statement with an injected fault is replaced by: it fails on the server, as a real one would. */
static const char fault_sql[] = "DO $$BEGIN RAISE EXCEPTION 'injected fault (MERIDIAN_FAULT)'; END$$";

static _Atomic int64_t round_trips; /* all connections */

int64_t mer_db_round_trips(void)
{
    return atomic_load_explicit(&round_trips, memory_order_relaxed);
}

static void count_trip(void)
{
    atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
}

typedef struct pg_rows {
    mer_rows_t base;
    PGresult *res;
    int row, nrows;
    int err;
} pg_rows_t;

static int name_connection(pg_db_t *db);

static void quiet(void *arg, const char *message)
{
    (void)arg, (void)message; /* NOTICEs (e.g. "relation already exists, skipping") are not errors */
}

static int pg_open(const char *path, int flags, mer_db_t **out)
{
    PGconn *conn = PQconnectdb(path);
    char *shown = mer_db_redact(path);
    if (PQstatus(conn) != CONNECTION_OK && (flags & MER_DB_LAZY) && conn != NULL) {
        /* made on first use: ensure_connected() resets it then (the setup below is reconnect()'s) */
        mer_log_warn("cannot connect to %s now (%s); trying again on first use", shown, PQerrorMessage(conn));
        pg_db_t *db = mer_xcalloc(1, sizeof(*db));
        db->base.be = &mer_db_pg;
        db->base.path = shown;
        db->conn = conn;
        *out = &db->base;
        return 0;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        mer_log_error("cannot connect to %s: %s", shown, PQerrorMessage(conn));
        PQfinish(conn);
        free(shown);
        return MER_E_UNAVAILABLE;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    pg_db_t *db = mer_xcalloc(1, sizeof(*db));
    db->base.be = &mer_db_pg;
    db->base.path = shown;
    db->conn = conn;
    const char *setup = (flags & MER_DB_READONLY) ? "SET TIME ZONE 'UTC'; SET default_transaction_read_only = on"
                                                  : "SET TIME ZONE 'UTC'";
    if (mer_db_script(&db->base, setup) != 0 || name_connection(db) != 0) {
        mer_db_close(&db->base);
        return MER_E_INTERNAL;
    }
    *out = &db->base;
    return 0;
}

/* The connection carries the node's name (application_name), by which the other nodes see that it is alive
 * (claims, store/ops_events.h). */
static int name_connection(pg_db_t *db)
{
    PGresult *r = PQexecParams(db->conn, "SELECT set_config('application_name', $1, false)", 1, NULL,
                               (const char *[]){mer_db_node()}, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : MER_E_UNAVAILABLE;
}

static void pending_clear(pg_db_t *db)
{
    for (int i = 0; i < db->npending; i++)
        free(db->pending[i].values);
    db->npending = db->ndeferred = 0;
}

static void pg_close(mer_db_t *d)
{
    pg_db_t *db = (pg_db_t *)d;
    pending_clear(db);
    PQfinish(db->conn);
    free(db->base.path);
    free(db);
}

static bool reconnect(pg_db_t *db);

/* A lost connection is reset before the next statement; the server forgot our prepared statements. */
static bool ensure_connected(pg_db_t *db)
{
    return PQstatus(db->conn) == CONNECTION_OK || reconnect(db);
}

static bool reconnect(pg_db_t *db)
{
    PQreset(db->conn);
    memset(db->stmts, 0, sizeof(db->stmts));
    pending_clear(db); /* (their transaction went with the connection) */
    db->sticky = 0;
    if (PQstatus(db->conn) != CONNECTION_OK)
        return false;
    PQsetNoticeProcessor(db->conn, quiet, NULL);
    return mer_db_script(&db->base, "SET TIME ZONE 'UTC'") == 0 && name_connection(db) == 0;
}

static int map_err(pg_db_t *db, const PGresult *res, const char *sql)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "25006") == 0) { /* a read-only database: a region's replica of the catalogue */
        mer_log_warn("db %s is read-only: %s in: %.200s", db->base.path, PQresultErrorMessage(res), sql ? sql : "");
        return MER_E_UNAVAILABLE;
    }
    if (state && strcmp(state, "23505") == 0)
        return MER_E_ALREADY_EXISTS;
    if (state && strncmp(state, "23", 2) == 0)
        return MER_E_CONFLICT;
    if (PQstatus(db->conn) != CONNECTION_OK ||
        (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
                   strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))) {
        mer_log_warn("db %s unavailable (%s): %s in: %.200s", db->base.path, state ? state : "no connection",
                     PQerrorMessage(db->conn), sql ? sql : "");
        return MER_E_UNAVAILABLE;
    }
    mer_log_error("db %s: %s (%s) in: %.200s", db->base.path,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn), state ? state : "-", sql ? sql : "");
    return MER_E_INTERNAL;
}

/* '?' to $n (and '?NNN' to $NNN) outside '...' literals and "..." names. Returns the number of
 * parameters; caller frees *out. */
static int rewrite(const char *sql, char **out)
{
    size_t n = strlen(sql);
    char *o = mer_xmalloc(n * 3 + 1);
    size_t k = 0;
    int params = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            o[k++] = *p;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            o[k++] = *p;
        } else if (*p == '?' && p[1] >= '1' && p[1] <= '9') { /* ?NNN: SQLite's numbered parameter */
            int num = 0;
            while (p[1] >= '0' && p[1] <= '9' && num < 1000)
                num = num * 10 + (*++p - '0');
            k += (size_t)snprintf(o + k, 8, "$%d", num);
            params = MER_MAX(params, num);
        } else if (*p == '?') {
            k += (size_t)snprintf(o + k, 8, "$%d", ++params);
        } else {
            o[k++] = *p;
        }
    }
    o[k] = '\0';
    *out = o;
    return params;
}

static pg_stmt_t *cache_slot(pg_db_t *db, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        pg_stmt_t *s = &db->stmts[(h + i) & (STMT_CACHE - 1)];
        if (s->sql == sql || s->sql == NULL)
            return s;
    }
    return NULL;
}

typedef struct params {
    const char *values[MAX_PARAMS];
    Oid types[MAX_PARAMS];
    char ints[MAX_PARAMS][24];
    char *owned[MAX_PARAMS]; /* counted texts copied to be NUL-terminated */
    int n;
} params_t;

static void params_release(params_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->owned[i]);
}

static void params_bind(params_t *p, const char *sql, const char *types, va_list ap)
{
    memset(p, 0, sizeof(*p));
    for (const char *t = types ? types : ""; *t; t++) {
        if (p->n >= MAX_PARAMS)
            MER_BUG("more than %d parameters: %s", MAX_PARAMS, sql);
        int i = p->n++;
        switch (*t) {
        case 'i':
            snprintf(p->ints[i], sizeof(p->ints[i]), "%lld", (long long)va_arg(ap, int64_t));
            p->values[i] = p->ints[i];
            p->types[i] = INT8OID;
            break;
        case 's':
            p->values[i] = va_arg(ap, const char *);
            p->types[i] = TEXTOID;
            break;
        case 'S': {
            const char *s = va_arg(ap, const char *);
            size_t len = va_arg(ap, size_t);
            p->owned[i] = mer_xstrndup(s ? s : "", len);
            p->values[i] = p->owned[i];
            p->types[i] = TEXTOID;
            break;
        }
        case 'n':
            p->values[i] = NULL;
            p->types[i] = TEXTOID;
            break;
        default:
            MER_BUG("bad parameter type '%c' for: %s", *t, sql);
        }
    }
}

static void params_bind_n(params_t *p, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    params_bind(p, sql, types, ap);
    va_end(ap);
}

/* Prepares sql in slot, its first use on this connection. Returns NULL, or the failed preparation's result. */
static PGresult *prepare(pg_db_t *db, pg_stmt_t *slot, const char *sql, const params_t *p)
{
    char *text;
    int want = rewrite(sql, &text);
    if (p->n != want)
        MER_BUG("%d parameters given, %d wanted: %s", p->n, want, sql);
    char name[12];
    snprintf(name, sizeof(name), "s%d", db->next_name++);
    count_trip();
    PGresult *pr = PQprepare(db->conn, name, text, p->n, p->types);
    free(text);
    if (PQresultStatus(pr) != PGRES_COMMAND_OK)
        return pr;
    PQclear(pr);
    slot->sql = sql;
    slot->nparams = p->n;
    memcpy(slot->name, name, sizeof(name));
    return NULL;
}

/* Sends a statement (preparing it on first use). Returns its result, or the failed preparation's. */
static PGresult *send(pg_db_t *db, const char *sql, const params_t *p)
{
    pg_stmt_t *slot = cache_slot(db, sql);
    if (slot && slot->sql == sql) {
        if (p->n != slot->nparams)
            MER_BUG("%d parameters given, %d wanted: %s", p->n, slot->nparams, sql);
        count_trip();
        return PQexecPrepared(db->conn, slot->name, p->n, p->values, NULL, NULL, 0);
    }
    if (slot == NULL) { /* cache full: unnamed */
        char *text;
        int want = rewrite(sql, &text);
        if (p->n != want)
            MER_BUG("%d parameters given, %d wanted: %s", p->n, want, sql);
        count_trip();
        PGresult *res = PQexecParams(db->conn, text, p->n, p->types, p->values, NULL, NULL, 0);
        free(text);
        return res;
    }
    PGresult *failed = prepare(db, slot, sql, p);
    if (failed)
        return failed;
    count_trip();
    return PQexecPrepared(db->conn, slot->name, p->n, p->values, NULL, NULL, 0);
}

static bool is_savepoint_cmd(const char *sql)
{
    return strcmp(sql, "SAVEPOINT sp") == 0 || strcmp(sql, "RELEASE sp") == 0 || strcmp(sql, "ROLLBACK TO sp") == 0;
}

/* An integer from a result's text: PostgreSQL sends booleans (EXISTS, comparisons) as "t"/"f". */
static int64_t int_of(const char *v)
{
    if (v[0] == 't' && v[1] == '\0')
        return 1;
    return strtoll(v, NULL, 10);
}

/* A result's changed rows added to the connection's count (not a SELECT's rows). */
static void add_changes(pg_db_t *db, const PGresult *res)
{
    const char *tuples = PQcmdTuples((PGresult *)res);
    if (tuples[0] && strncmp(PQcmdStatus((PGresult *)res), "SELECT", 6) != 0)
        db->changes += strtoll(tuples, NULL, 10);
}

/* What a deferred statement did, into its caller's mer_db_later_t (NULL: nobody asked). */
static void later_fill(mer_db_later_t *later, PGresult *r)
{
    if (later == NULL)
        return;
    const char *tuples = PQcmdTuples(r);
    later->changed = tuples[0] ? strtoll(tuples, NULL, 10) : 0;
    later->returned = PQntuples(r) > 0 && PQnfields(r) > 0;
    later->value = later->returned ? int_of(PQgetvalue(r, 0, 0)) : 0;
    later->ready = true;
}

/* The parameters' texts copied into one allocation (the pointers, then the texts); NULL without parameters. */
static char **values_copy(const params_t *p)
{
    if (p->n == 0)
        return NULL;
    size_t size = (size_t)p->n * sizeof(char *);
    for (int i = 0; i < p->n; i++)
        if (p->values[i])
            size += strlen(p->values[i]) + 1;
    char **v = mer_xmalloc(size);
    char *s = (char *)(v + p->n);
    for (int i = 0; i < p->n; i++) {
        v[i] = NULL;
        if (p->values[i] == NULL)
            continue;
        size_t len = strlen(p->values[i]) + 1;
        memcpy(s, p->values[i], len);
        v[i] = s;
        s += len;
    }
    return v;
}

/* Drops the deferred statements at the queue's end (all of them: they never cross a savepoint command). */
static void drop_deferred(pg_db_t *db)
{
    while (db->npending && db->pending[db->npending - 1].deferred)
        free(db->pending[--db->npending].values);
    db->ndeferred = 0;
}

/*
 * One round trip: the queued commands, then either the prepared statement slot (with p), or the command tail
 * (a savepoint command, COMMIT), or nothing more (both NULL); sql names what the caller asked for (logs).
 * Returns the last command's result (an empty PGRES_COMMAND_OK one when only the queue went), or NULL with
 * *err set: the first failure's error (a queued deferred statement's becomes the sticky error; the commands
 * after a failure were skipped by the server). The queue is empty after.
 */
static PGresult *send_pending(pg_db_t *db, const pg_stmt_t *slot, const params_t *p, const char *tail, const char *sql,
                              int *err)
{
    int n = db->npending;
    *err = 0;
    if (!PQenterPipelineMode(db->conn)) {
        pending_clear(db);
        *err = map_err(db, NULL, sql);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const pg_pending_t *e = &db->pending[i];
        if (e->fault)
            PQsendQueryParams(db->conn, fault_sql, 0, NULL, NULL, NULL, NULL, 0);
        else if (e->name[0])
            PQsendQueryPrepared(db->conn, e->name, e->n, (const char *const *)e->values, NULL, NULL, 0);
        else
            PQsendQueryParams(db->conn, e->sql, 0, NULL, NULL, NULL, NULL, 0);
    }
    int total = n;
    if (slot) {
        PQsendQueryPrepared(db->conn, slot->name, p->n, p->values, NULL, NULL, 0);
        total++;
    } else if (tail) {
        PQsendQueryParams(db->conn, tail, 0, NULL, NULL, NULL, NULL, 0);
        total++;
    }
    count_trip();
    bool broken = !PQpipelineSync(db->conn);
    PGresult *failed = NULL, *last = NULL;
    int failed_at = -1;
    for (int i = 0; i < total && !broken; i++) {
        PGresult *r = PQgetResult(db->conn);
        if (r == NULL) {
            broken = true;
            break;
        }
        for (PGresult *x; (x = PQgetResult(db->conn)) != NULL;) /* the end of this command's results */
            PQclear(x);
        ExecStatusType st = PQresultStatus(r);
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (failed == NULL && !ok) {
            failed = r; /* (the commands after it come back PGRES_PIPELINE_ABORTED) */
            failed_at = i;
            continue;
        }
        if (failed == NULL && i < n && db->pending[i].deferred) {
            add_changes(db, r);
            later_fill(db->pending[i].later, r);
        }
        if (failed == NULL && i == total - 1)
            last = r;
        else
            PQclear(r);
    }
    if (!broken) {
        PGresult *sync = PQgetResult(db->conn); /* PGRES_PIPELINE_SYNC */
        broken = sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC;
        PQclear(sync);
    }
    /* what failed: a queued command (its own text), or the caller's statement */
    const char *what = failed_at >= 0 && failed_at < n ? db->pending[failed_at].sql : sql;
    bool deferred = failed_at >= 0 && failed_at < n && db->pending[failed_at].deferred;
    pending_clear(db);
    if (!PQexitPipelineMode(db->conn)) {
        /* results the protocol did not deliver: the connection cannot be trusted (nor its transaction) */
        reconnect(db);
        broken = true;
    }
    if (broken || failed) {
        *err = map_err(db, broken ? NULL : failed, broken ? sql : what);
        if (!broken && deferred)
            db->sticky = *err = mer_db_deferred_error(&db->base, *err, what);
        PQclear(failed);
        PQclear(last);
        return NULL;
    }
    return last ? last : PQmakeEmptyPGresult(db->conn, PGRES_COMMAND_OK);
}

/*
 * Runs a statement. Returns the result, or NULL with *err set. A connection found dead by a statement outside
 * a transaction (the server restarted since this connection's last use: every idle connection learns it this
 * way) is reset and the statement sent once more: nothing of it ran, and nothing else was pending on it.
 * Inside a transaction the error stands: the transaction is gone, its owner must start again.
 */
static PGresult *run_bound(pg_db_t *db, const char *sql, const params_t *p, int *err)
{
    *err = 0;
    bool sp_cmd = is_savepoint_cmd(sql), undo = sp_cmd && strcmp(sql, "ROLLBACK TO sp") == 0;
    if (db->sticky && !undo) { /* a deferred statement failed: nothing runs until it is undone */
        *err = db->sticky;
        return NULL;
    }
    db->sticky = 0;
    if (mer_db_fault_stmt(&db->base, sql)) {
        *err = MER_E_INTERNAL;
        return NULL;
    }
    PGresult *res = NULL;
    if (sp_cmd && p->n == 0 && PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        if (undo)
            drop_deferred(db); /* (undone anyway) */
        if (db->ndeferred == 0 && db->npending < MAX_PENDING) {
            db->pending[db->npending++] = (pg_pending_t){.sql = sql}; /* goes with the next statement */
            return PQmakeEmptyPGresult(db->conn, PGRES_COMMAND_OK);
        }
        /* SAVEPOINT or RELEASE after deferred statements (or a full queue): now, with them, in one round trip */
        return send_pending(db, NULL, NULL, sql, sql, err);
    }
    if (db->npending) {
        /* the queued commands, and the statement if it is prepared already, in one round trip */
        pg_stmt_t *slot = cache_slot(db, sql);
        bool ready = slot && slot->sql == sql;
        if (ready && p->n != slot->nparams)
            MER_BUG("%d parameters given, %d wanted: %s", p->n, slot->nparams, sql);
        res = send_pending(db, ready ? slot : NULL, p, NULL, sql, err);
        if (res == NULL)
            return NULL;
        if (!ready) {
            PQclear(res);
            res = NULL;
        }
    }
    for (int attempt = 0; res == NULL; attempt++) {
        if (!ensure_connected(db)) {
            *err = map_err(db, NULL, sql);
            return NULL;
        }
        bool idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
        res = send(db, sql, p);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            break;
        if (attempt == 0 && idle && PQstatus(db->conn) != CONNECTION_OK) {
            PQclear(res);
            res = NULL;
            continue;
        }
        *err = map_err(db, res, sql);
        PQclear(res);
        return NULL;
    }
    add_changes(db, res);
    return res;
}

/* run_bound with the caller's parameters. */
static PGresult *run(pg_db_t *db, const char *sql, const char *types, va_list ap, int *err)
{
    params_t p;
    params_bind(&p, sql, types, ap);
    PGresult *res = run_bound(db, sql, &p, err);
    params_release(&p);
    return res;
}

/* Runs a statement at once: the rows it changed, or an error; later (may be NULL) gets what it did. */
static int exec_bound(pg_db_t *db, mer_db_later_t *later, const char *sql, const params_t *p)
{
    int err;
    PGresult *res = run_bound(db, sql, p, &err);
    if (res == NULL)
        return err;
    const char *tuples = PQcmdTuples(res);
    int n = tuples[0] ? (int)strtol(tuples, NULL, 10) : 0;
    later_fill(later, res);
    PQclear(res);
    return n;
}

static int pg_exec(mer_db_t *d, const char *sql, const char *types, va_list ap)
{
    params_t p;
    params_bind(&p, sql, types, ap);
    int rc = exec_bound((pg_db_t *)d, NULL, sql, &p);
    params_release(&p);
    return rc;
}

/*
 * A deferred statement with its parameters bound: queued inside a transaction (see the top of this file), else
 * run at once. later (may be NULL) gets what it did when its result comes back. Returns 0 or an error.
 */
static int defer_bound(pg_db_t *db, mer_db_later_t *later, const char *sql, const params_t *p)
{
    if (later)
        *later = (mer_db_later_t){0};
    if (db->sticky)
        return db->sticky;
    pg_stmt_t *slot = cache_slot(db, sql);
    if (slot == NULL || PQstatus(db->conn) != CONNECTION_OK || PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
        int rc = exec_bound(db, later, sql, p);
        return rc < 0 ? rc : 0;
    }
    bool fault = mer_db_fault_stmt(&db->base, sql);
    int err = 0;
    if (slot->sql != sql) {
        /* its first use on this connection: prepared now, once (a failed preparation aborts the transaction,
         * so what is queued goes first) */
        if (db->npending)
            PQclear(send_pending(db, NULL, NULL, NULL, sql, &err));
        PGresult *failed = err ? NULL : prepare(db, slot, sql, p);
        if (failed) {
            err = map_err(db, failed, sql);
            PQclear(failed);
        }
        if (err)
            return err;
    } else if (p->n != slot->nparams) {
        MER_BUG("%d parameters given, %d wanted: %s", p->n, slot->nparams, sql);
    }
    pg_pending_t *e = &db->pending[db->npending++];
    *e = (pg_pending_t){
        .sql = sql, .n = p->n, .values = values_copy(p), .deferred = true, .fault = fault, .later = later};
    memcpy(e->name, slot->name, sizeof(e->name));
    db->ndeferred++;
    if (db->npending == MAX_PENDING) /* full: sent now */
        PQclear(send_pending(db, NULL, NULL, NULL, sql, &err));
    return err;
}

static int pg_defer(mer_db_t *d, const char *sql, const char *types, va_list ap)
{
    params_t p;
    params_bind(&p, sql, types, ap);
    int err = defer_bound((pg_db_t *)d, NULL, sql, &p);
    params_release(&p);
    return err;
}

static int pg_defer_result(mer_db_t *d, mer_db_later_t *later, const char *sql, const char *types, va_list ap)
{
    params_t p;
    params_bind(&p, sql, types, ap);
    int err = defer_bound((pg_db_t *)d, later, sql, &p);
    params_release(&p);
    return err;
}

/*
 * The next unused id of an INSERT's table (its first column), from this connection's block of the column's
 * sequence: one query fetches ID_BLOCK values (with whatever is queued, in its round trip). Sequence values are
 * never given twice, whatever the transactions do, so a block outlives rollbacks and reconnections; values
 * other connections draw meanwhile make the block's values unique but not consecutive.
 */
static int next_id(pg_db_t *db, const char *sql, int64_t *id)
{
    const char *t = sql + strlen("INSERT INTO ");
    size_t tl = strcspn(t, " (");
    const char *c = t + tl + strspn(t + tl, " (");
    size_t cl = strcspn(c, " ,)");
    pg_ids_t *b = NULL;
    if (tl == 0 || tl >= sizeof(b->table) || cl == 0 || cl >= sizeof(b->column))
        MER_BUG("mer_db_insert: no table and id column in: %s", sql);
    for (size_t i = 0; i < ID_TABLES && b == NULL; i++) {
        pg_ids_t *x = &db->ids[i];
        if (x->table[0] == '\0' || (strlen(x->table) == tl && memcmp(x->table, t, tl) == 0 && strlen(x->column) == cl &&
                                    memcmp(x->column, c, cl) == 0))
            b = x;
    }
    if (b == NULL)
        MER_BUG("mer_db_insert: more than %d tables", ID_TABLES);
    if (b->table[0] == '\0') {
        memcpy(b->table, t, tl);
        memcpy(b->column, c, cl);
    }
    if (b->next < b->n) {
        *id = b->ids[b->next++];
        return 0;
    }
    static const char block_sql[] = "SELECT nextval(pg_get_serial_sequence(?, ?)) FROM generate_series(1, ?)";
    params_t p;
    params_bind_n(&p, block_sql, "ssi", b->table, b->column, (int64_t)ID_BLOCK);
    int err;
    PGresult *res = run_bound(db, block_sql, &p, &err);
    params_release(&p);
    if (res == NULL)
        return err;
    int n = PQntuples(res);
    for (b->n = b->next = 0; b->n < n && b->n < ID_BLOCK; b->n++)
        b->ids[b->n] = int_of(PQgetvalue(res, b->n, 0));
    PQclear(res);
    if (b->n == 0)
        return map_err(db, NULL, block_sql);
    *id = b->ids[b->next++];
    return 0;
}

/* mer_db_insert: the id from the connection's block, bound as the first parameter, the INSERT deferred. */
static int pg_insert(mer_db_t *d, int64_t *id, const char *sql, const char *types, va_list ap)
{
    pg_db_t *db = (pg_db_t *)d;
    if (db->sticky)
        return db->sticky;
    int err = next_id(db, sql, id);
    if (err)
        return err;
    params_t p;
    params_bind(&p, sql, types, ap);
    snprintf(p.ints[0], sizeof(p.ints[0]), "%lld", (long long)*id);
    p.values[0] = p.ints[0];
    p.types[0] = INT8OID;
    err = defer_bound(db, NULL, sql, &p);
    params_release(&p);
    return err;
}

static int pg_flush(mer_db_t *d)
{
    pg_db_t *db = (pg_db_t *)d;
    int err = db->sticky;
    if (err == 0 && db->ndeferred)
        PQclear(send_pending(db, NULL, NULL, NULL, "(deferred statements)", &err));
    return err;
}

static mer_rows_t *pg_query(mer_db_t *d, const char *sql, const char *types, va_list ap)
{
    pg_rows_t *r = mer_xcalloc(1, sizeof(*r));
    r->res = run((pg_db_t *)d, sql, types, ap, &r->err);
    r->nrows = r->res ? PQntuples(r->res) : 0;
    r->row = -1;
    return &r->base;
}

static int pg_query_int(mer_db_t *d, int64_t *out, const char *sql, const char *types, va_list ap)
{
    int err;
    PGresult *res = run((pg_db_t *)d, sql, types, ap, &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 0 || PQnfields(res) == 0)
        err = MER_E_NOT_FOUND;
    else
        *out = int_of(PQgetvalue(res, 0, 0));
    PQclear(res);
    return err;
}

static bool pg_next(mer_rows_t *rows)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    if (r->row + 1 >= r->nrows)
        return false;
    r->row++;
    return true;
}

static int64_t pg_col_int(mer_rows_t *rows, int col)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    return int_of(PQgetvalue(r->res, r->row, col));
}

static const char *pg_col_text(mer_rows_t *rows, int col)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    return PQgetvalue(r->res, r->row, col);
}

static size_t pg_col_len(mer_rows_t *rows, int col)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    return (size_t)PQgetlength(r->res, r->row, col);
}

static bool pg_col_null(mer_rows_t *rows, int col)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    return PQgetisnull(r->res, r->row, col);
}

static int pg_end(mer_rows_t *rows)
{
    pg_rows_t *r = (pg_rows_t *)rows;
    int err = r->err;
    PQclear(r->res);
    free(r);
    return err;
}

static int pg_script(mer_db_t *d, const char *sql)
{
    pg_db_t *db = (pg_db_t *)d;
    if (db->sticky)
        return db->sticky;
    if (!ensure_connected(db))
        return map_err(db, NULL, sql);
    if (db->npending) {
        int err;
        PQclear(send_pending(db, NULL, NULL, NULL, sql, &err));
        if (err)
            return err;
    }
    count_trip();
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : map_err(db, res, sql);
    PQclear(res);
    return err;
}

static int pg_begin(mer_db_t *db)
{
    return mer_db_exec(db, "BEGIN", NULL) < 0 ? MER_E_UNAVAILABLE : 0;
}

static void pg_rollback(mer_db_t *d)
{
    pg_db_t *db = (pg_db_t *)d;
    pending_clear(db); /* (undone with the rest) */
    db->sticky = 0;
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        count_trip();
        PQclear(PQexec(db->conn, "ROLLBACK"));
    }
}

static int pg_commit(mer_db_t *d)
{
    pg_db_t *db = (pg_db_t *)d;
    int err = db->sticky;
    if (err == 0 && db->ndeferred) /* (rare: the writer's RELEASE sent them) their rows count for the fault below */
        PQclear(send_pending(db, NULL, NULL, NULL, "COMMIT", &err));
    if (err) {
        pg_rollback(d);
        return err;
    }
    if (mer_db_fault_commit(d)) {
        pg_rollback(d);
        return MER_E_INTERNAL;
    }
    PGresult *res;
    if (db->npending) { /* the last job's RELEASE goes with the COMMIT */
        res = send_pending(db, NULL, NULL, "COMMIT", "COMMIT", &err);
    } else {
        count_trip();
        res = PQexec(db->conn, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            err = map_err(db, res, "COMMIT");
    }
    if (err == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0) /* "ROLLBACK": the transaction had failed */
        err = MER_E_CONFLICT;
    PQclear(res);
    if (err)
        pg_rollback(d);
    return err;
}

static int pg_notify(mer_db_t *db, const char *channel, const char *payload)
{
    int rc = mer_db_exec(db, "SELECT pg_notify(?, ?)", "ss", channel, payload);
    return rc < 0 ? rc : 0;
}

static int pg_listen(mer_db_t *d, const char *channel)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "LISTEN %s", channel); /* a name (db.c checked it), not a value: no parameter */
    return pg_script(d, sql);
}

/* Notes arrive on the connection's socket between statements; a listener runs none, so it polls the socket. */
static int pg_wait_notes(mer_db_t *d, int timeout_ms, void (*fn)(void *arg, const char *payload), void *arg)
{
    pg_db_t *db = (pg_db_t *)d;
    int sock = PQsocket(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK || sock < 0)
        return MER_E_UNAVAILABLE;
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int rc = poll(&p, 1, timeout_ms);
    if (rc > 0 && (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)) {
        mer_log_warn("db %s: listener connection lost: %s", db->base.path, PQerrorMessage(db->conn));
        return MER_E_UNAVAILABLE;
    }
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(db->conn)) != NULL) {
        fn(arg, note->extra);
        PQfreemem(note);
        n++;
    }
    return n;
}

static int64_t pg_total_changes(mer_db_t *d)
{
    return ((pg_db_t *)d)->changes;
}

/* Replaces every whole-word occurrence of from (case-sensitive, as the schema is written) with to. */
static char *replace_word(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    mer_buf_t b = MER_BUF_INIT;
    for (const char *p = s; *p;) {
        const char *hit = strstr(p, from);
        if (hit == NULL) {
            mer_buf_add(&b, p, strlen(p));
            break;
        }
        bool word = (hit == s || !(isalnum((unsigned char)hit[-1]) || hit[-1] == '_')) &&
                    !(isalnum((unsigned char)hit[fl]) || hit[fl] == '_');
        mer_buf_add(&b, p, (size_t)(hit - p));
        if (word)
            mer_buf_add(&b, to, tl);
        else
            mer_buf_add(&b, hit, fl);
        p = hit + fl;
    }
    free(s);
    char *out = mer_xstrndup(mer_buf_str(&b), b.len);
    mer_buf_release(&b);
    return out;
}

/*
 * An FTS5 table ("CREATE VIRTUAL TABLE t USING fts5(a, b, c UNINDEXED, tokenize = '...');") as a plain
 * table (columns named *_id are integers, the rest text) with a GIN index over the indexed columns'
 * tsvector ('simple' configuration). Returns s, rewritten, freed and replaced.
 */
static char *fts_table(char *s)
{
    const char *start;
    while ((start = strstr(s, "CREATE VIRTUAL TABLE ")) != NULL) {
        const char *name = start + strlen("CREATE VIRTUAL TABLE ");
        const char *name_end = strstr(name, " USING fts5(");
        const char *end = name_end ? strstr(name_end, ");") : NULL;
        if (end == NULL)
            break;
        mer_buf_t b = MER_BUF_INIT, doc = MER_BUF_INIT;
        mer_buf_add(&b, s, (size_t)(start - s));
        mer_buf_printf(&b, "CREATE TABLE %.*s (", (int)(name_end - name), name);
        const char *args = name_end + strlen(" USING fts5(");
        int ncols = 0;
        while (args < end) {
            while (args < end && (*args == ' ' || *args == ','))
                args++;
            const char *arg_end = args;
            while (arg_end < end && *arg_end != ',')
                arg_end++;
            size_t alen = (size_t)(arg_end - args);
            if (alen && strncmp(args, "tokenize", 8) != 0) {
                size_t cl = 0;
                while (cl < alen && args[cl] != ' ')
                    cl++;
                bool indexed = memmem(args, alen, "UNINDEXED", 9) == NULL;
                bool is_id = cl > 3 && memcmp(args + cl - 3, "_id", 3) == 0;
                mer_buf_printf(&b, "%s%.*s %s", ncols++ ? ", " : "", (int)cl, args, is_id ? "BIGINT" : "TEXT");
                if (indexed)
                    mer_buf_printf(&doc, "%scoalesce(%.*s, '')", doc.len ? " || ' ' || " : "", (int)cl, args);
            }
            args = arg_end;
        }
        mer_buf_printf(&b, ");CREATE INDEX %.*s_search ON %.*s USING gin (to_tsvector('simple', %s))",
                       (int)(name_end - name), name, (int)(name_end - name), name, doc.len ? mer_buf_str(&doc) : "''");
        mer_buf_addstr(&b, end + 1);
        free(s);
        s = mer_xstrndup(mer_buf_str(&b), b.len);
        mer_buf_release(&b);
        mer_buf_release(&doc);
    }
    return s;
}

/*
 * SQLite's schema text in PostgreSQL's words: rowid aliases become identity columns, INTEGER (64-bit in
 * SQLite) BIGINT, BLOB BYTEA, REAL DOUBLE PRECISION; WITHOUT ROWID goes; FTS5 tables see fts_table().
 */
static char *pg_ddl(const char *sql)
{
    char *s = fts_table(mer_xstrdup(sql));
    s = replace_word(s, " WITHOUT ROWID", "");
    /* "user" is a reserved word in PostgreSQL: the table of that name is quoted (domain SQL quotes it) */
    s = replace_word(s, "TABLE user", "TABLE \"user\"");
    s = replace_word(s, "REFERENCES user", "REFERENCES \"user\"");
    s = replace_word(s, "ON user", "ON \"user\"");
    s = replace_word(s, "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    s = replace_word(s, "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    s = replace_word(s, "INTEGER", "BIGINT");
    s = replace_word(s, "BLOB", "BYTEA");
    s = replace_word(s, "REAL", "DOUBLE PRECISION");
    return s;
}

static char *pg_quote(mer_db_t *d, const char *text, bool identifier)
{
    pg_db_t *db = (pg_db_t *)d;
    if (!ensure_connected(db))
        return NULL;
    char *q =
        identifier ? PQescapeIdentifier(db->conn, text, strlen(text)) : PQescapeLiteral(db->conn, text, strlen(text));
    char *own = q ? mer_xstrdup(q) : NULL;
    PQfreemem(q);
    return own;
}

const mer_db_backend_t mer_db_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .defer = pg_defer,
    .defer_result = pg_defer_result,
    .insert = pg_insert,
    .flush = pg_flush,
    .query = pg_query,
    .query_int = pg_query_int,
    .next = pg_next,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .col_len = pg_col_len,
    .col_null = pg_col_null,
    .end = pg_end,
    .script = pg_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .total_changes = pg_total_changes,
    .notify = pg_notify,
    .listen = pg_listen,
    .wait_notes = pg_wait_notes,
    .has_table_sql = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
    .ddl = pg_ddl,
    .quote = pg_quote,
};
