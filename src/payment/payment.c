/*
 * payment.c — the provider table, and what an order's payment rows add up to.
 *
 * An order's own money is its succeeded charges that are not duplicates, less the refunds of those
 * charges. A duplicate charge (duplicate_of set) is money a customer paid twice — a late success for an
 * old attempt of an order another charge had already paid — and is refunded in full without touching
 * the order's totals or payment status (the order module's charge_succeeded, mer_payment_order_ops_t).
 *
 * Payment does not include the order module: what it needs done to an order, the order module hands over
 * at its init (mer_payment_set_order_ops).
 */
#include <stdio.h>

#include "payment/payment_int.h"
#include "store/db.h"
#include "core/banned.h"

static const mer_payment_provider_t *const providers[] = {&mer_card_sim, &mer_wallet_sim};

const mer_payment_provider_t *mer_payment_provider(const char *method)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(providers); i++)
        if (strcmp(providers[i]->method, method) == 0)
            return providers[i];
    return NULL;
}

const char *mer_pay_status_name(mer_pay_status_t s)
{
    static const char *const names[] = {"succeeded", "declined", "error", "pending"};
    return (unsigned)s < MER_ARRAY_LEN(names) ? names[s] : "error";
}

static const mer_payment_order_ops_t *order_ops;

void mer_payment_set_order_ops(const mer_payment_order_ops_t *ops)
{
    order_ops = ops;
}

/* The order ops; a process that records payments without the order module is a wiring mistake. */
const mer_payment_order_ops_t *mer_payment_order_ops(void)
{
    if (order_ops == NULL)
        MER_BUG("no order operations given to the payment module (mer_payment_set_order_ops)");
    return order_ops;
}

int mer_payment_order_status(mer_db_t *db, int64_t order_id, char out[24])
{
    int64_t paid = 0, refunded = 0, pending = 0;
    /* a refund written before refunds named their charge (refund_of NULL) is the order's */
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT COALESCE(SUM(CASE WHEN p.kind = 'charge' AND p.status = 'succeeded' "
                                 "THEN p.amount END), 0), COALESCE(SUM(CASE WHEN p.kind = 'refund' THEN p.amount END), "
                                 "0), COUNT(CASE WHEN p.kind = 'refund' AND p.status = 'pending' THEN 1 END) "
                                 "FROM payment p LEFT JOIN payment c ON c.id = p.refund_of "
                                 "WHERE p.order_id = ? AND p.duplicate_of IS NULL AND c.duplicate_of IS NULL",
                                 "i", order_id);
    if (mer_rows_next(r)) {
        paid = mer_rows_int(r, 0);
        refunded = mer_rows_int(r, 1);
        pending = mer_rows_int(r, 2);
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    const char *s = pending            ? "refund_pending"
                    : paid == 0        ? "unpaid"
                    : !refunded        ? "paid"
                    : refunded >= paid ? "refunded"
                                       : "partially_refunded";
    snprintf(out, 24, "%s", s);
    return 0;
}

int mer_payment_refund_confirmed(mer_db_t *db, int64_t payment_id, const char *provider_ref)
{
    int rc = mer_db_exec(db,
                         "UPDATE payment SET status = 'succeeded', provider_ref = ? WHERE id = ? AND kind = 'refund' "
                         "AND status = 'pending'",
                         "si", provider_ref, payment_id);
    if (rc <= 0)
        return rc; /* an error, or already recorded */
    int64_t order_id = 0;
    bool own = false;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT p.order_id, c.duplicate_of IS NULL FROM payment p "
                                 "LEFT JOIN payment c ON c.id = p.refund_of WHERE p.id = ?",
                                 "i", payment_id);
    if (mer_rows_next(r)) {
        order_id = mer_rows_int(r, 0);
        own = mer_rows_int(r, 1) != 0;
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (!own)
        return 0; /* a duplicate charge went back: the order's own money is as it was */
    if ((err = mer_payment_order_ops()->refunded(db, order_id)) != 0)
        return err;
    return 1;
}
