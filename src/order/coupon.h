/*
 * coupon.h — promotions.
 *
 * Kinds:
 *   threshold_amount  `value` off the eligible lines once their subtotal reaches `min_subtotal`
 *                     ("₹500 off above ₹5,000");
 *   percent           `value` basis points off the eligible lines, at most `max_discount` if set
 *                     ("10 % off, up to ₹1,000");
 *   fixed_amount      `value` off every eligible unit ("₹200 off each case").
 * Scope: the whole store, or lines whose category (including subcategories), product or SKU is listed.
 * Validity: valid_from <= now < valid_until, both entered in the country's local time and stored UTC,
 * so a coupon "until midnight" in India ends at 00:00 IST. Limits: a total budget of discount, a total
 * number of redemptions, a per-customer limit, and allowed payment methods (e.g. prepaid only).
 *
 * Order-level discounts are spread over the eligible lines in proportion to their totals (the remainder
 * of the rounding goes to the largest line), never below zero; tax is then computed on what remains.
 *
 * Lifecycle: checkout freezes the coupon for the order (it counts against every limit); payment
 * consumes it; cancelling or expiry of the unpaid order returns it (it no longer counts).
 */
#ifndef MER_COUPON_H
#define MER_COUPON_H

#include "module.h"
#include "region/country.h"
#include "store/db.h"

#define MER_COUPON_MAX_SCOPE 32

typedef enum { MER_COUPON_THRESHOLD = 0, MER_COUPON_PERCENT, MER_COUPON_FIXED } mer_coupon_kind_t;
typedef enum { MER_SCOPE_STORE = 0, MER_SCOPE_CATEGORY, MER_SCOPE_PRODUCT, MER_SCOPE_SKU } mer_coupon_scope_t;

typedef struct mer_coupon {
    int64_t id;
    char code[33];
    char country[3];
    mer_coupon_kind_t kind;
    int64_t value, min_subtotal, max_discount;
    mer_coupon_scope_t scope;
    int64_t scope_ids[MER_COUPON_MAX_SCOPE];
    size_t nscope;
    int64_t valid_from, valid_until;
    int64_t budget, max_redemptions, per_user_limit;
    char methods[64]; /* comma-separated, "" = any */
    bool active;
} mer_coupon_t;

/* One order line as the coupon sees it. */
typedef struct mer_coupon_line {
    int64_t sku_id, product_id;
    int64_t category_ids[8]; /* the product's category and its ancestors */
    size_t ncategories;
    int64_t unit_price, quantity;
    int64_t discount; /* out */
} mer_coupon_line_t;

/* Is the coupon live at now (UTC ms)? */
bool mer_coupon_live(const mer_coupon_t *c, int64_t now);
/*
 * Why it is not live at now, as the `reason` of checkout's 422: "unknown" (deactivated), "not_started" or
 * "expired"; NULL when it is live. The string is static. Checkout gives the same reason whether it finds
 * this before the writer or on it.
 */
const char *mer_coupon_refusal(const mer_coupon_t *c, int64_t now);
/* Does it allow this payment method? */
bool mer_coupon_method_ok(const mer_coupon_t *c, const char *method);
/*
 * Computes each line's discount (multiples of step). Returns the total discount (> 0), 0 when no line
 * is eligible, or MER_E_VALIDATION when the eligible subtotal is below the threshold. The lines' amounts
 * must be within MER_MONEY_MAX (checkout has priced them first: mer_price_order); an eligible line total
 * or subtotal beyond it gives no line a discount (returns 0).
 */
int64_t mer_coupon_apply(const mer_coupon_t *c, mer_coupon_line_t *lines, size_t n, int64_t step,
                         mer_rounding_t rounding);

/* Loads a coupon by country and code (case-insensitive). Returns 0, MER_E_NOT_FOUND or an error. */
int mer_coupon_load(mer_db_t *db, const char *country, const char *code, mer_coupon_t *out);
/*
 * Writer thread: checks the per-customer limit, redemptions and budget against frozen and consumed
 * redemptions, then freezes `amount` for the order. Returns 0 or MER_E_CONFLICT with a reason in msg.
 */
int mer_coupon_freeze(mer_db_t *db, const mer_coupon_t *c, int64_t order_id, int64_t user_id, int64_t amount,
                      char msg[128]);
/* Writer thread: the order's frozen redemption becomes consumed (paid) or returned (cancelled). */
int mer_coupon_settle(mer_db_t *db, int64_t order_id, bool consume);

/* Admin routes: create, list, (de)activate (a table of the order module). */
extern const mer_routes_t mer_coupon_routes;

#endif
