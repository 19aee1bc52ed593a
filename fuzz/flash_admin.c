/*
 * flash_admin.c — fuzzes fs_rules_check(), the validator of a new flash sale's anti-scalper rules
 * (POST /api/v1/admin/flash-sales; the sessions need the catalogue and are not covered here).
 *
 * Input: the body of the POST; its "rules" member is checked (a body without one is checked as the
 * rules themselves). Properties: an error names a field under "rules"; accepted rules are accepted again
 * unchanged (their addresses were already rewritten to the canonical form).
 */
#include <string.h>

#include "flashsale/rules_check.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = fuzz_json(data, size);
    if (!json_is_object(in)) {
        json_decref(in);
        return 0;
    }
    json_t *rules = json_object_get(in, "rules");
    if (rules == NULL)
        rules = in;
    mer_verr_t e = {0};
    int rc = fs_rules_check(rules, &e);
    if (rc != 0) {
        FUZZ_CHECK(rc == e.code && strncmp(e.field, "rules", 5) == 0);
    } else {
        json_t *copy = json_deep_copy(rules);
        mer_verr_t e2 = {0};
        FUZZ_CHECK(fs_rules_check(copy, &e2) == 0);
        FUZZ_CHECK(json_equal(copy, rules));
        json_decref(copy);
    }
    json_decref(in);
    return 0;
}
