/*
 * req.c — request dispatch, the router, and every way of answering.
 *
 * Memory: a mer_req_t is an h2o shared allocation (reference counted, single-threaded: only its worker
 * touches it). The request holds one reference through a guard object linked into h2o's request pool;
 * when h2o frees the request the guard's dispose callback marks the mer_req_t gone and drops that
 * reference. An asynchronous handler holds a second reference (mer_req_hold) so the mer_req_t outlives a
 * client that hangs up. In the arena_malloc build every pool allocation made through mer_req_alloc goes
 * to malloc so the sanitizers see each one.
 */
#include "http/req.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "core/buf.h"
#include "core/err_text.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "http/offload.h"
#include "http/query.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define MAX_ROUTE_TABLES 32

static struct {
    const mer_route_t *table[MAX_ROUTE_TABLES];
    size_t len[MAX_ROUTE_TABLES];
    /* per route: the length of its pattern's literal start (up to its first '{'); a path that does not start
     * so (or, the pattern being all literal, is longer) is not matched character by character */
    uint16_t *lit[MAX_ROUTE_TABLES];
    size_t ntables;
} router;

/* h2o's per-request variables (h2o_req_t.env) carry the mer_req_t to the access logger */
#define REQ_ENV_KEY "meridian.req"

static int (*authenticator)(mer_req_t *r, const char *token, size_t len);
static _Atomic uint32_t boot_id; /* the start time, set by the first request on any thread */

void mer_router_add(const mer_route_t *routes, size_t n)
{
    if (router.ntables >= MAX_ROUTE_TABLES)
        MER_BUG("too many route tables");
    router.table[router.ntables] = routes;
    router.lit[router.ntables] = mer_xcalloc(n ? n : 1, sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        size_t k = strcspn(routes[i].pattern, "{");
        router.lit[router.ntables][i] = (uint16_t)MER_MIN(k, UINT16_MAX);
    }
    router.len[router.ntables++] = n;
}

size_t mer_router_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < router.ntables; t++)
        n += router.len[t];
    return n;
}

const mer_route_t *mer_router_at(size_t i)
{
    for (size_t t = 0; t < router.ntables; i -= router.len[t], t++)
        if (i < router.len[t])
            return &router.table[t][i];
    return NULL;
}

size_t mer_router_index(const mer_route_t *rt)
{
    size_t base = 0;
    for (size_t t = 0; t < router.ntables; base += router.len[t], t++)
        if (rt >= router.table[t] && rt < router.table[t] + router.len[t])
            return base + (size_t)(rt - router.table[t]);
    return SIZE_MAX;
}

mer_req_t *mer_req_of(h2o_req_t *req)
{
    for (size_t i = 0; i + 1 < req->env.size; i += 2)
        if (h2o_memis(req->env.entries[i].base, req->env.entries[i].len, H2O_STRLIT(REQ_ENV_KEY)))
            return (mer_req_t *)req->env.entries[i + 1].base;
    return NULL;
}

void mer_http_set_authenticator(int (*fn)(mer_req_t *r, const char *token, size_t len))
{
    authenticator = fn;
}

static void *pool_alloc(mer_req_t *r, size_t n)
{
#ifdef MER_ARENA_MALLOC
    /* one malloc per allocation, freed with the request: sanitizers see overflows of each */
    void *p = h2o_mem_alloc_shared(&r->h2o->pool, n, NULL);
    return p;
#else
    return h2o_mem_alloc_pool(&r->h2o->pool, n);
#endif
}

