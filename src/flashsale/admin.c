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

typedef struct in_item {
    int64_t sku_id, product_id, price, units;
    char sku[65];
} in_item_t;

typedef struct in_session {
    int64_t id, starts_at, ends_at, res_opens, res_closes, ttl_ms, limit;
    bool res_required, cod;
    fs_mode_t mode;
    char seed[65];
    in_item_t items[FS_MAX_ITEMS];
    int nitems;
} in_session_t;

typedef struct sale_job {
    mer_wjob_t w;
    mer_req_t *r;
    const mer_country_t *c;
    json_t *titles, *rules;
    in_session_t sessions[FS_MAX_SESSIONS];
    int nsessions;
    int64_t id, created_at;
} sale_job_t;

static int sale_run(mer_db_t *db, mer_wjob_t *w)
{
    sale_job_t *j = H2O_STRUCT_FROM_MEMBER(sale_job_t, w, w);
    char *titles = mer_json_dump(j->titles, NULL), *rules = mer_json_dump(j->rules, NULL);
    /* the ids were given out by the catalogue (model.c, "ids"): unique across regions */
    int err = mer_db_exec(db, "INSERT INTO flash_sale (id, country, titles, rules, created_at) VALUES (?, ?, ?, ?, ?)",
                          "isssi", j->id, j->c->code, titles, rules, j->created_at) < 0
                  ? MER_E_INTERNAL
                  : 0;
    free(titles);
    free(rules);
    for (int k = 0; err == 0 && k < j->nsessions; k++) {
        in_session_t *s = &j->sessions[k];
        if (mer_db_exec(db,
                        "INSERT INTO flash_session (id, sale_id, starts_at, ends_at, mode, reservation_required, "
                        "reservation_opens_at, reservation_closes_at, token_ttl_ms, cod_allowed, per_user_limit, "
                        "seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "iiiisiiiiiis", s->id, j->id, s->starts_at, s->ends_at, fs_mode_names[s->mode],
                        (int64_t)s->res_required, s->res_opens, s->res_closes, s->ttl_ms, (int64_t)s->cod, s->limit,
                        s->seed) < 0)
            err = MER_E_INTERNAL;
        for (int i = 0; err == 0 && i < s->nitems; i++)
            if (mer_db_exec(
                    db, "INSERT INTO flash_item (session_id, sku_id, price, units, position) VALUES (?, ?, ?, ?, ?)",
                    "iiiii", s->id, s->items[i].sku_id, s->items[i].price, s->items[i].units, (int64_t)i) < 0)
                err = MER_E_INTERNAL;
    }
    return err;
}

