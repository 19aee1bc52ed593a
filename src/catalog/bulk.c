/*
 * bulk.c — bulk import and export of the catalogue: products with their SKUs, and prices per country, as
 * CSV (core/csv.h: RFC 4180, UTF-8, a header row) or JSON (an array of objects with the same members).
 *
 *   GET  /api/v1/admin/export/{products|prices}?format=csv|json[&country=CC]
 *   POST /api/v1/admin/import/{products|prices}?mode=all_or_nothing|partial[&dry_run=true]
 *
 * Columns (CSV header names; JSON member names):
 *   products: product, brand, category, tax_class, active, name, description, sku, attributes, position,
 *             max_per_order — one row per SKU; the product's columns repeat on each of its SKUs' rows and
 *             must agree. name and description are the English texts (other languages: the translation
 *             workflow, catalog/translation.h); attributes are "key=value;key=value" (a JSON object in JSON).
 *             An import creates the products and SKUs it does not know (by slug and by code) and updates
 *             the others; it never deletes.
 *   prices:   sku, country, amount (minor units), currency (optional; when given it must be the country's).
 *             Export adds product (the SKU's product slug), ignored on import.
 *
 * An import is checked in full before anything is written: the body is parsed and every row validated off
 * the loop (mer_call_offload) against the snapshot, each bad row reported with its row number (the CSV
 * record number, the header being row 1, as a spreadsheet numbers it; in JSON the 1-based position in the
 * array), its column, a code and a message. mode=all_or_nothing (the default) then writes nothing when any
 * row is bad (422 with the report); mode=partial writes the good rows; dry_run=true writes nothing and
 * answers the report. The rows are written by one writer job of catalog.db (prepared statements, one
 * transaction, one snapshot reload for the whole file), so a 100,000-row file costs one round trip and one
 * commit (with PostgreSQL, many price rows to a round trip: store/db.h, mer_db_defer). A row that the database
 * still refuses at write time (a slug taken since the check) fails the whole job in all_or_nothing, and only its
 * product in partial mode (a savepoint per product).
 *
 * Body size: h2o (2.2) buffers a request's whole body before any handler or authentication runs, so the
 * server-wide --max-body (1 MiB by default) is also the import limit; raising it for one route would let
 * anyone send that much. Instead an import may be sent with Content-Encoding: gzip: the compressed body
 * counts against --max-body, and it is inflated off the loop, only for an authenticated admin or operator
 * (the router checks the token first), up to MER_BULK_MAX_INFLATED bytes (a 100,000-row price file is
 * about 3 MB as text and a few hundred KB compressed). Bigger files: split them, or raise --max-body on an
 * admin node that is not exposed to the public.
 *
 * Who: admins import and export everything; operators export and import prices of their countries only
 * (a row for another country is a bad row, code forbidden). Products are admin only.
 *
 * Exports are streamed from the snapshot (the durable state) in chunks of about MER_STREAM_CHUNK bytes, each
 * made by a read job when the client has taken the previous one: memory is one chunk, whatever the size of
 * the catalogue (see "export" below).
 */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "catalog/catalog.h"
#include "core/csv.h"
#include "core/log.h"
#include "http/req.h"
#include "store/notify.h"
#include "store/store.h"
#include "core/banned.h"

#define MER_BULK_MAX_INFLATED (64u << 20) /* bytes of an inflated (gzip) import body */
#define MER_BULK_MAX_ROWS 500000          /* rows per import */
#define MER_BULK_MAX_ERRORS 10000         /* bad rows listed in a report (all are counted) */

typedef enum { KIND_PRODUCTS, KIND_PRICES } kind_t;

static const char *const product_cols[] = {"product",     "brand", "category",   "tax_class", "active",        "name",
                                           "description", "sku",   "attributes", "position",  "max_per_order", NULL};
enum { P_PRODUCT, P_BRAND, P_CATEGORY, P_TAX, P_ACTIVE, P_NAME, P_DESC, P_SKU, P_ATTRS, P_POS, P_MAX, P_NCOLS };
static const char *const price_cols[] = {"sku", "country", "amount", "currency", "product", NULL};
enum { R_SKU, R_COUNTRY, R_AMOUNT, R_CURRENCY, R_PRODUCT, R_NCOLS };

#define MAX_COLS 11

static bool parse_kind(const char *s, size_t n, kind_t *k)
{
    if (n == 8 && memcmp(s, "products", 8) == 0)
        *k = KIND_PRODUCTS;
    else if (n == 6 && memcmp(s, "prices", 6) == 0)
        *k = KIND_PRICES;
    else
        return false;
    return true;
}

/* ---- rows as validated ---- */

typedef struct price_row {
    size_t row;
    int64_t sku_id, product_id;
    char country[3];
    int64_t amount;
} price_row_t;

typedef struct product_row {
    size_t row;
    char *slug, *brand, *category, *tax_class, *name, *description, *sku;
    json_t *attrs; /* object */
    bool active;
    int64_t position, max_per_order;
} product_row_t;

typedef struct import_call {
    mer_call_t c;
    kind_t kind;
    bool json, gzip, partial, dry_run;
    const char *body; /* the request's entity: valid while the call holds the request */
    size_t len;
    int64_t now;
    size_t rows; /* data rows read */
    price_row_t *prices;
    product_row_t *products;
    size_t n, cap;
    json_t *errors; /* the report's bad rows */
    size_t nbad;    /* bad rows (each counted once) */
    size_t last_bad_row;
    size_t applied;
    size_t products_created, products_updated, skus_created, skus_updated;
} import_call_t;

