/*
 * account.c — customers, sessions, addresses and staff login (see account.h).
 *
 * Each write is a writer job (store/writer.h): the handler validates, hashes on the offload pool when a
 * password is involved, queues the job, and answers from the job's done() after the commit.
 */
#include "account/account.h"

#include <ctype.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>

#include "account/auth.h"
#include "account/throttle.h"
#include "cart/cart.h"
#include "core/log.h"
#include "http/offload.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define SESSION_TTL_MS (30LL * 24 * 3600 * 1000)
#define MAX_ADDRESSES 20
#define ACCOUNT_FREE_FAILURES 5
#define IP_FREE_FAILURES 20
#define THROTTLE_KEYS 65536 /* accounts and addresses with recent failed logins (about 3 MB) */

static char dummy_hash[crypto_pwhash_STRBYTES]; /* verified against when the account does not exist */
static mer_throttle_t *logins;                  /* failed-login back-off; made by account_init */

/* ---- input ---- */

/* Lower-cases and checks an email address; returns 0 or -1. */
static int normalize_email(const char *in, char out[256])
{
    size_t n = strlen(in);
    if (n < 3 || n > 254)
        return -1;
    const char *at = strchr(in, '@');
    if (at == NULL || at == in || strchr(at + 1, '@') || strchr(at, '.') == NULL || in[n - 1] == '.')
        return -1;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c && (c <= ' ' || c == '"' || c == '<' || c == '>' || c == ',' || c == ';' || c == '\\'))
            return -1;
        out[i] = (char)tolower(c);
    }
    return 0;
}

/* Normalizes a phone number (mer_phone_normalize) and checks it is E.164 ("+919876543210": a '+' and 7 to
 * 15 digits) and fits the country's pattern. Returns 0 or -1. */
static int normalize_phone(const mer_country_t *c, const char *in, char out[MER_PHONE_MAX])
{
    int n = mer_phone_normalize(in, strlen(in), out);
    if (n < 8 || n > 16 || out[0] != '+' || out[1] < '1' || out[1] > '9')
        return -1;
    return !c->has_phone_re || regexec(&c->phone_re, out, 0, NULL, 0) == 0 ? 0 : -1;
}

typedef struct creds {
    const mer_country_t *country;
    char email[256];           /* normalized; "" when not given */
    char phone[MER_PHONE_MAX]; /* normalized; "" when not given */
    const char *password;
} creds_t;

/*
 * Reads {email, phone, password, country} from the body: at least one of email and phone; both only when
 * both_ok (registration; a login names one). The country must be known and served by this node (404, 421).
 * Returns 0, or answers the error and returns -1.
 */
static int read_creds(mer_req_t *r, creds_t *c, const char *const *allowed, bool both_ok)
{
    mer_verr_t e = {0};
    const char *email = NULL, *phone = NULL, *country = NULL;
    memset(c, 0, sizeof(*c));
    if (mer_json_only(r->body, allowed, "", &e) || mer_json_str(r->body, "email", "email", 3, 254, false, &email, &e) ||
        mer_json_str(r->body, "phone", "phone", 8, 32, false, &phone, &e) ||
        mer_json_str(r->body, "password", "password", 1, 128, true, &c->password, &e) ||
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
    if (email && normalize_email(email, c->email) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "email", "%s is not a valid email address", email);
        return -1;
    }
    if (phone && normalize_phone(c->country, phone, c->phone) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "phone", "%s is not a valid phone number in %s (E.164, e.g. +91...)",
                        phone, c->country->code);
        return -1;
    }
    return 0;
}

static json_t *user_json(int64_t id, const char *email, const char *phone, const char *name, const char *country,
                         const char *region, int64_t created_at)
{
    char ts[32];
    mer_format_utc_ms(created_at, ts);
    return json_pack("{s:I,s:s?,s:s?,s:s,s:s,s:s,s:s}", "id", (json_int_t)id, "email", email && *email ? email : NULL,
                     "phone", phone && *phone ? phone : NULL, "name", name, "country", country, "region", region,
                     "created_at", ts);
}

/* ---- registration ---- */

typedef struct reg_job {
    mer_wjob_t w;
    mer_job_t o;
    mer_req_t *r;
    creds_t c;
    char password[513]; /* 128 characters of up to 4 bytes */
    char name[801];
    char region[16];
    char hash[crypto_pwhash_STRBYTES];
    int64_t id, created_at;
    const char *taken; /* "email" or "phone" when another account has it */
} reg_job_t;

static void reg_free(reg_job_t *j)
{
    sodium_memzero(j->password, sizeof(j->password));
    free(j);
}

