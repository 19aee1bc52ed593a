/*
 * search.c — the snapshot's search index: word splitting and normalisation with ICU, the index build,
 * matching with prefixes and typos (see search.h).
 */
#include "catalog/search.h"

#include <pthread.h>
#include <stdlib.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#include "catalog/catalog.h"
#include "core/buf.h"
#include "core/banned.h"

typedef struct mer_search_posting {
    uint32_t product; /* index in cat->products */
    uint8_t locale;   /* index in cat->locales; LOCALE_ANY for the brand */
    uint8_t weight;
} posting_t;

#define LOCALE_ANY 255
#define MAX_RUN 512 /* bytes of one run of word characters that are looked at */

/* ---- ICU objects: a transliterator and a word break iterator cost a few milliseconds to open, and
 * neither may be used by two threads at once, so they are kept in a small pool guarded by pool_mu ---- */

typedef struct icu_tools {
    UTransliterator *tr;
    UBreakIterator *bi;
    struct icu_tools *next; /* in pool, under pool_mu */
} icu_tools_t;

#define POOL_WARM 4 /* tools opened by the index build (see pool_fill) */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static icu_tools_t *pool; /* tools not in use; under pool_mu */

static icu_tools_t *tools_take(void)
{
    pthread_mutex_lock(&pool_mu);
    icu_tools_t *t = pool;
    if (t)
        pool = t->next;
    pthread_mutex_unlock(&pool_mu);
    if (t)
        return t;
    t = mer_xcalloc(1, sizeof(*t));
    UErrorCode st = U_ZERO_ERROR;
    UChar id[64];
    u_uastrcpy(id, "Any-Latin; Latin-ASCII; Lower");
    t->tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
    if (U_FAILURE(st))
        MER_BUG("ICU transliterator Any-Latin; Latin-ASCII; Lower: %s", u_errorName(st));
    st = U_ZERO_ERROR;
    t->bi = ubrk_open(UBRK_WORD, "", NULL, 0, &st);
    if (U_FAILURE(st))
        MER_BUG("ICU word break iterator: %s", u_errorName(st));
    return t;
}

static void tools_give(icu_tools_t *t)
{
    pthread_mutex_lock(&pool_mu);
    t->next = pool;
    pool = t;
    pthread_mutex_unlock(&pool_mu);
}

/* Opens tools until the pool holds n, so that searches on the event loops do not open them (the first
 * transliterator costs tens of milliseconds, mostly ICU loading its rules). */
static void pool_fill(size_t n)
{
    icu_tools_t *taken = NULL;
    for (size_t i = 0; i < n; i++) {
        icu_tools_t *t = tools_take();
        t->next = taken;
        taken = t;
    }
    while (taken) {
        icu_tools_t *t = taken;
        taken = t->next;
        tools_give(t);
    }
}

void mer_search_shutdown(void)
{
    pthread_mutex_lock(&pool_mu);
    while (pool) {
        icu_tools_t *t = pool;
        pool = t->next;
        utrans_close(t->tr);
        ubrk_close(t->bi);
        free(t);
    }
    pthread_mutex_unlock(&pool_mu);
}

/* ---- words ---- */

static bool word_cp(UChar32 c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return u_isalnum(c) || (U_GET_GC_MASK(c) & U_GC_M_MASK) != 0;
}

/* Scripts written without spaces between words: ICU's dictionary break splits them. */
static bool unspaced_cp(UChar32 c)
{
    return (c >= 0x0E00 && c <= 0x0EFF) || /* Thai, Lao */
           (c >= 0x1000 && c <= 0x109F) || /* Myanmar */
           (c >= 0x1780 && c <= 0x17FF) || /* Khmer */
           (c >= 0x3040 && c <= 0x30FF) || /* Hiragana, Katakana */
           (c >= 0x3400 && c <= 0x9FFF) || /* CJK */
           (c >= 0xF900 && c <= 0xFAFF);
}

typedef void (*word_fn)(void *arg, const char *key, size_t n);

/* Emits the ASCII letter/digit runs of s (lower-cased), truncated to a key's size. */
static void emit_ascii(const char *s, size_t n, word_fn fn, void *arg)
{
    char key[MER_SEARCH_WORD_MAX];
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = i < n ? (unsigned char)s[i] : 0;
        bool w = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
        if (w) {
            if (k < sizeof(key) - 1)
                key[k++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            continue;
        }
        if (k) {
            /* a key cut inside a multi-byte character loses the partial character */
            while (k && ((unsigned char)key[k - 1] & 0xC0) == 0x80 && k == sizeof(key) - 1)
                k--;
            key[k] = '\0';
            fn(arg, key, k);
            k = 0;
        }
    }
}

/* Transliterates one UTF-16 word and emits its keys. */
static void emit_transliterated(icu_tools_t *t, const UChar *w, int32_t wlen, word_fn fn, void *arg)
{
    UChar buf[MAX_RUN * 4];
    char out[MAX_RUN * 8];
    if (wlen <= 0 || wlen > MAX_RUN)
        return;
    memcpy(buf, w, (size_t)wlen * sizeof(UChar));
    int32_t len = wlen, limit = wlen;
    UErrorCode st = U_ZERO_ERROR;
    utrans_transUChars(t->tr, buf, &len, (int32_t)MER_ARRAY_LEN(buf), 0, &limit, &st);
    if (U_FAILURE(st))
        return;
    int32_t olen = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(out, (int32_t)sizeof(out), &olen, buf, len, &st);
    if (U_FAILURE(st) || olen < 0 || (size_t)olen >= sizeof(out))
        return;
    emit_ascii(out, (size_t)olen, fn, arg);
}

