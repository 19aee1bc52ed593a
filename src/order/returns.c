/*
 * returns.c — the after-sales return service (the model: returns.h); the HTTP adapter is returns_http.c.
 */
#include "order/returns.h"

#include <stdio.h>

#include "core/log.h"
#include "core/tz.h"
#include "events/events.h"
#include "order/refund.h"
#include "region/country.h"
#include "core/banned.h"

#define DAY_MS INT64_C(86400000)

const char *const mer_return_reasons[] = {
    "damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "other", NULL,
};

/* ---- reading ---- */

/* The masked form of a stored bank account: {"holder", "number": "****1234", "bank_code"}. */
static json_t *masked_account(const char *stored)
{
    json_t *a = json_loads(stored, 0, NULL);
    const char *num = json_string_value(json_object_get(a, "number"));
    if (a == NULL || num == NULL) {
        json_decref(a);
        return NULL;
    }
    size_t len = strlen(num);
    char masked[40];
    snprintf(masked, sizeof(masked), "****%s", len > 4 ? num + len - 4 : num);
    json_object_set_new(a, "number", json_string(masked));
    return a;
}

int mer_return_get(mer_db_t *db, int64_t return_id, int64_t user_id, const char *country, json_t **out)
{
    *out = NULL;
    json_t *rt = NULL;
    char cc[3] = "", lang[16] = "en";
    int64_t amount = 0, order_id = 0;
    mer_rows_t *r = mer_db_query(
        db,
        "SELECT rr.id, rr.order_id, o.number, rr.status, rr.reason, rr.comment, rr.country, rr.currency, "
        "rr.refund_method, rr.refund_account, rr.refund_amount, rr.created_at, rr.updated_at, o.lang, rr.user_id "
        "FROM return_request rr JOIN orders o ON o.id = rr.order_id WHERE rr.id = ? AND (? = 0 OR rr.user_id = ?) "
        "AND (? = '' OR rr.country = ?)",
        "iiiss", return_id, user_id, user_id, country, country);
    if (mer_rows_next(r)) {
        char created[32], updated[32];
        mer_format_utc_ms(mer_rows_int(r, 11), created);
        mer_format_utc_ms(mer_rows_int(r, 12), updated);
        order_id = mer_rows_int(r, 1);
        snprintf(cc, sizeof(cc), "%s", mer_rows_text(r, 6));
        snprintf(lang, sizeof(lang), "%s", mer_rows_text(r, 13));
        amount = mer_rows_int(r, 10);
        rt = json_pack("{s:I,s:I,s:s,s:I,s:s,s:s,s:s,s:s,s:{s:s},s:s,s:s}", "id", (json_int_t)mer_rows_int(r, 0),
                       "order_id", (json_int_t)order_id, "order_number", mer_rows_text(r, 2), "user_id",
                       (json_int_t)mer_rows_int(r, 14), "status", mer_rows_text(r, 3), "reason", mer_rows_text(r, 4),
                       "country", cc, "currency", mer_rows_text(r, 7), "refund", "method", mer_rows_text(r, 8),
                       "created_at", created, "updated_at", updated);
        if (mer_rows_len(r, 5))
            json_object_set_new(rt, "comment", json_string(mer_rows_text(r, 5)));
        json_t *acct = strcmp(mer_rows_text(r, 8), "bank_transfer") == 0 ? masked_account(mer_rows_text(r, 9)) : NULL;
        if (acct)
            json_object_set_new(json_object_get(rt, "refund"), "account", acct);
    }
    int err = mer_rows_end(r);
    if (err || rt == NULL) {
        json_decref(rt);
        return err ? err : MER_E_NOT_FOUND;
    }
    const mer_country_t *c = mer_country_find(mer_countries(), cc, 2);
    json_object_set_new(json_object_get(rt, "refund"), "amount",
                        c ? mer_country_money(c, amount, lang) : json_integer(amount));
    json_t *lines = json_array();
    json_object_set_new(rt, "lines", lines);
    r = mer_db_query(db,
                     "SELECT rl.line_no, ol.sku_code, ol.name, rl.quantity, COALESCE(rl.item_condition, ''), "
                     "COALESCE(w.code, '') FROM return_line rl JOIN order_line ol ON ol.order_id = ? AND "
                     "ol.line_no = rl.line_no LEFT JOIN warehouse w ON w.id = rl.restock_warehouse_id "
                     "WHERE rl.return_id = ? ORDER BY rl.line_no",
                     "ii", order_id, return_id);
    while (mer_rows_next(r)) {
        json_t *l =
            json_pack("{s:I,s:s,s:s,s:I}", "line_no", (json_int_t)mer_rows_int(r, 0), "sku", mer_rows_text(r, 1),
                      "name", mer_rows_text(r, 2), "quantity", (json_int_t)mer_rows_int(r, 3));
        if (mer_rows_len(r, 4))
            json_object_set_new(l, "condition", json_string(mer_rows_text(r, 4)));
        if (mer_rows_len(r, 5))
            json_object_set_new(l, "restocked_to", json_string(mer_rows_text(r, 5)));
        json_array_append_new(lines, l);
    }
    err = mer_rows_end(r);
    json_t *events = json_array();
    json_object_set_new(rt, "events", events);
    r = mer_db_query(db,
                     "SELECT from_status, to_status, actor, note, at FROM return_event WHERE return_id = ? ORDER BY id",
                     "i", return_id);
    while (mer_rows_next(r)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(r, 4), ts);
        json_t *ev = json_pack("{s:s?,s:s,s:s,s:s}", "from", mer_rows_null(r, 0) ? NULL : mer_rows_text(r, 0), "to",
                               mer_rows_text(r, 1), "actor", mer_rows_text(r, 2), "at", ts);
        if (mer_rows_len(r, 3))
            json_object_set_new(ev, "note", json_string(mer_rows_text(r, 3)));
        json_array_append_new(events, ev);
    }
    err = err ? err : mer_rows_end(r);
    if (err) {
        json_decref(rt);
        return err;
    }
    *out = rt;
    return 0;
}

