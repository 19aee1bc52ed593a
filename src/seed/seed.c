/*
 * seed.c — writes the demo data (see seed.h) in one transaction.
 *
 * Products are generated from seed/catalog.json: each family (a kind of product in a category) has a list
 * of model names; product n of family f is "<brand> <model> <kind>" in every language, with SKUs from the
 * cartesian product of the family's attribute values. Prices come from a US-dollar base converted with
 * rough exchange rates and rounded to three significant digits (".99" endings where the currency has
 * cents). Each country leaves out about one product in seven, so "not sold here" (404) is visible in the
 * demo.
 */
#include "seed/seed.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/buf.h"
#include "core/log.h"
#include "region/country.h"
#include "store/store.h"
#include "core/banned.h"

extern const char mer_seed_countries[];
extern const size_t mer_seed_countries_len;
extern const char mer_seed_catalog[];
extern const size_t mer_seed_catalog_len;

static int seed_countries(mer_db_t *db, json_t *doc, int64_t now)
{
    size_t i;
    json_t *v;
    const char *code;
    json_array_foreach(json_object_get(doc, "regions"), i, v)
    {
        if (mer_db_exec(db, "INSERT INTO region (name, base_url) VALUES (?, ?)", "ss",
                        json_string_value(json_object_get(v, "name")),
                        json_string_value(json_object_get(v, "base_url"))) < 0)
            return MER_E_INTERNAL;
    }
    json_object_foreach(json_object_get(doc, "countries"), code, v)
    {
        mer_country_t c = {0};
        mer_verr_t e = {0};
        if (mer_country_parse(v, code, &c, &e) != 0) {
            mer_log_error("seed: country %s: %s: %s", code, e.field, e.message);
            mer_country_release(&c);
            return MER_E_VALIDATION;
        }
        char *cfg = mer_json_dump(c.json, NULL);
        int err = mer_db_exec(db, "INSERT INTO country (code, region, config, updated_at) VALUES (?, ?, ?, ?)", "sssi",
                              code, c.region, cfg, now);
        free(cfg);
        mer_country_release(&c);
        if (err < 0)
            return err;
    }
    return 0;
}

static void slugify(mer_buf_t *out, const char *s)
{
    bool dash = out->len > 0 && out->data[out->len - 1] != '-';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch)) {
            if (dash)
                mer_buf_addch(out, '-');
            dash = false;
            mer_buf_addch(out, (char)tolower(ch));
        } else {
            dash = out->len > 0;
        }
    }
}

/* Rounds a positive amount of major units to 3 significant digits. */
static double nice(double major)
{
    if (major <= 0)
        return 0;
    double mag = pow(10, floor(log10(major)) - 2);
    if (mag < 1)
        mag = 1;
    return round(major / mag) * mag;
}

static int64_t local_price(double usd_cents, double fx, const mer_country_t *c)
{
    double major = nice(usd_cents / 100.0 * fx);
    int64_t unit = mer_money_step(c->currency.iso_digits, 0); /* minor units per major unit */
    int64_t amount = (int64_t)llround(major * (double)unit);
    if (c->practical_digits > 0 && amount > unit)
        amount -= c->step; /* 465.00 -> 464.99 */
    return mer_money_round_step(amount, c->step, MER_ROUND_HALF_UP);
}

/* Replaces every "{name}" in tmpl with name. */
static void fill_template(mer_buf_t *out, const char *tmpl, const char *name)
{
    const char *p = tmpl;
    for (;;) {
        const char *at = strstr(p, "{name}");
        if (at == NULL) {
            mer_buf_addstr(out, p);
            return;
        }
        mer_buf_add(out, p, (size_t)(at - p));
        mer_buf_addstr(out, name);
        p = at + 6;
    }
}

