#include "http/server.h"

#include <arpa/inet.h>
#include <h2o/http2.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/money.h"
#include "core/tz.h"
#include "http/access.h"
#include "core/banned.h"

#define ACCESS_LOG_FLUSH_BYTES (64 * 1024)
#define ACCESS_LOG_FLUSH_MS 200
#define ACCEPT_RETRY_MS 50       /* a full or fd-starved worker looks again after this */
#define FD_RESERVE_BASE 64       /* descriptors kept for files, pipes and outgoing sockets ... */
#define FD_RESERVE_PER_THREAD 32 /* ... and per worker thread (its database connections) */
#define DEFAULT_MAX_CONNECTIONS 65536
#define EVICT_MIN_AGE_MS 250 /* a connection younger than this is not idle yet: its request may be on the way */
#define SLOW_HEAD_MS 2000    /* a first request head still incomplete after this is a slow client: evictable */

static struct {
    h2o_globalconf_t h2o;
    const mer_server_config_t *cfg;
    mer_worker_t *workers;
    int nworkers;
    int access_fd; /* -1: no access log */
    pthread_barrier_t started;
    int listen_error;
    void (*stop_hooks[8])(void);
    int nstop_hooks;
    void (*slot_release[8])(void *);
    void (*start_hooks[8])(void);
    int nstart_hooks;
    int nslots;
    int max_connections; /* the effective cap, over all workers */
} srv;

/*
 * picohttpparser, the parser of h2o's HTTP/1, is exported by libh2o-evloop but Debian ships no header for
 * it: the declaration of its stable API, used to judge a connection's first request head exactly as h2o
 * will (see first_head()).
 */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

/* One accepted connection, from accept() until h2o closes its socket (then on_conn_close frees it). */
typedef struct mer_conn {
    h2o_linklist_t link; /* in worker->conns */
    mer_worker_t *worker;
    h2o_socket_t *sock;
    int fd;
    uint64_t busy_mark;             /* == worker->busy_epoch while evict_idle() runs: a request is in flight */
    bool evicting;                  /* shut down to make room; h2o closes it on its next read */
    uint64_t accepted_at;           /* loop time, ms */
    h2o_timeout_entry_t head_entry; /* until the first request head is complete (before h2o has it) */
    size_t head_seen;               /* bytes of the first head already judged incomplete (phr's last_len) */
    char *refusal;                  /* the 400 being written for a first head that is not HTTP */
} mer_conn_t;

static _Thread_local mer_worker_t *current_worker;

mer_worker_t *mer_worker_self(void)
{
    return current_worker;
}

int mer_worker_slot_register(void (*release)(void *state))
{
    if (srv.nslots >= (int)MER_ARRAY_LEN(srv.slot_release))
        MER_BUG("too many worker slots");
    srv.slot_release[srv.nslots] = release;
    return srv.nslots++;
}

void mer_server_on_stop(void (*hook)(void))
{
    if (srv.nstop_hooks >= (int)MER_ARRAY_LEN(srv.stop_hooks))
        MER_BUG("too many stop hooks");
    srv.stop_hooks[srv.nstop_hooks++] = hook;
}

void mer_server_on_thread_start(void (*hook)(void))
{
    if (srv.nstart_hooks >= (int)MER_ARRAY_LEN(srv.start_hooks))
        MER_BUG("too many thread start hooks");
    srv.start_hooks[srv.nstart_hooks++] = hook;
}

_Static_assert(sizeof(((mer_loop_msg_t *)0)->link) == sizeof(h2o_multithread_message_t),
               "a loop message's link is h2o's multithread message");

void mer_worker_post(mer_worker_t *w, mer_worker_msg_t *msg)
{
    h2o_multithread_send_message(&w->inbox, (h2o_multithread_message_t *)(void *)msg->link);
}

static void *loop_self(void)
{
    return mer_worker_self();
}

static void loop_post(void *loop, mer_loop_msg_t *msg)
{
    mer_worker_post(loop, msg);
}

