#include "inventory/inventory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/csv.h"
#include "core/log.h"
#include "events/events.h"
#include "region/country.h"
#include "region/region_http.h"
#include "store/notify.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define EPOCH_SLOTS 4096
static _Atomic uint32_t epochs[EPOCH_SLOTS];

uint32_t mer_stock_epoch(int64_t product_id)
{
    return atomic_load_explicit(&epochs[(uint64_t)product_id % EPOCH_SLOTS], memory_order_acquire);
}

/*
 * The stock state in memory (what product pages show, mer_stock_state_t): units available per (SKU,
 * country), summed over the warehouses serving the country, as of the last commit. Loaded from every region
 * database at init; afterwards, each writer's commit hook re-reads the SKUs whose availability crossed zero
 * in the batch (the only changes that can turn a country's sum from or to zero) and then advances their
 * products' epochs. An open-addressing table keyed by sku_id << 16 | country; keys are never removed (a
 * pair that runs out keeps 0). Guarded by avail_lock: written by writer threads, read on the loops on a
 * product page's cache miss.
 */
static pthread_rwlock_t avail_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct avail_slot {
    uint64_t key; /* 0 = empty */
    int64_t units;
} * avail;
static size_t avail_cap, avail_n;

static uint64_t avail_key(int64_t sku_id, const char *country)
{
    return (uint64_t)sku_id << 16 | (uint64_t)(unsigned char)country[0] << 8 | (unsigned char)country[1];
}

static struct avail_slot *avail_probe(struct avail_slot *t, size_t cap, uint64_t key)
{
    for (size_t i = mer_hash64(&key, sizeof(key)) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (t[i].key == key || t[i].key == 0)
            return &t[i];
}

/* Writer threads (and init) only, under the write lock. */
static void avail_set(int64_t sku_id, const char *country, int64_t units)
{
    if (country[0] == '\0' || country[1] == '\0')
        return;
    if ((avail_n + 1) * 2 > avail_cap) {
        size_t cap = avail_cap ? avail_cap * 2 : 1024;
        struct avail_slot *t = mer_xcalloc(cap, sizeof(*t));
        for (size_t i = 0; i < avail_cap; i++)
            if (avail[i].key)
                *avail_probe(t, cap, avail[i].key) = avail[i];
        free(avail);
        avail = t;
        avail_cap = cap;
    }
    struct avail_slot *e = avail_probe(avail, avail_cap, avail_key(sku_id, country));
    if (e->key == 0) {
        e->key = avail_key(sku_id, country);
        avail_n++;
    }
    e->units = units;
}

static bool stock_in_stock(int64_t sku_id, const char *country)
{
    bool in = false;
    pthread_rwlock_rdlock(&avail_lock);
    if (avail_cap && country[0] && country[1]) {
        const struct avail_slot *e = avail_probe(avail, avail_cap, avail_key(sku_id, country));
        in = e->key != 0 && e->units > 0;
    }
    pthread_rwlock_unlock(&avail_lock);
    return in;
}

static const mer_stock_state_t stock_state = {stock_in_stock, mer_stock_epoch};

/* Re-reads the units of sku (0: every SKU) per country from a region's database into the table. */
static int avail_load(mer_db_t *db, int64_t sku_id)
{
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT s.sku_id, ws.country, SUM(s.on_hand - s.reserved) FROM stock s "
                                 "JOIN warehouse_serves ws ON ws.warehouse_id = s.warehouse_id "
                                 "WHERE ?1 = 0 OR s.sku_id = ?1 GROUP BY s.sku_id, ws.country",
                                 "i", sku_id);
    pthread_rwlock_wrlock(&avail_lock);
    while (mer_rows_next(r))
        avail_set(mer_rows_int(r, 0), mer_rows_text(r, 1), mer_rows_int(r, 2));
    pthread_rwlock_unlock(&avail_lock);
    return mer_rows_end(r);
}

/*
 * SKUs whose availability crossed zero in the writer's current batch (writer thread only). Once the batch
 * has committed (publish_stock), their units are re-read into the table and then their products' epochs
 * advance; a batch that rolled back only costs those pages a cache miss.
 */
static __thread int64_t changed[256];
static __thread size_t nchanged;
static __thread bool changed_many;

/* Inside a writer job: the SKU's availability crossed zero. The other nodes on the database hear of it at
 * commit (store/notify.h: they refresh the SKU and advance its product's epoch, as publish_stock does here). */
static int stock_changed(mer_db_t *db, int64_t sku_id)
{
    if (nchanged < MER_ARRAY_LEN(changed))
        changed[nchanged++] = sku_id;
    else
        changed_many = true;
    return mer_notify_send_id(db, "stock", sku_id);
}

static void publish_stock(const char *region)
{
    if (region == NULL || (nchanged == 0 && !changed_many))
        return;
    /* first the state, then the epochs: a page rebuilt under the new epoch must see the new state */
    mer_db_t *db = mer_store_write_begin(region);
    int err = db ? 0 : MER_E_UNAVAILABLE;
    if (changed_many)
        err = err ? err : avail_load(db, 0);
    for (size_t i = 0; err == 0 && !changed_many && i < nchanged; i++)
        err = avail_load(db, changed[i]);
    mer_store_write_end(region);
    if (err)
        mer_log_error("stock state of region %s not refreshed: %s", region, mer_err_code(err));
    if (changed_many) {
        for (size_t i = 0; i < EPOCH_SLOTS; i++)
            atomic_fetch_add_explicit(&epochs[i], 1, memory_order_acq_rel);
    } else {
        const mer_catalog_t *cat = mer_catalog_lock();
        for (size_t i = 0; i < nchanged; i++) {
            const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, changed[i]);
            if (s)
                atomic_fetch_add_explicit(&epochs[(uint64_t)s->product->id % EPOCH_SLOTS], 1, memory_order_acq_rel);
        }
        mer_catalog_unlock();
    }
    nchanged = 0;
    changed_many = false;
}

int mer_stock_available(mer_db_t *db, int64_t sku_id, const char *country, int64_t *out)
{
    int err = mer_db_query_int(db, out,
                               "SELECT COALESCE(SUM(s.on_hand - s.reserved), 0) FROM stock s "
                               "JOIN warehouse_serves ws ON ws.warehouse_id = s.warehouse_id "
                               "WHERE s.sku_id = ? AND ws.country = ?",
                               "is", sku_id, country);
    return err == MER_E_NOT_FOUND ? (*out = 0, 0) : err;
}

/* ---- stock.low ----
 * A (SKU, country) is low when the units available to the country are below its threshold: the SKU's
 * own threshold in that country, else the country's default (stock_threshold row with sku_id 0), else
 * none. stock.low is emitted, in the transaction of the change, when a pair becomes low; the pair is then
 * remembered in stock_low and nothing more is emitted until it is no longer low (available back at or
 * above the threshold, or the threshold lowered or removed), which forgets it. Only countries where the
 * SKU is sold count: elsewhere its units cannot be bought, and nothing is announced.
 *
 * Every stock change calls check_low() for the countries its warehouse serves. A region with no
 * threshold and no low pair skips the work; low_db/low_armed cache that per writer thread (each region
 * has one writer thread, and thresholds are only written by it, which resets the cache).
 */
static __thread mer_db_t *low_db; /* the database low_armed describes; NULL = unknown */
static __thread bool low_armed;

static bool sold_in(const mer_cat_sku_t *s, const char *country)
{
    /* the rule of cart and checkout: an active product with a price in the country */
    return s && s->product->active && mer_catalog_price(s, country) >= 0;
}

