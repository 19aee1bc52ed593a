/*
 * account.h — customers (registration, login, logout, profile), their addresses, and staff login.
 *
 * A customer registers for a country; the account is written only to the database of that country's
 * region (a node that does not serve the region answers 421). It has an email (lower-cased), a phone
 * number (normalized to E.164) or both, each unique in the region, and logs in with either; the login
 * answer describes the account as stored. Passwords are hashed with argon2id
 * (libsodium crypto_pwhash_str, "interactive" limits) on the offload pool, never on an event loop.
 * Login returns a bearer token (see auth.h) valid for 30 days, revocable by logout. Failed logins back
 * off per account and per client IP (see throttle.h): 429 with Retry-After. A login with X-Cart-Id merges
 * that guest cart (cart.h) and reports what the merge capped or dropped.
 *
 * Routes: POST /api/v1/users, POST /api/v1/sessions, DELETE /api/v1/sessions/current,
 * GET /api/v1/users/me, GET/POST /api/v1/users/me/addresses, GET/PATCH/DELETE
 * /api/v1/users/me/addresses/{id}, POST /api/v1/staff/sessions.
 */
#ifndef MER_ACCOUNT_H
#define MER_ACCOUNT_H

#include <stdio.h>

#include "http/req.h"
#include "module.h"
#include "region/country.h"
#include "store/db.h"

/*
 * The account module: bearer-token authentication for every route (auth.h) and its cache, the login
 * back-off table, and the routes above.
 */
extern const mer_module_t mer_account_module;

/* A stored address, loaded for checkout. Strings are NUL-terminated copies. */
typedef struct mer_address {
    int64_t id;
    char country[3];
    /* fields are at most 200 characters; UTF-8 needs up to 4 bytes each */
    char name[801], line1[801], line2[801], city[801], state[801], postal_code[801], phone[801];
} mer_address_t;

/* Loads address id of user_id from db. Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_address_load(mer_db_t *db, int64_t user_id, int64_t id, mer_address_t *out);
/* The user's default address id, or 0. */
int64_t mer_address_default(mer_db_t *db, int64_t user_id);
/* JSON form of an address. */
json_t *mer_address_json(const mer_address_t *a);

/*
 * Load-test helper (meridian admin load-users): creates `count` customers of country c named
 * <prefix><n>@load.test, all with one password (hashed once), each with a session token and, when
 * address_json is given, a default address. Writes one token per line to out. Returns 0 or an error.
 */
int mer_account_bulk_create(mer_db_t *db, const mer_country_t *c, int64_t count, const char *prefix,
                            const char *password, json_t *address, FILE *out);

/*
 * Creates a staff member with a password, or replaces the password of an existing one and the rights named
 * (meridian admin create). role and countries may be NULL: for a known email "as stored" (so a password
 * reset never changes rights), for a new one admin and none. Rights are checked by
 * mer_staff_rights_check(). Returns 0, or a negative error with *why naming the problem (a static string).
 */
int mer_staff_create(mer_db_t *catalog, const char *email, const char *password, const char *role,
                     const char *countries, const char **why);

#endif