static int reg_run(mer_db_t *db, mer_wjob_t *w)
{
    reg_job_t *j = H2O_STRUCT_FROM_MEMBER(reg_job_t, w, w);
    int64_t other = 0;
    /* the unique indexes are the guard; these reads only name the field (the writer runs jobs one by one) */
    if (j->c.email[0] && mer_db_query_int(db, &other, "SELECT id FROM user WHERE email = ?", "s", j->c.email) == 0)
        j->taken = "email";
    else if (j->c.phone[0] && mer_db_query_int(db, &other, "SELECT id FROM user WHERE phone = ?", "s", j->c.phone) == 0)
        j->taken = "phone";
    if (j->taken)
        return MER_E_ALREADY_EXISTS;
    return mer_db_query_int(db, &j->id,
                            "INSERT INTO user (email, phone, password_hash, country, name, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                            "sssssi", j->c.email[0] ? j->c.email : NULL, j->c.phone[0] ? j->c.phone : NULL, j->hash,
                            j->c.country->code, j->name, j->created_at);
}

static void reg_done(mer_wjob_t *w)
{
    reg_job_t *j = H2O_STRUCT_FROM_MEMBER(reg_job_t, w, w);
    mer_req_t *r = j->r;
    if (!r->gone) {
        if (w->err == MER_E_ALREADY_EXISTS) {
            const char *field = j->taken ? j->taken : j->c.email[0] ? "email" : "phone";
            mer_reply_error(r, MER_E_ALREADY_EXISTS, field, "an account with this %s already exists",
                            strcmp(field, "email") == 0 ? "email" : "phone number");
        } else if (w->err)
            mer_reply_error(r, w->err, NULL, NULL);
        else
            mer_reply_json(
                r, 201,
                user_json(j->id, j->c.email, j->c.phone, j->name, j->c.country->code, j->region, j->created_at));
    }
    mer_req_release(r);
    reg_free(j);
}

