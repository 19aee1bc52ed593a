/*
 * checkout.c — POST /api/v1/orders (see order.h for the sequence).
 *
 * Body: {"address_id": 12 | "address": {...}, "payment_method": "card"|"wallet"|"cod",
 *        "lines": [{"sku": "...", "quantity": 1}]   (optional: default is the cart),
 *        "expected_total": 1999900                  (optional: 409 price_changed if the total differs)}
 * Header Idempotency-Key (optional, 1-100 printable characters): a retry with the same key and body
 * returns the same order; the same key with another body is 422 idempotency_key_reused.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>

#include "account/account.h"
#include "cart/cart.h"
#include "catalog/catalog.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/tz.h"
#include "inventory/inventory.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "order/checkout_input.h"
#include "order/coupon.h"
#include "order/order.h"
#include "payment/payment.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

typedef struct co_line {
    bool flash; /* bought with a flash-sale token at the flash price */
    int64_t sku_id, product_id, quantity, unit_price, discount;
    int rate_bp;
    char code[65];
    char name[801]; /* up to 200 characters */
} co_line_t;

typedef struct checkout_job {
    mer_wjob_t w;
    mer_req_t *r;
    int64_t user_id;
    const mer_country_t *country; /* snapshots live until exit */
    char region[MER_REGION_NAME_MAX];
    char lang[MER_LOCALE_MAX];
    char state[8];
    char *address_json;
    char payment_method[16];
    char idem_key[101];
    char req_hash[65];
    char cart_id[64];
    bool from_cart;
    bool has_expected;
    int64_t expected_total;
    bool has_coupon;
    mer_coupon_t coupon;
    const char *coupon_refusal; /* the writer found the coupon no longer live: why (static string) */
    char flash_token[48];
    char intent[64]; /* wallet: the payment intent the customer is redirected to pay */
    char redirect_url[512];
    size_t n;
    co_line_t lines[MER_ORDER_MAX_LINES];
    /* results */
    bool replay;
    int64_t order_id, warehouse_id, created_at, expires_at, short_sku;
    char warehouse_code[65];
    char number[MER_ORDER_NUMBER_MAX];
    const char *status;
    mer_pline_t pl[MER_ORDER_MAX_LINES];
    mer_price_result_t pr;
    mer_verr_t e;
} checkout_job_t;

static void job_free(checkout_job_t *j)
{
    free(j->address_json);
    free(j);
}

/* ---- writer side ---- */

static int next_number(mer_db_t *db, checkout_job_t *j)
{
    int64_t seq = 0;
    int err = mer_db_query_int(db, &seq, "UPDATE order_seq SET next = next + 1 WHERE country = ? RETURNING next - 1",
                               "s", j->country->code);
    if (err == MER_E_NOT_FOUND) {
        seq = 1;
        if (mer_db_exec(db, "INSERT INTO order_seq (country, next) VALUES (?, 2)", "s", j->country->code) < 0)
            return MER_E_INTERNAL;
    } else if (err) {
        return err;
    }
    char local[40];
    mer_tz_format(j->created_at, j->country->timezone, local);
    snprintf(j->number, sizeof(j->number), "%s-%.4s-%07lld", j->country->code, local, (long long)seq);
    return 0;
}

static const char idem_reused[] = "this Idempotency-Key was already used for a different order request";

/*
 * Has this customer used the job's Idempotency-Key before? Returns 0 (no), 1 (for this very body: *order_id
 * is the order it made), MER_E_IDEMPOTENCY_MISMATCH (for another body) or an error.
 */
static int idem_lookup(mer_db_t *db, const checkout_job_t *j, int64_t *order_id)
{
    int seen = 0;
    mer_rows_t *r = mer_db_query(db, "SELECT request_hash, order_id FROM idempotency WHERE user_id = ? AND key = ?",
                                 "is", j->user_id, j->idem_key);
    if (mer_rows_next(r)) {
        seen = strcmp(mer_rows_text(r, 0), j->req_hash) == 0 ? 1 : MER_E_IDEMPOTENCY_MISMATCH;
        *order_id = mer_rows_int(r, 1);
    }
    int err = mer_rows_end(r);
    return err ? err : seen;
}

