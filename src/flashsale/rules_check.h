/*
 * rules_check.h — the validator of a flash sale's "rules" object (POST /api/v1/admin/flash-sales), with
 * no HTTP state: JSON in, the first error (code, field, message) out.
 *
 * The shape is documented in docs/openapi.yaml (schema FlashRules): min_account_age_days, one_per_phone,
 * one_per_address, one_per_device, user_rate / ip_rate {per_second, burst}, pow_bits and
 * blocklist {users, ips}. Unknown keys are refused (a typo in an admin call must not pass silently).
 */
#ifndef MER_FS_RULES_CHECK_H
#define MER_FS_RULES_CHECK_H

#include <jansson.h>

#include "core/json.h"

/*
 * Checks rules (a JSON object). Returns 0, or the negative error also stored in e with the offending
 * field ("rules.blocklist.ips[2]"). On success the blocklist's addresses have been rewritten in place to
 * their canonical form (2001:DB8:0::1 -> 2001:db8::1, ::ffff:192.0.2.1 -> 192.0.2.1), the form that peer
 * addresses are compared in.
 */
int fs_rules_check(json_t *rules, mer_verr_t *e);

#endif
