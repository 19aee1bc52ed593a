/* test_launch.c — the launch pricing arithmetic (launch/launch.h): exact rates, conversion with markups,
 * price-ending rules and the per-currency defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "launch/launch.h"

static void test_parse_rate(void **state)
{
    (void)state;
    mer_launch_rate_t r;
    assert_int_equal(mer_launch_parse_rate("1.42", &r), 0);
    assert_int_equal(r.num, 71);
    assert_int_equal(r.den, 50);
    assert_int_equal(mer_launch_parse_rate("0.0115", &r), 0);
    assert_int_equal(r.num, 23);
    assert_int_equal(r.den, 2000);
    assert_int_equal(mer_launch_parse_rate("166/2", &r), 0);
    assert_int_equal(r.num, 83);
    assert_int_equal(r.den, 1);
    assert_int_equal(mer_launch_parse_rate("300", &r), 0);
    assert_int_equal(r.num, 300);
    char text[32];
    mer_launch_rate_text(&r, text, sizeof(text));
    assert_string_equal(text, "300");
    static const char *const bad[] = {"",
                                      "0",
                                      "0.0",
                                      "-1",
                                      "1e3",
                                      "1.",
                                      ".5",
                                      "1/0",
                                      "1/2/3",
                                      "1.5/2",
                                      "abc",
                                      "1,5",
                                      " 1",
                                      "10000000000000",
                                      "1/10000000000000",
                                      "0.0000000000001",
                                      NULL};
    for (const char *const *b = bad; *b; b++)
        assert_int_not_equal(mer_launch_parse_rate(*b, &r), 0);
}

static void test_convert(void **state)
{
    (void)state;
    mer_launch_rate_t r = {71, 50}; /* 1.42 */
    /* INR 19,999.00 (paise) -> BDT: 1999900 * 1.42 = 2839858 poisha exactly */
    assert_int_equal(mer_launch_convert(1999900, 2, 2, &r, 0), 2839858);
    /* +5%: 2839858 * 1.05 = 2981850.9 -> 2981851 (half up) */
    assert_int_equal(mer_launch_convert(1999900, 2, 2, &r, 500), 2981851);
    /* -10%: 2555872.2 -> 2555872 */
    assert_int_equal(mer_launch_convert(1999900, 2, 2, &r, -1000), 2555872);
    /* half up exactly at .5: 1 * 1/2 = 0.5 -> 1 */
    mer_launch_rate_t half = {1, 2};
    assert_int_equal(mer_launch_convert(1, 2, 2, &half, 0), 1);
    assert_int_equal(mer_launch_convert(3, 2, 2, &half, 0), 2); /* 1.5 -> 2 */
    /* digits: INR (2) -> VND (0) at 300: 100.00 INR = 10000 paise -> 30000 dong */
    mer_launch_rate_t vnd = {300, 1};
    assert_int_equal(mer_launch_convert(10000, 2, 0, &vnd, 0), 30000);
    /* into KWD (3 digits) at 0.0037: 1000.00 INR -> 3.700 KWD = 3700 fils */
    mer_launch_rate_t kwd = {37, 10000};
    assert_int_equal(mer_launch_convert(100000, 2, 3, &kwd, 0), 3700);
    /* the largest amounts and rates do not overflow: too large is -1 */
    mer_launch_rate_t big = {MER_LAUNCH_RATE_MAX, 1};
    assert_int_equal(mer_launch_convert(MER_MONEY_MAX, 2, 4, &big, MER_LAUNCH_MARKUP_MAX), -1);
    mer_launch_rate_t tiny = {1, MER_LAUNCH_RATE_MAX};
    assert_int_equal(mer_launch_convert(MER_MONEY_MAX, 4, 0, &tiny, MER_LAUNCH_MARKUP_MIN), 0);
    assert_int_equal(mer_launch_convert(-1, 2, 2, &r, 0), -1);
    assert_int_equal(mer_launch_convert(0, 2, 2, &r, 0), 0);
}

static void test_ending(void **state)
{
    (void)state;
    /* ends in 999 (units of 100 minor) from 10,000; ends in 9 below */
    mer_launch_ending_t inr;
    mer_launch_default_ending("INR", 2, 100, &inr);
    assert_int_equal(inr.ntiers, 2);
    assert_int_equal(mer_launch_ending(2839858, &inr), 2799900); /* 28,398.58 -> 27,999 (nearer than 28,999) */
    assert_int_equal(mer_launch_ending(2850000, &inr), 2899900); /* 28,500.00: a tie goes up -> 28,999 */
    assert_int_equal(mer_launch_ending(34567, &inr), 34900);     /* 345.67 -> 349 */
    assert_int_equal(mer_launch_ending(100, &inr), 900);         /* 1.00 -> 9: the first positive candidate */
    assert_int_equal(mer_launch_ending(0, &inr), 0);             /* free stays free */
    assert_int_equal(mer_launch_ending(1000000, &inr), 999900);  /* 10,000.00: upper tier, 9,999 is nearer */
    /* EUR .99 */
    mer_launch_ending_t eur;
    mer_launch_default_ending("EUR", 2, 1, &eur);
    assert_int_equal(mer_launch_ending(123456, &eur), 123499);
    assert_int_equal(mer_launch_ending(123420, &eur), 123399);
    assert_int_equal(mer_launch_ending(123499, &eur), 123499);
    assert_int_equal(mer_launch_ending(10, &eur), 99);
    /* VND to 1,000; JPY to 10; IDR (practical step 100) to 1,000 rupiah */
    mer_launch_ending_t vnd, jpy, idr, kwd;
    mer_launch_default_ending("VND", 0, 1, &vnd);
    assert_int_equal(mer_launch_ending(1234567, &vnd), 1235000);
    assert_int_equal(mer_launch_ending(1234499, &vnd), 1234000);
    mer_launch_default_ending("JPY", 0, 1, &jpy);
    assert_int_equal(mer_launch_ending(12345, &jpy), 12350);
    mer_launch_default_ending("IDR", 2, 100, &idr);
    assert_int_equal(mer_launch_ending(123456789, &idr), 123500000);
    /* any other currency: its practical step */
    mer_launch_default_ending("KWD", 3, 1, &kwd);
    assert_int_equal(mer_launch_ending(12345, &kwd), 12345);
    /* up and down */
    mer_launch_ending_t r = {.dir = MER_LAUNCH_UP, .ntiers = 1, .tiers = {{0, 1000, 990}}};
    assert_int_equal(mer_launch_ending(12000, &r), 12990);
    r.dir = MER_LAUNCH_DOWN;
    assert_int_equal(mer_launch_ending(12000, &r), 11990);
    assert_int_equal(mer_launch_ending(500, &r), 990); /* nothing positive below: the first candidate */
    /* too large */
    r.tiers[0] = (mer_launch_tier_t){0, MER_MONEY_MAX, 0};
    r.dir = MER_LAUNCH_UP;
    assert_int_equal(mer_launch_ending(MER_MONEY_MAX - 1, &r), MER_MONEY_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rate),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_ending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
