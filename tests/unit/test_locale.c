/* Unit tests: language tags and the locale fallback chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/locale.h"

static void test_normalize(void **state)
{
    (void)state;
    char out[MER_LOCALE_MAX];
    assert_int_equal(mer_locale_normalize("ES_es", 5, out), 0);
    assert_string_equal(out, "es-ES");
    assert_int_equal(mer_locale_normalize("hi", 2, out), 0);
    assert_string_equal(out, "hi");
    assert_int_equal(mer_locale_normalize("fil-PH", 6, out), 0);
    assert_string_equal(out, "fil-PH");
    assert_int_equal(mer_locale_normalize("zh-hant", 7, out), 0);
    assert_string_equal(out, "zh-Hant");
    assert_int_equal(mer_locale_normalize("es-419", 6, out), 0);
    assert_string_equal(out, "es-419");
    assert_int_equal(mer_locale_normalize("", 0, out), -1);
    assert_int_equal(mer_locale_normalize("e", 1, out), -1);
    assert_int_equal(mer_locale_normalize("english", 7, out), -1);
    assert_int_equal(mer_locale_normalize("es-", 3, out), -1);
    assert_int_equal(mer_locale_normalize("e1", 2, out), -1);
    assert_int_equal(mer_locale_normalize("es-E$", 5, out), -1);
}

static void test_chain_from_lang(void **state)
{
    (void)state;
    mer_locale_chain_t c;
    mer_locale_chain_build(&c, "es-ES", NULL, 0, "es");
    assert_int_equal(c.n, 3);
    assert_string_equal(c.tags[0], "es-ES");
    assert_string_equal(c.tags[1], "es");
    assert_string_equal(c.tags[2], "en");
}

static void test_chain_country_default(void **state)
{
    (void)state;
    mer_locale_chain_t c;
    mer_locale_chain_build(&c, "pt-BR", NULL, 0, "hi");
    assert_int_equal(c.n, 4);
    assert_string_equal(c.tags[0], "pt-BR");
    assert_string_equal(c.tags[1], "pt");
    assert_string_equal(c.tags[2], "hi");
    assert_string_equal(c.tags[3], "en");
    mer_locale_chain_build(&c, NULL, NULL, 0, "en");
    assert_int_equal(c.n, 1);
    assert_string_equal(c.tags[0], "en");
}

static void test_chain_accept_language(void **state)
{
    (void)state;
    mer_locale_chain_t c;
    const char *al = "fr;q=0.5, de-AT, xx-!!;q=0.9, it;q=0.8, ru;q=0";
    mer_locale_chain_build(&c, NULL, al, strlen(al), "pl");
    /* de-AT (q=1), de, it (0.8), fr (0.5), pl (country), en; ru (q=0) and the malformed tag are skipped */
    assert_int_equal(c.n, 6);
    assert_string_equal(c.tags[0], "de-AT");
    assert_string_equal(c.tags[1], "de");
    assert_string_equal(c.tags[2], "it");
    assert_string_equal(c.tags[3], "fr");
    assert_string_equal(c.tags[4], "pl");
    assert_string_equal(c.tags[5], "en");
}

static void test_chain_explicit_lang_wins(void **state)
{
    (void)state;
    mer_locale_chain_t c;
    const char *al = "de";
    mer_locale_chain_build(&c, "hi", al, strlen(al), "en");
    assert_string_equal(c.tags[0], "hi");
    assert_string_equal(c.tags[1], "de");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_chain_from_lang),
        cmocka_unit_test(test_chain_country_default),
        cmocka_unit_test(test_chain_accept_language),
        cmocka_unit_test(test_chain_explicit_lang_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
