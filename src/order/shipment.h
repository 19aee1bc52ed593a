/*
 * shipment.h — split shipments: an order ships from one or more warehouses, one shipment per warehouse.
 *
 * Checkout reserves the order's units through mer_stock_reserve_send and _end (inventory.h), which chooses the
 * warehouses (one when one can fill the order, else the fewest: alloc.h), and writes one shipment per
 * warehouse (mer_shipments_create) with the units of each line it ships. From then on a shipment's lines
 * are the units still reserved in (or shipped from) its warehouse, so every stock effect of the order is
 * taken per shipment, from its own warehouse:
 *
 *   shipment   pending --ship (tracking, carrier)--> shipped --deliver--> delivered
 *              pending --the order is cancelled, expires or is refunded before shipping--> cancelled
 *   stock      ship: consumed (reserved -= q, on_hand -= q, sold += q); cancelled: released (reserved -= q)
 *
 * The order follows its shipments (fsm.h): shipping one of several makes it partially_shipped, shipping
 * the last makes it shipped, and delivering the last makes it delivered (cash on delivery is collected
 * then). The order-level routes still work: ship ships every pending shipment, deliver delivers every
 * shipped one. Units refunded before they ship leave their shipments (mer_shipments_release_units, the
 * last shipment first) and go back to stock; a shipment left with no units is cancelled.
 *
 * Every step writes shipment.shipped / shipment.delivered into the outbox (webhooks receive them) in the
 * transaction of the change. Writer thread for every change; mer_shipments_json reads on any connection.
 */
#ifndef MER_SHIPMENT_H
#define MER_SHIPMENT_H

#include <jansson.h>

#include "inventory/inventory.h"
#include "order/fsm.h"
#include "store/db.h"

/*
 * Writes the shipments of a new order from plan, once its lines are written: line i of the order (line_no
 * i + 1) is sku_ids[i]. ids (plan->nparts entries) receives the shipments' ids, in plan order. Two
 * statements for an order from one warehouse, whatever its lines.
 */
int mer_shipments_create(mer_db_t *db, int64_t order_id, const mer_stock_plan_t *plan, const int64_t *sku_ids,
                         size_t nlines, int64_t now, int64_t *ids);
/* The shipments mer_shipments_create wrote (ids) as JSON text, the very text mer_json_dump writes for what
 * mer_shipments_json reads back, without reading (and without a jansson tree: it is the new order's answer):
 * line i's SKU code is codes[i]. Any thread. Caller frees. */
char *mer_shipments_text_new(const mer_stock_plan_t *plan, const int64_t *ids, const char *const *codes, size_t nlines,
                             int64_t created_at);
/* The order ends unshipped: every pending shipment's units go back to stock and it is cancelled. */
int mer_shipments_release(mer_db_t *db, int64_t order_id);
/*
 * Ships every pending shipment of the order (the order-level ship): stock consumed, status shipped, with
 * tracking (NULL or "": each shipment's booked one, else fallback). Returns 0, or MER_E_VALIDATION when a
 * shipment would have no tracking number, or another error.
 */
int mer_shipments_ship_pending(mer_db_t *db, int64_t order_id, const char *tracking, const char *fallback);
/* Delivers every shipped shipment of the order (the order-level deliver). */
int mer_shipments_deliver_shipped(mer_db_t *db, int64_t order_id);
/* Units of line line_no refunded before shipping: taken out of pending shipments (last first) and released.
 * Units no pending shipment holds (already shipped) are left alone. */
int mer_shipments_release_units(mer_db_t *db, int64_t order_id, int line_no, int64_t quantity);
/* The order's shipments as the order answer shows them (new reference), or NULL on a read error. */
json_t *mer_shipments_json(mer_db_t *db, int64_t order_id);

/* One shipment's step, asked by staff of a country (POST /admin/orders/{id}/shipments/{sid}/ship|deliver). */
typedef struct mer_shipment_change {
    int64_t order_id, shipment_id;
    char country[3];   /* the order must be in this country */
    bool deliver;      /* false: ship */
    char tracking[65]; /* ship: "" = the one logistics booked */
    char carrier[32];  /* ship: "" = the booked one */
    char actor[48];
    char note[201];
    char current[20]; /* out: the shipment's status afterwards (refused: the status that refused) */
} mer_shipment_change_t;

/*
 * Ships or delivers one shipment (writer), and moves the order as its shipments say. Returns 0,
 * MER_E_NOT_FOUND (no such order in the country, or no such shipment of it), MER_E_CONFLICT (the shipment
 * or the order is not in a state that allows it; field "status"), MER_E_VALIDATION (no tracking number),
 * with *e set, or another error.
 */
int mer_shipment_change(mer_db_t *db, mer_shipment_change_t *ch, mer_verr_t *e);

/* The routes of shipment_http.c (a table of the order module). */
extern const mer_routes_t mer_shipment_routes;

#endif
