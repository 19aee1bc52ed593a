/* Unit tests: order pricing (rounding per currency, inclusive/exclusive tax, per-line vs per-total, GST split)
 * and the order state machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "order/fsm.h"
#include "pricing/pricing.h"

static mer_country_t country(const char *currency, bool inclusive, bool per_line, mer_rounding_t r, int std_bp)
{
    mer_country_t c;
    memset(&c, 0, sizeof(c));
    memcpy(c.code, "XX", 3);
    assert_int_equal(mer_currency_lookup(currency, &c.currency), 0);
    c.practical_digits = c.currency.cash_digits;
    c.step = mer_money_step(c.currency.iso_digits, c.practical_digits);
    c.tax_inclusive = inclusive;
    c.round_per_line = per_line;
    c.rounding = r;
    c.nrates = 2;
    memcpy(c.rates[0].tax_class, "standard", 9);
    c.rates[0].rate_bp = std_bp;
    memcpy(c.rates[1].tax_class, "reduced", 8);
    c.rates[1].rate_bp = std_bp / 2;
    c.shipping_fee = 0;
    c.free_shipping_above = -1;
    memcpy(c.tax_name, "VAT", 4);
    return c;
}

static void test_india_gst_intra_and_inter_state(void **state)
{
    (void)state;
    mer_country_t in = country("INR", true, true, MER_ROUND_HALF_UP, 1800);
    in.tax_split = MER_TAX_SPLIT_GST;
    in.shipping_fee = 4900;
    in.free_shipping_above = 49900;
    mer_pline_t l[1] = {{.unit_price = 1999900, .quantity = 1, .rate_bp = 1800}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&in, l, 1, true, false, &r), 0);
    assert_int_equal(r.items_total, 1999900);
    assert_int_equal(r.shipping_total, 0); /* above ₹499 */
    assert_int_equal(l[0].tax, 305069);
    assert_int_equal(r.tax_total, 305069);
    assert_int_equal(r.grand_total, 1999900);
    assert_int_equal(r.ntaxes, 2);
    assert_string_equal(r.taxes[0].kind, "CGST");
    assert_int_equal(r.taxes[0].rate_bp, 900);
    assert_int_equal(r.taxes[0].amount, 152534);
    assert_string_equal(r.taxes[1].kind, "SGST");
    assert_int_equal(r.taxes[1].amount, 152535); /* the odd paisa goes to SGST */
    assert_int_equal(r.taxes[0].taxable, 1694831);

    assert_int_equal(mer_price_order(&in, l, 1, false, false, &r), 0);
    assert_int_equal(r.ntaxes, 1);
    assert_string_equal(r.taxes[0].kind, "IGST");
    assert_int_equal(r.taxes[0].rate_bp, 1800);
    assert_int_equal(r.taxes[0].amount, 305069);
}

static void test_shipping_below_threshold_is_taxed(void **state)
{
    (void)state;
    mer_country_t in = country("INR", true, true, MER_ROUND_HALF_UP, 1800);
    in.shipping_fee = 4900;
    in.free_shipping_above = 49900;
    mer_pline_t l[1] = {{.unit_price = 19900, .quantity = 2, .rate_bp = 1800}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&in, l, 1, false, false, &r), 0);
    assert_int_equal(r.items_total, 39800);
    assert_int_equal(r.shipping_total, 4900);
    /* 4900 / 1.18 = 4152.54 -> net 4153, tax 747 */
    assert_int_equal(r.shipping_tax, 747);
    assert_int_equal(r.grand_total, 44700);
    assert_int_equal(r.tax_total, l[0].tax + 747);
    /* a free-shipping coupon */
    assert_int_equal(mer_price_order(&in, l, 1, false, true, &r), 0);
    assert_int_equal(r.shipping_total, 0);
}

static void test_spain_vat_inclusive(void **state)
{
    (void)state;
    mer_country_t es = country("EUR", true, true, MER_ROUND_HALF_UP, 2100);
    es.shipping_fee = 399;
    mer_pline_t l[2] = {{.unit_price = 25699, .quantity = 1, .rate_bp = 2100},
                        {.unit_price = 999, .quantity = 3, .rate_bp = 1000}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&es, l, 2, false, false, &r), 0);
    assert_int_equal(r.items_total, 25699 + 2997);
    /* 25699/1.21 = 21238.84 -> 21239 net, tax 4460; 2997/1.10 = 2724.5454 -> 2725, tax 272 */
    assert_int_equal(l[0].tax, 4460);
    assert_int_equal(l[1].tax, 272);
    assert_int_equal(r.shipping_tax, 69); /* 399/1.21 = 329.75 -> 330, tax 69 */
    assert_int_equal(r.grand_total, 25699 + 2997 + 399);
    assert_int_equal(r.ntaxes, 2);
    assert_string_equal(r.taxes[0].kind, "VAT");
    assert_int_equal(r.taxes[0].rate_bp, 2100);
    assert_int_equal(r.taxes[0].amount, 4460 + 69);
    assert_int_equal(r.taxes[1].amount, 272);
}