static void reg_hash(mer_job_t *o)
{
    reg_job_t *j = H2O_STRUCT_FROM_MEMBER(reg_job_t, o, o);
    if (crypto_pwhash_str(j->hash, j->password, strlen(j->password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        j->hash[0] = '\0';
    sodium_memzero(j->password, sizeof(j->password));
}

static void reg_hashed(mer_job_t *o)
{
    reg_job_t *j = H2O_STRUCT_FROM_MEMBER(reg_job_t, o, o);
    mer_req_t *r = j->r;
    if (r->gone || j->hash[0] == '\0') {
        if (!r->gone)
            mer_reply_error(r, MER_E_INTERNAL, NULL, "password hashing failed");
        mer_req_release(r);
        reg_free(j);
        return;
    }
    j->w.run = reg_run;
    j->w.done = reg_done;
    if (mer_writer_submit(j->region, &j->w) != 0) {
        mer_reply_error(r, MER_E_UNAVAILABLE, NULL, NULL);
        mer_req_release(r);
        reg_free(j);
    }
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
    size_t plen = strlen(c.password);
    if (plen < 8) {
        mer_reply_error(r, MER_E_VALIDATION, "password", "passwords need at least 8 characters");
        return;
    }
    reg_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->c = c;
    memcpy(j->password, c.password, plen + 1);
    j->c.password = NULL;
    snprintf(j->name, sizeof(j->name), "%s", name);
    snprintf(j->region, sizeof(j->region), "%s", c.country->region);
    j->created_at = mer_now_unix_ms();
    j->o.work = reg_hash;
    j->o.done = reg_hashed;
    mer_req_hold(r);
    mer_offload_submit(&j->o);
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

/* Counts a failed attempt against both keys and answers 401 with msg, unless the client went away. */
static void attempt_failed(mer_req_t *r, const attempt_t *a, const char *msg)
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
    if (!r->gone)
        mer_reply_error(r, MER_E_UNAUTHORIZED, NULL, "%s", msg);
}

/*
 * Does password match stored_hash? With no stored hash (unknown account) it is checked against
 * dummy_hash all the same, so both cases take as long, and fails. Wipes password. Offload pool only.
 */
static bool password_matches(const char *stored_hash, char *password, size_t cap)
{
    const char *h = stored_hash[0] ? stored_hash : dummy_hash;
    bool ok = crypto_pwhash_str_verify(h, password, strlen(password)) == 0 && stored_hash[0] != '\0';
    sodium_memzero(password, cap);
    return ok;
}

typedef struct login_job {
    mer_wjob_t w;
    mer_job_t o;
    mer_req_t *r;
    creds_t c;
    char password[513];
    char stored_hash[crypto_pwhash_STRBYTES];
    bool ok;
    /* the account, as stored */
    int64_t user_id, created_at;
    char name[801], email[256], phone[32], country[3];
    char region[16];
    attempt_t at;
    char token[MER_TOKEN_MAX], token_hash[65];
    char guest_cart[64];
    mer_cart_merge_t merge; /* what became of the guest cart's lines */
    bool merged;
    int64_t expires_at;
} login_job_t;

static void login_free(login_job_t *j)
{
    sodium_memzero(j->password, sizeof(j->password));
    sodium_memzero(j->token, sizeof(j->token));
    free(j);
}

static int login_run(mer_db_t *db, mer_wjob_t *w)
{
    login_job_t *j = H2O_STRUCT_FROM_MEMBER(login_job_t, w, w);
    int64_t now = mer_now_unix_ms();
    j->expires_at = now + SESSION_TTL_MS;
    if (mer_db_exec(db, "INSERT INTO session (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", "siii",
                    j->token_hash, j->user_id, now, j->expires_at) < 0)
        return MER_E_INTERNAL;
    if (j->guest_cart[0]) {
        int err = mer_cart_merge(db, j->guest_cart, j->user_id, &j->merge);
        if (err && err != MER_E_NOT_FOUND)
            return err;
        j->merged = err == 0; /* a stale cart id is not an error: there is just nothing to report */
    }
    return 0;
}

static void login_done(mer_wjob_t *w)
{
    login_job_t *j = H2O_STRUCT_FROM_MEMBER(login_job_t, w, w);
    mer_req_t *r = j->r;
    if (!r->gone) {
        if (w->err) {
            mer_reply_error(r, w->err, NULL, NULL);
        } else {
            char ts[32];
            mer_format_utc_ms(j->expires_at, ts);
            json_t *out =
                json_pack("{s:s,s:s,s:s,s:o}", "token", j->token, "token_type", "Bearer", "expires_at", ts, "user",
                          user_json(j->user_id, j->email, j->phone, j->name, j->country, j->region, j->created_at));
            if (j->merged)
                json_object_set_new(out, "cart_merge", mer_cart_merge_json(&j->merge));
            mer_reply_json(r, 201, out);
        }
    }
    mer_req_release(r);
    login_free(j);
}

static void login_verify(mer_job_t *o)
{
    login_job_t *j = H2O_STRUCT_FROM_MEMBER(login_job_t, o, o);
    j->ok = password_matches(j->stored_hash, j->password, sizeof(j->password));
}

static void login_verified(mer_job_t *o)
{
    login_job_t *j = H2O_STRUCT_FROM_MEMBER(login_job_t, o, o);
    mer_req_t *r = j->r;
    if (j->ok)
        mer_throttle_clear(logins, j->at.account_key);
    else
        attempt_failed(r, &j->at, "wrong email, phone or password");
    if (!j->ok || r->gone) {
        mer_req_release(r);
        login_free(j);
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "mct_%s_", j->region);
    mer_token_new(prefix, j->token, j->token_hash);
    j->w.run = login_run;
    j->w.done = login_done;
    if (mer_writer_submit(j->region, &j->w) != 0) {
        mer_reply_error(r, MER_E_UNAVAILABLE, NULL, NULL);
        mer_req_release(r);
        login_free(j);
    }
}

static void h_login(mer_req_t *r)
{
    static const char *const keys[] = {"email", "phone", "password", "country", NULL};
    creds_t c;
    if (read_creds(r, &c, keys, false) != 0)
        return;
    login_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->c = c;
    snprintf(j->password, sizeof(j->password), "%s", c.password);
    j->c.password = NULL;
    snprintf(j->region, sizeof(j->region), "%s", c.country->region);
    size_t cart_len;
    const char *cart = mer_req_header(r, "x-cart-id", &cart_len);
    if (cart && cart_len < sizeof(j->guest_cart))
        snprintf(j->guest_cart, sizeof(j->guest_cart), "%.*s", (int)cart_len, cart);

    /* email and phone are unique in the region's database; either finds the one account */
    mer_db_t *db = mer_store_reader(j->region);
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT id, password_hash, name, created_at, COALESCE(email, ''), "
                                    "COALESCE(phone, ''), country FROM user WHERE email = ? OR phone = ?",
                                    "ss", c.email[0] ? c.email : NULL, c.phone[0] ? c.phone : NULL);
    if (mer_rows_next(rows)) {
        j->user_id = mer_rows_int(rows, 0);
        snprintf(j->stored_hash, sizeof(j->stored_hash), "%s", mer_rows_text(rows, 1));
        snprintf(j->name, sizeof(j->name), "%s", mer_rows_text(rows, 2));
        j->created_at = mer_rows_int(rows, 3);
        snprintf(j->email, sizeof(j->email), "%s", mer_rows_text(rows, 4));
        snprintf(j->phone, sizeof(j->phone), "%s", mer_rows_text(rows, 5));
        snprintf(j->country, sizeof(j->country), "%s", mer_rows_text(rows, 6));
    }
    int err = mer_rows_end(rows);
    if (err) {
        login_free(j);
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    /* one back-off per account, whichever of its email and phone is tried; per name tried when none has it */
    if (j->user_id)
        snprintf(j->at.account_key, sizeof(j->at.account_key), "account:%s:#%lld", j->region, (long long)j->user_id);
    else
        snprintf(j->at.account_key, sizeof(j->at.account_key), "account:%s:%s", j->region,
                 c.email[0] ? c.email : c.phone);
    if (attempt_start(r, &j->at) != 0) {
        login_free(j);
        return;
    }
    j->o.work = login_verify;
    j->o.done = login_verified;
    mer_req_hold(r);
    mer_offload_submit(&j->o);
}

typedef struct logout_job {
    mer_wjob_t w;
    mer_req_t *r;
    char token_hash[65];
} logout_job_t;

static int logout_run(mer_db_t *db, mer_wjob_t *w)
{
    logout_job_t *j = H2O_STRUCT_FROM_MEMBER(logout_job_t, w, w);
    return mer_db_exec(db, "UPDATE session SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL", "is",
                       mer_now_unix_ms(), j->token_hash) < 0
               ? MER_E_INTERNAL
               : 0;
}

static void logout_done(mer_wjob_t *w)
{
    logout_job_t *j = H2O_STRUCT_FROM_MEMBER(logout_job_t, w, w);
    mer_auth_invalidate(); /* the revoked token must not live on in any cache */
    if (!j->r->gone) {
        if (w->err)
            mer_reply_error(j->r, w->err, NULL, NULL);
        else
            mer_reply_empty(j->r, 204);
    }
    mer_req_release(j->r);
    free(j);
}

static void h_logout(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        /* staff tokens are revoked in catalog.db */
        mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
        int rc = mer_db_exec(db, "UPDATE staff_token SET revoked_at = ? WHERE hash = ?", "is", mer_now_unix_ms(),
                             r->who.token_hash);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_auth_invalidate();
        if (rc < 0)
            mer_reply_error(r, rc, NULL, NULL);
        else
            mer_reply_empty(r, 204);
        return;
    }
    logout_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    snprintf(j->token_hash, sizeof(j->token_hash), "%s", r->who.token_hash);
    j->w.run = logout_run;
    j->w.done = logout_done;
    if (mer_req_submit(r, r->who.region, &j->w) != 0)
        free(j);
}

static void h_me(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_json(r, 200,
                       json_pack("{s:I,s:s,s:s}", "id", (json_int_t)r->who.id, "role",
                                 r->who.role == MER_ROLE_ADMIN ? "admin" : "operator", "countries", r->who.countries));
        return;
    }
    mer_db_t *db = mer_store_reader(r->who.region);
    mer_rows_t *rows =
        mer_db_query(db, "SELECT email, phone, name, country, created_at FROM user WHERE id = ?", "i", r->who.id);
    json_t *out = NULL;
    if (mer_rows_next(rows))
        out = user_json(r->who.id, mer_rows_text(rows, 0), mer_rows_text(rows, 1), mer_rows_text(rows, 2),
                        mer_rows_text(rows, 3), r->who.region, mer_rows_int(rows, 4));
    int err = mer_rows_end(rows);
    if (err || out == NULL) {
        json_decref(out);
        mer_reply_error(r, err ? err : MER_E_NOT_FOUND, NULL, NULL);
        return;
    }
    json_object_set_new(out, "role", json_string("customer"));
    mer_reply_json(r, 200, out);
}

/* ---- addresses ---- */

json_t *mer_address_json(const mer_address_t *a)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)a->id, "country", a->country, "name",
                     a->name, "line1", a->line1, "line2", a->line2, "city", a->city, "state", a->state, "postal_code",
                     a->postal_code, "phone", a->phone);
}

