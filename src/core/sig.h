/*
 * sig.h — signed webhooks: the HMAC-SHA256 header both directions use (Meridian signing the webhooks it
 * sends, in X-Meridian-Signature; a payment provider signing the ones it sends us, in
 * X-Provider-Signature), in the form "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>".
 * Crypto only (libsodium); who holds which secret is the domains' business.
 */
#ifndef MER_SIG_H
#define MER_SIG_H

#include "core/common.h"

/* HMAC-SHA256 signature header value "t=<unix>,v1=<hex>" of body with secret, at time t. */
void mer_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[128]);
/* Checks such a header; tolerance in seconds. Returns 0, or -1 (malformed/bad signature) / -2 (stale). */
int mer_webhook_verify(const char *secret, const char *header, size_t hlen, const char *body, size_t len, int64_t now_s,
                       int64_t tolerance_s);
/*
 * The same against several secrets (a rotation: the new one and the one it replaces; NULL or "" entries
 * are skipped). The header's comma-separated parts may come in any order and carry up to 8 `v1=` values
 * (a sender signing with each of its secrets); it verifies when any v1 matches any secret. Parts with
 * other keys (`v0=...`) are ignored; a missing or repeated `t`, no `v1`, or a header longer than
 * MER_WEBHOOK_SIG_MAX is malformed (-1).
 */
#define MER_WEBHOOK_SIG_MAX 1024
int mer_webhook_verify_any(const char *const *secrets, size_t nsecrets, const char *header, size_t hlen,
                           const char *body, size_t len, int64_t now_s, int64_t tolerance_s);

#endif
