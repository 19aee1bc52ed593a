/*
 * order_view.c — loading an order with its lines, tax breakdown, events and payments, and the one JSON
 * form of an order used by every route that answers with one.
 */
#include <stdio.h>

#include "core/log.h"
#include "core/jsonw.h"
#include "core/tz.h"
#include "order/order.h"
#include "order/shipment.h"
#include "payment/payment.h"
#include "region/country.h"
#include "store/ops_order.h"
#include "core/banned.h"

void mer_order_view_release(mer_order_view_t *v)
{
    free(v->address_json);
    free(v->lines);
    json_decref(v->events);
    json_decref(v->payments);
    json_decref(v->shipments);
    free(v->shipments_text);
    memset(v, 0, sizeof(*v));
}

#define COPY(dst, rows, col) snprintf((dst), sizeof(dst), "%s", mer_rows_text((rows), (col)))

int mer_order_load(mer_db_t *db, int64_t id, int64_t user_id, mer_order_view_t *v)
{
    memset(v, 0, sizeof(*v));
    mer_rows_t *r = mer_db_query(
        db,
        "SELECT o.id, o.user_id, o.number, o.country, o.currency, o.lang, o.status, "
        "o.payment_method, o.payment_status, COALESCE(w.code, ''), o.tax_included, "
        "o.items_total, o.discount_total, o.shipping_total, o.tax_total, o.grand_total, "
        "o.refunded_total, o.address, COALESCE(o.coupon_code, ''), "
        "COALESCE(o.tracking_number, ''), o.created_at, o.updated_at, "
        "COALESCE(o.expires_at, 0), o.store_credit FROM orders o LEFT JOIN warehouse w ON w.id = o.warehouse_id "
        "WHERE o.id = ? AND (? = 0 OR o.user_id = ?)",
        "iii", id, user_id, user_id);
    bool found = mer_rows_next(r);
    if (found) {
        v->id = mer_rows_int(r, 0);
        v->user_id = mer_rows_int(r, 1);
        COPY(v->number, r, 2);
        COPY(v->country, r, 3);
        COPY(v->currency, r, 4);
        COPY(v->lang, r, 5);
        COPY(v->status, r, 6);
        COPY(v->payment_method, r, 7);
        COPY(v->payment_status, r, 8);
        COPY(v->warehouse, r, 9);
        v->tax_included = mer_rows_int(r, 10) != 0;
        v->items_total = mer_rows_int(r, 11);
        v->discount_total = mer_rows_int(r, 12);
        v->shipping_total = mer_rows_int(r, 13);
        v->tax_total = mer_rows_int(r, 14);
        v->grand_total = mer_rows_int(r, 15);
        v->refunded_total = mer_rows_int(r, 16);
        v->address_json = mer_xstrdup(mer_rows_text(r, 17));
        COPY(v->coupon, r, 18);
        COPY(v->tracking, r, 19);
        v->created_at = mer_rows_int(r, 20);
        v->updated_at = mer_rows_int(r, 21);
        v->expires_at = mer_rows_int(r, 22);
        v->store_credit = mer_rows_int(r, 23);
    }
    int err = mer_rows_end(r);
    if (err || !found)
        return err ? err : MER_E_NOT_FOUND;

    size_t cap = 4;
    v->lines = mer_xcalloc(cap, sizeof(*v->lines));
    r = mer_db_query(db,
                     "SELECT line_no, sku_id, sku_code, name, sale_type, quantity, unit_price, discount, line_total, "
                     "tax, tax_rate_bp, refunded_qty FROM order_line WHERE order_id = ? ORDER BY line_no",
                     "i", id);
    while (mer_rows_next(r)) {
        if (v->nlines == cap) {
            cap *= 2;
            v->lines = mer_xrealloc(v->lines, cap * sizeof(*v->lines));
        }
        mer_order_line_view_t *l = &v->lines[v->nlines++];
        l->line_no = (int)mer_rows_int(r, 0);
        l->sku_id = mer_rows_int(r, 1);
        COPY(l->sku, r, 2);
        COPY(l->name, r, 3);
        COPY(l->sale_type, r, 4);
        l->quantity = mer_rows_int(r, 5);
        l->unit_price = mer_rows_int(r, 6);
        l->discount = mer_rows_int(r, 7);
        l->line_total = mer_rows_int(r, 8);
        l->tax = mer_rows_int(r, 9);
        l->rate_bp = (int)mer_rows_int(r, 10);
        l->refunded_qty = mer_rows_int(r, 11);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    r = mer_store_order_taxes(db, id);
    while (mer_rows_next(r) && v->ntaxes < MER_PRICE_MAX_TAXES) {
        mer_tax_row_t *t = &v->taxes[v->ntaxes++];
        COPY(t->kind, r, 0);
        t->rate_bp = (int)mer_rows_int(r, 1);
        t->taxable = mer_rows_int(r, 2);
        t->amount = mer_rows_int(r, 3);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    r = mer_db_query(db,
                     "SELECT intent FROM payment WHERE order_id = ? AND kind = 'charge' AND status = 'pending' "
                     "AND intent IS NOT NULL ORDER BY id DESC LIMIT 1",
                     "i", id);
    if (mer_rows_next(r) && strcmp(v->status, "pending_payment") == 0) {
        COPY(v->intent, r, 0);
        mer_wallet_redirect_url(v->intent, v->currency, v->redirect_url, sizeof(v->redirect_url));
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    r = mer_db_query(db, "SELECT carrier, tracking_number FROM shipment WHERE order_id = ?", "i", id);
    if (mer_rows_next(r)) {
        COPY(v->carrier, r, 0);
        COPY(v->shipment_tracking, r, 1);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    v->events = json_array();
    r = mer_db_query(
        db, "SELECT from_status, to_status, actor, note, at FROM order_event WHERE order_id = ? ORDER BY id", "i", id);
    while (mer_rows_next(r)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(r, 4), ts);
        json_t *e = json_pack("{s:s?,s:s,s:s,s:s}", "from", mer_rows_null(r, 0) ? NULL : mer_rows_text(r, 0), "to",
                              mer_rows_text(r, 1), "actor", mer_rows_text(r, 2), "at", ts);
        if (mer_rows_len(r, 3))
            json_object_set_new(e, "note", json_string(mer_rows_text(r, 3)));
        json_array_append_new(v->events, e);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    if ((v->shipments = mer_shipments_json(db, id)) == NULL)
        return MER_E_INTERNAL;
    v->payments = json_array();
    r = mer_db_query(db,
                     "SELECT provider, kind, amount, status, COALESCE(provider_ref, ''), reason, created_at, id, "
                     "COALESCE(intent, ''), COALESCE(refund_of, 0), COALESCE(duplicate_of, 0) "
                     "FROM payment WHERE order_id = ? ORDER BY id",
                     "i", id);
    while (mer_rows_next(r)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(r, 6), ts);
        json_t *p =
            json_pack("{s:I,s:s,s:s,s:I,s:s,s:s,s:s}", "id", (json_int_t)mer_rows_int(r, 7), "provider",
                      mer_rows_text(r, 0), "kind", mer_rows_text(r, 1), "amount", (json_int_t)mer_rows_int(r, 2),
                      "status", mer_rows_text(r, 3), "reference", mer_rows_text(r, 4), "at", ts);
        if (mer_rows_len(r, 5))
            json_object_set_new(p, "reason", json_string(mer_rows_text(r, 5)));
        if (mer_rows_len(r, 8))
            json_object_set_new(p, "intent", json_string(mer_rows_text(r, 8)));
        if (mer_rows_int(r, 9))
            json_object_set_new(p, "refund_of", json_integer(mer_rows_int(r, 9)));
        /* a charge that paid the order a second time: not the order's money, refunded in full */
        if (mer_rows_int(r, 10))
            json_object_set_new(p, "duplicate_of", json_integer(mer_rows_int(r, 10)));
        json_array_append_new(v->payments, p);
    }
    return mer_rows_end(r);
}

/* Writes a JSON value that mer_order_load built; nothing when it was not loaded (NULL). */
static void write_loaded(mer_jw_t *w, const char *key, const json_t *v)
{
    if (v == NULL)
        return;
    size_t n;
    char *s = mer_json_dump(v, &n);
    mer_jw_raw(w, key, s, n);
    free(s);
}

void mer_order_write(mer_buf_t *out, const mer_order_view_t *v)
{
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *c = mer_country_find(cs, v->country, 2);
    const char *lang = v->lang[0] ? v->lang : "en";
    mer_jw_t w;
    mer_jw_init(&w, out);
    mer_money_fmt_t mf;
    if (c)
        mer_country_money_fmt(c, lang, &mf);
#define MONEY(k, x)                                                                                                    \
    do {                                                                                                               \
        if (c) {                                                                                                       \
            mer_jw_key(&w, (k));                                                                                       \
            mer_money_json_fmt(w.b, &mf, (x));                                                                         \
        } else {                                                                                                       \
            mer_jw_int(&w, (k), (x));                                                                                  \
        }                                                                                                              \
    } while (0)
    const char *tz = c ? c->timezone : "UTC";
    char ts[40];
    mer_jw_obj(&w, NULL);
    mer_jw_int(&w, "id", v->id);
    mer_jw_str(&w, "number", v->number);
    mer_jw_str(&w, "status", v->status);
    mer_jw_str(&w, "country", v->country);
    mer_jw_str(&w, "currency", v->currency);
    mer_jw_obj(&w, "payment");
    mer_jw_str(&w, "method", v->payment_method);
    mer_jw_str(&w, "status", v->payment_status);
    if (v->intent[0]) {
        mer_jw_str(&w, "intent", v->intent);
        mer_jw_str(&w, "redirect_url", v->redirect_url);
    }
    mer_jw_end(&w);
    mer_jw_bool(&w, "tax_included", v->tax_included);
    mer_jw_arr(&w, "lines");
    for (size_t i = 0; i < v->nlines; i++) {
        const mer_order_line_view_t *l = &v->lines[i];
        mer_jw_obj(&w, NULL);
        mer_jw_int(&w, "line_no", l->line_no);
        mer_jw_int(&w, "sku_id", l->sku_id);
        mer_jw_str(&w, "sku", l->sku);
        mer_jw_str(&w, "name", l->name);
        mer_jw_str(&w, "sale_type", l->sale_type);
        mer_jw_int(&w, "quantity", l->quantity);
        MONEY("unit_price", l->unit_price);
        MONEY("discount", l->discount);
        MONEY("line_total", l->line_total);
        MONEY("tax", l->tax);
        mer_jw_int(&w, "tax_rate_bp", l->rate_bp);
        if (l->refunded_qty)
            mer_jw_int(&w, "refunded_quantity", l->refunded_qty);
        mer_jw_end(&w);
    }
    mer_jw_end(&w);
    mer_jw_arr(&w, "taxes");
    for (size_t i = 0; i < v->ntaxes; i++) {
        mer_jw_obj(&w, NULL);
        mer_jw_str(&w, "kind", v->taxes[i].kind);
        mer_jw_int(&w, "rate_bp", v->taxes[i].rate_bp);
        MONEY("taxable", v->taxes[i].taxable);
        MONEY("amount", v->taxes[i].amount);
        mer_jw_end(&w);
    }
    mer_jw_end(&w);
    mer_jw_obj(&w, "totals");
    MONEY("items", v->items_total);
    MONEY("discount", v->discount_total);
    MONEY("shipping", v->shipping_total);
    MONEY("tax", v->tax_total);
    MONEY("grand_total", v->grand_total);
    MONEY("store_credit", v->store_credit);                /* paid with store credit (checkout.h) */
    MONEY("amount_due", v->grand_total - v->store_credit); /* what the payment method collects */
    MONEY("refunded", v->refunded_total);
    mer_jw_end(&w);
#undef MONEY
    const char *addr = v->address_json && v->address_json[0] ? v->address_json : "{}";
    mer_jw_raw(&w, "address", addr, strlen(addr));
    if (v->warehouse[0])
        mer_jw_str(&w, "warehouse", v->warehouse);
    mer_format_utc_ms(v->created_at, ts);
    mer_jw_str(&w, "created_at", ts);
    mer_tz_format(v->created_at, tz, ts);
    mer_jw_str(&w, "created_at_local", ts);
    mer_format_utc_ms(v->updated_at, ts);
    mer_jw_str(&w, "updated_at", ts);
    mer_jw_str(&w, "timezone", tz);
    if (v->tracking[0])
        mer_jw_str(&w, "tracking_number", v->tracking);
    if (v->carrier[0]) {
        mer_jw_obj(&w, "shipment");
        mer_jw_str(&w, "carrier", v->carrier);
        mer_jw_str(&w, "tracking_number", v->shipment_tracking);
        mer_jw_end(&w);
    }
    if (v->coupon[0])
        mer_jw_str(&w, "coupon", v->coupon);
    if (v->expires_at && strcmp(v->status, "pending_payment") == 0) {
        mer_format_utc_ms(v->expires_at, ts);
        mer_jw_str(&w, "pay_before", ts);
        mer_tz_format(v->expires_at, tz, ts);
        mer_jw_str(&w, "pay_before_local", ts);
    }
    if (v->shipments_text)
        mer_jw_raw(&w, "shipments", v->shipments_text, strlen(v->shipments_text));
    else
        write_loaded(&w, "shipments", v->shipments);
    write_loaded(&w, "events", v->events);
    write_loaded(&w, "payments", v->payments);
    mer_jw_end(&w);
}

static _Thread_local mer_buf_t scratch;

void mer_reply_order(mer_req_t *r, int status, const mer_order_view_t *v)
{
    mer_buf_reset(&scratch);
    mer_order_write(&scratch, v);
    mer_reply_bytes(r, status, NULL, mer_req_strdup(r, scratch.data, scratch.len), scratch.len);
}

void mer_order_thread_release(void)
{
    mer_buf_release(&scratch);
}
