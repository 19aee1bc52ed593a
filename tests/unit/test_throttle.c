/* Unit tests: the failed-login back-off table (src/account/throttle.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "account/throttle.h"

#define T0 INT64_C(1700000000000)

static void fail_n(mer_throttle_t *t, const char *key, int n, int free_failures, int64_t now)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(mer_throttle_fail(t, key, free_failures, now), 0);
}

static void test_backoff_grows_and_clears(void **state)
{
    (void)state;
    mer_throttle_t *t = mer_throttle_new(16);
    fail_n(t, "account:in:a@example.test", 4, 5, T0);
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0), 0);
    fail_n(t, "account:in:a@example.test", 1, 5, T0);
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0), 1);
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0 + 1000), 0);
    fail_n(t, "account:in:a@example.test", 2, 5, T0 + 1000); /* 2 s, then 4 s */
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0 + 1000), 4);
    fail_n(t, "account:in:a@example.test", 100, 5, T0 + 2000);
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0 + 2000), 15 * 60);
    assert_int_equal(mer_throttle_check(t, "account:in:b@example.test", T0 + 2000), 0);
    mer_throttle_clear(t, "account:in:a@example.test");
    assert_int_equal(mer_throttle_check(t, "account:in:a@example.test", T0 + 2000), 0);
    assert_int_equal(mer_throttle_count(t), 0);
    mer_throttle_free(t);
}

/* The old table cut keys at 119 bytes but compared them whole: a long key never matched, never blocked. */
static void test_long_keys_block_and_stay_apart(void **state)
{
    (void)state;
    char a[400], b[400];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[sizeof(b) - 2] = 'y'; /* differs only in the last byte */
    mer_throttle_t *t = mer_throttle_new(16);
    fail_n(t, a, 5, 5, T0);
    assert_true(mer_throttle_check(t, a, T0) > 0);
    assert_int_equal(mer_throttle_check(t, b, T0), 0);
    assert_int_equal(mer_throttle_count(t), 1);
    fail_n(t, b, 4, 5, T0);
    assert_int_equal(mer_throttle_check(t, b, T0), 0);
    assert_int_equal(mer_throttle_count(t), 2);
    mer_throttle_free(t);
}

/* Full: the least recently failed key that is not blocked makes room; blocked keys stay. */
static void test_full_table_evicts_oldest_unblocked(void **state)
{
    (void)state;
    mer_throttle_t *t = mer_throttle_new(4);
    fail_n(t, "locked", 1, 1, T0); /* oldest, but blocked */
    fail_n(t, "k1", 4, 5, T0 + 1);
    fail_n(t, "k2", 4, 5, T0 + 2);
    fail_n(t, "k3", 4, 5, T0 + 3);
    assert_int_equal(mer_throttle_count(t), 4);
    fail_n(t, "k4", 1, 5, T0 + 4); /* evicts k1 */
    assert_int_equal(mer_throttle_count(t), 4);
    assert_true(mer_throttle_check(t, "locked", T0 + 4) > 0);
    fail_n(t, "k2", 1, 5, T0 + 5); /* k2 kept its four failures: the fifth blocks it */
    assert_true(mer_throttle_check(t, "k2", T0 + 5) > 0);
    fail_n(t, "k1", 1, 5, T0 + 6); /* k1 starts again (evicts k3, the oldest unblocked) */
    assert_int_equal(mer_throttle_check(t, "k1", T0 + 6), 0);
    fail_n(t, "k3", 4, 5, T0 + 7);
    assert_int_equal(mer_throttle_check(t, "k3", T0 + 7), 0);
    mer_throttle_free(t);
}

/* The attack: failures spread over many keys must not reset a lockout. */
static void test_spread_failures_keep_lockout(void **state)
{
    (void)state;
    mer_throttle_t *t = mer_throttle_new(1024);
    fail_n(t, "account:in:#42", 5, 5, T0);
    int64_t wait = mer_throttle_check(t, "account:in:#42", T0);
    assert_true(wait > 0);
    char key[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "account:in:spray%d@example.test", i);
        assert_int_equal(mer_throttle_fail(t, key, 5, T0 + 1 + i / 100), 0);
        assert_true(mer_throttle_count(t) <= 1024);
    }
    assert_true(mer_throttle_check(t, "account:in:#42", T0 + 200) > 0);
    /* and its block still ends on time */
    fail_n(t, "late", 1, 5, T0 + 15 * 60 * 1000);
    assert_int_equal(mer_throttle_check(t, "account:in:#42", T0 + 15 * 60 * 1000), 0);
    mer_throttle_free(t);
}

/* Every entry blocked: a new key is refused rather than a blocked one forgotten, until blocks end. */
static void test_all_blocked_refuses_new_keys(void **state)
{
    (void)state;
    mer_throttle_t *t = mer_throttle_new(3);
    fail_n(t, "a", 1, 1, T0);
    fail_n(t, "b", 2, 1, T0); /* 2 s */
    fail_n(t, "c", 1, 1, T0);
    assert_int_equal(mer_throttle_fail(t, "d", 1, T0 + 10), -1);
    assert_int_equal(mer_throttle_check(t, "d", T0 + 10), 0);
    assert_true(mer_throttle_check(t, "a", T0 + 10) > 0);
    assert_true(mer_throttle_check(t, "b", T0 + 10) > 0);
    assert_true(mer_throttle_check(t, "c", T0 + 10) > 0);
    /* known keys still count while full */
    assert_int_equal(mer_throttle_fail(t, "a", 1, T0 + 20), 0);
    /* after 1.5 s only c's block is over ("a" failed again, "b" has 2 s): c makes room */
    assert_int_equal(mer_throttle_fail(t, "d", 1, T0 + 1500), 0);
    assert_true(mer_throttle_check(t, "d", T0 + 1500) > 0);
    assert_true(mer_throttle_check(t, "a", T0 + 1500) > 0);
    assert_true(mer_throttle_check(t, "b", T0 + 1500) > 0);
    assert_int_equal(mer_throttle_check(t, "c", T0 + 1500), 0);
    mer_throttle_free(t);
}

/* Cleared entries are reused, and the chains stay intact across clears and evictions. */
static void test_clear_and_reuse(void **state)
{
    (void)state;
    mer_throttle_t *t = mer_throttle_new(64);
    char key[32];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            snprintf(key, sizeof(key), "k%d", (round * 37 + i) % 200);
            assert_int_equal(mer_throttle_fail(t, key, 3, T0 + round), 0);
        }
        for (int i = 0; i < 64; i += 3) {
            snprintf(key, sizeof(key), "k%d", (round * 37 + i) % 200);
            mer_throttle_clear(t, key);
            assert_int_equal(mer_throttle_check(t, key, T0 + round), 0);
        }
        assert_true(mer_throttle_count(t) <= 64);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        mer_throttle_clear(t, key);
    }
    assert_int_equal(mer_throttle_count(t), 0);
    mer_throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_grows_and_clears),
        cmocka_unit_test(test_long_keys_block_and_stay_apart),
        cmocka_unit_test(test_full_table_evicts_oldest_unblocked),
        cmocka_unit_test(test_spread_failures_keep_lockout),
        cmocka_unit_test(test_all_blocked_refuses_new_keys),
        cmocka_unit_test(test_clear_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
