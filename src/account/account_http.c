/*
 * account_http.c — the HTTP adapter of the account service (account.h): parses and checks requests,
 * applies the login back-off, hashes and verifies passwords on the offload pool, runs the service in a
 * call (reads on the read pool, writes as writer jobs: http/req.h) and renders the answers.
 *
 * No database is touched on an event loop. Login, for instance, is four steps: the account is read on the
 * read pool, the back-off is checked on the loop, the password is verified on the offload pool, and the
 * session is written by the region's writer; the answer follows the commit.
 */
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>

#include "account/account.h"
#include "account/auth.h"
#include "account/throttle.h"
#include "cart/cart.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/req.h"
#include "region/region_http.h"
#include "store/store.h"
#include "core/banned.h"

#define ACCOUNT_FREE_FAILURES 5
#define IP_FREE_FAILURES 20
#define THROTTLE_KEYS 65536 /* accounts and addresses with recent failed logins (about 3 MB) */
#define PASSWORD_MAX 513    /* 128 characters of up to 4 bytes, NUL included */

static mer_throttle_t *logins; /* failed-login back-off; made by account_init */

/* ---- input ---- */

typedef struct creds {
    const mer_country_t *country;
    char email[256];           /* normalized; "" when not given */
    char phone[MER_PHONE_MAX]; /* normalized; "" when not given */
    const char *password;
} creds_t;

/*
 * Reads {email, phone, password, country} from the body: at least one of email and phone; both only when
 * both_ok (registration; a login names one); the password when allowed names it. The country must be known and served
 * by this node (404, 421). Returns 0, or answers the error and returns -1.
 */
static int read_creds(mer_req_t *r, creds_t *c, const char *const *allowed, bool both_ok)
{
    bool need_password = false; /* required where it is allowed (not in a reset request) */
    for (const char *const *k = allowed; *k; k++)
        need_password |= strcmp(*k, "password") == 0;
    mer_verr_t e = {0};
    const char *email = NULL, *phone = NULL, *country = NULL;
    memset(c, 0, sizeof(*c));
    if (mer_json_only(r->body, allowed, "", &e) || mer_json_str(r->body, "email", "email", 3, 254, false, &email, &e) ||
        mer_json_str(r->body, "phone", "phone", 8, 32, false, &phone, &e) ||
        mer_json_str(r->body, "password", "password", 1, 128, need_password, &c->password, &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e)) {
        mer_reply_verr(r, &e);
        return -1;
    }
    const mer_countries_t *cs = mer_countries();
    c->country = mer_country_find(cs, country, 2);
    if (c->country == NULL) {
        mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "country %s is not sold in by this store", country);
        return -1;
    }
    if (mer_req_served_here(r, cs, c->country) != 0)
        return -1;
    if (email == NULL && phone == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "email", "give an email address or a phone number");
        return -1;
    }
    if (email && phone && !both_ok) {
        mer_reply_error(r, MER_E_VALIDATION, "phone", "log in with either the email address or the phone number");
        return -1;
    }
    if (email && mer_account_email_normalize(email, c->email) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "email", "%s is not a valid email address", email);
        return -1;
    }
    if (phone && mer_account_phone_normalize(c->country, phone, c->phone) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "phone", "%s is not a valid phone number in %s (E.164, e.g. +91...)",
                        phone, c->country->code);
        return -1;
    }
    return 0;
}

static json_t *user_json(const mer_account_t *a, const char *region)
{
    char ts[32];
    mer_format_utc_ms(a->created_at, ts);
    return json_pack("{s:I,s:s?,s:s?,s:s,s:s,s:s,s:s}", "id", (json_int_t)a->id, "email", a->email[0] ? a->email : NULL,
                     "phone", a->phone[0] ? a->phone : NULL, "name", a->name, "country", a->country, "region", region,
                     "created_at", ts);
}

/* ---- registration ---- */

typedef struct reg_call {
    mer_call_t c;
    char password[PASSWORD_MAX];
    char hash[MER_PWHASH_MAX];
    char region[MER_REGION_NAME_MAX];
    mer_account_t a;
} reg_call_t;

static void reg_cleanup(mer_call_t *c)
{
    reg_call_t *j = (reg_call_t *)c;
    sodium_memzero(j->password, sizeof(j->password));
}

static int reg_write(mer_db_t *db, mer_call_t *c)
{
    reg_call_t *j = (reg_call_t *)c;
    int err = mer_account_register(db, &j->a, j->hash, &c->verr);
    if (err == 0) {
        c->result = user_json(&j->a, j->region);
        c->status = 201;
    }
    return err;
}

