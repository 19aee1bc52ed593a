/*
 * cart_http.c — the HTTP adapter of the cart service (cart.h): which cart a request means (X-Cart-Id, the
 * customer's token, ?country), the SKU and sale type it names, and the answer: the cart's view.
 *
 * No database on the loop: a guest cart named by X-Cart-Id is looked up on the read pool before anything
 * else is decided; a change is a writer job; the view is built on the read pool (after the change's
 * commit, so it shows what was stored).
 */
#include <sodium.h>
#include <stdio.h>

#include "cart/cart.h"
#include "catalog/catalog.h"
#include "http/req.h"
#include "region/region_http.h"
#include "store/store.h"
#include "core/banned.h"

typedef enum { STEP_VIEW, STEP_CHANGE } cart_step_t;

/* One cart request as it goes from the loop to the store and back. */
typedef struct cart_call {
    mer_call_t c;
    mer_cart_ref_t cart;
    bool guest;                /* no customer: the X-Cart-Id header carries the id */
    char lang[MER_LOCALE_MAX]; /* ?lang normalized, "" when absent or unusable */
    mer_locale_chain_t chain;
    cart_step_t step;
    char country[3];   /* a guest cart's country as stored ("" when there is no such cart) */
    const char *sku;   /* the SKU code named (request memory) */
    bool must_be_sold; /* the SKU must have a price in the cart's country */
    mer_cart_change_t ch;
} cart_call_t;

static void view_reply(mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    if (j->guest && j->cart.id[0])
        mer_reply_header(c->r, "x-cart-id", j->cart.id);
    mer_reply_json(c->r, 200, c->result);
    c->result = NULL;
}

static int view_read(mer_db_t *db, mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    c->result = mer_cart_view(db, &j->cart, &j->chain);
    return c->result ? 0 : MER_E_INTERNAL;
}

/* After a change's commit: the view, from the read pool. */
static void changed_reply(mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    c->reply = view_reply;
    mer_call_read(c, j->cart.region, view_read);
}

static int change_write(mer_db_t *db, mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    return mer_cart_apply(db, &j->cart, &j->ch, &c->verr);
}

/* Finds the SKU of a code (body) or path parameter; checks it is sold in the cart's country. */
static int pick_sku(mer_req_t *r, cart_call_t *j)
{
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_code(cat, j->sku);
    int64_t price = s && s->product->active ? mer_catalog_price(s, j->cart.country->code) : -1;
    if (s) {
        j->ch.sku_id = s->id;
        j->ch.limit = s->max_per_order;
        j->ch.unit_price = price;
    }
    mer_catalog_unlock();
    if (s == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "sku", "no SKU %s", j->sku);
        return -1;
    }
    if (j->must_be_sold && price < 0) {
        mer_reply_error(r, MER_E_VALIDATION, "sku", "%s is not sold in %s", j->sku, j->cart.country->code);
        return -1;
    }
    return 0;
}

static int read_sale_type(mer_req_t *r, json_t *body, cart_call_t *j)
{
    const char *st = body ? json_string_value(json_object_get(body, "sale_type")) : mer_req_query(r, "sale_type");
    if (st == NULL)
        st = "normal";
    if (strcmp(st, "normal") == 0) {
        snprintf(j->ch.sale_type, sizeof(j->ch.sale_type), "normal");
        return 0;
    }
    if (strcmp(st, "flash") == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "sale_type",
                        "flash-sale lines are added by checking out with a purchase token (see flash sales)");
        return -1;
    }
    mer_reply_error(r, MER_E_VALIDATION, "sale_type", "sale_type is normal or flash");
    return -1;
}

/*
 * Once the cart is known: the served-here check and the language, then the view or the change (which
 * checks the SKU first). Returns 0 when the call was submitted, or -1 when an answer was given.
 */
static int go(mer_req_t *r, cart_call_t *j)
{
    if (mer_req_served_here(r, mer_countries(), j->cart.country) != 0)
        return -1;
    mer_locale_chain_build(&j->chain, j->lang[0] ? j->lang : NULL, NULL, 0, j->cart.country->languages[0]);
    if (j->step == STEP_VIEW) {
        j->c.reply = view_reply;
        mer_call_read(&j->c, j->cart.region, view_read);
        return 0;
    }
    if (j->ch.op == MER_CART_REMOVE) {
        const char *st = mer_req_query(r, "sale_type");
        snprintf(j->ch.sale_type, sizeof(j->ch.sale_type), "%s", st && strcmp(st, "flash") == 0 ? "flash" : "normal");
    } else if (read_sale_type(r, r->body, j) != 0) {
        return -1;
    }
    if (pick_sku(r, j) != 0)
        return -1;
    if (!j->cart.id[0]) {
        mer_reply_error(r, MER_E_NOT_FOUND, "sku", "this SKU is not in the cart");
        return -1;
    }
    j->c.reply = changed_reply;
    mer_call_write(&j->c, j->cart.region, change_write);
    return 0;
}

static int guest_read(mer_db_t *db, mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    int err = mer_cart_guest_country(db, j->cart.id, j->country);
    return err == MER_E_NOT_FOUND ? 0 : err; /* the reply answers a cart that is not there */
}

static void guest_found(mer_call_t *c)
{
    cart_call_t *j = (cart_call_t *)c;
    j->cart.country = j->country[0] ? mer_country_find(mer_countries(), j->country, 2) : NULL;
    if (j->cart.country == NULL) {
        mer_reply_error(c->r, MER_E_NOT_FOUND, "X-Cart-Id", "no such cart (it may have been merged at login)");
        return;
    }
    go(c->r, j); /* an answer given here ends the call */
}

