/*
 * catalog.h — the catalogue: categories, products (SPU) and their SKUs, translations and per-country
 * price lists, held in memory as an immutable snapshot for fast localized reads.
 *
 * Source of truth is catalog.db (store/schema.c). At start-up the whole catalogue is loaded into a snapshot;
 * readers take the read lock only while they build a response on a cache miss. Admin changes are jobs of
 * catalog.db's writer (the service functions below, called inside such a job); the writer's commit hook
 * (mer_catalog_on_commit) makes the new snapshot after the batch has committed and before any of its jobs
 * is answered: a snapshot never shows what is not durable, and an admin's next read sees its own change.
 *
 * Writes. A job that changed products calls mer_catalog_changed_product(id) for each; the hook then
 * re-reads only those products by id into a copy-on-write snapshot: the product array is copied by value
 * (SKUs point at their product's home copy, so no SKU is touched), the SKU indexes are spliced by binary
 * search, categories, translations and locales are shared, and the search index gets a delta over the
 * changed products (catalog/search.h); a background thread rebuilds the full index after a quiet second
 * and swaps it in. So a product write costs about the same at 1,000 and at 100,000 products (BENCHMARKS.md).
 * Anything else (categories, attribute texts, translation imports, a new locale, more than 1,000 products
 * in one batch: bulk imports) calls mer_catalog_changed(), and the hook reloads the whole catalogue.
 * A retired snapshot is freed once the background build no longer reads one it shares products with.
 * Answers to GET requests are cached per
 * worker thread as serialised bytes (http/rcache.h) keyed by everything the answer depends on, and
 * invalidated by mer_catalog_generation(), which every catalogue change advances (a country change retires
 * every cached answer through the cache itself, mer_rcache_invalidate). So admin
 * changes are visible to the next read, and a hot read is a hash lookup and a send.
 *
 * Each snapshot carries its search index (catalog/search.h), built with it off the loop; the listing
 * (catalog_list.h) searches, filters, counts facets and sorts from memory, on the cache-miss path only.
 *
 * Availability: a product is sold in a country exactly when it is active and at least one of its SKUs
 * has a price there; elsewhere it is 404. Prices are in the country's convention (tax included where the
 * country's tax regime is inclusive) and in integer minor units.
 */
#ifndef MER_CATALOG_H
#define MER_CATALOG_H

#include <jansson.h>

#include "core/json.h"
#include "core/locale.h"
#include "module.h"
#include "region/country.h"
#include "store/db.h"

typedef struct mer_cat_text {
    char locale[MER_LOCALE_MAX];
    char *name;
    char *description;
    /* the source-language texts this translation was made from, NULL while they are the current ones
     * (see catalog/translation.h: a translation whose source differs from the current one is outdated) */
    char *name_source;
    char *description_source;
} mer_cat_text_t;

typedef struct mer_cat_price {
    char country[3];
    int64_t amount;
} mer_cat_price_t;

typedef struct mer_cat_attr {
    char *key;   /* "colour" */
    char *value; /* "black" */
} mer_cat_attr_t;

typedef struct mer_cat_sku {
    int64_t id;
    char *code;
    int64_t max_per_order; /* purchase limit per order and per cart line */
    mer_cat_attr_t *attrs;
    size_t nattrs;
    mer_cat_price_t *prices; /* sorted by country */
    size_t nprices;
    struct mer_cat_product *product;
} mer_cat_sku_t;

/* A translation of an attribute name ("colour") or value ("colour=black"). */
typedef struct mer_cat_attr_text {
    char *key;
    char locale[MER_LOCALE_MAX];
    char *text;
    char *source; /* as in mer_cat_text_t: the source text it was made from, NULL = the current one */
} mer_cat_attr_text_t;

/* A translation of a flash sale's title made with the translation workflow (catalog/translation.h). */
typedef struct mer_cat_flash_text {
    int64_t sale_id;
    char locale[MER_LOCALE_MAX];
    char *title;
    char *source; /* as in mer_cat_text_t */
} mer_cat_flash_text_t;

typedef struct mer_cat_category {
    int64_t id;
    char *slug;
    int64_t parent_id; /* 0 = top level */
    mer_cat_text_t *texts;
    size_t ntexts;
} mer_cat_category_t;

typedef struct mer_cat_product {
    int64_t id;
    char *slug;
    char *brand;
    mer_cat_category_t *category;
    char tax_class[24];
    bool active;
    int64_t created_at; /* Unix ms (sort=newest) */
    mer_cat_text_t *texts;
    size_t ntexts;
    mer_cat_sku_t *skus;
    size_t nskus;
    /* the product's own copy of this struct, which its SKUs' product pointers point at: the snapshot's
     * array holds copies by value, so a new snapshot copies the array without touching any SKU (catalog.c);
     * compare products by id, not by address */
    struct mer_cat_product *home;
} mer_cat_product_t;

