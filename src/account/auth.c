#include "account/auth.h"

#include <sodium.h>
#include <stdio.h>

#include "core/log.h"
#include "region/country.h"
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

int mer_staff_issue_token(mer_db_t *db, const char *email, const char *role, const char *countries, int ttl_days,
                          char token[MER_TOKEN_MAX])
{
    char hash[65];
    int64_t now = mer_now_unix_ms(), staff_id = 0;
    int err = mer_db_begin(db);
    if (err)
        return err;
    err = mer_db_query_int(db, &staff_id, "SELECT id FROM staff WHERE email = ?", "s", email);
    if (err == MER_E_NOT_FOUND)
        err = mer_db_query_int(db, &staff_id,
                               "INSERT INTO staff (email, role, countries, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                               "sssi", email, role, countries ? countries : "", now);
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

static int authenticate_staff(mer_req_t *r, const char *token, size_t len)
{
    char hash[65];
    mer_db_t *db = mer_store_reader(MER_STORE_CATALOG);
    if (db == NULL)
        return MER_E_INTERNAL;
    mer_token_hash(token, len, hash);
    int err = MER_E_UNAUTHORIZED;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT s.id, s.role, s.countries FROM staff_token t JOIN staff s ON s.id = t.staff_id "
                                    "WHERE t.hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
                                    "si", hash, mer_now_unix_ms());
    if (mer_rows_next(rows)) {
        r->who.id = mer_rows_int(rows, 0);
        r->who.role = strcmp(mer_rows_text(rows, 1), "admin") == 0 ? MER_ROLE_ADMIN : MER_ROLE_OPERATOR;
        snprintf(r->who.countries, sizeof(r->who.countries), "%s", mer_rows_text(rows, 2));
        memcpy(r->who.token_hash, hash, sizeof(hash));
        err = 0;
    }
    int qerr = mer_rows_end(rows);
    return qerr ? qerr : err;
}

/* "mct_<region>_<secret>": checked in the region's own database only. */
static int authenticate_customer(mer_req_t *r, const char *token, size_t len)
{
    char region[MER_REGION_NAME_MAX], hash[65];
    const char *us = memchr(token + 4, '_', len - 4);
    if (us == NULL || (size_t)(us - token - 4) >= sizeof(region))
        return MER_E_UNAUTHORIZED;
    snprintf(region, sizeof(region), "%.*s", (int)(us - token - 4), token + 4);
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL)
        return MER_E_UNAUTHORIZED; /* not a region of this node */
    mer_token_hash(token, len, hash);
    int err = MER_E_UNAUTHORIZED;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT u.id, u.country FROM session s JOIN user u ON u.id = s.user_id "
                                    "WHERE s.hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
                                    "si", hash, mer_now_unix_ms());
    if (mer_rows_next(rows)) {
        r->who.role = MER_ROLE_CUSTOMER;
        r->who.id = mer_rows_int(rows, 0);
        snprintf(r->who.country, sizeof(r->who.country), "%s", mer_rows_text(rows, 1));
        snprintf(r->who.region, sizeof(r->who.region), "%s", region);
        memcpy(r->who.token_hash, hash, sizeof(hash));
        err = 0;
    }
    int qerr = mer_rows_end(rows);
    return qerr ? qerr : err;
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
