/*
 * account.c — the account service: customers, sessions, addresses and staff logins (see account.h).
 *
 * Plain structs in, mer_err_t out; no HTTP here (account_http.c is the adapter). Every function is given
 * its database connection: a writer job's for writes, a read-pool thread's for reads.
 */
#include "account/account.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>

#include "account/auth.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/banned.h"

_Static_assert(MER_PWHASH_MAX == crypto_pwhash_STRBYTES, "MER_PWHASH_MAX is libsodium's hash string size");

static char dummy_hash[crypto_pwhash_STRBYTES]; /* verified against when the account does not exist */

/* ---- input rules ---- */

int mer_account_email_normalize(const char *in, char out[256])
{
    size_t n = strlen(in);
    if (n < 3 || n > 254)
        return MER_E_VALIDATION;
    const char *at = strchr(in, '@');
    if (at == NULL || at == in || strchr(at + 1, '@') || strchr(at, '.') == NULL || in[n - 1] == '.')
        return MER_E_VALIDATION;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c && (c <= ' ' || c == '"' || c == '<' || c == '>' || c == ',' || c == ';' || c == '\\'))
            return MER_E_VALIDATION;
        out[i] = (char)tolower(c);
    }
    return 0;
}

int mer_account_phone_normalize(const mer_country_t *c, const char *in, char out[MER_PHONE_MAX])
{
    int n = mer_phone_normalize(in, strlen(in), out);
    if (n < 8 || n > 16 || out[0] != '+' || out[1] < '1' || out[1] > '9')
        return MER_E_VALIDATION;
    return !c->has_phone_re || regexec(&c->phone_re, out, 0, NULL, 0) == 0 ? 0 : MER_E_VALIDATION;
}

/* ---- passwords ---- */

int mer_password_hash(const char *password, char out[MER_PWHASH_MAX])
{
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        out[0] = '\0';
        return MER_E_INTERNAL;
    }
    return 0;
}

bool mer_password_matches(const char *stored_hash, char *password, size_t cap)
{
    const char *h = stored_hash[0] ? stored_hash : dummy_hash;
    bool ok = crypto_pwhash_str_verify(h, password, strlen(password)) == 0 && stored_hash[0] != '\0';
    sodium_memzero(password, cap);
    return ok;
}

void mer_password_init(void)
{
    unsigned char pw[32];
    char text[sizeof(pw) * 2 + 1];
    randombytes_buf(pw, sizeof(pw));
    sodium_bin2hex(text, sizeof(text), pw, sizeof(pw));
    if (mer_password_hash(text, dummy_hash) != 0)
        mer_die("cannot compute the dummy password hash");
    sodium_memzero(text, sizeof(text));
}

/* ---- customers ---- */

static void account_from_rows(mer_rows_t *rows, int first, mer_account_t *a)
{
    a->id = mer_rows_int(rows, first);
    snprintf(a->email, sizeof(a->email), "%s", mer_rows_text(rows, first + 1));
    snprintf(a->phone, sizeof(a->phone), "%s", mer_rows_text(rows, first + 2));
    snprintf(a->name, sizeof(a->name), "%s", mer_rows_text(rows, first + 3));
    snprintf(a->country, sizeof(a->country), "%s", mer_rows_text(rows, first + 4));
    a->created_at = mer_rows_int(rows, first + 5);
}

#define ACCOUNT_COLUMNS "id, COALESCE(email, ''), COALESCE(phone, ''), name, country, created_at"

