#include "region/region_http.h"

#include <stdatomic.h>
#include <stdio.h>

#include "core/log.h"
#include "http/rcache.h"
#include "http/server.h"
#include "store/notify.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

/* Answers 421 wrong_region for a country served elsewhere. */
static void reply_wrong_region(mer_req_t *r, const mer_countries_t *cs, const mer_country_t *c)
{
    const mer_region_t *rg = mer_region_find(cs, c->region);
    const char *url = rg ? rg->base_url : "";
    mer_reply_error_ex(r, MER_E_WRONG_REGION, "country",
                       json_pack("{s:s,s:s,s:s}", "country", c->code, "region", c->region, "url", url),
                       "%s is served by region %s%s%s", c->code, c->region, url[0] ? " at " : "", url);
}

int mer_req_served_here(mer_req_t *r, const mer_countries_t *cs, const mer_country_t *c)
{
    const mer_region_t *rg = mer_region_find(cs, c->region);
    if (rg && rg->local)
        return 0;
    reply_wrong_region(r, cs, c);
    return -1;
}

const mer_country_t *mer_req_staff_country(mer_req_t *r, const char *code, const char *what)
{
    if (code == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country is required");
        return NULL;
    }
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *c = mer_country_find_any(cs, code, strlen(code)); /* staff prepare launches too */
    if (c == NULL) {
        mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "unknown country %s", code);
        return NULL;
    }
    if (!mer_req_may_country(r, c->code)) {
        mer_reply_error(r, MER_E_FORBIDDEN, "country", "you may not %s in %s", what, c->code);
        return NULL;
    }
    return mer_req_served_here(r, cs, c) == 0 ? c : NULL;
}

int mer_req_lang(mer_req_t *r, char norm[MER_LOCALE_MAX], const char **lang)
{
    const char *q = mer_req_query(r, "lang");
    *lang = NULL;
    if (q == NULL)
        return 0;
    if (mer_locale_normalize(q, strlen(q), norm) != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "lang", "lang must be a language tag such as hi or es-ES");
        return -1;
    }
    *lang = norm;
    return 0;
}

/* A catalogue read another region's gateway sent here because that region is down (mer_where_catalogue). */
static bool catalogue_fallback(mer_req_t *r)
{
    size_t len = 0;
    return mer_req_header(r, MER_FALLBACK_HEADER, &len) != NULL && len > 0 && r->who.role != MER_ROLE_CUSTOMER &&
           mer_server_from_trusted_proxy(r->h2o);
}

static int where(mer_req_t *r, mer_where_t *out, bool catalogue)
{
    const char *code = mer_req_query(r, "country");
    size_t len = code ? strlen(code) : 0;
    if (code == NULL) {
        mer_reply_vary(r, "X-Country");
        code = mer_req_header(r, "x-country", &len);
    }
    if (code == NULL || len == 0) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country is required (?country=IN or X-Country)");
        return -1;
    }
    out->cs = mer_countries();
    out->country = mer_country_find(out->cs, code, len);
    if (out->country == NULL) {
        mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "country %.*s is not sold in by this store",
                        (int)MER_MIN(len, 8), code);
        return -1;
    }
    char norm[MER_LOCALE_MAX];
    const char *lang;
    const mer_region_t *rg = mer_region_find(out->cs, out->country->region);
    out->fallback = false;
    if (!(rg && rg->local) && catalogue) {
        mer_reply_vary(r, "X-Meridian-Fallback");
        out->fallback = catalogue_fallback(r);
    }
    if ((!out->fallback && mer_req_served_here(r, out->cs, out->country) != 0) || mer_req_lang(r, norm, &lang) != 0)
        return -1;
    if (out->fallback)
        mer_reply_header(r, "x-meridian-stock", "unknown");
    size_t al_len = 0;
    if (lang == NULL)
        mer_reply_vary(r, "Accept-Language");
    const char *al = lang ? NULL : mer_req_header(r, "accept-language", &al_len);
    char al_copy[256];
    if (al) {
        al_len = MER_MIN(al_len, sizeof(al_copy) - 1);
        memcpy(al_copy, al, al_len);
        al_copy[al_len] = '\0';
    }
    mer_locale_chain_build(&out->chain, lang, al ? al_copy : NULL, al_len, out->country->languages[0]);
    return 0;
}

