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
#include "store/writer.h"
#include "core/banned.h"

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
    unsigned char raw[24];
    char secret[64];
    randombytes_buf(raw, sizeof(raw));
    memcpy(secret, "whsec_", 6);
    sodium_bin2hex(secret + 6, sizeof(secret) - 6, raw, sizeof(raw));
    int64_t id = 0;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_db_query_int(db, &id,
                               "INSERT INTO webhook_subscription (url, events, secret, created_at) VALUES (?, ?, ?, ?) "
                               "RETURNING id",
                               "sssi", url, mer_buf_str(&list), secret, mer_now_unix_ms());
    mer_store_write_end(MER_STORE_CATALOG);
    if (err) {
        mer_buf_release(&list);
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    mer_log_info("webhook %lld to %s added by staff %lld", (long long)id, url, (long long)r->who.id);
    mer_reply_json(r, 201,
                   json_pack("{s:I,s:s,s:o,s:s,s:s}", "id", (json_int_t)id, "url", url, "events",
                             mer_json_csv_array(mer_buf_str(&list)), "secret", secret, "note",
                             "the secret is shown once; verify X-Meridian-Signature with it"));
    mer_buf_release(&list);
}

static void h_list(mer_req_t *r)
{
    json_t *arr = json_array();
    mer_rows_t *rows =
        mer_db_query(mer_store_reader(MER_STORE_CATALOG),
                     "SELECT id, url, events, active, created_at FROM webhook_subscription ORDER BY id", NULL);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 4), ts);
        json_array_append_new(arr,
                              json_pack("{s:I,s:s,s:o,s:b,s:s}", "id", (json_int_t)mer_rows_int(rows, 0), "url",
                                        mer_rows_text(rows, 1), "events", mer_json_csv_array(mer_rows_text(rows, 2)),
                                        "active", mer_rows_int(rows, 3) != 0, "created_at", ts));
    }
    mer_rows_end(rows);
    mer_reply_json(r, 200, json_pack("{s:o}", "webhooks", arr));
}

static void h_delete(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int rc = mer_db_exec(db, "UPDATE webhook_subscription SET active = 0 WHERE id = ? AND active = 1", "i", id);
    mer_store_write_end(MER_STORE_CATALOG);
    if (rc < 0)
        mer_reply_error(r, rc, NULL, NULL);
    else if (rc == 0)
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no active webhook %lld", (long long)id);
    else
        mer_reply_empty(r, 204);
}

/* The webhook {id} of the path, with its event list; answers 404 (and returns -1) if there is none. */
static int find_webhook(mer_req_t *r, int64_t *id, char events[512], bool *active)
{
    if (mer_req_param_id(r, 0, id) != 0)
        return -1;
    mer_rows_t *rows = mer_db_query(mer_store_reader(MER_STORE_CATALOG),
                                    "SELECT events, active FROM webhook_subscription WHERE id = ?", "i", *id);
    bool found = mer_rows_next(rows);
    if (found) {
        snprintf(events, 512, "%s", mer_rows_text(rows, 0));
        *active = mer_rows_int(rows, 1) != 0;
    }
    int err = mer_rows_end(rows);
    if (err || !found) {
        mer_reply_error(r, err ? err : MER_E_NOT_FOUND, NULL, err ? NULL : "no webhook %lld", (long long)*id);
        return -1;
    }
    return 0;
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

static void h_deliveries(mer_req_t *r)
{
    int64_t id, limit = 100;
    char events[512], name[32];
    bool active;
    if (find_webhook(r, &id, events, &active) != 0 || mer_req_query_int(r, "limit", 1, 1000, 100, &limit) != 0)
        return;
    const char *status = mer_req_query(r, "status"), *region = mer_req_query(r, "region");
    if (status && strcmp(status, "pending") != 0 && strcmp(status, "delivered") != 0 && strcmp(status, "dead") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "status", "status is pending, delivered or dead");
        return;
    }
    const mer_countries_t *cs = mer_countries();
    const mer_region_t *only = region ? mer_region_find(cs, region) : NULL;
    if (region && (only == NULL || !only->local)) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "region", "region %s is not served by this node", region);
        return;
    }
    snprintf(name, sizeof(name), "webhook:%lld", (long long)id);
    json_t *arr = json_array();
    int err = 0;
    for (size_t i = 0; i < cs->nregions && err == 0; i++) {
        if (!cs->regions[i].local || (only && only != &cs->regions[i]))
            continue;
        mer_rows_t *rows = mer_db_query(mer_store_reader(cs->regions[i].name),
                                        "SELECT d.event, o.type, COALESCE(o.order_id, 0), d.status, d.attempts, "
                                        "d.last_result, d.last_error, d.next_attempt_at, d.delivered_at, o.created_at "
                                        "FROM event_delivery d JOIN outbox o ON o.id = d.event "
                                        "WHERE d.subscriber = ? AND (? = '' OR d.status = ?) "
                                        "ORDER BY d.event DESC LIMIT ?",
                                        "sssi", name, status ? status : "", status ? status : "", limit);
        while (mer_rows_next(rows))
            json_array_append_new(arr, delivery_json(cs->regions[i].name, rows));
        err = mer_rows_end(rows);
    }
    if (err) {
        json_decref(arr);
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    /* newest first across regions, at most limit */
    size_t n = json_array_size(arr);
    json_t **items = mer_xcalloc(n ? n : 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), by_created_desc);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        if (i < (size_t)limit)
            json_array_append_new(arr, items[i]);
        else
            json_decref(items[i]);
    free(items);
    mer_reply_json(r, 200,
                   json_pack("{s:I,s:b,s:o}", "webhook_id", (json_int_t)id, "active", active, "deliveries", arr));
}

