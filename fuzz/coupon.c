/*
 * coupon.c — fuzzes the coupon validator of POST /api/v1/admin/coupons: mer_coupon_input_read() and
 * mer_coupon_input_check() (src/order/coupon_input.h), with the country the body names (one of the seed
 * countries; IN when unknown) and a stand-in catalogue: categories "phones" and "accessories", products
 * 1-236 or slugs starting "mer-", SKU codes starting "MER-".
 *
 * Input: the body of the POST. Properties: an error has a field and a message; an accepted coupon has an
 * upper-case code of letters, digits, '-' and '_', a known kind and scope, valid_until after valid_from,
 * a value that is a multiple of the country's step (unless percent, then at most 10000 basis points),
 * and only payment methods the country offers.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "order/coupon_input.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_countries_load();
    return 0;
}

static int64_t resolve(void *ctx, mer_coupon_scope_t scope, json_t *v)
{
    (void)ctx;
    const char *s = json_string_value(v);
    if (scope == MER_SCOPE_CATEGORY && s)
        return strcmp(s, "phones") == 0 ? 1 : strcmp(s, "accessories") == 0 ? 2 : 0;
    if (scope == MER_SCOPE_PRODUCT && json_is_integer(v))
        return json_integer_value(v) >= 1 && json_integer_value(v) <= 236 ? json_integer_value(v) : 0;
    if (scope == MER_SCOPE_PRODUCT && s)
        return strncmp(s, "mer-", 4) == 0 ? 7 : 0;
    if (scope == MER_SCOPE_SKU && s)
        return strncmp(s, "MER-", 4) == 0 ? 11 : 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_json(data, size);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    mer_coupon_input_t in;
    mer_verr_t e = {0};
    int rc = mer_coupon_input_read(body, &in, &e);
    const mer_country_t *ct = NULL;
    if (rc == 0) {
        ct = fuzz_country(in.country);
        rc = mer_coupon_input_check(&in, ct, resolve, NULL, &e);
    }
    if (rc != 0) {
        FUZZ_CHECK(rc == e.code && e.message[0] != '\0');
    } else {
        const mer_coupon_t *c = &in.c;
        FUZZ_CHECK(strlen(c->code) >= 3 && strlen(c->code) <= 32);
        for (size_t i = 0; c->code[i]; i++)
            FUZZ_CHECK(isupper((unsigned char)c->code[i]) || isdigit((unsigned char)c->code[i]) || c->code[i] == '-' ||
                       c->code[i] == '_');
        FUZZ_CHECK((unsigned)c->kind < 3 && (unsigned)c->scope < 4 && c->nscope <= MER_COUPON_MAX_SCOPE);
        FUZZ_CHECK(c->valid_until > c->valid_from);
        FUZZ_CHECK(c->kind == MER_COUPON_PERCENT ? c->value <= 10000 : c->value % ct->step == 0);
        FUZZ_CHECK(strcmp(c->country, ct->code) == 0);
        char methods[sizeof(c->methods)];
        memcpy(methods, c->methods, sizeof(methods));
        char *save = NULL;
        for (char *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save))
            FUZZ_CHECK(mer_country_payment(ct, m) != NULL);
    }
    json_decref(body);
    return 0;
}