char *mer_req_strdup(mer_req_t *r, const char *s, size_t len)
{
    char *p = pool_alloc(r, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- lifecycle ---- */

typedef struct guard {
    mer_req_t *r;
} guard_t;

static void req_dispose(void *p)
{
    mer_req_t *r = p;
    json_decref(r->body);
}

static void guard_dispose(void *p)
{
    guard_t *g = p;
    mer_req_t *r = g->r;
    r->gone = true;
    r->h2o = NULL;
    if (r->worker)
        mer_worker_inflight_add(r->worker, -1);
    h2o_mem_release_shared(r);
}

void mer_req_hold(mer_req_t *r)
{
    r->held = true;
    h2o_mem_addref_shared(r);
}

void mer_req_release(mer_req_t *r)
{
    h2o_mem_release_shared(r);
}

/* ---- calls ---- */

void *mer_call_alloc(mer_req_t *r, size_t size)
{
    MER_ASSERT(size >= sizeof(mer_call_t));
    mer_call_t *c = mer_xmalloc(size);
    memset(c, 0, sizeof(*c));
    c->r = r;
    c->who = r->who;
    return c;
}

void *mer_call_new(mer_req_t *r, size_t size)
{
    char *c = mer_call_alloc(r, size);
    memset(c + sizeof(mer_call_t), 0, size - sizeof(mer_call_t));
    return c;
}

static void call_finish(mer_call_t *c)
{
    mer_req_t *r = c->r;
    c->again = false;
    if (c->err == 0 && c->committed) /* before the answer: the client's next request must see it */
        c->committed(c);
    if (!r->gone) {
        if (c->err && c->reply_error)
            c->reply_error(c);
        else if (c->err)
            mer_reply_job_error(r, c->err, &c->verr);
        else if (c->reply) {
            c->in_reply = true;
            c->reply(c);
            c->in_reply = false;
        } else if (c->result)
            mer_reply_json(r, c->status ? c->status : 200, c->result), c->result = NULL;
        else
            mer_reply_empty(r, c->status ? c->status : 204);
    }
    if (c->again) /* reply submitted the call again: it comes back here later */
        return;
    json_decref(c->result);
    if (c->cleanup)
        c->cleanup(c);
    free(c);
    mer_req_release(r);
}

static void call_unavailable(mer_call_t *c, const char *region)
{
    if (!c->r->gone)
        mer_reply_error(c->r, MER_E_UNAVAILABLE, NULL, "the store of %s is not accepting work right now",
                        region ? region : "the catalogue");
    c->again = false;
    if (c->in_reply) /* submitted again from reply: call_finish frees it when reply returns */
        return;
    if (c->cleanup)
        c->cleanup(c);
    json_decref(c->result);
    mer_req_release(c->r);
    free(c);
}

static void call_hold(mer_call_t *c, const char *region, mer_call_fn fn)
{
    if (!c->held) {
        mer_req_hold(c->r);
        c->held = true;
    }
    c->again = true;
    c->fn = fn;
    c->region = region;
    c->err = 0;
    c->verr = (mer_verr_t){0};
}

static void read_work(mer_job_t *job)
{
    mer_call_t *c = MER_CONTAINER_OF(job, mer_call_t, job);
    mer_db_t *db = mer_store_reader(c->region);
    c->err = db ? c->fn(db, c) : MER_E_UNAVAILABLE;
}

static void read_done(mer_job_t *job)
{
    call_finish(MER_CONTAINER_OF(job, mer_call_t, job));
}

void mer_call_read(mer_call_t *c, const char *region, mer_call_fn fn)
{
    call_hold(c, region, fn);
    c->job = (mer_job_t){.work = read_work, .done = read_done};
    if (mer_store_read_submit(&c->job) != 0)
        call_unavailable(c, region);
}

static int write_run(mer_db_t *db, mer_wjob_t *w)
{
    mer_call_t *c = MER_CONTAINER_OF(w, mer_call_t, wjob);
    return c->fn(db, c);
}

static void write_done(mer_wjob_t *w)
{
    mer_call_t *c = MER_CONTAINER_OF(w, mer_call_t, wjob);
    c->err = w->err;
    call_finish(c);
}

void mer_call_write(mer_call_t *c, const char *region, mer_call_fn fn)
{
    call_hold(c, region, fn);
    c->wjob = (mer_wjob_t){.run = write_run, .done = write_done};
    if (mer_writer_submit(region, &c->wjob) != 0)
        call_unavailable(c, region);
}

static void offload_work(mer_job_t *job)
{
    mer_call_t *c = MER_CONTAINER_OF(job, mer_call_t, job);
    c->err = c->fn(NULL, c);
}

void mer_call_offload(mer_call_t *c, mer_call_fn fn)
{
    call_hold(c, NULL, fn);
    c->job = (mer_job_t){.work = offload_work, .done = read_done};
    mer_offload_submit(&c->job);
}

/* ---- streamed answers (req.h: mer_call_stream) ----
 * The call goes round: a read job fills the chunk (stream_work), the loop sends it (stream_done), h2o says
 * when the client has taken it (stream_proceed), and the next job runs. One of three things holds the call
 * at any time: a job in flight, h2o (sending: until proceed or stop), or nobody (it is being freed). */
typedef struct mer_call_stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed and stop */
    mer_call_t *c;
    mer_stream_fn fn;
    const char *content_type;
    mer_buf_t chunk; /* the one chunk this stream holds; emptied, not freed, between chunks */
    bool started;    /* the status line is out */
    bool done;       /* fn has produced the last chunk */
    bool sending;    /* h2o has the chunk: no job is in flight */
    bool stopped;    /* h2o stopped the answer (the client went away) while a job was in flight */
} mer_call_stream_t;

static _Atomic uint64_t stream_count, stream_chunks, stream_max_chunk;

void mer_stream_stats(uint64_t *streams, uint64_t *chunks, uint64_t *max_chunk)
{
    *streams = atomic_load_explicit(&stream_count, memory_order_relaxed);
    *chunks = atomic_load_explicit(&stream_chunks, memory_order_relaxed);
    *max_chunk = atomic_load_explicit(&stream_max_chunk, memory_order_relaxed);
}

/* Frees the call (its cleanup first) and lets the request go. */
static void stream_end(mer_call_t *c)
{
    mer_call_stream_t *s = c->stream;
    mer_req_t *r = c->r;
    mer_buf_release(&s->chunk);
    free(s);
    c->stream = NULL;
    c->again = false;
    json_decref(c->result);
    if (c->cleanup)
        c->cleanup(c);
    free(c);
    mer_req_release(r);
}

static void stream_work(mer_job_t *job)
{
    mer_call_t *c = MER_CONTAINER_OF(job, mer_call_t, job);
    mer_db_t *db = mer_store_reader(c->region);
    mer_buf_reset(&c->stream->chunk);
    c->err = db ? c->stream->fn(db, c, &c->stream->chunk, &c->stream->done) : MER_E_UNAVAILABLE;
}

static void stream_done(mer_job_t *job);

/* The next chunk's job; a pool that refuses it ends the stream (an error answer before the first chunk). */
static void stream_submit(mer_call_t *c)
{
    c->job = (mer_job_t){.work = stream_work, .done = stream_done};
    if (mer_store_read_submit(&c->job) == 0)
        return;
    if (!c->stream->started)
        mer_reply_error(c->r, MER_E_UNAVAILABLE, NULL, "the store of %s is not accepting work right now",
                        c->region ? c->region : "the catalogue");
    else
        h2o_send(c->r->h2o, NULL, 0, H2O_SEND_STATE_ERROR);
    stream_end(c);
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    mer_call_stream_t *s = (mer_call_stream_t *)g;
    s->sending = false;
    if (s->done) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        stream_end(s->c);
        return;
    }
    stream_submit(s->c);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    mer_call_stream_t *s = (mer_call_stream_t *)g;
    if (s->sending) /* no job in flight: nothing else will end it */
        stream_end(s->c);
    else
        s->stopped = true; /* the job in flight ends it when it comes back */
}

