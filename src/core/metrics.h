/*
 * metrics.h — counters and fixed-bucket histograms that cost no lock, and their Prometheus text.
 *
 * Hot paths count into state that only one thread writes (a worker's own counters, a region writer's
 * own histograms): the owner adds with a relaxed load and store, which compiles to plain moves, and the
 * /metrics scrape reads with relaxed loads from another thread and sums. A value read while its owner
 * writes is the old or the new one, never a torn one; a scrape is not an atomic snapshot across series
 * (a histogram's _sum may be one observation ahead of its buckets), which Prometheus tolerates.
 *
 * A histogram's buckets are fixed at compile time (mer_hist_spec_t): observations are integers in a unit
 * of the caller's choice (nanoseconds, jobs) and are exported divided by 10^decimals (nanoseconds with
 * decimals 9 come out in seconds, exactly: no floating point is involved).
 *
 *     static const uint64_t bounds[] = {1000000, 10000000, 100000000};   // 1 ms, 10 ms, 100 ms
 *     static const mer_hist_spec_t spec = MER_HIST_SPEC(bounds, 9);
 *     mer_hist_observe(&h, &spec, elapsed_ns);                           // owner thread only
 *     ...
 *     mer_hist_snap_t s = {0};
 *     mer_hist_snap_add(&s, &h, &spec);                                   // any thread, per owner
 *     mer_prom_family(out, "x_seconds", "histogram", "What it measures.");
 *     mer_prom_hist(out, "x_seconds", "region=\"in\"", &spec, &s);
 *
 * The text follows the Prometheus exposition format 0.0.4: every family once, with # HELP and # TYPE
 * before its samples; histogram buckets cumulative, ending with le="+Inf", then _sum and _count.
 */
#ifndef MER_METRICS_H
#define MER_METRICS_H

#include <stdatomic.h>

#include "core/buf.h"
#include "core/common.h"

#define MER_HIST_MAX_BOUNDS 24

typedef struct mer_hist_spec {
    const uint64_t *bounds; /* ascending upper bounds (inclusive), in observation units */
    size_t n;               /* at most MER_HIST_MAX_BOUNDS; +Inf is implied */
    int decimals;           /* exported value = observation / 10^decimals (0..9) */
} mer_hist_spec_t;

#define MER_HIST_SPEC(bounds, decimals)                                                                                \
    {                                                                                                                  \
        (bounds), MER_ARRAY_LEN(bounds), (decimals)                                                                    \
    }

/* One histogram; zero-initialised is empty. Written by one thread only. */
typedef struct mer_hist {
    _Atomic uint64_t bucket[MER_HIST_MAX_BOUNDS + 1]; /* per bucket, not cumulative; [spec->n] is +Inf */
    _Atomic uint64_t sum;                             /* of the observations, in observation units */
} mer_hist_t;

/* A plain sum of histograms of one spec, built at scrape time. */
typedef struct mer_hist_snap {
    uint64_t bucket[MER_HIST_MAX_BOUNDS + 1];
    uint64_t sum;
} mer_hist_snap_t;

/* Adds d to a counter that only the calling thread writes. */
static inline void mer_stat_add(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

static inline uint64_t mer_stat_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Records v in h (owner thread only). */
void mer_hist_observe(mer_hist_t *h, const mer_hist_spec_t *spec, uint64_t v);
/* Adds h's current counts into s (any thread). */
void mer_hist_snap_add(mer_hist_snap_t *s, const mer_hist_t *h, const mer_hist_spec_t *spec);
/* The number of observations in s. */
uint64_t mer_hist_snap_count(const mer_hist_snap_t *s, const mer_hist_spec_t *spec);

/* Writes "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
void mer_prom_family(mer_buf_t *out, const char *name, const char *type, const char *help);
/*
 * Writes the samples of one histogram series: name_bucket{labels,le="..."} for every bound and +Inf
 * (cumulative), name_sum{labels} and name_count{labels}. labels is a ready list (key="value",...) or "".
 */
void mer_prom_hist(mer_buf_t *out, const char *name, const char *labels, const mer_hist_spec_t *spec,
                   const mer_hist_snap_t *s);
/* Appends key="value" with value escaped as a label value (\\, \" and \n); a comma first if out is not empty. */
void mer_prom_label(mer_buf_t *out, const char *key, const char *value);
/* Appends v / 10^decimals as an exact decimal ("0.0025", "3", "12.5"). */
void mer_prom_scaled(mer_buf_t *out, uint64_t v, int decimals);

#endif