/*
 * Why pricing refused the job's lines (pr from mer_price_order): a line whose total goes beyond
 * MER_MONEY_MAX (field lines[i].quantity, i counting the lines as the client sent them, or the cart's
 * normal lines), or an order whose total would (field lines). Fills *e and returns MER_E_VALIDATION.
 */
static int refuse_amounts(const checkout_job_t *j, const mer_price_result_t *pr, mer_verr_t *e)
{
    int i = pr->bad_line - (j->flash_token[0] ? 1 : 0); /* the flash line is not one of the client's lines */
    if (pr->bad_line >= 0 && i >= 0) {
        const co_line_t *l = &j->lines[pr->bad_line];
        char field[40];
        snprintf(field, sizeof(field), "lines[%d].quantity", i);
        return mer_verr_set(e, MER_E_VALIDATION, field,
                            "%lld x %s would cost more than %lld minor units, the largest order total; order fewer",
                            (long long)l->quantity, l->code, (long long)MER_MONEY_MAX);
    }
    return mer_verr_set(e, MER_E_VALIDATION, "lines",
                        "the order would total more than %lld minor units, the largest order total; order fewer "
                        "units or split the order",
                        (long long)MER_MONEY_MAX);
}

static int checkout_run(mer_db_t *db, mer_wjob_t *w)
{
    checkout_job_t *j = H2O_STRUCT_FROM_MEMBER(checkout_job_t, w, w);
    int err;
    j->created_at = mer_now_unix_ms();

    if (j->idem_key[0]) {
        int seen = idem_lookup(db, j, &j->order_id);
        if (seen == MER_E_IDEMPOTENCY_MISMATCH)
            return mer_verr_set(&j->e, seen, "Idempotency-Key", "%s", idem_reused);
        if (seen < 0)
            return seen;
        if (seen) {
            j->replay = true;
            return 0;
        }
    }

    mer_stock_line_t sl[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < j->n; i++)
        sl[i] = (mer_stock_line_t){j->lines[i].sku_id, j->lines[i].quantity};
    bool same_state = false;
    err = mer_stock_reserve(db, j->country->code, j->state, sl, j->n, &j->warehouse_id, &same_state, &j->short_sku);
    if (err == MER_E_CONFLICT) {
        const char *code = "";
        for (size_t i = 0; i < j->n; i++)
            if (j->lines[i].sku_id == j->short_sku)
                code = j->lines[i].code;
        return mer_verr_set(&j->e, MER_E_CONFLICT, "lines", "out of stock: %s (not enough units in one warehouse)",
                            code);
    }
    if (err)
        return err;
    mer_rows_t *wr = mer_db_query(db, "SELECT code FROM warehouse WHERE id = ?", "i", j->warehouse_id);
    if (mer_rows_next(wr))
        snprintf(j->warehouse_code, sizeof(j->warehouse_code), "%s", mer_rows_text(wr, 0));
    mer_rows_end(wr);

    if (j->has_coupon && (j->coupon_refusal = mer_coupon_refusal(&j->coupon, j->created_at)) != NULL)
        return mer_verr_set(&j->e, MER_E_VALIDATION, "coupon", "coupon %s is not valid now", j->coupon.code);
    for (size_t i = 0; i < j->n; i++)
        j->pl[i] = (mer_pline_t){.unit_price = j->lines[i].unit_price,
                                 .quantity = j->lines[i].quantity,
                                 .discount = j->lines[i].discount,
                                 .rate_bp = j->lines[i].rate_bp};
    if (mer_price_order(j->country, j->pl, j->n, same_state, false, &j->pr) != 0)
        return refuse_amounts(j, &j->pr, &j->e);
    if (j->has_expected && j->expected_total != j->pr.grand_total)
        return mer_verr_set(&j->e, MER_E_CONFLICT, "expected_total",
                            "the total is now %lld, not %lld: prices changed since the cart was shown",
                            (long long)j->pr.grand_total, (long long)j->expected_total);
    const mer_payment_rule_t *pay = mer_country_payment(j->country, j->payment_method);
    if (pay && pay->max_amount && j->pr.grand_total > pay->max_amount)
        return mer_verr_set(&j->e, MER_E_VALIDATION, "payment_method",
                            "%s is only possible for orders up to %lld minor units in %s", j->payment_method,
                            (long long)pay->max_amount, j->country->code);
    if ((err = next_number(db, j)) != 0)
        return err;

    bool cod = strcmp(j->payment_method, "cod") == 0;
    j->status = cod ? "pending_shipment" : "pending_payment";
    j->expires_at = cod ? 0 : j->created_at + (int64_t)j->country->order_timeout_s * 1000; /* 0: none (NULL) */
    err = mer_db_query_int(db, &j->order_id,
                           "INSERT INTO orders (number, user_id, country, currency, lang, status, payment_method, "
                           "payment_status, warehouse_id, tax_included, items_total, discount_total, shipping_total, "
                           "tax_total, grand_total, address, coupon_code, created_at, updated_at, expires_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, 'unpaid', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0)) "
                           "RETURNING id",
                           "sisssssiiiiiiissiii", j->number, j->user_id, j->country->code, j->country->currency.code,
                           j->lang, j->status, j->payment_method, j->warehouse_id, (int64_t)j->country->tax_inclusive,
                           j->pr.items_total, j->pr.discount_total, j->pr.shipping_total, j->pr.tax_total,
                           j->pr.grand_total, j->address_json, j->has_coupon ? j->coupon.code : NULL, j->created_at,
                           j->created_at, j->expires_at);
    if (err)
        return err;
    for (size_t i = 0; i < j->n; i++) {
        if (mer_db_exec(db,
                        "INSERT INTO order_line (order_id, line_no, sku_id, sku_code, name, sale_type, quantity, "
                        "unit_price, discount, line_total, tax, tax_rate_bp, flash_token) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "iiisssiiiiiis", j->order_id, (int64_t)(i + 1), j->lines[i].sku_id, j->lines[i].code,
                        j->lines[i].name, j->lines[i].flash ? "flash" : "normal", j->lines[i].quantity,
                        j->lines[i].unit_price, j->pl[i].discount, j->pl[i].line_total, j->pl[i].tax,
                        (int64_t)j->pl[i].rate_bp, j->lines[i].flash ? j->flash_token : NULL) < 0)
            return MER_E_INTERNAL;
    }
    for (size_t i = 0; i < j->pr.ntaxes; i++) {
        const mer_tax_row_t *t = &j->pr.taxes[i];
        if (mer_db_exec(db, "INSERT INTO order_tax (order_id, kind, rate_bp, taxable, amount) VALUES (?, ?, ?, ?, ?)",
                        "isiii", j->order_id, t->kind, (int64_t)t->rate_bp, t->taxable, t->amount) < 0)
            return MER_E_INTERNAL;
    }
    char actor[40];
    snprintf(actor, sizeof(actor), "customer:%lld", (long long)j->user_id);
    if (mer_db_exec(db, "INSERT INTO order_event (order_id, to_status, actor, at) VALUES (?, ?, ?, ?)", "issi",
                    j->order_id, j->status, actor, j->created_at) < 0)
        return MER_E_INTERNAL;
    if (j->idem_key[0] && mer_db_exec(db,
                                      "INSERT INTO idempotency (user_id, key, request_hash, order_id, created_at) "
                                      "VALUES (?, ?, ?, ?, ?)",
                                      "issii", j->user_id, j->idem_key, j->req_hash, j->order_id, j->created_at) < 0)
        return MER_E_INTERNAL;
    if (j->flash_token[0] && (err = mer_flash_token_consume(db, j->flash_token, j->user_id, j->order_id)) != 0)
        return err == MER_E_CONFLICT ? mer_verr_set(&j->e, MER_E_CONFLICT, "flash_token",
                                                    "the purchase token expired or was used meanwhile")
                                     : err;
    if (j->from_cart)
        for (size_t i = 0; i < j->n; i++)
            if (!j->lines[i].flash && (err = mer_cart_remove_line(db, j->cart_id, j->lines[i].sku_id, "normal")) != 0)
                return err;
    if (j->has_coupon) {
        char msg[128];
        if ((err = mer_coupon_freeze(db, &j->coupon, j->order_id, j->user_id, j->pr.discount_total, msg)) != 0)
            return err == MER_E_CONFLICT ? mer_verr_set(&j->e, MER_E_CONFLICT, "coupon", "%s", msg) : err;
    }
    if (j->intent[0] &&
        mer_db_exec(db,
                    "INSERT INTO payment (order_id, provider, kind, amount, currency, status, intent, created_at) "
                    "VALUES (?, 'wallet', 'charge', ?, ?, 'pending', ?, ?)",
                    "iissi", j->order_id, j->pr.grand_total, j->country->currency.code, j->intent, j->created_at) < 0)
        return MER_E_INTERNAL;
    mer_buf_t ev = MER_BUF_INIT;
    mer_jw_t jw;
    mer_buf_init(&ev, 512);
    mer_jw_init(&jw, &ev);
    mer_jw_obj(&jw, NULL);
    mer_jw_int(&jw, "order_id", j->order_id);
    mer_jw_str(&jw, "number", j->number);
    mer_jw_str(&jw, "status", j->status);
    mer_jw_str(&jw, "country", j->country->code);
    mer_jw_str(&jw, "currency", j->country->currency.code);
    mer_jw_int(&jw, "grand_total", j->pr.grand_total);
    mer_jw_int(&jw, "user_id", j->user_id);
    mer_jw_str(&jw, "payment_method", j->payment_method);
    mer_jw_str(&jw, "payment_status", "unpaid");
    if (j->has_coupon)
        mer_jw_str(&jw, "coupon", j->coupon.code);
    mer_jw_end(&jw);
    err = mer_event_emit_raw(db, "order.created", j->order_id, ev.data, ev.len);
    mer_buf_release(&ev);
    return err;
}

