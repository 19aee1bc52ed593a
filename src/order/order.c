/*
 * order.c — reading orders, moving them through the state machine, and expiring unpaid ones.
 *
 * A transition is one writer job: load the order, ask fsm.h whether the event is legal (409 with the
 * current status if not), apply the stock effect (release on cancel/expire/refund-before-ship, consume on
 * ship), update the order, write an order_event row with actor and time, and record any payment. Calls
 * to payment providers happen before the job, on the offload pool (payment.h).
 */
#include <stdio.h>
#include <time.h>

#include "core/tz.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "order/refund.h"
#include "order/coupon.h"
#include "core/log.h"
#include "http/offload.h"
#include "inventory/inventory.h"
#include "order/order.h"
#include "order/order_events.h"
#include "payment/payment.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/ticker.h"
#include "store/writer.h"
#include "core/banned.h"

#define SWEEP_INTERVAL_MS 1000
#define SWEEP_BATCH 500

/* ---- reads ---- */

static void h_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff read orders under /api/v1/admin/orders");
        return;
    }
    mer_reply_order_id(r, r->who.region, id, r->who.id, 200);
}

/* Lists orders (newest first) of one user, or of a country for staff. */
static void list_orders(mer_req_t *r, mer_db_t *db, int64_t user_id, const char *country, const char *status)
{
    int64_t page, per_page, total = 0;
    if (mer_req_query_int(r, "page", 1, 100000, 1, &page) != 0 ||
        mer_req_query_int(r, "per_page", 1, 100, 20, &per_page) != 0)
        return;
    const mer_country_t *c = country ? mer_country_find(mer_countries(), country, 2) : NULL;
    if (mer_db_query_int(db, &total,
                         "SELECT COUNT(*) FROM orders WHERE (? = 0 OR user_id = ?) AND (? IS NULL OR country = ?) "
                         "AND (? IS NULL OR status = ?)",
                         "iissss", user_id, user_id, country, country, status, status) != 0) {
        mer_reply_error(r, MER_E_INTERNAL, NULL, NULL);
        return;
    }
    json_t *items = json_array();
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT id, number, status, country, grand_total, created_at, payment_method, lang "
                     "FROM orders WHERE (? = 0 OR user_id = ?) AND (? IS NULL OR country = ?) "
                     "AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
                     "iissssii", user_id, user_id, country, country, status, status, per_page, (page - 1) * per_page);
    while (mer_rows_next(rows)) {
        char ts[32], local[40];
        const mer_country_t *oc = c ? c : mer_country_find(mer_countries(), mer_rows_text(rows, 3), 2);
        mer_format_utc_ms(mer_rows_int(rows, 5), ts);
        mer_tz_format(mer_rows_int(rows, 5), oc ? oc->timezone : "UTC", local);
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:s}", "id", (json_int_t)mer_rows_int(rows, 0), "number",
                             mer_rows_text(rows, 1), "status", mer_rows_text(rows, 2), "country",
                             mer_rows_text(rows, 3), "grand_total",
                             oc ? mer_country_money(oc, mer_rows_int(rows, 4), mer_rows_text(rows, 7))
                                : json_integer(mer_rows_int(rows, 4)),
                             "payment_method", mer_rows_text(rows, 6), "created_at", ts, "created_at_local", local));
    }
    int err = mer_rows_end(rows);
    if (err) {
        json_decref(items);
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    mer_reply_json(r, 200,
                   json_pack("{s:I,s:I,s:I,s:o}", "page", (json_int_t)page, "per_page", (json_int_t)per_page, "total",
                             (json_int_t)total, "orders", items));
}

static void h_list(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff list orders under /api/v1/admin/orders");
        return;
    }
    list_orders(r, mer_store_reader(r->who.region), r->who.id, NULL, NULL);
}

/* Staff: the country named by ?country= (or body "country") must be theirs and local. */
/* The country an admin order route names (?country= or the body's "country"), checked. */
static const mer_country_t *staff_country(mer_req_t *r)
{
    const char *cc = mer_req_query(r, "country");
    if (cc == NULL && r->body)
        cc = json_string_value(json_object_get(r->body, "country"));
    return mer_req_staff_country(r, cc, "manage orders");
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
    list_orders(r, mer_store_reader(c->region), 0, c->code, status);
}

