/*
 * server.h — the HTTP server: h2o's evloop, one event loop per worker thread.
 *
 * Each worker thread owns an h2o context, its own listening socket bound with SO_REUSEPORT (the kernel
 * spreads connections across workers) and the per-thread state that keeps hot paths free of locks:
 * response caches, reader connections, the access-log buffer. Nothing in a mer_worker_t is touched by
 * another thread except through h2o's multithread queue (mer_worker_post).
 *
 * Connections: each worker accepts at most its share of max_connections, which stays below the process's
 * file-descriptor limit (raised from the soft to the hard limit at start). A worker at its share stops
 * accepting and closes its oldest idle connections (no request in flight, nothing half received) to make
 * room, so new clients are served at once instead of waiting for idle ones to time out; when every
 * connection is busy it retries shortly. If accept() still runs out of descriptors (another part of the
 * process used them), a reserve descriptor is given up to accept and close the waiting connection, and
 * accepting pauses briefly: the loop never spins on EMFILE.
 *
 * Answers that h2o writes by itself before any handler (413 body too large, 400 broken body framing, 417)
 * get the body from the on_low_error hook: the API's error envelope with a request id. (A body over max_body
 * but within 4 times it is read whole and refused by the server itself, with the same envelope, so that the
 * client reads the 413 before the connection ends: see on_request_sized in server.c.) h2o 2.2 answers a
 * request it cannot parse at all (bad request line, a head over H2O_MAX_REQLEN = 408 KiB, more than 100
 * headers) with a fixed plain-text 400 written straight to the socket, with no hook; so the first request
 * head of each connection is checked here, with h2o's parser, before h2o takes the connection, and refused
 * through on_low_error. A later request on a keep-alive connection that cannot be parsed still gets
 * h2o's plain text.
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
#include "core/exec.h"

typedef struct mer_server_config {
    const char *host; /* listen address, default 127.0.0.1 */
    int port;         /* default 8080 */
    int threads;      /* worker threads; 0 = one per core */
    size_t max_body;  /* bytes; larger bodies get 413 */
    uint64_t idle_timeout_ms;
    uint64_t grace_ms;      /* how long shutdown waits for in-flight requests */
    const char *access_log; /* path, "-" for stderr, NULL for none */
    int max_connections;    /* open connections over all workers; 0 = derived from the fd limit */
    /* the body (and request id) of an error answered below the handler, see above; NULL: h2o's text */
    void (*on_low_error)(int status, h2o_iovec_t text, mer_buf_t *body, char request_id[32]);
    /* called once the handler is registered on path "/", before any worker starts: further h2o settings and
       filters (the gateway's proxy settings); NULL: none */
    void (*setup)(h2o_globalconf_t *conf, h2o_pathconf_t *path);
    /* comma-separated addresses of proxies (`meridian gateway`) whose X-Forwarded-For names the client,
       see mer_server_client(); NULL: none */
    const char *trusted_proxies;
} mer_server_config_t;

typedef struct mer_worker mer_worker_t;

#define MER_MAX_WORKERS 64 /* worker threads at most; mer_worker_t.index is below */

/* A message posted to a worker's loop; cb runs on that worker's thread (the loop message of core/exec.h,
 * whose link is h2o's multithread message). */
typedef mer_loop_msg_t mer_worker_msg_t;

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
    void *slots[8]; /* per-module per-thread state, see mer_worker_slot_register() */
    /* connections: this worker's thread only, except the atomics (read by /metrics) */
    int listen_fd;
    h2o_linklist_t conns;        /* mer_conn_t, oldest accepted first */
    _Atomic size_t nconns;       /* open now */
    size_t max_conns;            /* this worker's share of max_connections */
    size_t nevicting;            /* idle connections shut down, not yet closed by h2o */
    int reserve_fd;              /* given up to accept-and-close when accept() hits EMFILE */
    bool accept_paused;          /* the listener is not being read (full, or out of fds) */
    uint64_t busy_epoch;         /* marks connections with requests in flight, see evict_idle() */
    h2o_timeout_t retry_timeout; /* resumes accepting after a pause */
    h2o_timeout_entry_t retry_entry;
    h2o_timeout_t head_timeout;     /* a new connection's first request head, see first_head() */
    _Atomic uint64_t conns_evicted; /* idle connections closed to make room */
    _Atomic uint64_t conns_shed;    /* accepted and closed at once: out of fds */
};

/* The worker running on the calling thread, or NULL outside worker threads. The server installs the
 * loop interface of core/exec.h with it and mer_worker_post, so jobs find their way back to a worker. */
mer_worker_t *mer_worker_self(void);

/*
 * Per-module per-thread state. A module reserves a slot index once at start-up with
 * mer_worker_slot_register(release) and then keeps its state in worker->slots[index]; release runs on the
 * worker's thread when the worker stops.
 */
int mer_worker_slot_register(void (*release)(void *state));

/* Posts msg to worker w; msg->cb runs on w's thread. msg must stay valid until then. */
void mer_worker_post(mer_worker_t *w, mer_worker_msg_t *msg);

/* Called on each worker thread once its loop is set up, before it accepts connections. */
void mer_server_on_thread_start(void (*hook)(void));

/* Called at shutdown after in-flight requests are done and before workers stop. */
void mer_server_on_stop(void (*hook)(void));

/*
 * Binds, starts the workers, and blocks until SIGTERM/SIGINT shutdown is complete. Returns 0, or -1 if a
 * listener could not be opened. The stop hooks have run either way.
 */
int mer_server_run(const mer_server_config_t *cfg, int (*on_request)(h2o_handler_t *self, h2o_req_t *req));

/*
 * Appends the connection series to /metrics (the http module's metrics, see http/ops.h): open now, the
 * cap, idle connections closed to make room, connections closed unserved for want of a file descriptor.
 */
void mer_server_metrics(mer_buf_t *out);

/* Requests in flight over all workers, for /metrics. */
long mer_server_inflight(void);

/* The client's IP address of a connection as text ("" if unknown). */
void mer_server_peer(h2o_conn_t *conn, char out[64]);

/*
 * The address of the client a request is for: the connection's peer, except when that peer is one of
 * the configured trusted proxies (a gateway) and the request has X-Forwarded-For: then the last address
 * of that header, the one the proxy itself appended (what the client wrote before it is not trusted). A
 * last entry that is not an IP address leaves the peer.
 */
void mer_server_client(h2o_req_t *req, char out[64]);

/* Did the request come straight from one of the configured trusted proxies (a gateway)? Only such a peer
 * may speak for the gateway in its headers (X-Forwarded-For, X-Meridian-Fallback: region/region_http.h). */
bool mer_server_from_trusted_proxy(h2o_req_t *req);

/* Increments/decrements the in-flight count for asynchronous answers (see http/req.h). */
void mer_worker_inflight_add(mer_worker_t *w, long d);

#endif