static int seed_catalog(mer_db_t *db, json_t *doc, int64_t now)
{
    json_t *langs = json_object_get(doc, "languages"), *brands = json_object_get(doc, "brands");
    json_t *fx = json_object_get(doc, "fx");
    const mer_countries_t *cs = mer_countries();
    size_t i, li;
    json_t *v, *lang;
    int err = 0;

    json_array_foreach(json_object_get(doc, "categories"), i, v)
    {
        int64_t id = 0, parent = 0;
        json_t *p = json_object_get(v, "parent");
        if (json_is_string(p) &&
            mer_db_query_int(db, &parent, "SELECT id FROM category WHERE slug = ?", "s", json_string_value(p)) != 0)
            return MER_E_VALIDATION;
        err = parent ? mer_db_query_int(db, &id, "INSERT INTO category (slug, parent_id) VALUES (?, ?) RETURNING id",
                                        "si", json_string_value(json_object_get(v, "slug")), parent)
                     : mer_db_query_int(db, &id, "INSERT INTO category (slug) VALUES (?) RETURNING id", "s",
                                        json_string_value(json_object_get(v, "slug")));
        if (err)
            return err;
        const char *loc;
        json_t *name;
        json_object_foreach(json_object_get(v, "names"), loc, name)
        {
            if (mer_db_exec(db, "INSERT INTO category_text (category_id, locale, name) VALUES (?, ?, ?)", "iss", id,
                            loc, json_string_value(name)) < 0)
                return MER_E_INTERNAL;
        }
    }
    const char *key;
    json_object_foreach(json_object_get(doc, "attributes"), key, v)
    {
        const char *loc;
        json_t *t;
        json_object_foreach(v, loc, t)
        {
            if (mer_db_exec(db, "INSERT INTO attribute_text (key, locale, text) VALUES (?, ?, ?)", "sss", key, loc,
                            json_string_value(t)) < 0)
                return MER_E_INTERNAL;
        }
    }

    size_t fi, product_no = 0;
    json_t *fam;
    json_array_foreach(json_object_get(doc, "families"), fi, fam)
    {
        int64_t cat_id = 0;
        if (mer_db_query_int(db, &cat_id, "SELECT id FROM category WHERE slug = ?", "s",
                             json_string_value(json_object_get(fam, "category"))) != 0)
            return MER_E_VALIDATION;
        json_t *kind = json_object_get(fam, "kind"), *desc = json_object_get(fam, "description");
        json_t *attrs = json_object_get(fam, "attributes");
        const char *tax_class = json_string_value(json_object_get(fam, "tax_class"));
        double usd = (double)json_integer_value(json_object_get(fam, "usd_cents"));
        size_t si;
        json_t *series;
        json_array_foreach(json_object_get(fam, "series"), si, series)
        {
            const char *brand = json_string_value(json_array_get(brands, (fi + si) % json_array_size(brands)));
            const char *model = json_string_value(series);
            mer_buf_t slug = MER_BUF_INIT;
            slugify(&slug, brand);
            slugify(&slug, model);
            slugify(&slug, json_string_value(json_object_get(kind, "en")));
            int64_t pid = 0;
            err = mer_db_query_int(db, &pid,
                                   "INSERT INTO product (slug, brand, category_id, tax_class, active, created_at, "
                                   "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
                                   "ssisii", mer_buf_str(&slug), brand, cat_id, tax_class ? tax_class : "standard", now,
                                   now);
            mer_buf_release(&slug);
            if (err)
                return err;
            json_array_foreach(langs, li, lang)
            {
                const char *l = json_string_value(lang);
                mer_buf_t name = MER_BUF_INIT, d = MER_BUF_INIT;
                mer_buf_printf(&name, "%s %s %s", brand, model, json_string_value(json_object_get(kind, l)));
                fill_template(&d, json_string_value(json_object_get(desc, l)), mer_buf_str(&name));
                err = mer_db_exec(db,
                                  "INSERT INTO product_text (product_id, locale, name, description) "
                                  "VALUES (?, ?, ?, ?)",
                                  "isss", pid, l, mer_buf_str(&name), mer_buf_str(&d));
                mer_buf_release(&name);
                mer_buf_release(&d);
                if (err < 0)
                    return err;
            }
            /* SKUs: cartesian product of attribute values, at most 6 */
            const char *akeys[8];
            json_t *avals[8];
            size_t nk = 0, total = 1;
            json_object_foreach(attrs, key, v)
            {
                if (nk < 8) {
                    akeys[nk] = key;
                    avals[nk++] = v;
                    total *= json_array_size(v) ? json_array_size(v) : 1;
                }
            }
            if (total > 6)
                total = 6;
            double model_usd = usd * (1.0 + 0.08 * (double)si);
            for (size_t n = 0; n < total; n++) {
                json_t *sattrs = json_object();
                size_t rem = n;
                mer_buf_t code = MER_BUF_INIT;
                mer_buf_printf(&code, "MER-%03zu-%02zu-%zu", fi + 1, si + 1, n + 1);
                for (size_t k = 0; k < nk; k++) {
                    size_t cnt = json_array_size(avals[k]);
                    json_object_set(sattrs, akeys[k], json_array_get(avals[k], rem % cnt));
                    rem /= cnt;
                }
                char *sattrs_s = mer_json_dump(sattrs, NULL);
                json_decref(sattrs);
                int64_t sku_id = 0;
                err = mer_db_query_int(db, &sku_id,
                                       "INSERT INTO sku (product_id, code, attributes, position) VALUES (?, ?, ?, ?) "
                                       "RETURNING id",
                                       "issi", pid, mer_buf_str(&code), sattrs_s, (int64_t)n);
                free(sattrs_s);
                mer_buf_release(&code);
                if (err)
                    return err;
                /* the first attribute (colour) varies fastest and does not change the price; the others
                 * (storage, size) are tiers that cost more */
                size_t first = nk ? json_array_size(avals[0]) : 1;
                double sku_usd = model_usd * (1.0 + 0.15 * (double)(n / (first ? first : 1)));
                for (size_t ci = 0; ci < cs->n; ci++) {
                    const mer_country_t *c = cs->list[ci];
                    if ((product_no + ci) % 7 == 3)
                        continue; /* not sold in this country */
                    json_t *rate = json_object_get(fx, c->currency.code);
                    if (!json_is_number(rate))
                        continue;
                    if (mer_db_exec(db, "INSERT INTO price (sku_id, country, amount, updated_at) VALUES (?, ?, ?, ?)",
                                    "isii", sku_id, c->code, local_price(sku_usd, json_number_value(rate), c), now) < 0)
                        return MER_E_INTERNAL;
                }
            }
            product_no++;
        }
    }
    mer_log_info("seed: %zu products", product_no);
    return 0;
}