static void h_admin_get(mer_req_t *r)
{
    int64_t id;
    mer_order_view_t v;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    const mer_country_t *c = staff_country(r);
    if (c == NULL)
        return;
    int err = mer_order_load(mer_store_reader(c->region), id, 0, &v);
    if (err == 0 && strcmp(v.country, c->code) != 0)
        err = MER_E_NOT_FOUND;
    if (err)
        mer_reply_error(r, err, NULL, err == MER_E_NOT_FOUND ? "no such order in this country" : NULL);
    else
        mer_reply_order(r, 200, &v);
    mer_order_view_release(&v);
}

/* ---- transitions ---- */

typedef struct tr_job {
    mer_wjob_t w;
    mer_req_t *r; /* NULL for the sweeper */
    int64_t order_id;
    int64_t user_id; /* customer calls: the order must be theirs */
    char country[3]; /* staff calls: the order must be in this country */
    mer_order_event_t ev;
    char actor[48];
    char note[201];
    char tracking[65];
    char region[MER_REGION_NAME_MAX];
    /* results */
    char current[20];
    mer_verr_t e;
} tr_job_t;

/* Applies ev to the order inside the writer's transaction. Shared by every caller below. */
static int apply_transition(mer_db_t *db, tr_job_t *j)
{
    char status[20] = "", method[16] = "", country[3] = "", currency[4] = "";
    int64_t warehouse = 0, user = 0, total = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT status, payment_method, warehouse_id, user_id, country, grand_total, currency "
                                 "FROM orders WHERE id = ?",
                                 "i", j->order_id);
    bool found = mer_rows_next(r);
    if (found) {
        snprintf(status, sizeof(status), "%s", mer_rows_text(r, 0));
        snprintf(method, sizeof(method), "%s", mer_rows_text(r, 1));
        warehouse = mer_rows_int(r, 2);
        user = mer_rows_int(r, 3);
        snprintf(country, sizeof(country), "%s", mer_rows_text(r, 4));
        total = mer_rows_int(r, 5);
        snprintf(currency, sizeof(currency), "%s", mer_rows_text(r, 6));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!found || (j->user_id && user != j->user_id) || (j->country[0] && strcmp(country, j->country) != 0))
        return mer_verr_set(&j->e, MER_E_NOT_FOUND, NULL, "no such order");
    snprintf(j->current, sizeof(j->current), "%s", status);

    mer_order_status_t from, to;
    if (mer_order_status_parse(status, &from) != 0 || mer_order_transition(from, j->ev, &to) != 0) {
        return mer_verr_set(&j->e, MER_E_CONFLICT, "status", "order is %s; it cannot %s", status,
                            mer_order_event_name(j->ev));
    }
    /* the money arrives: paid (prepaid), or delivered (cash on delivery, which fsm.h never lets pay) */
    bool cod = strcmp(method, "cod") == 0;
    bool money_in = to == MER_OS_PAID || (to == MER_OS_DELIVERED && cod);

    /* stock */
    if (mer_order_releases_stock(from, j->ev) || j->ev == MER_OE_SHIP) {
        mer_stock_line_t sl[MER_ORDER_MAX_LINES];
        size_t n = 0;
        /* units already refunded (and so released) before shipping are not released or shipped again */
        r = mer_db_query(db,
                         "SELECT sku_id, quantity - refunded_qty FROM order_line WHERE order_id = ? "
                         "AND quantity > refunded_qty ORDER BY line_no",
                         "i", j->order_id);
        while (mer_rows_next(r) && n < MER_ORDER_MAX_LINES) {
            sl[n].sku_id = mer_rows_int(r, 0);
            sl[n++].quantity = mer_rows_int(r, 1);
        }
        if ((err = mer_rows_end(r)) != 0)
            return err;
        err = j->ev == MER_OE_SHIP ? mer_stock_consume(db, warehouse, sl, n, j->order_id)
                                   : mer_stock_release(db, warehouse, sl, n);
        if (err)
            return err;
        /* flash-sale units of an order that ends unshipped go back to their session */
        if (j->ev != MER_OE_SHIP && (err = mer_flash_order_closed(db, j->order_id)) != 0)
            return err;
    }

    if (j->ev == MER_OE_SHIP) {
        /* the tracking number given, else the one logistics booked */
        if (j->tracking[0] == '\0') {
            mer_rows_t *sr =
                mer_db_query(db, "SELECT tracking_number FROM shipment WHERE order_id = ?", "i", j->order_id);
            if (mer_rows_next(sr))
                snprintf(j->tracking, sizeof(j->tracking), "%s", mer_rows_text(sr, 0));
            mer_rows_end(sr);
        }
        if (j->tracking[0] == '\0')
            return mer_verr_set(&j->e, MER_E_VALIDATION, "tracking_number",
                                "tracking_number is required: no shipment was booked for this order");
    }
    /* MER_OS_REFUNDED: payment_status follows the refund (mer_refund_request / the payments subscriber) */
    int64_t now = mer_now_unix_ms();
    if (mer_db_exec(db,
                    "UPDATE orders SET status = ?, payment_status = COALESCE(?, payment_status), "
                    "tracking_number = COALESCE(?, tracking_number), updated_at = ? WHERE id = ?",
                    "sssii", mer_order_status_name(to), money_in ? "paid" : NULL,
                    j->ev == MER_OE_SHIP ? j->tracking : NULL, now, j->order_id) != 1)
        return MER_E_INTERNAL;
    if (mer_db_exec(
            db, "INSERT INTO order_event (order_id, from_status, to_status, actor, note, at) VALUES (?, ?, ?, ?, ?, ?)",
            "issssi", j->order_id, status, mer_order_status_name(to), j->actor, j->note, now) < 0)
        return MER_E_INTERNAL;
    if (to == MER_OS_REFUNDED && (err = mer_refund_request(db, j->order_id, -1, j->note, 0)) < 0)
        return err;
    if (money_in && (err = mer_coupon_settle(db, j->order_id, true)) != 0)
        return err;
    if (to == MER_OS_CANCELLED && (err = mer_coupon_settle(db, j->order_id, false)) != 0)
        return err;
    static const char *const event_of[MER_OS__COUNT] = {
        [MER_OS_PAID] = "order.paid",           [MER_OS_SHIPPED] = "order.shipped",
        [MER_OS_DELIVERED] = "order.delivered", [MER_OS_COMPLETED] = "order.completed",
        [MER_OS_CANCELLED] = "order.cancelled", [MER_OS_REFUNDED] = "order.refund_requested",
    };
    if (event_of[to] && (err = mer_event_emit_order(db, event_of[to], j->order_id)) != 0)
        return err;
    if (money_in && cod &&
        mer_db_exec(db,
                    "INSERT INTO payment (order_id, provider, kind, amount, currency, status, reason, created_at) "
                    "VALUES (?, 'cod', 'charge', ?, ?, 'succeeded', 'collected on delivery', ?)",
                    "iisi", j->order_id, total, currency, now) < 0)
        return MER_E_INTERNAL;
    snprintf(j->current, sizeof(j->current), "%s", mer_order_status_name(to));
    return 0;
}

