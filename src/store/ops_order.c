/*
 * ops_order.c — the order domain's backend-specific SQL (see ops_order.h): an order's tax rows in the
 * order they were written. SQLite has the rowid; PostgreSQL the rows' physical position (ctid), which is
 * their insertion order here because tax rows are written once, in one transaction, and never updated.
 */
#include "store/ops_order.h"

#include <string.h>

#include "core/banned.h"

mer_rows_t *mer_store_order_taxes(mer_db_t *db, int64_t order_id)
{
    if (strcmp(mer_db_backend_name(db), "postgresql") == 0)
        return mer_db_query(db, "SELECT kind, rate_bp, taxable, amount FROM order_tax WHERE order_id = ? ORDER BY ctid",
                            "i", order_id);
    return mer_db_query(db, "SELECT kind, rate_bp, taxable, amount FROM order_tax WHERE order_id = ? ORDER BY rowid",
                        "i", order_id);
}
