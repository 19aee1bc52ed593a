#include "account/auth.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/log.h"
#include "region/country.h"
#include "store/notify.h"
#include "store/store.h"
#include "core/banned.h"

void mer_token_hash(const char *token, size_t len, char hash_hex[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, len, NULL, 0);
    sodium_bin2hex(hash_hex, 65, h, sizeof(h));
}

void mer_token_new(const char *prefix, char out[MER_TOKEN_MAX], char hash_hex[65])
{
    unsigned char raw[32];
    char b64[64];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, MER_TOKEN_MAX, "%s%s", prefix, b64);
    mer_token_hash(out, strlen(out), hash_hex);
}

int mer_staff_rights_check(const char *role, const char *countries, char canon[MER_STAFF_COUNTRIES_MAX],
                           const char **why)
{
    canon[0] = '\0';
    bool admin = strcmp(role, "admin") == 0;
    if (!admin && strcmp(role, "operator") != 0) {
        *why = "the role must be admin or operator";
        return MER_E_VALIDATION;
    }
    countries = countries ? countries : "";
    if (admin) {
        if (*countries == '\0')
            return 0;
        *why = "an admin manages every country: --countries goes with --role operator";
        return MER_E_VALIDATION;
    }
    size_t n = 0, len;
    const char *item;
    for (const char *p = countries; mer_list_next(&p, &item, &len);) {
        const mer_country_t *c = mer_country_find_any(mer_countries(), item, len); /* launching ones too */
        if (c == NULL) {
            *why = "unknown country in the list (use two-letter codes this store sells in)";
            return MER_E_VALIDATION;
        }
        if (mer_list_has(canon, c->code))
            continue;
        if (n + 3 >= MER_STAFF_COUNTRIES_MAX) {
            *why = "too many countries for one operator";
            return MER_E_VALIDATION;
        }
        n += (size_t)snprintf(canon + n, MER_STAFF_COUNTRIES_MAX - n, "%s%s", n ? "," : "", c->code);
    }
    if (n == 0) {
        *why = "an operator needs at least one country (--countries IN,SG)";
        return MER_E_VALIDATION;
    }
    return 0;
}

/* Do two canonical country lists ("IN,SG") name the same countries, in any order? */
static bool same_countries(const char *a, const char *b)
{
    if (strlen(a) != strlen(b))
        return false;
    size_t len;
    const char *item;
    for (const char *p = a; mer_list_next(&p, &item, &len);) {
        char code[4];
        snprintf(code, sizeof(code), "%.*s", (int)len, item);
        if (!mer_list_has(b, code))
            return false;
    }
    return true;
}

