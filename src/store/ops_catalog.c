/*
 * ops_catalog.c — the catalogue's full-text search (see ops_catalog.h): SQLite's FTS5, or PostgreSQL's
 * tsvector over the same table (db_pg.c turns the FTS5 table into a plain one with a GIN index on this
 * expression; the query below must spell it the same way for the index to serve it).
 */
#include "store/ops_catalog.h"

#include <string.h>

#include "core/buf.h"
#include "core/banned.h"

#define PG_DOC                                                                                                         \
    "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '') || ' ' || coalesce(brand, ''))"

static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int mer_store_product_search(mer_db_t *db, const char *q, size_t limit,
                             void (*fn)(void *arg, int64_t product_id, const char *locale), void *arg)
{
    /* each word as a quoted prefix term, all required: no '"' can be inside (only word bytes), nor any of
     * tsquery's operators */
    bool pg_form = strcmp(mer_db_backend_name(db), "postgresql") == 0;
    mer_buf_t expr = MER_BUF_INIT;
    const unsigned char *p = (const unsigned char *)q;
    while (*p) {
        while (*p && !word_byte(*p))
            p++;
        const unsigned char *start = p;
        while (*p && word_byte(*p))
            p++;
        if (p > start && pg_form) { /* PostgreSQL's tsquery: word:* & word:* */
            if (expr.len)
                mer_buf_addstr(&expr, " & ");
            mer_buf_add(&expr, start, (size_t)(p - start));
            mer_buf_addstr(&expr, ":*");
        } else if (p > start) {
            if (expr.len)
                mer_buf_addch(&expr, ' ');
            mer_buf_addch(&expr, '"');
            mer_buf_add(&expr, start, (size_t)(p - start));
            mer_buf_addstr(&expr, "\"*");
        }
    }
    if (expr.len == 0) {
        mer_buf_release(&expr);
        return 0;
    }
    mer_rows_t *r = pg_form ? mer_db_query(db,
                                           "SELECT product_id, locale FROM product_fts WHERE " PG_DOC
                                           " @@ to_tsquery('simple', ?1) ORDER BY ts_rank(" PG_DOC
                                           ", to_tsquery('simple', ?1)) DESC LIMIT ?2",
                                           "si", mer_buf_str(&expr), (int64_t)limit)
                            : mer_db_query(db,
                                           "SELECT product_id, locale FROM product_fts WHERE product_fts MATCH ? "
                                           "ORDER BY rank LIMIT ?",
                                           "si", mer_buf_str(&expr), (int64_t)limit);
    while (mer_rows_next(r))
        fn(arg, mer_rows_int(r, 0), mer_rows_text(r, 1));
    int err = mer_rows_end(r);
    mer_buf_release(&expr);
    return err;
}

int mer_store_product_index(mer_db_t *db, int64_t product_id)
{
    int err = mer_db_exec(db, "DELETE FROM product_fts WHERE ?1 = 0 OR product_id = ?1", "i", product_id);
    if (err < 0)
        return err;
    err = mer_db_exec(db,
                      "INSERT INTO product_fts (name, description, brand, product_id, locale) "
                      "SELECT t.name, t.description, p.brand, p.id, t.locale FROM product_text t "
                      "JOIN product p ON p.id = t.product_id WHERE ?1 = 0 OR p.id = ?1",
                      "i", product_id);
    return err < 0 ? err : 0;
}

int mer_store_product_index_locale(mer_db_t *db, const char *locale)
{
    int err = mer_db_exec(db, "DELETE FROM product_fts WHERE locale = ?", "s", locale);
    if (err < 0)
        return err;
    err = mer_db_exec(db,
                      "INSERT INTO product_fts (name, description, brand, product_id, locale) "
                      "SELECT t.name, t.description, p.brand, p.id, t.locale FROM product_text t "
                      "JOIN product p ON p.id = t.product_id WHERE t.locale = ?",
                      "s", locale);
    return err < 0 ? err : 0;
}
