/* Unit tests: coupon validity in local time (the midnight edge in India), discount spreading, time zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "core/log.h"
#include "core/tz.h"
#include "order/coupon.h"

static mer_coupon_t base(mer_coupon_kind_t kind, int64_t value)
{
    mer_coupon_t c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    c.value = value;
    c.active = true;
    c.valid_from = 0;
    c.valid_until = INT64_MAX;
    return c;
}

static void test_until_midnight_in_india(void **state)
{
    (void)state;
    mer_coupon_t c = base(MER_COUPON_FIXED, 100);
    int64_t from, until, t2359, t0001;
    assert_int_equal(mer_tz_parse_local("2026-11-30T00:00", "Asia/Kolkata", &from), 0);
    assert_int_equal(mer_tz_parse_local("2026-12-01T00:00", "Asia/Kolkata", &until), 0); /* "until midnight" */
    c.valid_from = from;
    c.valid_until = until;
    /* 23:59 IST on the 30th is 18:29 UTC; 00:01 IST on the 1st is 18:31 UTC */
    assert_int_equal(mer_tz_parse_local("2026-11-30T18:29:00Z", "Asia/Kolkata", &t2359), 0);
    assert_int_equal(mer_tz_parse_local("2026-11-30T18:31:00Z", "Asia/Kolkata", &t0001), 0);
    assert_int_equal(until - t2359, 60 * 1000);
    assert_true(mer_coupon_live(&c, t2359));
    assert_false(mer_coupon_live(&c, t0001));
    assert_false(mer_coupon_live(&c, until)); /* the end is exclusive */
    assert_true(mer_coupon_live(&c, from));
    assert_false(mer_coupon_live(&c, from - 1));
    c.active = false;
    assert_false(mer_coupon_live(&c, t2359));
}

static void test_tz_parse_and_format(void **state)
{
    (void)state;
    int64_t t;
    char out[40];
    assert_int_equal(mer_tz_parse_local("2026-11-26T12:00", "Asia/Kolkata", &t), 0);
    mer_tz_format(t, "Asia/Kolkata", out);
    assert_string_equal(out, "2026-11-26T12:00:00.000+05:30");
    mer_tz_format(t, "UTC", out);
    assert_string_equal(out, "2026-11-26T06:30:00.000+00:00");
    /* Europe/Madrid changes offset with daylight saving */
    assert_int_equal(mer_tz_parse_local("2026-07-01T12:00", "Europe/Madrid", &t), 0);
    mer_tz_format(t, "UTC", out);
    assert_string_equal(out, "2026-07-01T10:00:00.000+00:00");
    assert_int_equal(mer_tz_parse_local("2026-12-01T12:00", "Europe/Madrid", &t), 0);
    mer_tz_format(t, "UTC", out);
    assert_string_equal(out, "2026-12-01T11:00:00.000+00:00");
    assert_int_equal(mer_tz_parse_local("2026-12-01T12:00+05:30", "Europe/Madrid", &t), 0);
    mer_tz_format(t, "UTC", out);
    assert_string_equal(out, "2026-12-01T06:30:00.000+00:00");
    assert_int_equal(mer_tz_parse_local("2026-02-30T12:00", "Asia/Kolkata", &t), -1);
    assert_int_equal(mer_tz_parse_local("tomorrow", "Asia/Kolkata", &t), -1);
    assert_int_equal(mer_tz_parse_local("2026-12-01T25:00", "Asia/Kolkata", &t), -1);
    mer_tz_thread_release();
}

/* The offset as ICU computes it afresh: what the remembered spans of mer_tz_offset_ms must agree with. */
static int32_t icu_offset(const char *tz, int64_t unix_ms)
{
    UChar utz[64];
    UErrorCode st = U_ZERO_ERROR;
    u_uastrncpy(utz, tz, 64);
    UCalendar *cal = ucal_open(utz, -1, "en_US", UCAL_GREGORIAN, &st);
    ucal_setMillis(cal, (UDate)unix_ms, &st);
    int32_t off = ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st);
    assert_true(U_SUCCESS(st));
    ucal_close(cal);
    return off;
}

/*
 * Offsets on both sides of daylight-saving transitions (the instant before, at and after: a remembered span
 * ends exactly at its transition), back and forth, in zones that interleave (more than the thread keeps), and
 * the dates written without strftime: the same text as gmtime_r and strftime, leap days and 1969 included.
 */