static const mer_loop_ops_t loop_ops = {loop_self, loop_post};

void mer_worker_inflight_add(mer_worker_t *w, long d)
{
    atomic_fetch_add_explicit(&w->inflight, d, memory_order_relaxed);
}

void mer_server_peer(h2o_conn_t *conn, char out[64])
{
    struct sockaddr_storage ss;
    out[0] = '\0';
    socklen_t sl = conn->callbacks->get_peername(conn, (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, 64);
    else if (sl && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, 64);
}

static bool trusted(const char *peer)
{
    return srv.cfg && srv.cfg->trusted_proxies && peer[0] && mer_list_has(srv.cfg->trusted_proxies, peer);
}

bool mer_server_from_trusted_proxy(h2o_req_t *req)
{
    char peer[64];
    mer_server_peer(req->conn, peer);
    return trusted(peer);
}

void mer_server_client(h2o_req_t *req, char out[64])
{
    mer_server_peer(req->conn, out);
    if (!trusted(out))
        return;
    ssize_t i = -1, j = -1;
    while ((j = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, j)) >= 0)
        i = j; /* the last header: the proxy's */
    if (i < 0)
        return;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t end = v.len, start;
    while (end && (v.base[end - 1] == ' ' || v.base[end - 1] == '\t'))
        end--;
    start = end;
    while (start && v.base[start - 1] != ',')
        start--;
    while (start < end && (v.base[start] == ' ' || v.base[start] == '\t'))
        start++;
    char addr[64];
    unsigned char bin[sizeof(struct in6_addr)];
    if (end - start == 0 || end - start >= sizeof(addr))
        return;
    memcpy(addr, v.base + start, end - start);
    addr[end - start] = '\0';
    if (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1)
        memcpy(out, addr, end - start + 1);
}

/* ---- access log ---------------------------------------------------------------------------------- */

static void access_log_flush(mer_worker_t *w)
{
    if (w->access_log.len == 0 || srv.access_fd < 0)
        return;
    size_t off = 0;
    while (off < w->access_log.len) {
        ssize_t n = write(srv.access_fd, w->access_log.data + off, w->access_log.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a log that cannot be written must not stop the store */
        off += (size_t)n;
    }
    mer_buf_reset(&w->access_log);
}

static void on_flush_timer(h2o_timeout_entry_t *entry)
{
    mer_worker_t *w = H2O_STRUCT_FROM_MEMBER(mer_worker_t, flush_entry, entry);
    access_log_flush(w);
}

static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    (void)self;
    mer_worker_t *w = current_worker;
    if (w == NULL)
        return;
    mer_access_done(req, w->index, srv.access_fd >= 0 ? &w->access_log : NULL);
    if (srv.access_fd < 0)
        return;
    if (w->access_log.len >= ACCESS_LOG_FLUSH_BYTES)
        access_log_flush(w);
    else if (!h2o_timeout_is_linked(&w->flush_entry))
        h2o_timeout_link(w->ctx.loop, &w->flush_timeout, &w->flush_entry);
}

/* ---- connections: the cap, idle eviction, running out of descriptors ------------------------------ */

static void on_accept(h2o_socket_t *listener, const char *err);

static void accept_pause(mer_worker_t *w, bool retry)
{
    if (w->listener && !w->accept_paused) {
        h2o_socket_read_stop(w->listener);
        w->accept_paused = true;
    }
    if (retry && !h2o_timeout_is_linked(&w->retry_entry))
        h2o_timeout_link(w->ctx.loop, &w->retry_timeout, &w->retry_entry);
}

static void accept_resume(mer_worker_t *w)
{
    if (w->listener && w->accept_paused) {
        w->accept_paused = false;
        h2o_socket_read_start(w->listener, on_accept);
    }
}