static void stream_done(mer_job_t *job)
{
    mer_call_t *c = MER_CONTAINER_OF(job, mer_call_t, job);
    mer_call_stream_t *s = c->stream;
    mer_req_t *r = c->r;
    if (r->gone || s->stopped) {
        stream_end(c);
        return;
    }
    if (c->err) {
        if (!s->started) {
            if (c->reply_error)
                c->reply_error(c);
            else
                mer_reply_job_error(r, c->err, &c->verr);
        } else {
            mer_log_error("request %s: a streamed answer was cut short: %s", r->request_id, mer_err_code(c->err));
            h2o_send(r->h2o, NULL, 0, H2O_SEND_STATE_ERROR);
        }
        stream_end(c);
        return;
    }
    h2o_req_t *req = r->h2o;
    if (!s->started) {
        if (c->reply)
            c->reply(c);
        if (r->answered)
            MER_BUG("request %s answered twice", r->request_id);
        r->answered = true;
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, s->content_type,
                       strlen(s->content_type));
        h2o_start_response(req, &s->gen);
        s->started = true;
        atomic_fetch_add_explicit(&stream_count, 1, memory_order_relaxed);
    }
    uint64_t len = s->chunk.len, max = atomic_load_explicit(&stream_max_chunk, memory_order_relaxed);
    while (len > max && !atomic_compare_exchange_weak_explicit(&stream_max_chunk, &max, len, memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(&stream_chunks, 1, memory_order_relaxed);
    s->sending = true;
    h2o_iovec_t buf = h2o_iovec_init(s->chunk.data, s->chunk.len);
    h2o_send(req, &buf, s->chunk.len ? 1 : 0, H2O_SEND_STATE_IN_PROGRESS); /* proceed may run inside */
}

void mer_call_stream(mer_call_t *c, const char *region, const char *content_type, mer_stream_fn fn)
{
    MER_ASSERT(!c->in_reply && c->stream == NULL); /* from the handler, once (req.h) */
    call_hold(c, region, NULL);
    mer_call_stream_t *s = mer_xcalloc(1, sizeof(*s));
    s->gen = (h2o_generator_t){stream_proceed, stream_stop};
    s->c = c;
    s->fn = fn;
    s->content_type = content_type;
    s->chunk = (mer_buf_t)MER_BUF_INIT;
    c->stream = s;
    stream_submit(c);
}

bool mer_principal_may_country(const mer_principal_t *who, const char *country)
{
    if (who->role == MER_ROLE_ADMIN)
        return true;
    if (who->role == MER_ROLE_CUSTOMER)
        return strcmp(who->country, country) == 0;
    return who->role == MER_ROLE_OPERATOR && mer_list_has(who->countries, country);
}

bool mer_req_may_country(const mer_req_t *r, const char *country)
{
    return mer_principal_may_country(&r->who, country);
}

void mer_req_peer(const mer_req_t *r, char out[64])
{
    if (r->gone)
        out[0] = '\0';
    else
        mer_server_client(r->h2o, out);
}

/* ---- answering ---- */

static h2o_generator_t static_generator = {NULL, NULL};

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Entity";
    case 425:
        return "Too Early";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

void mer_reply_header(mer_req_t *r, const char *name, const char *value)
{
    if (r->gone)
        return;
    size_t vl = strlen(value);
    char *v = mer_req_strdup(r, value, vl);
    h2o_add_header_by_str(&r->h2o->pool, &r->h2o->res.headers, name, strlen(name), 1, NULL, v, vl);
}

void mer_reply_vary(mer_req_t *r, const char *name)
{
    if (r->gone)
        return;
    h2o_set_header_token(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_VARY, name, strlen(name));
}

void mer_reply_bytes(mer_req_t *r, int status, const char *content_type, const char *body, size_t len)
{
    if (r->gone)
        return;
    if (r->answered)
        MER_BUG("request %s answered twice", r->request_id);
    r->answered = true;
    h2o_req_t *req = r->h2o;
    req->res.status = status;
    req->res.reason = reason(status);
    if (content_type == NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json; charset=utf-8"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    req->res.content_length = len;
    h2o_start_response(req, &static_generator);
    h2o_send(req, &buf, len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void mer_reply_empty(mer_req_t *r, int status)
{
    mer_reply_bytes(r, status, "text/plain", "", 0);
}

void mer_reply_json(mer_req_t *r, int status, json_t *v)
{
    size_t len;
    if (r->gone) {
        json_decref(v);
        return;
    }
    if (v == NULL) {
        /* a json_pack that failed (e.g. text that is not UTF-8): a bug, but not worth the process */
        mer_log_error("request %s: answer could not be built", r->request_id);
        v = json_pack("{s:{s:s,s:s}}", "error", "code", "internal_error", "message", "the answer could not be built");
        status = 500;
    }
    char *s = mer_json_dump(v, &len);
    json_decref(v);
    char *body = pool_alloc(r, len);
    memcpy(body, s, len);
    free(s);
    mer_reply_bytes(r, status, NULL, body, len);
}

/*
 * The one writer of the error envelope {"error": {code, message, field?, reason?, ...extra}}, streamed
 * (text that is not UTF-8, such as an echoed parameter, comes out as U+FFFD).
 */
static void error_envelope(mer_buf_t *b, int err, const char *msg, const char *field, const char *reason, json_t *extra)
{
    mer_jw_t w;
    mer_jw_init(&w, b);
    mer_jw_obj(&w, NULL);
    mer_jw_obj(&w, "error");
    mer_jw_str(&w, "code", mer_err_code(err));
    mer_jw_str(&w, "message", msg);
    if (field && *field)
        mer_jw_str(&w, "field", field);
    if (reason)
        mer_jw_str(&w, "reason", reason);
    const char *key;
    json_t *v;
    json_object_foreach(extra, key, v)
    {
        size_t len;
        char *s = mer_json_dump(v, &len);
        mer_jw_raw(&w, key, s, len);
        free(s);
    }
    json_decref(extra);
    mer_jw_end(&w);
    mer_jw_end(&w);
}

static const char *(*language_hook)(const mer_req_t *r);

void mer_http_set_language_hook(const char *(*fn)(const mer_req_t *r))
{
    language_hook = fn;
}

/* The English message in the request's language (core/err_text.h), with Content-Language saying which. */
static void localize(mer_req_t *r, int err, const char *english, char *out, size_t cap)
{
    mer_locale_chain_t chain;
    size_t al_len = 0;
    const char *lang = mer_req_query(r, "lang"), *al = NULL;
    if (lang == NULL) {
        mer_reply_vary(r, "Accept-Language");
        al = mer_req_header(r, "accept-language", &al_len);
    }
    mer_locale_chain_build(&chain, lang, al, al_len, language_hook ? language_hook(r) : NULL);
    mer_reply_header(r, "content-language", mer_err_localize(err, english, &chain, out, cap));
}

static void reply_error_v(mer_req_t *r, int err, const char *field, const char *reason, json_t *extra, const char *fmt,
                          va_list ap)
{
    char english[512], msg[1024];
    if (err >= 0)
        err = MER_E_INTERNAL;
    if (fmt)
        vsnprintf(english, sizeof(english), fmt, ap);
    else
        snprintf(english, sizeof(english), "%s", mer_err_message(err));
    localize(r, err, english, msg, sizeof(msg));
    mer_buf_t b = MER_BUF_INIT;
    mer_buf_init(&b, 256);
    error_envelope(&b, err, msg, field, reason, extra);
    /* unavailable (stopping, overloaded, the database out of reach) is temporary: say when to try again,
     * unless the caller already did */
    if (err == MER_E_UNAVAILABLE && !r->gone &&
        h2o_find_header_by_str(&r->h2o->res.headers, H2O_STRLIT("retry-after"), -1) == -1)
        mer_reply_header(r, "retry-after", "1");
    mer_reply_bytes(r, mer_err_status(err), NULL, mer_req_strdup(r, b.data, b.len), b.len);
    mer_buf_release(&b);
}

void mer_reply_error(mer_req_t *r, int err, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, err, field, NULL, NULL, fmt, ap);
    va_end(ap);
}

void mer_reply_error_ex(mer_req_t *r, int err, const char *field, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, err, field, NULL, extra, fmt, ap);
    va_end(ap);
}

void mer_reply_error_reason(mer_req_t *r, int err, const char *field, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, err, field, reason, NULL, fmt, ap);
    va_end(ap);
}

void mer_reply_verr(mer_req_t *r, const mer_verr_t *e)
{
    mer_reply_error(r, e->code ? e->code : MER_E_VALIDATION, e->field, "%s", e->message);
}

void mer_reply_job_error(mer_req_t *r, int err, const mer_verr_t *e)
{
    if (e && e->code)
        mer_reply_verr(r, e);
    else
        mer_reply_error(r, err, NULL, NULL);
}

/* ---- reading ---- */

const char *mer_req_query(const mer_req_t *r, const char *key)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].key.base, key) == 0)
            return r->query[i].val.base;
    return NULL;
}

