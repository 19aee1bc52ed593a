/* Unit tests: the error message catalogue — completeness, arguments, matching, rendering and the fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/err_text.h"

static const char *const demo_langs[] = {"ms", "id", "fil", "th", "vi", "hi", "ru", "es", "fr", "it", "de", "pl"};

/* The conversions of a printf format (excluding %%). */
static int conversions(const char *f)
{
    int n = 0;
    for (const char *p = strchr(f, '%'); p; p = strchr(p, '%')) {
        if (p[1] == '%') {
            p += 2;
            continue;
        }
        n++;
        p++;
    }
    return n;
}

/* The highest argument a translation refers to ("%s" in order, or "%N$s"). */
static int highest_arg(const char *t)
{
    int next = 0, high = 0;
    for (const char *p = strchr(t, '%'); p; p = strchr(p, '%')) {
        if (p[1] == '%') {
            p += 2;
            continue;
        }
        int k = 0;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            k = k * 10 + (*q++ - '0');
        int idx = (*q == '$' && k > 0) ? k : ++next;
        if (idx > high)
            high = idx;
        p++;
    }
    return high;
}

static void test_catalogue_is_complete_and_consistent(void **state)
{
    (void)state;
    const char *lang, *id, *text;
    int code;
    size_t per_lang[MER_ARRAY_LEN(demo_langs)] = {0};
    size_t rows = 0;
    for (size_t i = 0; mer_err_text_row(i, &lang, &code, &id, &text); i++, rows++) {
        bool demo = false;
        for (size_t l = 0; l < MER_ARRAY_LEN(demo_langs); l++)
            if (strcmp(lang, demo_langs[l]) == 0) {
                per_lang[l]++;
                demo = true;
            }
        assert_true(demo);
        assert_true(strlen(text) > 0);
        assert_true(highest_arg(text) <= conversions(id));
        /* a translation that drops an argument would hide the detail the id carries */
        assert_int_equal(highest_arg(text), conversions(id));
        if (code)
            assert_int_equal(conversions(id), 0);
    }
    assert_true(rows > 0);
    for (size_t l = 1; l < MER_ARRAY_LEN(demo_langs); l++)
        assert_int_equal(per_lang[l], per_lang[0]); /* every language translates every row */
}

static const char *loc(const char *lang, int err, const char *english, char *out, size_t cap)
{
    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, lang, NULL, 0, NULL);
    return mer_err_localize(err, english, &chain, out, cap);
}

static void test_localize(void **state)
{
    (void)state;
    char out[512];
    /* a message id with arguments: matched, then rendered in the language */
    assert_string_equal(loc("es", MER_E_NOT_FOUND, "product 42 is not sold in ES", out, sizeof(out)), "es");
    assert_string_equal(out, "el producto 42 no se vende en ES");
    /* the arguments reordered by position */
    assert_string_equal(loc("hi", MER_E_INVALID_PARAM, "page must be an integer from 1 to 10000", out, sizeof(out)),
                        "hi");
    assert_string_equal(out, "page 1 से 10000 तक का पूर्णांक होना चाहिए");
    /* an integer conversion matches digits only: "one" is not a number */
    loc("de", MER_E_INVALID_PARAM, "page must be an integer from one to 10000", out, sizeof(out));
    assert_string_equal(out, "ein Parameter hat einen ungültigen Wert (page must be an integer from one to 10000)");
    /* of two ids that match, the more specific one */
    loc("fr", MER_E_UNKNOWN_COUNTRY, "country XX is not sold in by this store", out, sizeof(out));
    assert_string_equal(out, "le pays XX n'est pas desservi par cette boutique");
    /* a region falls back to its language, English stays English */
    assert_string_equal(loc("fr-CA", MER_E_VALIDATION, "email is required", out, sizeof(out)), "fr");
    assert_string_equal(out, "email est obligatoire");
    assert_string_equal(loc("en", MER_E_VALIDATION, "email is required", out, sizeof(out)), "en");
    assert_string_equal(out, "email is required");
    /* a message without a translation: the code's in the language, then the English details */
    loc("ru", MER_E_CONFLICT, "order 7 is already paid", out, sizeof(out));
    assert_string_equal(out, "ресурс находится в состоянии, которое этого не допускает (order 7 is already paid)");
    /* the default message alone needs no details */
    loc("pl", MER_E_NOT_FOUND, mer_err_message(MER_E_NOT_FOUND), out, sizeof(out));
    assert_string_equal(out, "taki zasób nie istnieje");
    /* a language nobody translated: the next in the chain, else English */
    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, "sw", "th;q=0.5", 8, NULL);
    assert_string_equal(mer_err_localize(MER_E_UNAUTHORIZED, "authentication is required", &chain, out, sizeof(out)),
                        "th");
    assert_string_equal(out, "ต้องเข้าสู่ระบบ");
    assert_string_equal(loc("sw", MER_E_UNAUTHORIZED, "authentication is required", out, sizeof(out)), "en");
    /* a short buffer cuts at a character boundary */
    char small[12];
    loc("ru", MER_E_NOT_FOUND, mer_err_message(MER_E_NOT_FOUND), small, sizeof(small));
    assert_true(strlen(small) <= 11);
    assert_true(strlen(small) % 2 == 0); /* Cyrillic letters are two bytes: none was cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue_is_complete_and_consistent),
        cmocka_unit_test(test_localize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
