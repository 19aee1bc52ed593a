/*
 * invoice.c — issuing and reading invoices and credit notes (see invoice.h). No HTTP here.
 */
#include "invoice/invoice.h"

#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/err.h"
#include "core/log.h"
#include "core/tz.h"
#include "order/order.h"
#include "region/country.h"
#include "core/banned.h"

/* The HSN code of a SKU's category (or of its parent category) in the country's map; "" when none. */
static void hsn_of(json_t *hsn, int64_t sku_id, char out[16])
{
    out[0] = '\0';
    if (hsn == NULL)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, sku_id);
    const mer_cat_category_t *c = s && s->product ? s->product->category : NULL;
    for (int depth = 0; c && depth < 4 && out[0] == '\0'; depth++) {
        const char *code = json_string_value(json_object_get(hsn, c->slug));
        if (code)
            snprintf(out, 16, "%s", code);
        c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
    }
    mer_catalog_unlock();
}

/* Takes the next number of a series, in the caller's transaction. */
static int next_number(mer_db_t *db, const char *country, const char *series, int64_t *seq, char number[40])
{
    int err = mer_db_query_int(db, seq,
                               "INSERT INTO invoice_series (country, series, last) VALUES (?, ?, 1) "
                               "ON CONFLICT (country, series) DO UPDATE SET last = invoice_series.last + 1 "
                               "RETURNING last",
                               "ss", country, series);
    if (err == 0)
        snprintf(number, 40, "%s-%07lld", series, (long long)*seq);
    return err;
}

static json_t *money(const mer_country_t *c, int64_t amount, const char *lang)
{
    return mer_country_money(c, amount, lang);
}

/* The buyer as the delivery address names them. */
static json_t *buyer_json(const mer_order_view_t *v)
{
    json_t *addr = json_loads(v->address_json ? v->address_json : "{}", 0, NULL);
    if (addr == NULL)
        addr = json_object();
    json_t *b = json_object();
    static const char *const keys[] = {"name", "line1", "line2", "city", "state", "postal_code", "phone"};
    for (size_t i = 0; i < MER_ARRAY_LEN(keys); i++) {
        json_t *x = json_object_get(addr, keys[i]);
        if (json_is_string(x) && json_string_length(x) > 0)
            json_object_set(b, keys[i], x);
    }
    json_decref(addr);
    return b;
}

/* The parts every document shares: who, when, where, in what currency. */
static json_t *document_head(const mer_order_view_t *v, const mer_country_t *c, json_t *inv, const char *kind,
                             const char *number, int64_t now)
{
    char utc[32], local[40];
    mer_format_utc_ms(now, utc);
    mer_tz_format(now, c->timezone, local);
    bool gst = c->tax_split == MER_TAX_SPLIT_GST;
    const char *title = strcmp(kind, "credit_note") == 0  ? (gst ? "Credit Note (GST)" : "Credit Note")
                        : gst                             ? "Tax Invoice (GST)"
                        : strcmp(c->tax_name, "VAT") == 0 ? "VAT Invoice"
                                                          : "Tax Invoice";
    json_t *buyer = buyer_json(v);
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:{s:I, s:s}, s:b, s:s}", "kind", kind, "title", title,
                  "number", number, "issued_at", utc, "issued_at_local", local, "country", c->code, "currency",
                  c->currency.code, "seller", json_object_get(inv, "seller"), "buyer", buyer, "order", "id",
                  (json_int_t)v->id, "number", v->number, "tax_included", v->tax_included, "tax_name", c->tax_name);
    if (gst) {
        /* place of supply: the state delivered to; within the seller's state CGST + SGST, else IGST */
        const char *state = json_string_value(json_object_get(buyer, "state"));
        json_object_set_new(d, "place_of_supply", json_string(state ? state : ""));
        bool intra = false;
        for (size_t i = 0; i < v->ntaxes; i++)
            intra |= strcmp(v->taxes[i].kind, "CGST") == 0;
        json_object_set_new(d, "supply", json_string(intra ? "intra-state" : "inter-state"));
    }
    return d;
}

static json_t *taxes_json(const mer_tax_row_t *t, size_t n, const mer_country_t *c, const char *lang)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:i, s:o, s:o}", "kind", t[i].kind, "rate_bp", t[i].rate_bp, "taxable",
                                        money(c, t[i].taxable, lang), "amount", money(c, t[i].amount, lang)));
    return arr;
}

static int insert_document(mer_db_t *db, const mer_order_view_t *v, const char *kind, const char *series, int64_t seq,
                           const char *number, int64_t refers_to, const char *event_id, int64_t now, int64_t total,
                           json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int err =
        mer_db_exec(db,
                    "INSERT INTO invoice (order_id, kind, country, series, seq, number, refers_to, event_id, "
                    "issued_at, total, document) VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?)",
                    "isssisisiis", v->id, kind, v->country, series, seq, number, refers_to, event_id, now, total, text);
    free(text);
    return err < 0 ? err : 0;
}

