/*
 * order.c — the order service (order.h): listing orders, moving them through the state machine, paying
 * them, and expiring unpaid ones; the order module. The HTTP adapter is order_http.c.
 *
 * A transition is one writer job: load the order, ask fsm.h whether the event is legal (409 with the
 * current status if not), apply the stock effect through the order's shipments (shipment.h: release on
 * cancel/expire/refund-before-ship, consume on ship, each shipment from its own warehouse), update the order, write an
 * order_event row with actor and time, and record any payment. Calls to payment providers happen before the job, on the
 * offload pool (payment.h).
 */
#include <stdio.h>
#include <time.h>

#include "core/tz.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "order/refund.h"
#include "order/coupon.h"
#include "core/log.h"
#include "inventory/inventory.h"
#include "order/order.h"
#include "order/order_events.h"
#include "order/returns.h"
#include "order/shipment.h"
#include "payment/payment.h"
#include "store/store.h"
#include "store/ticker.h"
#include "store/writer.h"
#include "core/banned.h"

#define SWEEP_INTERVAL_MS 1000
#define SWEEP_BATCH 500

/* ---- reads ---- */

/* A customer's orders are read through orders_user (user_id, created_at, id), in the listing's order, so a page
 * costs its own rows whatever the region holds; staff's listing has no customer to seek. (One statement for
 * both, "? = 0 OR user_id = ?", can use no index: the planner cannot know which side holds.) */
#define ORDER_LIST_COLUMNS                                                                                             \
    "SELECT id, number, status, country, grand_total, created_at, payment_method, lang FROM orders "
#define ORDER_LIST_FILTERS "(? IS NULL OR country = ?) AND (? IS NULL OR status = ?)"
#define ORDER_LIST_ORDER " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"

int mer_order_list(mer_db_t *db, const mer_order_query_t *q, mer_order_page_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *country = q->country[0] ? q->country : NULL, *status = q->status[0] ? q->status : NULL;
    int64_t offset = (q->page - 1) * q->per_page;
    int err = q->user_id ? mer_db_query_int(db, &out->total,
                                            "SELECT COUNT(*) FROM orders WHERE user_id = ? AND " ORDER_LIST_FILTERS,
                                            "issss", q->user_id, country, country, status, status)
                         : mer_db_query_int(db, &out->total, "SELECT COUNT(*) FROM orders WHERE " ORDER_LIST_FILTERS,
                                            "ssss", country, country, status, status);
    if (err)
        return MER_E_INTERNAL;
    out->items = mer_xcalloc((size_t)q->per_page, sizeof(*out->items));
    mer_rows_t *rows =
        q->user_id ? mer_db_query(db, ORDER_LIST_COLUMNS "WHERE user_id = ? AND " ORDER_LIST_FILTERS ORDER_LIST_ORDER,
                                  "issssii", q->user_id, country, country, status, status, q->per_page, offset)
                   : mer_db_query(db, ORDER_LIST_COLUMNS "WHERE " ORDER_LIST_FILTERS ORDER_LIST_ORDER, "ssssii",
                                  country, country, status, status, q->per_page, offset);
    while (mer_rows_next(rows) && out->n < (size_t)q->per_page) {
        mer_order_summary_t *o = &out->items[out->n++];
        o->id = mer_rows_int(rows, 0);
        snprintf(o->number, sizeof(o->number), "%s", mer_rows_text(rows, 1));
        snprintf(o->status, sizeof(o->status), "%s", mer_rows_text(rows, 2));
        snprintf(o->country, sizeof(o->country), "%s", mer_rows_text(rows, 3));
        o->grand_total = mer_rows_int(rows, 4);
        o->created_at = mer_rows_int(rows, 5);
        snprintf(o->payment_method, sizeof(o->payment_method), "%s", mer_rows_text(rows, 6));
        snprintf(o->lang, sizeof(o->lang), "%s", mer_rows_text(rows, 7));
    }
    if ((err = mer_rows_end(rows)) != 0)
        mer_order_page_release(out);
    return err;
}