/* Checks sku in the countries warehouse_id serves, or (warehouse_id 0) in country. */
static int check_low(mer_db_t *db, int64_t sku_id, int64_t warehouse_id, const char *country)
{
    if (low_db != db) {
        int64_t armed = 1;
        if (mer_db_query_int(db, &armed,
                             "SELECT EXISTS (SELECT 1 FROM stock_threshold WHERE threshold > 0) OR "
                             "EXISTS (SELECT 1 FROM stock_low)",
                             NULL) != 0)
            return MER_E_INTERNAL;
        low_db = db;
        low_armed = armed != 0;
    }
    if (!low_armed)
        return 0;
    struct {
        char country[3];
        int64_t avail, threshold;
        bool was_low;
    } pairs[32];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(
        db,
        "SELECT c.country, "
        "(SELECT COALESCE(SUM(s.on_hand - s.reserved), 0) FROM stock s JOIN warehouse_serves w "
        " ON w.warehouse_id = s.warehouse_id WHERE s.sku_id = ?1 AND w.country = c.country), "
        "COALESCE((SELECT threshold FROM stock_threshold t WHERE t.country = c.country AND t.sku_id = ?1), "
        " (SELECT threshold FROM stock_threshold t WHERE t.country = c.country AND t.sku_id = 0), 0), "
        "EXISTS (SELECT 1 FROM stock_low l WHERE l.sku_id = ?1 AND l.country = c.country) "
        "FROM (SELECT country FROM warehouse_serves WHERE warehouse_id = ?2 UNION SELECT ?3 WHERE ?2 = 0) c",
        "iis", sku_id, warehouse_id, country ? country : "");
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(pairs)) {
        mer_strcopy(pairs[n].country, sizeof(pairs[n].country), mer_rows_text(r, 0));
        pairs[n].avail = mer_rows_int(r, 1);
        pairs[n].threshold = mer_rows_int(r, 2);
        pairs[n].was_low = mer_rows_int(r, 3) != 0;
        n++;
    }
    if (mer_rows_end(r) != 0)
        return MER_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        bool low = pairs[i].avail < pairs[i].threshold;
        if (low == pairs[i].was_low)
            continue;
        if (!low) {
            if (mer_db_exec(db, "DELETE FROM stock_low WHERE sku_id = ? AND country = ?", "is", sku_id,
                            pairs[i].country) < 0)
                return MER_E_INTERNAL;
            continue;
        }
        const mer_catalog_t *cat = mer_catalog_lock();
        const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, sku_id);
        json_t *ev = sold_in(s, pairs[i].country)
                         ? json_pack("{s:s,s:I,s:I,s:s,s:I,s:I}", "sku", s->code, "sku_id", (json_int_t)sku_id,
                                     "product_id", (json_int_t)s->product->id, "country", pairs[i].country, "available",
                                     (json_int_t)pairs[i].avail, "threshold", (json_int_t)pairs[i].threshold)
                         : NULL;
        mer_catalog_unlock();
        if (ev == NULL)
            continue; /* not sold there: nothing to announce */
        if (mer_db_exec(db, "INSERT INTO stock_low (sku_id, country, since) VALUES (?, ?, ?)", "isi", sku_id,
                        pairs[i].country, mer_now_unix_ms()) < 0) {
            json_decref(ev);
            return MER_E_INTERNAL;
        }
        int err = mer_event_emit(db, "stock.low", 0, ev);
        if (err)
            return err;
    }
    return 0;
}

/* A reservation: q of a SKU in a warehouse if it has that many available; the units left. */
static const char reserve_sql[] = "UPDATE stock SET reserved = reserved + ? WHERE sku_id = ? AND warehouse_id = ? "
                                  "AND on_hand - reserved >= ? RETURNING on_hand - reserved";

/* Reserves q of sku in warehouse; returns the units left, or -1 if there were not enough. */
static int64_t reserve_one(mer_db_t *db, int64_t warehouse_id, int64_t sku_id, int64_t q)
{
    int64_t left = -1;
    int err = mer_db_query_int(db, &left, reserve_sql, "iiii", q, sku_id, warehouse_id, q);
    return err ? -1 : left;
}

/* Gives back q of sku in warehouse that reserve_one took in this transaction (nothing else is told). */
static int unreserve_one(mer_db_t *db, int64_t warehouse_id, int64_t sku_id, int64_t q)
{
    return mer_db_exec(db, "UPDATE stock SET reserved = reserved - ? WHERE sku_id = ? AND warehouse_id = ?", "iii", q,
                       sku_id, warehouse_id) == 1
               ? 0
               : MER_E_INTERNAL;
}

typedef mer_stock_cand_t candidate_t;

/*
 * The warehouses serving each country, as the writer last read them (candidates()): they change only through
 * the admin route (wh_run) and `meridian seed`, so each writer thread keeps what it read, per database and
 * country, until wh_gen moves. wh_run moves it inside its job, so the writer's next job reads again, in the
 * same transaction (a job rolled back, or a COMMIT that failed, leaves at worst a warehouse listed that is not
 * there: its reservation changes no row, and the rule of alloc.h, reading every candidate's stock, finds none
 * there); another node's "warehouse" note moves it too (store/notify.h), and so does a reconnected listener.
 */
#define WH_CACHE 8 /* (database, country) pairs a writer thread keeps */
#define WH_ROWS 32 /* warehouses kept per country; a country served by more is read every time */

static _Atomic uint64_t wh_gen = 1;

typedef struct wh_row {
    int64_t id;
    char state[32]; /* as wh_job_t keeps it */
    char code[65];
} wh_row_t;

static __thread struct wh_cached {
    const mer_db_t *db; /* NULL: free */
    uint64_t gen;
    char country[3];
    wh_row_t rows[WH_ROWS]; /* by warehouse id */
    size_t n;
} wh_cache[WH_CACHE];
static __thread size_t wh_next; /* the slot a new pair takes (round robin) */

static void wh_changed(void)
{
    atomic_fetch_add_explicit(&wh_gen, 1, memory_order_release);
}

/* The rows of country (from the cache, else read and kept): 0 with *out and *n, or an error. */
static int wh_rows(mer_db_t *db, const char *country, const wh_row_t **out, size_t *n)
{
    uint64_t gen = atomic_load_explicit(&wh_gen, memory_order_acquire);
    for (size_t i = 0; i < WH_CACHE; i++) {
        struct wh_cached *c = &wh_cache[i];
        if (c->db == db && c->gen == gen && strcmp(c->country, country) == 0) {
            *out = c->rows;
            *n = c->n;
            return 0;
        }
    }
    struct wh_cached *c = &wh_cache[wh_next++ % WH_CACHE];
    c->db = NULL;
    c->n = 0;
    bool all = true;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT w.id, w.state, w.code FROM warehouse_serves ws JOIN warehouse w "
                                 "ON w.id = ws.warehouse_id WHERE ws.country = ? ORDER BY ws.warehouse_id",
                                 "s", country);
    while (mer_rows_next(r)) {
        if (c->n == WH_ROWS) {
            all = false;
            continue;
        }
        wh_row_t *w = &c->rows[c->n++];
        w->id = mer_rows_int(r, 0);
        mer_strcopy(w->state, sizeof(w->state), mer_rows_text(r, 1));
        mer_strcopy(w->code, sizeof(w->code), mer_rows_text(r, 2));
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (all) { /* (kept: a country served by more rows than that is read every time, with the first WH_ROWS) */
        c->db = db;
        c->gen = gen;
        mer_strcopy(c->country, sizeof(c->country), country);
    }
    *out = c->rows;
    *n = c->n;
    return 0;
}

/* Another node created a warehouse (or, arg NULL, anything may have changed). */
static void warehouse_note(const char *region, const char *arg)
{
    (void)region, (void)arg;
    wh_changed();
}

/*
 * The warehouses serving country in preference order, those in the buyer's state first, then by id; at most
 * MER_ALLOC_MAX_WAREHOUSES. Ordered here rather than by the query: ORDER BY (w.state = ?) sorts in a
 * temporary table on every order, while warehouse_serves' primary key gives the rows by id as they are.
 * Writer thread (the rows come from its cache, above).
 */
static int candidates(mer_db_t *db, const char *country, const char *state, candidate_t *out, size_t *n)
{
    candidate_t other[MER_ALLOC_MAX_WAREHOUSES];
    size_t nsame = 0, nother = 0, nrows = 0;
    const char *st = state ? state : "";
    const wh_row_t *rows;
    int err = wh_rows(db, country, &rows, &nrows);
    if (err)
        return err;
    for (size_t i = 0; i < nrows; i++) {
        bool same = strcmp(rows[i].state, st) == 0;
        candidate_t *c = same ? (nsame < MER_ALLOC_MAX_WAREHOUSES ? &out[nsame++] : NULL)
                              : (nother < MER_ALLOC_MAX_WAREHOUSES ? &other[nother++] : NULL);
        if (c == NULL)
            continue;
        c->id = rows[i].id;
        c->same_state = same && st[0];
        mer_strcopy(c->code, sizeof(c->code), rows[i].code);
    }
    for (size_t i = 0; i < nother && nsame + i < MER_ALLOC_MAX_WAREHOUSES; i++)
        out[nsame + i] = other[i];
    *n = nsame + nother < MER_ALLOC_MAX_WAREHOUSES ? nsame + nother : MER_ALLOC_MAX_WAREHOUSES;
    return 0;
}

/* Adds candidate c to the plan as its next part (the caller sets the part's units). */
static void plan_part(mer_stock_plan_t *plan, const candidate_t *c)
{
    mer_stock_part_t *p = &plan->parts[plan->nparts++];
    p->warehouse_id = c->id;
    p->same_state = c->same_state;
    mer_strcopy(p->code, sizeof(p->code), c->code);
}

int mer_stock_reserve_send(mer_db_t *db, const char *country, const char *state, const mer_stock_line_t *lines,
                           size_t n, mer_stock_hold_t *hold)
{
    hold->sent = false;
    hold->n = 0;
    if (n > MER_ORDER_MAX_LINES)
        return MER_E_INTERNAL;
    int err = candidates(db, country, state, hold->cand, &hold->ncand);
    if (err)
        return err;
    memcpy(hold->lines, lines, n * sizeof(*lines));
    hold->n = n;
    if (hold->ncand == 0 || n == 0)
        return 0;
    /* the first candidate can fill every line: the common case, and then rule 1 of alloc.h chooses it */
    const candidate_t *c = &hold->cand[0];
    for (size_t i = 0; i < n; i++)
        if ((err = mer_db_defer_result(db, &hold->took[i], reserve_sql, "iiii", lines[i].quantity, lines[i].sku_id,
                                       c->id, lines[i].quantity)) != 0)
            return err;
    hold->sent = true;
    return 0;
}