static void bad(import_call_t *ic, size_t row, const char *column, const char *code, const char *fmt, ...)
    MER_PRINTF(5, 6);

static void bad(import_call_t *ic, size_t row, const char *column, const char *code, const char *fmt, ...)
{
    if (row != ic->last_bad_row) {
        ic->nbad++;
        ic->last_bad_row = row;
    }
    if (json_array_size(ic->errors) >= MER_BULK_MAX_ERRORS)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(ic->errors, json_pack("{s:I,s:s?,s:s,s:s}", "row", (json_int_t)row, "column", column, "code",
                                                code, "message", msg));
}

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (*s == '\0')
        return false;
    int64_t v = 0;
    bool neg = *s == '-';
    if (neg)
        s++;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* One price row (v[R_*]: the row's values, NULL when absent). */
static void check_price_row(import_call_t *ic, const mer_catalog_t *cat, size_t row, const char *const *v)
{
    const char *sku = v[R_SKU], *cc = v[R_COUNTRY], *amount = v[R_AMOUNT], *cur = v[R_CURRENCY];
    size_t before = ic->nbad;
    const mer_cat_sku_t *s = NULL;
    const mer_country_t *country = NULL;
    int64_t a = 0;
    if (sku == NULL || *sku == '\0')
        bad(ic, row, "sku", "missing_value", "sku is required");
    else if ((s = mer_catalog_sku_by_code(cat, sku)) == NULL)
        bad(ic, row, "sku", "unknown_sku", "no SKU with code %.64s", sku);
    if (cc == NULL || *cc == '\0')
        bad(ic, row, "country", "missing_value", "country is required");
    else if ((country = mer_country_find_any(mer_countries(), cc, strlen(cc))) == NULL ||
             strcmp(country->code, cc) != 0) {
        bad(ic, row, "country", "unknown_country", "%.8s is not a known country code", cc);
        country = NULL;
    } else if (!mer_principal_may_country(&ic->c.who, cc))
        bad(ic, row, "country", "forbidden", "you may not set prices in %s", cc);
    if (amount == NULL || *amount == '\0')
        bad(ic, row, "amount", "missing_value", "amount is required (minor units)");
    else if (!parse_int(amount, 0, MER_MONEY_MAX, &a))
        bad(ic, row, "amount", "invalid_value", "amount must be an integer from 0 to %lld minor units",
            (long long)MER_MONEY_MAX);
    else if (country && a % country->step != 0)
        bad(ic, row, "amount", "invalid_value", "amount must be a multiple of %lld minor units of %s",
            (long long)country->step, country->currency.code);
    if (country && cur && *cur && strcmp(cur, country->currency.code) != 0)
        bad(ic, row, "currency", "currency_mismatch", "prices in %s are in %s, not %.8s", country->code,
            country->currency.code, cur);
    if (ic->nbad != before)
        return;
    MER_GROW(ic->prices, ic->n, ic->cap, 256);
    price_row_t *p = &ic->prices[ic->n++];
    *p = (price_row_t){.row = row, .sku_id = s->id, .product_id = s->product->id, .amount = a};
    snprintf(p->country, sizeof(p->country), "%s", cc);
}

static const mer_cat_category_t *category_by_slug(const mer_catalog_t *cat, const char *slug)
{
    for (size_t i = 0; i < cat->ncategories; i++)
        if (strcmp(cat->categories[i].slug, slug) == 0)
            return &cat->categories[i];
    return NULL;
}

/* "colour=black;storage=128gb" into an object, or NULL (not that shape, or a key or value not an id). */
static json_t *parse_attrs(const char *s)
{
    json_t *o = json_object();
    while (*s) {
        const char *semi = strchr(s, ';'), *end = semi ? semi : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        char k[80], val[80];
        if (eq == NULL || eq - s >= (ptrdiff_t)sizeof(k) || end - eq - 1 >= (ptrdiff_t)sizeof(val))
            goto fail;
        snprintf(k, sizeof(k), "%.*s", (int)(eq - s), s);
        snprintf(val, sizeof(val), "%.*s", (int)(end - eq - 1), eq + 1);
        if (!mer_catalog_attr_id_ok(k) || !mer_catalog_attr_id_ok(val) || json_object_get(o, k) ||
            json_object_size(o) == 8)
            goto fail;
        json_object_set_new(o, k, json_string(val));
        s = semi ? semi + 1 : end;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static bool str_ok(import_call_t *ic, size_t row, const char *col, const char *v, size_t min, size_t max)
{
    size_t n = v ? strlen(v) : 0;
    if (n < min) {
        bad(ic, row, col, "missing_value", "%s is required", col);
        return false;
    }
    if (n > max) {
        bad(ic, row, col, "invalid_value", "%s is longer than %zu bytes", col, max);
        return false;
    }
    return true;
}

static void check_product_row(import_call_t *ic, const mer_catalog_t *cat, size_t row, const char *const *v)
{
    size_t before = ic->nbad;
    int64_t pos = 0, max = 10;
    bool active = true;
    json_t *attrs = NULL;
    const char *tax = v[P_TAX] && *v[P_TAX] ? v[P_TAX] : "standard";
    if (str_ok(ic, row, "product", v[P_PRODUCT], 1, 100) && !mer_catalog_slug_ok(v[P_PRODUCT], 100))
        bad(ic, row, "product", "invalid_value", "product slugs are lower-case letters, digits and '-'");
    str_ok(ic, row, "brand", v[P_BRAND], 1, 60);
    if (str_ok(ic, row, "category", v[P_CATEGORY], 1, 64) && category_by_slug(cat, v[P_CATEGORY]) == NULL)
        bad(ic, row, "category", "unknown_category", "no category with slug %.64s", v[P_CATEGORY]);
    if (!mer_catalog_attr_id_ok(tax))
        bad(ic, row, "tax_class", "invalid_value", "tax classes are lower-case identifiers");
    if (v[P_ACTIVE] && *v[P_ACTIVE]) {
        if (strcmp(v[P_ACTIVE], "true") == 0 || strcmp(v[P_ACTIVE], "1") == 0)
            active = true;
        else if (strcmp(v[P_ACTIVE], "false") == 0 || strcmp(v[P_ACTIVE], "0") == 0)
            active = false;
        else
            bad(ic, row, "active", "invalid_value", "active is true or false");
    }
    str_ok(ic, row, "name", v[P_NAME], 1, 200);
    str_ok(ic, row, "description", v[P_DESC], 0, 4000);
    if (str_ok(ic, row, "sku", v[P_SKU], 1, 64) && !mer_catalog_code_ok(v[P_SKU]))
        bad(ic, row, "sku", "invalid_value", "SKU codes are 1-64 upper-case letters, digits, '-' and '_'");
    else if (v[P_SKU] && v[P_PRODUCT]) {
        const mer_cat_sku_t *s = mer_catalog_sku_by_code(cat, v[P_SKU]);
        if (s && strcmp(s->product->slug, v[P_PRODUCT]) != 0)
            bad(ic, row, "sku", "sku_taken", "SKU %s belongs to product %s", v[P_SKU], s->product->slug);
    }
    if (v[P_ATTRS] && (attrs = parse_attrs(v[P_ATTRS])) == NULL)
        bad(ic, row, "attributes", "invalid_value",
            "attributes are key=value pairs separated by ';' (at most 8; keys and values of a-z, 0-9, '-', '_', '.')");
    if (v[P_POS] && *v[P_POS] && !parse_int(v[P_POS], 0, 1000, &pos))
        bad(ic, row, "position", "invalid_value", "position is an integer from 0 to 1000");
    if (v[P_MAX] && *v[P_MAX] && !parse_int(v[P_MAX], 1, 1000, &max))
        bad(ic, row, "max_per_order", "invalid_value", "max_per_order is an integer from 1 to 1000");
    if (ic->nbad != before) {
        json_decref(attrs);
        return;
    }
    MER_GROW(ic->products, ic->n, ic->cap, 256);
    product_row_t *p = &ic->products[ic->n++];
    *p = (product_row_t){.row = row,
                         .slug = mer_xstrdup(v[P_PRODUCT]),
                         .brand = mer_xstrdup(v[P_BRAND]),
                         .category = mer_xstrdup(v[P_CATEGORY]),
                         .tax_class = mer_xstrdup(tax),
                         .name = mer_xstrdup(v[P_NAME]),
                         .description = mer_xstrdup(v[P_DESC] ? v[P_DESC] : ""),
                         .sku = mer_xstrdup(v[P_SKU]),
                         .attrs = attrs ? attrs : json_object(),
                         .active = active,
                         .position = pos,
                         .max_per_order = max};
}

static int cmp_price(const void *a, const void *b)
{
    const price_row_t *x = a, *y = b;
    if (x->sku_id != y->sku_id)
        return x->sku_id < y->sku_id ? -1 : 1;
    int c = strcmp(x->country, y->country);
    if (c)
        return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_product(const void *a, const void *b)
{
    const product_row_t *x = a, *y = b;
    int c = strcmp(x->slug, y->slug);
    if (c)
        return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_row(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Checks across rows: a price given twice, a SKU given twice, a product whose rows disagree. Rows found bad
 * are dropped (marked row 0) and reported. Leaves prices sorted by SKU and country, products by slug. */
static void check_across(import_call_t *ic)
{
    size_t *dups = NULL, ndups = 0;
    if (ic->n < 2)
        return;
    if (ic->kind == KIND_PRICES) {
        qsort(ic->prices, ic->n, sizeof(*ic->prices), cmp_price);
        for (size_t i = 1; i < ic->n; i++)
            if (ic->prices[i].sku_id == ic->prices[i - 1].sku_id &&
                strcmp(ic->prices[i].country, ic->prices[i - 1].country) == 0) {
                dups = mer_xrealloc(dups, (ndups + 1) * sizeof(*dups));
                dups[ndups++] = ic->prices[i].row;
            }
    } else {
        qsort(ic->products, ic->n, sizeof(*ic->products), cmp_product);
        for (size_t i = 1; i < ic->n; i++) {
            product_row_t *a = &ic->products[i - 1], *b = &ic->products[i];
            if (strcmp(a->slug, b->slug) == 0 &&
                (strcmp(a->brand, b->brand) || strcmp(a->category, b->category) || strcmp(a->tax_class, b->tax_class) ||
                 a->active != b->active || strcmp(a->name, b->name) || strcmp(a->description, b->description))) {
                dups = mer_xrealloc(dups, (ndups + 1) * sizeof(*dups));
                dups[ndups++] = b->row;
            }
        }
        /* a SKU twice: sort a copy of (code, row) */
        const char **codes = mer_xcalloc(ic->n + 1, sizeof(*codes));
        for (size_t i = 0; i < ic->n; i++)
            codes[i] = ic->products[i].sku;
        for (size_t i = 0; i < ic->n; i++)
            for (size_t k = i + 1; k < ic->n && strcmp(ic->products[k].slug, ic->products[i].slug) == 0; k++)
                if (strcmp(codes[i], codes[k]) == 0) {
                    dups = mer_xrealloc(dups, (ndups + 1) * sizeof(*dups));
                    dups[ndups++] = ic->products[k].row;
                }
        free(codes);
    }
    if (ndups == 0)
        return;
    qsort(dups, ndups, sizeof(*dups), cmp_row);
    for (size_t i = 0; i < ndups; i++) {
        if (i && dups[i] == dups[i - 1])
            continue;
        if (ic->kind == KIND_PRICES)
            bad(ic, dups[i], "country", "duplicate_row", "this SKU's price in this country is given on an earlier row");
        else
            bad(ic, dups[i], "product", "conflicting_row",
                "this row repeats an earlier SKU of the product or disagrees with the product's earlier row");
    }
    for (size_t i = 0; i < ic->n; i++) {
        size_t row = ic->kind == KIND_PRICES ? ic->prices[i].row : ic->products[i].row;
        if (bsearch(&row, dups, ndups, sizeof(*dups), cmp_row)) {
            if (ic->kind == KIND_PRICES)
                ic->prices[i].row = 0;
            else
                ic->products[i].row = 0;
        }
    }
    free(dups);
}

/* ---- reading the body ---- */

static int inflate_body(import_call_t *ic, char **out, size_t *outlen)
{
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return MER_E_INTERNAL;
    size_t cap = ic->len * 4 + 4096, n = 0;
    char *buf = mer_xrealloc(NULL, cap);
    z.next_in = (Bytef *)(uintptr_t)ic->body;
    z.avail_in = (uInt)ic->len;
    int rc;
    do {
        if (n == cap) {
            if (cap >= MER_BULK_MAX_INFLATED) {
                inflateEnd(&z);
                free(buf);
                return mer_verr_set(&ic->c.verr, MER_E_TOO_LARGE, NULL,
                                    "the inflated body is larger than %u bytes; split the file", MER_BULK_MAX_INFLATED);
            }
            cap = cap * 2 > MER_BULK_MAX_INFLATED ? MER_BULK_MAX_INFLATED : cap * 2;
            buf = mer_xrealloc(buf, cap);
        }
        z.next_out = (Bytef *)buf + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return mer_verr_set(&ic->c.verr, MER_E_INVALID_PARAM, "Content-Encoding", "the body is not valid gzip");
    }
    *out = buf;
    *outlen = n;
    return 0;
}

static void check_row(import_call_t *ic, const mer_catalog_t *cat, size_t row, const char *const *v)
{
    ic->rows++;
    if (ic->kind == KIND_PRICES)
        check_price_row(ic, cat, row, v);
    else
        check_product_row(ic, cat, row, v);
}

static int read_csv(import_call_t *ic, const mer_catalog_t *cat, const char *data, size_t len)
{
    const char *const *names = ic->kind == KIND_PRICES ? price_cols : product_cols;
    int col_of[MER_CSV_MAX_FIELDS];
    mer_csv_t rd;
    mer_csv_init(&rd, data, len);
    int rc = mer_csv_next(&rd);
    if (rc <= 0) {
        int err = mer_verr_set(&ic->c.verr, MER_E_VALIDATION, "body", "%s",
                               rc == 0 ? "the file is empty: a header row is required" : rd.error);
        mer_csv_free(&rd);
        return err;
    }
    bool seen[MAX_COLS] = {0};
    for (size_t i = 0; i < rd.nfields; i++) {
        const char *h = mer_csv_field(&rd, i);
        col_of[i] = -1;
        for (int k = 0; names[k]; k++)
            if (strcmp(h, names[k]) == 0)
                col_of[i] = k;
        if (col_of[i] < 0 || seen[col_of[i]]) {
            int err =
                mer_verr_set(&ic->c.verr, MER_E_VALIDATION, "header", "column %zu of the header, \"%.40s\", is %s",
                             i + 1, h, col_of[i] < 0 ? "not a known column" : "given twice");
            mer_csv_free(&rd);
            return err;
        }
        seen[col_of[i]] = true;
    }
    size_t ncols = rd.nfields;
    while ((rc = mer_csv_next(&rd)) == 1) {
        if (ic->rows >= MER_BULK_MAX_ROWS) {
            mer_csv_free(&rd);
            return mer_verr_set(&ic->c.verr, MER_E_TOO_LARGE, "body", "at most %d rows per import; split the file",
                                MER_BULK_MAX_ROWS);
        }
        const char *v[MAX_COLS] = {0};
        if (rd.nfields != ncols) {
            ic->rows++;
            bad(ic, rd.record, NULL, "wrong_field_count", "this row has %zu fields; the header has %zu", rd.nfields,
                ncols);
            continue;
        }
        for (size_t i = 0; i < ncols; i++)
            v[col_of[i]] = mer_csv_field(&rd, i);
        check_row(ic, cat, rd.record, v);
    }
    if (rc < 0) { /* the rest of the file cannot be read: the file is refused as a whole */
        int err = mer_verr_set(&ic->c.verr, MER_E_VALIDATION, "body", "line %zu: %s", rd.line, rd.error);
        mer_csv_free(&rd);
        return err;
    }
    mer_csv_free(&rd);
    return 0;
}

static int read_json(import_call_t *ic, const mer_catalog_t *cat, const char *data, size_t len)
{
    const char *const *names = ic->kind == KIND_PRICES ? price_cols : product_cols;
    json_error_t jerr;
    json_t *arr = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (arr == NULL)
        return mer_verr_set(&ic->c.verr, MER_E_INVALID_JSON, NULL, "line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return mer_verr_set(&ic->c.verr, MER_E_VALIDATION, "body", "the body must be a JSON array of objects");
    }
    if (json_array_size(arr) > MER_BULK_MAX_ROWS) {
        json_decref(arr);
        return mer_verr_set(&ic->c.verr, MER_E_TOO_LARGE, "body", "at most %d rows per import; split the file",
                            MER_BULK_MAX_ROWS);
    }
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        size_t row = i + 1;
        const char *v[MAX_COLS] = {0};
        char nums[MAX_COLS][24];
        const char *k;
        json_t *val;
        mer_buf_t attrs = MER_BUF_INIT; /* {"colour": "black"} in the CSV form, checked by the same rules */
        bool ok = json_is_object(item);
        if (!ok) {
            ic->rows++;
            bad(ic, row, NULL, "invalid_value", "each item is an object");
            continue;
        }
        json_object_foreach(item, k, val)
        {
            int col = -1;
            for (int c = 0; names[c]; c++)
                if (strcmp(k, names[c]) == 0)
                    col = c;
            if (col < 0) {
                bad(ic, row, k, "unknown_column", "%.40s is not a known member", k);
                ok = false;
            } else if (json_is_string(val))
                v[col] = json_string_value(val);
            else if (json_is_integer(val)) {
                snprintf(nums[col], sizeof(nums[col]), "%lld", (long long)json_integer_value(val));
                v[col] = nums[col];
            } else if (json_is_boolean(val))
                v[col] = json_is_true(val) ? "true" : "false";
            else if (ic->kind == KIND_PRODUCTS && col == P_ATTRS && json_is_object(val)) {
                const char *ak;
                json_t *av;
                size_t n = 0;
                json_object_foreach(val, ak, av)
                {
                    mer_buf_printf(&attrs, "%s%s=%s", n++ ? ";" : "", ak,
                                   json_is_string(av) ? json_string_value(av) : "");
                }
                v[col] = mer_buf_str(&attrs);
            } else if (!json_is_null(val)) {
                bad(ic, row, k, "invalid_value", "%.40s must be a string or a number", k);
                ok = false;
            }
        }
        if (!ok) {
            ic->rows++;
            mer_buf_release(&attrs);
            continue;
        }
        check_row(ic, cat, row, v);
        mer_buf_release(&attrs);
    }
    json_decref(arr);
    return 0;
}

/* Off the loop: inflate, parse, validate every row. */
static int import_parse(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    import_call_t *ic = (import_call_t *)c;
    char *inflated = NULL;
    const char *data = ic->body;
    size_t len = ic->len;
    int err;
    if (ic->gzip) {
        if ((err = inflate_body(ic, &inflated, &len)) != 0)
            return err;
        data = inflated;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    err = ic->json ? read_json(ic, cat, data, len) : read_csv(ic, cat, data, len);
    mer_catalog_unlock();
    free(inflated);
    if (err == 0)
        check_across(ic);
    return err;
}

/* ---- applying ---- */

/* The rows are deferred writes (store/db.h: with PostgreSQL, many to a round trip, not one each; SQLite is in
 * the process): every row was checked before, so a failure here is an internal error, which is what a deferred
 * write's failure is; it comes back at the next synchronous call (the note below, or the job's RELEASE). */
static int apply_prices(mer_db_t *db, import_call_t *ic)
{
    int err = 0;
    for (size_t i = 0; i < ic->n && err == 0; i++) {
        price_row_t *p = &ic->prices[i];
        if (p->row == 0)
            continue;
        int rc = mer_db_defer(db,
                              "INSERT INTO price (sku_id, country, amount, updated_at) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (sku_id, country) DO UPDATE SET amount = excluded.amount, "
                              "updated_at = excluded.updated_at",
                              "isii", p->sku_id, p->country, p->amount, ic->now);
        if (rc < 0)
            err = rc;
        mer_catalog_changed_product(NULL, p->product_id); /* many: the snapshot is reloaded as a whole */
        ic->applied++;
    }
    if (err)
        return err;
    /* the other nodes reload once, whatever the number of prices (this one applies the products recorded) */
    return ic->applied ? mer_notify_send(db, "catalog", NULL) : 0;
}

static json_t *sku_json(const product_row_t *p)
{
    return json_pack("{s:s,s:O,s:I,s:I}", "code", p->sku, "attributes", p->attrs, "position", (json_int_t)p->position,
                     "max_per_order", (json_int_t)p->max_per_order);
}

/* One product's rows [from, to): created, or updated with its SKUs created or updated. */
static int apply_product(mer_db_t *db, import_call_t *ic, size_t from, size_t to, mer_verr_t *e)
{
    product_row_t *p = &ic->products[from];
    int64_t id = 0;
    json_t *texts = json_pack("{s:{s:s,s:s}}", "en", "name", p->name, "description", p->description);
    mer_cat_product_in_t in = {.slug = p->slug,
                               .brand = p->brand,
                               .category = p->category,
                               .tax_class = p->tax_class,
                               .active = p->active,
                               .texts = texts};
    int err = mer_db_query_int(db, &id, "SELECT id FROM product WHERE slug = ?", "s", p->slug);
    if (err == MER_E_NOT_FOUND) {
        in.skus = json_array();
        for (size_t i = from; i < to; i++)
            json_array_append_new(in.skus, sku_json(&ic->products[i]));
        err = mer_catalog_create_product(db, &in, ic->now, &id, e);
        json_decref(in.skus);
        json_decref(texts);
        if (err == 0) {
            ic->products_created++;
            ic->skus_created += to - from;
            ic->applied += to - from;
        }
        return err;
    }
    if (err == 0) {
        /* the English text only when it changed: an unchanged import must not outdate translations */
        int64_t same = 0;
        mer_db_query_int(db, &same,
                         "SELECT COUNT(*) FROM product_text WHERE product_id = ? AND locale = 'en' AND name = ? AND "
                         "description = ?",
                         "iss", id, p->name, p->description);
        if (same)
            in.texts = NULL;
        err = mer_catalog_patch_product(db, id, &in, ic->now, e);
    }
    json_decref(texts);
    if (err == 0)
        ic->products_updated++;
    for (size_t i = from; i < to && err == 0; i++) {
        product_row_t *s = &ic->products[i];
        int64_t sku_id = 0, owner = 0;
        mer_rows_t *r = mer_db_query(db, "SELECT id, product_id FROM sku WHERE code = ?", "s", s->sku);
        if (mer_rows_next(r)) {
            sku_id = mer_rows_int(r, 0);
            owner = mer_rows_int(r, 1);
        }
        if ((err = mer_rows_end(r)) != 0)
            break;
        if (sku_id && owner != id) {
            err = mer_verr_set(e, MER_E_CONFLICT, "sku", "SKU %s belongs to another product", s->sku);
        } else if (sku_id) {
            char *attrs = mer_json_dump(s->attrs, NULL);
            int rc = mer_db_exec(db, "UPDATE sku SET attributes = ?, position = ?, max_per_order = ? WHERE id = ?",
                                 "siii", attrs, s->position, s->max_per_order, sku_id);
            free(attrs);
            err = rc < 0 ? rc : mer_catalog_changed_product(db, id);
            ic->skus_updated++;
        } else {
            json_t *sj = sku_json(s);
            err = mer_catalog_add_sku(db, id, sj, ic->now, &sku_id, e);
            json_decref(sj);
            ic->skus_created++;
        }
        if (err == 0)
            ic->applied++;
    }
    return err;
}

static int apply_products(mer_db_t *db, import_call_t *ic)
{
    size_t i = 0;
    while (i < ic->n) {
        if (ic->products[i].row == 0) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < ic->n && ic->products[j].row && strcmp(ic->products[j].slug, ic->products[i].slug) == 0)
            j++;
        mer_verr_t e = {0};
        size_t applied = ic->applied;
        if (ic->partial && mer_db_savepoint(db) != 0)
            return MER_E_INTERNAL;
        int err = apply_product(db, ic, i, j, &e);
        if (err && !ic->partial) {
            char field[128];
            snprintf(field, sizeof(field), "rows[%zu].%.80s", ic->products[i].row, e.field[0] ? e.field : "product");
            return mer_verr_set(&ic->c.verr, e.code ? e.code : err, field, "row %zu: %.200s", ic->products[i].row,
                                e.code ? e.message : mer_err_code(err));
        }
        if (ic->partial && err) {
            mer_db_rollback_to(db); /* and releases the savepoint */
            ic->applied = applied;
            bad(ic, ic->products[i].row, e.field[0] ? e.field : "product", mer_err_code(e.code ? e.code : err), "%s",
                e.code ? e.message : "the database refused this product");
        } else if (ic->partial && mer_db_release(db) != 0)
            return MER_E_INTERNAL;
        i = j;
    }
    return 0;
}

static int import_apply(mer_db_t *db, mer_call_t *c)
{
    import_call_t *ic = (import_call_t *)c;
    ic->applied = 0;
    return ic->kind == KIND_PRICES ? apply_prices(db, ic) : apply_products(db, ic);
}

static json_t *report(import_call_t *ic)
{
    json_t *o =
        json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:O}", "kind", ic->kind == KIND_PRICES ? "prices" : "products", "mode",
                  ic->partial ? "partial" : "all_or_nothing", "dry_run", ic->dry_run, "rows", (json_int_t)ic->rows,
                  "applied", (json_int_t)ic->applied, "rejected", (json_int_t)ic->nbad, "errors", ic->errors);
    if (ic->nbad > MER_BULK_MAX_ERRORS || json_array_size(ic->errors) >= MER_BULK_MAX_ERRORS)
        json_object_set_new(o, "errors_truncated", json_true());
    if (ic->kind == KIND_PRODUCTS)
        json_object_set_new(o, "products",
                            json_pack("{s:I,s:I,s:I,s:I}", "created", (json_int_t)ic->products_created, "updated",
                                      (json_int_t)ic->products_updated, "skus_created", (json_int_t)ic->skus_created,
                                      "skus_updated", (json_int_t)ic->skus_updated));
    return o;
}

static void applied_reply(mer_call_t *c)
{
    mer_reply_json(c->r, 200, report((import_call_t *)c));
}

/* On the loop after the parse: answer the report, or write the good rows. */
static void parsed_reply(mer_call_t *c)
{
    import_call_t *ic = (import_call_t *)c;
    if (ic->nbad && !ic->partial) {
        size_t nbad = ic->nbad, rows = ic->rows;
        mer_reply_error_ex(c->r, MER_E_VALIDATION, NULL, report(ic),
                           "%zu of %zu rows are not acceptable; nothing was %s", nbad, rows,
                           ic->dry_run ? "checked further" : "applied");
        return;
    }
    if (ic->dry_run) {
        mer_reply_json(c->r, 200, report(ic));
        return;
    }
    c->reply = applied_reply;
    mer_call_write(c, MER_STORE_CATALOG, import_apply);
}

static void import_free(mer_call_t *c)
{
    import_call_t *ic = (import_call_t *)c;
    free(ic->prices);
    if (ic->products)
        for (size_t i = 0; i < ic->n; i++) {
            product_row_t *p = &ic->products[i];
            free(p->slug);
            free(p->brand);
            free(p->category);
            free(p->tax_class);
            free(p->name);
            free(p->description);
            free(p->sku);
            json_decref(p->attrs);
        }
    free(ic->products);
    json_decref(ic->errors);
}

static bool header_is(const mer_req_t *r, const char *name, const char *want)
{
    size_t len = 0;
    const char *v = mer_req_header(r, name, &len);
    size_t n = strlen(want);
    return v && len >= n && strncasecmp(v, want, n) == 0 && (len == n || v[n] == ';' || v[n] == ' ');
}

/* POST /admin/import/{kind}?mode=&dry_run= (body: CSV or JSON, optionally gzip) */
static void h_import(mer_req_t *r)
{
    kind_t kind;
    const char *slash = memrchr(r->path.base, '/', r->path.len);
    if (slash == NULL || !parse_kind(slash + 1, r->path.len - (size_t)(slash + 1 - r->path.base), &kind)) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "imports are products, prices or stock");
        return;
    }
    if (kind == KIND_PRODUCTS && r->who.role != MER_ROLE_ADMIN) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "only admins import products");
        return;
    }
    const char *mode = mer_req_query(r, "mode"), *dry = mer_req_query(r, "dry_run");
    if (mode && strcmp(mode, "all_or_nothing") != 0 && strcmp(mode, "partial") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "mode", "mode is all_or_nothing or partial");
        return;
    }
    if (dry && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "dry_run", "dry_run is true or false");
        return;
    }
    bool json = header_is(r, "content-type", "application/json");
    if (!json && !header_is(r, "content-type", "text/csv")) {
        mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, "Content-Type", "send text/csv or application/json");
        return;
    }
    bool gzip = header_is(r, "content-encoding", "gzip");
    size_t enc_len = 0;
    if (!gzip && mer_req_header(r, "content-encoding", &enc_len) && !header_is(r, "content-encoding", "identity")) {
        mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, "Content-Encoding", "the body may be gzip or not encoded");
        return;
    }
    if (r->h2o->entity.base == NULL || r->h2o->entity.len == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "body", "the body is empty");
        return;
    }
    import_call_t *ic = mer_call_new(r, sizeof(*ic));
    ic->kind = kind;
    ic->json = json;
    ic->gzip = gzip;
    ic->partial = mode && strcmp(mode, "partial") == 0;
    ic->dry_run = dry && strcmp(dry, "true") == 0;
    ic->body = r->h2o->entity.base;
    ic->len = r->h2o->entity.len;
    ic->now = mer_now_unix_ms();
    ic->errors = json_array();
    ic->c.cleanup = import_free;
    ic->c.reply = parsed_reply;
    mer_call_offload(&ic->c, import_parse);
}

