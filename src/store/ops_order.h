/*
 * ops_order.h — named storage operations of the order domain whose SQL is backend-specific.
 *
 * Domain files keep to portable SQL; what a backend spells its own way lives here, one function per
 * operation, so that a PostgreSQL store implements the same names (issue 9, item 1).
 */
#ifndef MER_OPS_ORDER_H
#define MER_OPS_ORDER_H

#include "store/db.h"

/*
 * The rows of order_id's tax breakdown in the order they were written (the invoice's order): columns
 * kind, rate_bp, taxable, amount. SQLite keeps that order in the table's rowid; a backend without one
 * needs an ordering column. The caller reads them and ends with mer_rows_end().
 */
mer_rows_t *mer_store_order_taxes(mer_db_t *db, int64_t order_id);

#endif
