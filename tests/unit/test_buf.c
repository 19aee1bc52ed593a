/* Unit tests: string buffer, JSON string escaping, integer parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"

static void test_printf_grows(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    assert_string_equal(mer_buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        mer_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    mer_buf_release(&b);
    assert_null(b.data);
}

static void test_json_escape(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01\xff ₹";
    mer_buf_add_json_str(&b, in, sizeof(in) - 1);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\\ufffd ₹\"");
    mer_buf_release(&b);
}

static void test_parse_int(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(mer_parse_int64("42", 2, 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(mer_parse_int64("-7", 2, -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(mer_parse_int64("101", 3, 0, 100, &v), -1);
    assert_int_equal(mer_parse_int64("1e3", 3, 0, 10000, &v), -1);
    assert_int_equal(mer_parse_int64("", 0, 0, 1, &v), -1);
    assert_int_equal(mer_parse_int64("-", 1, -1, 1, &v), -1);
    assert_int_equal(mer_parse_int64("99999999999999999999", 20, 0, INT64_MAX, &v), -1);
    assert_int_equal(mer_parse_int64("9223372036854775807", 19, 0, INT64_MAX, &v), 0);
    assert_int_equal(v, INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_parse_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
