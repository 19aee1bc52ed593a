/* Unit tests: country validation (currency, tax, payments) and address rules (postal codes, phones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/jsonw.h"
#include "core/money.h"
#include "region/country.h"

static const char *india =
    "{\"region\":\"in\",\"names\":{\"en\":\"India\"},\"currency\":\"INR\",\"languages\":[\"hi\",\"en\"],"
    "\"timezone\":\"Asia/Kolkata\",\"tax\":{\"inclusive\":true,\"rounding\":\"half_up\",\"per_line\":true,"
    "\"split\":\"gst\",\"rates\":{\"standard\":1800,\"reduced\":500}},"
    "\"payment_methods\":[{\"method\":\"card\"},{\"method\":\"cod\",\"max_amount\":5000000}],"
    "\"shipping\":{\"fee\":4900,\"free_above\":49900},"
    "\"address\":{\"required\":[\"name\",\"line1\",\"city\",\"state\",\"postal_code\",\"phone\"],"
    "\"postal_code_pattern\":\"^[1-9][0-9]{5}$\",\"phone_pattern\":\"^\\\\+91[6-9][0-9]{9}$\","
    "\"states\":[\"MH\",\"KA\",\"DL\"]}}";

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_parse_india(void **state)
{
    (void)state;
    mer_country_t c = {0};
    mer_verr_t e = {0};
    json_t *j = load(india);
    assert_int_equal(mer_country_parse(j, "IN", &c, &e), 0);
    assert_string_equal(c.currency.code, "INR");
    assert_int_equal(c.currency.iso_digits, 2);
    assert_int_equal(c.step, 1);
    assert_true(c.tax_inclusive);
    assert_int_equal(c.tax_split, MER_TAX_SPLIT_GST);
    assert_int_equal(mer_country_tax_rate(&c, "standard"), 1800);
    assert_int_equal(mer_country_tax_rate(&c, "luxury"), -1);
    assert_non_null(mer_country_payment(&c, "cod"));
    assert_int_equal(mer_country_payment(&c, "cod")->max_amount, 5000000);
    assert_null(mer_country_payment(&c, "wallet"));
    assert_string_equal(c.languages[0], "hi");
    mer_country_release(&c);
    json_decref(j);
}

static void expect_error(const char *patch_key, json_t *value, const char *field)
{
    mer_country_t c = {0};
    mer_verr_t e = {0};
    json_t *j = load(india);
    json_object_set_new(j, patch_key, value);
    assert_int_not_equal(mer_country_parse(j, "IN", &c, &e), 0);
    assert_string_equal(e.field, field);
    mer_country_release(&c);
    json_decref(j);
}

static void test_parse_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("currency", json_string("XXY"), "currency");
    expect_error("timezone", json_string("Asia/Atlantis"), "timezone");
    expect_error("languages", json_pack("[s]", "not a tag"), "languages");
    expect_error("colour", json_string("red"), "colour");
    expect_error("tax", json_pack("{s:b,s:{s:i}}", "inclusive", 1, "rates", "reduced", 500), "tax.rates.standard");
    expect_error("tax", json_pack("{s:b,s:s,s:{s:i}}", "inclusive", 1, "rounding", "sideways", "rates", "standard", 1),
                 "tax.rounding");
    expect_error("payment_methods", json_pack("[{s:s}]", "method", "barter"), "payment_methods[0].method");
    expect_error("practical_digits", json_integer(3), "practical_digits");
    expect_error("address", json_pack("{s:[s],s:s}", "required", "name", "postal_code_pattern", "([0-9]"),
                 "address.postal_code_pattern");
}

static void test_idr_practical_precision(void **state)
{
    (void)state;
    mer_country_t c = {0};
    mer_verr_t e = {0};
    json_t *j = load(india);
    json_object_set_new(j, "currency", json_string("IDR"));
    json_object_set_new(j, "shipping", json_pack("{s:i}", "fee", 2000000));
    assert_int_equal(mer_country_parse(j, "ID", &c, &e), 0);
    assert_int_equal(c.practical_digits, 0);
    assert_int_equal(c.step, 100);
    mer_country_release(&c);
    /* a fee that is not whole rupiah is refused */
    memset(&c, 0, sizeof(c));
    memset(&e, 0, sizeof(e));
    json_object_set_new(j, "shipping", json_pack("{s:i}", "fee", 2000050));
    assert_int_not_equal(mer_country_parse(j, "ID", &c, &e), 0);
    assert_string_equal(e.field, "shipping.fee");
    mer_country_release(&c);
    json_decref(j);
}