static int issue_invoice(mer_db_t *db, const mer_order_view_t *v, const mer_country_t *c, json_t *inv,
                         const char *event_id, int64_t now)
{
    const char *series = json_string_value(json_object_get(inv, "series"));
    json_t *hsn = json_object_get(inv, "hsn");
    int64_t seq;
    char number[40];
    int err = next_number(db, v->country, series, &seq, number);
    if (err)
        return err;
    json_t *doc = document_head(v, c, inv, "invoice", number, now);
    json_t *lines = json_array();
    for (size_t i = 0; i < v->nlines; i++) {
        const mer_order_line_view_t *l = &v->lines[i];
        char h[16];
        hsn_of(hsn, l->sku_id, h);
        int64_t taxable = v->tax_included ? l->line_total - l->tax : l->line_total;
        json_t *line = json_pack("{s:i, s:s, s:s, s:I, s:o, s:o, s:o, s:i, s:o, s:o}", "line_no", l->line_no, "sku",
                                 l->sku, "name", l->name, "quantity", (json_int_t)l->quantity, "unit_price",
                                 money(c, l->unit_price, v->lang), "discount", money(c, l->discount, v->lang),
                                 "taxable", money(c, taxable, v->lang), "tax_rate_bp", l->rate_bp, "tax",
                                 money(c, l->tax, v->lang), "total", money(c, l->line_total, v->lang));
        if (hsn)
            json_object_set_new(line, "hsn", json_string(h));
        json_array_append_new(lines, line);
    }
    json_object_set_new(doc, "lines", lines);
    json_object_set_new(doc, "taxes", taxes_json(v->taxes, v->ntaxes, c, v->lang));
    json_object_set_new(doc, "totals",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "items", money(c, v->items_total, v->lang), "discount",
                                  money(c, v->discount_total, v->lang), "shipping",
                                  money(c, v->shipping_total, v->lang), "tax", money(c, v->tax_total, v->lang),
                                  "grand_total", money(c, v->grand_total, v->lang)));
    err = insert_document(db, v, "invoice", series, seq, number, 0, event_id, now, v->grand_total, doc);
    json_decref(doc);
    return err;
}

/*
 * A credit note for what was refunded since the last document: the amount, each tax row's share of it (in
 * proportion to the invoice's rows; the rounding remainder goes to the last row, so the rows add up), and
 * the units of each line refunded since.
 */
static int issue_credit_note(mer_db_t *db, const mer_order_view_t *v, const mer_country_t *c, json_t *inv,
                             const char *event_id, int64_t now)
{
    int64_t invoice_id = 0, credited = 0;
    int err =
        mer_db_query_int(db, &invoice_id, "SELECT id FROM invoice WHERE order_id = ? AND kind = 'invoice'", "i", v->id);
    if (err == MER_E_NOT_FOUND)
        return 0; /* refunded before it was invoiced (an unpaid order): nothing to correct */
    if (err || (err = mer_db_query_int(db, &credited,
                                       "SELECT COALESCE(SUM(total), 0) FROM invoice WHERE order_id = ? AND kind = "
                                       "'credit_note'",
                                       "i", v->id)) != 0)
        return err;
    int64_t amount = v->refunded_total - credited;
    if (amount <= 0)
        return 0;
    /* units already credited per line, from the earlier credit notes */
    int64_t done[256] = {0};
    mer_rows_t *r =
        mer_db_query(db, "SELECT document FROM invoice WHERE order_id = ? AND kind = 'credit_note'", "i", v->id);
    while (mer_rows_next(r)) {
        json_t *d = json_loads(mer_rows_text(r, 0), 0, NULL);
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(d, "lines"), i, l)
        {
            json_int_t no = json_integer_value(json_object_get(l, "line_no"));
            if (no > 0 && no < 256)
                done[no] += json_integer_value(json_object_get(l, "quantity"));
        }
        json_decref(d);
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;

    const char *series = json_string_value(json_object_get(inv, "credit_series"));
    int64_t seq;
    char number[40], invoice_number[40] = "";
    if ((err = next_number(db, v->country, series, &seq, number)) != 0)
        return err;
    r = mer_db_query(db, "SELECT number FROM invoice WHERE id = ?", "i", invoice_id);
    if (mer_rows_next(r))
        snprintf(invoice_number, sizeof(invoice_number), "%s", mer_rows_text(r, 0));
    if ((err = mer_rows_end(r)) != 0)
        return err;

    json_t *doc = document_head(v, c, inv, "credit_note", number, now);
    json_object_set_new(doc, "refers_to", json_string(invoice_number));
    json_t *lines = json_array();
    for (size_t i = 0; i < v->nlines; i++) {
        const mer_order_line_view_t *l = &v->lines[i];
        int64_t units = l->refunded_qty - (l->line_no > 0 && l->line_no < 256 ? done[l->line_no] : 0);
        if (units > 0)
            json_array_append_new(lines, json_pack("{s:i, s:s, s:s, s:I}", "line_no", l->line_no, "sku", l->sku, "name",
                                                   l->name, "quantity", (json_int_t)units));
    }
    json_object_set_new(doc, "lines", lines);
    mer_tax_row_t rows[MER_PRICE_MAX_TAXES];
    int64_t tax_sum = 0, left = 0;
    for (size_t i = 0; i < v->ntaxes; i++)
        tax_sum += v->taxes[i].amount;
    int64_t tax = v->grand_total > 0 ? mer_div_round((__int128)amount * v->tax_total, v->grand_total, c->rounding) : 0;
    left = tax;
    for (size_t i = 0; i < v->ntaxes; i++) {
        rows[i] = v->taxes[i];
        rows[i].amount = i + 1 == v->ntaxes ? left
                         : tax_sum > 0      ? mer_div_round((__int128)tax * v->taxes[i].amount, tax_sum, c->rounding)
                                            : 0;
        rows[i].taxable =
            v->grand_total > 0 ? mer_div_round((__int128)amount * v->taxes[i].taxable, v->grand_total, c->rounding) : 0;
        left -= rows[i].amount;
    }
    json_object_set_new(doc, "taxes", taxes_json(rows, v->ntaxes, c, v->lang));
    json_object_set_new(
        doc, "totals",
        json_pack("{s:o, s:o}", "tax", money(c, tax, v->lang), "grand_total", money(c, amount, v->lang)));
    err = insert_document(db, v, "credit_note", series, seq, number, invoice_id, event_id, now, amount, doc);
    json_decref(doc);
    return err;
}