/* ---- export ----
 * Streamed (http/req.h: mer_call_stream): each chunk is made by a read job from the snapshot of its time,
 * after a cursor (the product id, its SKU and price reached), so the server holds one chunk whatever the
 * size of the catalogue. Products are only ever added, in id order, so a product added during an export
 * comes out once if it sorts after the cursor; rows changed during an export come out as they were when
 * their chunk was made. */

typedef struct export_call {
    mer_call_t c;
    kind_t kind;
    bool json;
    char country[3]; /* "" = every country the caller may see */
    /* the cursor: the next row is product next_id's SKU sku (prices: its price price) */
    int64_t next_id;
    size_t sku, price;
    bool begun; /* the header row (CSV) or '[' (JSON) is out */
    bool any;   /* a row is out (JSON: the next one needs a comma) */
} export_call_t;

static void put_str(mer_buf_t *out, bool first, const char *s)
{
    mer_csv_put(out, first, s, strlen(s));
}

static void put_int(mer_buf_t *out, bool first, int64_t v)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)v);
    put_str(out, first, n);
}

static void put_header(mer_buf_t *out, const char *const *cols)
{
    for (size_t i = 0; cols[i]; i++)
        put_str(out, i == 0, cols[i]);
    mer_csv_end(out);
}

static void product_row(export_call_t *x, mer_buf_t *out, const mer_cat_product_t *p, size_t k)
{
    const mer_cat_sku_t *s = &p->skus[k];
    const mer_cat_text_t *en = NULL;
    for (size_t t = 0; t < p->ntexts; t++)
        if (strcmp(p->texts[t].locale, "en") == 0)
            en = &p->texts[t];
    const char *name = en ? en->name : "", *desc = en && en->description ? en->description : "";
    if (x->json) {
        json_t *ao = json_object();
        for (size_t a = 0; a < s->nattrs; a++)
            json_object_set_new(ao, s->attrs[a].key, json_string(s->attrs[a].value));
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:o,s:I,s:I}", "product", p->slug, "brand", p->brand,
                              "category", p->category ? p->category->slug : "", "tax_class", p->tax_class, "active",
                              p->active, "name", name, "description", desc, "sku", s->code, "attributes", ao,
                              "position", (json_int_t)k, "max_per_order", (json_int_t)s->max_per_order);
        char *js = json_dumps(o, JSON_COMPACT);
        if (x->any)
            mer_buf_addch(out, ',');
        mer_buf_addstr(out, js);
        free(js);
        json_decref(o);
    } else {
        mer_buf_t attrs = MER_BUF_INIT;
        for (size_t a = 0; a < s->nattrs; a++)
            mer_buf_printf(&attrs, "%s%s=%s", a ? ";" : "", s->attrs[a].key, s->attrs[a].value);
        put_str(out, true, p->slug);
        put_str(out, false, p->brand);
        put_str(out, false, p->category ? p->category->slug : "");
        put_str(out, false, p->tax_class);
        put_str(out, false, p->active ? "true" : "false");
        put_str(out, false, name);
        put_str(out, false, desc);
        put_str(out, false, s->code);
        put_str(out, false, mer_buf_str(&attrs));
        put_int(out, false, (int64_t)k);
        put_int(out, false, s->max_per_order);
        mer_csv_end(out);
        mer_buf_release(&attrs);
    }
    x->any = true;
}

