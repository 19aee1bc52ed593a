/*
 * shipment.c — split shipments (the model: shipment.h); the HTTP adapter is shipment_http.c.
 */
#include "order/shipment.h"

#include <stdio.h>

#include "core/jsonw.h"
#include "core/log.h"
#include "events/events.h"
#include "order/order.h"
#include "core/banned.h"

#define MAX_SHIPMENTS MER_ALLOC_MAX_WAREHOUSES

int mer_shipments_create(mer_db_t *db, int64_t order_id, const mer_stock_plan_t *plan, const int64_t *sku_ids,
                         size_t nlines, int64_t now, int64_t *ids)
{
    for (size_t k = 0; k < plan->nparts; k++) {
        const mer_stock_part_t *p = &plan->parts[k];
        int err = mer_db_insert(db, &ids[k],
                                "INSERT INTO order_shipment (id, order_id, seq, warehouse_id, status, created_at) "
                                "VALUES (?, ?, ?, ?, 'pending', ?)",
                                "niiii", order_id, (int64_t)(k + 1), p->warehouse_id, now);
        if (err)
            return err;
        if (plan->nparts == 1) { /* one warehouse ships every unit: the order's lines as written, at once */
            if (mer_db_defer(db,
                             "INSERT INTO order_shipment_line (shipment_id, line_no, sku_id, quantity) "
                             "SELECT ?, line_no, sku_id, quantity FROM order_line WHERE order_id = ?",
                             "ii", ids[k], order_id) < 0)
                return MER_E_INTERNAL;
            continue;
        }
        for (size_t i = 0; i < nlines; i++)
            if (p->quantity[i] > 0 &&
                mer_db_defer(db,
                             "INSERT INTO order_shipment_line (shipment_id, line_no, sku_id, quantity) "
                             "VALUES (?, ?, ?, ?)",
                             "iiii", ids[k], (int64_t)(i + 1), sku_ids[i], p->quantity[i]) < 0)
                return MER_E_INTERNAL;
    }
    return 0;
}

/* One shipment as read for a change. */
typedef struct ship_row {
    int64_t id, warehouse_id;
    char status[12], carrier[32], tracking[65];
} ship_row_t;

static void ship_row_read(mer_rows_t *r, ship_row_t *s)
{
    s->id = mer_rows_int(r, 0);
    s->warehouse_id = mer_rows_int(r, 1);
    snprintf(s->status, sizeof(s->status), "%s", mer_rows_text(r, 2));
    snprintf(s->carrier, sizeof(s->carrier), "%s", mer_rows_text(r, 3));
    snprintf(s->tracking, sizeof(s->tracking), "%s", mer_rows_text(r, 4));
}

#define SHIP_COLS "id, warehouse_id, status, carrier, tracking_number"

/* The order's shipments in a status, in order. */
static int ship_rows(mer_db_t *db, int64_t order_id, const char *status, ship_row_t *out, size_t *n)
{
    *n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT " SHIP_COLS " FROM order_shipment WHERE order_id = ? AND status = ? "
                                 "ORDER BY seq",
                                 "is", order_id, status);
    while (mer_rows_next(r) && *n < MAX_SHIPMENTS)
        ship_row_read(r, &out[(*n)++]);
    return mer_rows_end(r);
}

/* The units a shipment holds. */
static int ship_lines(mer_db_t *db, int64_t shipment_id, mer_stock_line_t *sl, size_t *n)
{
    *n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT sku_id, quantity FROM order_shipment_line WHERE shipment_id = ? AND "
                                 "quantity > 0 ORDER BY line_no",
                                 "i", shipment_id);
    while (mer_rows_next(r) && *n < MER_ORDER_MAX_LINES) {
        sl[*n].sku_id = mer_rows_int(r, 0);
        sl[(*n)++].quantity = mer_rows_int(r, 1);
    }
    return mer_rows_end(r);
}

/* A shipment as the order answer shows it, before its "lines". */
typedef struct ship_view {
    int64_t id, seq, created_at, shipped_at, delivered_at; /* shipped_at, delivered_at: 0 = not yet */
    const char *warehouse, *status, *carrier, *tracking;   /* "" = none (carrier, tracking) */
} ship_view_t;

/* The answer's shape of a shipment, with an empty "lines" (ship_view_line adds to it): one place for the
 * order read back (shipment_json); the order just placed writes the same as text (mer_shipments_text_new). */
