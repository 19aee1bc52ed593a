/*
 * fsm.h — the order state machine.
 *
 *   prepaid (card, wallet):
 *       pending_payment --pay--> paid --ship--> shipped --deliver--> delivered --complete--> completed
 *       paid --ship_part--> partially_shipped --ship--> shipped        (split shipments: shipment.h)
 *       pending_payment --cancel | expire--> cancelled            (reserved stock is released)
 *       paid --cancel | refund--> refunded                        (before shipping; money returned)
 *   cash on delivery:
 *       pending_shipment --ship--> shipped --deliver--> delivered (paid on delivery) --complete--> completed
 *       pending_shipment --ship_part--> partially_shipped --ship--> shipped
 *       pending_shipment --cancel--> cancelled                     (reserved stock is released)
 *
 * ship_part is one shipment of several leaving its warehouse (partially_shipped --ship_part--> itself for
 * the next ones), ship the last one (or all at once); a partially shipped order can no longer be cancelled.
 * Any other (state, event) pair is illegal: the caller answers 409 conflict with the current state.
 * Stock follows the machine: reserve at checkout, release on cancel/expire/refund-before-ship, consume on
 * ship.
 */
#ifndef MER_FSM_H
#define MER_FSM_H

#include "core/common.h"

typedef enum {
    MER_OS_PENDING_PAYMENT = 0,
    MER_OS_PENDING_SHIPMENT,
    MER_OS_PAID,
    MER_OS_SHIPPED,
    MER_OS_DELIVERED,
    MER_OS_COMPLETED,
    MER_OS_CANCELLED,
    MER_OS_REFUNDED,
    MER_OS_PARTIALLY_SHIPPED,
    MER_OS__COUNT
} mer_order_status_t;

typedef enum {
    MER_OE_PAY = 0,
    MER_OE_SHIP,
    MER_OE_DELIVER,
    MER_OE_COMPLETE,
    MER_OE_CANCEL,
    MER_OE_EXPIRE,
    MER_OE_REFUND,
    MER_OE_SHIP_PART,
    MER_OE__COUNT
} mer_order_event_t;

const char *mer_order_status_name(mer_order_status_t s);
int mer_order_status_parse(const char *s, mer_order_status_t *out);
const char *mer_order_event_name(mer_order_event_t e);

/* Returns 0 and sets *to, or MER_E_CONFLICT if ev is not allowed in from. */
int mer_order_transition(mer_order_status_t from, mer_order_event_t ev, mer_order_status_t *to);

/* Does leaving `from` through `ev` give reserved stock back (true) / consume it (ship)? */
bool mer_order_releases_stock(mer_order_status_t from, mer_order_event_t ev);

#endif
