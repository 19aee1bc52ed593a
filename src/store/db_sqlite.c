/*
 * db_sqlite.c — the SQLite implementation of store/db.h.
 *
 * Each connection runs in WAL mode with synchronous=FULL: a COMMIT returns only after the WAL is fsync'd,
 * so a transaction that committed survives kill -9 and power loss. Prepared statements are cached per
 * connection in a small open-addressing table keyed by the SQL text's address.
 *
 * RETURNING without a temporary table. SQLite runs "INSERT/UPDATE ... RETURNING" by storing every row it
 * returns in a temporary b-tree first (its own pager, an ~87 KB page-cache allocation, opened and closed per
 * run): on the order path that was a third of the writer's CPU for four one-row statements. A one-row query
 * (mer_db_query_int), or a statement whose outcome is wanted (mer_db_defer_result: the stock reservation), of
 * the form "INSERT INTO t ... RETURNING x" or "UPDATE t SET ... RETURNING x" on a rowid table without
 * triggers is therefore split once, when its statement is cached: the statement without its RETURNING
 * clause, and "SELECT x FROM t WHERE rowid = ?". The update hook (installed on every read-write connection,
 * idle unless a split statement runs) notes the rowid of the first row of t that the statement wrote; the
 * SELECT then reads that row as it is after the statement, which is what RETURNING reports. No row written
 * (a WHERE that matched nothing, ON CONFLICT DO NOTHING) is MER_E_NOT_FOUND for mer_db_query_int and no row
 * returned for mer_db_defer_result, as before. Statements that do not fit (DELETE, a '?' after RETURNING, a
 * table with triggers or WITHOUT ROWID, a cursor walk through mer_db_query) run as written.
 */
#include "store/db_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <ctype.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/sqlite_walvfs.h"
#include "core/banned.h"

#define STMT_CACHE 256 /* slots; a power of two */

typedef struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt; /* sql as written, or without its RETURNING clause when ret is set */
    sqlite3_stmt *ret;  /* a split RETURNING (file comment): "SELECT x FROM <table> WHERE rowid = ?"; or NULL */
    char *table;        /* with ret: the table whose written row it reads */
    bool busy;          /* a mer_rows_t is walking it */
} stmt_slot_t;

typedef struct sq_db sq_db_t;

typedef struct sq_rows {
    mer_rows_t base;
    sq_db_t *db;
    sqlite3_stmt *stmt;
    stmt_slot_t *slot; /* NULL for an uncached statement, finalized at end */
    int err;
    bool done;
} sq_rows_t;

struct sq_db {
    mer_db_t base;
    sqlite3 *conn;
    const char *path; /* base.path */
    stmt_slot_t stmts[STMT_CACHE];
    sq_rows_t rows_pool[4]; /* cursors handed out without malloc; nested queries take the next */
    bool rows_used[4];
    int64_t wal_pages; /* after mer_db_wal_manual: the log's size after the last commit (wal_hook) */
    /* a split RETURNING running (update_hook): the table watched (NULL: none) and its first row written */
    const char *watch_table;
    bool watch_seen;
    sqlite3_int64 watch_rowid;
};

static int map_err(sq_db_t *db, int rc, const char *sql)
{
    int ext = sqlite3_extended_errcode(db->conn);
    rc &= 0xff; /* extended result codes are on: compare the primary code */
    if (rc == SQLITE_CONSTRAINT) {
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            return MER_E_ALREADY_EXISTS;
        return MER_E_CONFLICT;
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        mer_log_warn("db %s busy: %s", db->path, sql ? sql : "");
        return MER_E_UNAVAILABLE;
    }
    mer_log_error("db %s: %s (%d) in: %.200s", db->path, sqlite3_errmsg(db->conn), ext, sql ? sql : "");
    return MER_E_INTERNAL;
}

