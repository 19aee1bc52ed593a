/*
 * locale.c — fuzzes language tags: mer_locale_normalize() (?lang=, the languages of a country) and
 * mer_locale_chain_build() (Accept-Language).
 *
 * Input: "<lang>\n<Accept-Language>" (no newline: the whole input is both). Properties: a normalised tag
 * is NUL-terminated within MER_LOCALE_MAX, normalising it again gives the same tag, and every tag of a
 * chain is a normalised tag, without duplicates, ending with the country default or "en" when room.
 */
#include <string.h>

#include "core/locale.h"
#include "fuzz.h"

static void check_tag(const char *tag)
{
    char again[MER_LOCALE_MAX];
    FUZZ_CHECK(memchr(tag, '\0', MER_LOCALE_MAX) != NULL);
    FUZZ_CHECK(mer_locale_normalize(tag, strlen(tag), again) == 0);
    FUZZ_CHECK(strcmp(tag, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t llen = nl ? (size_t)(nl - s) : size;
    const char *al = nl ? nl + 1 : s;
    size_t al_len = nl ? size - llen - 1 : size;

    char norm[MER_LOCALE_MAX];
    if (mer_locale_normalize(s, llen, norm) == 0)
        check_tag(norm);

    /* ?lang= arrives NUL-terminated (a decoded query value never holds a NUL) */
    char lang[64];
    size_t n = llen < sizeof(lang) - 1 ? llen : sizeof(lang) - 1;
    memcpy(lang, s, n);
    lang[n] = '\0';
    if (strlen(lang) != n)
        return 0;
    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, lang, al, al_len, "hi");
    FUZZ_CHECK(chain.n >= 1 && chain.n <= MER_LOCALE_CHAIN_MAX);
    for (size_t i = 0; i < chain.n; i++) {
        check_tag(chain.tags[i]);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(chain.tags[i], chain.tags[k]) != 0);
    }
    char language[MER_LOCALE_MAX];
    mer_locale_language(chain.tags[0], language);
    check_tag(language);
    return 0;
}
