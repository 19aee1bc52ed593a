/*
 * req.h — one API request as handlers see it, the route tables, and the one way to answer.
 *
 * Lifecycle: the server hands each h2o request to mer_http_dispatch(), which allocates a mer_req_t in the
 * request's memory pool (freed with the request, in one go), assigns a request id (also sent back in the
 * X-Request-Id header and written to the access log), matches the route, checks the method, parses the
 * query string, authenticates when the route asks for it, parses a JSON body when the route takes one,
 * and calls the handler. A handler answers exactly once, either before returning or later from its worker
 * thread (asynchronous answers: see mer_req_hold()).
 *
 * Errors are answered only through mer_reply_error(), which writes the one error envelope (see README):
 *     {"error": {"code": "invalid_parameter", "message": "...", "field": "page"}}
 * Messages are written in English; the envelope carries them in the request's language (core/err_text.h:
 * ?lang=, else Accept-Language, then the country's default language, then English), named by the
 * Content-Language header. The code and the field never change with the language.
 */
#ifndef MER_REQ_H
#define MER_REQ_H

#include <h2o.h>
#include <jansson.h>

#include "core/json.h"
#include "http/server.h"
#include "store/writer.h"

#define MER_MAX_QUERY 24
#define MER_MAX_PARAMS 4

typedef struct mer_req mer_req_t;
typedef void (*mer_handler_fn)(mer_req_t *r);

/* Who may call a route. */
typedef enum {
    MER_AUTH_PUBLIC = 0, /* anyone; a valid token is still read if sent */
    MER_AUTH_USER,       /* a logged-in customer or staff member */
    MER_AUTH_STAFF,      /* admin or country operator */
    MER_AUTH_ADMIN,      /* admin only */
} mer_auth_level_t;

enum {
    MER_ROUTE_JSON_BODY = 1 << 0, /* parse the body as a JSON object into r->body (400 invalid_json if not) */
};

/* Does a route honour an Idempotency-Key header (see mer_req_idempotency_key)? */
typedef enum {
    MER_IDEM_NONE = 0, /* the header is ignored */
    MER_IDEM_KEY,      /* a retry with the same key and body answers as the first request did */
} mer_idempotency_t;

/*
 * Which of the limiters that exist a route is subject to (documentation of what its handler applies;
 * the limiter's code checks that its route says so). The router itself limits nothing.
 */
typedef enum {
    MER_RATE_NONE = 0, /* no limiter */
    MER_RATE_LOGIN,    /* failed-login back-off per account and per client address (account/throttle.h) */
    MER_RATE_FLASH,    /* the sale's GCRA limits per buyer and per client address (flashsale/flash_int.h) */
} mer_rate_class_t;

typedef struct mer_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/products/{id}": {name} matches one non-empty segment */
    mer_handler_fn fn;
    mer_auth_level_t auth;  /* who may call it; checked by the router before fn */
    int flags;              /* MER_ROUTE_* */
    mer_idempotency_t idem; /* whether it honours Idempotency-Key */
    mer_rate_class_t rate;  /* the limiter its handler applies */
} mer_route_t;

/*
 * One route table as a module declares it (module.h), usually one per source file that owns handlers:
 *     static const mer_route_t routes[] = {...};
 *     static const mer_routes_t cart_routes = {routes, MER_ARRAY_LEN(routes)};
 */
typedef struct mer_routes {
    const mer_route_t *table; /* static storage */
    size_t n;                 /* its rows */
} mer_routes_t;

/* The authenticated caller, if any. */
typedef enum { MER_ROLE_NONE = 0, MER_ROLE_CUSTOMER, MER_ROLE_OPERATOR, MER_ROLE_ADMIN } mer_role_t;

typedef struct mer_principal {
    mer_role_t role;
    int64_t id;          /* user or staff id */
    char region[16];     /* a customer's home region */
    char country[3];     /* a customer's country */
    char countries[64];  /* an operator's countries, comma-separated ("IN,SG") */
    char token_hash[65]; /* hex hash of the token used (for logout) */
    /* customers, for anti-scalper rules */
    int64_t created_at;          /* account creation, Unix ms */
    uint64_t phone_hash;         /* 0 when no phone */
    uint64_t address_hash;       /* of the default address's postal code and first line; 0 when none */
    uint64_t address_phone_hash; /* mer_phone_hash of the default address's phone; 0 when none */
} mer_principal_t;