static void test_exclusive_tax_added_on_top(void **state)
{
    (void)state;
    mer_country_t my = country("MYR", false, true, MER_ROUND_HALF_UP, 1000);
    mer_pline_t l[1] = {{.unit_price = 12345, .quantity = 1, .rate_bp = 1000}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&my, l, 1, false, false, &r), 0);
    assert_int_equal(l[0].tax, 1235); /* 1234.5 -> half up */
    assert_int_equal(r.grand_total, 12345 + 1235);
    my.rounding = MER_ROUND_HALF_EVEN;
    assert_int_equal(mer_price_order(&my, l, 1, false, false, &r), 0);
    assert_int_equal(l[0].tax, 1234); /* 1234.5 -> half even */
}

static void test_per_line_vs_per_total(void **state)
{
    (void)state;
    /* three lines of 0.05 at 10% (exclusive): per line 0.005 -> 0.01 each = 0.03; per total 0.015 -> 0.02 */
    mer_country_t c = country("EUR", false, true, MER_ROUND_HALF_UP, 1000);
    mer_pline_t l[3] = {{.unit_price = 5, .quantity = 1, .rate_bp = 1000},
                        {.unit_price = 5, .quantity = 1, .rate_bp = 1000},
                        {.unit_price = 5, .quantity = 1, .rate_bp = 1000}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&c, l, 3, false, false, &r), 0);
    assert_int_equal(r.tax_total, 3);
    c.round_per_line = false;
    mer_pline_t m[3] = {{.unit_price = 5, .quantity = 1, .rate_bp = 1000},
                        {.unit_price = 5, .quantity = 1, .rate_bp = 1000},
                        {.unit_price = 6, .quantity = 1, .rate_bp = 1000}};
    assert_int_equal(mer_price_order(&c, m, 3, false, false, &r), 0);
    /* total base 16 -> 1.6 -> 2; per-line amounts 1+1+1 = 3, so -1 goes to the largest line */
    assert_int_equal(r.tax_total, 2);
    assert_int_equal(m[0].tax + m[1].tax + m[2].tax, 2);
    assert_int_equal(m[2].tax, 0);
}

static void test_zero_and_three_decimal_currencies(void **state)
{
    (void)state;
    mer_country_t vn = country("VND", true, true, MER_ROUND_HALF_UP, 1000);
    vn.shipping_fee = 30000;
    vn.free_shipping_above = 500000;
    mer_pline_t l[1] = {{.unit_price = 12490000, .quantity = 2, .rate_bp = 1000}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&vn, l, 1, false, false, &r), 0);
    assert_int_equal(r.grand_total, 24980000);
    assert_int_equal(l[0].tax, 2270909); /* 24980000 - round(24980000/1.1 = 22709090.9) */

    mer_country_t kw = country("KWD", false, true, MER_ROUND_HALF_UP, 500);
    mer_pline_t k[1] = {{.unit_price = 1235, .quantity = 3, .rate_bp = 500}};
    assert_int_equal(mer_price_order(&kw, k, 1, false, false, &r), 0);
    assert_int_equal(k[0].tax, 185); /* 3.705 * 5% = 0.18525 -> 0.185 */
    assert_int_equal(r.grand_total, 3705 + 185);
}

static void test_idr_whole_rupiah(void **state)
{
    (void)state;
    mer_country_t id = country("IDR", true, true, MER_ROUND_HALF_UP, 1100);
    assert_int_equal(id.step, 100);
    mer_pline_t l[1] = {{.unit_price = 1999900000, .quantity = 1, .rate_bp = 1100}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&id, l, 1, false, false, &r), 0);
    assert_int_equal(l[0].tax % 100, 0);
    assert_int_equal(r.tax_total % 100, 0);
    assert_int_equal(r.taxes[0].taxable % 100, 0);
}

