/*
 * events_http.c — admin routes for outgoing webhooks and the event log.
 *
 *   POST   /api/v1/admin/webhooks      {"url": "...", "events": ["order.paid", "order.*"]}  -> 201 with secret
 *   GET    /api/v1/admin/webhooks
 *   DELETE /api/v1/admin/webhooks/{id}
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
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "url", "url must be http:// or https://");
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
    mer_rows_t *rows = mer_db_query(mer_store_reader(MER_STORE_CATALOG),
                                    "SELECT id, url, events, active, created_at FROM webhook_subscription ORDER BY id",
                                    NULL);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 4), ts);
        json_array_append_new(arr, json_pack("{s:I,s:s,s:o,s:b,s:s}", "id", (json_int_t)mer_rows_int(rows, 0), "url",
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
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT o.id, o.id, o.type, COALESCE(o.order_id, 0), o.payload, o.created_at "
                                    "FROM outbox o LEFT JOIN orders ord ON ord.id = o.order_id "
                                    "WHERE (? = 0 OR o.order_id = ?) AND (ord.country = ? OR (ord.id IS NULL AND ? = 1)) "
                                    "ORDER BY o.id DESC LIMIT ?",
                                    "iisii", order_id, order_id, c->code, (int64_t)(r->who.role == MER_ROLE_ADMIN),
                                    limit);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 5), ts);
        json_t *payload = json_loads(mer_rows_text(rows, 4), 0, NULL);
        char eid[48];
        mer_event_id(c->region, mer_rows_int(rows, 1), eid);
        json_t *ev = json_pack("{s:s,s:s,s:s,s:o,s:[]}", "id", eid, "type", mer_rows_text(rows, 2),
                               "created_at", ts, "data", payload ? payload : json_object(), "deliveries");
        if (mer_rows_int(rows, 3))
            json_object_set_new(ev, "order_id", json_integer(mer_rows_int(rows, 3)));
        mer_rows_t *d = mer_db_query(db,
                                     "SELECT subscriber, status, attempts, last_error FROM event_delivery "
                                     "WHERE event = ? ORDER BY subscriber",
                                     "i", mer_rows_int(rows, 0));
        while (mer_rows_next(d))
            json_array_append_new(json_object_get(ev, "deliveries"),
                                  json_pack("{s:s,s:s,s:I,s:s}", "subscriber", mer_rows_text(d, 0), "status",
                                            mer_rows_text(d, 1), "attempts", (json_int_t)mer_rows_int(d, 2),
                                            "last_error", mer_rows_text(d, 3)));
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
    {"POST", "/api/v1/admin/webhooks", h_create, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY},
    {"GET", "/api/v1/admin/webhooks", h_list, MER_AUTH_ADMIN, 0},
    {"DELETE", "/api/v1/admin/webhooks/{id}", h_delete, MER_AUTH_ADMIN, 0},
    {"GET", "/api/v1/admin/events", h_events, MER_AUTH_STAFF, 0},
};

void mer_events_http_init(void)
{
    mer_router_add(routes, MER_ARRAY_LEN(routes));
}
