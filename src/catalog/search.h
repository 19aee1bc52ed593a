/*
 * search.h — product search as shoppers expect it, answered from the catalogue snapshot (catalog.h).
 *
 * Why in memory: the listing is served from the snapshot and cached per thread (http/rcache.h); a search
 * that needed the database (the former SQLite FTS5 / PostgreSQL tsquery path) cost a round trip on every
 * cache miss, behaved differently on each backend (tokenizers, accents, prefixes) and made every product
 * write rewrite an index table. The index below is built with each snapshot, off the event loop (the
 * snapshot is built by the writer's commit hook or at start-up), is immutable afterwards and is read
 * without locks beyond the snapshot's read lock: one way to search, the same on both backends.
 *
 * Words. A text is split into words and each word normalised to a search key (mer_search_words):
 *   - words are runs of letters, digits and combining marks (so Devanagari vowel signs stay inside their
 *     word); runs in scripts written without spaces (Thai, Lao, Khmer, Myanmar, Chinese, Japanese) are
 *     split further by ICU's dictionary word break;
 *   - an ASCII word is lower-cased; any other word goes through ICU's transliterator
 *     "Any-Latin; Latin-ASCII; Lower": accents are stripped ("Teléfono" -> "telefono", "Điện" -> "dien",
 *     "Zubehör" -> "zubehor") and other scripts are romanised ("Смартфон" -> "smartfon"), so a shopper may
 *     type with or without accents, and in Latin letters for a Cyrillic or Devanagari name;
 *   - after transliteration, anything but ASCII letters and digits separates words; keys are at most
 *     MER_SEARCH_WORD_MAX - 1 bytes.
 *
 * Index. For every product: its brand (any locale, weight 3), its name per locale (3), its category's and
 * the category's ancestors' names per locale (2 and 1) and its description per locale (1). The keys are
 * kept sorted with, for each key, the products and locales it occurs in (one posting per product and
 * locale, with the best weight).
 *
 * Matching (mer_search_match). Every word of the query must match (AND); at most MER_SEARCH_QUERY_WORDS
 * words are used. A word matches the keys it equals or begins (prefix: "smartph" finds "smartphone").
 * Only a word that equals or begins no key at all is looked up with typos: a key matches it when the
 * Damerau-Levenshtein distance (optimal string alignment: insertions, deletions, substitutions and
 * transpositions of neighbours) between the word and the key, or a prefix of the key, is at most 1 for
 * words of 4 to 7 letters and 2 for words of 8 or more (mer_search_typo_budget); shorter words need an
 * exact or prefix match ("nvoa" finds "nova"; "x1" never matches "x2"). Typo candidates are found by a
 * scan of the keys: a key whose set of letters lacks more than `budget` of the word's letters cannot be
 * that close (each missing letter costs an edit), which a 64-bit signature per key rules out in a few
 * nanoseconds; the others get the bounded, early-exiting distance. The vocabulary is the catalogue's
 * distinct words, and the scan runs only on an answer-cache miss. Only texts in the
 * locales the caller allows count (the request's chain and the country's languages).
 *
 * Relevance. A word scores quality × weight for the best text it matched in: quality 100 exact, 60-90
 * for a prefix (more of the key typed scores more), 40 for one typo, 20 for two. A product's score is the
 * sum over the query's words.
 *
 * Facets (brand, category, attributes) are kept here too, as small integers per product and SKU, so that
 * counting them over a result set is array indexing.
 */
#ifndef MER_SEARCH_H
#define MER_SEARCH_H

#include "core/common.h"

#define MER_SEARCH_WORD_MAX 48   /* bytes of a search key, with NUL */
#define MER_SEARCH_QUERY_WORDS 8 /* words of a query that are used; later ones are ignored */

struct mer_catalog;

/* The facet ids of a snapshot: brands and attribute values interned, per product and per SKU. */
typedef struct mer_search_attr_value {
    uint32_t key;      /* index in keys[] */
    const char *value; /* "black"; borrowed from the snapshot */
} mer_search_attr_value_t;