int mer_order_transition_db(mer_db_t *db, int64_t order_id, mer_order_event_t ev, const char *actor, const char *note,
                            char current[20])
{
    tr_job_t t;
    memset(&t, 0, sizeof(t));
    t.order_id = order_id;
    t.ev = ev;
    snprintf(t.actor, sizeof(t.actor), "%s", actor);
    snprintf(t.note, sizeof(t.note), "%s", note ? note : "");
    int err = apply_transition(db, &t); /* a refusal's error is its t.e.code */
    snprintf(current, 20, "%s", t.current);
    return err;
}

static int tr_run(mer_db_t *db, mer_wjob_t *w)
{
    tr_job_t *j = H2O_STRUCT_FROM_MEMBER(tr_job_t, w, w);
    return apply_transition(db, j);
}

/*
 * Answers a writer job of an order that failed (err != 0) and returns true: a refusal collected in e, a
 * conflict also naming the order's current status; else the error. Returns false when err is 0.
 */
static bool reply_failed(mer_req_t *r, int err, const mer_verr_t *e, const char *current)
{
    if (err == 0)
        return false;
    if (e->code == MER_E_CONFLICT)
        mer_reply_error_ex(r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", current), "%s",
                           e->message);
    else if (e->code)
        mer_reply_verr(r, e);
    else
        mer_reply_error(r, err, NULL, NULL);
    return true;
}

