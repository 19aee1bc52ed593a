/*
 * cart.c — the cart service (see cart.h): lines, changes, merges and the re-priced view, on the database
 * connection it is given. No HTTP here: cart_http.c is the adapter.
 */
#include "cart/cart.h"

#include <sodium.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "inventory/inventory.h"
#include "pricing/pricing.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

void mer_cart_user_id(int64_t user_id, const char *country, char out[64])
{
    snprintf(out, 64, "u_%lld_%s", (long long)user_id, country);
}

int mer_cart_lines(mer_db_t *db, const char *cart_id, mer_cart_line_t *out, size_t max)
{
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT sku_id, sale_type, quantity, unit_price, COALESCE(flash_token, '') "
                                 "FROM cart_item WHERE cart_id = ? ORDER BY added_at, sku_id",
                                 "s", cart_id);
    while (mer_rows_next(r) && n < max) {
        mer_cart_line_t *l = &out[n++];
        l->sku_id = mer_rows_int(r, 0);
        snprintf(l->sale_type, sizeof(l->sale_type), "%s", mer_rows_text(r, 1));
        l->quantity = mer_rows_int(r, 2);
        l->unit_price = mer_rows_int(r, 3);
        snprintf(l->flash_token, sizeof(l->flash_token), "%s", mer_rows_text(r, 4));
    }
    int err = mer_rows_end(r);
    return err ? err : (int)n;
}

int mer_cart_remove_line(mer_db_t *db, const char *cart_id, int64_t sku_id, const char *sale_type)
{
    return mer_db_exec(db, "DELETE FROM cart_item WHERE cart_id = ? AND sku_id = ? AND sale_type = ?", "sis", cart_id,
                       sku_id, sale_type) < 0
               ? MER_E_INTERNAL
               : 0;
}

static int64_t sku_limit(int64_t sku_id)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, sku_id);
    int64_t limit = s ? s->max_per_order : 0;
    mer_catalog_unlock();
    return limit;
}

int mer_cart_guest_country(mer_db_t *db, const char *id, char country[3])
{
    country[0] = '\0';
    mer_rows_t *r = mer_db_query(db, "SELECT country FROM cart WHERE id = ? AND user_id IS NULL", "s", id);
    if (mer_rows_next(r))
        snprintf(country, 3, "%s", mer_rows_text(r, 0));
    int err = mer_rows_end(r);
    return err ? err : country[0] ? 0 : MER_E_NOT_FOUND;
}

static void merge_note(mer_cart_merge_t *m, const mer_cart_line_t *l, int64_t requested, int64_t quantity,
                       const char *reason)
{
    mer_cart_merge_note_t *n = &m->notes[m->nnotes++];
    n->sku_id = l->sku_id;
    snprintf(n->sale_type, sizeof(n->sale_type), "%s", l->sale_type);
    n->requested = requested;
    n->quantity = quantity;
    n->reason = reason;
}

int mer_cart_merge(mer_db_t *db, const char *guest, int64_t user_id, mer_cart_merge_t *out)
{
    char country[3], user_cart[64];
    memset(out, 0, sizeof(*out));
    int gerr = mer_cart_guest_country(db, guest, country);
    if (gerr)
        return gerr;
    mer_cart_user_id(user_id, country, user_cart);
    int64_t now = mer_now_unix_ms(), nlines = 0;
    if (mer_db_exec(db,
                    "INSERT INTO cart (id, user_id, country, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
                    "sisii", user_cart, user_id, country, now, now) < 0)
        return MER_E_INTERNAL;
    mer_cart_line_t lines[MER_CART_MAX_LINES];
    int n = mer_cart_lines(db, guest, lines, MER_CART_MAX_LINES);
    if (n < 0)
        return n;
    if (mer_db_query_int(db, &nlines, "SELECT COUNT(*) FROM cart_item WHERE cart_id = ?", "s", user_cart) != 0)
        return MER_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        const mer_cart_line_t *l = &lines[i];
        int64_t limit = sku_limit(l->sku_id), have = 0;
        if (limit <= 0)
            limit = 1000; /* a SKU gone from the catalogue: the cart's own quantity bound */
        int err = mer_db_query_int(db, &have,
                                   "SELECT quantity FROM cart_item WHERE cart_id = ? AND sku_id = ? AND sale_type = ?",
                                   "sis", user_cart, l->sku_id, l->sale_type);
        if (err && err != MER_E_NOT_FOUND)
            return err;
        if (err == MER_E_NOT_FOUND && nlines >= MER_CART_MAX_LINES) {
            merge_note(out, l, l->quantity, 0, "cart_full");
            continue;
        }
        int64_t want = have + l->quantity, keep = MER_MIN(want, limit);
        if (err == 0
                ? mer_db_exec(db,
                              "UPDATE cart_item SET quantity = ? WHERE cart_id = ? AND sku_id = ? AND sale_type = ?",
                              "isis", keep, user_cart, l->sku_id, l->sale_type) < 0
                : mer_db_exec(db,
                              "INSERT INTO cart_item (cart_id, sku_id, sale_type, quantity, unit_price, flash_token, "
                              "added_at) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?)",
                              "sisiisi", user_cart, l->sku_id, l->sale_type, keep, l->unit_price, l->flash_token,
                              now) < 0)
            return MER_E_INTERNAL;
        if (err == MER_E_NOT_FOUND)
            nlines++;
        out->merged++;
        if (keep < want)
            merge_note(out, l, want, keep, "quantity_capped");
    }
    if (mer_db_exec(db, "DELETE FROM cart WHERE id = ?", "s", guest) < 0)
        return MER_E_INTERNAL;
    return 0;
}

