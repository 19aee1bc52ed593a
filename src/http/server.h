/*
 * server.h — the HTTP server: h2o's evloop, one event loop per worker thread.
 *
 * Each worker thread owns an h2o context, its own listening socket bound with SO_REUSEPORT (the kernel
 * spreads connections across workers) and the per-thread state that keeps hot paths free of locks:
 * response caches, reader connections, the access-log buffer. Nothing in a mer_worker_t is touched by
 * another thread except through h2o's multithread queue (mer_worker_post).
 *
 * Shutdown (SIGTERM/SIGINT): the main thread stops every listener, waits until the in-flight requests
 * of all workers have been answered (up to a grace period), runs the registered stop hooks (e.g. the
 * order writer drains its queue), then joins the workers and returns from mer_server_run(), so the
 * process exits 0.
 */
#ifndef MER_SERVER_H
#define MER_SERVER_H

#include <h2o.h>
#include <pthread.h>

#include "core/buf.h"
#include "core/common.h"

typedef struct mer_server_config {
    const char *host;        /* listen address, default 127.0.0.1 */
    int port;                /* default 8080 */
    int threads;             /* worker threads; 0 = one per core */
    size_t max_body;         /* bytes; larger bodies get 413 */
    uint64_t idle_timeout_ms;
    uint64_t grace_ms;       /* how long shutdown waits for in-flight requests */
    const char *access_log;  /* path, "-" for stderr, NULL for none */
} mer_server_config_t;

typedef struct mer_worker mer_worker_t;

#define MER_MAX_WORKERS 64 /* worker threads at most; mer_worker_t.index is below */

/* A message posted to a worker's loop; cb runs on that worker's thread. */
typedef struct mer_worker_msg {
    h2o_multithread_message_t super;
    void (*cb)(struct mer_worker_msg *msg);
} mer_worker_msg_t;

struct mer_worker {
    int index;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_multithread_receiver_t control; /* shutdown requests */
    h2o_multithread_receiver_t inbox;   /* mer_worker_msg_t from other threads */
    _Atomic long inflight;              /* requests accepted and not yet answered */
    uint64_t next_request;              /* request id counter */
    mer_buf_t access_log;               /* buffered JSON lines, flushed by size and timer */
    h2o_timeout_t flush_timeout;
    h2o_timeout_entry_t flush_entry;
    void *slots[8];                     /* per-module per-thread state, see mer_worker_slot_register() */
};

/* The worker running on the calling thread, or NULL outside worker threads. */
mer_worker_t *mer_worker_self(void);

/*
 * Per-module per-thread state. A module reserves a slot index once at start-up with
 * mer_worker_slot_register(release) and then keeps its state in worker->slots[index]; release runs on the
 * worker's thread when the worker stops.
 */
int mer_worker_slot_register(void (*release)(void *state));

/* Posts msg to worker w; msg->cb runs on w's thread. msg must stay valid until then. */
void mer_worker_post(mer_worker_t *w, mer_worker_msg_t *msg);

/* Called on each worker thread just before it exits (close per-thread connections, caches). */
void mer_server_on_thread_exit(void (*hook)(void));

/* Called at shutdown after in-flight requests are done and before workers stop. */
void mer_server_on_stop(void (*hook)(void));

/*
 * Binds, starts the workers, and blocks until SIGTERM/SIGINT shutdown is complete. Returns 0, or -1 if a
 * listener could not be opened. The stop hooks have run either way.
 */
int mer_server_run(const mer_server_config_t *cfg, int (*on_request)(h2o_handler_t *self, h2o_req_t *req));

/* Requests in flight over all workers, for /metrics. */
long mer_server_inflight(void);

/* The client's IP address of a connection as text ("" if unknown). */
void mer_server_peer(h2o_conn_t *conn, char out[64]);

/* Increments/decrements the in-flight count for asynchronous answers (see http/req.h). */
void mer_worker_inflight_add(mer_worker_t *w, long d);

#endif
