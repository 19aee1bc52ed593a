/*
 * order_http.c — the order routes: the HTTP adapter of the order service (order.h).
 *
 * Each handler checks the caller and the request on its loop, copies what the service needs into a call
 * and submits it (mer_call_read for reads, mer_call_write for changes); the service runs off the loop and
 * the answer is written back on it. A change answers with the order as it is after the change, loaded in
 * the same transaction.
 */
#include <stdio.h>

#include "core/log.h"
#include "core/tz.h"
#include "http/offload.h"
#include "order/order.h"
#include "region/region_http.h"
#include "core/banned.h"

/* ---- one order ---- */

typedef struct view_call {
    mer_call_t c;
    int64_t order_id, user_id;
    char country[3]; /* staff: the order must be in this country */
    mer_order_view_t v;
} view_call_t;

static void view_reply(mer_call_t *c)
{
    view_call_t *k = MER_CONTAINER_OF(c, view_call_t, c);
    mer_reply_order(c->r, c->status ? c->status : 200, &k->v);
}

static void view_cleanup(mer_call_t *c)
{
    mer_order_view_release(&MER_CONTAINER_OF(c, view_call_t, c)->v);
}

static view_call_t *view_call_new(mer_req_t *r, int64_t order_id)
{
    view_call_t *k = mer_call_new(r, sizeof(*k));
    k->order_id = order_id;
    k->c.reply = view_reply;
    k->c.cleanup = view_cleanup;
    return k;
}

static int get_fn(mer_db_t *db, mer_call_t *c)
{
    view_call_t *k = MER_CONTAINER_OF(c, view_call_t, c);
    int err = mer_order_load(db, k->order_id, k->user_id, &k->v);
    if (err == 0 && k->country[0] && strcmp(k->v.country, k->country) != 0)
        err = MER_E_NOT_FOUND;
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&c->verr, err, NULL, k->country[0] ? "no such order in this country" : "no such order");
    return err;
}

static void h_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff read orders under /api/v1/admin/orders");
        return;
    }
    view_call_t *k = view_call_new(r, id);
    k->user_id = r->who.id;
    mer_call_read(&k->c, r->who.region, get_fn);
}

/* The country an admin order route names (?country= or the body's "country"), checked. */
static const mer_country_t *staff_country(mer_req_t *r)
{
    const char *cc = mer_req_query(r, "country");
    if (cc == NULL && r->body)
        cc = json_string_value(json_object_get(r->body, "country"));
    return mer_req_staff_country(r, cc, "manage orders");
}

static void h_admin_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    const mer_country_t *c = staff_country(r);
    if (c == NULL)
        return;
    view_call_t *k = view_call_new(r, id);
    snprintf(k->country, sizeof(k->country), "%s", c->code);
    mer_call_read(&k->c, c->region, get_fn);
}

/* ---- listings ---- */

typedef struct list_call {
    mer_call_t c;
    mer_order_query_t q;
    mer_order_page_t page;
} list_call_t;

static int list_fn(mer_db_t *db, mer_call_t *c)
{
    list_call_t *k = MER_CONTAINER_OF(c, list_call_t, c);
    return mer_order_list(db, &k->q, &k->page);
}

static void list_reply(mer_call_t *c)
{
    list_call_t *k = MER_CONTAINER_OF(c, list_call_t, c);
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *qc = k->q.country[0] ? mer_country_find(cs, k->q.country, 2) : NULL;
    json_t *items = json_array();
    for (size_t i = 0; i < k->page.n; i++) {
        const mer_order_summary_t *o = &k->page.items[i];
        char ts[32], local[40];
        const mer_country_t *oc = qc ? qc : mer_country_find(cs, o->country, 2);
        mer_format_utc_ms(o->created_at, ts);
        mer_tz_format(o->created_at, oc ? oc->timezone : "UTC", local);
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:s}", "id", (json_int_t)o->id, "number", o->number,
                             "status", o->status, "country", o->country, "grand_total",
                             oc ? mer_country_money(oc, o->grand_total, o->lang) : json_integer(o->grand_total),
                             "payment_method", o->payment_method, "created_at", ts, "created_at_local", local));
    }
    mer_reply_json(c->r, 200,
                   json_pack("{s:I,s:I,s:I,s:o}", "page", (json_int_t)k->q.page, "per_page", (json_int_t)k->q.per_page,
                             "total", (json_int_t)k->page.total, "orders", items));
}

static void list_cleanup(mer_call_t *c)
{
    mer_order_page_release(&MER_CONTAINER_OF(c, list_call_t, c)->page);
}

/* Lists orders (newest first) of one user, or of a country for staff. */
static void list_orders(mer_req_t *r, const char *region, int64_t user_id, const char *country, const char *status)
{
    int64_t page, per_page;
    if (mer_req_query_int(r, "page", 1, 100000, 1, &page) != 0 ||
        mer_req_query_int(r, "per_page", 1, 100, 20, &per_page) != 0)
        return;
    list_call_t *k = mer_call_new(r, sizeof(*k));
    k->q.user_id = user_id;
    snprintf(k->q.country, sizeof(k->q.country), "%s", country ? country : "");
    snprintf(k->q.status, sizeof(k->q.status), "%s", status ? status : "");
    k->q.page = page;
    k->q.per_page = per_page;
    k->c.reply = list_reply;
    k->c.cleanup = list_cleanup;
    mer_call_read(&k->c, region, list_fn);
}

