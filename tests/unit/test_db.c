/*
 * Unit tests: store/db.h behaves the same on both backends. Every case runs against a SQLite file in a
 * temporary directory and against a throwaway PostgreSQL cluster that the test starts itself on
 * loopback (tests/pg/pg.sh) and stops by PID at the end: migrations, typed parameters (int64 near the
 * money limit, counted text, NULL), '?' inside a string literal, RETURNING, changed-row counts, error
 * mapping of constraint violations, savepoints inside a transaction, rollback, fault injection,
 * deferred statements (what the caller sees when one fails), ids without RETURNING and deferred results.
 *
 * MERIDIAN_TEST_PG_URL=postgresql://... uses a running server instead of starting one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/db.h"
#include "store/store.h"
#include "store/writer.h"

static char sqlite_path[96];
static char pg_url[256];
static char pg_dir[128];

static const mer_migration_t migrations[] = {
    {.version = 1,
     .sql = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL DEFAULT 0 "
            "CHECK (qty >= 0), note TEXT);"},
    {.version = 2, .sql = "CREATE INDEX item_qty ON item(qty);"},
    /* each backend runs its own; the other records the version and skips it */
    {.version = 3, .sql = "CREATE TABLE only_sqlite (x INTEGER);", .only = "sqlite"},
    {.version = 4, .sql = "CREATE TABLE only_postgresql (x INTEGER);", .only = "postgresql"},
};

static mer_db_t *open_db(const char *path)
{
    mer_db_t *db = NULL;
    assert_int_equal(mer_db_open(path, MER_DB_CREATE, &db), 0);
    assert_int_equal(mer_db_migrate(db, migrations, MER_ARRAY_LEN(migrations)), 0);
    assert_true(mer_db_exec(db, "DELETE FROM item", NULL) >= 0);
    return db;
}

static int64_t count(mer_db_t *db)
{
    int64_t n = -1;
    assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(*) FROM item", NULL), 0);
    return n;
}

/*
 * One-row RETURNING through mer_db_query_int (SQLite runs it without a temporary table, db_sqlite.c): the
 * row as the statement left it, MER_E_NOT_FOUND when nothing was written, a constraint refused with nothing
 * changed, an upsert's row whichever way it went, and the same text walked by mer_db_query as written.
 */
static void check_returning(mer_db_t *db)
{
    static const char take[] = "UPDATE item SET qty = qty - ? WHERE name = ? AND qty >= ? RETURNING qty * 10 + 1";
    static const char add[] = "INSERT INTO item (name, qty) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET qty = "
                              "item.qty + excluded.qty RETURNING qty";
    static const char keep[] = "INSERT INTO item (name, qty) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id";
    int64_t v = -1, id = 0;
    assert_int_equal(mer_db_query_int(db, &v, add, "si", "ret", (int64_t)5), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mer_db_query_int(db, &v, add, "si", "ret", (int64_t)4), 0); /* the update of the upsert */
    assert_int_equal(v, 9);
    for (int i = 0; i < 3; i++) { /* again and again: the cached statement */
        assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)2, "ret", (int64_t)2), 0);
        assert_int_equal(v, (7 - 2 * i) * 10 + 1);
    }
    v = -1;
    assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)9, "ret", (int64_t)9), MER_E_NOT_FOUND);
    assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)1, "absent", (int64_t)1), MER_E_NOT_FOUND);
    assert_int_equal(v, -1);
    /* the CHECK (qty >= 0) refuses; nothing changed */
    assert_int_equal(mer_db_query_int(db, &v, "UPDATE item SET qty = qty - ? WHERE name = ? RETURNING qty", "is",
                                      (int64_t)100, "ret"),
                     MER_E_CONFLICT);
    assert_int_equal(mer_db_query_int(db, &v, "SELECT qty FROM item WHERE name = ?", "s", "ret"), 0);
    assert_int_equal(v, 3);
    assert_int_equal(mer_db_query_int(db, &id, "SELECT id FROM item WHERE name = ?", "s", "ret"), 0);
    /* the table named in another case is the same table */
    assert_int_equal(
        mer_db_query_int(db, &v, "UPDATE ITEM SET qty = qty + ? WHERE name = ? RETURNING qty", "is", (int64_t)0, "ret"),
        0);
    assert_int_equal(v, 3);
    assert_int_equal(mer_db_query_int(db, &v, keep, "si", "ret", (int64_t)1), MER_E_NOT_FOUND);
    assert_int_equal(mer_db_query_int(db, &v, keep, "si", "ret-2", (int64_t)1), 0);
    assert_true(v > id);
    /* the same text walked row by row gives its rows too (and does not disturb the one-row use) */
    mer_rows_t *r = mer_db_query(db, take, "isi", (int64_t)1, "ret", (int64_t)1);
    assert_true(mer_rows_next(r));
    assert_int_equal(mer_rows_int(r, 0), 21);
    assert_false(mer_rows_next(r));
    assert_int_equal(mer_rows_end(r), 0);
    assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)1, "ret", (int64_t)1), 0);
    assert_int_equal(v, 11);
    /* inside a savepoint rolled back: the row is back as it was */
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)1, "ret", (int64_t)1), 0);
    assert_int_equal(v, 1);
    mer_db_rollback_to(db);
    assert_int_equal(mer_db_commit(db), 0);
    assert_int_equal(mer_db_query_int(db, &v, "SELECT qty FROM item WHERE name = ?", "s", "ret"), 0);
    assert_int_equal(v, 1);
    /* the same statements whose outcome a job wants (mer_db_defer_result: split as well on SQLite) */
    mer_db_later_t took, upsert, none, kept;
    assert_int_equal(mer_db_defer_result(db, &took, take, "isi", (int64_t)1, "ret", (int64_t)1), 0);
    assert_int_equal(mer_db_defer_result(db, &upsert, add, "si", "ret", (int64_t)6), 0);
    assert_int_equal(mer_db_defer_result(db, &none, take, "isi", (int64_t)1, "absent", (int64_t)1), 0);
    assert_int_equal(mer_db_defer_result(db, &kept, keep, "si", "ret-2", (int64_t)1), 0);
    assert_int_equal(mer_db_flush(db), 0);
    assert_true(took.ready && took.changed == 1 && took.returned && took.value == 1);
    assert_true(upsert.ready && upsert.changed == 1 && upsert.returned && upsert.value == 6);
    assert_true(none.ready && none.changed == 0 && !none.returned);
    assert_true(kept.ready && kept.changed == 0 && !kept.returned);
    assert_int_equal(mer_db_query_int(db, &v, take, "isi", (int64_t)1, "ret", (int64_t)1), 0); /* slot shared */
    assert_int_equal(v, 51);
    /* a constraint refused (outside a transaction: at once): an internal error as for mer_db_defer, nothing changed */
    assert_int_equal(mer_db_defer_result(db, &none, "UPDATE item SET qty = qty - ? WHERE name = ? RETURNING qty", "is",
                                         (int64_t)100, "ret"),
                     MER_E_INTERNAL);
    assert_int_equal(mer_db_query_int(db, &v, "SELECT qty FROM item WHERE name = ?", "s", "ret"), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mer_db_exec(db, "DELETE FROM item WHERE name IN ('ret', 'ret-2')", NULL), 2);
}

