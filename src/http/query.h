/*
 * query.h — splitting and percent-decoding a URL query string, with no HTTP state.
 *
 * Moved out of req.c (which calls it for every request) so that it can be unit-tested and fuzzed
 * (fuzz/query.c) on its own. The rules, which docs/openapi.yaml states as the dispatcher's contract:
 *   - pairs are separated by '&'; empty pairs ("a=1&&b=2", a trailing '&') are skipped;
 *   - a pair without '=' has the empty value; only the first '=' separates key from value;
 *   - '+' decodes to a space and "%XX" (hex, any case) to that byte; a '%' not followed by two hex digits,
 *     or a NUL byte, raw or escaped, makes the whole query malformed (the strings are NUL-terminated, so
 *     a NUL would silently cut a key or value short);
 *   - a repeated key keeps its first value (a repeat is ambiguous; the first one counts);
 *   - at most `max` distinct pairs are kept; one more non-empty pair, new or repeated, is "too many".
 */
#ifndef MER_QUERY_H
#define MER_QUERY_H

#include <stddef.h>

typedef struct mer_query_pair {
    const char *key, *val; /* decoded, NUL-terminated, inside the caller's buffer */
    size_t klen, vlen;
} mer_query_pair_t;

enum {
    MER_QUERY_OK = 0,
    MER_QUERY_MALFORMED = -1, /* a bad %-escape or a NUL */
    MER_QUERY_TOO_MANY = -2,  /* more than max pairs */
};

/* The buffer size mer_query_parse() needs for a query of len bytes. */
#define MER_QUERY_BUF(len) (2 * (len) + 2)

/*
 * Parses q[0..len) (without the leading '?') into out[0..*n). Decoded strings are written into buf,
 * which must hold MER_QUERY_BUF(len) bytes and outlive the pairs. Returns MER_QUERY_OK, or
 * MER_QUERY_MALFORMED / MER_QUERY_TOO_MANY (then *n pairs before the problem were filled).
 */
int mer_query_parse(const char *q, size_t len, char *buf, size_t cap, mer_query_pair_t *out, size_t max, size_t *n);

/* The value of key among pairs[0..n), or NULL. */
const char *mer_query_find(const mer_query_pair_t *pairs, size_t n, const char *key);

#endif
