/* Unit tests: money rounding, currency digits from ICU, tax inclusive/exclusive, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "core/buf.h"
#include "core/money.h"

static void test_div_round_modes(void **state)
{
    (void)state;
    /* 25 / 10 = 2.5 */
    assert_int_equal(mer_div_round(25, 10, MER_ROUND_HALF_UP), 3);
    assert_int_equal(mer_div_round(25, 10, MER_ROUND_HALF_EVEN), 2);
    assert_int_equal(mer_div_round(35, 10, MER_ROUND_HALF_EVEN), 4);
    assert_int_equal(mer_div_round(21, 10, MER_ROUND_UP), 3);
    assert_int_equal(mer_div_round(29, 10, MER_ROUND_DOWN), 2);
    /* negatives: half-up is away from zero, up is toward +inf, down toward -inf */
    assert_int_equal(mer_div_round(-25, 10, MER_ROUND_HALF_UP), -3);
    assert_int_equal(mer_div_round(-25, 10, MER_ROUND_HALF_EVEN), -2);
    assert_int_equal(mer_div_round(-21, 10, MER_ROUND_UP), -2);
    assert_int_equal(mer_div_round(-21, 10, MER_ROUND_DOWN), -3);
    assert_int_equal(mer_div_round(-24, 10, MER_ROUND_HALF_UP), -2);
    /* exact divisions are untouched by every mode */
    for (int m = MER_ROUND_HALF_UP; m <= MER_ROUND_DOWN; m++)
        assert_int_equal(mer_div_round(40, 10, (mer_rounding_t)m), 4);
    /* no overflow for large amounts times rates */
    assert_int_equal(mer_div_round((__int128)INT64_C(4000000000000000000) * 2100, 10000, MER_ROUND_HALF_UP),
                     INT64_C(840000000000000000));
}

static void test_currency_digits_from_icu(void **state)
{
    (void)state;
    mer_currency_t c;
    assert_int_equal(mer_currency_lookup("VND", &c), 0);
    assert_int_equal(c.iso_digits, 0);
    assert_int_equal(mer_currency_lookup("INR", &c), 0);
    assert_int_equal(c.iso_digits, 2);
    assert_int_equal(mer_currency_lookup("KWD", &c), 0);
    assert_int_equal(c.iso_digits, 3);
    assert_int_equal(mer_currency_lookup("IDR", &c), 0);
    assert_int_equal(c.iso_digits, 2);
    assert_int_equal(c.cash_digits, 0); /* whole rupiah in practice */
    assert_int_equal(mer_currency_lookup("XYZ", &c), -1);
    assert_int_equal(mer_currency_lookup("inr", &c), -1);
    assert_int_equal(mer_currency_lookup("EURO", &c), -1);
}

static void test_step_and_round_step(void **state)
{
    (void)state;
    assert_int_equal(mer_money_step(2, 0), 100);
    assert_int_equal(mer_money_step(2, 2), 1);
    assert_int_equal(mer_money_step(0, 0), 1);
    assert_int_equal(mer_money_round_step(1999950, 100, MER_ROUND_HALF_UP), 2000000);
    assert_int_equal(mer_money_round_step(1999949, 100, MER_ROUND_HALF_UP), 1999900);
    assert_int_equal(mer_money_round_step(1999950, 100, MER_ROUND_DOWN), 1999900);
    assert_int_equal(mer_money_round_step(12345, 1, MER_ROUND_UP), 12345);
}

static void test_tax_exclusive(void **state)
{
    (void)state;
    /* 10.00 at 7% = 0.70 */
    assert_int_equal(mer_tax_on_net(1000, 700, 1, MER_ROUND_HALF_UP), 70);
    /* 0.15 at 10% = 0.015 -> half-up 0.02, half-even 0.02 (1.5 -> 2), down 0.01 */
    assert_int_equal(mer_tax_on_net(15, 1000, 1, MER_ROUND_HALF_UP), 2);
    assert_int_equal(mer_tax_on_net(15, 1000, 1, MER_ROUND_HALF_EVEN), 2);
    assert_int_equal(mer_tax_on_net(25, 1000, 1, MER_ROUND_HALF_EVEN), 2); /* 2.5 -> 2 */
    assert_int_equal(mer_tax_on_net(15, 1000, 1, MER_ROUND_DOWN), 1);
    /* zero-decimal VND: 123,457 at 10% = 12,345.7 -> 12,346 */
    assert_int_equal(mer_tax_on_net(123457, 1000, 1, MER_ROUND_HALF_UP), 12346);
    /* three-decimal KWD: 1.235 at 5% = 0.06175 -> 0.062 */
    assert_int_equal(mer_tax_on_net(1235, 500, 1, MER_ROUND_HALF_UP), 62);
    /* IDR in whole rupiah (step 100): Rp 10.050 at 11% = 1105.5 -> 1106 rupiah */
    assert_int_equal(mer_tax_on_net(1005000, 1100, 100, MER_ROUND_HALF_UP), 110600);
}

