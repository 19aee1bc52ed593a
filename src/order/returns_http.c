/*
 * returns_http.c — the return routes: the HTTP adapter of the return service (returns.h).
 *
 *   POST /api/v1/orders/{id}/returns          customer: ask to return delivered lines
 *   GET  /api/v1/returns, /api/v1/returns/{id} customer: their returns
 *   POST /api/v1/returns/{id}/cancel           customer: withdraw a return not yet received
 *   GET  /api/v1/admin/returns?country=&status=, /api/v1/admin/returns/{id}?country=
 *   POST /api/v1/admin/returns/{id}/approve | reject | receive   staff of the return's country
 *   GET  /api/v1/store-credit                  customer: store credit granted by returns
 *   GET  /api/v1/return-policy?country=        anyone: the country's window and refund methods
 *   PUT  /api/v1/admin/return-policy           staff: change them
 *
 * Each handler checks the caller and the body on its loop and submits one call (reads on the read pool,
 * changes as writer jobs); a change answers with the return as it is after the change.
 */
#include <stdio.h>

#include "order/returns.h"
#include "region/region_http.h"
#include "core/banned.h"

/* ---- one return ---- */

typedef struct get_call {
    mer_call_t c;
    int64_t id, user_id;
    char country[3];
} get_call_t;

static int get_fn(mer_db_t *db, mer_call_t *c)
{
    get_call_t *k = MER_CONTAINER_OF(c, get_call_t, c);
    int err = mer_return_get(db, k->id, k->user_id, k->country, &c->result);
    return err == MER_E_NOT_FOUND ? mer_verr_set(&c->verr, err, NULL, "no such return") : err;
}

static void h_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff read returns under /api/v1/admin/returns");
        return;
    }
    get_call_t *k = mer_call_new(r, sizeof(*k));
    k->id = id;
    k->user_id = r->who.id;
    mer_call_read(&k->c, r->who.region, get_fn);
}

static void h_admin_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    const mer_country_t *c = mer_req_staff_country(r, mer_req_query(r, "country"), "manage returns");
    if (c == NULL)
        return;
    get_call_t *k = mer_call_new(r, sizeof(*k));
    k->id = id;
    snprintf(k->country, sizeof(k->country), "%s", c->code);
    mer_call_read(&k->c, c->region, get_fn);
}

/* ---- listings ---- */

typedef struct list_call {
    mer_call_t c;
    int64_t user_id, page, per_page;
    char country[3], status[16];
} list_call_t;

static int list_fn(mer_db_t *db, mer_call_t *c)
{
    list_call_t *k = MER_CONTAINER_OF(c, list_call_t, c);
    return mer_return_list(db, k->user_id, k->country, k->status, k->page, k->per_page, &c->result);
}

static void list_returns(mer_req_t *r, const char *region, int64_t user_id, const char *country)
{
    static const char *const statuses[] = {"requested", "approved", "rejected", "received", "refunded", "cancelled"};
    int64_t page, per_page;
    const char *status = mer_req_query(r, "status");
    if (mer_req_query_int(r, "page", 1, 100000, 1, &page) != 0 ||
        mer_req_query_int(r, "per_page", 1, 100, 20, &per_page) != 0)
        return;
    bool known = status == NULL;
    for (size_t i = 0; !known && i < MER_ARRAY_LEN(statuses); i++)
        known = strcmp(status, statuses[i]) == 0;
    if (!known) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "status", "unknown status %s", status);
        return;
    }
    list_call_t *k = mer_call_new(r, sizeof(*k));
    k->user_id = user_id;
    k->page = page;
    k->per_page = per_page;
    snprintf(k->country, sizeof(k->country), "%s", country ? country : "");
    snprintf(k->status, sizeof(k->status), "%s", status ? status : "");
    mer_call_read(&k->c, region, list_fn);
}

static void h_list(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff list returns under /api/v1/admin/returns");
        return;
    }
    list_returns(r, r->who.region, r->who.id, NULL);
}

static void h_admin_list(mer_req_t *r)
{
    const mer_country_t *c = mer_req_staff_country(r, mer_req_query(r, "country"), "manage returns");
    if (c != NULL)
        list_returns(r, c->region, 0, c->code);
}

/* ---- asking for a return ---- */

typedef struct create_call {
    mer_call_t c;
    mer_return_request_t rq;
} create_call_t;

