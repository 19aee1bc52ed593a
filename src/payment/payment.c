#include "payment/payment_int.h"

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