typedef struct mer_catalog {
    mer_cat_product_t *products; /* sorted by id */
    size_t nproducts;
    size_t products_cap;            /* entries allocated (catalog.c reuses a retired snapshot's array) */
    mer_cat_category_t *categories; /* sorted by id */
    size_t ncategories;
    mer_cat_attr_text_t *attr_texts; /* sorted by key, locale */
    size_t nattr_texts;
    mer_cat_flash_text_t *flash_texts; /* sorted by sale_id, locale */
    size_t nflash_texts;
    char (*locales)[MER_LOCALE_MAX]; /* every locale that has any product text */
    size_t nlocales;
    /* the search index (catalog/search.h): search is the base, built for this snapshot or an earlier one;
     * search_delta (NULL: none) indexes the products changed or added since */
    struct mer_search_index *search;
    struct mer_search_delta *search_delta;
    /* every SKU, sorted by code and by id (mer_catalog_sku_by_code / _by_id: a binary search, not a scan of
     * the catalogue; bulk imports look up every row's SKU) */
    const mer_cat_sku_t **skus_by_code;
    const mer_cat_sku_t **skus_by_id;
    size_t nskus;
} mer_catalog_t;

/* Loads the first snapshot from the database. Start-up only. */
int mer_catalog_init(void);
/*
 * The catalogue module (catalog_http.c): the public routes (catalog_http.c) and the admin routes
 * (catalog_admin.c, mer_catalog_admin_routes), the translation workflow's admin routes (translation_http.c,
 * mer_translation_routes); meridian_catalog_products. The snapshot itself is loaded
 * by mer_catalog_init() when the store is opened, before any module starts.
 */
extern const mer_module_t mer_catalog_module;
extern const mer_routes_t mer_catalog_admin_routes;
extern const mer_routes_t mer_translation_routes;
/* Bulk import and export of products and prices, CSV or JSON (bulk.c). */
extern const mer_routes_t mer_catalog_bulk_routes;
/* Re-reads the whole database into a new snapshot and advances the generation. Never on an event loop (it
 * reads catalog.db): the commit hook and the command line call it. */
int mer_catalog_reload(void);
void mer_catalog_shutdown(void);
/* Inside a writer job of catalog.db that changed the catalogue: the snapshot is reloaded once the batch
 * has committed (a job rolled back only costs a reload), here and on every other node of the database
 * (store/notify.h). Returns 0 or a negative error (the job fails). */
int mer_catalog_changed(mer_db_t *db);
/* Inside such a job that changed one product (its row, texts, SKUs or prices): only that product is
 * re-read when the batch has committed (see "writes" above); the other nodes of the database hear of it
 * at the commit and reload (store/notify.h). db NULL: this node only (a bulk write records each product so,
 * then tells the other nodes once). Returns 0 or a negative error (the job fails). */
int mer_catalog_changed_product(mer_db_t *db, int64_t id);
/* catalog.db's commit hook (store/writer.h; the catalogue module registers it): applies the products jobs
 * of the batch recorded, or reloads the snapshot when one called mer_catalog_changed() (see "Writes").
 * Ignores other databases' commits. */
void mer_catalog_on_commit(const char *region);
/* Registers the reload on other nodes' changes (store/notify.h); the catalogue module's init. */
void mer_catalog_listen(void);

/* Takes the read lock and returns the snapshot; pair with mer_catalog_unlock(). Never NULL. */
const mer_catalog_t *mer_catalog_lock(void);
void mer_catalog_unlock(void);

/* Advances on every catalogue change; cached answers older than it are stale (country changes retire
 * cached answers through the cache itself: mer_rcache_invalidate). */
uint64_t mer_catalog_generation(void);

/* The index in cat->products (sorted by id) of the first product whose id is not below id (nproducts: none). */
size_t mer_catalog_product_at(const mer_catalog_t *cat, int64_t id);
/* Lookups in a locked snapshot; NULL if absent. */
const mer_cat_product_t *mer_catalog_product(const mer_catalog_t *cat, int64_t id);
const mer_cat_sku_t *mer_catalog_sku_by_code(const mer_catalog_t *cat, const char *code);
const mer_cat_sku_t *mer_catalog_sku_by_id(const mer_catalog_t *cat, int64_t id);
const mer_cat_category_t *mer_catalog_category(const mer_catalog_t *cat, int64_t id);
/* A SKU's price in a country, or -1 if it is not sold there. */
int64_t mer_catalog_price(const mer_cat_sku_t *sku, const char *country);
/* The best text for a locale chain (first locale in the chain that has one; else any). */
const mer_cat_text_t *mer_catalog_text(const mer_cat_text_t *texts, size_t n, const mer_locale_chain_t *chain);
/* The translation of an attribute key ("colour") or value ("colour=black"); falls back to the raw id. */
const char *mer_catalog_attr_text(const mer_catalog_t *cat, const char *key, const mer_locale_chain_t *chain);
/* The rows of attribute_text for key (one per locale), *n of them from the one returned; *n 0 when none. */
const mer_cat_attr_text_t *mer_catalog_attr_rows(const mer_catalog_t *cat, const char *key, size_t *n);
/* The translation of a flash sale's title into exactly locale made with the translation workflow, or NULL
 * (the sale's own titles come next: flashsale/). */
