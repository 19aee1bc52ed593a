/*
 * pricing.c — an order's money (the algorithm is listed in pricing.h). Two rules matter beyond it:
 *
 * Amounts stay within MER_MONEY_MAX (core/money.h). Every product and sum of money here goes through
 * mer_money_mul/add/sub: a line total (unit_price x quantity), the items and discount totals, goods plus
 * shipping, each tax sum and the grand total. The first one that would leave the range refuses the order
 * (MER_E_VALIDATION, with bad_line naming the line at fault, or -1 when only the sum is too large), so a
 * too-large order is a 422 and never a wrapped-around, negative total.
 *
 * India's intra-state GST. Each line's `tax` is the full GST contained in it (18 %), rounded per line or
 * per total like any other country's tax, so the lines' tax figures (and shipping's) add up exactly to
 * tax_total. The CGST/SGST split is made once per rate, on the order's total tax of that rate, never line
 * by line: CGST = half of it rounded down to a step, SGST = the rest. So CGST + SGST is exactly that
 * total, CGST and SGST differ by at most one step (one paisa), and SGST carries the odd one. (Halving
 * each line instead would give SGST the odd paisa of every line with an odd tax: 30 such lines, 30 paise
 * apart.) Inter-state supplies are IGST at the full rate, one row per rate.
 */
#include "pricing/pricing.h"

#include <stdio.h>

#include "core/banned.h"

static int64_t tax_of(const mer_country_t *c, int64_t base, int rate_bp)
{
    if (rate_bp <= 0 || base <= 0)
        return 0;
    return c->tax_inclusive ? mer_tax_from_gross(base, rate_bp, c->step, c->rounding)
                            : mer_tax_on_net(base, rate_bp, c->step, c->rounding);
}

/* Adds taxable and amount to the row (kind, rate_bp), appending it if new. Returns 0 or MER_E_VALIDATION. */
static int add_row(mer_price_result_t *out, const char *kind, int rate_bp, int64_t taxable, int64_t amount)
{
    for (size_t i = 0; i < out->ntaxes; i++) {
        mer_tax_row_t *t = &out->taxes[i];
        if (t->rate_bp == rate_bp && strcmp(t->kind, kind) == 0)
            return mer_money_add(&t->taxable, t->taxable, taxable) || mer_money_add(&t->amount, t->amount, amount)
                       ? MER_E_VALIDATION
                       : 0;
    }
    if (out->ntaxes >= MER_PRICE_MAX_TAXES)
        MER_BUG("too many tax rows");
    mer_tax_row_t *t = &out->taxes[out->ntaxes++];
    mer_strcopy(t->kind, sizeof(t->kind), kind);
    t->rate_bp = rate_bp;
    t->taxable = taxable;
    t->amount = amount;
    return 0;
}

/* Replaces each (one per rate) row of an intra-state GST order by its CGST and SGST halves. */
static void split_gst(mer_price_result_t *out, int64_t step)
{
    mer_tax_row_t rows[MER_PRICE_MAX_TAXES / 2];
    size_t n = out->ntaxes;
    if (n > MER_ARRAY_LEN(rows))
        MER_BUG("too many GST rates");
    memcpy(rows, out->taxes, n * sizeof(rows[0]));
    out->ntaxes = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t cgst = rows[i].amount / step / 2 * step;
        mer_tax_row_t *c = &out->taxes[out->ntaxes++], *s = &out->taxes[out->ntaxes++];
        *c =
            (mer_tax_row_t){.kind = "CGST", .rate_bp = rows[i].rate_bp / 2, .taxable = rows[i].taxable, .amount = cgst};
        *s = (mer_tax_row_t){.kind = "SGST",
                             .rate_bp = rows[i].rate_bp - rows[i].rate_bp / 2,
                             .taxable = rows[i].taxable,
                             .amount = rows[i].amount - cgst};
    }
}