int mer_req_query_int(mer_req_t *r, const char *key, int64_t min, int64_t max, int64_t def, int64_t *out)
{
    const char *v = mer_req_query(r, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (mer_parse_int64(v, strlen(v), min, max, out) != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, key, "%s must be an integer from %lld to %lld", key, (long long)min,
                        (long long)max);
        return -1;
    }
    return 0;
}

int mer_req_idempotency_key(mer_req_t *r, const char **key, size_t *len)
{
    if (r->route == NULL || r->route->idem != MER_IDEM_KEY)
        MER_BUG("%s %s reads Idempotency-Key but its route table says it does not honour one",
                r->route ? r->route->method : "?", r->route ? r->route->pattern : "?");
    *len = 0;
    *key = mer_req_header(r, "idempotency-key", len);
    if (*key && (*len == 0 || *len > 100)) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "Idempotency-Key", "Idempotency-Key is 1 to 100 characters");
        return -1;
    }
    for (size_t i = 0; *key && i < *len; i++) {
        if ((*key)[i] < 0x21 || (*key)[i] > 0x7e) {
            mer_reply_error(r, MER_E_INVALID_PARAM, "Idempotency-Key", "Idempotency-Key must be printable ASCII");
            return -1;
        }
    }
    return 0;
}

int mer_req_param_id(mer_req_t *r, size_t idx, int64_t *out)
{
    if (idx >= r->nparams || mer_parse_int64(r->params[idx].base, r->params[idx].len, 1, INT64_C(1) << 53, out) != 0) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, NULL);
        return -1;
    }
    return 0;
}