int mer_seed(int *seeded)
{
    json_error_t jerr;
    int64_t have = 0, now = mer_now_unix_ms();
    *seeded = 0;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_query_int(db, &have, "SELECT COUNT(*) FROM country", NULL);
    if (err || have > 0) {
        mer_store_write_end(MER_STORE_CATALOG);
        return err;
    }
    json_t *countries = json_loadb(mer_seed_countries, mer_seed_countries_len, 0, &jerr);
    json_t *catalog = json_loadb(mer_seed_catalog, mer_seed_catalog_len, 0, &jerr);
    if (countries == NULL || catalog == NULL) {
        mer_log_error("seed data is not valid JSON: line %d: %s", jerr.line, jerr.text);
        err = MER_E_INTERNAL;
        goto out;
    }
    if ((err = mer_db_begin(db)) != 0)
        goto out;
    err = seed_countries(db, countries, now);
    /* the catalogue prices need the countries: load them into the registry inside the transaction */
    if (err == 0)
        err = mer_countries_reload(db);
    if (err == 0)
        err = seed_catalog(db, catalog, now);
    if (err == 0)
        err = mer_db_commit(db);
    else
        mer_db_rollback(db);
    if (err == 0)
        *seeded = 1;
out:
    mer_store_write_end(MER_STORE_CATALOG);
    json_decref(countries);
    json_decref(catalog);
    return err;
}
