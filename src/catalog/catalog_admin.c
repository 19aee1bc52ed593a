/*
 * catalog_admin.c — admin routes that change the catalogue: categories, products, SKUs, translations,
 * price lists. Each call validates everything first, writes in one transaction (nothing half-written on
 * error), then reloads the snapshot so the next read sees the change.
 *
 * Who may do what: admins change everything; country operators change price lists of their countries.
 */
#include <ctype.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "http/req.h"
#include "store/store.h"
#include "core/banned.h"

static bool slug_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static bool attr_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' ||
              s[i] == '.'))
            return false;
    return true;
}

/* ---- validation ---- */

/* texts: {"en": {"name": "...", "description": "..."}, ...} */
static int check_texts(json_t *texts, bool need_en, mer_verr_t *e)
{
    static const char *const keys[] = {"name", "description", NULL};
    const char *loc;
    json_t *v;
    if (json_object_size(texts) > 40)
        return mer_verr_set(e, MER_E_VALIDATION, "texts", "at most 40 translations");
    if (need_en && json_object_get(texts, "en") == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "texts.en", "an English text (texts.en) is required");
    json_object_foreach(texts, loc, v)
    {
        char norm[MER_LOCALE_MAX], prefix[64], field[96];
        const char *s = NULL;
        snprintf(prefix, sizeof(prefix), "texts.%.20s", loc);
        if (mer_locale_normalize(loc, strlen(loc), norm) != 0 || strcmp(norm, loc) != 0)
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s is not a normalised language tag", loc);
        if (!json_is_object(v))
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object with name and description", prefix);
        if (mer_json_only(v, keys, prefix, e) ||
            mer_json_str(v, "name", mer_json_path(field, sizeof(field), prefix, "name"), 1, 200, true, &s, e) ||
            mer_json_str(v, "description", mer_json_path(field, sizeof(field), prefix, "description"), 0, 4000, false,
                         &s, e))
            return e->code;
    }
    return 0;
}

/*
 * One price: the country code cc (canonical upper case) and amount v (minor units, or null to stop
 * selling there). Prices live in the global catalogue, so any node may set them: no region check. Errors
 * name <prefix>.<cc>.
 */
static int check_price(mer_req_t *r, const char *cc, json_t *v, const char *prefix, mer_verr_t *e)
{
    char field[96];
    snprintf(field, sizeof(field), "%s.%.8s", prefix, cc);
    const mer_country_t *c = mer_country_find(mer_countries(), cc, strlen(cc));
    if (c == NULL || strcmp(c->code, cc) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s is not a known country code", cc);
    if (!mer_req_may_country(r, cc))
        return mer_verr_set(e, MER_E_FORBIDDEN, field, "you may not set prices in %s", cc);
    if (json_is_null(v))
        return 0; /* null removes the price: the SKU stops being sold there */
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MER_MONEY_MAX)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be an integer from 0 to %lld minor units", field,
                            (long long)MER_MONEY_MAX);
    if (json_integer_value(v) % c->step != 0)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be a multiple of %lld minor units of %s", field,
                            (long long)c->step, c->currency.code);
    return 0;
}

/* prices: {"IN": 1999900, "DE": null, ...} */
static int check_prices(mer_req_t *r, json_t *prices, const char *prefix, mer_verr_t *e)
{
    const char *cc;
    json_t *v;
    json_object_foreach(prices, cc, v)
    {
        if (check_price(r, cc, v, prefix, e))
            return e->code;
    }
    return 0;
}

