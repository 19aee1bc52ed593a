/*
 * auth.h — bearer tokens.
 *
 * A token is 32 random bytes (libsodium randombytes) in URL-safe base64 behind a prefix that says where
 * it is checked: "mst_" for staff (checked against catalog.db), "mct_<region>_" for customers (checked
 * against that region's database, so a customer's session never leaves their home region). Only the
 * BLAKE2b-256 hash of a token is stored; a stolen database yields no usable token. Tokens expire and can
 * be revoked (logout).
 */
#ifndef MER_AUTH_H
#define MER_AUTH_H

#include "http/req.h"
#include "store/db.h"

#define MER_TOKEN_MAX 96

/* Makes a new random token with the given prefix into out and its hex hash into hash_hex. */
void mer_token_new(const char *prefix, char out[MER_TOKEN_MAX], char hash_hex[65]);
/* Hex BLAKE2b-256 of a token. */
void mer_token_hash(const char *token, size_t len, char hash_hex[65]);

/*
 * Creates (if missing) a staff member with the given email and role, and issues a token valid for
 * ttl_days. Used by `meridian admin token`. Returns 0 and writes the token, or a negative error.
 */
int mer_staff_issue_token(mer_db_t *catalog, const char *email, const char *role, const char *countries,
                          int ttl_days, char token[MER_TOKEN_MAX]);

/* Installs the request authenticator (staff and customer tokens). */
void mer_auth_init(void);
/* The shared cache of customer sessions (serve only). */
void mer_auth_cache_init(void);
void mer_auth_cache_release(void);
/* Drops every cached session answer (after a logout or a change that cached answers carry). */
void mer_auth_invalidate(void);

#endif