/* ---- worker side ---- */

/* Renders the new order from the job (no database read needed). */
static void reply_job_order(mer_req_t *r, checkout_job_t *j)
{
    mer_order_view_t v;
    memset(&v, 0, sizeof(v));
    v.id = j->order_id;
    v.user_id = j->user_id;
    snprintf(v.number, sizeof(v.number), "%s", j->number);
    snprintf(v.country, sizeof(v.country), "%s", j->country->code);
    snprintf(v.currency, sizeof(v.currency), "%s", j->country->currency.code);
    snprintf(v.lang, sizeof(v.lang), "%s", j->lang);
    snprintf(v.status, sizeof(v.status), "%s", j->status);
    snprintf(v.payment_method, sizeof(v.payment_method), "%s", j->payment_method);
    snprintf(v.payment_status, sizeof(v.payment_status), "unpaid");
    v.tax_included = j->country->tax_inclusive;
    v.items_total = j->pr.items_total;
    v.discount_total = j->pr.discount_total;
    v.shipping_total = j->pr.shipping_total;
    v.tax_total = j->pr.tax_total;
    v.grand_total = j->pr.grand_total;
    v.address_json = j->address_json;
    v.created_at = v.updated_at = j->created_at;
    v.expires_at = j->expires_at;
    mer_order_line_view_t lines[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < j->n; i++) {
        mer_order_line_view_t *l = &lines[i];
        memset(l, 0, sizeof(*l));
        l->line_no = (int)i + 1;
        l->sku_id = j->lines[i].sku_id;
        snprintf(l->sku, sizeof(l->sku), "%s", j->lines[i].code);
        snprintf(l->name, sizeof(l->name), "%s", j->lines[i].name);
        snprintf(l->sale_type, sizeof(l->sale_type), "%s", j->lines[i].flash ? "flash" : "normal");
        l->quantity = j->lines[i].quantity;
        l->unit_price = j->lines[i].unit_price;
        l->discount = j->pl[i].discount;
        l->line_total = j->pl[i].line_total;
        l->tax = j->pl[i].tax;
        l->rate_bp = j->pl[i].rate_bp;
    }
    v.lines = lines;
    v.nlines = j->n;
    memcpy(v.taxes, j->pr.taxes, sizeof(v.taxes));
    v.ntaxes = j->pr.ntaxes;
    snprintf(v.warehouse, sizeof(v.warehouse), "%s", j->warehouse_code);
    if (j->has_coupon)
        snprintf(v.coupon, sizeof(v.coupon), "%s", j->coupon.code);
    if (j->intent[0]) {
        snprintf(v.intent, sizeof(v.intent), "%s", j->intent);
        snprintf(v.redirect_url, sizeof(v.redirect_url), "%s", j->redirect_url);
    }
    mer_reply_order(r, 201, &v);
}