void mer_order_page_release(mer_order_page_t *p)
{
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* ---- transitions ---- */

int mer_order_change(mer_db_t *db, mer_order_change_t *j, mer_verr_t *e)
{
    char status[20] = "", method[16] = "", country[3] = "", currency[4] = "", number[MER_ORDER_NUMBER_MAX] = "";
    int64_t user = 0, total = 0, credit = 0;
    mer_rows_t *r =
        mer_db_query(db,
                     "SELECT status, payment_method, user_id, country, grand_total, currency, store_credit, "
                     "number FROM orders WHERE id = ?",
                     "i", j->order_id);
    bool found = mer_rows_next(r);
    if (found) {
        snprintf(status, sizeof(status), "%s", mer_rows_text(r, 0));
        snprintf(method, sizeof(method), "%s", mer_rows_text(r, 1));
        user = mer_rows_int(r, 2);
        snprintf(country, sizeof(country), "%s", mer_rows_text(r, 3));
        total = mer_rows_int(r, 4);
        snprintf(currency, sizeof(currency), "%s", mer_rows_text(r, 5));
        credit = mer_rows_int(r, 6);
        snprintf(number, sizeof(number), "%s", mer_rows_text(r, 7));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!found || (j->user_id && user != j->user_id) || (j->country[0] && strcmp(country, j->country) != 0))
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    snprintf(j->current, sizeof(j->current), "%s", status);

    mer_order_status_t from, to;
    if (mer_order_status_parse(status, &from) != 0 || mer_order_transition(from, j->ev, &to) != 0) {
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; it cannot %s", status,
                            mer_order_event_name(j->ev));
    }
    /* the money arrives: paid (prepaid), or delivered (cash on delivery, which fsm.h never lets pay) */
    bool cod = strcmp(method, "cod") == 0;
    bool money_in = to == MER_OS_PAID || (to == MER_OS_DELIVERED && cod);

    if (j->ev == MER_OE_SHIP) {
        /* the tracking number given (every pending shipment gets it), else the one logistics booked */
        bool given = j->tracking[0] != '\0';
        if (!given) {
            mer_rows_t *sr =
                mer_db_query(db, "SELECT tracking_number FROM shipment WHERE order_id = ?", "i", j->order_id);
            if (mer_rows_next(sr))
                snprintf(j->tracking, sizeof(j->tracking), "%s", mer_rows_text(sr, 0));
            mer_rows_end(sr);
        }
        if (j->tracking[0] == '\0')
            return mer_verr_set(e, MER_E_VALIDATION, "tracking_number",
                                "tracking_number is required: no shipment was booked for this order");
        /* stock: every pending shipment's units consumed from its own warehouse (shipment.h) */
        err = mer_shipments_ship_pending(db, j->order_id, given ? j->tracking : NULL, j->tracking);
        if (err == MER_E_VALIDATION)
            return mer_verr_set(e, MER_E_VALIDATION, "tracking_number", "tracking_number is required");
        if (err)
            return err;
    } else if (j->ev == MER_OE_DELIVER && (err = mer_shipments_deliver_shipped(db, j->order_id)) != 0) {
        return err;
    }
    /* stock: an order that ends unshipped gives every pending shipment's reservation back */
    if (mer_order_releases_stock(from, j->ev)) {
        if ((err = mer_shipments_release(db, j->order_id)) != 0)
            return err;
        /* flash-sale units of an order that ends unshipped go back to their session */
        if ((err = mer_flash_order_closed(db, j->order_id)) != 0)
            return err;
    }
    /* MER_OS_REFUNDED: payment_status follows the refund (mer_refund_request / the payments subscriber) */
    int64_t now = mer_now_unix_ms();
    /* only from the status read above: another node (another writer on the same database) that moved the
     * order meanwhile makes this one a conflict, and the job's savepoint undoes what it did to the stock */
    int moved =
        mer_db_exec(db,
                    "UPDATE orders SET status = ?, payment_status = COALESCE(?, payment_status), "
                    "tracking_number = COALESCE(?, tracking_number), updated_at = ? WHERE id = ? AND status = ?",
                    "sssiis", mer_order_status_name(to), money_in ? "paid" : NULL,
                    j->ev == MER_OE_SHIP ? j->tracking : NULL, now, j->order_id, status);
    if (moved == 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "the order was changed meanwhile; read it and try again");
    if (moved != 1)
        return moved < 0 ? moved : MER_E_INTERNAL;
    if (mer_db_exec(
            db, "INSERT INTO order_event (order_id, from_status, to_status, actor, note, at) VALUES (?, ?, ?, ?, ?, ?)",
            "issssi", j->order_id, status, mer_order_status_name(to), j->actor, j->note, now) < 0)
        return MER_E_INTERNAL;
    if (to == MER_OS_REFUNDED && (err = mer_refund_request(db, j->order_id, -1, j->note, 0)) < 0)
        return err;
    /* the store credit spent on an order cancelled (or expired) unpaid goes back as credit: once, as the state is
     * final and the update above moved the order from its status read (refunded: mer_refund_request's) */
    if (to == MER_OS_CANCELLED && credit > 0) {
        char why[MER_ORDER_NUMBER_MAX + 24];
        snprintf(why, sizeof(why), "order %s cancelled", number);
        if ((err = mer_store_credit_add(db, user, country, currency, credit, why, 0)) != 0)
            return err;
        if (mer_db_exec(db,
                        "UPDATE orders SET refunded_total = refunded_total + ?, credit_refunded = credit_refunded + ? "
                        "WHERE id = ?",
                        "iii", credit, credit, j->order_id) != 1)
            return MER_E_INTERNAL;
    }
    if (money_in && (err = mer_coupon_settle(db, j->order_id, true)) != 0)
        return err;
    if (to == MER_OS_CANCELLED && (err = mer_coupon_settle(db, j->order_id, false)) != 0)
        return err;
    static const char *const event_of[MER_OS__COUNT] = {
        [MER_OS_PAID] = "order.paid",
        [MER_OS_SHIPPED] = "order.shipped",
        [MER_OS_DELIVERED] = "order.delivered",
        [MER_OS_COMPLETED] = "order.completed",
        [MER_OS_CANCELLED] = "order.cancelled",
        [MER_OS_REFUNDED] = "order.refund_requested",
        [MER_OS_PARTIALLY_SHIPPED] = "order.partially_shipped",
    };
    if (event_of[to] && (err = mer_event_emit_order(db, event_of[to], j->order_id)) != 0)
        return err;
    /* refunded with store credit only: nothing waits for a provider (as mer_refund_announce) */
    if (to == MER_OS_REFUNDED && credit == total &&
        (err = mer_event_emit_order(db, "order.refunded", j->order_id)) != 0)
        return err;
    if (money_in && cod && total > credit && /* collected on delivery: the amount due */
        mer_db_exec(db,
                    "INSERT INTO payment (order_id, provider, kind, amount, currency, status, reason, created_at) "
                    "VALUES (?, 'cod', 'charge', ?, ?, 'succeeded', 'collected on delivery', ?)",
                    "iisi", j->order_id, total - credit, currency, now) < 0)
        return MER_E_INTERNAL;
    snprintf(j->current, sizeof(j->current), "%s", mer_order_status_name(to));
    return 0;
}