static void tr_done(mer_wjob_t *w)
{
    tr_job_t *j = H2O_STRUCT_FROM_MEMBER(tr_job_t, w, w);
    mer_req_t *r = j->r;
    if (r && !r->gone && !reply_failed(r, w->err, &j->e, j->current))
        mer_reply_order_id(r, j->region, j->order_id, 0, 200);
    if (r)
        mer_req_release(r);
    free(j);
}

static tr_job_t *tr_new(mer_req_t *r, int64_t order_id, mer_order_event_t ev)
{
    tr_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->order_id = order_id;
    j->ev = ev;
    j->w.run = tr_run;
    j->w.done = tr_done;
    if (r->who.role == MER_ROLE_CUSTOMER) {
        j->user_id = r->who.id;
        snprintf(j->region, sizeof(j->region), "%s", r->who.region);
        snprintf(j->actor, sizeof(j->actor), "customer:%lld", (long long)r->who.id);
    } else {
        snprintf(j->actor, sizeof(j->actor), "%s:%lld", r->who.role == MER_ROLE_ADMIN ? "admin" : "operator",
                 (long long)r->who.id);
    }
    return j;
}

static void submit_tr(mer_req_t *r, tr_job_t *j)
{
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);
}

/* Cancelling: a paid order is refunded as part of the same transition (see apply_transition). */
static void cancel(mer_req_t *r, tr_job_t *j)
{
    if (j->note[0] == '\0')
        snprintf(j->note, sizeof(j->note), "cancelled by %s",
                 r->who.role == MER_ROLE_CUSTOMER ? "the customer" : "staff");
    submit_tr(r, j);
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
    cancel(r, tr_new(r, id, MER_OE_CANCEL));
}

/*
 * POST /orders/{id}/pay {"card_token": "tok_visa"}. Three steps, so that money is never taken without a
 * record: (1) a writer job opens a pending charge row (refused if the order is not payable or a charge
 * is already pending or done: no double charge); (2) the acquirer is called on the offload pool; (3) a
 * writer job closes the row with the outcome and, on success, pays the order — or, if the order was
 * closed meanwhile, refunds that very charge. A crash between (1) and (3) leaves a pending row that the
 * sweeper finishes (pay_reconcile).
 */
typedef struct pay_job {
    mer_wjob_t w;
    mer_job_t o;
    mer_req_t *r;
    int64_t order_id, user_id, payment_id, amount;
    char region[MER_REGION_NAME_MAX], number[MER_ORDER_NUMBER_MAX], currency[4], token[80];
    bool closing;
    mer_pay_result_t pay;
    char current[20];
    bool late;
    mer_verr_t e;
} pay_job_t;

/* An order as a new charge attempt sees it. */
typedef struct payable {
    char status[20], method[16], currency[4], number[MER_ORDER_NUMBER_MAX];
    int64_t amount;
    bool busy; /* a charge is pending or succeeded: no second one */
} payable_t;

/* Loads order_id of user_id for a charge attempt (writer thread). Returns 0, MER_E_NOT_FOUND or an error. */
static int load_payable(mer_db_t *db, int64_t order_id, int64_t user_id, payable_t *p)
{
    memset(p, 0, sizeof(*p));
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT status, payment_method, grand_total, currency, number, "
                                 "(SELECT COUNT(*) FROM payment p WHERE p.order_id = o.id AND p.kind = 'charge' AND "
                                 "p.status IN ('pending', 'succeeded')) FROM orders o WHERE id = ? AND user_id = ?",
                                 "ii", order_id, user_id);
    bool found = mer_rows_next(r);
    if (found) {
        snprintf(p->status, sizeof(p->status), "%s", mer_rows_text(r, 0));
        snprintf(p->method, sizeof(p->method), "%s", mer_rows_text(r, 1));
        p->amount = mer_rows_int(r, 2);
        snprintf(p->currency, sizeof(p->currency), "%s", mer_rows_text(r, 3));
        snprintf(p->number, sizeof(p->number), "%s", mer_rows_text(r, 4));
        p->busy = mer_rows_int(r, 5) != 0;
    }
    int err = mer_rows_end(r);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