int mer_where(mer_req_t *r, mer_where_t *out)
{
    return where(r, out, false);
}

int mer_where_catalogue(mer_req_t *r, mer_where_t *out)
{
    return where(r, out, true);
}

/* ---- public ---- */

static json_t *country_public(const mer_country_t *c, const mer_locale_chain_t *chain)
{
    json_t *names = json_object_get(c->json, "names");
    const char *name = NULL;
    for (size_t i = 0; i < chain->n && name == NULL; i++)
        name = json_string_value(json_object_get(names, chain->tags[i]));
    if (name == NULL)
        name = json_string_value(json_object_get(names, "en"));
    json_t *langs = json_array(), *pays = json_array();
    for (size_t i = 0; i < c->nlanguages; i++)
        json_array_append_new(langs, json_string(c->languages[i]));
    for (size_t i = 0; i < c->npayments; i++) {
        json_t *p = json_pack("{s:s}", "method", c->payments[i].method);
        if (c->payments[i].max_amount)
            json_object_set_new(p, "max_amount", json_integer(c->payments[i].max_amount));
        json_array_append_new(pays, p);
    }
    json_t *out =
        json_pack("{s:s,s:s,s:O,s:s,s:i,s:i,s:o,s:s,s:s,s:s,s:b,s:o}", "code", c->code, "name", name, "names", names,
                  "currency", c->currency.code, "currency_digits", c->currency.iso_digits, "practical_digits",
                  c->practical_digits, "languages", langs, "default_language", c->languages[0], "timezone", c->timezone,
                  "region", c->region, "tax_included", c->tax_inclusive, "payment_methods", pays);
    /* the address rules (required fields, patterns, state codes): a form can offer what checkout accepts */
    json_t *addr = json_object_get(c->json, "address");
    if (addr)
        json_object_set(out, "address", addr);
    return out;
}

static void h_countries(mer_req_t *r)
{
    const mer_countries_t *cs = mer_countries();
    mer_locale_chain_t chain;
    char norm[MER_LOCALE_MAX];
    const char *lang;
    if (mer_req_lang(r, norm, &lang) != 0)
        return;
    mer_locale_chain_build(&chain, lang, NULL, 0, "en");
    json_t *arr = json_array();
    for (size_t i = 0; i < cs->n; i++)
        if (!cs->list[i]->launching) /* not opened yet: shoppers do not see it */
            json_array_append_new(arr, country_public(cs->list[i], &chain));
    mer_reply_header(r, "cache-control", "public, max-age=5"); /* as the catalogue's: a gateway may keep it */
    mer_reply_json(r, 200, json_pack("{s:o}", "countries", arr));
}

static void h_route(mer_req_t *r)
{
    const char *code = mer_req_query(r, "country");
    if (code == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country is required");
        return;
    }
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *c = mer_country_find(cs, code, strlen(code));
    if (c == NULL) {
        mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "country %.8s is not known", code);
        return;
    }
    const mer_region_t *rg = mer_region_find(cs, c->region);
    mer_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:b}", "country", c->code, "region", c->region, "url",
                             rg ? rg->base_url : "", "served_here", rg && rg->local));
}

/* ---- admin ---- */

static void h_admin_countries(mer_req_t *r)
{
    const mer_countries_t *cs = mer_countries();
    json_t *arr = json_array(), *launching = json_array();
    for (size_t i = 0; i < cs->n; i++) {
        json_array_append(arr, cs->list[i]->json);
        if (cs->list[i]->launching)
            json_array_append_new(launching, json_string(cs->list[i]->code));
    }
    json_t *regions = json_array();
    for (size_t i = 0; i < cs->nregions; i++)
        json_array_append_new(regions, json_pack("{s:s,s:s,s:b}", "name", cs->regions[i].name, "base_url",
                                                 cs->regions[i].base_url, "served_here", cs->regions[i].local));
    mer_reply_json(r, 200, json_pack("{s:o,s:o,s:o}", "countries", arr, "regions", regions, "launching", launching));
}

