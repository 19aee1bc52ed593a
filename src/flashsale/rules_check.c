/*
 * rules_check.c — validation of a flash sale's anti-scalper rules (see rules_check.h).
 *
 * Moved unchanged out of admin.c's request handler (which now only answers the error) so that it can be
 * fuzzed without HTTP or a catalogue: fuzz/flash_admin.c.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "flashsale/flash_int.h"
#include "flashsale/rules_check.h"
#include "core/banned.h"

/*
 * rules.blocklist: {"users": [customer ids], "ips": [IPv4 or IPv6 addresses]}, each at most FS_MAX_BLOCKED
 * long. An address is written back in its usual form (2001:DB8:0::1 becomes 2001:db8::1, ::ffff:192.0.2.1
 * becomes 192.0.2.1), the form peers are compared in: otherwise another spelling would never match.
 */
static int check_blocklist(json_t *bl, mer_verr_t *e)
{
    static const char *const keys[] = {"users", "ips", NULL};
    json_t *users = NULL, *ips = NULL, *v;
    char f[64], canon[64];
    size_t i;
    if (mer_json_only(bl, keys, "rules.blocklist", e) ||
        mer_json_member(bl, "users", "rules.blocklist.users", JSON_ARRAY, false, &users, e) ||
        mer_json_member(bl, "ips", "rules.blocklist.ips", JSON_ARRAY, false, &ips, e))
        return -1;
    if (json_array_size(users) > FS_MAX_BLOCKED)
        return mer_verr_set(e, MER_E_VALIDATION, "rules.blocklist.users", "at most %d customer ids", FS_MAX_BLOCKED);
    if (json_array_size(ips) > FS_MAX_BLOCKED)
        return mer_verr_set(e, MER_E_VALIDATION, "rules.blocklist.ips", "at most %d addresses", FS_MAX_BLOCKED);
    json_array_foreach(users, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT64_C(1) << 53) {
            snprintf(f, sizeof(f), "rules.blocklist.users[%zu]", i);
            return mer_verr_set(e, MER_E_VALIDATION, f, "%s must be a customer id (a positive integer)", f);
        }
    }
    json_array_foreach(ips, i, v)
    {
        const char *ip = json_string_value(v);
        /* INET6_ADDRSTRLEN - 1 is the longest literal (an IPv6 address ending in dotted IPv4) */
        if (ip == NULL || json_string_length(v) > INET6_ADDRSTRLEN - 1 || strlen(ip) != json_string_length(v) ||
            fs_ip_canonical(ip, canon) != 0) {
            snprintf(f, sizeof(f), "rules.blocklist.ips[%zu]", i);
            return mer_verr_set(e, MER_E_VALIDATION, f,
                                "%s must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::7 (no "
                                "prefix length)",
                                f);
        }
        if (strcmp(ip, canon) != 0)
            json_array_set_new(ips, i, json_string(canon));
    }
    return 0;
}

int fs_rules_check(json_t *rules, mer_verr_t *e)
{
    static const char *const keys[] = {"min_account_age_days",
                                       "one_per_phone",
                                       "one_per_address",
                                       "one_per_device",
                                       "user_rate",
                                       "ip_rate",
                                       "pow_bits",
                                       "blocklist",
                                       NULL};
    static const char *const rate_keys[] = {"per_second", "burst", NULL};
    int64_t v = 0;
    bool b = false;
    json_t *ur = NULL, *ir = NULL, *bl = NULL;
    if (mer_json_only(rules, keys, "rules", e) ||
        mer_json_int(rules, "min_account_age_days", "rules.min_account_age_days", 0, 3650, false, &v, e) ||
        mer_json_bool(rules, "one_per_phone", "rules.one_per_phone", false, &b, e) ||
        mer_json_bool(rules, "one_per_address", "rules.one_per_address", false, &b, e) ||
        mer_json_bool(rules, "one_per_device", "rules.one_per_device", false, &b, e) ||
        mer_json_member(rules, "user_rate", "rules.user_rate", JSON_OBJECT, false, &ur, e) ||
        mer_json_member(rules, "ip_rate", "rules.ip_rate", JSON_OBJECT, false, &ir, e) ||
        mer_json_int(rules, "pow_bits", "rules.pow_bits", 0, 24, false, &v, e) ||
        mer_json_member(rules, "blocklist", "rules.blocklist", JSON_OBJECT, false, &bl, e) ||
        (ur && (mer_json_only(ur, rate_keys, "rules.user_rate", e) ||
                mer_json_int(ur, "per_second", "rules.user_rate.per_second", 1, 1000, true, &v, e) ||
                mer_json_int(ur, "burst", "rules.user_rate.burst", 1, 1000, false, &v, e))) ||
        (ir && (mer_json_only(ir, rate_keys, "rules.ip_rate", e) ||
                mer_json_int(ir, "per_second", "rules.ip_rate.per_second", 1, 100000, true, &v, e) ||
                mer_json_int(ir, "burst", "rules.ip_rate.burst", 1, 100000, false, &v, e))) ||
        (bl && check_blocklist(bl, e)))
        return e->code;
    return 0;
}