json_t *mer_cart_merge_json(const mer_cart_merge_t *m)
{
    json_t *dropped = json_array(), *capped = json_array();
    const mer_catalog_t *cat = mer_catalog_lock();
    for (int i = 0; i < m->nnotes; i++) {
        const mer_cart_merge_note_t *n = &m->notes[i];
        const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, n->sku_id);
        json_t *o = json_pack("{s:s,s:I,s:s,s:s}", "sku", s ? s->code : "", "sku_id", (json_int_t)n->sku_id,
                              "sale_type", n->sale_type, "reason", n->reason);
        if (n->quantity == 0) {
            json_object_set_new(o, "quantity", json_integer(n->requested));
            json_array_append_new(dropped, o);
        } else {
            json_object_set_new(o, "requested", json_integer(n->requested));
            json_object_set_new(o, "quantity", json_integer(n->quantity));
            json_array_append_new(capped, o);
        }
    }
    mer_catalog_unlock();
    return json_pack("{s:i,s:o,s:o}", "merged", m->merged, "dropped", dropped, "capped", capped);
}

/* ---- the cart view: re-priced on every read ---- */

json_t *mer_cart_view(mer_db_t *db, const mer_cart_ref_t *c, const mer_locale_chain_t *chain)
{
    mer_cart_line_t lines[MER_CART_MAX_LINES];
    int n = c->id[0] ? mer_cart_lines(db, c->id, lines, MER_CART_MAX_LINES) : 0;
    if (n < 0)
        return NULL;
    const mer_country_t *country = c->country;
    const mer_catalog_t *cat = mer_catalog_lock();
    const char *lang = mer_catalog_resolve_lang(cat, chain);
    mer_pline_t plines[MER_CART_MAX_LINES];
    size_t np = 0;
    json_t *out_lines = json_array(), *warnings = json_array();
    json_t *line_objs[MER_CART_MAX_LINES];
    int line_idx[MER_CART_MAX_LINES];
    for (int i = 0; i < n; i++) {
        const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, lines[i].sku_id);
        int64_t price = s && s->product->active ? mer_catalog_price(s, country->code) : -1;
        int64_t avail = 0;
        mer_stock_available(db, lines[i].sku_id, country->code, &avail);
        bool sold = price >= 0;
        bool in_stock = avail >= lines[i].quantity;
        if (strcmp(lines[i].sale_type, "flash") == 0)
            price = lines[i].unit_price; /* the flash price was fixed by the purchase token */
        const mer_cat_text_t *t = s ? mer_catalog_text(s->product->texts, s->product->ntexts, chain) : NULL;
        json_t *attrs = json_object();
        for (size_t a = 0; s && a < s->nattrs; a++)
            json_object_set_new(attrs, s->attrs[a].key, json_string(s->attrs[a].value));
        json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:o,s:s,s:I,s:b,s:b,s:I}", "sku", s ? s->code : "", "sku_id",
                              (json_int_t)lines[i].sku_id, "product_id", (json_int_t)(s ? s->product->id : 0), "name",
                              t ? t->name : "", "attributes", attrs, "sale_type", lines[i].sale_type, "quantity",
                              (json_int_t)lines[i].quantity, "available", sold, "in_stock", in_stock, "max_per_order",
                              (json_int_t)(s ? s->max_per_order : 0));
        if (sold) {
            bool changed = price != lines[i].unit_price;
            json_object_set_new(o, "unit_price", mer_country_money(country, price, lang));
            json_object_set_new(o, "price_changed", json_boolean(changed));
            if (changed) {
                json_object_set_new(o, "added_unit_price", mer_country_money(country, lines[i].unit_price, lang));
                json_array_append_new(warnings, json_pack("{s:s,s:s}", "code", "price_changed", "sku", s->code));
            }
        } else {
            json_array_append_new(warnings, json_pack("{s:s,s:s}", "code", "not_sold_here", "sku", s ? s->code : ""));
        }
        if (sold && !in_stock)
            json_array_append_new(warnings, json_pack("{s:s,s:s,s:I}", "code", "out_of_stock", "sku", s->code,
                                                      "available", (json_int_t)avail));
        line_objs[i] = o;
        line_idx[i] = -1;
        if (sold && in_stock) {
            int rate = mer_country_tax_rate(country, s->product->tax_class);
            plines[np] =
                (mer_pline_t){.unit_price = price, .quantity = lines[i].quantity, .rate_bp = rate < 0 ? 0 : rate};
            line_idx[i] = (int)np++;
        }
    }
    mer_price_result_t pr;
    /* a line that would take the totals beyond MER_MONEY_MAX is left out (the last one added if only the
     * sum is too large), like a line not sold here, and checkout would refuse it */
    while (mer_price_order(country, plines, np, false, false, &pr) != 0) {
        int bad = pr.bad_line >= 0 ? pr.bad_line : (int)np - 1;
        for (int i = 0; i < n; i++) {
            if (line_idx[i] == bad)
                json_array_append_new(warnings, json_pack("{s:s,s:O}", "code", "total_too_large", "sku",
                                                          json_object_get(line_objs[i], "sku")));
            line_idx[i] = line_idx[i] == bad ? -1 : line_idx[i] - (line_idx[i] > bad);
        }
        memmove(&plines[bad], &plines[bad + 1], (np - (size_t)bad - 1) * sizeof(plines[0]));
        np--;
    }
    for (int i = 0; i < n; i++) {
        if (line_idx[i] >= 0)
            json_object_set_new(line_objs[i], "line_total",
                                mer_country_money(country, plines[line_idx[i]].line_total, lang));
        json_array_append_new(out_lines, line_objs[i]);
    }
    mer_catalog_unlock();
    json_t *totals = json_pack("{s:o,s:o,s:o,s:o}", "items", mer_country_money(country, pr.items_total, lang),
                               "shipping", mer_country_money(country, pr.shipping_total, lang), "tax",
                               mer_country_money(country, pr.tax_total, lang), "grand_total",
                               mer_country_money(country, pr.grand_total, lang));
    return json_pack("{s:s?,s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "id", c->id[0] ? c->id : NULL, "country", country->code,
                     "currency", country->currency.code, "lang", lang, "tax_included", country->tax_inclusive, "lines",
                     out_lines, "totals", totals, "warnings", warnings);
}