int mer_price_order(const mer_country_t *c, mer_pline_t *lines, size_t n, bool intra_state, bool free_shipping,
                    mer_price_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->bad_line = -1;
    if (n > MER_PRICE_MAX_LINES)
        return MER_E_VALIDATION;
    int std_rate = mer_country_tax_rate(c, "standard");
    if (std_rate < 0)
        std_rate = 0;
    /* the distinct rates, shipping's first: one tax row per rate (two when GST is split) */
    int rates[MER_PRICE_MAX_TAXES / 2];
    size_t nrates = 1;
    rates[0] = std_rate;

    for (size_t i = 0; i < n; i++) {
        mer_pline_t *l = &lines[i];
        int64_t gross;
        size_t k = 0;
        while (k < nrates && rates[k] != l->rate_bp)
            k++;
        if (k == nrates && nrates < MER_ARRAY_LEN(rates))
            rates[nrates++] = l->rate_bp;
        out->bad_line = (int)i;
        if (l->quantity < 1 || l->unit_price < 0 || l->discount < 0 || l->rate_bp < 0 || k == MER_ARRAY_LEN(rates) ||
            mer_money_mul(&gross, l->unit_price, l->quantity) != 0)
            return MER_E_VALIDATION;
        out->bad_line = -1;
        int64_t disc = l->discount > gross ? gross : l->discount;
        l->discount = disc;
        l->line_total = gross - disc;
        l->tax = tax_of(c, l->line_total, l->rate_bp);
        if (mer_money_add(&out->items_total, out->items_total, gross) != 0 ||
            mer_money_add(&out->discount_total, out->discount_total, disc) != 0)
            return MER_E_VALIDATION;
    }

    /* goods + shipping bounds every tax base below: each is a part of it */
    int64_t goods = out->items_total - out->discount_total, payable;
    out->shipping_total = c->shipping_fee;
    if (free_shipping || (c->free_shipping_above >= 0 && goods >= c->free_shipping_above) || n == 0)
        out->shipping_total = 0;
    if (mer_money_add(&payable, goods, out->shipping_total) != 0)
        return MER_E_VALIDATION;
    out->shipping_tax = tax_of(c, out->shipping_total, std_rate);

    if (!c->round_per_line) {
        /* one rounding per rate over all its lines (and shipping, at the standard rate) */
        for (size_t k = 0; k < nrates; k++) {
            int64_t base = 0, sum = 0;
            mer_pline_t *largest = NULL;
            for (size_t i = 0; i < n; i++) {
                if (lines[i].rate_bp != rates[k])
                    continue;
                if (mer_money_add(&base, base, lines[i].line_total) != 0 || mer_money_add(&sum, sum, lines[i].tax) != 0)
                    return MER_E_VALIDATION;
                if (largest == NULL || lines[i].line_total > largest->line_total)
                    largest = &lines[i];
            }
            bool ship_here = rates[k] == std_rate && out->shipping_total > 0;
            if (ship_here && (mer_money_add(&base, base, out->shipping_total) != 0 ||
                              mer_money_add(&sum, sum, out->shipping_tax) != 0))
                return MER_E_VALIDATION;
            int64_t diff = tax_of(c, base, rates[k]) - sum;
            if (diff == 0)
                continue;
            if (largest)
                largest->tax += diff;
            else
                out->shipping_tax += diff;
        }
    }

    /* the breakdown: one row per rate; India's intra-state rows are split once, on the rate's total */
    bool gst = c->tax_split == MER_TAX_SPLIT_GST;
    const char *kind = gst ? "IGST" : c->tax_name;
    for (size_t i = 0; i <= n; i++) {
        int rate = i < n ? lines[i].rate_bp : std_rate;
        int64_t base = i < n ? lines[i].line_total : out->shipping_total;
        int64_t tax = i < n ? lines[i].tax : out->shipping_tax;
        if (base == 0 && tax == 0)
            continue;
        int64_t taxable = c->tax_inclusive ? base - tax : base;
        if (mer_money_add(&out->tax_total, out->tax_total, tax) != 0 || add_row(out, kind, rate, taxable, tax) != 0)
            return MER_E_VALIDATION;
    }
    if (gst && intra_state)
        split_gst(out, c->step);
    if (mer_money_add(&out->grand_total, payable, c->tax_inclusive ? 0 : out->tax_total) != 0)
        return MER_E_VALIDATION;
    /* the breakdown shown on the invoice adds up to the tax charged (each term is bounded by payable) */
    int64_t rows_sum = 0;
    for (size_t i = 0; i < out->ntaxes; i++)
        rows_sum += out->taxes[i].amount;
    MER_ASSERT(rows_sum == out->tax_total && out->grand_total >= payable);
    return 0;
}
