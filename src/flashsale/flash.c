/*
 * flash.c — start-up of the flash-sale module and its contract with checkout (see flash.h).
 */
#include <stdio.h>

#include "core/log.h"
#include "flashsale/flash_int.h"
#include "store/store.h"
#include "core/banned.h"

int mer_flash_token_check(const char *token, int64_t user_id, mer_flash_token_t *out, char msg[128])
{
    fs_token_t *t = token ? fs_token_get(token) : NULL;
    if (t == NULL || t->buyer.user_id != user_id) {
        snprintf(msg, 128, "no such purchase token for you");
        return MER_E_VALIDATION;
    }
    int st = atomic_load(&t->state);
    if (st == FS_TOKEN_USED) {
        snprintf(msg, 128, "this purchase token was already used");
        return MER_E_CONFLICT;
    }
    if (st == FS_TOKEN_GONE || t->expires_at <= mer_now_unix_ms()) {
        snprintf(msg, 128, "this purchase token has expired");
        return MER_E_CONFLICT;
    }
    fs_session_t *s = t->session;
    out->session_id = s->id;
    out->sku_id = s->items[t->item].sku_id;
    out->price = s->items[t->item].price;
    out->expires_at = t->expires_at;
    out->cod_allowed = s->cod_allowed;
    snprintf(out->country, sizeof(out->country), "%s", s->sale->country);
    return 0;
}

bool mer_flash_token_phone_ok(const char *token, const char *phone, size_t len)
{
    fs_token_t *t = fs_token_get(token);
    if (t == NULL || !t->session->sale->rules.one_per_phone)
        return true;
    uint64_t h = mer_phone_hash(phone, len);
    return h == 0 || h == t->buyer.phone || h == t->buyer.address_phone;
}

int mer_flash_token_consume(mer_db_t *db, const char *token, int64_t user_id, int64_t order_id)
{
    int rc = mer_db_exec(db,
                         "UPDATE flash_token SET state = 'consumed', order_id = ? WHERE token = ? AND user_id = ? "
                         "AND state = 'issued' AND expires_at > ?",
                         "isii", order_id, token, user_id, mer_now_unix_ms());
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : MER_E_CONFLICT;
}

void mer_flash_token_used(const char *token)
{
    fs_token_t *t = fs_token_get(token);
    if (t)
        atomic_store(&t->state, FS_TOKEN_USED);
}

int mer_flash_order_closed(mer_db_t *db, int64_t order_id)
{
    int rc = mer_db_exec(db, "UPDATE flash_token SET state = 'returned' WHERE order_id = ? AND state = 'consumed'", "i",
                         order_id);
    if (rc > 0)
        fs_processor_kick();
    return rc < 0 ? rc : 0;
}

int mer_flash_lines_refunded(mer_db_t *db, int64_t order_id)
{
    int rc = mer_db_exec(db,
                         "UPDATE flash_token SET state = 'returned' WHERE order_id = ? AND state = 'consumed' AND token IN "
                         "(SELECT flash_token FROM order_line WHERE order_id = ? AND flash_token IS NOT NULL AND "
                         "refunded_qty >= quantity)",
                         "ii", order_id, order_id);
    if (rc > 0)
        fs_processor_kick();
    return rc < 0 ? rc : 0;
}

void mer_flash_metrics(mer_buf_t *out)
{
    const fs_registry_t *reg = fs_registry();
    mer_buf_addstr(out, "# HELP meridian_flash_wins_total Purchase tokens handed out.\n"
                        "# TYPE meridian_flash_wins_total counter\n");
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; k < reg->sales[i]->nsessions; k++)
            mer_buf_printf(out, "meridian_flash_wins_total{sale=\"%lld\",session=\"%lld\"} %llu\n",
                           (long long)reg->sales[i]->id, (long long)reg->sales[i]->sessions[k]->id,
                           (unsigned long long)atomic_load(&reg->sales[i]->sessions[k]->wins));
    mer_buf_addstr(out, "# HELP meridian_flash_refusals_total Grabs and reservations refused, by reason.\n"
                        "# TYPE meridian_flash_refusals_total counter\n");
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; k < reg->sales[i]->nsessions; k++)
            for (int r = 0; r < FS_R__COUNT; r++) {
                uint64_t n = atomic_load(&reg->sales[i]->sessions[k]->refusals[r]);
                if (n)
                    mer_buf_printf(out,
                                   "meridian_flash_refusals_total{sale=\"%lld\",session=\"%lld\",reason=\"%s\"} "
                                   "%llu\n",
                                   (long long)reg->sales[i]->id, (long long)reg->sales[i]->sessions[k]->id,
                                   fs_reason_names[r], (unsigned long long)n);
            }
}

void mer_flash_init(void)
{
    fs_model_init();
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++)
        if (cs->regions[i].local && fs_load_region(cs->regions[i].name) != 0)
            mer_die("cannot load the flash sales of region %s", cs->regions[i].name);
    fs_routes_init();
    fs_admin_init();
    fs_processor_start();
}

void mer_flash_stop(void)
{
    fs_processor_stop();
}
