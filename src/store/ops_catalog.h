/*
 * ops_catalog.h — the catalogue's backend-specific operations: full-text search over product texts.
 *
 * SQLite keeps the index in an FTS5 table (product_fts, store/schema.c) queried with MATCH; another
 * backend implements these functions with its own index (PostgreSQL: tsvector), and the catalogue's code
 * does not change. The index holds one row per product text (product, locale) with its name, description
 * and the product's brand.
 */
#ifndef MER_OPS_CATALOG_H
#define MER_OPS_CATALOG_H

#include "store/db.h"

/*
 * Products whose texts contain every word of q as a word prefix (words: runs of ASCII letters and digits
 * and of non-ASCII bytes; everything else separates them), best match first, at most limit texts:
 * fn(arg, product_id, locale) once per matching text. A q without words matches nothing. Returns 0 or a
 * negative error. A read: any connection.
 */
int mer_store_product_search(mer_db_t *db, const char *q, size_t limit,
                             void (*fn)(void *arg, int64_t product_id, const char *locale), void *arg);

/* Rebuilds the index rows of one product (product_id > 0) or of every product (0) from its texts and brand.
 * A write: the writer's connection, inside the change's transaction. */
int mer_store_product_index(mer_db_t *db, int64_t product_id);
/* Rebuilds the index rows of every product's text in one locale (a language's texts changed in bulk: one
 * pass instead of one per product). A write, as above. */
int mer_store_product_index_locale(mer_db_t *db, const char *locale);

#endif
