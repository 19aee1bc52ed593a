#include "http/rcache.h"

#include <stdatomic.h>
#include <stdio.h>

#include "core/banned.h"

#define RCACHE_CAP 65536                 /* slots, a power of two; emptied at half */
#define RCACHE_BYTES ((size_t)128 << 20) /* bodies per thread; emptied beyond (bounds memory) */

typedef struct rcache {
    mer_rcache_entry_t *slots;
    size_t count;
    size_t bytes;                  /* of the bodies held */
    uint64_t seen;                 /* the value of invalidations at this thread's last lookup */
    _Atomic uint64_t hits, misses; /* written by the owner only; read by /metrics */
} rcache_t;

static int slot_index = -1;
static _Atomic uint64_t invalidations;     /* advanced by mer_rcache_invalidate() */
static _Atomic(rcache_t *) all_caches[64]; /* by worker index, for the counters */

static void entry_clear(mer_rcache_entry_t *e)
{
    free(e->key);
    if (e->body)
        h2o_mem_release_shared(e->body);
    memset(e, 0, sizeof(*e));
}

static void clear_all(rcache_t *c)
{
    for (size_t i = 0; i < RCACHE_CAP; i++)
        if (c->slots[i].key)
            entry_clear(&c->slots[i]);
    c->count = 0;
    c->bytes = 0;
}

static void rcache_release(void *p)
{
    rcache_t *c = p;
    for (size_t i = 0; i < 64; i++)
        if (atomic_load(&all_caches[i]) == c)
            atomic_store(&all_caches[i], NULL);
    clear_all(c);
    free(c->slots);
    free(c);
}

void mer_rcache_init(void)
{
    if (slot_index < 0)
        slot_index = mer_worker_slot_register(rcache_release);
}

static rcache_t *self_cache(void)
{
    mer_worker_t *w = mer_worker_self();
    if (w == NULL || slot_index < 0)
        return NULL;
    rcache_t *c = w->slots[slot_index];
    if (c == NULL) {
        c = mer_xcalloc(1, sizeof(*c));
        c->slots = mer_xcalloc(RCACHE_CAP, sizeof(*c->slots));
        w->slots[slot_index] = c;
        if (w->index < 64)
            atomic_store(&all_caches[w->index], c);
    }
    return c;
}

static mer_rcache_entry_t *probe(rcache_t *c, const char *key, size_t klen, uint64_t h)
{
    for (size_t i = 0; i < RCACHE_CAP; i++) {
        mer_rcache_entry_t *e = &c->slots[(h + i) & (RCACHE_CAP - 1)];
        if (e->key == NULL || (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0))
            return e;
    }
    MER_BUG("rcache full");
}

const mer_rcache_entry_t *mer_rcache_get(const char *key, size_t klen, uint64_t gen)
{
    rcache_t *c = self_cache();
    if (c == NULL)
        return NULL;
    /* an answer put after this lookup was built after it too: if an invalidation comes in between, the
     * next lookup sees it and empties the cache */
    uint64_t inv = atomic_load_explicit(&invalidations, memory_order_acquire);
    if (inv != c->seen) {
        clear_all(c);
        c->seen = inv;
    }
    mer_rcache_entry_t *e = probe(c, key, klen, mer_hash64(key, klen));
    if (e->key == NULL || e->gen != gen) {
        atomic_store_explicit(&c->misses, atomic_load_explicit(&c->misses, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return NULL;
    }
    atomic_store_explicit(&c->hits, atomic_load_explicit(&c->hits, memory_order_relaxed) + 1, memory_order_relaxed);
    return e;
}

const mer_rcache_entry_t *mer_rcache_put(const char *key, size_t klen, uint64_t gen, int status, const char *body,
                                         size_t len, const char *cache_control)
{
    static mer_rcache_entry_t scratch[1]; /* outside workers (tests, CLI): a throw-away entry per call */
    rcache_t *c = self_cache();
    mer_rcache_entry_t *e;
    uint64_t h = mer_hash64(key, klen);
    if (c == NULL) {
        e = scratch;
        if (e->key)
            entry_clear(e);
    } else {
        if (c->count >= RCACHE_CAP / 2 || c->bytes + len > RCACHE_BYTES)
            clear_all(c);
        e = probe(c, key, klen, h);
        if (e->key) {
            c->bytes -= e->len;
            entry_clear(e);
        } else {
            c->count++;
        }
        c->bytes += len;
    }
    e->key = mer_xstrndup(key, klen);
    e->klen = klen;
    e->hash = h;
    e->gen = gen;
    e->status = status;
    e->body = h2o_mem_alloc_shared(NULL, len ? len : 1, NULL);
    memcpy(e->body, body, len);
    e->len = len;
    e->cache_control = cache_control;
    uint64_t bh = mer_hash64(body, len);
    snprintf(e->etag, sizeof(e->etag), "\"%016llx\"", (unsigned long long)bh);
    return e;
}

void mer_rcache_invalidate(void)
{
    atomic_fetch_add_explicit(&invalidations, 1, memory_order_acq_rel);
}

void mer_reply_cached(mer_req_t *r, const mer_rcache_entry_t *e)
{
    if (r->gone)
        return;
    h2o_req_t *req = r->h2o;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, e->etag, strlen(e->etag));
    if (e->cache_control)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, e->cache_control,
                       strlen(e->cache_control));
    if (e->status == 200 && mer_req_etag_matches(r, e->etag)) {
        mer_reply_bytes(r, 304, NULL, "", 0);
        return;
    }
    h2o_mem_link_shared(&req->pool, e->body);
    mer_reply_bytes(r, e->status, NULL, e->body, e->len);
}

static uint64_t sum(bool want_hits)
{
    uint64_t n = 0;
    for (size_t i = 0; i < 64; i++) {
        rcache_t *c = atomic_load(&all_caches[i]);
        if (c)
            n += want_hits ? atomic_load_explicit(&c->hits, memory_order_relaxed)
                           : atomic_load_explicit(&c->misses, memory_order_relaxed);
    }
    return n;
}

uint64_t mer_rcache_hits(void)
{
    return sum(true);
}

uint64_t mer_rcache_misses(void)
{
    return sum(false);
}
