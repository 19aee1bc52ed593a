/*
 * stock.c — the parts of a flash sale that must be exactly right under concurrency, kept free of I/O so
 * unit tests can hammer them from many threads: taking and returning units, numbering queue tickets in
 * arrival order, and the order of a draw.
 */
#include <sodium.h>
#include <stdlib.h>

#include "flashsale/flash_int.h"
#include "core/banned.h"

static _Atomic uint64_t generation = 1;

uint64_t fs_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

void fs_bump(void)
{
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
}

/*
 * A unit is taken by compare-and-swap, so `left` never goes below zero. sold_out is a hint for the
 * fast path (answer from memory without trying): whoever sets it re-reads `left` afterwards and clears
 * it if a unit came back meanwhile, and whoever returns a unit clears it after adding — so it can never
 * stay set while a unit is left.
 */
static void mark_sold_out(fs_item_t *it)
{
    if (!atomic_exchange(&it->sold_out, 1))
        fs_bump();
    if (atomic_load(&it->left) > 0 && atomic_exchange(&it->sold_out, 0))
        fs_bump();
}

bool fs_take_unit(fs_item_t *it)
{
    int64_t cur = atomic_load(&it->left);
    for (;;) {
        if (cur <= 0) {
            mark_sold_out(it);
            return false;
        }
        if (atomic_compare_exchange_weak(&it->left, &cur, cur - 1))
            break;
    }
    if (cur - 1 == 0)
        mark_sold_out(it);
    return true;
}

void fs_return_unit(fs_item_t *it)
{
    atomic_fetch_add(&it->left, 1);
    if (atomic_exchange(&it->sold_out, 0))
        fs_bump();
}

void fs_release_buyer(fs_session_t *s, int64_t user_id, uint64_t phone, uint64_t address, uint64_t device)
{
    const fs_rules_t *ru = &s->sale->rules;
    mer_smap_add(&s->buyers, user_id, -1);
    if (ru->one_per_phone && phone)
        mer_smap_add(&s->phones, (int64_t)phone, -1);
    if (ru->one_per_address && address)
        mer_smap_add(&s->addresses, (int64_t)address, -1);
    if (ru->one_per_device && device)
        mer_smap_add(&s->devices, (int64_t)device, -1);
}

int64_t fs_ticket_number(fs_session_t *s)
{
    return atomic_fetch_add_explicit(&s->next_seq, 1, memory_order_acq_rel) + 1;
}

void fs_ticket_place(fs_session_t *s, fs_ticket_t *t)
{
    pthread_mutex_lock(&s->tickets_mu);
    size_t slot = (size_t)t->seq - 1;
    if (slot >= s->tickets_cap) {
        size_t cap = s->tickets_cap ? s->tickets_cap : 1024;
        while (cap <= slot)
            cap *= 2;
        s->tickets = mer_xrealloc(s->tickets, cap * sizeof(*s->tickets));
        memset(s->tickets + s->tickets_cap, 0, (cap - s->tickets_cap) * sizeof(*s->tickets));
        s->tickets_cap = cap;
    }
    s->tickets[slot] = t;
    if (slot + 1 > s->ntickets)
        s->ntickets = slot + 1;
    pthread_mutex_unlock(&s->tickets_mu);
}

typedef struct ranked {
    unsigned char h[crypto_hash_sha256_BYTES];
    size_t i;
} ranked_t;

static int by_hash(const void *a, const void *b)
{
    return memcmp(((const ranked_t *)a)->h, ((const ranked_t *)b)->h, crypto_hash_sha256_BYTES);
}

void fs_draw_order(const unsigned char seed[32], const char *const *tickets, size_t n, size_t *order)
{
    ranked_t *rk = mer_xcalloc(n ? n : 1, sizeof(*rk));
    for (size_t i = 0; i < n; i++) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, seed, 32);
        crypto_hash_sha256_update(&st, (const unsigned char *)tickets[i], strlen(tickets[i]));
        crypto_hash_sha256_final(&st, rk[i].h);
        rk[i].i = i;
    }
    qsort(rk, n, sizeof(*rk), by_hash);
    for (size_t i = 0; i < n; i++)
        order[i] = rk[i].i;
    free(rk);
}