/*
 * What the first candidate's reservations did: 1 with the plan made (every line filled), 0 when one line
 * could not be (what the others took is given back: the transaction is as before), or an error.
 */
static int reserve_first_end(mer_db_t *db, mer_stock_hold_t *hold, mer_stock_plan_t *plan)
{
    const candidate_t *c = &hold->cand[0];
    size_t n = hold->n;
    bool all = true;
    for (size_t i = 0; i < n && all; i++)
        all = hold->took[i].ready;
    int err;
    if (!all && (err = mer_db_flush(db)) != 0) /* no synchronous call since send */
        return err;
    bool filled = true;
    for (size_t i = 0; i < n; i++) {
        if (!hold->took[i].ready) /* (a statement that never ran: its job fails) */
            return MER_E_INTERNAL;
        filled = filled && hold->took[i].changed == 1;
    }
    if (!filled) {
        for (size_t i = 0; i < n; i++)
            if (hold->took[i].changed == 1 &&
                unreserve_one(db, c->id, hold->lines[i].sku_id, hold->lines[i].quantity) != 0)
                return MER_E_INTERNAL;
        return 0;
    }
    plan_part(plan, c);
    for (size_t i = 0; i < n; i++) {
        plan->parts[0].quantity[i] = hold->lines[i].quantity;
        if (hold->took[i].value == 0 && (err = stock_changed(db, hold->lines[i].sku_id)) != 0)
            return err;
    }
    return 1;
}

int mer_stock_reserve_end(mer_db_t *db, mer_stock_hold_t *hold, mer_stock_plan_t *plan, int64_t *short_sku)
{
    const candidate_t *cand = hold->cand;
    const mer_stock_line_t *lines = hold->lines;
    size_t nc = hold->ncand, n = hold->n;
    memset(plan, 0, sizeof(*plan));
    *short_sku = n ? lines[0].sku_id : 0;
    int first = hold->sent ? reserve_first_end(db, hold, plan) : 0;
    hold->sent = false;
    if (first < 0)
        return first;
    int err;
    if (first == 0) {
        /* units available per line and candidate, then the rule of alloc.h */
        int64_t qty[MER_ALLOC_MAX_LINES], avail[MER_ALLOC_MAX_LINES * MER_ALLOC_MAX_WAREHOUSES] = {0};
        int64_t take[MER_ALLOC_MAX_LINES * MER_ALLOC_MAX_WAREHOUSES];
        for (size_t i = 0; i < n; i++) {
            qty[i] = lines[i].quantity;
            mer_rows_t *r = mer_db_query(db, "SELECT warehouse_id, on_hand - reserved FROM stock WHERE sku_id = ?", "i",
                                         lines[i].sku_id);
            while (mer_rows_next(r)) {
                int64_t wid = mer_rows_int(r, 0);
                for (size_t k = 0; k < nc; k++)
                    if (cand[k].id == wid)
                        avail[i * nc + k] = mer_rows_int(r, 1);
            }
            if ((err = mer_rows_end(r)) != 0)
                return err;
        }
        size_t short_line = 0;
        if (mer_stock_allocate(qty, n, avail, nc, take, &short_line) == 0) {
            if (short_line < n)
                *short_sku = lines[short_line].sku_id;
            return MER_E_CONFLICT;
        }
        for (size_t k = 0; k < nc; k++) {
            bool used = false;
            for (size_t i = 0; i < n; i++)
                used = used || take[i * nc + k] > 0;
            if (!used)
                continue;
            plan_part(plan, &cand[k]);
            mer_stock_part_t *p = &plan->parts[plan->nparts - 1];
            for (size_t i = 0; i < n; i++) {
                int64_t q = take[i * nc + k];
                p->quantity[i] = q;
                if (q == 0)
                    continue;
                int64_t left = reserve_one(db, cand[k].id, lines[i].sku_id, q);
                if (left < 0) { /* taken meanwhile (another node): refused, the savepoint undoes the rest */
                    *short_sku = lines[i].sku_id;
                    return MER_E_CONFLICT;
                }
                if (left == 0 && (err = stock_changed(db, lines[i].sku_id)) != 0)
                    return err;
            }
        }
    }
    for (size_t k = 0; k < plan->nparts; k++)
        for (size_t i = 0; i < n; i++)
            if (plan->parts[k].quantity[i] &&
                (err = check_low(db, lines[i].sku_id, plan->parts[k].warehouse_id, NULL)) != 0)
                return err;
    return 0;
}

