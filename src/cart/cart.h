/*
 * cart.h — guest and customer carts.
 *
 * A guest cart is created by the first item a visitor adds; its id ("g_<region>_<random>") comes back in
 * the X-Cart-Id header and the body, and the client sends it back in X-Cart-Id. A customer has one cart
 * per country ("u_<user id>_<country>"). Logging in with X-Cart-Id merges the guest cart into the
 * customer's cart (quantities add up, capped at each SKU's purchase limit) and deletes it.
 *
 * Lines are (SKU, sale type): the same SKU bought at the flash-sale price is a separate line from the
 * same SKU at the normal price. Every read re-prices the cart for its country (current price list, tax,
 * shipping, stock) and flags lines whose price changed since they were added, that are no longer sold
 * in the country, or that are out of stock; those lines are left out of the totals.
 */
#ifndef MER_CART_H
#define MER_CART_H

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
/* Merges a guest cart into the user's cart for the guest cart's country. Writer thread. */
int mer_cart_merge(mer_db_t *db, const char *guest_cart_id, int64_t user_id);

void mer_cart_init(void);

#endif