static void test_tax_inclusive(void **state)
{
    (void)state;
    /* India: ₹19,999.00 incl. 18% GST: net = 1999900/1.18 = 1694830.5 -> 1694831, tax = 305069 */
    int64_t tax = mer_tax_from_gross(1999900, 1800, 1, MER_ROUND_HALF_UP);
    assert_int_equal(tax, 305069);
    assert_int_equal(1999900 - tax, 1694831);
    /* Spain: €121.00 incl. 21% VAT -> tax exactly €21.00 */
    assert_int_equal(mer_tax_from_gross(12100, 2100, 1, MER_ROUND_HALF_UP), 2100);
    /* zero rate -> no tax */
    assert_int_equal(mer_tax_from_gross(12345, 0, 1, MER_ROUND_HALF_UP), 0);
    /* VND 0 decimals, 10%: 1,100,000 -> tax 100,000 */
    assert_int_equal(mer_tax_from_gross(1100000, 1000, 1, MER_ROUND_HALF_UP), 100000);
    /* net + tax always equals the gross amount shown */
    for (int64_t g = 1; g < 20000; g += 37) {
        int64_t t = mer_tax_from_gross(g, 2100, 1, MER_ROUND_HALF_EVEN);
        assert_true(t >= 0 && t <= g);
        int64_t net = g - t;
        /* net is the correctly rounded g/1.21 */
        assert_int_equal(net, mer_div_round((__int128)g * 10000, 12100, MER_ROUND_HALF_EVEN));
    }
}

static void test_decimal(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(mer_money_decimal(1999900, 2, buf, sizeof(buf)), 8);
    assert_string_equal(buf, "19999.00");
    mer_money_decimal(5, 3, buf, sizeof(buf));
    assert_string_equal(buf, "0.005");
    mer_money_decimal(-5, 3, buf, sizeof(buf));
    assert_string_equal(buf, "-0.005");
    mer_money_decimal(30000, 0, buf, sizeof(buf));
    assert_string_equal(buf, "30000");
    mer_money_decimal(0, 2, buf, sizeof(buf));
    assert_string_equal(buf, "0.00");
    assert_int_equal(mer_money_decimal(1999900, 2, buf, 4), -1);
}