static void check_backend(const char *path, const char *name)
{
    mer_db_t *db = open_db(path);
    assert_string_equal(mer_db_backend_name(db), name);

    /* migrating again is a no-op */
    assert_int_equal(mer_db_migrate(db, migrations, MER_ARRAY_LEN(migrations)), 0);
    int64_t version = 0;
    assert_int_equal(mer_db_query_int(db, &version, "SELECT MAX(version) FROM schema_version", NULL), 0);
    assert_int_equal(version, 4);
    bool sqlite = strcmp(name, "sqlite") == 0;
    assert_int_equal(mer_db_has_table(db, "only_sqlite"), sqlite);
    assert_int_equal(mer_db_has_table(db, "only_postgresql"), !sqlite);

    /* typed parameters and RETURNING */
    const int64_t big = (int64_t)1 << 50;
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(mer_db_query_int(db, &id1, "INSERT INTO item (name, qty, note) VALUES (?, ?, ?) RETURNING id",
                                      "sis", "phone", big, "first"),
                     0);
    assert_int_equal(mer_db_query_int(db, &id2, "INSERT INTO item (name, qty, note) VALUES (?, ?, ?) RETURNING id",
                                      "Sin", "casexyz", (size_t)4, (int64_t)3),
                     0);
    assert_true(id2 > id1 && id1 > 0);

    mer_rows_t *r = mer_db_query(db, "SELECT id, name, qty, note FROM item ORDER BY id", NULL);
    assert_true(mer_rows_next(r));
    assert_int_equal(mer_rows_int(r, 0), id1);
    assert_string_equal(mer_rows_text(r, 1), "phone");
    assert_int_equal(mer_rows_int(r, 2), big);
    assert_false(mer_rows_null(r, 3));
    assert_int_equal(mer_rows_len(r, 3), 5);
    assert_true(mer_rows_next(r));
    assert_string_equal(mer_rows_text(r, 1), "case"); /* counted text: 4 bytes of "casexyz" */
    assert_true(mer_rows_null(r, 3));
    assert_string_equal(mer_rows_text(r, 3), "");
    assert_false(mer_rows_next(r));
    assert_int_equal(mer_rows_end(r), 0);

    /* a boolean result reads as 1 or 0 (PostgreSQL sends "t"/"f") */
    int64_t yes = -1;
    assert_int_equal(mer_db_query_int(db, &yes, "SELECT EXISTS (SELECT 1 FROM item WHERE id = ?)", "i", id1), 0);
    assert_int_equal(yes, 1);
    assert_int_equal(mer_db_query_int(db, &yes, "SELECT EXISTS (SELECT 1 FROM item WHERE id = ?)", "i", (int64_t)-5),
                     0);
    assert_int_equal(yes, 0);

    /* numbered parameters, used twice */
    r = mer_db_query(db, "SELECT COUNT(*) FROM item WHERE ?1 = 0 OR id = ?1", "i", id1);
    assert_true(mer_rows_next(r));
    assert_int_equal(mer_rows_int(r, 0), 1);
    assert_int_equal(mer_rows_end(r), 0);

    /* '?' in a literal is text, not a parameter */
    r = mer_db_query(db, "SELECT '?' || ? || 'x'", "s", "y");
    assert_true(mer_rows_next(r));
    assert_string_equal(mer_rows_text(r, 0), "?yx");
    assert_int_equal(mer_rows_end(r), 0);

    /* changed rows and the connection's running total */
    int64_t before = mer_db_total_changes(db);
    assert_int_equal(mer_db_exec(db, "UPDATE item SET qty = qty + ? WHERE id IN (?, ?)", "iii", (int64_t)1, id1, id2),
                     2);
    assert_int_equal(mer_db_exec(db, "UPDATE item SET qty = 0 WHERE id = ?", "i", (int64_t)-1), 0);
    assert_int_equal(mer_db_total_changes(db) - before, 2);

    /* errors: unique, check, no row */
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "phone"), MER_E_ALREADY_EXISTS);
    assert_int_equal(mer_db_exec(db, "UPDATE item SET qty = -1 WHERE id = ?", "i", id1), MER_E_CONFLICT);
    int64_t none = 0;
    assert_int_equal(mer_db_query_int(db, &none, "SELECT id FROM item WHERE name = ?", "s", "absent"), MER_E_NOT_FOUND);

    /* a transaction with a savepoint rolled back: only the outer row stays */
    assert_int_equal(count(db), 2);
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "kept"), 1);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "undone"), 1);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "kept"), MER_E_ALREADY_EXISTS);
    mer_db_rollback_to(db);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "released"), 1);
    assert_int_equal(mer_db_release(db), 0);
    assert_int_equal(mer_db_commit(db), 0);
    assert_int_equal(count(db), 4);
    assert_int_equal(mer_db_query_int(db, &none, "SELECT id FROM item WHERE name = ?", "s", "undone"), MER_E_NOT_FOUND);

    /* rollback keeps nothing */
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_exec(db, "DELETE FROM item", NULL), 4);
    mer_db_rollback(db);
    assert_int_equal(count(db), 4);

    check_returning(db);

    /* fault injection: the statement, then a commit that wrote */
    assert_int_equal(mer_db_fault_set("stmt:1:INSERT INTO item"), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "faulty"), MER_E_INTERNAL);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "fine"), 1); /* one-shot */
    assert_int_equal(mer_db_fault_set("commit:1"), 0);
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "lost"), 1);
    assert_int_equal(mer_db_commit(db), MER_E_INTERNAL);
    assert_int_equal(count(db), 5);
    assert_int_equal(mer_db_fault_set(NULL), 0);

    /* a commit with the log's sync left to the caller: visible to another connection at once; on SQLite the
     * descriptor is the write-ahead log's own file, which the caller syncs; a failed one leaves nothing */
    int sync_fd = 0;
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "unsynced"), 1);
    assert_int_equal(mer_db_commit_nosync(db, &sync_fd), 0);
    mer_db_t *other = NULL;
    assert_int_equal(mer_db_open(path, 0, &other), 0);
    assert_int_equal(count(other), 6);
    mer_db_close(other);
    if (strcmp(name, "sqlite") == 0) {
        assert_true(sync_fd >= 0);
        char wal[128];
        snprintf(wal, sizeof(wal), "%s-wal", path);
        struct stat a, b;
        assert_int_equal(fstat(sync_fd, &a), 0);
        assert_int_equal(stat(wal, &b), 0);
        assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        assert_int_equal(fdatasync(sync_fd), 0);
    } else {
        assert_int_equal(sync_fd, -1); /* a database server's COMMIT is durable when it returns */
    }
    assert_int_equal(mer_db_fault_set("commit:1"), 0);
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_exec(db, "INSERT INTO item (name) VALUES (?)", "s", "lost too"), 1);
    assert_int_equal(mer_db_commit_nosync(db, &sync_fd), MER_E_INTERNAL);
    assert_int_equal(sync_fd, -1);
    assert_int_equal(count(db), 6);
    assert_int_equal(mer_db_fault_set(NULL), 0);

    mer_db_close(db);
}