/* Answers a retry with the order its Idempotency-Key made, as it was first answered (201). */
static void reply_replay(mer_req_t *r, const char *region, int64_t order_id, int64_t user_id)
{
    mer_order_view_t v;
    int err = mer_order_load(mer_store_reader(region), order_id, user_id, &v);
    if (err) {
        mer_reply_error(r, err, NULL, NULL);
    } else {
        mer_reply_header(r, "idempotent-replayed", "true");
        mer_reply_order(r, 201, &v);
    }
    mer_order_view_release(&v);
}

static void checkout_done(mer_wjob_t *w)
{
    checkout_job_t *j = H2O_STRUCT_FROM_MEMBER(checkout_job_t, w, w);
    mer_req_t *r = j->r;
    /* the token's order committed: mark it used even if the customer has gone */
    if (w->err == 0 && !j->replay && j->flash_token[0])
        mer_flash_token_used(j->flash_token);
    if (!r->gone) {
        if (w->err && j->e.code && j->coupon_refusal) {
            mer_reply_error_reason(r, j->e.code, j->e.field, j->coupon_refusal, "%s", j->e.message);
        } else if (w->err && j->e.code) {
            mer_reply_verr(r, &j->e);
        } else if (w->err) {
            mer_reply_error(r, w->err, NULL, NULL);
        } else if (j->replay) {
            reply_replay(r, j->region, j->order_id, j->user_id);
        } else {
            char loc[64];
            snprintf(loc, sizeof(loc), "/api/v1/orders/%lld", (long long)j->order_id);
            mer_reply_header(r, "location", loc);
            reply_job_order(r, j);
        }
    }
    mer_req_release(r);
    job_free(j);
}

