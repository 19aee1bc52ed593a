/*
 * admin.c — creating flash sales and watching them.
 *
 *   POST /api/v1/admin/flash-sales                               create an activity (see docs/openapi.yaml)
 *   GET  /api/v1/admin/flash-sales/{id}/stats                    reservations, wins, tokens, refusals by reason
 *   POST /api/v1/admin/flash-sales/{id}/sessions/{sid}/draw      run a draw now (the session must have ended)
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "core/tz.h"
#include "flashsale/flash_int.h"
#include "flashsale/rules_check.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

/*
 * Creating a sale (the sale service, flash_int.h): the ids from catalog.db's writer, then the rows from the
 * region's writer, then the sale in memory; one call goes through both writers (sale_reply resubmits it).
 */
typedef struct sale_call {
    mer_call_t c;
    fs_sale_in_t in;
    bool written; /* the second job (the region's rows) committed */
} sale_call_t;

static int sale_number(mer_db_t *db, mer_call_t *c)
{
    return fs_sale_number(db, &((sale_call_t *)c)->in, &c->verr);
}

static int sale_write(mer_db_t *db, mer_call_t *c)
{
    sale_call_t *j = (sale_call_t *)c;
    j->written = true;
    return fs_sale_write(db, &j->in, &c->verr);
}

static void sale_reply(mer_call_t *c)
{
    sale_call_t *j = (sale_call_t *)c;
    if (!j->written) {
        mer_call_write(c, j->in.region, sale_write);
        return;
    }
    fs_sale_publish(&j->in);
    mer_log_info("flash sale %lld created in %s by staff %lld", (long long)j->in.id, j->in.country,
                 (long long)c->who.id);
    json_t *ids = json_array();
    for (int k = 0; k < j->in.nsessions; k++)
        json_array_append_new(ids, json_integer(j->in.sessions[k].id));
    mer_reply_json(c->r, 201,
                   json_pack("{s:I,s:s,s:o,s:s}", "id", (json_int_t)j->in.id, "country", j->in.country, "session_ids",
                             ids, "info", "GET /api/v1/flash-sales/{id}"));
}

static void sale_free(mer_call_t *c)
{
    sale_call_t *j = (sale_call_t *)c;
    /* committed rows are a sale even when nobody is told: publish it (the client went away) */
    if (j->written && c->err == 0 && c->r->gone)
        fs_sale_publish(&j->in);
    json_decref(j->in.titles);
    json_decref(j->in.rules);
}

static int local_time(mer_req_t *r, json_t *o, const char *key, const char *field, const mer_country_t *c,
                      bool required, int64_t *out)
{
    mer_verr_t e = {0};
    const char *t = NULL;
    if (mer_json_str(o, key, field, 16, 30, required, &t, &e)) {
        mer_reply_verr(r, &e);
        return -1;
    }
    if (t && mer_tz_parse_local(t, c->timezone, out) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, field, "%s is a local time in %s like 2026-12-01T12:00", field,
                        c->timezone);
        return -1;
    }
    return 0;
}

static int check_rules(mer_req_t *r, json_t *rules)
{
    mer_verr_t e = {0};
    if (fs_rules_check(rules, &e) != 0) {
        mer_reply_verr(r, &e);
        return -1;
    }
    return 0;
}

