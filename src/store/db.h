/*
 * db.h — the storage interface every domain module uses. Nothing outside src/store/ includes sqlite3.h.
 *
 * The interface is deliberately narrow: open a connection, run a statement with typed parameters, walk its
 * rows, group statements in a transaction, and run versioned migrations. Domain code writes portable SQL:
 * '?' placeholders, "INSERT ... RETURNING id" (or mer_db_insert) instead of last-insert-id, ISO timestamps as integer
 * Unix milliseconds, money as INTEGER. A PostgreSQL backend implements this same header (rewriting '?' to $n), so no
 * domain file changes when it arrives.
 *
 * Parameters are described by a type string, one letter per '?':
 *     'i'  int64_t          's'  const char * (NUL-terminated; NULL binds SQL NULL)
 *     'S'  const char *, size_t (counted text)     'n'  no argument, binds NULL
 *
 *     mer_rows_t *r = mer_db_query(db, "SELECT id, name FROM product WHERE brand = ? AND active = ?",
 *                                  "si", brand, (int64_t)1);
 *     while (mer_rows_next(r))
 *         use(mer_rows_int(r, 0), mer_rows_text(r, 1));
 *     int err = mer_rows_end(r);   // 0, or the error that stopped the walk
 *
 * Statements are prepared once per connection and cached by the address of the SQL text, so pass string
 * literals (or strings that outlive the connection). A connection belongs to one thread at a time.
 * Errors: constraint violations return MER_E_ALREADY_EXISTS (unique) or MER_E_CONFLICT (other
 * constraints); a busy database MER_E_UNAVAILABLE; anything else MER_E_INTERNAL, logged with the SQL.
 */
#ifndef MER_DB_H
#define MER_DB_H

#include "core/common.h"
#include "core/err.h"

typedef struct mer_db mer_db_t;
typedef struct mer_rows mer_rows_t;

enum {
    MER_DB_READONLY = 1, /* open read-only (reader connections of worker threads) */
    MER_DB_CREATE = 2,   /* create the file if missing */
    MER_DB_LAZY = 4,     /* PostgreSQL: a server that cannot be reached now is no error: the connection is returned
                          * unconnected and made on its first statement (MER_E_UNAVAILABLE while the server stays
                          * away), as a lost one is (a region's connection to the catalogue hub, store.h) */
};

/*
 * Opens a database: a SQLite file (WAL mode, durable commits), or a PostgreSQL database when path is a
 * URL ("postgresql://user@host:port/dbname", libpq's URI form; READONLY and CREATE do not apply: the
 * database must exist). Returns 0, or a negative error (logged).
 */
int mer_db_open(const char *path, int flags, mer_db_t **out);
void mer_db_close(mer_db_t *db);
const char *mer_db_path(const mer_db_t *db);
/* A path or URL as it may be shown (logs, errors): a password in a URL ("user:PASSWORD@", "password=..."
 * among its parameters) replaced by "***". Caller frees. */
char *mer_db_redact(const char *path);
/* Is path a PostgreSQL URL (rather than a file)? */
bool mer_db_is_url(const char *path);
/* "sqlite" or "postgresql". */
const char *mer_db_backend_name(const mer_db_t *db);
/* The store's name for a connection's database ("catalog.db", "region-in.db", whatever the backend), which
 * fault specs (below) match besides the path. Truncated to 31 bytes. */
void mer_db_set_label(mer_db_t *db, const char *label);

/* Runs a statement that returns no rows. Returns the number of rows changed (>= 0), or a negative error. */
int mer_db_exec(mer_db_t *db, const char *sql, const char *types, ...);