static void on_accept_retry(h2o_timeout_entry_t *entry)
{
    mer_worker_t *w = H2O_STRUCT_FROM_MEMBER(mer_worker_t, retry_entry, entry);
    if (w->reserve_fd < 0) /* lost to another thread after the last shed */
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    accept_resume(w);
}

static void on_conn_close(void *data)
{
    mer_conn_t *c = data;
    mer_worker_t *w = c->worker;
    h2o_linklist_unlink(&c->link);
    atomic_fetch_sub_explicit(&w->nconns, 1, memory_order_relaxed);
    if (c->evicting)
        w->nevicting--;
    if (h2o_timeout_is_linked(&c->head_entry))
        h2o_timeout_unlink(&c->head_entry);
    free(c->refusal);
    free(c);
    if (atomic_load_explicit(&w->nconns, memory_order_relaxed) < w->max_conns)
        accept_resume(w);
}

static int mark_busy(h2o_req_t *req, void *data)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock && sock->on_close.cb == on_conn_close)
        ((mer_conn_t *)sock->on_close.data)->busy_mark = *(uint64_t *)data;
    return 0;
}

/*
 * Shuts down up to want idle connections, oldest first, and returns how many. Idle: accepted at least
 * EVICT_MIN_AGE_MS ago, no request in flight, nothing received and not yet handled. h2o lists the HTTP/2
 * streams in flight; an HTTP/1 connection always lists its current request, even between requests, so
 * there the input buffer tells: h2o consumes a request's bytes only after its answer has been sent.
 * A connection whose first request head is still incomplete SLOW_HEAD_MS after it was accepted counts as
 * idle too, whatever it has sent: otherwise clients that trickle partial heads (slow-loris) could hold
 * every slot until the head timeout and lock new clients out.
 * shutdown() rather than close(): h2o reads the end of stream and closes the connection through its own
 * path, which frees its state and calls on_conn_close.
 */
static size_t evict_idle(mer_worker_t *w, size_t want)
{
    uint64_t mark = ++w->busy_epoch, now = h2o_now(w->ctx.loop);
    H2O_HTTP2_CALLBACKS.foreach_request(&w->ctx, mark_busy, &mark);
    size_t n = 0;
    for (h2o_linklist_t *l = w->conns.next; l != &w->conns && n < want; l = l->next) {
        mer_conn_t *c = H2O_STRUCT_FROM_MEMBER(mer_conn_t, link, l);
        int pending = 0;
        bool slow_head = h2o_timeout_is_linked(&c->head_entry) && now - c->accepted_at >= SLOW_HEAD_MS;
        if (c->evicting || (!slow_head && (c->busy_mark == mark || c->sock->input->size != 0 ||
                                           now - c->accepted_at < EVICT_MIN_AGE_MS ||
                                           ioctl(c->fd, FIONREAD, &pending) != 0 || pending != 0)))
            continue; /* busy, young, or a request not read yet */
        shutdown(c->fd, SHUT_RDWR);
        c->evicting = true;
        w->nevicting++;
        n++;
    }
    atomic_fetch_add_explicit(&w->conns_evicted, n, memory_order_relaxed);
    return n;
}

/* At the cap: make room by closing idle connections; accept again once one has closed. */
static void make_room(mer_worker_t *w)
{
    size_t freed = evict_idle(w, 4);
    /* when all are busy, look again shortly (each finishing request leaves an idle connection) */
    accept_pause(w, freed == 0 && w->nevicting == 0);
}

/* accept() found no descriptor left: accept-and-close one waiting client with the reserve, then pause. */
static void out_of_fds(mer_worker_t *w)
{
    static _Atomic uint64_t last_warn_s;
    uint64_t now_s = mer_now_mono_ns() / 1000000000ull, prev = atomic_load(&last_warn_s);
    if (now_s != prev && atomic_compare_exchange_strong(&last_warn_s, &prev, now_s))
        mer_log_warn("out of file descriptors accepting a connection (%d open on this worker, cap %d in all): "
                     "shedding and pausing",
                     (int)atomic_load(&w->nconns), srv.max_connections);
    if (evict_idle(w, 4) == 0 && w->reserve_fd >= 0) {
        close(w->reserve_fd);
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            atomic_fetch_add_explicit(&w->conns_shed, 1, memory_order_relaxed);
        }
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    accept_pause(w, true);
}

