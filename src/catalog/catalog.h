/*
 * catalog.h — the catalogue: categories, products (SPU) and their SKUs, translations and per-country
 * price lists, held in memory as an immutable snapshot for fast localized reads.
 *
 * Source of truth is catalog.db (store/schema.c). At start-up and after every admin change the whole
 * catalogue is loaded into a new snapshot, which replaces the old one under a write lock; readers take
 * the read lock only while they build a response on a cache miss. Answers to GET requests are cached per
 * worker thread as serialised bytes (http/rcache.h) keyed by everything the answer depends on, and
 * invalidated by mer_catalog_generation(), which every catalogue or country change advances. So admin
 * changes are visible to the next read, and a hot read is a hash lookup and a send.
 *
 * Availability: a product is sold in a country exactly when it is active and at least one of its SKUs
 * has a price there; elsewhere it is 404. Prices are in the country's convention (tax included where the
 * country's tax regime is inclusive) and in integer minor units.
 */
#ifndef MER_CATALOG_H
#define MER_CATALOG_H

#include "core/locale.h"
#include "module.h"
#include "region/country.h"

typedef struct mer_cat_text {
    char locale[MER_LOCALE_MAX];
    char *name;
    char *description;
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
    mer_cat_text_t *texts;
    size_t ntexts;
    mer_cat_sku_t *skus;
    size_t nskus;
} mer_cat_product_t;

typedef struct mer_catalog {
    mer_cat_product_t *products; /* sorted by id */
    size_t nproducts;
    mer_cat_category_t *categories; /* sorted by id */
    size_t ncategories;
    struct mer_cat_attr_text *attr_texts; /* sorted by key, locale */
    size_t nattr_texts;
    char (*locales)[MER_LOCALE_MAX]; /* every locale that has any product text */
    size_t nlocales;
} mer_catalog_t;

/* Loads the first snapshot from the database. Start-up only. */
int mer_catalog_init(void);
/*
 * The catalogue module (catalog_http.c): the public routes (catalog_http.c) and the admin routes
 * (catalog_admin.c, mer_catalog_admin_routes); meridian_catalog_products. The snapshot itself is loaded
 * by mer_catalog_init() when the store is opened, before any module starts.
 */
extern const mer_module_t mer_catalog_module;
extern const mer_routes_t mer_catalog_admin_routes;
/* Re-reads the database into a new snapshot and advances the generation. Call after committing a change. */
int mer_catalog_reload(void);
void mer_catalog_shutdown(void);

/* Takes the read lock and returns the snapshot; pair with mer_catalog_unlock(). Never NULL. */
const mer_catalog_t *mer_catalog_lock(void);
void mer_catalog_unlock(void);

/* Advances on every catalogue or country change; cached answers older than it are stale. */
uint64_t mer_catalog_generation(void);
void mer_catalog_bump(void);

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
/* The first locale of the chain for which the catalogue has any text (the "lang" of an answer). */
const char *mer_catalog_resolve_lang(const mer_catalog_t *cat, const mer_locale_chain_t *chain);

#endif
