/*
 * catalog.c — loading the catalogue snapshot and looking things up in it (see catalog.h).
 *
 * A snapshot is built with a handful of whole-table queries (no per-product queries), ordered so that
 * rows of a product arrive together; for the demo catalogue (230 products, ~900 SKUs, 13 countries)
 * a reload takes a few milliseconds. At 100,000 products (300,000 SKUs, 900,000 prices) the load reads
 * on two connections at once (SKUs on one, products, texts and prices on the other: sku_side_t) into flat
 * arrays that are then joined by id, and the search index tokenises two halves at once (search.c), so a
 * start-up uses both cores of a small machine (BENCHMARKS.md).
 */
#include "catalog/catalog.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "catalog/search.h"
#include "core/log.h"
#include "store/notify.h"
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

static _Atomic bool changed; /* a job of catalog.db's writer changed the catalogue beyond products */

/* Products changed by jobs since the last commit hook (catalog.db's writer thread adds, its hook takes). */
#define INCREMENTAL_MAX 1000 /* more products changed in one batch: a reload is cheaper */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t *pending;
static size_t npending;
static bool pending_overflow;

int mer_catalog_changed(mer_db_t *db)
{
    atomic_store_explicit(&changed, true, memory_order_release);
    return mer_notify_send(db, "catalog", NULL);
}

static void want_build(void);
static int apply_changes(const int64_t *ids, size_t n);

/* Another node changed the catalogue (or the hub did: a region's replica, store/replica.h), or the listener
 * reconnected (store/notify.h). A note naming a product (arg its id) updates that product as this node's own
 * commit hook does; anything else reloads the whole snapshot. */
static void catalog_note(const char *region, const char *arg)
{
    if (region != MER_STORE_CATALOG)
        return;
    char *end = NULL;
    long long id = arg && *arg ? strtoll(arg, &end, 10) : 0;
    int err = 1;
    if (id > 0 && end && *end == '\0') {
        pthread_mutex_lock(&reload_mu);
        err = apply_changes(&(int64_t){id}, 1);
        pthread_mutex_unlock(&reload_mu);
        if (err == 0)
            want_build();
    }
    if (err == 1) /* the whole catalogue, or not applicable product by product */
        err = mer_catalog_reload();
    if (err)
        mer_log_error("the catalogue could not be reloaded after another node's change: %s", mer_err_code(err));
}

void mer_catalog_listen(void)
{
    mer_notify_on("catalog", catalog_note);
}

int mer_catalog_changed_product(mer_db_t *db, int64_t id)
{
    pthread_mutex_lock(&pending_mu);
    if (npending == INCREMENTAL_MAX)
        pending_overflow = true;
    else {
        if (pending == NULL)
            pending = mer_xcalloc(INCREMENTAL_MAX, sizeof(*pending));
        pending[npending++] = id;
    }
    pthread_mutex_unlock(&pending_mu);
    return db ? mer_notify_send_id(db, "catalog", id) : 0;
}

static int cmp_u32(const void *a, const void *b);
static int cmp_id(const void *a, const void *b);

void mer_catalog_on_commit(const char *region)
{
    if (region != MER_STORE_CATALOG)
        return;
    bool all = atomic_exchange_explicit(&changed, false, memory_order_acq_rel);
    pthread_mutex_lock(&pending_mu);
    int64_t *ids = NULL;
    size_t n = npending;
    if (n) {
        ids = mer_xcalloc(n, sizeof(*ids));
        memcpy(ids, pending, n * sizeof(*ids));
    }
    all = all || pending_overflow;
    npending = 0;
    pending_overflow = false;
    pthread_mutex_unlock(&pending_mu);
    int err = 0;
    if (all)
        err = mer_catalog_reload();
    else if (n) {
        qsort(ids, n, sizeof(*ids), cmp_id);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || ids[u - 1] != ids[i])
                ids[u++] = ids[i];
        pthread_mutex_lock(&reload_mu);
        err = apply_changes(ids, u);
        pthread_mutex_unlock(&reload_mu);
        if (err == 0)
            want_build();
        else if (err == 1) /* not applicable product by product */
            err = mer_catalog_reload();
    }
    free(ids);
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

static void free_sku_contents(mer_cat_sku_t *s)
{
    free(s->attrs); /* with its strings (sku_attrs) */
    free(s->prices);
    free(s->code);
}

static void free_product(mer_cat_product_t *p)
{
    for (size_t k = 0; k < p->nskus; k++)
        free_sku_contents(&p->skus[k]);
    free(p->skus);
    free_texts(p->texts, p->ntexts);
    free(p->slug);
    free(p->brand);
    free(p->home);
}

/* Gives a loaded product its home (catalog.h) and points its SKUs at it. */
static void home(mer_cat_product_t *p)
{
    p->home = mer_xmalloc(sizeof(*p->home));
    *p->home = *p;
    for (size_t k = 0; k < p->nskus; k++)
        p->skus[k].product = p->home;
}

