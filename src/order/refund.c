#include "order/refund.h"

#include <stdio.h>

#include "events/events.h"
#include "flashsale/flash.h"
#include "inventory/inventory.h"
#include "order/order.h"
#include "order/returns.h"
#include "order/shipment.h"
#include "payment/payment.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

int64_t mer_refund_request(mer_db_t *db, int64_t order_id, int64_t amount, const char *reason, int64_t charge_id)
{
    return mer_refund_request_credit(db, order_id, amount, reason, charge_id, NULL);
}

int64_t mer_refund_request_credit(mer_db_t *db, int64_t order_id, int64_t amount, const char *reason, int64_t charge_id,
                                  int64_t *as_credit)
{
    char currency[4] = "", country[3] = "", number[MER_ORDER_NUMBER_MAX] = "";
    int64_t refunded = 0, paid = 0, credit_left = 0, user_id = 0;
    bool dup = false;
    if (as_credit)
        *as_credit = 0;
    /* the order's own money; or, for a duplicate charge (not the order's money), that charge alone */
    mer_rows_t *r =
        mer_db_query(db,
                     "SELECT o.currency, c.id IS NOT NULL, "
                     "CASE WHEN c.id IS NULL THEN o.refunded_total - o.credit_refunded ELSE (SELECT "
                     "COALESCE(SUM(x.amount), 0) FROM payment x WHERE x.refund_of = c.id AND x.kind = 'refund') END, "
                     "CASE WHEN c.id IS NULL THEN (SELECT COALESCE(SUM(amount), 0) FROM payment WHERE "
                     "order_id = o.id AND kind = 'charge' AND status = 'succeeded' AND duplicate_of IS NULL) "
                     "ELSE c.amount END, o.store_credit - o.credit_refunded, o.user_id, o.country, o.number "
                     "FROM orders o LEFT JOIN payment c ON c.id = ? AND c.order_id = o.id "
                     "AND c.kind = 'charge' AND c.status = 'succeeded' AND c.duplicate_of IS NOT NULL "
                     "WHERE o.id = ?",
                     "ii", charge_id, order_id);
    bool found = mer_rows_next(r);
    if (found) {
        snprintf(currency, sizeof(currency), "%s", mer_rows_text(r, 0));
        dup = mer_rows_int(r, 1) != 0;
        refunded = mer_rows_int(r, 2);
        paid = mer_rows_int(r, 3);
        credit_left = dup ? 0 : mer_rows_int(r, 4); /* a duplicate charge is refunded alone */
        user_id = mer_rows_int(r, 5);
        snprintf(country, sizeof(country), "%s", mer_rows_text(r, 6));
        snprintf(number, sizeof(number), "%s", mer_rows_text(r, 7));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!found)
        return MER_E_NOT_FOUND;
    int64_t refundable;
    if (mer_money_sub(&refundable, paid, refunded) != 0)
        return MER_E_INTERNAL; /* stored amounts are within the money range: a broken invariant */
    /* card first: the money paid by card (wallet, on delivery) goes back to it, the rest as store credit */
    if (amount < 0)
        amount = refundable + credit_left;
    if (amount > refundable + credit_left)
        return MER_E_VALIDATION;
    if (amount == 0)
        return 0;
    int64_t to_credit = amount > refundable ? amount - refundable : 0;
    /* each refund returns money from one charge: the named one, or the order's own with the most left */
    struct {
        int64_t id, left;
        char provider[16], ref[256];
    } charges[16];
    size_t n = 0;
    /* the provider refunds against its charge id; a wallet charge reported without one (or with one that
     * another payment holds) is refunded by its intent, the identity the wallet knows it by */
    r = mer_db_query(
        db,
        "SELECT c.id, c.provider, COALESCE(c.provider_ref, c.intent, ''), c.amount - "
        "COALESCE((SELECT SUM(x.amount) FROM payment x WHERE x.refund_of = c.id AND x.kind = 'refund'), "
        "0) AS remaining FROM payment c WHERE c.order_id = ? AND c.kind = 'charge' AND c.status = 'succeeded' "
        "AND ((? = 0 AND c.duplicate_of IS NULL) OR c.id = ?) ORDER BY remaining DESC, c.id",
        "iii", order_id, charge_id, charge_id);
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(charges)) {
        charges[n].id = mer_rows_int(r, 0);
        snprintf(charges[n].provider, sizeof(charges[n].provider), "%s", mer_rows_text(r, 1));
        snprintf(charges[n].ref, sizeof(charges[n].ref), "%s", mer_rows_text(r, 2));
        charges[n++].left = mer_rows_int(r, 3);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    int64_t want = amount - to_credit, now = mer_now_unix_ms();
    for (size_t i = 0; i < n && want > 0; i++) {
        int64_t take = charges[i].left < want ? charges[i].left : want;
        if (take <= 0)
            continue;
        bool cod = strcmp(charges[i].provider, "cod") == 0;
        int64_t payment_id = 0;
        err = mer_db_query_int(db, &payment_id,
                               "INSERT INTO payment (order_id, provider, kind, amount, currency, status, reason, "
                               "refund_of, created_at) VALUES (?, ?, 'refund', ?, ?, ?, ?, ?, ?) RETURNING id",
                               "isisssii", order_id, charges[i].provider, take, currency, cod ? "succeeded" : "pending",
                               reason ? reason : "", charges[i].id, now);
        if (err)
            return err;
        /* cash on delivery has no provider: the money is paid out by hand, recorded at once */
        if (!cod) {
            json_t *p = json_pack("{s:I,s:I,s:s,s:s,s:I,s:s,s:s}", "payment_id", (json_int_t)payment_id, "order_id",
                                  (json_int_t)order_id, "provider", charges[i].provider, "charge_ref", charges[i].ref,
                                  "amount", (json_int_t)take, "currency", currency, "reason", reason ? reason : "");
            if ((err = mer_event_emit(db, "payment.refund_required", order_id, p)) != 0)
                return err;
        }
        want -= take;
    }
    if (want > 0)
        return MER_E_VALIDATION; /* the named charge has less left than asked */
    if (dup)
        return amount; /* not the order's money: its totals and payment status stay as they are */
    if (to_credit > 0) {
        char why[MER_ORDER_NUMBER_MAX + 16];
        snprintf(why, sizeof(why), "order %s refunded", number);
        if ((err = mer_store_credit_add(db, user_id, country, currency, to_credit, why, 0)) != 0)
            return err;
        if (as_credit)
            *as_credit = to_credit;
    }
    if (mer_db_exec(db,
                    "UPDATE orders SET refunded_total = refunded_total + ?, credit_refunded = credit_refunded + ? "
                    "WHERE id = ?",
                    "iii", amount, to_credit, order_id) != 1)
        return MER_E_INTERNAL;
    return (err = mer_refund_settle_status(db, order_id)) != 0 ? err : amount;
}

