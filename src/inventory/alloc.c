/*
 * alloc.c — choosing the warehouses an order ships from (the rule: alloc.h).
 */
#include "inventory/alloc.h"

#include <stdbool.h>
#include <string.h>

#include "core/banned.h"

/* Can the candidates in set[0..k) together fill every line? */
static bool fills(const int64_t *qty, size_t n, const int64_t *avail, size_t w, const size_t *set, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        int64_t have = 0;
        for (size_t j = 0; j < k && have < qty[i]; j++) {
            int64_t a = avail[i * w + set[j]];
            have += a > 0 ? a : 0;
        }
        if (have < qty[i])
            return false;
    }
    return true;
}

/* The next k-subset of 0..w-1 in lexicographic order (set ascending); false after the last. */
static bool next_set(size_t *set, size_t k, size_t w)
{
    size_t i = k;
    while (i > 0 && set[i - 1] == w - k + i - 1)
        i--;
    if (i == 0)
        return false;
    set[i - 1]++;
    for (size_t j = i; j < k; j++)
        set[j] = set[j - 1] + 1;
    return true;
}

size_t mer_stock_allocate(const int64_t *qty, size_t n, const int64_t *avail, size_t w, int64_t *take,
                          size_t *short_line)
{
    size_t set[MER_ALLOC_MAX_WAREHOUSES];
    *short_line = 0;
    if (w > MER_ALLOC_MAX_WAREHOUSES)
        w = MER_ALLOC_MAX_WAREHOUSES;
    memset(take, 0, n * (w ? w : 1) * sizeof(*take));
    if (w == 0)
        return 0;
    /* all candidates together: if they cannot, no set can (and the search below would try them all) */
    for (size_t k = 0; k < w; k++)
        set[k] = k;
    for (size_t i = 0; i < n; i++) {
        if (!fills(qty + i, 1, avail + i * w, w, set, w)) {
            *short_line = i;
            return 0;
        }
    }
    for (size_t k = 1; k <= w; k++) {
        for (size_t j = 0; j < k; j++)
            set[j] = j;
        do {
            if (!fills(qty, n, avail, w, set, k))
                continue;
            for (size_t i = 0; i < n; i++) {
                int64_t want = qty[i];
                for (size_t j = 0; j < k && want > 0; j++) {
                    int64_t a = avail[i * w + set[j]];
                    int64_t t = a < want ? (a > 0 ? a : 0) : want;
                    take[i * w + set[j]] = t;
                    want -= t;
                }
            }
            return k;
        } while (next_set(set, k, w));
    }
    return 0; /* not reached: the full set fills */
}