static void h_list(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff list orders under /api/v1/admin/orders");
        return;
    }
    list_orders(r, r->who.region, r->who.id, NULL, NULL);
}

static void h_admin_list(mer_req_t *r)
{
    const mer_country_t *c = staff_country(r);
    if (c == NULL)
        return;
    const char *status = mer_req_query(r, "status");
    mer_order_status_t s;
    if (status && mer_order_status_parse(status, &s) != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "status", "unknown status %s", status);
        return;
    }
    list_orders(r, c->region, 0, c->code, status);
}

/* ---- transitions ---- */

/* A refused change: a conflict also names the order's current status. */
static void reply_refused(mer_call_t *c, const char *current)
{
    if (c->verr.code == MER_E_CONFLICT)
        mer_reply_error_ex(c->r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", current), "%s",
                           c->verr.message);
    else
        mer_reply_job_error(c->r, c->err, &c->verr);
}

typedef struct change_call {
    view_call_t k; /* the answer: the order afterwards */
    mer_order_change_t ch;
} change_call_t;

static int change_fn(mer_db_t *db, mer_call_t *c)
{
    change_call_t *t = MER_CONTAINER_OF(c, change_call_t, k.c);
    int err = mer_order_change(db, &t->ch, &c->verr);
    return err ? err : mer_order_load(db, t->ch.order_id, 0, &t->k.v);
}

static void change_reply_error(mer_call_t *c)
{
    reply_refused(c, MER_CONTAINER_OF(c, change_call_t, k.c)->ch.current);
}

static change_call_t *change_new(mer_req_t *r, int64_t order_id, mer_order_event_t ev)
{
    change_call_t *t = mer_call_new(r, sizeof(*t));
    t->k.c.reply = view_reply;
    t->k.c.reply_error = change_reply_error;
    t->k.c.cleanup = view_cleanup;
    t->ch.order_id = order_id;
    t->ch.ev = ev;
    if (r->who.role == MER_ROLE_CUSTOMER) {
        t->ch.user_id = r->who.id;
        snprintf(t->ch.actor, sizeof(t->ch.actor), "customer:%lld", (long long)r->who.id);
    } else {
        snprintf(t->ch.actor, sizeof(t->ch.actor), "%s:%lld", r->who.role == MER_ROLE_ADMIN ? "admin" : "operator",
                 (long long)r->who.id);
    }
    if (ev == MER_OE_CANCEL) /* a paid order is refunded as part of the same transition */
        snprintf(t->ch.note, sizeof(t->ch.note), "cancelled by %s",
                 r->who.role == MER_ROLE_CUSTOMER ? "the customer" : "staff");
    return t;
}

static void h_cancel(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff cancel under /api/v1/admin/orders/{id}/cancel");
        return;
    }
    mer_call_write(&change_new(r, id, MER_OE_CANCEL)->k.c, r->who.region, change_fn);
}