/* The money object of hot answers (mer_country_money_jw, written by hand) is the one mer_country_money builds:
 * in India and in Indonesia (no minor units shown), several languages, negative and huge amounts, as a member
 * after others and inside an array. */
static void test_money_object_both_ways(void **state)
{
    (void)state;
    static const int64_t amounts[] = {0, 1, 99, 123456, -2500, 999999999999, INT64_C(-900000000000000)};
    static const char *const langs[] = {"en", "hi", "en-IN", "ar", "ja"};
    for (int k = 0; k < 2; k++) {
        mer_country_t c = {0};
        mer_verr_t e = {0};
        json_t *j = load(india);
        if (k == 1) {
            json_object_set_new(j, "currency", json_string("IDR"));
            json_object_set_new(j, "shipping", json_pack("{s:i}", "fee", 2000000));
        }
        assert_int_equal(mer_country_parse(j, k ? "ID" : "IN", &c, &e), 0);
        for (size_t a = 0; a < MER_ARRAY_LEN(amounts); a++) {
            for (size_t l = 0; l < MER_ARRAY_LEN(langs); l++) {
                mer_buf_t b = MER_BUF_INIT;
                mer_jw_t w;
                mer_jw_init(&w, &b);
                mer_jw_obj(&w, NULL);
                mer_jw_int(&w, "before", 1);
                mer_country_money_jw(&w, "total", &c, amounts[a], langs[l]);
                mer_jw_arr(&w, "list");
                mer_country_money_jw(&w, NULL, &c, amounts[a], langs[l]);
                mer_country_money_jw(&w, NULL, &c, amounts[a], langs[l]);
                mer_jw_end(&w);
                mer_jw_end(&w);
                json_error_t err;
                json_t *got = json_loads(b.data, 0, &err);
                assert_non_null(got);
                json_t *want = mer_country_money(&c, amounts[a], langs[l]);
                assert_true(json_equal(json_object_get(got, "total"), want));
                assert_true(json_equal(json_array_get(json_object_get(got, "list"), 1), want));
                assert_int_equal(json_integer_value(json_object_get(got, "before")), 1);
                assert_int_equal(json_object_size(got), 3);
                json_decref(want);
                json_decref(got);
                mer_buf_release(&b);
            }
        }
        mer_country_release(&c);
        json_decref(j);
    }
}