/*
 * Runs a write whose result the caller does not read now (an INSERT of a child row, an event, a log line): a
 * backend with a network round trip per statement (PostgreSQL) does not wait for it, inside a transaction: it
 * is sent in the same round trip as the connection's next synchronous call, in order, so that call and every
 * later statement see its rows. Outside a transaction, and on SQLite, it runs at once. Parameters are copied.
 *
 * Returns 0 or a negative error; a failure, whenever it is seen, is MER_E_UNAVAILABLE (the database is gone)
 * or MER_E_INTERNAL (anything else, constraint violations included, logged with the statement's SQL): use it
 * for statements whose failure the caller would only pass on as an internal error, never for one whose
 * constraint decides something (a unique key that means "exists already", a CHECK that means "out of stock").
 *
 * Where a failure is seen: at once (SQLite, or a statement PostgreSQL could not queue), else by the next
 * synchronous call of this connection — mer_db_exec, mer_db_query, mer_db_query_int, mer_db_savepoint,
 * mer_db_release, mer_db_commit — which returns that error instead of its own, and by every call after it
 * until mer_db_rollback_to or mer_db_rollback (PostgreSQL's transaction is aborted meanwhile; a COMMIT rolls
 * it back). A deferred statement never outlives its savepoint: mer_db_savepoint and mer_db_release wait for
 * the deferred statements before them, so a failure is reported inside the savepoint that queued it (the
 * writer's job, store/writer.h), and mer_db_rollback_to drops those not sent yet (they would be undone).
 * A statement fault (mer_db_fault_set) matching a deferred statement fails it like a server error would.
 */
int mer_db_defer(mer_db_t *db, const char *sql, const char *types, ...);

/*
 * What a deferred statement did, for mer_db_defer_result: known once the statement ran, that is when
 * mer_db_defer_result returned on SQLite (or outside a transaction), else after the connection's next
 * synchronous call returned without error. ready stays false while it is not known, and for good when the
 * statement never ran (dropped by mer_db_rollback_to or mer_db_rollback, or skipped after a failure before it).
 */
typedef struct mer_db_later {
    bool ready;
    int64_t changed; /* rows the statement changed */
    bool returned;   /* it returned a row (RETURNING): value is that row's column 0 */
    int64_t value;
} mer_db_later_t;

/*
 * mer_db_defer, and what the statement did lands in *later (above), which must stay valid until the next
 * synchronous call of the connection returned (or a rollback): for a write whose outcome decides something
 * but need not be known before the job's next read, e.g. a conditional UPDATE that reserves stock, its
 * changed-row count read after the order number's UPDATE ... RETURNING came back, both in one round trip.
 * The same rule for failures as mer_db_defer (a changed-row count of 0 is no failure).
 */
int mer_db_defer_result(mer_db_t *db, mer_db_later_t *later, const char *sql, const char *types, ...);

/* Sends the deferred statements queued now (one round trip on PostgreSQL; nothing to do when none is queued,
 * and on SQLite) and returns 0, or the error of one that failed (the connection's as for any synchronous
 * call). For a caller that needs a mer_db_defer_result and has no synchronous call of its own to wait on. */
int mer_db_flush(mer_db_t *db);

/*
 * An INSERT whose generated id the caller needs, without waiting for it: sql names the id column first
 * and its value is the first parameter, type 'n' ("INSERT INTO orders (id, number, ...) VALUES (?, ?, ...)",
 * "ns..."). *id is the new row's id when the call returns. SQLite binds NULL, runs the INSERT at once and
 * reports the rowid it assigned. PostgreSQL takes the id from a block of values of the column's sequence
 * (pg_get_serial_sequence) that this connection fetched beforehand (one query per 64 ids, with whatever
 * is queued), binds it and defers the INSERT as mer_db_defer does, with the same rules for failures. Ids
 * are unique but, on a database shared by several connections, not in commit order (each connection draws
 * from its own block: order lists by time, not by id); an id handed to a job that is rolled back is not given
 * again on PostgreSQL (SQLite may assign that rowid again: nothing of the job remains to refer to it). Later
 * statements of the job may use the id at once (a deferred child row refers to it).
 */
int mer_db_insert(mer_db_t *db, int64_t *id, const char *sql, const char *types, ...);

/*
 * Starts a query. Never NULL: on a prepare or bind error the first mer_rows_next() returns false and
 * mer_rows_end() returns the error. Only one open mer_rows_t per SQL text per connection is cached; a
 * nested use of the same text gets a fresh statement.
 */
