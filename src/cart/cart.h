/*
 * cart.h — guest and customer carts.
 *
 * A guest cart is created by the first item a visitor adds; its id ("g_<region>_<random>") comes back in
 * the X-Cart-Id header and the body, and the client sends it back in X-Cart-Id. A customer has one cart
 * per country ("u_<user id>_<country>"). Logging in with X-Cart-Id merges the guest cart into the
 * customer's cart (quantities add up, capped at each SKU's purchase limit; lines that do not fit in the
 * customer's cart are dropped) and deletes it; the login answer says which lines were capped or dropped.
 *
 * Lines are (SKU, sale type): the same SKU bought at the flash-sale price is a separate line from the
 * same SKU at the normal price. Every read re-prices the cart for its country (current price list, tax,
 * shipping, stock) and flags lines whose price changed since they were added, that are no longer sold
 * in the country, or that are out of stock; those lines are left out of the totals.
 *
 * Layers: the service functions below (cart.c) take plain structs and the database connection they are to
 * use, and return 0 or a negative mer_err_t (with the failing field in a mer_verr_t); they know nothing of
 * HTTP. cart_http.c is the adapter: it works out which cart a request means, checks the SKU against the
 * catalogue, and runs the service in a call (http/req.h): changes as writer jobs, the view on the read
 * pool after the change's commit.
 */
#ifndef MER_CART_H
#define MER_CART_H

#include <jansson.h>

#include "core/json.h"
#include "core/locale.h"
#include "module.h"
#include "region/country.h"
#include "store/db.h"

#define MER_CART_MAX_LINES 50

typedef struct mer_cart_line {
    int64_t sku_id;
    char sale_type[8]; /* "normal" or "flash" */
    int64_t quantity;
    int64_t unit_price; /* when added */
    char flash_token[80];
} mer_cart_line_t;

/* Reads a cart's lines (at most max). Returns the count (>= 0) or a negative error. */
int mer_cart_lines(mer_db_t *db, const char *cart_id, mer_cart_line_t *out, size_t max);
/* Removes one line (after it was ordered). Writer thread. */
int mer_cart_remove_line(mer_db_t *db, const char *cart_id, int64_t sku_id, const char *sale_type);
/* The id of a customer's cart for a country. */
void mer_cart_user_id(int64_t user_id, const char *country, char out[64]);
/* What a merge did with each line of the guest cart that it did not simply add (see mer_cart_merge). */
typedef struct mer_cart_merge_note {
    int64_t sku_id;
    char sale_type[8];
    int64_t requested;  /* the guest cart's quantity */
    int64_t quantity;   /* what the customer's cart now holds (0: the line was dropped) */
    const char *reason; /* static: "cart_full" (dropped) or "quantity_capped" (kept, capped) */
} mer_cart_merge_note_t;

typedef struct mer_cart_merge {
    int merged; /* guest lines added to or combined with the customer's cart */
    int nnotes; /* entries of notes */
    mer_cart_merge_note_t notes[MER_CART_MAX_LINES];
} mer_cart_merge_t;

/*
 * Merges a guest cart into the user's cart for the guest cart's country and deletes the guest cart.
 * Quantities of the same line add up, capped at the SKU's purchase limit; a new line that does not fit in
 * the customer's cart (MER_CART_MAX_LINES) is dropped. Every capped or dropped line is noted in *out.
 * Returns 0, MER_E_NOT_FOUND (no such guest cart in db; nothing changed), or another negative error.
 * Writer thread.
 */
int mer_cart_merge(mer_db_t *db, const char *guest_cart_id, int64_t user_id, mer_cart_merge_t *out);
/*
 * The JSON report of a merge: {"merged": n, "dropped": [{"sku", "sale_type", "quantity", "reason"}],
 * "capped": [{"sku", "sale_type", "requested", "quantity", "reason"}]}. Caller owns the reference.
 */
json_t *mer_cart_merge_json(const mer_cart_merge_t *m);

/* A cart as the service addresses it. */
typedef struct mer_cart_ref {
    char id[64];                      /* "" for a guest cart not created yet */
    char region[MER_REGION_NAME_MAX]; /* whose database holds it */
    const mer_country_t *country;     /* the registry's (borrowed) */
    int64_t user_id;                  /* a customer's cart; 0 for a guest cart */
} mer_cart_ref_t;

/* The country of guest cart id (not one a customer owns). Returns 0, MER_E_NOT_FOUND, or another error. */
int mer_cart_guest_country(mer_db_t *db, const char *id, char country[3]);

typedef enum { MER_CART_ADD, MER_CART_SET, MER_CART_REMOVE } mer_cart_op_t;

/* One change to a cart's line (sku_id, sale_type). */
typedef struct mer_cart_change {
    mer_cart_op_t op;
    int64_t sku_id;
    char sale_type[8];  /* "normal" or "flash" */
    int64_t quantity;   /* added (ADD) or the new quantity (SET), 1 or more */
    int64_t unit_price; /* the SKU's price in the cart's country now (recorded with a new line) */
    int64_t limit;      /* the SKU's purchase limit: a line never holds more */
} mer_cart_change_t;

/*
 * Applies a change to cart c, creating the cart with its first line. Writer thread. Returns 0,
 * MER_E_NOT_FOUND (field "sku": SET or REMOVE of a line the cart does not have), MER_E_VALIDATION (field
 * "quantity": over the limit; "sku": the cart is full), or another negative error; e describes the failure.
 */
int mer_cart_apply(mer_db_t *db, const mer_cart_ref_t *c, const mer_cart_change_t *ch, mer_verr_t *e);

/*
 * The cart's view, re-priced now for its country: {id, country, currency, lang, tax_included, lines,
 * totals, warnings}, texts in the first language of chain the catalogue has. Reads the lines and stock
 * from db (not used for a cart not created yet). Returns a new reference, or NULL on a database error.
 */
json_t *mer_cart_view(mer_db_t *db, const mer_cart_ref_t *c, const mer_locale_chain_t *chain);

/* The cart module: GET /api/v1/cart and the /api/v1/cart/items routes. */
extern const mer_module_t mer_cart_module;

#endif