/* On the offload pool: password's hash into hash (~50 ms of CPU), then password (PASSWORD_MAX bytes) is wiped.
 * Returns 0, or MER_E_INTERNAL described in c's verr. */
static int hash_new_password(mer_call_t *c, char *password, char hash[MER_PWHASH_MAX])
{
    mer_password_hash(password, hash);
    sodium_memzero(password, PASSWORD_MAX);
    return hash[0] ? 0 : mer_verr_set(&c->verr, MER_E_INTERNAL, NULL, "password hashing failed");
}

static int reg_hash(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    reg_call_t *j = (reg_call_t *)c;
    return hash_new_password(c, j->password, j->hash);
}

static void reg_hashed(mer_call_t *c)
{
    c->reply = NULL;
    mer_call_write(c, ((reg_call_t *)c)->region, reg_write);
}

/* A new password's rules (registration's): 8 to 128 characters. Returns 0, or answers 422 and returns -1. */
static int new_password_ok(mer_req_t *r, const char *field, const char *password)
{
    if (strlen(password) >= 8)
        return 0;
    mer_reply_error(r, MER_E_VALIDATION, field, "passwords need at least 8 characters");
    return -1;
}

static void h_register(mer_req_t *r)
{
    static const char *const keys[] = {"email", "phone", "password", "country", "name", NULL};
    creds_t c;
    const char *name = "";
    mer_verr_t e = {0};
    if (read_creds(r, &c, keys, true) != 0)
        return;
    if (mer_json_str(r->body, "name", "name", 0, 200, false, &name, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (new_password_ok(r, "password", c.password) != 0)
        return;
    size_t plen = strlen(c.password);
    reg_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = reg_cleanup;
    memcpy(j->password, c.password, plen + 1);
    memcpy(j->a.email, c.email, sizeof(c.email));
    memcpy(j->a.phone, c.phone, sizeof(c.phone));
    snprintf(j->a.name, sizeof(j->a.name), "%s", name);
    snprintf(j->a.country, sizeof(j->a.country), "%s", c.country->code);
    snprintf(j->region, sizeof(j->region), "%s", c.country->region);
    j->a.created_at = mer_now_unix_ms();
    j->c.reply = reg_hashed;
    mer_call_offload(&j->c, reg_hash);
}

/* ---- login / logout ---- */

/* The back-off keys of one login attempt (throttle.h): the account tried and the client's address. */
typedef struct attempt {
    char account_key[300], ip_key[80];
} attempt_t;

/*
 * Sets a->ip_key from the client's address (the caller has set a->account_key). If either key is
 * blocked, answers 429 with Retry-After and returns -1; otherwise returns 0.
 */
static int attempt_start(mer_req_t *r, attempt_t *a)
{
    char ip[64], secs[16];
    if (r->route->rate != MER_RATE_LOGIN)
        MER_BUG("%s %s applies the login back-off but its route says otherwise", r->route->method, r->route->pattern);
    mer_req_peer(r, ip);
    snprintf(a->ip_key, sizeof(a->ip_key), "ip:%s", ip);
    int64_t now = mer_now_unix_ms();
    int wait = MER_MAX(mer_throttle_check(logins, a->account_key, now), mer_throttle_check(logins, a->ip_key, now));
    if (wait <= 0)
        return 0;
    snprintf(secs, sizeof(secs), "%d", wait);
    mer_reply_header(r, "retry-after", secs);
    mer_reply_error(r, MER_E_RATE_LIMITED, NULL, "too many failed logins; retry in %d seconds", wait);
    return -1;
}

/* Counts a failed attempt against both keys (whether or not the client is still there to be answered). */
static void attempt_count(const attempt_t *a)
{
    static _Atomic uint64_t unrecorded;
    int64_t now = mer_now_unix_ms();
    int full = mer_throttle_fail(logins, a->account_key, ACCOUNT_FREE_FAILURES, now);
    full |= mer_throttle_fail(logins, a->ip_key, IP_FREE_FAILURES, now);
    if (full) {
        uint64_t n = atomic_fetch_add(&unrecorded, 1) + 1;
        if ((n & (n - 1)) == 0) /* 1, 2, 4, ...: a flood must not flood the log too */
            mer_log_warn("login back-off table is full of blocked keys: %llu failed logins not recorded",
                         (unsigned long long)n);
    }
}

/* The back-off learns an attempt's outcome: a success clears the account's key, a failure counts on both. */
static void attempt_end(const attempt_t *a, bool ok)
{
    if (ok)
        mer_throttle_clear(logins, a->account_key);
    else
        attempt_count(a);
}

/* A login is one call in three steps: the account's lookup (read pool), the password's check (offload
 * pool), the session's write (the region's writer). */
typedef struct login_call {
    mer_call_t c;
    creds_t cr;
    char password[PASSWORD_MAX];
    char stored_hash[MER_PWHASH_MAX];
    bool ok;
    mer_account_t a; /* as stored; a.id 0 when there is no such account */
    char region[MER_REGION_NAME_MAX];
    attempt_t at;
    char token[MER_TOKEN_MAX], token_hash[65];
    char guest_cart[64];
    mer_cart_merge_t merge; /* what became of the guest cart's lines */
    bool merged;
    int64_t expires_at;
} login_call_t;

static void login_cleanup(mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    sodium_memzero(j->password, sizeof(j->password));
    sodium_memzero(j->token, sizeof(j->token));
}

static int login_write(mer_db_t *db, mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    int64_t now = mer_now_unix_ms();
    j->expires_at = now + MER_SESSION_TTL_MS;
    int err = mer_session_open(db, j->a.id, j->token_hash, now, j->expires_at);
    if (err)
        return err;
    if (j->guest_cart[0]) {
        err = mer_cart_merge(db, j->guest_cart, j->a.id, &j->merge);
        if (err && err != MER_E_NOT_FOUND)
            return err;
        j->merged = err == 0; /* a stale cart id is not an error: there is just nothing to report */
    }
    return 0;
}

static void login_reply(mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    char ts[32];
    mer_format_utc_ms(j->expires_at, ts);
    json_t *out = json_pack("{s:s,s:s,s:s,s:o}", "token", j->token, "token_type", "Bearer", "expires_at", ts, "user",
                            user_json(&j->a, j->region));
    if (j->merged)
        json_object_set_new(out, "cart_merge", mer_cart_merge_json(&j->merge));
    mer_reply_json(c->r, 201, out);
}

static int login_verify(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    login_call_t *j = (login_call_t *)c;
    j->ok = mer_password_matches(j->stored_hash, j->password, sizeof(j->password));
    return 0;
}

/* After the check, on the loop, answered or not: the back-off learns the outcome. */
static void login_counted(mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    attempt_end(&j->at, j->ok);
    c->committed = NULL;
}

static void login_verified(mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    if (!j->ok) {
        mer_reply_error(c->r, MER_E_UNAUTHORIZED, NULL, "wrong email, phone or password");
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "mct_%s_", j->region);
    mer_token_new(prefix, j->token, j->token_hash);
    c->reply = login_reply;
    mer_call_write(c, j->region, login_write);
}

static int login_find(mer_db_t *db, mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    int err = mer_account_find(db, j->cr.email, j->cr.phone, &j->a, j->stored_hash);
    if (err == MER_E_NOT_FOUND) { /* checked against the dummy hash all the same */
        memset(&j->a, 0, sizeof(j->a));
        j->stored_hash[0] = '\0';
        err = 0;
    }
    return err;
}

static void login_found(mer_call_t *c)
{
    login_call_t *j = (login_call_t *)c;
    /* one back-off per account, whichever of its email and phone is tried; per name tried when none has it */
    if (j->a.id)
        snprintf(j->at.account_key, sizeof(j->at.account_key), "account:%s:#%lld", j->region, (long long)j->a.id);
    else
        snprintf(j->at.account_key, sizeof(j->at.account_key), "account:%s:%s", j->region,
                 j->cr.email[0] ? j->cr.email : j->cr.phone);
    if (attempt_start(c->r, &j->at) != 0) /* answered 429 */
        return;
    c->reply = login_verified;
    c->committed = login_counted;
    mer_call_offload(c, login_verify);
}

static void h_login(mer_req_t *r)
{
    static const char *const keys[] = {"email", "phone", "password", "country", NULL};
    creds_t c;
    if (read_creds(r, &c, keys, false) != 0)
        return;
    login_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = login_cleanup; /* the password and token are wiped however the login ends */
    j->cr = c;
    snprintf(j->password, sizeof(j->password), "%s", c.password);
    j->cr.password = NULL;
    snprintf(j->region, sizeof(j->region), "%s", c.country->region);
    size_t cart_len;
    const char *cart = mer_req_header(r, "x-cart-id", &cart_len);
    if (cart && cart_len < sizeof(j->guest_cart))
        snprintf(j->guest_cart, sizeof(j->guest_cart), "%.*s", (int)cart_len, cart);
    j->c.reply = login_found;
    mer_call_read(&j->c, j->region, login_find);
}

typedef struct logout_call {
    mer_call_t c;
    char token_hash[65];
} logout_call_t;

static int logout_customer(mer_db_t *db, mer_call_t *c)
{
    int err = mer_session_revoke(db, ((logout_call_t *)c)->token_hash, mer_now_unix_ms());
    return err ? err : mer_auth_user_changed(db, c->who.id);
}

static int logout_staff(mer_db_t *db, mer_call_t *c)
{
    return mer_staff_token_revoke(db, ((logout_call_t *)c)->token_hash, mer_now_unix_ms());
}

static void logout_committed(mer_call_t *c)
{
    if (c->who.role == MER_ROLE_CUSTOMER)    /* staff tokens are not cached */
        mer_auth_invalidate_user(c->who.id); /* the revoked token must not live on in the cache */
}

static void h_logout(mer_req_t *r)
{
    logout_call_t *j = mer_call_new(r, sizeof(*j));
    snprintf(j->token_hash, sizeof(j->token_hash), "%s", r->who.token_hash);
    j->c.committed = logout_committed;
    if (r->who.role == MER_ROLE_CUSTOMER)
        mer_call_write(&j->c, j->c.who.region, logout_customer);
    else /* staff tokens are revoked in catalog.db */
        mer_call_write(&j->c, MER_STORE_CATALOG, logout_staff);
}

static int me_read(mer_db_t *db, mer_call_t *c)
{
    mer_account_t a;
    int err = mer_account_get(db, c->who.id, &a);
    if (err)
        return err;
    c->result = user_json(&a, c->who.region);
    json_object_set_new(c->result, "role", json_string("customer"));
    return 0;
}

static void h_me(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_json(r, 200,
                       json_pack("{s:I,s:s,s:s}", "id", (json_int_t)r->who.id, "role",
                                 r->who.role == MER_ROLE_ADMIN ? "admin" : "operator", "countries", r->who.countries));
        return;
    }
    mer_call_t *c = mer_call_new(r, sizeof(*c));
    mer_call_read(c, c->who.region, me_read);
}

/* ---- passwords: change, reset ---- */

/* A change is four steps: the stored hash read (read pool), the current password checked and the new one
 * hashed (offload pool), the hash written and the other sessions revoked (the region's writer). */
typedef struct pw_call {
    mer_call_t c;
    char current[PASSWORD_MAX], next[PASSWORD_MAX];
    char stored_hash[MER_PWHASH_MAX], hash[MER_PWHASH_MAX];
    char keep[65]; /* the caller's own session stays */
    bool ok;
    attempt_t at;
} pw_call_t;

static void pw_cleanup(mer_call_t *c)
{
    pw_call_t *j = (pw_call_t *)c;
    sodium_memzero(j->current, sizeof(j->current));
    sodium_memzero(j->next, sizeof(j->next));
}

static void password_changed(mer_call_t *c)
{
    mer_auth_invalidate_user(c->who.id); /* the revoked sessions must not live on in the cache */
}

static int pw_write(mer_db_t *db, mer_call_t *c)
{
    pw_call_t *j = (pw_call_t *)c;
    int err = mer_account_set_password(db, c->who.id, j->hash, j->keep, mer_now_unix_ms());
    return err ? err : mer_auth_user_changed(db, c->who.id);
}

static int pw_verify(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    pw_call_t *j = (pw_call_t *)c;
    j->ok = mer_password_matches(j->stored_hash, j->current, sizeof(j->current));
    if (j->ok)
        return hash_new_password(c, j->next, j->hash);
    sodium_memzero(j->next, sizeof(j->next));
    return 0;
}

static void pw_verified(mer_call_t *c)
{
    pw_call_t *j = (pw_call_t *)c;
    attempt_end(&j->at, j->ok);
    if (!j->ok) {
        mer_reply_error(c->r, MER_E_VALIDATION, "current_password", "the current password is wrong");
        return;
    }
    c->reply = NULL;
    c->committed = password_changed;
    mer_call_write(c, c->who.region, pw_write);
}

static int pw_read(mer_db_t *db, mer_call_t *c)
{
    return mer_account_password_hash(db, c->who.id, ((pw_call_t *)c)->stored_hash);
}

static void pw_found(mer_call_t *c)
{
    pw_call_t *j = (pw_call_t *)c;
    if (attempt_start(c->r, &j->at) != 0) /* answered 429 */
        return;
    c->reply = pw_verified;
    mer_call_offload(c, pw_verify);
}

static void h_password_change(mer_req_t *r)
{
    static const char *const keys[] = {"current_password", "new_password", NULL};
    const char *current = NULL, *next = NULL;
    mer_verr_t e = {0};
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff passwords are not changed here");
        return;
    }
    if (mer_json_only(r->body, keys, "", &e) ||
        mer_json_str(r->body, "current_password", "current_password", 1, 128, true, &current, &e) ||
        mer_json_str(r->body, "new_password", "new_password", 1, 128, true, &next, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (new_password_ok(r, "new_password", next) != 0)
        return;
    if (strcmp(current, next) == 0) {
        mer_reply_error(r, MER_E_VALIDATION, "new_password", "the new password is the current one");
        return;
    }
    pw_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = pw_cleanup;
    snprintf(j->current, sizeof(j->current), "%s", current);
    snprintf(j->next, sizeof(j->next), "%s", next);
    snprintf(j->keep, sizeof(j->keep), "%s", r->who.token_hash);
    /* the login back-off's key of this account: guessing through a stolen session counts like a login */
    snprintf(j->at.account_key, sizeof(j->at.account_key), "account:%s:#%lld", r->who.region, (long long)r->who.id);
    j->c.reply = pw_found;
    mer_call_read(&j->c, r->who.region, pw_read);
}

/* A reset request: the account looked up (read pool); when it exists, a code made on the loop and stored with
 * its message (the region's writer). The answer is the same either way. */
typedef struct reset_call {
    mer_call_t c;
    creds_t cr;
    mer_account_t a;
    bool found;
    char region[MER_REGION_NAME_MAX];
    char code[MER_TOKEN_MAX], code_hash[65];
    attempt_t at;
} reset_call_t;

static void reset_cleanup(mer_call_t *c)
{
    sodium_memzero(((reset_call_t *)c)->code, MER_TOKEN_MAX);
}

static void reset_reply(mer_call_t *c)
{
    mer_reply_json(c->r, 202,
                   json_pack("{s:s,s:I}", "message",
                             "if an account has this email or phone, a reset code was sent to it", "expires_in_s",
                             (json_int_t)(MER_RESET_TTL_MS / 1000)));
}

static int reset_write(mer_db_t *db, mer_call_t *c)
{
    reset_call_t *j = (reset_call_t *)c;
    char msg[256];
    int64_t now = mer_now_unix_ms();
    snprintf(msg, sizeof(msg),
             "Your password reset code: %s (valid %lld minutes). If you did not ask for it, ignore this "
             "message.",
             j->code, (long long)(MER_RESET_TTL_MS / 60000));
    int err = mer_reset_open(db, &j->a, j->code_hash, msg, now, now + MER_RESET_TTL_MS);
    sodium_memzero(msg, sizeof(msg));
    return err;
}

static int reset_find(mer_db_t *db, mer_call_t *c)
{
    reset_call_t *j = (reset_call_t *)c;
    char unused[MER_PWHASH_MAX];
    int err = mer_account_find(db, j->cr.email, j->cr.phone, &j->a, unused);
    j->found = err == 0;
    return err == MER_E_NOT_FOUND ? 0 : err;
}

static void reset_found(mer_call_t *c)
{
    reset_call_t *j = (reset_call_t *)c;
    /* every request counts against the account: a flood of codes to one inbox stops (not against the address:
     * asking is no guess, and one office behind one address must still log in) */
    if (mer_throttle_fail(logins, j->at.account_key, ACCOUNT_FREE_FAILURES, mer_now_unix_ms()) != 0)
        mer_log_warn("login back-off table is full of blocked keys: a reset request was not recorded");
    if (!j->found) {
        reset_reply(c);
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "mpr_%s_", j->region);
    mer_token_new(prefix, j->code, j->code_hash);
    c->reply = reset_reply;
    mer_call_write(c, j->region, reset_write);
}

static void h_reset_request(mer_req_t *r)
{
    static const char *const keys[] = {"email", "phone", "country", NULL};
    creds_t cr;
    if (read_creds(r, &cr, keys, false) != 0)
        return;
    attempt_t at;
    snprintf(at.account_key, sizeof(at.account_key), "reset:%s:%s", cr.country->region,
             cr.email[0] ? cr.email : cr.phone);
    if (attempt_start(r, &at) != 0) /* answered 429 */
        return;
    reset_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = reset_cleanup;
    j->cr = cr;
    j->at = at;
    snprintf(j->region, sizeof(j->region), "%s", cr.country->region);
    j->c.reply = reset_found;
    mer_call_read(&j->c, j->region, reset_find);
}

/* A reset: the new password hashed (offload pool), then the code redeemed and the password set with every
 * session revoked (the region's writer). */
typedef struct confirm_call {
    mer_call_t c;
    char password[PASSWORD_MAX], hash[MER_PWHASH_MAX], code_hash[65];
    char region[MER_REGION_NAME_MAX];
    int64_t user_id;
    attempt_t at;
} confirm_call_t;

static void confirm_cleanup(mer_call_t *c)
{
    sodium_memzero(((confirm_call_t *)c)->password, PASSWORD_MAX);
}

static void confirm_committed(mer_call_t *c)
{
    mer_auth_invalidate_user(((confirm_call_t *)c)->user_id);
}

static void confirm_failed(mer_call_t *c)
{
    if (c->err == MER_E_NOT_FOUND) { /* a code guessed or replayed counts against the address */
        attempt_count(&((confirm_call_t *)c)->at);
        mer_reply_error(c->r, MER_E_VALIDATION, "code", "this reset code is unknown, used, replaced or expired");
        return;
    }
    mer_reply_job_error(c->r, c->err, &c->verr);
}

static int confirm_write(mer_db_t *db, mer_call_t *c)
{
    confirm_call_t *j = (confirm_call_t *)c;
    int64_t now = mer_now_unix_ms();
    int err = mer_reset_redeem(db, j->code_hash, now, &j->user_id);
    if (err == 0)
        err = mer_account_set_password(db, j->user_id, j->hash, NULL, now);
    return err ? err : mer_auth_user_changed(db, j->user_id);
}

static int confirm_hash(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    confirm_call_t *j = (confirm_call_t *)c;
    return hash_new_password(c, j->password, j->hash);
}

static void confirm_hashed(mer_call_t *c)
{
    c->reply = NULL;
    c->committed = confirm_committed;
    c->reply_error = confirm_failed;
    mer_call_write(c, ((confirm_call_t *)c)->region, confirm_write);
}

static void h_reset_confirm(mer_req_t *r)
{
    static const char *const keys[] = {"code", "new_password", NULL};
    const char *code = NULL, *next = NULL;
    mer_verr_t e = {0};
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "code", "code", 8, 90, true, &code, &e) ||
        mer_json_str(r->body, "new_password", "new_password", 1, 128, true, &next, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    /* "mpr_<region>_...": the region that holds the account */
    char region[MER_REGION_NAME_MAX];
    const char *us = strncmp(code, "mpr_", 4) == 0 ? strchr(code + 4, '_') : NULL;
    if (us == NULL || (size_t)(us - code - 4) >= sizeof(region) || us == code + 4) {
        mer_reply_error(r, MER_E_VALIDATION, "code", "this reset code is unknown, used, replaced or expired");
        return;
    }
    snprintf(region, sizeof(region), "%.*s", (int)(us - code - 4), code + 4);
    if (mer_region_find(mer_countries(), region) == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "code", "this reset code is unknown, used, replaced or expired");
        return;
    }
    if (mer_store_location(region) == NULL) {
        mer_reply_error(r, MER_E_WRONG_REGION, "code", "this reset code belongs to region %s, not served here", region);
        return;
    }
    if (new_password_ok(r, "new_password", next) != 0)
        return;
    attempt_t at; /* codes are not guessable (32 random bytes): the client's address is what is limited */
    snprintf(at.account_key, sizeof(at.account_key), "resetcode:%s", region);
    if (attempt_start(r, &at) != 0) /* answered 429 */
        return;
    confirm_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = confirm_cleanup;
    j->at = at;
    snprintf(j->region, sizeof(j->region), "%s", region);
    snprintf(j->password, sizeof(j->password), "%s", next);
    mer_token_hash(code, strlen(code), j->code_hash);
    j->c.reply = confirm_hashed;
    mer_call_offload(&j->c, confirm_hash);
}

/* ---- addresses ---- */

static json_t *address_json_with_default(const mer_address_t *a, bool is_default)
{
    json_t *o = mer_address_json(a);
    json_object_set_new(o, "default", json_boolean(is_default));
    return o;
}

typedef struct addr_call {
    mer_call_t c;
    mer_address_patch_t p;
    int64_t id; /* the address read or deleted */
} addr_call_t;

static bool customer_only(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "addresses belong to customer accounts");
        return false;
    }
    return true;
}