/*
 * The first request head of a connection, judged before h2o sees it. h2o 2.2 answers a head it cannot
 * parse with a fixed plain-text 400 written straight to the socket (no request object, no hook); checking
 * the first head here with h2o's own parser lets that answer carry the error envelope and a request id.
 * Later requests on a keep-alive connection go to h2o directly (h2o consumes them without a hook).
 */
typedef enum { HEAD_WAIT, HEAD_PASS, HEAD_BAD } head_verdict_t;

static head_verdict_t first_head(const h2o_buffer_t *in, size_t *seen)
{
    static const char preface[] = "PRI * HTTP/2"; /* HTTP/2 with prior knowledge: h2o's to handle */
    size_t n = MER_MIN(in->size, (size_t)H2O_MAX_REQLEN);
    if (n == 0)
        return HEAD_WAIT;
    if (memcmp(in->bytes, preface, MER_MIN(n, sizeof(preface) - 1)) == 0)
        return n >= sizeof(preface) - 1 ? HEAD_PASS : HEAD_WAIT;
    struct phr_header headers[H2O_MAX_HEADERS];
    size_t nheaders = H2O_MAX_HEADERS, mlen, plen;
    const char *method, *path;
    int minor;
    /* last_len as h2o passes it: while the head is incomplete only the new bytes are looked at, so a head
     * dripped in a byte at a time costs linear, not quadratic, time */
    int r = phr_parse_request(in->bytes, n, &method, &mlen, &path, &plen, &minor, headers, &nheaders, *seen);
    if (r > 0)
        return HEAD_PASS;
    if (r == -2) {
        *seen = n;
        return n == H2O_MAX_REQLEN ? HEAD_BAD : HEAD_WAIT;
    }
    bool blank = n <= 4; /* a few stray line ends: h2o closes quietly */
    for (size_t i = 0; blank && i < n; i++)
        blank = in->bytes[i] == '\r' || in->bytes[i] == '\n';
    return blank ? HEAD_PASS : HEAD_BAD;
}

static void on_refusal_written(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_socket_close(sock);
}

/* Answers a first head that is not HTTP with the envelope, then closes. */
static void refuse_head(mer_conn_t *c)
{
    mer_buf_t body = MER_BUF_INIT, out = MER_BUF_INIT;
    char id[32];
    mer_buf_init(&body, 256);
    mer_buf_init(&out, 512);
    srv.cfg->on_low_error(400,
                          h2o_iovec_init(H2O_STRLIT("the request line or headers cannot be parsed as HTTP/1.1 (or "
                                                    "the head is too large, or has more than 100 headers)")),
                          &body, id);
    mer_buf_printf(&out,
                   "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n"
                   "Connection: close\r\nServer: meridian\r\nX-Request-Id: %s\r\nContent-Length: %zu\r\n\r\n",
                   id, body.len);
    mer_buf_add(&out, body.data, body.len);
    mer_buf_release(&body);
    c->refusal = mer_xmalloc(out.len);
    memcpy(c->refusal, out.data, out.len);
    h2o_iovec_t buf = h2o_iovec_init(c->refusal, out.len);
    mer_buf_release(&out);
    h2o_socket_write(c->sock, &buf, 1, on_refusal_written);
}

static void on_first_read(h2o_socket_t *sock, const char *err)
{
    mer_conn_t *c = sock->on_close.data;
    head_verdict_t v = err ? HEAD_BAD : first_head(sock->input, &c->head_seen);
    if (v == HEAD_WAIT)
        return;
    h2o_socket_read_stop(sock);
    h2o_timeout_unlink(&c->head_entry);
    if (err != NULL)
        h2o_socket_close(sock);
    else if (v == HEAD_PASS)
        h2o_accept(&c->worker->accept_ctx, sock); /* h2o parses what has been read at once */
    else
        refuse_head(c);
}