typedef struct redeliver_job {
    mer_wjob_t w;
    mer_req_t *r;
    char region[MER_REGION_NAME_MAX], subscriber[32], events[512], event_id[48];
    int64_t event;
    mer_verr_t e;
} redeliver_job_t;

static int redeliver_run(mer_db_t *db, mer_wjob_t *w)
{
    redeliver_job_t *j = H2O_STRUCT_FROM_MEMBER(redeliver_job_t, w, w);
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
        return mer_verr_set(&j->e, MER_E_NOT_FOUND, NULL, "no event %s", j->event_id);
    if (!had && !mer_events_wants(j->events, type))
        return mer_verr_set(&j->e, MER_E_CONFLICT, NULL, "%s does not subscribe to %s events", j->subscriber, type);
    /* back to pending, due now; the attempt count goes on (a dead delivery that fails again is dead again) */
    return mer_db_query_int(db, &(int64_t){0},
                            "INSERT INTO event_delivery (event, subscriber, next_attempt_at) VALUES (?, ?, ?) "
                            "ON CONFLICT (event, subscriber) DO UPDATE SET status = 'pending', "
                            "next_attempt_at = excluded.next_attempt_at RETURNING attempts",
                            "isi", j->event, j->subscriber, mer_now_unix_ms());
}

static void redeliver_done(mer_wjob_t *w)
{
    redeliver_job_t *j = H2O_STRUCT_FROM_MEMBER(redeliver_job_t, w, w);
    if (w->err == 0)
        mer_events_probe(j->subscriber); /* attempted now, even if the subscriber is backing off */
    if (!j->r->gone) {
        if (w->err)
            mer_reply_job_error(j->r, w->err, &j->e);
        else
            mer_reply_json(j->r, 202,
                           json_pack("{s:s,s:s,s:s,s:s}", "event_id", j->event_id, "subscriber", j->subscriber,
                                     "region", j->region, "status", "pending"));
    }
    mer_req_release(j->r);
    free(j);
}

static void h_redeliver(mer_req_t *r)
{
    int64_t id, event = 0;
    char events[512];
    bool active;
    if (find_webhook(r, &id, events, &active) != 0)
        return;
    /* the delivery is named by its event id, evt_<region>_<n> */
    char region[MER_REGION_NAME_MAX];
    h2o_iovec_t p = r->params[1];
    const char *us = p.len < 48 ? memrchr(p.base, '_', p.len) : NULL;
    size_t rlen = us ? (size_t)(us - p.base) - 4 : 0;
    if (us == NULL || p.len < 7 || memcmp(p.base, "evt_", 4) != 0 || us < p.base + 5 || rlen >= sizeof(region) ||
        mer_parse_int64(us + 1, p.len - (size_t)(us + 1 - p.base), 1, INT64_MAX, &event) != 0) {
        mer_reply_error(r, MER_E_NOT_FOUND, "event_id", "event ids look like evt_<region>_<n>");
        return;
    }
    memcpy(region, p.base + 4, rlen);
    region[rlen] = '\0';
    const mer_region_t *rg = mer_region_find(mer_countries(), region);
    if (rg == NULL || !rg->local) {
        mer_reply_error(r, MER_E_NOT_FOUND, "event_id", "region %s is not served by this node", region);
        return;
    }
    if (!active) {
        mer_reply_error(r, MER_E_CONFLICT, NULL, "webhook %lld was deleted", (long long)id);
        return;
    }
    redeliver_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->event = event;
    snprintf(j->region, sizeof(j->region), "%s", rg->name);
    snprintf(j->subscriber, sizeof(j->subscriber), "webhook:%lld", (long long)id);
    snprintf(j->events, sizeof(j->events), "%s", events);
    mer_event_id(rg->name, event, j->event_id);
    j->w.run = redeliver_run;
    j->w.done = redeliver_done;
    if (mer_req_submit(r, rg->name, &j->w) != 0)
        free(j);
}

static void h_events(mer_req_t *r)
{
    int64_t order_id = 0, limit = 100;
    const mer_country_t *c = mer_req_staff_country(r, mer_req_query(r, "country"), "see events");
    if (c == NULL)
        return;
    if (mer_req_query_int(r, "order_id", 0, INT64_C(1) << 53, 0, &order_id) != 0 ||
        mer_req_query_int(r, "limit", 1, 1000, 100, &limit) != 0)
        return;
    mer_db_t *db = mer_store_reader(c->region);
    json_t *arr = json_array();
    /* an event belongs to the country of its order; events without an order are the region's, for admins */
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT o.id, o.id, o.type, COALESCE(o.order_id, 0), o.payload, o.created_at "
                     "FROM outbox o LEFT JOIN orders ord ON ord.id = o.order_id "
                     "WHERE (? = 0 OR o.order_id = ?) AND (ord.country = ? OR (ord.id IS NULL AND ? = 1)) "
                     "ORDER BY o.id DESC LIMIT ?",
                     "iisii", order_id, order_id, c->code, (int64_t)(r->who.role == MER_ROLE_ADMIN), limit);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 5), ts);
        json_t *payload = json_loads(mer_rows_text(rows, 4), 0, NULL);
        char eid[48];
        mer_event_id(c->region, mer_rows_int(rows, 1), eid);
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
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    mer_reply_json(r, 200, json_pack("{s:o}", "events", arr));
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
