/*
 * catalog_write.c — the catalogue's admin service: the writes behind the admin routes, each run inside a
 * job of catalog.db's writer (see catalog.h, "the admin service"). No HTTP here: the adapter
 * (catalog_admin.c) checks the request and renders the answer.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/banned.h"

/*
 * Outdated translations (catalog/translation.h): before a product's source-language text changes, its
 * translations that were made from the current source (source columns NULL) record that source, so that
 * they compare unequal to the new one. A translation written afterwards (below, or by an import) is
 * made from the new source and clears its record.
 */
static int record_sources(mer_db_t *db, int64_t product_id)
{
    int err = mer_db_exec(db,
                          "UPDATE product_text SET name_source = (SELECT s.name FROM product_text s WHERE "
                          "s.product_id = ? AND s.locale = 'en') WHERE product_id = ? AND locale <> 'en' AND "
                          "name_source IS NULL",
                          "ii", product_id, product_id);
    if (err >= 0)
        err = mer_db_exec(db,
                          "UPDATE product_text SET description_source = (SELECT s.description FROM product_text s "
                          "WHERE s.product_id = ? AND s.locale = 'en') WHERE product_id = ? AND locale <> 'en' AND "
                          "description_source IS NULL",
                          "ii", product_id, product_id);
    return err < 0 ? err : 0;
}

static int write_texts(mer_db_t *db, int64_t product_id, json_t *texts)
{
    const char *loc;
    json_t *v;
    int err;
    if (json_object_get(texts, "en") && (err = record_sources(db, product_id)) != 0)
        return err;
    json_object_foreach(texts, loc, v)
    {
        const char *desc = json_string_value(json_object_get(v, "description"));
        err = mer_db_exec(db,
                          "INSERT INTO product_text (product_id, locale, name, description) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name, "
                          "description = excluded.description, name_source = NULL, description_source = NULL",
                          "isss", product_id, loc, json_string_value(json_object_get(v, "name")), desc ? desc : "");
        if (err < 0)
            return err;
    }
    return 0;
}

/* Writes one price; remove deletes it. */
static int write_price(mer_db_t *db, int64_t sku_id, const char *cc, bool remove, int64_t amount, int64_t now)
{
    int err = remove ? mer_db_exec(db, "DELETE FROM price WHERE sku_id = ? AND country = ?", "is", sku_id, cc)
                     : mer_db_exec(db,
                                   "INSERT INTO price (sku_id, country, amount, updated_at) VALUES (?, ?, ?, ?) "
                                   "ON CONFLICT (sku_id, country) DO UPDATE SET amount = excluded.amount, "
                                   "updated_at = excluded.updated_at",
                                   "isii", sku_id, cc, amount, now);
    return err < 0 ? err : 0;
}

/* prices: {"IN": 1999900, "DE": null, ...}; null deletes */
static int write_prices(mer_db_t *db, int64_t sku_id, json_t *prices, int64_t now)
{
    const char *cc;
    json_t *v;
    json_object_foreach(prices, cc, v)
    {
        int err = write_price(db, sku_id, cc, json_is_null(v), (int64_t)json_integer_value(v), now);
        if (err)
            return err;
    }
    return 0;
}

static int write_sku(mer_db_t *db, int64_t product_id, json_t *sku, int64_t now, int64_t *id_out)
{
    json_t *attrs = json_object_get(sku, "attributes");
    char *attrs_s = attrs ? mer_json_dump(attrs, NULL) : mer_xstrdup("{}");
    int64_t id = 0;
    json_t *pos = json_object_get(sku, "position"), *limit = json_object_get(sku, "max_per_order");
    int err = mer_db_query_int(db, &id,
                               "INSERT INTO sku (product_id, code, attributes, position, max_per_order) "
                               "VALUES (?, ?, ?, ?, ?) RETURNING id",
                               "issii", product_id, json_string_value(json_object_get(sku, "code")), attrs_s,
                               (int64_t)(json_is_integer(pos) ? json_integer_value(pos) : 0),
                               (int64_t)(json_is_integer(limit) ? json_integer_value(limit) : 10));
    free(attrs_s);
    if (err)
        return err;
    json_t *prices = json_object_get(sku, "prices");
    if (prices && (err = write_prices(db, id, prices, now)) != 0)
        return err;
    if (id_out)
        *id_out = id;
    return 0;
}

static int64_t category_id(mer_db_t *db, const char *slug)
{
    int64_t id = 0;
    if (mer_db_query_int(db, &id, "SELECT id FROM category WHERE slug = ?", "s", slug) != 0)
        return 0;
    return id;
}

static bool product_exists(mer_db_t *db, int64_t id)
{
    int64_t found = 0;
    return mer_db_query_int(db, &found, "SELECT id FROM product WHERE id = ?", "i", id) == 0;
}

/* The end of a write: a taken identifier is described naming field; other errors keep their default message
 * (e untouched). product: the one product the write changed (only it is re-read), or 0: more than products. */
static int done_product(mer_db_t *db, int err, const char *field, mer_verr_t *e, int64_t product)
{
    if (err == MER_E_ALREADY_EXISTS)
        return mer_verr_set(e, err, field, "%s is already taken", field ? field : "an identifier");
    if (err)
        return err;
    return product ? mer_catalog_changed_product(db, product) : mer_catalog_changed(db);
}

static int done(mer_db_t *db, int err, const char *field, mer_verr_t *e)
{
    return done_product(db, err, field, e, 0);
}

