/*
 * catalog_admin.c — admin routes that change the catalogue: categories, products, SKUs, translations,
 * price lists; the HTTP adapter of the admin service (catalog_write.c). Each handler checks the request on
 * its loop, then runs the service function as a job of catalog.db's writer (mer_call_write: one savepoint,
 * nothing half-written on error); the commit hook reloads the snapshot before the answer, which is built
 * from it, so the next read sees the change.
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

bool mer_catalog_slug_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

bool mer_catalog_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

bool mer_catalog_attr_id_ok(const char *s)
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
    const mer_country_t *c = mer_country_find_any(mer_countries(), cc, strlen(cc)); /* launching ones too */
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
    if (!mer_catalog_code_ok(code))
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
            if (!mer_catalog_attr_id_ok(k) || !json_is_string(v) || !mer_catalog_attr_id_ok(json_string_value(v)))
                return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "attributes"),
                                    "attribute keys and values are 1-64 of a-z, 0-9, '-', '_', '.'");
        }
    }
    if (prices && check_prices(r, prices, mer_json_path(field, sizeof(field), prefix, "prices"), e))
        return e->code;
    return 0;
}

/* ---- the call: a request's change as a job of catalog.db's writer ---- */

typedef struct admin_call {
    mer_call_t c;
    json_t *body; /* a reference to the request's body: the inputs' strings point into it */
    int64_t id;   /* the product the change is about */
    int64_t now;
    mer_cat_category_in_t category;
    mer_cat_product_in_t product;
    mer_cat_price_in_t *prices;
    size_t nprices;
} admin_call_t;

static void admin_free(mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    json_decref(a->body);
    free(a->prices);
}