typedef struct mer_search_index {
    size_t nproducts; /* the products indexed: cat->products[0 .. nproducts) of the snapshot it was built for */
    /* the sorted keys and their postings: postings of key i are posts[post_off[i] .. post_off[i + 1]) */
    char **keys;
    size_t nkeys;
    uint64_t *key_sig; /* per key: the set of its bytes, hashed into 64 bits (the typo scan's filter) */
    uint32_t *post_off;
    struct mer_search_posting *posts;
    /* brands, sorted; brand_of[p] for product index p (in cat->products) */
    const char **brands;
    size_t nbrands;
    uint32_t *brand_of;
    /* attribute keys ("colour"), sorted; attribute values (key, value), sorted by key then value */
    const char **attr_keys;
    size_t nattr_keys;
    mer_search_attr_value_t *attr_values;
    size_t nattr_values;
    /* SKU k of product p is SKU number sku_off[p] + k; its attribute value ids are
     * sku_attrs[attr_off[s] .. attr_off[s + 1]) */
    uint32_t *sku_off;
    uint32_t *attr_off;
    uint32_t *sku_attrs;
} mer_search_index_t;

/*
 * The delta (why: a product write must not cost a rebuild of the whole index; see catalog.h, "writes").
 * A snapshot made by applying product changes to the previous one keeps that one's index (the base,
 * built for an earlier snapshot: products [0, base->nproducts), whose positions never change since
 * products are only ever appended) and adds a delta: a small index over the products changed or added
 * since the base was built, in the snapshot's own locales, with their facet ids mapped onto the base's
 * tables (a brand or attribute value the base does not know counts in no facet until the next full build).
 * Matching reads the base without the products in the delta, then the delta. A full build in the
 * background (catalog.c) replaces base and delta when the catalogue has been quiet for its duration.
 */
typedef struct mer_search_delta {
    mer_search_index_t *ix; /* over the delta's products only: its product q is catalogue product of[q] */
    uint32_t *of;           /* catalogue indexes, ascending */
    size_t n;
    uint8_t *in; /* per catalogue product (the snapshot's nproducts): 1 when in the delta */
    size_t nin;
    uint32_t *brand;    /* per q: the base's brand id, or UINT32_MAX */
    uint32_t *sku_off;  /* per q: its first SKU in attr_off */
    uint32_t *attr_off; /* per delta SKU: its values in sku_attrs (base attribute value ids) */
    uint32_t *sku_attrs;
} mer_search_delta_t;

/* The delta of snapshot cat (whose search is the base) over its products of[0..n) (ascending indexes).
 * Off the loop (it normalises the products' words). */
mer_search_delta_t *mer_search_delta_build(const struct mer_catalog *cat, const uint32_t *of, size_t n);
void mer_search_delta_free(mer_search_delta_t *d);

/* Facet ids of product p of a snapshot (base or delta): its brand (UINT32_MAX: none known), and the
 * attribute value ids of its SKU k (returns their number, *ids the first). */
uint32_t mer_search_brand_of(const struct mer_catalog *cat, size_t p);
size_t mer_search_sku_attrs(const struct mer_catalog *cat, size_t p, size_t k, const uint32_t **ids);

/*
 * Builds the index of a loaded snapshot (every product, SKU, text and category filled in). Run where the
 * snapshot is built, never on an event loop (it transliterates every distinct non-ASCII word). Returns
 * the index (free with mer_search_free); out-of-memory aborts.
 */
mer_search_index_t *mer_search_build(const struct mer_catalog *cat);
void mer_search_free(mer_search_index_t *ix);

/*
 * Matches a query against the snapshot's index: score[p] (p indexing cat->products, an array of
 * cat->nproducts the caller provides) receives the product's relevance, 0 when it does not match.
 * allowed[l] (l indexing cat->locales, cat->nlocales entries) says which locales' texts count. Returns the
 * number of query words used (0: q has no words, and nothing matches). Any thread; takes no lock (the
 * caller holds the snapshot).
 */
size_t mer_search_match(const struct mer_catalog *cat, const char *q, const bool *allowed, uint32_t *score);

/*
 * Splits text (UTF-8, len bytes) into normalised search keys, as described above, calling fn once per
 * key (NUL-terminated, n bytes, valid during the call). Any thread.
 */
void mer_search_words(const char *text, size_t len, void (*fn)(void *arg, const char *key, size_t n), void *arg);

/* The typos a query word of n letters may have: 0 below 4 letters, 1 below 8, else 2. */
int mer_search_typo_budget(size_t letters);

/*
 * The optimal-string-alignment distance between a and the closest of b or a prefix of b, when it is at
 * most max; otherwise max + 1 (the computation stops as soon as the bound is exceeded). *whole is set
 * when b as a whole is that close.
 */
int mer_search_distance(const char *a, size_t alen, const char *b, size_t blen, int max, bool *whole);

/* Frees the ICU objects kept for reuse (process exit). */
void mer_search_shutdown(void);

/* The first index of a sorted array of strings (strcmp order) whose string is not below s: n when none. */
size_t mer_search_lower_bound(const char *const *arr, size_t n, const char *s);

#endif