static void test_format(void **state)
{
    (void)state;
    char buf[96];
    assert_true(mer_money_format(1999900, "INR", 2, 2, "en-IN", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "₹19,999.00");
    assert_true(mer_money_format(123450, "EUR", 2, 2, "es-ES", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "1.234,50\u00a0€");
    assert_true(mer_money_format(1999900000, "IDR", 2, 0, "id-ID", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "Rp\u00a019.999.000");
    assert_true(mer_money_format(30000000, "VND", 0, 0, "vi-VN", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "30.000.000\u00a0₫");
    assert_true(mer_money_format(1235, "KWD", 3, 3, "en-KW", buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "1.235"));
    /* the per-thread memo: the same amount in another locale or precision is another text, every time */
    for (int i = 0; i < 2; i++) {
        assert_true(mer_money_format(1999900, "INR", 2, 2, "en-IN", buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "₹19,999.00");
        assert_true(mer_money_format(1999900, "INR", 2, 0, "en-IN", buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "₹19,999");
        assert_true(mer_money_format(1999900, "INR", 2, 2, "es-ES", buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "19.999,00\u00a0INR");
    }
    /* a locale too long for the memo's key is formatted all the same */
    assert_true(mer_money_format(1999900, "INR", 2, 2, "en-IN-u-nu-latn-x-abcdefghijklmnopq", buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "19,999.00"));
}

/* mer_money_json: the object of mer_money_format's text, parsed back, for 3,000 amounts in four locales and
 * precisions, twice over (the second pass from the memo, whose 1,024 slots the amounts share, through
 * formatters prepared once: mer_money_json_fmt), the text
 * formatted before or after the object, and for a locale too long for the memo. */
static void test_money_json(void **state)
{
    (void)state;
    static const struct {
        const char *cur, *loc;
        int iso, shown;
    } f[] = {{"INR", "hi-IN", 2, 2}, {"INR", "en-IN", 2, 0}, {"EUR", "es-ES", 2, 2}, {"SAR", "ar-SA", 2, 2}};
    mer_money_fmt_t prepared[MER_ARRAY_LEN(f)];
    for (size_t k = 0; k < MER_ARRAY_LEN(f); k++)
        assert_true(mer_money_fmt_init(&prepared[k], f[k].cur, f[k].iso, f[k].shown, f[k].loc));
    for (int pass = 0; pass < 2; pass++) { /* (the second pass through the prepared formatters) */
        for (int64_t i = 0; i < 3000; i++) {
            int64_t amount = (i % 7 == 3) ? -i * 991 : i * 12345 + (i % 5);
            size_t k = (size_t)i % MER_ARRAY_LEN(f);
            /* the text formatted before the object (its memo slot just refilled) or after it */
            char text[96];
            if (i % 2)
                mer_money_format(amount, f[k].cur, f[k].iso, f[k].shown, f[k].loc, text, sizeof(text));
            mer_buf_t b = MER_BUF_INIT;
            mer_buf_add(&b, "[1,", 3);
            if (pass == 0)
                mer_money_json(&b, amount, f[k].cur, f[k].iso, f[k].shown, f[k].loc);
            else
                mer_money_json_fmt(&b, &prepared[k], amount);
            mer_buf_addch(&b, ']');
            if (i % 2 == 0)
                mer_money_format(amount, f[k].cur, f[k].iso, f[k].shown, f[k].loc, text, sizeof(text));
            json_error_t err;
            json_t *got = json_loadb(b.data, b.len, 0, &err);
            assert_non_null(got);
            json_t *o = json_array_get(got, 1);
            assert_int_equal(json_object_size(o), 3);
            assert_int_equal(json_integer_value(json_object_get(o, "amount")), amount);
            assert_string_equal(json_string_value(json_object_get(o, "currency")), f[k].cur);
            assert_string_equal(json_string_value(json_object_get(o, "formatted")), text);
            json_decref(got);
            mer_buf_release(&b);
        }
    }
    mer_money_fmt_t too_long;
    assert_false(mer_money_fmt_init(&too_long, "INR", 2, 2, "en-IN-u-nu-latn-x-abcdefghijklmnopqrstuvwxyz"));
    assert_false(mer_money_fmt_init(&too_long, "INRX", 2, 2, "en-IN"));
    mer_buf_t b = MER_BUF_INIT;
    mer_money_json(&b, 1999900, "INR", 2, 2, "en-IN-u-nu-latn-x-abcdefghijklmnopqrstuvwxyz");
    assert_non_null(strstr(mer_buf_str(&b), "\"amount\":1999900,\"currency\":\"INR\",\"formatted\":\""));
    assert_non_null(strstr(mer_buf_str(&b), "19,999.00"));
    mer_buf_release(&b);
}

static void test_rounding_names(void **state)
{
    (void)state;
    mer_rounding_t r;
    assert_int_equal(mer_rounding_parse("half_even", &r), 0);
    assert_int_equal(r, MER_ROUND_HALF_EVEN);
    assert_string_equal(mer_rounding_name(MER_ROUND_DOWN), "down");
    assert_int_equal(mer_rounding_parse("bankers", &r), -1);
}

static void test_checked_arithmetic(void **state)
{
    (void)state;
    int64_t out = 7;
    /* the limit is exact JSON (2^53) with room for sums below INT64_MAX */
    assert_true(MER_MONEY_MAX <= (INT64_C(1) << 53));
    assert_true(MER_MONEY_MAX * 8191 <= INT64_MAX); /* 8191 amounts sum without overflow */
    assert_int_equal(mer_money_add(&out, MER_MONEY_MAX - 1, 1), 0);
    assert_int_equal(out, MER_MONEY_MAX);
    out = 7;
    assert_int_equal(mer_money_add(&out, MER_MONEY_MAX, 1), MER_E_VALIDATION);
    assert_int_equal(out, 7);                                              /* unchanged on error */
    assert_int_equal(mer_money_add(&out, INT64_MAX, 1), MER_E_VALIDATION); /* int64 overflow */
    assert_int_equal(mer_money_add(&out, INT64_MIN, -1), MER_E_VALIDATION);
    assert_int_equal(mer_money_add(&out, INT64_MAX, INT64_MIN), 0); /* -1: in range */
    assert_int_equal(out, -1);
    assert_int_equal(mer_money_sub(&out, 0, MER_MONEY_MAX), 0);
    assert_int_equal(out, -MER_MONEY_MAX);
    assert_int_equal(mer_money_sub(&out, -MER_MONEY_MAX, 1), MER_E_VALIDATION);
    assert_int_equal(mer_money_sub(&out, INT64_MIN, 1), MER_E_VALIDATION);
    assert_int_equal(mer_money_sub(&out, 0, INT64_MIN), MER_E_VALIDATION);
    assert_int_equal(mer_money_mul(&out, MER_MONEY_MAX, 1), 0);
    assert_int_equal(out, MER_MONEY_MAX);
    assert_int_equal(mer_money_mul(&out, MER_MONEY_MAX / 1000, 1000), 0);
    assert_int_equal(mer_money_mul(&out, MER_MONEY_MAX / 1000 + 1, 1000), MER_E_VALIDATION);
    /* the line: the largest price x 1000 units, and a product that wraps int64 to a small number */
    assert_int_equal(mer_money_mul(&out, INT64_C(1) << 50, 1000), MER_E_VALIDATION);
    assert_int_equal(mer_money_mul(&out, INT64_C(1) << 32, INT64_C(1) << 32), MER_E_VALIDATION); /* 2^64 -> 0 */
    assert_int_equal(mer_money_mul(&out, INT64_MIN, -1), MER_E_VALIDATION);
    assert_int_equal(mer_money_mul(&out, -3, 5), 0);
    assert_int_equal(out, -15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_div_round_modes),
        cmocka_unit_test(test_currency_digits_from_icu),
        cmocka_unit_test(test_step_and_round_step),
        cmocka_unit_test(test_tax_exclusive),
        cmocka_unit_test(test_tax_inclusive),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_money_json),
        cmocka_unit_test(test_rounding_names),
        cmocka_unit_test(test_checked_arithmetic),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mer_money_thread_release();
    return rc;
}
