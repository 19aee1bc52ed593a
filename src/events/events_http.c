/*
 * events_http.c — admin routes for outgoing webhooks and the event log.
 *
 *   POST   /api/v1/admin/webhooks      {"url": "...", "events": ["order.paid", "order.*"]}  -> 201 with secret
 *   GET    /api/v1/admin/webhooks
 *   DELETE /api/v1/admin/webhooks/{id}
 *   GET    /api/v1/admin/webhooks/{id}/deliveries[?status=][&region=][&limit=]   newest first, with results
 *   POST   /api/v1/admin/webhooks/{id}/deliveries/{event_id}/redeliver          -> 202, attempted at once
 *   GET    /api/v1/admin/events?country=IN[&order_id=][&limit=]   events with their delivery state
 */
#include <sodium.h>
#include <stdio.h>

#include "core/log.h"
#include "events/events.h"
#include "http/req.h"
#include "region/region_http.h"
#include "store/store.h"
#include "core/banned.h"

/* ---- webhook subscriptions (catalog.db: read on the read pool, written by its writer) ---- */

typedef struct create_call {
    mer_call_t c;
    mer_buf_t list; /* the event list, comma-separated */
    char url[256], secret[64];
} create_call_t;

static int create_run(mer_db_t *db, mer_call_t *c)
{
    create_call_t *k = (create_call_t *)c;
    int64_t id = 0;
    int err = mer_db_query_int(db, &id,
                               "INSERT INTO webhook_subscription (url, events, secret, created_at) VALUES (?, ?, ?, ?) "
                               "RETURNING id",
                               "sssi", k->url, mer_buf_str(&k->list), k->secret, mer_now_unix_ms());
    if (err)
        return err;
    mer_log_info("webhook %lld to %s added by staff %lld", (long long)id, k->url, (long long)c->who.id);
    c->status = 201;
    c->result = json_pack("{s:I,s:s,s:o,s:s,s:s}", "id", (json_int_t)id, "url", k->url, "events",
                          mer_json_csv_array(mer_buf_str(&k->list)), "secret", k->secret, "note",
                          "the secret is shown once; verify X-Meridian-Signature with it");
    return 0;
}

static void create_free(mer_call_t *c)
{
    create_call_t *k = (create_call_t *)c;
    mer_buf_release(&k->list);
    sodium_memzero(k->secret, sizeof(k->secret));
}

static void h_create(mer_req_t *r)
{
    static const char *const keys[] = {"url", "events", NULL};
    mer_verr_t e = {0};
    const char *url = NULL;
    json_t *events = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "url", "url", 8, 250, true, &url, &e) ||
        mer_json_member(r->body, "events", "events", JSON_ARRAY, false, &events, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    char why[200];
    if (mer_webhook_url_check(url, mer_events_egress_allow(), why, sizeof(why)) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "url", "%s", why);
        return;
    }
    mer_buf_t list = MER_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v)
    {
        const char *t = json_string_value(v);
        bool ok = t && strlen(t) >= 1 && strlen(t) <= 48;
        for (const char *p = t; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_' || *p == '*';
        if (!ok || list.len > 400) {
            mer_buf_release(&list);
            mer_reply_error(r, MER_E_VALIDATION, "events", "events are names like order.paid, or order.* / *");
            return;
        }
        if (list.len)
            mer_buf_addch(&list, ',');
        mer_buf_addstr(&list, t);
    }
    if (list.len == 0)
        mer_buf_addstr(&list, "*");
    create_call_t *k = mer_call_new(r, sizeof(*k));
    k->list = list;
    snprintf(k->url, sizeof(k->url), "%s", url);
    unsigned char raw[24];
    randombytes_buf(raw, sizeof(raw));
    memcpy(k->secret, "whsec_", 6);
    sodium_bin2hex(k->secret + 6, sizeof(k->secret) - 6, raw, sizeof(raw));
    k->c.cleanup = create_free;
    mer_call_write(&k->c, MER_STORE_CATALOG, create_run);
}

