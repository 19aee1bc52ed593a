/* Unit tests: the webhook address policy (events/egress.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "events/events.h"

static int check(const char *text, unsigned allow, char *why, size_t cap)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
        return mer_webhook_addr_check((struct sockaddr *)&in, allow, why, cap);
    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    return mer_webhook_addr_check((struct sockaddr *)&in6, allow, why, cap);
}

static void test_addresses(void **state)
{
    (void)state;
    char why[200];
    static const char *const loopback[] = {"127.0.0.1",    "127.255.255.254",  "0.0.0.0",     "::1",
                                           "::",           "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1",
                                           "2002:7f00:1::"};
    static const char *const private[] = {"10.0.0.1",        "172.16.0.1",         "172.31.255.255",   "192.168.0.10",
                                          "169.254.169.254", "100.64.0.1",         "fc00::1",          "fd12:3456::1",
                                          "fe80::1",         "::ffff:10.1.2.3",    "224.0.0.1",        "ff02::1",
                                          "::10.0.0.1",      "64:ff9b::a9fe:a9fe", "2002:c0a8:101::1", "fec0::1",
                                          "64:ff9b:1::1",    "198.18.0.1",         "192.0.0.8"};
    static const char *const public[] = {"8.8.8.8",         "172.15.255.255", "172.32.0.1",      "192.169.0.1",
                                         "100.128.0.1",     "11.0.0.1",       "2001:db8::1",     "2606:4700::1111",
                                         "::ffff:1.1.1.1",  "169.253.0.1",    "126.255.255.255", "64:ff9b::808:808",
                                         "2002:808:808::1", "198.20.0.1"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++) {
        assert_int_equal(check(loopback[i], 0, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "loopback"));
        assert_int_equal(check(loopback[i], MER_EGRESS_PRIVATE, why, sizeof(why)), -1);
        assert_int_equal(check(loopback[i], MER_EGRESS_LOOPBACK, why, sizeof(why)), 0);
    }
    for (size_t i = 0; i < sizeof(private) / sizeof(*private); i++) {
        assert_int_equal(check(private[i], 0, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "--webhook-allow-private"));
        assert_int_equal(check(private[i], MER_EGRESS_LOOPBACK, why, sizeof(why)), -1);
        assert_int_equal(check(private[i], MER_EGRESS_PRIVATE, why, sizeof(why)), 0);
    }
    for (size_t i = 0; i < sizeof(public) / sizeof(*public); i++)
        assert_int_equal(check(public[i], 0, why, sizeof(why)), 0);
    assert_int_equal(check("127.0.0.1", 0, why, sizeof(why)), -1);
    assert_string_equal(why, "refused: 127.0.0.1 is a loopback address (serve --webhook-allow-loopback allows it)");
}

static void test_urls(void **state)
{
    (void)state;
    char why[200];
    static const char *const refused[] = {"http://127.0.0.1:8080/x",
                                          "http://[::1]/",
                                          "http://2130706433/",
                                          "http://0x7f.1/",
                                          "http://10.0.0.1/",
                                          "https://[fe80::1%25eth0]/",
                                          "http://localhost/",
                                          "http://LOCALHOST./",
                                          "http://a.b.localhost:9/",
                                          "ftp://example.com/",
                                          "example.com/hook",
                                          "http://",
                                          "http://[::ffff:192.168.1.1]/"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        why[0] = '\0';
        assert_int_equal(mer_webhook_url_check(refused[i], 0, why, sizeof(why)), -1);
        assert_true(why[0] != '\0');
    }
    static const char *const ok[] = {"https://hooks.example.com/meridian", "http://203.0.113.7:8443/h",
                                     "https://[2001:db8::1]/", "http://notlocalhost.example/"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
        assert_int_equal(mer_webhook_url_check(ok[i], 0, why, sizeof(why)), 0);
    assert_int_equal(mer_webhook_url_check("http://127.0.0.1:8080/x", MER_EGRESS_LOOPBACK, why, sizeof(why)), 0);
    assert_int_equal(mer_webhook_url_check("http://localhost/", MER_EGRESS_LOOPBACK, why, sizeof(why)), 0);
    assert_int_equal(mer_webhook_url_check("http://10.0.0.1/", MER_EGRESS_PRIVATE, why, sizeof(why)), 0);
    assert_int_equal(mer_webhook_url_check("http://10.0.0.1/", 0, why, sizeof(why)), -1);
    assert_string_equal(why, "10.0.0.1 is a private address (serve --webhook-allow-private allows it)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_addresses), cmocka_unit_test(test_urls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