const char *mer_req_header(const mer_req_t *r, const char *name, size_t *len)
{
    if (r->gone)
        return NULL;
    ssize_t i = h2o_find_header_by_str(&r->h2o->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    if (len)
        *len = r->h2o->headers.entries[i].value.len;
    return r->h2o->headers.entries[i].value.base;
}

bool mer_req_etag_matches(const mer_req_t *r, const char *etag)
{
    size_t len;
    const char *s = mer_req_header(r, "if-none-match", &len);
    return s != NULL && mer_etag_list_matches(s, len, etag, strlen(etag));
}

bool mer_etag_list_matches(const char *s, size_t len, const char *etag, size_t elen)
{
    if (elen >= 2 && etag[0] == 'W' && etag[1] == '/')
        etag += 2, elen -= 2;
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        const char *t = s + start;
        size_t tlen = end - start;
        if (tlen == 1 && t[0] == '*')
            return true;
        if (tlen >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2, tlen -= 2;
        if (tlen == elen && memcmp(t, etag, elen) == 0)
            return true;
    }
    return false;
}

static int parse_query(mer_req_t *r, const char *q, size_t len)
{
    size_t cap = MER_QUERY_BUF(len);
    mer_query_pair_t pairs[MER_MAX_QUERY];
    size_t n = 0;
    int rc = mer_query_parse(q, len, pool_alloc(r, cap), cap, pairs, MER_MAX_QUERY, &n);
    if (rc == MER_QUERY_TOO_MANY) {
        mer_reply_error(r, MER_E_INVALID_PARAM, NULL, "too many query parameters (at most %d)", MER_MAX_QUERY);
        return -1;
    }
    if (rc != MER_QUERY_OK) {
        mer_reply_error(r, MER_E_INVALID_PARAM, NULL, "the query string has a malformed %%-escape");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        r->query[i].key = h2o_iovec_init(pairs[i].key, pairs[i].klen);
        r->query[i].val = h2o_iovec_init(pairs[i].val, pairs[i].vlen);
    }
    r->nquery = n;
    return 0;
}

/* Matches pattern against path; on a match fills params and *nparams. */
static bool match(const char *pattern, const char *path, size_t plen, h2o_iovec_t params[MER_MAX_PARAMS],
                  size_t *nparams)
{
    size_t pi = 0, si = 0, np = 0;
    while (pattern[pi] && si < plen) {
        if (pattern[pi] == '{') {
            const char *close = strchr(pattern + pi, '}');
            size_t start = si;
            while (si < plen && path[si] != '/')
                si++;
            if (si == start || np >= MER_MAX_PARAMS)
                return false;
            params[np++] = h2o_iovec_init(path + start, si - start);
            pi = (size_t)(close - pattern) + 1;
            continue;
        }
        if (pattern[pi] != path[si])
            return false;
        pi++;
        si++;
    }
    if (pattern[pi] || si != plen)
        return false;
    *nparams = np;
    return true;
}

static bool method_is(const h2o_iovec_t m, const char *want)
{
    return m.len == strlen(want) && memcmp(m.base, want, m.len) == 0;
}

const mer_route_t *mer_router_find(h2o_iovec_t m, const char *path, size_t plen, h2o_iovec_t params[MER_MAX_PARAMS],
                                   size_t *nparams, mer_buf_t *allow)
{
    bool head = method_is(m, "HEAD");
    for (size_t t = 0; t < router.ntables; t++) {
        for (size_t i = 0; i < router.len[t]; i++) {
            const mer_route_t *rt = &router.table[t][i];
            size_t lit = router.lit[t][i];
            if (lit > plen || (rt->pattern[lit] == '\0' && lit != plen) || memcmp(rt->pattern, path, lit) != 0 ||
                !match(rt->pattern, path, plen, params, nparams))
                continue;
            if (method_is(m, rt->method) || (head && strcmp(rt->method, "GET") == 0))
                return rt;
            if (allow->len)
                mer_buf_addstr(allow, ", ");
            mer_buf_addstr(allow, rt->method);
        }
    }
    return NULL;
}

static int authenticate(mer_req_t *r)
{
    size_t len;
    const char *h = mer_req_header(r, "authorization", &len);
    if (h == NULL)
        return 0;
    if (len < 8 || !mer_streq_nocase(h, 7, "bearer ") || authenticator == NULL)
        return MER_E_UNAUTHORIZED;
    const char *tok = h + 7;
    len -= 7;
    while (len && *tok == ' ') {
        tok++;
        len--;
    }
    if (len == 0 || len > 200)
        return MER_E_UNAUTHORIZED;
    return authenticator(r, tok, len);
}

/* "<boot time hex>-<worker>-<counter>", written by hand: this runs for every request. */
static void format_request_id(char out[32], uint32_t boot, int worker, uint64_t n)
{
    static const char hex[] = "0123456789abcdef";
    char digits[24];
    size_t pos = 0, nd = 0;
    for (int i = 7; i >= 0; i--)
        out[pos++] = hex[(boot >> (i * 4)) & 15];
    out[pos++] = '-';
    if (worker >= 10)
        out[pos++] = (char)('0' + (worker / 10) % 10);
    out[pos++] = (char)('0' + worker % 10);
    out[pos++] = '-';
    do {
        digits[nd++] = (char)('0' + n % 10);
        n /= 10;
    } while (n && nd < sizeof(digits));
    while (nd && pos < 31)
        out[pos++] = digits[--nd];
    out[pos] = '\0';
}

/*
 * The X-Request-Id the request came with (set by `meridian gateway`, or a client tracing its calls), when
 * it is 1 to 31 characters of [A-Za-z0-9._:-]: the node answers and logs under the same id, so one request
 * can be followed from the edge to its node. Anything else is ignored and an id is made here.
 */
static bool adopt_request_id(h2o_req_t *req, char out[32])
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len == 0 || v.len > 31)
        return false;
    for (size_t k = 0; k < v.len; k++) {
        char c = v.base[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    memcpy(out, v.base, v.len);
    out[v.len] = '\0';
    return true;
}

static void next_request_id(mer_worker_t *w, char out[32])
{
    uint32_t boot = atomic_load_explicit(&boot_id, memory_order_relaxed);
    if (boot == 0) { /* the first request: one thread's start time wins; a losing CAS reads the winner's */
        uint32_t now = (uint32_t)time(NULL);
        boot = atomic_compare_exchange_strong(&boot_id, &boot, now) ? now : boot;
    }
    format_request_id(out, boot, w ? w->index : 0, w ? ++w->next_request : 0);
}

/* Is a header line (not a continuation) of the raw head named name (lower-case)? */
static bool head_line_is(const char *line, size_t len, const char *name, size_t nlen)
{
    return len > nlen && line[nlen] == ':' && mer_streq_nocase(line, nlen, name);
}

/*
 * HTTP/1 body framing that two parsers could read differently (request smuggling): more than one
 * Content-Length, more than one Transfer-Encoding, or both. h2o 2.2 keeps the first Content-Length (or the
 * last Transfer-Encoding) and drops the others before a handler sees the headers, so they are counted in
 * the raw head, which is still at the start of the connection's input buffer: h2o consumes a request's
 * bytes only after its answer has been sent.
 */
static bool framing_ambiguous(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL)
        return false;
    const char *p = sock->input->bytes, *end = p + MER_MIN(sock->input->size, (size_t)H2O_MAX_REQLEN);
    const char *nl = memchr(p, '\n', (size_t)(end - p)); /* the request line */
    int cl = 0, te = 0;
    while (nl != NULL) {
        const char *line = nl + 1;
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            break;
        size_t len = (size_t)(nl - line);
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the end of the head */
        cl += head_line_is(line, len, "content-length", 14);
        te += head_line_is(line, len, "transfer-encoding", 17);
    }
    return cl > 1 || te > 1 || (cl && te);
}