static int list_run(mer_db_t *db, mer_call_t *c)
{
    json_t *arr = json_array();
    mer_rows_t *rows =
        mer_db_query(db, "SELECT id, url, events, active, created_at FROM webhook_subscription ORDER BY id", NULL);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 4), ts);
        json_array_append_new(arr,
                              json_pack("{s:I,s:s,s:o,s:b,s:s}", "id", (json_int_t)mer_rows_int(rows, 0), "url",
                                        mer_rows_text(rows, 1), "events", mer_json_csv_array(mer_rows_text(rows, 2)),
                                        "active", mer_rows_int(rows, 3) != 0, "created_at", ts));
    }
    int err = mer_rows_end(rows);
    if (err) {
        json_decref(arr);
        return err;
    }
    c->result = json_pack("{s:o}", "webhooks", arr);
    return 0;
}

static void h_list(mer_req_t *r)
{
    mer_call_read(mer_call_new(r, sizeof(mer_call_t)), MER_STORE_CATALOG, list_run);
}

/* A call about the webhook {id} of the path. */
typedef struct hook_call {
    mer_call_t c;
    int64_t id;
    bool active;
    char events[512];
} hook_call_t;

static int delete_run(mer_db_t *db, mer_call_t *c)
{
    hook_call_t *h = (hook_call_t *)c;
    int rc = mer_db_exec(db, "UPDATE webhook_subscription SET active = 0 WHERE id = ? AND active = 1", "i", h->id);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "no active webhook %lld", (long long)h->id);
    c->status = 204;
    return 0;
}

static void h_delete(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    hook_call_t *h = mer_call_new(r, sizeof(*h));
    h->id = id;
    mer_call_write(&h->c, MER_STORE_CATALOG, delete_run);
}

/* Loads the webhook h->id (its event list and whether it is active) from catalog.db. Returns 0,
 * MER_E_NOT_FOUND (described in c->verr) or another error. */
static int load_webhook(mer_db_t *catalog, hook_call_t *h)
{
    mer_rows_t *rows =
        mer_db_query(catalog, "SELECT events, active FROM webhook_subscription WHERE id = ?", "i", h->id);
    bool found = mer_rows_next(rows);
    if (found) {
        snprintf(h->events, sizeof(h->events), "%s", mer_rows_text(rows, 0));
        h->active = mer_rows_int(rows, 1) != 0;
    }
    int err = mer_rows_end(rows);
    if (err)
        return err;
    return found ? 0 : mer_verr_set(&h->c.verr, MER_E_NOT_FOUND, NULL, "no webhook %lld", (long long)h->id);
}

static json_t *delivery_json(const char *region, mer_rows_t *rows)
{
    /* columns: event, type, order_id, status, attempts, last_result, last_error, next_attempt_at,
     * delivered_at, created_at */
    char eid[48], ts[32];
    mer_event_id(region, mer_rows_int(rows, 0), eid);
    mer_format_utc_ms(mer_rows_int(rows, 9), ts);
    const char *status = mer_rows_text(rows, 3);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "event_id", eid, "type", mer_rows_text(rows, 1),
                          "region", region, "status", status, "attempts", (json_int_t)mer_rows_int(rows, 4), "result",
                          mer_rows_text(rows, 5), "last_error", mer_rows_text(rows, 6), "created_at", ts);
    if (mer_rows_int(rows, 2))
        json_object_set_new(o, "order_id", json_integer(mer_rows_int(rows, 2)));
    if (strcmp(status, "pending") == 0) {
        mer_format_utc_ms(mer_rows_int(rows, 7), ts);
        json_object_set_new(o, "next_attempt_at", json_string(ts));
    }
    if (!mer_rows_null(rows, 8)) {
        mer_format_utc_ms(mer_rows_int(rows, 8), ts);
        json_object_set_new(o, "delivered_at", json_string(ts));
    }
    return o;
}

static int by_created_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "created_at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "created_at"));
    return strcmp(y, x);
}

typedef struct deliveries_call {
    hook_call_t h;
    mer_verr_t query; /* what was wrong with the query, answered after the webhook was found */
    int64_t limit;
    char status[16];                  /* "" = any */
    char region[MER_REGION_NAME_MAX]; /* "" = every local region */
} deliveries_call_t;

