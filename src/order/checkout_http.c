/*
 * checkout_http.c — POST /api/v1/orders: the adapter of the checkout service (checkout.h).
 *
 * Body: {"address_id": 12 | "address": {...}, "payment_method": "card"|"wallet"|"cod",
 *        "lines": [{"sku": "...", "quantity": 1}]   (optional: default is the cart),
 *        "expected_total": 1999900                  (optional: 409 price_changed if the total differs),
 *        "store_credit": 5000 | "max"               (optional: the customer's credit to apply: checkout.h)}
 * Header Idempotency-Key (optional, 1-100 printable characters): a retry with the same key and body
 * returns the same order; the same key with another body is 422 idempotency_key_reused.
 *
 * On the loop: the caller's role, the body read into a mer_checkout_t (the parts that need only the body;
 * their refusals are kept for the service to report in their turn), the body's canonical hash, and what
 * needs no database (mer_checkout_prepare). On a database server, a stored delivery address is read on the
 * read pool (mer_checkout_read). Then one writer job runs mer_checkout_place(), and the answer
 * is the order (201, made here by mer_checkout_view) or the refusal.
 */
#include <sodium.h>
#include <stdio.h>

#include "order/checkout.h"
#include "core/banned.h"

typedef struct checkout_call {
    mer_call_t c;
    mer_checkout_t co;
} checkout_call_t;

static int checkout_fn(mer_db_t *db, mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    return mer_checkout_place(db, &k->co, &c->verr);
}

/* The stored address read on the read pool (mer_checkout_read), then the job. */
static int checkout_read_fn(mer_db_t *db, mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    return mer_checkout_read(db, &k->co);
}

static void checkout_reply(mer_call_t *c);

static void checkout_read_done(mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    c->reply = checkout_reply;
    mer_call_write(c, k->co.region, checkout_fn);
}

static void checkout_reply(mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    if (k->co.replay) {
        mer_reply_header(c->r, "idempotent-replayed", "true");
    } else {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/v1/orders/%lld", (long long)k->co.order_id);
        mer_reply_header(c->r, "location", loc);
        mer_checkout_view(&k->co); /* here, not in the job: the writer only writes */
    }
    mer_reply_order(c->r, 201, &k->co.view);
}

/* A refusal; a coupon's names its reason. */
static void checkout_reply_error(mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    if (k->co.reason && c->verr.code)
        mer_reply_error_reason(c->r, c->verr.code, c->verr.field, k->co.reason, "%s", c->verr.message);
    else
        mer_reply_job_error(c->r, c->err, &c->verr);
}

static void checkout_cleanup(mer_call_t *c)
{
    checkout_call_t *k = MER_CONTAINER_OF(c, checkout_call_t, c);
    if (c->err == 0) /* the token's order committed: mark it used even if the customer has gone */
        mer_checkout_committed(&k->co);
    mer_checkout_release(&k->co);
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
    size_t klen;
    const char *key;
    if (mer_req_idempotency_key(r, &key, &klen) != 0)
        return;

    checkout_call_t *k = mer_call_alloc(r, sizeof(*k)); /* co: mer_checkout_init's to zero (what it uses) */
    mer_checkout_t *co = &k->co;
    mer_checkout_init(co);
    co->user_id = r->who.id;
    mer_strcopy(co->country, sizeof(co->country), r->who.country);
    mer_strcopy(co->region, sizeof(co->region), r->who.region);
    const char *lang = mer_req_query(r, "lang");
    if (lang && mer_locale_normalize(lang, strlen(lang), co->lang) != 0)
        co->lang[0] = '\0'; /* a malformed ?lang= is skipped, as mer_locale_chain_build does */
    mer_strcopy(co->payment_method, sizeof(co->payment_method), in.payment_method);
    co->address_id = in.address_id;
    if (in.address) {
        co->inline_address = true;
        mer_checkout_input_address(in.address, &co->address, &co->address_err);
    }
    if (in.lines) {
        co->lines_given = true;
        mer_checkout_input_lines(in.lines, in.flash_token ? 1 : 0, MER_ORDER_MAX_LINES, co->want, &co->nwant,
                                 &co->lines_err);
    }
    mer_strcopy(co->coupon_code, sizeof(co->coupon_code), in.coupon ? in.coupon : "");
    mer_strcopy(co->flash_token, sizeof(co->flash_token), in.flash_token ? in.flash_token : "");
    co->expected_total = in.expected_total;
    co->store_credit = in.store_credit;
    if (key) {
        snprintf(co->idem_key, sizeof(co->idem_key), "%.*s", (int)klen, key);
        /* the request's identity: its body in canonical form (sorted keys) */
        char *canon = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned char h[32];
        crypto_generichash(h, sizeof(h), (const unsigned char *)canon, strlen(canon), NULL, 0);
        sodium_bin2hex(co->req_hash, sizeof(co->req_hash), h, sizeof(h));
        free(canon);
    }
    mer_checkout_prepare(co);
    k->c.reply_error = checkout_reply_error;
    k->c.cleanup = checkout_cleanup;
    if (!co->inline_address && mer_store_remote(co->region)) { /* the stored address first, off the writer */
        k->c.reply = checkout_read_done;
        mer_call_read(&k->c, co->region, checkout_read_fn);
        return;
    }
    k->c.reply = checkout_reply;
    mer_call_write(&k->c, co->region, checkout_fn);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/orders", h_checkout, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_KEY, MER_RATE_NONE},
};

const mer_routes_t mer_checkout_routes = {routes, MER_ARRAY_LEN(routes)};
