/*
 * returns.h — after-sales returns (RMA): a customer sends delivered units back, staff decide, and the money
 * follows through the refund path (refund.h).
 *
 *   customer   requested --cancel--> cancelled
 *   staff      requested --approve--> approved --receive--> received --(refund requested)--> refunded
 *              requested | approved --reject--> rejected
 *   customer   approved --cancel--> cancelled
 *
 * A request (mer_return_create) names lines of one of the customer's orders and units of each, a reason and,
 * for cash on delivery, how the money comes back. It is refused unless the order is delivered (or
 * completed), within its country's return window counted from delivery (return_policy: data per country,
 * 0 days = no returns, changed with PUT /admin/return-policy), not refunded in full, and each line asks for
 * no more units than were delivered and are neither refunded nor in another open return. Refund methods:
 * a card or wallet order is refunded to its payment ("original"); a cash-on-delivery order by bank transfer
 * (to the account given) or as store credit, as the country's cod_refund allows.
 *
 * Receiving records each line's condition: resellable units go back on hand in a warehouse (the one given,
 * else the one the line shipped from: mer_stock_return), damaged ones do not. In the same transaction the
 * units are refunded (mer_refund_line_units, then mer_refund_request: a card or wallet refund is pending
 * until the provider confirms it through the payments subscriber; cash on delivery is paid out at once, and
 * store credit is also written to the customer's store_credit ledger) and the return becomes refunded.
 *
 * Every transition is a conditional update of the status it leaves (two approvals at once: the second finds
 * the return approved and is refused with 409), writes a return_event row (time, actor, note) and an
 * outbox event return.requested / approved / rejected / received / refunded / cancelled (webhooks receive
 * them), all in the writer job's savepoint. Customers see and cancel only their own returns (another's is
 * 404); staff act on the returns of their countries.
 */
#ifndef MER_RETURNS_H
#define MER_RETURNS_H

#include <jansson.h>

#include "core/json.h"
#include "inventory/inventory.h"
#include "module.h"
#include "store/db.h"

/* A line of a request or of a receipt. */
typedef struct mer_return_line_in {
    int line_no;
    int64_t quantity;   /* request */
    char condition[12]; /* receipt: resellable, damaged */
    char warehouse[65]; /* receipt, resellable: where the units go back ("" = where they shipped from) */
} mer_return_line_in_t;

typedef struct mer_return_request {
    /* in */
    int64_t order_id, user_id;
    char reason[24]; /* one of mer_return_reasons */
    char comment[501];
    char refund_method[16];                                      /* "" = the order's default: original (prepaid) */
    char account_holder[101], account_number[35], bank_code[21]; /* bank_transfer */
    mer_return_line_in_t lines[MER_ORDER_MAX_LINES];
    size_t n;
    /* out */
    int64_t return_id;
    char current[20]; /* refused with a conflict: the order's status */
} mer_return_request_t;

/* The reasons a customer can give, NULL-terminated. */
extern const char *const mer_return_reasons[];

/* Creates a return (writer). Returns 0 (rq->return_id), MER_E_NOT_FOUND (not the customer's order),
 * MER_E_CONFLICT (order not delivered, window closed, refunded in full, returns not offered), MER_E_VALIDATION
 * (lines, quantities, refund method), with *e set, or another error. */
int mer_return_create(mer_db_t *db, mer_return_request_t *rq, mer_verr_t *e);

typedef enum { MER_RETURN_APPROVE, MER_RETURN_REJECT, MER_RETURN_RECEIVE, MER_RETURN_CANCEL } mer_return_step_t;

typedef struct mer_return_change {
    int64_t return_id;
    int64_t user_id; /* customer (cancel): the return must be theirs; 0 = staff */
    char country[3]; /* staff: the return must be of this country */
    mer_return_step_t step;
    char actor[48];
    char note[201];
    mer_return_line_in_t lines[MER_ORDER_MAX_LINES]; /* receive: every line of the return, with its condition */
    size_t n;
    char current[20]; /* out: the status afterwards, or the one that refused */
} mer_return_change_t;

/* Applies a step (writer). Returns 0, MER_E_NOT_FOUND, MER_E_CONFLICT (field "status"), MER_E_VALIDATION,
 * with *e set, or another error. */
int mer_return_change(mer_db_t *db, mer_return_change_t *ch, mer_verr_t *e);

/* One return as the API shows it (new reference in *out): of user_id (0 = any), of country ("" = any).
 * Returns 0 or MER_E_NOT_FOUND or an error. */
int mer_return_get(mer_db_t *db, int64_t return_id, int64_t user_id, const char *country, json_t **out);

/* Returns of a customer (user_id) or of a country, newest first, optionally in one status. */
int mer_return_list(mer_db_t *db, int64_t user_id, const char *country, const char *status, int64_t page,
                    int64_t per_page, json_t **out);

/* A country's return policy {country, window_days, returns_accepted, cod_refund: [...]} (new reference), and
 * setting it (writer; cod_refund comma-separated: bank_transfer, store_credit). */
int mer_return_policy_get(mer_db_t *db, const char *country, json_t **out);
int mer_return_policy_set(mer_db_t *db, const char *country, int64_t window_days, const char *cod_refund);

/* A customer's store credit in a country: {country, balance, entries: [{amount, reason, return_id, at}]},
 * newest first (new reference in *out). */
int mer_store_credit_get(mer_db_t *db, int64_t user_id, const char *country, json_t **out);

/*
 * One entry of a customer's store credit ledger in a country (writer): amount > 0 grants credit, < 0 spends it.
 * The ledger row and the balance (store_credit_balance) change together; a spend is one guarded update of the
 * balance row (balance + amount >= 0), so the balance never goes below zero: on PostgreSQL two writers spending
 * the same credit are serialised by that row's lock, and the second sees the first's result. return_id 0 = none.
 * Returns 0, MER_E_CONFLICT (a spend beyond the balance: nothing written) or another error.
 */
int mer_store_credit_add(mer_db_t *db, int64_t user_id, const char *country, const char *currency, int64_t amount,
                         const char *reason, int64_t return_id);
/* A customer's store credit balance in a country (0 when none): 0 or an error. */
int mer_store_credit_balance(mer_db_t *db, int64_t user_id, const char *country, int64_t *balance);

/* The routes (returns_http.c): a table of the order module. */
extern const mer_routes_t mer_return_routes;

#endif