typedef mer_checkout_want_t want_line_t;

/*
 * The lines asked for: the body's "lines", or else the normal lines of the customer's cart. The job's lines
 * so far (a flash line) count against the limit. Returns how many, or answers and returns -1.
 */
static int wanted_lines(mer_req_t *r, checkout_job_t *j, json_t *lines, want_line_t *want)
{
    size_t n = 0;
    if (lines) {
        mer_verr_t e = {0};
        if (mer_checkout_input_lines(lines, j->n, MER_ORDER_MAX_LINES, want, &n, &e) != 0) {
            mer_reply_verr(r, &e);
            return -1;
        }
        return (int)n;
    }
    mer_cart_line_t cl[MER_CART_MAX_LINES];
    mer_cart_user_id(j->user_id, j->country->code, j->cart_id);
    int cn = mer_cart_lines(mer_store_reader(j->region), j->cart_id, cl, MER_CART_MAX_LINES);
    if (cn < 0) {
        mer_reply_error(r, cn, NULL, NULL);
        return -1;
    }
    for (int i = 0; i < cn && n + j->n < MER_ORDER_MAX_LINES; i++) {
        if (strcmp(cl[i].sale_type, "normal") != 0)
            continue;
        want[n].sku_id = cl[i].sku_id;
        want[n].code[0] = '\0';
        want[n++].quantity = cl[i].quantity;
    }
    if (n == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "lines", "the cart is empty; add items or send lines");
        return -1;
    }
    j->from_cart = true;
    return (int)n;
}

/* What a line shows and is taxed by, from SKU s (NULL: gone from the catalogue, possible for a flash line). */
static void fill_line(co_line_t *l, const mer_cat_sku_t *s, const mer_country_t *c, const mer_locale_chain_t *chain)
{
    l->product_id = s ? s->product->id : 0;
    int rate = s ? mer_country_tax_rate(c, s->product->tax_class) : 0;
    l->rate_bp = rate < 0 ? 0 : rate;
    snprintf(l->code, sizeof(l->code), "%s", s ? s->code : "");
    const mer_cat_text_t *t = s ? mer_catalog_text(s->product->texts, s->product->ntexts, chain) : NULL;
    snprintf(l->name, sizeof(l->name), "%s", t ? t->name : l->code);
}

/*
 * Completes the job's lines from one catalogue snapshot, locked once per checkout: the flash line (already
 * in the job) gets its name and tax rate; each wanted line its price, refused if the SKU is not sold here,
 * listed twice or ordered over its limit; with a coupon (cl not NULL), every line's view for the coupon
 * (its product's categories); and the answer's language. Answers and returns -1 on error.
 */