void mer_http_low_error(int status, h2o_iovec_t text, mer_buf_t *body, char request_id[32])
{
    int err;
    switch (status) {
    case 404:
        err = MER_E_NOT_FOUND;
        break;
    case 405:
        err = MER_E_METHOD_NOT_ALLOWED;
        break;
    case 413:
        err = MER_E_TOO_LARGE;
        break;
    case 417:
        err = MER_E_EXPECTATION_FAILED;
        break;
    case 503:
        err = MER_E_UNAVAILABLE;
        break;
    default:
        err = status >= 500 ? MER_E_INTERNAL : MER_E_BAD_REQUEST;
        break;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "%.*s", (int)MER_MIN(text.len, sizeof(msg) - 1), text.len ? text.base : "");
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "%s", mer_err_message(err));
    error_envelope(body, err, msg, NULL, NULL, NULL);
    next_request_id(mer_worker_self(), request_id);
}

/* The part of dispatch after the bearer token is known (err: the authenticator's verdict). */
static void dispatch_authenticated(mer_req_t *r, int err)
{
    h2o_req_t *req = r->h2o;
    if (err) {
        mer_reply_header(r, "www-authenticate", "Bearer");
        mer_reply_error(r, err, NULL, "the bearer token is missing, malformed, expired or revoked");
        return;
    }
    if (r->route->auth != MER_AUTH_PUBLIC) {
        if (r->who.role == MER_ROLE_NONE) {
            mer_reply_header(r, "www-authenticate", "Bearer");
            mer_reply_error(r, MER_E_UNAUTHORIZED, NULL, "this call needs an Authorization: Bearer token");
            return;
        }
        if ((r->route->auth == MER_AUTH_STAFF && r->who.role < MER_ROLE_OPERATOR) ||
            (r->route->auth == MER_AUTH_ADMIN && r->who.role != MER_ROLE_ADMIN)) {
            mer_reply_error(r, MER_E_FORBIDDEN, NULL, "your role may not call this");
            return;
        }
    }

    if (r->route->flags & MER_ROUTE_JSON_BODY) {
        size_t ctlen;
        const char *ct = mer_req_header(r, "content-type", &ctlen);
        if (ct && !(ctlen >= 16 && mer_streq_nocase(ct, 16, "application/json") &&
                    (ctlen == 16 || ct[16] == ';' || ct[16] == ' '))) {
            mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, NULL, "send the body as application/json");
            return;
        }
        if (req->entity.base == NULL || req->entity.len == 0) {
            mer_reply_error(r, MER_E_INVALID_JSON, NULL, "the request body is empty; a JSON object is expected");
            return;
        }
        json_error_t jerr;
        r->body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
        if (r->body == NULL) {
            mer_reply_error_ex(r, MER_E_INVALID_JSON, NULL,
                               json_pack("{s:i,s:i}", "line", jerr.line, "column", jerr.column),
                               "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
            return;
        }
        if (!json_is_object(r->body)) {
            mer_reply_error(r, MER_E_INVALID_JSON, NULL, "the request body must be a JSON object");
            return;
        }
    }
    r->route->fn(r);
    if (!r->answered && !r->held)
        MER_BUG("handler for %s %s returned without answering", r->route->method, r->route->pattern);
}