static void price_row(export_call_t *x, mer_buf_t *out, const mer_cat_product_t *p, const mer_cat_sku_t *s,
                      const mer_cat_price_t *pr)
{
    const mer_country_t *cc = mer_country_find_any(mer_countries(), pr->country, 2);
    const char *cur = cc ? cc->currency.code : "";
    if (x->json) {
        if (x->any)
            mer_buf_addch(out, ',');
        mer_buf_addstr(out, "{\"sku\":");
        mer_buf_add_json_str(out, s->code, strlen(s->code));
        mer_buf_printf(out, ",\"country\":\"%s\",\"amount\":%lld,\"currency\":\"%s\",\"product\":", pr->country,
                       (long long)pr->amount, cur);
        mer_buf_add_json_str(out, p->slug, strlen(p->slug));
        mer_buf_addch(out, '}');
    } else {
        put_str(out, true, s->code);
        put_str(out, false, pr->country);
        put_int(out, false, pr->amount);
        put_str(out, false, cur);
        put_str(out, false, p->slug);
        mer_csv_end(out);
    }
    x->any = true;
}

/* Does the caller get this row? */
static bool price_wanted(const export_call_t *x, const mer_cat_price_t *pr)
{
    return (x->country[0] == '\0' || strcmp(pr->country, x->country) == 0) &&
           mer_principal_may_country(&x->c.who, pr->country);
}

