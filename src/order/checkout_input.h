/*
 * checkout_input.h — reading a checkout body (POST /api/v1/orders), with no HTTP state.
 *
 * The parts of checkout's validation that need only the body: its keys and their types and ranges, an
 * inline delivery address's fields, and the "lines" list. What needs the customer, the catalogue, stock,
 * the cart or the database (the country's payment methods, the address rules of the account's country,
 * SKU lookup, the flash token, the coupon) stays in checkout.c. Each function returns 0, or the negative
 * error also stored in e with the offending field. Fuzzed by fuzz/checkout.c.
 */
#ifndef MER_CHECKOUT_INPUT_H
#define MER_CHECKOUT_INPUT_H

#include "account/account.h"
#include "core/json.h"

typedef struct mer_checkout_in {
    int64_t address_id;                                /* 0 when absent */
    int64_t expected_total;                            /* -1 when absent */
    int64_t store_credit;                              /* 0 when absent, -1 for "max" */
    json_t *address, *lines;                           /* borrowed from the body; NULL when absent */
    const char *payment_method, *coupon, *flash_token; /* borrowed; coupon and flash_token may be NULL */
} mer_checkout_in_t;

int mer_checkout_input_read(json_t *body, mer_checkout_in_t *in, mer_verr_t *e);

/* An inline address {name, line1, line2, city, state, postal_code, phone}: strings of at most 200
 * characters, any of them absent (""). Fills out's text fields; the country is the caller's to set. */
int mer_checkout_input_address(json_t *address, mer_address_t *out, mer_verr_t *e);

/* A line asked for, before the catalogue is consulted: by code (the body) or by id (the cart). */
typedef struct mer_checkout_want {
    int64_t sku_id; /* 0: look up code */
    char code[65];
    int64_t quantity;
} mer_checkout_want_t;

/*
 * The body's "lines": 1 to max - taken objects {sku (1-64 bytes), quantity (1-1000, default 1)}, where
 * taken lines (a flash-sale line) are already in the order. Fills want[0..*n) (room for max entries).
 */
int mer_checkout_input_lines(json_t *lines, size_t taken, size_t max, mer_checkout_want_t *want, size_t *n,
                             mer_verr_t *e);

#endif
