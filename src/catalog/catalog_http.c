/*
 * catalog_http.c — the public catalogue routes: product listing with search and pagination, one product,
 * categories. Every answer is cached per worker thread (http/rcache.h) under a key made of everything it
 * depends on; the generation (mer_catalog_generation) retires all keys at once on any change.
 */
#include <stdarg.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/buf.h"
#include "http/rcache.h"
#include "region/region_http.h"
#include "store/ops_catalog.h"
#include "store/store.h"
#include "core/banned.h"

#define MAX_Q 100
#define CACHE_CONTROL "public, max-age=5"

/*
 * A cache key, built on the stack so that a cache hit allocates nothing. Every part is bounded before it
 * is added (q <= MAX_Q bytes, category <= 64, the chain <= MER_LOCALE_CHAIN_MAX tags), so a key is at
 * most about 330 bytes and never reaches the end of s.
 */
typedef struct cache_key {
    char s[512];
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

static json_t *category_json(const mer_cat_category_t *c, const mer_locale_chain_t *chain)
{
    if (c == NULL)
        return json_null();
    const mer_cat_text_t *t = mer_catalog_text(c->texts, c->ntexts, chain);
    return json_pack("{s:I,s:s,s:s}", "id", (json_int_t)c->id, "slug", c->slug, "name", t ? t->name : c->slug);
}

static bool sold_in(const mer_cat_product_t *p, const char *country, int64_t *min_price, size_t *nskus)
{
    int64_t best = -1;
    size_t n = 0;
    if (!p->active)
        return false;
    for (size_t i = 0; i < p->nskus; i++) {
        int64_t pr = mer_catalog_price(&p->skus[i], country);
        if (pr < 0)
            continue;
        n++;
        if (best < 0 || pr < best)
            best = pr;
    }
    if (min_price)
        *min_price = best;
    if (nskus)
        *nskus = n;
    return n > 0;
}

static bool in_category(const mer_catalog_t *cat, const mer_cat_category_t *c, int64_t want)
{
    for (int depth = 0; c && depth < 16; depth++) {
        if (c->id == want)
            return true;
        c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
    }
    return false;
}

/* The matches of a search, in the order found, each product once, among texts in the request's locales. */
typedef struct search_ids {
    const mer_where_t *w;
    int64_t *ids;
    size_t n, cap;
} search_ids_t;

static void search_hit(void *arg, int64_t id, const char *loc)
{
    search_ids_t *s = arg;
    bool ok = strcmp(loc, "en") == 0;
    for (size_t i = 0; !ok && i < s->w->chain.n; i++)
        ok = strcmp(loc, s->w->chain.tags[i]) == 0;
    for (size_t i = 0; !ok && i < s->w->country->nlanguages; i++)
        ok = strcmp(loc, s->w->country->languages[i]) == 0;
    if (!ok)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->ids = mer_xrealloc(s->ids, s->cap * sizeof(*s->ids));
    }
    s->ids[s->n++] = id;
}

/*
 * Full-text search (store/ops_catalog.h): every word of q as a prefix. Collects matching product ids (best
 * rank first) among texts in the given locales. A database read: on the read pool.
 */
static int search_ids(mer_db_t *db, const char *q, const mer_where_t *w, int64_t **ids_out, size_t *n_out)
{
    search_ids_t s = {w, NULL, 0, 0};
    int err = mer_store_product_search(db, q, 5000, search_hit, &s);
    if (err) {
        free(s.ids);
        return err;
    }
    *ids_out = s.ids;
    *n_out = s.n;
    return 0;
}

static json_t *list_item(const mer_cat_product_t *p, const mer_where_t *w, const char *lang, int64_t min_price,
                         size_t nskus)
{
    const mer_cat_text_t *t = mer_catalog_text(p->texts, p->ntexts, &w->chain);
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:I}", "id", (json_int_t)p->id, "slug", p->slug, "name",
                     t ? t->name : p->slug, "brand", p->brand, "category", category_json(p->category, &w->chain),
                     "price_from", mer_country_money(w->country, min_price, lang), "sku_count", (json_int_t)nskus);
}