static int resolve_lines(mer_req_t *r, checkout_job_t *j, const want_line_t *want, size_t n,
                         const mer_locale_chain_t *chain, mer_coupon_line_t *cl)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    if (j->n) /* the flash line */
        fill_line(&j->lines[0], mer_catalog_sku_by_id(cat, j->lines[0].sku_id), j->country, chain);
    for (size_t i = 0; i < n; i++) {
        const mer_cat_sku_t *s =
            want[i].sku_id ? mer_catalog_sku_by_id(cat, want[i].sku_id) : mer_catalog_sku_by_code(cat, want[i].code);
        int64_t price = s && s->product->active ? mer_catalog_price(s, j->country->code) : -1;
        char field[48];
        snprintf(field, sizeof(field), "lines[%zu].sku", i);
        if (price < 0) {
            mer_reply_error(r, MER_E_VALIDATION, field, "%s is not sold in %s", s ? s->code : want[i].code,
                            j->country->code);
            goto fail;
        }
        for (size_t k = 0; k < j->n; k++) {
            if (j->lines[k].sku_id == s->id && !j->lines[k].flash) {
                mer_reply_error(r, MER_E_VALIDATION, field, "%s is listed twice", s->code);
                goto fail;
            }
        }
        if (want[i].quantity > s->max_per_order) {
            snprintf(field, sizeof(field), "lines[%zu].quantity", i);
            mer_reply_error(r, MER_E_VALIDATION, field, "at most %lld of %s per order", (long long)s->max_per_order,
                            s->code);
            goto fail;
        }
        co_line_t *l = &j->lines[j->n++];
        l->sku_id = s->id;
        l->quantity = want[i].quantity;
        l->unit_price = price;
        fill_line(l, s, j->country, chain);
    }
    for (size_t i = 0; cl && i < j->n; i++) {
        const co_line_t *l = &j->lines[i];
        cl[i] = (mer_coupon_line_t){.sku_id = l->sku_id,
                                    .product_id = l->product_id,
                                    .unit_price = l->flash ? 0 : l->unit_price, /* flash prices take no coupon */
                                    .quantity = l->quantity};
        const mer_cat_product_t *p = mer_catalog_product(cat, l->product_id);
        for (const mer_cat_category_t *k = p ? p->category : NULL;
             k && cl[i].ncategories < MER_ARRAY_LEN(cl[i].category_ids);
             k = k->parent_id ? mer_catalog_category(cat, k->parent_id) : NULL)
            cl[i].category_ids[cl[i].ncategories++] = k->id;
    }
    snprintf(j->lang, sizeof(j->lang), "%s", mer_catalog_resolve_lang(cat, chain));
    mer_catalog_unlock();
    return 0;
fail:
    mer_catalog_unlock();
    return -1;
}

/*
 * Refuses (422) an order whose amounts would go beyond MER_MONEY_MAX before anything is spread over its
 * lines (a coupon) or reserved for it (the writer, which prices it again with the discount and checks
 * again). Answers and returns -1 on error.
 */
static int check_amounts(mer_req_t *r, const checkout_job_t *j)
{
    mer_pline_t pl[MER_ORDER_MAX_LINES];
    mer_price_result_t pr;
    for (size_t i = 0; i < j->n; i++)
        pl[i] = (mer_pline_t){
            .unit_price = j->lines[i].unit_price, .quantity = j->lines[i].quantity, .rate_bp = j->lines[i].rate_bp};
    if (mer_price_order(j->country, pl, j->n, false, false, &pr) == 0)
        return 0;
    mer_verr_t e = {0};
    refuse_amounts(j, &pr, &e);
    mer_reply_verr(r, &e);
    return -1;
}

/* Answers checkout's 422 for a coupon, with the reason a client can act on. Returns -1. */
static int refuse_coupon(mer_req_t *r, const char *reason, const char *fmt, ...) MER_PRINTF(3, 4);
static int refuse_coupon(mer_req_t *r, const char *reason, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mer_reply_error_reason(r, MER_E_VALIDATION, "coupon", reason, "%s", msg);
    return -1;
}

/*
 * Looks the coupon up and spreads its discount over the lines, as the coupon sees them (cl, from
 * resolve_lines). The limits are checked in the writer. Answers and returns -1 on error.
 */
