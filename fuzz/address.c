/*
 * address.c — fuzzes mer_country_check_address(), the address rules of a country (required fields,
 * postal-code and phone patterns, state codes), as checkout's inline address and the address book use it.
 *
 * Input: a JSON object {"country": "IN", "name": ..., "line1": ..., "line2": ..., "city": ..., "state": ...,
 * "postal_code": ..., "phone": ...}; the country is one of the seed countries (IN when unknown). Fields are
 * read as the handlers read them (strings of at most 200 bytes; other types are skipped here).
 * Property: an error names one of the address fields.
 */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_countries_load();
    return 0;
}

static const char *field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > 200 || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = fuzz_json(data, size);
    if (!json_is_object(in)) {
        json_decref(in);
        return 0;
    }
    const mer_country_t *c = fuzz_country(field(in, "country"));
    mer_address_in_t a = {field(in, "name"),  field(in, "line1"),       field(in, "line2"), field(in, "city"),
                          field(in, "state"), field(in, "postal_code"), field(in, "phone")};
    mer_verr_t e = {0};
    int rc = mer_country_check_address(c, &a, &e);
    if (rc != 0) {
        static const char *const names[] = {"name", "line1", "line2", "city", "state", "postal_code", "phone"};
        bool named = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            named |= strcmp(e.field, names[i]) == 0;
        FUZZ_CHECK(rc == MER_E_VALIDATION && named);
    }
    json_decref(in);
    return 0;
}