/*
 * SQLite's memory: its default allocator (malloc, the size in 8 bytes in front), but blocks it frees and asks
 * for again are kept. Every statement run opens cursors of 400-600 bytes and frees them at its end, a dozen of
 * one size per order (Debian's SQLite has no lookaside); glibc keeps 7 freed blocks of a size per thread, the
 * rest went through its bins, split and merged again. Blocks of up to SMALL_MAX bytes are therefore made in
 * sizes of SMALL_STEP (what mem_size reports), and a thread keeps up to KEPT of each size (KEPT_CHUNKS of the
 * largest, the chunk of an in-memory journal under temp_store=MEMORY) for its next use, given back to malloc
 * when it exits.
 *
 * The savepoint journal of a writer job (and a statement's journal) is one block. Under temp_store=MEMORY
 * SQLite kept it in 1,024-byte chunks, each a call of the public sqlite3_malloc (which in Debian's build also
 * runs sqlite3_initialize and its memory barrier): ~70 per order. Otherwise the journal is kept in memory in
 * one chunk of the statement-journal spill size and goes to a temporary file only past it (at SQLite's
 * default of 64 KiB an order's job passed it: two pwrite()s per page, ~6,000 a second under load, the reason
 * for temp_store=MEMORY until 2026-12-04). So the spill size is JOURNAL_BLOCK, which no order comes near, and
 * a thread keeps its block for the next job: an order's journal is ~70 KB of copying and no allocation. A
 * job that changes more (a bulk import) spills the rest to a file.
 */
#define JOURNAL_BLOCK (16 << 20)

#define SMALL_STEP 64
#define SMALL_MAX 1024
#define KEPT 64
#define KEPT_CHUNKS 256

typedef struct chunk {
    struct chunk *next;
} chunk_t;

static __thread chunk_t *kept[SMALL_MAX / SMALL_STEP + 1]; /* by size / SMALL_STEP */
static __thread int nkept[SMALL_MAX / SMALL_STEP + 1];
static __thread void *journal; /* a kept journal block (JOURNAL_BLOCK and SQLite's chunk header) */
static __thread bool keeping;
static pthread_key_t kept_key; /* set in a thread that keeps blocks: its exit frees them */

static void kept_free(void *unused)
{
    (void)unused;
    for (size_t k = 0; k < MER_ARRAY_LEN(kept); k++) {
        while (kept[k]) {
            chunk_t *c = kept[k];
            kept[k] = c->next;
            free((int64_t *)(void *)c - 1);
        }
        nkept[k] = 0;
    }
    if (journal)
        free((int64_t *)journal - 1);
    journal = NULL;
    keeping = false;
}

/* Has the calling thread's exit free what it keeps (kept_free). */
static void keep_until_exit(void)
{
    if (!keeping) {
        pthread_setspecific(kept_key, &keeping);
        keeping = true;
    }
}

/* A journal's block: JOURNAL_BLOCK and the few bytes of SQLite's chunk header in front of it. */
static bool journal_size(int64_t n)
{
    return n > JOURNAL_BLOCK && n <= JOURNAL_BLOCK + 64;
}

static void *mem_malloc(int n)
{
    if (journal_size(n) && journal && ((int64_t *)journal)[-1] >= n) {
        void *q = journal;
        journal = NULL;
        return q;
    }
    if (n > 0 && n <= SMALL_MAX) {
        n = (n + SMALL_STEP - 1) / SMALL_STEP * SMALL_STEP;
        chunk_t **head = &kept[n / SMALL_STEP];
        if (*head) {
            chunk_t *c = *head;
            *head = c->next;
            nkept[n / SMALL_STEP]--;
            return c;
        }
    }
    int64_t *p = malloc((size_t)n + sizeof(int64_t));
    if (p == NULL)
        return NULL;
    p[0] = n;
    return p + 1;
}

static void mem_free(void *q)
{
    int64_t *p = (int64_t *)q - 1;
    int64_t n = p[0]; /* a block has at least the bytes its header says: any block of a kept size will do */
    if (journal_size(n) && journal == NULL) {
        keep_until_exit();
        journal = q;
        return;
    }
    if (n > 0 && n <= SMALL_MAX && n % SMALL_STEP == 0 &&
        nkept[n / SMALL_STEP] < (n == SMALL_MAX ? KEPT_CHUNKS : KEPT)) {
        keep_until_exit();
        chunk_t *c = q;
        c->next = kept[n / SMALL_STEP];
        kept[n / SMALL_STEP] = c;
        nkept[n / SMALL_STEP]++;
        return;
    }
    free(p);
}