int mer_refund_settle_status(mer_db_t *db, int64_t order_id)
{
    char status[24];
    int err = mer_payment_order_status(db, order_id, status);
    if (err)
        return err;
    int64_t credit = 0, refunded = 0, total = 0;
    mer_rows_t *r =
        mer_db_query(db, "SELECT store_credit, refunded_total, grand_total FROM orders WHERE id = ?", "i", order_id);
    bool found = mer_rows_next(r);
    if (found) {
        credit = mer_rows_int(r, 0);
        refunded = mer_rows_int(r, 1);
        total = mer_rows_int(r, 2);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    if (!found)
        return MER_E_NOT_FOUND;
    /* paid partly or wholly with credit: the payments alone do not know the whole; refunded when all of the
     * grand total went back (a card refunded in full is then only part of it) */
    if (credit > 0 && refunded > 0 && strcmp(status, "refund_pending") != 0)
        snprintf(status, sizeof(status), "%s", refunded >= total ? "refunded" : "partially_refunded");
    return mer_db_exec(db, "UPDATE orders SET payment_status = ?, updated_at = ? WHERE id = ?", "sii", status,
                       mer_now_unix_ms(), order_id) == 1
               ? 0
               : MER_E_INTERNAL;
}

int mer_refund_line_units(mer_db_t *db, int64_t order_id, int line_no, int64_t units, int64_t *amount,
                          const char *field, mer_verr_t *e)
{
    int64_t qty = 0, total = 0, done = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT quantity, line_total, refunded_qty FROM order_line WHERE order_id = ? "
                                 "AND line_no = ?",
                                 "ii", order_id, (int64_t)line_no);
    bool has = mer_rows_next(r);
    if (has) {
        qty = mer_rows_int(r, 0);
        total = mer_rows_int(r, 1);
        done = mer_rows_int(r, 2);
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!has)
        return mer_verr_set(e, MER_E_VALIDATION, field, "order has no line %d", line_no);
    if (units < 1 || done + units > qty)
        return mer_verr_set(e, MER_E_VALIDATION, field, "only %lld units of line %d are left to refund",
                            (long long)(qty - done), line_no);
    int64_t after = done + units;
    /* cumulative floor(total x units / qty), in 128 bits: total x units may exceed the money range */
    int64_t upto = mer_div_round((__int128)total * after, qty, MER_ROUND_DOWN);
    int64_t before = mer_div_round((__int128)total * done, qty, MER_ROUND_DOWN);
    *amount = upto - before;
    if (mer_db_exec(db, "UPDATE order_line SET refunded_qty = ? WHERE order_id = ? AND line_no = ?", "iii", after,
                    order_id, (int64_t)line_no) != 1)
        return MER_E_INTERNAL;
    return 0;
}

