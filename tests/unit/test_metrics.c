/* Unit tests: fixed-bucket histograms and the Prometheus text they produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/metrics.h"

static const uint64_t ms_bounds[] = {1000000, 10000000, 100000000}; /* 1 ms, 10 ms, 100 ms in ns */
static const mer_hist_spec_t ms_spec = MER_HIST_SPEC(ms_bounds, 9);

static void test_scaled_exact(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    mer_prom_scaled(&b, 2500000, 9);
    mer_buf_addch(&b, ' ');
    mer_prom_scaled(&b, 3000000000u, 9);
    mer_buf_addch(&b, ' ');
    mer_prom_scaled(&b, 1, 9);
    mer_buf_addch(&b, ' ');
    mer_prom_scaled(&b, 0, 9);
    mer_buf_addch(&b, ' ');
    mer_prom_scaled(&b, 4096, 0);
    mer_buf_addch(&b, ' ');
    mer_prom_scaled(&b, 12500, 3);
    assert_string_equal(mer_buf_str(&b), "0.0025 3 0.000000001 0 4096 12.5");
    mer_buf_release(&b);
}

static void test_hist_cumulative(void **state)
{
    (void)state;
    mer_hist_t h = {0};
    mer_hist_observe(&h, &ms_spec, 500000);     /* 0.5 ms: first bucket */
    mer_hist_observe(&h, &ms_spec, 1000000);    /* 1 ms: upper bounds are inclusive */
    mer_hist_observe(&h, &ms_spec, 50000000);   /* 50 ms */
    mer_hist_observe(&h, &ms_spec, 2000000000); /* 2 s: +Inf only */
    mer_hist_snap_t s = {0};
    mer_hist_snap_add(&s, &h, &ms_spec);
    mer_hist_snap_add(&s, &h, &ms_spec); /* two owners with the same counts */
    assert_int_equal(mer_hist_snap_count(&s, &ms_spec), 8);
    mer_buf_t b = MER_BUF_INIT;
    mer_prom_hist(&b, "x_seconds", "route=\"/a/{id}\"", &ms_spec, &s);
    assert_string_equal(mer_buf_str(&b), "x_seconds_bucket{route=\"/a/{id}\",le=\"0.001\"} 4\n"
                                         "x_seconds_bucket{route=\"/a/{id}\",le=\"0.01\"} 4\n"
                                         "x_seconds_bucket{route=\"/a/{id}\",le=\"0.1\"} 6\n"
                                         "x_seconds_bucket{route=\"/a/{id}\",le=\"+Inf\"} 8\n"
                                         "x_seconds_sum{route=\"/a/{id}\"} 4.103\n"
                                         "x_seconds_count{route=\"/a/{id}\"} 8\n");
    mer_buf_release(&b);
}

static void test_hist_without_labels(void **state)
{
    (void)state;
    mer_hist_snap_t s = {0};
    mer_buf_t b = MER_BUF_INIT;
    mer_prom_hist(&b, "y", "", &ms_spec, &s);
    assert_non_null(strstr(mer_buf_str(&b), "y_bucket{le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(mer_buf_str(&b), "\ny_sum 0\ny_count 0\n"));
    mer_buf_release(&b);
}

static void test_label_escaping(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    mer_prom_label(&b, "a", "x\"y\\z\nw");
    mer_prom_label(&b, "b", "plain");
    assert_string_equal(mer_buf_str(&b), "a=\"x\\\"y\\\\z\\nw\",b=\"plain\"");
    mer_buf_release(&b);
}

static void test_family_header(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    mer_prom_family(&b, "z_total", "counter", "Things.");
    assert_string_equal(mer_buf_str(&b), "# HELP z_total Things.\n# TYPE z_total counter\n");
    mer_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_exact),        cmocka_unit_test(test_hist_cumulative),
        cmocka_unit_test(test_hist_without_labels), cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_family_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
