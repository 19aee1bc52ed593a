#include "core/smap.h"

#include "core/banned.h"

static uint64_t mix(int64_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void mer_smap_init(mer_smap_t *m)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < MER_SMAP_SHARDS; i++)
        pthread_mutex_init(&m->shards[i].mu, NULL);
}

void mer_smap_release(mer_smap_t *m)
{
    for (int i = 0; i < MER_SMAP_SHARDS; i++) {
        free(m->shards[i].keys);
        free(m->shards[i].vals);
        pthread_mutex_destroy(&m->shards[i].mu);
    }
    memset(m, 0, sizeof(*m));
}

static mer_smap_shard_t *shard_of(mer_smap_t *m, int64_t key, uint64_t *h)
{
    *h = mix(key);
    return &m->shards[*h % MER_SMAP_SHARDS];
}

/* The slot holding key, or the empty slot where it belongs (s->cap > 0; the table is never full). */
static size_t probe(const mer_smap_shard_t *s, int64_t key, uint64_t h)
{
    size_t mask = s->cap - 1, i = (h >> 6) & mask;
    while (s->keys[i] != key && s->keys[i] != 0)
        i = (i + 1) & mask;
    return i;
}

static void grow(mer_smap_shard_t *s)
{
    size_t ocap = s->cap;
    int64_t *ok = s->keys, *ov = s->vals;
    s->cap = ocap ? ocap * 2 : 64;
    s->keys = mer_xcalloc(s->cap, sizeof(int64_t));
    s->vals = mer_xcalloc(s->cap, sizeof(int64_t));
    for (size_t i = 0; i < ocap; i++) {
        if (ok[i] == 0)
            continue;
        size_t j = probe(s, ok[i], mix(ok[i]));
        s->keys[j] = ok[i];
        s->vals[j] = ov[i];
    }
    free(ok);
    free(ov);
}

/* Slot index of key in s, inserting it at 0 if missing (caller holds the lock). */
static size_t insert(mer_smap_shard_t *s, int64_t key, uint64_t h)
{
    if (s->cap == 0)
        grow(s);
    size_t i = probe(s, key, h);
    if (s->keys[i] == key)
        return i;
    if ((s->n + 1) * 2 > s->cap) {
        grow(s);
        i = probe(s, key, h);
    }
    s->keys[i] = key;
    s->vals[i] = 0;
    s->n++;
    return i;
}

/* Locks key's shard and returns key's value, inserted at 0 if missing. Unlock with (*sp)->mu. */
static int64_t *lock_value(mer_smap_t *m, int64_t key, mer_smap_shard_t **sp)
{
    uint64_t h;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    *sp = s;
    size_t i = insert(s, key, h); /* may grow s->vals: index it afterwards */
    return &s->vals[i];
}

int64_t mer_smap_get(mer_smap_t *m, int64_t key)
{
    uint64_t h;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    int64_t v = 0;
    pthread_mutex_lock(&s->mu);
    if (s->cap) {
        size_t i = probe(s, key, h);
        if (s->keys[i] == key)
            v = s->vals[i];
    }
    pthread_mutex_unlock(&s->mu);
    return v;
}

int64_t mer_smap_add(mer_smap_t *m, int64_t key, int64_t delta)
{
    mer_smap_shard_t *s;
    int64_t *v = lock_value(m, key, &s);
    int64_t r = *v += delta;
    pthread_mutex_unlock(&s->mu);
    return r;
}

int64_t mer_smap_add_upto(mer_smap_t *m, int64_t key, int64_t delta, int64_t limit)
{
    mer_smap_shard_t *s;
    int64_t *v = lock_value(m, key, &s);
    int64_t r = *v + delta <= limit ? (*v += delta) : -1;
    pthread_mutex_unlock(&s->mu);
    return r;
}

int64_t mer_smap_set(mer_smap_t *m, int64_t key, int64_t value)
{
    mer_smap_shard_t *s;
    int64_t *v = lock_value(m, key, &s);
    int64_t old = *v;
    *v = value;
    pthread_mutex_unlock(&s->mu);
    return old;
}

bool mer_smap_gcra(mer_smap_t *m, int64_t key, int64_t now, int64_t interval, int64_t burst)
{
    mer_smap_shard_t *s;
    int64_t *v = lock_value(m, key, &s);
    int64_t tat = MER_MAX(*v, now);
    bool ok = tat - now <= interval * (burst - 1);
    if (ok)
        *v = tat + interval;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t mer_smap_count(mer_smap_t *m)
{
    size_t n = 0;
    for (int i = 0; i < MER_SMAP_SHARDS; i++) {
        pthread_mutex_lock(&m->shards[i].mu);
        n += m->shards[i].n;
        pthread_mutex_unlock(&m->shards[i].mu);
    }
    return n;
}