/* ---- changes ---- */

int mer_cart_apply(mer_db_t *db, const mer_cart_ref_t *c, const mer_cart_change_t *ch, mer_verr_t *e)
{
    int64_t now = mer_now_unix_ms(), have = 0, nlines = 0;
    if (ch->op != MER_CART_REMOVE) {
        int rc = c->user_id ? mer_db_exec(db,
                                          "INSERT INTO cart (id, user_id, country, created_at, updated_at) "
                                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = ?",
                                          "sisiii", c->id, c->user_id, c->country->code, now, now, now)
                            : mer_db_exec(db,
                                          "INSERT INTO cart (id, country, created_at, updated_at) VALUES (?, ?, ?, ?) "
                                          "ON CONFLICT (id) DO UPDATE SET updated_at = ?",
                                          "ssiii", c->id, c->country->code, now, now, now);
        if (rc < 0)
            return MER_E_INTERNAL;
    }
    int err =
        mer_db_query_int(db, &have, "SELECT quantity FROM cart_item WHERE cart_id = ? AND sku_id = ? AND sale_type = ?",
                         "sis", c->id, ch->sku_id, ch->sale_type);
    if (err && err != MER_E_NOT_FOUND)
        return err;
    bool exists = err == 0;
    if (ch->op == MER_CART_REMOVE || (ch->op == MER_CART_SET && !exists)) {
        if (!exists)
            return mer_verr_set(e, MER_E_NOT_FOUND, "sku", "this SKU is not in the cart");
        return mer_cart_remove_line(db, c->id, ch->sku_id, ch->sale_type);
    }
    int64_t q = ch->op == MER_CART_ADD ? have + ch->quantity : ch->quantity;
    if (q > ch->limit)
        return mer_verr_set(e, MER_E_VALIDATION, "quantity", "at most %lld of this SKU per order",
                            (long long)ch->limit);
    if (!exists) {
        if (mer_db_query_int(db, &nlines, "SELECT COUNT(*) FROM cart_item WHERE cart_id = ?", "s", c->id) != 0)
            return MER_E_INTERNAL;
        if (nlines >= MER_CART_MAX_LINES)
            return mer_verr_set(e, MER_E_VALIDATION, "sku", "a cart holds at most %d lines", MER_CART_MAX_LINES);
    }
    if (mer_db_exec(db,
                    "INSERT INTO cart_item (cart_id, sku_id, sale_type, quantity, unit_price, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cart_id, sku_id, sale_type) DO UPDATE "
                    "SET quantity = excluded.quantity",
                    "sisiii", c->id, ch->sku_id, ch->sale_type, q, ch->unit_price, now) < 0)
        return MER_E_INTERNAL;
    return 0;
}