static int pay_open(mer_db_t *db, pay_job_t *j)
{
    payable_t p;
    int err = load_payable(db, j->order_id, j->user_id, &p);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&j->e, MER_E_NOT_FOUND, NULL, "no such order");
    if (err)
        return err;
    j->amount = p.amount;
    snprintf(j->currency, sizeof(j->currency), "%s", p.currency);
    snprintf(j->number, sizeof(j->number), "%s", p.number);
    snprintf(j->current, sizeof(j->current), "%s", p.status);
    if (strcmp(p.status, "pending_payment") != 0)
        return mer_verr_set(&j->e, MER_E_CONFLICT, "status", "order is %s; it cannot be paid", p.status);
    if (strcmp(p.method, "card") != 0)
        return mer_verr_set(&j->e, MER_E_VALIDATION, "payment_method", "this order is paid with %s, not by card",
                            p.method);
    if (p.busy)
        return mer_verr_set(&j->e, MER_E_CONFLICT, "status", "a payment for this order is already under way");
    return mer_db_query_int(db, &j->payment_id,
                            "INSERT INTO payment (order_id, provider, kind, amount, currency, status, request, "
                            "created_at) VALUES (?, 'card', 'charge', ?, ?, 'pending', ?, ?) RETURNING id",
                            "iissi", j->order_id, j->amount, j->currency, j->token, mer_now_unix_ms());
}

int mer_order_charge_succeeded(mer_db_t *db, int64_t order_id, int64_t payment_id, int64_t amount, const char *actor,
                               const char *note, char current[20])
{
    /* the order already holds the money of another charge (a late success for an old wallet attempt): this
     * one is a duplicate, not the order's money; it is given back in full and the order stays as it is */
    int64_t paid_by = 0;
    int err = mer_db_query_int(db, &paid_by,
                               "SELECT COALESCE(MIN(id), 0) FROM payment WHERE order_id = ? AND kind = 'charge' AND "
                               "status = 'succeeded' AND duplicate_of IS NULL AND id <> ?",
                               "ii", order_id, payment_id);
    if (err)
        return err;
    if (paid_by) {
        char why[160];
        snprintf(why, sizeof(why), "paid twice: the order was already paid by payment %lld; refunded in full",
                 (long long)paid_by);
        if (mer_db_exec(db, "UPDATE payment SET duplicate_of = ?, reason = ? WHERE id = ?", "isi", paid_by, why,
                        payment_id) != 1)
            return MER_E_INTERNAL;
        mer_rows_t *r = mer_db_query(db, "SELECT status FROM orders WHERE id = ?", "i", order_id);
        if (mer_rows_next(r))
            snprintf(current, 20, "%s", mer_rows_text(r, 0));
        if ((err = mer_rows_end(r)) != 0)
            return err;
        int64_t got = mer_refund_request(db, order_id, amount, "paid twice: duplicate payment returned", payment_id);
        return got < 0 ? (int)got : 2;
    }
    err = mer_order_transition_db(db, order_id, MER_OE_PAY, actor, note, current);
    if (err != MER_E_CONFLICT)
        return err;
    /* the order was closed while the money was on its way: give this charge back */
    int64_t got = mer_refund_request(db, order_id, amount, "paid after the order was closed", payment_id);
    return got < 0 ? (int)got : 1;
}

/* Records the acquirer's answer for a pending charge (writer thread). Shared with the reconciler. */
static int pay_close_db(mer_db_t *db, int64_t payment_id, int64_t order_id, int64_t amount, const mer_pay_result_t *pay,
                        char current[20], bool *late)
{
    const char *st = pay->status == MER_PAY_SUCCEEDED  ? "succeeded"
                     : pay->status == MER_PAY_DECLINED ? "failed"
                                                       : "pending";
    if (pay->status == MER_PAY_ERROR)
        return 0; /* no answer: stays pending, the reconciler asks again */
    int rc = mer_db_exec(db,
                         "UPDATE payment SET status = ?, provider_ref = NULLIF(?, ''), reason = ? WHERE id = ? "
                         "AND status = 'pending'",
                         "sssi", st, pay->provider_ref, pay->message, payment_id);
    if (rc < 0)
        return rc;
    if (rc == 0 || pay->status != MER_PAY_SUCCEEDED)
        return 0; /* already closed by the other path, or declined */
    int err = mer_order_charge_succeeded(db, order_id, payment_id, amount, "provider:card", "charged", current);
    if (err < 0)
        return err;
    *late = err != 0;
    return 0;
}

