/*
 * catalog.c — loading the catalogue snapshot and looking things up in it (see catalog.h).
 *
 * A snapshot is built with a handful of whole-table queries (no per-product queries), ordered so that
 * rows of a product arrive together; for the demo catalogue (230 products, ~900 SKUs, 13 countries)
 * a reload takes a few milliseconds.
 */
#include "catalog/catalog.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "catalog/search.h"
#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

static pthread_rwlock_t snap_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static mer_catalog_t *snap;
static _Atomic uint64_t generation = 1;

uint64_t mer_catalog_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

static void bump(void)
{
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
}

static _Atomic bool changed; /* a job of catalog.db's writer changed the catalogue since the last reload */

void mer_catalog_changed(void)
{
    atomic_store_explicit(&changed, true, memory_order_release);
}

void mer_catalog_on_commit(const char *region)
{
    if (region != MER_STORE_CATALOG || !atomic_exchange_explicit(&changed, false, memory_order_acq_rel))
        return;
    int err = mer_catalog_reload();
    if (err) /* the change is durable; the next change's reload (or a restart) shows it */
        mer_log_error("the catalogue could not be reloaded after a change: %s", mer_err_code(err));
}

static const mer_stock_state_t *stock_state;

void mer_catalog_set_stock_state(const mer_stock_state_t *provider)
{
    stock_state = provider;
}

bool mer_catalog_in_stock(int64_t sku_id, const char *country)
{
    return stock_state && stock_state->in_stock(sku_id, country);
}

uint32_t mer_catalog_stock_epoch(int64_t product_id)
{
    return stock_state ? stock_state->epoch(product_id) : 0;
}

const mer_catalog_t *mer_catalog_lock(void)
{
    pthread_rwlock_rdlock(&snap_lock);
    return snap;
}

void mer_catalog_unlock(void)
{
    pthread_rwlock_unlock(&snap_lock);
}

static void free_texts(mer_cat_text_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].description);
        free(t[i].name_source);
        free(t[i].description_source);
    }
    free(t);
}

static void free_snapshot(mer_catalog_t *c)
{
    if (c == NULL)
        return;
    mer_search_free(c->search);
    for (size_t i = 0; i < c->nproducts; i++) {
        mer_cat_product_t *p = &c->products[i];
        for (size_t k = 0; k < p->nskus; k++) {
            mer_cat_sku_t *s = &p->skus[k];
            for (size_t a = 0; a < s->nattrs; a++) {
                free(s->attrs[a].key);
                free(s->attrs[a].value);
            }
            free(s->attrs);
            free(s->prices);
            free(s->code);
        }
        free(p->skus);
        free_texts(p->texts, p->ntexts);
        free(p->slug);
        free(p->brand);
    }
    free(c->products);
    for (size_t i = 0; i < c->ncategories; i++) {
        free(c->categories[i].slug);
        free_texts(c->categories[i].texts, c->categories[i].ntexts);
    }
    free(c->categories);
    for (size_t i = 0; i < c->nattr_texts; i++) {
        free(c->attr_texts[i].key);
        free(c->attr_texts[i].text);
        free(c->attr_texts[i].source);
    }
    free(c->attr_texts);
    for (size_t i = 0; i < c->nflash_texts; i++) {
        free(c->flash_texts[i].title);
        free(c->flash_texts[i].source);
    }
    free(c->flash_texts);
    free(c->locales);
    free(c->skus_by_code);
    free(c->skus_by_id);
    free(c);
}

static void add_locale(mer_catalog_t *c, const char *loc)
{
    for (size_t i = 0; i < c->nlocales; i++)
        if (strcmp(c->locales[i], loc) == 0)
            return;
    c->locales = mer_xrealloc(c->locales, (c->nlocales + 1) * sizeof(*c->locales));
    snprintf(c->locales[c->nlocales++], MER_LOCALE_MAX, "%s", loc);
}

/* Appends a text from row r: locale, name, description, name_source, description_source at columns
 * col.. (description and its source absent for categories: has_desc false). */
static void push_text(mer_cat_text_t **arr, size_t *n, mer_rows_t *r, int col, bool has_desc)
{
    *arr = mer_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    mer_cat_text_t *t = &(*arr)[(*n)++];
    *t = (mer_cat_text_t){0};
    snprintf(t->locale, sizeof(t->locale), "%s", mer_rows_text(r, col));
    t->name = mer_xstrdup(mer_rows_text(r, col + 1));
    if (has_desc) {
        t->description = mer_xstrdup(mer_rows_text(r, col + 2));
        if (!mer_rows_null(r, col + 4))
            t->description_source = mer_xstrdup(mer_rows_text(r, col + 4));
    }
    if (!mer_rows_null(r, col + (has_desc ? 3 : 2)))
        t->name_source = mer_xstrdup(mer_rows_text(r, col + (has_desc ? 3 : 2)));
}

