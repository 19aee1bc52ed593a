/*
 * query.c — query-string parsing (see query.h for the rules).
 */
#include <assert.h>
#include <string.h>

#include "http/query.h"
#include "core/banned.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into d (len + 1 bytes); '+' is a space. Returns the length, or -1 on a bad
 * escape or a NUL, raw or escaped. */
static long url_decode(const char *s, size_t len, char *d)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            d[n] = (char)(hi * 16 + lo);
            if (d[n] == '\0')
                return -1;
            n++;
            i += 2;
        } else if (s[i] == '+') {
            d[n++] = ' ';
        } else if (s[i] == '\0') {
            return -1; /* a raw NUL would cut the key or value short (h2o refuses one in an HTTP/1 request line; this
                          does not rely on it) */
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    return (long)n;
}

const char *mer_query_find(const mer_query_pair_t *pairs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pairs[i].key, key) == 0)
            return pairs[i].val;
    return NULL;
}

int mer_query_parse(const char *q, size_t len, char *buf, size_t cap, mer_query_pair_t *out, size_t max, size_t *n)
{
    size_t i = 0, used = 0;
    assert(cap >= MER_QUERY_BUF(len));
    (void)cap;
    *n = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && q[i] != '&')
            i++;
        size_t plen = i - start;
        i++;
        if (plen == 0)
            continue;
        if (*n >= max)
            return MER_QUERY_TOO_MANY;
        const char *p = q + start;
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        size_t vraw = eq ? plen - klen - 1 : 0;
        /* a pair of plen raw bytes decodes to at most plen + 2 bytes with both NULs: the pairs' raw
         * lengths and their separators add up to len, so 2 * len + 2 is always enough */
        char *k = buf + used, *v = k + klen + 1;
        long kl = url_decode(p, klen, k);
        long vl = kl < 0 ? -1 : url_decode(eq ? eq + 1 : "", vraw, v);
        if (kl < 0 || vl < 0)
            return MER_QUERY_MALFORMED;
        if (mer_query_find(out, *n, k) != NULL)
            continue; /* a repeated parameter is ambiguous; the first one counts (its space is reused) */
        out[*n] = (mer_query_pair_t){k, v, (size_t)kl, (size_t)vl};
        (*n)++;
        used = (size_t)(v - buf) + (size_t)vl + 1;
    }
    return MER_QUERY_OK;
}