int mer_staff_issue_token(mer_db_t *db, const char *email, const char *role, const char *countries, int ttl_days,
                          char token[MER_TOKEN_MAX], const char **why)
{
    char hash[65], canon[MER_STAFF_COUNTRIES_MAX];
    int64_t now = mer_now_unix_ms(), staff_id = 0;
    *why = "cannot issue a token";
    int err = mer_db_begin(db);
    if (err)
        return err;
    mer_rows_t *rows = mer_db_query(db, "SELECT id, role, countries FROM staff WHERE email = ?", "s", email);
    if (mer_rows_next(rows)) {
        staff_id = mer_rows_int(rows, 0);
        const char *have_role = mer_rows_text(rows, 1), *have = mer_rows_text(rows, 2);
        if (role && strcmp(role, have_role) != 0) {
            *why = "this staff member has another role: change it with meridian admin create";
            err = MER_E_CONFLICT;
        } else if (countries && ((err = mer_staff_rights_check(have_role, countries, canon, why)) != 0 ||
                                 !same_countries(canon, have))) {
            if (err == 0)
                *why = "this staff member manages other countries: change them with meridian admin create";
            err = err ? err : MER_E_CONFLICT;
        }
    }
    int qerr = mer_rows_end(rows);
    err = err ? err : qerr;
    if (err == 0 && staff_id == 0) {
        role = role ? role : "admin";
        if ((err = mer_staff_rights_check(role, countries, canon, why)) == 0)
            err = mer_db_query_int(db, &staff_id,
                                   "INSERT INTO staff (email, role, countries, created_at) VALUES (?, ?, ?, ?) "
                                   "RETURNING id",
                                   "sssi", email, role, canon, now);
    }
    if (err == 0) {
        mer_token_new("mst_", token, hash);
        if (mer_db_exec(db, "INSERT INTO staff_token (hash, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                        "siii", hash, staff_id, now, now + (int64_t)ttl_days * 86400000) < 0)
            err = MER_E_INTERNAL;
    }
    if (err) {
        mer_db_rollback(db);
        return err;
    }
    return mer_db_commit(db);
}

/* The staff member a token hash names, if the token is current. Any thread but an event loop. */
static int staff_token_lookup(mer_db_t *db, const char *hash, int64_t now, mer_principal_t *who)
{
    int err = MER_E_UNAUTHORIZED;
    mer_rows_t *rows =
        mer_db_query(db,
                     "SELECT s.id, s.role, s.countries FROM staff_token t JOIN staff s ON s.id = t.staff_id "
                     "WHERE t.hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
                     "si", hash, now);
    if (mer_rows_next(rows)) {
        who->id = mer_rows_int(rows, 0);
        who->role = strcmp(mer_rows_text(rows, 1), "admin") == 0 ? MER_ROLE_ADMIN : MER_ROLE_OPERATOR;
        mer_strcopy(who->countries, sizeof(who->countries), mer_rows_text(rows, 2));
        memcpy(who->token_hash, hash, 65);
        err = 0;
    }
    int qerr = mer_rows_end(rows);
    return qerr ? qerr : err;
}

/*
 * Customer tokens are checked in the region's own database, and the answer is cached in one table shared
 * by all workers (direct-mapped by the token hash, a tiny spin lock per slot) until the session expires
 * or a change to that customer invalidates it (logout, address changes: mer_auth_invalidate_user bumps
 * the customer's generation, one of USER_GENS counters picked by a hash of the id, so a logout costs the
 * other customers nothing — on launch day customers log out and change addresses while everyone grabs). A hot path such
 * as a flash-sale grab thus authenticates without touching SQLite, and a customer costs one database lookup however
 * many workers their connections land on.
 */
#define AUTH_CACHE_SLOTS (1u << 18) /* ~20 MB, touched only as customers arrive */

/* A cached session: what a customer token authenticates to. */
typedef struct auth_session {
    unsigned char hash[16]; /* the first 128 bits of the token's BLAKE2b hash */
    uint32_t gen;           /* the customer's generation before their data was read */
    int64_t expires_at;
    int64_t id, created_at;
    uint64_t phone_hash, address_hash, address_phone_hash;
    char country[3];
    uint8_t region; /* index in the country registry's regions */
} auth_session_t;

typedef struct auth_entry {
    atomic_flag busy; /* guards s */
    auth_session_t s;
} auth_entry_t;

#define USER_GENS (1u << 16)
static _Atomic uint32_t user_gen[USER_GENS];
static auth_entry_t *auth_cache;
static _Atomic uint64_t cache_hits, cache_misses;

static _Atomic uint32_t *user_gen_of(int64_t user_id)
{
    return &user_gen[((uint64_t)user_id * UINT64_C(0x9E3779B97F4A7C15)) >> 48];
}

void mer_auth_invalidate_user(int64_t user_id)
{
    atomic_fetch_add_explicit(user_gen_of(user_id), 1, memory_order_acq_rel);
}

int mer_auth_user_changed(mer_db_t *db, int64_t user_id)
{
    return mer_notify_send_id(db, "user", user_id);
}

/* Another node logged a customer out or changed what their sessions carry (store/notify.h); after a
 * reconnection (arg NULL) every customer's cached sessions go. On the listener's thread. */
static void user_note(const char *region, const char *arg)
{
    int64_t id;
    if (region == NULL) /* the catalogue's: staff tokens are not cached */
        return;
    if (arg && mer_parse_int64(arg, strlen(arg), 1, INT64_MAX, &id) == 0) {
        mer_auth_invalidate_user(id);
        return;
    }
    if (arg == NULL)
        for (size_t i = 0; i < MER_ARRAY_LEN(user_gen); i++)
            atomic_fetch_add_explicit(&user_gen[i], 1, memory_order_acq_rel);
}

void mer_auth_cache_stats(uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load_explicit(&cache_hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&cache_misses, memory_order_relaxed);
}

static void slot_lock(auth_entry_t *e)
{
    while (atomic_flag_test_and_set_explicit(&e->busy, memory_order_acquire))
        ;
}

static void slot_unlock(auth_entry_t *e)
{
    atomic_flag_clear_explicit(&e->busy, memory_order_release);
}

/* The session a customer token's hex hash names, if current. Any thread but an event loop. */
static int session_lookup(mer_db_t *db, const char *hex, int64_t now, auth_session_t *e)
{
    /* the session names its customer (for good); the customer's generation is read before their data,
     * so a change committed after this read leaves the entry stale rather than wrong */
    int64_t user_id = 0;
    int err = mer_db_query_int(db, &user_id,
                               "SELECT user_id FROM session WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?",
                               "si", hex, now);
    if (err)
        return err == MER_E_NOT_FOUND ? MER_E_UNAUTHORIZED : err;
    e->gen = atomic_load_explicit(user_gen_of(user_id), memory_order_acquire);
    err = MER_E_UNAUTHORIZED;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT u.id, u.country, s.expires_at, u.created_at, COALESCE(u.phone, ''), "
                                    "COALESCE((SELECT postal_code || '|' || lower(line1) FROM address a WHERE "
                                    "a.user_id = u.id ORDER BY a.is_default DESC, a.id DESC LIMIT 1), ''), "
                                    "COALESCE((SELECT phone FROM address a WHERE a.user_id = u.id ORDER BY "
                                    "a.is_default DESC, a.id DESC LIMIT 1), '') "
                                    "FROM session s JOIN \"user\" u ON u.id = s.user_id "
                                    "WHERE s.hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
                                    "si", hex, now);
    if (mer_rows_next(rows)) {
        e->id = mer_rows_int(rows, 0);
        mer_strcopy(e->country, sizeof(e->country), mer_rows_text(rows, 1));
        e->expires_at = mer_rows_int(rows, 2);
        e->created_at = mer_rows_int(rows, 3);
        /* phones in one form, so the account's phone and an address's phone compare (flash one_per_phone) */
        e->phone_hash = mer_phone_hash(mer_rows_text(rows, 4), mer_rows_len(rows, 4));
        e->address_hash = mer_rows_len(rows, 5) ? mer_hash64(mer_rows_text(rows, 5), mer_rows_len(rows, 5)) : 0;
        e->address_phone_hash = mer_phone_hash(mer_rows_text(rows, 6), mer_rows_len(rows, 6));
        err = 0;
    }
    int qerr = mer_rows_end(rows);
    return qerr ? qerr : err;
}

static void principal_of_session(mer_req_t *r, const auth_session_t *e, const char hex[65])
{
    r->who.role = MER_ROLE_CUSTOMER;
    r->who.id = e->id;
    memcpy(r->who.country, e->country, sizeof(r->who.country));
    mer_strcopy(r->who.region, sizeof(r->who.region), mer_countries()->regions[e->region].name);
    memcpy(r->who.token_hash, hex, 65);
    r->who.created_at = e->created_at;
    r->who.phone_hash = e->phone_hash;
    r->who.address_hash = e->address_hash;
    r->who.address_phone_hash = e->address_phone_hash;
}

/*
 * A token the cache cannot answer is looked up on the store's read pool (the loop rule: no database on
 * an event loop) while the router holds the request; the answer comes back to the request's loop, which
 * fills the cache and r->who and lets the router go on (mer_http_resume).
 */
typedef struct auth_lookup {
    mer_job_t job;
    mer_req_t *r;
    bool staff;
    char region[MER_REGION_NAME_MAX]; /* a customer token's region ("" for staff: catalog.db) */
    char hex[65];                     /* the token's hash */
    int64_t now;
    /* a customer's session: cached under slot with the customer's generation read before their data
     * (session_lookup), so a mer_auth_invalidate_user() that happens meanwhile leaves it stale, not wrong */
    auth_entry_t *slot;
    auth_session_t s;
    mer_principal_t who; /* a staff member */
} auth_lookup_t;

static void lookup_work(mer_job_t *job)
{
    auth_lookup_t *l = MER_CONTAINER_OF(job, auth_lookup_t, job);
    const char *region = l->staff ? MER_STORE_CATALOG : l->region;
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL && mer_store_location(region) != NULL)
        job->err = MER_E_UNAVAILABLE; /* held here, but its database is out of reach: not the token's fault */
    else if (db == NULL)
        job->err = l->staff ? MER_E_INTERNAL : MER_E_UNAUTHORIZED; /* a customer of a region not held here */
    else if (l->staff)
        job->err = staff_token_lookup(db, l->hex, l->now, &l->who);
    else
        job->err = session_lookup(db, l->hex, l->now, &l->s);
}