/* The list seeks return_request_user for a customer and return_request_country for staff of one country, both in
 * the list's order (id, newest first); only staff's list of every country reads the whole table. (One statement
 * for all, "? = 0 OR user_id = ?", can use no index: the planner cannot know which side holds.) */
#define RETURN_LIST_STATUS "(? = '' OR status = ?)"
#define RETURN_LIST_PAGE " ORDER BY id DESC LIMIT ? OFFSET ?"

int mer_return_list(mer_db_t *db, int64_t user_id, const char *country, const char *status, int64_t page,
                    int64_t per_page, json_t **out)
{
    *out = NULL;
    int64_t total = 0, offset = (page - 1) * per_page;
    int err;
    mer_rows_t *r = NULL;
    if (user_id) {
        err = mer_db_query_int(db, &total,
                               "SELECT COUNT(*) FROM return_request WHERE user_id = ? AND (? = '' OR country = ?) "
                               "AND " RETURN_LIST_STATUS,
                               "issss", user_id, country, country, status, status);
        if (!err)
            r = mer_db_query(db,
                             "SELECT id FROM return_request WHERE user_id = ? AND (? = '' OR country = ?) "
                             "AND " RETURN_LIST_STATUS RETURN_LIST_PAGE,
                             "issssii", user_id, country, country, status, status, per_page, offset);
    } else if (country[0]) {
        err = mer_db_query_int(db, &total,
                               "SELECT COUNT(*) FROM return_request WHERE country = ? AND " RETURN_LIST_STATUS, "sss",
                               country, status, status);
        if (!err)
            r = mer_db_query(db,
                             "SELECT id FROM return_request WHERE country = ? AND " RETURN_LIST_STATUS RETURN_LIST_PAGE,
                             "sssii", country, status, status, per_page, offset);
    } else {
        err = mer_db_query_int(db, &total, "SELECT COUNT(*) FROM return_request WHERE " RETURN_LIST_STATUS, "ss",
                               status, status);
        if (!err)
            r = mer_db_query(db, "SELECT id FROM return_request WHERE " RETURN_LIST_STATUS RETURN_LIST_PAGE, "ssii",
                             status, status, per_page, offset);
    }
    if (err)
        return err;
    int64_t ids[100];
    size_t n = 0;
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(ids))
        ids[n++] = mer_rows_int(r, 0);
    if ((err = mer_rows_end(r)) != 0)
        return err;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rt = NULL;
        if ((err = mer_return_get(db, ids[i], 0, "", &rt)) != 0) {
            json_decref(items);
            return err;
        }
        json_object_del(rt, "events");
        json_array_append_new(items, rt);
    }
    *out = json_pack("{s:I,s:I,s:I,s:o}", "page", (json_int_t)page, "per_page", (json_int_t)per_page, "total",
                     (json_int_t)total, "returns", items);
    return 0;
}