static void test_address_rules(void **state)
{
    (void)state;
    mer_country_t c = {0};
    mer_verr_t e = {0};
    json_t *j = load(india);
    assert_int_equal(mer_country_parse(j, "IN", &c, &e), 0);
    mer_address_in_t a = {.name = "Asha",
                          .line1 = "12 MG Road",
                          .city = "Mumbai",
                          .state = "MH",
                          .postal_code = "400001",
                          .phone = "+919812345678"};
    assert_int_equal(mer_country_check_address(&c, &a, &e), 0);

    mer_address_in_t bad = a;
    bad.postal_code = "040001"; /* Indian PIN codes do not start with 0 */
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "postal_code");

    bad = a;
    bad.postal_code = "40001"; /* five digits */
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);

    bad = a;
    bad.phone = "+915812345678"; /* mobile numbers start with 6-9 */
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "phone");

    bad = a;
    bad.city = "   ";
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "city");

    bad = a;
    bad.state = "ZZ";
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "state");

    /* the one charset check: 200 characters (not bytes) at most, no control characters, UTF-8 only */
    char long_line[4 * 201 + 1] = "";
    for (int i = 0; i < 200; i++)
        memcpy(long_line + 3 * i, "\xe0\xa4\xb9", 3); /* 200 Devanagari letters, 600 bytes */
    bad = a;
    bad.line1 = long_line;
    assert_int_equal(mer_country_check_address(&c, &bad, &e), 0);
    memcpy(long_line + 600, "x", 2);
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "line1");
    bad = a;
    bad.city = "Mum\x01"
               "bai";
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "city");
    bad = a;
    bad.name = "Asha \xc3";
    memset(&e, 0, sizeof(e));
    assert_int_equal(mer_country_check_address(&c, &bad, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "name");
    mer_country_release(&c);
    json_decref(j);
}

/* A pattern with the India fixture's other fields: 0 if accepted, else the error's field must be named. */
static int parse_with_phone_pattern(const char *pattern)
{
    mer_country_t c = {0};
    mer_verr_t e = {0};
    json_t *j = load(india);
    json_object_set_new(json_object_get(j, "address"), "phone_pattern", json_string(pattern));
    int rc = mer_country_parse(j, "IN", &c, &e);
    if (rc != 0)
        assert_string_equal(e.field, "address.phone_pattern");
    mer_country_release(&c);
    json_decref(j);
    return rc;
}

/* Found by fuzz/country.c: stacked repetitions made regcomp() take over 2 GB (a country PUT, then every
 * start, would be killed for memory). Such patterns are refused before they are compiled. */
static void test_pattern_complexity(void **state)
{
    (void)state;
    char stacked[160] = "^\\+";
    for (int i = 0; i < 120; i++)
        stacked[3 + i] = '+';
    assert_int_not_equal(parse_with_phone_pattern(stacked), 0);
    assert_int_not_equal(parse_with_phone_pattern("^((([0-9]{20}){20}){20})$"), 0);
    assert_int_not_equal(parse_with_phone_pattern("^([0-9])\\1$"), 0); /* back-reference */
    assert_int_not_equal(parse_with_phone_pattern("^[0-9]{1000}$"), 0);
    /* a repetition of a repetition, even when small: a run of them kept regcomp() busy for over 15 s */
    assert_int_not_equal(parse_with_phone_pattern("^\\+*+++++++=+++++++++/+++[0-9]51[0-9]{8}$"), 0);
    assert_int_not_equal(parse_with_phone_pattern("^[0-9]*+$"), 0);
    assert_int_not_equal(parse_with_phone_pattern("^[0-9]{2}?$"), 0);
    assert_int_equal(parse_with_phone_pattern("^(\\+[0-9]+)?[0-9]{8}$"), 0); /* a repeated group is fine */
    /* the seed countries' shapes stay accepted */
    assert_int_equal(parse_with_phone_pattern("^\\+49[1-9][0-9]{6,13}$"), 0);
    assert_int_equal(
        parse_with_phone_pattern("^([Gg][Ii][Rr] ?0[Aa][Aa]|[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2})$"), 0);
    assert_int_equal(parse_with_phone_pattern("^[[:digit:]]{2}-[0-9]{3}$"), 0);
    assert_int_equal(parse_with_phone_pattern("^[]a]{3}[^]0-9]?$"), 0);
    assert_int_equal(parse_with_phone_pattern("^(([0-9]{9}){9})$"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_india),
        cmocka_unit_test(test_parse_errors_name_the_field),
        cmocka_unit_test(test_idr_practical_precision),
        cmocka_unit_test(test_address_rules),
        cmocka_unit_test(test_money_object_both_ways),
        cmocka_unit_test(test_pattern_complexity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