int mer_catalog_create_category(mer_db_t *db, const mer_cat_category_in_t *in, int64_t *id_out, mer_verr_t *e)
{
    int64_t parent_id = 0, id = 0;
    if (in->parent && (parent_id = category_id(db, in->parent)) == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "parent", "no category with slug %s", in->parent);
    int err = parent_id
                  ? mer_db_query_int(db, &id, "INSERT INTO category (slug, parent_id) VALUES (?, ?) RETURNING id", "si",
                                     in->slug, parent_id)
                  : mer_db_query_int(db, &id, "INSERT INTO category (slug) VALUES (?) RETURNING id", "s", in->slug);
    const char *loc;
    json_t *v;
    json_object_foreach(in->names, loc, v)
    {
        if (err == 0 && mer_db_exec(db, "INSERT INTO category_text (category_id, locale, name) VALUES (?, ?, ?)", "iss",
                                    id, loc, json_string_value(v)) < 0)
            err = MER_E_INTERNAL;
    }
    if (err == 0)
        *id_out = id;
    return done(db, err, "slug", e);
}

int mer_catalog_create_product(mer_db_t *db, const mer_cat_product_in_t *in, int64_t now, int64_t *id_out,
                               mer_verr_t *e)
{
    int64_t id = 0, cat_id = category_id(db, in->category);
    if (cat_id == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "category", "no category with slug %s", in->category);
    int err =
        mer_db_query_int(db, &id,
                         "INSERT INTO product (slug, brand, category_id, tax_class, active, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         "ssisiii", in->slug, in->brand, cat_id, in->tax_class, (int64_t)(in->active != 0), now, now);
    if (err == 0)
        err = write_texts(db, id, in->texts);
    const char *field = "slug";
    size_t i;
    json_t *v;
    json_array_foreach(in->skus, i, v)
    {
        if (err == 0) {
            err = write_sku(db, id, v, now, NULL);
            if (err == MER_E_ALREADY_EXISTS)
                field = "skus.code";
        }
    }
    if (err == 0)
        *id_out = id;
    return done_product(db, err, field, e, id);
}

int mer_catalog_patch_product(mer_db_t *db, int64_t id, const mer_cat_product_in_t *in, int64_t now, mer_verr_t *e)
{
    int64_t cat_id = 0;
    int err = 0;
    if (!product_exists(db, id))
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)id);
    if (in->category && (cat_id = category_id(db, in->category)) == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "category", "no category with slug %s", in->category);
    if (err == 0 && in->brand && mer_db_exec(db, "UPDATE product SET brand = ? WHERE id = ?", "si", in->brand, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && cat_id && mer_db_exec(db, "UPDATE product SET category_id = ? WHERE id = ?", "ii", cat_id, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && in->tax_class &&
        mer_db_exec(db, "UPDATE product SET tax_class = ? WHERE id = ?", "si", in->tax_class, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && in->active >= 0 &&
        mer_db_exec(db, "UPDATE product SET active = ? WHERE id = ?", "ii", (int64_t)(in->active != 0), id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && in->texts)
        err = write_texts(db, id, in->texts);
    if (err == 0 && mer_db_exec(db, "UPDATE product SET updated_at = ? WHERE id = ?", "ii", now, id) < 0)
        err = MER_E_INTERNAL;
    return done_product(db, err, NULL, e, id);
}

int mer_catalog_add_sku(mer_db_t *db, int64_t product_id, json_t *sku, int64_t now, int64_t *sku_id, mer_verr_t *e)
{
    if (!product_exists(db, product_id))
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)product_id);
    return done_product(db, write_sku(db, product_id, sku, now, sku_id), "code", e, product_id);
}

int mer_catalog_set_prices(mer_db_t *db, const mer_cat_price_in_t *in, size_t n, int64_t now, mer_verr_t *e)
{
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        int64_t sku_id = 0, product_id = 0;
        mer_rows_t *r = mer_db_query(db, "SELECT id, product_id FROM sku WHERE code = ?", "s", in[i].sku);
        if (mer_rows_next(r)) {
            sku_id = mer_rows_int(r, 0);
            product_id = mer_rows_int(r, 1);
        }
        if ((err = mer_rows_end(r)) != 0)
            return err;
        if (sku_id == 0) {
            char field[48];
            snprintf(field, sizeof(field), "prices[%zu].sku", i);
            return mer_verr_set(e, MER_E_VALIDATION, field, "no SKU with code %s", in[i].sku);
        }
        err = write_price(db, sku_id, in[i].country, in[i].remove, in[i].amount, now);
        if (err == 0)
            err = mer_catalog_changed_product(db, product_id);
    }
    return err ? done(db, err, NULL, e) : 0; /* each product was recorded above */
}

int mer_catalog_set_attr_texts(mer_db_t *db, json_t *texts, mer_verr_t *e)
{
    const char *key;
    json_t *v;
    int err = 0;
    json_object_foreach(texts, key, v)
    {
        const char *loc;
        json_t *t;
        /* the source text of key changes: its translations record the current one (see record_sources);
         * without an English row the source is the raw id (mer_catalog_attr_text) */
        const char *eq = strchr(key, '=');
        if (err == 0 && json_object_get(v, "en") &&
            mer_db_exec(db,
                        "UPDATE attribute_text SET source = COALESCE((SELECT s.text FROM attribute_text s WHERE "
                        "s.key = ? AND s.locale = 'en'), ?) WHERE key = ? AND locale <> 'en' AND source IS NULL",
                        "sss", key, eq ? eq + 1 : key, key) < 0)
            err = MER_E_INTERNAL;
        json_object_foreach(v, loc, t)
        {
            if (err == 0 && mer_db_exec(db,
                                        "INSERT INTO attribute_text (key, locale, text) VALUES (?, ?, ?) "
                                        "ON CONFLICT (key, locale) DO UPDATE SET text = excluded.text, source = NULL",
                                        "sss", key, loc, json_string_value(t)) < 0)
                err = MER_E_INTERNAL;
        }
    }
    return done(db, err, NULL, e);
}