static void test_sqlite(void **state)
{
    (void)state;
    check_backend(sqlite_path, "sqlite");

    /* RETURNING that SQLite must run as written: a table with a trigger (the trigger's own writes, an UPDATE
     * of the same table, would be taken for the statement's row), a WITHOUT ROWID table (no rowid to read) */
    mer_db_t *db = open_db(sqlite_path);
    assert_int_equal(mer_db_script(db, "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, n INTEGER);"
                                       "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;"
                                       "CREATE TRIGGER IF NOT EXISTS log_twin AFTER INSERT ON log WHEN NEW.n > 0 BEGIN "
                                       "INSERT INTO log (n) VALUES (-NEW.n); END;"),
                     0);
    int64_t v = 0;
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(mer_db_query_int(db, &v, "INSERT INTO log (n) VALUES (?) RETURNING n", "i", (int64_t)i), 0);
        assert_int_equal(v, i);
        assert_int_equal(mer_db_query_int(db, &v,
                                          "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE "
                                          "SET v = kv.v + excluded.v RETURNING v",
                                          "si", "a", (int64_t)i),
                         0);
        assert_int_equal(v, i == 1 ? 1 : 3);
    }
    mer_db_close(db);
}

static void test_postgresql(void **state)
{
    (void)state;
    check_backend(pg_url, "postgresql");
}

static bool has_item(mer_db_t *db, const char *name)
{
    int64_t id = 0;
    int err = mer_db_query_int(db, &id, "SELECT id FROM item WHERE name = ?", "s", name);
    assert_true(err == 0 || err == MER_E_NOT_FOUND);
    return err == 0;
}

/* One writer job (store/writer.c's shape): deferred inserts of names[], a savepoint around them. Returns the
 * job's error, its savepoint rolled back on error, released otherwise. */
static int deferred_job(mer_db_t *db, const char *const *names, const int64_t *qty, size_t n)
{
    int err = mer_db_savepoint(db);
    for (size_t i = 0; err == 0 && i < n; i++)
        err = mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", names[i], qty[i]);
    if (err == 0)
        err = mer_db_release(db);
    if (err)
        mer_db_rollback_to(db);
    return err;
}