int mer_stock_release(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t left = 0;
        if (mer_db_query_int(db, &left,
                             "UPDATE stock SET reserved = reserved - ? WHERE sku_id = ? AND warehouse_id = ? "
                             "RETURNING on_hand - reserved",
                             "iii", lines[i].quantity, lines[i].sku_id, warehouse_id) != 0)
            return MER_E_INTERNAL;
        if (left == lines[i].quantity && stock_changed(db, lines[i].sku_id) != 0) /* back in stock */
            return MER_E_INTERNAL;
        if (check_low(db, lines[i].sku_id, warehouse_id, NULL) != 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

int mer_stock_consume(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n, int64_t order_id)
{
    int64_t now = mer_now_unix_ms();
    for (size_t i = 0; i < n; i++) {
        int rc = mer_db_exec(db,
                             "UPDATE stock SET reserved = reserved - ?, on_hand = on_hand - ?, sold = sold + ? "
                             "WHERE sku_id = ? AND warehouse_id = ?",
                             "iiiii", lines[i].quantity, lines[i].quantity, lines[i].quantity, lines[i].sku_id,
                             warehouse_id);
        if (rc != 1)
            return MER_E_INTERNAL;
        if (mer_db_exec(db,
                        "INSERT INTO stock_movement (sku_id, warehouse_id, d_on_hand, d_reserved, reason, order_id, "
                        "actor, at) VALUES (?, ?, ?, ?, 'shipped', ?, 'system', ?)",
                        "iiiiii", lines[i].sku_id, warehouse_id, -lines[i].quantity, -lines[i].quantity, order_id,
                        now) < 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

int mer_stock_return(mer_db_t *db, int64_t warehouse_id, const mer_stock_line_t *lines, size_t n, int64_t order_id,
                     const char *actor)
{
    int64_t now = mer_now_unix_ms();
    for (size_t i = 0; i < n; i++) {
        int64_t avail = 0;
        int err = mer_db_query_int(db, &avail,
                                   "INSERT INTO stock (sku_id, warehouse_id, on_hand) VALUES (?, ?, ?) "
                                   "ON CONFLICT (sku_id, warehouse_id) DO UPDATE SET on_hand = stock.on_hand + "
                                   "excluded.on_hand RETURNING on_hand - reserved",
                                   "iii", lines[i].sku_id, warehouse_id, lines[i].quantity);
        if (err)
            return err;
        if (avail == lines[i].quantity && (err = stock_changed(db, lines[i].sku_id)) != 0) /* back in stock */
            return err;
        if (mer_db_exec(db,
                        "INSERT INTO stock_movement (sku_id, warehouse_id, d_on_hand, d_reserved, reason, order_id, "
                        "actor, at) VALUES (?, ?, ?, 0, 'returned', ?, ?, ?)",
                        "iiiisi", lines[i].sku_id, warehouse_id, lines[i].quantity, order_id, actor, now) < 0)
            return MER_E_INTERNAL;
        if ((err = check_low(db, lines[i].sku_id, warehouse_id, NULL)) != 0)
            return err;
    }
    return 0;
}

/* ---- demo data ---- */

typedef struct demo_wh {
    const char *region, *code, *name, *country, *state, *serves;
} demo_wh_t;

static const demo_wh_t demo_warehouses[] = {
    {"in", "WH-IN-MUM", "Mumbai (Bhiwandi)", "IN", "MH", "IN"},
    {"in", "WH-IN-BLR", "Bengaluru (Hoskote)", "IN", "KA", "IN"},
    {"sg", "WH-SG-SIN", "Singapore (Tuas)", "SG", "", "SG,MY,PH,TH,VN"},
    {"sg", "WH-ID-JKT", "Jakarta (Cikarang)", "ID", "", "ID"},
    {"ru", "WH-RU-MOW", "Moscow (Podolsk)", "RU", "", "RU"},
    {"eu", "WH-DE-BER", "Berlin (Ludwigsfelde)", "DE", "", "DE,PL,FR,IT,ES"},
    {"eu", "WH-ES-MAD", "Madrid (Getafe)", "ES", "", "ES,FR,IT"},
    {"eu", "WH-GB-LON", "London (Tilbury)", "GB", "", "GB"},
};

int mer_inventory_seed(mer_db_t *db, const char *region, int64_t units)
{
    wh_changed();
    const mer_catalog_t *cat = mer_catalog_lock();
    int err = mer_notify_send(db, "warehouse", ""); /* (nodes serving this database meanwhile) */
    for (size_t i = 0; i < MER_ARRAY_LEN(demo_warehouses) && err == 0; i++) {
        const demo_wh_t *w = &demo_warehouses[i];
        int64_t id = 0;
        if (strcmp(w->region, region) != 0)
            continue;
        err = mer_db_query_int(db, &id,
                               "INSERT INTO warehouse (code, name, country, state) VALUES (?, ?, ?, ?) RETURNING id",
                               "ssss", w->code, w->name, w->country, w->state);
        for (const char *p = w->serves; err == 0 && *p; p += p[2] ? 3 : 2) {
            char cc[3] = {p[0], p[1], 0};
            if (mer_db_exec(db, "INSERT INTO warehouse_serves (warehouse_id, country) VALUES (?, ?)", "is", id, cc) < 0)
                err = MER_E_INTERNAL;
        }
        for (size_t p = 0; err == 0 && p < cat->nproducts; p++)
            for (size_t s = 0; err == 0 && s < cat->products[p].nskus; s++)
                if (mer_db_exec(db, "INSERT INTO stock (sku_id, warehouse_id, on_hand) VALUES (?, ?, ?)", "iii",
                                cat->products[p].skus[s].id, id, units) < 0)
                    err = MER_E_INTERNAL;
    }
    mer_catalog_unlock();
    return err;
}

/* ---- admin routes ---- */

typedef struct wh_job {
    mer_call_t c;
    char code[65], name[801], country[3], state[32];
    char serves[32][3];
    size_t nserves;
    int64_t id;
} wh_job_t;

static int wh_run(mer_db_t *db, mer_call_t *c)
{
    wh_job_t *j = (wh_job_t *)c;
    wh_changed(); /* this writer's next candidates() reads again (see wh_rows) */
    int err = mer_db_query_int(db, &j->id,
                               "INSERT INTO warehouse (code, name, country, state) VALUES (?, ?, ?, ?) RETURNING id",
                               "ssss", j->code, j->name, j->country, j->state);
    for (size_t i = 0; err == 0 && i < j->nserves; i++)
        if (mer_db_exec(db, "INSERT INTO warehouse_serves (warehouse_id, country) VALUES (?, ?)", "is", j->id,
                        j->serves[i]) < 0)
            err = MER_E_INTERNAL;
    if (err == MER_E_ALREADY_EXISTS)
        return mer_verr_set(&c->verr, err, "code", "warehouse %s already exists", j->code);
    if (err == 0)
        err = mer_notify_send(db, "warehouse", "");
    if (err)
        return err;
    json_t *serves = json_array();
    for (size_t i = 0; i < j->nserves; i++)
        json_array_append_new(serves, json_string(j->serves[i]));
    c->status = 201;
    c->result = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)j->id, "code", j->code, "name", j->name,
                          "country", j->country, "state", j->state, "serves", serves);
    return 0;
}

static void h_create_warehouse(mer_req_t *r)
{
    static const char *const keys[] = {"code", "name", "country", "state", "serves", NULL};
    mer_verr_t e = {0};
    const char *code = NULL, *name = NULL, *country = NULL, *state = "";
    json_t *serves = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "code", "code", 1, 64, true, &code, &e) ||
        mer_json_str(r->body, "name", "name", 1, 200, true, &name, &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "state", "state", 0, 7, false, &state, &e) ||
        mer_json_member(r->body, "serves", "serves", JSON_ARRAY, true, &serves, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "manage warehouses");
    if (cc == NULL)
        return;
    wh_job_t *j = mer_call_new(r, sizeof(*j));
    snprintf(j->code, sizeof(j->code), "%s", code);
    snprintf(j->name, sizeof(j->name), "%s", name);
    snprintf(j->country, sizeof(j->country), "%s", cc->code);
    snprintf(j->state, sizeof(j->state), "%s", state);
    size_t i;
    json_t *v;
    const mer_countries_t *cs = mer_countries();
    json_array_foreach(serves, i, v)
    {
        const mer_country_t *c =
            json_is_string(v) ? mer_country_find_any(cs, json_string_value(v), json_string_length(v)) : NULL;
        if (c == NULL || strcmp(c->region, cc->region) != 0 || j->nserves >= MER_ARRAY_LEN(j->serves)) {
            free(j);
            mer_reply_error(r, MER_E_VALIDATION, "serves", "serves lists countries of region %s", cc->region);
            return;
        }
        bool dup = false;
        for (size_t k = 0; k < j->nserves; k++)
            dup = dup || strcmp(j->serves[k], c->code) == 0;
        if (!dup)
            snprintf(j->serves[j->nserves++], 3, "%s", c->code);
    }
    if (j->nserves == 0) {
        free(j);
        mer_reply_error(r, MER_E_VALIDATION, "serves", "a warehouse serves at least one country");
        return;
    }
    mer_call_write(&j->c, cc->region, wh_run);
}

typedef struct stock_job {
    mer_call_t c;
    char warehouse[65], reason[801], sku_code[65];
    int64_t sku_id;
    int64_t value; /* on_hand (set) or delta (adjust) */
    bool adjust;
} stock_job_t;

static int stock_run(mer_db_t *db, mer_call_t *c)
{
    stock_job_t *j = (stock_job_t *)c;
    int64_t wid = 0, before_on = 0, before_res = 0, sold = 0;
    char wcountry[3] = "";
    mer_rows_t *wr = mer_db_query(db, "SELECT id, country FROM warehouse WHERE code = ?", "s", j->warehouse);
    if (mer_rows_next(wr)) {
        wid = mer_rows_int(wr, 0);
        snprintf(wcountry, sizeof(wcountry), "%s", mer_rows_text(wr, 1));
    }
    mer_rows_end(wr);
    if (wid == 0)
        return mer_verr_set(&c->verr, MER_E_VALIDATION, "warehouse", "no warehouse %s in this region", j->warehouse);
    if (!mer_principal_may_country(&c->who, wcountry))
        return mer_verr_set(&c->verr, MER_E_FORBIDDEN, "warehouse", "warehouse %s is in %s, which you do not manage",
                            j->warehouse, wcountry);
    mer_rows_t *rows = mer_db_query(
        db, "SELECT on_hand, reserved, sold FROM stock WHERE sku_id = ? AND warehouse_id = ?", "ii", j->sku_id, wid);
    bool exists = mer_rows_next(rows);
    if (exists) {
        before_on = mer_rows_int(rows, 0);
        before_res = mer_rows_int(rows, 1);
        sold = mer_rows_int(rows, 2);
    }
    if (mer_rows_end(rows) != 0)
        return MER_E_INTERNAL;
    int64_t target = j->adjust ? before_on + j->value : j->value;
    if (target < before_res)
        return mer_verr_set(&c->verr, MER_E_CONFLICT, j->adjust ? "delta" : "on_hand",
                            "on_hand cannot go below the %lld units reserved for orders (or below zero)",
                            (long long)before_res);
    int rc = exists ? mer_db_exec(db, "UPDATE stock SET on_hand = ? WHERE sku_id = ? AND warehouse_id = ?", "iii",
                                  target, j->sku_id, wid)
                    : mer_db_exec(db, "INSERT INTO stock (sku_id, warehouse_id, on_hand) VALUES (?, ?, ?)", "iii",
                                  j->sku_id, wid, target);
    if (rc < 0)
        return rc;
    char actor[48];
    snprintf(actor, sizeof(actor), "staff:%lld", (long long)c->who.id);
    if (mer_db_exec(db,
                    "INSERT INTO stock_movement (sku_id, warehouse_id, d_on_hand, d_reserved, reason, actor, at) "
                    "VALUES (?, ?, ?, 0, ?, ?, ?)",
                    "iiissi", j->sku_id, wid, target - before_on, j->reason, actor, mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    if ((before_on - before_res <= 0) != (target - before_res <= 0) && (rc = stock_changed(db, j->sku_id)) != 0)
        return rc;
    if ((rc = check_low(db, j->sku_id, wid, NULL)) != 0)
        return rc;
    /* only on_hand changed (a new row starts with sold = 0) */
    c->result = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "sku", j->sku_code, "warehouse", j->warehouse, "on_hand",
                          (json_int_t)target, "reserved", (json_int_t)before_res, "available",
                          (json_int_t)(target - before_res), "sold", (json_int_t)sold);
    return 0;
}

/* PUT /admin/stock {"sku","warehouse","country","on_hand","reason"} or POST /admin/stock/adjust {..."delta"} */
static void stock_change(mer_req_t *r, bool adjust)
{
    static const char *const set_keys[] = {"sku", "warehouse", "country", "on_hand", "reason", NULL};
    static const char *const adj_keys[] = {"sku", "warehouse", "country", "delta", "reason", NULL};
    mer_verr_t e = {0};
    const char *sku = NULL, *wh = NULL, *country = NULL, *reason = NULL;
    int64_t value = 0;
    if (mer_json_only(r->body, adjust ? adj_keys : set_keys, "", &e) ||
        mer_json_str(r->body, "sku", "sku", 1, 64, true, &sku, &e) ||
        mer_json_str(r->body, "warehouse", "warehouse", 1, 64, true, &wh, &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "reason", "reason", 1, 200, true, &reason, &e) ||
        (adjust ? mer_json_int(r->body, "delta", "delta", -1000000000, 1000000000, true, &value, &e)
                : mer_json_int(r->body, "on_hand", "on_hand", 0, 1000000000, true, &value, &e))) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "manage stock");
    if (cc == NULL)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_code(cat, sku);
    int64_t sku_id = s ? s->id : 0;
    mer_catalog_unlock();
    if (sku_id == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "sku", "no SKU %s", sku);
        return;
    }
    stock_job_t *j = mer_call_new(r, sizeof(*j));
    j->sku_id = sku_id;
    j->adjust = adjust;
    j->value = value;
    snprintf(j->warehouse, sizeof(j->warehouse), "%s", wh);
    snprintf(j->reason, sizeof(j->reason), "%s", reason);
    snprintf(j->sku_code, sizeof(j->sku_code), "%s", sku);
    mer_call_write(&j->c, cc->region, stock_run);
}

static void h_set_stock(mer_req_t *r)
{
    stock_change(r, false);
}

static void h_adjust_stock(mer_req_t *r)
{
    stock_change(r, true);
}

/* PUT /admin/stock/threshold {"country", "sku" (absent: the country's default), "threshold"} */
typedef struct threshold_job {
    mer_call_t c;
    char country[3], sku_code[65];
    int64_t sku_id; /* 0: the country's default */
    int64_t threshold;
} threshold_job_t;

static int set_threshold(mer_db_t *db, threshold_job_t *j);

static int threshold_run(mer_db_t *db, mer_call_t *c)
{
    threshold_job_t *j = (threshold_job_t *)c;
    int err = set_threshold(db, j);
    if (err)
        return err;
    c->result = json_pack("{s:s,s:I,s:s}", "country", j->country, "threshold", (json_int_t)j->threshold, "scope",
                          j->sku_id ? "sku" : "country_default");
    if (j->sku_id)
        json_object_set_new(c->result, "sku", json_string(j->sku_code));
    return 0;
}

static int set_threshold(mer_db_t *db, threshold_job_t *j)
{
    if (mer_db_exec(db,
                    "INSERT INTO stock_threshold (country, sku_id, threshold) VALUES (?, ?, ?) "
                    "ON CONFLICT (country, sku_id) DO UPDATE SET threshold = excluded.threshold",
                    "sii", j->country, j->sku_id, j->threshold) < 0)
        return MER_E_INTERNAL;
    low_db = NULL; /* armed or not: ask again */
    /* a new threshold may make SKUs low (or no longer low) at once */
    if (j->sku_id)
        return check_low(db, j->sku_id, 0, j->country);
    int64_t skus[4096];
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT DISTINCT s.sku_id FROM stock s JOIN warehouse_serves ws "
                                 "ON ws.warehouse_id = s.warehouse_id WHERE ws.country = ? "
                                 "UNION SELECT sku_id FROM stock_low WHERE country = ?",
                                 "ss", j->country, j->country);
    while (mer_rows_next(r) && n < MER_ARRAY_LEN(skus))
        skus[n++] = mer_rows_int(r, 0);
    int err = mer_rows_end(r);
    for (size_t i = 0; err == 0 && i < n; i++)
        err = check_low(db, skus[i], 0, j->country);
    return err;
}

