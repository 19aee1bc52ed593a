/*
 * translations_baseline — the same-run baseline for exporting and importing a full language: what the
 * work costs with SQLite alone, no HTTP, no file format, no checks.
 *
 *   export: read every English text of the catalogue (product names and descriptions, category names,
 *           attribute texts) out of catalog.db and write them to a buffer as lines — the least any
 *           exporter of those texts does;
 *   import: upsert the same number of rows, translated, for one language, in one durable transaction
 *           (WAL, synchronous=FULL, as Meridian runs) into tables shaped like catalog.db's — the least
 *           any importer of those texts does. Each round writes other texts, so every round changes
 *           every row, as the Meridian import rounds do.
 *
 *   translations_baseline CATALOG_DB WORK_DB LANG ROUNDS -> prints "<export ms> <import ms> <rows>",
 *   each the median of the rounds.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct row {
    int kind; /* 0 product, 1 category, 2 attribute */
    char *key;
    char *a, *b; /* name/text, description */
} row_t;

static row_t *rows;
static size_t nrows, caprows;

static char *dup(const unsigned char *s)
{
    size_t n = strlen((const char *)s) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    return p;
}

/* The export: every English text, as "key\ttext\n" lines into one growing buffer. */
static double export_round(sqlite3 *db, int keep)
{
    static const char *const q[] = {
        "SELECT product_id, name, description FROM product_text WHERE locale = 'en' ORDER BY product_id",
        "SELECT category_id, name, '' FROM category_text WHERE locale = 'en' ORDER BY category_id",
        "SELECT key, text, '' FROM attribute_text WHERE locale = 'en' ORDER BY key"};
    double t0 = now_ms();
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (int k = 0; k < 3; k++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, q[k], -1, &st, NULL) != SQLITE_OK)
            exit(1);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *key = sqlite3_column_text(st, 0), *a = sqlite3_column_text(st, 1),
                                *b = sqlite3_column_text(st, 2);
            size_t need = strlen((const char *)key) + strlen((const char *)a) + strlen((const char *)b) + 8;
            if (len + need > cap)
                buf = realloc(buf, cap = (cap + need) * 2);
            len += (size_t)snprintf(buf + len, cap - len, "%s\t%s\t%s\n", key, a, b);
            if (keep) {
                if (nrows == caprows)
                    rows = realloc(rows, (caprows = caprows ? caprows * 2 : 256) * sizeof(*rows));
                rows[nrows++] = (row_t){k, dup(key), dup(a), dup(b)};
            }
        }
        sqlite3_finalize(st);
    }
    double t = now_ms() - t0;
    if (len == 0)
        exit(1);
    free(buf);
    return t;
}

/* The import: every row upserted for lang in one transaction. */
static double import_round(sqlite3 *w, const char *lang, int round)
{
    static const char *const q[] = {
        "INSERT INTO product_text (product_id, locale, name, description) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name, description = excluded.description",
        "INSERT INTO category_text (category_id, locale, name) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (category_id, locale) DO UPDATE SET name = excluded.name",
        "INSERT INTO attribute_text (key, locale, text) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key, locale) DO UPDATE SET text = excluded.text"};
    sqlite3_stmt *st[3];
    char a[8192], b[8192];
    double t0 = now_ms();
    sqlite3_exec(w, "BEGIN", NULL, NULL, NULL);
    for (int k = 0; k < 3; k++)
        sqlite3_prepare_v2(w, q[k], -1, &st[k], NULL);
    for (size_t i = 0; i < nrows; i++) {
        sqlite3_stmt *s = st[rows[i].kind];
        snprintf(a, sizeof(a), "[%d] %s", round, rows[i].a);
        snprintf(b, sizeof(b), "[%d] %s", round, rows[i].b);
        sqlite3_bind_text(s, 1, rows[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, lang, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, a, -1, SQLITE_STATIC);
        if (rows[i].kind == 0)
            sqlite3_bind_text(s, 4, b, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            exit(1);
        sqlite3_reset(s);
    }
    for (int k = 0; k < 3; k++)
        sqlite3_finalize(st[k]);
    if (sqlite3_exec(w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        exit(1);
    return now_ms() - t0;
}

int main(int argc, char **argv)
{
    sqlite3 *db, *w;
    if (argc != 5 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open(argv[2], &w) != SQLITE_OK)
        return 2;
    int rounds = atoi(argv[4]);
    if (rounds < 1)
        rounds = 1;
    double *ex = calloc((size_t)rounds, sizeof(double)), *im = calloc((size_t)rounds, sizeof(double));
    sqlite3_exec(w,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE product_text (product_id INTEGER NOT NULL, locale TEXT NOT NULL, name TEXT NOT NULL,"
                 " description TEXT NOT NULL DEFAULT '', PRIMARY KEY (product_id, locale));"
                 "CREATE TABLE category_text (category_id INTEGER NOT NULL, locale TEXT NOT NULL, name TEXT NOT NULL,"
                 " PRIMARY KEY (category_id, locale));"
                 "CREATE TABLE attribute_text (key TEXT NOT NULL, locale TEXT NOT NULL, text TEXT NOT NULL,"
                 " PRIMARY KEY (key, locale));",
                 NULL, NULL, NULL);
    for (int r = 0; r < rounds; r++)
        ex[r] = export_round(db, r == 0);
    for (int r = 0; r < rounds; r++)
        im[r] = import_round(w, argv[3], r);
    qsort(ex, (size_t)rounds, sizeof(double), cmp_double);
    qsort(im, (size_t)rounds, sizeof(double), cmp_double);
    printf("%.3f %.3f %zu\n", ex[rounds / 2], im[rounds / 2], nrows);
    sqlite3_close(db);
    sqlite3_close(w);
    return 0;
}