/*
 * Deferred statements (db.h: mer_db_defer), the same contract on both backends: the rows are there
 * for the next statement; a failure (unique key, CHECK, injected fault) is MER_E_INTERNAL, seen at once
 * (SQLite) or by the next synchronous call (PostgreSQL), at the latest by the savepoint's RELEASE, so the job
 * that queued it fails alone and its neighbours in the transaction are kept. On PostgreSQL, statements queued
 * together cost one round trip with the next synchronous one.
 */
static void check_deferred(const char *path)
{
    mer_db_t *db = open_db(path);
    bool pg = strcmp(mer_db_backend_name(db), "postgresql") == 0;

    /* outside a transaction: at once, errors at once */
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "solo", (int64_t)1), 0);
    assert_true(has_item(db, "solo"));
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "solo", (int64_t)1),
                     MER_E_INTERNAL);

    /* inside: the next statement sees the rows, and on PostgreSQL they went in its round trip */
    static const char count_sql[] = "SELECT COUNT(*) FROM item WHERE name IN ('a', 'b', 'copied')";
    int64_t n = -1;
    assert_int_equal(mer_db_query_int(db, &n, count_sql, NULL), 0); /* prepared before: its first use costs more */
    assert_int_equal(n, 0);
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_savepoint(db), 0);
    int64_t changes = mer_db_total_changes(db);
    char buf[32];
    snprintf(buf, sizeof(buf), "copied"); /* parameters are copied: the buffer may change at once */
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", buf, (int64_t)5), 0);
    memcpy(buf, "garbled", 8);
    /* (prepared by now on both backends: a statement's first use costs its preparation) */
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "a", (int64_t)1), 0);
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "b", (int64_t)2), 0);
    assert_int_equal(mer_db_defer(db, "UPDATE item SET note = ? WHERE name = ?", "ss", "seen", "a"), 0);
    int64_t trips = mer_db_round_trips();
    assert_int_equal(mer_db_query_int(db, &n, count_sql, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(mer_db_round_trips() - trips, pg ? 1 : 0);
    assert_int_equal(mer_db_total_changes(db) - changes, 4); /* "copied", a, b and the update */
    assert_int_equal(mer_db_release(db), 0);

    /* jobs: the middle one's second insert breaks the unique key, the third one's a CHECK */
    const char *const j1[] = {"j1-a", "j1-b"}, *const j2[] = {"j2-a", "a"}, *const j3[] = {"j3-a", "j3-b"};
    const int64_t ok[] = {1, 1}, bad[] = {1, -1};
    assert_int_equal(deferred_job(db, j1, ok, 2), 0);
    assert_int_equal(deferred_job(db, j2, ok, 2), MER_E_INTERNAL);
    assert_int_equal(deferred_job(db, j3, bad, 2), MER_E_INTERNAL);
    /* an injected fault on a deferred statement is a failure like those */
    const char *const j4[] = {"j4-a", "j4-b"}, *const j5[] = {"j5-a"};
    assert_int_equal(mer_db_fault_set("stmt:2:INSERT INTO item (name, qty)"), 0);
    assert_int_equal(deferred_job(db, j4, ok, 2), MER_E_INTERNAL);
    assert_int_equal(mer_db_fault_fired() > 0, true);
    assert_int_equal(deferred_job(db, j5, ok, 1), 0);
    assert_int_equal(mer_db_commit(db), 0);
    assert_true(has_item(db, "copied"));
    assert_false(has_item(db, "garbled"));
    assert_true(has_item(db, "j1-a") && has_item(db, "j1-b") && has_item(db, "j5-a"));
    assert_false(has_item(db, "j2-a") || has_item(db, "j3-a") || has_item(db, "j4-a") || has_item(db, "j4-b"));
    mer_rows_t *r = mer_db_query(db, "SELECT note FROM item WHERE name = ?", "s", "a");
    assert_true(mer_rows_next(r));
    assert_string_equal(mer_rows_text(r, 0), "seen");
    assert_int_equal(mer_rows_end(r), 0);

    /* the failure as the caller sees it when a statement follows: that statement fails with it (PostgreSQL),
     * and so does every call until ROLLBACK TO; then the transaction goes on */
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_savepoint(db), 0);
    int err = mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "a", (int64_t)1);
    if (pg) {
        assert_int_equal(err, 0);
        assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(*) FROM item", NULL), MER_E_INTERNAL);
        assert_int_equal(mer_db_exec(db, "UPDATE item SET qty = 9 WHERE name = ?", "s", "b"), MER_E_INTERNAL);
        assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "z", (int64_t)1),
                         MER_E_INTERNAL);
        assert_int_equal(mer_db_release(db), MER_E_INTERNAL);
    } else {
        assert_int_equal(err, MER_E_INTERNAL);
    }
    mer_db_rollback_to(db);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "after", (int64_t)1), 0);
    /* ROLLBACK TO drops what it undoes, sent or not */
    mer_db_rollback_to(db);
    assert_false(has_item(db, "after"));
    assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "kept", (int64_t)1), 0);
    assert_int_equal(mer_db_commit(db), 0);
    assert_true(has_item(db, "kept"));
    assert_false(has_item(db, "z"));

    if (pg) { /* a failure first seen at COMMIT: the transaction is rolled back and COMMIT says why */
        assert_int_equal(mer_db_begin(db), 0);
        assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "lost", (int64_t)1), 0);
        assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", "kept", (int64_t)1), 0);
        assert_int_equal(mer_db_commit(db), MER_E_INTERNAL);
        assert_false(has_item(db, "lost"));
    }
    /* many in one go (more than a round trip's queue) */
    int64_t before = count(db);
    assert_int_equal(mer_db_begin(db), 0);
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof(buf), "bulk-%d", i);
        assert_int_equal(mer_db_defer(db, "INSERT INTO item (name, qty) VALUES (?, ?)", "si", buf, (int64_t)i), 0);
    }
    assert_int_equal(mer_db_commit(db), 0);
    assert_int_equal(count(db), before + 200);
    mer_db_close(db);
}

