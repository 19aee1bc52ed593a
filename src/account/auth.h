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
 * A staff member's rights: "admin" (every country) or "operator" of a non-empty list of known countries.
 * Checks role and countries (comma-separated, any case, known to mer_countries()) and writes the canonical
 * list (upper case, in the order given, without repeats) into canon. An admin takes no list: asking for
 * both is contradictory. Returns 0, or MER_E_VALIDATION with *why naming the problem (a static string).
 */
#define MER_STAFF_COUNTRIES_MAX 64
int mer_staff_rights_check(const char *role, const char *countries, char canon[MER_STAFF_COUNTRIES_MAX],
                           const char **why);

/*
 * Issues a token valid for ttl_days to the staff member `email` (meridian admin token). A token carries
 * exactly its staff member's rights, so it never has more than were asked for:
 *   - an unknown email is created with `role` (default "admin") and `countries`, checked as above;
 *   - a known email keeps its rights; asking for another role or other countries is MER_E_CONFLICT
 *     (change them with `meridian admin create`) rather than a token with other rights than asked.
 * role and countries may be NULL: "as stored" for a known email, admin and none for a new one.
 * Returns 0 and writes the token, or a negative error with *why set (a static string).
 */
int mer_staff_issue_token(mer_db_t *catalog, const char *email, const char *role, const char *countries, int ttl_days,
                          char token[MER_TOKEN_MAX], const char **why);

/* Installs the request authenticator (staff and customer tokens). */
void mer_auth_init(void);
/* The shared cache of customer sessions (serve only). */
void mer_auth_cache_init(void);
void mer_auth_cache_release(void);
/* Drops the cached session answers of one customer (after their logout, or a change to what cached
 * answers carry: the default address). Any thread; after the change has committed. */
void mer_auth_invalidate_user(int64_t user_id);
/* Inside the writer job of such a change: the other nodes on the region's database drop the customer's
 * cached sessions when it commits (store/notify.h; this node's caller still calls mer_auth_invalidate_user
 * after the commit). Returns 0 or a negative error. */
int mer_auth_user_changed(mer_db_t *db, int64_t user_id);
/* Token checks answered from the cache, and those that went to the store, since start (for /metrics). */
void mer_auth_cache_stats(uint64_t *hits, uint64_t *misses);

#endif
