/*
 * locale.h — language tags and the fallback chain used for every customer-visible text.
 *
 * Tags are BCP-47 style, normalised to "ll" or "ll-RR" (language lower case, region upper case, at most
 * 15 bytes). The chain for a request is built in this order, without duplicates:
 *   1. the requested tag ("es-ES"), then its language alone ("es");
 *   2. further Accept-Language entries, by descending q;
 *   3. the country's default language, then "en".
 * A text is looked up along the chain and the first locale that has it wins, so a missing translation is
 * never an error; it falls back to the next language.
 */
#ifndef MER_LOCALE_H
#define MER_LOCALE_H

#include "core/common.h"

#define MER_LOCALE_MAX 16 /* bytes, with NUL */
#define MER_LOCALE_CHAIN_MAX 8

typedef struct mer_locale_chain {
    char tags[MER_LOCALE_CHAIN_MAX][MER_LOCALE_MAX];
    size_t n;
} mer_locale_chain_t;

/*
 * Normalises a tag ("ES_es" -> "es-ES", "hi" -> "hi"). Accepts a language of 2-3 letters, optionally
 * followed by a 2-letter or 3-digit region, or a 4-letter script ("zh-Hant"). Returns 0, or -1 if the
 * text is not such a tag (the caller answers 400 for a malformed ?lang=).
 */
int mer_locale_normalize(const char *in, size_t len, char out[MER_LOCALE_MAX]);

/* Appends a tag and then its bare language to the chain, skipping duplicates and a full chain. */
void mer_locale_chain_add(mer_locale_chain_t *c, const char *tag);

/*
 * Builds the chain from an explicit ?lang= (may be NULL), an Accept-Language header (may be NULL) and
 * the country's default language. Malformed Accept-Language entries are skipped.
 */
void mer_locale_chain_build(mer_locale_chain_t *c, const char *lang, const char *accept_language, size_t al_len,
                            const char *country_default);

/* Returns the language part of a tag in out ("es-ES" -> "es"). */
void mer_locale_language(const char *tag, char out[MER_LOCALE_MAX]);

#endif
