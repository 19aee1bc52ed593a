/*
 * smap.h — a concurrent map from int64 keys (never 0) to int64 values, sharded 64 ways with a mutex per
 * shard (after Java's ConcurrentHashMap segments): two threads collide on a lock only when their keys
 * land in the same shard, and the critical sections are a few dozen instructions.
 *
 * Memory: each shard is an open-addressing table kept at most half full, 16 bytes per slot, so about
 * 32 bytes per key in the worst case and 16-32 on average. Keys cannot be removed (a value can go to 0).
 * Used for flash-sale reservations (value 1), per-buyer win counts and rate-limit state.
 */
#ifndef MER_SMAP_H
#define MER_SMAP_H

#include <pthread.h>

#include "core/common.h"

#define MER_SMAP_SHARDS 64

typedef struct mer_smap_shard {
    pthread_mutex_t mu;
    int64_t *keys; /* 0 = empty */
    int64_t *vals;
    size_t cap, n;
    char pad[64 - sizeof(pthread_mutex_t) % 64];
} mer_smap_shard_t;

typedef struct mer_smap {
    mer_smap_shard_t shards[MER_SMAP_SHARDS];
} mer_smap_t;

void mer_smap_init(mer_smap_t *m);
void mer_smap_release(mer_smap_t *m);
/* The value of key, or 0 when absent. */
int64_t mer_smap_get(mer_smap_t *m, int64_t key);
/* Adds delta to key's value (inserting it at 0 first) and returns the new value. */
int64_t mer_smap_add(mer_smap_t *m, int64_t key, int64_t delta);
/*
 * Adds delta only if the result stays <= limit; returns the new value, or -1 (unchanged) if it would
 * exceed the limit. The check and the update are one atomic step.
 */
int64_t mer_smap_add_upto(mer_smap_t *m, int64_t key, int64_t delta, int64_t limit);
/* Sets key to value; returns the previous value (0 when absent). */
int64_t mer_smap_set(mer_smap_t *m, int64_t key, int64_t value);
/*
 * Generic cell rate algorithm: the value is the theoretical arrival time. Returns true and advances
 * it if a request at now is allowed with one request per interval and a burst of burst requests.
 * Any time unit works as long as now and interval use the same one (flash sales use nanoseconds).
 */
bool mer_smap_gcra(mer_smap_t *m, int64_t key, int64_t now, int64_t interval, int64_t burst);
/* Number of keys. */
size_t mer_smap_count(mer_smap_t *m);

#endif