static int check_sku(mer_req_t *r, json_t *sku, const char *prefix, mer_verr_t *e)
{
    static const char *const keys[] = {"code", "attributes", "prices", "position", "max_per_order", NULL};
    const char *code = NULL;
    json_t *attrs = NULL, *prices = NULL;
    int64_t pos = 0, limit = 10;
    char field[96];
    if (!json_is_object(sku))
        return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
    if (mer_json_only(sku, keys, prefix, e) ||
        mer_json_str(sku, "code", mer_json_path(field, sizeof(field), prefix, "code"), 1, 64, true, &code, e) ||
        mer_json_member(sku, "attributes", mer_json_path(field, sizeof(field), prefix, "attributes"), JSON_OBJECT,
                        false, &attrs, e) ||
        mer_json_member(sku, "prices", mer_json_path(field, sizeof(field), prefix, "prices"), JSON_OBJECT, false,
                        &prices, e) ||
        mer_json_int(sku, "position", mer_json_path(field, sizeof(field), prefix, "position"), 0, 1000, false, &pos,
                     e) ||
        mer_json_int(sku, "max_per_order", mer_json_path(field, sizeof(field), prefix, "max_per_order"), 1, 1000, false,
                     &limit, e))
        return e->code;
    if (!code_ok(code))
        return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "code"),
                            "SKU codes are 1-64 upper-case letters, digits, '-' and '_'");
    if (attrs) {
        const char *k;
        json_t *v;
        if (json_object_size(attrs) > 8)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "attributes"),
                                "at most 8 attributes per SKU");
        json_object_foreach(attrs, k, v)
        {
            if (!attr_id_ok(k) || !json_is_string(v) || !attr_id_ok(json_string_value(v)))
                return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "attributes"),
                                    "attribute keys and values are 1-64 of a-z, 0-9, '-', '_', '.'");
        }
    }
    if (prices && check_prices(r, prices, mer_json_path(field, sizeof(field), prefix, "prices"), e))
        return e->code;
    return 0;
}

/* ---- writing ---- */

static int write_texts(mer_db_t *db, int64_t product_id, json_t *texts)
{
    const char *loc;
    json_t *v;
    json_object_foreach(texts, loc, v)
    {
        const char *desc = json_string_value(json_object_get(v, "description"));
        int err = mer_db_exec(db,
                              "INSERT INTO product_text (product_id, locale, name, description) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name, "
                              "description = excluded.description",
                              "isss", product_id, loc, json_string_value(json_object_get(v, "name")), desc ? desc : "");
        if (err < 0)
            return err;
    }
    return 0;
}

/* Rebuilds the product's full-text rows from its texts and brand. */
static int fts_sync(mer_db_t *db, int64_t product_id)
{
    int err = mer_db_exec(db, "DELETE FROM product_fts WHERE product_id = ?", "i", product_id);
    if (err < 0)
        return err;
    err = mer_db_exec(db,
                      "INSERT INTO product_fts (name, description, brand, product_id, locale) "
                      "SELECT t.name, t.description, p.brand, p.id, t.locale FROM product_text t "
                      "JOIN product p ON p.id = t.product_id WHERE p.id = ?",
                      "i", product_id);
    return err < 0 ? err : 0;
}

/* Writes one checked price (see check_price); a null amount deletes it. */
static int write_price(mer_db_t *db, int64_t sku_id, const char *cc, json_t *v, int64_t now)
{
    int err = json_is_null(v)
                  ? mer_db_exec(db, "DELETE FROM price WHERE sku_id = ? AND country = ?", "is", sku_id, cc)
                  : mer_db_exec(db,
                                "INSERT INTO price (sku_id, country, amount, updated_at) VALUES (?, ?, ?, ?) "
                                "ON CONFLICT (sku_id, country) DO UPDATE SET amount = excluded.amount, "
                                "updated_at = excluded.updated_at",
                                "isii", sku_id, cc, (int64_t)json_integer_value(v), now);
    return err < 0 ? err : 0;
}