/* "no such address" for a missing one; the service's description (or the code's message) otherwise */
static int addr_result(mer_call_t *c, int err)
{
    if (err == MER_E_NOT_FOUND && c->verr.code == 0)
        mer_verr_set(&c->verr, err, NULL, "no such address");
    return err;
}

static void addr_changed(mer_call_t *c)
{
    mer_auth_invalidate_user(c->who.id); /* cached sessions carry the default address (anti-scalper rules) */
}

static int addr_add(mer_db_t *db, mer_call_t *c)
{
    addr_call_t *j = (addr_call_t *)c;
    mer_address_t a;
    bool def = false;
    int err = mer_address_add(db, c->who.id, c->who.region, c->who.country, &j->p, &a, &def, &c->verr);
    if (err == 0)
        err = mer_auth_user_changed(db, c->who.id);
    if (err == 0) {
        c->result = address_json_with_default(&a, def);
        c->status = 201;
    }
    return addr_result(c, err);
}

static int addr_update(mer_db_t *db, mer_call_t *c)
{
    addr_call_t *j = (addr_call_t *)c;
    mer_address_t a;
    bool def = false;
    int err = mer_address_update(db, c->who.id, c->who.region, &j->p, &a, &def, &c->verr);
    if (err == 0)
        err = mer_auth_user_changed(db, c->who.id);
    if (err == 0)
        c->result = address_json_with_default(&a, def);
    return addr_result(c, err);
}