static int create_fn(mer_db_t *db, mer_call_t *c)
{
    create_call_t *k = MER_CONTAINER_OF(c, create_call_t, c);
    int err = mer_return_create(db, &k->rq, &c->verr);
    if (err)
        return err;
    c->status = 201;
    return mer_return_get(db, k->rq.return_id, 0, "", &c->result);
}

static void create_reply_error(mer_call_t *c)
{
    create_call_t *k = MER_CONTAINER_OF(c, create_call_t, c);
    if (c->verr.code == MER_E_CONFLICT && strcmp(c->verr.field, "status") == 0)
        mer_reply_error_ex(c->r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", k->rq.current), "%s",
                           c->verr.message);
    else
        mer_reply_job_error(c->r, c->err, &c->verr);
}

/* Reads lines [{line_no, quantity}] or, for a receipt, [{line_no, condition, warehouse?}]. */
static int read_lines(json_t *lines, bool receipt, mer_return_line_in_t *out, size_t *n, mer_verr_t *e)
{
    static const char *const req_keys[] = {"line_no", "quantity", NULL};
    static const char *const rcv_keys[] = {"line_no", "condition", "warehouse", NULL};
    size_t i;
    json_t *v;
    *n = 0;
    if (json_array_size(lines) == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "lines", "name at least one line");
    json_array_foreach(lines, i, v)
    {
        char prefix[32], field[64];
        int64_t ln = 0, q = 0;
        const char *cond = NULL, *wh = NULL;
        snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
        if (i >= MER_ORDER_MAX_LINES)
            return mer_verr_set(e, MER_E_VALIDATION, "lines", "at most %d lines", MER_ORDER_MAX_LINES);
        if (!json_is_object(v))
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
        if (mer_json_only(v, receipt ? rcv_keys : req_keys, prefix, e) ||
            mer_json_int(v, "line_no", mer_json_path(field, sizeof(field), prefix, "line_no"), 1, 1000, true, &ln, e))
            return e->code;
        if (!receipt &&
            mer_json_int(v, "quantity", mer_json_path(field, sizeof(field), prefix, "quantity"), 1, 1000, true, &q, e))
            return e->code;
        if (receipt && (mer_json_str(v, "condition", mer_json_path(field, sizeof(field), prefix, "condition"), 1, 11,
                                     true, &cond, e) ||
                        mer_json_str(v, "warehouse", mer_json_path(field, sizeof(field), prefix, "warehouse"), 1, 64,
                                     false, &wh, e)))
            return e->code;
        if (receipt && strcmp(cond, "resellable") != 0 && strcmp(cond, "damaged") != 0)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "condition"),
                                "condition is resellable or damaged");
        if (receipt && wh && strcmp(cond, "damaged") == 0)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "warehouse"),
                                "damaged units do not go back to a warehouse");
        mer_return_line_in_t *l = &out[(*n)++];
        l->line_no = (int)ln;
        l->quantity = q;
        snprintf(l->condition, sizeof(l->condition), "%s", cond ? cond : "");
        snprintf(l->warehouse, sizeof(l->warehouse), "%s", wh ? wh : "");
    }
    return 0;
}