static int write_prices(mer_db_t *db, int64_t sku_id, json_t *prices, int64_t now)
{
    const char *cc;
    json_t *v;
    json_object_foreach(prices, cc, v)
    {
        int err = write_price(db, sku_id, cc, v, now);
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

/* Answers the outcome of a write: reload on success, the error otherwise. */
static bool finish_write(mer_req_t *r, mer_db_t *db, int err, const char *field)
{
    if (err == 0)
        err = mer_db_commit(db);
    else
        mer_db_rollback(db);
    mer_store_write_end(MER_STORE_CATALOG);
    if (err == 0)
        err = mer_catalog_reload();
    if (err == MER_E_ALREADY_EXISTS) {
        mer_reply_error(r, err, field, "%s is already taken", field ? field : "an identifier");
        return false;
    }
    if (err) {
        mer_reply_error(r, err, NULL, NULL);
        return false;
    }
    return true;
}

/* ---- admin view of a product ---- */

static json_t *admin_product_json(int64_t id)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_product_t *p = mer_catalog_product(cat, id);
    if (p == NULL) {
        mer_catalog_unlock();
        return NULL;
    }
    json_t *texts = json_object(), *skus = json_array();
    for (size_t i = 0; i < p->ntexts; i++)
        json_object_set_new(texts, p->texts[i].locale,
                            json_pack("{s:s,s:s}", "name", p->texts[i].name, "description",
                                      p->texts[i].description ? p->texts[i].description : ""));
    for (size_t i = 0; i < p->nskus; i++) {
        const mer_cat_sku_t *s = &p->skus[i];
        json_t *attrs = json_object(), *prices = json_object();
        for (size_t a = 0; a < s->nattrs; a++)
            json_object_set_new(attrs, s->attrs[a].key, json_string(s->attrs[a].value));
        for (size_t k = 0; k < s->nprices; k++)
            json_object_set_new(prices, s->prices[k].country, json_integer(s->prices[k].amount));
        json_array_append_new(skus,
                              json_pack("{s:I,s:s,s:o,s:o,s:I}", "id", (json_int_t)s->id, "code", s->code, "attributes",
                                        attrs, "prices", prices, "max_per_order", (json_int_t)s->max_per_order));
    }
    json_t *out = json_pack("{s:I,s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "id", (json_int_t)p->id, "slug", p->slug, "brand",
                            p->brand, "category", p->category ? p->category->slug : "", "tax_class", p->tax_class,
                            "active", p->active, "texts", texts, "skus", skus);
    mer_catalog_unlock();
    return out;
}

/* ---- handlers ---- */

static void h_create_category(mer_req_t *r)
{
    static const char *const keys[] = {"slug", "parent", "names", NULL};
    mer_verr_t e = {0};
    const char *slug = NULL, *parent = NULL;
    json_t *names = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "slug", "slug", 1, 64, true, &slug, &e) ||
        mer_json_str(r->body, "parent", "parent", 1, 64, false, &parent, &e) ||
        mer_json_member(r->body, "names", "names", JSON_OBJECT, true, &names, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (!slug_ok(slug, 64)) {
        mer_reply_error(r, MER_E_VALIDATION, "slug", "slugs are lower-case letters, digits and '-'");
        return;
    }
    if (json_object_get(names, "en") == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "names.en", "an English name (names.en) is required");
        return;
    }
    const char *loc;
    json_t *v;
    json_object_foreach(names, loc, v)
    {
        char norm[MER_LOCALE_MAX];
        if (mer_locale_normalize(loc, strlen(loc), norm) != 0 || strcmp(norm, loc) != 0 || !json_is_string(v) ||
            json_string_length(v) == 0 || json_string_length(v) > 100) {
            mer_reply_error(r, MER_E_VALIDATION, "names", "names maps language tags to names of 1-100 bytes");
            return;
        }
    }
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    int64_t parent_id = 0, id = 0;
    if (err == 0 && parent && (parent_id = category_id(db, parent)) == 0) {
        mer_db_rollback(db);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_reply_error(r, MER_E_VALIDATION, "parent", "no category with slug %s", parent);
        return;
    }
    if (err == 0)
        err = parent_id ? mer_db_query_int(db, &id, "INSERT INTO category (slug, parent_id) VALUES (?, ?) RETURNING id",
                                           "si", slug, parent_id)
                        : mer_db_query_int(db, &id, "INSERT INTO category (slug) VALUES (?) RETURNING id", "s", slug);
    json_object_foreach(names, loc, v)
    {
        if (err == 0 && mer_db_exec(db, "INSERT INTO category_text (category_id, locale, name) VALUES (?, ?, ?)", "iss",
                                    id, loc, json_string_value(v)) < 0)
            err = MER_E_INTERNAL;
    }
    if (!finish_write(r, db, err, "slug"))
        return;
    mer_reply_json(r, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "slug", slug));
}