int mer_refund_announce(mer_db_t *db, int64_t order_id)
{
    int err = mer_event_emit_order(db, "order.refund_requested", order_id);
    if (err)
        return err;
    /* cash on delivery is paid out by hand and recorded at once: nothing to wait for */
    char pstatus[24] = "";
    mer_rows_t *r = mer_db_query(db, "SELECT payment_status FROM orders WHERE id = ?", "i", order_id);
    if (mer_rows_next(r))
        snprintf(pstatus, sizeof(pstatus), "%s", mer_rows_text(r, 0));
    if ((err = mer_rows_end(r)) != 0)
        return err;
    return strcmp(pstatus, "refund_pending") == 0 ? 0 : mer_event_emit_order(db, "order.refunded", order_id);
}

/* ---- POST /api/v1/admin/orders/{id}/refunds ---- */

typedef struct rline {
    int line_no;
    int64_t quantity;
} rline_t;

typedef struct refund_job {
    mer_call_t c;
    int64_t order_id;
    char country[3], region[16], reason[201], actor[48];
    rline_t lines[64];
    size_t n;
    bool all;
    int64_t amount;
    mer_order_view_t v; /* the answer: the order afterwards */
} refund_job_t;

static int refund_apply(mer_db_t *db, refund_job_t *j)
{
    char status[20] = "", country[3] = "";
    int err = mer_order_state(db, j->order_id, status, country);
    if (err && err != MER_E_NOT_FOUND)
        return err;
    if (err || strcmp(country, j->country) != 0)
        return mer_verr_set(&j->c.verr, MER_E_NOT_FOUND, NULL, "no such order in %s", j->country);
    int64_t amount = -1;
    bool every_unit = j->all;
    if (!j->all) {
        amount = 0;
        for (size_t i = 0; i < j->n; i++) {
            char field[32];
            int64_t part = 0;
            snprintf(field, sizeof(field), "lines[%zu]", i);
            if ((err = mer_refund_line_units(db, j->order_id, j->lines[i].line_no, j->lines[i].quantity, &part, field,
                                             &j->c.verr)) != 0)
                return err;
            if (mer_money_add(&amount, amount, part) != 0)
                return mer_verr_set(&j->c.verr, MER_E_VALIDATION, "lines",
                                    "the refund exceeds what is left of the payment");
        }
        int64_t left = 1;
        if (mer_db_query_int(db, &left,
                             "SELECT COUNT(*) FROM order_line WHERE order_id = ? AND refunded_qty < quantity", "i",
                             j->order_id) != 0)
            return MER_E_INTERNAL;
        every_unit = left == 0;
    }
    int64_t got = mer_refund_request(db, j->order_id, amount, j->reason, 0);
    if (got == MER_E_VALIDATION)
        return mer_verr_set(&j->c.verr, MER_E_VALIDATION, "lines", "the refund exceeds what is left of the payment");
    if (got < 0)
        return (int)got;
    if (got == 0)
        return mer_verr_set(&j->c.verr, MER_E_CONFLICT, "status",
                            "nothing was paid on this order, or all of it was refunded");
    j->amount = got;
    /* units refunded before shipping leave their shipments and go back to their warehouses' stock
     * (shipment.h); a fully refunded unshipped order is refunded */
    bool paid = strcmp(status, "paid") == 0;
    if (paid || strcmp(status, "partially_shipped") == 0) {
        for (size_t i = 0; i < j->n; i++)
            if ((err = mer_shipments_release_units(db, j->order_id, j->lines[i].line_no, j->lines[i].quantity)) != 0)
                return err;
        if (j->all &&
            ((err = mer_shipments_release(db, j->order_id)) != 0 ||
             mer_db_exec(db, "UPDATE order_line SET refunded_qty = quantity WHERE order_id = ?", "i", j->order_id) < 0))
            return err ? err : MER_E_INTERNAL;
        if (paid && every_unit &&
            (mer_db_exec(db, "UPDATE orders SET status = 'refunded' WHERE id = ?", "i", j->order_id) != 1 ||
             mer_db_exec(db,
                         "INSERT INTO order_event (order_id, from_status, to_status, actor, note, at) "
                         "VALUES (?, 'paid', 'refunded', ?, ?, ?)",
                         "issi", j->order_id, j->actor, j->reason, mer_now_unix_ms()) < 0))
            return MER_E_INTERNAL;
        /* flash-sale units refunded before shipping go back to their session, as a cancel's do */
        if (paid && (err = mer_flash_lines_refunded(db, j->order_id)) != 0)
            return err;
    } else if (j->all && mer_db_exec(db, "UPDATE order_line SET refunded_qty = quantity WHERE order_id = ?", "i",
                                     j->order_id) < 0) {
        return MER_E_INTERNAL;
    }
    return mer_refund_announce(db, j->order_id);
}