static void *mem_realloc(void *q, int n)
{
    int64_t *p = realloc((int64_t *)q - 1, (size_t)n + sizeof(int64_t));
    if (p == NULL)
        return NULL;
    p[0] = n;
    return p + 1;
}

static int mem_size(void *q)
{
    return q ? (int)((int64_t *)q)[-1] : 0;
}

static int mem_roundup(int n)
{
    return (n + 7) & ~7;
}

static int mem_init(void *unused)
{
    (void)unused;
    return pthread_key_create(&kept_key, kept_free) == 0 ? SQLITE_OK : SQLITE_NOMEM;
}

static void mem_shutdown(void *unused)
{
    (void)unused;
}

/* Once per process, before any connection: the allocator above; and no memory statistics, which take a
 * global mutex on every allocation (serialising all threads that touch a database). */
static void configure_once(void)
{
    static const sqlite3_mem_methods mem = {mem_malloc,  mem_free, mem_realloc,  mem_size,
                                            mem_roundup, mem_init, mem_shutdown, NULL};
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem) != SQLITE_OK)
        mer_log_error("SQLite's allocator not set: SQLite was initialised before the first connection");
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, JOURNAL_BLOCK);
    sqlite3_initialize();
}

/* Notes the first row of the watched table that a split RETURNING statement writes (file comment). */
static void update_hook(void *arg, int op, const char *dbname, const char *table, sqlite3_int64 rowid)
{
    sq_db_t *db = arg;
    (void)dbname;
    if (db->watch_table && !db->watch_seen && op != SQLITE_DELETE &&
        sqlite3_stricmp(table, db->watch_table) == 0) { /* names are case-insensitive in SQL */
        db->watch_seen = true;
        db->watch_rowid = rowid;
    }
}

