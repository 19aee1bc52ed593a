/* Unit tests: string buffer, JSON string escaping, integer parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <inttypes.h>

#include "core/buf.h"
#include "core/json.h"

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

/* mer_buf_add_int writes what printf's "%" PRId64 does, the extremes included. */
static void test_add_int(void **state)
{
    (void)state;
    const int64_t vals[] = {0,
                            1,
                            -1,
                            9,
                            10,
                            -10,
                            99,
                            100,
                            123456789,
                            -987654321,
                            INT64_C(1999900),
                            INT64_C(4611686018427387904),
                            INT64_MAX,
                            INT64_MIN,
                            INT64_MIN + 1};
    mer_buf_t b = MER_BUF_INIT, want = MER_BUF_INIT;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        mer_buf_reset(&b);
        mer_buf_reset(&want);
        mer_buf_add_int(&b, vals[i]);
        mer_buf_printf(&want, "%" PRId64, vals[i]);
        assert_string_equal(b.data, want.data);
        assert_int_equal(b.len, want.len);
    }
    mer_buf_addch(&b, ',');
    mer_buf_add_int(&b, 42);
    assert_string_equal(b.data, "-9223372036854775807,42");
    mer_buf_release(&b);
    mer_buf_release(&want);
}

/* mer_strcopy copies as snprintf(dst, cap, "%s", src) does, truncation included. */
static void test_strcopy(void **state)
{
    (void)state;
    const char *srcs[] = {"", "a", "abc", "abcd", "abcdefgh", "₹19"};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        for (size_t cap = 1; cap <= 6; cap++) {
            char got[8], want[8];
            memset(got, 'x', sizeof(got));
            memset(want, 'x', sizeof(want));
            size_t n = mer_strcopy(got, cap, srcs[i]);
            snprintf(want, cap, "%s", srcs[i]);
            assert_memory_equal(got, want, sizeof(got));
            assert_int_equal(n, strlen(want));
        }
    }
}

/* mer_json_path writes what snprintf("%s.%s", prefix, key) (or "%s", key without a prefix) writes, at every
 * size of the buffer: truncated in the prefix, at the dot, in the key. */
static void test_json_path(void **state)
{
    (void)state;
    const char *prefixes[] = {NULL, "", "a", "lines[12]"};
    const char *keys[] = {"", "sku", "postal_code"};
    for (size_t p = 0; p < MER_ARRAY_LEN(prefixes); p++) {
        for (size_t k = 0; k < MER_ARRAY_LEN(keys); k++) {
            for (size_t cap = 1; cap <= 24; cap++) {
                char got[32], want[32];
                memset(got, 'x', sizeof(got));
                memset(want, 'x', sizeof(want));
                if (prefixes[p] && *prefixes[p])
                    snprintf(want, cap, "%s.%s", prefixes[p], keys[k]);
                else
                    snprintf(want, cap, "%s", keys[k]);
                assert_ptr_equal(mer_json_path(got, cap, prefixes[p], keys[k]), got);
                assert_memory_equal(got, want, sizeof(got));
            }
        }
    }
}

/* Members of JSON text read without parsing it (mer_json_text_*): what jansson reads from the same text,
 * whatever comes before the member (nested values, strings holding braces, quotes and escapes). */
static void test_json_text_member(void **state)
{
    (void)state;
    const char doc[] = " {\"a\":{\"status\":\"inner\",\"x\":[1,{\"y\":\"}]\\\"\"}]},\"s\" : \"q\\\"\\u00e9\\n\" , "
                       "\"n\":-42,\"f\":1.5,\"t\":true,\"z\":null,\"status\":\"paid\","
                       "\"e\":\"\",\"dup\":1,\"dup\":2,\"last\":7}";
    json_t *j = json_loads(doc, 0, NULL);
    assert_non_null(j);
    char out[32];
    int64_t v = 0;
    assert_true(mer_json_text_str(doc, strlen(doc), "status", out, sizeof(out)));
    assert_string_equal(out, json_string_value(json_object_get(j, "status"))); /* the top level's, not a's */
    assert_true(mer_json_text_str(doc, strlen(doc), "s", out, sizeof(out)));
    assert_string_equal(out, json_string_value(json_object_get(j, "s"))); /* unescaped as jansson does */
    assert_true(mer_json_text_str(doc, strlen(doc), "e", out, sizeof(out)));
    assert_string_equal(out, "");
    assert_true(mer_json_text_int(doc, strlen(doc), "n", &v));
    assert_int_equal(v, -42);
    assert_true(mer_json_text_int(doc, strlen(doc), "dup", &v));
    assert_int_equal(v, json_integer_value(json_object_get(j, "dup")));
    assert_true(mer_json_text_int(doc, strlen(doc), "last", &v));
    assert_int_equal(v, 7);
    /* absent, or of another type, or too long */
    assert_false(mer_json_text_str(doc, strlen(doc), "y", out, sizeof(out)));
    assert_false(mer_json_text_str(doc, strlen(doc), "n", out, sizeof(out)));
    assert_false(mer_json_text_str(doc, strlen(doc), "z", out, sizeof(out)));
    assert_false(mer_json_text_str(doc, strlen(doc), "status", out, 4));
    assert_false(mer_json_text_int(doc, strlen(doc), "f", &v));
    assert_false(mer_json_text_int(doc, strlen(doc), "t", &v));
    assert_false(mer_json_text_int("{\"big\":99999999999999999999}", 28, "big", &v)); /* beyond int64 */
    assert_false(mer_json_text_int(doc, strlen(doc), "s", &v));
    const char *raw;
    size_t n;
    assert_true(mer_json_text_member(doc, strlen(doc), "t", &raw, &n));
    assert_memory_equal(raw, "true", n);
    /* not an object, or cut short: nothing, and nothing read past the length */
    assert_false(mer_json_text_int("[1]", 3, "a", &v));
    assert_false(mer_json_text_int("{\"a\":1", 4, "a", &v));
    assert_false(mer_json_text_str("{\"a\":\"xyz\"}", 9, "a", out, sizeof(out)));
    json_decref(j);
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

/* The escaping of mer_buf_add_json_str, one byte at a time: what its runs of plain bytes must add up to. */
static void escape_slowly(mer_buf_t *b, const unsigned char *p, size_t len)
{
    char tmp[8];
    mer_buf_addch(b, '"');
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        if (p[i] == '"' || p[i] == '\\') {
            snprintf(tmp, sizeof(tmp), "\\%c", p[i]);
            mer_buf_addstr(b, tmp);
        } else if (p[i] < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", p[i]);
            mer_buf_addstr(b, tmp);
        } else if (p[i] < 0x80) {
            mer_buf_addch(b, (char)p[i]);
        } else if ((n = mer_utf8_seq(p + i, len - i)) == 0) {
            mer_buf_addstr(b, "\\ufffd");
            n = 1;
        } else {
            mer_buf_add(b, p + i, n);
        }
        i += n;
    }
    mer_buf_addch(b, '"');
}

