/*
 * module.h — the module table: what a part of Meridian declares so that a process can run it.
 *
 * In the spirit of nginx's ngx_module_t: every module (a domain such as catalog or order, and the pieces
 * of infrastructure a server needs: the store's writers, the offload pool, the http layer's own
 * endpoints) exports one constant mer_module_t, `mer_<name>_module`, whose slots say how it starts, which
 * routes it serves, what it does on each worker thread, how it stops, what it adds to /metrics and how it
 * tells /readyz whether it can serve. A command that serves (`meridian serve`, later `gateway`) lists the
 * modules it runs in one array and walks it; nothing else is wired by hand. A slot a module does not need
 * is left NULL (0).
 *
 * Lifecycle, as `serve` walks the table (src/main.c):
 *   1. configuration: the command passes each module its command-line options before anything starts
 *      (e.g. mer_wallet_configure, mer_events_configure) — options are the command's, not the table's;
 *   2. init, in table order, on the main thread before any worker runs; then the routes of each module
 *      are registered in table order (the router tries tables in that order);
 *   3. thread_start on every worker thread, in table order; thread_exit on every thread of the process as it
 *      exits (workers, pools, writers, listeners: core/exec.h's mer_thread_exit);
 *   4. on SIGTERM, once the requests in flight are answered: stop, phase by phase (mer_stop_phase_t), in
 *      table order within a phase;
 *   5. release, in reverse table order, after every worker has exited.
 * metrics and ready are called while serving (GET /metrics, GET /readyz) on a thread of the store's read
 * pool, never on an event loop, so they may read the databases (mer_store_reader); several at once, at any
 * time: they read shared state only as its owner allows (atomics, the module's lock).
 *
 * This header includes nothing above core: the store and http layers define modules too. Route tables
 * are declared in http/req.h; a module only points at them.
 */
#ifndef MER_MODULE_H
#define MER_MODULE_H

#include "core/buf.h"

typedef struct mer_module mer_module_t;
typedef struct mer_routes mer_routes_t; /* one route table, see http/req.h */

/*
 * The order in which modules stop, once the requests in flight are answered (or the grace period is
 * over). Phases run one after the other; everything of one phase has stopped before the next begins.
 * Nothing acknowledged may be lost, so: first nothing starts new writes in the background, then the
 * writers commit and answer what is queued, then the pools go.
 */
typedef enum mer_stop_phase {
    MER_STOP_PRODUCERS = 0, /* background producers of writes: the order sweeper, the flash-sale
                               processor, the event dispatcher */
    MER_STOP_WRITERS,       /* drain every writer queue (queued jobs still commit and answer), then stop;
                               a write submitted later is refused (503), never half done */
    MER_STOP_POOLS,         /* the offload pool: runs the jobs already queued, then its threads exit */
    MER_STOP__COUNT
} mer_stop_phase_t;

/* A readiness report: a module's ready() calls check() once per thing it depends on. */
typedef struct mer_ready mer_ready_t;
struct mer_ready {
    /* name: shown in /readyz's "checks" ("catalog", a region's name); ok: it answers right now */
    void (*check)(mer_ready_t *self, const char *name, bool ok);
};

/* The modules a process runs, in table order; handed to every init (like nginx's cycle). */
typedef struct mer_cycle {
    const mer_module_t *const *modules; /* static storage, valid until exit */
    size_t n;                           /* how many */
} mer_cycle_t;

struct mer_module {
    /* short and unique: "catalog", "order"; in start-up errors */
    const char *name;

    /*
     * Start-up, on the main thread, before any worker thread: load state, start the module's own
     * threads and timers, register commit hooks. The store is open and the catalogue loaded. Returns 0,
     * or non-zero to stop the process (a start-up error; the module may mer_die() with its own message).
     */
    int (*init)(const mer_cycle_t *cycle);

    /*
     * The module's HTTP endpoints: a NULL-terminated list of route tables (one per source file that
     * owns handlers), registered in order after init. NULL: no routes.
     */
    const mer_routes_t *const *routes;

    /* On each worker thread after its loop is set up and before it accepts; and on every thread of the
     * process just before it exits (close per-thread connections, free per-thread caches). */
    void (*thread_start)(void);
    void (*thread_exit)(void);

    /*
     * Shutdown, on the main thread, after the requests in flight are answered and before the worker
     * threads are joined; stop_phase says when (see mer_stop_phase_t). Must return only once the module
     * makes no more writes (or, for a writer, once its queue is committed).
     */
    mer_stop_phase_t stop_phase;
    void (*stop)(void);

    /* After every worker thread has exited: free what init allocated that outlives stop. */
    void (*release)(void);

    /* GET /metrics: appends the module's Prometheus families (# HELP and # TYPE lines included). */
    void (*metrics)(mer_buf_t *out);

    /* GET /readyz: reports each thing the module needs to serve (a database answers) through out. */
    void (*ready)(mer_ready_t *out);
};

/*
 * The list of route tables of a module, for its `routes` slot:
 *     .routes = MER_MODULE_ROUTES(&mer_checkout_routes, &mer_order_routes),
 */
#define MER_MODULE_ROUTES(...) ((const mer_routes_t *const[]){__VA_ARGS__, NULL})

#endif