static void h_create_product(mer_req_t *r)
{
    static const char *const keys[] = {"slug", "brand", "category", "tax_class", "active", "texts", "skus", NULL};
    mer_verr_t e = {0};
    const char *slug = NULL, *brand = NULL, *category = NULL, *tax_class = "standard";
    bool active = true;
    json_t *texts = NULL, *skus = NULL;
    size_t i;
    json_t *v;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "slug", "slug", 1, 100, true, &slug, &e) ||
        mer_json_str(r->body, "brand", "brand", 1, 60, true, &brand, &e) ||
        mer_json_str(r->body, "category", "category", 1, 64, true, &category, &e) ||
        mer_json_str(r->body, "tax_class", "tax_class", 1, 23, false, &tax_class, &e) ||
        mer_json_bool(r->body, "active", "active", false, &active, &e) ||
        mer_json_member(r->body, "texts", "texts", JSON_OBJECT, true, &texts, &e) ||
        mer_json_member(r->body, "skus", "skus", JSON_ARRAY, true, &skus, &e) || check_texts(texts, true, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (!slug_ok(slug, 100)) {
        mer_reply_error(r, MER_E_VALIDATION, "slug", "slugs are lower-case letters, digits and '-'");
        return;
    }
    if (!attr_id_ok(tax_class)) {
        mer_reply_error(r, MER_E_VALIDATION, "tax_class", "tax classes are lower-case identifiers");
        return;
    }
    if (json_array_size(skus) == 0 || json_array_size(skus) > 50) {
        mer_reply_error(r, MER_E_VALIDATION, "skus", "a product has 1 to 50 SKUs");
        return;
    }
    json_array_foreach(skus, i, v)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "skus[%zu]", i);
        if (check_sku(r, v, prefix, &e)) {
            mer_reply_verr(r, &e);
            return;
        }
    }
    int64_t now = mer_now_unix_ms(), id = 0, cat_id;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    if (err == 0 && (cat_id = category_id(db, category)) == 0) {
        mer_db_rollback(db);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_reply_error(r, MER_E_VALIDATION, "category", "no category with slug %s", category);
        return;
    }
    if (err == 0)
        err = mer_db_query_int(db, &id,
                               "INSERT INTO product (slug, brand, category_id, tax_class, active, created_at, "
                               "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                               "ssisiii", slug, brand, cat_id, tax_class, (int64_t)active, now, now);
    if (err == 0)
        err = write_texts(db, id, texts);
    const char *field = "slug";
    json_array_foreach(skus, i, v)
    {
        if (err == 0) {
            err = write_sku(db, id, v, now, NULL);
            if (err == MER_E_ALREADY_EXISTS)
                field = "skus.code";
        }
    }
    if (err == 0)
        err = fts_sync(db, id);
    if (!finish_write(r, db, err, field))
        return;
    mer_log_info("product %lld created by staff %lld", (long long)id, (long long)r->who.id);
    mer_reply_json(r, 201, admin_product_json(id));
}

static void h_get_product(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    json_t *out = admin_product_json(id);
    if (out == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)id);
        return;
    }
    mer_reply_json(r, 200, out);
}

