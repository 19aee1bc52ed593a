/*
 * order_events.h — what the order module does when events happen, and what it lends the payment module.
 *
 * mer_order_events_init (the order module's init, before the events module starts its dispatcher):
 *   - registers the order's built-in event subscribers (order_events.c): logistics (books a shipment
 *     when an order can ship) and notifications (the message the customer would get), both in-process;
 *   - hands the payment module the order operations it needs (mer_payment_order_ops_t): paying an order
 *     when its charge succeeded, following a confirmed refund, an order's number.
 */
#ifndef MER_ORDER_EVENTS_H
#define MER_ORDER_EVENTS_H

void mer_order_events_init(void);

#endif