static void h_set_threshold(mer_req_t *r)
{
    static const char *const keys[] = {"country", "sku", "threshold", NULL};
    mer_verr_t e = {0};
    const char *country = NULL, *sku = NULL;
    int64_t threshold = 0;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "sku", "sku", 1, 64, false, &sku, &e) ||
        mer_json_int(r->body, "threshold", "threshold", 0, 1000000000, true, &threshold, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "manage stock");
    if (cc == NULL)
        return;
    int64_t sku_id = 0;
    if (sku) {
        const mer_catalog_t *cat = mer_catalog_lock();
        const mer_cat_sku_t *s = mer_catalog_sku_by_code(cat, sku);
        bool sold = sold_in(s, cc->code);
        sku_id = s ? s->id : 0;
        mer_catalog_unlock();
        if (!sold) {
            if (sku_id == 0)
                mer_reply_error(r, MER_E_VALIDATION, "sku", "no SKU %s", sku);
            else
                mer_reply_error(r, MER_E_VALIDATION, "sku", "%s is not sold in %s", sku, cc->code);
            return;
        }
    }
    threshold_job_t *j = mer_call_new(r, sizeof(*j));
    j->sku_id = sku_id;
    if (sku)
        snprintf(j->sku_code, sizeof(j->sku_code), "%s", sku);
    j->threshold = threshold;
    snprintf(j->country, sizeof(j->country), "%s", cc->code);
    mer_call_write(&j->c, cc->region, threshold_run);
}

/*
 * GET /admin/stock?country=IN&sku=CODE: per warehouse serving the country, plus the audit trail. available
 * is what customers in the country can buy, as checkout sees it: 0 when the SKU is not sold there
 * (sold_here false); the warehouses still show the units physically there.
 */
typedef struct get_stock_call {
    mer_call_t c;
    char sku[65], country[3];
    int64_t sku_id;
    bool sold;
} get_stock_call_t;

static int get_stock(mer_db_t *db, mer_call_t *c)
{
    get_stock_call_t *g = (get_stock_call_t *)c;
    const char *sku = g->sku, *country = g->country;
    int64_t sku_id = g->sku_id;
    bool sold = g->sold;
    json_t *whs = json_array(), *moves = json_array();
    int64_t avail = 0;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT w.code, w.state, s.on_hand, s.reserved, s.sold FROM stock s "
                                    "JOIN warehouse w ON w.id = s.warehouse_id JOIN warehouse_serves ws "
                                    "ON ws.warehouse_id = w.id WHERE s.sku_id = ? AND ws.country = ? ORDER BY w.id",
                                    "is", sku_id, country);
    while (mer_rows_next(rows)) {
        int64_t here = mer_rows_int(rows, 2) - mer_rows_int(rows, 3);
        avail += here; /* the same sum as mer_stock_available() */
        json_array_append_new(whs, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "warehouse", mer_rows_text(rows, 0), "state",
                                             mer_rows_text(rows, 1), "on_hand", (json_int_t)mer_rows_int(rows, 2),
                                             "reserved", (json_int_t)mer_rows_int(rows, 3), "available",
                                             (json_int_t)here, "sold", (json_int_t)mer_rows_int(rows, 4)));
    }
    int err = mer_rows_end(rows);
    rows = mer_db_query(db,
                        "SELECT w.code, m.d_on_hand, m.d_reserved, m.reason, m.order_id, m.actor, m.at "
                        "FROM stock_movement m JOIN warehouse w ON w.id = m.warehouse_id WHERE m.sku_id = ? "
                        "ORDER BY m.id DESC LIMIT 100",
                        "i", sku_id);
    while (mer_rows_next(rows)) {
        char ts[32];
        mer_format_utc_ms(mer_rows_int(rows, 6), ts);
        json_t *m = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "warehouse", mer_rows_text(rows, 0), "d_on_hand",
                              (json_int_t)mer_rows_int(rows, 1), "d_reserved", (json_int_t)mer_rows_int(rows, 2),
                              "reason", mer_rows_text(rows, 3), "actor", mer_rows_text(rows, 5), "at", ts);
        if (!mer_rows_null(rows, 4))
            json_object_set_new(m, "order_id", json_integer(mer_rows_int(rows, 4)));
        json_array_append_new(moves, m);
    }
    err = err ? err : mer_rows_end(rows);
    int64_t threshold = 0, low = 0;
    rows = mer_db_query(db,
                        "SELECT COALESCE((SELECT threshold FROM stock_threshold WHERE country = ?1 AND sku_id = ?2), "
                        "(SELECT threshold FROM stock_threshold WHERE country = ?1 AND sku_id = 0), 0), "
                        "EXISTS (SELECT 1 FROM stock_low WHERE country = ?1 AND sku_id = ?2)",
                        "si", country, sku_id);
    if (mer_rows_next(rows)) {
        threshold = mer_rows_int(rows, 0);
        low = mer_rows_int(rows, 1);
    }
    err = err ? err : mer_rows_end(rows);
    if (err) {
        json_decref(whs);
        json_decref(moves);
        return err;
    }
    json_t *out = json_pack("{s:s,s:s,s:b,s:I,s:I,s:b,s:o,s:o}", "sku", sku, "country", country, "sold_here", sold,
                            "available", (json_int_t)(sold ? avail : 0), "low_threshold", (json_int_t)threshold, "low",
                            low != 0, "warehouses", whs, "movements", moves);
    if (!sold)
        json_object_set_new(out, "warnings",
                            json_pack("[{s:s,s:s,s:s}]", "code", "not_sold_here", "sku", sku, "message",
                                      "not sold in this country: its units here cannot be bought"));
    c->result = out;
    return 0;
}

