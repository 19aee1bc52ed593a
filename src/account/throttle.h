/*
 * throttle.h — back-off for failed logins, per key ("account:<region>:<user>" or "ip:<address>").
 *
 * After `free_failures` consecutive failures a key is blocked for 1 s, then 2 s, 4 s, ... up to 15 minutes
 * per further failure. A success clears the key.
 *
 * State is in memory: one table behind a mutex (logins are rare next to reads, and each failure has cost
 * an argon2id verification far dearer than the lock). Invariants:
 *   - Keys of any length are told apart in full: an entry is named by a keyed BLAKE2b-128 of the whole key,
 *     with a secret drawn when the table is made. Nobody can craft two keys that share an entry, so a
 *     failure against one key never blocks another.
 *   - The table is bounded (`capacity` keys). When it is full, a new key takes the entry of the key whose
 *     last failure is the oldest among those that are not blocked right now (least recently failed).
 *   - A key that is blocked is never forgotten before its block ends. If every entry is blocked, the new
 *     key's failure is not recorded (mer_throttle_fail returns -1); the table never wipes itself.
 *
 * The table owns its memory: mer_throttle_new allocates it, mer_throttle_free releases it. All functions
 * are safe to call from any thread.
 */
#ifndef MER_THROTTLE_H
#define MER_THROTTLE_H

#include "core/common.h"

typedef struct mer_throttle mer_throttle_t;

/* A table for at most capacity keys (1 .. 2^31). Aborts on out-of-memory; free with mer_throttle_free. */
mer_throttle_t *mer_throttle_new(size_t capacity);
void mer_throttle_free(mer_throttle_t *t);

/* 0 if key may try now, else the seconds to wait (for Retry-After). */
int mer_throttle_check(mer_throttle_t *t, const char *key, int64_t now_ms);

/*
 * Counts a failure of key at now_ms, blocking it from the free_failures-th on. Returns 0, or -1 if the
 * table is full of blocked keys and this failure of a new key could not be recorded.
 */
int mer_throttle_fail(mer_throttle_t *t, const char *key, int free_failures, int64_t now_ms);

/* Forgets key (after a success); its entry is free for another key. */
void mer_throttle_clear(mer_throttle_t *t, const char *key);

/* How many keys the table holds now. */
size_t mer_throttle_count(mer_throttle_t *t);

#endif
