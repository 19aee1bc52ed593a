#include "core/sig.h"

#include <sodium.h>
#include <stdio.h>

#include "core/banned.h"

void mer_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[128])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24], hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    crypto_auth_hmacsha256_state st;
    int n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    snprintf(out, 128, "t=%lld,v1=%s", (long long)t, hex);
}

int mer_webhook_verify_any(const char *const *secrets, size_t nsecrets, const char *header, size_t hlen,
                           const char *body, size_t len, int64_t now_s, int64_t tolerance_s)
{
    enum { MAX_V1 = 8, HEX = crypto_auth_hmacsha256_BYTES * 2 };
    const char *v1[MAX_V1];
    size_t nv1 = 0;
    int64_t t = -1;
    if (header == NULL || hlen == 0 || hlen > MER_WEBHOOK_SIG_MAX)
        return -1;
    /* comma-separated key=value parts in any order; spaces around a part are allowed; unknown keys are
     * skipped (a scheme added later), but a second t is malformed */
    for (size_t i = 0; i < hlen;) {
        size_t end = i;
        while (end < hlen && header[end] != ',')
            end++;
        size_t a = i, b = end;
        while (a < b && header[a] == ' ')
            a++;
        while (b > a && header[b - 1] == ' ')
            b--;
        if (b - a >= 2 && header[a] == 't' && header[a + 1] == '=') {
            if (t >= 0 || mer_parse_int64(header + a + 2, b - a - 2, 0, INT64_C(1) << 40, &t) != 0)
                return -1;
        } else if (b - a == 3 + HEX && memcmp(header + a, "v1=", 3) == 0) {
            if (nv1 == MAX_V1)
                return -1;
            v1[nv1++] = header + a + 3;
        } else if (b - a < 2 || memchr(header + a, '=', b - a) == NULL) {
            return -1; /* an empty or key-less part */
        }
        i = end + 1;
    }
    if (t < 0 || nv1 == 0)
        return -1;
    bool ok = false;
    for (size_t s = 0; s < nsecrets; s++) {
        char expect[128];
        if (secrets[s] == NULL || secrets[s][0] == '\0')
            continue;
        mer_webhook_sign(secrets[s], t, body, len, expect);
        const char *hex = strstr(expect, ",v1=") + 4;
        for (size_t k = 0; k < nv1; k++)
            ok |= sodium_memcmp(v1[k], hex, HEX) == 0; /* every pair is compared: no early exit */
    }
    if (!ok)
        return -1;
    if (t < now_s - tolerance_s || t > now_s + tolerance_s)
        return -2;
    return 0;
}

int mer_webhook_verify(const char *secret, const char *header, size_t hlen, const char *body, size_t len, int64_t now_s,
                       int64_t tolerance_s)
{
    return mer_webhook_verify_any(&secret, 1, header, hlen, body, len, now_s, tolerance_s);
}