int mer_order_transition_db(mer_db_t *db, int64_t order_id, mer_order_event_t ev, const char *actor, const char *note,
                            char current[20])
{
    mer_order_change_t ch;
    mer_verr_t e = {0};
    memset(&ch, 0, sizeof(ch));
    ch.order_id = order_id;
    ch.ev = ev;
    snprintf(ch.actor, sizeof(ch.actor), "%s", actor);
    snprintf(ch.note, sizeof(ch.note), "%s", note ? note : "");
    int err = mer_order_change(db, &ch, &e); /* a refusal's error is its e.code */
    snprintf(current, 20, "%s", ch.current);
    return err;
}

/* ---- payment ---- */

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
                                 "SELECT status, payment_method, grand_total - store_credit, currency, number, "
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

/* A card order: opens its pending charge (the order re-checked on the writer). */
static int pay_open_card(mer_db_t *db, mer_order_payment_t *j, mer_verr_t *e)
{
    payable_t p;
    int err = load_payable(db, j->order_id, j->user_id, &p);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    if (err)
        return err;
    j->amount = p.amount;
    snprintf(j->currency, sizeof(j->currency), "%s", p.currency);
    snprintf(j->number, sizeof(j->number), "%s", p.number);
    snprintf(j->current, sizeof(j->current), "%s", p.status);
    if (strcmp(p.status, "pending_payment") != 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; it cannot be paid", p.status);
    if (strcmp(p.method, "card") != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "payment_method", "this order is paid with %s, not by card", p.method);
    if (p.busy)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "a payment for this order is already under way");
    return mer_db_query_int(db, &j->payment_id,
                            "INSERT INTO payment (order_id, provider, kind, amount, currency, status, request, "
                            "created_at) VALUES (?, 'card', 'charge', ?, ?, 'pending', ?, ?) RETURNING id",
                            "iissi", j->order_id, j->amount, j->currency, j->card_token, mer_now_unix_ms());
}

