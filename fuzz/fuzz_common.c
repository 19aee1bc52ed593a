/*
 * fuzz_common.c — helpers shared by the fuzz targets (see fuzz.h).
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"

extern const char mer_seed_countries[];
extern const size_t mer_seed_countries_len;

static mer_country_t countries[32];
static size_t ncountries;

json_t *fuzz_json(const uint8_t *data, size_t size)
{
    /* the flags the request path uses (src/http/req.c): duplicate keys are an error, NUL is refused */
    return json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
}

void fuzz_countries_load(void)
{
    if (ncountries)
        return;
    json_t *root = json_loadb(mer_seed_countries, mer_seed_countries_len, 0, NULL);
    FUZZ_CHECK(root != NULL);
    const char *code;
    json_t *v;
    json_object_foreach(json_object_get(root, "countries"), code, v)
    {
        mer_verr_t e = {0};
        FUZZ_CHECK(ncountries < sizeof(countries) / sizeof(countries[0]));
        FUZZ_CHECK(mer_country_parse(v, code, &countries[ncountries], &e) == 0);
        ncountries++;
    }
    json_decref(root);
    FUZZ_CHECK(ncountries > 0);
}

const mer_country_t *fuzz_country(const char *code)
{
    fuzz_countries_load();
    for (size_t i = 0; code && i < ncountries; i++)
        if (strlen(code) == 2 && toupper((unsigned char)code[0]) == countries[i].code[0] &&
            toupper((unsigned char)code[1]) == countries[i].code[1])
            return &countries[i];
    return &countries[0];
}