struct mer_req {
    h2o_req_t *h2o;
    mer_worker_t *worker;
    const mer_route_t *route;
    h2o_iovec_t path;                   /* without the query string */
    h2o_iovec_t params[MER_MAX_PARAMS]; /* values of {name} segments, in order */
    size_t nparams;
    struct {
        h2o_iovec_t key, val; /* percent-decoded, NUL-terminated */
    } query[MER_MAX_QUERY];
    size_t nquery;
    json_t *body; /* parsed JSON body (decref'd with the request) */
    mer_principal_t who;
    char request_id[32];
    uint64_t started_ns; /* monotonic clock when the request reached the router (access log, metrics) */
    bool answered;
    bool held; /* an asynchronous answer is pending (mer_req_hold) */
    bool gone; /* the client went away before an asynchronous answer */
};

/* Registers a route table (static storage) with the router; call at start-up only. */
void mer_router_add(const mer_route_t *routes, size_t n);

/*
 * Finds the route for a method and a normalised path (what mer_http_dispatch does first; a seam for unit
 * tests). Routes are tried in registration order and the first whose pattern and method match wins; HEAD
 * matches GET routes. Returns the route, with the values of its {name} segments in params[0..*nparams),
 * or NULL: then allow lists ("GET, POST") the methods of the routes whose pattern matched the path, so an
 * empty allow means 404 and a non-empty one 405. params may be written even when NULL is returned.
 */
const mer_route_t *mer_router_find(h2o_iovec_t method, const char *path, size_t plen,
                                   h2o_iovec_t params[MER_MAX_PARAMS], size_t *nparams, mer_buf_t *allow);

/* The h2o handler entry point. */
int mer_http_dispatch(h2o_handler_t *self, h2o_req_t *req);

/*
 * The error envelope for an answer made below the router (see http/server.h: h2o's own 400/413/417, a
 * request that is not HTTP): writes it into body, with h2o's text (or the code's default) as the message,
 * and a fresh request id into request_id. The server's on_low_error hook.
 */
void mer_http_low_error(int status, h2o_iovec_t text, mer_buf_t *body, char request_id[32]);

/*
 * The registered routes, numbered 0..mer_router_count()-1 in registration order (for per-route metrics).
 * mer_router_index() gives a route's number, or SIZE_MAX for a pointer that is not a registered route.
 */
size_t mer_router_count(void);
const mer_route_t *mer_router_at(size_t i);
size_t mer_router_index(const mer_route_t *rt);

/*
 * The mer_req_t of an h2o request that went through mer_http_dispatch(), or NULL (a request h2o answered
 * by itself). Valid until h2o frees the request, so in particular in its access logger.
 */
mer_req_t *mer_req_of(h2o_req_t *req);

/*
 * Authenticator hook, set by the account module: returns 0 and fills r->who, or a negative error; or,
 * when it must look the token up in the store, holds r (mer_req_hold), returns MER_AUTH_PENDING, and
 * later, on r's worker thread, calls mer_http_resume(r, 0 or the error), which goes on with the request
 * as if the hook had returned that, and drops the hold.
 */
#define MER_AUTH_PENDING 1
void mer_http_set_authenticator(int (*fn)(mer_req_t *r, const char *token, size_t len));
void mer_http_resume(mer_req_t *r, int err);

/*
 * Language hook, set by the region module: the default language of the request's country (?country=,
 * X-Country, or the customer's), or NULL; error messages fall back to it before English, as texts do.
 */
void mer_http_set_language_hook(const char *(*fn)(const mer_req_t *r));

/* ---- reading the request ---- */

/* A query parameter's value (decoded, NUL-terminated), or NULL if absent. */
const char *mer_req_query(const mer_req_t *r, const char *key);
/*
 * An integer query parameter in [min, max]; def if absent. Returns 0, or answers 400 invalid_parameter
 * naming the field and returns -1.
 */
int mer_req_query_int(mer_req_t *r, const char *key, int64_t min, int64_t max, int64_t def, int64_t *out);
/*
 * The request's Idempotency-Key header, on a route whose table says MER_IDEM_KEY (any other route calling
 * it is a bug): returns 0 with *key NULL when there is none, 0 with *key and *len set when it is 1 to 100
 * printable ASCII characters, or answers 400 invalid_parameter (field Idempotency-Key) and returns -1.
 */
int mer_req_idempotency_key(mer_req_t *r, const char **key, size_t *len);
/* A path parameter {..} as a positive id; answers 404 and returns -1 if it is not one. */
int mer_req_param_id(mer_req_t *r, size_t idx, int64_t *out);
/* A request header's value, or NULL; *len receives its length. */
const char *mer_req_header(const mer_req_t *r, const char *name, size_t *len);
/* May the caller act for this country? Admins always; operators for their listed countries; customers
 * for their own country. The principal form serves code that kept only r->who (writer jobs). */
bool mer_req_may_country(const mer_req_t *r, const char *country);
bool mer_principal_may_country(const mer_principal_t *who, const char *country);
/* The client's IP address as text ("" if unknown): behind a trusted gateway, the one it forwarded
 * (mer_server_client, `serve --trusted-proxy`). */