static int sq_open(const char *path, int flags, mer_db_t **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_once);
    sqlite3 *conn = NULL;
    int oflags = SQLITE_OPEN_NOMUTEX;
    oflags |= (flags & MER_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (flags & MER_DB_CREATE)
        oflags |= SQLITE_OPEN_CREATE;
    /* read-write connections append their commits to the log with one write each (sqlite_walvfs.h);
     * MERIDIAN_SQLITE_WALVFS=0 turns that off (to measure it) */
    const char *nowal = getenv("MERIDIAN_SQLITE_WALVFS");
    const char *vfs = (flags & MER_DB_READONLY) || (nowal && strcmp(nowal, "0") == 0) ? NULL : mer_sqlite_walvfs();
    int rc = sqlite3_open_v2(path, &conn, oflags, vfs);
    if (rc != SQLITE_OK) {
        mer_log_error("cannot open %s: %s", path, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
        sqlite3_close(conn);
        return MER_E_INTERNAL;
    }
    sq_db_t *db = mer_xcalloc(1, sizeof(*db));
    db->conn = conn;
    db->base.be = &mer_db_sqlite;
    db->base.path = mer_xstrdup(path);
    db->path = db->base.path;
    sqlite3_busy_timeout(conn, 5000);
    sqlite3_extended_result_codes(conn, 1);
    const char *setup = (flags & MER_DB_READONLY) ? "PRAGMA foreign_keys=ON; PRAGMA cache_size=-16000;"
                                                  : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                                    /* (the savepoint journal of each writer job stays in
                                                     * memory up to JOURNAL_BLOCK: configure_once) */
                                                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-64000;"
                                                    /* checkpoint every ~40 MB of WAL, not 4 MB: hot pages
                                                     * written by every batch are copied back far less often
                                                     * (connections without a checkpointer: CLI, catalog) */
                                                    "PRAGMA wal_autocheckpoint=10000;"
                                                    /* a log that grew past 64 MB (a reader held it) is cut
                                                     * back when it restarts */
                                                    "PRAGMA journal_size_limit=67108864;";
    if (mer_db_script(&db->base, setup) != 0) {
        mer_db_close(&db->base);
        return MER_E_INTERNAL;
    }
    if (!(flags & MER_DB_READONLY))
        sqlite3_update_hook(conn, update_hook, db);
    *out = &db->base;
    return 0;
}

static int wal_hook(void *arg, sqlite3 *conn, const char *name, int pages)
{
    (void)conn;
    (void)name;
    ((sq_db_t *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

static void sq_wal_manual(mer_db_t *d)
{
    sq_db_t *db = (sq_db_t *)d;
    sqlite3_wal_autocheckpoint(db->conn, 0);  /* removes SQLite's own hook, which checkpoints in COMMIT */
    sqlite3_wal_hook(db->conn, wal_hook, db); /* installed after: the call above would clear it */
}

static int64_t sq_wal_pages(const mer_db_t *db)
{
    return ((const sq_db_t *)db)->wal_pages;
}

static int sq_checkpoint(mer_db_t *d, int64_t *wal_pages, int64_t *copied)
{
    sq_db_t *db = (sq_db_t *)d;
    int log = 0, ckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(db->conn, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
    *wal_pages = log > 0 ? log : 0;
    *copied = ckpt > 0 ? ckpt : 0;
    if (rc == SQLITE_OK && ckpt > 0 && ckpt < log) {
        /* SQLite syncs the database file only when a checkpoint reached the log's end; one that did not
         * (a writer kept committing) leaves its pages dirty in the page cache, and the checkpoint that
         * finally reaches the end would flush them all. Flush them now, here. */
        sqlite3_file *f = NULL;
        if (sqlite3_file_control(db->conn, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f && f->pMethods)
            rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    }
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return MER_E_UNAVAILABLE;
    mer_log_error("db %s: checkpoint: %s", db->path, sqlite3_errmsg(db->conn));
    return MER_E_INTERNAL;
}

static void sq_close(mer_db_t *d)
{
    sq_db_t *db = (sq_db_t *)d;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(db->stmts[i].stmt);
        sqlite3_finalize(db->stmts[i].ret);
        free(db->stmts[i].table);
    }
    sqlite3_close(db->conn);
    free(db->base.path);
    free(db);
}

static stmt_slot_t *cache_slot(sq_db_t *db, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        stmt_slot_t *s = &db->stmts[(h + i) & (STMT_CACHE - 1)];
        if (s->sql == sql || s->sql == NULL)
            return s;
    }
    return NULL; /* full: statement goes uncached */
}

/* Binds the parameters. borrowed: the statement runs to its end (and finish() clears it) before the call that
 * gave them returns, so SQLite reads the caller's strings in place instead of copying each one first. */
static int bind_params(sq_db_t *db, sqlite3_stmt *st, const char *sql, const char *types, va_list ap, bool borrowed)
{
    sqlite3_destructor_type keep = borrowed ? SQLITE_STATIC : SQLITE_TRANSIENT;
    int idx = 1, rc = SQLITE_OK;
    for (const char *t = types ? types : ""; *t; t++, idx++) {
        switch (*t) {
        case 'i':
            rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, idx, s, -1, keep) : sqlite3_bind_null(st, idx);
            break;
        }
        case 'S': {
            const char *s = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            rc = sqlite3_bind_text(st, idx, s ? s : "", (int)n, keep);
            break;
        }
        case 'n':
            rc = sqlite3_bind_null(st, idx);
            break;
        default:
            MER_BUG("bad parameter type '%c' for: %s", *t, sql);
        }
        if (rc != SQLITE_OK)
            return map_err(db, rc, sql);
    }
    if (idx - 1 != sqlite3_bind_parameter_count(st))
        MER_BUG("%d parameters given, %d wanted: %s", idx - 1, sqlite3_bind_parameter_count(st), sql);
    return 0;
}

/* Gives a statement back: a cached one is reset for the next use, a private one finalized. */
static void finish(sq_db_t *db, sqlite3_stmt *st, stmt_slot_t *slot)
{
    db->base.scan_steps += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    if (slot) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        slot->busy = false;
    } else {
        sqlite3_finalize(st);
    }
}

/*
 * Splits sql's RETURNING clause off when it can (file comment): prepares sql without it into *st and
 * "SELECT <what it returned> FROM <table> WHERE rowid = ?" into *ret, sets *table (caller frees) and returns
 * true; false, with nothing prepared, when sql does not fit.
 */
static bool split_returning(sq_db_t *db, const char *sql, sqlite3_stmt **st, sqlite3_stmt **ret, char **table)
{
    bool update = strncmp(sql, "UPDATE ", 7) == 0;
    const char *t = update ? sql + 7 : strncmp(sql, "INSERT INTO ", 12) == 0 ? sql + 12 : NULL;
    if (t == NULL)
        return false;
    size_t tn = 0;
    while (isalnum((unsigned char)t[tn]) || t[tn] == '_')
        tn++;
    /* a plain table name (no schema, no alias: the RETURNING clause names its columns plainly) */
    if (tn == 0 || tn > 63 || (update ? strncmp(t + tn, " SET ", 5) != 0 : (t[tn] != ' ' && t[tn] != '(')))
        return false;
    const char *r = NULL; /* the last " RETURNING " outside quotes */
    char quote = 0;
    for (const char *c = t + tn; *c; c++) {
        if (quote)
            quote = *c == quote ? 0 : quote;
        else if (*c == '\'' || *c == '"')
            quote = *c;
        else if (strncmp(c, " RETURNING ", 11) == 0)
            r = c;
    }
    if (r == NULL || quote || strpbrk(r + 11, "?;'\"") != NULL)
        return false;
    char name[64];
    memcpy(name, t, tn);
    name[tn] = '\0';
    sqlite3_stmt *q = NULL;
    bool triggers = true;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC) == SQLITE_OK)
        triggers = sqlite3_step(q) != SQLITE_DONE;
    sqlite3_finalize(q);
    if (triggers)
        return false;
    mer_buf_t sel = MER_BUF_INIT;
    mer_buf_printf(&sel, "SELECT %s FROM %s WHERE rowid = ?", r + 11, name);
    *st = *ret = NULL;
    /* a WITHOUT ROWID table has no rowid: its SELECT does not prepare */
    if (sqlite3_prepare_v2(db->conn, sel.data, (int)sel.len, ret, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->conn, sql, (int)(r - sql), st, NULL) != SQLITE_OK) {
        sqlite3_finalize(*ret);
        sqlite3_finalize(*st);
        *st = *ret = NULL;
        mer_buf_release(&sel);
        return false;
    }
    mer_buf_release(&sel);
    *table = mer_xstrdup(name);
    return true;
}