/* One run of word characters with something beyond ASCII in it. */
static void emit_run(icu_tools_t *t, const char *s, size_t n, bool unspaced, word_fn fn, void *arg)
{
    UChar w[MAX_RUN];
    int32_t wlen = 0;
    UErrorCode st = U_ZERO_ERROR;
    if (n > MAX_RUN)
        n = MAX_RUN;
    u_strFromUTF8Lenient(w, (int32_t)MER_ARRAY_LEN(w), &wlen, s, (int32_t)n, &st);
    if (U_FAILURE(st) || wlen > (int32_t)MER_ARRAY_LEN(w))
        return;
    if (!unspaced) {
        emit_transliterated(t, w, wlen, fn, arg);
        return;
    }
    st = U_ZERO_ERROR;
    ubrk_setText(t->bi, w, wlen, &st);
    if (U_FAILURE(st))
        return;
    int32_t start = ubrk_first(t->bi);
    for (int32_t end = ubrk_next(t->bi); end != UBRK_DONE; start = end, end = ubrk_next(t->bi))
        if (ubrk_getRuleStatus(t->bi) != UBRK_WORD_NONE)
            emit_transliterated(t, w + start, end - start, fn, arg);
}

/*
 * The splitter. memo (optional) remembers the keys of each non-ASCII run already seen: the index build
 * meets the same words in thousands of texts, and transliteration is the expensive step.
 */
typedef struct memo memo_t;
static void words(const char *text, size_t len, memo_t *memo, word_fn fn, void *arg);

void mer_search_words(const char *text, size_t len, word_fn fn, void *arg)
{
    words(text, len, NULL, fn, arg);
}

/* ---- the memo: run bytes -> its keys ("k1\0k2\0"), open addressing ---- */

typedef struct memo_entry {
    char *run;
    size_t rlen;
    char *keys; /* NUL-separated */
    size_t klen;
} memo_entry_t;

struct memo {
    memo_entry_t *slots;
    size_t cap, n;
    icu_tools_t *tools;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void memo_grow(memo_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    memo_entry_t *slots = mer_xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].run == NULL)
            continue;
        size_t j = hash_bytes(m->slots[i].run, m->slots[i].rlen) & (cap - 1);
        while (slots[j].run)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

static void memo_collect(void *arg, const char *key, size_t n)
{
    mer_buf_add((mer_buf_t *)arg, key, n + 1);
}

static void memo_release(memo_t *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].run);
        free(m->slots[i].keys);
    }
    free(m->slots);
    if (m->tools)
        tools_give(m->tools);
}

static void run_keys(icu_tools_t **tools, memo_t *memo, const char *s, size_t n, bool unspaced, word_fn fn, void *arg)
{
    if (memo == NULL) {
        if (*tools == NULL)
            *tools = tools_take();
        emit_run(*tools, s, n, unspaced, fn, arg);
        return;
    }
    if (memo->n * 2 >= memo->cap)
        memo_grow(memo);
    size_t j = hash_bytes(s, n) & (memo->cap - 1);
    while (memo->slots[j].run && (memo->slots[j].rlen != n || memcmp(memo->slots[j].run, s, n) != 0))
        j = (j + 1) & (memo->cap - 1);
    memo_entry_t *e = &memo->slots[j];
    if (e->run == NULL) {
        mer_buf_t b = MER_BUF_INIT;
        if (memo->tools == NULL)
            memo->tools = tools_take();
        emit_run(memo->tools, s, n, unspaced, memo_collect, &b);
        e->run = mer_xmalloc(n + 1);
        memcpy(e->run, s, n);
        e->run[n] = '\0';
        e->rlen = n;
        e->klen = b.len;
        e->keys = b.data; /* the entry owns the bytes (NULL when the run has no keys) */
        memo->n++;
    }
    for (size_t at = 0; e->keys && at < e->klen;) {
        size_t kl = strlen(e->keys + at);
        fn(arg, e->keys + at, kl);
        at += kl + 1;
    }
}

static void words(const char *text, size_t len, memo_t *memo, word_fn fn, void *arg)
{
    icu_tools_t *tools = NULL;
    size_t i = 0;
    while (i < len) {
        UChar32 c;
        size_t start = i;
        int32_t at = (int32_t)i;
        U8_NEXT(text, at, (int32_t)len, c);
        i = (size_t)at;
        if (c < 0 || !word_cp(c))
            continue;
        bool ascii = c < 0x80, unspaced = unspaced_cp(c);
        size_t end = i;
        while (end < len) {
            at = (int32_t)end;
            U8_NEXT(text, at, (int32_t)len, c);
            if (c < 0 || !word_cp(c))
                break;
            ascii = ascii && c < 0x80;
            unspaced = unspaced || unspaced_cp(c);
            end = (size_t)at;
        }
        if (ascii)
            emit_ascii(text + start, end - start, fn, arg);
        else
            run_keys(&tools, memo, text + start, end - start, unspaced, fn, arg);
        i = end;
    }
    if (tools)
        tools_give(tools);
}

