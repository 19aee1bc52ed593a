/*
 * coupon_input.h — validating a new coupon (POST /api/v1/admin/coupons), with no HTTP state.
 *
 * Two steps, because the handler checks in between that the caller may manage coupons in the country
 * the body names (and the error a caller gets first must not change with this split):
 *   1. mer_coupon_input_read(): the body's keys and their types and ranges;
 *   2. mer_coupon_input_check(): everything that needs the country (its timezone, currency step and
 *      payment methods) and the catalogue (scope values, through a resolver the caller passes).
 * Both return 0, or the negative error also stored in e with the offending field. The body's shape is
 * documented in docs/openapi.yaml (schema CouponInput). Fuzzed by fuzz/coupon.c.
 */
#ifndef MER_COUPON_INPUT_H
#define MER_COUPON_INPUT_H

#include "core/json.h"
#include "order/coupon.h"

/* Names of mer_coupon_kind_t and mer_coupon_scope_t values, as the API and the database spell them. */
extern const char *const mer_coupon_kind_names[3];
extern const char *const mer_coupon_scope_names[4];

typedef struct mer_coupon_input {
    /* borrowed from the body */
    const char *code, *country, *kind, *valid_from, *valid_until;
    json_t *scope, *payment_methods;
    /* the coupon being built: the numbers after step 1, the rest after step 2 */
    mer_coupon_t c;
} mer_coupon_input_t;

int mer_coupon_input_read(json_t *body, mer_coupon_input_t *in, mer_verr_t *e);

/*
 * Resolves one scope value (a category slug, a product id or slug, a SKU code) to its id, or 0 when it
 * names nothing of that kind.
 */
typedef int64_t (*mer_coupon_scope_fn)(void *ctx, mer_coupon_scope_t scope, json_t *value);

/* ct is the country the body names (found by the caller). Fills in->c completely on success. */
int mer_coupon_input_check(mer_coupon_input_t *in, const mer_country_t *ct, mer_coupon_scope_fn resolve, void *ctx,
                           mer_verr_t *e);

#endif
