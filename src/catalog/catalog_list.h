/*
 * catalog_list.h — the product listing (GET /api/v1/products): search, facet filters, facet counts, sort
 * and one page, built from the snapshot (catalog_list.c). Private to the catalogue module.
 *
 * Filters. brand (any of the listed brands), category (the category or any of its subcategories), price
 * (price_min <= price < price_max, in the country's minor units) and attributes (attr.<key>=v1,v2: the
 * SKU's value of key is one of them). Price and attributes are SKU-level: a product matches when one of
 * its SKUs sold in the country satisfies all of them at once, and its price_from is the lowest price
 * among such SKUs (among all its SKUs when no SKU-level filter is given).
 *
 * Facets are counted over the whole matching set before pagination, each facet ignoring its own filter
 * (the usual "disjunctive" facets: with brand=Nova the brand facet still shows how many products every
 * other brand would give), in one pass: a SKU's failed filters are a bit mask, and a product counts for
 * facet f when one of its SKUs failed no filter but f's. Counts are of products (a product with a black
 * and a blue SKU counts once under each). Price buckets follow a 1-2-5 ladder in the currency's major
 * units ([0, 1), [1, 2), [2, 5), [5, 10), ...): stable bounds, so a bucket is a link that stays valid.
 */
#ifndef MER_CATALOG_LIST_H
#define MER_CATALOG_LIST_H

#include "catalog/catalog.h"
#include "region/region_http.h"

typedef enum {
    MER_SORT_RELEVANCE = 0, /* best match first with q; catalogue order (by id) without */
    MER_SORT_PRICE_ASC,     /* price_from, lowest first */
    MER_SORT_PRICE_DESC,
    MER_SORT_NEWEST, /* created last first */
} mer_list_sort_t;

#define MER_LIST_VALUES 8 /* values of one filter */
#define MER_LIST_ATTRS 4  /* attribute filters of one request */

typedef struct mer_list_values {
    const char *v[MER_LIST_VALUES];
    size_t n; /* 0: no filter */
} mer_list_values_t;

typedef struct mer_list_query {
    int64_t page, per_page;
    const char *q;        /* NULL or "": no search */
    const char *category; /* slug, or NULL */
    mer_list_sort_t sort;
    mer_list_values_t brands;
    int64_t price_min, price_max; /* -1: none */
    struct {
        const char *key;
        mer_list_values_t values;
    } attrs[MER_LIST_ATTRS];
    size_t nattrs;
} mer_list_query_t;

/* "relevance" ... "newest" -> the sort; -1 if the name is not one. */
int mer_list_sort_parse(const char *name);
const char *mer_list_sort_name(mer_list_sort_t sort);

/*
 * Builds the listing's answer (JSON, serialised into *body, freed by the caller with free()). Returns 0, or
 * MER_E_INVALID_PARAM with e naming the field: category (no such slug) or attr.<key> (no product has such
 * an attribute). Takes the snapshot's read lock; on any thread.
 */
int mer_catalog_list(const mer_where_t *w, const mer_list_query_t *lq, char **body, size_t *len, mer_verr_t *e);

/* {"id", "slug", "name"} of a category in the chain's language; JSON null for NULL. */
json_t *mer_catalog_category_json(const mer_cat_category_t *c, const mer_locale_chain_t *chain);

#endif
