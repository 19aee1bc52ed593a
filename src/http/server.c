#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/money.h"
#include "core/tz.h"
#include "http/access.h"
#include "core/banned.h"

#define ACCESS_LOG_FLUSH_BYTES (64 * 1024)
#define ACCESS_LOG_FLUSH_MS 200

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
    void (*exit_hooks[8])(void);
    int nexit_hooks;
    int nslots;
} srv;

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

void mer_server_on_thread_exit(void (*hook)(void))
{
    if (srv.nexit_hooks >= (int)MER_ARRAY_LEN(srv.exit_hooks))
        MER_BUG("too many thread exit hooks");
    srv.exit_hooks[srv.nexit_hooks++] = hook;
}

void mer_worker_post(mer_worker_t *w, mer_worker_msg_t *msg)
{
    h2o_multithread_send_message(&w->inbox, &msg->super);
}

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

/* ---- listeners and workers ----------------------------------------------------------------------- */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    mer_worker_t *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < 32; i++) { /* drain the backlog a little per wake-up */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        h2o_accept(&w->accept_ctx, sock);
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
        mer_worker_msg_t *msg = H2O_STRUCT_FROM_MEMBER(mer_worker_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&msg->super.link);
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

    int fd = open_listener(srv.cfg);
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
    for (int i = 0; i < srv.nslots; i++) {
        if (w->slots[i] && srv.slot_release[i])
            srv.slot_release[i](w->slots[i]);
        w->slots[i] = NULL;
    }
    for (int i = 0; i < srv.nexit_hooks; i++)
        srv.exit_hooks[i]();
    mer_money_thread_release();
    mer_tz_thread_release();
    /* The h2o context and loop are left to process exit: h2o 2.2 cannot dispose a loop with live
     * keep-alive connections cleanly. */
    mer_buf_release(&w->access_log);
    return NULL;
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

int mer_server_run(const mer_server_config_t *cfg, int (*on_request)(h2o_handler_t *, h2o_req_t *))
{
    sigset_t sigs, old;
    int nthreads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > MER_MAX_WORKERS)
        nthreads = MER_MAX_WORKERS;

    srv.cfg = cfg;
    srv.access_fd = -1;
    if (cfg->access_log && strcmp(cfg->access_log, "-") == 0)
        srv.access_fd = 2;
    else if (cfg->access_log && (srv.access_fd = open(cfg->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                                                      0640)) < 0)
        mer_log_warn("cannot open access log %s: %s", cfg->access_log, strerror(errno));

    h2o_config_init(&srv.h2o);
    srv.h2o.max_request_entity_size = cfg->max_body;
    srv.h2o.http1.req_timeout = cfg->idle_timeout_ms;
    srv.h2o.http2.idle_timeout = cfg->idle_timeout_ms;
    srv.h2o.server_name = h2o_iovec_init(H2O_STRLIT("meridian"));
    h2o_hostconf_t *host = h2o_config_register_host(&srv.h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_request;
    h2o_logger_t *logger = h2o_create_logger(path, sizeof(*logger));
    logger->log_access = log_access;

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
