/*
 * coupon_input.c — validating a new coupon (see coupon_input.h).
 *
 * Moved out of coupon.c's POST handler (which now finds the country, checks the caller's right to it and
 * answers the error) so that it can be fuzzed without HTTP, a database or a catalogue. The checks, their
 * order and their messages are those the handler had.
 */
#include "order/coupon_input.h"

#include <ctype.h>
#include <stdio.h>

#include "core/tz.h"
#include "core/banned.h"

const char *const mer_coupon_kind_names[3] = {"threshold_amount", "percent", "fixed_amount"};
const char *const mer_coupon_scope_names[4] = {"store", "category", "product", "sku"};

int mer_coupon_input_read(json_t *body, mer_coupon_input_t *in, mer_verr_t *e)
{
    static const char *const keys[] = {
        "code",       "country",     "kind",   "value",           "min_subtotal",   "max_discount",    "scope",
        "valid_from", "valid_until", "budget", "max_redemptions", "per_user_limit", "payment_methods", NULL};
    mer_coupon_t *c = &in->c;
    memset(in, 0, sizeof(*in));
    c->per_user_limit = 1;
    if (mer_json_only(body, keys, "", e) || mer_json_str(body, "code", "code", 3, 32, true, &in->code, e) ||
        mer_json_str(body, "country", "country", 2, 2, true, &in->country, e) ||
        mer_json_str(body, "kind", "kind", 1, 20, true, &in->kind, e) ||
        mer_json_int(body, "value", "value", 1, MER_MONEY_MAX, true, &c->value, e) ||
        mer_json_int(body, "min_subtotal", "min_subtotal", 0, MER_MONEY_MAX, false, &c->min_subtotal, e) ||
        mer_json_int(body, "max_discount", "max_discount", 0, MER_MONEY_MAX, false, &c->max_discount, e) ||
        mer_json_member(body, "scope", "scope", JSON_OBJECT, false, &in->scope, e) ||
        mer_json_str(body, "valid_from", "valid_from", 16, 30, true, &in->valid_from, e) ||
        mer_json_str(body, "valid_until", "valid_until", 16, 30, true, &in->valid_until, e) ||
        mer_json_int(body, "budget", "budget", 0, MER_MONEY_MAX, false, &c->budget, e) ||
        mer_json_int(body, "max_redemptions", "max_redemptions", 0, 100000000, false, &c->max_redemptions, e) ||
        mer_json_int(body, "per_user_limit", "per_user_limit", 0, 1000, false, &c->per_user_limit, e) ||
        mer_json_member(body, "payment_methods", "payment_methods", JSON_ARRAY, false, &in->payment_methods, e))
        return e->code;
    return 0;
}

static int parse_time(const char *field, const char *text, const mer_country_t *c, int64_t *out, mer_verr_t *e)
{
    if (mer_tz_parse_local(text, c->timezone, out) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, field,
                            "%s is a local time in %s like 2026-12-01T00:00 (or with Z / an offset)", field,
                            c->timezone);
    return 0;
}

/* Reads scope {type, values} and resolves the values to ids. */
static int check_scope(json_t *scope, mer_coupon_t *c, mer_coupon_scope_fn resolve, void *ctx, mer_verr_t *e)
{
    static const char *const keys[] = {"type", "values", NULL};
    const char *type = "store";
    json_t *values = NULL;
    if (mer_json_only(scope, keys, "scope", e) || mer_json_str(scope, "type", "scope.type", 1, 16, false, &type, e) ||
        mer_json_member(scope, "values", "scope.values", JSON_ARRAY, false, &values, e))
        return e->code;
    bool known = false;
    for (int k = 0; k < 4; k++)
        if (strcmp(type, mer_coupon_scope_names[k]) == 0) {
            c->scope = (mer_coupon_scope_t)k;
            known = true;
        }
    if (!known)
        return mer_verr_set(e, MER_E_VALIDATION, "scope.type", "scope.type is store, category, product or sku");
    if (c->scope == MER_SCOPE_STORE)
        return 0;
    if (json_array_size(values) == 0 || json_array_size(values) > MER_COUPON_MAX_SCOPE)
        return mer_verr_set(e, MER_E_VALIDATION, "scope.values", "list 1 to %d values", MER_COUPON_MAX_SCOPE);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        int64_t id = resolve(ctx, c->scope, v);
        if (id == 0)
            return mer_verr_set(e, MER_E_VALIDATION, "scope.values", "scope.values[%zu] names no %s", i, type);
        c->scope_ids[c->nscope++] = id;
    }
    return 0;
}

int mer_coupon_input_check(mer_coupon_input_t *in, const mer_country_t *ct, mer_coupon_scope_fn resolve, void *ctx,
                           mer_verr_t *e)
{
    mer_coupon_t *c = &in->c;
    const char *code = in->code;
    snprintf(c->country, sizeof(c->country), "%s", ct->code);
    for (size_t i = 0; code[i]; i++) {
        if (!isalnum((unsigned char)code[i]) && code[i] != '-' && code[i] != '_')
            return mer_verr_set(e, MER_E_VALIDATION, "code", "coupon codes are letters, digits, '-' and '_'");
        c->code[i] = (char)toupper((unsigned char)code[i]);
    }
    bool known = false;
    for (int k = 0; k < 3; k++)
        if (strcmp(in->kind, mer_coupon_kind_names[k]) == 0) {
            c->kind = (mer_coupon_kind_t)k;
            known = true;
        }
    if (!known)
        return mer_verr_set(e, MER_E_VALIDATION, "kind", "kind is threshold_amount, percent or fixed_amount");
    if (c->kind == MER_COUPON_PERCENT && c->value > 10000)
        return mer_verr_set(e, MER_E_VALIDATION, "value", "a percent coupon's value is basis points, at most 10000");
    if (c->kind != MER_COUPON_PERCENT && c->value % ct->step != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "value", "value must be a multiple of %lld minor units",
                            (long long)ct->step);
    if (parse_time("valid_from", in->valid_from, ct, &c->valid_from, e) != 0 ||
        parse_time("valid_until", in->valid_until, ct, &c->valid_until, e) != 0)
        return e->code;
    if (c->valid_until <= c->valid_from)
        return mer_verr_set(e, MER_E_VALIDATION, "valid_until", "valid_until must be after valid_from");
    if (in->scope && check_scope(in->scope, c, resolve, ctx, e) != 0)
        return e->code;
    size_t i;
    json_t *v;
    json_array_foreach(in->payment_methods, i, v)
    {
        const char *m = json_string_value(v);
        if (m == NULL || mer_country_payment(ct, m) == NULL || strlen(c->methods) + strlen(m) + 2 > sizeof(c->methods))
            return mer_verr_set(e, MER_E_VALIDATION, "payment_methods", "payment_methods lists methods offered in %s",
                                ct->code);
        size_t len = strlen(c->methods); /* the check above leaves room for ',', m and the NUL */
        snprintf(c->methods + len, sizeof(c->methods) - len, "%s%s", len ? "," : "", m);
    }
    return 0;
}