static int cmp_sku_code(const void *a, const void *b)
{
    return strcmp((*(const mer_cat_sku_t *const *)a)->code, (*(const mer_cat_sku_t *const *)b)->code);
}

static int cmp_sku_id(const void *a, const void *b)
{
    int64_t x = (*(const mer_cat_sku_t *const *)a)->id, y = (*(const mer_cat_sku_t *const *)b)->id;
    return (x > y) - (x < y);
}

/* The SKU indexes (catalog.h: skus_by_code, skus_by_id) of a loaded snapshot. */
static void index_skus(mer_catalog_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nproducts; i++)
        n += c->products[i].nskus;
    c->skus_by_code = mer_xcalloc(n + 1, sizeof(*c->skus_by_code));
    c->skus_by_id = mer_xcalloc(n + 1, sizeof(*c->skus_by_id));
    c->nskus = 0;
    for (size_t i = 0; i < c->nproducts; i++)
        for (size_t k = 0; k < c->products[i].nskus; k++) {
            c->skus_by_code[c->nskus] = &c->products[i].skus[k];
            c->skus_by_id[c->nskus++] = &c->products[i].skus[k];
        }
    qsort(c->skus_by_code, c->nskus, sizeof(*c->skus_by_code), cmp_sku_code);
    qsort(c->skus_by_id, c->nskus, sizeof(*c->skus_by_id), cmp_sku_id);
}