int mer_account_register(mer_db_t *db, mer_account_t *a, const char *password_hash, mer_verr_t *e)
{
    int64_t other = 0;
    /* the unique indexes are the guard; these reads only name the field (the writer runs jobs one by one) */
    if (a->email[0] && mer_db_query_int(db, &other, "SELECT id FROM \"user\" WHERE email = ?", "s", a->email) == 0)
        return mer_verr_set(e, MER_E_ALREADY_EXISTS, "email", "an account with this email already exists");
    if (a->phone[0] && mer_db_query_int(db, &other, "SELECT id FROM \"user\" WHERE phone = ?", "s", a->phone) == 0)
        return mer_verr_set(e, MER_E_ALREADY_EXISTS, "phone", "an account with this phone number already exists");
    int err = mer_db_query_int(db, &a->id,
                               "INSERT INTO \"user\" (email, phone, password_hash, country, name, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               "sssssi", a->email[0] ? a->email : NULL, a->phone[0] ? a->phone : NULL, password_hash,
                               a->country, a->name, a->created_at);
    if (err == MER_E_ALREADY_EXISTS) /* a unique index after all */
        return mer_verr_set(e, err, a->email[0] ? "email" : "phone", "an account with this %s already exists",
                            a->email[0] ? "email" : "phone number");
    return err;
}

