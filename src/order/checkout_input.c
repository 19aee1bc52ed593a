/*
 * checkout_input.c — reading a checkout body (see checkout_input.h).
 *
 * Moved out of checkout.c's handler so that it can be fuzzed without HTTP, a customer or a database; the
 * checks, their order and their messages are those the handler had.
 */
#include "order/checkout_input.h"

#include <stdio.h>

#include "core/money.h"

#include "core/banned.h"

int mer_checkout_input_read(json_t *body, mer_checkout_in_t *in, mer_verr_t *e)
{
    static const char *const keys[] = {"address_id", "address",     "payment_method", "lines", "expected_total",
                                       "coupon",     "flash_token", "store_credit",   NULL};
    memset(in, 0, sizeof(*in));
    in->expected_total = -1;
    if (mer_json_only(body, keys, "", e) ||
        mer_json_int(body, "address_id", "address_id", 1, INT64_C(1) << 53, false, &in->address_id, e) ||
        mer_json_member(body, "address", "address", JSON_OBJECT, false, &in->address, e) ||
        mer_json_str(body, "payment_method", "payment_method", 1, 15, true, &in->payment_method, e) ||
        mer_json_member(body, "lines", "lines", JSON_ARRAY, false, &in->lines, e) ||
        mer_json_int(body, "expected_total", "expected_total", 0, INT64_C(1) << 52, false, &in->expected_total, e) ||
        mer_json_str(body, "coupon", "coupon", 1, 32, false, &in->coupon, e) ||
        mer_json_str(body, "flash_token", "flash_token", 1, 47, false, &in->flash_token, e))
        return e->code;
    /* store_credit: an amount of minor units to apply, or "max" (as much as the balance and the total allow) */
    json_t *credit = json_object_get(body, "store_credit");
    if (json_is_string(credit) && strcmp(json_string_value(credit), "max") == 0)
        in->store_credit = -1;
    else if (credit && !json_is_integer(credit))
        return mer_verr_set(e, MER_E_VALIDATION, "store_credit",
                            "store_credit is an amount in minor units (an integer > 0) or \"max\"");
    else if (mer_json_int(body, "store_credit", "store_credit", 1, MER_MONEY_MAX, false, &in->store_credit, e))
        return e->code;
    return 0;
}

int mer_checkout_input_address(json_t *address, mer_address_t *out, mer_verr_t *e)
{
    static const char *const akeys[] = {"name", "line1", "line2", "city", "state", "postal_code", "phone", NULL};
    char *dst[7] = {out->name, out->line1, out->line2, out->city, out->state, out->postal_code, out->phone};
    if (mer_json_only(address, akeys, "address", e))
        return e->code;
    for (int i = 0; i < 7; i++) {
        char field[40];
        const char *f = NULL;
        if (mer_json_str(address, akeys[i], mer_json_path(field, sizeof(field), "address", akeys[i]), 0, 200, false, &f,
                         e))
            return e->code;
        mer_strcopy(dst[i], sizeof(out->name), f ? f : "");
    }
    return 0;
}

int mer_checkout_input_lines(json_t *lines, size_t taken, size_t max, mer_checkout_want_t *want, size_t *n,
                             mer_verr_t *e)
{
    size_t i;
    json_t *v;
    *n = 0;
    if (json_array_size(lines) == 0 || json_array_size(lines) + taken > max)
        return mer_verr_set(e, MER_E_VALIDATION, "lines", "an order has 1 to %zu lines", max);
    json_array_foreach(lines, i, v)
    {
        static const char *const keys[] = {"sku", "quantity", NULL};
        char prefix[32], field[64];
        const char *code = NULL;
        int64_t q = 1;
        snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
        if (!json_is_object(v) || mer_json_only(v, keys, prefix, e) ||
            mer_json_str(v, "sku", mer_json_path(field, sizeof(field), prefix, "sku"), 1, 64, true, &code, e) ||
            mer_json_int(v, "quantity", mer_json_path(field, sizeof(field), prefix, "quantity"), 1, 1000, false, &q,
                         e)) {
            if (!e->code)
                mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object {sku, quantity}", prefix);
            return e->code;
        }
        want[*n].sku_id = 0;
        mer_strcopy(want[*n].code, sizeof(want[*n].code), code);
        want[(*n)++].quantity = q;
    }
    return 0;
}