/*
 * Works out the cart of r into j: a customer's for ?country / X-Country (default their own), a guest's
 * from X-Cart-Id, or a new guest cart (an id is made when create is true). Then goes on with j's step.
 * Frees j when it answers before submitting.
 */
static void start(mer_req_t *r, cart_call_t *j, bool create)
{
    const mer_countries_t *cs = mer_countries();
    size_t hlen = 0;
    const char *hdr = mer_req_header(r, "x-cart-id", &hlen);
    const char *qc = mer_req_query(r, "country");
    const char *lang = mer_req_query(r, "lang");
    if (lang == NULL || mer_locale_normalize(lang, strlen(lang), j->lang) != 0)
        j->lang[0] = '\0';
    if (qc == NULL) {
        size_t l;
        const char *x = mer_req_header(r, "x-country", &l);
        if (x && l == 2)
            qc = mer_req_strdup(r, x, l);
    }
    if (r->who.role == MER_ROLE_CUSTOMER) {
        j->cart.country = mer_country_find(cs, qc ? qc : r->who.country, qc ? strlen(qc) : 2);
        if (j->cart.country == NULL) {
            mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "unknown country");
            goto answered;
        }
        if (strcmp(j->cart.country->region, r->who.region) != 0) {
            mer_reply_error(r, MER_E_FORBIDDEN, "country",
                            "your account lives in region %s; carts for %s are kept in region %s", r->who.region,
                            j->cart.country->code, j->cart.country->region);
            goto answered;
        }
        mer_cart_user_id(r->who.id, j->cart.country->code, j->cart.id);
        snprintf(j->cart.region, sizeof(j->cart.region), "%s", r->who.region);
        j->cart.user_id = r->who.id;
    } else if (r->who.role != MER_ROLE_NONE) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff accounts have no cart");
        goto answered;
    } else if (hdr) {
        /* g_<region>_<random> */
        j->guest = true;
        const char *us = hlen >= 4 && hlen < sizeof(j->cart.id) && hdr[0] == 'g' && hdr[1] == '_'
                             ? memchr(hdr + 2, '_', hlen - 2)
                             : NULL;
        if (us == NULL || (size_t)(us - hdr - 2) >= sizeof(j->cart.region)) {
            mer_reply_error(r, MER_E_NOT_FOUND, "X-Cart-Id", "no such cart");
            goto answered;
        }
        snprintf(j->cart.id, sizeof(j->cart.id), "%.*s", (int)hlen, hdr);
        snprintf(j->cart.region, sizeof(j->cart.region), "%.*s", (int)(us - hdr - 2), hdr + 2);
        const mer_region_t *rg = mer_region_find(cs, j->cart.region);
        if (rg == NULL || !rg->local) { /* no database here could hold it */
            mer_reply_error(r, MER_E_NOT_FOUND, "X-Cart-Id", "no such cart (it may have been merged at login)");
            goto answered;
        }
        j->c.reply = guest_found;
        mer_call_read(&j->c, j->cart.region, guest_read);
        return;
    } else {
        j->guest = true;
        if (qc == NULL) {
            mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country is required for a new cart");
            goto answered;
        }
        j->cart.country = mer_country_find(cs, qc, strlen(qc));
        if (j->cart.country == NULL) {
            mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "unknown country");
            goto answered;
        }
        snprintf(j->cart.region, sizeof(j->cart.region), "%s", j->cart.country->region);
        if (create) {
            unsigned char raw[16];
            char b64[32];
            randombytes_buf(raw, sizeof(raw));
            sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            snprintf(j->cart.id, sizeof(j->cart.id), "g_%s_%s", j->cart.region, b64);
        }
    }
    if (go(r, j) == 0)
        return;
answered:
    free(j);
}

static void h_get(mer_req_t *r)
{
    cart_call_t *j = mer_call_new(r, sizeof(*j));
    j->step = STEP_VIEW;
    start(r, j, false);
}

static void h_add(mer_req_t *r)
{
    static const char *const keys[] = {"sku", "quantity", "sale_type", NULL};
    mer_verr_t e = {0};
    const char *sku = NULL;
    int64_t q = 1;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "sku", "sku", 1, 64, true, &sku, &e) ||
        mer_json_int(r->body, "quantity", "quantity", 1, 1000, false, &q, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    cart_call_t *j = mer_call_new(r, sizeof(*j));
    j->step = STEP_CHANGE;
    j->sku = sku;
    j->must_be_sold = true;
    j->ch.op = MER_CART_ADD;
    j->ch.quantity = q;
    start(r, j, true);
}

static void h_set(mer_req_t *r)
{
    static const char *const keys[] = {"quantity", "sale_type", NULL};
    mer_verr_t e = {0};
    int64_t q = 0;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_int(r->body, "quantity", "quantity", 1, 1000, true, &q, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    cart_call_t *j = mer_call_new(r, sizeof(*j));
    j->step = STEP_CHANGE;
    j->sku = mer_req_strdup(r, r->params[0].base, r->params[0].len);
    j->must_be_sold = true;
    j->ch.op = MER_CART_SET;
    j->ch.quantity = q;
    start(r, j, false);
}

static void h_remove(mer_req_t *r)
{
    cart_call_t *j = mer_call_new(r, sizeof(*j));
    j->step = STEP_CHANGE;
    j->sku = mer_req_strdup(r, r->params[0].base, r->params[0].len);
    j->ch.op = MER_CART_REMOVE;
    start(r, j, false);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/cart", h_get, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/cart/items", h_add, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/cart/items/{sku}", h_set, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"DELETE", "/api/v1/cart/items/{sku}", h_remove, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

static const mer_routes_t cart_routes = {routes, MER_ARRAY_LEN(routes)};

const mer_module_t mer_cart_module = {
    .name = "cart",
    .routes = MER_MODULE_ROUTES(&cart_routes),
};