/* Reads sessions[k] of a new sale into s. Returns 0, or answers the error and returns -1. */
static int parse_session(mer_req_t *r, json_t *sv, size_t k, const mer_country_t *c, fs_session_in_t *s)
{
    static const char *const skeys[] = {
        "starts_at",   "ends_at", "mode", "per_user_limit", "token_ttl_seconds", "cod_allowed",
        "reservation", "items",   NULL};
    static const char *const rkeys[] = {"required", "opens_at", "closes_at", NULL};
    static const char *const ikeys[] = {"sku", "price", "units", NULL};
    mer_verr_t e = {0};
    char p[32], f[96];
    const char *mode = "fcfs";
    bool cod = false, required = false;
    int64_t limit = 1, ttl = 900;
    json_t *res = NULL, *items = NULL;
    snprintf(p, sizeof(p), "sessions[%zu]", k);
    if (!json_is_object(sv) || mer_json_only(sv, skeys, p, &e) ||
        mer_json_str(sv, "mode", mer_json_path(f, sizeof(f), p, "mode"), 1, 8, false, &mode, &e) ||
        mer_json_int(sv, "per_user_limit", mer_json_path(f, sizeof(f), p, "per_user_limit"), 1, 100, false, &limit,
                     &e) ||
        mer_json_int(sv, "token_ttl_seconds", mer_json_path(f, sizeof(f), p, "token_ttl_seconds"), 1, 86400, false,
                     &ttl, &e) ||
        mer_json_bool(sv, "cod_allowed", mer_json_path(f, sizeof(f), p, "cod_allowed"), false, &cod, &e) ||
        mer_json_member(sv, "reservation", mer_json_path(f, sizeof(f), p, "reservation"), JSON_OBJECT, false, &res,
                        &e) ||
        mer_json_member(sv, "items", mer_json_path(f, sizeof(f), p, "items"), JSON_ARRAY, true, &items, &e)) {
        if (!e.code)
            mer_verr_set(&e, MER_E_VALIDATION, p, "%s must be an object", p);
        mer_reply_verr(r, &e);
        return -1;
    }
    int m = fs_mode_parse(mode);
    if (m < 0) {
        mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), p, "mode"), "mode is fcfs, queue or draw");
        return -1;
    }
    s->mode = (fs_mode_t)m;
    s->limit = limit;
    s->ttl_ms = ttl * 1000;
    s->cod = cod;
    if (local_time(r, sv, "starts_at", mer_json_path(f, sizeof(f), p, "starts_at"), c, true, &s->starts_at) ||
        local_time(r, sv, "ends_at", mer_json_path(f, sizeof(f), p, "ends_at"), c, true, &s->ends_at)) {
        return -1;
    }
    if (s->ends_at <= s->starts_at) {
        mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), p, "ends_at"),
                        "a session ends after it starts");
        return -1;
    }
    if (res) {
        char rp[48];
        snprintf(rp, sizeof(rp), "%s.reservation", p);
        if (mer_json_only(res, rkeys, rp, &e) ||
            mer_json_bool(res, "required", mer_json_path(f, sizeof(f), rp, "required"), false, &required, &e)) {
            mer_reply_verr(r, &e);
            return -1;
        }
        s->res_required = required;
        if (required &&
            (local_time(r, res, "opens_at", mer_json_path(f, sizeof(f), rp, "opens_at"), c, true, &s->res_opens) ||
             local_time(r, res, "closes_at", mer_json_path(f, sizeof(f), rp, "closes_at"), c, true, &s->res_closes))) {
            return -1;
        }
        if (required && s->res_closes <= s->res_opens) {
            mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), rp, "closes_at"),
                            "the reservation window closes after it opens");
            return -1;
        }
    }
    if (json_array_size(items) == 0 || json_array_size(items) > FS_MAX_ITEMS) {
        mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), p, "items"), "1 to %d items", FS_MAX_ITEMS);
        return -1;
    }
    size_t i;
    json_t *iv;
    json_array_foreach(items, i, iv)
    {
        char ip[80];
        const char *sku = NULL;
        fs_item_in_t *it = &s->items[s->nitems++];
        snprintf(ip, sizeof(ip), "%s.items[%zu]", p, i);
        if (!json_is_object(iv) || mer_json_only(iv, ikeys, ip, &e) ||
            mer_json_str(iv, "sku", mer_json_path(f, sizeof(f), ip, "sku"), 1, 64, true, &sku, &e) ||
            mer_json_int(iv, "price", mer_json_path(f, sizeof(f), ip, "price"), 0, MER_MONEY_MAX, true, &it->price,
                         &e) ||
            mer_json_int(iv, "units", mer_json_path(f, sizeof(f), ip, "units"), 1, 100000000, true, &it->units, &e)) {
            if (!e.code)
                mer_verr_set(&e, MER_E_VALIDATION, ip, "%s must be {sku, price, units}", ip);
            mer_reply_verr(r, &e);
            return -1;
        }
        const mer_catalog_t *cat = mer_catalog_lock();
        const mer_cat_sku_t *cs_sku = mer_catalog_sku_by_code(cat, sku);
        bool sold = cs_sku && mer_catalog_price(cs_sku, c->code) >= 0;
        if (cs_sku) {
            it->sku_id = cs_sku->id;
            it->product_id = cs_sku->product->id;
        }
        mer_catalog_unlock();
        if (!sold) {
            mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), ip, "sku"), "%s is not sold in %s", sku,
                            c->code);
            return -1;
        }
        if (it->price % c->step != 0) {
            mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), ip, "price"),
                            "price must be a multiple of %lld minor units", (long long)c->step);
            return -1;
        }
        for (int o = 0; o < s->nitems - 1; o++) {
            if (s->items[o].sku_id == it->sku_id) {
                /* the grab finds an item by its SKU: a second one could never be sold */
                mer_reply_error(r, MER_E_VALIDATION, mer_json_path(f, sizeof(f), ip, "sku"),
                                "%s is already items[%d] of this session", sku, o);
                return -1;
            }
        }
        snprintf(it->sku, sizeof(it->sku), "%s", sku);
    }
    unsigned char seed[32];
    randombytes_buf(seed, sizeof(seed));
    sodium_bin2hex(s->seed, sizeof(s->seed), seed, sizeof(seed));
    return 0;
}

