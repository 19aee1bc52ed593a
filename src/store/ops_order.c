/*
 * ops_order.c — the order domain's backend-specific SQL, SQLite's spelling (see ops_order.h).
 */
#include "store/ops_order.h"

#include "core/banned.h"

mer_rows_t *mer_store_order_taxes(mer_db_t *db, int64_t order_id)
{
    return mer_db_query(db, "SELECT kind, rate_bp, taxable, amount FROM order_tax WHERE order_id = ? ORDER BY rowid",
                        "i", order_id);
}
