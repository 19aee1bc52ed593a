/*
 * shipment_http.c — the shipment routes: the HTTP adapter of mer_shipment_change (shipment.h).
 *
 *   POST /api/v1/admin/orders/{id}/shipments/{sid}/ship     {"country", "tracking_number"?, "carrier"?, "note"?}
 *   POST /api/v1/admin/orders/{id}/shipments/{sid}/deliver  {"country", "note"?}
 *
 * Staff of the order's country; the answer is the order after the step (its shipments included), loaded
 * in the same transaction. A refused step is 409 with the status that refused it (current_status).
 */
#include <stdio.h>

#include "order/order.h"
#include "order/shipment.h"
#include "region/region_http.h"
#include "core/banned.h"

typedef struct ship_call {
    mer_call_t c;
    mer_shipment_change_t ch;
    mer_order_view_t v; /* the answer: the order afterwards */
} ship_call_t;

static int ship_fn(mer_db_t *db, mer_call_t *c)
{
    ship_call_t *k = MER_CONTAINER_OF(c, ship_call_t, c);
    int err = mer_shipment_change(db, &k->ch, &c->verr);
    return err ? err : mer_order_load(db, k->ch.order_id, 0, &k->v);
}

static void ship_reply(mer_call_t *c)
{
    mer_reply_order(c->r, 200, &MER_CONTAINER_OF(c, ship_call_t, c)->v);
}

static void ship_reply_error(mer_call_t *c)
{
    ship_call_t *k = MER_CONTAINER_OF(c, ship_call_t, c);
    if (c->verr.code == MER_E_CONFLICT)
        mer_reply_error_ex(c->r, MER_E_CONFLICT, "status", json_pack("{s:s}", "current_status", k->ch.current), "%s",
                           c->verr.message);
    else
        mer_reply_job_error(c->r, c->err, &c->verr);
}

static void ship_cleanup(mer_call_t *c)
{
    mer_order_view_release(&MER_CONTAINER_OF(c, ship_call_t, c)->v);
}

static void shipment_step(mer_req_t *r, bool deliver)
{
    static const char *const ship_keys[] = {"country", "tracking_number", "carrier", "note", NULL};
    static const char *const deliver_keys[] = {"country", "note", NULL};
    mer_verr_t e = {0};
    const char *country = NULL, *tracking = NULL, *carrier = NULL, *note = NULL;
    int64_t id, sid;
    if (mer_req_param_id(r, 0, &id) != 0 || mer_req_param_id(r, 1, &sid) != 0)
        return;
    if (mer_json_only(r->body, deliver ? deliver_keys : ship_keys, "", &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "tracking_number", "tracking_number", 1, 64, false, &tracking, &e) ||
        mer_json_str(r->body, "carrier", "carrier", 1, 31, false, &carrier, &e) ||
        mer_json_str(r->body, "note", "note", 0, 200, false, &note, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *c = mer_req_staff_country(r, country, "manage orders");
    if (c == NULL)
        return;
    ship_call_t *k = mer_call_new(r, sizeof(*k));
    k->ch.order_id = id;
    k->ch.shipment_id = sid;
    k->ch.deliver = deliver;
    snprintf(k->ch.country, sizeof(k->ch.country), "%s", c->code);
    snprintf(k->ch.tracking, sizeof(k->ch.tracking), "%s", tracking ? tracking : "");
    snprintf(k->ch.carrier, sizeof(k->ch.carrier), "%s", carrier ? carrier : "");
    snprintf(k->ch.note, sizeof(k->ch.note), "%s", note ? note : "");
    snprintf(k->ch.actor, sizeof(k->ch.actor), "%s:%lld", r->who.role == MER_ROLE_ADMIN ? "admin" : "operator",
             (long long)r->who.id);
    k->c.reply = ship_reply;
    k->c.reply_error = ship_reply_error;
    k->c.cleanup = ship_cleanup;
    mer_call_write(&k->c, c->region, ship_fn);
}

static void h_ship(mer_req_t *r)
{
    shipment_step(r, false);
}

static void h_deliver(mer_req_t *r)
{
    shipment_step(r, true);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/orders/{id}/shipments/{sid}/ship", h_ship, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY,
     MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/orders/{id}/shipments/{sid}/deliver", h_deliver, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY,
     MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t mer_shipment_routes = {routes, MER_ARRAY_LEN(routes)};
