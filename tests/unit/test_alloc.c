/* Unit tests: choosing the warehouses an order ships from (inventory/alloc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "inventory/alloc.h"

/* One warehouse that can fill everything wins, the first such in preference order. */
static void test_one_warehouse_preferred(void **state)
{
    (void)state;
    int64_t qty[2] = {2, 1};
    /* lines x warehouses: A fills line 0 only, B and C fill both */
    int64_t avail[2 * 3] = {5, 2, 9, /* line 0 */ 0, 1, 4 /* line 1 */};
    int64_t take[6];
    size_t short_line = 99;
    assert_int_equal(mer_stock_allocate(qty, 2, avail, 3, take, &short_line), 1);
    int64_t want[6] = {0, 2, 0, 0, 1, 0};
    assert_memory_equal(take, want, sizeof(want));
}

/* No single warehouse: the fewest that together can, lines split as needed, preference order first. */
static void test_split_fewest(void **state)
{
    (void)state;
    int64_t qty[2] = {3, 2};
    /* A: 2 of line 0, none of line 1; B: 1 of line 0, 2 of line 1; C: 3 of line 0 only */
    int64_t avail[2 * 3] = {2, 1, 3, /* */ 0, 2, 0};
    int64_t take[6];
    size_t short_line = 99;
    assert_int_equal(mer_stock_allocate(qty, 2, avail, 3, take, &short_line), 2);
    /* {A, B} is the first pair that fills: line 0 takes 2 from A then 1 from B; line 1 takes 2 from B */
    int64_t want[6] = {2, 1, 0, 0, 2, 0};
    assert_memory_equal(take, want, sizeof(want));
}

/* A warehouse later in order that fills alone beats earlier ones that need a partner; three are used only
 * when no pair fills. */
static void test_three_needed(void **state)
{
    (void)state;
    int64_t qty[3] = {1, 1, 1};
    int64_t avail[3 * 3] = {1, 0, 0, /* */ 0, 1, 0, /* */ 0, 0, 1};
    int64_t take[9];
    size_t short_line = 99;
    assert_int_equal(mer_stock_allocate(qty, 3, avail, 3, take, &short_line), 3);
    int64_t want[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_memory_equal(take, want, sizeof(want));
}

/* A pair later in order beats a triple earlier in order. */
static void test_fewest_not_first(void **state)
{
    (void)state;
    int64_t qty[2] = {2, 2};
    /* A: 1 and 1; B: 1 and 0; C: 0 and 2; D: 2 and 2 */
    int64_t avail[2 * 4] = {1, 1, 0, 2, /* */ 1, 0, 2, 2};
    int64_t take[8];
    size_t short_line = 99;
    /* D alone fills: one warehouse */
    assert_int_equal(mer_stock_allocate(qty, 2, avail, 4, take, &short_line), 1);
    int64_t want[8] = {0, 0, 0, 2, 0, 0, 0, 2};
    assert_memory_equal(take, want, sizeof(want));
    /* without D: {A,B} lacks line 1 (1+0), {A,C} and {B,C} lack line 0 (1+0): all three */
    int64_t avail3[2 * 3] = {1, 1, 0, /* */ 1, 0, 2};
    int64_t take3[6];
    assert_int_equal(mer_stock_allocate(qty, 2, avail3, 3, take3, &short_line), 3);
    int64_t want3[6] = {1, 1, 0, 1, 0, 1};
    assert_memory_equal(take3, want3, sizeof(want3));
}

/* Not enough anywhere: 0, the short line named, nothing taken. */
static void test_short(void **state)
{
    (void)state;
    int64_t qty[2] = {1, 5};
    int64_t avail[2 * 2] = {1, 0, /* */ 2, 2};
    int64_t take[4] = {7, 7, 7, 7};
    size_t short_line = 99;
    assert_int_equal(mer_stock_allocate(qty, 2, avail, 2, take, &short_line), 0);
    assert_int_equal(short_line, 1);
    int64_t zero[4] = {0};
    assert_memory_equal(take, zero, sizeof(zero));
    /* no candidate at all */
    assert_int_equal(mer_stock_allocate(qty, 2, avail, 0, take, &short_line), 0);
    assert_int_equal(short_line, 0);
}

/* Negative availability (never stored, but defended against) counts as none; the answer is deterministic. */
static void test_deterministic(void **state)
{
    (void)state;
    int64_t qty[1] = {4};
    int64_t avail[4] = {-3, 2, 2, 4};
    int64_t a[4], b[4];
    size_t s;
    assert_int_equal(mer_stock_allocate(qty, 1, avail, 4, a, &s), 1);
    assert_int_equal(mer_stock_allocate(qty, 1, avail, 4, b, &s), 1);
    assert_memory_equal(a, b, sizeof(a));
    int64_t want[4] = {0, 0, 0, 4};
    assert_memory_equal(a, want, sizeof(want));
    qty[0] = 5; /* no single one: {B, D} is the first pair that fills (A's -3 is none) */
    assert_int_equal(mer_stock_allocate(qty, 1, avail, 4, a, &s), 2);
    int64_t want2[4] = {0, 2, 0, 3};
    assert_memory_equal(a, want2, sizeof(want2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_warehouse_preferred),
        cmocka_unit_test(test_split_fewest),
        cmocka_unit_test(test_three_needed),
        cmocka_unit_test(test_fewest_not_first),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