static void address_from_rows(mer_rows_t *rows, mer_address_t *a)
{
    a->id = mer_rows_int(rows, 0);
    snprintf(a->country, sizeof(a->country), "%s", mer_rows_text(rows, 1));
    snprintf(a->name, sizeof(a->name), "%s", mer_rows_text(rows, 2));
    snprintf(a->line1, sizeof(a->line1), "%s", mer_rows_text(rows, 3));
    snprintf(a->line2, sizeof(a->line2), "%s", mer_rows_text(rows, 4));
    snprintf(a->city, sizeof(a->city), "%s", mer_rows_text(rows, 5));
    snprintf(a->state, sizeof(a->state), "%s", mer_rows_text(rows, 6));
    snprintf(a->postal_code, sizeof(a->postal_code), "%s", mer_rows_text(rows, 7));
    snprintf(a->phone, sizeof(a->phone), "%s", mer_rows_text(rows, 8));
}

int mer_address_load(mer_db_t *db, int64_t user_id, int64_t id, mer_address_t *out)
{
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT id, country, name, line1, line2, city, state, postal_code, phone "
                                    "FROM address WHERE id = ? AND user_id = ?",
                                    "ii", id, user_id);
    int found = mer_rows_next(rows);
    if (found)
        address_from_rows(rows, out);
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int64_t mer_address_default(mer_db_t *db, int64_t user_id)
{
    int64_t id = 0;
    if (mer_db_query_int(db, &id, "SELECT id FROM address WHERE user_id = ? ORDER BY is_default DESC, id DESC LIMIT 1",
                         "i", user_id) != 0)
        return 0;
    return id;
}