static void h_get_stock(mer_req_t *r)
{
    const char *country = mer_req_query(r, "country"), *sku = mer_req_query(r, "sku");
    if (country == NULL || sku == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, country ? "sku" : "country", "country and sku are required");
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "see stock");
    if (cc == NULL)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_code(cat, sku);
    int64_t sku_id = s ? s->id : 0;
    bool sold = sold_in(s, cc->code);
    mer_catalog_unlock();
    if (sku_id == 0) {
        mer_reply_error(r, MER_E_NOT_FOUND, "sku", "no SKU %s", sku);
        return;
    }
    get_stock_call_t *g = mer_call_new(r, sizeof(*g));
    snprintf(g->sku, sizeof(g->sku), "%s", sku);
    snprintf(g->country, sizeof(g->country), "%s", cc->code);
    g->sku_id = sku_id;
    g->sold = sold;
    mer_call_read(&g->c, cc->region, get_stock);
}

/*
 * GET /admin/warehouses?country=IN: the warehouses of the country's region that deliver to it or stand in
 * it, each with the countries it delivers to and a stock summary (SKUs stocked, units on hand, reserved,
 * available and sold), in the order checkout prefers them (by id; an order prefers the buyer's state first).
 */
typedef struct list_wh_call {
    mer_call_t c;
    char country[3];
} list_wh_call_t;

static int list_warehouses(mer_db_t *db, mer_call_t *c)
{
    list_wh_call_t *g = (list_wh_call_t *)c;
    json_t *out = json_array();
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT w.id, w.code, w.name, w.country, w.state, "
                     "(SELECT COUNT(*) FROM stock s WHERE s.warehouse_id = w.id AND s.on_hand > 0), "
                     "(SELECT COALESCE(SUM(s.on_hand), 0) FROM stock s WHERE s.warehouse_id = w.id), "
                     "(SELECT COALESCE(SUM(s.reserved), 0) FROM stock s WHERE s.warehouse_id = w.id), "
                     "(SELECT COALESCE(SUM(s.sold), 0) FROM stock s WHERE s.warehouse_id = w.id) "
                     "FROM warehouse w WHERE w.country = ?1 OR EXISTS (SELECT 1 FROM warehouse_serves ws WHERE "
                     "ws.warehouse_id = w.id AND ws.country = ?1) ORDER BY w.id",
                     "s", g->country);
    while (mer_rows_next(rows)) {
        int64_t on_hand = mer_rows_int(rows, 6), reserved = mer_rows_int(rows, 7);
        json_array_append_new(
            out,
            json_pack("{s:I,s:s,s:s,s:s,s:s,s:[],s:{s:I,s:I,s:I,s:I,s:I}}", "id", (json_int_t)mer_rows_int(rows, 0),
                      "code", mer_rows_text(rows, 1), "name", mer_rows_text(rows, 2), "country", mer_rows_text(rows, 3),
                      "state", mer_rows_text(rows, 4), "serves", "stock", "skus", (json_int_t)mer_rows_int(rows, 5),
                      "on_hand", (json_int_t)on_hand, "reserved", (json_int_t)reserved, "available",
                      (json_int_t)(on_hand - reserved), "sold", (json_int_t)mer_rows_int(rows, 8)));
    }
    int err = mer_rows_end(rows);
    size_t i;
    json_t *w;
    json_array_foreach(out, i, w)
    {
        if (err)
            break;
        json_t *serves = json_object_get(w, "serves");
        rows = mer_db_query(db, "SELECT country FROM warehouse_serves WHERE warehouse_id = ? ORDER BY country", "i",
                            (int64_t)json_integer_value(json_object_get(w, "id")));
        while (mer_rows_next(rows))
            json_array_append_new(serves, json_string(mer_rows_text(rows, 0)));
        err = mer_rows_end(rows);
    }
    if (err) {
        json_decref(out);
        return err;
    }
    c->result = json_pack("{s:s,s:o}", "country", g->country, "warehouses", out);
    return 0;
}

static void h_list_warehouses(mer_req_t *r)
{
    const char *country = mer_req_query(r, "country");
    if (country == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country is required");
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "see warehouses");
    if (cc == NULL)
        return;
    list_wh_call_t *g = mer_call_new(r, sizeof(*g));
    snprintf(g->country, sizeof(g->country), "%s", cc->code);
    mer_call_read(&g->c, cc->region, list_warehouses);
}

/* ---- bulk stock: export and import per region (the CSV and JSON forms of catalog/bulk.c) ----
 *
 * GET /admin/export/stock?country=CC[&format=csv|json]: the stock rows of the warehouses of CC's region that
 * sit in countries the caller manages: sku, warehouse, country (the warehouse's), on_hand, reserved,
 * available. POST /admin/import/stock?country=CC[&mode=all_or_nothing|partial][&dry_run=true]: rows of sku,
 * warehouse, on_hand (and optionally reason; the export's other columns are ignored) set on_hand exactly as
 * PUT /admin/stock does (the audit trail, stock.low, the stock state), all rows in one job of the writer of
 * CC's region. Stock lives per region, so one import is one region: a warehouse of another region is a
 * bad row (unknown_warehouse). All or nothing therefore means one transaction: the file is parsed and
 * checked off the loop (SKUs, numbers), then the job checks what only the region's database knows
 * (warehouses, units reserved) and, in all_or_nothing mode, rolls everything back at the first refusal and
 * answers the report; in partial mode each row has its own savepoint. dry_run runs the same checks on a
 * read connection and writes nothing.
 */
typedef struct stock_row {
    size_t row;
    int64_t sku_id;
    char sku[65], warehouse[65], reason[201];
    int64_t on_hand;
} stock_row_t;

typedef struct stock_bulk {
    mer_call_t c;
    char country[3];
    char region[MER_REGION_NAME_MAX];
    bool json, partial, dry_run;
    const char *body;
    size_t len;
    stock_row_t *rows;
    size_t n, cap, nread, nbad, last_bad, applied;
    json_t *errors;
} stock_bulk_t;

static void stock_bad(stock_bulk_t *b, size_t row, const char *column, const char *code, const char *msg)
{
    if (row != b->last_bad) {
        b->nbad++;
        b->last_bad = row;
    }
    if (json_array_size(b->errors) < 10000)
        json_array_append_new(b->errors, json_pack("{s:I,s:s?,s:s,s:s}", "row", (json_int_t)row, "column", column,
                                                   "code", code, "message", msg));
}

static void stock_check_row(stock_bulk_t *b, const mer_catalog_t *cat, size_t row, const char *sku, const char *wh,
                            const char *on_hand, const char *reason)
{
    size_t before = b->nbad;
    const mer_cat_sku_t *s = NULL;
    char *end = NULL;
    long long v = 0;
    b->nread++;
    if (sku == NULL || *sku == '\0')
        stock_bad(b, row, "sku", "missing_value", "sku is required");
    else if (strlen(sku) > 64 || (s = mer_catalog_sku_by_code(cat, sku)) == NULL)
        stock_bad(b, row, "sku", "unknown_sku", "no SKU with this code");
    if (wh == NULL || *wh == '\0' || strlen(wh) > 64)
        stock_bad(b, row, "warehouse", wh && *wh ? "invalid_value" : "missing_value",
                  "warehouse is a code of 1-64 bytes");
    if (on_hand == NULL || *on_hand == '\0')
        stock_bad(b, row, "on_hand", "missing_value", "on_hand is required");
    else if ((v = strtoll(on_hand, &end, 10)),
             *end != '\0' || v < 0 || v > 1000000000 || on_hand[0] == '+' || on_hand[0] == ' ')
        stock_bad(b, row, "on_hand", "invalid_value", "on_hand is an integer from 0 to 1000000000");
    if (reason && strlen(reason) > 200)
        stock_bad(b, row, "reason", "invalid_value", "reason is at most 200 bytes");
    if (b->nbad != before)
        return;
    MER_GROW(b->rows, b->n, b->cap, 256);
    stock_row_t *r = &b->rows[b->n++];
    *r = (stock_row_t){.row = row, .sku_id = s->id, .on_hand = v};
    snprintf(r->sku, sizeof(r->sku), "%s", sku);
    snprintf(r->warehouse, sizeof(r->warehouse), "%s", wh);
    snprintf(r->reason, sizeof(r->reason), "%s", reason && *reason ? reason : "bulk import");
}

static const char *const stock_cols[] = {"sku",     "warehouse", "on_hand",   "reason",
                                         "country", "reserved",  "available", NULL};