/* Staff transitions: POST /admin/orders/{id}/{ship|deliver|complete|cancel} {"country": "IN", ...} */
static void admin_transition(mer_req_t *r, mer_order_event_t ev)
{
    static const char *const keys[] = {"country", "tracking_number", "note", NULL};
    mer_verr_t e = {0};
    const char *tracking = NULL, *note = NULL;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_str(r->body, "tracking_number", "tracking_number", 1, 64, false, &tracking, &e) ||
        mer_json_str(r->body, "note", "note", 0, 200, false, &note, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *c = staff_country(r);
    if (c == NULL)
        return;
    change_call_t *t = change_new(r, id, ev);
    snprintf(t->ch.country, sizeof(t->ch.country), "%s", c->code);
    snprintf(t->ch.tracking, sizeof(t->ch.tracking), "%s", tracking ? tracking : "");
    if (note && note[0])
        snprintf(t->ch.note, sizeof(t->ch.note), "%s", note);
    mer_call_write(&t->k.c, c->region, change_fn);
}

static void h_ship(mer_req_t *r)
{
    admin_transition(r, MER_OE_SHIP);
}
static void h_deliver(mer_req_t *r)
{
    admin_transition(r, MER_OE_DELIVER);
}
static void h_complete(mer_req_t *r)
{
    admin_transition(r, MER_OE_COMPLETE);
}
static void h_admin_cancel(mer_req_t *r)
{
    admin_transition(r, MER_OE_CANCEL);
}

/* ---- paying: open (writer) → charge (offload pool) → close (writer); see mer_order_payment_t ---- */

typedef struct pay_call {
    view_call_t k; /* the answer after the charge: the order */
    mer_order_payment_t p;
} pay_call_t;

/* The acquirer's call, between the two writer calls; holds the request. */
typedef struct pay_charge_job {
    mer_job_t o;
    mer_req_t *r;
    mer_order_payment_t p;
} pay_charge_job_t;

static void pay_reply_error(mer_call_t *c)
{
    reply_refused(c, MER_CONTAINER_OF(c, pay_call_t, k.c)->p.current);
}

static int pay_close_fn(mer_db_t *db, mer_call_t *c)
{
    pay_call_t *t = MER_CONTAINER_OF(c, pay_call_t, k.c);
    int err = mer_order_pay_close(db, &t->p, &c->verr);
    if (err || t->p.late || t->p.pay.status != MER_PAY_SUCCEEDED)
        return err;
    return mer_order_load(db, t->p.order_id, 0, &t->k.v);
}

static void pay_closed(mer_call_t *c)
{
    pay_call_t *t = MER_CONTAINER_OF(c, pay_call_t, k.c);
    if (t->p.late)
        mer_reply_error_ex(c->r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", t->p.current),
                           "order is %s; the payment was recorded and is being refunded", t->p.current);
    else if (t->p.pay.status != MER_PAY_SUCCEEDED)
        mer_reply_error_ex(c->r, t->p.pay.status == MER_PAY_DECLINED ? MER_E_VALIDATION : MER_E_UNAVAILABLE,
                           "card_token", json_pack("{s:s}", "payment_status", mer_pay_status_name(t->p.pay.status)),
                           "%s", t->p.pay.message);
    else
        mer_reply_order(c->r, 200, &t->k.v);
}

static void pay_charge_work(mer_job_t *o)
{
    mer_order_pay_charge(&MER_CONTAINER_OF(o, pay_charge_job_t, o)->p);
}

/* On the loop: the acquirer answered; record it (even when the customer has gone). */
static void pay_charge_done(mer_job_t *o)
{
    pay_charge_job_t *j = MER_CONTAINER_OF(o, pay_charge_job_t, o);
    pay_call_t *t = mer_call_new(j->r, sizeof(*t));
    t->p = j->p;
    t->k.c.reply = pay_closed;
    t->k.c.reply_error = pay_reply_error;
    t->k.c.cleanup = view_cleanup;
    mer_call_write(&t->k.c, t->p.region, pay_close_fn); /* unavailable: the reconciler finishes the charge */
    mer_req_release(j->r);
    free(j);
}

static int pay_open_fn(mer_db_t *db, mer_call_t *c)
{
    return mer_order_pay_open(db, &MER_CONTAINER_OF(c, pay_call_t, k.c)->p, &c->verr);
}

static void pay_opened(mer_call_t *c)
{
    pay_call_t *t = MER_CONTAINER_OF(c, pay_call_t, k.c);
    if (t->p.redirect)
        mer_reply_json(
            c->r, 202,
            json_pack("{s:s,s:s,s:s}", "status", "pending", "intent", t->p.intent, "redirect_url", t->p.redirect_url));
    /* else a card charge: pay_open_cleanup calls the acquirer and the answer comes after it */
}

/* The pending charge is on record: now call the acquirer, even if the customer has gone (the charge row is
 * closed with its answer either way). */
static void pay_open_cleanup(mer_call_t *c)
{
    pay_call_t *t = MER_CONTAINER_OF(c, pay_call_t, k.c);
    if (c->err == 0 && !t->p.redirect && t->p.payment_id) {
        pay_charge_job_t *j = mer_xcalloc(1, sizeof(*j));
        j->r = c->r;
        j->p = t->p;
        j->o.work = pay_charge_work;
        j->o.done = pay_charge_done;
        mer_req_hold(j->r);
        mer_offload_submit(&j->o);
    }
    view_cleanup(c);
}

static void h_pay(mer_req_t *r)
{
    static const char *const keys[] = {"card_token", NULL};
    mer_verr_t e = {0};
    const char *token = NULL;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "customers pay their own orders");
        return;
    }
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_str(r->body, "card_token", "card_token", 1, 79, false, &token, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    pay_call_t *t = mer_call_new(r, sizeof(*t));
    t->p.order_id = id;
    t->p.user_id = r->who.id;
    snprintf(t->p.region, sizeof(t->p.region), "%s", r->who.region);
    snprintf(t->p.card_token, sizeof(t->p.card_token), "%s", token ? token : "");
    t->k.c.reply = pay_opened;
    t->k.c.reply_error = pay_reply_error;
    t->k.c.cleanup = pay_open_cleanup;
    mer_call_write(&t->k.c, t->p.region, pay_open_fn);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/orders", h_list, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/orders/{id}", h_get, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/orders/{id}/cancel", h_cancel, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/orders/{id}/pay", h_pay, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/orders", h_admin_list, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/orders/{id}", h_admin_get, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/orders/{id}/ship", h_ship, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/orders/{id}/deliver", h_deliver, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/orders/{id}/complete", h_complete, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/orders/{id}/cancel", h_admin_cancel, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

const mer_routes_t mer_order_routes = {routes, MER_ARRAY_LEN(routes)};