/*
 * Prepares (or takes from the cache) and binds. On success *slot is the busy cache slot or NULL. split: the
 * caller runs a split RETURNING (a one-row query, sq_query_int) when the slot has one; a slot that was split
 * serves only such callers, others get a private statement of sql as written. borrowed: as bind_params.
 */
static int prepare(sq_db_t *db, const char *sql, const char *types, va_list ap, bool split, bool borrowed,
                   sqlite3_stmt **out, stmt_slot_t **slot_out)
{
    if (mer_db_fault_stmt(&db->base, sql))
        return MER_E_INTERNAL;
    stmt_slot_t *slot = cache_slot(db, sql);
    sqlite3_stmt *st = NULL;
    int rc;

    if (slot && slot->sql == sql && !slot->busy && (split || slot->ret == NULL)) {
        st = slot->stmt;
    } else if (slot && slot->sql == NULL && split && split_returning(db, sql, &st, &slot->ret, &slot->table)) {
        slot->sql = sql;
        slot->stmt = st;
    } else {
        rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            return map_err(db, rc, sql);
        if (slot && slot->sql == NULL) {
            slot->sql = sql;
            slot->stmt = st;
        } else {
            slot = NULL; /* in use, split or cache full: a private statement */
        }
    }
    if (slot)
        slot->busy = true;
    int err = bind_params(db, st, sql, types, ap, borrowed);
    if (err) {
        finish(db, st, slot);
        return err;
    }
    *out = st;
    *slot_out = slot;
    return 0;
}

/*
 * Runs a split RETURNING (file comment) whose statement prepare() bound: the statement, then the row it wrote
 * first. Returns the rows the statement changed or an error; *returned says whether it wrote a row, and then
 * *out is what RETURNING reported of it.
 */