static int stock_parse(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    stock_bulk_t *b = (stock_bulk_t *)c;
    const mer_catalog_t *cat = mer_catalog_lock();
    int err = 0;
    if (b->json) {
        json_error_t jerr;
        json_t *arr = json_loadb(b->body, b->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_array(arr))
            err = mer_verr_set(&c->verr, arr ? MER_E_VALIDATION : MER_E_INVALID_JSON, "body",
                               "the body must be a JSON array of objects (%s)", arr ? "not an array" : jerr.text);
        size_t i;
        json_t *it;
        json_array_foreach(arr, i, it)
        {
            if (err)
                break;
            const char *v[7] = {0}, *k;
            char num[24];
            json_t *val;
            bool ok = json_is_object(it);
            json_object_foreach(it, k, val)
            {
                int col = -1;
                for (int j = 0; stock_cols[j]; j++)
                    if (strcmp(k, stock_cols[j]) == 0)
                        col = j;
                if (col < 0) {
                    stock_bad(b, i + 1, k, "unknown_column", "not a known member");
                    ok = false;
                } else if (json_is_string(val))
                    v[col] = json_string_value(val);
                else if (json_is_integer(val) && col == 2) {
                    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
                    v[col] = num;
                }
            }
            if (!json_is_object(it))
                stock_bad(b, i + 1, NULL, "invalid_value", "each item is an object");
            if (ok)
                stock_check_row(b, cat, i + 1, v[0], v[1], v[2], v[3]);
            else
                b->nread++;
        }
        json_decref(arr);
    } else {
        mer_csv_t rd;
        int col_of[MER_CSV_MAX_FIELDS];
        mer_csv_init(&rd, b->body, b->len);
        int rc = mer_csv_next(&rd);
        if (rc <= 0)
            err = mer_verr_set(&c->verr, MER_E_VALIDATION, "body", "%s",
                               rc == 0 ? "the file is empty: a header row is required" : rd.error);
        for (size_t i = 0; err == 0 && i < rd.nfields; i++) {
            col_of[i] = -1;
            for (int j = 0; stock_cols[j]; j++)
                if (strcmp(mer_csv_field(&rd, i), stock_cols[j]) == 0)
                    col_of[i] = j;
            if (col_of[i] < 0)
                err = mer_verr_set(&c->verr, MER_E_VALIDATION, "header",
                                   "column %zu of the header is not a known column", i + 1);
        }
        size_t ncols = rd.nfields;
        while (err == 0 && (rc = mer_csv_next(&rd)) == 1) {
            const char *v[7] = {0};
            if (rd.nfields != ncols) {
                b->nread++;
                stock_bad(b, rd.record, NULL, "wrong_field_count",
                          "this row has another number of fields than the header");
                continue;
            }
            for (size_t i = 0; i < ncols; i++)
                v[col_of[i]] = mer_csv_field(&rd, i);
            stock_check_row(b, cat, rd.record, v[0], v[1], v[2], v[3]);
        }
        if (err == 0 && rc < 0)
            err = mer_verr_set(&c->verr, MER_E_VALIDATION, "body", "line %zu: %s", rd.line, rd.error);
        mer_csv_free(&rd);
    }
    mer_catalog_unlock();
    return err;
}

static json_t *stock_report(stock_bulk_t *b)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:O}", "kind", "stock", "region", b->region, "mode",
                     b->partial ? "partial" : "all_or_nothing", "dry_run", b->dry_run, "rows", (json_int_t)b->nread,
                     "applied", (json_int_t)b->applied, "rejected", (json_int_t)b->nbad, "errors", b->errors);
}

/* In the region's writer job (or, for a dry run, on a read connection: check only). */
static int stock_apply(mer_db_t *db, mer_call_t *c)
{
    stock_bulk_t *b = (stock_bulk_t *)c;
    b->applied = 0;
    for (size_t i = 0; i < b->n; i++) {
        stock_row_t *r = &b->rows[i];
        if (b->dry_run) {
            int64_t wid = 0, reserved = 0;
            char wcountry[3] = "";
            mer_rows_t *q = mer_db_query(db, "SELECT id, country FROM warehouse WHERE code = ?", "s", r->warehouse);
            if (mer_rows_next(q)) {
                wid = mer_rows_int(q, 0);
                snprintf(wcountry, sizeof(wcountry), "%s", mer_rows_text(q, 1));
            }
            mer_rows_end(q);
            if (wid == 0)
                stock_bad(b, r->row, "warehouse", "unknown_warehouse", "no warehouse with this code in this region");
            else if (!mer_principal_may_country(&c->who, wcountry))
                stock_bad(b, r->row, "warehouse", "forbidden", "the warehouse is in a country you do not manage");
            else if (mer_db_query_int(db, &reserved, "SELECT reserved FROM stock WHERE sku_id = ? AND warehouse_id = ?",
                                      "ii", r->sku_id, wid) == 0 &&
                     r->on_hand < reserved)
                stock_bad(b, r->row, "on_hand", "conflict", "on_hand cannot go below the units reserved for orders");
            continue;
        }
        stock_job_t j = {0};
        j.c.who = c->who;
        j.sku_id = r->sku_id;
        j.value = r->on_hand;
        snprintf(j.warehouse, sizeof(j.warehouse), "%s", r->warehouse);
        snprintf(j.reason, sizeof(j.reason), "%s", r->reason);
        snprintf(j.sku_code, sizeof(j.sku_code), "%s", r->sku);
        if (b->partial && mer_db_savepoint(db) != 0)
            return MER_E_INTERNAL;
        int err = stock_run(db, &j.c);
        json_decref(j.c.result);
        if (err) {
            const char *code = strcmp(j.c.verr.field, "warehouse") == 0
                                   ? (j.c.verr.code == MER_E_FORBIDDEN ? "forbidden" : "unknown_warehouse")
                               : j.c.verr.code ? "conflict"
                                               : "internal_error";
            stock_bad(b, r->row,
                      j.c.verr.field[0] ? (strcmp(j.c.verr.field, "warehouse") == 0 ? "warehouse" : "on_hand") : NULL,
                      code, j.c.verr.code ? j.c.verr.message : mer_err_code(err));
            if (!b->partial) /* the job's savepoint undoes the rows written so far */
                return mer_verr_set(&c->verr, MER_E_VALIDATION, NULL, "row %zu: %s", r->row, j.c.verr.message);
            mer_db_rollback_to(db);
            continue;
        }
        if (b->partial && mer_db_release(db) != 0)
            return MER_E_INTERNAL;
        b->applied++;
    }
    return 0;
}

static void stock_applied_reply(mer_call_t *c)
{
    stock_bulk_t *b = (stock_bulk_t *)c;
    if (b->dry_run && b->nbad && !b->partial) {
        mer_reply_error_ex(c->r, MER_E_VALIDATION, NULL, stock_report(b), "%zu of %zu rows are not acceptable", b->nbad,
                           b->nread);
        return;
    }
    mer_reply_json(c->r, 200, stock_report(b));
}

static void stock_apply_error(mer_call_t *c)
{
    stock_bulk_t *b = (stock_bulk_t *)c;
    if (b->nbad == 0) {
        mer_reply_job_error(c->r, c->err, &c->verr);
        return;
    }
    b->applied = 0;
    mer_reply_error_ex(c->r, MER_E_VALIDATION, NULL, stock_report(b),
                       "%zu of %zu rows are not acceptable; nothing "
                       "was applied",
                       b->nbad, b->nread);
}

static void stock_parsed_reply(mer_call_t *c)
{
    stock_bulk_t *b = (stock_bulk_t *)c;
    if (b->nbad && !b->partial) {
        mer_reply_error_ex(c->r, MER_E_VALIDATION, NULL, stock_report(b),
                           "%zu of %zu rows are not acceptable; nothing was applied", b->nbad, b->nread);
        return;
    }
    c->reply = stock_applied_reply;
    c->reply_error = stock_apply_error;
    if (b->dry_run)
        mer_call_read(c, b->region, stock_apply);
    else
        mer_call_write(c, b->region, stock_apply);
}

static void stock_bulk_free(mer_call_t *c)
{
    stock_bulk_t *b = (stock_bulk_t *)c;
    free(b->rows);
    json_decref(b->errors);
}

static bool content_type_is(const mer_req_t *r, const char *want)
{
    size_t len = 0, n = strlen(want);
    const char *v = mer_req_header(r, "content-type", &len);
    return v && len >= n && strncasecmp(v, want, n) == 0 && (len == n || v[n] == ';' || v[n] == ' ');
}

/* POST /admin/import/stock?country=CC&mode=&dry_run= */
static void h_import_stock(mer_req_t *r)
{
    const char *mode = mer_req_query(r, "mode"), *dry = mer_req_query(r, "dry_run"),
               *country = mer_req_query(r, "country");
    if (country == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country names the region whose warehouses the file is for");
        return;
    }
    if (mode && strcmp(mode, "all_or_nothing") != 0 && strcmp(mode, "partial") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "mode", "mode is all_or_nothing or partial");
        return;
    }
    if (dry && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "dry_run", "dry_run is true or false");
        return;
    }
    bool json = content_type_is(r, "application/json");
    if (!json && !content_type_is(r, "text/csv")) {
        mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, "Content-Type", "send text/csv or application/json");
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "manage stock");
    if (cc == NULL)
        return;
    if (r->h2o->entity.base == NULL || r->h2o->entity.len == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "body", "the body is empty");
        return;
    }
    stock_bulk_t *b = mer_call_new(r, sizeof(*b));
    snprintf(b->country, sizeof(b->country), "%s", cc->code);
    snprintf(b->region, sizeof(b->region), "%s", cc->region);
    b->json = json;
    b->partial = mode && strcmp(mode, "partial") == 0;
    b->dry_run = dry && strcmp(dry, "true") == 0;
    b->body = r->h2o->entity.base;
    b->len = r->h2o->entity.len;
    b->errors = json_array();
    b->c.cleanup = stock_bulk_free;
    b->c.reply = stock_parsed_reply;
    mer_call_offload(&b->c, stock_parse);
}

