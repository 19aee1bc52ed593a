#include "order/pricing.h"

#include <stdio.h>

#include "core/banned.h"

static int64_t tax_of(const mer_country_t *c, int64_t base, int rate_bp)
{
    if (rate_bp <= 0 || base <= 0)
        return 0;
    return c->tax_inclusive ? mer_tax_from_gross(base, rate_bp, c->step, c->rounding)
                            : mer_tax_on_net(base, rate_bp, c->step, c->rounding);
}

static void add_row(mer_price_result_t *out, const char *kind, int rate_bp, int64_t taxable, int64_t amount)
{
    for (size_t i = 0; i < out->ntaxes; i++) {
        if (out->taxes[i].rate_bp == rate_bp && strcmp(out->taxes[i].kind, kind) == 0) {
            out->taxes[i].taxable += taxable;
            out->taxes[i].amount += amount;
            return;
        }
    }
    if (out->ntaxes >= MER_PRICE_MAX_TAXES)
        MER_BUG("too many tax rows");
    mer_tax_row_t *t = &out->taxes[out->ntaxes++];
    snprintf(t->kind, sizeof(t->kind), "%s", kind);
    t->rate_bp = rate_bp;
    t->taxable = taxable;
    t->amount = amount;
}

int mer_price_order(const mer_country_t *c, mer_pline_t *lines, size_t n, bool intra_state, bool free_shipping,
                    mer_price_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (n > MER_PRICE_MAX_LINES)
        return MER_E_VALIDATION;
    int std_rate = mer_country_tax_rate(c, "standard");
    if (std_rate < 0)
        std_rate = 0;

    for (size_t i = 0; i < n; i++) {
        mer_pline_t *l = &lines[i];
        if (l->quantity < 1 || l->unit_price < 0 || l->discount < 0 || l->rate_bp < 0)
            return MER_E_VALIDATION;
        int64_t gross = l->unit_price * l->quantity;
        int64_t disc = l->discount > gross ? gross : l->discount;
        l->discount = disc;
        l->line_total = gross - disc;
        l->tax = tax_of(c, l->line_total, l->rate_bp);
        out->items_total += gross;
        out->discount_total += disc;
    }

    int64_t goods = out->items_total - out->discount_total;
    out->shipping_total = c->shipping_fee;
    if (free_shipping || (c->free_shipping_above >= 0 && goods >= c->free_shipping_above) || n == 0)
        out->shipping_total = 0;
    out->shipping_tax = tax_of(c, out->shipping_total, std_rate);

    if (!c->round_per_line) {
        /* one rounding per rate over all its lines (and shipping, at the standard rate) */
        int rates[MER_PRICE_MAX_LINES + 1];
        size_t nrates = 0;
        for (size_t i = 0; i <= n; i++) {
            int r = i < n ? lines[i].rate_bp : std_rate;
            bool seen = false;
            for (size_t k = 0; k < nrates; k++)
                seen = seen || rates[k] == r;
            if (!seen)
                rates[nrates++] = r;
        }
        for (size_t k = 0; k < nrates; k++) {
            int64_t base = 0, sum = 0;
            mer_pline_t *largest = NULL;
            for (size_t i = 0; i < n; i++) {
                if (lines[i].rate_bp != rates[k])
                    continue;
                base += lines[i].line_total;
                sum += lines[i].tax;
                if (largest == NULL || lines[i].line_total > largest->line_total)
                    largest = &lines[i];
            }
            bool ship_here = rates[k] == std_rate && out->shipping_total > 0;
            if (ship_here) {
                base += out->shipping_total;
                sum += out->shipping_tax;
            }
            int64_t diff = tax_of(c, base, rates[k]) - sum;
            if (diff == 0)
                continue;
            if (largest)
                largest->tax += diff;
            else
                out->shipping_tax += diff;
        }
    }

    const char *kind = c->tax_name;
    for (size_t i = 0; i <= n; i++) {
        int rate = i < n ? lines[i].rate_bp : std_rate;
        int64_t base = i < n ? lines[i].line_total : out->shipping_total;
        int64_t tax = i < n ? lines[i].tax : out->shipping_tax;
        if (base == 0 && tax == 0)
            continue;
        int64_t taxable = c->tax_inclusive ? base - tax : base;
        out->tax_total += tax;
        if (c->tax_split == MER_TAX_SPLIT_GST) {
            if (intra_state) {
                /* halves; the odd step goes to SGST */
                int64_t half = (tax / c->step / 2) * c->step;
                add_row(out, "CGST", rate / 2, taxable, half);
                add_row(out, "SGST", rate - rate / 2, taxable, tax - half);
            } else {
                add_row(out, "IGST", rate, taxable, tax);
            }
        } else {
            add_row(out, kind, rate, taxable, tax);
        }
    }
    out->grand_total = goods + out->shipping_total + (c->tax_inclusive ? 0 : out->tax_total);
    return 0;
}