static void test_discount_never_negative(void **state)
{
    (void)state;
    mer_country_t c = country("EUR", true, true, MER_ROUND_HALF_UP, 2100);
    mer_pline_t l[1] = {{.unit_price = 1000, .quantity = 1, .discount = 5000, .rate_bp = 2100}};
    mer_price_result_t r;
    assert_int_equal(mer_price_order(&c, l, 1, false, false, &r), 0);
    assert_int_equal(l[0].line_total, 0);
    assert_int_equal(l[0].tax, 0);
    assert_int_equal(r.discount_total, 1000);
    mer_pline_t bad[1] = {{.unit_price = 1000, .quantity = 0, .rate_bp = 2100}};
    assert_int_equal(mer_price_order(&c, bad, 1, false, false, &r), MER_E_VALIDATION);
}

static void test_totals_never_overflow(void **state)
{
    (void)state;
    mer_country_t in = country("INR", true, true, MER_ROUND_HALF_UP, 1800);
    in.tax_split = MER_TAX_SPLIT_GST;
    in.payments[0] = (mer_payment_rule_t){.method = "cod", .max_amount = 5000000};
    in.npayments = 1;
    mer_pline_t l[9];
    mer_price_result_t r;
    /* the order: nine SKUs at the largest price an admin may set (2^50) x 1000 units. Without the
     * checks this wrapped to a negative grand_total (and under UBSan, a signed-overflow report). */
    for (int i = 0; i < 9; i++)
        l[i] = (mer_pline_t){.unit_price = INT64_C(1) << 50, .quantity = 1000, .rate_bp = 1800};
    assert_int_equal(mer_price_order(&in, l, 9, true, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, 0); /* the first line alone is over the limit: lines[0].quantity */
    /* each line within the limit, their sum beyond it: the order as a whole */
    for (int i = 0; i < 9; i++)
        l[i].quantity = 1;
    assert_int_equal(mer_price_order(&in, l, 9, true, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, -1);
    /* the line after which the sum passes the limit, anywhere in the order */
    l[0].unit_price = 100;
    l[0].quantity = 3;
    assert_int_equal(mer_price_order(&in, l, 2, true, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, -1);
    /* one unit at the largest price is exactly the largest order total: accepted, positive */
    assert_int_equal(mer_price_order(&in, &l[1], 1, true, false, &r), 0);
    assert_int_equal(r.grand_total, MER_MONEY_MAX);
    assert_true(r.tax_total > 0 && r.tax_total < r.grand_total);
    assert_int_equal(r.taxes[0].amount + r.taxes[1].amount, r.tax_total);
    /* ... and cash on delivery's max_amount refuses it, as it must any total above the limit */
    assert_true(r.grand_total > in.payments[0].max_amount);
    /* shipping, or tax added on top, can take a total that is within the limit beyond it */
    mer_country_t ship = in;
    ship.shipping_fee = 100;
    assert_int_equal(mer_price_order(&ship, &l[1], 1, true, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, -1);
    mer_country_t my = country("MYR", false, true, MER_ROUND_HALF_UP, 1000);
    mer_pline_t big = {.unit_price = MER_MONEY_MAX - 1000, .quantity = 1, .rate_bp = 1000};
    assert_int_equal(mer_price_order(&my, &big, 1, false, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, -1);
    big.unit_price = MER_MONEY_MAX / 11 * 10; /* + 10 % is still within */
    assert_int_equal(mer_price_order(&my, &big, 1, false, false, &r), 0);
    assert_true(r.grand_total <= MER_MONEY_MAX && r.grand_total > big.unit_price);
    /* per-total rounding sums too */
    my.round_per_line = false;
    mer_pline_t two[2] = {{.unit_price = MER_MONEY_MAX / 2, .quantity = 1, .rate_bp = 1000},
                          {.unit_price = MER_MONEY_MAX / 2, .quantity = 1, .rate_bp = 1000}};
    assert_int_equal(mer_price_order(&my, two, 2, false, false, &r), MER_E_VALIDATION);
    /* bad input names its line */
    mer_pline_t bad[2] = {{.unit_price = 100, .quantity = 1}, {.unit_price = -1, .quantity = 1}};
    assert_int_equal(mer_price_order(&my, bad, 2, false, false, &r), MER_E_VALIDATION);
    assert_int_equal(r.bad_line, 1);
}

/* Sum of the rows of one kind in a breakdown. */
static int64_t rows_of(const mer_price_result_t *r, const char *kind, int rate_bp)
{
    int64_t sum = 0;
    for (size_t i = 0; i < r->ntaxes; i++)
        if (strcmp(r->taxes[i].kind, kind) == 0 && (rate_bp < 0 || r->taxes[i].rate_bp == rate_bp))
            sum += r->taxes[i].amount;
    return sum;
}

static void test_gst_split_once_per_rate(void **state)
{
    (void)state;
    mer_country_t in = country("INR", true, true, MER_ROUND_HALF_UP, 1800);
    in.tax_split = MER_TAX_SPLIT_GST;
    in.shipping_fee = 4900;
    in.free_shipping_above = -1;
    /* 31 lines of ₹1.00 at 18 %: each contains 15 paise of GST (100 - round(100 / 1.18) = 100 - 85), an odd
     * amount, so halving each line gave SGST 8 and CGST 7 on every line: SGST 31 paise above CGST. And 5
     * lines of ₹1.00 at 5 % (100 - round(95.24) = 5 paise each, odd too). Shipping ₹49: 747 paise, odd. */
    mer_pline_t l[36];
    for (int i = 0; i < 36; i++)
        l[i] = (mer_pline_t){.unit_price = 100, .quantity = 1, .rate_bp = i < 31 ? 1800 : 500};
    mer_price_result_t r;
    for (int per_line = 1; per_line >= 0; per_line--) {
        in.round_per_line = per_line;
        assert_int_equal(mer_price_order(&in, l, 36, true, false, &r), 0);
        int64_t lines = r.shipping_tax;
        for (int i = 0; i < 36; i++)
            lines += l[i].tax;
        assert_int_equal(lines, r.tax_total); /* per-line figures add up to the total */
        if (per_line) {
            assert_int_equal(l[0].tax, 15);
            assert_int_equal(l[35].tax, 5);
            assert_int_equal(r.shipping_tax, 747);
            assert_int_equal(r.tax_total, 31 * 15 + 747 + 5 * 5);
        }
        /* rows: CGST and SGST for 18 %, then for 5 %; each pair sums to its rate's tax, at most 1 apart */
        assert_int_equal(r.ntaxes, 4);
        assert_string_equal(r.taxes[0].kind, "CGST");
        assert_int_equal(r.taxes[0].rate_bp, 900);
        assert_string_equal(r.taxes[1].kind, "SGST");
        assert_int_equal(r.taxes[1].rate_bp, 900);
        assert_string_equal(r.taxes[2].kind, "CGST");
        assert_int_equal(r.taxes[2].rate_bp, 250);
        assert_string_equal(r.taxes[3].kind, "SGST");
        int64_t t18 = r.shipping_tax, t5 = 0;
        for (int i = 0; i < 36; i++)
            *(i < 31 ? &t18 : &t5) += l[i].tax;
        assert_int_equal(r.taxes[0].amount + r.taxes[1].amount, t18);
        assert_int_equal(r.taxes[2].amount + r.taxes[3].amount, t5);
        for (int k = 0; k < 4; k += 2) {
            int64_t d = r.taxes[k + 1].amount - r.taxes[k].amount;
            assert_true(d == 0 || d == 1); /* SGST takes the odd paisa, once */
            assert_int_equal(r.taxes[k].taxable, r.taxes[k + 1].taxable);
        }
        assert_int_equal(rows_of(&r, "CGST", -1) + rows_of(&r, "SGST", -1), r.tax_total);
        int64_t d = rows_of(&r, "SGST", -1) - rows_of(&r, "CGST", -1);
        assert_true(d >= 0 && d <= 2); /* at most one paisa per rate */
        /* the same order inter-state: one IGST row per rate, the full amounts */
        assert_int_equal(mer_price_order(&in, l, 36, false, false, &r), 0);
        assert_int_equal(r.ntaxes, 2);
        assert_int_equal(rows_of(&r, "IGST", 1800), t18);
        assert_int_equal(rows_of(&r, "IGST", 500), t5);
    }
    /* the README's worked example is unchanged: ₹4,042.37 + ₹2,672.54 -> CGST 3,357.45, SGST 3,357.46 */
    mer_pline_t ex[2] = {{.unit_price = 2649999, .quantity = 1, .rate_bp = 1800},
                         {.unit_price = 875999, .quantity = 2, .rate_bp = 1800}};
    in.round_per_line = true;
    in.free_shipping_above = 49900;
    assert_int_equal(mer_price_order(&in, ex, 2, true, false, &r), 0);
    assert_int_equal(r.tax_total, 671491);
    assert_int_equal(rows_of(&r, "CGST", 900), 335745);
    assert_int_equal(rows_of(&r, "SGST", 900), 335746);
    assert_int_equal(r.grand_total, 4401997);
}

static void test_state_machine(void **state)
{
    (void)state;
    mer_order_status_t to;
    assert_int_equal(mer_order_transition(MER_OS_PENDING_PAYMENT, MER_OE_PAY, &to), 0);
    assert_int_equal(to, MER_OS_PAID);
    assert_int_equal(mer_order_transition(MER_OS_PAID, MER_OE_SHIP, &to), 0);
    assert_int_equal(to, MER_OS_SHIPPED);
    assert_int_equal(mer_order_transition(MER_OS_SHIPPED, MER_OE_DELIVER, &to), 0);
    assert_int_equal(mer_order_transition(MER_OS_DELIVERED, MER_OE_COMPLETE, &to), 0);
    assert_int_equal(to, MER_OS_COMPLETED);
    assert_int_equal(mer_order_transition(MER_OS_PENDING_PAYMENT, MER_OE_EXPIRE, &to), 0);
    assert_int_equal(to, MER_OS_CANCELLED);
    assert_int_equal(mer_order_transition(MER_OS_PAID, MER_OE_CANCEL, &to), 0);
    assert_int_equal(to, MER_OS_REFUNDED);
    /* COD */
    assert_int_equal(mer_order_transition(MER_OS_PENDING_SHIPMENT, MER_OE_SHIP, &to), 0);
    assert_int_equal(mer_order_transition(MER_OS_PENDING_SHIPMENT, MER_OE_PAY, &to), MER_E_CONFLICT);
    /* illegal */
    assert_int_equal(mer_order_transition(MER_OS_SHIPPED, MER_OE_CANCEL, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_CANCELLED, MER_OE_PAY, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_COMPLETED, MER_OE_REFUND, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_PENDING_SHIPMENT, MER_OE_EXPIRE, &to), MER_E_CONFLICT);
    /* split shipments: one parcel of several, then the last; a partially shipped order cannot be cancelled */
    assert_int_equal(mer_order_transition(MER_OS_PAID, MER_OE_SHIP_PART, &to), 0);
    assert_int_equal(to, MER_OS_PARTIALLY_SHIPPED);
    assert_int_equal(mer_order_transition(MER_OS_PENDING_SHIPMENT, MER_OE_SHIP_PART, &to), 0);
    assert_int_equal(mer_order_transition(MER_OS_PARTIALLY_SHIPPED, MER_OE_SHIP, &to), 0);
    assert_int_equal(to, MER_OS_SHIPPED);
    assert_int_equal(mer_order_transition(MER_OS_PARTIALLY_SHIPPED, MER_OE_CANCEL, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_PARTIALLY_SHIPPED, MER_OE_DELIVER, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_PENDING_PAYMENT, MER_OE_SHIP_PART, &to), MER_E_CONFLICT);
    assert_int_equal(mer_order_transition(MER_OS_SHIPPED, MER_OE_SHIP_PART, &to), MER_E_CONFLICT);
    /* stock */
    assert_true(mer_order_releases_stock(MER_OS_PENDING_PAYMENT, MER_OE_CANCEL));
    assert_true(mer_order_releases_stock(MER_OS_PAID, MER_OE_REFUND));
    assert_false(mer_order_releases_stock(MER_OS_PAID, MER_OE_SHIP));
    /* names round-trip */
    for (int s = 0; s < MER_OS__COUNT; s++) {
        mer_order_status_t back;
        assert_int_equal(mer_order_status_parse(mer_order_status_name((mer_order_status_t)s), &back), 0);
        assert_int_equal(back, s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_india_gst_intra_and_inter_state),
        cmocka_unit_test(test_shipping_below_threshold_is_taxed),
        cmocka_unit_test(test_spain_vat_inclusive),
        cmocka_unit_test(test_exclusive_tax_added_on_top),
        cmocka_unit_test(test_per_line_vs_per_total),
        cmocka_unit_test(test_zero_and_three_decimal_currencies),
        cmocka_unit_test(test_idr_whole_rupiah),
        cmocka_unit_test(test_discount_never_negative),
        cmocka_unit_test(test_totals_never_overflow),
        cmocka_unit_test(test_gst_split_once_per_rate),
        cmocka_unit_test(test_state_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