static int pay_run(mer_db_t *db, mer_wjob_t *w)
{
    pay_job_t *j = H2O_STRUCT_FROM_MEMBER(pay_job_t, w, w);
    if (!j->closing)
        return pay_open(db, j);
    return pay_close_db(db, j->payment_id, j->order_id, j->amount, &j->pay, j->current, &j->late);
}

/*
 * Asks the acquirer for pending charge payment_id (offload pool or sweeper, never the writer). The key is
 * the charge's id, so the reconciler asking again cannot charge twice.
 */
static void charge_card(int64_t payment_id, const char *number, int64_t amount, const char *currency, const char *token,
                        mer_pay_result_t *out)
{
    char key[32];
    snprintf(key, sizeof(key), "pay-%lld", (long long)payment_id);
    mer_charge_t c = {number, amount, currency, token, key};
    mer_payment_provider("card")->charge(&c, out);
}

static void pay_charge(mer_job_t *o)
{
    pay_job_t *j = H2O_STRUCT_FROM_MEMBER(pay_job_t, o, o);
    charge_card(j->payment_id, j->number, j->amount, j->currency, j->token, &j->pay);
}

static void pay_done(mer_wjob_t *w);

static void pay_charged(mer_job_t *o)
{
    pay_job_t *j = H2O_STRUCT_FROM_MEMBER(pay_job_t, o, o);
    mer_req_t *r = j->r;
    j->closing = true;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);        /* answered 503; the pending row is finished by the reconciler */
    mer_req_release(r); /* the hold taken for the acquirer call */
}

static void pay_done(mer_wjob_t *w)
{
    pay_job_t *j = H2O_STRUCT_FROM_MEMBER(pay_job_t, w, w);
    mer_req_t *r = j->r;
    if (!j->closing && w->err == 0) {
        /* the pending charge is on record: now call the acquirer */
        j->o.work = pay_charge;
        j->o.done = pay_charged;
        mer_offload_submit(&j->o); /* keeps the request's hold */
        return;
    }
    if (!r->gone && !reply_failed(r, w->err, &j->e, j->current)) {
        if (j->late)
            mer_reply_error_ex(r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", j->current),
                               "order is %s; the payment was recorded and is being refunded", j->current);
        else if (j->pay.status != MER_PAY_SUCCEEDED)
            mer_reply_error_ex(r, j->pay.status == MER_PAY_DECLINED ? MER_E_VALIDATION : MER_E_UNAVAILABLE,
                               "card_token", json_pack("{s:s}", "payment_status", mer_pay_status_name(j->pay.status)),
                               "%s", j->pay.message);
        else
            mer_reply_order_id(r, j->region, j->order_id, 0, 200);
    }
    mer_req_release(r);
    free(j);
}

/* ---- a new wallet attempt after a failed one ---- */

typedef struct retry_job {
    mer_wjob_t w;
    mer_req_t *r;
    int64_t order_id, user_id;
    char region[MER_REGION_NAME_MAX], intent[64], redirect_url[256], current[20];
    mer_verr_t e;
} retry_job_t;

