#include "order/fsm.h"

#include "core/err.h"
#include "core/banned.h"

static const char *const status_names[MER_OS__COUNT] = {
    "pending_payment", "pending_shipment", "paid",     "shipped",           "delivered",
    "completed",       "cancelled",        "refunded", "partially_shipped",
};

static const char *const event_names[MER_OE__COUNT] = {
    "pay", "ship", "deliver", "complete", "cancel", "expire", "refund", "ship_part",
};

#define X (-1)
/* next[state][event]: the state reached, or X for illegal */
static const int next[MER_OS__COUNT][MER_OE__COUNT] = {
    /* pay, ship, deliver, complete, cancel, expire, refund, ship_part */
    [MER_OS_PENDING_PAYMENT] = {MER_OS_PAID, X, X, X, MER_OS_CANCELLED, MER_OS_CANCELLED, X, X},
    [MER_OS_PENDING_SHIPMENT] = {X, MER_OS_SHIPPED, X, X, MER_OS_CANCELLED, X, X, MER_OS_PARTIALLY_SHIPPED},
    [MER_OS_PAID] = {X, MER_OS_SHIPPED, X, X, MER_OS_REFUNDED, X, MER_OS_REFUNDED, MER_OS_PARTIALLY_SHIPPED},
    [MER_OS_SHIPPED] = {X, X, MER_OS_DELIVERED, X, X, X, X, X},
    [MER_OS_DELIVERED] = {X, X, X, MER_OS_COMPLETED, X, X, X, X},
    [MER_OS_COMPLETED] = {X, X, X, X, X, X, X, X},
    [MER_OS_CANCELLED] = {X, X, X, X, X, X, X, X},
    [MER_OS_REFUNDED] = {X, X, X, X, X, X, X, X},
    [MER_OS_PARTIALLY_SHIPPED] = {X, MER_OS_SHIPPED, X, X, X, X, X, MER_OS_PARTIALLY_SHIPPED},
};
#undef X

const char *mer_order_status_name(mer_order_status_t s)
{
    return (unsigned)s < MER_OS__COUNT ? status_names[s] : "unknown";
}

int mer_order_status_parse(const char *s, mer_order_status_t *out)
{
    for (int i = 0; i < MER_OS__COUNT; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (mer_order_status_t)i;
            return 0;
        }
    }
    return -1;
}

const char *mer_order_event_name(mer_order_event_t e)
{
    return (unsigned)e < MER_OE__COUNT ? event_names[e] : "unknown";
}

int mer_order_transition(mer_order_status_t from, mer_order_event_t ev, mer_order_status_t *to)
{
    if ((unsigned)from >= MER_OS__COUNT || (unsigned)ev >= MER_OE__COUNT || next[from][ev] < 0)
        return MER_E_CONFLICT;
    *to = (mer_order_status_t)next[from][ev];
    return 0;
}

bool mer_order_releases_stock(mer_order_status_t from, mer_order_event_t ev)
{
    mer_order_status_t to;
    if (mer_order_transition(from, ev, &to) != 0)
        return false;
    /* unshipped orders that end give their reservation back */
    return (to == MER_OS_CANCELLED || to == MER_OS_REFUNDED) && from != MER_OS_SHIPPED && from != MER_OS_DELIVERED &&
           from != MER_OS_PARTIALLY_SHIPPED;
}