static int addr_delete(mer_db_t *db, mer_call_t *c)
{
    int err = mer_address_delete(db, c->who.id, ((addr_call_t *)c)->id);
    return addr_result(c, err ? err : mer_auth_user_changed(db, c->who.id));
}

static void h_addr_create(mer_req_t *r)
{
    if (!customer_only(r))
        return;
    mer_address_patch_t p = {0};
    mer_verr_t e = {0};
    if (mer_address_patch_parse(r->body, &p, &e) != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    addr_call_t *j = mer_call_new(r, sizeof(*j));
    j->p = p;
    j->c.committed = addr_changed;
    mer_call_write(&j->c, j->c.who.region, addr_add);
}

static void h_addr_patch(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    mer_address_patch_t p = {0};
    mer_verr_t e = {0};
    if (mer_address_patch_parse(r->body, &p, &e) != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    p.a.id = id;
    addr_call_t *j = mer_call_new(r, sizeof(*j));
    j->p = p;
    j->c.committed = addr_changed;
    mer_call_write(&j->c, j->c.who.region, addr_update);
}

static void h_addr_delete(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    addr_call_t *j = mer_call_new(r, sizeof(*j));
    j->id = id;
    j->c.committed = addr_changed;
    mer_call_write(&j->c, j->c.who.region, addr_delete);
}

static int addr_list(mer_db_t *db, mer_call_t *c)
{
    mer_address_t a[MER_MAX_ADDRESSES];
    bool def[MER_MAX_ADDRESSES];
    int n = mer_address_list(db, c->who.id, a, def, MER_ARRAY_LEN(a));
    if (n < 0)
        return n;
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, address_json_with_default(&a[i], def[i]));
    c->result = json_pack("{s:o}", "addresses", arr);
    return 0;
}

static int addr_get(mer_db_t *db, mer_call_t *c)
{
    int64_t id = ((addr_call_t *)c)->id;
    mer_address_t a;
    int err = mer_address_load(db, c->who.id, id, &a);
    if (err)
        return addr_result(c, err);
    c->result = address_json_with_default(&a, mer_address_default(db, c->who.id) == id);
    return 0;
}

static void h_addr_list(mer_req_t *r)
{
    if (!customer_only(r))
        return;
    mer_call_t *c = mer_call_new(r, sizeof(*c));
    mer_call_read(c, c->who.region, addr_list);
}

static void h_addr_get(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    addr_call_t *j = mer_call_new(r, sizeof(*j));
    j->id = id;
    mer_call_read(&j->c, j->c.who.region, addr_get);
}

/* ---- staff ---- */

typedef struct staff_call {
    mer_call_t c; /* the staff member's lookup (read pool), the password's check (offload), the token's write */
    char email[256];
    char password[PASSWORD_MAX];
    char hash[MER_PWHASH_MAX];
    attempt_t at;
    int64_t staff_id;
    bool ok;
    char token[MER_TOKEN_MAX], token_hash[65];
} staff_call_t;

static void staff_cleanup(mer_call_t *c)
{
    staff_call_t *j = (staff_call_t *)c;
    sodium_memzero(j->password, sizeof(j->password));
    sodium_memzero(j->token, sizeof(j->token));
}

static int staff_token_write(mer_db_t *db, mer_call_t *c)
{
    staff_call_t *j = (staff_call_t *)c;
    char ts[32];
    int64_t now = mer_now_unix_ms(), exp = now + MER_STAFF_SESSION_TTL_MS;
    int err = mer_staff_token_open(db, j->staff_id, j->token_hash, now, exp);
    if (err)
        return err;
    mer_format_utc_ms(exp, ts);
    c->result = json_pack("{s:s,s:s,s:s}", "token", j->token, "token_type", "Bearer", "expires_at", ts);
    c->status = 201;
    return 0;
}

static int staff_verify(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    staff_call_t *j = (staff_call_t *)c;
    j->ok = mer_password_matches(j->hash, j->password, sizeof(j->password));
    return 0;
}

/* After the check, on the loop, answered or not: the back-off learns the outcome. */
static void staff_counted(mer_call_t *c)
{
    staff_call_t *j = (staff_call_t *)c;
    attempt_end(&j->at, j->ok);
    c->committed = NULL;
}

static void staff_verified(mer_call_t *c)
{
    staff_call_t *j = (staff_call_t *)c;
    if (!j->ok) {
        mer_reply_error(c->r, MER_E_UNAUTHORIZED, NULL, "wrong email or password");
        return;
    }
    mer_token_new("mst_", j->token, j->token_hash);
    c->reply = NULL;
    mer_call_write(c, MER_STORE_CATALOG, staff_token_write);
}

static int staff_find(mer_db_t *db, mer_call_t *c)
{
    staff_call_t *j = (staff_call_t *)c;
    int err = mer_staff_find(db, j->email, &j->staff_id, j->hash);
    if (err == MER_E_NOT_FOUND) { /* checked against the dummy hash all the same */
        j->staff_id = 0;
        j->hash[0] = '\0';
        err = 0;
    }
    return err;
}

static void staff_found(mer_call_t *c)
{
    c->reply = staff_verified;
    c->committed = staff_counted;
    mer_call_offload(c, staff_verify);
}

static void h_staff_login(mer_req_t *r)
{
    static const char *const keys[] = {"email", "password", NULL};
    mer_verr_t e = {0};
    const char *email = NULL, *password = NULL;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "email", "email", 3, 254, true, &email, &e) ||
        mer_json_str(r->body, "password", "password", 1, 128, true, &password, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    staff_call_t *j = mer_call_new(r, sizeof(*j));
    j->c.cleanup = staff_cleanup; /* the password and token are wiped however the login ends */
    if (mer_account_email_normalize(email, j->email) != 0) {
        free(j);
        mer_reply_error(r, MER_E_VALIDATION, "email", "not a valid email address");
        return;
    }
    snprintf(j->at.account_key, sizeof(j->at.account_key), "staff:%s", j->email);
    if (attempt_start(r, &j->at) != 0) {
        free(j);
        return;
    }
    snprintf(j->password, sizeof(j->password), "%s", password);
    j->c.reply = staff_found;
    mer_call_read(&j->c, MER_STORE_CATALOG, staff_find);
}

/* ---- the module ---- */

static const mer_route_t routes[] = {
    {"POST", "/api/v1/users", h_register, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/sessions", h_login, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_LOGIN},
    {"DELETE", "/api/v1/sessions/current", h_logout, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/staff/sessions", h_staff_login, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_LOGIN},
    {"GET", "/api/v1/users/me", h_me, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/users/me/password", h_password_change, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_LOGIN},
    {"POST", "/api/v1/password-resets", h_reset_request, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_LOGIN},
    {"POST", "/api/v1/password-resets/confirm", h_reset_confirm, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_LOGIN},
    {"GET", "/api/v1/users/me/addresses", h_addr_list, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/users/me/addresses", h_addr_create, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"GET", "/api/v1/users/me/addresses/{id}", h_addr_get, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/users/me/addresses/{id}", h_addr_patch, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"DELETE", "/api/v1/users/me/addresses/{id}", h_addr_delete, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

static const mer_routes_t account_routes = {routes, MER_ARRAY_LEN(routes)};

static int account_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_auth_init();
    mer_auth_cache_init();
    mer_password_init();
    logins = mer_throttle_new(THROTTLE_KEYS);
    return 0;
}

static void account_metrics(mer_buf_t *out)
{
    uint64_t hits, misses;
    mer_auth_cache_stats(&hits, &misses);
    mer_prom_family(out, "meridian_auth_cache_total", "counter",
                    "Customer token checks answered from the session cache (hit) or looked up in the store (miss).");
    mer_buf_printf(out,
                   "meridian_auth_cache_total{result=\"hit\"} %llu\nmeridian_auth_cache_total{result=\"miss\"} %llu\n",
                   (unsigned long long)hits, (unsigned long long)misses);
}

const mer_module_t mer_account_module = {
    .name = "account",
    .init = account_init,
    .routes = MER_MODULE_ROUTES(&account_routes),
    .release = mer_auth_cache_release,
    .metrics = account_metrics,
};
