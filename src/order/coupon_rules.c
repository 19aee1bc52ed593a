/*
 * coupon_rules.c — the pure part of coupons (see coupon.h): is it live, does it allow a payment method,
 * and how its discount is spread over lines. No I/O, so unit tests cover it directly.
 */
#include "order/coupon.h"

#include "core/banned.h"

const char *mer_coupon_refusal(const mer_coupon_t *c, int64_t now)
{
    return !c->active ? "unknown" : now < c->valid_from ? "not_started" : now >= c->valid_until ? "expired" : NULL;
}

bool mer_coupon_live(const mer_coupon_t *c, int64_t now)
{
    return mer_coupon_refusal(c, now) == NULL;
}

bool mer_coupon_method_ok(const mer_coupon_t *c, const char *method)
{
    return c->methods[0] == '\0' || mer_list_has(c->methods, method);
}

static bool eligible(const mer_coupon_t *c, const mer_coupon_line_t *l)
{
    for (size_t i = 0; i < c->nscope; i++) {
        switch (c->scope) {
        case MER_SCOPE_SKU:
            if (l->sku_id == c->scope_ids[i])
                return true;
            break;
        case MER_SCOPE_PRODUCT:
            if (l->product_id == c->scope_ids[i])
                return true;
            break;
        case MER_SCOPE_CATEGORY:
            for (size_t k = 0; k < l->ncategories; k++)
                if (l->category_ids[k] == c->scope_ids[i])
                    return true;
            break;
        default:
            return true;
        }
    }
    return c->scope == MER_SCOPE_STORE;
}

/* unit_price x quantity, or -1 when it is beyond MER_MONEY_MAX */
static int64_t line_gross(const mer_coupon_line_t *l)
{
    int64_t t;
    return mer_money_mul(&t, l->unit_price, l->quantity) == 0 && t >= 0 ? t : -1;
}

/* No discount on any line: what lines beyond the money limit get. */
static int64_t none(mer_coupon_line_t *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lines[i].discount = 0;
    return 0;
}

int64_t mer_coupon_apply(const mer_coupon_t *c, mer_coupon_line_t *lines, size_t n, int64_t step,
                         mer_rounding_t rounding)
{
    int64_t subtotal = 0, largest_gross = -1;
    size_t largest = n;
    for (size_t i = 0; i < n; i++) {
        lines[i].discount = 0;
        if (!eligible(c, &lines[i]))
            continue;
        int64_t t = line_gross(&lines[i]);
        if (t < 0 || mer_money_add(&subtotal, subtotal, t) != 0)
            return none(lines, n);
        if (t > largest_gross) {
            largest = i;
            largest_gross = t;
        }
    }
    if (subtotal == 0)
        return 0;
    if (c->kind == MER_COUPON_FIXED) {
        int64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            if (!eligible(c, &lines[i]))
                continue;
            int64_t t = line_gross(&lines[i]), d;
            if (mer_money_mul(&d, c->value, lines[i].quantity) != 0 || d > t)
                d = t; /* value x quantity beyond the limit is beyond the line's total too */
            lines[i].discount = d;
            if (mer_money_add(&total, total, d) != 0)
                return none(lines, n);
        }
        return total;
    }
    if (subtotal < c->min_subtotal)
        return MER_E_VALIDATION;
    int64_t want;
    if (c->kind == MER_COUPON_PERCENT) {
        want = mer_money_round_step(mer_div_round((__int128)subtotal * c->value, 10000, rounding), step, rounding);
        if (c->max_discount > 0 && want > c->max_discount)
            want = c->max_discount;
    } else {
        want = c->value;
    }
    if (want > subtotal)
        want = subtotal;
    /* spread in proportion to line totals, in whole steps; the remainder to the largest line. Each share
     * is at most want, and their sum too: nothing here can leave the money range. */
    int64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        if (!eligible(c, &lines[i]))
            continue;
        int64_t share = (int64_t)((__int128)want * line_gross(&lines[i]) / subtotal);
        share -= share % step;
        lines[i].discount = share;
        given += share;
    }
    lines[largest].discount += want - given;
    if (lines[largest].discount > largest_gross) /* cannot happen with proportional shares; guard the invariant */
        lines[largest].discount = largest_gross;
    return want;
}
