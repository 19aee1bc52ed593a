/*
 * catalog_http.c — the public catalogue routes: product listing with search, facets, sort and pagination
 * (catalog_list.h), one product, categories. Every answer is cached per worker thread (http/rcache.h) under a key made
 * of everything it depends on; the generation (mer_catalog_generation) retires all keys at once on any change.
 * They are answered for another region's country too when a gateway sends them here because that region is
 * down (mer_where_catalogue): from this node's copy of the catalogue, product pages with stock "unknown".
 */
#include <stdarg.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "catalog/catalog_list.h"
#include "core/buf.h"
#include "http/rcache.h"
#include "region/region_http.h"
#include "store/store.h"
#include "core/banned.h"

#define MAX_Q 100
#define MAX_FILTER 200               /* bytes of brand= and of each attr.<key>= */
#define MAX_PRICE 1000000000000000LL /* minor units */
#define CACHE_CONTROL "public, max-age=5"

/*
 * A cache key, built on the stack so that a cache hit allocates nothing. Every part is bounded before it
 * is added (q <= MAX_Q bytes, category <= 64, the chain <= MER_LOCALE_CHAIN_MAX tags, brand <= MAX_FILTER,
 * at most MER_LIST_ATTRS attribute filters of a 32-byte key and MER_LIST_VALUES values totalling at most
 * MAX_FILTER bytes), so a key is at most about 1,800 bytes and never reaches the end of s.
 */
typedef struct cache_key {
    char s[2048];
    size_t len;
} cache_key_t;

static void key_printf(cache_key_t *k, const char *fmt, ...) MER_PRINTF(2, 3);
static void key_printf(cache_key_t *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(k->s + k->len, sizeof(k->s) - k->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(k->s) - k->len)
        MER_BUG("cache key too long");
    k->len += (size_t)n;
}

/* Appends the chain to a cache key: every answer depends on the whole fallback chain. */
static void key_add_chain(cache_key_t *k, const mer_locale_chain_t *chain)
{
    for (size_t i = 0; i < chain->n; i++)
        key_printf(k, "%s,", chain->tags[i]);
}

static bool sold_in(const mer_cat_product_t *p, const char *country)
{
    if (!p->active)
        return false;
    for (size_t i = 0; i < p->nskus; i++)
        if (mer_catalog_price(&p->skus[i], country) >= 0)
            return true;
    return false;
}

/* Splits a comma-separated filter value (copied into the request's pool) into at most MER_LIST_VALUES values;
 * answers 400 naming field and returns -1 when there are more. */
static int split_values(mer_req_t *r, const char *field, const char *raw, mer_list_values_t *out)
{
    char *s = mer_req_strdup(r, raw, strlen(raw));
    out->n = 0;
    for (char *p = s; p && *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p) {
            if (out->n == MER_LIST_VALUES) {
                mer_reply_error(r, MER_E_INVALID_PARAM, field, "%s takes at most %d values", field, MER_LIST_VALUES);
                return -1;
            }
            out->v[out->n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Appends a filter's values to a cache key, each length-prefixed. */
static void key_add_values(cache_key_t *k, const mer_list_values_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        key_printf(k, "%zu:%s,", strlen(v->v[i]), v->v[i]);
    key_printf(k, "|");
}

/*
 * The listing's parameters: page, per_page, q, category, sort, brand, price_min, price_max and attr.<key>.
 * Returns 0, or answers 400 naming the field and returns -1.
 */
static int list_params(mer_req_t *r, mer_list_query_t *lq)
{
    memset(lq, 0, sizeof(*lq));
    if (mer_req_query_int(r, "page", 1, 10000, 1, &lq->page) != 0 ||
        mer_req_query_int(r, "per_page", 1, 100, 20, &lq->per_page) != 0 ||
        mer_req_query_int(r, "price_min", 0, MAX_PRICE, -1, &lq->price_min) != 0 ||
        mer_req_query_int(r, "price_max", 1, MAX_PRICE, -1, &lq->price_max) != 0)
        return -1;
    if (lq->price_min >= 0 && lq->price_max >= 0 && lq->price_max <= lq->price_min) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "price_max", "price_max must be greater than price_min");
        return -1;
    }
    lq->q = mer_req_query(r, "q");
    lq->category = mer_req_query(r, "category");
    if (lq->q && strlen(lq->q) > MAX_Q) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "q", "q is longer than %d bytes", MAX_Q);
        return -1;
    }
    if (lq->category && strlen(lq->category) > 64) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "category", "category is longer than 64 bytes");
        return -1;
    }
    const char *sort = mer_req_query(r, "sort");
    int so = sort ? mer_list_sort_parse(sort) : MER_SORT_RELEVANCE;
    if (so < 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "sort", "sort must be one of relevance, price_asc, price_desc, newest");
        return -1;
    }
    lq->sort = (mer_list_sort_t)so;
    const char *brand = mer_req_query(r, "brand");
    if (brand && strlen(brand) > MAX_FILTER) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "brand", "brand is longer than %d bytes", MAX_FILTER);
        return -1;
    }
    if (brand && split_values(r, "brand", brand, &lq->brands) != 0)
        return -1;
    for (size_t i = 0; i < r->nquery; i++) {
        const char *key = r->query[i].key.base;
        if (strncmp(key, "attr.", 5) != 0)
            continue;
        size_t klen = strlen(key + 5), vlen = strlen(r->query[i].val.base);
        if (klen == 0 || klen > 32 || vlen > MAX_FILTER) {
            mer_reply_error(r, MER_E_INVALID_PARAM, key,
                            "an attribute filter is attr.<key>=<value>[,<value>...]: "
                            "a key of 1 to 32 bytes, values of at most %d bytes",
                            MAX_FILTER);
            return -1;
        }
        if (lq->nattrs == MER_LIST_ATTRS) {
            mer_reply_error(r, MER_E_INVALID_PARAM, key, "at most %d attribute filters", MER_LIST_ATTRS);
            return -1;
        }
        lq->attrs[lq->nattrs].key = key + 5;
        if (split_values(r, key, r->query[i].val.base, &lq->attrs[lq->nattrs].values) != 0)
            return -1;
        lq->nattrs++;
    }
    return 0;
}