/* ---- writing ---- */

/* return.<step>: the return as the API shows it, without its events (the outbox row is the event). */
static int emit(mer_db_t *db, const char *type, int64_t return_id)
{
    json_t *rt = NULL;
    int err = mer_return_get(db, return_id, 0, "", &rt);
    if (err)
        return err;
    json_object_del(rt, "events");
    json_object_set_new(rt, "return_id", json_integer(return_id));
    int64_t order_id = (int64_t)json_integer_value(json_object_get(rt, "order_id"));
    return mer_event_emit(db, type, order_id, rt);
}

/* Moves return_id from one of the statuses in `from` (comma-separated) to `to`, with its return_event. */
static int move(mer_db_t *db, int64_t return_id, const char *from_status, const char *to, const char *actor,
                const char *note)
{
    int64_t now = mer_now_unix_ms();
    int rc = mer_db_exec(db, "UPDATE return_request SET status = ?, updated_at = ? WHERE id = ? AND status = ?", "siis",
                         to, now, return_id, from_status);
    if (rc < 0)
        return MER_E_INTERNAL;
    if (rc == 0)
        return MER_E_CONFLICT; /* another change won */
    if (mer_db_exec(db,
                    "INSERT INTO return_event (return_id, from_status, to_status, actor, note, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    "issssi", return_id, from_status, to, actor, note ? note : "", now) < 0)
        return MER_E_INTERNAL;
    char type[32];
    snprintf(type, sizeof(type), "return.%s", to);
    return emit(db, type, return_id);
}

/* The order as a return request sees it. */
typedef struct ret_order {
    char status[20], country[3], currency[4], method[16], payment_status[24], number[32];
    int64_t user_id, grand_total, refunded_total, delivered_at;
} ret_order_t;

static int load_order(mer_db_t *db, int64_t order_id, ret_order_t *o, bool *found)
{
    memset(o, 0, sizeof(*o));
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT status, country, currency, payment_method, payment_status, number, user_id, "
                                 "grand_total, refunded_total, (SELECT COALESCE(MAX(at), 0) FROM order_event e "
                                 "WHERE e.order_id = o.id AND e.to_status = 'delivered') FROM orders o WHERE id = ?",
                                 "i", order_id);
    if ((*found = mer_rows_next(r))) {
        snprintf(o->status, sizeof(o->status), "%s", mer_rows_text(r, 0));
        snprintf(o->country, sizeof(o->country), "%s", mer_rows_text(r, 1));
        snprintf(o->currency, sizeof(o->currency), "%s", mer_rows_text(r, 2));
        snprintf(o->method, sizeof(o->method), "%s", mer_rows_text(r, 3));
        snprintf(o->payment_status, sizeof(o->payment_status), "%s", mer_rows_text(r, 4));
        snprintf(o->number, sizeof(o->number), "%s", mer_rows_text(r, 5));
        o->user_id = mer_rows_int(r, 6);
        o->grand_total = mer_rows_int(r, 7);
        o->refunded_total = mer_rows_int(r, 8);
        o->delivered_at = mer_rows_int(r, 9);
    }
    return mer_rows_end(r);
}

/* Is `name` in the comma-separated list? */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Units of line line_no that may still be returned: delivered, not refunded, not in an open return. */
static int returnable(mer_db_t *db, int64_t order_id, int line_no, int64_t *out, int64_t *sku_id, bool *exists)
{
    mer_rows_t *r = mer_db_query(
        db,
        "SELECT l.sku_id, l.quantity - l.refunded_qty, "
        "(SELECT COALESCE(SUM(sl.quantity), 0) FROM order_shipment_line sl JOIN order_shipment s ON "
        " s.id = sl.shipment_id WHERE s.order_id = l.order_id AND s.status = 'delivered' AND sl.line_no = l.line_no), "
        "(SELECT COALESCE(SUM(rl.quantity), 0) FROM return_line rl JOIN return_request rr ON rr.id = rl.return_id "
        " WHERE rr.order_id = l.order_id AND rl.line_no = l.line_no AND "
        " rr.status IN ('requested', 'approved', 'received')) "
        "FROM order_line l WHERE l.order_id = ? AND l.line_no = ?",
        "ii", order_id, (int64_t)line_no);
    *exists = mer_rows_next(r);
    if (*exists) {
        *sku_id = mer_rows_int(r, 0);
        int64_t kept = mer_rows_int(r, 1), delivered = mer_rows_int(r, 2), open = mer_rows_int(r, 3);
        *out = (delivered < kept ? delivered : kept) - open;
        if (*out < 0)
            *out = 0;
    }
    return mer_rows_end(r);
}

int mer_return_create(mer_db_t *db, mer_return_request_t *rq, mer_verr_t *e)
{
    ret_order_t o;
    bool found;
    /* requests for one order one at a time: a region's writer runs one job at a time anyway; with several
     * nodes on one PostgreSQL this row lock makes the second wait and count the first's units */
    if (mer_db_exec(db, "UPDATE orders SET updated_at = updated_at WHERE id = ?", "i", rq->order_id) < 0)
        return MER_E_INTERNAL;
    int err = load_order(db, rq->order_id, &o, &found);
    if (err)
        return err;
    if (!found || o.user_id != rq->user_id)
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    snprintf(rq->current, sizeof(rq->current), "%s", o.status);
    if (strcmp(o.status, "delivered") != 0 && strcmp(o.status, "completed") != 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; only delivered orders can be returned",
                            o.status);
    /* the country's window, from delivery */
    int64_t window_days = 0;
    char cod_refund[64] = "";
    mer_rows_t *r =
        mer_db_query(db, "SELECT window_days, cod_refund FROM return_policy WHERE country = ?", "s", o.country);
    if (mer_rows_next(r)) {
        window_days = mer_rows_int(r, 0);
        snprintf(cod_refund, sizeof(cod_refund), "%s", mer_rows_text(r, 1));
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    if (window_days == 0)
        return mer_verr_set(e, MER_E_CONFLICT, "order_id", "returns are not offered in %s", o.country);
    int64_t closes = o.delivered_at + window_days * DAY_MS, now = mer_now_unix_ms();
    if (now > closes) {
        const mer_country_t *c = mer_country_find(mer_countries(), o.country, 2);
        char local[40];
        mer_tz_format(closes, c ? c->timezone : "UTC", local);
        return mer_verr_set(e, MER_E_CONFLICT, "order_id", "the return window of %lld days closed at %s",
                            (long long)window_days, local);
    }
    if (strcmp(o.payment_status, "refunded") == 0 || (o.grand_total > 0 && o.refunded_total >= o.grand_total))
        return mer_verr_set(e, MER_E_CONFLICT, "order_id", "order %s was refunded in full", o.number);
    /* how the money comes back */
    bool cod = strcmp(o.method, "cod") == 0;
    if (rq->refund_method[0] == '\0')
        snprintf(rq->refund_method, sizeof(rq->refund_method), "%s", cod ? "" : "original");
    if (cod && !in_list(cod_refund, rq->refund_method))
        return mer_verr_set(e, MER_E_VALIDATION, "refund_method",
                            "a cash-on-delivery order is refunded by one of: %s (refund_method)", cod_refund);
    if (!cod && strcmp(rq->refund_method, "original") != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "refund_method", "a %s order is refunded to its payment (original)",
                            o.method);
    bool bank = strcmp(rq->refund_method, "bank_transfer") == 0;
    if (bank && (rq->account_holder[0] == '\0' || rq->account_number[0] == '\0'))
        return mer_verr_set(e, MER_E_VALIDATION,
                            rq->account_holder[0] ? "refund_account.number" : "refund_account.holder",
                            "a bank transfer needs refund_account {holder, number, bank_code}");
    if (!bank && (rq->account_holder[0] || rq->account_number[0]))
        return mer_verr_set(e, MER_E_VALIDATION, "refund_account", "refund_account is only for bank_transfer");
    /* the lines */
    int64_t skus[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < rq->n; i++) {
        char field[48];
        int64_t can = 0;
        bool exists = false;
        for (size_t k = 0; k < i; k++)
            if (rq->lines[k].line_no == rq->lines[i].line_no) {
                snprintf(field, sizeof(field), "lines[%zu].line_no", i);
                return mer_verr_set(e, MER_E_VALIDATION, field, "line %d is listed twice", rq->lines[i].line_no);
            }
        if ((err = returnable(db, rq->order_id, rq->lines[i].line_no, &can, &skus[i], &exists)) != 0)
            return err;
        if (!exists) {
            snprintf(field, sizeof(field), "lines[%zu].line_no", i);
            return mer_verr_set(e, MER_E_VALIDATION, field, "order has no line %d", rq->lines[i].line_no);
        }
        if (rq->lines[i].quantity > can) {
            snprintf(field, sizeof(field), "lines[%zu].quantity", i);
            return mer_verr_set(e, MER_E_VALIDATION, field,
                                "only %lld units of line %d can be returned (delivered, not refunded, not already "
                                "being returned)",
                                (long long)can, rq->lines[i].line_no);
        }
    }
    json_t *acct = bank ? json_pack("{s:s,s:s,s:s}", "holder", rq->account_holder, "number", rq->account_number,
                                    "bank_code", rq->bank_code)
                        : json_object();
    char *acct_json = mer_json_dump(acct, NULL);
    json_decref(acct);
    err = mer_db_query_int(db, &rq->return_id,
                           "INSERT INTO return_request (order_id, user_id, country, currency, status, reason, comment, "
                           "refund_method, refund_account, created_at, updated_at) VALUES (?, ?, ?, ?, 'requested', "
                           "?, ?, ?, ?, ?, ?) RETURNING id",
                           "iissssssii", rq->order_id, rq->user_id, o.country, o.currency, rq->reason, rq->comment,
                           rq->refund_method, acct_json, now, now);
    free(acct_json);
    if (err)
        return err;
    for (size_t i = 0; i < rq->n; i++)
        if (mer_db_exec(db, "INSERT INTO return_line (return_id, line_no, sku_id, quantity) VALUES (?, ?, ?, ?)",
                        "iiii", rq->return_id, (int64_t)rq->lines[i].line_no, skus[i], rq->lines[i].quantity) < 0)
            return MER_E_INTERNAL;
    char actor[40];
    snprintf(actor, sizeof(actor), "customer:%lld", (long long)rq->user_id);
    if (mer_db_exec(db,
                    "INSERT INTO return_event (return_id, to_status, actor, note, at) VALUES (?, 'requested', ?, ?, ?)",
                    "issi", rq->return_id, actor, rq->comment, now) < 0)
        return MER_E_INTERNAL;
    return emit(db, "return.requested", rq->return_id);
}

/* The warehouse the units of line_no were delivered from (the last delivered shipment holding it), or 0. */
static int shipped_from(mer_db_t *db, int64_t order_id, int line_no, int64_t *warehouse_id)
{
    *warehouse_id = 0;
    int err = mer_db_query_int(db, warehouse_id,
                               "SELECT s.warehouse_id FROM order_shipment s JOIN order_shipment_line sl ON "
                               "sl.shipment_id = s.id WHERE s.order_id = ? AND sl.line_no = ? AND "
                               "s.status = 'delivered' AND sl.quantity > 0 ORDER BY s.seq DESC LIMIT 1",
                               "ii", order_id, (int64_t)line_no);
    return err == MER_E_NOT_FOUND ? 0 : err;
}

/* receive: conditions recorded, resellable units restocked, the units refunded; then refunded. */
static int receive(mer_db_t *db, mer_return_change_t *ch, int64_t order_id, const char *method, int64_t user_id,
                   const char *country, const char *currency, mer_verr_t *e)
{
    struct {
        int line_no;
        int64_t sku_id, quantity;
        bool seen;
    } rl[MER_ORDER_MAX_LINES];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT line_no, sku_id, quantity FROM return_line WHERE return_id = ? "
                                 "ORDER BY line_no",
                                 "i", ch->return_id);
    while (mer_rows_next(r) && n < MER_ORDER_MAX_LINES) {
        rl[n].line_no = (int)mer_rows_int(r, 0);
        rl[n].sku_id = mer_rows_int(r, 1);
        rl[n].quantity = mer_rows_int(r, 2);
        rl[n++].seen = false;
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    /* every line of the return once, with its condition; warehouses resolved before anything is written */
    int64_t wh[MER_ORDER_MAX_LINES] = {0};
    size_t idx[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < ch->n; i++) {
        char field[48];
        size_t k = 0;
        while (k < n && rl[k].line_no != ch->lines[i].line_no)
            k++;
        snprintf(field, sizeof(field), "lines[%zu].line_no", i);
        if (k == n)
            return mer_verr_set(e, MER_E_VALIDATION, field, "line %d is not in this return", ch->lines[i].line_no);
        if (rl[k].seen)
            return mer_verr_set(e, MER_E_VALIDATION, field, "line %d is listed twice", ch->lines[i].line_no);
        rl[k].seen = true;
        idx[i] = k;
        if (strcmp(ch->lines[i].condition, "resellable") != 0)
            continue;
        if (ch->lines[i].warehouse[0]) {
            snprintf(field, sizeof(field), "lines[%zu].warehouse", i);
            err = mer_db_query_int(db, &wh[i],
                                   "SELECT w.id FROM warehouse w WHERE w.code = ? AND (w.country = ? OR EXISTS "
                                   "(SELECT 1 FROM warehouse_serves ws WHERE ws.warehouse_id = w.id AND "
                                   "ws.country = ?))",
                                   "sss", ch->lines[i].warehouse, country, country);
            if (err == MER_E_NOT_FOUND)
                return mer_verr_set(e, MER_E_VALIDATION, field, "no warehouse %s serving %s", ch->lines[i].warehouse,
                                    country);
        } else {
            err = shipped_from(db, order_id, ch->lines[i].line_no, &wh[i]);
        }
        if (err)
            return err;
    }
    for (size_t k = 0; k < n; k++)
        if (!rl[k].seen) {
            char field[48];
            snprintf(field, sizeof(field), "lines");
            return mer_verr_set(e, MER_E_VALIDATION, field, "give the condition of line %d too", rl[k].line_no);
        }
    int64_t amount = 0;
    for (size_t i = 0; i < ch->n; i++) {
        size_t k = idx[i];
        if (mer_db_exec(db,
                        "UPDATE return_line SET item_condition = ?, restock_warehouse_id = NULLIF(?, 0) WHERE "
                        "return_id = ? AND line_no = ?",
                        "siii", ch->lines[i].condition, wh[i], ch->return_id, (int64_t)rl[k].line_no) != 1)
            return MER_E_INTERNAL;
        if (wh[i]) {
            mer_stock_line_t sl = {rl[k].sku_id, rl[k].quantity};
            if ((err = mer_stock_return(db, wh[i], &sl, 1, order_id, ch->actor)) != 0)
                return err;
        }
        char field[48];
        int64_t part = 0;
        snprintf(field, sizeof(field), "lines[%zu]", i);
        if ((err = mer_refund_line_units(db, order_id, rl[k].line_no, rl[k].quantity, &part, field, e)) != 0)
            return err == MER_E_VALIDATION ? (e->code = MER_E_CONFLICT) : err; /* refunded meanwhile */
        if (mer_money_add(&amount, amount, part) != 0)
            return MER_E_INTERNAL;
    }
    if ((err = move(db, ch->return_id, "approved", "received", ch->actor, ch->note)) != 0)
        return err;
    /* the money, through the refund path */
    char why[96];
    snprintf(why, sizeof(why), "return %lld (%s)", (long long)ch->return_id, method);
    int64_t as_credit = 0; /* an order paid with store credit: card first, the rest back as credit (refund.h) */
    int64_t got = amount ? mer_refund_request_credit(db, order_id, amount, why, 0, &as_credit) : 0;
    if (got == MER_E_VALIDATION)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "the refund exceeds what is left of the payment");
    if (got < 0)
        return (int)got;
    if (strcmp(method, "store_credit") == 0 && got > as_credit &&
        (err = mer_store_credit_add(db, user_id, country, currency, got - as_credit, why, ch->return_id)) != 0)
        return err;
    if (mer_db_exec(db, "UPDATE return_request SET refund_amount = ? WHERE id = ?", "ii", got, ch->return_id) != 1)
        return MER_E_INTERNAL;
    if (got > 0 && (err = mer_refund_announce(db, order_id)) != 0)
        return err;
    return move(db, ch->return_id, "received", "refunded", "system", "");
}

int mer_return_change(mer_db_t *db, mer_return_change_t *ch, mer_verr_t *e)
{
    char status[20] = "", country[3] = "", method[16] = "", currency[4] = "";
    int64_t order_id = 0, user_id = 0;
    /* the return's row first (see mer_return_create): a second step at once reads the first's outcome */
    if (mer_db_exec(db, "UPDATE return_request SET updated_at = updated_at WHERE id = ?", "i", ch->return_id) < 0)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT status, country, order_id, user_id, refund_method, currency FROM "
                                 "return_request WHERE id = ?",
                                 "i", ch->return_id);
    bool found = mer_rows_next(r);
    if (found) {
        snprintf(status, sizeof(status), "%s", mer_rows_text(r, 0));
        snprintf(country, sizeof(country), "%s", mer_rows_text(r, 1));
        order_id = mer_rows_int(r, 2);
        user_id = mer_rows_int(r, 3);
        snprintf(method, sizeof(method), "%s", mer_rows_text(r, 4));
        snprintf(currency, sizeof(currency), "%s", mer_rows_text(r, 5));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!found || (ch->user_id && user_id != ch->user_id) || (ch->country[0] && strcmp(country, ch->country) != 0))
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such return");
    snprintf(ch->current, sizeof(ch->current), "%s", status);
    static const char *const names[] = {"approve", "reject", "receive", "cancel"};
    bool ok = false;
    switch (ch->step) {
    case MER_RETURN_APPROVE:
        ok = strcmp(status, "requested") == 0;
        break;
    case MER_RETURN_REJECT:
    case MER_RETURN_CANCEL:
        ok = strcmp(status, "requested") == 0 || strcmp(status, "approved") == 0;
        break;
    case MER_RETURN_RECEIVE:
        ok = strcmp(status, "approved") == 0;
        break;
    }
    if (!ok)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "return is %s; it cannot %s", status, names[ch->step]);
    switch (ch->step) {
    case MER_RETURN_APPROVE:
        err = move(db, ch->return_id, status, "approved", ch->actor, ch->note);
        break;
    case MER_RETURN_REJECT:
        err = move(db, ch->return_id, status, "rejected", ch->actor, ch->note);
        break;
    case MER_RETURN_CANCEL:
        err = move(db, ch->return_id, status, "cancelled", ch->actor, ch->note);
        break;
    case MER_RETURN_RECEIVE:
        err = receive(db, ch, order_id, method, user_id, country, currency, e);
        break;
    }
    if (err == MER_E_CONFLICT && e->code == 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "the return changed meanwhile; it cannot %s", names[ch->step]);
    if (err)
        return err;
    r = mer_db_query(db, "SELECT status FROM return_request WHERE id = ?", "i", ch->return_id);
    if (mer_rows_next(r))
        snprintf(ch->current, sizeof(ch->current), "%s", mer_rows_text(r, 0));
    return mer_rows_end(r);
}