int mer_invoice_on_event(mer_db_t *db, const char *type, int64_t order_id, const char *event_id)
{
    bool invoice = strcmp(type, "order.paid") == 0 || strcmp(type, "order.delivered") == 0;
    if (!invoice && strcmp(type, "order.refunded") != 0)
        return 0;
    int64_t seen = 0;
    int err = mer_db_query_int(db, &seen,
                               "SELECT COUNT(*) FROM invoice WHERE event_id = ? OR (order_id = ? AND ? = 1 "
                               "AND kind = 'invoice')",
                               "sii", event_id, order_id, (int64_t)invoice);
    if (err || seen > 0)
        return err;
    mer_order_view_t v;
    memset(&v, 0, sizeof(v));
    if ((err = mer_order_load(db, order_id, 0, &v)) != 0)
        return err == MER_E_NOT_FOUND ? 0 : err;
    const mer_country_t *c = mer_country_find(mer_countries(), v.country, 2);
    json_t *inv = c && c->json ? json_object_get(c->json, "invoicing") : NULL;
    if (inv && (!invoice || strcmp(v.payment_status, "unpaid") != 0 || strcmp(type, "order.delivered") == 0)) {
        int64_t now = mer_now_unix_ms();
        err = invoice ? issue_invoice(db, &v, c, inv, event_id, now) : issue_credit_note(db, &v, c, inv, event_id, now);
    }
    mer_order_view_release(&v);
    return err;
}

int mer_invoice_list(mer_db_t *db, int64_t order_id, int64_t user_id, const char *country, json_t **out)
{
    int64_t owner = 0;
    char cc[3] = "";
    mer_rows_t *r = mer_db_query(db, "SELECT user_id, country FROM orders WHERE id = ?", "i", order_id);
    if (mer_rows_next(r)) {
        owner = mer_rows_int(r, 0);
        snprintf(cc, sizeof(cc), "%s", mer_rows_text(r, 1));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (owner == 0 || (user_id > 0 && owner != user_id) || (country && country[0] && strcmp(country, cc) != 0))
        return MER_E_NOT_FOUND;
    json_t *arr = json_array();
    r = mer_db_query(db, "SELECT id, kind, number, issued_at, document FROM invoice WHERE order_id = ? ORDER BY id",
                     "i", order_id);
    while (mer_rows_next(r)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(r, 3), ts);
        json_t *doc = json_loads(mer_rows_text(r, 4), 0, NULL);
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)mer_rows_int(r, 0), "kind",
                                             mer_rows_text(r, 1), "number", mer_rows_text(r, 2), "issued_at", ts,
                                             "document", doc ? doc : json_object()));
    }
    if ((err = mer_rows_end(r)) != 0) {
        json_decref(arr);
        return err;
    }
    *out = arr;
    return 0;
}
