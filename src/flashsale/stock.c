/*
 * stock.c — the parts of a flash sale that must be exactly right under concurrency, kept free of I/O so
 * unit tests can hammer them from many threads: taking and returning units, numbering queue tickets in
 * arrival order, and the order of a draw.
 */
#include <sodium.h>
#include <stdio.h>
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
        if (cur <= 0 && it->shared)
            return false; /* the allotment is empty; only the shared stock says sold out */
        if (cur <= 0) {
            mark_sold_out(it);
            return false;
        }
        if (atomic_compare_exchange_weak(&it->left, &cur, cur - 1))
            break;
    }
    if (cur - 1 == 0 && !it->shared)
        mark_sold_out(it);
    return true;
}

void fs_return_unit(fs_item_t *it)
{
    int64_t was = atomic_fetch_add(&it->left, 1);
    MER_ASSERT(was < it->units); /* only a unit that was taken comes back */
    if (!it->shared && atomic_exchange(&it->sold_out, 0))
        fs_bump();
}

int fs_buyer_counts(const fs_session_t *s, const fs_buyer_t *b, int64_t limit, fs_count_t c[5])
{
    const fs_rules_t *ru = &s->sale->rules;
    int n = 0;
    if (ru->one_per_phone && b->phone)
        c[n++] = (fs_count_t){'p', (int64_t)b->phone, 1, FS_R_PHONE};
    /* the delivery address's phone too, once when it is the account's own */
    if (ru->one_per_phone && b->address_phone && b->address_phone != b->phone)
        c[n++] = (fs_count_t){'p', (int64_t)b->address_phone, 1, FS_R_PHONE};
    if (ru->one_per_address && b->address)
        c[n++] = (fs_count_t){'a', (int64_t)b->address, 1, FS_R_ADDRESS};
    if (ru->one_per_device && b->device)
        c[n++] = (fs_count_t){'d', (int64_t)b->device, 1, FS_R_DEVICE};
    c[n++] = (fs_count_t){'u', b->user_id, limit, FS_R_LIMIT};
    return n;
}

/* One count a buyer holds in a session. */
typedef struct buyer_count {
    mer_smap_t *map;
    int64_t key, limit;
    fs_reason_t why; /* the refusal when it is full */
} buyer_count_t;

/*
 * The counts a buyer holds in this node's maps: fs_buyer_counts' list, each kind in its map. Take, give
 * back and rebuild all walk this one list, so they cannot disagree. Returns how many.
 */
static int buyer_counts(fs_session_t *s, const fs_buyer_t *b, int64_t limit, buyer_count_t c[5])
{
    fs_count_t k[5];
    int n = fs_buyer_counts(s, b, limit, k);
    for (int i = 0; i < n; i++) {
        mer_smap_t *map = k[i].kind == 'p'   ? &s->phones
                          : k[i].kind == 'a' ? &s->addresses
                          : k[i].kind == 'd' ? &s->devices
                                             : &s->buyers;
        c[i] = (buyer_count_t){map, k[i].key, k[i].limit, k[i].why};
    }
    return n;
}

bool fs_take_buyer(fs_session_t *s, const fs_buyer_t *b, int64_t limit, fs_reason_t *why)
{
    buyer_count_t c[5];
    int n = buyer_counts(s, b, limit, c);
    for (int i = 0; i < n; i++) {
        if (mer_smap_add_upto(c[i].map, c[i].key, 1, c[i].limit) < 0) {
            *why = c[i].why;
            while (i-- > 0)
                mer_smap_add(c[i].map, c[i].key, -1);
            return false;
        }
    }
    return true;
}

static void add_buyer(fs_session_t *s, const fs_buyer_t *b, int64_t delta)
{
    buyer_count_t c[5];
    int n = buyer_counts(s, b, 0, c);
    for (int i = 0; i < n; i++)
        mer_smap_add(c[i].map, c[i].key, delta);
}

void fs_release_buyer(fs_session_t *s, const fs_buyer_t *b)
{
    add_buyer(s, b, -1);
}

void fs_hold_buyer(fs_session_t *s, const fs_buyer_t *b)
{
    add_buyer(s, b, 1);
}

void fs_token_release(fs_token_t *t)
{
    fs_return_unit(&t->session->items[t->item]);
    fs_release_buyer(t->session, &t->buyer);
}

int64_t fs_ticket_number(fs_session_t *s)
{
    return atomic_fetch_add_explicit(&s->next_seq, 1, memory_order_acq_rel) + 1;
}

void fs_ticket_seen(fs_session_t *s, int64_t seq)
{
    int64_t cur = atomic_load_explicit(&s->next_seq, memory_order_relaxed);
    while (cur < seq && !atomic_compare_exchange_weak(&s->next_seq, &cur, seq))
        ;
}

/* Puts t in its slot; tickets_mu held. */
static void place_locked(fs_session_t *s, fs_ticket_t *t)
{
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
}

void fs_ticket_place(fs_session_t *s, fs_ticket_t *t)
{
    pthread_mutex_lock(&s->tickets_mu);
    place_locked(s, t);
    pthread_mutex_unlock(&s->tickets_mu);
}

fs_ticket_t *fs_ticket_adopt(fs_session_t *s, fs_ticket_t *t)
{
    pthread_mutex_lock(&s->tickets_mu);
    size_t slot = (size_t)t->seq - 1;
    fs_ticket_t *had = slot < s->ntickets ? s->tickets[slot] : NULL;
    if (had && atomic_load(&had->state) == FS_TICKET_VOID) {
        had->item = t->item;
        had->buyer = t->buyer;
        atomic_store(&had->state, FS_TICKET_PENDING);
    }
    if (had == NULL) { /* checked and placed under one lock: the processor and the listener may race */
        atomic_store(&t->state, FS_TICKET_PENDING);
        place_locked(s, t);
    }
    pthread_mutex_unlock(&s->tickets_mu);
    if (had == NULL)
        return t;
    free(t);
    return had;
}

void fs_ticket_name(const fs_session_t *s, int64_t seq, char out[48])
{
    snprintf(out, 48, "%c%lld-%lld", s->mode == FS_QUEUE ? 'q' : 'd', (long long)s->id, (long long)seq);
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
