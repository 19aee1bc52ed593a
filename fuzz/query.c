/*
 * query.c — fuzzes mer_query_parse(), the query-string parser every request goes through
 * (src/http/query.h has the rules).
 *
 * Input: the query string after '?'. Properties: at most max pairs; every key and value lies inside the
 * buffer, is NUL-terminated at its length and holds no NUL; no key is kept twice; a query that parses
 * also parses when a "&" is appended, to the same pairs.
 */
#include <string.h>

#include "fuzz.h"
#include "http/query.h"

#define MAXQ 24

static size_t parse(const char *q, size_t len, char **buf, mer_query_pair_t *pairs, int *rc)
{
    size_t cap = MER_QUERY_BUF(len), n = 0;
    *buf = malloc(cap);
    *rc = mer_query_parse(q, len, *buf, cap, pairs, MAXQ, &n);
    FUZZ_CHECK(n <= MAXQ);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(pairs[i].key >= *buf && pairs[i].key + pairs[i].klen < *buf + cap);
        FUZZ_CHECK(pairs[i].val >= *buf && pairs[i].val + pairs[i].vlen < *buf + cap);
        FUZZ_CHECK(strlen(pairs[i].key) == pairs[i].klen && strlen(pairs[i].val) == pairs[i].vlen);
        FUZZ_CHECK(mer_query_find(pairs, n, pairs[i].key) == pairs[i].val);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(pairs[i].key, pairs[k].key) != 0);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mer_query_pair_t a[MAXQ], b[MAXQ];
    char *ba, *bb;
    int rca, rcb;
    size_t na = parse((const char *)data, size, &ba, a, &rca);
    if (rca == MER_QUERY_OK) {
        char *q2 = malloc(size + 1);
        memcpy(q2, data, size);
        q2[size] = '&';
        size_t nb = parse(q2, size + 1, &bb, b, &rcb);
        FUZZ_CHECK(rcb == MER_QUERY_OK && nb == na);
        for (size_t i = 0; i < na; i++)
            FUZZ_CHECK(strcmp(a[i].key, b[i].key) == 0 && strcmp(a[i].val, b[i].val) == 0);
        free(bb);
        free(q2);
    } else {
        FUZZ_CHECK(rca == MER_QUERY_MALFORMED || rca == MER_QUERY_TOO_MANY);
    }
    free(ba);
    return 0;
}
