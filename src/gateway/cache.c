/*
 * cache.c — the edge cache's store (cache.h): a chained hash table of entries and an LRU list, per thread.
 */
#include "gateway/cache.h"

#include "core/banned.h"

struct mer_gw_cache {
    mer_gw_entry_t **buckets; /* nbuckets chains */
    size_t nbuckets;          /* a power of two */
    h2o_linklist_t lru;       /* most recently used first */
    size_t max_bytes;
    size_t bytes; /* charged now */
    mer_gw_cache_stats_t stats;
};

#define ENTRY_OVERHEAD 64 /* charged per entry beyond its bytes: the allocator's and the table's share */

static void count(_Atomic uint64_t *c, int64_t d)
{
    /* the owner is the only writer: a load and a store, no read-modify-write on the hot path */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d, memory_order_relaxed);
}

mer_gw_cache_t *mer_gw_cache_new(size_t max_bytes)
{
    mer_gw_cache_t *c = mer_xcalloc(1, sizeof(*c));
    c->max_bytes = MER_MAX(max_bytes, (size_t)4096);
    size_t want = c->max_bytes / 2048, n = 256;
    while (n < want && n < ((size_t)1 << 20))
        n <<= 1;
    c->nbuckets = n;
    c->buckets = mer_xcalloc(n, sizeof(*c->buckets));
    h2o_linklist_init_anchor(&c->lru);
    return c;
}

/* Unlinks e from its bucket and the LRU list and drops the cache's reference. */
static void drop(mer_gw_cache_t *c, mer_gw_entry_t *e)
{
    mer_gw_entry_t **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    h2o_linklist_unlink(&e->lru);
    c->bytes -= e->size;
    count(&c->stats.bytes, -(int64_t)e->size);
    count(&c->stats.entries, -1);
    h2o_mem_release_shared(e);
}

void mer_gw_cache_free(mer_gw_cache_t *c)
{
    if (c == NULL)
        return;
    while (!h2o_linklist_is_empty(&c->lru))
        drop(c, H2O_STRUCT_FROM_MEMBER(mer_gw_entry_t, lru, c->lru.next));
    free(c->buckets);
    free(c);
}

static mer_gw_entry_t *find(mer_gw_cache_t *c, const char *key, size_t klen, uint64_t h)
{
    for (mer_gw_entry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

const mer_gw_entry_t *mer_gw_cache_get(mer_gw_cache_t *c, const char *key, size_t klen, uint64_t gen, uint64_t now_ms)
{
    mer_gw_entry_t *e = find(c, key, klen, mer_hash64(key, klen));
    if (e && (e->gen != gen || now_ms >= e->expires_ms)) {
        drop(c, e);
        e = NULL;
    }
    if (e == NULL) {
        count(&c->stats.misses, 1);
        return NULL;
    }
    h2o_linklist_unlink(&e->lru);
    h2o_linklist_insert(c->lru.next, &e->lru);
    count(&c->stats.hits, 1);
    return e;
}

const mer_gw_entry_t *mer_gw_cache_put(mer_gw_cache_t *c, const char *key, size_t klen, uint64_t gen, uint64_t now_ms,
                                       uint64_t ttl_ms, int status, const mer_gw_cached_header_t *headers,
                                       size_t nheaders, const char *body, size_t body_len)
{
    size_t size = sizeof(mer_gw_entry_t) + klen + nheaders * sizeof(mer_gw_cached_header_t) + body_len;
    for (size_t i = 0; i < nheaders; i++)
        size += headers[i].nlen + headers[i].vlen;
    if (size + ENTRY_OVERHEAD > c->max_bytes / 4)
        return NULL;
    uint64_t h = mer_hash64(key, klen);
    mer_gw_entry_t *old = find(c, key, klen, h);
    if (old)
        drop(c, old);
    while (c->bytes + size + ENTRY_OVERHEAD > c->max_bytes && !h2o_linklist_is_empty(&c->lru)) {
        drop(c, H2O_STRUCT_FROM_MEMBER(mer_gw_entry_t, lru, c->lru.prev)); /* the least recently used */
        count(&c->stats.evictions, 1);
    }
    /* one allocation: the struct, the header array, then the key, the header bytes and the body */
    mer_gw_entry_t *e = h2o_mem_alloc_shared(NULL, size, NULL);
    memset(e, 0, sizeof(*e));
    mer_gw_cached_header_t *hs = (void *)(e + 1);
    char *p = (char *)(hs + nheaders);
    memcpy(p, key, klen);
    e->key = p;
    e->klen = klen;
    p += klen;
    for (size_t i = 0; i < nheaders; i++) {
        memcpy(p, headers[i].name, headers[i].nlen);
        hs[i].name = p;
        hs[i].nlen = headers[i].nlen;
        p += headers[i].nlen;
        memcpy(p, headers[i].value, headers[i].vlen);
        hs[i].value = p;
        hs[i].vlen = headers[i].vlen;
        p += headers[i].vlen;
    }
    if (body_len)
        memcpy(p, body, body_len);
    e->body = p;
    e->body_len = body_len;
    e->headers = hs;
    e->nheaders = nheaders;
    e->hash = h;
    e->gen = gen;
    e->stored_ms = now_ms;
    e->expires_ms = now_ms + ttl_ms;
    e->status = status;
    e->size = size + ENTRY_OVERHEAD;
    mer_gw_entry_t **b = &c->buckets[h & (c->nbuckets - 1)];
    e->next = *b;
    *b = e;
    h2o_linklist_insert(c->lru.next, &e->lru);
    c->bytes += e->size;
    count(&c->stats.bytes, (int64_t)e->size);
    count(&c->stats.entries, 1);
    count(&c->stats.stores, 1);
    return e;
}

const mer_gw_cache_stats_t *mer_gw_cache_stats(const mer_gw_cache_t *c)
{
    return &c->stats;
}
