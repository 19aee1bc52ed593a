/*
 * pricing.h — an order's money: lines, discounts, shipping, tax, grand total, tax breakdown.
 *
 * Pure functions over integers: no I/O, no globals, so the same code prices a cart read, a checkout and a
 * unit test. All amounts are minor units and multiples of the country's step.
 *
 * The algorithm (per country, see region/country.h):
 *  1. line_total = unit_price x quantity - discount (never below zero).
 *  2. Shipping: the country's flat fee, or 0 once items_total - discount_total reaches free_above.
 *     Shipping is taxed at the standard rate, like goods (EU VAT rules; India GST on delivery).
 *  3. Tax per line (tax-inclusive countries: the tax contained in the gross line; exclusive: tax on top),
 *     rounded with the country's rounding rule to its step.
 *     If the country rounds per total instead of per line, the tax of each rate is computed once on the
 *     sum of that rate's lines, and the difference to the sum of the per-line amounts is assigned to the
 *     largest line of that rate, so line taxes still add up to the total exactly.
 *  4. Breakdown per rate. India (tax_split "gst"): an intra-state supply (warehouse and buyer in the same
 *     state) splits each rate's total tax, once per order, into CGST and SGST halves (SGST takes the odd
 *     minor unit, so they differ by at most one step and add up to that total exactly; see pricing.c); an
 *     inter-state supply is IGST at the full rate.
 *  5. grand_total = items_total - discount_total + shipping (+ tax_total where prices exclude tax).
 * Every amount, from a line total to the grand total, is at most MER_MONEY_MAX (core/money.h); an order
 * that would go beyond it is refused, never priced with a wrapped-around total.
 */
#ifndef MER_PRICING_H
#define MER_PRICING_H

#include "region/country.h"

#define MER_PRICE_MAX_LINES 64
#define MER_PRICE_MAX_TAXES 16

typedef struct mer_pline {
    /* in */
    int64_t unit_price; /* in the country's convention: gross where tax-inclusive */
    int64_t quantity;   /* >= 1 */
    int64_t discount;   /* on the whole line, >= 0 */
    int rate_bp;
    /* out */
    int64_t line_total;
    int64_t tax; /* contained in (inclusive) or added to (exclusive) line_total */
} mer_pline_t;

typedef struct mer_tax_row {
    char kind[32]; /* VAT, GST, CGST, SGST, IGST, SST, PPN ... */
    int rate_bp;
    int64_t taxable; /* net amount the rate applies to */
    int64_t amount;
} mer_tax_row_t;

typedef struct mer_price_result {
    int64_t items_total; /* sum of unit_price x quantity */
    int64_t discount_total;
    int64_t shipping_total;
    int64_t shipping_tax;
    int64_t tax_total;   /* lines and shipping */
    int64_t grand_total; /* what the customer pays */
    mer_tax_row_t taxes[MER_PRICE_MAX_TAXES];
    size_t ntaxes;
    int bad_line; /* after MER_E_VALIDATION: the index of the line refused, or -1 for the order as a whole */
} mer_price_result_t;

/*
 * Prices n lines (n <= MER_PRICE_MAX_LINES) for country c. intra_state matters only for a GST-split
 * country. free_shipping forces shipping to 0 (a coupon). Returns 0, or MER_E_VALIDATION with out->bad_line
 * set: for a bad line (quantity < 1, negative price or discount, more than MER_PRICE_MAX_TAXES / 2
 * distinct rates) or a line whose total (unit_price x quantity) exceeds MER_MONEY_MAX, its index; for too
 * many lines, or an order whose sums (items, items + shipping, tax, grand total) exceed MER_MONEY_MAX
 * although each line is within it, -1. The rest of *out is then meaningless.
 */
int mer_price_order(const mer_country_t *c, mer_pline_t *lines, size_t n, bool intra_state, bool free_shipping,
                    mer_price_result_t *out);

#endif