static json_t *address_json_with_default(const mer_address_t *a, bool is_default)
{
    json_t *o = mer_address_json(a);
    json_object_set_new(o, "default", json_boolean(is_default));
    return o;
}

typedef struct addr_job {
    mer_wjob_t w;
    mer_req_t *r;
    int64_t user_id;
    mer_address_t a;
    bool make_default;
    bool deleting;
    bool patching;
    json_t *patch; /* PATCH body (owned) */
    bool is_default;
    char region[16];
    mer_verr_t e;
} addr_job_t;

static int addr_validate(const mer_address_t *a, mer_verr_t *e)
{
    const mer_countries_t *cs = mer_countries();
    const mer_country_t *c = mer_country_find(cs, a->country, 2);
    if (c == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "country", "unknown country %s", a->country);
    mer_address_in_t in = {a->name, a->line1, a->line2, a->city, a->state, a->postal_code, a->phone};
    return mer_country_check_address(c, &in, e);
}

/* Copies fields present in body into a; validates string types and lengths. */
static int addr_apply(json_t *body, mer_address_t *a, mer_verr_t *e)
{
    static const char *const keys[] = {"country", "name",        "line1", "line2",   "city",
                                       "state",   "postal_code", "phone", "default", NULL};
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } f[] = {{"name", a->name, sizeof(a->name)},    {"line1", a->line1, sizeof(a->line1)},
             {"line2", a->line2, sizeof(a->line2)}, {"city", a->city, sizeof(a->city)},
             {"state", a->state, sizeof(a->state)}, {"postal_code", a->postal_code, sizeof(a->postal_code)},
             {"phone", a->phone, sizeof(a->phone)}};
    if (mer_json_only(body, keys, "", e))
        return e->code;
    const char *country = NULL;
    if (mer_json_str(body, "country", "country", 2, 2, false, &country, e))
        return e->code;
    if (country) {
        const mer_country_t *c = mer_country_find(mer_countries(), country, strlen(country));
        if (c == NULL)
            return mer_verr_set(e, MER_E_VALIDATION, "country", "unknown country %s", country);
        snprintf(a->country, sizeof(a->country), "%s", c->code); /* canonical upper case */
    }
    for (size_t i = 0; i < MER_ARRAY_LEN(f); i++) {
        const char *v = NULL;
        if (mer_json_str(body, f[i].key, f[i].key, 0, 200, false, &v, e))
            return e->code;
        if (v)
            snprintf(f[i].dst, f[i].cap, "%s", v);
    }
    return 0;
}