/* ---- the return policy of a country ---- */

int mer_return_policy_get(mer_db_t *db, const char *country, json_t **out)
{
    int64_t days = 0;
    char cod[64] = "";
    mer_rows_t *r =
        mer_db_query(db, "SELECT window_days, cod_refund FROM return_policy WHERE country = ?", "s", country);
    if (mer_rows_next(r)) {
        days = mer_rows_int(r, 0);
        snprintf(cod, sizeof(cod), "%s", mer_rows_text(r, 1));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    json_t *methods = json_array();
    for (const char *p = cod; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        json_array_append_new(methods, json_stringn(p, len));
        p = end ? end + 1 : p + len;
    }
    *out = json_pack("{s:s,s:I,s:b,s:o}", "country", country, "window_days", (json_int_t)days, "returns_accepted",
                     days > 0, "cod_refund", methods);
    return 0;
}

int mer_return_policy_set(mer_db_t *db, const char *country, int64_t window_days, const char *cod_refund)
{
    return mer_db_exec(db,
                       "INSERT INTO return_policy (country, window_days, cod_refund, updated_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (country) DO UPDATE SET window_days = excluded.window_days, "
                       "cod_refund = excluded.cod_refund, updated_at = excluded.updated_at",
                       "sisi", country, window_days, cod_refund, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_store_credit_add(mer_db_t *db, int64_t user_id, const char *country, const char *currency, int64_t amount,
                         const char *reason, int64_t return_id)
{
    int rc;
    if (amount == 0)
        return 0;
    if (amount > 0)
        rc = mer_db_exec(db,
                         "INSERT INTO store_credit_balance (user_id, country, balance) VALUES (?, ?, ?) "
                         "ON CONFLICT (user_id, country) DO UPDATE SET balance = store_credit_balance.balance + "
                         "excluded.balance",
                         "isi", user_id, country, amount);
    else /* guarded: on PostgreSQL the row's lock orders two spends, the second re-reads the balance */
        rc = mer_db_exec(db,
                         "UPDATE store_credit_balance SET balance = balance + ? WHERE user_id = ? AND country = ? "
                         "AND balance + ? >= 0",
                         "iisi", amount, user_id, country, amount);
    if (rc < 0)
        return MER_E_INTERNAL;
    if (rc == 0)
        return MER_E_CONFLICT;
    return mer_db_exec(db,
                       "INSERT INTO store_credit (user_id, country, currency, amount, reason, return_id, created_at) "
                       "VALUES (?, ?, ?, ?, ?, NULLIF(?, 0), ?)",
                       "issisii", user_id, country, currency, amount, reason, return_id, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_store_credit_balance(mer_db_t *db, int64_t user_id, const char *country, int64_t *balance)
{
    *balance = 0;
    int err =
        mer_db_query_int(db, balance, "SELECT balance FROM store_credit_balance WHERE user_id = ? AND country = ?",
                         "is", user_id, country);
    return err == MER_E_NOT_FOUND ? 0 : err;
}

int mer_store_credit_get(mer_db_t *db, int64_t user_id, const char *country, json_t **out)
{
    const mer_country_t *c = mer_country_find(mer_countries(), country, 2);
    int64_t balance = 0;
    json_t *entries = json_array();
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT amount, reason, COALESCE(return_id, 0), created_at FROM store_credit WHERE "
                                 "user_id = ? AND country = ? ORDER BY id DESC",
                                 "is", user_id, country);
    while (mer_rows_next(r)) {
        char ts[32];
        int64_t amount = mer_rows_int(r, 0);
        mer_format_utc_ms(mer_rows_int(r, 3), ts);
        if (mer_money_add(&balance, balance, amount) != 0)
            balance = MER_MONEY_MAX;
        json_t *e = json_pack("{s:o,s:s,s:s}", "amount",
                              c ? mer_country_money(c, amount, c->languages[0]) : json_integer(amount), "reason",
                              mer_rows_text(r, 1), "at", ts);
        if (mer_rows_int(r, 2))
            json_object_set_new(e, "return_id", json_integer(mer_rows_int(r, 2)));
        json_array_append_new(entries, e);
    }
    int err = mer_rows_end(r);
    if (err) {
        json_decref(entries);
        return err;
    }
    *out = json_pack("{s:s,s:o,s:o}", "country", country, "balance",
                     c ? mer_country_money(c, balance, c->languages[0]) : json_integer(balance), "entries", entries);
    return 0;
}