/* On the read pool: the webhook from catalog.db, then its deliveries from each region's database. */
static int deliveries_run(mer_db_t *catalog, mer_call_t *c)
{
    deliveries_call_t *q = (deliveries_call_t *)c;
    int err = load_webhook(catalog, &q->h);
    if (err)
        return err;
    if (q->query.code) {
        c->verr = q->query;
        return q->query.code;
    }
    char name[32];
    snprintf(name, sizeof(name), "webhook:%lld", (long long)q->h.id);
    const mer_countries_t *cs = mer_countries();
    json_t *arr = json_array();
    for (size_t i = 0; i < cs->nregions && err == 0; i++) {
        if (!cs->regions[i].local || (q->region[0] && strcmp(q->region, cs->regions[i].name) != 0))
            continue;
        mer_db_t *db = mer_store_reader(cs->regions[i].name);
        if (db == NULL) {
            err = MER_E_UNAVAILABLE;
            break;
        }
        mer_rows_t *rows = mer_db_query(db,
                                        "SELECT d.event, o.type, COALESCE(o.order_id, 0), d.status, d.attempts, "
                                        "d.last_result, d.last_error, d.next_attempt_at, d.delivered_at, o.created_at "
                                        "FROM event_delivery d JOIN outbox o ON o.id = d.event "
                                        "WHERE d.subscriber = ? AND (? = '' OR d.status = ?) "
                                        "ORDER BY d.event DESC LIMIT ?",
                                        "sssi", name, q->status, q->status, q->limit);
        while (mer_rows_next(rows))
            json_array_append_new(arr, delivery_json(cs->regions[i].name, rows));
        err = mer_rows_end(rows);
    }
    if (err) {
        json_decref(arr);
        return err;
    }
    /* newest first across regions, at most limit */
    size_t n = json_array_size(arr);
    json_t **items = mer_xcalloc(n ? n : 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), by_created_desc);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        if (i < (size_t)q->limit)
            json_array_append_new(arr, items[i]);
        else
            json_decref(items[i]);
    free(items);
    c->result = json_pack("{s:I,s:b,s:o}", "webhook_id", (json_int_t)q->h.id, "active", q->h.active, "deliveries", arr);
    return 0;
}

static void h_deliveries(mer_req_t *r)
{
    int64_t id, limit = 100;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    deliveries_call_t *q = mer_call_new(r, sizeof(*q));
    q->h.id = id;
    /* a missing webhook is the first thing to say: the query's faults wait for the lookup */
    const char *lim = mer_req_query(r, "limit"), *status = mer_req_query(r, "status"),
               *region = mer_req_query(r, "region");
    const mer_region_t *only = region ? mer_region_find(mer_countries(), region) : NULL;
    if (lim && mer_parse_int64(lim, strlen(lim), 1, 1000, &limit) != 0)
        mer_verr_set(&q->query, MER_E_INVALID_PARAM, "limit", "limit must be an integer from 1 to 1000");
    else if (status && strcmp(status, "pending") != 0 && strcmp(status, "delivered") != 0 &&
             strcmp(status, "dead") != 0)
        mer_verr_set(&q->query, MER_E_INVALID_PARAM, "status", "status is pending, delivered or dead");
    else if (region && (only == NULL || !only->local))
        mer_verr_set(&q->query, MER_E_INVALID_PARAM, "region", "region %s is not served by this node", region);
    q->limit = limit;
    snprintf(q->status, sizeof(q->status), "%s", status && !q->query.code ? status : "");
    snprintf(q->region, sizeof(q->region), "%s", only ? only->name : "");
    mer_call_read(&q->h.c, MER_STORE_CATALOG, deliveries_run);
}

/* A redelivery: the webhook is read from catalog.db (read pool), then the delivery row is set back to
 * pending by the region's writer; once that committed, the dispatcher is told to try now. */
typedef struct redeliver_call {
    hook_call_t h;
    char param[48]; /* the path's event id, as given */
    char region[MER_REGION_NAME_MAX], subscriber[32], event_id[48];
    int64_t event;
    bool written;
} redeliver_call_t;

