/*
 * checkout.c — the checkout service (see checkout.h for the sequence; the HTTP adapter is checkout_http.c).
 */
#include "order/checkout.h"

#include <stdio.h>

#include "cart/cart.h"
#include "catalog/catalog.h"
#include "core/jsonw.h"
#include "core/tz.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "order/returns.h"
#include "order/shipment.h"
#include "payment/payment.h"
#include "core/banned.h"

typedef mer_checkout_line_t co_line_t;

void mer_checkout_init(mer_checkout_t *co)
{
    memset(co, 0, offsetof(mer_checkout_t, want)); /* what is after is set before it is read (checkout.h) */
    co->expected_total = -1;
}

void mer_checkout_release(mer_checkout_t *co)
{
    mer_order_view_release(&co->view);
    free(co->address_json);
    co->address_json = NULL;
}

void mer_checkout_committed(mer_checkout_t *co)
{
    if (co->order_id && !co->replay && co->flash_token[0])
        mer_flash_token_used(co->flash_token);
}

static int next_number(mer_db_t *db, mer_checkout_t *co)
{
    int64_t seq = 0;
    int err = mer_db_query_int(db, &seq, "UPDATE order_seq SET next = next + 1 WHERE country = ? RETURNING next - 1",
                               "s", co->c->code);
    if (err == MER_E_NOT_FOUND) {
        seq = 1;
        if (mer_db_exec(db, "INSERT INTO order_seq (country, next) VALUES (?, 2)", "s", co->c->code) < 0)
            return MER_E_INTERNAL;
    } else if (err) {
        return err;
    }
    char local[40];
    mer_tz_format(co->created_at, co->c->timezone, local);
    snprintf(co->number, sizeof(co->number), "%s-%.4s-%07lld", co->c->code, local, (long long)seq);
    return 0;
}

/*
 * Has this customer used the Idempotency-Key before? Returns 0 (no), 1 (for this very body: *order_id is
 * the order it made), MER_E_IDEMPOTENCY_MISMATCH (for another body) or an error.
 */
static int idem_lookup(mer_db_t *db, const mer_checkout_t *co, int64_t *order_id)
{
    int seen = 0;
    mer_rows_t *r = mer_db_query(db, "SELECT request_hash, order_id FROM idempotency WHERE user_id = ? AND key = ?",
                                 "is", co->user_id, co->idem_key);
    if (mer_rows_next(r)) {
        seen = strcmp(mer_rows_text(r, 0), co->req_hash) == 0 ? 1 : MER_E_IDEMPOTENCY_MISMATCH;
        *order_id = mer_rows_int(r, 1);
    }
    int err = mer_rows_end(r);
    return err ? err : seen;
}

/*
 * Why pricing refused the lines (pr from mer_price_order): a line whose total goes beyond MER_MONEY_MAX
 * (field lines[i].quantity, i counting the lines as the client sent them, or the cart's normal lines), or
 * an order whose total would (field lines). Fills *e and returns MER_E_VALIDATION.
 */
