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
 * Layers: this header's service functions (account.c) take plain structs and a database connection and
 * return 0 or a negative mer_err_t, with the failing field in a mer_verr_t where one is to blame; they
 * know nothing of HTTP and run on whatever thread owns the connection (a writer job for writes, the read
 * pool for reads, never an event loop). account_http.c is the HTTP adapter: it parses and checks a
 * request, hashes on the offload pool, runs the service in a call (http/req.h) and renders the answer.
 *
 * Passwords change with the current one (POST /api/v1/users/me/password), or through a reset code sent to
 * the account's email or phone (POST /api/v1/password-resets, then POST /api/v1/password-resets/confirm):
 * both revoke the account's other sessions. A reset code ("mpr_<region>_...", like a token: only its hash is
 * stored) lives 30 minutes, is used once, and is voided by a newer one; asking for one answers the same
 * whether or not the account exists, and counts against the login back-off.
 *
 * Routes: POST /api/v1/users, POST /api/v1/sessions, DELETE /api/v1/sessions/current,
 * GET /api/v1/users/me, POST /api/v1/users/me/password, GET/POST /api/v1/users/me/addresses,
 * GET/PATCH/DELETE /api/v1/users/me/addresses/{id}, POST /api/v1/staff/sessions,
 * POST /api/v1/password-resets, POST /api/v1/password-resets/confirm.
 */
#ifndef MER_ACCOUNT_H
#define MER_ACCOUNT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "core/json.h"
#include "module.h"
#include "region/country.h"
#include "store/db.h"

/*
 * The account module: bearer-token authentication for every route (auth.h) and its cache, the login
 * back-off table, and the routes above.
 */
extern const mer_module_t mer_account_module;

#define MER_SESSION_TTL_MS (30LL * 24 * 3600 * 1000)  /* a customer session's life */
#define MER_STAFF_SESSION_TTL_MS (12LL * 3600 * 1000) /* a staff login token's life */
#define MER_PWHASH_MAX 128                            /* an argon2id hash string, NUL included */
#define MER_MAX_ADDRESSES 20                          /* addresses per account */

/* ---- input rules (any thread) ---- */

/* Lower-cases and checks an email address into out. Returns 0 or MER_E_VALIDATION. */
int mer_account_email_normalize(const char *in, char out[256]);
/* Normalizes a phone number to E.164 ("+919876543210": a '+' and 7 to 15 digits) and checks it fits the
 * country's pattern. Returns 0 or MER_E_VALIDATION. */
int mer_account_phone_normalize(const mer_country_t *c, const char *in, char out[MER_PHONE_MAX]);

/* ---- passwords (CPU-heavy: the offload pool or the command line, never an event loop) ---- */

/* Hashes password (argon2id, interactive limits) into out. Returns 0 or MER_E_INTERNAL. */
int mer_password_hash(const char *password, char out[MER_PWHASH_MAX]);
/*
 * Does password match stored_hash? With no stored hash ("": unknown account) it is checked against a
 * dummy hash all the same, so both cases take as long, and fails. Wipes password (cap bytes).
 */
bool mer_password_matches(const char *stored_hash, char *password, size_t cap);
/* Makes the dummy hash (once, at start-up). */
void mer_password_init(void);

/* ---- customers ---- */

/* A customer account as stored. Strings are NUL-terminated; "" for an email or phone it does not have. */
typedef struct mer_account {
    int64_t id;
    char email[256];
    char phone[MER_PHONE_MAX];
    char name[801]; /* at most 200 characters */
    char country[3];
    int64_t created_at; /* Unix ms */
} mer_account_t;

/*
 * Registers a->email and/or a->phone (normalized, at least one), a->name, a->country (a known country of
 * the database's region) with created_at and an argon2id password_hash. Writer thread. Returns 0 with
 * a->id set, MER_E_ALREADY_EXISTS with e->field "email" or "phone" (another account has it), or another
 * negative error.
 */
int mer_account_register(mer_db_t *db, mer_account_t *a, const char *password_hash, mer_verr_t *e);
/* The account with this email or phone (either may be NULL or ""), and its password hash. Returns 0,
 * MER_E_NOT_FOUND, or another negative error. */
int mer_account_find(mer_db_t *db, const char *email, const char *phone, mer_account_t *out,
                     char password_hash[MER_PWHASH_MAX]);
/* The account of id. Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_account_get(mer_db_t *db, int64_t id, mer_account_t *out);
/* The password hash of account id. Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_account_password_hash(mer_db_t *db, int64_t id, char password_hash[MER_PWHASH_MAX]);
/* Stores a session: the token whose hex hash is token_hash, for user_id, from now until expires_at.
 * Writer thread. Returns 0 or a negative error. */
int mer_session_open(mer_db_t *db, int64_t user_id, const char *token_hash, int64_t now, int64_t expires_at);
/* Revokes the session of token_hash (a no-op for one already revoked). Writer thread. */
int mer_session_revoke(mer_db_t *db, const char *token_hash, int64_t now);

/*
 * Sets user_id's password (an argon2id hash) and revokes every live session of the user except the one whose
 * token hash is keep_hash (NULL: all of them), so a password changed because it leaked locks out whoever
 * used it. Writer thread; the caller also calls mer_auth_user_changed in the job and
 * mer_auth_invalidate_user after the commit (cached sessions). Returns 0, MER_E_NOT_FOUND, or another
 * negative error.
 */