static int redeliver_write(mer_db_t *db, mer_call_t *c)
{
    redeliver_call_t *j = (redeliver_call_t *)c;
    char type[64] = "";
    int64_t had = 0;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT o.type, EXISTS (SELECT 1 FROM event_delivery d WHERE d.event = o.id "
                                    "AND d.subscriber = ?) FROM outbox o WHERE o.id = ?",
                                    "si", j->subscriber, j->event);
    if (mer_rows_next(rows)) {
        snprintf(type, sizeof(type), "%s", mer_rows_text(rows, 0));
        had = mer_rows_int(rows, 1);
    }
    int err = mer_rows_end(rows);
    if (err)
        return err;
    if (type[0] == '\0')
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "no event %s", j->event_id);
    if (!had && !mer_events_wants(j->h.events, type))
        return mer_verr_set(&c->verr, MER_E_CONFLICT, NULL, "%s does not subscribe to %s events", j->subscriber, type);
    /* back to pending, due now; the attempt count goes on (a dead delivery that fails again is dead again) */
    err = mer_db_query_int(db, &(int64_t){0},
                           "INSERT INTO event_delivery (event, subscriber, next_attempt_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (event, subscriber) DO UPDATE SET status = 'pending', "
                           "next_attempt_at = excluded.next_attempt_at RETURNING attempts",
                           "isi", j->event, j->subscriber, mer_now_unix_ms());
    if (err)
        return err;
    j->written = true;
    c->status = 202;
    c->result = json_pack("{s:s,s:s,s:s,s:s}", "event_id", j->event_id, "subscriber", j->subscriber, "region",
                          j->region, "status", "pending");
    return 0;
}

/* On the loop, once the webhook was read: the write goes to the event's region. */
static void redeliver_read_done(mer_call_t *c)
{
    redeliver_call_t *j = (redeliver_call_t *)c;
    c->reply = NULL;
    mer_call_write(c, j->region, redeliver_write);
}

static int redeliver_read(mer_db_t *catalog, mer_call_t *c)
{
    redeliver_call_t *j = (redeliver_call_t *)c;
    int err = load_webhook(catalog, &j->h);
    if (err)
        return err;
    /* the delivery is named by its event id, evt_<region>_<n> */
    size_t len = strlen(j->param);
    const char *p = j->param, *us = len < 48 ? memrchr(p, '_', len) : NULL;
    size_t rlen = us ? (size_t)(us - p) - 4 : 0;
    if (us == NULL || len < 7 || memcmp(p, "evt_", 4) != 0 || us < p + 5 || rlen >= sizeof(j->region) ||
        mer_parse_int64(us + 1, len - (size_t)(us + 1 - p), 1, INT64_MAX, &j->event) != 0)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, "event_id", "event ids look like evt_<region>_<n>");
    char region[MER_REGION_NAME_MAX];
    memcpy(region, p + 4, rlen);
    region[rlen] = '\0';
    const mer_region_t *rg = mer_region_find(mer_countries(), region);
    if (rg == NULL || !rg->local)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, "event_id", "region %s is not served by this node", region);
    if (!j->h.active)
        return mer_verr_set(&c->verr, MER_E_CONFLICT, NULL, "webhook %lld was deleted", (long long)j->h.id);
    snprintf(j->region, sizeof(j->region), "%s", rg->name);
    snprintf(j->subscriber, sizeof(j->subscriber), "webhook:%lld", (long long)j->h.id);
    mer_event_id(rg->name, j->event, j->event_id);
    c->reply = redeliver_read_done;
    return 0;
}

static void redeliver_cleanup(mer_call_t *c)
{
    redeliver_call_t *j = (redeliver_call_t *)c;
    if (j->written && c->err == 0)
        mer_events_probe(j->subscriber); /* attempted now, even if the subscriber is backing off */
}

static void h_redeliver(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    h2o_iovec_t p = r->params[1];
    redeliver_call_t *j = mer_call_new(r, sizeof(*j));
    j->h.id = id;
    if (p.len < sizeof(j->param) && memchr(p.base, '\0', p.len) == NULL)
        memcpy(j->param, p.base, p.len); /* longer: "" is no event id either */
    j->h.c.cleanup = redeliver_cleanup;
    mer_call_read(&j->h.c, MER_STORE_CATALOG, redeliver_read);
}