static admin_call_t *admin_call(mer_req_t *r)
{
    admin_call_t *a = mer_call_new(r, sizeof(*a));
    a->body = json_incref(r->body);
    a->now = mer_now_unix_ms();
    a->c.cleanup = admin_free;
    return a;
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

/* The product as it is now (the snapshot reloaded after the commit), or 500 if the reload failed. */
static void reply_product(mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    json_t *out = admin_product_json(a->id);
    if (out == NULL) {
        mer_reply_error(c->r, MER_E_INTERNAL, NULL, "the change was saved but the catalogue could not be reloaded");
        return;
    }
    mer_reply_json(c->r, c->status ? c->status : 200, out);
}

/* ---- handlers ---- */

static int create_category(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    int err = mer_catalog_create_category(db, &a->category, &a->id, &c->verr);
    if (err == 0) {
        c->status = 201;
        c->result = json_pack("{s:I,s:s}", "id", (json_int_t)a->id, "slug", a->category.slug);
    }
    return err;
}

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
    if (!mer_catalog_slug_ok(slug, 64)) {
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
    admin_call_t *a = admin_call(r);
    a->category = (mer_cat_category_in_t){slug, parent, names};
    mer_call_write(&a->c, MER_STORE_CATALOG, create_category);
}

static int create_product(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    c->status = 201;
    return mer_catalog_create_product(db, &a->product, a->now, &a->id, &c->verr);
}

static void create_product_reply(mer_call_t *c)
{
    mer_log_info("product %lld created by staff %lld", (long long)((admin_call_t *)c)->id, (long long)c->who.id);
    reply_product(c);
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
    if (!mer_catalog_slug_ok(slug, 100)) {
        mer_reply_error(r, MER_E_VALIDATION, "slug", "slugs are lower-case letters, digits and '-'");
        return;
    }
    if (!mer_catalog_attr_id_ok(tax_class)) {
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
    admin_call_t *a = admin_call(r);
    a->product = (mer_cat_product_in_t){slug, brand, category, tax_class, active, texts, skus};
    a->c.reply = create_product_reply;
    mer_call_write(&a->c, MER_STORE_CATALOG, create_product);
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

static int patch_product(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    return mer_catalog_patch_product(db, a->id, &a->product, a->now, &c->verr);
}

static void h_patch_product(mer_req_t *r)
{
    static const char *const keys[] = {"brand", "category", "tax_class", "active", "texts", NULL};
    mer_verr_t e = {0};
    const char *brand = NULL, *category = NULL, *tax_class = NULL;
    bool active = true;
    json_t *texts = NULL;
    int64_t id;
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
    if (tax_class && !mer_catalog_attr_id_ok(tax_class)) {
        mer_reply_error(r, MER_E_VALIDATION, "tax_class", "tax classes are lower-case identifiers");
        return;
    }
    admin_call_t *a = admin_call(r);
    a->id = id;
    a->product = (mer_cat_product_in_t){
        NULL,  brand, category, tax_class, json_is_boolean(json_object_get(r->body, "active")) ? active : -1,
        texts, NULL};
    a->c.reply = reply_product;
    mer_call_write(&a->c, MER_STORE_CATALOG, patch_product);
}

static int add_sku(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    c->status = 201;
    return mer_catalog_add_sku(db, a->id, a->body, a->now, NULL, &c->verr);
}

static void h_add_sku(mer_req_t *r)
{
    mer_verr_t e = {0};
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (check_sku(r, r->body, "", &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    admin_call_t *a = admin_call(r);
    a->id = id;
    a->c.reply = reply_product;
    mer_call_write(&a->c, MER_STORE_CATALOG, add_sku);
}

static int set_prices(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    int err = mer_catalog_set_prices(db, a->prices, a->nprices, a->now, &c->verr);
    if (err == 0)
        c->result = json_pack("{s:I}", "updated", (json_int_t)a->nprices);
    return err;
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
    mer_cat_price_in_t *prices = mer_xcalloc(json_array_size(items), sizeof(*prices));
    json_array_foreach(items, i, v)
    {
        char prefix[32], field[64];
        const char *sku = NULL, *country = NULL;
        snprintf(prefix, sizeof(prefix), "prices[%zu]", i);
        if (!json_is_object(v)) {
            free(prices);
            mer_reply_error(r, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
            return;
        }
        if (mer_json_only(v, item_keys, prefix, &e) ||
            mer_json_str(v, "sku", mer_json_path(field, sizeof(field), prefix, "sku"), 1, 64, true, &sku, &e) ||
            mer_json_str(v, "country", mer_json_path(field, sizeof(field), prefix, "country"), 2, 2, true, &country,
                         &e)) {
            free(prices);
            mer_reply_verr(r, &e);
            return;
        }
        json_t *amount = json_object_get(v, "amount");
        if (amount == NULL) {
            free(prices);
            mer_reply_error(r, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "amount"),
                            "%s.amount is required (null stops selling the SKU there)", prefix);
            return;
        }
        if (check_price(r, country, amount, prefix, &e)) {
            free(prices);
            snprintf(e.field, sizeof(e.field), "%s.amount", prefix); /* the message still names the country */
            mer_reply_verr(r, &e);
            return;
        }
        prices[i].sku = sku;
        snprintf(prices[i].country, sizeof(prices[i].country), "%s", country);
        prices[i].remove = json_is_null(amount);
        prices[i].amount = (int64_t)json_integer_value(amount);
    }
    admin_call_t *a = admin_call(r);
    a->prices = prices;
    a->nprices = json_array_size(items);
    mer_call_write(&a->c, MER_STORE_CATALOG, set_prices);
}

static int set_attr_texts(mer_db_t *db, mer_call_t *c)
{
    admin_call_t *a = (admin_call_t *)c;
    int err = mer_catalog_set_attr_texts(db, a->body, &c->verr);
    if (err == 0)
        c->result = json_pack("{s:I}", "updated", (json_int_t)json_object_size(a->body));
    return err;
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
        if (!mer_catalog_attr_id_ok(k) || (eq && !mer_catalog_attr_id_ok(eq + 1)) || !json_is_object(v)) {
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
    mer_call_write(&admin_call(r)->c, MER_STORE_CATALOG, set_attr_texts);
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