void mer_req_peer(const mer_req_t *r, char out[64]);
/* A copy of a string in the request's pool. */
char *mer_req_strdup(mer_req_t *r, const char *s, size_t len);

/* ---- answering ---- */

/*
 * Does the request's If-None-Match name etag (a quoted entity tag as sent in ETag)? Compares weakly, as
 * RFC 9110 says for If-None-Match: W/"x" matches "x"; a list matches when one member does; "*" matches.
 * A true answer means 304 (the caller answers it, with its ETag and Cache-Control).
 */
bool mer_req_etag_matches(const mer_req_t *r, const char *etag);

/* The same test on an If-None-Match value s (len bytes) and an entity tag of elen bytes: for a shared
 * cache that has the header and the tag but no mer_req_t (the gateway's edge cache). */
bool mer_etag_list_matches(const char *s, size_t len, const char *etag, size_t elen);

/* Adds a response header (name lower-case). value is copied into the pool. */
void mer_reply_header(mer_req_t *r, const char *name, const char *value);
/*
 * Records that the answer depends on a request header (its name as sent in Vary, e.g. "X-Country"): adds
 * the name to the Vary response header once, so a shared cache keeps one copy per value. Call it whenever
 * the header is consulted, also when it turns out absent; it stays on every answer, 304s included.
 */
void mer_reply_vary(mer_req_t *r, const char *name);
/* Answers with a JSON value (serialised; the reference is stolen). */
void mer_reply_json(mer_req_t *r, int status, json_t *v);
/*
 * Answers with bytes that stay valid for the request (pool memory, or an h2o shared allocation linked
 * into the pool with h2o_mem_link_shared()). content_type NULL = application/json.
 */
void mer_reply_bytes(mer_req_t *r, int status, const char *content_type, const char *body, size_t len);
/* Answers 204 No Content. */
void mer_reply_empty(mer_req_t *r, int status);
/* Answers with the error envelope; fmt NULL = the code's default message. field may be NULL. */
void mer_reply_error(mer_req_t *r, int err, const char *field, const char *fmt, ...) MER_PRINTF(4, 5);
/* Answers a validation error collected in a mer_verr_t. */
void mer_reply_verr(mer_req_t *r, const mer_verr_t *e);
/* Answers a writer job that failed with err: the error it described in e (when e->code is set, with its
 * field and message), else err with its default message. */
void mer_reply_job_error(mer_req_t *r, int err, const mer_verr_t *e);
/* Adds extra members to the next error envelope (e.g. region/url for 421); steals obj. */
void mer_reply_error_ex(mer_req_t *r, int err, const char *field, json_t *extra, const char *fmt, ...) MER_PRINTF(5, 6);
/*
 * The error envelope with a machine-readable "reason" (why a coupon or a flash-sale grab was refused).
 * Builds no JSON tree: flash-sale refusals are most of a sale's traffic.
 */
void mer_reply_error_reason(mer_req_t *r, int err, const char *field, const char *reason, const char *fmt, ...)
    MER_PRINTF(5, 6);

/*
 * Asynchronous answers. mer_req_hold() marks r as answered later; the handler returns at once. When the
 * result is ready, on the same worker thread, check r->gone (the client disconnected and r must not be
 * answered; the memory is still valid until mer_req_release()) and answer, then call mer_req_release().
 */
void mer_req_hold(mer_req_t *r);
void mer_req_release(mer_req_t *r);

/* ---- a request's work off the loop: the one submit/done path ----
 *
 * A handler (the adapter) parses and checks the request on its loop, copies what the work needs into a
 * call, and submits it; fn then runs on another thread with a database connection, and the call comes
 * back to the handler's loop, where the answer is written. The shape:
 *
 *     typedef struct { mer_call_t c; int64_t id; ... } get_order_t;   the call first
 *     static int get_order(mer_db_t *db, mer_call_t *c) { ... c->result = json ...; return 0; }
 *     get_order_t *g = mer_call_new(r, sizeof(*g));  g->id = id;
 *     mer_call_read(&g->c, region, get_order);       handler returns; the answer comes later
 *
 * fn returns 0 or a negative error (with c->verr describing it when it names a field or needs its own
 * message). Then, on the loop: after a success c->committed (when set) first; an error is answered by c->reply_error
 * when set, else with mer_reply_job_error(); a success with c->reply when set (which may also submit the call again,
 * for a read followed by a write), else with c->result as JSON (status c->status, default 200), else 204. A client that
 * went away gets nothing. Afterwards c->cleanup (when set) runs and the call is freed.
 *
 * fn runs on another thread: it must not touch c->r (copy what it needs before submitting), only the
 * call and the database it is given.
 */