/* Random strings of plain bytes, quotes, backslashes, controls, DEL, valid and broken UTF-8, written after
 * what the buffer holds (from empty, and across its growth): the same text as byte by byte. */
static void test_json_escape_runs(void **state)
{
    (void)state;
    /* (and the bytes next to those the writer stops at, and runs of 8 and 16 plain bytes it takes at once) */
    static const char *const parts[] = {
        "a",    "plain text ", "\"", "\\", "\n", "\x01", "\x7f", "\xff", "₹",        "\xe2\x82",        "",
        "\x1f", " ",           "!",  "#",  "[",  "]",    "\x80", "~",    "01234567", "0123456789abcdef"};
    mer_buf_t got = MER_BUF_INIT, want = MER_BUF_INIT;
    unsigned seed = 12345;
    char in[256];
    for (int round = 0; round < 4000; round++) {
        size_t len = 0;
        for (int k = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 16; k > 0; k--) {
            const char *part = parts[((seed = seed * 1103515245u + 12345u) >> 16) % MER_ARRAY_LEN(parts)];
            size_t n = strlen(part);
            if (len + n >= sizeof(in))
                break;
            memcpy(in + len, part, n);
            len += n;
        }
        if (round % 50 == 0) { /* start over: appends into an empty buffer too */
            mer_buf_release(&got);
            mer_buf_release(&want);
        }
        mer_buf_add_json_str(&got, in, len);
        escape_slowly(&want, (const unsigned char *)in, len);
        assert_int_equal(got.len, want.len);
        assert_string_equal(got.data, want.data);
    }
    mer_buf_release(&got);
    mer_buf_release(&want);
}

/* The one charset check for text input (mer_utf8_text) and the sequence check the JSON writer shares. */
static void test_utf8_text(void **state)
{
    (void)state;
#define T(s) mer_utf8_text(s, sizeof(s) - 1)
    assert_int_equal(T(""), 0);
    assert_int_equal(T("Asha Rao"), 8);
    assert_int_equal(T("Nguy\xe1\xbb\x85n \xc3\xa9"), 8); /* "Nguyễn é": 3- and 2-byte sequences */
    assert_int_equal(T("\xe0\xa4\xb9\xe0\xa4\xbf"), 2);   /* Devanagari "hi" */
    assert_int_equal(T("\xf0\x9f\x93\xb1"), 1);           /* U+1F4F1, four bytes */
    assert_int_equal(T("line\nnext\ttab"), 13);           /* tab and newline are text */
    assert_int_equal(T("nul\0inside"), -1);
    assert_int_equal(T("bell\a"), -1);
    assert_int_equal(T("\r"), -1);
    assert_int_equal(T("\xc3"), -1);             /* truncated */
    assert_int_equal(T("\xc0\xaf"), -1);         /* overlong '/' */
    assert_int_equal(T("\xed\xa0\x80"), -1);     /* surrogate U+D800 */
    assert_int_equal(T("\xf4\x90\x80\x80"), -1); /* above U+10FFFF */
    assert_int_equal(T("\x80"), -1);             /* lone continuation byte */
    assert_int_equal(T("ok\xff"), -1);
#undef T
    assert_int_equal(mer_utf8_seq((const unsigned char *)"\xc3\xa9", 2), 2);
    assert_int_equal(mer_utf8_seq((const unsigned char *)"\xc3\xa9", 1), 0); /* not all of it readable */
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
        cmocka_unit_test(test_printf_grows),     cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_add_int),          cmocka_unit_test(test_json_text_member),
        cmocka_unit_test(test_json_path),        cmocka_unit_test(test_strcopy),
        cmocka_unit_test(test_parse_int),        cmocka_unit_test(test_utf8_text),
        cmocka_unit_test(test_json_escape_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