static void h_create(mer_req_t *r)
{
    static const char *const keys[] = {"lines", "reason", "comment", "refund_method", "refund_account", NULL};
    static const char *const acct_keys[] = {"holder", "number", "bank_code", NULL};
    mer_verr_t e = {0};
    const char *reason = NULL, *comment = NULL, *method = NULL, *holder = NULL, *number = NULL, *bank = NULL;
    json_t *lines = NULL, *acct = NULL;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "customers ask to return their own orders");
        return;
    }
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_member(r->body, "lines", "lines", JSON_ARRAY, true, &lines, &e) ||
        mer_json_str(r->body, "reason", "reason", 1, 23, true, &reason, &e) ||
        mer_json_str(r->body, "comment", "comment", 0, 500, false, &comment, &e) ||
        mer_json_str(r->body, "refund_method", "refund_method", 1, 15, false, &method, &e) ||
        mer_json_member(r->body, "refund_account", "refund_account", JSON_OBJECT, false, &acct, &e) ||
        (acct && (mer_json_only(acct, acct_keys, "refund_account", &e) ||
                  mer_json_str(acct, "holder", "refund_account.holder", 1, 100, true, &holder, &e) ||
                  mer_json_str(acct, "number", "refund_account.number", 4, 34, true, &number, &e) ||
                  mer_json_str(acct, "bank_code", "refund_account.bank_code", 1, 20, false, &bank, &e)))) {
        mer_reply_verr(r, &e);
        return;
    }
    bool known = false;
    for (size_t i = 0; !known && mer_return_reasons[i]; i++)
        known = strcmp(reason, mer_return_reasons[i]) == 0;
    if (!known) {
        mer_reply_error(r, MER_E_VALIDATION, "reason",
                        "reason is one of damaged, defective, wrong_item, not_as_described, no_longer_needed, other");
        return;
    }
    if (method && strcmp(method, "original") != 0 && strcmp(method, "bank_transfer") != 0 &&
        strcmp(method, "store_credit") != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "refund_method",
                        "refund_method is original, bank_transfer or store_credit");
        return;
    }
    for (const char *p = number; p && *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) {
            mer_reply_error(r, MER_E_VALIDATION, "refund_account.number", "an account number is letters and digits");
            return;
        }
    create_call_t *k = mer_call_new(r, sizeof(*k));
    if (read_lines(lines, false, k->rq.lines, &k->rq.n, &e) != 0) {
        free(k);
        mer_reply_verr(r, &e);
        return;
    }
    k->rq.order_id = id;
    k->rq.user_id = r->who.id;
    snprintf(k->rq.reason, sizeof(k->rq.reason), "%s", reason);
    snprintf(k->rq.comment, sizeof(k->rq.comment), "%s", comment ? comment : "");
    snprintf(k->rq.refund_method, sizeof(k->rq.refund_method), "%s", method ? method : "");
    snprintf(k->rq.account_holder, sizeof(k->rq.account_holder), "%s", holder ? holder : "");
    snprintf(k->rq.account_number, sizeof(k->rq.account_number), "%s", number ? number : "");
    snprintf(k->rq.bank_code, sizeof(k->rq.bank_code), "%s", bank ? bank : "");
    k->c.reply_error = create_reply_error;
    mer_call_write(&k->c, r->who.region, create_fn);
}

/* ---- steps ---- */

typedef struct change_call {
    mer_call_t c;
    mer_return_change_t ch;
} change_call_t;

static int change_fn(mer_db_t *db, mer_call_t *c)
{
    change_call_t *k = MER_CONTAINER_OF(c, change_call_t, c);
    int err = mer_return_change(db, &k->ch, &c->verr);
    return err ? err : mer_return_get(db, k->ch.return_id, 0, "", &c->result);
}

static void change_reply_error(mer_call_t *c)
{
    change_call_t *k = MER_CONTAINER_OF(c, change_call_t, c);
    if (c->verr.code == MER_E_CONFLICT && strcmp(c->verr.field, "status") == 0)
        mer_reply_error_ex(c->r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", k->ch.current), "%s",
                           c->verr.message);
    else
        mer_reply_job_error(c->r, c->err, &c->verr);
}

static void h_cancel(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff reject returns under /api/v1/admin/returns/{id}/reject");
        return;
    }
    change_call_t *k = mer_call_new(r, sizeof(*k));
    k->ch.return_id = id;
    k->ch.user_id = r->who.id;
    k->ch.step = MER_RETURN_CANCEL;
    snprintf(k->ch.actor, sizeof(k->ch.actor), "customer:%lld", (long long)r->who.id);
    k->c.reply_error = change_reply_error;
    mer_call_write(&k->c, r->who.region, change_fn);
}

static void admin_step(mer_req_t *r, mer_return_step_t step)
{
    static const char *const keys[] = {"country", "note", NULL};
    static const char *const receive_keys[] = {"country", "note", "lines", NULL};
    mer_verr_t e = {0};
    const char *country = NULL, *note = NULL;
    json_t *lines = NULL;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, step == MER_RETURN_RECEIVE ? receive_keys : keys, "", &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "note", "note", step == MER_RETURN_REJECT ? 1 : 0, 200, step == MER_RETURN_REJECT, &note,
                     &e) ||
        (step == MER_RETURN_RECEIVE && mer_json_member(r->body, "lines", "lines", JSON_ARRAY, true, &lines, &e))) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *c = mer_req_staff_country(r, country, "manage returns");
    if (c == NULL)
        return;
    change_call_t *k = mer_call_new(r, sizeof(*k));
    if (lines && read_lines(lines, true, k->ch.lines, &k->ch.n, &e) != 0) {
        free(k);
        mer_reply_verr(r, &e);
        return;
    }
    k->ch.return_id = id;
    k->ch.step = step;
    snprintf(k->ch.country, sizeof(k->ch.country), "%s", c->code);
    snprintf(k->ch.note, sizeof(k->ch.note), "%s", note ? note : "");
    snprintf(k->ch.actor, sizeof(k->ch.actor), "%s:%lld", r->who.role == MER_ROLE_ADMIN ? "admin" : "operator",
             (long long)r->who.id);
    k->c.reply_error = change_reply_error;
    mer_call_write(&k->c, c->region, change_fn);
}

