/* Unit tests: flash-sale stock under concurrency, per-buyer limits, queue order, draw reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>

#include "flashsale/flash_int.h"

#define THREADS 8

static fs_item_t item;
static _Atomic int taken;

static void *taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        if (fs_take_unit(&item))
            atomic_fetch_add(&taken, 1);
    return NULL;
}

static void test_stock_never_oversells(void **state)
{
    (void)state;
    memset(&item, 0, sizeof(item));
    item.units = 1234;
    atomic_store(&item.left, 1234);
    atomic_store(&taken, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, taker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&taken), 1234);
    assert_int_equal(atomic_load(&item.left), 0);
    assert_int_equal(atomic_load(&item.sold_out), 1);
    assert_false(fs_take_unit(&item));
    /* a returned unit reopens the item, once */
    uint64_t gen = fs_generation();
    fs_return_unit(&item);
    assert_int_equal(atomic_load(&item.sold_out), 0);
    assert_true(fs_generation() > gen);
    assert_true(fs_take_unit(&item));
    assert_false(fs_take_unit(&item));
}

/* Shared mode (serve --redis): left is only this node's allotment; an empty allotment is not sold out
 * (only the shared stock says so), and a unit coming back does not touch the flag either. */
static void test_shared_allotment_leaves_sold_out_alone(void **state)
{
    (void)state;
    memset(&item, 0, sizeof(item));
    item.units = 10;
    item.shared = true;
    atomic_store(&item.left, 2);
    assert_true(fs_take_unit(&item));
    assert_true(fs_take_unit(&item));
    assert_false(fs_take_unit(&item));
    assert_int_equal(atomic_load(&item.left), 0);
    assert_int_equal(atomic_load(&item.sold_out), 0);
    atomic_store(&item.sold_out, 1); /* set by the "sold" message */
    fs_return_unit(&item);
    assert_int_equal(atomic_load(&item.sold_out), 1);
    assert_true(fs_take_unit(&item));
}

/* Takers and returners race; once they stop, sold_out must be set exactly when nothing is left. */
static void *churner(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        if (fs_take_unit(&item))
            fs_return_unit(&item);
    return NULL;
}

static void test_sold_out_flag_follows_stock(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        memset(&item, 0, sizeof(item));
        item.units = 2;
        atomic_store(&item.left, 2);
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, churner, NULL);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        /* every unit taken was returned */
        assert_int_equal(atomic_load(&item.left), 2);
        assert_int_equal(atomic_load(&item.sold_out), 0);
    }
}

static mer_smap_t buyers;

static void *buyer(void *arg)
{
    int64_t *wins = arg;
    for (int i = 0; i < 5000; i++)
        if (mer_smap_add_upto(&buyers, 1 + i % 50, 1, 2) > 0)
            (*wins)++;
    return NULL;
}

static void test_per_buyer_limit_is_atomic(void **state)
{
    (void)state;
    mer_smap_init(&buyers);
    pthread_t t[THREADS];
    int64_t wins[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, buyer, &wins[i]);
    int64_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += wins[i];
    }
    assert_int_equal(total, 50 * 2); /* 50 buyers, limit 2 each, whatever the interleaving */
    for (int64_t b = 1; b <= 50; b++)
        assert_int_equal(mer_smap_get(&buyers, b), 2);
    assert_int_equal(mer_smap_get(&buyers, 51), 0);
    assert_int_equal(mer_smap_count(&buyers), 50);
    /* a lost unit lowers the count again */
    assert_int_equal(mer_smap_add(&buyers, 7, -1), 1);
    assert_int_equal(mer_smap_add_upto(&buyers, 7, 1, 2), 2);
    mer_smap_release(&buyers);
}

static void test_gcra_rate_limit(void **state)
{
    (void)state;
    mer_smap_t m;
    mer_smap_init(&m);
    /* one per 100 ms with a burst of 3 */
    assert_true(mer_smap_gcra(&m, 9, 1000, 100, 3));
    assert_true(mer_smap_gcra(&m, 9, 1000, 100, 3));
    assert_true(mer_smap_gcra(&m, 9, 1000, 100, 3));
    assert_false(mer_smap_gcra(&m, 9, 1000, 100, 3));
    assert_true(mer_smap_gcra(&m, 9, 1100, 100, 3));
    assert_false(mer_smap_gcra(&m, 9, 1100, 100, 3));
    assert_true(mer_smap_gcra(&m, 10, 1100, 100, 3)); /* another key is independent */
    mer_smap_release(&m);
}

static fs_session_t *queue_session;
static _Atomic int out_of_order; /* cmocka asserts must run on the main thread */

static void *enqueuer(void *arg)
{
    int64_t *last = arg;
    for (int i = 0; i < 2000; i++) {
        fs_ticket_t *t = mer_xcalloc(1, sizeof(*t));
        int64_t seq = fs_ticket_number(queue_session);
        t->seq = seq;
        fs_ticket_place(queue_session, t);
        if (seq <= *last) /* each thread sees its own tickets in increasing order */
            atomic_store(&out_of_order, 1);
        *last = seq;
    }
    return NULL;
}