/*
 * Country and region changes are writes to catalog.db through its writer. The registry's snapshot is
 * replaced by the writer's commit hook (publish_countries), after the commit and before the caller is
 * answered, so the admin's next request sees the change; a request that read the old snapshot meanwhile
 * built its answer before the change and the cache retires it (mer_rcache_invalidate).
 */

static void publish_countries(const char *region)
{
    if (region != MER_STORE_CATALOG || !mer_countries_take_changed())
        return;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = db ? mer_countries_reload(db) : MER_E_UNAVAILABLE;
    mer_store_write_end(MER_STORE_CATALOG);
    if (err)
        mer_log_error("countries could not be reloaded after a change: %s", mer_err_code(err));
    mer_rcache_invalidate();
}

/* Another node changed countries or regions, or the listener reconnected (store/notify.h): reload, as
 * publish_countries does after this node's own changes. On the listener's thread. */
static void countries_note(const char *region, const char *arg)
{
    (void)arg;
    if (region != MER_STORE_CATALOG)
        return;
    mer_countries_changed(NULL);
    publish_countries(MER_STORE_CATALOG);
}

typedef struct put_country_call {
    mer_call_t c;
    char code[3];
    bool existed;
    char *config;
    json_t *out;
    char region[MER_REGION_NAME_MAX];
} put_country_call_t;

static int put_country(mer_db_t *db, mer_call_t *c)
{
    put_country_call_t *p = (put_country_call_t *)c;
    int err = mer_db_exec(db,
                          "INSERT INTO country (code, region, config, updated_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (code) DO UPDATE SET region = excluded.region, config = excluded.config, "
                          "updated_at = excluded.updated_at",
                          "sssi", p->code, p->region, p->config, mer_now_unix_ms());
    if (err < 0)
        return err;
    return mer_countries_changed(db);
}

static void put_country_reply(mer_call_t *c)
{
    put_country_call_t *p = (put_country_call_t *)c;
    mer_log_info("country %s %s by staff %lld", p->code, p->existed ? "changed" : "added", (long long)c->who.id);
    mer_reply_json(c->r, p->existed ? 200 : 201, json_incref(p->out));
}

static void put_country_free(mer_call_t *c)
{
    put_country_call_t *p = (put_country_call_t *)c;
    free(p->config);
    json_decref(p->out);
}

static void h_admin_put_country(mer_req_t *r)
{
    char code[3];
    mer_verr_t e = {0};
    mer_country_t c = {0};
    if (r->params[0].len != 2) {
        mer_reply_error(r, MER_E_VALIDATION, "code", "a country code is two upper-case letters");
        return;
    }
    memcpy(code, r->params[0].base, 2);
    code[2] = '\0';
    if (mer_country_parse(r->body, code, &c, &e) != 0) {
        mer_country_release(&c);
        mer_reply_verr(r, &e);
        return;
    }
    const mer_countries_t *cs = mer_countries();
    if (mer_region_find(cs, c.region) == NULL) {
        mer_country_release(&c);
        mer_reply_error(r, MER_E_VALIDATION, "region", "region %s does not exist; create it first", c.region);
        return;
    }
    put_country_call_t *p = mer_call_new(r, sizeof(*p));
    memcpy(p->code, code, sizeof(p->code));
    snprintf(p->region, sizeof(p->region), "%s", c.region);
    p->existed = mer_country_find_any(cs, code, 2) != NULL;
    p->config = mer_json_dump(c.json, NULL);
    p->out = json_incref(c.json);
    mer_country_release(&c);
    p->c.reply = put_country_reply;
    p->c.cleanup = put_country_free;
    mer_call_write(&p->c, MER_STORE_CATALOG, put_country);
}

typedef struct put_region_call {
    mer_call_t c;
    char name[MER_REGION_NAME_MAX];
    char url[192];
    bool existed, opened;
} put_region_call_t;