static void sale_done(mer_wjob_t *w)
{
    sale_job_t *j = H2O_STRUCT_FROM_MEMBER(sale_job_t, w, w);
    mer_req_t *r = j->r;
    if (w->err == 0) {
        fs_sale_t *sale = fs_sale_build(j->id, j->c->code, j->c->region, j->titles, j->rules);
        for (int k = 0; k < j->nsessions; k++) {
            in_session_t *in = &j->sessions[k];
            fs_session_t *s = fs_session_new(sale);
            s->id = in->id;
            s->starts_at = in->starts_at;
            s->ends_at = in->ends_at;
            s->mode = in->mode;
            s->reservation_required = in->res_required;
            s->res_opens_at = in->res_opens;
            s->res_closes_at = in->res_closes;
            s->token_ttl_ms = in->ttl_ms;
            s->cod_allowed = in->cod;
            s->per_user_limit = in->limit;
            fs_session_commit_seed(s, in->seed);
            for (int i = 0; i < in->nitems; i++) {
                fs_item_t *it = &s->items[s->nitems++];
                it->sku_id = in->items[i].sku_id;
                it->product_id = in->items[i].product_id;
                it->price = in->items[i].price;
                it->units = in->items[i].units;
                atomic_store(&it->left, it->units);
                snprintf(it->sku, sizeof(it->sku), "%s", in->items[i].sku);
            }
            sale->sessions[sale->nsessions++] = s;
        }
        fs_registry_add(sale);
        mer_log_info("flash sale %lld created in %s by staff %lld", (long long)j->id, j->c->code, (long long)r->who.id);
    }
    if (!r->gone) {
        if (w->err) {
            mer_reply_error(r, w->err, NULL, NULL);
        } else {
            json_t *ids = json_array();
            for (int k = 0; k < j->nsessions; k++)
                json_array_append_new(ids, json_integer(j->sessions[k].id));
            mer_reply_json(r, 201,
                           json_pack("{s:I,s:s,s:o,s:s}", "id", (json_int_t)j->id, "country", j->c->code, "session_ids",
                                     ids, "info", "GET /api/v1/flash-sales/{id}"));
        }
    }
    json_decref(j->titles);
    json_decref(j->rules);
    mer_req_release(r);
    free(j);
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
static int parse_session(mer_req_t *r, json_t *sv, size_t k, const mer_country_t *c, in_session_t *s)
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
        in_item_t *it = &s->items[s->nitems++];
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
    sale_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->c = c;
    size_t k;
    json_t *sv;
    json_array_foreach(sessions, k, sv)
    {
        if (parse_session(r, sv, k, c, &j->sessions[j->nsessions++]) != 0) {
            free(j);
            return;
        }
    }
    /* a sale is created to be sold: a session that has already ended could never be (checked after
     * everything else, so a malformed body is named first) */
    j->created_at = mer_now_unix_ms();
    for (int i = 0; i < j->nsessions; i++) {
        if (j->sessions[i].ends_at <= j->created_at) {
            char f[48], local[40];
            mer_tz_format(j->sessions[i].ends_at, c->timezone, local);
            snprintf(f, sizeof(f), "sessions[%d].ends_at", i);
            mer_reply_error(r, MER_E_VALIDATION, f, "%s has already passed (%s): a session must end in the future", f,
                            local);
            free(j);
            return;
        }
    }
    int64_t session_ids[FS_MAX_SESSIONS];
    int err = fs_ids_allocate(c->region, j->nsessions, &j->id, session_ids);
    if (err) {
        mer_reply_error(r, err, NULL, NULL);
        free(j);
        return;
    }
    for (int i = 0; i < j->nsessions; i++)
        j->sessions[i].id = session_ids[i];
    j->r = r;
    j->titles = json_incref(titles);
    j->rules = rules ? json_incref(rules) : json_object();
    j->w.run = sale_run;
    j->w.done = sale_done;
    if (mer_req_submit(r, c->region, &j->w) != 0) {
        json_decref(j->titles);
        json_decref(j->rules);
        free(j);
    }
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

static void h_stats(mer_req_t *r)
{
    fs_sale_t *sale = staff_sale(r);
    if (sale == NULL)
        return;
    mer_db_t *db = mer_store_reader(sale->region);
    json_t *arr = json_array();
    for (int k = 0; k < sale->nsessions; k++) {
        fs_session_t *s = sale->sessions[k];
        json_t *tokens = json_object(), *refusals = json_object(), *items = json_array();
        mer_rows_t *rows =
            mer_db_query(db, "SELECT state, COUNT(*) FROM flash_token WHERE session_id = ? GROUP BY state", "i", s->id);
        while (mer_rows_next(rows))
            json_object_set_new(tokens, mer_rows_text(rows, 0), json_integer(mer_rows_int(rows, 1)));
        mer_rows_end(rows);
        for (int i = 0; i < FS_R__COUNT; i++)
            json_object_set_new(refusals, fs_reason_names[i], json_integer((json_int_t)atomic_load(&s->refusals[i])));
        for (int i = 0; i < s->nitems; i++)
            json_array_append_new(items, json_pack("{s:s,s:I,s:I,s:b}", "sku", s->items[i].sku, "units",
                                                   (json_int_t)s->items[i].units, "left",
                                                   (json_int_t)atomic_load(&s->items[i].left), "sold_out",
                                                   atomic_load(&s->items[i].sold_out) != 0));
        pthread_mutex_lock(&s->tickets_mu);
        size_t ntickets = s->ntickets;
        pthread_mutex_unlock(&s->tickets_mu);
        json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:I,s:I}", "session_id", (json_int_t)s->id,
                                             "reservations", (json_int_t)mer_smap_count(&s->reservations), "wins",
                                             (json_int_t)atomic_load(&s->wins), "tokens", tokens, "refusals", refusals,
                                             "items", items, "tickets", (json_int_t)ntickets, "queue_processed",
                                             (json_int_t)atomic_load(&s->processed)));
    }
    mer_reply_json(r, 200,
                   json_pack("{s:I,s:s,s:o}", "id", (json_int_t)sale->id, "country", sale->country, "sessions", arr));
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