static int retry_run(mer_db_t *db, mer_wjob_t *w)
{
    retry_job_t *j = H2O_STRUCT_FROM_MEMBER(retry_job_t, w, w);
    payable_t p;
    int err = load_payable(db, j->order_id, j->user_id, &p);
    if (err == 0 && strcmp(p.method, "wallet") != 0)
        err = MER_E_NOT_FOUND;
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&j->e, MER_E_NOT_FOUND, NULL, "no such order");
    if (err)
        return err;
    snprintf(j->current, sizeof(j->current), "%s", p.status);
    if (strcmp(p.status, "pending_payment") != 0 || p.busy)
        return mer_verr_set(&j->e, MER_E_CONFLICT, "status", "order is %s; a payment is already under way or done",
                            p.status);
    mer_wallet_new_intent(j->region, p.currency, j->intent, j->redirect_url, sizeof(j->redirect_url));
    return mer_db_exec(db,
                       "INSERT INTO payment (order_id, provider, kind, amount, currency, status, intent, created_at) "
                       "VALUES (?, 'wallet', 'charge', ?, ?, 'pending', ?, ?)",
                       "iissi", j->order_id, p.amount, p.currency, j->intent, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

static void retry_done(mer_wjob_t *w)
{
    retry_job_t *j = H2O_STRUCT_FROM_MEMBER(retry_job_t, w, w);
    mer_req_t *r = j->r;
    if (!r->gone && !reply_failed(r, w->err, &j->e, j->current))
        mer_reply_json(
            r, 202,
            json_pack("{s:s,s:s,s:s}", "status", "pending", "intent", j->intent, "redirect_url", j->redirect_url));
    mer_req_release(r);
    free(j);
}

static void wallet_retry(mer_req_t *r, int64_t order_id)
{
    retry_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->order_id = order_id;
    j->user_id = r->who.id;
    snprintf(j->region, sizeof(j->region), "%s", r->who.region);
    j->w.run = retry_run;
    j->w.done = retry_done;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);
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
    /* with the wallet's pending intent, if any (the one an order answer shows) */
    mer_rows_t *rows = mer_db_query(mer_store_reader(r->who.region),
                                    "SELECT status, payment_method, currency, COALESCE((SELECT intent FROM payment p "
                                    "WHERE p.order_id = o.id AND p.kind = 'charge' AND p.status = 'pending' AND "
                                    "p.intent IS NOT NULL ORDER BY p.id DESC LIMIT 1), '') "
                                    "FROM orders o WHERE id = ? AND user_id = ?",
                                    "ii", id, r->who.id);
    if (!mer_rows_next(rows)) {
        mer_rows_end(rows);
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such order");
        return;
    }
    char status[20], method[16], currency[4], intent[64];
    snprintf(status, sizeof(status), "%s", mer_rows_text(rows, 0));
    snprintf(method, sizeof(method), "%s", mer_rows_text(rows, 1));
    snprintf(currency, sizeof(currency), "%s", mer_rows_text(rows, 2));
    snprintf(intent, sizeof(intent), "%s", mer_rows_text(rows, 3));
    mer_rows_end(rows);
    if (strcmp(status, "pending_payment") != 0) {
        mer_reply_error_ex(r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", status),
                           "order is %s; it cannot be paid", status);
        return;
    }
    if (strcmp(method, "wallet") == 0) {
        /* redirect payments: show where to pay; the wallet's webhook brings the result */
        if (intent[0] == '\0') {
            wallet_retry(r, id); /* the last attempt failed at the wallet: open a new one */
            return;
        }
        char url[512];
        mer_wallet_redirect_url(intent, currency, url, sizeof(url));
        mer_reply_json(r, 202, json_pack("{s:s,s:s,s:s}", "status", "pending", "intent", intent, "redirect_url", url));
        return;
    }
    if (strcmp(method, "card") != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "payment_method", "this order is paid with %s, not by card here", method);
        return;
    }
    if (token == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "card_token", "card_token is required for card payments");
        return;
    }
    pay_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->order_id = id;
    j->user_id = r->who.id;
    snprintf(j->region, sizeof(j->region), "%s", r->who.region);
    snprintf(j->token, sizeof(j->token), "%s", token);
    j->w.run = pay_run;
    j->w.done = pay_done;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);
}

/*
 * Finishes card charges left pending by a crash or a shutdown between opening and closing: the acquirer
 * is asked again with the same request (an acquirer de-duplicates on the charge's id), and the answer is
 * recorded as if it had come the first time. Runs on the sweeper thread.
 */
typedef struct reconcile_arg {
    int64_t payment_id, order_id, amount;
    char token[80], number[MER_ORDER_NUMBER_MAX], currency[4];
    mer_pay_result_t pay;
} reconcile_arg_t;

static int reconcile_close(mer_db_t *db, void *arg)
{
    reconcile_arg_t *a = arg;
    char current[20];
    bool late = false;
    return pay_close_db(db, a->payment_id, a->order_id, a->amount, &a->pay, current, &late);
}