static int run_split(sq_db_t *db, stmt_slot_t *slot, const char *sql, bool *returned, int64_t *out)
{
    int rc, n = 0;
    *returned = false;
    db->watch_table = slot->table;
    db->watch_seen = false;
    while ((rc = sqlite3_step(slot->stmt)) == SQLITE_ROW)
        ;
    db->watch_table = NULL;
    if (rc != SQLITE_DONE) {
        n = map_err(db, rc, sql);
    } else if (db->watch_seen) {
        n = sqlite3_changes(db->conn);
        sqlite3_bind_int64(slot->ret, 1, db->watch_rowid);
        rc = sqlite3_step(slot->ret);
        if (rc == SQLITE_ROW) {
            *returned = true;
            *out = sqlite3_column_int64(slot->ret, 0);
        } else if (rc != SQLITE_DONE) {
            n = map_err(db, rc, sql);
        }
        sqlite3_reset(slot->ret);
    }
    finish(db, slot->stmt, slot);
    return n;
}

/*
 * Runs a statement to its end: the rows it changed, or an error; later (may be NULL) gets what it did (a
 * RETURNING statement is split for it, as for mer_db_query_int: only its first row is reported).
 */
static int run(sq_db_t *db, mer_db_later_t *later, const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st;
    stmt_slot_t *slot;
    int err = prepare(db, sql, types, ap, later != NULL, true, &st, &slot);
    if (err)
        return err;
    if (slot && slot->ret) {
        err = run_split(db, slot, sql, &later->returned, &later->value);
    } else {
        int rc = sqlite3_step(st);
        if (later && rc == SQLITE_ROW) {
            later->returned = true;
            later->value = sqlite3_column_int64(st, 0);
        }
        while (rc == SQLITE_ROW)
            rc = sqlite3_step(st);
        err = rc != SQLITE_DONE ? map_err(db, rc, sql) : sqlite3_changes(db->conn);
        finish(db, st, slot);
    }
    if (later && err >= 0) {
        later->changed = err;
        later->ready = true;
    }
    return err;
}

static int sq_exec(mer_db_t *d, const char *sql, const char *types, va_list ap)
{
    return run((sq_db_t *)d, NULL, sql, types, ap);
}

/* mer_db_defer_result: at once (the connection is in the process: nothing to wait for). */
static int sq_defer_result(mer_db_t *d, mer_db_later_t *later, const char *sql, const char *types, va_list ap)
{
    *later = (mer_db_later_t){0};
    int rc = run((sq_db_t *)d, later, sql, types, ap);
    return rc < 0 ? rc : 0;
}

/* mer_db_insert: the id's NULL makes SQLite assign the rowid. */
static int sq_insert(mer_db_t *d, int64_t *id, const char *sql, const char *types, va_list ap)
{
    sq_db_t *db = (sq_db_t *)d;
    int rc = run(db, NULL, sql, types, ap);
    if (rc < 0)
        return rc;
    *id = (int64_t)sqlite3_last_insert_rowid(db->conn);
    return 0;
}

