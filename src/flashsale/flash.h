/*
 * flash.h — flash sales: a new phone at 12:00 local time, a million buyers in the same second, a few
 * hundred thousand units.
 *
 * An activity (sale) belongs to one country and has sessions; a session has SKUs at a flash price with
 * a number of units, a per-buyer limit, an optional reservation window, a token lifetime, whether cash
 * on delivery is allowed, and a mode:
 *   fcfs   grab answers at once: a purchase token, or why not;
 *   queue  grab answers 202 with a voucher; grabs are served strictly in arrival order by the processor;
 *   draw   grab records an entry; when the session ends a seeded, published, verifiable draw picks the
 *          winners (see processor.c).
 *
 * Guarantees:
 *   - No oversell: a unit is handed out only by an atomic decrement of the item's remaining count.
 *   - Nobody over the limit: per-buyer counts are checked and raised in one atomic step before stock is
 *     taken (and given back if no unit follows).
 *   - No lost win: a token is answered only after the row that records it committed (group commit);
 *     after a restart, remaining stock and per-buyer counts are rebuilt from those rows, so
 *     units = remaining + outstanding tokens + sold always holds.
 *   - Sold out is answered from memory, without touching storage.
 * A purchase token is single-use, for its buyer and SKU, and expires; an expired token, or the token of
 * a cancelled order, gives its unit back to the session (which leaves sold_out).
 *
 * Scaling out: stock, per-buyer counts and tokens live behind the functions in flash_int.h
 * (fs_take_unit / fs_return_unit, fs_count_*); with `serve --redis` (shared.c) an fcfs session's stock is
 * Redis's, each node selling from a batch allotment, and a win takes the buyer's counts and its unit in
 * one Lua script, so the guarantees above hold across every node on that Redis. Queue and draw entries
 * are numbered by one Redis counter and decided once from the region database; sales and reservations
 * reach every node by a note (store/notify.h) when their rows commit.
 */
#ifndef MER_FLASH_H
#define MER_FLASH_H

#include "core/buf.h"
#include "module.h"
#include "store/db.h"

/*
 * The flash-sale module (flash.c): init loads every local region's sales and starts the processor,
 * which stops with the producers of writes; the grab and admin routes; the grab, win and refusal counts
 * per session for /metrics.
 */
extern const mer_module_t mer_flash_module;

/*
 * serve --redis redis://HOST:PORT[/DB] (before init): the stock, buyer counts and sold-out state of fcfs
 * sessions are shared with every node on that Redis (shared.c); NULL or "": this node alone, in memory.
 * Returns 0, or -1 when the URL is malformed.
 */
int mer_flash_configure_redis(const char *url);

/* A flash purchase token as checkout sees it. */
typedef struct mer_flash_token {
    int64_t session_id, sku_id, price, expires_at;
    bool cod_allowed;
    char country[3];
} mer_flash_token_t;

/*
 * Checks a token for checkout: it must exist, belong to user_id, be unused and unexpired. Returns 0 and
 * fills *out, or MER_E_VALIDATION / MER_E_CONFLICT with a message in msg. db (the checkout's connection,
 * off the loops; may be NULL): a token another node issued is read from its row the first time.
 */
int mer_flash_token_check(mer_db_t *db, const char *token, int64_t user_id, mer_flash_token_t *out, char msg[128]);
/*
 * Whether the token's unit may be delivered to an address with this phone (len bytes): always, unless the
 * sale sells one unit per phone; then only to a phone the grab counted (the account's own or its default
 * address's, compared as mer_phone_hash does) or to an address without a phone. Otherwise one winning
 * phone could receive the units of several accounts. Call after mer_flash_token_check succeeded.
 */
bool mer_flash_token_phone_ok(const char *token, const char *phone, size_t len);
/* Writer thread, inside the checkout transaction: consumes the token for the order. */
int mer_flash_token_consume(mer_db_t *db, const char *token, int64_t user_id, int64_t order_id);
/* Writer thread, inside a transition that ends an unshipped order: its tokens' units go back. */
int mer_flash_order_closed(mer_db_t *db, int64_t order_id);
/* Writer thread, inside a refund before shipping: flash lines refunded in full give their units back. */
int mer_flash_lines_refunded(mer_db_t *db, int64_t order_id);
/* After the checkout committed (worker thread): marks the token used in memory. */
void mer_flash_token_used(const char *token);

#endif