/* One chunk (http/req.h: mer_stream_fn): rows after the cursor until the chunk is full or the catalogue ends. */
static int export_more(mer_db_t *db, mer_call_t *c, mer_buf_t *out, bool *done)
{
    (void)db;
    export_call_t *x = (export_call_t *)c;
    if (!x->begun) {
        static const char *const price_head[] = {"sku", "country", "amount", "currency", "product", NULL};
        if (x->json)
            mer_buf_addch(out, '[');
        else
            put_header(out, x->kind == KIND_PRODUCTS ? product_cols : price_head);
        x->begun = true;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    size_t i = mer_catalog_product_at(cat, x->next_id);
    if (i < cat->nproducts && cat->products[i].id != x->next_id)
        x->sku = x->price = 0; /* the cursor's product is gone: the next one from its start */
    bool full = false;
    for (; i < cat->nproducts && !full; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        x->next_id = p->id;
        for (; x->sku < p->nskus && !full; x->sku++) {
            const mer_cat_sku_t *s = &p->skus[x->sku];
            if (x->kind == KIND_PRODUCTS) {
                if (out->len >= MER_STREAM_CHUNK) {
                    full = true;
                    break;
                }
                if (x->country[0] == '\0' || mer_catalog_price(s, x->country) >= 0)
                    product_row(x, out, p, x->sku);
                continue;
            }
            for (; x->price < s->nprices; x->price++) {
                if (out->len >= MER_STREAM_CHUNK) {
                    full = true;
                    break;
                }
                if (price_wanted(x, &s->prices[x->price]))
                    price_row(x, out, p, s, &s->prices[x->price]);
            }
            if (!full)
                x->price = 0;
            else
                break;
        }
        if (full)
            break;
        x->sku = 0;
    }
    if (!full) {
        if (x->json)
            mer_buf_addch(out, ']');
        *done = true;
    }
    mer_catalog_unlock();
    return 0;
}

/* Before the first chunk: the headers of a download. */
static void export_head(mer_call_t *c)
{
    export_call_t *x = (export_call_t *)c;
    char disp[80];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s%s%s.%s\"", x->kind == KIND_PRICES ? "prices" : "products",
             x->country[0] ? "-" : "", x->country, x->json ? "json" : "csv");
    mer_reply_header(c->r, "content-disposition", disp);
    mer_reply_header(c->r, "cache-control", "no-store");
}