static void pay_reconcile(const char *region)
{
    reconcile_arg_t pending[64];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(mer_store_reader(region),
                                 "SELECT p.id, p.order_id, p.amount, COALESCE(p.request, ''), o.number, p.currency "
                                 "FROM payment p JOIN orders o ON o.id = p.order_id WHERE p.status = 'pending' AND "
                                 "p.kind = 'charge' AND p.provider = 'card' AND p.created_at < ? LIMIT 64",
                                 "i", mer_now_unix_ms() - 30000);
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(pending)) {
        reconcile_arg_t *a = &pending[n++];
        memset(a, 0, sizeof(*a));
        a->payment_id = mer_rows_int(r, 0);
        a->order_id = mer_rows_int(r, 1);
        a->amount = mer_rows_int(r, 2);
        snprintf(a->token, sizeof(a->token), "%s", mer_rows_text(r, 3));
        snprintf(a->number, sizeof(a->number), "%s", mer_rows_text(r, 4));
        snprintf(a->currency, sizeof(a->currency), "%s", mer_rows_text(r, 5));
    }
    mer_rows_end(r);
    for (size_t i = 0; i < n; i++) {
        reconcile_arg_t *a = &pending[i];
        charge_card(a->payment_id, a->number, a->amount, a->currency, a->token, &a->pay);
        if (mer_writer_run_sync(region, reconcile_close, a) == 0)
            mer_log_info("finished pending card charge %lld of order %lld: %s", (long long)a->payment_id,
                         (long long)a->order_id, mer_pay_status_name(a->pay.status));
    }
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
    tr_job_t *j = tr_new(r, id, ev);
    snprintf(j->country, sizeof(j->country), "%s", c->code);
    snprintf(j->region, sizeof(j->region), "%s", c->region);
    snprintf(j->tracking, sizeof(j->tracking), "%s", tracking ? tracking : "");
    snprintf(j->note, sizeof(j->note), "%s", note ? note : "");
    if (ev == MER_OE_CANCEL)
        cancel(r, j);
    else
        submit_tr(r, j);
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

/* ---- expiry sweeper ---- */

typedef struct sweep_job {
    mer_wjob_t w;
    int expired;
} sweep_job_t;

static int sweep_run(mer_db_t *db, mer_wjob_t *w)
{
    sweep_job_t *s = H2O_STRUCT_FROM_MEMBER(sweep_job_t, w, w);
    int64_t ids[SWEEP_BATCH];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT id FROM orders WHERE status = 'pending_payment' AND expires_at <= ? "
                                 "ORDER BY expires_at LIMIT ?",
                                 "ii", mer_now_unix_ms(), (int64_t)SWEEP_BATCH);
    while (mer_rows_next(r) && n < SWEEP_BATCH)
        ids[n++] = mer_rows_int(r, 0);
    int err = mer_rows_end(r);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        char current[20];
        if ((err = mer_order_transition_db(db, ids[i], MER_OE_EXPIRE, "system", "not paid in time", current)) != 0)
            return err;
        s->expired++;
    }
    return 0;
}

static void sweep_done(mer_wjob_t *w)
{
    sweep_job_t *s = H2O_STRUCT_FROM_MEMBER(sweep_job_t, w, w);
    if (s->expired)
        mer_log_info("cancelled %d unpaid orders past their payment deadline", s->expired);
    free(s);
}

static mer_ticker_t sweeper = MER_TICKER_INIT;

static void sweep(void *arg)
{
    (void)arg;
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++) {
        if (!cs->regions[i].local)
            continue;
        /* a writer batch only when an order is due: an idle store must not look like write load */
        int64_t due = 0;
        mer_db_t *rd = mer_store_reader(cs->regions[i].name);
        if (rd &&
            mer_db_query_int(rd, &due,
                             "SELECT EXISTS (SELECT 1 FROM orders WHERE status = 'pending_payment' AND "
                             "expires_at <= ?)",
                             "i", mer_now_unix_ms()) == 0 &&
            due) {
            sweep_job_t *s = mer_xcalloc(1, sizeof(*s));
            s->w.run = sweep_run;
            s->w.done = sweep_done;
            if (mer_writer_submit(cs->regions[i].name, &s->w) != 0)
                free(s);
        }
        pay_reconcile(cs->regions[i].name);
    }
}

static void order_stop(void)
{
    mer_ticker_stop(&sweeper);
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

static const mer_routes_t order_routes = {routes, MER_ARRAY_LEN(routes)};

static int order_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_order_events_init();
    mer_ticker_start(&sweeper, sweep, NULL, SWEEP_INTERVAL_MS);
    return 0;
}

const mer_module_t mer_order_module = {
    .name = "order",
    .init = order_init,
    .routes = MER_MODULE_ROUTES(&mer_checkout_routes, &order_routes, &mer_refund_routes, &mer_coupon_routes),
    .thread_exit = mer_order_thread_release,
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = order_stop,
};
