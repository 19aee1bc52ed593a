/*
 * catalog_list.c — the product listing: search (catalog/search.h), filters, facets, sort, one page (see
 * catalog_list.h).
 */
#include "catalog/catalog_list.h"

#include <stdlib.h>

#include "catalog/search.h"
#include "core/money.h"
#include "core/banned.h"

enum {
    F_BRAND = 1 << 0,
    F_CATEGORY = 1 << 1,
    F_PRICE = 1 << 2,
    F_ATTR0 = 1 << 3, /* attribute filter i: F_ATTR0 << i */
};

#define NO_ID UINT32_MAX
#define BUCKETS 56 /* the 1-2-5 ladder up to 10^18 minor units */

static const char *const sort_names[] = {"relevance", "price_asc", "price_desc", "newest"};

int mer_list_sort_parse(const char *name)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(sort_names); i++)
        if (strcmp(name, sort_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *mer_list_sort_name(mer_list_sort_t sort)
{
    return sort_names[sort];
}

json_t *mer_catalog_category_json(const mer_cat_category_t *c, const mer_locale_chain_t *chain)
{
    if (c == NULL)
        return json_null();
    const mer_cat_text_t *t = mer_catalog_text(c->texts, c->ntexts, chain);
    return json_pack("{s:I,s:s,s:s}", "id", (json_int_t)c->id, "slug", c->slug, "name", t ? t->name : c->slug);
}

/* The upper bound of price bucket i (minor units): unit × 1, 2, 5, 10, 20, 50, ... */
static int64_t bucket_hi(int64_t unit, size_t i)
{
    static const int64_t m[3] = {1, 2, 5};
    int64_t v = unit * m[i % 3];
    for (size_t e = 0; e < i / 3; e++)
        v *= 10;
    return v;
}

static int64_t bucket_lo(int64_t unit, size_t i)
{
    return i == 0 ? 0 : bucket_hi(unit, i - 1);
}

static size_t bucket_of(int64_t unit, int64_t price)
{
    size_t i = 0;
    while (i + 1 < BUCKETS && price >= bucket_hi(unit, i))
        i++;
    return i;
}

typedef struct hit {
    uint32_t p; /* index in cat->products */
    uint32_t score;
    int64_t price; /* price_from */
    int64_t created_at;
    int64_t id;
} hit_t;

static int by_relevance(const void *pa, const void *pb)
{
    const hit_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_price_asc(const void *pa, const void *pb)
{
    const hit_t *a = pa, *b = pb;
    if (a->price != b->price)
        return a->price < b->price ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_price_desc(const void *pa, const void *pb)
{
    const hit_t *a = pa, *b = pb;
    if (a->price != b->price)
        return a->price > b->price ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_newest(const void *pa, const void *pb)
{
    const hit_t *a = pa, *b = pb;
    if (a->created_at != b->created_at)
        return a->created_at > b->created_at ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

/* A facet value and its count, for sorting: most products first, then by value. */
typedef struct facet_row {
    const char *value;
    uint32_t count;
    size_t idx;
} facet_row_t;

static int by_count(const void *pa, const void *pb)
{
    const facet_row_t *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->value, b->value);
}

/* The index of s in a sorted array of strings, or NO_ID. */
static size_t find_sorted(const char *const *arr, size_t n, const char *s)
{
    size_t lo = mer_search_lower_bound(arr, n, s);
    return lo < n && strcmp(arr[lo], s) == 0 ? lo : NO_ID;
}

static uint32_t attr_value_id(const mer_search_index_t *ix, uint32_t key, const char *value)
{
    for (size_t i = 0; i < ix->nattr_values; i++) /* a few dozen values; only when a filter is given */
        if (ix->attr_values[i].key == key && strcmp(ix->attr_values[i].value, value) == 0)
            return (uint32_t)i;
    return NO_ID;
}

/* The request's filters resolved against the snapshot's ids. */
typedef struct filters {
    uint32_t brands[MER_LIST_VALUES];
    size_t nbrands;
    int64_t cat_id;
    uint32_t attr_key[MER_LIST_ATTRS];
    uint32_t attr_vals[MER_LIST_ATTRS][MER_LIST_VALUES];
    size_t nattr_vals[MER_LIST_ATTRS];
    size_t nattrs;
} filters_t;

static bool in_category(const mer_catalog_t *cat, const mer_cat_category_t *c, int64_t want)
{
    for (int depth = 0; c && depth < 16; depth++) {
        if (c->id == want)
            return true;
        c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
    }
    return false;
}

static int resolve(const mer_catalog_t *cat, const mer_list_query_t *lq, filters_t *f, mer_verr_t *e)
{
    const mer_search_index_t *ix = cat->search;
    memset(f, 0, sizeof(*f));
    if (lq->category) {
        for (size_t i = 0; i < cat->ncategories; i++)
            if (strcmp(cat->categories[i].slug, lq->category) == 0)
                f->cat_id = cat->categories[i].id;
        if (f->cat_id == 0)
            return mer_verr_set(e, MER_E_INVALID_PARAM, "category", "no category with slug %s", lq->category);
    }
    for (size_t i = 0; i < lq->brands.n; i++)
        f->brands[f->nbrands++] = (uint32_t)find_sorted(ix->brands, ix->nbrands, lq->brands.v[i]);
    for (size_t a = 0; a < lq->nattrs; a++) {
        uint32_t key = (uint32_t)find_sorted(ix->attr_keys, ix->nattr_keys, lq->attrs[a].key);
        if (key == NO_ID) {
            char field[64];
            snprintf(field, sizeof(field), "attr.%s", lq->attrs[a].key);
            return mer_verr_set(e, MER_E_INVALID_PARAM, field, "no product has an attribute %s", lq->attrs[a].key);
        }
        f->attr_key[a] = key;
        for (size_t v = 0; v < lq->attrs[a].values.n; v++)
            f->attr_vals[a][f->nattr_vals[a]++] = attr_value_id(ix, key, lq->attrs[a].values.v[v]);
    }
    f->nattrs = lq->nattrs;
    return 0;
}

/* Which locales' texts a search looks at: the request's chain, the country's languages, and English. */
static bool *allowed_locales(const mer_catalog_t *cat, const mer_where_t *w)
{
    bool *ok = mer_xcalloc(cat->nlocales + 1, sizeof(*ok));
    for (size_t l = 0; l < cat->nlocales; l++) {
        const char *loc = cat->locales[l];
        ok[l] = strcmp(loc, "en") == 0;
        for (size_t i = 0; !ok[l] && i < w->chain.n; i++)
            ok[l] = strcmp(loc, w->chain.tags[i]) == 0;
        for (size_t i = 0; !ok[l] && i < w->country->nlanguages; i++)
            ok[l] = strcmp(loc, w->country->languages[i]) == 0;
    }
    return ok;
}

/* The counts of one listing's facets (arrays indexed like the snapshot's ids) and the matching set. */
typedef struct tally {
    uint32_t *brand, *category, *value, *value_stamp;
    uint32_t bucket[BUCKETS], bucket_stamp[BUCKETS];
    hit_t *hits;
    size_t nhits;
} tally_t;

static void count_product(const mer_catalog_t *cat, const mer_where_t *w, const mer_list_query_t *lq,
                          const filters_t *f, int64_t unit, size_t p, uint32_t score, tally_t *t)
{
    const mer_search_index_t *ix = cat->search;
    const mer_cat_product_t *pr = &cat->products[p];
    uint32_t brand = mer_search_brand_of(cat, p); /* UINT32_MAX: a brand the index does not know yet */
    unsigned pmask = 0;
    if (f->nbrands) {
        bool ok = false;
        for (size_t i = 0; i < f->nbrands; i++)
            ok = ok || (brand != UINT32_MAX && f->brands[i] == brand);
        if (!ok)
            pmask |= F_BRAND;
    }
    if (f->cat_id && !in_category(cat, pr->category, f->cat_id))
        pmask |= F_CATEGORY;
    if (pmask == (F_BRAND | F_CATEGORY))
        return; /* counts nowhere */
    bool any = false, for_brand = false, for_category = false;
    int64_t price_from = -1;
    uint32_t stamp = (uint32_t)p + 1;
    for (size_t k = 0; k < pr->nskus; k++) {
        const mer_cat_sku_t *s = &pr->skus[k];
        int64_t price = mer_catalog_price(s, w->country->code);
        if (price < 0)
            continue;
        unsigned m = pmask;
        if ((lq->price_min >= 0 && price < lq->price_min) || (lq->price_max >= 0 && price >= lq->price_max))
            m |= F_PRICE;
        const uint32_t *vals;
        size_t nvals = mer_search_sku_attrs(cat, p, k, &vals);
        for (size_t a = 0; a < f->nattrs; a++) {
            bool ok = false;
            for (size_t i = 0; !ok && i < nvals; i++)
                for (size_t v = 0; !ok && v < f->nattr_vals[a]; v++)
                    ok = vals[i] == f->attr_vals[a][v];
            if (!ok)
                m |= F_ATTR0 << a;
        }
        if (m == 0) {
            any = true;
            if (price_from < 0 || price < price_from)
                price_from = price;
        }
        for_brand = for_brand || (m & ~(unsigned)F_BRAND) == 0;
        for_category = for_category || (m & ~(unsigned)F_CATEGORY) == 0;
        if ((m & ~(unsigned)F_PRICE) == 0) {
            size_t b = bucket_of(unit, price);
            if (t->bucket_stamp[b] != stamp) {
                t->bucket_stamp[b] = stamp;
                t->bucket[b]++;
            }
        }
        for (size_t i = 0; i < nvals; i++) {
            uint32_t vid = vals[i];
            unsigned own = 0; /* the bit of this value's key's filter, if it has one */
            for (size_t a = 0; a < f->nattrs; a++)
                if (f->attr_key[a] == ix->attr_values[vid].key)
                    own |= F_ATTR0 << a;
            if ((m & ~own) == 0 && t->value_stamp[vid] != stamp) {
                t->value_stamp[vid] = stamp;
                t->value[vid]++;
            }
        }
    }
    if (for_brand && brand != UINT32_MAX)
        t->brand[brand]++;
    if (for_category) {
        const mer_cat_category_t *c = pr->category;
        for (int depth = 0; c && depth < 16; depth++) {
            t->category[c - cat->categories]++;
            c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
        }
    }
    if (any)
        t->hits[t->nhits++] = (hit_t){(uint32_t)p, score, price_from, pr->created_at, pr->id};
}

static json_t *facets_json(const mer_catalog_t *cat, const mer_where_t *w, const char *lang, int64_t unit,
                           const tally_t *t)
{
    const mer_search_index_t *ix = cat->search;
    size_t cap = ix->nbrands + cat->ncategories + ix->nattr_values + 1;
    facet_row_t *rows = mer_xcalloc(cap, sizeof(*rows));
    size_t n = 0;

    json_t *brands = json_array();
    for (size_t i = 0; i < ix->nbrands; i++)
        if (t->brand[i])
            rows[n++] = (facet_row_t){ix->brands[i], t->brand[i], i};
    qsort(rows, n, sizeof(*rows), by_count);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(brands,
                              json_pack("{s:s,s:I}", "value", rows[i].value, "count", (json_int_t)rows[i].count));

    json_t *cats = json_array();
    n = 0;
    for (size_t i = 0; i < cat->ncategories; i++)
        if (t->category[i])
            rows[n++] = (facet_row_t){cat->categories[i].slug, t->category[i], i};
    qsort(rows, n, sizeof(*rows), by_count);
    for (size_t i = 0; i < n; i++) {
        const mer_cat_category_t *c = &cat->categories[rows[i].idx];
        const mer_cat_text_t *tx = mer_catalog_text(c->texts, c->ntexts, &w->chain);
        json_t *parent = json_null();
        if (c->parent_id)
            parent = json_integer(c->parent_id);
        json_array_append_new(cats, json_pack("{s:s,s:s,s:I,s:o,s:I}", "value", c->slug, "name",
                                              tx ? tx->name : c->slug, "id", (json_int_t)c->id, "parent_id", parent,
                                              "count", (json_int_t)rows[i].count));
    }

    json_t *prices = json_array();
    for (size_t b = 0; b < BUCKETS; b++) {
        if (t->bucket[b] == 0)
            continue;
        int64_t lo = bucket_lo(unit, b), hi = bucket_hi(unit, b);
        json_array_append_new(prices,
                              json_pack("{s:I,s:I,s:o,s:o,s:I}", "min", (json_int_t)lo, "max", (json_int_t)hi, "from",
                                        mer_country_money(w->country, lo, lang), "to",
                                        mer_country_money(w->country, hi, lang), "count", (json_int_t)t->bucket[b]));
    }

    json_t *attrs = json_array();
    for (size_t k = 0; k < ix->nattr_keys; k++) {
        n = 0;
        for (size_t v = 0; v < ix->nattr_values; v++)
            if (ix->attr_values[v].key == k && t->value[v])
                rows[n++] = (facet_row_t){ix->attr_values[v].value, t->value[v], v};
        if (n == 0)
            continue;
        qsort(rows, n, sizeof(*rows), by_count);
        json_t *vals = json_array();
        for (size_t i = 0; i < n; i++) {
            char vkey[160];
            snprintf(vkey, sizeof(vkey), "%s=%s", ix->attr_keys[k], rows[i].value);
            json_array_append_new(vals, json_pack("{s:s,s:s,s:I}", "value", rows[i].value, "name",
                                                  mer_catalog_attr_text(cat, vkey, &w->chain), "count",
                                                  (json_int_t)rows[i].count));
        }
        json_array_append_new(attrs,
                              json_pack("{s:s,s:s,s:o}", "key", ix->attr_keys[k], "name",
                                        mer_catalog_attr_text(cat, ix->attr_keys[k], &w->chain), "values", vals));
    }
    free(rows);
    return json_pack("{s:o,s:o,s:o,s:o}", "brand", brands, "category", cats, "price", prices, "attributes", attrs);
}

static json_t *list_item(const mer_cat_product_t *p, const mer_where_t *w, const char *lang, int64_t price_from,
                         size_t nskus)
{
    const mer_cat_text_t *t = mer_catalog_text(p->texts, p->ntexts, &w->chain);
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:I}", "id", (json_int_t)p->id, "slug", p->slug, "name",
                     t ? t->name : p->slug, "brand", p->brand, "category",
                     mer_catalog_category_json(p->category, &w->chain), "price_from",
                     mer_country_money(w->country, price_from, lang), "sku_count", (json_int_t)nskus);
}

int mer_catalog_list(const mer_where_t *w, const mer_list_query_t *lq, char **body, size_t *len, mer_verr_t *e)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_search_index_t *ix = cat->search;
    filters_t f;
    if (resolve(cat, lq, &f, e) != 0) {
        mer_catalog_unlock();
        return e->code;
    }
    const char *lang = mer_catalog_resolve_lang(cat, &w->chain);
    int64_t unit = mer_money_step(w->country->currency.iso_digits, 0); /* minor units per major unit */
    uint32_t *score = NULL;
    bool searching = lq->q && lq->q[0];
    if (searching) {
        bool *allowed = allowed_locales(cat, w);
        score = mer_xcalloc(cat->nproducts + 1, sizeof(*score));
        mer_search_match(cat, lq->q, allowed, score);
        free(allowed);
    }
    tally_t t = {0};
    t.brand = mer_xcalloc(ix->nbrands + 1, sizeof(uint32_t));
    t.category = mer_xcalloc(cat->ncategories + 1, sizeof(uint32_t));
    t.value = mer_xcalloc(ix->nattr_values + 1, sizeof(uint32_t));
    t.value_stamp = mer_xcalloc(ix->nattr_values + 1, sizeof(uint32_t));
    t.hits = mer_xcalloc(cat->nproducts + 1, sizeof(*t.hits));
    for (size_t p = 0; p < cat->nproducts; p++) {
        if (!cat->products[p].active || (searching && score[p] == 0))
            continue;
        count_product(cat, w, lq, &f, unit, p, searching ? score[p] : 0, &t);
    }
    static int (*const cmp[])(const void *, const void *) = {by_relevance, by_price_asc, by_price_desc, by_newest};
    qsort(t.hits, t.nhits, sizeof(*t.hits), cmp[lq->sort]);

    json_t *items = json_array();
    size_t first = (size_t)((lq->page - 1) * lq->per_page);
    for (size_t i = first; i < t.nhits && i < first + (size_t)lq->per_page; i++) {
        const mer_cat_product_t *p = &cat->products[t.hits[i].p];
        size_t nskus = 0;
        for (size_t k = 0; k < p->nskus; k++)
            nskus += mer_catalog_price(&p->skus[k], w->country->code) >= 0;
        json_array_append_new(items, list_item(p, w, lang, t.hits[i].price, nskus));
    }
    size_t total = t.nhits;
    json_t *out = json_pack("{s:s,s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "country", w->country->code, "lang", lang,
                            "currency", w->country->currency.code, "tax_included", w->country->tax_inclusive, "sort",
                            mer_list_sort_name(lq->sort), "page", (json_int_t)lq->page, "per_page",
                            (json_int_t)lq->per_page, "total", (json_int_t)total, "pages",
                            (json_int_t)((total + (size_t)lq->per_page - 1) / (size_t)lq->per_page), "items", items,
                            "facets", facets_json(cat, w, lang, unit, &t));
    mer_catalog_unlock();
    free(score);
    free(t.brand);
    free(t.category);
    free(t.value);
    free(t.value_stamp);
    free(t.hits);
    *body = mer_json_dump(out, len);
    json_decref(out);
    return 0;
}