/* One page of the listing (ids: the search's matches, or NULL for every product), serialised into *body. */
static int build_list(const mer_where_t *w, int64_t page, int64_t per_page, const char *category, const int64_t *ids,
                      size_t nids, char **body, size_t *len, mer_verr_t *e)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    int64_t cat_id = 0;
    if (category) {
        for (size_t i = 0; i < cat->ncategories; i++)
            if (strcmp(cat->categories[i].slug, category) == 0)
                cat_id = cat->categories[i].id;
        if (cat_id == 0) {
            mer_catalog_unlock();
            return mer_verr_set(e, MER_E_INVALID_PARAM, "category", "no category with slug %s", category);
        }
    }
    const char *lang = mer_catalog_resolve_lang(cat, &w->chain);
    json_t *items = json_array();
    size_t total = 0, first = (size_t)((page - 1) * per_page);
    size_t n = ids ? nids : cat->nproducts;
    for (size_t i = 0; i < n; i++) {
        const mer_cat_product_t *p = ids ? mer_catalog_product(cat, ids[i]) : &cat->products[i];
        int64_t min_price;
        size_t nskus;
        if (p == NULL || !sold_in(p, w->country->code, &min_price, &nskus))
            continue;
        if (cat_id && !in_category(cat, p->category, cat_id))
            continue;
        if (total >= first && total < first + (size_t)per_page)
            json_array_append_new(items, list_item(p, w, lang, min_price, nskus));
        total++;
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:o}", "country", w->country->code, "lang", lang,
                            "currency", w->country->currency.code, "tax_included", w->country->tax_inclusive, "page",
                            (json_int_t)page, "per_page", (json_int_t)per_page, "total", (json_int_t)total, "pages",
                            (json_int_t)((total + (size_t)per_page - 1) / (size_t)per_page), "items", items);
    mer_catalog_unlock();
    *body = mer_json_dump(out, len);
    json_decref(out);
    return 0;
}

/* A search that missed the cache: the full-text query on the read pool, the page built there too. */
typedef struct search_call {
    mer_call_t c;
    mer_where_t w;
    int64_t page, per_page;
    uint64_t gen;
    char q[MAX_Q + 1], category[65];
    bool has_category;
    cache_key_t key;
    char *body;
    size_t len;
} search_call_t;

static int search(mer_db_t *db, mer_call_t *c)
{
    search_call_t *s = (search_call_t *)c;
    int64_t *ids = NULL;
    size_t nids = 0;
    if (search_ids(db, s->q, &s->w, &ids, &nids) != 0)
        return mer_verr_set(&c->verr, MER_E_INTERNAL, NULL, "search failed");
    int err = build_list(&s->w, s->page, s->per_page, s->has_category ? s->category : NULL, ids ? ids : (int64_t[]){0},
                         nids, &s->body, &s->len, &c->verr);
    free(ids);
    return err;
}

static void search_reply(mer_call_t *c)
{
    search_call_t *s = (search_call_t *)c;
    mer_reply_cached(c->r, mer_rcache_put(s->key.s, s->key.len, s->gen, 200, s->body, s->len, CACHE_CONTROL));
}

static void search_free(mer_call_t *c)
{
    free(((search_call_t *)c)->body);
}