static int refund_fn(mer_db_t *db, mer_call_t *c)
{
    refund_job_t *j = MER_CONTAINER_OF(c, refund_job_t, c);
    int err = refund_apply(db, j);
    return err ? err : mer_order_load(db, j->order_id, 0, &j->v);
}

static void refund_reply(mer_call_t *c)
{
    mer_reply_order(c->r, 201, &MER_CONTAINER_OF(c, refund_job_t, c)->v);
}

static void refund_cleanup(mer_call_t *c)
{
    mer_order_view_release(&MER_CONTAINER_OF(c, refund_job_t, c)->v);
}

static void h_refund(mer_req_t *r)
{
    static const char *const keys[] = {"country", "lines", "all", "reason", NULL};
    mer_verr_t e = {0};
    const char *country = NULL, *reason = NULL;
    json_t *lines = NULL;
    bool all = false;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_member(r->body, "lines", "lines", JSON_ARRAY, false, &lines, &e) ||
        mer_json_bool(r->body, "all", "all", false, &all, &e) ||
        mer_json_str(r->body, "reason", "reason", 1, 200, true, &reason, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (all == (lines != NULL)) {
        mer_reply_error(r, MER_E_VALIDATION, "lines", "give either lines [{line_no, quantity}] or all: true");
        return;
    }
    const mer_country_t *c = mer_req_staff_country(r, country, "refund orders");
    if (c == NULL)
        return;
    refund_job_t *j = mer_call_new(r, sizeof(*j));
    j->order_id = id;
    j->all = all;
    snprintf(j->country, sizeof(j->country), "%s", c->code);
    snprintf(j->region, sizeof(j->region), "%s", c->region);
    snprintf(j->reason, sizeof(j->reason), "%s", reason);
    snprintf(j->actor, sizeof(j->actor), "%s:%lld", r->who.role == MER_ROLE_ADMIN ? "admin" : "operator",
             (long long)r->who.id);
    size_t i;
    json_t *v;
    json_array_foreach(lines, i, v)
    {
        static const char *const lkeys[] = {"line_no", "quantity", NULL};
        char prefix[32], field[64];
        int64_t ln = 0, q = 0;
        snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
        if (i >= MER_ARRAY_LEN(j->lines) || !json_is_object(v) || mer_json_only(v, lkeys, prefix, &e) ||
            mer_json_int(v, "line_no", mer_json_path(field, sizeof(field), prefix, "line_no"), 1, 1000, true, &ln,
                         &e) ||
            mer_json_int(v, "quantity", mer_json_path(field, sizeof(field), prefix, "quantity"), 1, 1000, true, &q,
                         &e)) {
            if (!e.code)
                mer_verr_set(&e, MER_E_VALIDATION, prefix, "%s must be {line_no, quantity}", prefix);
            free(j);
            mer_reply_verr(r, &e);
            return;
        }
        j->lines[j->n++] = (rline_t){(int)ln, q};
    }
    if (!all && j->n == 0) {
        free(j);
        mer_reply_error(r, MER_E_VALIDATION, "lines", "name at least one line");
        return;
    }
    j->c.reply = refund_reply;
    j->c.cleanup = refund_cleanup;
    mer_call_write(&j->c, j->region, refund_fn);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/orders/{id}/refunds", h_refund, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

const mer_routes_t mer_refund_routes = {routes, MER_ARRAY_LEN(routes)};