typedef struct mer_call mer_call_t;
typedef int (*mer_call_fn)(mer_db_t *db, mer_call_t *c);
struct mer_call {
    mer_req_t *r;                   /* the request, held until the call is answered */
    mer_principal_t who;            /* the caller: a copy of r->who */
    int err;                        /* fn's result */
    mer_verr_t verr;                /* fn's description of a failure (code, field, message), optional */
    int status;                     /* the success status; 0 = 200 with a result, 204 without */
    json_t *result;                 /* the success answer (stolen) */
    void (*reply)(mer_call_t *c);   /* optional: answers a success itself, on the loop */
    void (*cleanup)(mer_call_t *c); /* optional: frees what the call owns besides itself */
    /* optional, on the loop each time fn succeeded (a write: committed), before the answer and whether
     * or not the client is still there: publishes what must follow the change (drops cached answers) */
    void (*committed)(mer_call_t *c);
    /* optional: answers a failure itself (c->err, c->verr), on the loop: an envelope with extra members */
    void (*reply_error)(mer_call_t *c);
    /* private */
    mer_call_fn fn;
    const char *region;
    bool held, again, in_reply;
    mer_job_t job;
    mer_wjob_t wjob;
    struct mer_call_stream *stream; /* a streamed answer (mer_call_stream), else NULL */
};

/* A zeroed call of size bytes (the mer_call_t first) for r, with c->r and c->who set. Caller submits it. */
void *mer_call_new(mer_req_t *r, size_t size);
/* The same with only the mer_call_t zeroed: the rest is the caller's to initialise, for a large call whose
 * own init zeroes only what it uses (the checkout's per-line arrays: zeroing them all cost more than the
 * rest of the request). */
void *mer_call_alloc(mer_req_t *r, size_t size);
/* fn(db, c) on the read pool, db being that thread's read connection to region (NULL = catalog.db). */
void mer_call_read(mer_call_t *c, const char *region, mer_call_fn fn);
/* fn(db, c) as a writer job of region (NULL = catalog.db): in its own savepoint of a batch transaction,
 * answered after the commit. An error from fn rolls back what fn wrote. */
void mer_call_write(mer_call_t *c, const char *region, mer_call_fn fn);
/* fn(NULL, c) on the offload pool (http/offload.h): work that needs no database but must not run on a loop,
 * CPU-heavy (an image to resize) or a file to read. A reply may then submit the call again (read, write). */
void mer_call_offload(mer_call_t *c, mer_call_fn fn);

/*
 * Streamed answers: a body too big to build in one buffer (an export of the whole catalogue), produced and
 * sent one chunk at a time, so a stream holds one chunk in memory whatever the size of the answer.
 *
 *     static int more(mer_db_t *db, mer_call_t *c, mer_buf_t *out, bool *done)   on the read pool
 *     { ... append rows after the call's cursor until out->len >= MER_STREAM_CHUNK or the end ...
 *       ... advance the cursor; *done = true after the last row ...; return 0; }
 *     mer_call_stream(&x->c, region, "text/csv; charset=utf-8", more);
 *
 * fn runs as a read job (db: that thread's read connection to region, NULL = catalog.db) with out empty; the
 * chunk it leaves is sent (HTTP/1.1 chunked, or HTTP/2 DATA frames) and only when the client has taken it
 * does the next job run, with out emptied again (its memory kept). So the server holds one chunk per stream,
 * and a slow client slows its export, not the server. The call keeps its state between chunks (the cursor:
 * where the next chunk starts); each chunk is read on its own (a snapshot or transaction per chunk: rows
 * changed during an export appear as they were when their chunk was made).
 * Before the first chunk: an error from fn is answered as any call's (c->reply_error, else
 * mer_reply_job_error); on success c->reply, when set, only adds response headers (mer_reply_header) before
 * the status line (200, content_type) goes out. After the first chunk an error can only cut the answer short
 * (logged; the client sees an incomplete chunked body). A client that goes away ends the stream at the next
 * chunk. c->cleanup runs at the end, as for every call. Call it from the handler (not from a call's reply).
 */
#define MER_STREAM_CHUNK 65536 /* bytes a stream function produces per chunk (it may overshoot by one row) */
typedef int (*mer_stream_fn)(mer_db_t *db, mer_call_t *c, mer_buf_t *out, bool *done);
void mer_call_stream(mer_call_t *c, const char *region, const char *content_type, mer_stream_fn fn);
/* Streams answered, chunks sent, and the largest chunk any stream held (bytes), since start (/metrics). */
void mer_stream_stats(uint64_t *streams, uint64_t *chunks, uint64_t *max_chunk);

#endif