static json_t *ship_view_json(const ship_view_t *v)
{
    char ts[32];
    mer_format_utc_ms(v->created_at, ts);
    json_t *s = json_pack("{s:I,s:I,s:s,s:s,s:s}", "id", (json_int_t)v->id, "seq", (json_int_t)v->seq, "warehouse",
                          v->warehouse, "status", v->status, "created_at", ts);
    if (v->carrier[0])
        json_object_set_new(s, "carrier", json_string(v->carrier));
    if (v->tracking[0])
        json_object_set_new(s, "tracking_number", json_string(v->tracking));
    if (v->shipped_at) {
        mer_format_utc_ms(v->shipped_at, ts);
        json_object_set_new(s, "shipped_at", json_string(ts));
    }
    if (v->delivered_at) {
        mer_format_utc_ms(v->delivered_at, ts);
        json_object_set_new(s, "delivered_at", json_string(ts));
    }
    json_object_set_new(s, "lines", json_array());
    return s;
}

static void ship_view_line(json_t *s, int64_t line_no, const char *sku, int64_t quantity)
{
    json_array_append_new(json_object_get(s, "lines"), json_pack("{s:I,s:s,s:I}", "line_no", (json_int_t)line_no, "sku",
                                                                 sku, "quantity", (json_int_t)quantity));
}

/* The columns of a shipment as its answer shows it: the first nine of a row FROM order_shipment s LEFT JOIN
 * warehouse w (ship_view_row). */
#define SHIP_VIEW_COLS                                                                                                 \
    "s.id, s.seq, COALESCE(w.code, ''), s.status, s.carrier, s.tracking_number, s.created_at, "                        \
    "COALESCE(s.shipped_at, 0), COALESCE(s.delivered_at, 0)"

/* A shipment's answer (empty "lines") from a row that begins with SHIP_VIEW_COLS. */
static json_t *ship_view_row(mer_rows_t *r)
{
    ship_view_t v = {mer_rows_int(r, 0),  mer_rows_int(r, 1),  mer_rows_int(r, 6),
                     mer_rows_int(r, 7),  mer_rows_int(r, 8),  mer_rows_text(r, 2),
                     mer_rows_text(r, 3), mer_rows_text(r, 4), mer_rows_text(r, 5)};
    return ship_view_json(&v);
}