static void test_tz_spans_and_dates(void **state)
{
    (void)state;
    static const char *const zones[] = {
        "Europe/Madrid", "America/New_York", "Asia/Kolkata",     "Australia/Lord_Howe", "America/Sao_Paulo",
        "Europe/London", "Asia/Tokyo",       "America/Santiago", "Pacific/Chatham",     "UTC"};
    int32_t off = 0;
    /* Europe/Madrid goes to summer time at 2026-03-29T01:00:00Z and back at 2026-10-25T01:00:00Z */
    const int64_t spring = INT64_C(1774746000000), autumn = INT64_C(1792890000000);
    const int64_t steps[][2] = {{spring - 1, 3600000}, {spring, 7200000},     {spring - 1, 3600000},
                                {spring + 1, 7200000}, {autumn - 1, 7200000}, {autumn, 3600000}};
    for (size_t i = 0; i < MER_ARRAY_LEN(steps); i++) {
        assert_int_equal(mer_tz_offset_ms("Europe/Madrid", steps[i][0], &off), 0);
        assert_int_equal(off, steps[i][1]);
    }
    unsigned seed = 7;
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        const char *tz = zones[(seed >> 16) % MER_ARRAY_LEN(zones)];
        seed = seed * 1103515245u + 12345u;
        /* 2000 .. 2035, in steps of a few hours and minutes: runs within one span and jumps across many */
        int64_t t = INT64_C(946684800000) + (int64_t)((seed >> 8) % 1100000) * 1000003;
        if (i % 3 == 0)
            t = spring + (int64_t)((seed >> 4) % 4000) * 60000 - 120000000; /* around one spring */
        assert_int_equal(mer_tz_offset_ms(tz, t, &off), 0);
        assert_int_equal(off, icu_offset(tz, t));
    }
    char got[40], want[40];
    const int64_t secs[] = {0, -1, 951782400, 951868799, 1709164800, 4107542400, 253402300799, 1774746000};
    for (size_t i = 0; i < MER_ARRAY_LEN(secs) + 2000; i++) {
        int64_t s = i < MER_ARRAY_LEN(secs) ? secs[i] : (int64_t)(seed = seed * 1103515245u + 12345u) * 3 - 100000;
        time_t tt = (time_t)s;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        mer_format_civil(s, got);
        assert_string_equal(got, want);
    }
    mer_format_utc_ms(INT64_C(1774746000123), got);
    assert_string_equal(got, "2026-03-29T01:00:00.123Z");
    mer_format_utc_ms(-1, got);
    assert_string_equal(got, "1969-12-31T23:59:59.999Z");
    mer_tz_format(spring, "Europe/Madrid", got);
    assert_string_equal(got, "2026-03-29T03:00:00.000+02:00");
    mer_tz_format(spring - 1, "Europe/Madrid", got);
    assert_string_equal(got, "2026-03-29T01:59:59.999+01:00");
    mer_tz_format(INT64_C(1774746000000), "America/St_Johns", got);
    assert_string_equal(got, "2026-03-28T22:30:00.000-02:30");
    mer_tz_thread_release();
}

static void test_percent_cap_and_spread(void **state)
{
    (void)state;
    mer_coupon_t c = base(MER_COUPON_PERCENT, 1000); /* 10 % */
    c.max_discount = 700;
    mer_coupon_line_t l[2];
    memset(l, 0, sizeof(l));
    l[0].unit_price = 3000;
    l[0].quantity = 1;
    l[1].unit_price = 1000;
    l[1].quantity = 2;
    /* 10 % of 5000 = 500, under the cap */
    assert_int_equal(mer_coupon_apply(&c, l, 2, 1, MER_ROUND_HALF_UP), 500);
    assert_int_equal(l[0].discount + l[1].discount, 500);
    assert_int_equal(l[0].discount, 300);
    c.value = 5000; /* 50 % = 2500, capped at 700 */
    assert_int_equal(mer_coupon_apply(&c, l, 2, 1, MER_ROUND_HALF_UP), 700);
    assert_int_equal(l[0].discount + l[1].discount, 700);
    /* in whole rupiah (step 100) every share is a multiple of the step */
    c.value = 3333;
    c.max_discount = 0;
    l[0].unit_price = 1000100;
    l[1].unit_price = 333300;
    int64_t d = mer_coupon_apply(&c, l, 2, 100, MER_ROUND_HALF_UP);
    assert_int_equal(d % 100, 0);
    assert_int_equal(l[0].discount % 100, 0);
    assert_int_equal(l[1].discount % 100, 0);
}

