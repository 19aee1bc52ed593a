/* Unit tests: the gateway's pure parts (src/gateway/edge.h): token region, webhook region, country,
 * catalogue reads, the edge rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "gateway/edge.h"

#define S(x) x, strlen(x)

static void test_token_region(void **state)
{
    (void)state;
    char r[MER_GW_REGION_MAX];
    assert_true(mer_gw_token_region(S("Bearer mct_in_abcdef"), r));
    assert_string_equal(r, "in");
    assert_true(mer_gw_token_region(S("bearer   mct_eu_x"), r));
    assert_string_equal(r, "eu");
    assert_false(mer_gw_token_region(S("Bearer mst_abcdef"), r));              /* staff: catalogue-wide */
    assert_false(mer_gw_token_region(S("Bearer mct__abc"), r));                /* no region */
    assert_false(mer_gw_token_region(S("Bearer mct_in"), r));                  /* no '_' after it */
    assert_false(mer_gw_token_region(S("Bearer mct_IN_abc"), r));              /* not lower case */
    assert_false(mer_gw_token_region(S("Bearer mct_abcdefghijklmnopq_x"), r)); /* too long */
    assert_false(mer_gw_token_region(S("Basic mct_in_abc"), r));
    assert_false(mer_gw_token_region(NULL, 0, r));
    assert_true(mer_gw_is_customer(S("Bearer mct_sg_q")));
    assert_false(mer_gw_is_customer(S("Bearer mst_q")));
    assert_false(mer_gw_is_customer(NULL, 0));
}

static void test_country_sources_in_order(void **state)
{
    (void)state;
    char cc[3];
    mer_gw_req_parts_t p = {0};
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"email\":\"a@b.c\",\"country\":\"es\"}";
    p.body_len = strlen(p.body);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "ES");
    p.cookie = "session=1; country=sg; x=2";
    p.cookie_len = strlen(p.cookie);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "SG");
    p.x_country = "Fr";
    p.x_country_len = 2;
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "FR");
    p.path = "/api/v1/admin/countries/de/launch-plan";
    p.path_len = strlen(p.path);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "DE");
    p.query = "lang=hi&country=IN&page=2";
    p.query_len = strlen(p.query);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "IN");
}

static void test_country_rejects_what_is_not_a_code(void **state)
{
    (void)state;
    char cc[3];
    mer_gw_req_parts_t p = {0};
    p.query = "xcountry=IN&country=IND";
    p.query_len = strlen(p.query);
    p.path = "/api/v1/countries";
    p.path_len = strlen(p.path);
    p.cookie = "mycountry=IN";
    p.cookie_len = strlen(p.cookie);
    p.body = "[\"country\",\"IN\"]";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"country\": 12}";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"country\": \"I1\"}";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{not json";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
}

static void test_catalogue_reads(void **state)
{
    (void)state;
    assert_true(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/products/3"), false));
    assert_true(mer_gw_is_catalogue_read(S("HEAD"), S("/api/v1/categories"), false));
    assert_true(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/countries"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/products/3"), true)); /* a customer's token */
    assert_false(mer_gw_is_catalogue_read(S("POST"), S("/api/v1/products"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/productsx"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/orders"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/users/me"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/cart"), false));
}

static void test_webhook_region(void **state)
{
    (void)state;
    char r[MER_GW_REGION_MAX];
    const char *hook = "/api/v1/payments/wallet/webhook";
    const char *body = "{\"id\":\"whevt_1\",\"type\":\"payment.succeeded\",\"intent\":\"pi_eu_0a1b\",\"amount\":5}";
    assert_true(mer_gw_webhook_region(S("POST"), S(hook), S(body), r));
    assert_string_equal(r, "eu");
    assert_false(mer_gw_webhook_region(S("GET"), S(hook), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/payments/wallet/webhooks"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/payments/a/b/webhook"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/orders"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), NULL, 0, r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_EU_x\"}"), r)); /* not a region name */
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_eu\"}"), r));   /* no '_' after it */
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"ch_eu_x\"}"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":7}"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("[\"pi_eu_x\"]"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_eu_x\""), r)); /* not JSON */
}

static void test_key_retry_only_where_keys_are_honoured(void **state)
{
    (void)state;
    assert_true(mer_gw_key_retry_safe(S("POST"), S("/api/v1/orders")));
    assert_false(mer_gw_key_retry_safe(S("POST"), S("/api/v1/cart/items"))); /* ignores the key */
    assert_false(mer_gw_key_retry_safe(S("POST"), S("/api/v1/orders/5/cancel")));
    assert_false(mer_gw_key_retry_safe(S("PATCH"), S("/api/v1/orders")));
}

#define SEC 1000000000ull

static void test_limiter_rate_and_burst(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0, t = 1000 * SEC;
    mer_gw_limiter_init(&l, 10, 5, 100); /* 10/s, bursts of 5 */
    for (int i = 0; i < 5; i++)
        assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t, &wait));
    assert_false(mer_gw_limiter_take(&l, S("10.0.0.1"), t, &wait));
    assert_int_equal(wait, 100);                                   /* one interval */
    assert_true(mer_gw_limiter_take(&l, S("10.0.0.2"), t, &wait)); /* another client is not affected */
    assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t + SEC / 10, &wait));
    assert_false(mer_gw_limiter_take(&l, S("10.0.0.1"), t + SEC / 10, &wait));
    for (int i = 0; i < 5; i++) /* a second later the burst is back */
        assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t + 2 * SEC, &wait));
    assert_int_equal(l.limited, 2);
    mer_gw_limiter_release(&l);
}

static void test_limiter_memory_is_bounded(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0, t = 5 * SEC;
    mer_gw_limiter_init(&l, 1, 1, 64);
    size_t entries = l.nsets * MER_GW_LIMIT_WAYS;
    char key[32];
    for (int i = 0; i < 100000; i++) { /* many more clients than entries: each still gets its first request */
        int n = snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);
        assert_true(mer_gw_limiter_take(&l, key, (size_t)n, t + (uint64_t)i * SEC, &wait));
    }
    assert_int_equal(l.nsets * MER_GW_LIMIT_WAYS, entries);
    mer_gw_limiter_release(&l);
}

static void test_limiter_off(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0;
    mer_gw_limiter_init(&l, 0, 0, 10);
    for (int i = 0; i < 1000; i++)
        assert_true(mer_gw_limiter_take(&l, S("a"), 1, &wait));
    mer_gw_limiter_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_region),
        cmocka_unit_test(test_country_sources_in_order),
        cmocka_unit_test(test_country_rejects_what_is_not_a_code),
        cmocka_unit_test(test_catalogue_reads),
        cmocka_unit_test(test_limiter_rate_and_burst),
        cmocka_unit_test(test_limiter_memory_is_bounded),
        cmocka_unit_test(test_limiter_off),
        cmocka_unit_test(test_key_retry_only_where_keys_are_honoured),
        cmocka_unit_test(test_webhook_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