static void h_list(mer_req_t *r)
{
    mer_where_t w;
    mer_list_query_t lq;
    if (mer_where_catalogue(r, &w) != 0 || list_params(r, &lq) != 0)
        return;
    if (lq.q && lq.q[0] == '\0')
        lq.q = NULL; /* an empty q lists everything */

    /* the key: every parameter the answer depends on, parsed (so their order and unknown parameters do not
     * split the cache), strings length-prefixed so that no value can spill into the next field */
    cache_key_t key;
    key.len = 0;
    key_printf(&key, "L|%s|%lld|%lld|%d|%lld|%lld|", w.country->code, (long long)lq.page, (long long)lq.per_page,
               (int)lq.sort, (long long)lq.price_min, (long long)lq.price_max);
    key_add_chain(&key, &w.chain);
    key_printf(&key, "|%zu:%s|%zu:%s|", lq.category ? strlen(lq.category) : 0, lq.category ? lq.category : "",
               lq.q ? strlen(lq.q) : 0, lq.q ? lq.q : "");
    key_add_values(&key, &lq.brands);
    for (size_t i = 0; i < lq.nattrs; i++) {
        key_printf(&key, "%zu:%s=", strlen(lq.attrs[i].key), lq.attrs[i].key);
        key_add_values(&key, &lq.attrs[i].values);
    }
    uint64_t gen = mer_catalog_generation();
    const mer_rcache_entry_t *hit = mer_rcache_get(key.s, key.len, gen);
    if (hit) {
        mer_reply_cached(r, hit);
        return;
    }
    /* a miss: search, filters and facets from the snapshot in memory (catalog/search.h), no database */
    char *body;
    size_t len;
    mer_verr_t e = {0};
    if (mer_catalog_list(&w, &lq, &body, &len, &e) != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_rcache_entry_t *ent = mer_rcache_put(key.s, key.len, gen, 200, body, len, CACHE_CONTROL);
    free(body);
    mer_reply_cached(r, ent);
}

static json_t *product_json(const mer_catalog_t *cat, const mer_cat_product_t *p, const mer_where_t *w,
                            const char *lang)
{
    const mer_cat_text_t *t = mer_catalog_text(p->texts, p->ntexts, &w->chain);
    json_t *skus = json_array(), *attrs = json_array();
    int rate = mer_country_tax_rate(w->country, p->tax_class);
    for (size_t i = 0; i < p->nskus; i++) {
        const mer_cat_sku_t *s = &p->skus[i];
        int64_t price = mer_catalog_price(s, w->country->code);
        if (price < 0)
            continue;
        json_t *sattrs = json_object(), *snames = json_object();
        for (size_t a = 0; a < s->nattrs; a++) {
            char vkey[160];
            snprintf(vkey, sizeof(vkey), "%s=%s", s->attrs[a].key, s->attrs[a].value);
            json_object_set_new(sattrs, s->attrs[a].key, json_string(s->attrs[a].value));
            json_object_set_new(snames, s->attrs[a].key, json_string(mer_catalog_attr_text(cat, vkey, &w->chain)));
            /* the product-level list of attributes and their values, in first-seen order */
            json_t *entry = NULL;
            size_t k;
            json_t *it;
            json_array_foreach(attrs, k, it)
            {
                if (strcmp(json_string_value(json_object_get(it, "key")), s->attrs[a].key) == 0)
                    entry = it;
            }
            if (entry == NULL) {
                entry = json_pack("{s:s,s:s,s:[]}", "key", s->attrs[a].key, "name",
                                  mer_catalog_attr_text(cat, s->attrs[a].key, &w->chain), "values");
                json_array_append_new(attrs, entry);
            }
            json_t *vals = json_object_get(entry, "values");
            bool seen = false;
            json_array_foreach(vals, k, it)
            {
                if (strcmp(json_string_value(json_object_get(it, "value")), s->attrs[a].value) == 0)
                    seen = true;
            }
            if (!seen)
                json_array_append_new(vals, json_pack("{s:s,s:s}", "value", s->attrs[a].value, "name",
                                                      mer_catalog_attr_text(cat, vkey, &w->chain)));
        }
        /* stock is the region's own data: an answer for another region's country (w->fallback) cannot know it */
        const char *stock = w->fallback                                     ? "unknown"
                            : mer_catalog_in_stock(s->id, w->country->code) ? "in_stock"
                                                                            : "out_of_stock";
        json_array_append_new(skus, json_pack("{s:I,s:s,s:o,s:o,s:o,s:s,s:I}", "id", (json_int_t)s->id, "code", s->code,
                                              "attributes", sattrs, "attribute_names", snames, "price",
                                              mer_country_money(w->country, price, lang), "stock_state", stock,
                                              "max_per_order", (json_int_t)s->max_per_order));
    }
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:b,s:i,s:o,s:o}", "id", (json_int_t)p->id, "slug", p->slug,
                     "name", t ? t->name : p->slug, "description", t && t->description ? t->description : "", "brand",
                     p->brand, "category", mer_catalog_category_json(p->category, &w->chain), "country",
                     w->country->code, "lang", lang, "currency", w->country->currency.code, "tax_included",
                     w->country->tax_inclusive, "tax_rate_bp", rate < 0 ? 0 : rate, "attributes", attrs, "skus", skus);
}