static void on_head_timeout(h2o_timeout_entry_t *entry)
{
    mer_conn_t *c = H2O_STRUCT_FROM_MEMBER(mer_conn_t, head_entry, entry);
    h2o_socket_read_stop(c->sock);
    h2o_socket_close(c->sock);
}

static void conn_start(mer_worker_t *w, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    mer_conn_t *c = mer_xcalloc(1, sizeof(*c));
    c->worker = w;
    c->fd = fd;
    c->accepted_at = h2o_now(w->ctx.loop);
    c->sock = h2o_evloop_socket_create(w->ctx.loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    c->sock->on_close.cb = on_conn_close;
    c->sock->on_close.data = c;
    h2o_linklist_insert(&w->conns, &c->link);
    atomic_fetch_add_explicit(&w->nconns, 1, memory_order_relaxed);
    if (srv.cfg->on_low_error == NULL) {
        h2o_accept(&w->accept_ctx, c->sock);
        return;
    }
    c->head_entry.cb = on_head_timeout;
    h2o_timeout_link(w->ctx.loop, &w->head_timeout, &c->head_entry);
    h2o_socket_read_start(c->sock, on_first_read);
}

/* ---- listeners and workers ----------------------------------------------------------------------- */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    mer_worker_t *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < 32; i++) { /* drain the backlog a little per wake-up */
        if (atomic_load_explicit(&w->nconns, memory_order_relaxed) >= w->max_conns) {
            make_room(w);
            return;
        }
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                out_of_fds(w);
            return; /* EAGAIN: the backlog is empty */
        }
        conn_start(w, fd);
    }
}

static int open_listener(const mer_server_config_t *cfg)
{
    struct sockaddr_in addr;
    int fd, one = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        mer_log_error("bad listen address %s", cfg->host);
        return -1;
    }
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
        mer_log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void on_control(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    mer_worker_t *w = H2O_STRUCT_FROM_MEMBER(mer_worker_t, control, recv);
    (void)messages; /* wake-ups only */
    if (w->listener) {
        h2o_socket_read_stop(w->listener);
        h2o_socket_close(w->listener);
        w->listener = NULL;
        h2o_context_request_shutdown(&w->ctx);
    }
}

static void on_inbox(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    (void)recv;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_linklist_t *link = messages->next;
        mer_worker_msg_t *msg = MER_CONTAINER_OF((void *)link, mer_worker_msg_t, link);
        h2o_linklist_unlink(link);
        msg->cb(msg);
    }
}

static volatile sig_atomic_t stopping_loops;