static void free_snapshot(mer_catalog_t *c)
{
    if (c == NULL)
        return;
    mer_search_free(c->search);
    mer_search_delta_free(c->search_delta);
    for (size_t i = 0; i < c->nproducts; i++)
        free_product(&c->products[i]);
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

/* One JSON string without escapes or control characters at *at (after the opening quote): its bytes. */
static bool plain_str(const char *t, size_t len, size_t *at, const char **out, size_t *n)
{
    size_t i = *at;
    *out = t + i;
    while (i < len && t[i] != '"' && t[i] != '\\' && (unsigned char)t[i] >= 0x20)
        i++;
    if (i >= len || t[i] != '"')
        return false;
    *n = (size_t)(t + i - *out);
    *at = i + 1;
    return true;
}

static size_t skip_ws(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The pairs of a flat object of plain strings {"k": "v", ...} (what the admin routes write: attribute ids
 * have no escapes); pairs NULL counts them. Returns their number, or -1 for any other text. */
static long flat_pairs(const char *t, size_t len, const char **pairs, size_t *lens)
{
    size_t i = skip_ws(t, len, 0), n = 0;
    if (i >= len || t[i++] != '{')
        return -1;
    i = skip_ws(t, len, i);
    if (i < len && t[i] == '}')
        return skip_ws(t, len, i + 1) == len ? 0 : -1;
    for (;;) {
        const char *k, *v;
        size_t kl, vl;
        if (i >= len || t[i++] != '"' || !plain_str(t, len, &i, &k, &kl))
            return -1;
        i = skip_ws(t, len, i);
        if (i >= len || t[i++] != ':')
            return -1;
        i = skip_ws(t, len, i);
        if (i >= len || t[i++] != '"' || !plain_str(t, len, &i, &v, &vl))
            return -1;
        if (pairs) {
            pairs[2 * n] = k, lens[2 * n] = kl;
            pairs[2 * n + 1] = v, lens[2 * n + 1] = vl;
        }
        n++;
        i = skip_ws(t, len, i);
        if (i < len && t[i] == ',') {
            i = skip_ws(t, len, i + 1);
            continue;
        }
        if (i < len && t[i] == '}' && skip_ws(t, len, i + 1) == len)
            return (long)n;
        return -1;
    }
}

/*
 * A SKU's attributes from their JSON text {"colour": "black"}, in one allocation: the array, then its
 * strings (free_sku_contents frees s->attrs alone). A start-up at 100,000 products reads 300,000 of them, so
 * the common text (plain strings) is read by hand, without a JSON tree and four allocations per pair; any
 * other text goes through jansson. Members that are not strings are skipped.
 */
static void sku_attrs(mer_cat_sku_t *s, const char *text, size_t len)
{
    const char *pbuf[16], **pairs = pbuf;
    size_t lbuf[16], *lens = lbuf, n = 0;
    json_t *tree = NULL;
    long flat = flat_pairs(text, len, NULL, NULL);
    if (flat >= 0) {
        if ((size_t)flat * 2 > MER_ARRAY_LEN(pbuf)) {
            pairs = mer_xcalloc((size_t)flat * 2, sizeof(*pairs));
            lens = mer_xcalloc((size_t)flat * 2, sizeof(*lens));
        }
        n = (size_t)flat_pairs(text, len, pairs, lens);
    } else {
        tree = json_loadb(text, len, 0, NULL);
        size_t size = json_is_object(tree) ? json_object_size(tree) : 0;
        pairs = mer_xcalloc(size * 2 + 1, sizeof(*pairs));
        lens = mer_xcalloc(size * 2 + 1, sizeof(*lens));
        const char *k;
        json_t *v;
        json_object_foreach(tree, k, v)
        {
            if (!json_is_string(v))
                continue;
            pairs[2 * n] = k, lens[2 * n] = strlen(k);
            pairs[2 * n + 1] = json_string_value(v), lens[2 * n + 1] = json_string_length(v);
            n++;
        }
    }
    size_t bytes = (n + 1) * sizeof(*s->attrs);
    for (size_t i = 0; i < 2 * n; i++)
        bytes += lens[i] + 1;
    char *block = mer_xmalloc(bytes), *str = block + (n + 1) * sizeof(*s->attrs);
    s->attrs = (mer_cat_attr_t *)(void *)block;
    for (size_t i = 0; i < 2 * n; i++) {
        memcpy(str, pairs[i], lens[i]);
        str[lens[i]] = '\0';
        if (i % 2 == 0)
            s->attrs[i / 2].key = str;
        else
            s->attrs[i / 2].value = str;
        str += lens[i] + 1;
    }
    s->nattrs = n;
    if (pairs != pbuf) {
        free(pairs);
        free(lens);
    }
    json_decref(tree);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
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

/* The SKU sku_id of product p, or NULL. */
static mer_cat_sku_t *sku_in(mer_cat_product_t *p, int64_t sku_id)
{
    for (size_t i = 0; p && i < p->nskus; i++)
        if (p->skus[i].id == sku_id)
            return &p->skus[i];
    return NULL;
}

/* A price row's SKU: in product arg. */
static mer_cat_sku_t *price_sku_of(mer_rows_t *r, void *arg)
{
    return sku_in(arg, mer_rows_int(r, 0));
}

/*
 * Reads price rows (sku_id, country, amount, ...) ordered by SKU into their SKUs' price arrays; find names a
 * row's SKU (NULL: the row is skipped). Returns 0 or the error that ended the query.
 */
static int read_prices(mer_rows_t *r, mer_cat_sku_t *(*find)(mer_rows_t *r, void *arg), void *arg)
{
    mer_cat_sku_t *cur = NULL;
    size_t cap = 0;
    int64_t cur_id = 0;
    while (mer_rows_next(r)) {
        int64_t sku_id = mer_rows_int(r, 0);
        if (cur_id != sku_id) {
            cur_id = sku_id;
            cap = 0;
            cur = find(r, arg);
        }
        if (cur == NULL)
            continue;
        if (cur->nprices == cap) {
            cap = cap ? cap * 2 : 16;
            cur->prices = mer_xrealloc(cur->prices, cap * sizeof(*cur->prices));
        }
        mer_cat_price_t *pr = &cur->prices[cur->nprices++];
        snprintf(pr->country, sizeof(pr->country), "%s", mer_rows_text(r, 1));
        pr->amount = mer_rows_int(r, 2);
    }
    return mer_rows_end(r);
}

/*
 * The SKU side of a load: every SKU with its attributes, read on a second connection (the thread's own
 * read connection) while load() reads categories, products, texts and prices on its own, so that a start-up
 * on two cores reads both halves at once (BENCHMARKS.md: 100,000 products). The SKUs come in one flat array,
 * by product; load() gives them their prices, moves them into their products and builds the SKU indexes
 * from the orders sorted here. Both connections read committed data: at start-up nothing writes; a reload runs in
 * catalog.db's commit hook (this node's writer waits for it), and another node's write meanwhile is
 * followed by its note, hence another reload.
 */
typedef struct sku_side {
    mer_cat_sku_t *skus; /* by product id, position, id */
    int64_t *owner;      /* per SKU: its product's id */
    size_t n;
    mer_cat_sku_t **by_code, **by_id; /* skus sorted by code and by id (pointers into skus) */
    int err;
    bool done;   /* read (else load() reads them on its own connection) */
    uint64_t ns; /* how long it took */
} sku_side_t;

static int read_skus(mer_db_t *db, sku_side_t *side)
{
    int64_t count = 0;
    int err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM sku", NULL);
    if (err)
        return err;
    side->skus = mer_xcalloc((size_t)count + 1, sizeof(*side->skus));
    side->owner = mer_xcalloc((size_t)count + 1, sizeof(*side->owner));
    mer_rows_t *r = mer_db_query(
        db, "SELECT id, product_id, code, attributes, max_per_order FROM sku ORDER BY product_id, position, id", NULL);
    while (mer_rows_next(r) && side->n < (size_t)count) {
        mer_cat_sku_t *sku = &side->skus[side->n];
        side->owner[side->n++] = mer_rows_int(r, 1);
        sku->id = mer_rows_int(r, 0);
        sku->code = mer_xstrdup(mer_rows_text(r, 2));
        sku->max_per_order = mer_rows_int(r, 4);
        sku_attrs(sku, mer_rows_text(r, 3), mer_rows_len(r, 3));
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    side->by_code = mer_xcalloc(side->n + 1, sizeof(*side->by_code));
    side->by_id = mer_xcalloc(side->n + 1, sizeof(*side->by_id));
    for (size_t i = 0; i < side->n; i++)
        side->by_code[i] = side->by_id[i] = &side->skus[i];
    qsort(side->by_code, side->n, sizeof(*side->by_code), cmp_sku_code);
    qsort(side->by_id, side->n, sizeof(*side->by_id), cmp_sku_id);
    return 0;
}

/* Every price row, by SKU id and country, into a flat array (load() gives them to their SKUs). */
typedef struct flat_price {
    int64_t sku_id;
    mer_cat_price_t p;
} flat_price_t;

static int read_flat_prices(mer_db_t *db, flat_price_t **out, size_t *n)
{
    int64_t count = 0;
    int err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM price", NULL);
    if (err)
        return err;
    flat_price_t *fp = mer_xmalloc(((size_t)count + 1) * sizeof(*fp));
    size_t k = 0;
    mer_rows_t *r = mer_db_query(db, "SELECT sku_id, country, amount FROM price ORDER BY sku_id, country", NULL);
    while (mer_rows_next(r) && k < (size_t)count) {
        fp[k].sku_id = mer_rows_int(r, 0);
        memcpy(fp[k].p.country, mer_rows_text(r, 1), 2);
        fp[k].p.country[2] = '\0';
        fp[k++].p.amount = mer_rows_int(r, 2);
    }
    *out = fp;
    *n = k;
    return mer_rows_end(r);
}

static void *sku_side_main(void *arg)
{
    sku_side_t *side = arg;
    uint64_t t0 = mer_now_mono_ns();
    mer_db_t *db = mer_store_reader(MER_STORE_CATALOG);
    if (db == NULL) /* no second connection: load() reads them after the products, on its own */
        return NULL;
    side->err = read_skus(db, side);
    side->done = true;
    mer_store_thread_release();
    side->ns = mer_now_mono_ns() - t0;
    return NULL;
}

/* Categories, products, their texts, attribute and flash-sale translations into c. */
static int load_products(mer_db_t *db, mer_catalog_t *c)
{
    mer_rows_t *r;
    int err;
    int64_t count = 0;
    /* categories */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM category", NULL)) != 0)
        return err;
    c->categories = mer_xcalloc((size_t)count + 1, sizeof(*c->categories));
    r = mer_db_query(db, "SELECT id, slug, COALESCE(parent_id, 0) FROM category ORDER BY id", NULL);
    while (mer_rows_next(r) && c->ncategories < (size_t)count) {
        mer_cat_category_t *cat = &c->categories[c->ncategories++];
        cat->id = mer_rows_int(r, 0);
        cat->slug = mer_xstrdup(mer_rows_text(r, 1));
        cat->parent_id = mer_rows_int(r, 2);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    r = mer_db_query(
        db, "SELECT category_id, locale, name, name_source FROM category_text ORDER BY category_id, locale", NULL);
    while (mer_rows_next(r)) {
        mer_cat_category_t *cat = (mer_cat_category_t *)mer_catalog_category(c, mer_rows_int(r, 0));
        if (cat)
            push_text(&cat->texts, &cat->ntexts, r, 1, false);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;

    /* products */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM product", NULL)) != 0)
        return err;
    c->products = mer_xcalloc((size_t)count + 1, sizeof(*c->products));
    c->products_cap = (size_t)count + 1;
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
        return err;
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
        return err;

    /* attribute translations */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM attribute_text", NULL)) != 0)
        return err;
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
        return err;
    /* flash-sale titles' translations */
    if ((err = mer_db_query_int(db, &count, "SELECT COUNT(*) FROM flash_sale_text", NULL)) != 0)
        return err;
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
        return err;
    return 0;
}

static int load(mer_db_t *db, mer_catalog_t **out, uint64_t *sku_ns)
{
    mer_catalog_t *c = mer_xcalloc(1, sizeof(*c));
    sku_side_t side = {0};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, sku_side_main, &side) == 0;
    flat_price_t *fp = NULL;
    size_t nfp = 0;
    int err = load_products(db, c);
    if (err == 0)
        err = read_flat_prices(db, &fp, &nfp);
    if (threaded)
        pthread_join(th, NULL);
    if (!side.done && err == 0)
        side.err = read_skus(db, &side);
    if (err == 0)
        err = side.err;
    *sku_ns = side.ns;
    /* prices to their SKUs: both in SKU id order */
    for (size_t i = 0, k = 0; i < side.n && err == 0; i++) {
        mer_cat_sku_t *sku = side.by_id[i];
        while (k < nfp && fp[k].sku_id < sku->id)
            k++;
        size_t from = k;
        while (k < nfp && fp[k].sku_id == sku->id)
            k++;
        if (k > from) {
            sku->prices = mer_xmalloc((k - from) * sizeof(*sku->prices));
            for (size_t j = from; j < k; j++)
                sku->prices[j - from] = fp[j].p;
            sku->nprices = k - from;
        }
    }
    free(fp);
    /* each product's SKUs (a run of the flat array) into the product's own array */
    mer_cat_sku_t **moved = mer_xcalloc(side.n + 1, sizeof(*moved)); /* flat index -> its new place */
    for (size_t i = 0; i < side.n && err == 0;) {
        size_t j = i + 1;
        while (j < side.n && side.owner[j] == side.owner[i])
            j++;
        mer_cat_product_t *p = (mer_cat_product_t *)mer_catalog_product(c, side.owner[i]);
        if (p) {
            p->skus = mer_xmalloc((j - i) * sizeof(*p->skus));
            memcpy(p->skus, &side.skus[i], (j - i) * sizeof(*p->skus));
            p->nskus = j - i;
            for (size_t k = i; k < j; k++)
                moved[k] = &p->skus[k - i];
        }
        i = j;
    }
    for (size_t k = 0; k < side.n; k++)
        if (moved[k] == NULL) /* not moved: an error, or a product added after the products were read (the
                               * next reload has both) */
            free_sku_contents(&side.skus[k]);
    if (err == 0) {
        for (size_t i = 0; i < c->nproducts; i++)
            home(&c->products[i]);
        c->skus_by_code = mer_xcalloc(side.n + 1, sizeof(*c->skus_by_code));
        c->skus_by_id = mer_xcalloc(side.n + 1, sizeof(*c->skus_by_id));
        size_t nc = 0, ni = 0;
        for (size_t i = 0; i < side.n; i++) {
            mer_cat_sku_t *a = moved[side.by_code[i] - side.skus], *b = moved[side.by_id[i] - side.skus];
            if (a)
                c->skus_by_code[nc++] = a;
            if (b)
                c->skus_by_id[ni++] = b;
        }
        c->nskus = nc;
    }
    free(moved);
    free(side.skus);
    free(side.owner);
    free(side.by_code);
    free(side.by_id);
    if (err) {
        free_snapshot(c);
        return err;
    }
    *out = c;
    return 0;
}

/* ---- retired snapshots ----
 * A snapshot replaced by a newer one is freed at once, unless the background index build is reading
 * an earlier snapshot (whose products the retired one may share): then it waits in the graveyard until
 * the build ends. A retired snapshot either is freed whole (a reload: nothing shared) or gives its products
 * array, SKU indexes and the products that changed (dead) and shares the rest with its successor. */
typedef struct grave {
    mer_catalog_t *c;
    bool whole;
    mer_cat_product_t *dead;
    size_t ndead;
    struct grave *next;
} grave_t;

static pthread_mutex_t grave_mu = PTHREAD_MUTEX_INITIALIZER;
static grave_t *graveyard; /* under grave_mu */
/* the products array of the last partly retired snapshot, kept for the next one (its pages are mapped:
 * a fresh array of 100,000 products costs more in page faults than the copy); under grave_mu */
static mer_cat_product_t *spare;
static size_t spare_cap;
static bool building; /* under grave_mu: the background build reads a snapshot */

static void bury(grave_t *g)
{
    if (g->whole)
        free_snapshot(g->c);
    else {
        for (size_t i = 0; i < g->ndead; i++)
            free_product(&g->dead[i]);
        free(g->dead);
        pthread_mutex_lock(&grave_mu);
        if (g->c->products_cap > spare_cap) {
            free(spare);
            spare = g->c->products;
            spare_cap = g->c->products_cap;
        } else
            free(g->c->products);
        pthread_mutex_unlock(&grave_mu);
        free(g->c->skus_by_code);
        free(g->c->skus_by_id);
        mer_search_delta_free(g->c->search_delta);
        free(g->c);
    }
    free(g);
}

static void retire(mer_catalog_t *c, bool whole, mer_cat_product_t *dead, size_t ndead)
{
    if (c == NULL)
        return;
    grave_t *g = mer_xcalloc(1, sizeof(*g));
    *g = (grave_t){c, whole, dead, ndead, NULL};
    pthread_mutex_lock(&grave_mu);
    if (building) {
        g->next = graveyard;
        graveyard = g;
        g = NULL;
    }
    pthread_mutex_unlock(&grave_mu);
    if (g)
        bury(g);
}

/* ---- the background build of a full search index ---- */
static pthread_t builder;
static bool builder_running; /* under grave_mu */
static bool build_wanted, builder_stop;
static pthread_cond_t build_cv = PTHREAD_COND_INITIALIZER;

#define QUIET_NS 1000000000ull /* a full build starts after a second without product writes */
static uint64_t last_want_ns;  /* under grave_mu */

static void *build_main(void *arg)
{
    (void)arg;
    /* a low priority: the full build yields the cores to requests and writes (the delta serves meanwhile) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        mer_log_warn("the catalogue's index builder keeps the normal priority");
    pthread_mutex_lock(&grave_mu);
    for (;;) {
        while (!build_wanted && !builder_stop)
            pthread_cond_wait(&build_cv, &grave_mu);
        /* wait for a quiet second: a burst of writes costs one build, not one per write */
        for (;;) {
            uint64_t now = mer_now_mono_ns();
            if (builder_stop || now - last_want_ns >= QUIET_NS)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait_ns = QUIET_NS - (now - last_want_ns) + 1000000;
            ts.tv_sec += (time_t)(wait_ns / 1000000000ull);
            ts.tv_nsec += (long)(wait_ns % 1000000000ull);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&build_cv, &grave_mu, &ts);
        }
        if (builder_stop)
            break;
        build_wanted = false;
        building = true;
        pthread_mutex_unlock(&grave_mu);

        pthread_rwlock_rdlock(&snap_lock);
        const mer_catalog_t *s = snap;
        uint64_t gen = mer_catalog_generation();
        pthread_rwlock_unlock(&snap_lock);
        /* s stays readable: whatever retires it meanwhile waits in the graveyard */
        mer_search_index_t *ix = mer_search_build(s);
        mer_search_index_t *old_ix = NULL;
        mer_search_delta_t *old_delta = NULL;
        pthread_mutex_lock(&reload_mu);
        if (mer_catalog_generation() == gen && snap->search_delta) { /* nothing changed during the build */
            pthread_rwlock_wrlock(&snap_lock);
            old_ix = snap->search;
            old_delta = snap->search_delta;
            snap->search = ix;
            snap->search_delta = NULL;
            pthread_rwlock_unlock(&snap_lock);
            bump(); /* answers ranked with the delta may differ in facets: rebuild them */
            ix = NULL;
        }
        pthread_mutex_unlock(&reload_mu);
        mer_search_free(ix);
        mer_search_free(old_ix);
        mer_search_delta_free(old_delta);

        pthread_mutex_lock(&grave_mu);
        building = false;
        grave_t *g = graveyard;
        graveyard = NULL;
        pthread_mutex_unlock(&grave_mu);
        while (g) {
            grave_t *next = g->next;
            bury(g);
            g = next;
        }
        pthread_mutex_lock(&grave_mu);
    }
    pthread_mutex_unlock(&grave_mu);
    return NULL;
}

/* Asks for a full index build in the background (the snapshot has a delta). */
static void want_build(void)
{
    pthread_mutex_lock(&grave_mu);
    if (!builder_running && !builder_stop) {
        builder_running = pthread_create(&builder, NULL, build_main, NULL) == 0;
    }
    build_wanted = true;
    last_want_ns = mer_now_mono_ns();
    pthread_cond_signal(&build_cv);
    pthread_mutex_unlock(&grave_mu);
}

int mer_catalog_reload(void)
{
    mer_catalog_t *fresh = NULL, *old = NULL;
    pthread_mutex_lock(&reload_mu);
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    uint64_t sku_ns = 0;
    int err = load(db, &fresh, &sku_ns);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err == 0) {
        fresh->search = mer_search_build(fresh); /* off the loop, and after the connection is given back */
        pthread_rwlock_wrlock(&snap_lock);
        old = snap;
        snap = fresh;
        pthread_rwlock_unlock(&snap_lock);
        bump();
    }
    pthread_mutex_unlock(&reload_mu);
    retire(old, true, NULL, 0);
    return err;
}

/* ---- applying product changes to the snapshot ---- */

/* Product id's rows, as load() reads them for every product; categories from cat. */
static int load_product(mer_db_t *db, const mer_catalog_t *cat, int64_t id, mer_cat_product_t *p)
{
    *p = (mer_cat_product_t){0};
    bool found = false;
    mer_rows_t *r = mer_db_query(
        db, "SELECT id, slug, brand, category_id, tax_class, active, created_at FROM product WHERE id = ?", "i", id);
    if (mer_rows_next(r)) {
        found = true;
        p->id = mer_rows_int(r, 0);
        p->slug = mer_xstrdup(mer_rows_text(r, 1));
        p->brand = mer_xstrdup(mer_rows_text(r, 2));
        p->category = (mer_cat_category_t *)mer_catalog_category(cat, mer_rows_int(r, 3));
        snprintf(p->tax_class, sizeof(p->tax_class), "%s", mer_rows_text(r, 4));
        p->active = mer_rows_int(r, 5) != 0;
        p->created_at = mer_rows_int(r, 6);
    }
    int err = mer_rows_end(r);
    if (err || !found)
        return err ? err : MER_E_NOT_FOUND;
    r = mer_db_query(db,
                     "SELECT product_id, locale, name, description, name_source, description_source FROM product_text "
                     "WHERE product_id = ? ORDER BY locale",
                     "i", id);
    while (mer_rows_next(r))
        push_text(&p->texts, &p->ntexts, r, 1, true);
    if ((err = mer_rows_end(r)) != 0)
        return err;
    int64_t n = 0;
    if ((err = mer_db_query_int(db, &n, "SELECT COUNT(*) FROM sku WHERE product_id = ?", "i", id)) != 0)
        return err;
    p->skus = mer_xcalloc((size_t)n + 1, sizeof(*p->skus));
    r = mer_db_query(
        db, "SELECT id, code, attributes, max_per_order FROM sku WHERE product_id = ? ORDER BY position, id", "i", id);
    while (mer_rows_next(r) && p->nskus < (size_t)n) {
        mer_cat_sku_t *s = &p->skus[p->nskus++];
        s->id = mer_rows_int(r, 0);
        s->code = mer_xstrdup(mer_rows_text(r, 1));
        s->max_per_order = mer_rows_int(r, 3);
        sku_attrs(s, mer_rows_text(r, 2), mer_rows_len(r, 2));
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    r = mer_db_query(db,
                     "SELECT p.sku_id, p.country, p.amount FROM price p JOIN sku s ON s.id = p.sku_id "
                     "WHERE s.product_id = ? ORDER BY p.sku_id, p.country",
                     "i", id);
    if ((err = read_prices(r, price_sku_of, p)) != 0)
        return err;
    home(p);
    return 0;
}

static bool has_locale(const mer_catalog_t *c, const char *loc)
{
    for (size_t i = 0; i < c->nlocales; i++)
        if (strcmp(c->locales[i], loc) == 0)
            return true;
    return false;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The first position in from[0..n) not ordered before key (cmp's order). */
static size_t lower_bound(const mer_cat_sku_t *const *from, size_t n, const mer_cat_sku_t *key,
                          int (*cmp)(const void *, const void *))
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp(&from[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* A SKU index (sorted by cmp) of the new snapshot: from[0..nfrom) without the SKUs drop[0..ndrop) (the old
 * versions of the changed products' SKUs), with add[0..nadd) (their new versions). Finds the places by binary
 * search and copies the runs between them: no pass that reads every SKU (at 100,000 products, touching each
 * SKU once costs more than the rest of a write). */
static const mer_cat_sku_t **splice(const mer_cat_sku_t *const *from, size_t nfrom, const mer_cat_sku_t **drop,
                                    size_t ndrop, const mer_cat_sku_t **add, size_t nadd,
                                    int (*cmp)(const void *, const void *), size_t *total)
{
    size_t *dpos = mer_xcalloc(ndrop + 1, sizeof(*dpos)), *apos = mer_xcalloc(nadd + 1, sizeof(*apos)), nd = 0;
    for (size_t j = 0; j < ndrop; j++) {
        size_t at = lower_bound(from, nfrom, drop[j], cmp);
        if (at < nfrom && from[at] == drop[j])
            dpos[nd++] = at;
    }
    qsort(dpos, nd, sizeof(*dpos), cmp_size);
    qsort(add, nadd, sizeof(*add), cmp);
    for (size_t j = 0; j < nadd; j++)
        apos[j] = lower_bound(from, nfrom, add[j], cmp);
    const mer_cat_sku_t **o = mer_xmalloc((nfrom + nadd + 1) * sizeof(*o));
    size_t i = 0, d = 0, a = 0, k = 0;
    for (;;) {
        size_t next = nfrom;
        if (d < nd && dpos[d] < next)
            next = dpos[d];
        if (a < nadd && apos[a] < next)
            next = apos[a];
        memcpy(o + k, from + i, (next - i) * sizeof(*o));
        k += next - i;
        i = next;
        while (a < nadd && apos[a] == i)
            o[k++] = add[a++];
        if (d < nd && dpos[d] == i) {
            i++;
            d++;
        } else if (i == nfrom && a == nadd)
            break;
    }
    free(dpos);
    free(apos);
    *total = k;
    return o;
}

/* Applies the changes of products ids[0..n) (sorted, distinct) to a new snapshot. Returns 1 when they
 * cannot be applied this way (a new locale, a product that is gone or not last): then reload. */
static int apply_changes(const int64_t *ids, size_t n)
{
    mer_catalog_t *old = snap, *c = NULL;
    mer_cat_product_t *fresh = mer_xcalloc(n + 1, sizeof(*fresh)), *dead = NULL;
    size_t nfresh = 0, nnew = 0, ndead = 0, nadd = 0;
    int err = 0;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    for (; nfresh < n && err == 0; nfresh++)
        err = load_product(db, old, ids[nfresh], &fresh[nfresh]);
    mer_store_write_end(MER_STORE_CATALOG);
    int64_t last = old->nproducts ? old->products[old->nproducts - 1].id : 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        if (mer_catalog_product(old, ids[i]) == NULL && ids[i] < last)
            err = 1; /* not at the end: positions would move */
        nnew += mer_catalog_product(old, ids[i]) == NULL;
        for (size_t t = 0; t < fresh[i].ntexts && err == 0; t++)
            if (!has_locale(old, fresh[i].texts[t].locale))
                err = 1; /* a new locale: the locale table changes */
        nadd += fresh[i].nskus;
    }
    if (err) {
        for (size_t i = 0; i < nfresh; i++)
            free_product(&fresh[i]);
        free(fresh);
        return err == MER_E_NOT_FOUND ? 1 : err < 0 ? err : 1;
    }
    c = mer_xcalloc(1, sizeof(*c));
    *c = *old; /* categories, translations, locales and the base index are shared */
    size_t need = old->nproducts + nnew + 1;
    pthread_mutex_lock(&grave_mu);
    if (spare && spare_cap >= need) {
        c->products = spare;
        c->products_cap = spare_cap;
        spare = NULL;
        spare_cap = 0;
    }
    pthread_mutex_unlock(&grave_mu);
    if (c->products == old->products) { /* no spare: a new array with room to grow */
        c->products_cap = need + need / 8;
        c->products = mer_xmalloc(c->products_cap * sizeof(*c->products));
    }
    memcpy(c->products, old->products, old->nproducts * sizeof(*c->products));
    dead = mer_xcalloc(n + 1, sizeof(*dead));
    uint32_t *changed_at = mer_xcalloc(n + 1, sizeof(*changed_at));
    for (size_t i = 0; i < n; i++) {
        const mer_cat_product_t *was = mer_catalog_product(old, ids[i]);
        size_t at = was ? (size_t)(was - old->products) : c->nproducts++;
        if (was)
            dead[ndead++] = *was;
        c->products[at] = fresh[i];
        changed_at[i] = (uint32_t)at;
    }
    free(fresh);
    /* SKU indexes: old's without the changed products' old SKUs, plus their new ones */
    size_t ndrop = 0;
    for (size_t i = 0; i < ndead; i++)
        ndrop += dead[i].nskus;
    const mer_cat_sku_t **add = mer_xcalloc(nadd + 1, sizeof(*add)), **add2 = mer_xcalloc(nadd + 1, sizeof(*add2));
    const mer_cat_sku_t **drop = mer_xcalloc(ndrop + 1, sizeof(*drop)),
                        **drop2 = mer_xcalloc(ndrop + 1, sizeof(*drop2));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        mer_cat_product_t *p = &c->products[changed_at[i]];
        for (size_t s = 0; s < p->nskus; s++, k++)
            add[k] = add2[k] = &p->skus[s];
    }
    k = 0;
    for (size_t i = 0; i < ndead; i++)
        for (size_t s = 0; s < dead[i].nskus; s++, k++)
            drop[k] = drop2[k] = &dead[i].skus[s];
    c->skus_by_code = splice(old->skus_by_code, old->nskus, drop, ndrop, add, nadd, cmp_sku_code, &c->nskus);
    c->skus_by_id = splice(old->skus_by_id, old->nskus, drop2, ndrop, add2, nadd, cmp_sku_id, &c->nskus);
    free(add);
    free(add2);
    free(drop);
    free(drop2);
    /* the search delta: the products of old's delta and these */
    size_t nd = old->search_delta ? old->search_delta->n : 0, m = 0;
    uint32_t *of = mer_xcalloc(nd + n + 1, sizeof(*of));
    qsort(changed_at, n, sizeof(*changed_at), cmp_u32);
    for (size_t i = 0, j = 0; i < nd || j < n;) {
        uint32_t v = j >= n || (i < nd && old->search_delta->of[i] < changed_at[j]) ? old->search_delta->of[i++]
                                                                                    : changed_at[j++];
        if (m == 0 || of[m - 1] != v)
            of[m++] = v;
    }
    free(changed_at);
    c->search_delta = mer_search_delta_build(c, of, m);
    free(of);

    pthread_rwlock_wrlock(&snap_lock);
    snap = c;
    pthread_rwlock_unlock(&snap_lock);
    bump();
    retire(old, false, dead, ndead);
    return 0;
}
void mer_catalog_shutdown(void)
{
    pthread_mutex_lock(&grave_mu);
    builder_stop = true;
    bool joining = builder_running;
    pthread_cond_signal(&build_cv);
    pthread_mutex_unlock(&grave_mu);
    if (joining)
        pthread_join(builder, NULL);
    pthread_mutex_lock(&grave_mu);
    builder_stop = builder_running = build_wanted = false; /* a later init may start it again */
    pthread_mutex_unlock(&grave_mu);
    pthread_mutex_lock(&grave_mu);
    free(spare);
    spare = NULL;
    spare_cap = 0;
    pthread_mutex_unlock(&grave_mu);
    pthread_mutex_lock(&pending_mu);
    free(pending);
    pending = NULL;
    npending = 0;
    pthread_mutex_unlock(&pending_mu);
    pthread_rwlock_wrlock(&snap_lock);
    free_snapshot(snap);
    snap = NULL;
    pthread_rwlock_unlock(&snap_lock);
    mer_search_shutdown();
}

size_t mer_catalog_product_at(const mer_catalog_t *cat, int64_t id)
{
    size_t lo = 0, hi = cat->nproducts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->products[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const mer_cat_product_t *mer_catalog_product(const mer_catalog_t *cat, int64_t id)
{
    size_t i = mer_catalog_product_at(cat, id);
    return i < cat->nproducts && cat->products[i].id == id ? &cat->products[i] : NULL;
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

const mer_cat_attr_text_t *mer_catalog_attr_rows(const mer_catalog_t *cat, const char *key, size_t *n)
{
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
    *n = end - lo;
    return cat->attr_texts + lo;
}

const char *mer_catalog_attr_text(const mer_catalog_t *cat, const char *key, const mer_locale_chain_t *chain)
{
    size_t n;
    const mer_cat_attr_text_t *rows = mer_catalog_attr_rows(cat, key, &n);
    for (size_t c = 0; c < chain->n; c++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i].locale, chain->tags[c]) == 0)
                return rows[i].text;
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
    uint64_t t_load = mer_now_mono_ns();
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    uint64_t sku_ns = 0;
    int err = load(db, &fresh, &sku_ns);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err)
        return err;
    uint64_t t0 = mer_now_mono_ns();
    fresh->search = mer_search_build(fresh);
    snap = fresh;
    mer_log_info("catalogue loaded in %.1f ms (SKUs read beside it in %.1f ms): %zu products, %zu categories; "
                 "search index: %zu words, %u postings, %.1f ms",
                 (double)(t0 - t_load) / 1e6, (double)sku_ns / 1e6, snap->nproducts, snap->ncategories,
                 snap->search->nkeys, snap->search->post_off[snap->search->nkeys],
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
