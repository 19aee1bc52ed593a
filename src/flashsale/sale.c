/*
 * sale.c — the sale service: numbering, writing and publishing a new flash sale (see flash_int.h, "the
 * sale service"). No HTTP: admin.c is the adapter.
 */
#include <stdio.h>

#include "flashsale/flash_int.h"
#include "store/notify.h"
#include "core/banned.h"

int fs_sale_number(mer_db_t *catalog, fs_sale_in_t *in, mer_verr_t *e)
{
    int64_t now = mer_now_unix_ms();
    /* the catalogue's id space (model.c, "ids"): unique across regions */
    int err =
        mer_db_query_int(catalog, &in->id, "INSERT INTO flash_sale_id (region, created_at) VALUES (?, ?) RETURNING id",
                         "si", in->region, now);
    for (int k = 0; err == 0 && k < in->nsessions; k++)
        err = mer_db_query_int(catalog, &in->sessions[k].id,
                               "INSERT INTO flash_session_id (sale_id, created_at) VALUES (?, ?) RETURNING id", "ii",
                               in->id, now);
    (void)e; /* no failure of its own to describe: the error's default message */
    return err;
}

int fs_sale_write(mer_db_t *db, const fs_sale_in_t *in, mer_verr_t *e)
{
    char *titles = mer_json_dump(in->titles, NULL), *rules = mer_json_dump(in->rules, NULL);
    int err = mer_db_exec(db, "INSERT INTO flash_sale (id, country, titles, rules, created_at) VALUES (?, ?, ?, ?, ?)",
                          "isssi", in->id, in->country, titles, rules, in->created_at) < 0
                  ? MER_E_INTERNAL
                  : 0;
    free(titles);
    free(rules);
    for (int k = 0; err == 0 && k < in->nsessions; k++) {
        const fs_session_in_t *s = &in->sessions[k];
        if (mer_db_exec(db,
                        "INSERT INTO flash_session (id, sale_id, starts_at, ends_at, mode, reservation_required, "
                        "reservation_opens_at, reservation_closes_at, token_ttl_ms, cod_allowed, per_user_limit, "
                        "seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "iiiisiiiiiis", s->id, in->id, s->starts_at, s->ends_at, fs_mode_names[s->mode],
                        (int64_t)s->res_required, s->res_opens, s->res_closes, s->ttl_ms, (int64_t)s->cod, s->limit,
                        s->seed) < 0)
            err = MER_E_INTERNAL;
        for (int i = 0; err == 0 && i < s->nitems; i++)
            if (mer_db_exec(
                    db, "INSERT INTO flash_item (session_id, sku_id, price, units, position) VALUES (?, ?, ?, ?, ?)",
                    "iiiii", s->id, s->items[i].sku_id, s->items[i].price, s->items[i].units, (int64_t)i) < 0)
                err = MER_E_INTERNAL;
    }
    /* the other nodes on this database load the sale when the rows commit (flash.c, sale_note) */
    if (err == 0)
        err = mer_notify_send_id(db, "flash_sale", in->id);
    (void)e;
    return err;
}

fs_sale_t *fs_sale_publish(const fs_sale_in_t *in)
{
    fs_load_lock();
    fs_sale_t *sale = fs_sale_find(in->id);
    if (sale) { /* learnt from its rows meanwhile (a listener that reconnected reloads every sale it lacks) */
        fs_load_unlock();
        return sale;
    }
    sale = fs_sale_build(in->id, in->country, in->region, in->titles, in->rules);
    for (int k = 0; k < in->nsessions; k++) {
        const fs_session_in_t *si = &in->sessions[k];
        fs_session_t *s = fs_session_new(sale);
        s->id = si->id;
        s->starts_at = si->starts_at;
        s->ends_at = si->ends_at;
        s->mode = si->mode;
        s->reservation_required = si->res_required;
        s->res_opens_at = si->res_opens;
        s->res_closes_at = si->res_closes;
        s->token_ttl_ms = si->ttl_ms;
        s->cod_allowed = si->cod;
        s->per_user_limit = si->limit;
        fs_session_commit_seed(s, si->seed);
        for (int i = 0; i < si->nitems; i++) {
            fs_item_t *it = &s->items[s->nitems++];
            it->sku_id = si->items[i].sku_id;
            it->product_id = si->items[i].product_id;
            it->price = si->items[i].price;
            it->units = si->items[i].units;
            atomic_store(&it->left, it->units);
            snprintf(it->sku, sizeof(it->sku), "%s", si->items[i].sku);
        }
        sale->sessions[sale->nsessions++] = s;
    }
    fs_shared_add(sale); /* shared mode: the stock goes to Redis before any grab sees the sale */
    fs_registry_add(sale);
    fs_load_unlock();
    return sale;
}
