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

/* Slot index of key in s, inserting it if missing (caller holds the lock). */
static size_t slot(mer_smap_shard_t *s, int64_t key, uint64_t h, bool insert, bool *found);

static void grow(mer_smap_shard_t *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 64;
    int64_t *ok = s->keys, *ov = s->vals;
    size_t ocap = s->cap;
    s->keys = mer_xcalloc(ncap, sizeof(int64_t));
    s->vals = mer_xcalloc(ncap, sizeof(int64_t));
    s->cap = ncap;
    s->n = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (ok[i] == 0)
            continue;
        bool found;
        size_t j = slot(s, ok[i], mix(ok[i]), true, &found);
        s->vals[j] = ov[i];
    }
    free(ok);
    free(ov);
}

static size_t slot(mer_smap_shard_t *s, int64_t key, uint64_t h, bool insert, bool *found)
{
    *found = false;
    if (s->cap == 0) {
        if (!insert)
            return SIZE_MAX;
        grow(s);
    }
    size_t mask = s->cap - 1, i = (h >> 6) & mask;
    for (;;) {
        if (s->keys[i] == key) {
            *found = true;
            return i;
        }
        if (s->keys[i] == 0) {
            if (!insert)
                return SIZE_MAX;
            if ((s->n + 1) * 2 > s->cap) {
                grow(s);
                return slot(s, key, h, insert, found);
            }
            s->keys[i] = key;
            s->vals[i] = 0;
            s->n++;
            return i;
        }
        i = (i + 1) & mask;
    }
}

int64_t mer_smap_get(mer_smap_t *m, int64_t key)
{
    uint64_t h;
    bool found;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    size_t i = slot(s, key, h, false, &found);
    int64_t v = found ? s->vals[i] : 0;
    pthread_mutex_unlock(&s->mu);
    return v;
}

int64_t mer_smap_add(mer_smap_t *m, int64_t key, int64_t delta)
{
    uint64_t h;
    bool found;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    size_t i = slot(s, key, h, true, &found);
    int64_t v = s->vals[i] += delta;
    pthread_mutex_unlock(&s->mu);
    return v;
}

int64_t mer_smap_add_upto(mer_smap_t *m, int64_t key, int64_t delta, int64_t limit)
{
    uint64_t h;
    bool found;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    size_t i = slot(s, key, h, true, &found);
    int64_t v = -1;
    if (s->vals[i] + delta <= limit)
        v = s->vals[i] += delta;
    pthread_mutex_unlock(&s->mu);
    return v;
}

int64_t mer_smap_set(mer_smap_t *m, int64_t key, int64_t value)
{
    uint64_t h;
    bool found;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    size_t i = slot(s, key, h, true, &found);
    int64_t old = s->vals[i];
    s->vals[i] = value;
    pthread_mutex_unlock(&s->mu);
    return old;
}

bool mer_smap_gcra(mer_smap_t *m, int64_t key, int64_t now, int64_t interval, int64_t burst)
{
    uint64_t h;
    bool found, ok;
    mer_smap_shard_t *s = shard_of(m, key, &h);
    pthread_mutex_lock(&s->mu);
    size_t i = slot(s, key, h, true, &found);
    int64_t tat = s->vals[i] > now ? s->vals[i] : now;
    ok = tat - now <= interval * (burst - 1);
    if (ok)
        s->vals[i] = tat + interval;
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

size_t mer_smap_bytes(mer_smap_t *m)
{
    size_t b = 0;
    for (int i = 0; i < MER_SMAP_SHARDS; i++)
        b += m->shards[i].cap * 2 * sizeof(int64_t);
    return b;
}