mer_rows_t *mer_db_query(mer_db_t *db, const char *sql, const char *types, ...);
bool mer_rows_next(mer_rows_t *r);
int64_t mer_rows_int(mer_rows_t *r, int col);
/* Text of a column, valid until the next mer_rows_next/mer_rows_end; "" for NULL. */
const char *mer_rows_text(mer_rows_t *r, int col);
size_t mer_rows_len(mer_rows_t *r, int col);
bool mer_rows_null(mer_rows_t *r, int col);
/* Finishes the query; returns 0 or the error that ended it. */
int mer_rows_end(mer_rows_t *r);

/*
 * Runs a one-row query and stores column 0 as an integer in *out. Returns 0, MER_E_NOT_FOUND when no
 * row came back, or another negative error. The cheap way to write a row and read it back: SQLite runs
 * "INSERT INTO t ... RETURNING x" and "UPDATE t SET ... RETURNING x" given here as the statement and then
 * a read of the row it wrote, without the temporary table its RETURNING costs (db_sqlite.c).
 */
int mer_db_query_int(mer_db_t *db, int64_t *out, const char *sql, const char *types, ...);

/* Transactions. begin takes the write lock at once (BEGIN IMMEDIATE). Savepoints nest inside. */
int mer_db_begin(mer_db_t *db);
int mer_db_commit(mer_db_t *db);
/*
 * Commits as mer_db_commit does, but a SQLite COMMIT returns once the transaction is in the write-ahead
 * log and before the log is synced: other connections see it already, and *sync_fd is a descriptor of
 * the log that must be fdatasync()ed, from any thread, before anything of the transaction is
 * acknowledged (the region writers do that beside their next batch: store/writer.c). *sync_fd is -1 when
 * the commit owes no sync: durable on return (PostgreSQL, SQLite without its log VFS), a COMMIT that wrote
 * nothing to the log, or one that failed.
 */
int mer_db_commit_nosync(mer_db_t *db, int *sync_fd);
void mer_db_rollback(mer_db_t *db);
int mer_db_savepoint(mer_db_t *db);
int mer_db_release(mer_db_t *db);
void mer_db_rollback_to(mer_db_t *db);
/* Rows changed by INSERT, UPDATE and DELETE on this connection since it opened, rolled back ones
 * included (the writer tells a batch that wrote from one that only looked); deferred statements count once
 * their results are in (after the next synchronous call), those dropped by mer_db_rollback_to not at all. */
int64_t mer_db_total_changes(mer_db_t *db);
/* Statements this connection ran through mer_db_exec, mer_db_defer, mer_db_query and mer_db_query_int since
 * it opened (transaction and savepoint commands not counted): the cost of a job in statements, whatever the
 * load (the writer's meridian_writer_statements_total, unit tests). On a database server the synchronous ones
 * are round trips; deferred ones ride with them (mer_db_round_trips counts those). */
int64_t mer_db_statements(const mer_db_t *db);
/* Rows that full scans of a table stepped over on this connection since it opened (SQLite's
 * SQLITE_STMTSTATUS_FULLSCAN_STEP, counted as each statement finishes; always 0 on PostgreSQL): a read meant
 * to seek an index shows here when it scans instead (unit tests). */
int64_t mer_db_scan_steps(const mer_db_t *db);
/* Round trips this process made to database servers, all connections together (0 while every database is a
 * SQLite file: those are in the process). For /metrics (meridian_db_round_trips_total) and the benchmark. */
int64_t mer_db_round_trips(void);

/*
 * Fault injection, for tests: makes one statement or one commit fail as a disk I/O error would, so that
 * tests can check that a client gets a clean error and nothing half-written remains. spec is
 *     "stmt:N[:TEXT]"    the Nth statement (any connection) whose SQL contains TEXT fails before it runs:
 *                        mer_db_exec/mer_db_query_int return MER_E_INTERNAL, a query's mer_rows_end does;
 *     "commit:N[:TEXT]"  the Nth COMMIT of a transaction that changed rows, on a database whose path or
 *                        label contains TEXT (e.g. "region-in"), fails: the transaction is rolled back and
 *                        mer_db_commit returns MER_E_INTERNAL (commits that wrote nothing are not counted).
 * N counts from when the fault is armed; it fires once, then everything works again. NULL or "" disarms.
 * The environment variable MERIDIAN_FAULT, read when the first database opens, arms it for a whole process
 * (`MERIDIAN_FAULT=commit:1:region-in meridian serve ...`). Arm it while no statement runs. Compiled into
 * every build; while disarmed it costs one relaxed atomic load per statement. Returns 0, or
 * MER_E_VALIDATION for a spec it does not understand (then nothing is armed).
 */