static void test_deferred_sqlite(void **state)
{
    (void)state;
    check_deferred(sqlite_path);
}

static void test_deferred_postgresql(void **state)
{
    (void)state;
    check_deferred(pg_url);
}

/* ---- ids without RETURNING (mer_db_insert) and deferred results (mer_db_defer_result) ---- */

static const char insert_sql[] = "INSERT INTO item (id, name, qty) VALUES (?, ?, ?)";

/* A writer job that inserts name (its id into *id) and, deferred too, sets the row's note by that id. */
static int insert_job(mer_db_t *db, const char *name, int64_t *id)
{
    int err = mer_db_savepoint(db);
    if (err == 0)
        err = mer_db_insert(db, id, insert_sql, "nsi", name, (int64_t)1);
    if (err == 0)
        err = mer_db_defer(db, "UPDATE item SET note = ? WHERE id = ?", "si", name, *id);
    if (err == 0)
        err = mer_db_release(db);
    if (err)
        mer_db_rollback_to(db);
    return err;
}

static int64_t id_of(mer_db_t *db, const char *name)
{
    int64_t id = 0;
    return mer_db_query_int(db, &id, "SELECT id FROM item WHERE name = ? AND note = name", "s", name) == 0 ? id : -1;
}

/*
 * The same contract on both backends: the id is known when mer_db_insert returns and later statements of the
 * job can use it; ids are unique, between connections too (PostgreSQL: each draws its own block of the
 * sequence, and rows inserted the ordinary way take the sequence's next value, never one of a block); a
 * rolled-back job's id is not given to a later row on PostgreSQL (on SQLite nothing of it remains, so its
 * rowid may come again); a fault in the deferred INSERT fails its job alone. mer_db_defer_result: the
 * changed-row count and RETURNING value known once the next synchronous call came back, in its round trip.
 */
static void check_insert(const char *path)
{
    mer_db_t *db = open_db(path), *other = open_db(path);
    bool pg = strcmp(mer_db_backend_name(db), "postgresql") == 0;

    /* outside a transaction: at once */
    int64_t solo = 0;
    assert_int_equal(mer_db_insert(db, &solo, insert_sql, "nsi", "solo", (int64_t)1), 0);
    assert_true(solo > 0);
    assert_int_equal(mer_db_query_int(db, &solo, "SELECT id FROM item WHERE name = 'solo'", NULL), 0);

    /* jobs in one transaction: the first, a rolled-back one, then many (more than a block) */
    assert_int_equal(mer_db_begin(db), 0);
    int64_t first = 0, undone = 0, again = 0;
    assert_int_equal(insert_job(db, "first", &first), 0);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_insert(db, &undone, insert_sql, "nsi", "undone", (int64_t)1), 0);
    mer_db_rollback_to(db);
    int64_t trips = mer_db_round_trips();
    assert_int_equal(insert_job(db, "again", &again), 0);
    if (pg) /* the id came from the block in hand: nothing was waited for but the job's RELEASE */
        assert_int_equal(mer_db_round_trips() - trips, 1);
    if (pg)
        assert_true(again != undone && again != first);
    assert_int_equal(mer_db_commit(db), 0);
    /* batches of jobs, and between them rows from another connection (SQLite: one writer at a time) */
    int64_t ids[150];
    char name[32];
    for (int i = 0; i < 150; i++) {
        if (i % 10 == 0)
            assert_int_equal(mer_db_begin(db), 0);
        snprintf(name, sizeof(name), "n-%d", i);
        assert_int_equal(insert_job(db, name, &ids[i]), 0);
        if (i % 10 != 9)
            continue;
        assert_int_equal(mer_db_commit(db), 0);
        int64_t plain = 0;
        snprintf(name, sizeof(name), "o-%d", i);
        if (i % 20 == 9) /* the ordinary way: the sequence's next value */
            assert_int_equal(
                mer_db_query_int(other, &plain, "INSERT INTO item (name) VALUES (?) RETURNING id", "s", name), 0);
        else /* from the other connection's own block */
            assert_int_equal(mer_db_insert(other, &plain, insert_sql, "nsi", name, (int64_t)1), 0);
    }
    assert_int_equal(id_of(db, "first"), first);
    assert_int_equal(id_of(db, "again"), again);
    assert_int_equal(id_of(db, "undone"), -1);
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "n-%d", i);
        assert_int_equal(id_of(db, name), ids[i]);
    }
    int64_t n = 0;
    assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(DISTINCT id) - COUNT(*) FROM item", NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(count(db), 1 + 2 + 150 + 15);

    /* a fault in the deferred INSERT: its job fails (at its RELEASE at the latest), the next one is kept */
    assert_int_equal(mer_db_begin(db), 0);
    int64_t lost = 0, kept = 0;
    assert_int_equal(mer_db_fault_set("stmt:1:INSERT INTO item (id,"), 0);
    assert_int_equal(insert_job(db, "lost", &lost), MER_E_INTERNAL);
    assert_int_equal(insert_job(db, "kept", &kept), 0);
    assert_int_equal(mer_db_commit(db), 0);
    assert_int_equal(id_of(db, "lost"), -1);
    assert_int_equal(id_of(db, "kept"), kept);

    /* deferred results: a conditional UPDATE that changes a row and one that does not */
    assert_int_equal(mer_db_exec(db, "UPDATE item SET qty = 2 WHERE name = 'kept'", NULL), 1);
    static const char take_sql[] = "UPDATE item SET qty = qty - ? WHERE name = ? AND qty >= ? RETURNING qty";
    static const char kept_sql[] = "SELECT qty FROM item WHERE name = 'kept'";
    assert_int_equal(mer_db_query_int(db, &n, kept_sql, NULL), 0); /* prepared before: its first use costs more */
    mer_db_later_t took, refused, dropped;
    assert_int_equal(mer_db_begin(db), 0);
    assert_int_equal(mer_db_savepoint(db), 0);
    assert_int_equal(mer_db_defer_result(db, &took, take_sql, "isi", (int64_t)2, "kept", (int64_t)2), 0);
    assert_int_equal(mer_db_defer_result(db, &refused, take_sql, "isi", (int64_t)1, "first", (int64_t)5), 0);
    assert_int_equal(took.ready, !pg); /* PostgreSQL: not sent yet */
    trips = mer_db_round_trips();
    assert_int_equal(mer_db_query_int(db, &n, kept_sql, NULL), 0);
    assert_int_equal(mer_db_round_trips() - trips, pg ? 1 : 0);
    assert_int_equal(n, 0);
    assert_true(took.ready && took.changed == 1 && took.returned && took.value == 0);
    assert_true(refused.ready && refused.changed == 0 && !refused.returned);
    /* dropped by ROLLBACK TO before it was sent: never ready */
    assert_int_equal(mer_db_defer_result(db, &dropped, take_sql, "isi", (int64_t)1, "first", (int64_t)1), 0);
    mer_db_rollback_to(db);
    assert_int_equal(dropped.ready, !pg);
    assert_int_equal(mer_db_commit(db), 0);
    assert_int_equal(mer_db_query_int(db, &n, kept_sql, NULL), 0);
    assert_int_equal(n, 2); /* rolled back */
    mer_db_close(other);
    mer_db_close(db);
}

