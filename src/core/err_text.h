/*
 * err_text.h — error messages in the shopper's language: the message catalogue of the errors in err.h.
 *
 * Every error message is written in English where it happens, as a printf format (the message id) and its
 * arguments ("product %lld is not sold in %s"). The catalogue (err_text.c, one table per language — the
 * one source of truth for translated messages) holds translations of message ids, and of each code's
 * default message (err.h). The envelope function (mer_reply_error and its kin, http/req.h) localizes the
 * rendered English message along the request's language chain (core/locale.h: ?lang= or Accept-Language,
 * the country's default language, then English — the same chain as every text), for each language in turn:
 *   1. a translation of the message id that produced the text: the text is matched against the ids (each
 *      conversion matches a run of characters; %d-like ones only digits), and the translation is rendered
 *      with the captured arguments ("%s", or "%2$s" where the language orders them differently);
 *   2. else the translation of the code's default message, followed by the English text in parentheses when
 *      it says more than the default (nothing is lost: the details, numbers and names stay readable);
 *   3. else the next language; English ends every chain.
 * The code and field of an error never change with the language: clients branch on those.
 */
#ifndef MER_ERR_TEXT_H
#define MER_ERR_TEXT_H

#include "core/locale.h"

/*
 * Writes the message of err (whose English text is english) in the first language of chain that has it
 * into out (cap bytes, truncated at a character boundary). Returns that language ("en" when none),
 * a static string.
 */
const char *mer_err_localize(int err, const char *english, const mer_locale_chain_t *chain, char *out, size_t cap);

/* The catalogue, row by row (tests check it): lang, the code (0 for a message id), the id (the code's
 * default message for code rows) and the translation. Returns false past the last row. */
bool mer_err_text_row(size_t i, const char **lang, int *code, const char **id, const char **text);

#endif