static void h_list(mer_req_t *r)
{
    mer_where_t w;
    int64_t page, per_page;
    if (mer_where(r, &w) != 0 || mer_req_query_int(r, "page", 1, 10000, 1, &page) != 0 ||
        mer_req_query_int(r, "per_page", 1, 100, 20, &per_page) != 0)
        return;
    const char *q = mer_req_query(r, "q");
    const char *category = mer_req_query(r, "category");
    size_t qlen = q ? strlen(q) : 0, clen = category ? strlen(category) : 0;
    bool search_q = qlen > 0; /* an empty q lists everything */
    if (qlen > MAX_Q) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "q", "q is longer than %d bytes", MAX_Q);
        return;
    }
    if (clen > 64) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "category", "category is longer than 64 bytes");
        return;
    }

    cache_key_t key;
    key.len = 0;
    key_printf(&key, "L|%s|%lld|%lld|", w.country->code, (long long)page, (long long)per_page);
    key_add_chain(&key, &w.chain);
    /* length-prefixed, so no value can spill into the next field */
    key_printf(&key, "|%zu:%s|%zu:%s", clen, category ? category : "", qlen, q ? q : "");
    uint64_t gen = mer_catalog_generation();
    const mer_rcache_entry_t *hit = mer_rcache_get(key.s, key.len, gen);
    if (hit) {
        mer_reply_cached(r, hit);
        return;
    }

    if (search_q) { /* the full-text index is in the database */
        search_call_t *s = mer_call_new(r, sizeof(*s));
        s->w = w;
        s->page = page;
        s->per_page = per_page;
        s->gen = gen;
        memcpy(s->q, q, qlen + 1);
        if (category) {
            memcpy(s->category, category, clen + 1);
            s->has_category = true;
        }
        s->key = key;
        s->c.reply = search_reply;
        s->c.cleanup = search_free;
        mer_call_read(&s->c, MER_STORE_CATALOG, search);
        return;
    }
    char *body;
    size_t len;
    mer_verr_t e = {0};
    if (build_list(&w, page, per_page, category, NULL, 0, &body, &len, &e) != 0) {
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
        json_array_append_new(
            skus, json_pack("{s:I,s:s,s:o,s:o,s:o,s:s,s:I}", "id", (json_int_t)s->id, "code", s->code, "attributes",
                            sattrs, "attribute_names", snames, "price", mer_country_money(w->country, price, lang),
                            "stock_state", mer_catalog_in_stock(s->id, w->country->code) ? "in_stock" : "out_of_stock",
                            "max_per_order", (json_int_t)s->max_per_order));
    }
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:b,s:i,s:o,s:o}", "id", (json_int_t)p->id, "slug", p->slug,
                     "name", t ? t->name : p->slug, "description", t && t->description ? t->description : "", "brand",
                     p->brand, "category", category_json(p->category, &w->chain), "country", w->country->code, "lang",
                     lang, "currency", w->country->currency.code, "tax_included", w->country->tax_inclusive,
                     "tax_rate_bp", rate < 0 ? 0 : rate, "attributes", attrs, "skus", skus);
}

static void h_product(mer_req_t *r)
{
    mer_where_t w;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0 || mer_where(r, &w) != 0)
        return;
    cache_key_t key;
    key.len = 0;
    /* the stock epoch changes when a SKU of this product sells out or comes back */
    key_printf(&key, "P|%lld|%s|%u|", (long long)id, w.country->code, mer_catalog_stock_epoch(id));
    key_add_chain(&key, &w.chain);
    uint64_t gen = mer_catalog_generation();
    const mer_rcache_entry_t *hit = mer_rcache_get(key.s, key.len, gen);
    if (hit) {
        mer_reply_cached(r, hit);
        return;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_product_t *p = mer_catalog_product(cat, id);
    if (p == NULL || !sold_in(p, w.country->code, NULL, NULL)) {
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
    if (mer_where(r, &w) != 0)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    const char *lang = mer_catalog_resolve_lang(cat, &w.chain);
    json_t *arr = json_array();
    for (size_t i = 0; i < cat->ncategories; i++) {
        const mer_cat_category_t *c = &cat->categories[i];
        json_t *o = category_json(c, &w.chain);
        if (c->parent_id)
            json_object_set_new(o, "parent_id", json_integer(c->parent_id));
        else
            json_object_set_new(o, "parent_id", json_null());
        json_array_append_new(arr, o);
    }
    mer_catalog_unlock();
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
    .routes = MER_MODULE_ROUTES(&catalog_routes, &mer_catalog_admin_routes),
    .metrics = catalog_metrics,
};
