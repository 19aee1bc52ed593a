#include "account/throttle.h"

#include <pthread.h>
#include <stdio.h>

#include "core/banned.h"

#define SLOTS 8192
#define MAX_BLOCK_MS (15 * 60 * 1000)
#define STALE_MS (60 * 60 * 1000)

typedef struct entry {
    char key[120];
    int failures;
    int64_t blocked_until;
    int64_t last;
} entry_t;

static entry_t table[SLOTS];
static size_t used;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Finds key's slot, or an empty one for it (NULL if the table is full). */
static entry_t *slot(const char *key, bool create)
{
    uint64_t h = mer_hash64(key, strlen(key));
    for (size_t i = 0; i < SLOTS; i++) {
        entry_t *e = &table[(h + i) % SLOTS];
        if (e->key[0] == '\0')
            return create ? e : NULL;
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void rebuild_without_stale(int64_t now)
{
    static entry_t keep[SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++)
        if (table[i].key[0] && now - table[i].last < STALE_MS)
            keep[n++] = table[i];
    memset(table, 0, sizeof(table));
    used = 0;
    if (n > SLOTS / 2)
        n = 0; /* still too full: forget everything rather than stop logins */
    for (size_t i = 0; i < n; i++) {
        entry_t *e = slot(keep[i].key, true);
        *e = keep[i];
        used++;
    }
}

int mer_throttle_check(const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&mu);
    entry_t *e = slot(key, false);
    int wait = 0;
    if (e && e->blocked_until > now_ms)
        wait = (int)((e->blocked_until - now_ms + 999) / 1000);
    pthread_mutex_unlock(&mu);
    return wait;
}

void mer_throttle_fail(const char *key, int free_failures, int64_t now_ms)
{
    pthread_mutex_lock(&mu);
    if (used >= SLOTS * 3 / 4)
        rebuild_without_stale(now_ms);
    entry_t *e = slot(key, true);
    if (e) {
        if (e->key[0] == '\0') {
            snprintf(e->key, sizeof(e->key), "%s", key);
            used++;
        }
        e->failures++;
        e->last = now_ms;
        if (e->failures >= free_failures) {
            int shift = e->failures - free_failures;
            int64_t block = shift >= 20 ? MAX_BLOCK_MS : MER_MIN((int64_t)1000 << shift, (int64_t)MAX_BLOCK_MS);
            e->blocked_until = now_ms + block;
        }
    }
    pthread_mutex_unlock(&mu);
}

void mer_throttle_clear(const char *key)
{
    pthread_mutex_lock(&mu);
    entry_t *e = slot(key, false);
    if (e) {
        /* keep the slot (probe chains stay intact) but forget the failures */
        e->failures = 0;
        e->blocked_until = 0;
    }
    pthread_mutex_unlock(&mu);
}
