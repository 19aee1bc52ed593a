/*
 * refund.h — giving money back.
 *
 * A refund is requested inside a writer transaction: a pending refund payment row, the order's
 * refunded_total raised, and a payment.refund_required event in the outbox — all in the same commit, so
 * a refund that was promised is never forgotten. The events dispatcher then calls the provider (with
 * the event id as idempotency key, so a retry never refunds twice) and records the outcome. Refunds
 * never exceed what was paid: refundable = succeeded charges - refunds already requested (+ the store credit spent
 * on the order and not yet given back: mer_refund_request_credit).
 * Cash-on-delivery money has no provider to call: such refunds are recorded as paid out at once.
 *
 * Per-line refunds (returns) refund whole units of order lines. The amount for units is cumulative per
 * line — floor(line_total x refunded_units / quantity) minus what was refunded before — so refunding
 * every unit, in any steps, returns exactly the line total.
 */
#ifndef MER_REFUND_H
#define MER_REFUND_H

#include "module.h"
#include "core/json.h"
#include "store/db.h"

/*
 * Requests a refund of `amount` (minor units; -1 = everything still refundable) on an order, from the
 * charge charge_id (0 = from the order's charges, most money left first; each refund row names the
 * charge it returns and the provider refunds against that charge). Writer thread. Returns the amount
 * requested (>= 0; 0 when nothing was paid), or a negative error (MER_E_VALIDATION when amount exceeds
 * what is refundable). Only the order's own money is refunded without a charge_id; a duplicate charge
 * (payment.h) is refunded only by naming it, and that refund leaves the order's refunded_total and
 * payment status as they are. The order's payment status is then mer_refund_settle_status's.
 */
int64_t mer_refund_request(mer_db_t *db, int64_t order_id, int64_t amount, const char *reason, int64_t charge_id);
/*
 * The same, for an order paid partly or wholly with store credit (checkout.h): card first. Of the order's own
 * money, what was paid by the method (card, wallet, on delivery) is refunded to it first; only the part of
 * `amount` beyond it goes back as store credit (a ledger row "order <number> refunded", at most the credit
 * spent on the order; orders.credit_refunded keeps count). -1 = everything left of both. *as_credit (may be
 * NULL) is set to the part given back as credit. The order's refunded_total counts both.
 */
int64_t mer_refund_request_credit(mer_db_t *db, int64_t order_id, int64_t amount, const char *reason, int64_t charge_id,
                                  int64_t *as_credit);

/*
 * Sets the order's payment_status (and updated_at) from its payments after a refund was requested or
 * confirmed. Writer thread. mer_payment_order_status's, except for an order paid partly or wholly with store
 * credit once anything went back: "refunded" only when its refunded_total reached the grand total (credit
 * included), else "partially_refunded" — a card refunded in full is then not the whole order. Returns 0 or
 * an error.
 */
int mer_refund_settle_status(mer_db_t *db, int64_t order_id);

/*
 * Marks `units` more units of order line line_no refunded (order_line.refunded_qty) and sets *amount to
 * their share of the line total, by the cumulative rule above. Writer thread. Returns 0, MER_E_VALIDATION
 * (no such line, or fewer units left to refund; *e set with `field`), or another error. The caller then
 * requests the money with mer_refund_request.
 */
int mer_refund_line_units(mer_db_t *db, int64_t order_id, int line_no, int64_t units, int64_t *amount,
                          const char *field, mer_verr_t *e);

/* After a refund was requested for an order: order.refund_requested, and order.refunded at once when
 * nothing waits for a provider (cash on delivery). Writer thread. */
int mer_refund_announce(mer_db_t *db, int64_t order_id);

/* Admin route POST /api/v1/admin/orders/{id}/refunds (a table of the order module). */
extern const mer_routes_t mer_refund_routes;

#endif