static void test_queue_numbers_in_arrival_order(void **state)
{
    (void)state;
    queue_session = mer_xcalloc(1, sizeof(*queue_session));
    pthread_mutex_init(&queue_session->tickets_mu, NULL);
    pthread_t t[THREADS];
    int64_t last[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, enqueuer, &last[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&out_of_order), 0);
    assert_int_equal(queue_session->ntickets, THREADS * 2000);
    for (size_t i = 0; i < queue_session->ntickets; i++) {
        assert_int_equal(queue_session->tickets[i]->seq, (int64_t)i + 1); /* position = number: no gap, no repeat */
        free(queue_session->tickets[i]);
    }
    free(queue_session->tickets);
    free(queue_session);
}

static void test_draw_is_reproducible(void **state)
{
    (void)state;
    unsigned char seed[32], other[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (unsigned char)i;
        other[i] = (unsigned char)(i + 1);
    }
    const char *tickets[] = {"d7-1", "d7-2", "d7-3", "d7-4", "d7-5", "d7-6"};
    size_t a[6], b[6], c[6];
    fs_draw_order(seed, tickets, 6, a);
    fs_draw_order(seed, tickets, 6, b);
    assert_memory_equal(a, b, sizeof(a));
    /* it is a permutation */
    int seen[6] = {0};
    for (int i = 0; i < 6; i++)
        seen[a[i]]++;
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], 1);
    /* and it is the order of SHA-256(seed || ticket) */
    unsigned char prev[32] = {0}, h[32];
    for (int i = 0; i < 6; i++) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, seed, 32);
        crypto_hash_sha256_update(&st, (const unsigned char *)tickets[a[i]], strlen(tickets[a[i]]));
        crypto_hash_sha256_final(&st, h);
        assert_true(memcmp(prev, h, 32) <= 0);
        memcpy(prev, h, 32);
    }
    /* another seed gives another order (for this input) */
    fs_draw_order(other, tickets, 6, c);
    assert_memory_not_equal(a, c, sizeof(a));
}

/* one_per_phone counts the account's phone and the delivery address's phone, in one normalised form */
static void test_one_per_phone_counts_address_phone(void **state)
{
    (void)state;
    uint64_t p = mer_phone_hash("+919812345678", 13);
    assert_true(p != 0);
    assert_true(mer_phone_hash("+91 98123-45678", 15) == p);
    assert_true(mer_phone_hash("0091 (981) 234.5678", 19) == p);
    assert_true(mer_phone_hash("+919812345679", 13) != p);
    assert_true(mer_phone_hash("919812345678", 12) != p); /* no country prefix: not the same number */
    assert_true(mer_phone_hash("", 0) == 0 && mer_phone_hash("+ -", 3) == 0 && mer_phone_hash("00", 2) == 0);

    fs_sale_t sale;
    memset(&sale, 0, sizeof(sale));
    sale.rules.one_per_phone = true;
    static fs_session_t sess;
    fs_session_t *s = &sess;
    s->sale = &sale;
    mer_smap_init(&s->buyers);
    mer_smap_init(&s->phones);
    uint64_t q = mer_phone_hash("+919812300000", 13);
    fs_buyer_t a = {.user_id = 1, .phone = p};                     /* logs in with the phone */
    fs_buyer_t b = {.user_id = 2, .address_phone = p};             /* an email account delivering to it */
    fs_buyer_t c = {.user_id = 3, .phone = q, .address_phone = q}; /* its own phone on its own address */
    fs_buyer_t d = {.user_id = 4, .address_phone = q};
    fs_reason_t why = FS_R__COUNT;
    assert_true(fs_take_buyer(s, &a, 5, &why));
    assert_false(fs_take_buyer(s, &b, 5, &why));
    assert_int_equal(why, FS_R_PHONE);
    assert_int_equal(mer_smap_get(&s->buyers, 2), 0); /* nothing of b's was kept */
    assert_true(fs_take_buyer(s, &c, 5, &why));       /* one phone, counted once */
    assert_false(fs_take_buyer(s, &d, 5, &why));
    /* a unit given back frees the phone for the other account */
    fs_release_buyer(s, &a);
    assert_true(fs_take_buyer(s, &b, 5, &why));
    assert_false(fs_take_buyer(s, &a, 5, &why));
    /* without the rule phones are not counted */
    sale.rules.one_per_phone = false;
    assert_true(fs_take_buyer(s, &d, 5, &why));
    mer_smap_release(&s->buyers);
    mer_smap_release(&s->phones);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock_never_oversells),
        cmocka_unit_test(test_per_buyer_limit_is_atomic),
        cmocka_unit_test(test_gcra_rate_limit),
        cmocka_unit_test(test_queue_numbers_in_arrival_order),
        cmocka_unit_test(test_draw_is_reproducible),
        cmocka_unit_test(test_sold_out_flag_follows_stock),
        cmocka_unit_test(test_shared_allotment_leaves_sold_out_alone),
        cmocka_unit_test(test_one_per_phone_counts_address_phone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
