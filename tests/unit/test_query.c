/* Unit tests: query-string parsing (src/http/query.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "http/query.h"

static int parse(const char *q, size_t len, mer_query_pair_t *pairs, size_t max, size_t *n, char *buf)
{
    return mer_query_parse(q, len, buf, MER_QUERY_BUF(len), pairs, max, n);
}

static void test_decoding_and_repeats(void **state)
{
    (void)state;
    const char q[] = "country=IN&&q=caf%C3%A9+au+lait&country=SG&flag&=x&";
    char buf[MER_QUERY_BUF(sizeof(q))];
    mer_query_pair_t p[8];
    size_t n = 0;
    assert_int_equal(parse(q, strlen(q), p, 8, &n, buf), MER_QUERY_OK);
    assert_int_equal(n, 4);
    assert_string_equal(mer_query_find(p, n, "country"), "IN"); /* the first of a repeated key */
    assert_string_equal(mer_query_find(p, n, "q"), "café au lait");
    assert_string_equal(mer_query_find(p, n, "flag"), "");
    assert_string_equal(mer_query_find(p, n, ""), "x");
    assert_null(mer_query_find(p, n, "lang"));
    assert_int_equal(p[1].vlen, strlen("café au lait"));
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {"q=%", "q=%4", "q=%zz", "q=a%00b", "%00=1"};
    char buf[64];
    mer_query_pair_t p[8];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], strlen(bad[i]), p, 8, &n, buf), MER_QUERY_MALFORMED);
    /* a raw NUL (found by fuzz/query.c) used to cut the key short: "country\0x" was kept as "country" */
    const char raw[] = "country\0x=ES&country=IN";
    assert_int_equal(parse(raw, sizeof(raw) - 1, p, 8, &n, buf), MER_QUERY_MALFORMED);
}

static void test_too_many(void **state)
{
    (void)state;
    const char q[] = "a=1&b=2&c=3&a=4";
    char buf[MER_QUERY_BUF(sizeof(q))];
    mer_query_pair_t p[3];
    size_t n = 0;
    assert_int_equal(parse(q, 11, p, 3, &n, buf), MER_QUERY_OK);
    assert_int_equal(n, 3);
    /* one more non-empty pair, even a repeat, is one too many (as before the move out of req.c) */
    assert_int_equal(parse(q, strlen(q), p, 3, &n, buf), MER_QUERY_TOO_MANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoding_and_repeats),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