static int refuse_amounts(const mer_checkout_t *co, const mer_price_result_t *pr, mer_verr_t *e)
{
    int i = pr->bad_line - (co->flash_token[0] ? 1 : 0); /* the flash line is not one of the client's lines */
    if (pr->bad_line >= 0 && i >= 0) {
        const co_line_t *l = &co->lines[pr->bad_line];
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

/* The delivery address against country c's rules (its fields named "address.<field>"). */
static int check_address(const mer_country_t *c, const mer_address_t *addr, mer_verr_t *e)
{
    if (strcmp(addr->country, c->code) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "address_id", "the delivery address must be in %s", c->code);
    mer_address_in_t ain = {addr->name,  addr->line1,       addr->line2, addr->city,
                            addr->state, addr->postal_code, addr->phone};
    if (mer_country_check_address(c, &ain, e) != 0) {
        char field[sizeof(e->field) + 8];
        snprintf(field, sizeof(field), "address.%s", e->field);
        memcpy(e->field, field, sizeof(e->field) - 1);
        e->field[sizeof(e->field) - 1] = '\0';
        return e->code;
    }
    return 0;
}

/* The delivery address: a stored one (the default if none given) or the inline one, checked by the
 * country's rules (an inline one's check is mer_checkout_prepare's while the countries are the same).
 * Fills co->address, co->state. */
static int resolve_address(mer_db_t *db, mer_checkout_t *co, bool same_countries, mer_verr_t *e)
{
    mer_address_t *addr = &co->address;
    if (co->inline_address) {
        if (co->address_err.code) {
            *e = co->address_err;
            return e->code;
        }
        mer_strcopy(addr->country, sizeof(addr->country), co->c->code);
        if (!co->prep_address || !same_countries) { /* not checked on the loop, or against other rules */
            co->prep_address_err = (mer_verr_t){0};
            check_address(co->c, addr, &co->prep_address_err);
        }
        if (co->prep_address_err.code) {
            *e = co->prep_address_err;
            return e->code;
        }
    } else {
        int err = co->prep_stored  ? co->prep_stored_err
                  : co->address_id ? mer_address_load(db, co->user_id, co->address_id, addr)
                                   : mer_address_load_default(db, co->user_id, addr);
        if (err)
            return mer_verr_set(e, err == MER_E_NOT_FOUND ? MER_E_VALIDATION : err, "address_id",
                                "give address_id of one of your addresses, or an address");
        if ((err = check_address(co->c, addr, e)) != 0)
            return err;
    }
    memcpy(co->state, addr->state, sizeof(co->state) - 1);
    co->state[sizeof(co->state) - 1] = '\0';
    return 0;
}

/* The flash-sale token: the customer's, for this country, this phone and this payment method. Adds its
 * line (named and taxed by resolve_lines). */
static int check_flash(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    mer_flash_token_t ft;
    char msg[128];
    const char *field = "flash_token";
    int err = mer_flash_token_check(db, co->flash_token, co->user_id, &ft, msg);
    if (err == 0 && strcmp(ft.country, co->c->code) != 0) {
        err = MER_E_VALIDATION;
        snprintf(msg, sizeof(msg), "this token is for a sale in %s", ft.country);
    }
    if (err == 0 && !mer_flash_token_phone_ok(co->flash_token, co->address.phone, strlen(co->address.phone))) {
        err = MER_E_VALIDATION;
        field = co->inline_address ? "address.phone" : "address_id";
        snprintf(msg, sizeof(msg), "this sale sells one unit per phone number: deliver to the phone that won");
    }
    if (err == 0 && !ft.cod_allowed && strcmp(co->payment_method, "cod") == 0) {
        err = MER_E_VALIDATION;
        field = "payment_method";
        snprintf(msg, sizeof(msg), "this flash sale does not allow cash on delivery");
    }
    if (err)
        return mer_verr_set(e, err, field, "%s", msg);
    co->lines[co->n++] = (co_line_t){.flash = true, .sku_id = ft.sku_id, .quantity = 1, .unit_price = ft.price};
    return 0;
}

/* The lines asked for when the body gave none: the normal lines of the customer's cart (into co->want). */
static int cart_lines(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    mer_cart_line_t cl[MER_CART_MAX_LINES];
    mer_cart_user_id(co->user_id, co->c->code, co->cart_id);
    int cn = mer_cart_lines(db, co->cart_id, cl, MER_CART_MAX_LINES);
    if (cn < 0)
        return cn;
    co->nwant = 0;
    for (int i = 0; i < cn && co->nwant + co->n < MER_ORDER_MAX_LINES; i++) {
        if (strcmp(cl[i].sale_type, "normal") != 0)
            continue;
        mer_checkout_want_t *w = &co->want[co->nwant++];
        w->sku_id = cl[i].sku_id;
        w->code[0] = '\0';
        w->quantity = cl[i].quantity;
    }
    if (co->nwant == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "lines", "the cart is empty; add items or send lines");
    co->from_cart = true;
    return 0;
}

/* What a line shows and is taxed by, from SKU s (NULL: gone from the catalogue, possible for a flash line). */
static void fill_line(co_line_t *l, const mer_cat_sku_t *s, const mer_country_t *c, const mer_locale_chain_t *chain)
{
    l->product_id = s ? s->product->id : 0;
    int rate = s ? mer_country_tax_rate(c, s->product->tax_class) : 0;
    l->rate_bp = rate < 0 ? 0 : rate;
    mer_strcopy(l->code, sizeof(l->code), s ? s->code : "");
    const mer_cat_text_t *t = s ? mer_catalog_text(s->product->texts, s->product->ntexts, chain) : NULL;
    mer_strcopy(l->name, sizeof(l->name), t ? t->name : l->code);
}

/*
 * Completes the lines from one catalogue snapshot, locked once per checkout: the flash line (already in
 * co) gets its name and tax rate; each wanted line its price, refused if the SKU is not sold here, listed
 * twice or ordered over its limit; with a coupon (cl not NULL), every line's view for the coupon (its
 * product's categories); and the answer's language (co->view.lang).
 */
static int resolve_lines(mer_checkout_t *co, const mer_locale_chain_t *chain, mer_coupon_line_t *cl, mer_verr_t *e)
{
    int err = 0;
    const mer_catalog_t *cat = mer_catalog_lock();
    if (co->n) /* the flash line */
        fill_line(&co->lines[0], mer_catalog_sku_by_id(cat, co->lines[0].sku_id), co->c, chain);
    for (size_t i = 0; i < co->nwant && err == 0; i++) {
        const mer_checkout_want_t *w = &co->want[i];
        const mer_cat_sku_t *s =
            w->sku_id ? mer_catalog_sku_by_id(cat, w->sku_id) : mer_catalog_sku_by_code(cat, w->code);
        int64_t price = s && s->product->active ? mer_catalog_price(s, co->c->code) : -1;
        char field[48];
        snprintf(field, sizeof(field), "lines[%zu].sku", i);
        if (price < 0) {
            err = mer_verr_set(e, MER_E_VALIDATION, field, "%s is not sold in %s", s ? s->code : w->code, co->c->code);
            break;
        }
        for (size_t k = 0; k < co->n && err == 0; k++)
            if (co->lines[k].sku_id == s->id && !co->lines[k].flash)
                err = mer_verr_set(e, MER_E_VALIDATION, field, "%s is listed twice", s->code);
        if (err == 0 && w->quantity > s->max_per_order) {
            snprintf(field, sizeof(field), "lines[%zu].quantity", i);
            err = mer_verr_set(e, MER_E_VALIDATION, field, "at most %lld of %s per order", (long long)s->max_per_order,
                               s->code);
        }
        if (err)
            break;
        co_line_t *l = &co->lines[co->n++];
        *l = (co_line_t){.sku_id = s->id, .quantity = w->quantity, .unit_price = price};
        fill_line(l, s, co->c, chain);
    }
    for (size_t i = 0; err == 0 && cl && i < co->n; i++) {
        const co_line_t *l = &co->lines[i];
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
    if (err == 0)
        snprintf(co->view.lang, sizeof(co->view.lang), "%s", mer_catalog_resolve_lang(cat, chain));
    mer_catalog_unlock();
    return err;
}

/* A coupon refused with the reason a client can act on (co->reason). */
static int refuse_coupon(mer_checkout_t *co, mer_verr_t *e, const char *reason, const char *fmt, ...) MER_PRINTF(4, 5);
static int refuse_coupon(mer_checkout_t *co, mer_verr_t *e, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    e->code = MER_E_VALIDATION;
    snprintf(e->field, sizeof(e->field), "coupon");
    co->reason = reason;
    return MER_E_VALIDATION;
}

/*
 * Looks the coupon up, checks that it is live at the order's time and allows the payment method, and
 * spreads its discount over the lines as the coupon sees them (cl, from resolve_lines). Its limits are
 * checked when it is frozen for the order (mer_coupon_freeze).
 */
static int apply_coupon(mer_db_t *db, mer_checkout_t *co, mer_coupon_line_t *cl, mer_verr_t *e)
{
    mer_coupon_t *c = &co->coupon;
    const char *code = co->coupon_code;
    int err = mer_coupon_load(db, co->c->code, code, c);
    if (err == MER_E_NOT_FOUND || (err == 0 && !c->active))
        return refuse_coupon(co, e, "unknown", "there is no coupon %s in %s", code, co->c->code);
    if (err)
        return err;
    const char *why = mer_coupon_refusal(c, co->created_at); /* active: not_started or expired */
    if (why) {
        bool early = co->created_at < c->valid_from;
        char local[40];
        mer_tz_format(early ? c->valid_from : c->valid_until, co->c->timezone, local);
        return refuse_coupon(co, e, why, early ? "coupon %s starts at %s" : "coupon %s ended at %s", c->code, local);
    }
    if (!mer_coupon_method_ok(c, co->payment_method))
        return refuse_coupon(co, e, "payment_method", "coupon %s is only for %s payments", c->code, c->methods);
    int64_t total = mer_coupon_apply(c, cl, co->n, co->c->step, co->c->rounding);
    if (total == MER_E_VALIDATION)
        return refuse_coupon(co, e, "below_minimum", "coupon %s needs eligible items worth at least %lld minor units",
                             c->code, (long long)c->min_subtotal);
    if (total <= 0)
        return refuse_coupon(co, e, "not_applicable", "coupon %s does not apply to these items", c->code);
    for (size_t i = 0; i < co->n; i++)
        co->lines[i].discount = cl[i].discount;
    co->has_coupon = true;
    return 0;
}

/* Prices the lines (with their discounts) into co->pl and co->pr. */
static int price(mer_checkout_t *co, bool intra_state, mer_verr_t *e)
{
    for (size_t i = 0; i < co->n; i++)
        co->pl[i] = (mer_pline_t){.unit_price = co->lines[i].unit_price,
                                  .quantity = co->lines[i].quantity,
                                  .discount = co->lines[i].discount,
                                  .rate_bp = co->lines[i].rate_bp};
    if (mer_price_order(co->c, co->pl, co->n, intra_state, false, &co->pr) != 0)
        return refuse_amounts(co, &co->pr, e);
    return 0;
}

/* The lines resolved and priced (before any coupon): the body's lines, or the cart's, and the flash line. */
static int resolve_and_price(mer_checkout_t *co, mer_coupon_line_t *cl, mer_verr_t *e)
{
    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, co->lang[0] ? co->lang : NULL, NULL, 0, co->c->languages[0]);
    int err = resolve_lines(co, &chain, cl, e);
    /* nothing beyond MER_MONEY_MAX before a coupon spreads its discount over the lines (mer_coupon_apply
     * needs amounts within it); without a coupon this pricing is the order's (see mer_checkout_place) */
    return err ? err : price(co, false, e);
}

void mer_checkout_prepare(mer_checkout_t *co)
{
    const mer_countries_t *cs = mer_countries();
    co->c = mer_country_find(cs, co->country, 2);
    if (co->c == NULL || mer_country_payment(co->c, co->payment_method) == NULL)
        return; /* refused by the job, in its turn */
    co->prep_countries = cs;
    if (co->inline_address && !co->address_err.code) {
        mer_strcopy(co->address.country, sizeof(co->address.country), co->c->code);
        check_address(co->c, &co->address, &co->prep_address_err);
        co->prep_address = true;
    }
    if (co->lines_given && !co->lines_err.code && !co->flash_token[0]) {
        /* read before the snapshot is: a snapshot swapped in after this read advances it past this value */
        co->prep_catalog = mer_catalog_generation();
        resolve_and_price(co, co->coupon_code[0] ? co->prep_cl : NULL, &co->prep_lines_err);
        co->prep_lines = true;
    }
}

int mer_checkout_read(mer_db_t *db, mer_checkout_t *co)
{
    if (co->inline_address)
        return 0;
    int err = co->address_id ? mer_address_load(db, co->user_id, co->address_id, &co->address)
                             : mer_address_load_default(db, co->user_id, &co->address);
    co->prep_stored = err == 0 || err == MER_E_NOT_FOUND; /* (another error: the job reads it again) */
    co->prep_stored_err = err;
    return 0;
}

/* Everything before stock: who, where, what, at which price and discount. */
static int resolve(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    int err;
    const mer_countries_t *cs = mer_countries();
    co->c = mer_country_find(cs, co->country, 2);
    if (co->c == NULL)
        return mer_verr_set(e, MER_E_UNKNOWN_COUNTRY, "country", "your account's country is no longer sold in");
    if (mer_country_payment(co->c, co->payment_method) == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "payment_method", "%s is not offered in %s", co->payment_method,
                            co->country);
    bool same_countries = co->prep_countries == cs; /* snapshots are never freed: equal pointers, same data */
    if ((err = resolve_address(db, co, same_countries, e)) != 0)
        return err;
    if (co->flash_token[0] && (err = check_flash(db, co, e)) != 0)
        return err;
    if (co->lines_given && co->lines_err.code) {
        *e = co->lines_err;
        return e->code;
    }
    if (!co->lines_given && !co->flash_token[0] && (err = cart_lines(db, co, e)) != 0)
        return err;
    bool coupon = co->coupon_code[0] != '\0';
    mer_coupon_line_t *cl = coupon ? co->prep_cl : NULL;
    if (co->prep_lines && same_countries && co->prep_catalog == mer_catalog_generation()) {
        /* priced on the loop from the catalogue as it still is */
        if (co->prep_lines_err.code) {
            *e = co->prep_lines_err;
            return e->code;
        }
    } else {
        if (co->prep_lines) { /* a price, a text or a country changed since: again, from scratch */
            co->n = 0;        /* (entries are set whole as lines are added) */
            co->view.lang[0] = '\0';
        }
        if ((err = resolve_and_price(co, cl, e)) != 0)
            return err;
    }
    return coupon ? apply_coupon(db, co, cl, e) : 0;
}

/* The store credit pays the whole order: paid at once, nothing to collect. */
static bool paid_by_credit(const mer_checkout_t *co)
{
    return co->credit > 0 && co->credit == co->pr.grand_total;
}

void mer_checkout_view(mer_checkout_t *co)
{
    mer_order_view_t *v = &co->view;
    if (co->order_id == 0 || co->replay || v->id) /* nothing placed, a replay (loaded), or made already */
        return;
    const mer_country_t *c = co->c;
    v->id = co->order_id;
    v->user_id = co->user_id;
    mer_strcopy(v->number, sizeof(v->number), co->number);
    mer_strcopy(v->country, sizeof(v->country), c->code);
    mer_strcopy(v->currency, sizeof(v->currency), c->currency.code);
    mer_strcopy(v->status, sizeof(v->status), co->status);
    mer_strcopy(v->payment_method, sizeof(v->payment_method), co->payment_method);
    mer_strcopy(v->payment_status, sizeof(v->payment_status), paid_by_credit(co) ? "paid" : "unpaid");
    v->store_credit = co->credit;
    v->tax_included = c->tax_inclusive;
    v->items_total = co->pr.items_total;
    v->discount_total = co->pr.discount_total;
    v->shipping_total = co->pr.shipping_total;
    v->tax_total = co->pr.tax_total;
    v->grand_total = co->pr.grand_total;
    v->address_json = co->address_json; /* the view owns it now */
    co->address_json = NULL;
    v->created_at = v->updated_at = co->created_at;
    v->expires_at = co->expires_at;
    v->lines = mer_xcalloc(co->n ? co->n : 1, sizeof(*v->lines));
    for (size_t i = 0; i < co->n; i++) {
        mer_order_line_view_t *l = &v->lines[i];
        l->line_no = (int)i + 1;
        l->sku_id = co->lines[i].sku_id;
        mer_strcopy(l->sku, sizeof(l->sku), co->lines[i].code);
        mer_strcopy(l->name, sizeof(l->name), co->lines[i].name);
        mer_strcopy(l->sale_type, sizeof(l->sale_type), co->lines[i].flash ? "flash" : "normal");
        l->quantity = co->lines[i].quantity;
        l->unit_price = co->lines[i].unit_price;
        l->discount = co->pl[i].discount;
        l->line_total = co->pl[i].line_total;
        l->tax = co->pl[i].tax;
        l->rate_bp = co->pl[i].rate_bp;
    }
    v->nlines = co->n;
    memcpy(v->taxes, co->pr.taxes, sizeof(v->taxes));
    v->ntaxes = co->pr.ntaxes;
    mer_strcopy(v->warehouse, sizeof(v->warehouse), co->warehouse_code);
    if (co->has_coupon)
        mer_strcopy(v->coupon, sizeof(v->coupon), co->coupon.code);
    if (co->intent[0]) {
        mer_strcopy(v->intent, sizeof(v->intent), co->intent);
        mer_strcopy(v->redirect_url, sizeof(v->redirect_url), co->redirect_url);
    }
    const char *codes[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < co->n; i++)
        codes[i] = co->lines[i].code;
    v->shipments_text = mer_shipments_text_new(&co->plan, co->shipment_ids, codes, co->n, co->created_at);
}

static int emit_created(mer_db_t *db, const mer_checkout_t *co)
{
    mer_buf_t ev = MER_BUF_INIT;
    mer_jw_t jw;
    mer_buf_init(&ev, 512);
    mer_jw_init(&jw, &ev);
    mer_jw_obj(&jw, NULL);
    mer_jw_int(&jw, "order_id", co->order_id);
    mer_jw_str(&jw, "number", co->number);
    mer_jw_str(&jw, "status", co->status);
    mer_jw_str(&jw, "country", co->c->code);
    mer_jw_str(&jw, "currency", co->c->currency.code);
    mer_jw_int(&jw, "grand_total", co->pr.grand_total);
    mer_jw_int(&jw, "user_id", co->user_id);
    mer_jw_str(&jw, "payment_method", co->payment_method);
    mer_jw_str(&jw, "payment_status", paid_by_credit(co) ? "paid" : "unpaid");
    if (co->credit)
        mer_jw_int(&jw, "store_credit", co->credit);
    if (co->has_coupon)
        mer_jw_str(&jw, "coupon", co->coupon.code);
    mer_jw_end(&jw);
    int err = mer_event_emit_raw(db, "order.created", co->order_id, ev.data, ev.len);
    mer_buf_release(&ev);
    return err;
}

/* Writes the order and everything that goes with it (co resolved, stock reserved, priced). */
static int write_order(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    const mer_country_t *c = co->c;
    int err;
    bool cod = strcmp(co->payment_method, "cod") == 0, paid = paid_by_credit(co);
    co->status = paid ? "paid" : cod ? "pending_shipment" : "pending_payment";
    co->expires_at = cod || paid ? 0 : co->created_at + (int64_t)c->order_timeout_s * 1000; /* 0: none (NULL) */
    /* the id known at once (nothing waited for on PostgreSQL: store/db.h, mer_db_insert) */
    err = mer_db_insert(db, &co->order_id,
                        "INSERT INTO orders (id, number, user_id, country, currency, lang, status, payment_method, "
                        "payment_status, warehouse_id, tax_included, items_total, discount_total, shipping_total, "
                        "tax_total, grand_total, store_credit, address, coupon_code, created_at, updated_at, "
                        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "NULLIF(?, 0))",
                        "nsissssssiiiiiiiissiii", co->number, co->user_id, c->code, c->currency.code, co->view.lang,
                        co->status, co->payment_method, paid ? "paid" : "unpaid", co->warehouse_id,
                        (int64_t)c->tax_inclusive, co->pr.items_total, co->pr.discount_total, co->pr.shipping_total,
                        co->pr.tax_total, co->pr.grand_total, co->credit, co->address_json,
                        co->has_coupon ? co->coupon.code : NULL, co->created_at, co->created_at, co->expires_at);
    if (err)
        return err;
    for (size_t i = 0; i < co->n; i++) {
        const co_line_t *l = &co->lines[i];
        if (mer_db_defer(db,
                         "INSERT INTO order_line (order_id, line_no, sku_id, sku_code, name, sale_type, quantity, "
                         "unit_price, discount, line_total, tax, tax_rate_bp, flash_token) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         "iiisssiiiiiis", co->order_id, (int64_t)(i + 1), l->sku_id, l->code, l->name,
                         l->flash ? "flash" : "normal", l->quantity, l->unit_price, co->pl[i].discount,
                         co->pl[i].line_total, co->pl[i].tax, (int64_t)co->pl[i].rate_bp,
                         l->flash ? co->flash_token : NULL) < 0)
            return MER_E_INTERNAL;
    }
    int64_t sku_ids[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < co->n; i++)
        sku_ids[i] = co->lines[i].sku_id;
    err = mer_shipments_create(db, co->order_id, &co->plan, sku_ids, co->n, co->created_at, co->shipment_ids);
    if (err)
        return err;
    size_t k = 0;
    for (; k + 1 < co->pr.ntaxes; k += 2) { /* two rows a statement: India's CGST and SGST in one */
        const mer_tax_row_t *t = &co->pr.taxes[k], *u = &co->pr.taxes[k + 1];
        if (mer_db_defer(db,
                         "INSERT INTO order_tax (order_id, kind, rate_bp, taxable, amount) "
                         "VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)",
                         "isiiiisiii", co->order_id, t->kind, (int64_t)t->rate_bp, t->taxable, t->amount, co->order_id,
                         u->kind, (int64_t)u->rate_bp, u->taxable, u->amount) < 0)
            return MER_E_INTERNAL;
    }
    if (k < co->pr.ntaxes) {
        const mer_tax_row_t *t = &co->pr.taxes[k];
        if (mer_db_defer(db, "INSERT INTO order_tax (order_id, kind, rate_bp, taxable, amount) VALUES (?, ?, ?, ?, ?)",
                         "isiii", co->order_id, t->kind, (int64_t)t->rate_bp, t->taxable, t->amount) < 0)
            return MER_E_INTERNAL;
    }
    char actor[40];
    snprintf(actor, sizeof(actor), "customer:%lld", (long long)co->user_id);
    if (mer_db_defer(db, "INSERT INTO order_event (order_id, to_status, actor, at) VALUES (?, ?, ?, ?)", "issi",
                     co->order_id, co->status, actor, co->created_at) < 0)
        return MER_E_INTERNAL;
    if (co->idem_key[0]) { /* claimed, not assumed free: its outcome is read by mer_checkout_place */
        co->idem_sent = true;
        if (mer_db_defer_result(db, &co->idem_claim,
                                "INSERT INTO idempotency (user_id, key, request_hash, order_id, created_at) "
                                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING",
                                "issii", co->user_id, co->idem_key, co->req_hash, co->order_id, co->created_at) < 0)
            return MER_E_INTERNAL;
    }
    if (co->flash_token[0] && (err = mer_flash_token_consume(db, co->flash_token, co->user_id, co->order_id)) != 0)
        return err == MER_E_CONFLICT
                   ? mer_verr_set(e, MER_E_CONFLICT, "flash_token", "the purchase token expired or was used meanwhile")
                   : err;
    if (co->from_cart)
        for (size_t i = 0; i < co->n; i++)
            if (!co->lines[i].flash &&
                (err = mer_cart_remove_line(db, co->cart_id, co->lines[i].sku_id, "normal")) != 0)
                return err;
    if (co->has_coupon) {
        char msg[128];
        if ((err = mer_coupon_freeze(db, &co->coupon, co->order_id, co->user_id, co->pr.discount_total, msg)) != 0)
            return err == MER_E_CONFLICT ? mer_verr_set(e, MER_E_CONFLICT, "coupon", "%s", msg) : err;
        if (paid && (err = mer_coupon_settle(db, co->order_id, true)) != 0) /* paid at once: consumed */
            return err;
    }
    if (co->intent[0] &&
        mer_db_defer(db,
                     "INSERT INTO payment (order_id, provider, kind, amount, currency, status, intent, created_at) "
                     "VALUES (?, 'wallet', 'charge', ?, ?, 'pending', ?, ?)",
                     "iissi", co->order_id, co->pr.grand_total - co->credit, c->currency.code, co->intent,
                     co->created_at) < 0)
        return MER_E_INTERNAL;
    if ((err = emit_created(db, co)) != 0)
        return err;
    /* paid with store credit at once: what a payment announces (its invoice, its shipment, webhooks) */
    return paid ? mer_event_emit_order(db, "order.paid", co->order_id) : 0;
}

/*
 * The store credit asked for (checkout.h, step 5), once the grand total is known: co->credit, spent from the
 * customer's ledger in this job. A spend that another writer's made impossible meanwhile (PostgreSQL, several
 * nodes: the guarded update waited for it) reads the balance again.
 */
static int apply_credit(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    co->credit = 0;
    if (co->store_credit == 0)
        return 0;
    for (int attempt = 0;; attempt++) {
        int64_t balance = 0;
        int err = mer_store_credit_balance(db, co->user_id, co->c->code, &balance);
        if (err)
            return err;
        if (co->store_credit > balance)
            return mer_verr_set(e, MER_E_VALIDATION, "store_credit",
                                "your store credit in %s is %lld minor units (%s); you asked for %lld", co->c->code,
                                (long long)balance, co->c->currency.code, (long long)co->store_credit);
        int64_t spend = co->store_credit < 0 ? balance : co->store_credit; /* "max": all there is */
        if (spend > co->pr.grand_total)
            spend = co->pr.grand_total; /* never more than the order costs */
        if (spend == 0)
            return 0;
        char why[MER_ORDER_NUMBER_MAX + 8];
        snprintf(why, sizeof(why), "order %s", co->number);
        err = mer_store_credit_add(db, co->user_id, co->c->code, co->c->currency.code, -spend, why, 0);
        if (err == MER_E_CONFLICT && attempt < 3)
            continue; /* spent meanwhile by another writer: read the balance again */
        if (err == MER_E_CONFLICT)
            return mer_verr_set(e, MER_E_CONFLICT, "store_credit", "your store credit changed meanwhile; try again");
        if (err)
            return err;
        co->credit = spend;
        return 0;
    }
}

static const char idem_reused[] = "this Idempotency-Key was already used for a different order request";

/* The order the Idempotency-Key made: 1 when there is one (co->view loaded: a replay), 0 when none, or an error
 * (MER_E_IDEMPOTENCY_MISMATCH, with *e, when it was for another body). */
static int idem_replay(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    int64_t order_id = 0;
    int seen = idem_lookup(db, co, &order_id);
    if (seen == MER_E_IDEMPOTENCY_MISMATCH)
        return mer_verr_set(e, seen, "Idempotency-Key", "%s", idem_reused);
    if (seen <= 0)
        return seen;
    co->replay = true;
    co->order_id = order_id;
    int err = mer_order_load(db, order_id, co->user_id, &co->view);
    return err ? err : 1;
}

/* A new order: everything after the Idempotency-Key's look-up (mer_checkout_place). */
static int place(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    int err;
    if ((err = resolve(db, co, e)) != 0)
        return err;

    /* The reservation is queued, and goes to the database with the order number's statement (one round trip on
     * a database server: inventory.h); its outcome is read after it. A job refused later (out of stock, a
     * total or payment check below) is rolled back by its savepoint, the number's increment with it. */
    mer_stock_line_t sl[MER_ORDER_MAX_LINES];
    for (size_t i = 0; i < co->n; i++)
        sl[i] = (mer_stock_line_t){co->lines[i].sku_id, co->lines[i].quantity};
    if ((err = mer_stock_reserve_send(db, co->c->code, co->state, sl, co->n, &co->hold)) != 0)
        return err;
    if ((err = next_number(db, co)) != 0)
        return err;
    int64_t short_sku = 0;
    err = mer_stock_reserve_end(db, &co->hold, &co->plan, &short_sku);
    if (err == MER_E_CONFLICT) {
        const char *code = "";
        for (size_t i = 0; i < co->n; i++)
            if (co->lines[i].sku_id == short_sku)
                code = co->lines[i].code;
        return mer_verr_set(e, MER_E_CONFLICT, "lines", "out of stock: %s (not enough units in the warehouses)", code);
    }
    if (err)
        return err;
    /* the order's warehouse is its first shipment's; intra-state (India) when every shipment is */
    bool same_state = co->plan.nparts > 0;
    for (size_t k = 0; k < co->plan.nparts; k++)
        same_state = same_state && co->plan.parts[k].same_state;
    co->warehouse_id = co->plan.parts[0].warehouse_id;
    mer_strcopy(co->warehouse_code, sizeof(co->warehouse_code), co->plan.parts[0].code);

    /* The amounts do not depend on intra_state (only the breakdown rows do): resolve() priced the order
     * already unless a coupon changed its lines since, or India's intra-state split applies. */
    if ((co->has_coupon || (same_state && co->c->tax_split == MER_TAX_SPLIT_GST)) &&
        (err = price(co, same_state, e)) != 0)
        return err;
    if (co->expected_total >= 0 && co->expected_total != co->pr.grand_total)
        return mer_verr_set(e, MER_E_CONFLICT, "expected_total",
                            "the total is now %lld, not %lld: prices changed since the cart was shown",
                            (long long)co->pr.grand_total, (long long)co->expected_total);
    if ((err = apply_credit(db, co, e)) != 0)
        return err;
    /* the method's ceiling is on what it collects: the amount due */
    const mer_payment_rule_t *pay = mer_country_payment(co->c, co->payment_method);
    if (pay && pay->max_amount && co->pr.grand_total - co->credit > pay->max_amount)
        return mer_verr_set(e, MER_E_VALIDATION, "payment_method",
                            "%s is only possible for orders up to %lld minor units in %s", co->payment_method,
                            (long long)pay->max_amount, co->c->code);
    if (strcmp(co->payment_method, "wallet") == 0 && !paid_by_credit(co))
        mer_wallet_new_intent(co->region, co->c->currency.code, co->intent, co->redirect_url, sizeof(co->redirect_url));

    free(co->address_json); /* (a job run again) */
    co->address_json = mer_address_json_text(&co->address);
    if ((err = write_order(db, co, e)) != 0)
        co->order_id = 0;
    return err;
}

/*
 * An Idempotency-Key seen before replays its order. One not seen yet is claimed with the order (write_order:
 * its row's INSERT ... ON CONFLICT DO NOTHING, after the order number's statement, so it never waits for
 * another transaction holding the key: that one holds the country's number too), and whether the claim took is
 * read at the job's next synchronous call. On a database shared by several nodes, two requests with one key
 * can both find it unused; the second, its claim refused because the first committed meanwhile (or refused
 * something the first took, its stock), undoes what it did and answers as a replay of the first: never a
 * unique-key failure at its RELEASE (a 500), never two orders.
 */
int mer_checkout_place(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e)
{
    int err;
    co->created_at = mer_now_unix_ms();
    co->reason = NULL;
    if (!co->idem_key[0])
        return place(db, co, e);
    if ((err = idem_replay(db, co, e)) != 0)
        return err < 0 ? err : 0;

    co->idem_sent = false;
    err = place(db, co, e);
    if (co->idem_sent && !co->idem_claim.ready) { /* (the round trip the job's RELEASE would have made) */
        int ferr = mer_db_flush(db);
        if (ferr || !co->idem_claim.ready)
            return err ? err : ferr ? ferr : MER_E_INTERNAL;
    }
    bool taken = co->idem_sent && co->idem_claim.changed == 0;
    if (!taken && (err == 0 || co->idem_sent || !e->code))
        return err; /* the key is this order's, the job failed after claiming it, or the database did */
    /* the key taken, or the order refused before its claim (out of stock, say): maybe another request's doing */
    mer_db_rollback_to(db);
    int serr = mer_db_savepoint(db); /* (open again: the writer releases the job's savepoint) */
    if (serr)
        return serr;
    co->order_id = 0;
    mer_verr_t again = {0};
    int seen = idem_replay(db, co, &again);
    if (seen == 0 && !taken)
        return err; /* the job's own refusal */
    co->reason = NULL;
    *e = again;
    if (seen == 0) /* (not committed, or gone since: the client may retry) */
        return mer_verr_set(e, MER_E_CONFLICT, "Idempotency-Key", "a request with this Idempotency-Key is in progress");
    return seen < 0 ? seen : 0;
}
