/*
 * inventory.h — stock per warehouse, reservations, and the stock state shown on product pages.
 *
 * Model (region database): a warehouse sits in a country (and, in India, a state) and serves a list of
 * countries. stock(sku, warehouse) holds on_hand (units physically there), reserved (promised to unpaid
 * or unshipped orders) and sold (shipped). available = on_hand - reserved. The schema's CHECK
 * constraints make reserved <= on_hand and everything >= 0, so stock can never go negative, whatever
 * the code above does; and since every change runs on the region's single writer thread, a reservation
 * is a plain conditional UPDATE ("... WHERE on_hand - reserved >= ?") with no race.
 *
 *   order placed     reserved += q                 (mer_stock_reserve_send, _end)
 *   cancel/expire    reserved -= q                 (mer_stock_release)
 *   shipped          reserved -= q, on_hand -= q, sold += q   (mer_stock_consume)
 *   returned         on_hand += q (resellable units back from a customer: mer_stock_return)
 * so for every SKU and warehouse: on_hand + sold is constant except for admin changes, which are logged
 * in stock_movement with actor and reason.
 *
 * Product pages show a stock state per SKU (in_stock / out_of_stock) for the request's country, built on
 * the event loop: so the module keeps that state in memory (units available per SKU and country) and
 * installs it as the catalogue's stock-state provider (catalog.h, mer_stock_state_t); the catalogue never
 * calls inventory. init loads it from every region database; afterwards the writer's commit hook re-reads
 * the SKUs whose availability crossed zero in the batch (the only changes that can turn a country's sum
 * from or to zero). Those pages are cached, so each product has a stock epoch that advances when a SKU of
 * it runs out or comes back in some warehouse (mer_stock_epoch); the epoch is part of the cache key. The
 * hook advances it after the batch has committed and after the state is refreshed: advanced earlier, a
 * reader could cache the old state under the new epoch and keep it.
 *
 * stock.low: each (SKU, country) may have a threshold (stock_threshold: the SKU's own, else the
 * country's default row with sku_id 0, else none). Every change of available units (reserve, release,
 * admin set/adjust, a new threshold) checks the countries the warehouse serves, and when the units
 * available to a country where the SKU is sold fall below its threshold, writes a stock.low event into
 * the outbox in the same transaction and remembers the pair (stock_low) so that it is announced once;
 * back at or above the threshold, the pair is forgotten and the next fall announces again.
 * "Sold in a country" is the rule of cart and checkout: an active product with a price there. The
 * admin stock view uses it too: a SKU not sold in the country shows available 0 and sold_here false.
 */
#ifndef MER_INVENTORY_H
#define MER_INVENTORY_H

#include "http/req.h"
#include "inventory/alloc.h"
#include "module.h"
#include "store/db.h"

#define MER_ORDER_MAX_LINES 50

typedef struct mer_stock_line {
    int64_t sku_id;
    int64_t quantity;
} mer_stock_line_t;

/* Units available to a country (sum over the warehouses that serve it), from the database: for writer jobs
 * (cart and checkout); product pages use the state in memory. */
int mer_stock_available(mer_db_t *db, int64_t sku_id, const char *country, int64_t *out);

/* Where an order's units come from: one part per warehouse (a shipment), in candidate order. */
typedef struct mer_stock_part {
    int64_t warehouse_id;
    char code[65];                         /* the warehouse's code */
    bool same_state;                       /* in the buyer's (Indian) state */
    int64_t quantity[MER_ORDER_MAX_LINES]; /* units of line i from here (0: none) */
} mer_stock_part_t;

typedef struct mer_stock_plan {
    mer_stock_part_t parts[MER_ALLOC_MAX_WAREHOUSES];
    size_t nparts;
} mer_stock_plan_t;

/* A warehouse that may supply an order (mer_stock_hold_t). */
typedef struct mer_stock_cand {
    int64_t id;
    bool same_state; /* in the buyer's (Indian) state */
    char code[65];
} mer_stock_cand_t;

/* A reservation under way, between mer_stock_reserve_send and mer_stock_reserve_end (the caller keeps it, e.g. in
 * its checkout, until the end call). Fields are the functions' own. */
typedef struct mer_stock_hold {
    mer_stock_cand_t cand[MER_ALLOC_MAX_WAREHOUSES]; /* the warehouses serving the country, preferred first */
    size_t ncand;
    mer_stock_line_t lines[MER_ORDER_MAX_LINES];
    size_t n;
    bool sent;                                /* the first candidate's reservations are queued */
    mer_db_later_t took[MER_ORDER_MAX_LINES]; /* their outcomes (store/db.h: mer_db_defer_result) */
} mer_stock_hold_t;

/*
 * Reserves every line from the warehouses serving country, candidates ordered by the buyer's `state`
 * first (so an Indian order can be intra-state) then by id, chosen by mer_stock_allocate (alloc.h): one
 * warehouse when one can fill the order, else the fewest that together can. Writer thread only; every
 * reservation is a conditional UPDATE (on_hand - reserved >= q), so stock never goes negative even if
 * another node took units since they were read.
 *
 * In two calls, so that the common case costs no round trip of its own on a database server: send reads the
 * candidates and queues one conditional UPDATE per line on the first candidate (mer_db_defer_result), which
 * goes with the caller's next synchronous statement (checkout's order number); end, after it, reads their
 * outcome. When the first candidate filled every line the plan is made and nothing more runs; else what it
 * took is given back and every candidate's stock is read for the rule (synchronously: the rare case). end
 * without a synchronous call between sends the queue itself (mer_db_flush). Returns 0 and the plan, or
 * MER_E_CONFLICT with *short_sku a SKU the warehouses cannot supply (the caller's savepoint undoes any partial
 * reservation), or another error. A send that failed needs no end.
 */
int mer_stock_reserve_send(mer_db_t *db, const char *country, const char *state, const mer_stock_line_t *lines,
                           size_t n, mer_stock_hold_t *hold);
int mer_stock_reserve_end(mer_db_t *db, mer_stock_hold_t *hold, mer_stock_plan_t *plan, int64_t *short_sku);
int mer_stock_release(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n);
int mer_stock_consume(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n, int64_t order_id);

/*
 * Units that came back (an after-sales return received resellable): on_hand += q in warehouse_id (a stock
 * row is made if the SKU had none there), logged in stock_movement with reason "returned", the order and
 * the actor. Writer thread. Returns 0 or an error.
 */
int mer_stock_return(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n, int64_t order_id,
                     const char *actor);

/* The stock epoch of a product (see above). */
uint32_t mer_stock_epoch(int64_t product_id);

/* Demo warehouses and stock for a region (meridian seed). */
int mer_inventory_seed(mer_db_t *db, const char *region, int64_t units_per_sku);

/*
 * The inventory module: the admin routes (warehouses: list and create, stock and stock.low thresholds; writes are jobs
 * of the region's writer, the stock view a read on the read pool) and, from init, the stock state in memory, the
 * catalogue's stock-state provider, and the writer commit hook that refreshes it and advances the stock epochs of
 * products whose availability crossed zero (so cached product answers are rebuilt).
 */
extern const mer_module_t mer_inventory_module;

#endif
