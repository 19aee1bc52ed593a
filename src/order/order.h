/*
 * order.h — orders: checkout, reading, the state machine's transitions, and unpaid-order expiry.
 *
 * Checkout (POST /api/v1/orders: the service checkout.h, its adapter checkout_http.c) hands one job to
 * the region's writer, which in a single savepoint of a group-committed transaction: replays an
 * Idempotency-Key it has seen, validates and resolves the address, lines, prices, coupon and payment
 * method, reserves stock (from one warehouse, or the fewest that can: shipment.h), prices the order (tax depends on the
 * warehouse's state in India), numbers it, writes order, lines, tax breakdown and first state event, records the
 * Idempotency-Key and removes the ordered lines from the cart. The 201 is sent only after that
 * transaction is durable.
 *
 * Transitions (order.c, the service below; order_http.c, its adapter) go through fsm.h: customers
 * cancel and pay their own orders; staff ship, deliver, complete and cancel orders of their countries.
 * Every transition writes an order_event row with time and actor. Unpaid orders past their country's
 * timeout are cancelled by a sweeper and their stock released.
 */
#ifndef MER_ORDER_H
#define MER_ORDER_H

#include <jansson.h>

#include "core/buf.h"
#include "http/req.h"
#include "module.h"
#include "order/fsm.h"
#include "payment/payment.h"
#include "pricing/pricing.h"
#include "store/db.h"
#include "store/store.h"

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
    int64_t store_credit; /* the part of grand_total paid with store credit; amount due = the rest */
    char *address_json;   /* owned */
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
    json_t *events;       /* owned; NULL = not loaded */
    json_t *payments;     /* owned; NULL = not loaded */
    json_t *shipments;    /* owned; NULL = not loaded (shipment.h) */
    char *shipments_text; /* owned; a new order's shipments as JSON text, shown instead of shipments when set */
} mer_order_view_t;

void mer_order_view_release(mer_order_view_t *v);
/*
 * Loads order id (of user_id, or any user when user_id is 0) with lines, taxes, events and payments.
 * Returns 0, MER_E_NOT_FOUND or another negative error.
 */
int mer_order_load(mer_db_t *db, int64_t id, int64_t user_id, mer_order_view_t *v);
/* An order's status and country (either may be NULL when not wanted): 0, MER_E_NOT_FOUND or an error. */
int mer_order_state(mer_db_t *db, int64_t id, char status[20], char country[3]);
/* The JSON form of an order (money formatted for its language, times also in the country's zone). */
void mer_order_write(mer_buf_t *out, const mer_order_view_t *v);
/* Answers r with an order (adapters, on the loop). */
void mer_reply_order(mer_req_t *r, int status, const mer_order_view_t *v);
/* Frees the calling worker's scratch buffer. */
void mer_order_thread_release(void);

/* ---- the order service (order.c): plain structs in, an error and the failing field out ----
 * Each function takes the database it works on: a read connection (mer_call_read) for reads, the
 * writer's transaction (mer_call_write, a savepoint that an error rolls back) for changes. */

/* One line of an order listing. */
typedef struct mer_order_summary {
    int64_t id, grand_total, created_at;
    char number[MER_ORDER_NUMBER_MAX], status[20], country[3], payment_method[16], lang[16];
} mer_order_summary_t;

typedef struct mer_order_query {
    int64_t user_id;        /* 0 = any customer */
    char country[3];        /* "" = any country */
    char status[20];        /* "" = any status (else a name fsm.h knows) */
    int64_t page, per_page; /* from 1; 1 to 100 */
} mer_order_query_t;

typedef struct mer_order_page {
    int64_t total;              /* orders matching, over all pages */
    mer_order_summary_t *items; /* owned: this page, newest first */
    size_t n;
} mer_order_page_t;

/* Lists orders, newest first: by created_at, then id (ids are not in time order when several nodes share the
 * database: store/db.h, mer_db_insert). Returns 0 or an error. */
int mer_order_list(mer_db_t *db, const mer_order_query_t *q, mer_order_page_t *out);
void mer_order_page_release(mer_order_page_t *p);

/* A state-machine event for one order, asked by a customer (user_id) or staff (country). */
typedef struct mer_order_change {
    int64_t order_id;
    int64_t user_id; /* customer calls: the order must be theirs (0: staff or system) */
    char country[3]; /* staff calls: the order must be in this country ("" = any) */
    mer_order_event_t ev;
    char actor[48];    /* "customer:12", "admin:3", "system" */
    char note[201];    /* "" = none */
    char tracking[65]; /* ship: the tracking number ("" = the one logistics booked) */
    char current[20];  /* out: the order's status afterwards, or when refused the status that refused it */
} mer_order_change_t;

/*
 * Applies ch->ev inside a writer transaction: stock, events, coupons, refunds included. Returns 0,
 * MER_E_NOT_FOUND ("no such order", also for another customer's or another country's), MER_E_CONFLICT
 * (illegal from ch->current; field "status"), MER_E_VALIDATION (ship without a tracking number) with *e
 * set, or another error.
 */
int mer_order_change(mer_db_t *db, mer_order_change_t *ch, mer_verr_t *e);

/*
 * Paying an order (POST /orders/{id}/pay): three steps, so that money is never taken without a record.
 * (1) mer_order_pay_open (writer): a wallet order answers where to pay (its pending intent, or a new one
 * when the last attempt failed); a card order gets a pending charge row (refused if the order is not
 * payable, or a charge is pending or done: no double charge). (2) mer_order_pay_charge asks the acquirer
 * (blocking: the offload pool). (3) mer_order_pay_close (writer) records the answer and, on success, pays
 * the order — or, if the order was closed meanwhile, refunds that very charge. A crash between (1) and
 * (3) leaves a pending row that the sweeper finishes.
 */
typedef struct mer_order_payment {
    /* in */
    int64_t order_id, user_id;
    char region[MER_REGION_NAME_MAX];
    char card_token[80]; /* "" = none given */
    /* out of (1) */
    bool redirect;                      /* wallet: pay at redirect_url (nothing charged here) */
    char intent[64], redirect_url[512]; /* wallet */
    int64_t payment_id, amount;         /* card: the pending charge */
    char currency[4], number[MER_ORDER_NUMBER_MAX];
    /* out of (2) */
    mer_pay_result_t pay;
    /* out of (3) */
    bool late;        /* paid after the order was closed: being refunded */
    char current[20]; /* the order's status (with a conflict: the one that refused) */
} mer_order_payment_t;

int mer_order_pay_open(mer_db_t *db, mer_order_payment_t *p, mer_verr_t *e);
void mer_order_pay_charge(mer_order_payment_t *p);
int mer_order_pay_close(mer_db_t *db, mer_order_payment_t *p, mer_verr_t *e);

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
extern const mer_routes_t mer_checkout_routes; /* checkout_http.c */
extern const mer_routes_t mer_order_routes;    /* order_http.c */

#endif
