/*
 * throttle.c — the failed-login table (see throttle.h).
 *
 * Layout: an array of `cap` entries handed out in order (so untouched memory stays untouched), a free list
 * of cleared entries, a power-of-two array of hash buckets with a chain through the entries, and a doubly
 * linked list of the live entries from the least recently failed ("oldest") to the most recently failed
 * ("newest"). Links are entry index + 1, so zeroed memory means "none".
 *
 * Eviction walks from the oldest entry. A blocked entry it meets is moved to the newest end (it must be
 * kept, and moving it means the next walk does not pay for it again); the first entry that is not blocked
 * is reused. A walk visits each live entry at most once, so a table full of blocked keys costs one pass
 * and then refuses the new key.
 */
#include "account/throttle.h"

#include <pthread.h>
#include <sodium.h>

#include "core/banned.h"

#define MAX_BLOCK_MS (15 * 60 * 1000)
#define ID_BYTES 16 /* BLAKE2b-128: collisions are out of reach, and the key is secret */

typedef uint32_t link_t; /* entry index + 1; 0 is none */

typedef struct entry {
    unsigned char id[ID_BYTES]; /* keyed hash of the key */
    link_t chain;               /* next entry in the same bucket, or in the free list */
    link_t older, newer;        /* neighbours in the recency list */
    int32_t failures;           /* consecutive failures (saturates) */
    int64_t blocked_until;      /* unix ms; the key may try again from then (0: not blocked) */
} entry_t;

struct mer_throttle {
    pthread_mutex_t mu;
    unsigned char secret[crypto_generichash_KEYBYTES]; /* set by mer_throttle_new, read-only after */
    size_t cap;                                        /* entries in e; read-only after new */
    size_t mask;                                       /* buckets - 1; read-only after new */
    /* everything below is guarded by mu */
    entry_t *e;
    link_t *bucket;        /* heads of the hash chains */
    size_t top;            /* entries e[0 .. top) have been handed out at least once */
    size_t used;           /* live entries */
    link_t free_list;      /* cleared entries, chained through .chain */
    link_t oldest, newest; /* ends of the recency list */
};

static entry_t *at(mer_throttle_t *t, link_t l)
{
    return &t->e[l - 1];
}

mer_throttle_t *mer_throttle_new(size_t capacity)
{
    if (capacity == 0 || capacity > (size_t)INT32_MAX)
        MER_BUG("throttle capacity %zu out of range", capacity);
    if (sodium_init() < 0)
        MER_BUG("libsodium cannot start");
    mer_throttle_t *t = mer_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    randombytes_buf(t->secret, sizeof(t->secret));
    size_t nb = 1;
    while (nb < capacity)
        nb <<= 1;
    t->cap = capacity;
    t->mask = nb - 1;
    t->e = mer_xcalloc(capacity, sizeof(entry_t));
    t->bucket = mer_xcalloc(nb, sizeof(link_t));
    return t;
}

void mer_throttle_free(mer_throttle_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    sodium_memzero(t->secret, sizeof(t->secret));
    free(t->e);
    free(t->bucket);
    free(t);
}

static void ident(const mer_throttle_t *t, const char *key, unsigned char id[ID_BYTES])
{
    crypto_generichash(id, ID_BYTES, (const unsigned char *)key, strlen(key), t->secret, sizeof(t->secret));
}

static link_t *head_of(mer_throttle_t *t, const unsigned char id[ID_BYTES])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h)); /* the id is already a keyed hash: any 64 bits of it spread evenly */
    return &t->bucket[h & t->mask];
}

/* The entry named id, or 0. */
static link_t find(mer_throttle_t *t, const unsigned char id[ID_BYTES])
{
    for (link_t l = *head_of(t, id); l; l = at(t, l)->chain)
        if (memcmp(at(t, l)->id, id, ID_BYTES) == 0)
            return l;
    return 0;
}

static void list_unlink(mer_throttle_t *t, link_t l)
{
    entry_t *e = at(t, l);
    if (e->older)
        at(t, e->older)->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        at(t, e->newer)->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = 0;
}

static void list_push_newest(mer_throttle_t *t, link_t l)
{
    entry_t *e = at(t, l);
    e->older = t->newest;
    e->newer = 0;
    if (t->newest)
        at(t, t->newest)->newer = l;
    else
        t->oldest = l;
    t->newest = l;
}

/* Takes l out of its hash chain and the recency list; the caller reuses or frees it. */
static void detach(mer_throttle_t *t, link_t l)
{
    link_t *p = head_of(t, at(t, l)->id);
    while (*p != l)
        p = &at(t, *p)->chain;
    *p = at(t, l)->chain;
    list_unlink(t, l);
    t->used--;
}

/* The least recently failed entry that is not blocked at now, detached; 0 if every entry is blocked. */
static link_t evict(mer_throttle_t *t, int64_t now)
{
    for (size_t seen = 0, n = t->used; seen < n; seen++) {
        link_t l = t->oldest;
        if (at(t, l)->blocked_until <= now) {
            detach(t, l);
            return l;
        }
        list_unlink(t, l);
        list_push_newest(t, l);
    }
    return 0;
}

/* A detached entry for a new key: a free one, a never used one, or an evicted one; 0 if none. */
static link_t take(mer_throttle_t *t, int64_t now)
{
    if (t->free_list) {
        link_t l = t->free_list;
        t->free_list = at(t, l)->chain;
        return l;
    }
    if (t->top < t->cap)
        return (link_t)++t->top;
    return evict(t, now);
}

int mer_throttle_check(mer_throttle_t *t, const char *key, int64_t now_ms)
{
    unsigned char id[ID_BYTES];
    ident(t, key, id);
    pthread_mutex_lock(&t->mu);
    link_t l = find(t, id);
    int64_t until = l ? at(t, l)->blocked_until : 0;
    pthread_mutex_unlock(&t->mu);
    return until > now_ms ? (int)((until - now_ms + 999) / 1000) : 0;
}

int mer_throttle_fail(mer_throttle_t *t, const char *key, int free_failures, int64_t now_ms)
{
    unsigned char id[ID_BYTES];
    ident(t, key, id);
    pthread_mutex_lock(&t->mu);
    link_t l = find(t, id);
    if (l) {
        list_unlink(t, l);
    } else if ((l = take(t, now_ms)) != 0) {
        entry_t *e = at(t, l);
        memset(e, 0, sizeof(*e));
        memcpy(e->id, id, ID_BYTES);
        link_t *head = head_of(t, id);
        e->chain = *head;
        *head = l;
        t->used++;
    } else {
        pthread_mutex_unlock(&t->mu);
        return -1;
    }
    list_push_newest(t, l);
    entry_t *e = at(t, l);
    if (e->failures < INT32_MAX)
        e->failures++;
    if (e->failures >= free_failures) {
        int shift = e->failures - free_failures;
        int64_t block = shift >= 20 ? MAX_BLOCK_MS : MER_MIN((int64_t)1000 << shift, (int64_t)MAX_BLOCK_MS);
        e->blocked_until = now_ms + block;
    }
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void mer_throttle_clear(mer_throttle_t *t, const char *key)
{
    unsigned char id[ID_BYTES];
    ident(t, key, id);
    pthread_mutex_lock(&t->mu);
    link_t l = find(t, id);
    if (l) {
        detach(t, l);
        at(t, l)->chain = t->free_list;
        t->free_list = l;
    }
    pthread_mutex_unlock(&t->mu);
}

size_t mer_throttle_count(mer_throttle_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->used;
    pthread_mutex_unlock(&t->mu);
    return n;
}