int mer_account_find(mer_db_t *db, const char *email, const char *phone, mer_account_t *out,
                     char password_hash[MER_PWHASH_MAX])
{
    /* email and phone are unique in the region's database; either finds the one account */
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT " ACCOUNT_COLUMNS ", password_hash FROM \"user\" "
                                    "WHERE email = ? OR phone = ?",
                                    "ss", email && *email ? email : NULL, phone && *phone ? phone : NULL);
    int found = mer_rows_next(rows);
    if (found) {
        account_from_rows(rows, 0, out);
        snprintf(password_hash, MER_PWHASH_MAX, "%s", mer_rows_text(rows, 6));
    }
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int mer_account_get(mer_db_t *db, int64_t id, mer_account_t *out)
{
    mer_rows_t *rows = mer_db_query(db, "SELECT " ACCOUNT_COLUMNS " FROM \"user\" WHERE id = ?", "i", id);
    int found = mer_rows_next(rows);
    if (found)
        account_from_rows(rows, 0, out);
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int mer_account_password_hash(mer_db_t *db, int64_t id, char password_hash[MER_PWHASH_MAX])
{
    mer_rows_t *rows = mer_db_query(db, "SELECT password_hash FROM \"user\" WHERE id = ?", "i", id);
    int found = mer_rows_next(rows);
    if (found)
        snprintf(password_hash, MER_PWHASH_MAX, "%s", mer_rows_text(rows, 0));
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int mer_session_open(mer_db_t *db, int64_t user_id, const char *token_hash, int64_t now, int64_t expires_at)
{
    return mer_db_exec(db, "INSERT INTO session (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", "siii",
                       token_hash, user_id, now, expires_at) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_session_revoke(mer_db_t *db, const char *token_hash, int64_t now)
{
    return mer_db_exec(db, "UPDATE session SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL", "is", now,
                       token_hash) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_account_set_password(mer_db_t *db, int64_t user_id, const char *password_hash, const char *keep_hash,
                             int64_t now)
{
    int n = mer_db_exec(db, "UPDATE \"user\" SET password_hash = ? WHERE id = ?", "si", password_hash, user_id);
    if (n < 0)
        return n;
    if (n == 0)
        return MER_E_NOT_FOUND;
    n = mer_db_exec(db, "UPDATE session SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND hash <> ?",
                    "iis", now, user_id, keep_hash ? keep_hash : "");
    return n < 0 ? n : 0;
}

/* ---- password reset codes ---- */

int mer_reset_open(mer_db_t *db, const mer_account_t *a, const char *code_hash, const char *message, int64_t now,
                   int64_t expires_at)
{
    char event_id[40];
    snprintf(event_id, sizeof(event_id), "pwreset_%.24s", code_hash);
    int n = mer_db_exec(db,
                        "UPDATE password_reset SET voided_at = ? WHERE user_id = ? AND used_at IS NULL "
                        "AND voided_at IS NULL",
                        "ii", now, a->id);
    if (n >= 0)
        n = mer_db_exec(db, "INSERT INTO password_reset (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                        "siii", code_hash, a->id, now, expires_at);
    if (n >= 0)
        n = mer_db_exec(db,
                        "INSERT INTO notification (event_id, user_id, channel, message, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        "sissi", event_id, a->id, a->email[0] ? "email" : "sms", message, now);
    return n < 0 ? n : 0;
}

int mer_reset_redeem(mer_db_t *db, const char *code_hash, int64_t now, int64_t *user_id)
{
    int err = mer_db_query_int(db, user_id,
                               "UPDATE password_reset SET used_at = ? WHERE hash = ? AND used_at IS NULL "
                               "AND voided_at IS NULL AND expires_at > ? RETURNING user_id",
                               "isi", now, code_hash, now);
    return err;
}

/* ---- staff ---- */

int mer_staff_find(mer_db_t *db, const char *email, int64_t *id, char password_hash[MER_PWHASH_MAX])
{
    mer_rows_t *rows =
        mer_db_query(db, "SELECT id, COALESCE(password_hash, '') FROM staff WHERE email = ?", "s", email);
    int found = mer_rows_next(rows);
    if (found) {
        *id = mer_rows_int(rows, 0);
        snprintf(password_hash, MER_PWHASH_MAX, "%s", mer_rows_text(rows, 1));
    }
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int mer_staff_token_open(mer_db_t *db, int64_t staff_id, const char *token_hash, int64_t now, int64_t expires_at)
{
    return mer_db_exec(db, "INSERT INTO staff_token (hash, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                       "siii", token_hash, staff_id, now, expires_at) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_staff_token_revoke(mer_db_t *db, const char *token_hash, int64_t now)
{
    return mer_db_exec(db, "UPDATE staff_token SET revoked_at = ? WHERE hash = ?", "is", now, token_hash) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_staff_create(mer_db_t *db, const char *email, const char *password, const char *role, const char *countries,
                     const char **why)
{
    char norm[256], hash[crypto_pwhash_STRBYTES], canon[MER_STAFF_COUNTRIES_MAX];
    char have_role[16] = "", have[MER_STAFF_COUNTRIES_MAX] = "";
    *why = "the email must be valid and the password 12 to 128 characters"; /* login takes at most 128 */
    if (mer_account_email_normalize(email, norm) != 0 || strlen(password) < 12 || strlen(password) > 128)
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
    if (mer_password_hash(password, hash) != 0)
        return MER_E_INTERNAL;
    int rc = mer_db_exec(db,
                         "INSERT INTO staff (email, password_hash, role, countries, created_at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, "
                         "role = excluded.role, countries = excluded.countries",
                         "ssssi", norm, hash, role, canon, mer_now_unix_ms());
    return rc < 0 ? rc : 0;
}

/* ---- addresses ---- */

json_t *mer_address_json(const mer_address_t *a)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)a->id, "country", a->country, "name",
                     a->name, "line1", a->line1, "line2", a->line2, "city", a->city, "state", a->state, "postal_code",
                     a->postal_code, "phone", a->phone);
}

char *mer_address_json_text(const mer_address_t *a)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_jw_t w;
    mer_buf_init(&b, 256);
    mer_jw_init(&w, &b);
    mer_jw_obj(&w, NULL);
    mer_jw_int(&w, "id", a->id);
    mer_jw_str(&w, "country", a->country);
    mer_jw_str(&w, "name", a->name);
    mer_jw_str(&w, "line1", a->line1);
    mer_jw_str(&w, "line2", a->line2);
    mer_jw_str(&w, "city", a->city);
    mer_jw_str(&w, "state", a->state);
    mer_jw_str(&w, "postal_code", a->postal_code);
    mer_jw_str(&w, "phone", a->phone);
    mer_jw_end(&w);
    char *out = mer_xstrdup(mer_buf_str(&b));
    mer_buf_release(&b);
    return out;
}

static void address_from_rows(mer_rows_t *rows, mer_address_t *a)
{
    a->id = mer_rows_int(rows, 0);
    mer_strcopy(a->country, sizeof(a->country), mer_rows_text(rows, 1));
    mer_strcopy(a->name, sizeof(a->name), mer_rows_text(rows, 2));
    mer_strcopy(a->line1, sizeof(a->line1), mer_rows_text(rows, 3));
    mer_strcopy(a->line2, sizeof(a->line2), mer_rows_text(rows, 4));
    mer_strcopy(a->city, sizeof(a->city), mer_rows_text(rows, 5));
    mer_strcopy(a->state, sizeof(a->state), mer_rows_text(rows, 6));
    mer_strcopy(a->postal_code, sizeof(a->postal_code), mer_rows_text(rows, 7));
    mer_strcopy(a->phone, sizeof(a->phone), mer_rows_text(rows, 8));
}

#define ADDRESS_COLUMNS "id, country, name, line1, line2, city, state, postal_code, phone"

int mer_address_load(mer_db_t *db, int64_t user_id, int64_t id, mer_address_t *out)
{
    mer_rows_t *rows =
        mer_db_query(db, "SELECT " ADDRESS_COLUMNS " FROM address WHERE id = ? AND user_id = ?", "ii", id, user_id);
    int found = mer_rows_next(rows);
    if (found)
        address_from_rows(rows, out);
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

/*
 * The user's default address is the one marked default, else the newest (ORDER BY is_default DESC, id DESC).
 * Chosen here from the user's few rows, as address_user gives them, rather than by ORDER BY, which sorts in a
 * temporary table on every checkout.
 */
static bool address_better(int64_t is_default, int64_t id, int64_t best_default, int64_t best_id)
{
    return best_id == 0 || is_default > best_default || (is_default == best_default && id > best_id);
}

int64_t mer_address_default(mer_db_t *db, int64_t user_id)
{
    int64_t best = 0, best_default = 0;
    mer_rows_t *rows = mer_db_query(db, "SELECT id, is_default FROM address WHERE user_id = ?", "i", user_id);
    while (mer_rows_next(rows))
        if (address_better(mer_rows_int(rows, 1), mer_rows_int(rows, 0), best_default, best)) {
            best = mer_rows_int(rows, 0);
            best_default = mer_rows_int(rows, 1);
        }
    return mer_rows_end(rows) == 0 ? best : 0;
}

int mer_address_load_default(mer_db_t *db, int64_t user_id, mer_address_t *out)
{
    int64_t best = 0, best_default = 0;
    mer_rows_t *rows =
        mer_db_query(db, "SELECT " ADDRESS_COLUMNS ", is_default FROM address WHERE user_id = ?", "i", user_id);
    while (mer_rows_next(rows))
        if (address_better(mer_rows_int(rows, 9), mer_rows_int(rows, 0), best_default, best)) {
            address_from_rows(rows, out);
            best = out->id;
            best_default = mer_rows_int(rows, 9);
        }
    int err = mer_rows_end(rows);
    return err ? err : best ? 0 : MER_E_NOT_FOUND;
}

int mer_address_list(mer_db_t *db, int64_t user_id, mer_address_t *out, bool *is_default, size_t max)
{
    size_t n = 0;
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT " ADDRESS_COLUMNS ", is_default FROM address WHERE user_id = ? "
                                    "ORDER BY id",
                                    "i", user_id);
    while (mer_rows_next(rows) && n < max) {
        address_from_rows(rows, &out[n]);
        is_default[n++] = mer_rows_int(rows, 9) != 0;
    }
    int err = mer_rows_end(rows);
    return err ? err : (int)n;
}

/* The field slots of an address, in MER_ADDRF_* order after country. */
#define ADDRESS_FIELDS(a)                                                                                              \
    {                                                                                                                  \
        {"name", (a)->name, sizeof((a)->name), MER_ADDRF_NAME},                                                        \
            {"line1", (a)->line1, sizeof((a)->line1), MER_ADDRF_LINE1},                                                \
            {"line2", (a)->line2, sizeof((a)->line2), MER_ADDRF_LINE2},                                                \
            {"city", (a)->city, sizeof((a)->city), MER_ADDRF_CITY},                                                    \
            {"state", (a)->state, sizeof((a)->state), MER_ADDRF_STATE},                                                \
            {"postal_code", (a)->postal_code, sizeof((a)->postal_code), MER_ADDRF_POSTAL_CODE},                        \
            {"phone", (a)->phone, sizeof((a)->phone), MER_ADDRF_PHONE},                                                \
    }

typedef struct addr_field {
    const char *key;
    char *dst;
    size_t cap;
    unsigned bit;
} addr_field_t;

int mer_address_patch_parse(json_t *body, mer_address_patch_t *p, mer_verr_t *e)
{
    static const char *const keys[] = {"country", "name",        "line1", "line2",   "city",
                                       "state",   "postal_code", "phone", "default", NULL};
    addr_field_t f[] = ADDRESS_FIELDS(&p->a);
    if (mer_json_only(body, keys, "", e))
        return e->code;
    const char *country = NULL;
    if (mer_json_str(body, "country", "country", 2, 2, false, &country, e))
        return e->code;
    if (country) {
        const mer_country_t *c = mer_country_find(mer_countries(), country, strlen(country));
        if (c == NULL)
            return mer_verr_set(e, MER_E_VALIDATION, "country", "unknown country %s", country);
        snprintf(p->a.country, sizeof(p->a.country), "%s", c->code); /* canonical upper case */
        p->set |= MER_ADDRF_COUNTRY;
    }
    for (size_t i = 0; i < MER_ARRAY_LEN(f); i++) {
        const char *v = NULL;
        if (mer_json_str(body, f[i].key, f[i].key, 0, 200, false, &v, e))
            return e->code;
        if (v) {
            snprintf(f[i].dst, f[i].cap, "%s", v);
            p->set |= f[i].bit;
        }
    }
    return mer_json_bool(body, "default", "default", false, &p->make_default, e) ? e->code : 0;
}

/* Copies the fields set in p over a. */
static void address_overlay(mer_address_t *a, const mer_address_patch_t *p)
{
    addr_field_t to[] = ADDRESS_FIELDS(a);
    if (p->set & MER_ADDRF_COUNTRY)
        memcpy(a->country, p->a.country, sizeof(a->country));
    const mer_address_t *from = &p->a;
    const char *src[] = {from->name, from->line1, from->line2, from->city, from->state, from->postal_code, from->phone};
    for (size_t i = 0; i < MER_ARRAY_LEN(to); i++)
        if (p->set & to[i].bit)
            snprintf(to[i].dst, to[i].cap, "%s", src[i]);
}

/* Checks an address against its country's rules and the account's region. */
static int address_check(const mer_address_t *a, const char *region, bool adding, mer_verr_t *e)
{
    const mer_country_t *c = mer_country_find(mer_countries(), a->country, 2);
    if (c == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "country", "unknown country %s", a->country);
    mer_address_in_t in = {a->name, a->line1, a->line2, a->city, a->state, a->postal_code, a->phone};
    int err = mer_country_check_address(c, &in, e);
    if (err)
        return err;
    if (strcmp(c->region, region) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "country",
                            adding ? "addresses must be in a country of your region (%s)"
                                   : "addresses must be in your region (%s)",
                            region);
    return 0;
}

static int address_make_default(mer_db_t *db, int64_t user_id, int64_t id)
{
    return mer_db_exec(db, "UPDATE address SET is_default = CASE WHEN id = ? THEN 1 ELSE 0 END WHERE user_id = ?", "ii",
                       id, user_id) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_address_add(mer_db_t *db, int64_t user_id, const char *region, const char *account_country,
                    const mer_address_patch_t *p, mer_address_t *out, bool *is_default, mer_verr_t *e)
{
    int64_t count = 0;
    memset(out, 0, sizeof(*out));
    snprintf(out->country, sizeof(out->country), "%s", account_country);
    address_overlay(out, p);
    int err = address_check(out, region, true, e);
    if (err)
        return err;
    if (mer_db_query_int(db, &count, "SELECT COUNT(*) FROM address WHERE user_id = ?", "i", user_id) != 0)
        return MER_E_INTERNAL;
    if (count >= MER_MAX_ADDRESSES)
        return mer_verr_set(e, MER_E_VALIDATION, NULL, "at most %d addresses per account", MER_MAX_ADDRESSES);
    err = mer_db_query_int(db, &out->id,
                           "INSERT INTO address (user_id, country, name, line1, line2, city, state, postal_code, "
                           "phone, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id",
                           "issssssssi", user_id, out->country, out->name, out->line1, out->line2, out->city,
                           out->state, out->postal_code, out->phone, mer_now_unix_ms());
    if (err)
        return err;
    *is_default = p->make_default || count == 0;
    return *is_default ? address_make_default(db, user_id, out->id) : 0;
}

int mer_address_update(mer_db_t *db, int64_t user_id, const char *region, const mer_address_patch_t *p,
                       mer_address_t *out, bool *is_default, mer_verr_t *e)
{
    int64_t cur_default = 0;
    int err = mer_address_load(db, user_id, p->a.id, out);
    if (err)
        return err;
    mer_db_query_int(db, &cur_default, "SELECT is_default FROM address WHERE id = ?", "i", out->id);
    address_overlay(out, p);
    if ((err = address_check(out, region, false, e)) != 0)
        return err;
    if (mer_db_exec(db,
                    "UPDATE address SET country = ?, name = ?, line1 = ?, line2 = ?, city = ?, state = ?, "
                    "postal_code = ?, phone = ? WHERE id = ? AND user_id = ?",
                    "ssssssssii", out->country, out->name, out->line1, out->line2, out->city, out->state,
                    out->postal_code, out->phone, out->id, user_id) < 0)
        return MER_E_INTERNAL;
    *is_default = cur_default != 0 || p->make_default;
    return p->make_default ? address_make_default(db, user_id, out->id) : 0;
}

int mer_address_delete(mer_db_t *db, int64_t user_id, int64_t id)
{
    int64_t was_default = 0;
    if (mer_db_query_int(db, &was_default, "SELECT is_default FROM address WHERE id = ? AND user_id = ?", "ii", id,
                         user_id) != 0)
        return MER_E_NOT_FOUND;
    if (mer_db_exec(db, "DELETE FROM address WHERE id = ? AND user_id = ?", "ii", id, user_id) < 0)
        return MER_E_INTERNAL;
    if (was_default && mer_db_exec(db,
                                   "UPDATE address SET is_default = 1 WHERE id = (SELECT id FROM address WHERE "
                                   "user_id = ? ORDER BY id DESC LIMIT 1)",
                                   "i", user_id) < 0)
        return MER_E_INTERNAL;
    return 0;
}

/* ---- load-test accounts ---- */

int mer_account_bulk_create(mer_db_t *db, const mer_country_t *c, int64_t count, const char *prefix,
                            const char *password, json_t *address, FILE *out)
{
    char hash[crypto_pwhash_STRBYTES];
    mer_address_t a;
    mer_address_patch_t p;
    mer_verr_t e = {0};
    memset(&a, 0, sizeof(a));
    memset(&p, 0, sizeof(p));
    if (address) {
        if (mer_address_patch_parse(address, &p, &e) != 0)
            return e.code;
        address_overlay(&a, &p);
        snprintf(a.country, sizeof(a.country), "%s", c->code);
        if (address_check(&a, c->region, true, &e) != 0) {
            mer_log_error("load-users: address: %s: %s", e.field, e.message);
            return e.code;
        }
    }
    if (mer_password_hash(password, hash) != 0)
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
                                   "INSERT INTO \"user\" (email, password_hash, country, name, created_at) "
                                   "VALUES (?, ?, ?, 'load', ?) RETURNING id",
                                   "sssi", email, hash, c->code, now);
            if (err)
                break;
            mer_token_new(tprefix, token, thash);
            if (mer_db_exec(db, "INSERT INTO session (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                            "siii", thash, id, now, now + MER_SESSION_TTL_MS) < 0 ||
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