int mer_account_set_password(mer_db_t *db, int64_t user_id, const char *password_hash, const char *keep_hash,
                             int64_t now);

/* ---- password reset codes ---- */

#define MER_RESET_TTL_MS (30LL * 60 * 1000) /* a reset code's life */

/*
 * Opens a password reset for account a: stores the code's hash (the code itself is never stored), voids the
 * account's earlier unused codes, and records the message carrying the code for the notification channel
 * (email when the account has one, else sms: the notification table, events.h). Writer thread. Returns 0 or a
 * negative error.
 */
int mer_reset_open(mer_db_t *db, const mer_account_t *a, const char *code_hash, const char *message, int64_t now,
                   int64_t expires_at);
/*
 * Redeems a reset code: the code of code_hash, unused and not expired at now, is marked used and its account
 * returned in *user_id. Writer thread. Returns 0, MER_E_NOT_FOUND (unknown, used, voided or expired: one
 * answer for all, so a code's fate is not told), or another negative error.
 */
int mer_reset_redeem(mer_db_t *db, const char *code_hash, int64_t now, int64_t *user_id);

/* ---- staff (catalog.db) ---- */

/* The staff member with this (normalized) email and their password hash ("" when they have none).
 * Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_staff_find(mer_db_t *catalog, const char *email, int64_t *id, char password_hash[MER_PWHASH_MAX]);
/* Stores a staff token (hex hash) for staff_id valid until expires_at. catalog.db's writer. */
int mer_staff_token_open(mer_db_t *catalog, int64_t staff_id, const char *token_hash, int64_t now, int64_t expires_at);
/* Revokes a staff token. catalog.db's writer. */
int mer_staff_token_revoke(mer_db_t *catalog, const char *token_hash, int64_t now);

/* A stored address, loaded for checkout. Strings are NUL-terminated copies. */
typedef struct mer_address {
    int64_t id;
    char country[3];
    /* fields are at most 200 characters; UTF-8 needs up to 4 bytes each */
    char name[801], line1[801], line2[801], city[801], state[801], postal_code[801], phone[801];
} mer_address_t;

/* Loads address id of user_id from db. Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_address_load(mer_db_t *db, int64_t user_id, int64_t id, mer_address_t *out);
/* The user's default address id (the one marked default, else the newest), or 0. */
int64_t mer_address_default(mer_db_t *db, int64_t user_id);
/* Loads that address in one statement. Returns 0, MER_E_NOT_FOUND (the user has none), or another error. */
int mer_address_load_default(mer_db_t *db, int64_t user_id, mer_address_t *out);
/* JSON form of an address. */
json_t *mer_address_json(const mer_address_t *a);
/* The same as text, written without building the tree (checkout stores it with every order): equal to
 * mer_json_dump(mer_address_json(a)) for text without control characters, which address checks refuse.
 * Caller frees. */
char *mer_address_json_text(const mer_address_t *a);

/* The fields of an address a change names (mer_address_patch_t.set). */
enum {
    MER_ADDRF_COUNTRY = 1 << 0,
    MER_ADDRF_NAME = 1 << 1,
    MER_ADDRF_LINE1 = 1 << 2,
    MER_ADDRF_LINE2 = 1 << 3,
    MER_ADDRF_CITY = 1 << 4,
    MER_ADDRF_STATE = 1 << 5,
    MER_ADDRF_POSTAL_CODE = 1 << 6,
    MER_ADDRF_PHONE = 1 << 7,
};

/* An address to add, or the change to one: the fields named in set, plus whether it becomes the default. */
typedef struct mer_address_patch {
    mer_address_t a; /* a.id: the address changed (ignored when adding) */
    unsigned set;    /* MER_ADDRF_* */
    bool make_default;
} mer_address_patch_t;

/*
 * Reads an address object ({country, name, line1, line2, city, state, postal_code, phone, default}, every
 * member optional) into p: types and lengths only (at most 200 characters; country known, canonical
 * upper case). Returns 0 or a negative error described in e.
 */
int mer_address_patch_parse(json_t *in, mer_address_patch_t *p, mer_verr_t *e);

/*
 * Adds an address of user_id (whose home region is region): the fields set in p over an empty address in
 * the account's country. Checks it against its country's rules and region, and the MER_MAX_ADDRESSES bound;
 * the first address is the default. Writer thread. Returns 0 with *out the stored address and
 * *is_default, or a negative error (MER_E_VALIDATION and the like described in e).
 */
int mer_address_add(mer_db_t *db, int64_t user_id, const char *region, const char *account_country,
                    const mer_address_patch_t *p, mer_address_t *out, bool *is_default, mer_verr_t *e);
/* Changes address p->a.id of user_id: the fields set in p, checked as when adding. Writer thread. Returns
 * 0 with *out and *is_default, MER_E_NOT_FOUND, or another negative error (described in e). */
int mer_address_update(mer_db_t *db, int64_t user_id, const char *region, const mer_address_patch_t *p,
                       mer_address_t *out, bool *is_default, mer_verr_t *e);
/* Deletes address id of user_id; when it was the default, the newest other one becomes it. Writer
 * thread. Returns 0, MER_E_NOT_FOUND, or another negative error. */
int mer_address_delete(mer_db_t *db, int64_t user_id, int64_t id);
/* The addresses of user_id in id order (at most max) and which is the default. Returns the count or a
 * negative error. */
int mer_address_list(mer_db_t *db, int64_t user_id, mer_address_t *out, bool *is_default, size_t max);

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