/* A wallet order whose last attempt failed at the wallet: a new attempt (intent) to pay at. */
static int pay_open_wallet(mer_db_t *db, mer_order_payment_t *j, mer_verr_t *e)
{
    payable_t p;
    int err = load_payable(db, j->order_id, j->user_id, &p);
    if (err == 0 && strcmp(p.method, "wallet") != 0)
        err = MER_E_NOT_FOUND;
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    if (err)
        return err;
    snprintf(j->current, sizeof(j->current), "%s", p.status);
    if (strcmp(p.status, "pending_payment") != 0 || p.busy)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; a payment is already under way or done",
                            p.status);
    mer_wallet_new_intent(j->region, p.currency, j->intent, j->redirect_url, sizeof(j->redirect_url));
    return mer_db_exec(db,
                       "INSERT INTO payment (order_id, provider, kind, amount, currency, status, intent, created_at) "
                       "VALUES (?, 'wallet', 'charge', ?, ?, 'pending', ?, ?)",
                       "iissi", j->order_id, p.amount, p.currency, j->intent, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_order_pay_open(mer_db_t *db, mer_order_payment_t *j, mer_verr_t *e)
{
    /* with the wallet's pending intent, if any (the one an order answer shows) */
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT status, payment_method, currency, COALESCE((SELECT intent FROM payment p "
                                    "WHERE p.order_id = o.id AND p.kind = 'charge' AND p.status = 'pending' AND "
                                    "p.intent IS NOT NULL ORDER BY p.id DESC LIMIT 1), '') "
                                    "FROM orders o WHERE id = ? AND user_id = ?",
                                    "ii", j->order_id, j->user_id);
    bool found = mer_rows_next(rows);
    char method[16] = "", currency[4] = "";
    if (found) {
        snprintf(j->current, sizeof(j->current), "%s", mer_rows_text(rows, 0));
        snprintf(method, sizeof(method), "%s", mer_rows_text(rows, 1));
        snprintf(currency, sizeof(currency), "%s", mer_rows_text(rows, 2));
        snprintf(j->intent, sizeof(j->intent), "%s", mer_rows_text(rows, 3));
    }
    int err = mer_rows_end(rows);
    if (err)
        return err;
    if (!found)
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    if (strcmp(j->current, "pending_payment") != 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; it cannot be paid", j->current);
    if (strcmp(method, "wallet") == 0) {
        /* redirect payments: show where to pay; the wallet's webhook brings the result */
        j->redirect = true;
        if (j->intent[0] == '\0')
            return pay_open_wallet(db, j, e); /* the last attempt failed at the wallet: open a new one */
        mer_wallet_redirect_url(j->intent, currency, j->redirect_url, sizeof(j->redirect_url));
        return 0;
    }
    if (strcmp(method, "card") != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "payment_method", "this order is paid with %s, not by card here",
                            method);
    if (j->card_token[0] == '\0')
        return mer_verr_set(e, MER_E_VALIDATION, "card_token", "card_token is required for card payments");
    return pay_open_card(db, j, e);
}

int mer_order_state(mer_db_t *db, int64_t id, char status[20], char country[3])
{
    mer_rows_t *r = mer_db_query(db, "SELECT status, country FROM orders WHERE id = ?", "i", id);
    bool found = mer_rows_next(r);
    if (found && status)
        snprintf(status, 20, "%s", mer_rows_text(r, 0));
    if (found && country)
        snprintf(country, 3, "%s", mer_rows_text(r, 1));
    int err = mer_rows_end(r);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
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
        if ((err = mer_order_state(db, order_id, current, NULL)) != 0 && err != MER_E_NOT_FOUND)
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

int mer_order_pay_close(mer_db_t *db, mer_order_payment_t *j, mer_verr_t *e)
{
    (void)e;
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

void mer_order_pay_charge(mer_order_payment_t *p)
{
    charge_card(p->payment_id, p->number, p->amount, p->currency, p->card_token, &p->pay);
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
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL) /* its database is out of reach: the next sweep tries again */
        return;
    mer_rows_t *r = mer_db_query(db,
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
    .routes = MER_MODULE_ROUTES(&mer_checkout_routes, &mer_order_routes, &mer_refund_routes, &mer_coupon_routes,
                                &mer_shipment_routes, &mer_return_routes),
    .thread_exit = mer_order_thread_release,
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = order_stop,
};