static void *worker_main(void *arg)
{
    mer_worker_t *w = arg;
    current_worker = w;
    h2o_multithread_queue_t *q;

    h2o_context_init(&w->ctx, h2o_evloop_create(), &srv.h2o);
    q = h2o_multithread_create_queue(w->ctx.loop);
    h2o_multithread_register_receiver(q, &w->control, on_control);
    h2o_multithread_register_receiver(q, &w->inbox, on_inbox);
    h2o_timeout_init(w->ctx.loop, &w->flush_timeout, ACCESS_LOG_FLUSH_MS);
    w->flush_entry = (h2o_timeout_entry_t){0};
    w->flush_entry.cb = on_flush_timer;
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = srv.h2o.hosts;
    h2o_linklist_init_anchor(&w->conns);
    h2o_timeout_init(w->ctx.loop, &w->retry_timeout, ACCEPT_RETRY_MS);
    h2o_timeout_init(w->ctx.loop, &w->head_timeout, srv.cfg->idle_timeout_ms);
    w->retry_entry = (h2o_timeout_entry_t){0};
    w->retry_entry.cb = on_accept_retry;
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    for (int i = 0; i < srv.nstart_hooks; i++)
        srv.start_hooks[i]();
    int fd = open_listener(srv.cfg);
    w->listen_fd = fd;
    if (fd < 0) {
        srv.listen_error = 1;
    } else {
        w->listener = h2o_evloop_socket_create(w->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        w->listener->data = w;
        h2o_socket_read_start(w->listener, on_accept);
    }
    pthread_barrier_wait(&srv.started);
    if (fd >= 0) {
        while (!stopping_loops)
            h2o_evloop_run(w->ctx.loop, 100);
    }
    access_log_flush(w);
    if (h2o_timeout_is_linked(&w->flush_entry))
        h2o_timeout_unlink(&w->flush_entry);
    if (h2o_timeout_is_linked(&w->retry_entry))
        h2o_timeout_unlink(&w->retry_entry);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    for (int i = 0; i < srv.nslots; i++) {
        if (w->slots[i] && srv.slot_release[i])
            srv.slot_release[i](w->slots[i]);
        w->slots[i] = NULL;
    }
    mer_thread_exit();
    /* The h2o context and loop are left to process exit: h2o 2.2 cannot dispose a loop with live
     * keep-alive connections cleanly. */
    mer_buf_release(&w->access_log);
    return NULL;
}

void mer_server_metrics(mer_buf_t *out)
{
    uint64_t open = 0, evicted = 0, shed = 0;
    for (int i = 0; i < srv.nworkers; i++) {
        open += atomic_load_explicit(&srv.workers[i].nconns, memory_order_relaxed);
        evicted += atomic_load_explicit(&srv.workers[i].conns_evicted, memory_order_relaxed);
        shed += atomic_load_explicit(&srv.workers[i].conns_shed, memory_order_relaxed);
    }
    mer_buf_printf(out,
                   "# HELP meridian_http_connections Open client connections.\n"
                   "# TYPE meridian_http_connections gauge\n"
                   "meridian_http_connections %llu\n"
                   "# HELP meridian_http_connections_max The connection cap (--max-connections, or what the fd limit "
                   "allows).\n"
                   "# TYPE meridian_http_connections_max gauge\n"
                   "meridian_http_connections_max %d\n"
                   "# HELP meridian_http_connections_evicted_total Idle connections closed to make room at the cap.\n"
                   "# TYPE meridian_http_connections_evicted_total counter\n"
                   "meridian_http_connections_evicted_total %llu\n"
                   "# HELP meridian_http_connections_shed_total Connections closed unserved: no file descriptor was "
                   "left.\n"
                   "# TYPE meridian_http_connections_shed_total counter\n"
                   "meridian_http_connections_shed_total %llu\n",
                   (unsigned long long)open, srv.max_connections, (unsigned long long)evicted,
                   (unsigned long long)shed);
}

long mer_server_inflight(void)
{
    long n = 0;
    for (int i = 0; i < srv.nworkers; i++)
        n += atomic_load(&srv.workers[i].inflight);
    return n;
}

static void run_stop_hooks(void)
{
    for (int i = 0; i < srv.nstop_hooks; i++)
        srv.stop_hooks[i]();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- answers h2o makes by itself ------------------------------------------------------------------- */

typedef struct h2o_error_ostream {
    h2o_ostream_t super;
} h2o_error_ostream_t;

/* The envelope of an error answered below the handlers (req->res.status set), from on_low_error: the body in
 * req's pool, its content type and x-request-id set, its length given. */
static h2o_iovec_t low_error_body(h2o_req_t *req, h2o_iovec_t text)
{
    mer_buf_t b = MER_BUF_INIT;
    char *id = h2o_mem_alloc_pool(&req->pool, 32);
    mer_buf_init(&b, 256);
    srv.cfg->on_low_error(req->res.status, text, &b, id);
    h2o_iovec_t out = h2o_strdup(&req->pool, b.data, b.len);
    mer_buf_release(&b);
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct >= 0)
        h2o_delete_header(&req->res.headers, ct);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id, strlen(id));
    req->res.content_length = out.len;
    return out;
}

