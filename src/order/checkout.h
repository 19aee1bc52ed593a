/*
 * checkout.h — the checkout service: one order placed from plain structs, without HTTP.
 *
 * The adapter (checkout_http.c, POST /api/v1/orders) reads the body into a mer_checkout_t on its loop
 * (mer_checkout_input_*: what needs only the body), does there what needs no database
 * (mer_checkout_prepare: an inline address checked against the country's rules, the body's lines resolved
 * and priced from the catalogue snapshot) and submits one writer job; mer_checkout_place() then does
 * everything else inside that job's savepoint, in the order the API documents its refusals (a refusal
 * found on the loop is kept and reported in its turn, so that, e.g., a retry still replays its order):
 *
 *   1. the Idempotency-Key: a key seen for this very body replays the order it made (co->replay, the
 *      order loaded into co->view), for another body it is refused; a retry so gets its first answer even
 *      though the cart, stock, prices or the flash token have changed since. A key not seen is claimed with
 *      the order (step 4): a request that lost it meanwhile to one with the same key (on another node: the
 *      look-up cannot see an uncommitted order) undoes its work and answers the same way;
 *   2. the customer's country and payment method, the delivery address (stored or inline) against the
 *      country's rules, the flash-sale token, the lines (the body's, or the cart's normal lines), each
 *      resolved against the catalogue snapshot (price, limit, name in the answer's language);
 *   3. the amounts (nothing beyond MER_MONEY_MAX), then the coupon (live, method, minimum, scope) spread
 *      over the lines;
 *   4. stock reserved from one warehouse, or the fewest that together can (one shipment each: shipment.h;
 *      the reservation goes to the database with the order number's statement, and its outcome is read
 *      after it, so a refused job has taken a number that its savepoint gives back), the order priced (India's
 * intra-state split needs the warehouse), expected_total and the method's ceiling checked, then the order, its lines,
 * taxes, first event, Idempotency-Key, the coupon's frozen redemption, the flash token's consumption, the wallet's
 *      pending charge and the order.created event are written, and the ordered lines leave the cart;
 *   5. the store credit asked for (store_credit), after the coupon and tax: min(asked, grand total), or
 *      min(balance, grand total) for "max"; more than the balance is refused (field store_credit). It is spent
 *      in the same job (a negative ledger row "order <number>", returns.h: mer_store_credit_add, whose guarded
 *      update keeps the balance >= 0 with two writers too). The amount due (by card, wallet or on delivery) is
 *      grand total - credit; an order the credit pays in full is paid at once (no payment step).
 *
 * All reads run on the writer's connection inside the same transaction as the writes: the cart lines
 * removed and the coupon frozen are the ones read, with no second check, and a checkout costs one
 * thread hop (loop → writer → loop). An error rolls the savepoint back: nothing of the order remains.
 *
 * On a database server (store.h: mer_store_remote) the stored delivery address is read before the job, on the
 * read pool (mer_checkout_read), so that the writer's transaction does not wait for that round trip; the job
 * reports its refusal in its turn. On a file the job reads it: a read there costs less than the extra hop.
 *
 * What was prepared on the loop is used only if nothing it depends on changed before the job ran: the
 * country snapshot (mer_countries(), never freed, so the same pointer is the same data) and the catalogue's
 * generation (read before the snapshot, so a snapshot swapped in meanwhile has a later one); else the job
 * resolves and prices again, so a price changed in between is the order's price (and expected_total sees
 * it). The writer only writes: the answer of a new order is made after the commit, by mer_checkout_view()
 * on the adapter's loop, from what the job kept (nothing is read back).
 */
#ifndef MER_CHECKOUT_H
#define MER_CHECKOUT_H

#include "account/account.h"
#include "core/json.h"
#include "inventory/inventory.h"
#include "order/checkout_input.h"
#include "order/coupon.h"
#include "order/order.h"
#include "region/country.h"
#include "core/locale.h"
#include "store/store.h"

typedef struct mer_checkout_line {
    bool flash; /* bought with a flash-sale token at the flash price */
    int64_t sku_id, product_id, quantity, unit_price, discount;
    int rate_bp;
    char code[65];
    char name[801]; /* up to 200 characters */
} mer_checkout_line_t;