/* ---- distance ---- */

int mer_search_typo_budget(size_t letters)
{
    return letters >= 8 ? 2 : letters >= 4 ? 1 : 0;
}

int mer_search_distance(const char *a, size_t alen, const char *b, size_t blen, int max, bool *whole)
{
    enum { N = MER_SEARCH_WORD_MAX };
    int d[N + 1][N + 1];
    size_t full = blen;
    *whole = false;
    if (alen > N || blen > N)
        return max + 1;
    if (blen > alen + (size_t)max)
        blen = alen + (size_t)max; /* longer prefixes of b are too far anyway */
    for (size_t j = 0; j <= blen; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= alen; i++) {
        d[i][0] = (int)i;
        int row_min = d[i][0];
        for (size_t j = 1; j <= blen; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < row_min)
                row_min = v;
        }
        if (row_min > max)
            return max + 1;
    }
    int best = max + 1;
    for (size_t j = 0; j <= blen; j++)
        if (d[alen][j] < best)
            best = d[alen][j];
    /* b as a whole: only when it was not cut short above */
    if (best <= max && blen == full && d[alen][blen] == best)
        *whole = true;
    return best;
}

/* The set of a key's bytes, each hashed to one of 64 bits. */
static uint64_t signature(const char *s, size_t n)
{
    uint64_t sig = 0;
    for (size_t i = 0; i < n; i++)
        sig |= 1ULL << (((unsigned char)s[i] * 0x9E3779B1u) >> 26);
    return sig;
}

/* ---- the build ---- */

typedef struct tuple {
    uint32_t key; /* id in the intern table, later its rank */
    uint32_t product;
    uint8_t locale, weight;
} tuple_t;

typedef struct builder {
    /* the intern table: key -> id (ids in insertion order; strings in keys) */
    char **keys;
    uint32_t *klen; /* per id: strlen of keys[id] */
    size_t nkeys, kcap;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t scap;
    tuple_t *tuples;
    size_t ntuples, tcap;
    /* per key id: its last tuple, so that a key repeated in a product's texts of one locale (name,
     * description, category) makes one tuple with the best weight */
    size_t *last;
    uint32_t product;
    uint8_t locale, weight;
} builder_t;

/* The index's open-addressing tables hold ids (id + 1; 0 = empty) and are kept at most half full: before
 * adding to a table of n entries, doubles it (first: its first size) when it would pass half, placing each
 * entry i again at hash(ctx, i). */