static int put_region(mer_db_t *db, mer_call_t *c)
{
    put_region_call_t *p = (put_region_call_t *)c;
    int err = mer_db_exec(db,
                          "INSERT INTO region (name, base_url) VALUES (?, ?) "
                          "ON CONFLICT (name) DO UPDATE SET base_url = excluded.base_url",
                          "ss", p->name, p->url);
    if (err < 0)
        return err;
    return mer_countries_changed(db);
}

/* A node that serves every region takes a new one on at once: its database and writer (on the read pool). */
static int open_region(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    put_region_call_t *p = (put_region_call_t *)c;
    p->opened = true;
    if (mer_store_open_region(p->name) != 0 || mer_writer_start(p->name) != 0)
        return mer_verr_set(&c->verr, MER_E_INTERNAL, NULL,
                            "the region was saved but its database could not be opened");
    return 0;
}

static void put_region_reply(mer_call_t *c)
{
    put_region_call_t *p = (put_region_call_t *)c;
    const mer_region_t *rg = mer_region_find(mer_countries(), p->name);
    if (!p->opened && rg && rg->local) {
        mer_call_read(c, MER_STORE_CATALOG, open_region);
        return;
    }
    mer_reply_json(c->r, p->existed ? 200 : 201, json_pack("{s:s,s:s}", "name", p->name, "base_url", p->url));
}

static void h_admin_put_region(mer_req_t *r)
{
    static const char *const keys[] = {"base_url", NULL};
    mer_verr_t e = {0};
    const char *url = "";
    char name[MER_REGION_NAME_MAX];
    if (r->params[0].len < 2 || r->params[0].len >= sizeof(name)) {
        mer_reply_error(r, MER_E_VALIDATION, "name", "region names are 2-15 characters");
        return;
    }
    if (!mer_region_name_ok(r->params[0].base, r->params[0].len)) {
        mer_reply_error(r, MER_E_VALIDATION, "name", "region names are lower-case letters, digits and '-'");
        return;
    }
    snprintf(name, sizeof(name), "%.*s", (int)r->params[0].len, r->params[0].base);
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_str(r->body, "base_url", "base_url", 0, 190, false, &url, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (url[0] && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "base_url", "base_url must start with http:// or https://");
        return;
    }
    bool existed = mer_region_find(mer_countries(), name) != NULL;
    if (!existed && mer_countries()->nregions >= MER_MAX_REGIONS) {
        mer_reply_error(r, MER_E_CONFLICT, "name", "this deployment holds at most %d regions", MER_MAX_REGIONS);
        return;
    }
    put_region_call_t *p = mer_call_new(r, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->url, sizeof(p->url), "%s", url);
    p->existed = existed;
    p->c.reply = put_region_reply;
    mer_call_write(&p->c, MER_STORE_CATALOG, put_region);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/countries", h_countries, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/route", h_route, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/countries", h_admin_countries, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PUT", "/api/v1/admin/countries/{code}", h_admin_put_country, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"PUT", "/api/v1/admin/regions/{name}", h_admin_put_region, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

static const mer_routes_t region_routes = {routes, MER_ARRAY_LEN(routes)};

static void region_metrics(mer_buf_t *out)
{
    mer_buf_printf(out,
                   "# HELP meridian_countries Countries configured.\n# TYPE meridian_countries gauge\n"
                   "meridian_countries %zu\n",
                   mer_countries()->n);
}

/* The default language of the request's country, for error messages (http/req.h). Reads no header into
 * Vary: an error answer is not cached. */
static const char *request_language(const mer_req_t *r)
{
    const char *code = mer_req_query(r, "country");
    size_t len = code ? strlen(code) : 0;
    if (code == NULL)
        code = mer_req_header(r, "x-country", &len);
    if (code == NULL && r->who.country[0]) {
        code = r->who.country;
        len = strlen(code);
    }
    const mer_country_t *c = code && len ? mer_country_find(mer_countries(), code, len) : NULL;
    return c ? c->languages[0] : NULL;
}

static int region_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_writer_on_commit(publish_countries);
    mer_http_set_language_hook(request_language);
    mer_notify_on("countries", countries_note);
    return 0;
}

const mer_module_t mer_region_module = {
    .name = "region",
    .init = region_init,
    .routes = MER_MODULE_ROUTES(&region_routes),
    .metrics = region_metrics,
};