void mer_http_resume(mer_req_t *r, int err)
{
    r->held = false;
    if (!r->gone)
        dispatch_authenticated(r, err);
    mer_req_release(r);
}

int mer_http_dispatch(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    mer_worker_t *w = mer_worker_self();
    mer_req_t *r = h2o_mem_alloc_shared(NULL, sizeof(*r), req_dispose);
    memset(r, 0, sizeof(*r));
    r->h2o = req;
    r->worker = w;
    guard_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), guard_dispose);
    g->r = r;
    r->started_ns = mer_now_mono_ns();
    *h2o_req_getenv(req, H2O_STRLIT(REQ_ENV_KEY), 1) = h2o_iovec_init((char *)r, sizeof(*r));
    if (w)
        mer_worker_inflight_add(w, 1);

    if (!adopt_request_id(req, r->request_id))
        next_request_id(w, r->request_id);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    if (framing_ambiguous(req)) {
        req->http1_is_persistent = 0; /* what follows this head cannot be trusted to start a request */
        mer_reply_error(r, MER_E_BAD_REQUEST, NULL,
                        "a request carries one Content-Length or one Transfer-Encoding header, never several");
        return 0;
    }

    const char *path = req->path_normalized.base;
    size_t plen = req->path_normalized.len;
    r->path = req->path_normalized;

    mer_buf_t allow = MER_BUF_INIT;
    r->route = mer_router_find(req->method, path, plen, r->params, &r->nparams, &allow);
    if (r->route == NULL) {
        if (allow.len) {
            mer_reply_header(r, "allow", mer_buf_str(&allow));
            mer_reply_error(r, MER_E_METHOD_NOT_ALLOWED, NULL, "%.*s is not allowed here; allowed: %s",
                            (int)MER_MIN(req->method.len, 16), req->method.base, mer_buf_str(&allow));
        } else {
            mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such route");
        }
        mer_buf_release(&allow);
        return 0;
    }
    mer_buf_release(&allow);

    if (req->query_at != SIZE_MAX &&
        parse_query(r, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1) != 0)
        return 0;

    int err = authenticate(r);
    if (err == MER_AUTH_PENDING)
        return 0; /* the authenticator holds r and calls mer_http_resume() */
    dispatch_authenticated(r, err);
    return 0;
}