static void lookup_done(mer_job_t *job)
{
    auth_lookup_t *l = MER_CONTAINER_OF(job, auth_lookup_t, job);
    mer_req_t *r = l->r;
    if (job->err == 0 && l->staff) {
        r->who = l->who;
    } else if (job->err == 0) {
        if (l->slot) {
            slot_lock(l->slot);
            l->slot->s = l->s;
            slot_unlock(l->slot);
        }
        principal_of_session(r, &l->s, l->hex);
    }
    int err = job->err;
    free(l);
    mer_http_resume(r, err);
}

/* Holds r and looks l up on the read pool; MER_AUTH_PENDING, or an error when the pool takes no job. */
static int lookup_submit(mer_req_t *r, auth_lookup_t *l)
{
    l->r = r;
    l->now = mer_now_unix_ms();
    l->job = (mer_job_t){.work = lookup_work, .done = lookup_done};
    mer_req_hold(r);
    if (mer_store_read_submit(&l->job) != 0) {
        r->held = false;
        mer_req_release(r);
        free(l);
        return MER_E_UNAVAILABLE;
    }
    return MER_AUTH_PENDING;
}

static int authenticate_staff(mer_req_t *r, const char *token, size_t len)
{
    auth_lookup_t *l = mer_xcalloc(1, sizeof(*l));
    l->staff = true;
    mer_token_hash(token, len, l->hex);
    return lookup_submit(r, l);
}

