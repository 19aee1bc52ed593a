/*
 * throttle.h — back-off for failed logins, per key ("account:<region>:<email>" or "ip:<address>").
 *
 * After `free_failures` consecutive failures a key is blocked for 1 s, then 2 s, 4 s, ... up to 15 minutes
 * per further failure. A success clears the key. State is in memory (one table behind a mutex; logins
 * are rare next to reads) and bounded: when full, stale entries go first, then everything.
 */
#ifndef MER_THROTTLE_H
#define MER_THROTTLE_H

#include "core/common.h"

/* 0 if key may try now, else the seconds to wait (for Retry-After). */
int mer_throttle_check(const char *key, int64_t now_ms);
void mer_throttle_fail(const char *key, int free_failures, int64_t now_ms);
void mer_throttle_clear(const char *key);

#endif
