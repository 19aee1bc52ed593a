/*
 * outbox.c — writing events, and the HMAC signatures used on webhooks in both directions.
 */
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/json.h"
#include "core/log.h"
#include "events/events.h"
#include "core/banned.h"

int mer_event_emit_raw(mer_db_t *db, const char *type, int64_t order_id, const char *payload, size_t len)
{
    /* an event without an order (order_id 0) has order_id NULL */
    int rc = mer_db_exec(db, "INSERT INTO outbox (type, order_id, payload, created_at) VALUES (?, NULLIF(?, 0), ?, ?)",
                         "siSi", type, order_id, payload, len, mer_now_unix_ms());
    if (rc >= 0)
        mer_events_note_emit();
    return rc < 0 ? rc : 0;
}

int mer_event_emit(mer_db_t *db, const char *type, int64_t order_id, json_t *payload)
{
    size_t len;
    char *body = mer_json_dump(payload, &len);
    json_decref(payload);
    int err = mer_event_emit_raw(db, type, order_id, body, len);
    free(body);
    return err;
}

void mer_event_id(const char *region, int64_t id, char out[48])
{
    snprintf(out, 48, "evt_%s_%lld", region, (long long)id);
}

int mer_event_emit_order(mer_db_t *db, const char *type, int64_t order_id)
{
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT number, status, country, currency, grand_total, refunded_total, user_id, "
                                 "payment_method, payment_status, COALESCE(tracking_number, '') FROM orders WHERE id = ?",
                                 "i", order_id);
    json_t *p = NULL;
    if (mer_rows_next(r))
        p = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "order_id", (json_int_t)order_id, "number",
                      mer_rows_text(r, 0), "status", mer_rows_text(r, 1), "country", mer_rows_text(r, 2), "currency",
                      mer_rows_text(r, 3), "grand_total", (json_int_t)mer_rows_int(r, 4), "refunded_total",
                      (json_int_t)mer_rows_int(r, 5), "user_id", (json_int_t)mer_rows_int(r, 6), "payment_method",
                      mer_rows_text(r, 7), "payment_status", mer_rows_text(r, 8), "tracking_number",
                      mer_rows_text(r, 9));
    int err = mer_rows_end(r);
    if (err || p == NULL) {
        json_decref(p);
        return err ? err : MER_E_NOT_FOUND;
    }
    return mer_event_emit(db, type, order_id, p);
}

void mer_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[128])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24], hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    crypto_auth_hmacsha256_state st;
    int n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    snprintf(out, 128, "t=%lld,v1=%s", (long long)t, hex);
}

int mer_webhook_verify(const char *secret, const char *header, size_t hlen, const char *body, size_t len,
                       int64_t now_s, int64_t tolerance_s)
{
    char h[160], expect[128];
    if (header == NULL || hlen == 0 || hlen >= sizeof(h))
        return -1;
    memcpy(h, header, hlen);
    h[hlen] = '\0';
    if (strncmp(h, "t=", 2) != 0)
        return -1;
    char *comma = strchr(h, ',');
    if (comma == NULL || strncmp(comma, ",v1=", 4) != 0)
        return -1;
    int64_t t = 0;
    if (mer_parse_int64(h + 2, (size_t)(comma - h - 2), 0, INT64_C(1) << 40, &t) != 0)
        return -1;
    mer_webhook_sign(secret, t, body, len, expect);
    size_t el = strlen(expect);
    if (strlen(h) != el || sodium_memcmp(h, expect, el) != 0)
        return -1;
    if (t < now_s - tolerance_s || t > now_s + tolerance_s)
        return -2;
    return 0;
}