typedef struct mer_checkout {
    /* ---- in (the adapter fills these; strings are copies) ---- */
    int64_t user_id;
    char country[3];                  /* the customer's country */
    char region[MER_REGION_NAME_MAX]; /* the customer's home region: the store written */
    char lang[MER_LOCALE_MAX];        /* the answer's language asked for (?lang=), "" = the country's */
    char payment_method[16];
    int64_t address_id;  /* 0: the default address (unless inline_address) */
    bool inline_address; /* address holds the body's inline address (country not yet set) */
    mer_address_t address;
    mer_verr_t address_err;           /* the inline address did not parse (reported in its turn) */
    bool lines_given;                 /* want[] holds the body's lines; else the cart's are ordered */
    size_t nwant;                     /* entries of want[] (below) */
    mer_verr_t lines_err;             /* the body's lines did not parse (reported in its turn) */
    char coupon_code[33];             /* "" = none */
    char flash_token[48];             /* "" = none */
    int64_t expected_total;           /* -1 = not given (compared with the grand total, before credit) */
    int64_t store_credit;             /* the store credit asked for: 0 = none, -1 = "max" */
    char idem_key[101], req_hash[65]; /* "" = no Idempotency-Key; req_hash: the body's canonical hash */

    /* ---- out ---- */
    bool replay;           /* the key's first order: view holds it as it is now */
    int64_t order_id;      /* the order placed (or replayed); 0 until then */
    int64_t credit;        /* the store credit applied (spent) */
    const char *reason;    /* with a coupon's refusal: its reason for the client (static) */
    mer_order_view_t view; /* the order's answer (owned: mer_checkout_release) */

    /* ---- private: working state of mer_checkout_place ---- */
    const mer_country_t *c;
    char state[8];
    char cart_id[64];
    bool from_cart, has_coupon;
    mer_coupon_t coupon;
    char intent[64], redirect_url[512];
    size_t n; /* entries of lines[] and pl[] (below) */
    /* prepared on the loop (mer_checkout_prepare); used if prep_countries and prep_catalog are still current */
    const mer_countries_t *prep_countries; /* the country snapshot it used; NULL: nothing prepared */
    uint64_t prep_catalog;                 /* mer_catalog_generation() before the lines were resolved */
    bool prep_address;                     /* prep_address_err is the inline address's check */
    bool prep_lines;                       /* lines, n, pl, pr (prep_cl with a coupon): the body's lines priced */
    bool prep_stored;    /* address: the stored address, read before the job (mer_checkout_read), prep_stored_err */
    int prep_stored_err; /* ... its lookup's result: 0, or MER_E_NOT_FOUND (none, or not the customer's) */
    mer_verr_t prep_address_err, prep_lines_err; /* their refusals, reported in their turn (code 0: none) */
    char *address_json;                          /* the delivery address as stored (owned, then the view's) */
    mer_stock_hold_t hold;                       /* the reservation while it is under way (inventory.h) */
    bool idem_sent;                              /* the Idempotency-Key's claim was queued: idem_claim ... */
    mer_db_later_t idem_claim;                   /* ... its outcome (changed 0: another request's key) */
    int64_t warehouse_id, created_at, expires_at;
    char warehouse_code[65], number[MER_ORDER_NUMBER_MAX];
    const char *status;
    mer_price_result_t pr;

    /* ---- last, what mer_checkout_init leaves as it is (~70 KB of 78: zeroing it cost more CPU per order
     * than the adapter's own work). Per line: an entry is set whole when its line is added, and only
     * entries below the counts are read. ---- */
    mer_checkout_want_t want[MER_ORDER_MAX_LINES];  /* in: [0, nwant) */
    mer_checkout_line_t lines[MER_ORDER_MAX_LINES]; /* [0, n) */
    mer_pline_t pl[MER_ORDER_MAX_LINES];            /* [0, n) once priced */
    mer_coupon_line_t prep_cl[MER_ORDER_MAX_LINES]; /* [0, n): the lines as a coupon sees them (with a coupon) */
    /* set whole by mer_stock_reserve and mer_shipments_create before anything reads them */
    mer_stock_plan_t plan; /* the warehouses the units come from: one shipment each (shipment.h) */
    int64_t shipment_ids[MER_ALLOC_MAX_WAREHOUSES]; /* the shipments written, in plan order */
} mer_checkout_t;

/* A checkout with nothing asked yet: expected_total -1, everything zero but the per-line arrays (whose
 * entries the adapter and the service set as lines are added). (The adapter then fills the "in" part.) */
void mer_checkout_init(mer_checkout_t *co);
/* Once the "in" part is filled, before the job (any thread, no database): what needs none (see above).
 * Optional: mer_checkout_place does whatever was not prepared. */
void mer_checkout_prepare(mer_checkout_t *co);
/*
 * Before the job, with a read connection of the customer's region (the read pool), when the order goes to a
 * stored address (no inline one): reads it (address_id's, else the default) so that the job need not (the
 * order keeps a copy of the address as it was read, so reading it a moment earlier changes nothing the
 * customer sees). Optional: without it, or after a database error here, mer_checkout_place reads it. Returns 0.
 */
int mer_checkout_read(mer_db_t *db, mer_checkout_t *co);
/*
 * Places the order (writer thread, inside the job's savepoint; see above). Returns 0 (co->order_id is the
 * order; co->replay when it was an earlier one, which co->view then describes), or a negative error, with
 * the failing field and message in *e when the client can act on it (and co->reason for a coupon).
 */
int mer_checkout_place(mer_db_t *db, mer_checkout_t *co, mer_verr_t *e);
/* After mer_checkout_place returned 0 (any thread; the adapter's loop, after the commit): fills co->view
 * with the new order, without reading. Does nothing for a replay, whose view the job loaded. */
void mer_checkout_view(mer_checkout_t *co);
/* After the transaction that placed co committed (any thread): the flash token becomes used in memory. */
void mer_checkout_committed(mer_checkout_t *co);
/* Frees what co owns (its view). */
void mer_checkout_release(mer_checkout_t *co);

#endif
