/*
 * order.h — orders: checkout, reading, the state machine's transitions, and unpaid-order expiry.
 *
 * Checkout (POST /api/v1/orders, see checkout.c) validates and resolves everything it can on the worker
 * thread (address, lines, prices, payment method), then hands one job to the region's writer, which in
 * a single savepoint of a group-committed transaction: replays an Idempotency-Key it has seen, reserves
 * stock from one warehouse, prices the order (tax depends on the warehouse's state in India), numbers
 * it, writes order, lines, tax breakdown and first state event, records the Idempotency-Key and removes
 * the ordered lines from the cart. The 201 is sent only after that transaction is durable.
 *
 * Transitions (order.c) go through fsm.h: customers cancel and pay their own orders; staff ship,
 * deliver, complete and cancel orders of their countries. Every transition writes an order_event row
 * with time and actor. Unpaid orders past their country's timeout are cancelled by a sweeper and their
 * stock released.
 */
#ifndef MER_ORDER_H
#define MER_ORDER_H

#include <jansson.h>

#include "core/buf.h"
#include "http/req.h"
#include "module.h"
#include "order/fsm.h"
#include "pricing/pricing.h"
#include "store/db.h"

#define MER_ORDER_NUMBER_MAX 32

/* Everything an order answer shows, loaded from the database or filled by checkout. */
typedef struct mer_order_line_view {
    int line_no;
    int64_t sku_id;
    char sku[65];
    char name[801]; /* up to 200 characters */
    char sale_type[8];
    int64_t quantity, unit_price, discount, line_total, tax, refunded_qty;
    int rate_bp;
} mer_order_line_view_t;

typedef struct mer_order_view {
    int64_t id, user_id;
    char number[MER_ORDER_NUMBER_MAX];
    char country[3], currency[4], lang[16];
    char status[20], payment_method[16], payment_status[24];
    char warehouse[65];
    bool tax_included;
    int64_t items_total, discount_total, shipping_total, tax_total, grand_total, refunded_total;
    char *address_json; /* owned */
    char coupon[65];
    char tracking[65];
    char carrier[32], shipment_tracking[40];    /* booked by the logistics subscriber */
    char intent[64];                            /* wallet: pending payment intent */
    char redirect_url[512];                     /* wallet: where the customer pays */
    int64_t created_at, updated_at, expires_at; /* expires_at 0 = none */
    mer_order_line_view_t *lines;               /* owned */
    size_t nlines;
    mer_tax_row_t taxes[MER_PRICE_MAX_TAXES];
    size_t ntaxes;
    json_t *events;   /* owned; NULL = not loaded */
    json_t *payments; /* owned; NULL = not loaded */
} mer_order_view_t;

void mer_order_view_release(mer_order_view_t *v);
/*
 * Loads order id (of user_id, or any user when user_id is 0) with lines, taxes, events and payments.
 * Returns 0, MER_E_NOT_FOUND or another negative error.
 */
int mer_order_load(mer_db_t *db, int64_t id, int64_t user_id, mer_order_view_t *v);
/* The JSON form of an order (money formatted for its language, times also in the country's zone). */
void mer_order_write(mer_buf_t *out, const mer_order_view_t *v);
/* Answers r with an order. */
void mer_reply_order(mer_req_t *r, int status, const mer_order_view_t *v);
/*
 * Loads order id (of user_id, or any user when 0) from the region's reader and answers r with it, or with
 * the load's error (404 "no such order").
 */
void mer_reply_order_id(mer_req_t *r, const char *region, int64_t id, int64_t user_id, int status);
/* Frees the calling worker's scratch buffer. */
void mer_order_thread_release(void);

/*
 * Applies a state-machine event to an order inside a writer transaction (stock, events, coupons,
 * refunds included). Returns 0, MER_E_CONFLICT (illegal; *current holds the state), or an error.
 */
int mer_order_transition_db(mer_db_t *db, int64_t order_id, mer_order_event_t ev, const char *actor, const char *note,
                            char current[20]);
/*
 * A charge (payment row payment_id, of amount) succeeded at its provider; writer transaction. Pays the order,
 * or, when the order was closed meanwhile (cancelled, expired), requests a refund of that very charge. When
 * the order already holds the money of another charge (a late success for an old wallet attempt), this one
 * is marked a duplicate of it (payment.duplicate_of) and refunded in full; the order, its refunded total
 * and payment status are left as they are. Returns 0 (paid), 1 (being refunded), 2 (a duplicate, being
 * refunded) or a negative error; *current holds the order's state.
 */
int mer_order_charge_succeeded(mer_db_t *db, int64_t order_id, int64_t payment_id, int64_t amount, const char *actor,
                               const char *note, char current[20]);

/*
 * The order module (order.c): checkout (checkout.c, mer_checkout_routes), the order routes, refunds
 * (refund.h) and coupons (coupon.h); init starts the expiry sweeper, which stops with the producers of
 * writes (before the writers drain); each worker frees its order-view cache on exit.
 */
extern const mer_module_t mer_order_module;
extern const mer_routes_t mer_checkout_routes;

#endif