static void test_insert_sqlite(void **state)
{
    (void)state;
    check_insert(sqlite_path);
}

static void test_insert_postgresql(void **state)
{
    (void)state;
    check_insert(pg_url);
}

/* ---- the region writer on PostgreSQL: a job whose deferred write fails at its RELEASE fails alone ---- */

typedef struct wjob {
    mer_wjob_t w;
    const char *name; /* row to insert, deferred */
    _Atomic int done;
    int err;
} wjob_t;

static _Atomic int gate_entered, gate_opened;

static int gate_run(mer_db_t *db, mer_wjob_t *w)
{
    (void)db, (void)w;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_opened))
        usleep(1000);
    return 0;
}

static int wjob_run(mer_db_t *db, mer_wjob_t *w)
{
    wjob_t *j = (wjob_t *)w;
    /* nothing synchronous after it: its result (and failure) comes back with the job's RELEASE */
    return mer_db_defer(db, "INSERT INTO wt_item (name) VALUES (?)", "s", j->name);
}

static void wjob_done(mer_wjob_t *w)
{
    wjob_t *j = (wjob_t *)w;
    j->err = w->err;
    atomic_store(&j->done, 1);
}

static int wt_create(mer_db_t *db, void *arg)
{
    (void)arg;
    int rc = mer_db_exec(db, "CREATE TABLE wt_item (name TEXT PRIMARY KEY)", NULL);
    if (rc < 0)
        return rc;
    rc = mer_db_exec(db, "INSERT INTO wt_item (name) VALUES (?)", "s", "taken");
    return rc < 0 ? rc : 0;
}

static void test_writer_deferred_postgresql(void **state)
{
    (void)state;
    char dir[] = "/tmp/mer-dbw-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* a database of its own: the region's schema, and nothing else's schema_version */
    mer_db_t *admin = NULL;
    assert_int_equal(mer_db_open(pg_url, 0, &admin), 0);
    assert_int_equal(mer_db_script(admin, "DROP DATABASE IF EXISTS meridian_wt"), 0);
    assert_int_equal(mer_db_script(admin, "CREATE DATABASE meridian_wt"), 0);
    mer_db_close(admin);
    char url[300], regions[320];
    const char *slash = strrchr(pg_url, '/');
    snprintf(url, sizeof(url), "%.*s/meridian_wt", (int)(slash - pg_url), pg_url);
    snprintf(regions, sizeof(regions), "wt=%s", url);
    assert_int_equal(mer_store_locate(NULL, regions), 0);
    assert_int_equal(mer_store_init(dir), 0);
    assert_int_equal(mer_store_open_region("wt"), 0);
    assert_int_equal(mer_writer_start("wt"), 0);
    assert_int_equal(mer_writer_run_sync("wt", wt_create, NULL), 0);

    /* one batch for certain: the gate holds the writer until the three jobs are queued behind it */
    static wjob_t gate;
    gate = (wjob_t){.w = {.run = gate_run, .done = wjob_done}};
    static wjob_t jobs[3];
    static const char *const names[] = {"first", "taken", "third"}; /* the second breaks the unique key */
    assert_int_equal(mer_writer_submit("wt", &gate.w), 0);
    while (!atomic_load(&gate_entered))
        usleep(1000);
    for (size_t i = 0; i < 3; i++) {
        jobs[i] = (wjob_t){.w = {.run = wjob_run, .done = wjob_done}, .name = names[i]};
        assert_int_equal(mer_writer_submit("wt", &jobs[i].w), 0);
    }
    atomic_store(&gate_opened, 1);
    for (size_t i = 0; i < 3; i++)
        while (!atomic_load(&jobs[i].done))
            usleep(1000);
    assert_int_equal(jobs[0].err, 0);
    assert_int_equal(jobs[1].err, MER_E_INTERNAL); /* the job that queued the failing write, and it alone */
    assert_int_equal(jobs[2].err, 0);
    mer_db_t *db = NULL;
    assert_int_equal(mer_db_open(url, 0, &db), 0);
    int64_t n = 0;
    assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(*) FROM wt_item WHERE name IN ('first', 'third')", NULL),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(*) FROM wt_item", NULL), 0);
    assert_int_equal(n, 3);
    mer_db_close(db);
    mer_writer_stop_all();
    mer_store_shutdown();
    char rm[64];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

