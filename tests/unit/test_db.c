/*
 * Unit tests: store/db.h behaves the same on both backends. Every case runs against a SQLite file in a
 * temporary directory and against a throwaway PostgreSQL cluster that the test starts itself on
 * loopback (tests/pg/pg.sh) and stops by PID at the end: migrations, typed parameters (int64 near the
 * money limit, counted text, NULL), '?' inside a string literal, RETURNING, changed-row counts, error
 * mapping of constraint violations, savepoints inside a transaction, rollback, and fault injection.
 *
 * MERIDIAN_TEST_PG_URL=postgresql://... uses a running server instead of starting one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/db.h"
#include "store/store.h"

static char sqlite_path[96];
static char pg_url[256];
static char pg_dir[128];

static const mer_migration_t migrations[] = {
    {1, "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL DEFAULT 0 "
        "CHECK (qty >= 0), note TEXT);"},
    {2, "CREATE INDEX item_qty ON item(qty);"},
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

static void check_backend(const char *path, const char *name)
{
    mer_db_t *db = open_db(path);
    assert_string_equal(mer_db_backend_name(db), name);

    /* migrating again is a no-op */
    assert_int_equal(mer_db_migrate(db, migrations, MER_ARRAY_LEN(migrations)), 0);
    int64_t version = 0;
    assert_int_equal(mer_db_query_int(db, &version, "SELECT MAX(version) FROM schema_version", NULL), 0);
    assert_int_equal(version, 2);

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

    mer_db_close(db);
}

static void test_sqlite(void **state)
{
    (void)state;
    check_backend(sqlite_path, "sqlite");
}

static void test_postgresql(void **state)
{
    (void)state;
    check_backend(pg_url, "postgresql");
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
        cmocka_unit_test(test_schema_on_postgresql),
        cmocka_unit_test(test_postgresql_unreachable),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_notes),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    pg_stop();
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    if (system(rm) != 0)
        failed++;
    return failed;
}
