/*
 * webhook_signature.c — fuzzes mer_webhook_verify(), which checks the signature header of incoming
 * payment webhooks (X-Provider-Signature) with the secret that mer_webhook_sign() uses for outgoing ones.
 *
 * Input: "<header>\n<body>" (no newline: the whole input is the header, the body is empty).
 * Properties: the answer is 0, -1 or -2; the header mer_webhook_sign() makes for the body verifies now,
 * is stale (-2) ten minutes later with a five-minute tolerance, and fails (-1) with another secret.
 */
#include <string.h>

#include "core/sig.h"
#include "fuzz.h"

static const char secret[] = "whsec_fuzz_0123456789abcdef";
#define NOW 1795712912

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t hlen = nl ? (size_t)(nl - s) : size;
    const char *body = nl ? nl + 1 : "";
    size_t blen = nl ? size - hlen - 1 : 0;

    int rc = mer_webhook_verify(secret, s, hlen, body, blen, NOW, 300);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);

    char good[128];
    mer_webhook_sign(secret, NOW, body, blen, good);
    FUZZ_CHECK(mer_webhook_verify(secret, good, strlen(good), body, blen, NOW, 300) == 0);
    FUZZ_CHECK(mer_webhook_verify(secret, good, strlen(good), body, blen, NOW + 600, 300) == -2);
    FUZZ_CHECK(mer_webhook_verify("another secret", good, strlen(good), body, blen, NOW, 300) == -1);
    return 0;
}