static void h_create(mer_req_t *r)
{
    static const char *const keys[] = {"country", "titles", "rules", "sessions", NULL};
    mer_verr_t e = {0};
    const char *country = NULL;
    json_t *titles = NULL, *rules = NULL, *sessions = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_member(r->body, "titles", "titles", JSON_OBJECT, true, &titles, &e) ||
        mer_json_member(r->body, "rules", "rules", JSON_OBJECT, false, &rules, &e) ||
        mer_json_member(r->body, "sessions", "sessions", JSON_ARRAY, true, &sessions, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *c = mer_req_staff_country(r, country, "run sales");
    if (c == NULL)
        return;
    if (json_object_get(titles, "en") == NULL || !json_is_string(json_object_get(titles, "en"))) {
        mer_reply_error(r, MER_E_VALIDATION, "titles.en", "an English title (titles.en) is required");
        return;
    }
    if (rules && check_rules(r, rules) != 0)
        return;
    if (json_array_size(sessions) == 0 || json_array_size(sessions) > FS_MAX_SESSIONS) {
        mer_reply_error(r, MER_E_VALIDATION, "sessions", "a sale has 1 to %d sessions", FS_MAX_SESSIONS);
        return;
    }
    /* not submitted until everything is checked: until then it is freed like any allocation */
    sale_call_t *j = mer_call_new(r, sizeof(*j));
    fs_sale_in_t *in = &j->in;
    snprintf(in->country, sizeof(in->country), "%s", c->code);
    snprintf(in->region, sizeof(in->region), "%s", c->region);
    size_t k;
    json_t *sv;
    json_array_foreach(sessions, k, sv)
    {
        if (parse_session(r, sv, k, c, &in->sessions[in->nsessions++]) != 0) {
            free(j);
            return;
        }
    }
    /* a sale is created to be sold: a session that has already ended could never be (checked after
     * everything else, so a malformed body is named first) */
    in->created_at = mer_now_unix_ms();
    for (int i = 0; i < in->nsessions; i++) {
        if (in->sessions[i].ends_at <= in->created_at) {
            char f[48], local[40];
            mer_tz_format(in->sessions[i].ends_at, c->timezone, local);
            snprintf(f, sizeof(f), "sessions[%d].ends_at", i);
            mer_reply_error(r, MER_E_VALIDATION, f, "%s has already passed (%s): a session must end in the future", f,
                            local);
            free(j);
            return;
        }
    }
    in->titles = json_incref(titles);
    in->rules = rules ? json_incref(rules) : json_object();
    j->c.reply = sale_reply;
    j->c.cleanup = sale_free;
    mer_call_write(&j->c, MER_STORE_CATALOG, sale_number);
}

static fs_sale_t *staff_sale(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return NULL;
    fs_sale_t *sale = fs_sale_find(id);
    if (sale == NULL || !mer_req_may_country(r, sale->country)) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no flash sale %lld in your countries", (long long)id);
        return NULL;
    }
    return sale;
}

/* The stats: the tokens by state come from the region's database (on the read pool), the rest from memory. */
typedef struct stats_call {
    mer_call_t c;
    fs_sale_t *sale; /* sales stay in memory until exit */
    json_t *tokens[FS_MAX_SESSIONS];
} stats_call_t;