/* GET /admin/export/{kind}?format=csv|json&country= */
static void h_export(mer_req_t *r)
{
    kind_t kind;
    const char *slash = memrchr(r->path.base, '/', r->path.len);
    if (slash == NULL || !parse_kind(slash + 1, r->path.len - (size_t)(slash + 1 - r->path.base), &kind)) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "exports are products, prices or stock");
        return;
    }
    const char *format = mer_req_query(r, "format"), *country = mer_req_query(r, "country");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "format", "format is csv or json");
        return;
    }
    if (country) {
        const mer_country_t *cc = mer_country_find_any(mer_countries(), country, strlen(country));
        if (cc == NULL || strcmp(cc->code, country) != 0) {
            mer_reply_error(r, MER_E_INVALID_PARAM, "country", "%.8s is not a known country code", country);
            return;
        }
        if (!mer_req_may_country(r, country)) {
            mer_reply_error(r, MER_E_FORBIDDEN, "country", "you do not manage %s", country);
            return;
        }
    }
    if (kind == KIND_PRODUCTS && r->who.role != MER_ROLE_ADMIN) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "only admins export products");
        return;
    }
    export_call_t *x = mer_call_new(r, sizeof(*x));
    x->kind = kind;
    x->json = format && strcmp(format, "json") == 0;
    if (country)
        snprintf(x->country, sizeof(x->country), "%s", country);
    x->c.reply = export_head;
    mer_call_stream(&x->c, NULL, x->json ? "application/json" : "text/csv; charset=utf-8", export_more);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/admin/export/products", h_export, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/export/prices", h_export, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/import/products", h_import, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/import/prices", h_import, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t mer_catalog_bulk_routes = {routes, MER_ARRAY_LEN(routes)};