/* ---- the event log (the region's database, read pool) ---- */

typedef struct events_call {
    mer_call_t c;
    int64_t order_id, limit;
    char country[3], region[MER_REGION_NAME_MAX];
} events_call_t;

static int events_run(mer_db_t *db, mer_call_t *c)
{
    events_call_t *q = (events_call_t *)c;
    json_t *arr = json_array();
    /* an event belongs to the country of its order; events without an order are the region's, for admins */
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT o.id, o.id, o.type, COALESCE(o.order_id, 0), o.payload, o.created_at "
                     "FROM outbox o LEFT JOIN orders ord ON ord.id = o.order_id "
                     "WHERE (? = 0 OR o.order_id = ?) AND (ord.country = ? OR (ord.id IS NULL AND ? = 1)) "
                     "ORDER BY o.id DESC LIMIT ?",
                     "iisii", q->order_id, q->order_id, q->country, (int64_t)(c->who.role == MER_ROLE_ADMIN), q->limit);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 5), ts);
        json_t *payload = json_loads(mer_rows_text(rows, 4), 0, NULL);
        char eid[48];
        mer_event_id(q->region, mer_rows_int(rows, 1), eid);
        json_t *ev = json_pack("{s:s,s:s,s:s,s:o,s:[]}", "id", eid, "type", mer_rows_text(rows, 2), "created_at", ts,
                               "data", payload ? payload : json_object(), "deliveries");
        if (mer_rows_int(rows, 3))
            json_object_set_new(ev, "order_id", json_integer(mer_rows_int(rows, 3)));
        mer_rows_t *d = mer_db_query(db,
                                     "SELECT subscriber, status, attempts, last_error, last_result FROM event_delivery "
                                     "WHERE event = ? ORDER BY subscriber",
                                     "i", mer_rows_int(rows, 0));
        while (mer_rows_next(d))
            json_array_append_new(json_object_get(ev, "deliveries"),
                                  json_pack("{s:s,s:s,s:I,s:s,s:s}", "subscriber", mer_rows_text(d, 0), "status",
                                            mer_rows_text(d, 1), "attempts", (json_int_t)mer_rows_int(d, 2),
                                            "last_error", mer_rows_text(d, 3), "result", mer_rows_text(d, 4)));
        mer_rows_end(d);
        json_array_append_new(arr, ev);
    }
    int err = mer_rows_end(rows);
    if (err) {
        json_decref(arr);
        return err;
    }
    c->result = json_pack("{s:o}", "events", arr);
    return 0;
}

static void h_events(mer_req_t *r)
{
    int64_t order_id = 0, limit = 100;
    const mer_country_t *country = mer_req_staff_country(r, mer_req_query(r, "country"), "see events");
    if (country == NULL)
        return;
    if (mer_req_query_int(r, "order_id", 0, INT64_C(1) << 53, 0, &order_id) != 0 ||
        mer_req_query_int(r, "limit", 1, 1000, 100, &limit) != 0)
        return;
    events_call_t *q = mer_call_new(r, sizeof(*q));
    q->order_id = order_id;
    q->limit = limit;
    snprintf(q->country, sizeof(q->country), "%s", country->code);
    snprintf(q->region, sizeof(q->region), "%s", country->region);
    mer_call_read(&q->c, q->region, events_run);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/webhooks", h_create, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/webhooks", h_list, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"DELETE", "/api/v1/admin/webhooks/{id}", h_delete, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/webhooks/{id}/deliveries", h_deliveries, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/webhooks/{id}/deliveries/{event_id}/redeliver", h_redeliver, MER_AUTH_ADMIN, 0,
     MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/events", h_events, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

static const mer_routes_t events_routes = {routes, MER_ARRAY_LEN(routes)};

static int events_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_events_start();
    return 0;
}

const mer_module_t mer_events_module = {
    .name = "events",
    .init = events_init,
    .routes = MER_MODULE_ROUTES(&events_routes),
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = mer_events_stop,
    .metrics = mer_events_metrics,
};