static int stats_tokens(mer_db_t *db, mer_call_t *c)
{
    stats_call_t *st = (stats_call_t *)c;
    for (int k = 0; k < st->sale->nsessions; k++) {
        json_t *tokens = st->tokens[k] = json_object();
        mer_rows_t *rows =
            mer_db_query(db, "SELECT state, COUNT(*) FROM flash_token WHERE session_id = ? GROUP BY state", "i",
                         st->sale->sessions[k]->id);
        while (mer_rows_next(rows))
            json_object_set_new(tokens, mer_rows_text(rows, 0), json_integer(mer_rows_int(rows, 1)));
        mer_rows_end(rows);
    }
    return 0;
}

static void stats_reply(mer_call_t *c)
{
    stats_call_t *st = (stats_call_t *)c;
    fs_sale_t *sale = st->sale;
    json_t *arr = json_array();
    for (int k = 0; k < sale->nsessions; k++) {
        fs_session_t *s = sale->sessions[k];
        json_t *refusals = json_object(), *items = json_array();
        for (int i = 0; i < FS_R__COUNT; i++)
            json_object_set_new(refusals, fs_reason_names[i], json_integer((json_int_t)atomic_load(&s->refusals[i])));
        for (int i = 0; i < s->nitems; i++)
            json_array_append_new(items, json_pack("{s:s,s:I,s:I,s:b}", "sku", s->items[i].sku, "units",
                                                   (json_int_t)s->items[i].units, "left",
                                                   (json_int_t)fs_item_remaining(&s->items[i]), "sold_out",
                                                   atomic_load(&s->items[i].sold_out) != 0));
        pthread_mutex_lock(&s->tickets_mu);
        size_t ntickets = s->ntickets;
        pthread_mutex_unlock(&s->tickets_mu);
        json_t *tokens = st->tokens[k];
        st->tokens[k] = NULL;
        json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:I,s:I}", "session_id", (json_int_t)s->id,
                                             "reservations", (json_int_t)mer_smap_count(&s->reservations), "wins",
                                             (json_int_t)atomic_load(&s->wins), "tokens", tokens, "refusals", refusals,
                                             "items", items, "tickets", (json_int_t)ntickets, "queue_processed",
                                             (json_int_t)atomic_load(&s->processed)));
    }
    mer_reply_json(c->r, 200,
                   json_pack("{s:I,s:s,s:o}", "id", (json_int_t)sale->id, "country", sale->country, "sessions", arr));
}

static void stats_free(mer_call_t *c)
{
    stats_call_t *st = (stats_call_t *)c;
    for (int k = 0; k < FS_MAX_SESSIONS; k++)
        json_decref(st->tokens[k]);
}

static void h_stats(mer_req_t *r)
{
    fs_sale_t *sale = staff_sale(r);
    if (sale == NULL)
        return;
    stats_call_t *st = mer_call_new(r, sizeof(*st));
    st->sale = sale;
    st->c.reply = stats_reply;
    st->c.cleanup = stats_free;
    mer_call_read(&st->c, sale->region, stats_tokens);
}

static void h_draw(mer_req_t *r)
{
    fs_sale_t *sale = staff_sale(r);
    int64_t sid;
    if (sale == NULL)
        return;
    if (mer_parse_int64(r->params[1].base, r->params[1].len, 1, INT64_C(1) << 53, &sid) != 0) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such session");
        return;
    }
    fs_session_t *s = fs_session_find(sale, sid);
    if (s == NULL || s->mode != FS_DRAW) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no draw session %lld in this sale", (long long)sid);
        return;
    }
    if (mer_now_unix_ms() < s->ends_at) {
        mer_reply_error(r, MER_E_CONFLICT, "session_id", "entries are open until the session ends");
        return;
    }
    fs_processor_kick();
    mer_reply_json(r, 202,
                   json_pack("{s:s,s:b}", "status", atomic_load(&s->drawn) ? "drawn" : "drawing", "drawn",
                             atomic_load(&s->drawn) != 0));
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/flash-sales", h_create, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/flash-sales/{id}/stats", h_stats, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/flash-sales/{id}/sessions/{sid}/draw", h_draw, MER_AUTH_STAFF, 0, MER_IDEM_NONE,
     MER_RATE_NONE},
};

const mer_routes_t fs_admin_routes = {routes, MER_ARRAY_LEN(routes)};