/* The export, streamed (http/req.h: mer_call_stream): warehouse by warehouse in code order, each one's rows
 * in SKU id order after a cursor (the warehouse reached and the last SKU id sent), at most STOCK_CHUNK_ROWS
 * rows read per query: each chunk is one read job and one short query on the stock table's primary key,
 * whatever the number of rows. */
#define STOCK_CHUNK_ROWS 1000

typedef struct stock_wh {
    int64_t id;
    char code[65];
    char country[3];
} stock_wh_t;

typedef struct stock_export_call {
    mer_call_t c;
    char region[MER_REGION_NAME_MAX];
    bool json;
    stock_wh_t *whs; /* the region's warehouses the caller may see, by code (read with the first chunk) */
    size_t nwhs;
    size_t wh;       /* the cursor: warehouse whs[wh], */
    int64_t after;   /* its rows after this SKU id */
    bool begun, any; /* the header or '[' is out; a row is out (JSON commas) */
} stock_export_call_t;

static int stock_export_more(mer_db_t *db, mer_call_t *c, mer_buf_t *out, bool *done)
{
    stock_export_call_t *b = (stock_export_call_t *)c;
    if (!b->begun) {
        mer_rows_t *q = mer_db_query(db, "SELECT id, code, country FROM warehouse ORDER BY code", NULL);
        while (mer_rows_next(q)) {
            if (!mer_principal_may_country(&c->who, mer_rows_text(q, 2)))
                continue;
            b->whs = mer_xrealloc(b->whs, (b->nwhs + 1) * sizeof(*b->whs));
            stock_wh_t *w = &b->whs[b->nwhs++];
            w->id = mer_rows_int(q, 0);
            snprintf(w->code, sizeof(w->code), "%s", mer_rows_text(q, 1));
            snprintf(w->country, sizeof(w->country), "%s", mer_rows_text(q, 2));
        }
        int err = mer_rows_end(q);
        if (err)
            return err;
        if (b->json)
            mer_buf_addch(out, '[');
        else
            mer_buf_addstr(out, "sku,warehouse,country,on_hand,reserved,available\r\n");
        b->begun = true;
    }
    while (b->wh < b->nwhs && out->len < MER_STREAM_CHUNK) {
        const stock_wh_t *w = &b->whs[b->wh];
        size_t n = 0;
        mer_rows_t *q =
            mer_db_query(db,
                         "SELECT sku_id, on_hand, reserved FROM stock WHERE warehouse_id = ? AND sku_id > ? "
                         "ORDER BY sku_id LIMIT ?",
                         "iii", w->id, b->after, (int64_t)STOCK_CHUNK_ROWS);
        const mer_catalog_t *cat = mer_catalog_lock();
        bool full = false;
        while (!(full = out->len >= MER_STREAM_CHUNK) && mer_rows_next(q)) {
            n++;
            b->after = mer_rows_int(q, 0);
            const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, b->after);
            if (s == NULL)
                continue;
            int64_t on = mer_rows_int(q, 1), res = mer_rows_int(q, 2);
            if (b->json) {
                mer_buf_addstr(out, b->any ? ",{\"sku\":" : "{\"sku\":");
                mer_buf_add_json_str(out, s->code, strlen(s->code));
                mer_buf_addstr(out, ",\"warehouse\":");
                mer_buf_add_json_str(out, w->code, strlen(w->code));
                mer_buf_printf(out, ",\"country\":\"%s\",\"on_hand\":%lld,\"reserved\":%lld,\"available\":%lld}",
                               w->country, (long long)on, (long long)res, (long long)(on - res));
            } else {
                mer_csv_put(out, true, s->code, strlen(s->code));
                mer_csv_put(out, false, w->code, strlen(w->code));
                mer_buf_printf(out, ",%s,%lld,%lld,%lld", w->country, (long long)on, (long long)res,
                               (long long)(on - res));
                mer_csv_end(out);
            }
            b->any = true;
        }
        mer_catalog_unlock();
        int err = mer_rows_end(q);
        if (err)
            return err;
        if (!full && n < STOCK_CHUNK_ROWS) { /* this warehouse is done */
            b->wh++;
            b->after = 0;
        }
    }
    if (b->wh == b->nwhs) {
        if (b->json)
            mer_buf_addch(out, ']');
        *done = true;
    }
    return 0;
}

/* Before the first chunk: the headers of a download. */
static void stock_export_head(mer_call_t *c)
{
    stock_export_call_t *b = (stock_export_call_t *)c;
    char disp[64];
    snprintf(disp, sizeof(disp), "attachment; filename=\"stock-%s.%s\"", b->region, b->json ? "json" : "csv");
    mer_reply_header(c->r, "content-disposition", disp);
    mer_reply_header(c->r, "cache-control", "no-store");
}

static void stock_export_free(mer_call_t *c)
{
    free(((stock_export_call_t *)c)->whs);
}

/* GET /admin/export/stock?country=CC&format= */
static void h_export_stock(mer_req_t *r)
{
    const char *format = mer_req_query(r, "format"), *country = mer_req_query(r, "country");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "format", "format is csv or json");
        return;
    }
    if (country == NULL) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "country", "country names the region whose stock to export");
        return;
    }
    const mer_country_t *cc = mer_req_staff_country(r, country, "manage stock");
    if (cc == NULL)
        return;
    stock_export_call_t *b = mer_call_new(r, sizeof(*b));
    snprintf(b->region, sizeof(b->region), "%s", cc->region);
    b->json = format && strcmp(format, "json") == 0;
    b->c.cleanup = stock_export_free;
    b->c.reply = stock_export_head;
    mer_call_stream(&b->c, cc->region, b->json ? "application/json" : "text/csv; charset=utf-8", stock_export_more);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/admin/export/stock", h_export_stock, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/import/stock", h_import_stock, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/warehouses", h_list_warehouses, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/warehouses", h_create_warehouse, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"GET", "/api/v1/admin/stock", h_get_stock, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PUT", "/api/v1/admin/stock", h_set_stock, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/stock/adjust", h_adjust_stock, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"PUT", "/api/v1/admin/stock/threshold", h_set_threshold, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

static const mer_routes_t inventory_routes = {routes, MER_ARRAY_LEN(routes)};

/*
 * Another node's commit changed a SKU's availability (store/notify.h): its units are re-read here and its
 * product's epoch advances, in that order, as publish_stock does for this node's commits; after a reconnection
 * (arg NULL) the whole region is re-read and every epoch advances. On the listener's thread.
 */
static void stock_note(const char *region, const char *arg)
{
    if (region == NULL)
        return;
    int64_t sku_id = 0;
    if (arg && mer_parse_int64(arg, strlen(arg), 1, INT64_MAX, &sku_id) != 0)
        return;
    mer_db_t *db = mer_store_reader(region);
    int err = db ? avail_load(db, sku_id) : MER_E_UNAVAILABLE;
    if (err)
        mer_log_error("stock state of region %s not refreshed after another node's change: %s", region,
                      mer_err_code(err));
    if (sku_id == 0) {
        for (size_t i = 0; i < EPOCH_SLOTS; i++)
            atomic_fetch_add_explicit(&epochs[i], 1, memory_order_acq_rel);
        return;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_id(cat, sku_id);
    if (s)
        atomic_fetch_add_explicit(&epochs[(uint64_t)s->product->id % EPOCH_SLOTS], 1, memory_order_acq_rel);
    mer_catalog_unlock();
}

static int inventory_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    /* the stock state of every region served, before any loop asks for it */
    for (size_t i = 0; mer_store_region_at(i); i++) {
        const char *region = mer_store_region_at(i);
        mer_db_t *db = mer_store_write_begin(region);
        int err = db ? avail_load(db, 0) : MER_E_UNAVAILABLE;
        mer_store_write_end(region);
        if (err) {
            mer_log_error("cannot load the stock state of region %s", region);
            return err;
        }
    }
    mer_writer_on_commit(publish_stock);
    mer_notify_on("stock", stock_note);
    mer_notify_on("warehouse", warehouse_note);
    mer_catalog_set_stock_state(&stock_state);
    return 0;
}

static void inventory_release(void)
{
    mer_catalog_set_stock_state(NULL);
    pthread_rwlock_wrlock(&avail_lock);
    free(avail);
    avail = NULL;
    avail_cap = avail_n = 0;
    pthread_rwlock_unlock(&avail_lock);
}

const mer_module_t mer_inventory_module = {
    .name = "inventory",
    .init = inventory_init,
    .release = inventory_release,
    .routes = MER_MODULE_ROUTES(&inventory_routes),
};