/* Meridian's own schema (both kinds of database) migrates on PostgreSQL, and again is a no-op. */
static void test_schema_on_postgresql(void **state)
{
    (void)state;
    mer_db_t *db = NULL;
    assert_int_equal(mer_db_open(pg_url, 0, &db), 0);
    assert_int_equal(mer_db_script(db, "DROP SCHEMA IF EXISTS cat CASCADE; CREATE SCHEMA cat; SET search_path = cat"),
                     0);
    assert_int_equal(mer_db_migrate(db, mer_schema_catalog, mer_schema_catalog_n), 0);
    assert_int_equal(mer_db_migrate(db, mer_schema_catalog, mer_schema_catalog_n), 0);
    assert_int_equal(mer_db_script(db, "DROP SCHEMA IF EXISTS reg CASCADE; CREATE SCHEMA reg; SET search_path = reg"),
                     0);
    assert_int_equal(mer_db_migrate(db, mer_schema_region, mer_schema_region_n), 0);
    int64_t version = 0;
    assert_int_equal(mer_db_query_int(db, &version, "SELECT MAX(version) FROM schema_version", NULL), 0);
    assert_int_equal(version, mer_schema_region[mer_schema_region_n - 1].version);
    /* an identity column hands out ids as a rowid alias does */
    int64_t id = 0;
    assert_int_equal(mer_db_query_int(db, &id,
                                      "INSERT INTO warehouse (code, name, country) VALUES (?, ?, ?) RETURNING id",
                                      "sss", "w1", "W1", "IN"),
                     0);
    assert_true(id > 0);
    mer_db_close(db);
}

/* Region schema 18 rebuilds order_shipment (and holds its child aside) on SQLite: rows written under 17 survive,
 * the status check and the foreign key hold on the new table; PostgreSQL records 18 without running it. */
static void test_shipment_rebuild_sqlite(void **state)
{
    (void)state;
    char path[sizeof(sqlite_path) + 8];
    snprintf(path, sizeof(path), "%s.ship", sqlite_path);
    size_t upto = 0; /* the migrations before 18 */
    while (upto < mer_schema_region_n && mer_schema_region[upto].version < 18)
        upto++;
    assert_true(upto < mer_schema_region_n);
    mer_db_t *db = NULL;
    assert_int_equal(mer_db_open(path, MER_DB_CREATE, &db), 0);
    assert_int_equal(mer_db_migrate(db, mer_schema_region, upto), 0);
    /* a shipment and its line, without the order and warehouse they name: foreign keys off to write them and
     * to copy them (a store's own data, migrated with them on, has its parents: checked by `meridian serve` on
     * a data directory of schema 17 with shipped and pending orders) */
    assert_int_equal(mer_db_script(db, "PRAGMA foreign_keys=OFF;"
                                       "INSERT INTO order_shipment (id, order_id, seq, warehouse_id, status, "
                                       "tracking_number, created_at) VALUES (7, 1, 1, 1, 'shipped', 'TRK7', 5);"
                                       "INSERT INTO order_shipment_line VALUES (7, 1, 3, 2);"),
                     0);
    assert_int_equal(mer_db_migrate(db, mer_schema_region, mer_schema_region_n), 0);
    assert_int_equal(mer_db_script(db, "PRAGMA foreign_keys=ON;"), 0);
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT s.status, s.tracking_number, l.sku_id, l.quantity FROM order_shipment s "
                                 "JOIN order_shipment_line l ON l.shipment_id = s.id WHERE s.id = 7",
                                 NULL);
    assert_true(mer_rows_next(r));
    assert_string_equal(mer_rows_text(r, 0), "shipped");
    assert_string_equal(mer_rows_text(r, 1), "TRK7");
    assert_int_equal(mer_rows_int(r, 2), 3);
    assert_int_equal(mer_rows_int(r, 3), 2);
    assert_false(mer_rows_next(r));
    assert_int_equal(mer_rows_end(r), 0);
    assert_false(mer_db_has_table(db, "order_shipment_line_held"));
    assert_true(mer_db_exec(db, "UPDATE order_shipment SET status = 'lost' WHERE id = 7", NULL) < 0);
    assert_int_equal(mer_db_exec(db, "UPDATE order_shipment SET status = 'delivered' WHERE id = 7", NULL), 1);
    assert_true(mer_db_exec(db, "INSERT INTO order_shipment_line VALUES (8, 1, 3, 1)", NULL) < 0); /* no shipment 8 */
    mer_db_close(db);
    unlink(path);
}

static void test_postgresql_unreachable(void **state)
{
    (void)state;
    mer_db_t *db = NULL;
    assert_int_equal(mer_db_open("postgresql://meridian@127.0.0.1:1/meridian?connect_timeout=2", 0, &db),
                     MER_E_UNAVAILABLE);
    assert_null(db);
    assert_true(mer_db_is_url("postgres://x@h/d"));
    assert_false(mer_db_is_url("/tmp/region-in.db"));
}

