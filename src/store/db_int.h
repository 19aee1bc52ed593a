/*
 * db_int.h — what a storage backend implements behind store/db.h (the store layer's own header).
 *
 * db.c holds the public functions of db.h: it picks a backend by the path's form when a connection opens
 * ("postgresql://..." or "postgres://..." is PostgreSQL, anything else a SQLite file), dispatches every
 * call through the connection's backend, and keeps what is common to all backends: fault injection and
 * the migration runner. A backend's connection and row cursor structs begin with mer_db_t and mer_rows_t.
 */
#ifndef MER_DB_INT_H
#define MER_DB_INT_H

#include <stdarg.h>

#include "store/db.h"

typedef struct mer_db_backend mer_db_backend_t;

struct mer_db {
    const mer_db_backend_t *be;
    char *path;            /* as opened (a file path, or a URL without its password) */
    char label[32];        /* the store's name for it (mer_db_set_label), "" until set */
    int64_t begin_changes; /* total changes at the last BEGIN: did the transaction write (faults) */
    int64_t statements;    /* statements run through exec, query and query_int (mer_db_statements) */
    int64_t scan_steps;    /* rows full table scans stepped over (mer_db_scan_steps; the backend counts) */
};

struct mer_rows {
    mer_db_t *db;
};

struct mer_db_backend {
    const char *name; /* "sqlite", "postgresql" */
    int (*open)(const char *path, int flags, mer_db_t **out);
    void (*close)(mer_db_t *db);
    int (*exec)(mer_db_t *db, const char *sql, const char *types, va_list ap);
    /* mer_db_defer (0 or an error, mapped by db.c); NULL: the backend runs it at once with exec */
    int (*defer)(mer_db_t *db, const char *sql, const char *types, va_list ap);
    /* mer_db_defer_result (later filled as db.h says, or at once); every backend has it */
    int (*defer_result)(mer_db_t *db, mer_db_later_t *later, const char *sql, const char *types, va_list ap);
    /* mer_db_insert: the first parameter ('n') is the id; 0 with *id, or an error (mapped by db.c) */
    int (*insert)(mer_db_t *db, int64_t *id, const char *sql, const char *types, va_list ap);
    /* mer_db_flush; NULL: nothing is ever queued */
    int (*flush)(mer_db_t *db);
    mer_rows_t *(*query)(mer_db_t *db, const char *sql, const char *types, va_list ap);
    int (*query_int)(mer_db_t *db, int64_t *out, const char *sql, const char *types, va_list ap);
    bool (*next)(mer_rows_t *r);
    int64_t (*col_int)(mer_rows_t *r, int col);
    const char *(*col_text)(mer_rows_t *r, int col);
    size_t (*col_len)(mer_rows_t *r, int col);
    bool (*col_null)(mer_rows_t *r, int col);
    int (*end)(mer_rows_t *r);
    int (*script)(mer_db_t *db, const char *sql);
    int (*begin)(mer_db_t *db);                       /* takes the write lock when the backend has one */
    int (*commit)(mer_db_t *db);                      /* on failure the transaction is rolled back */
    int (*commit_nosync)(mer_db_t *db, int *sync_fd); /* optional: mer_db_commit_nosync */
    void (*rollback)(mer_db_t *db);                   /* a no-op outside a transaction */
    int64_t (*total_changes)(mer_db_t *db);
    /* the write-ahead log's upkeep (db.h); NULL: the backend has no local log */
    void (*wal_manual)(mer_db_t *db);
    int64_t (*wal_pages)(const mer_db_t *db);
    int (*checkpoint)(mer_db_t *db, int64_t *wal_pages, int64_t *copied);
    /* notes to other processes on the same database (db.h); NULL: a backend with one process per database */
    int (*notify)(mer_db_t *db, const char *channel, const char *payload);
    int (*listen)(mer_db_t *db, const char *channel);
    int (*wait_notes)(mer_db_t *db, int timeout_ms, void (*fn)(void *arg, const char *payload), void *arg);
    /* a one-row query counting the tables named by its one '?' parameter (mer_db_has_table) */
    const char *has_table_sql;
    /* a migration script in the backend's dialect (caller frees); NULL: the script runs as written */
    char *(*ddl)(const char *sql);
    /* mer_db_quote; NULL: the backend never needs it */
    char *(*quote)(mer_db_t *db, const char *text, bool identifier);
};

extern const mer_db_backend_t mer_db_sqlite;
extern const mer_db_backend_t mer_db_pg;

/* Fault injection, for backends: true when this statement (or this commit, of a transaction that wrote)
 * must fail as an I/O error would; logged. One relaxed atomic load while nothing is armed. */
bool mer_db_fault_stmt(const mer_db_t *db, const char *sql);
bool mer_db_fault_commit(mer_db_t *db);

/* The error a deferred statement's failure is (db.h: mer_db_defer): MER_E_UNAVAILABLE and
 * MER_E_INTERNAL as they are, anything else (a constraint) MER_E_INTERNAL, logged with sql. */
int mer_db_deferred_error(const mer_db_t *db, int err, const char *sql);

#endif
