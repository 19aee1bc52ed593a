/*
 * country.c — fuzzes mer_country_parse(), the validator behind PUT /api/v1/admin/countries/{code}, the
 * seed and the registry's reload.
 *
 * Input: a country's JSON (the body of the PUT). The code is the body's "code" when it is two letters,
 * else "IN". Property: an accepted country's normalised JSON (what GET answers, what the registry stores
 * and loads again at the next start) is accepted again and normalises to the same JSON; otherwise a
 * country an admin saved would fail to load after a restart.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = fuzz_json(data, size);
    if (in == NULL)
        return 0;
    char code[3] = "IN";
    const char *bc = json_string_value(json_object_get(in, "code"));
    if (bc && strlen(bc) == 2 && isupper((unsigned char)bc[0]) && isupper((unsigned char)bc[1]))
        memcpy(code, bc, 3);
    mer_country_t c = {0};
    mer_verr_t e = {0};
    int rc = mer_country_parse(in, code, &c, &e);
    if (rc != 0) {
        FUZZ_CHECK(e.code == rc && e.message[0] != '\0');
    } else {
        FUZZ_CHECK(c.json != NULL && strcmp(c.code, code) == 0);
        mer_country_t again = {0};
        mer_verr_t e2 = {0};
        int rc2 = mer_country_parse(c.json, code, &again, &e2);
        if (rc2 != 0)
            fprintf(stderr, "normalised country refused: %s: %s\n", e2.field, e2.message);
        FUZZ_CHECK(rc2 == 0);
        FUZZ_CHECK(json_equal(c.json, again.json));
        mer_country_release(&again);
    }
    mer_country_release(&c);
    json_decref(in);
    return 0;
}