static void h_patch_product(mer_req_t *r)
{
    static const char *const keys[] = {"brand", "category", "tax_class", "active", "texts", NULL};
    mer_verr_t e = {0};
    const char *brand = NULL, *category = NULL, *tax_class = NULL;
    bool active = true;
    json_t *texts = NULL;
    int64_t id, cat_id = 0, exists = 0;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "brand", "brand", 1, 60, false, &brand, &e) ||
        mer_json_str(r->body, "category", "category", 1, 64, false, &category, &e) ||
        mer_json_str(r->body, "tax_class", "tax_class", 1, 23, false, &tax_class, &e) ||
        mer_json_bool(r->body, "active", "active", false, &active, &e) ||
        mer_json_member(r->body, "texts", "texts", JSON_OBJECT, false, &texts, &e) ||
        (texts && check_texts(texts, false, &e))) {
        mer_reply_verr(r, &e);
        return;
    }
    if (tax_class && !attr_id_ok(tax_class)) {
        mer_reply_error(r, MER_E_VALIDATION, "tax_class", "tax classes are lower-case identifiers");
        return;
    }
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    if (err == 0 && mer_db_query_int(db, &exists, "SELECT id FROM product WHERE id = ?", "i", id) != 0) {
        mer_db_rollback(db);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)id);
        return;
    }
    if (err == 0 && category && (cat_id = category_id(db, category)) == 0) {
        mer_db_rollback(db);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_reply_error(r, MER_E_VALIDATION, "category", "no category with slug %s", category);
        return;
    }
    int64_t now = mer_now_unix_ms();
    if (err == 0 && brand && mer_db_exec(db, "UPDATE product SET brand = ? WHERE id = ?", "si", brand, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && cat_id && mer_db_exec(db, "UPDATE product SET category_id = ? WHERE id = ?", "ii", cat_id, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && tax_class &&
        mer_db_exec(db, "UPDATE product SET tax_class = ? WHERE id = ?", "si", tax_class, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && json_is_boolean(json_object_get(r->body, "active")) &&
        mer_db_exec(db, "UPDATE product SET active = ? WHERE id = ?", "ii", (int64_t)active, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0 && texts)
        err = write_texts(db, id, texts);
    if (err == 0 && mer_db_exec(db, "UPDATE product SET updated_at = ? WHERE id = ?", "ii", now, id) < 0)
        err = MER_E_INTERNAL;
    if (err == 0)
        err = fts_sync(db, id);
    if (!finish_write(r, db, err, NULL))
        return;
    mer_reply_json(r, 200, admin_product_json(id));
}

static void h_add_sku(mer_req_t *r)
{
    mer_verr_t e = {0};
    int64_t id, exists = 0, sku_id = 0;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (check_sku(r, r->body, "", &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    if (err == 0 && mer_db_query_int(db, &exists, "SELECT id FROM product WHERE id = ?", "i", id) != 0) {
        mer_db_rollback(db);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)id);
        return;
    }
    if (err == 0)
        err = write_sku(db, id, r->body, mer_now_unix_ms(), &sku_id);
    if (!finish_write(r, db, err, "code"))
        return;
    mer_reply_json(r, 201, admin_product_json(id));
}

/* PUT /admin/prices {"prices": [{"sku": "CODE", "country": "IN", "amount": 1999900 | null}, ...]} */
static void h_put_prices(mer_req_t *r)
{
    static const char *const keys[] = {"prices", NULL};
    static const char *const item_keys[] = {"sku", "country", "amount", NULL};
    mer_verr_t e = {0};
    json_t *items = NULL;
    size_t i;
    json_t *v;
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_member(r->body, "prices", "prices", JSON_ARRAY, true, &items, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (json_array_size(items) == 0 || json_array_size(items) > 1000) {
        mer_reply_error(r, MER_E_VALIDATION, "prices", "send 1 to 1000 prices per call");
        return;
    }
    json_array_foreach(items, i, v)
    {
        char prefix[32], field[64];
        const char *sku = NULL, *country = NULL;
        snprintf(prefix, sizeof(prefix), "prices[%zu]", i);
        if (!json_is_object(v)) {
            mer_reply_error(r, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
            return;
        }
        if (mer_json_only(v, item_keys, prefix, &e) ||
            mer_json_str(v, "sku", mer_json_path(field, sizeof(field), prefix, "sku"), 1, 64, true, &sku, &e) ||
            mer_json_str(v, "country", mer_json_path(field, sizeof(field), prefix, "country"), 2, 2, true, &country,
                         &e)) {
            mer_reply_verr(r, &e);
            return;
        }
        if (json_object_get(v, "amount") == NULL) {
            mer_reply_error(r, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "amount"),
                            "%s.amount is required (null stops selling the SKU there)", prefix);
            return;
        }
        if (check_price(r, country, json_object_get(v, "amount"), prefix, &e)) {
            snprintf(e.field, sizeof(e.field), "%s.amount", prefix); /* the message still names the country */
            mer_reply_verr(r, &e);
            return;
        }
    }
    int64_t now = mer_now_unix_ms();
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    json_array_foreach(items, i, v)
    {
        int64_t sku_id = 0;
        if (err)
            break;
        const char *code = json_string_value(json_object_get(v, "sku"));
        if (mer_db_query_int(db, &sku_id, "SELECT id FROM sku WHERE code = ?", "s", code) != 0) {
            mer_db_rollback(db);
            mer_store_write_end(MER_STORE_CATALOG);
            char field[48];
            snprintf(field, sizeof(field), "prices[%zu].sku", i);
            mer_reply_error(r, MER_E_VALIDATION, field, "no SKU with code %s", code);
            return;
        }
        err = write_price(db, sku_id, json_string_value(json_object_get(v, "country")), json_object_get(v, "amount"),
                          now);
    }
    if (!finish_write(r, db, err, NULL))
        return;
    mer_reply_json(r, 200, json_pack("{s:I}", "updated", (json_int_t)json_array_size(items)));
}

/* PUT /admin/attribute-texts {"colour": {"es": "Color"}, "colour=black": {"es": "Negro"}} */
static void h_put_attr_texts(mer_req_t *r)
{
    const char *key;
    json_t *v;
    if (json_object_size(r->body) == 0 || json_object_size(r->body) > 500) {
        mer_reply_error(r, MER_E_VALIDATION, NULL, "send 1 to 500 attribute keys");
        return;
    }
    json_object_foreach(r->body, key, v)
    {
        const char *eq = strchr(key, '=');
        char k[80];
        snprintf(k, sizeof(k), "%.*s", (int)(eq ? (size_t)(eq - key) : strlen(key)), key);
        const char *loc;
        json_t *t;
        if (!attr_id_ok(k) || (eq && !attr_id_ok(eq + 1)) || !json_is_object(v)) {
            mer_reply_error(r, MER_E_VALIDATION, key,
                            "keys are attribute ids (colour) or id=value (colour=black) "
                            "mapping to {language: text}");
            return;
        }
        json_object_foreach(v, loc, t)
        {
            char norm[MER_LOCALE_MAX];
            if (mer_locale_normalize(loc, strlen(loc), norm) != 0 || strcmp(norm, loc) != 0 || !json_is_string(t) ||
                json_string_length(t) == 0 || json_string_length(t) > 100) {
                mer_reply_error(r, MER_E_VALIDATION, key, "%s: language tags map to texts of 1-100 bytes", key);
                return;
            }
        }
    }
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_begin(db);
    json_object_foreach(r->body, key, v)
    {
        const char *loc;
        json_t *t;
        json_object_foreach(v, loc, t)
        {
            if (err == 0 && mer_db_exec(db,
                                        "INSERT INTO attribute_text (key, locale, text) VALUES (?, ?, ?) "
                                        "ON CONFLICT (key, locale) DO UPDATE SET text = excluded.text",
                                        "sss", key, loc, json_string_value(t)) < 0)
                err = MER_E_INTERNAL;
        }
    }
    if (!finish_write(r, db, err, NULL))
        return;
    mer_reply_json(r, 200, json_pack("{s:I}", "updated", (json_int_t)json_object_size(r->body)));
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/categories", h_create_category, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/products", h_create_product, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"GET", "/api/v1/admin/products/{id}", h_get_product, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/admin/products/{id}", h_patch_product, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/products/{id}/skus", h_add_sku, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"PUT", "/api/v1/admin/prices", h_put_prices, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"PUT", "/api/v1/admin/attribute-texts", h_put_attr_texts, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

const mer_routes_t mer_catalog_admin_routes = {routes, MER_ARRAY_LEN(routes)};