/* A shipment as JSON (its lines with their SKU codes); NULL when it cannot be read. */
static json_t *shipment_json(mer_db_t *db, int64_t shipment_id)
{
    json_t *s = NULL;
    int64_t order_id = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT " SHIP_VIEW_COLS ", s.order_id "
                                 "FROM order_shipment s LEFT JOIN warehouse w ON w.id = s.warehouse_id WHERE s.id = ?",
                                 "i", shipment_id);
    if (mer_rows_next(r)) {
        s = ship_view_row(r);
        order_id = mer_rows_int(r, 9);
    }
    if (mer_rows_end(r) != 0 || s == NULL) {
        json_decref(s);
        return NULL;
    }
    r = mer_db_query(db,
                     "SELECT l.line_no, COALESCE(ol.sku_code, ''), l.quantity FROM order_shipment_line l "
                     "LEFT JOIN order_line ol ON ol.order_id = ? AND ol.line_no = l.line_no "
                     "WHERE l.shipment_id = ? AND l.quantity > 0 ORDER BY l.line_no",
                     "ii", order_id, shipment_id);
    while (mer_rows_next(r))
        ship_view_line(s, mer_rows_int(r, 0), mer_rows_text(r, 1), mer_rows_int(r, 2));
    if (mer_rows_end(r) != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

char *mer_shipments_text_new(const mer_stock_plan_t *plan, const int64_t *ids, const char *const *codes, size_t nlines,
                             int64_t created_at)
{
    /* ship_view_json's shape, members in its order (mer_json_dump keeps insertion order) */
    mer_buf_t b = MER_BUF_INIT;
    mer_jw_t w;
    char ts[32];
    mer_buf_init(&b, 160 * plan->nparts + 16);
    mer_jw_init(&w, &b);
    mer_format_utc_ms(created_at, ts);
    mer_jw_arr(&w, NULL);
    for (size_t k = 0; k < plan->nparts; k++) {
        const mer_stock_part_t *p = &plan->parts[k];
        mer_jw_obj(&w, NULL);
        mer_jw_int(&w, "id", ids[k]);
        mer_jw_int(&w, "seq", (int64_t)(k + 1));
        mer_jw_str(&w, "warehouse", p->code);
        mer_jw_str(&w, "status", "pending");
        mer_jw_str(&w, "created_at", ts);
        mer_jw_arr(&w, "lines");
        for (size_t i = 0; i < nlines; i++) {
            if (p->quantity[i] <= 0)
                continue;
            mer_jw_obj(&w, NULL);
            mer_jw_int(&w, "line_no", (int64_t)(i + 1));
            mer_jw_str(&w, "sku", codes[i]);
            mer_jw_int(&w, "quantity", p->quantity[i]);
            mer_jw_end(&w);
        }
        mer_jw_end(&w);
        mer_jw_end(&w);
    }
    mer_jw_end(&w);
    return b.data;
}

json_t *mer_shipments_json(mer_db_t *db, int64_t order_id)
{
    /* one query (one round trip on PostgreSQL): a row per shipment line, a shipment without lines once */
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT " SHIP_VIEW_COLS ", l.line_no, COALESCE(ol.sku_code, ''), l.quantity "
                                 "FROM order_shipment s LEFT JOIN warehouse w ON w.id = s.warehouse_id "
                                 "LEFT JOIN order_shipment_line l ON l.shipment_id = s.id AND l.quantity > 0 "
                                 "LEFT JOIN order_line ol ON ol.order_id = s.order_id AND ol.line_no = l.line_no "
                                 "WHERE s.order_id = ? ORDER BY s.seq, l.line_no",
                                 "i", order_id);
    json_t *out = json_array(), *s = NULL;
    int64_t id = 0;
    while (mer_rows_next(r)) {
        if (s == NULL || mer_rows_int(r, 0) != id) {
            if (json_array_size(out) >= MAX_SHIPMENTS)
                break;
            id = mer_rows_int(r, 0);
            s = ship_view_row(r);
            json_array_append_new(out, s);
        }
        if (!mer_rows_null(r, 9))
            ship_view_line(s, mer_rows_int(r, 9), mer_rows_text(r, 10), mer_rows_int(r, 11));
    }
    if (mer_rows_end(r) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* shipment.shipped / shipment.delivered: the shipment with its order's number, customer and country. */
static int emit_step(mer_db_t *db, const char *type, int64_t order_id, int64_t shipment_id)
{
    json_t *s = shipment_json(db, shipment_id);
    if (s == NULL)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db, "SELECT number, user_id, country FROM orders WHERE id = ?", "i", order_id);
    if (mer_rows_next(r)) {
        json_object_set_new(s, "order_id", json_integer(order_id));
        json_object_set_new(s, "number", json_string(mer_rows_text(r, 0)));
        json_object_set_new(s, "user_id", json_integer(mer_rows_int(r, 1)));
        json_object_set_new(s, "country", json_string(mer_rows_text(r, 2)));
    }
    if (mer_rows_end(r) != 0) {
        json_decref(s);
        return MER_E_INTERNAL;
    }
    json_object_set_new(s, "shipment_id", json_integer(shipment_id));
    return mer_event_emit(db, type, order_id, s);
}

int mer_shipments_release(mer_db_t *db, int64_t order_id)
{
    ship_row_t rows[MAX_SHIPMENTS];
    size_t n;
    int err = ship_rows(db, order_id, "pending", rows, &n);
    for (size_t k = 0; err == 0 && k < n; k++) {
        mer_stock_line_t sl[MER_ORDER_MAX_LINES];
        size_t nl;
        if ((err = ship_lines(db, rows[k].id, sl, &nl)) != 0)
            break;
        if (nl && (err = mer_stock_release(db, rows[k].warehouse_id, sl, nl)) != 0)
            break;
        if (mer_db_exec(db, "UPDATE order_shipment SET status = 'cancelled' WHERE id = ?", "i", rows[k].id) != 1)
            err = MER_E_INTERNAL;
    }
    return err;
}

/* Ships one pending shipment: its units consumed from its warehouse, tracking and carrier recorded. */
static int ship_one(mer_db_t *db, int64_t order_id, const ship_row_t *s, const char *tracking, const char *carrier,
                    int64_t now)
{
    /* the status first: of two calls at once (several nodes on one PostgreSQL), the second waits for the
     * first's row lock, then finds the shipment shipped and changes nothing (MER_E_CONFLICT) */
    int rc = mer_db_exec(db,
                         "UPDATE order_shipment SET status = 'shipped', tracking_number = ?, carrier = ?, "
                         "shipped_at = ? WHERE id = ? AND status = 'pending'",
                         "ssii", tracking, carrier, now, s->id);
    if (rc != 1)
        return rc == 0 ? MER_E_CONFLICT : MER_E_INTERNAL;
    mer_stock_line_t sl[MER_ORDER_MAX_LINES];
    size_t nl;
    int err = ship_lines(db, s->id, sl, &nl);
    if (err)
        return err;
    if (nl && (err = mer_stock_consume(db, s->warehouse_id, sl, nl, order_id)) != 0)
        return err;
    return emit_step(db, "shipment.shipped", order_id, s->id);
}

static int deliver_one(mer_db_t *db, int64_t order_id, int64_t shipment_id, int64_t now)
{
    int rc = mer_db_exec(db,
                         "UPDATE order_shipment SET status = 'delivered', delivered_at = ? WHERE id = ? AND "
                         "status = 'shipped'",
                         "ii", now, shipment_id);
    if (rc != 1)
        return rc == 0 ? MER_E_CONFLICT : MER_E_INTERNAL;
    return emit_step(db, "shipment.delivered", order_id, shipment_id);
}

int mer_shipments_ship_pending(mer_db_t *db, int64_t order_id, const char *tracking, const char *fallback)
{
    ship_row_t rows[MAX_SHIPMENTS];
    size_t n;
    int64_t now = mer_now_unix_ms();
    int err = ship_rows(db, order_id, "pending", rows, &n);
    for (size_t k = 0; err == 0 && k < n; k++) {
        const char *t = tracking && tracking[0] ? tracking : rows[k].tracking[0] ? rows[k].tracking : fallback;
        if (t == NULL || t[0] == '\0')
            return MER_E_VALIDATION;
        err = ship_one(db, order_id, &rows[k], t, rows[k].carrier, now);
    }
    return err;
}

int mer_shipments_deliver_shipped(mer_db_t *db, int64_t order_id)
{
    ship_row_t rows[MAX_SHIPMENTS];
    size_t n;
    int64_t now = mer_now_unix_ms();
    int err = ship_rows(db, order_id, "shipped", rows, &n);
    for (size_t k = 0; err == 0 && k < n; k++)
        err = deliver_one(db, order_id, rows[k].id, now);
    return err;
}

int mer_shipments_release_units(mer_db_t *db, int64_t order_id, int line_no, int64_t quantity)
{
    struct {
        int64_t id, warehouse_id, sku_id, held;
    } from[MAX_SHIPMENTS];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT s.id, s.warehouse_id, l.sku_id, l.quantity FROM order_shipment s "
                                 "JOIN order_shipment_line l ON l.shipment_id = s.id WHERE s.order_id = ? AND "
                                 "s.status = 'pending' AND l.line_no = ? AND l.quantity > 0 ORDER BY s.seq DESC",
                                 "ii", order_id, (int64_t)line_no);
    while (mer_rows_next(r) && n < MAX_SHIPMENTS) {
        from[n].id = mer_rows_int(r, 0);
        from[n].warehouse_id = mer_rows_int(r, 1);
        from[n].sku_id = mer_rows_int(r, 2);
        from[n++].held = mer_rows_int(r, 3);
    }
    int err = mer_rows_end(r);
    for (size_t k = 0; err == 0 && k < n && quantity > 0; k++) {
        int64_t take = from[k].held < quantity ? from[k].held : quantity;
        mer_stock_line_t sl = {from[k].sku_id, take};
        quantity -= take;
        if (mer_db_exec(db,
                        "UPDATE order_shipment_line SET quantity = quantity - ? WHERE shipment_id = ? AND line_no = ?",
                        "iii", take, from[k].id, (int64_t)line_no) != 1)
            return MER_E_INTERNAL;
        if ((err = mer_stock_release(db, from[k].warehouse_id, &sl, 1)) != 0)
            return err;
        /* a shipment left with nothing to ship is cancelled */
        if (mer_db_exec(db,
                        "UPDATE order_shipment SET status = 'cancelled' WHERE id = ? AND NOT EXISTS (SELECT 1 FROM "
                        "order_shipment_line WHERE shipment_id = ? AND quantity > 0)",
                        "ii", from[k].id, from[k].id) < 0)
            return MER_E_INTERNAL;
    }
    return err;
}

