/*
 * order_view.c — loading an order with its lines, tax breakdown, events and payments, and the one JSON
 * form of an order used by every route that answers with one.
 */
#include <stdio.h>

#include "core/log.h"
#include "core/tz.h"
#include "order/order.h"
#include "region/country.h"
#include "core/banned.h"

void mer_order_view_release(mer_order_view_t *v)
{
    free(v->address_json);
    free(v->lines);
    json_decref(v->events);
    json_decref(v->payments);
    memset(v, 0, sizeof(*v));
}

#define COPY(dst, rows, col) snprintf((dst), sizeof(dst), "%s", mer_rows_text((rows), (col)))

int mer_order_load(mer_db_t *db, int64_t id, int64_t user_id, mer_order_view_t *v)
{
    memset(v, 0, sizeof(*v));
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT o.id, o.user_id, o.number, o.country, o.currency, o.lang, o.status, "
                                 "o.payment_method, o.payment_status, COALESCE(w.code, ''), o.tax_included, "
                                 "o.items_total, o.discount_total, o.shipping_total, o.tax_total, o.grand_total, "
                                 "o.refunded_total, o.address, COALESCE(o.coupon_code, ''), "
                                 "COALESCE(o.tracking_number, ''), o.created_at, o.updated_at, "
                                 "COALESCE(o.expires_at, 0) FROM orders o LEFT JOIN warehouse w ON w.id = o.warehouse_id "
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
    r = mer_db_query(db, "SELECT kind, rate_bp, taxable, amount FROM order_tax WHERE order_id = ? ORDER BY rowid", "i",
                     id);
    while (mer_rows_next(r) && v->ntaxes < MER_PRICE_MAX_TAXES) {
        mer_tax_row_t *t = &v->taxes[v->ntaxes++];
        COPY(t->kind, r, 0);
        t->rate_bp = (int)mer_rows_int(r, 1);
        t->taxable = mer_rows_int(r, 2);
        t->amount = mer_rows_int(r, 3);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    v->events = json_array();
    r = mer_db_query(db,
                     "SELECT from_status, to_status, actor, note, at FROM order_event WHERE order_id = ? ORDER BY id",
                     "i", id);
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
    v->payments = json_array();
    r = mer_db_query(db,
                     "SELECT provider, kind, amount, status, COALESCE(provider_ref, ''), reason, created_at "
                     "FROM payment WHERE order_id = ? ORDER BY id",
                     "i", id);
    while (mer_rows_next(r)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(r, 6), ts);
        json_t *p = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "provider", mer_rows_text(r, 0), "kind",
                              mer_rows_text(r, 1), "amount", (json_int_t)mer_rows_int(r, 2), "status",
                              mer_rows_text(r, 3), "reference", mer_rows_text(r, 4), "at", ts);
        if (mer_rows_len(r, 5))
            json_object_set_new(p, "reason", json_string(mer_rows_text(r, 5)));
        json_array_append_new(v->payments, p);
    }
    return mer_rows_end(r);
}

json_t *mer_order_json(const mer_order_view_t *v)
{
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *c = mer_country_find(cs, v->country, 2);
    const char *lang = v->lang[0] ? v->lang : "en";
#define MONEY(x) (c ? mer_country_money(c, (x), lang) : json_integer(x))
    json_t *lines = json_array();
    for (size_t i = 0; i < v->nlines; i++) {
        const mer_order_line_view_t *l = &v->lines[i];
        json_t *o = json_pack("{s:i,s:I,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:i}", "line_no", l->line_no, "sku_id",
                              (json_int_t)l->sku_id, "sku", l->sku, "name", l->name, "sale_type", l->sale_type,
                              "quantity", (json_int_t)l->quantity, "unit_price", MONEY(l->unit_price), "discount",
                              MONEY(l->discount), "line_total", MONEY(l->line_total), "tax", MONEY(l->tax),
                              "tax_rate_bp", l->rate_bp);
        if (l->refunded_qty)
            json_object_set_new(o, "refunded_quantity", json_integer(l->refunded_qty));
        json_array_append_new(lines, o);
    }
    json_t *taxes = json_array();
    for (size_t i = 0; i < v->ntaxes; i++)
        json_array_append_new(taxes, json_pack("{s:s,s:i,s:o,s:o}", "kind", v->taxes[i].kind, "rate_bp",
                                               v->taxes[i].rate_bp, "taxable", MONEY(v->taxes[i].taxable), "amount",
                                               MONEY(v->taxes[i].amount)));
    json_t *totals = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "items", MONEY(v->items_total), "discount",
                               MONEY(v->discount_total), "shipping", MONEY(v->shipping_total), "tax",
                               MONEY(v->tax_total), "grand_total", MONEY(v->grand_total), "refunded",
                               MONEY(v->refunded_total));
#undef MONEY
    const char *tz = c ? c->timezone : "UTC";
    char created[32], created_local[40], updated[32];
    mer_format_utc_ms(v->created_at, created);
    mer_tz_format(v->created_at, tz, created_local);
    mer_format_utc_ms(v->updated_at, updated);
    json_t *addr = json_loads(v->address_json ? v->address_json : "{}", 0, NULL);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:b,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:s,s:s}", "id",
                          (json_int_t)v->id, "number", v->number, "status", v->status, "country", v->country,
                          "currency", v->currency, "payment", "method", v->payment_method, "status",
                          v->payment_status, "tax_included", v->tax_included, "lines", lines, "taxes", taxes, "totals",
                          totals, "address", addr ? addr : json_object(), "warehouse", v->warehouse, "created_at",
                          created, "created_at_local", created_local, "updated_at", updated, "timezone", tz);
    if (v->tracking[0])
        json_object_set_new(o, "tracking_number", json_string(v->tracking));
    if (v->coupon[0])
        json_object_set_new(o, "coupon", json_string(v->coupon));
    if (v->expires_at && strcmp(v->status, "pending_payment") == 0) {
        char exp[32], exp_local[40];
        mer_format_utc_ms(v->expires_at, exp);
        mer_tz_format(v->expires_at, tz, exp_local);
        json_object_set_new(o, "pay_before", json_string(exp));
        json_object_set_new(o, "pay_before_local", json_string(exp_local));
    }
    if (v->events)
        json_object_set(o, "events", v->events);
    if (v->payments)
        json_object_set(o, "payments", v->payments);
    return o;
}