static void slots_reserve(uint32_t **slots, size_t *scap, size_t n, size_t first,
                          uint64_t (*hash)(const void *ctx, size_t i), const void *ctx)
{
    if (n * 2 < *scap)
        return;
    size_t cap = *scap ? *scap * 2 : first;
    uint32_t *s = mer_xcalloc(cap, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        size_t j = hash(ctx, i) & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(*slots);
    *slots = s;
    *scap = cap;
}

static uint64_t key_hash(const void *ctx, size_t i)
{
    const builder_t *b = ctx;
    return hash_bytes(b->keys[i], b->klen[i]);
}

static uint32_t intern(builder_t *b, const char *key, size_t n)
{
    slots_reserve(&b->slots, &b->scap, b->nkeys, 4096, key_hash, b);
    size_t j = hash_bytes(key, n) & (b->scap - 1);
    while (b->slots[j]) {
        uint32_t id = b->slots[j] - 1;
        if (b->klen[id] == n && memcmp(b->keys[id], key, n) == 0)
            return id;
        j = (j + 1) & (b->scap - 1);
    }
    if (b->nkeys == b->kcap) {
        b->kcap = b->kcap ? b->kcap * 2 : 4096;
        b->keys = mer_xrealloc(b->keys, b->kcap * sizeof(*b->keys));
        b->last = mer_xrealloc(b->last, b->kcap * sizeof(*b->last));
        b->klen = mer_xrealloc(b->klen, b->kcap * sizeof(*b->klen));
    }
    char *copy = mer_xmalloc(n + 1);
    memcpy(copy, key, n + 1);
    b->keys[b->nkeys] = copy;
    b->last[b->nkeys] = SIZE_MAX;
    b->klen[b->nkeys] = (uint32_t)n;
    b->slots[j] = (uint32_t)b->nkeys + 1;
    return (uint32_t)b->nkeys++;
}

static void add_key(void *arg, const char *key, size_t n)
{
    builder_t *b = arg;
    uint32_t id = intern(b, key, n);
    if (b->last[id] != SIZE_MAX) {
        tuple_t *t = &b->tuples[b->last[id]];
        if (t->product == b->product && t->locale == b->locale) {
            if (b->weight > t->weight)
                t->weight = b->weight;
            return;
        }
    }
    MER_GROW(b->tuples, b->ntuples, b->tcap, 65536);
    b->last[id] = b->ntuples;
    b->tuples[b->ntuples++] = (tuple_t){id, b->product, b->locale, b->weight};
}

static int locale_index(const mer_catalog_t *cat, const char *loc)
{
    for (size_t i = 0; i < cat->nlocales && i < LOCALE_ANY; i++)
        if (strcmp(cat->locales[i], loc) == 0)
            return (int)i;
    return -1;
}

static void add_text(builder_t *b, memo_t *memo, const char *text, int locale, uint8_t weight)
{
    if (text == NULL || locale < 0)
        return;
    b->locale = (uint8_t)locale;
    b->weight = weight;
    words(text, strlen(text), memo, add_key, b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *const *rank_keys; /* for cmp_key_id: qsort has no context argument in C17 */

static int cmp_key_id(const void *a, const void *b)
{
    return strcmp(rank_keys[*(const uint32_t *)a], rank_keys[*(const uint32_t *)b]);
}

static int cmp_attr_value(const void *pa, const void *pb)
{
    const mer_search_attr_value_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return strcmp(a->value, b->value);
}

size_t mer_search_lower_bound(const char *const *arr, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(arr[mid], s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER; /* guards rank_keys during the sort */

/* A set of strings (or of (key id, string) pairs) interned to ids in insertion order: the facet tables are
 * built from a catalogue's few distinct brands and attribute values without sorting every product's. */
typedef struct strset {
    const char **str;
    uint32_t *key; /* pairs: the key id of each entry */
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t scap;
} strset_t;

static uint64_t strset_hash(uint32_t key, const char *str)
{
    return hash_bytes(str, strlen(str)) ^ (key * 0x9E3779B97F4A7C15ull);
}

static uint64_t strset_entry_hash(const void *ctx, size_t i)
{
    const strset_t *t = ctx;
    return strset_hash(t->key[i], t->str[i]);
}

static uint32_t strset_add(strset_t *t, uint32_t key, const char *str)
{
    slots_reserve(&t->slots, &t->scap, t->n, 64, strset_entry_hash, t);
    size_t j = strset_hash(key, str) & (t->scap - 1);
    while (t->slots[j]) {
        uint32_t id = t->slots[j] - 1;
        if (t->key[id] == key && strcmp(t->str[id], str) == 0)
            return id;
        j = (j + 1) & (t->scap - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->str = mer_xrealloc(t->str, t->cap * sizeof(*t->str));
        t->key = mer_xrealloc(t->key, t->cap * sizeof(*t->key));
    }
    t->str[t->n] = str;
    t->key[t->n] = key;
    t->slots[j] = (uint32_t)t->n + 1;
    return (uint32_t)t->n++;
}

static void strset_free(strset_t *t)
{
    free(t->str);
    free(t->key);
    free(t->slots);
}

/* The sorted, distinct strings of t (ids in rank[]: rank[id] = position). */
static const char **strset_sorted(const strset_t *t, uint32_t *rank)
{
    const char **out = mer_xcalloc(t->n + 1, sizeof(*out));
    if (t->n)
        memcpy(out, t->str, t->n * sizeof(*out));
    qsort(out, t->n, sizeof(*out), cmp_str);
    for (size_t i = 0; i < t->n; i++)
        rank[i] = (uint32_t)mer_search_lower_bound((const char *const *)out, t->n, t->str[i]);
    return out;
}

static void build_facets(mer_search_index_t *ix, const mer_catalog_t *cat)
{
    size_t nskus = 0, nattrs = 0;
    strset_t brands = {0}, keys = {0}, values = {0};
    uint32_t *tmp_brand = mer_xcalloc(cat->nproducts + 1, sizeof(*tmp_brand));
    for (size_t p = 0; p < cat->nproducts; p++) {
        tmp_brand[p] = strset_add(&brands, 0, cat->products[p].brand);
        nskus += cat->products[p].nskus;
        for (size_t k = 0; k < cat->products[p].nskus; k++)
            nattrs += cat->products[p].skus[k].nattrs;
    }
    uint32_t *rank = mer_xcalloc(brands.n + 1, sizeof(*rank));
    ix->brands = strset_sorted(&brands, rank);
    ix->nbrands = brands.n;
    ix->brand_of = mer_xcalloc(cat->nproducts + 1, sizeof(*ix->brand_of));
    for (size_t p = 0; p < cat->nproducts; p++)
        ix->brand_of[p] = rank[tmp_brand[p]];
    free(rank);
    free(tmp_brand);

    /* attribute keys, then (key, value) pairs, each attribute of each SKU interned once */
    uint32_t *tmp_val = mer_xcalloc(nattrs + 1, sizeof(*tmp_val));
    for (size_t p = 0; p < cat->nproducts; p++)
        for (size_t k = 0; k < cat->products[p].nskus; k++)
            for (size_t a = 0; a < cat->products[p].skus[k].nattrs; a++)
                strset_add(&keys, 0, cat->products[p].skus[k].attrs[a].key);
    uint32_t *key_rank = mer_xcalloc(keys.n + 1, sizeof(*key_rank));
    ix->attr_keys = strset_sorted(&keys, key_rank);
    ix->nattr_keys = keys.n;
    size_t n = 0;
    for (size_t p = 0; p < cat->nproducts; p++)
        for (size_t k = 0; k < cat->products[p].nskus; k++)
            for (size_t a = 0; a < cat->products[p].skus[k].nattrs; a++) {
                const mer_cat_attr_t *at = &cat->products[p].skus[k].attrs[a];
                uint32_t kid = key_rank[strset_add(&keys, 0, at->key)];
                tmp_val[n++] = strset_add(&values, kid, at->value);
            }
    free(key_rank);
    ix->attr_values = mer_xcalloc(values.n + 1, sizeof(*ix->attr_values));
    for (size_t i = 0; i < values.n; i++)
        ix->attr_values[i] = (mer_search_attr_value_t){values.key[i], values.str[i]};
    qsort(ix->attr_values, values.n, sizeof(*ix->attr_values), cmp_attr_value);
    ix->nattr_values = values.n;
    uint32_t *val_rank = mer_xcalloc(values.n + 1, sizeof(*val_rank));
    for (size_t i = 0; i < values.n; i++) {
        mer_search_attr_value_t want = {values.key[i], values.str[i]};
        size_t lo = 0, hi = ix->nattr_values;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp_attr_value(&ix->attr_values[mid], &want) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        val_rank[i] = (uint32_t)lo;
    }

    ix->sku_off = mer_xcalloc(cat->nproducts + 1, sizeof(*ix->sku_off));
    ix->attr_off = mer_xcalloc(nskus + 1, sizeof(*ix->attr_off));
    ix->sku_attrs = mer_xcalloc(nattrs + 1, sizeof(*ix->sku_attrs));
    size_t sk = 0, na = 0;
    for (size_t p = 0; p < cat->nproducts; p++) {
        ix->sku_off[p] = (uint32_t)sk;
        for (size_t k = 0; k < cat->products[p].nskus; k++, sk++) {
            ix->attr_off[sk] = (uint32_t)na;
            for (size_t a = 0; a < cat->products[p].skus[k].nattrs; a++, na++)
                ix->sku_attrs[na] = val_rank[tmp_val[na]];
        }
    }
    ix->sku_off[cat->nproducts] = (uint32_t)sk;
    ix->attr_off[sk] = (uint32_t)na;
    free(val_rank);
    free(tmp_val);
    strset_free(&brands);
    strset_free(&keys);
    strset_free(&values);
    /* the tables own their strings: a base index outlives the snapshot it was built for (search.h) */
    for (size_t i = 0; i < ix->nbrands; i++)
        ix->brands[i] = mer_xstrdup(ix->brands[i]);
    for (size_t i = 0; i < ix->nattr_keys; i++)
        ix->attr_keys[i] = mer_xstrdup(ix->attr_keys[i]);
    for (size_t i = 0; i < ix->nattr_values; i++)
        ix->attr_values[i].value = mer_xstrdup(ix->attr_values[i].value);
}

/* The words of products [from, to) of cat into b (its intern table and tuples), with a memo of its own. */
static void tokenize(const mer_catalog_t *cat, size_t from, size_t to, builder_t *b)
{
    memo_t memo = {0};
    for (size_t p = from; p < to; p++) {
        const mer_cat_product_t *pr = &cat->products[p];
        b->product = (uint32_t)p;
        b->locale = LOCALE_ANY;
        b->weight = 3;
        words(pr->brand, strlen(pr->brand), &memo, add_key, b);
        for (size_t t = 0; t < pr->ntexts; t++) {
            int loc = locale_index(cat, pr->texts[t].locale);
            add_text(b, &memo, pr->texts[t].name, loc, 3);
            add_text(b, &memo, pr->texts[t].description, loc, 1);
        }
        const mer_cat_category_t *c = pr->category;
        for (int depth = 0; c && depth < 16; depth++) {
            for (size_t t = 0; t < c->ntexts; t++)
                add_text(b, &memo, c->texts[t].name, locale_index(cat, c->texts[t].locale), depth ? 1 : 2);
            c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
        }
    }
    memo_release(&memo);
}

typedef struct half {
    const mer_catalog_t *cat;
    size_t from, to;
    builder_t b;
} half_t;

static void *tokenize_half(void *arg)
{
    half_t *h = arg;
    tokenize(h->cat, h->from, h->to, &h->b);
    return NULL;
}

/* Moves b2's keys and tuples (products after b1's) into b1, b2's key ids mapped onto b1's. */
static void merge_builder(builder_t *b1, builder_t *b2)
{
    uint32_t *map = mer_xcalloc(b2->nkeys + 1, sizeof(*map));
    for (size_t k = 0; k < b2->nkeys; k++) {
        map[k] = intern(b1, b2->keys[k], b2->klen[k]);
        free(b2->keys[k]);
    }
    if (b1->ntuples + b2->ntuples > b1->tcap) {
        b1->tcap = b1->ntuples + b2->ntuples;
        b1->tuples = mer_xrealloc(b1->tuples, b1->tcap * sizeof(*b1->tuples));
    }
    for (size_t i = 0; i < b2->ntuples; i++) {
        tuple_t t = b2->tuples[i];
        t.key = map[t.key];
        b1->tuples[b1->ntuples++] = t; /* (b1's per-key last tuple no longer matters: no more words come) */
    }
    free(map);
    free(b2->keys);
    free(b2->klen);
    free(b2->slots);
    free(b2->last);
    free(b2->tuples);
}

/* Below this many products one thread tokenises them all (a thread costs more than it saves). */
#define SPLIT_MIN 20000

mer_search_index_t *mer_search_build(const mer_catalog_t *cat)
{
    mer_search_index_t *ix = mer_xcalloc(1, sizeof(*ix));
    ix->nproducts = cat->nproducts;
    builder_t b = {0};
    /* a big catalogue is tokenised in two halves at once (start-up and reloads at 100,000 products: the
     * words are most of the build); the second half's keys and tuples are then merged into the first's,
     * after them, so each key's postings stay in product order */
    half_t h = {cat, cat->nproducts / 2, cat->nproducts, {0}};
    pthread_t th;
    bool split = cat->nproducts >= SPLIT_MIN && pthread_create(&th, NULL, tokenize_half, &h) == 0;
    tokenize(cat, 0, split ? h.from : cat->nproducts, &b);
    if (split) {
        pthread_join(th, NULL);
        merge_builder(&b, &h.b);
    }
    pool_fill(POOL_WARM);

    /* keys in sorted order: rank[id] */
    uint32_t *order = mer_xcalloc(b.nkeys + 1, sizeof(*order)), *rank = mer_xcalloc(b.nkeys + 1, sizeof(*rank));
    for (size_t i = 0; i < b.nkeys; i++)
        order[i] = (uint32_t)i;
    pthread_mutex_lock(&build_mu);
    rank_keys = (const char *const *)b.keys;
    qsort(order, b.nkeys, sizeof(*order), cmp_key_id);
    rank_keys = NULL;
    pthread_mutex_unlock(&build_mu);
    ix->keys = mer_xcalloc(b.nkeys + 1, sizeof(*ix->keys));
    for (size_t i = 0; i < b.nkeys; i++) {
        rank[order[i]] = (uint32_t)i;
        ix->keys[i] = b.keys[order[i]];
    }
    ix->nkeys = b.nkeys;
    ix->key_sig = mer_xcalloc(b.nkeys + 1, sizeof(*ix->key_sig));
    for (size_t i = 0; i < b.nkeys; i++)
        ix->key_sig[i] = signature(ix->keys[i], strlen(ix->keys[i]));
    for (size_t i = 0; i < b.ntuples; i++)
        b.tuples[i].key = rank[b.tuples[i].key];
    free(order);
    free(rank);
    free(b.keys);
    free(b.slots);
    free(b.last);
    free(b.klen);

    /* postings, grouped by key with a counting sort that keeps the order of generation, so each key's
     * postings are in product order (no comparison sort of millions of tuples) */
    ix->posts = mer_xcalloc(b.ntuples + 1, sizeof(*ix->posts));
    ix->post_off = mer_xcalloc(ix->nkeys + 1, sizeof(*ix->post_off));
    for (size_t i = 0; i < b.ntuples; i++)
        ix->post_off[b.tuples[i].key + 1]++;
    for (size_t k = 0; k < ix->nkeys; k++)
        ix->post_off[k + 1] += ix->post_off[k];
    uint32_t *cursor = mer_xcalloc(ix->nkeys + 1, sizeof(*cursor));
    memcpy(cursor, ix->post_off, ix->nkeys * sizeof(*cursor));
    for (size_t i = 0; i < b.ntuples; i++) {
        const tuple_t *t = &b.tuples[i];
        ix->posts[cursor[t->key]++] = (posting_t){t->product, t->locale, t->weight};
    }
    free(cursor);
    free(b.tuples);

    build_facets(ix, cat);
    return ix;
}

void mer_search_free(mer_search_index_t *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->nkeys; i++)
        free(ix->keys[i]);
    free(ix->keys);
    free(ix->key_sig);
    free(ix->post_off);
    free(ix->posts);
    for (size_t i = 0; i < ix->nbrands; i++)
        free((char *)ix->brands[i]);
    for (size_t i = 0; i < ix->nattr_keys; i++)
        free((char *)ix->attr_keys[i]);
    for (size_t i = 0; i < ix->nattr_values; i++)
        free((char *)ix->attr_values[i].value);
    free(ix->brands);
    free(ix->brand_of);
    free(ix->attr_keys);
    free(ix->attr_values);
    free(ix->sku_off);
    free(ix->attr_off);
    free(ix->sku_attrs);
    free(ix);
}

/* ---- matching ---- */

typedef struct query_words {
    char w[MER_SEARCH_QUERY_WORDS][MER_SEARCH_WORD_MAX];
    size_t len[MER_SEARCH_QUERY_WORDS];
    size_t n;
} query_words_t;

static void add_query_word(void *arg, const char *key, size_t n)
{
    query_words_t *q = arg;
    if (q->n == MER_SEARCH_QUERY_WORDS)
        return;
    for (size_t i = 0; i < q->n; i++)
        if (q->len[i] == n && memcmp(q->w[i], key, n) == 0)
            return; /* a repeated word adds nothing to AND */
    memcpy(q->w[q->n], key, n + 1);
    q->len[q->n++] = n;
}

static size_t utf8_letters(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

typedef struct word_state {
    uint32_t *best;  /* per product: this word's best score */
    uint32_t *stamp; /* per product: which word last touched best[] (word number + 1) */
    uint32_t *touched;
    size_t ntouched;
} word_state_t;

static void score_key(const mer_search_index_t *ix, size_t key, uint32_t quality, const bool *allowed, size_t nlocales,
                      word_state_t *ws, uint32_t word_no)
{
    for (uint32_t i = ix->post_off[key]; i < ix->post_off[key + 1]; i++) {
        const posting_t *p = &ix->posts[i];
        if (p->locale != LOCALE_ANY && (p->locale >= nlocales || !allowed[p->locale]))
            continue;
        uint32_t s = quality * p->weight;
        if (ws->stamp[p->product] != word_no) {
            ws->stamp[p->product] = word_no;
            ws->best[p->product] = s;
            ws->touched[ws->ntouched++] = p->product;
        } else if (s > ws->best[p->product]) {
            ws->best[p->product] = s;
        }
    }
}

/* Matches the words against one index of np products: score[p] as in mer_search_match; products with
 * skip[p] set are left out (a base's products that the delta replaces). */
static void match_index(const mer_search_index_t *ix, size_t np, const query_words_t *qw, const bool *allowed,
                        size_t nlocales, const uint8_t *skip, size_t nskip, uint32_t *score)
{
    memset(score, 0, np * sizeof(*score));
    if (np == 0)
        return;
    word_state_t ws = {mer_xcalloc(np, sizeof(uint32_t)), mer_xcalloc(np, sizeof(uint32_t)),
                       mer_xcalloc(np, sizeof(uint32_t)), 0};
    uint32_t *matched = mer_xcalloc(np, sizeof(uint32_t));
    for (size_t w = 0; w < qw->n; w++) {
        const char *word = qw->w[w];
        size_t wlen = qw->len[w];
        uint32_t word_no = (uint32_t)w + 1;
        ws.ntouched = 0;
        /* keys equal to or beginning with the word: a contiguous range of the sorted keys */
        size_t lo = mer_search_lower_bound((const char *const *)ix->keys, ix->nkeys, word), hi = lo;
        while (hi < ix->nkeys && strncmp(ix->keys[hi], word, wlen) == 0)
            hi++;
        for (size_t k = lo; k < hi; k++) {
            size_t klen = strlen(ix->keys[k]);
            uint32_t quality = klen == wlen ? 100 : 60 + (uint32_t)(30 * wlen / klen);
            /* touched[] holds each product at most once per word */
            score_key(ix, k, quality, allowed, nlocales, &ws, word_no);
        }
        int budget = mer_search_typo_budget(utf8_letters(word, wlen));
        if (lo == hi && budget > 0) {
            uint64_t sig = signature(word, wlen);
            for (size_t k = 0; k < ix->nkeys; k++) {
                bool whole;
                if (__builtin_popcountll(sig & ~ix->key_sig[k]) > budget)
                    continue; /* lacks too many of the word's letters */
                int d = mer_search_distance(word, wlen, ix->keys[k], strlen(ix->keys[k]), budget, &whole);
                if (d > budget)
                    continue;
                uint32_t quality = (d == 1 ? 40 : 20) - (whole ? 0 : 5);
                score_key(ix, k, quality, allowed, nlocales, &ws, word_no);
            }
        }
        for (size_t t = 0; t < ws.ntouched; t++) {
            uint32_t p = ws.touched[t];
            if (matched[p] == w) { /* matched every earlier word */
                matched[p]++;
                score[p] += ws.best[p];
            }
        }
    }
    for (size_t p = 0; p < np; p++)
        if (matched[p] != qw->n || (p < nskip && skip[p]))
            score[p] = 0;
        else if (score[p] == 0)
            score[p] = 1;
    free(ws.best);
    free(ws.stamp);
    free(ws.touched);
    free(matched);
}

size_t mer_search_match(const mer_catalog_t *cat, const char *q, const bool *allowed, uint32_t *score)
{
    const mer_search_index_t *ix = cat->search;
    const mer_search_delta_t *d = cat->search_delta;
    query_words_t qw = {0};
    memset(score, 0, cat->nproducts * sizeof(*score));
    mer_search_words(q, strlen(q), add_query_word, &qw);
    if (qw.n == 0 || ix == NULL || cat->nproducts == 0)
        return qw.n;
    size_t nbase = ix->nproducts < cat->nproducts ? ix->nproducts : cat->nproducts;
    match_index(ix, nbase, &qw, allowed, cat->nlocales, d ? d->in : NULL, d ? d->nin : 0, score);
    if (d && d->n) {
        uint32_t *ds = mer_xcalloc(d->n, sizeof(*ds));
        match_index(d->ix, d->n, &qw, allowed, cat->nlocales, NULL, 0, ds);
        for (size_t i = 0; i < d->n; i++)
            if (d->of[i] < cat->nproducts)
                score[d->of[i]] = ds[i];
        free(ds);
    }
    return qw.n;
}

/* ---- the delta ---- */

static uint32_t base_value_id(const mer_search_index_t *ix, const char *key, const char *value)
{
    size_t k = mer_search_lower_bound((const char *const *)ix->attr_keys, ix->nattr_keys, key);
    if (k >= ix->nattr_keys || strcmp(ix->attr_keys[k], key) != 0)
        return UINT32_MAX;
    mer_search_attr_value_t want = {(uint32_t)k, value};
    size_t lo = 0, hi = ix->nattr_values;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_attr_value(&ix->attr_values[mid], &want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->nattr_values && cmp_attr_value(&ix->attr_values[lo], &want) == 0 ? (uint32_t)lo : UINT32_MAX;
}

mer_search_delta_t *mer_search_delta_build(const mer_catalog_t *cat, const uint32_t *of, size_t n)
{
    const mer_search_index_t *base = cat->search;
    mer_search_delta_t *d = mer_xcalloc(1, sizeof(*d));
    d->n = n;
    d->of = mer_xcalloc(n + 1, sizeof(*d->of));
    memcpy(d->of, of, n * sizeof(*of));
    d->nin = cat->nproducts;
    d->in = mer_xcalloc(cat->nproducts + 1, 1);
    /* a catalogue of the delta's products only, in the snapshot's locales and categories */
    mer_catalog_t mini = *cat;
    mini.products = mer_xcalloc(n + 1, sizeof(*mini.products));
    mini.nproducts = n;
    mini.search = NULL;
    mini.search_delta = NULL;
    size_t nskus = 0, nattrs = 0;
    for (size_t i = 0; i < n; i++) {
        d->in[of[i]] = 1;
        mini.products[i] = cat->products[of[i]];
        nskus += mini.products[i].nskus;
        for (size_t k = 0; k < mini.products[i].nskus; k++)
            nattrs += mini.products[i].skus[k].nattrs;
    }
    d->ix = mer_search_build(&mini);
    d->brand = mer_xcalloc(n + 1, sizeof(*d->brand));
    d->sku_off = mer_xcalloc(n + 1, sizeof(*d->sku_off));
    d->attr_off = mer_xcalloc(nskus + 1, sizeof(*d->attr_off));
    d->sku_attrs = mer_xcalloc(nattrs + 1, sizeof(*d->sku_attrs));
    size_t sk = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        const mer_cat_product_t *p = &mini.products[i];
        size_t b = base ? mer_search_lower_bound((const char *const *)base->brands, base->nbrands, p->brand) : 0;
        d->brand[i] = base && b < base->nbrands && strcmp(base->brands[b], p->brand) == 0 ? (uint32_t)b : UINT32_MAX;
        d->sku_off[i] = (uint32_t)sk;
        for (size_t k = 0; k < p->nskus; k++, sk++) {
            d->attr_off[sk] = (uint32_t)na;
            for (size_t a = 0; base && a < p->skus[k].nattrs; a++) {
                uint32_t v = base_value_id(base, p->skus[k].attrs[a].key, p->skus[k].attrs[a].value);
                if (v != UINT32_MAX)
                    d->sku_attrs[na++] = v;
            }
        }
    }
    d->sku_off[n] = (uint32_t)sk;
    d->attr_off[sk] = (uint32_t)na;
    free(mini.products);
    return d;
}

void mer_search_delta_free(mer_search_delta_t *d)
{
    if (d == NULL)
        return;
    mer_search_free(d->ix);
    free(d->of);
    free(d->in);
    free(d->brand);
    free(d->sku_off);
    free(d->attr_off);
    free(d->sku_attrs);
    free(d);
}

/* The delta's position of catalogue product p, or SIZE_MAX. */
static size_t delta_pos(const mer_search_delta_t *d, size_t p)
{
    if (d == NULL || p >= d->nin || !d->in[p])
        return SIZE_MAX;
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->of[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t mer_search_brand_of(const mer_catalog_t *cat, size_t p)
{
    size_t q = delta_pos(cat->search_delta, p);
    if (q != SIZE_MAX)
        return cat->search_delta->brand[q];
    const mer_search_index_t *ix = cat->search;
    return ix && p < ix->nproducts ? ix->brand_of[p] : UINT32_MAX;
}

size_t mer_search_sku_attrs(const mer_catalog_t *cat, size_t p, size_t k, const uint32_t **ids)
{
    const mer_search_delta_t *d = cat->search_delta;
    size_t q = delta_pos(d, p);
    const uint32_t *sku_off, *attr_off, *vals;
    size_t i = q;
    if (q != SIZE_MAX) {
        sku_off = d->sku_off;
        attr_off = d->attr_off;
        vals = d->sku_attrs;
    } else if (cat->search && p < cat->search->nproducts) {
        sku_off = cat->search->sku_off;
        attr_off = cat->search->attr_off;
        vals = cat->search->sku_attrs;
        i = p;
    } else {
        *ids = NULL;
        return 0;
    }
    if (k >= sku_off[i + 1] - sku_off[i]) {
        *ids = NULL;
        return 0;
    }
    uint32_t s = sku_off[i] + (uint32_t)k;
    *ids = vals + attr_off[s];
    return attr_off[s + 1] - attr_off[s];
}