const mer_cat_flash_text_t *mer_catalog_flash_title(const mer_catalog_t *cat, int64_t sale_id, const char *locale);
/* The first locale of the chain for which the catalogue has any text (the "lang" of an answer). */
const char *mer_catalog_resolve_lang(const mer_catalog_t *cat, const mer_locale_chain_t *chain);

/*
 * Stock state, as product pages show it, from whoever keeps stock (the inventory module today; a shared
 * Redis stock later) without the catalogue depending on it. Both functions answer from memory, on any
 * thread (product pages are built on the event loop): no storage access.
 */
typedef struct mer_stock_state {
    /* Are units of the SKU available to buyers in the country right now? */
    bool (*in_stock)(int64_t sku_id, const char *country);
    /* A number that changes when a SKU of the product runs out or comes back somewhere (a cache key part). */
    uint32_t (*epoch)(int64_t product_id);
} mer_stock_state_t;

/* Installs the provider (start-up; static storage). Without one every SKU shows out_of_stock. */
void mer_catalog_set_stock_state(const mer_stock_state_t *provider);
/* The installed provider's answers (false / 0 without one). */
bool mer_catalog_in_stock(int64_t sku_id, const char *country);
uint32_t mer_catalog_stock_epoch(int64_t product_id);

/* ---- the admin service (catalog_write.c) ----
 * Each function runs inside a writer job of catalog.db (db is the writer's connection, in the job's
 * savepoint): it writes one admin change, calls mer_catalog_changed() on success, and on failure returns a
 * negative error with e describing it (code, field, message); the job's savepoint then undoes whatever it
 * wrote. Inputs are checked by the adapter (catalog_admin.c) first: shapes, lengths, slugs, codes, locales,
 * amounts and who may set which country's prices. What only the database knows (a slug already taken, a
 * category or SKU that does not exist) is checked here.
 */

/* A category: slug, optional parent slug, names {"en": "Phones", ...} (en required). */
typedef struct mer_cat_category_in {
    const char *slug;
    const char *parent; /* NULL: top level */
    json_t *names;      /* borrowed */
} mer_cat_category_in_t;
int mer_catalog_create_category(mer_db_t *db, const mer_cat_category_in_t *in, int64_t *id, mer_verr_t *e);

/*
 * A product. Creating: every string is set, texts {"en": {"name", "description"}, ...} and skus (1 to 50
 * SKU objects: code, attributes {key: value}, prices {CC: amount}, position, max_per_order). Patching: NULL
 * members (and active < 0) are left as they are, skus is ignored; texts given are upserted per locale.
 */
typedef struct mer_cat_product_in {
    const char *slug, *brand, *category, *tax_class;
    int active;    /* 1, 0, or -1 = unchanged (patch) */
    json_t *texts; /* borrowed */
    json_t *skus;  /* borrowed; create only */
} mer_cat_product_in_t;
int mer_catalog_create_product(mer_db_t *db, const mer_cat_product_in_t *in, int64_t now, int64_t *id, mer_verr_t *e);
int mer_catalog_patch_product(mer_db_t *db, int64_t id, const mer_cat_product_in_t *in, int64_t now, mer_verr_t *e);
/* Adds one SKU object (as in skus above) to a product. */
int mer_catalog_add_sku(mer_db_t *db, int64_t product_id, json_t *sku, int64_t now, int64_t *sku_id, mer_verr_t *e);

/* One price: a SKU's code, a country, and an amount in minor units (remove: stop selling it there). */
typedef struct mer_cat_price_in {
    const char *sku;
    char country[3];
    bool remove;
    int64_t amount;
} mer_cat_price_in_t;
/* Sets prices; an unknown SKU fails the whole call naming prices[i].sku. */
int mer_catalog_set_prices(mer_db_t *db, const mer_cat_price_in_t *in, size_t n, int64_t now, mer_verr_t *e);
/* The identifier rules of the admin routes (catalog_admin.c), shared with bulk import (bulk.c): slugs are
 * 1..max of a-z, 0-9, '-'; SKU codes 1-64 of A-Z, 0-9, '-', '_'; attribute ids (keys, values, tax classes)
 * 1-64 of a-z, 0-9, '-', '_', '.'. */
bool mer_catalog_slug_ok(const char *s, size_t max);
bool mer_catalog_code_ok(const char *s);
bool mer_catalog_attr_id_ok(const char *s);

/* Attribute translations {"colour": {"es": "Color"}, "colour=black": {"es": "Negro"}}, upserted. */
int mer_catalog_set_attr_texts(mer_db_t *db, json_t *texts, mer_verr_t *e);

#endif
