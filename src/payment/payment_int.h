/*
 * payment_int.h — what the payment module's files share and nobody else needs: the simulated providers
 * that payment.c lists, and the simulated refund both of them use.
 */
#ifndef MER_PAYMENT_INT_H
#define MER_PAYMENT_INT_H

#include "payment/payment.h"

extern const mer_payment_provider_t mer_card_sim;   /* card_sim.c */
extern const mer_payment_provider_t mer_wallet_sim; /* wallet.c */

/* The simulated acquirer's refund: succeeds, its reference derived from idem_key (card_sim.c). */
void mer_sim_refund(const char *charge_ref, int64_t amount, const char *currency, const char *idem_key,
                    mer_pay_result_t *out);

/* The order module's operations (payment.c); a bug when none were given. */
const mer_payment_order_ops_t *mer_payment_order_ops(void);
/* Registers the payments event subscriber (payment_events.c); the module's init. */
void mer_payment_events_register(void);

#endif