static int addr_run(mer_db_t *db, mer_wjob_t *w)
{
    addr_job_t *j = H2O_STRUCT_FROM_MEMBER(addr_job_t, w, w);
    int64_t count = 0;
    int err;
    if (j->deleting) {
        int64_t was_default = 0;
        if (mer_db_query_int(db, &was_default, "SELECT is_default FROM address WHERE id = ? AND user_id = ?", "ii",
                             j->a.id, j->user_id) != 0)
            return MER_E_NOT_FOUND;
        if (mer_db_exec(db, "DELETE FROM address WHERE id = ? AND user_id = ?", "ii", j->a.id, j->user_id) < 0)
            return MER_E_INTERNAL;
        if (was_default &&
            mer_db_exec(db,
                        "UPDATE address SET is_default = 1 WHERE id = (SELECT id FROM address WHERE user_id = ? "
                        "ORDER BY id DESC LIMIT 1)",
                        "i", j->user_id) < 0)
            return MER_E_INTERNAL;
        return 0;
    }
    if (j->patching) {
        int64_t cur_default = 0;
        if ((err = mer_address_load(db, j->user_id, j->a.id, &j->a)) != 0)
            return err;
        mer_db_query_int(db, &cur_default, "SELECT is_default FROM address WHERE id = ?", "i", j->a.id);
        if (addr_apply(j->patch, &j->a, &j->e) || addr_validate(&j->a, &j->e))
            return j->e.code;
        const mer_country_t *c = mer_country_find(mer_countries(), j->a.country, 2);
        if (strcmp(c->region, j->region) != 0)
            return mer_verr_set(&j->e, MER_E_VALIDATION, "country", "addresses must be in your region (%s)", j->region);
        if (mer_db_exec(db,
                        "UPDATE address SET country = ?, name = ?, line1 = ?, line2 = ?, city = ?, state = ?, "
                        "postal_code = ?, phone = ? WHERE id = ? AND user_id = ?",
                        "ssssssssii", j->a.country, j->a.name, j->a.line1, j->a.line2, j->a.city, j->a.state,
                        j->a.postal_code, j->a.phone, j->a.id, j->user_id) < 0)
            return MER_E_INTERNAL;
        j->is_default = cur_default != 0;
    } else {
        if (mer_db_query_int(db, &count, "SELECT COUNT(*) FROM address WHERE user_id = ?", "i", j->user_id) != 0)
            return MER_E_INTERNAL;
        if (count >= MAX_ADDRESSES)
            return mer_verr_set(&j->e, MER_E_VALIDATION, NULL, "at most %d addresses per account", MAX_ADDRESSES);
        if (count == 0)
            j->make_default = true;
        err = mer_db_query_int(db, &j->a.id,
                               "INSERT INTO address (user_id, country, name, line1, line2, city, state, postal_code, "
                               "phone, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id",
                               "issssssssi", j->user_id, j->a.country, j->a.name, j->a.line1, j->a.line2, j->a.city,
                               j->a.state, j->a.postal_code, j->a.phone, mer_now_unix_ms());
        if (err)
            return err;
    }
    if (j->make_default) {
        if (mer_db_exec(db, "UPDATE address SET is_default = (id = ?) WHERE user_id = ?", "ii", j->a.id, j->user_id) <
            0)
            return MER_E_INTERNAL;
        j->is_default = true;
    }
    return 0;
}

static void addr_done(mer_wjob_t *w)
{
    addr_job_t *j = H2O_STRUCT_FROM_MEMBER(addr_job_t, w, w);
    if (w->err == 0)
        mer_auth_invalidate(); /* cached sessions carry the default address for anti-scalper rules */
    mer_req_t *r = j->r;
    if (!r->gone) {
        if (w->err && j->e.code)
            mer_reply_verr(r, &j->e);
        else if (w->err)
            mer_reply_error(r, w->err, NULL, w->err == MER_E_NOT_FOUND ? "no such address" : NULL);
        else if (j->deleting)
            mer_reply_empty(r, 204);
        else
            mer_reply_json(r, j->patching ? 200 : 201, address_json_with_default(&j->a, j->is_default));
    }
    json_decref(j->patch);
    mer_req_release(r);
    free(j);
}

static addr_job_t *addr_job_new(mer_req_t *r)
{
    addr_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->user_id = r->who.id;
    snprintf(j->region, sizeof(j->region), "%s", r->who.region);
    j->w.run = addr_run;
    j->w.done = addr_done;
    return j;
}

static bool customer_only(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "addresses belong to customer accounts");
        return false;
    }
    return true;
}

static void h_addr_create(mer_req_t *r)
{
    if (!customer_only(r))
        return;
    addr_job_t *j = addr_job_new(r);
    snprintf(j->a.country, sizeof(j->a.country), "%s", r->who.country);
    bool def = false;
    if (addr_apply(r->body, &j->a, &j->e) || mer_json_bool(r->body, "default", "default", false, &def, &j->e) ||
        addr_validate(&j->a, &j->e)) {
        mer_reply_verr(r, &j->e);
        free(j);
        return;
    }
    const mer_country_t *c = mer_country_find(mer_countries(), j->a.country, 2);
    if (strcmp(c->region, r->who.region) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "country", "addresses must be in a country of your region (%s)",
                        r->who.region);
        free(j);
        return;
    }
    j->make_default = def;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);
}