static int apply_coupon(mer_req_t *r, checkout_job_t *j, const char *code, mer_coupon_line_t *cl)
{
    mer_coupon_t *c = &j->coupon;
    int err = mer_coupon_load(mer_store_reader(j->region), j->country->code, code, c);
    if (err == MER_E_NOT_FOUND || (err == 0 && !c->active))
        return refuse_coupon(r, "unknown", "there is no coupon %s in %s", code, j->country->code);
    if (err) {
        mer_reply_error(r, err, NULL, NULL);
        return -1;
    }
    int64_t now = mer_now_unix_ms();
    const char *why = mer_coupon_refusal(c, now); /* active: not_started or expired */
    if (why) {
        bool early = now < c->valid_from;
        char local[40];
        mer_tz_format(early ? c->valid_from : c->valid_until, j->country->timezone, local);
        return refuse_coupon(r, why, early ? "coupon %s starts at %s" : "coupon %s ended at %s", c->code, local);
    }
    if (!mer_coupon_method_ok(c, j->payment_method))
        return refuse_coupon(r, "payment_method", "coupon %s is only for %s payments", c->code, c->methods);
    int64_t total = mer_coupon_apply(c, cl, j->n, j->country->step, j->country->rounding);
    if (total == MER_E_VALIDATION)
        return refuse_coupon(r, "below_minimum", "coupon %s needs eligible items worth at least %lld minor units",
                             c->code, (long long)c->min_subtotal);
    if (total <= 0)
        return refuse_coupon(r, "not_applicable", "coupon %s does not apply to these items", c->code);
    for (size_t i = 0; i < j->n; i++)
        j->lines[i].discount = cl[i].discount;
    j->has_coupon = true;
    return 0;
}