static void test_threshold_fixed_and_scope(void **state)
{
    (void)state;
    mer_coupon_t c = base(MER_COUPON_THRESHOLD, 500);
    c.min_subtotal = 5000;
    mer_coupon_line_t l[2];
    memset(l, 0, sizeof(l));
    l[0] = (mer_coupon_line_t){.sku_id = 1, .product_id = 10, .unit_price = 4000, .quantity = 1};
    l[1] = (mer_coupon_line_t){.sku_id = 2, .product_id = 20, .unit_price = 900, .quantity = 1};
    l[1].category_ids[0] = 7;
    l[1].ncategories = 1;
    assert_int_equal(mer_coupon_apply(&c, l, 2, 1, MER_ROUND_HALF_UP), MER_E_VALIDATION); /* 4900 < 5000 */
    l[1].unit_price = 1000;
    assert_int_equal(mer_coupon_apply(&c, l, 2, 1, MER_ROUND_HALF_UP), 500);
    /* fixed amount per unit, never below zero */
    mer_coupon_t f = base(MER_COUPON_FIXED, 1500);
    f.scope = MER_SCOPE_CATEGORY;
    f.scope_ids[0] = 7;
    f.nscope = 1;
    l[1].quantity = 2;
    assert_int_equal(mer_coupon_apply(&f, l, 2, 1, MER_ROUND_HALF_UP), 2000); /* capped at the line total */
    assert_int_equal(l[0].discount, 0);
    assert_int_equal(l[1].discount, 2000);
    f.scope = MER_SCOPE_SKU;
    f.scope_ids[0] = 99;
    assert_int_equal(mer_coupon_apply(&f, l, 2, 1, MER_ROUND_HALF_UP), 0);
}

static void test_amounts_beyond_the_money_limit(void **state)
{
    (void)state;
    /* a fixed amount per unit larger than the money range allows is capped at the line total */
    mer_coupon_t f = base(MER_COUPON_FIXED, MER_MONEY_MAX);
    mer_coupon_line_t l[9];
    memset(l, 0, sizeof(l));
    l[0] = (mer_coupon_line_t){.sku_id = 1, .unit_price = MER_MONEY_MAX / 1000, .quantity = 1000};
    assert_int_equal(mer_coupon_apply(&f, l, 1, 1, MER_ROUND_HALF_UP), MER_MONEY_MAX / 1000 * 1000);
    assert_int_equal(l[0].discount, MER_MONEY_MAX / 1000 * 1000);
    /* nine lines at the largest price x 1000 (checkout refuses them first): no wrapped sums, no discount */
    mer_coupon_t p = base(MER_COUPON_PERCENT, 1000);
    for (int i = 0; i < 9; i++)
        l[i] = (mer_coupon_line_t){.sku_id = i + 1, .unit_price = MER_MONEY_MAX, .quantity = 1000};
    assert_int_equal(mer_coupon_apply(&p, l, 9, 1, MER_ROUND_HALF_UP), 0);
    assert_int_equal(mer_coupon_apply(&f, l, 9, 1, MER_ROUND_HALF_UP), 0);
    /* each line within the limit but their sum beyond it */
    for (int i = 0; i < 9; i++)
        l[i].quantity = 1;
    assert_int_equal(mer_coupon_apply(&p, l, 9, 1, MER_ROUND_HALF_UP), 0);
    for (int i = 0; i < 9; i++)
        assert_int_equal(l[i].discount, 0);
    /* at the limit exactly: 10 % of MER_MONEY_MAX */
    assert_int_equal(mer_coupon_apply(&p, l, 1, 1, MER_ROUND_HALF_UP), MER_MONEY_MAX / 10); /* ...262.4 -> 262 */
}

static void test_payment_methods(void **state)
{
    (void)state;
    mer_coupon_t c = base(MER_COUPON_FIXED, 1);
    assert_true(mer_coupon_method_ok(&c, "cod"));
    memcpy(c.methods, "card,wallet", 12);
    assert_true(mer_coupon_method_ok(&c, "wallet"));
    assert_false(mer_coupon_method_ok(&c, "cod"));
    assert_false(mer_coupon_method_ok(&c, "car"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_until_midnight_in_india),
        cmocka_unit_test(test_tz_parse_and_format),
        cmocka_unit_test(test_tz_spans_and_dates),
        cmocka_unit_test(test_percent_cap_and_spread),
        cmocka_unit_test(test_threshold_fixed_and_scope),
        cmocka_unit_test(test_payment_methods),
        cmocka_unit_test(test_amounts_beyond_the_money_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