static void h_addr_patch(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    addr_job_t *j = addr_job_new(r);
    j->a.id = id;
    j->patching = true;
    bool def = false;
    if (mer_json_bool(r->body, "default", "default", false, &def, &j->e)) {
        mer_reply_verr(r, &j->e);
        free(j);
        return;
    }
    j->make_default = def;
    j->patch = json_incref(r->body);
    if (mer_req_submit(r, j->region, &j->w) != 0) {
        json_decref(j->patch);
        free(j);
    }
}

static void h_addr_delete(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    addr_job_t *j = addr_job_new(r);
    j->a.id = id;
    j->deleting = true;
    if (mer_req_submit(r, j->region, &j->w) != 0)
        free(j);
}

static void h_addr_list(mer_req_t *r)
{
    if (!customer_only(r))
        return;
    mer_db_t *db = mer_store_reader(r->who.region);
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT id, country, name, line1, line2, city, state, postal_code, phone, is_default "
                     "FROM address WHERE user_id = ? ORDER BY id",
                     "i", r->who.id);
    json_t *arr = json_array();
    while (mer_rows_next(rows)) {
        mer_address_t a;
        address_from_rows(rows, &a);
        json_array_append_new(arr, address_json_with_default(&a, mer_rows_int(rows, 9) != 0));
    }
    int err = mer_rows_end(rows);
    if (err) {
        json_decref(arr);
        mer_reply_error(r, err, NULL, NULL);
        return;
    }
    mer_reply_json(r, 200, json_pack("{s:o}", "addresses", arr));
}

static void h_addr_get(mer_req_t *r)
{
    int64_t id;
    mer_address_t a;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    mer_db_t *db = mer_store_reader(r->who.region);
    int err = mer_address_load(db, r->who.id, id, &a);
    if (err) {
        mer_reply_error(r, err, NULL, err == MER_E_NOT_FOUND ? "no such address" : NULL);
        return;
    }
    mer_reply_json(r, 200, address_json_with_default(&a, mer_address_default(db, r->who.id) == id));
}

/* ---- load-test accounts ---- */

