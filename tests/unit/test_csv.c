/* core/csv.h: RFC 4180 reading and writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/csv.h"

static void read_all(const char *in, size_t len, const char *const *want, size_t nwant)
{
    mer_csv_t rd;
    mer_csv_init(&rd, in, len);
    size_t k = 0;
    int rc;
    while ((rc = mer_csv_next(&rd)) == 1) {
        for (size_t i = 0; i < rd.nfields; i++) {
            assert_true(k < nwant);
            assert_string_equal(mer_csv_field(&rd, i), want[k]);
            k++;
        }
        assert_true(k < nwant);
        assert_string_equal(want[k++], "|"); /* end of record */
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, nwant);
    mer_csv_free(&rd);
}

static void test_plain_and_quoted(void **state)
{
    (void)state;
    const char in[] = "sku,country,amount\r\nA-1,IN,100\r\n\"B,2\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nC,,\"\"";
    const char *const want[] = {"sku", "country",    "amount",     "|", "A-1", "IN", "100", "|",
                                "B,2", "say \"hi\"", "two\nlines", "|", "C",   "",   "",    "|"};
    read_all(in, sizeof(in) - 1, want, sizeof(want) / sizeof(want[0]));
}

static void test_bom_and_scripts(void **state)
{
    (void)state;
    const char in[] = "\xEF\xBB\xBFname\n\"स्मार्टफ़ोन, नया\"\nСмартфон\n";
    const char *const want[] = {"name", "|", "स्मार्टफ़ोन, नया", "|", "Смартфон", "|"};
    read_all(in, sizeof(in) - 1, want, sizeof(want) / sizeof(want[0]));
}

static void test_line_numbers(void **state)
{
    (void)state;
    const char in[] = "a,b\n\"x\ny\",1\nz,2\n";
    mer_csv_t rd;
    mer_csv_init(&rd, in, sizeof(in) - 1);
    assert_int_equal(mer_csv_next(&rd), 1);
    assert_int_equal(rd.line, 1);
    assert_int_equal(mer_csv_next(&rd), 1);
    assert_int_equal(rd.line, 2);
    assert_int_equal(mer_csv_next(&rd), 1);
    assert_int_equal(rd.line, 4); /* the quoted line break counts */
    assert_int_equal(rd.record, 3);
    assert_string_equal(mer_csv_field(&rd, 5), "");
    assert_int_equal(mer_csv_next(&rd), 0);
    mer_csv_free(&rd);
}

static void expect_error(const char *in, size_t line, const char *why)
{
    mer_csv_t rd;
    mer_csv_init(&rd, in, strlen(in));
    int rc;
    while ((rc = mer_csv_next(&rd)) == 1)
        ;
    assert_int_equal(rc, -1);
    assert_int_equal(rd.line, line);
    assert_non_null(strstr(rd.error, why));
    assert_int_equal(mer_csv_next(&rd), 0); /* reading stopped */
    mer_csv_free(&rd);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("a,b\nx\"y,1\n", 2, "quote inside");
    expect_error("a,b\n\"x\"y,1\n", 2, "closing quote");
    expect_error("a,b\n\"x,1\n\n", 4, "not closed");
    expect_error("a\n\xC3\x28\n", 2, "UTF-8");
    expect_error("a\n\xED\xA0\x80\n", 2, "UTF-8"); /* a surrogate */
    char many[400] = "";
    for (int i = 0; i < MER_CSV_MAX_FIELDS + 1; i++)
        strcat(many, "x,");
    expect_error(many, 1, "too many");
}

static void test_write_round_trip(void **state)
{
    (void)state;
    const char *const fields[] = {"plain", "a,b", "say \"hi\"", "two\r\nlines", " padded", "", "नया"};
    mer_buf_t b;
    mer_buf_init(&b, 64);
    for (size_t i = 0; i < 7; i++)
        mer_csv_put(&b, i == 0, fields[i], strlen(fields[i]));
    mer_csv_end(&b);
    assert_string_equal(mer_buf_str(&b), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",\" padded\",,नया\r\n");
    mer_csv_t rd;
    mer_csv_init(&rd, b.data, b.len);
    assert_int_equal(mer_csv_next(&rd), 1);
    assert_int_equal(rd.nfields, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(mer_csv_field(&rd, i), fields[i]);
    assert_int_equal(mer_csv_next(&rd), 0);
    mer_csv_free(&rd);
    mer_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_quoted), cmocka_unit_test(test_bom_and_scripts),
        cmocka_unit_test(test_line_numbers),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_write_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