static int load(mer_db_t *db, mer_catalog_t **out)
{
    mer_catalog_t *c = mer_xcalloc(1, sizeof(*c));
    mer_rows_t *r;
    int err;
    int64_t count = 0;
    size_t i;

    /* categories */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM category", NULL)) != 0)
        goto fail;
    c->categories = mer_xcalloc((size_t)count + 1, sizeof(*c->categories));
    r = mer_db_query(db, "SELECT id, slug, COALESCE(parent_id, 0) FROM category ORDER BY id", NULL);
    while (mer_rows_next(r) && c->ncategories < (size_t)count) {
        mer_cat_category_t *cat = &c->categories[c->ncategories++];
        cat->id = mer_rows_int(r, 0);
        cat->slug = mer_xstrdup(mer_rows_text(r, 1));
        cat->parent_id = mer_rows_int(r, 2);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    r = mer_db_query(
        db, "SELECT category_id, locale, name, name_source FROM category_text ORDER BY category_id, locale", NULL);
    while (mer_rows_next(r)) {
        mer_cat_category_t *cat = (mer_cat_category_t *)mer_catalog_category(c, mer_rows_int(r, 0));
        if (cat)
            push_text(&cat->texts, &cat->ntexts, r, 1, false);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;

    /* products */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM product", NULL)) != 0)
        goto fail;
    c->products = mer_xcalloc((size_t)count + 1, sizeof(*c->products));
    r = mer_db_query(db, "SELECT id, slug, brand, category_id, tax_class, active, created_at FROM product ORDER BY id",
                     NULL);
    while (mer_rows_next(r) && c->nproducts < (size_t)count) {
        mer_cat_product_t *p = &c->products[c->nproducts++];
        p->id = mer_rows_int(r, 0);
        p->slug = mer_xstrdup(mer_rows_text(r, 1));
        p->brand = mer_xstrdup(mer_rows_text(r, 2));
        p->category = (mer_cat_category_t *)mer_catalog_category(c, mer_rows_int(r, 3));
        snprintf(p->tax_class, sizeof(p->tax_class), "%s", mer_rows_text(r, 4));
        p->active = mer_rows_int(r, 5) != 0;
        p->created_at = mer_rows_int(r, 6);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    r = mer_db_query(db,
                     "SELECT product_id, locale, name, description, name_source, description_source FROM product_text "
                     "ORDER BY product_id, locale",
                     NULL);
    while (mer_rows_next(r)) {
        mer_cat_product_t *p = (mer_cat_product_t *)mer_catalog_product(c, mer_rows_int(r, 0));
        if (p == NULL)
            continue;
        push_text(&p->texts, &p->ntexts, r, 1, true);
        add_locale(c, mer_rows_text(r, 1));
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;

    /* SKUs: count per product first so each product's array is allocated once */
    r = mer_db_query(db, "SELECT product_id, COUNT(*) FROM sku GROUP BY product_id", NULL);
    while (mer_rows_next(r)) {
        mer_cat_product_t *p = (mer_cat_product_t *)mer_catalog_product(c, mer_rows_int(r, 0));
        if (p)
            p->skus = mer_xcalloc((size_t)mer_rows_int(r, 1), sizeof(*p->skus));
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    r = mer_db_query(
        db, "SELECT id, product_id, code, attributes, max_per_order FROM sku ORDER BY product_id, position, id", NULL);
    while (mer_rows_next(r)) {
        mer_cat_product_t *p = (mer_cat_product_t *)mer_catalog_product(c, mer_rows_int(r, 1));
        if (p == NULL || p->skus == NULL)
            continue;
        mer_cat_sku_t *s = &p->skus[p->nskus++];
        s->id = mer_rows_int(r, 0);
        s->code = mer_xstrdup(mer_rows_text(r, 2));
        s->max_per_order = mer_rows_int(r, 4);
        s->product = p;
        json_t *attrs = json_loadb(mer_rows_text(r, 3), mer_rows_len(r, 3), 0, NULL);
        if (json_is_object(attrs)) {
            const char *k;
            json_t *v;
            s->attrs = mer_xcalloc(json_object_size(attrs) + 1, sizeof(*s->attrs));
            json_object_foreach(attrs, k, v)
            {
                if (!json_is_string(v))
                    continue;
                s->attrs[s->nattrs].key = mer_xstrdup(k);
                s->attrs[s->nattrs++].value = mer_xstrdup(json_string_value(v));
            }
        }
        json_decref(attrs);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    r = mer_db_query(db,
                     "SELECT p.sku_id, p.country, p.amount, s.product_id FROM price p JOIN sku s ON s.id = p.sku_id "
                     "ORDER BY p.sku_id, p.country",
                     NULL);
    mer_cat_sku_t *cur = NULL;
    size_t cap = 0;
    while (mer_rows_next(r)) {
        int64_t sku_id = mer_rows_int(r, 0);
        if (cur == NULL || cur->id != sku_id) {
            cur = NULL;
            cap = 0;
            mer_cat_product_t *p = (mer_cat_product_t *)mer_catalog_product(c, mer_rows_int(r, 3));
            for (i = 0; p && i < p->nskus; i++)
                if (p->skus[i].id == sku_id)
                    cur = &p->skus[i];
            if (cur == NULL)
                continue;
        }
        if (cur->nprices == cap) {
            cap = cap ? cap * 2 : 16;
            cur->prices = mer_xrealloc(cur->prices, cap * sizeof(*cur->prices));
        }
        mer_cat_price_t *pr = &cur->prices[cur->nprices++];
        snprintf(pr->country, sizeof(pr->country), "%s", mer_rows_text(r, 1));
        pr->amount = mer_rows_int(r, 2);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;

    /* attribute translations */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM attribute_text", NULL)) != 0)
        goto fail;
    c->attr_texts = mer_xcalloc((size_t)count + 1, sizeof(*c->attr_texts));
    r = mer_db_query(db, "SELECT key, locale, text, source FROM attribute_text ORDER BY key, locale", NULL);
    while (mer_rows_next(r) && c->nattr_texts < (size_t)count) {
        mer_cat_attr_text_t *t = &c->attr_texts[c->nattr_texts++];
        t->key = mer_xstrdup(mer_rows_text(r, 0));
        snprintf(t->locale, sizeof(t->locale), "%s", mer_rows_text(r, 1));
        t->text = mer_xstrdup(mer_rows_text(r, 2));
        t->source = mer_rows_null(r, 3) ? NULL : mer_xstrdup(mer_rows_text(r, 3));
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    /* flash-sale titles' translations */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM flash_sale_text", NULL)) != 0)
        goto fail;
    c->flash_texts = mer_xcalloc((size_t)count + 1, sizeof(*c->flash_texts));
    r = mer_db_query(db, "SELECT sale_id, locale, title, source FROM flash_sale_text ORDER BY sale_id, locale", NULL);
    while (mer_rows_next(r) && c->nflash_texts < (size_t)count) {
        mer_cat_flash_text_t *t = &c->flash_texts[c->nflash_texts++];
        t->sale_id = mer_rows_int(r, 0);
        snprintf(t->locale, sizeof(t->locale), "%s", mer_rows_text(r, 1));
        t->title = mer_xstrdup(mer_rows_text(r, 2));
        t->source = mer_rows_null(r, 3) ? NULL : mer_xstrdup(mer_rows_text(r, 3));
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    index_skus(c);
    *out = c;
    return 0;
fail:
    free_snapshot(c);
    return err;
}

int mer_catalog_reload(void)
{
    mer_catalog_t *fresh = NULL, *old;
    pthread_mutex_lock(&reload_mu);
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = load(db, &fresh);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err == 0) {
        fresh->search = mer_search_build(fresh); /* off the loop, and after the connection is given back */
        pthread_rwlock_wrlock(&snap_lock);
        old = snap;
        snap = fresh;
        pthread_rwlock_unlock(&snap_lock);
        free_snapshot(old);
        bump();
    }
    pthread_mutex_unlock(&reload_mu);
    return err;
}

void mer_catalog_shutdown(void)
{
    pthread_rwlock_wrlock(&snap_lock);
    free_snapshot(snap);
    snap = NULL;
    pthread_rwlock_unlock(&snap_lock);
    mer_search_shutdown();
}

const mer_cat_product_t *mer_catalog_product(const mer_catalog_t *cat, int64_t id)
{
    size_t lo = 0, hi = cat->nproducts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->products[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cat->nproducts && cat->products[lo].id == id ? &cat->products[lo] : NULL;
}

const mer_cat_category_t *mer_catalog_category(const mer_catalog_t *cat, int64_t id)
{
    size_t lo = 0, hi = cat->ncategories;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->categories[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cat->ncategories && cat->categories[lo].id == id ? &cat->categories[lo] : NULL;
}

const mer_cat_sku_t *mer_catalog_sku_by_code(const mer_catalog_t *cat, const char *code)
{
    size_t lo = 0, hi = cat->nskus;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(cat->skus_by_code[mid]->code, code);
        if (c == 0)
            return cat->skus_by_code[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const mer_cat_sku_t *mer_catalog_sku_by_id(const mer_catalog_t *cat, int64_t id)
{
    size_t lo = 0, hi = cat->nskus;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->skus_by_id[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cat->nskus && cat->skus_by_id[lo]->id == id ? cat->skus_by_id[lo] : NULL;
}

int64_t mer_catalog_price(const mer_cat_sku_t *sku, const char *country)
{
    size_t lo = 0, hi = sku->nprices;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sku->prices[mid].country, country);
        if (c == 0)
            return sku->prices[mid].amount;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const mer_cat_text_t *mer_catalog_text(const mer_cat_text_t *texts, size_t n, const mer_locale_chain_t *chain)
{
    for (size_t c = 0; c < chain->n; c++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(texts[i].locale, chain->tags[c]) == 0)
                return &texts[i];
    return n ? &texts[0] : NULL;
}

const char *mer_catalog_attr_text(const mer_catalog_t *cat, const char *key, const mer_locale_chain_t *chain)
{
    /* find the first row of key by binary search, then scan its locales */
    size_t lo = 0, hi = cat->nattr_texts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(cat->attr_texts[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < cat->nattr_texts && strcmp(cat->attr_texts[end].key, key) == 0)
        end++;
    for (size_t c = 0; c < chain->n; c++)
        for (size_t i = lo; i < end; i++)
            if (strcmp(cat->attr_texts[i].locale, chain->tags[c]) == 0)
                return cat->attr_texts[i].text;
    const char *eq = strchr(key, '=');
    return eq ? eq + 1 : key;
}

const char *mer_catalog_resolve_lang(const mer_catalog_t *cat, const mer_locale_chain_t *chain)
{
    for (size_t c = 0; c < chain->n; c++)
        for (size_t i = 0; i < cat->nlocales; i++)
            if (strcmp(cat->locales[i], chain->tags[c]) == 0)
                return chain->tags[c];
    return "en";
}

int mer_catalog_init(void)
{
    mer_catalog_t *fresh = NULL;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = load(db, &fresh);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err)
        return err;
    uint64_t t0 = mer_now_mono_ns();
    fresh->search = mer_search_build(fresh);
    snap = fresh;
    mer_log_info("catalogue loaded: %zu products, %zu categories; search index: %zu words, %u postings, %.1f ms",
                 snap->nproducts, snap->ncategories, snap->search->nkeys, snap->search->post_off[snap->search->nkeys],
                 (double)(mer_now_mono_ns() - t0) / 1e6);
    return 0;
}

const mer_cat_flash_text_t *mer_catalog_flash_title(const mer_catalog_t *cat, int64_t sale_id, const char *locale)
{
    size_t lo = 0, hi = cat->nflash_texts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->flash_texts[mid].sale_id < sale_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < cat->nflash_texts && cat->flash_texts[lo].sale_id == sale_id; lo++)
        if (strcmp(cat->flash_texts[lo].locale, locale) == 0)
            return &cat->flash_texts[lo];
    return NULL;
}