static void h_product(mer_req_t *r)
{
    mer_where_t w;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0 || mer_where_catalogue(r, &w) != 0)
        return;
    cache_key_t key;
    key.len = 0;
    /* the stock epoch changes when a SKU of this product sells out or comes back */
    key_printf(&key, "P|%lld|%s|%u|%d|", (long long)id, w.country->code, mer_catalog_stock_epoch(id), (int)w.fallback);
    key_add_chain(&key, &w.chain);
    uint64_t gen = mer_catalog_generation();
    const mer_rcache_entry_t *hit = mer_rcache_get(key.s, key.len, gen);
    if (hit) {
        mer_reply_cached(r, hit);
        return;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_product_t *p = mer_catalog_product(cat, id);
    if (p == NULL || !sold_in(p, w.country->code)) {
        mer_catalog_unlock();
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "product %lld is not sold in %s", (long long)id, w.country->code);
        return;
    }
    json_t *out = product_json(cat, p, &w, mer_catalog_resolve_lang(cat, &w.chain));
    mer_catalog_unlock();
    size_t len;
    char *body = mer_json_dump(out, &len);
    json_decref(out);
    const mer_rcache_entry_t *e = mer_rcache_put(key.s, key.len, gen, 200, body, len, CACHE_CONTROL);
    free(body);
    mer_reply_cached(r, e);
}

static void h_categories(mer_req_t *r)
{
    mer_where_t w;
    if (mer_where_catalogue(r, &w) != 0)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    const char *lang = mer_catalog_resolve_lang(cat, &w.chain);
    json_t *arr = json_array();
    for (size_t i = 0; i < cat->ncategories; i++) {
        const mer_cat_category_t *c = &cat->categories[i];
        json_t *o = mer_catalog_category_json(c, &w.chain);
        if (c->parent_id)
            json_object_set_new(o, "parent_id", json_integer(c->parent_id));
        else
            json_object_set_new(o, "parent_id", json_null());
        json_array_append_new(arr, o);
    }
    mer_catalog_unlock();
    mer_reply_header(r, "cache-control", CACHE_CONTROL); /* public: a gateway's edge cache may keep it */
    mer_reply_json(r, 200, json_pack("{s:s,s:o}", "lang", lang, "categories", arr));
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/products", h_list, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/products/{id}", h_product, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/categories", h_categories, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

static const mer_routes_t catalog_routes = {routes, MER_ARRAY_LEN(routes)};

static void catalog_metrics(mer_buf_t *out)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    size_t nproducts = cat->nproducts;
    mer_catalog_unlock();
    mer_buf_printf(out,
                   "# HELP meridian_catalog_products Products in the catalogue.\n"
                   "# TYPE meridian_catalog_products gauge\n"
                   "meridian_catalog_products %zu\n",
                   nproducts);
}

static int catalog_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_writer_on_commit(mer_catalog_on_commit);
    mer_catalog_listen();
    return 0;
}

const mer_module_t mer_catalog_module = {
    .name = "catalog",
    .init = catalog_init,
    .routes = MER_MODULE_ROUTES(&catalog_routes, &mer_catalog_admin_routes, &mer_translation_routes,
                                &mer_catalog_bulk_routes),
    .metrics = catalog_metrics,
};