static void h_approve(mer_req_t *r)
{
    admin_step(r, MER_RETURN_APPROVE);
}

static void h_reject(mer_req_t *r)
{
    admin_step(r, MER_RETURN_REJECT);
}

static void h_receive(mer_req_t *r)
{
    admin_step(r, MER_RETURN_RECEIVE);
}

/* ---- store credit ---- */

typedef struct credit_call {
    mer_call_t c;
    int64_t user_id;
    char country[3];
} credit_call_t;

static int credit_fn(mer_db_t *db, mer_call_t *c)
{
    credit_call_t *k = MER_CONTAINER_OF(c, credit_call_t, c);
    return mer_store_credit_get(db, k->user_id, k->country, &c->result);
}

static void h_store_credit(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "store credit belongs to customers");
        return;
    }
    credit_call_t *k = mer_call_new(r, sizeof(*k));
    k->user_id = r->who.id;
    snprintf(k->country, sizeof(k->country), "%s", r->who.country);
    mer_call_read(&k->c, r->who.region, credit_fn);
}

/* ---- the return policy ---- */

typedef struct policy_call {
    mer_call_t c;
    char country[3], cod_refund[64];
    int64_t window_days;
} policy_call_t;

static int policy_get_fn(mer_db_t *db, mer_call_t *c)
{
    return mer_return_policy_get(db, MER_CONTAINER_OF(c, policy_call_t, c)->country, &c->result);
}

static int policy_set_fn(mer_db_t *db, mer_call_t *c)
{
    policy_call_t *k = MER_CONTAINER_OF(c, policy_call_t, c);
    int err = mer_return_policy_set(db, k->country, k->window_days, k->cod_refund);
    return err ? err : mer_return_policy_get(db, k->country, &c->result);
}

static void h_policy(mer_req_t *r)
{
    mer_where_t w;
    if (mer_where(r, &w) != 0)
        return;
    const mer_country_t *c = w.country;
    policy_call_t *k = mer_call_new(r, sizeof(*k));
    snprintf(k->country, sizeof(k->country), "%s", c->code);
    mer_call_read(&k->c, c->region, policy_get_fn);
}

static void h_set_policy(mer_req_t *r)
{
    static const char *const keys[] = {"country", "window_days", "cod_refund", NULL};
    mer_verr_t e = {0};
    const char *country = NULL;
    int64_t days = 0;
    json_t *cod = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_int(r->body, "window_days", "window_days", 0, 365, true, &days, &e) ||
        mer_json_member(r->body, "cod_refund", "cod_refund", JSON_ARRAY, true, &cod, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *c = mer_req_staff_country(r, country, "manage returns");
    if (c == NULL)
        return;
    policy_call_t *k = mer_call_new(r, sizeof(*k));
    size_t i;
    json_t *v;
    json_array_foreach(cod, i, v)
    {
        const char *m = json_string_value(v);
        if (m == NULL || (strcmp(m, "bank_transfer") != 0 && strcmp(m, "store_credit") != 0)) {
            free(k);
            mer_reply_error(r, MER_E_VALIDATION, "cod_refund", "cod_refund lists bank_transfer and/or store_credit");
            return;
        }
        if (strstr(k->cod_refund, m) == NULL)
            snprintf(k->cod_refund + strlen(k->cod_refund), sizeof(k->cod_refund) - strlen(k->cod_refund), "%s%s",
                     k->cod_refund[0] ? "," : "", m);
    }
    snprintf(k->country, sizeof(k->country), "%s", c->code);
    k->window_days = days;
    mer_call_write(&k->c, c->region, policy_set_fn);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/orders/{id}/returns", h_create, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/returns", h_list, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/returns/{id}", h_get, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/returns/{id}/cancel", h_cancel, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/returns", h_admin_list, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/returns/{id}", h_admin_get, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/returns/{id}/approve", h_approve, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/returns/{id}/reject", h_reject, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/returns/{id}/receive", h_receive, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"GET", "/api/v1/store-credit", h_store_credit, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/return-policy", h_policy, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PUT", "/api/v1/admin/return-policy", h_set_policy, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

const mer_routes_t mer_return_routes = {routes, MER_ARRAY_LEN(routes)};