static void collect(void *arg, const char *payload)
{
    char *got = arg;
    size_t used = strlen(got);
    snprintf(got + used, 128 - used, "%s;", payload);
}

/* Notes between processes: delivered at commit only, never from a rolled-back transaction or savepoint;
 * a lost listener connection is reported and listening again works. SQLite sends nothing. */
static void test_notes(void **state)
{
    (void)state;
    mer_db_t *listener = open_db(pg_url), *writer = open_db(pg_url);
    assert_true(mer_db_can_notify(writer));
    assert_int_equal(mer_db_listen(listener, "test_notes"), 0);
    char got[128] = "";
    assert_int_equal(mer_db_begin(writer), 0);
    assert_int_equal(mer_db_notify(writer, "test_notes", "rolled-back"), 0);
    mer_db_rollback(writer);
    assert_int_equal(mer_db_begin(writer), 0);
    assert_int_equal(mer_db_savepoint(writer), 0);
    assert_int_equal(mer_db_notify(writer, "test_notes", "savepoint-undone"), 0);
    mer_db_rollback_to(writer);
    assert_int_equal(mer_db_notify(writer, "test_notes", "kept"), 0);
    assert_int_equal(mer_db_wait_notes(listener, 100, collect, got), 0); /* not before the commit */
    assert_int_equal(mer_db_commit(writer), 0);
    for (int i = 0; i < 20 && got[0] == '\0'; i++)
        assert_true(mer_db_wait_notes(listener, 100, collect, got) >= 0);
    assert_string_equal(got, "kept;");

    /* the server ends the listener's connection: the wait says so, and listening again reconnects */
    int64_t pid = 0;
    assert_int_equal(mer_db_query_int(listener, &pid, "SELECT pg_backend_pid()", NULL), 0);
    assert_true(mer_db_query_int(writer, &pid, "SELECT CASE WHEN pg_terminate_backend(?::int) THEN 1 ELSE 0 END", "i",
                                 pid) == 0);
    int rc = 0;
    for (int i = 0; i < 20 && rc >= 0; i++)
        rc = mer_db_wait_notes(listener, 100, collect, got);
    assert_int_equal(rc, MER_E_UNAVAILABLE);
    assert_int_equal(mer_db_listen(listener, "test_notes"), 0);
    got[0] = '\0';
    assert_int_equal(mer_db_notify(writer, "test_notes", "again"), 0); /* outside a transaction: at once */
    for (int i = 0; i < 20 && got[0] == '\0'; i++)
        assert_true(mer_db_wait_notes(listener, 100, collect, got) >= 0);
    assert_string_equal(got, "again;");
    mer_db_close(listener);
    mer_db_close(writer);

    mer_db_t *lite = open_db(sqlite_path);
    assert_false(mer_db_can_notify(lite));
    assert_int_equal(mer_db_notify(lite, "test_notes", "nobody"), 0);
    assert_int_equal(mer_db_listen(lite, "test_notes"), MER_E_UNAVAILABLE);
    mer_db_close(lite);
}

/* A password is never shown: "user:PASSWORD@" and password=... parameters become "***". */
static void test_redact(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"postgresql://bob:s3cret@db:5432/meridian", "postgresql://bob:***@db:5432/meridian"},
        {"postgresql://bob@db/meridian?password=s3cret&sslmode=require",
         "postgresql://bob@db/meridian?password=***&sslmode=require"},
        {"postgres://bob:a@b@db/m", "postgres://bob:***@b@db/m"},
        {"postgresql://db:5432/meridian", "postgresql://db:5432/meridian"},
        {"/tmp/data/region-in.db", "/tmp/data/region-in.db"},
    };
    for (size_t i = 0; i < MER_ARRAY_LEN(cases); i++) {
        char *shown = mer_db_redact(cases[i][0]);
        assert_string_equal(shown, cases[i][1]);
        free(shown);
    }
}

/* Starts the throwaway cluster: "URL DIR" from tests/pg/pg.sh. */
static int pg_start(void)
{
    const char *given = getenv("MERIDIAN_TEST_PG_URL");
    if (given) {
        snprintf(pg_url, sizeof(pg_url), "%s", given);
        return 0;
    }
    const char *root = getenv("MERIDIAN_SOURCE_ROOT");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/tests/pg/pg.sh start", root ? root : ".");
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    int n = fscanf(p, "%255s %127s", pg_url, pg_dir);
    int rc = pclose(p);
    return n == 2 && rc == 0 ? 0 : -1;
}

static void pg_stop(void)
{
    if (pg_dir[0] == '\0')
        return;
    const char *root = getenv("MERIDIAN_SOURCE_ROOT");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/tests/pg/pg.sh stop %s", root ? root : ".", pg_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the test cluster in %s\n", pg_dir);
}

int main(void)
{
    char dir[] = "/tmp/mer-db-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(sqlite_path, sizeof(sqlite_path), "%s/t.db", dir);
    if (pg_start() != 0) {
        fprintf(stderr, "cannot start a PostgreSQL cluster (tests/pg/pg.sh)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_postgresql),
        cmocka_unit_test(test_deferred_sqlite),
        cmocka_unit_test(test_deferred_postgresql),
        cmocka_unit_test(test_insert_sqlite),
        cmocka_unit_test(test_insert_postgresql),
        cmocka_unit_test(test_schema_on_postgresql),
        cmocka_unit_test(test_shipment_rebuild_sqlite),
        cmocka_unit_test(test_postgresql_unreachable),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_writer_deferred_postgresql),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    pg_stop();
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    if (system(rm) != 0)
        failed++;
    return failed;
}