int mer_db_fault_set(const char *spec);
/* Faults injected since the process started. */
int64_t mer_db_fault_fired(void);

/*
 * Write-ahead log upkeep (SQLite; a backend without a local log does nothing and reports 0 pages).
 * By default a connection copies the log back into the database file itself, inside the COMMIT that
 * grows the log past ~10,000 pages: that COMMIT (and every write waiting behind it) pays for the copy.
 * A connection whose owner checkpoints elsewhere (the region writer, see store/writer.c) calls
 * mer_db_wal_manual() once; mer_db_wal_pages() is then the log's size in pages after this connection's
 * last commit (0 after the log restarted). mer_db_checkpoint() copies what it can without waiting for
 * any lock (a PASSIVE checkpoint, durable: the log is synced before and the database file after) and
 * reports the log's pages and how many of them are now in the database file. Returns 0,
 * MER_E_UNAVAILABLE when another checkpoint is running, or another negative error.
 */
void mer_db_wal_manual(mer_db_t *db);
int64_t mer_db_wal_pages(const mer_db_t *db);
int mer_db_checkpoint(mer_db_t *db, int64_t *wal_pages, int64_t *copied);

/* Runs several ';'-separated statements without parameters (schema scripts). */
int mer_db_script(mer_db_t *db, const char *sql);

typedef struct mer_migration {
    int version;      /* strictly increasing from 1 */
    const char *sql;  /* a script run in one transaction (SQLite's dialect; other backends translate it) */
    const char *only; /* NULL: every backend; else the one backend (its name) that runs it: the others only
                       * record the version (a change of how SQLite stores or checks what is the same) */
} mer_migration_t;

/*
 * Notes between the processes that share a database (store/notify.h is their user). mer_db_notify, inside a
 * transaction, queues payload on channel: the database delivers it to every connection listening on that
 * channel when, and only if, the transaction commits (a savepoint rolled back drops it). mer_db_listen makes
 * this connection a listener (a lost connection loses it: listen again after an error); mer_db_wait_notes
 * waits up to timeout_ms, calls fn for each note received, and returns how many, or MER_E_UNAVAILABLE when the
 * connection was lost. A backend whose database belongs to one process (SQLite) sends nothing: notify
 * returns 0, listen and wait_notes MER_E_UNAVAILABLE. channel: lower-case letters and '_'.
 */
bool mer_db_can_notify(const mer_db_t *db);
int mer_db_notify(mer_db_t *db, const char *channel, const char *payload);
int mer_db_listen(mer_db_t *db, const char *channel);
int mer_db_wait_notes(mer_db_t *db, int timeout_ms, void (*fn)(void *arg, const char *payload), void *arg);

/* This process's name among the nodes sharing databases ("<pid in hex>.<hex>"), the same for its whole life;
 * PostgreSQL connections carry it as their application_name. Any thread. */
const char *mer_db_node(void);

/*
 * text quoted for the backend's SQL: a literal ('...') or, identifier true, a name ("..."). Only for the few
 * statements that take no parameters (PostgreSQL's CREATE SUBSCRIPTION ... CONNECTION); everything else binds
 * '?'. Caller frees; NULL when the backend has no such statements (SQLite) or on an encoding error.
 */
char *mer_db_quote(mer_db_t *db, const char *text, bool identifier);

/* Does the database have a table of that name? (False on an error, logged.) */
bool mer_db_has_table(mer_db_t *db, const char *name);

/* Applies every migration newer than the database's schema version, each in its own transaction. */
int mer_db_migrate(mer_db_t *db, const mer_migration_t *m, size_t n);

#endif