/* ---- one shipment's step ---- */

int mer_shipment_change(mer_db_t *db, mer_shipment_change_t *ch, mer_verr_t *e)
{
    char status[20] = "", country[3] = "";
    int err = mer_order_state(db, ch->order_id, status, country);
    if (err && err != MER_E_NOT_FOUND)
        return err;
    if (err || (ch->country[0] && strcmp(country, ch->country) != 0))
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "no such order");
    ship_row_t s;
    mer_rows_t *r = mer_db_query(db, "SELECT " SHIP_COLS " FROM order_shipment WHERE id = ? AND order_id = ?", "ii",
                                 ch->shipment_id, ch->order_id);
    bool found = mer_rows_next(r);
    if (found)
        ship_row_read(r, &s);
    if ((err = mer_rows_end(r)) != 0)
        return err;
    if (!found)
        return mer_verr_set(e, MER_E_NOT_FOUND, NULL, "order %lld has no shipment %lld", (long long)ch->order_id,
                            (long long)ch->shipment_id);
    snprintf(ch->current, sizeof(ch->current), "%s", s.status);
    const char *want = ch->deliver ? "shipped" : "pending";
    if (strcmp(s.status, want) != 0)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "shipment is %s; it cannot %s", s.status,
                            ch->deliver ? "be delivered" : "ship");
    mer_order_status_t from, to;
    mer_order_event_t step = ch->deliver ? MER_OE_DELIVER : MER_OE_SHIP_PART;
    bool allowed = mer_order_status_parse(status, &from) == 0 &&
                   (ch->deliver ? (from == MER_OS_SHIPPED || from == MER_OS_PARTIALLY_SHIPPED)
                                : mer_order_transition(from, step, &to) == 0);
    if (!allowed) {
        snprintf(ch->current, sizeof(ch->current), "%s", status);
        return mer_verr_set(e, MER_E_CONFLICT, "status", "order is %s; its shipments cannot %s", status,
                            ch->deliver ? "be delivered" : "ship");
    }
    int64_t now = mer_now_unix_ms();
    if (!ch->deliver) {
        if (ch->tracking[0] == '\0')
            snprintf(ch->tracking, sizeof(ch->tracking), "%s", s.tracking);
        if (ch->tracking[0] == '\0')
            return mer_verr_set(e, MER_E_VALIDATION, "tracking_number",
                                "tracking_number is required: no carrier was booked for this shipment");
        err = ship_one(db, ch->order_id, &s, ch->tracking, ch->carrier[0] ? ch->carrier : s.carrier, now);
    } else {
        err = deliver_one(db, ch->order_id, s.id, now);
    }
    if (err == MER_E_CONFLICT)
        return mer_verr_set(e, MER_E_CONFLICT, "status", "the shipment changed meanwhile; it cannot %s",
                            ch->deliver ? "be delivered" : "ship");
    if (err)
        return err;
    snprintf(ch->current, sizeof(ch->current), "%s", ch->deliver ? "delivered" : "shipped");
    /* the order follows: shipped when none is left pending, delivered when every one is delivered */
    int64_t left = 0;
    if ((err = mer_db_query_int(db, &left,
                                ch->deliver ? "SELECT COUNT(*) FROM order_shipment WHERE order_id = ? AND "
                                              "status IN ('pending', 'shipped')"
                                            : "SELECT COUNT(*) FROM order_shipment WHERE order_id = ? AND "
                                              "status = 'pending'",
                                "i", ch->order_id)) != 0)
        return err;
    mer_order_change_t oc;
    memset(&oc, 0, sizeof(oc));
    oc.order_id = ch->order_id;
    snprintf(oc.country, sizeof(oc.country), "%s", ch->country);
    snprintf(oc.actor, sizeof(oc.actor), "%s", ch->actor);
    snprintf(oc.note, sizeof(oc.note), "%s", ch->note);
    if (ch->deliver) {
        if (left > 0)
            return 0; /* the order stays shipped until its last shipment is delivered */
        oc.ev = MER_OE_DELIVER;
    } else {
        oc.ev = left > 0 ? MER_OE_SHIP_PART : MER_OE_SHIP;
        snprintf(oc.tracking, sizeof(oc.tracking), "%s", ch->tracking);
    }
    if (oc.ev == MER_OE_SHIP_PART && from == MER_OS_PARTIALLY_SHIPPED)
        return 0; /* already partially shipped: one more parcel changes nothing on the order */
    return mer_order_change(db, &oc, e);
}