static void h_checkout(mer_req_t *r)
{
    mer_verr_t e = {0};
    mer_checkout_in_t in;
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "only customer accounts place orders");
        return;
    }
    if (mer_checkout_input_read(r->body, &in, &e) != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    int64_t address_id = in.address_id, expected = in.expected_total;
    json_t *inline_addr = in.address, *lines = in.lines;
    const char *method = in.payment_method, *coupon = in.coupon, *flash = in.flash_token;
    size_t klen;
    const char *key;
    if (mer_req_idempotency_key(r, &key, &klen) != 0)
        return;

    checkout_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->user_id = r->who.id;
    snprintf(j->region, sizeof(j->region), "%s", r->who.region);
    if (key) {
        snprintf(j->idem_key, sizeof(j->idem_key), "%.*s", (int)klen, key);
        /* the request's identity: its body in canonical form (sorted keys) */
        char *canon = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned char h[32];
        crypto_generichash(h, sizeof(h), (const unsigned char *)canon, strlen(canon), NULL, 0);
        sodium_bin2hex(j->req_hash, sizeof(j->req_hash), h, sizeof(h));
        free(canon);
        /* A retry must get the first answer even though the cart, stock or prices have changed since:
         * look the key up before validating anything that can change. (The writer checks again, for two
         * retries racing each other.) */
        int64_t order_id = 0;
        int seen = idem_lookup(mer_store_reader(j->region), j, &order_id);
        if (seen == 1)
            reply_replay(r, j->region, order_id, j->user_id);
        else if (seen == MER_E_IDEMPOTENCY_MISMATCH)
            mer_reply_error(r, seen, "Idempotency-Key", "%s", idem_reused);
        if (seen == 1 || seen == MER_E_IDEMPOTENCY_MISMATCH) {
            job_free(j);
            return;
        }
    }
    const mer_countries_t *cs = mer_countries();
    j->country = mer_country_find(cs, r->who.country, 2);
    if (j->country == NULL) {
        job_free(j);
        mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "your account's country is no longer sold in");
        return;
    }
    if (mer_country_payment(j->country, method) == NULL) {
        job_free(j);
        mer_reply_error(r, MER_E_VALIDATION, "payment_method", "%s is not offered in %s", method, r->who.country);
        return;
    }
    snprintf(j->payment_method, sizeof(j->payment_method), "%s", method);

    /* the delivery address: a stored one (default if none given) or one given inline */
    mer_address_t addr;
    memset(&addr, 0, sizeof(addr));
    mer_db_t *db = mer_store_reader(j->region);
    if (inline_addr) {
        if (mer_checkout_input_address(inline_addr, &addr, &e) != 0) {
            job_free(j);
            mer_reply_verr(r, &e);
            return;
        }
        snprintf(addr.country, sizeof(addr.country), "%s", j->country->code);
    } else {
        if (address_id == 0)
            address_id = mer_address_default(db, j->user_id);
        int err = address_id ? mer_address_load(db, j->user_id, address_id, &addr) : MER_E_NOT_FOUND;
        if (err) {
            job_free(j);
            mer_reply_error(r, err == MER_E_NOT_FOUND ? MER_E_VALIDATION : err, "address_id",
                            "give address_id of one of your addresses, or an address");
            return;
        }
    }
    if (strcmp(addr.country, j->country->code) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "address_id", "the delivery address must be in %s", j->country->code);
        job_free(j);
        return;
    }
    mer_address_in_t ain = {addr.name, addr.line1, addr.line2, addr.city, addr.state, addr.postal_code, addr.phone};
    if (mer_country_check_address(j->country, &ain, &e) != 0) {
        char field[sizeof(e.field) + 8];
        snprintf(field, sizeof(field), "address.%s", e.field);
        memcpy(e.field, field, sizeof(e.field) - 1);
        e.field[sizeof(e.field) - 1] = '\0';
        job_free(j);
        mer_reply_verr(r, &e);
        return;
    }
    memcpy(j->state, addr.state, sizeof(j->state) - 1);
    j->state[sizeof(j->state) - 1] = '\0';
    json_t *aj = mer_address_json(&addr);
    j->address_json = mer_json_dump(aj, NULL);
    json_decref(aj);

    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, mer_req_query(r, "lang"), NULL, 0, j->country->languages[0]);
    if (flash) {
        mer_flash_token_t ft;
        char msg[128];
        const char *field = "flash_token";
        int ferr = mer_flash_token_check(flash, j->user_id, &ft, msg);
        if (ferr == 0 && strcmp(ft.country, j->country->code) != 0) {
            ferr = MER_E_VALIDATION;
            snprintf(msg, sizeof(msg), "this token is for a sale in %s", ft.country);
        }
        if (ferr == 0 && !mer_flash_token_phone_ok(flash, addr.phone, strlen(addr.phone))) {
            ferr = MER_E_VALIDATION;
            field = inline_addr ? "address.phone" : "address_id";
            snprintf(msg, sizeof(msg), "this sale sells one unit per phone number: deliver to the phone that won");
        }
        if (ferr == 0 && !ft.cod_allowed && strcmp(j->payment_method, "cod") == 0) {
            ferr = MER_E_VALIDATION;
            field = "payment_method";
            snprintf(msg, sizeof(msg), "this flash sale does not allow cash on delivery");
        }
        if (ferr) {
            job_free(j);
            mer_reply_error(r, ferr, field, "%s", msg);
            return;
        }
        snprintf(j->flash_token, sizeof(j->flash_token), "%s", flash);
        co_line_t *l = &j->lines[j->n++]; /* named and taxed by resolve_lines */
        l->flash = true;
        l->sku_id = ft.sku_id;
        l->quantity = 1;
        l->unit_price = ft.price;
    }
    want_line_t want[MER_ORDER_MAX_LINES];
    mer_coupon_line_t cl[MER_ORDER_MAX_LINES];
    int nwant = lines || !flash ? wanted_lines(r, j, lines, want) : 0;
    if (nwant < 0 || resolve_lines(r, j, want, (size_t)nwant, &chain, coupon ? cl : NULL) != 0 ||
        check_amounts(r, j) != 0) {
        job_free(j);
        return;
    }
    if (expected >= 0) {
        j->has_expected = true;
        j->expected_total = expected;
    }
    if (coupon && apply_coupon(r, j, coupon, cl) != 0) {
        job_free(j);
        return;
    }
    if (strcmp(j->payment_method, "wallet") == 0)
        mer_wallet_new_intent(j->region, j->country->currency.code, j->intent, j->redirect_url,
                              sizeof(j->redirect_url));
    j->w.run = checkout_run;
    j->w.done = checkout_done;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        job_free(j);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/orders", h_checkout, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_KEY, MER_RATE_NONE},
};

const mer_routes_t mer_checkout_routes = {routes, MER_ARRAY_LEN(routes)};