/* h2o's own errors are sent in one piece (h2o_send_inline): the text becomes the envelope's message. */
static void h2o_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    char text[256];
    size_t tl = 0;
    for (size_t i = 0; i < n && tl < sizeof(text); i++) {
        size_t k = MER_MIN(bufs[i].len, sizeof(text) - tl);
        memcpy(text + tl, bufs[i].base, k);
        tl += k;
    }
    while (tl && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
        tl--;
    h2o_iovec_t out = low_error_body(req, h2o_iovec_init(text, tl));
    h2o_ostream_send_next(self, req, &out, 1, state);
}

/*
 * A body over max_body. h2o refuses one whose size it learns before reading it (Content-Length, or chunks
 * past its own limit) and closes the connection with the body unread; the kernel then resets the
 * connection, and a client still sending often loses the 413 with it ("fetch failed"). So h2o's limit is
 * BODY_READ_FACTOR times max_body: a body up to that is read whole and refused here, on a connection that
 * stays open, and only a larger one meets h2o's refusal. (The cost: a connection may hold that much body
 * in memory before the refusal.)
 */
#define BODY_READ_FACTOR 4
static int (*app_on_request)(h2o_handler_t *self, h2o_req_t *req);

static int on_request_sized(h2o_handler_t *self, h2o_req_t *req)
{
    if (req->entity.base == NULL || req->entity.len <= srv.cfg->max_body)
        return app_on_request(self, req);
    static const char text[] = "request entity is too large";
    if (srv.cfg->on_low_error == NULL) {
        h2o_send_error_generic(req, 413, "Request Entity Too Large", text, 0);
        return 0;
    }
    req->res.status = 413;
    req->res.reason = "Request Entity Too Large";
    h2o_iovec_t out = low_error_body(req, h2o_iovec_init(text, sizeof(text) - 1));
    h2o_send_inline(req, out.base, out.len);
    return 0;
}

/* A filter on the host's fallback path, where h2o binds the requests it answers before any handler. */
static void h2o_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (srv.cfg->on_low_error != NULL && req->res.status >= 400) {
        h2o_error_ostream_t *o = (void *)h2o_add_ostream(req, sizeof(*o), slot);
        o->super.do_send = h2o_error_send;
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

/* Raises the soft fd limit to the hard one; returns the limit and how many descriptors are open now. */
static long fd_budget(long *open_now)
{
    struct rlimit rl;
    long n = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            n += e->d_name[0] != '.';
        closedir(d);
    } else {
        n = 16;
    }
    *open_now = n;
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 30) ? (1L << 30) : (long)rl.rlim_cur;
}

/* The connection cap: the one asked for, or what the fd limit leaves; never more than that. */
static int connection_cap(const mer_server_config_t *cfg, int nthreads)
{
    long open_now, limit = fd_budget(&open_now);
    long room = limit - open_now - FD_RESERVE_BASE - FD_RESERVE_PER_THREAD * (long)nthreads;
    long cap = cfg->max_connections > 0 ? cfg->max_connections : MER_MIN(room, DEFAULT_MAX_CONNECTIONS);
    if (cap > room) {
        mer_log_warn("--max-connections %ld is more than the fd limit %ld allows; using %ld", cap, limit,
                     MER_MAX(room, (long)nthreads));
        cap = room;
    }
    if (cap < nthreads)
        cap = nthreads; /* at least one per worker, whatever the limit */
    mer_log_info("accepting at most %ld connections (fd limit %ld, %ld open at start)", cap, limit, open_now);
    return (int)cap;
}