static mer_rows_t *sq_query(mer_db_t *d, const char *sql, const char *types, va_list ap)
{
    sq_db_t *db = (sq_db_t *)d;
    sq_rows_t *r = NULL;
    for (size_t i = 0; i < MER_ARRAY_LEN(db->rows_pool); i++) {
        if (!db->rows_used[i]) {
            db->rows_used[i] = true;
            r = &db->rows_pool[i];
            break;
        }
    }
    if (r == NULL)
        r = mer_xmalloc(sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->db = db;
    r->err = prepare(db, sql, types, ap, false, false, &r->stmt, &r->slot); /* rows outlive the call */
    if (r->err)
        r->done = true;
    return &r->base;
}

static bool sq_next(mer_rows_t *rows)
{
    sq_rows_t *r = (sq_rows_t *)rows;
    if (r->done)
        return false;
    int rc = sqlite3_step(r->stmt);
    if (rc == SQLITE_ROW)
        return true;
    r->done = true;
    if (rc != SQLITE_DONE)
        r->err = map_err(r->db, rc, sqlite3_sql(r->stmt));
    return false;
}

static int64_t sq_col_int(mer_rows_t *r, int col)
{
    return sqlite3_column_int64(((sq_rows_t *)r)->stmt, col);
}

static const char *sq_col_text(mer_rows_t *r, int col)
{
    const unsigned char *t = sqlite3_column_text(((sq_rows_t *)r)->stmt, col);
    return t ? (const char *)t : "";
}

static size_t sq_col_len(mer_rows_t *r, int col)
{
    return (size_t)sqlite3_column_bytes(((sq_rows_t *)r)->stmt, col);
}

static bool sq_col_null(mer_rows_t *r, int col)
{
    return sqlite3_column_type(((sq_rows_t *)r)->stmt, col) == SQLITE_NULL;
}

static int sq_end(mer_rows_t *rows)
{
    sq_rows_t *r = (sq_rows_t *)rows;
    int err = r->err;
    sq_db_t *db = r->db;
    if (r->stmt)
        finish(db, r->stmt, r->slot);
    if (r >= db->rows_pool && r < db->rows_pool + MER_ARRAY_LEN(db->rows_pool))
        db->rows_used[r - db->rows_pool] = false;
    else
        free(r);
    return err;
}

static int sq_query_int(mer_db_t *d, int64_t *out, const char *sql, const char *types, va_list ap)
{
    sq_db_t *db = (sq_db_t *)d;
    sqlite3_stmt *st;
    stmt_slot_t *slot;
    int err = prepare(db, sql, types, ap, true, true, &st, &slot);
    if (err)
        return err;
    if (slot && slot->ret) {
        bool returned;
        err = run_split(db, slot, sql, &returned, out);
        return err < 0 ? err : returned ? 0 : MER_E_NOT_FOUND;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        err = MER_E_NOT_FOUND;
    else
        err = map_err(db, rc, sql);
    finish(db, st, slot);
    return err;
}

static int sq_script(mer_db_t *d, const char *sql)
{
    sq_db_t *db = (sq_db_t *)d;
    char *msg = NULL;
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        mer_log_error("db %s: %s in script: %.200s", db->path, msg ? msg : sqlite3_errstr(rc), sql);
        sqlite3_free(msg);
        return rc == SQLITE_BUSY ? MER_E_UNAVAILABLE : MER_E_INTERNAL;
    }
    return 0;
}

static int sq_begin(mer_db_t *db)
{
    return mer_db_exec(db, "BEGIN IMMEDIATE", NULL) < 0 ? MER_E_UNAVAILABLE : 0;
}

static int64_t sq_total_changes(mer_db_t *db)
{
    return (int64_t)sqlite3_total_changes64(((sq_db_t *)db)->conn);
}

static int sq_commit(mer_db_t *db)
{
    if (mer_db_fault_commit(db)) {
        mer_db_rollback(db);
        return MER_E_INTERNAL;
    }
    int rc = mer_db_exec(db, "COMMIT", NULL);
    if (rc < 0) {
        mer_db_rollback(db);
        return rc;
    }
    return 0;
}

static int sq_commit_nosync(mer_db_t *d, int *sync_fd)
{
    sq_db_t *db = (sq_db_t *)d;
    bool deferred = mer_sqlite_walvfs_defer_sync(db->conn, true) >= 0;
    int rc = sq_commit(d);
    /* checkpoints sync for real again; the log is owed a sync only if the COMMIT left one out */
    *sync_fd = deferred ? mer_sqlite_walvfs_defer_sync(db->conn, false) : -1;
    return rc;
}

static void sq_rollback(mer_db_t *db)
{
    if (!sqlite3_get_autocommit(((sq_db_t *)db)->conn))
        mer_db_exec(db, "ROLLBACK", NULL);
}

const mer_db_backend_t mer_db_sqlite = {
    .has_table_sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .defer_result = sq_defer_result,
    .insert = sq_insert,
    .query = sq_query,
    .query_int = sq_query_int,
    .next = sq_next,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .col_len = sq_col_len,
    .col_null = sq_col_null,
    .end = sq_end,
    .script = sq_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .commit_nosync = sq_commit_nosync,
    .rollback = sq_rollback,
    .total_changes = sq_total_changes,
    .wal_manual = sq_wal_manual,
    .wal_pages = sq_wal_pages,
    .checkpoint = sq_checkpoint,
};