static int authenticate_customer(mer_req_t *r, const char *token, size_t len)
{
    char region[MER_REGION_NAME_MAX];
    unsigned char raw[32];
    const char *us = memchr(token + 4, '_', len - 4);
    if (us == NULL || (size_t)(us - token - 4) >= sizeof(region))
        return MER_E_UNAUTHORIZED;
    memcpy(region, token + 4, (size_t)(us - token - 4));
    region[us - token - 4] = '\0';
    crypto_generichash(raw, sizeof(raw), (const unsigned char *)token, len, NULL, 0);
    int64_t now = mer_now_unix_ms();

    uint64_t key;
    memcpy(&key, raw, sizeof(key));
    auth_entry_t *slot = auth_cache ? &auth_cache[key & (AUTH_CACHE_SLOTS - 1)] : NULL;
    const mer_countries_t *cs = mer_countries();
    const mer_region_t *rg = mer_region_find(cs, region);
    if (rg == NULL)
        return MER_E_UNAUTHORIZED;
    uint8_t rix = (uint8_t)(rg - cs->regions);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    if (slot) { /* the hot path: a cached session answers on the loop */
        auth_session_t e;
        slot_lock(slot);
        e = slot->s;
        slot_unlock(slot);
        if (e.id && e.expires_at > now && memcmp(e.hash, raw, sizeof(e.hash)) == 0 && e.region == rix &&
            e.gen == atomic_load_explicit(user_gen_of(e.id), memory_order_acquire)) {
            atomic_fetch_add_explicit(&cache_hits, 1, memory_order_relaxed);
            principal_of_session(r, &e, hex);
            return 0;
        }
    }
    atomic_fetch_add_explicit(&cache_misses, 1, memory_order_relaxed);
    auth_lookup_t *l = mer_xcalloc(1, sizeof(*l));
    mer_strcopy(l->region, sizeof(l->region), region);
    memcpy(l->hex, hex, sizeof(hex));
    l->slot = slot;
    memcpy(l->s.hash, raw, sizeof(l->s.hash));
    l->s.region = rix;
    return lookup_submit(r, l);
}

static int authenticate(mer_req_t *r, const char *token, size_t len)
{
    if (len > 4 && memcmp(token, "mst_", 4) == 0)
        return authenticate_staff(r, token, len);
    if (len > 4 && memcmp(token, "mct_", 4) == 0)
        return authenticate_customer(r, token, len);
    return MER_E_UNAUTHORIZED;
}

void mer_auth_init(void)
{
    if (sodium_init() < 0)
        mer_die("libsodium failed to initialise");
    mer_http_set_authenticator(authenticate);
}

void mer_auth_cache_init(void)
{
    if (auth_cache == NULL) {
        auth_cache = mer_xcalloc(AUTH_CACHE_SLOTS, sizeof(auth_entry_t)); /* zero = every flag clear */
        mer_notify_on("user", user_note);
    }
}

void mer_auth_cache_release(void)
{
    free(auth_cache);
    auth_cache = NULL;
}