int mer_server_run(const mer_server_config_t *cfg, int (*on_request)(h2o_handler_t *, h2o_req_t *))
{
    sigset_t sigs, old;
    int nthreads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > MER_MAX_WORKERS)
        nthreads = MER_MAX_WORKERS;

    srv.cfg = cfg;
    mer_loop_set_ops(&loop_ops);
    srv.access_fd = -1;
    if (cfg->access_log && strcmp(cfg->access_log, "-") == 0)
        srv.access_fd = 2;
    else if (cfg->access_log &&
             (srv.access_fd = open(cfg->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
        mer_log_warn("cannot open access log %s: %s", cfg->access_log, strerror(errno));

    h2o_config_init(&srv.h2o);
    srv.h2o.max_request_entity_size = cfg->max_body * BODY_READ_FACTOR; /* see on_request_sized */
    srv.h2o.http1.req_timeout = cfg->idle_timeout_ms;
    srv.h2o.http2.idle_timeout = cfg->idle_timeout_ms;
    srv.h2o.server_name = h2o_iovec_init(H2O_STRLIT("meridian"));
    h2o_hostconf_t *host = h2o_config_register_host(&srv.h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    app_on_request = on_request;
    handler->on_req = on_request_sized;
    h2o_logger_t *logger = h2o_create_logger(path, sizeof(*logger));
    logger->log_access = log_access;
    if (cfg->setup)
        cfg->setup(&srv.h2o, path);
    h2o_filter_t *errors = h2o_create_filter(&host->fallback_path, sizeof(*errors));
    errors->on_setup_ostream = h2o_error_setup;
    logger = h2o_create_logger(&host->fallback_path, sizeof(*logger)); /* h2o's own answers are logged too */
    logger->log_access = log_access;
    srv.max_connections = connection_cap(cfg, nthreads);

    /* Workers must not take SIGTERM/SIGINT: the main thread waits for them with sigwait(). */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);

    srv.nworkers = nthreads;
    srv.workers = mer_xcalloc((size_t)nthreads, sizeof(mer_worker_t));
    pthread_barrier_init(&srv.started, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        srv.workers[i].index = i;
        srv.workers[i].max_conns = (size_t)MER_MAX(1, srv.max_connections / nthreads);
        mer_buf_init(&srv.workers[i].access_log, ACCESS_LOG_FLUSH_BYTES + 4096);
        h2o_multithread_create_thread(&srv.workers[i].tid, NULL, worker_main, &srv.workers[i]);
    }
    pthread_barrier_wait(&srv.started);
    if (srv.listen_error) {
        stopping_loops = 1;
        for (int i = 0; i < nthreads; i++) {
            h2o_multithread_send_message(&srv.workers[i].control, NULL);
            pthread_join(srv.workers[i].tid, NULL);
        }
        run_stop_hooks(); /* the writers, pool and timers started before the server stop all the same */
        return -1;
    }
    mer_log_info("serving on http://%s:%d with %d worker threads", cfg->host, cfg->port, nthreads);

    int sig = 0;
    sigwait(&sigs, &sig);
    mer_log_info("signal %d: stopping; no new connections, finishing in-flight requests", sig);
    for (int i = 0; i < nthreads; i++)
        h2o_multithread_send_message(&srv.workers[i].control, NULL);
    uint64_t deadline = mer_now_mono_ns() + cfg->grace_ms * 1000000ull;
    while (mer_server_inflight() > 0 && mer_now_mono_ns() < deadline)
        sleep_ms(10);
    if (mer_server_inflight() > 0)
        mer_log_warn("grace period over with %ld requests in flight", mer_server_inflight());
    run_stop_hooks();
    /* let the loops flush responses produced by the stop hooks */
    deadline = mer_now_mono_ns() + 2000000000ull;
    while (mer_server_inflight() > 0 && mer_now_mono_ns() < deadline)
        sleep_ms(10);
    stopping_loops = 1;
    for (int i = 0; i < nthreads; i++) {
        h2o_multithread_send_message(&srv.workers[i].control, NULL);
        pthread_join(srv.workers[i].tid, NULL);
    }
    if (srv.access_fd > 2)
        close(srv.access_fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    mer_log_info("stopped");
    return 0;
}