int mer_account_bulk_create(mer_db_t *db, const mer_country_t *c, int64_t count, const char *prefix,
                            const char *password, json_t *address, FILE *out)
{
    char hash[crypto_pwhash_STRBYTES];
    mer_address_t a;
    mer_verr_t e = {0};
    memset(&a, 0, sizeof(a));
    if (address) {
        if (addr_apply(address, &a, &e) != 0)
            return e.code;
        snprintf(a.country, sizeof(a.country), "%s", c->code);
        if (addr_validate(&a, &e) != 0) {
            mer_log_error("load-users: address: %s: %s", e.field, e.message);
            return e.code;
        }
    }
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return MER_E_INTERNAL;
    int64_t now = mer_now_unix_ms();
    int err = 0;
    char tprefix[32];
    snprintf(tprefix, sizeof(tprefix), "mct_%s_", c->region);
    for (int64_t done = 0; done < count && err == 0;) {
        if ((err = mer_db_begin(db)) != 0)
            break;
        for (int64_t k = 0; k < 5000 && done < count && err == 0; k++, done++) {
            char email[256], token[MER_TOKEN_MAX], thash[65];
            int64_t id = 0;
            snprintf(email, sizeof(email), "%s%lld@load.test", prefix, (long long)done);
            err = mer_db_query_int(db, &id,
                                   "INSERT INTO user (email, password_hash, country, name, created_at) "
                                   "VALUES (?, ?, ?, 'load', ?) RETURNING id",
                                   "sssi", email, hash, c->code, now);
            if (err)
                break;
            mer_token_new(tprefix, token, thash);
            if (mer_db_exec(db, "INSERT INTO session (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                            "siii", thash, id, now, now + SESSION_TTL_MS) < 0 ||
                (address && mer_db_exec(db,
                                        "INSERT INTO address (user_id, country, name, line1, line2, city, state, "
                                        "postal_code, phone, is_default, created_at) "
                                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                                        "issssssssi", id, a.country, a.name, a.line1, a.line2, a.city, a.state,
                                        a.postal_code, a.phone, now) < 0))
                err = MER_E_INTERNAL;
            fprintf(out, "%s\n", token);
        }
        if (err)
            mer_db_rollback(db);
        else
            err = mer_db_commit(db);
    }
    return err;
}

/* ---- staff ---- */

int mer_staff_create(mer_db_t *db, const char *email, const char *password, const char *role, const char *countries,
                     const char **why)
{
    char norm[256], hash[crypto_pwhash_STRBYTES], canon[MER_STAFF_COUNTRIES_MAX];
    char have_role[16] = "", have[MER_STAFF_COUNTRIES_MAX] = "";
    *why = "the email must be valid and the password 12 to 128 characters"; /* login takes at most 128 */
    if (normalize_email(email, norm) != 0 || strlen(password) < 12 || strlen(password) > 128)
        return MER_E_VALIDATION;
    /* rights not named are kept (a password reset must not promote an operator to admin) */
    mer_rows_t *rows = mer_db_query(db, "SELECT role, countries FROM staff WHERE email = ?", "s", norm);
    if (mer_rows_next(rows)) {
        snprintf(have_role, sizeof(have_role), "%s", mer_rows_text(rows, 0));
        snprintf(have, sizeof(have), "%s", mer_rows_text(rows, 1));
    }
    int err = mer_rows_end(rows);
    if (err)
        return err;
    if (role == NULL)
        role = have_role[0] ? have_role : "admin";
    if (countries == NULL && strcmp(role, have_role) == 0 && strcmp(role, "operator") == 0)
        countries = have;
    if ((err = mer_staff_rights_check(role, countries, canon, why)) != 0)
        return err;
    *why = "cannot write the staff member";
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return MER_E_INTERNAL;
    int rc = mer_db_exec(db,
                         "INSERT INTO staff (email, password_hash, role, countries, created_at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, "
                         "role = excluded.role, countries = excluded.countries",
                         "ssssi", norm, hash, role, canon, mer_now_unix_ms());
    return rc < 0 ? rc : 0;
}

typedef struct staff_job {
    mer_job_t o;
    mer_req_t *r;
    char email[256];
    char password[513];
    char hash[crypto_pwhash_STRBYTES];
    attempt_t at;
    int64_t staff_id;
    bool ok;
} staff_job_t;

static void staff_verify(mer_job_t *o)
{
    staff_job_t *j = H2O_STRUCT_FROM_MEMBER(staff_job_t, o, o);
    j->ok = password_matches(j->hash, j->password, sizeof(j->password));
}

static void staff_verified(mer_job_t *o)
{
    staff_job_t *j = H2O_STRUCT_FROM_MEMBER(staff_job_t, o, o);
    mer_req_t *r = j->r;
    if (!j->ok) {
        attempt_failed(r, &j->at, "wrong email or password");
    } else if (!r->gone) {
        char token[MER_TOKEN_MAX], hash[65], ts[32];
        int64_t now = mer_now_unix_ms();
        mer_throttle_clear(logins, j->at.account_key);
        mer_token_new("mst_", token, hash);
        int64_t exp = now + 12LL * 3600 * 1000;
        mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
        int rc = mer_db_exec(db, "INSERT INTO staff_token (hash, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                             "siii", hash, j->staff_id, now, exp);
        mer_store_write_end(MER_STORE_CATALOG);
        mer_format_utc_ms(exp, ts);
        if (rc < 0)
            mer_reply_error(r, rc, NULL, NULL);
        else
            mer_reply_json(r, 201,
                           json_pack("{s:s,s:s,s:s}", "token", token, "token_type", "Bearer", "expires_at", ts));
        sodium_memzero(token, sizeof(token));
    }
    mer_req_release(r);
    free(j);
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
    staff_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    if (normalize_email(email, j->email) != 0) {
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
    mer_db_t *db = mer_store_reader(MER_STORE_CATALOG);
    mer_rows_t *rows =
        mer_db_query(db, "SELECT id, COALESCE(password_hash, '') FROM staff WHERE email = ?", "s", j->email);
    if (mer_rows_next(rows)) {
        j->staff_id = mer_rows_int(rows, 0);
        snprintf(j->hash, sizeof(j->hash), "%s", mer_rows_text(rows, 1));
    }
    mer_rows_end(rows);
    j->o.work = staff_verify;
    j->o.done = staff_verified;
    mer_req_hold(r);
    mer_offload_submit(&j->o);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/users", h_register, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/sessions", h_login, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_LOGIN},
    {"DELETE", "/api/v1/sessions/current", h_logout, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/staff/sessions", h_staff_login, MER_AUTH_PUBLIC, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_LOGIN},
    {"GET", "/api/v1/users/me", h_me, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
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
    unsigned char pw[32];
    randombytes_buf(pw, sizeof(pw));
    if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        mer_die("cannot compute the dummy password hash");
    logins = mer_throttle_new(THROTTLE_KEYS);
    return 0;
}

const mer_module_t mer_account_module = {
    .name = "account",
    .init = account_init,
    .routes = MER_MODULE_ROUTES(&account_routes),
    .release = mer_auth_cache_release,
};
