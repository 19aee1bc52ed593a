/* Unit tests: the router's route matching (src/http/req.h: mer_router_add, mer_router_find). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/buf.h"
#include "http/req.h"

static void h_a(mer_req_t *r)
{
    (void)r;
}

static void h_b(mer_req_t *r)
{
    (void)r;
}

static const mer_route_t products[] = {
    {.method = "GET", .pattern = "/api/v1/products", .fn = h_a},
    {.method = "GET", .pattern = "/api/v1/products/{id}", .fn = h_a},
    {.method = "PATCH",
     .pattern = "/api/v1/products/{id}",
     .fn = h_b,
     .auth = MER_AUTH_STAFF,
     .flags = MER_ROUTE_JSON_BODY},
    {.method = "DELETE", .pattern = "/api/v1/products/{id}", .fn = h_b, .auth = MER_AUTH_ADMIN},
    {.method = "GET", .pattern = "/api/v1/orders/{id}/lines/{line}", .fn = h_a, .auth = MER_AUTH_USER},
};

static const mer_route_t carts[] = {
    {.method = "POST", .pattern = "/api/v1/cart/items", .fn = h_b, .auth = MER_AUTH_USER, .flags = MER_ROUTE_JSON_BODY},
    {.method = "PATCH", .pattern = "/api/v1/cart/items/{sku}", .fn = h_b, .auth = MER_AUTH_USER},
    /* a literal after a parameter route of the same shape: registration order decides */
    {.method = "GET", .pattern = "/api/v1/products/new", .fn = h_b},
    {.method = "GET", .pattern = "/api/v1/a/{p1}/{p2}/{p3}/{p4}/{p5}", .fn = h_a},
};

typedef struct found {
    const mer_route_t *rt;
    h2o_iovec_t params[MER_MAX_PARAMS];
    size_t nparams;
    char allow[128];
} found_t;

static found_t find(const char *method, const char *path)
{
    found_t f = {0};
    mer_buf_t allow = MER_BUF_INIT;
    f.rt = mer_router_find(h2o_iovec_init(method, strlen(method)), path, strlen(path), f.params, &f.nparams, &allow);
    snprintf(f.allow, sizeof(f.allow), "%s", allow.len ? mer_buf_str(&allow) : "");
    mer_buf_release(&allow);
    if (f.rt == NULL)
        f.nparams = 0;
    return f;
}

static void assert_param(const found_t *f, size_t i, const char *want)
{
    assert_true(i < f->nparams);
    assert_int_equal(f->params[i].len, strlen(want));
    assert_memory_equal(f->params[i].base, want, strlen(want));
}

static int setup(void **state)
{
    (void)state;
    mer_router_add(products, MER_ARRAY_LEN(products));
    mer_router_add(carts, MER_ARRAY_LEN(carts));
    return 0;
}

static void test_literal_and_parameters(void **state)
{
    (void)state;
    found_t f = find("GET", "/api/v1/products");
    assert_ptr_equal(f.rt, &products[0]);
    assert_int_equal(f.nparams, 0);

    f = find("GET", "/api/v1/products/42");
    assert_ptr_equal(f.rt, &products[1]);
    assert_int_equal(f.nparams, 1);
    assert_param(&f, 0, "42");

    f = find("GET", "/api/v1/orders/7/lines/abc-1");
    assert_ptr_equal(f.rt, &products[4]);
    assert_int_equal(f.nparams, 2);
    assert_param(&f, 0, "7");
    assert_param(&f, 1, "abc-1");

    f = find("PATCH", "/api/v1/cart/items/SKU%20X"); /* values are raw segments, not decoded */
    assert_ptr_equal(f.rt, &carts[1]);
    assert_param(&f, 0, "SKU%20X");
}

static void test_parameter_is_one_nonempty_segment(void **state)
{
    (void)state;
    assert_null(find("GET", "/api/v1/products/").rt);      /* empty segment */
    assert_null(find("GET", "/api/v1/products/1/2").rt);   /* two segments */
    assert_null(find("GET", "/api/v1/products/1/").rt);    /* trailing slash */
    assert_null(find("GET", "/api/v1/productsX").rt);      /* prefix of a literal */
    assert_null(find("GET", "/api/v1/product").rt);        /* shorter than the literal */
    assert_null(find("GET", "/api/v1/orders/7/lines").rt); /* second parameter missing */
    assert_string_equal(find("GET", "/api/v1/products/").allow, "");
    /* more {name} segments than MER_MAX_PARAMS never match (nor overflow params) */
    assert_null(find("GET", "/api/v1/a/1/2/3/4/5").rt);
}

static void test_404_and_405(void **state)
{
    (void)state;
    found_t f = find("GET", "/api/v1/nothing/here");
    assert_null(f.rt);
    assert_string_equal(f.allow, ""); /* 404 */

    f = find("POST", "/api/v1/products/42");
    assert_null(f.rt);
    assert_string_equal(f.allow, "GET, PATCH, DELETE"); /* 405, with every method of that path */

    f = find("DELETE", "/api/v1/cart/items");
    assert_null(f.rt);
    assert_string_equal(f.allow, "POST");

    /* a path that is a route's literal start cut short, or that goes on past it, is no match of it */
    static const char *const near[] = {"/api/v1/product",
                                       "/api/v1/productsX",
                                       "/api/v1/products/",
                                       "/api/v1/cart/item",
                                       "/api/v1/cart/items/",
                                       "/api/v1/products/new/x",
                                       "",
                                       "/"};
    for (size_t i = 0; i < MER_ARRAY_LEN(near); i++) {
        f = find("GET", near[i]);
        assert_null(f.rt);
        assert_string_equal(f.allow, "");
    }
    f = find("GET", "/api/v1/products/newer"); /* a parameter whose value starts as a literal route does */
    assert_ptr_equal(f.rt, &products[1]);
    assert_param(&f, 0, "newer");

    /* methods are case-sensitive tokens (RFC 9110) */
    f = find("get", "/api/v1/products");
    assert_null(f.rt);
    assert_string_equal(f.allow, "GET");
}

static void test_method_handling(void **state)
{
    (void)state;
    assert_ptr_equal(find("HEAD", "/api/v1/products/9").rt, &products[1]); /* HEAD is GET without a body */
    found_t f = find("HEAD", "/api/v1/cart/items");                        /* but only where GET is */
    assert_null(f.rt);
    assert_string_equal(f.allow, "POST");
    assert_ptr_equal(find("PATCH", "/api/v1/products/9").rt, &products[2]);
    assert_ptr_equal(find("DELETE", "/api/v1/products/9").rt, &products[3]);
    assert_null(find("GETX", "/api/v1/products").rt);
    assert_null(find("", "/api/v1/products").rt);
}

static void test_registration_order_and_columns(void **state)
{
    (void)state;
    /* the parameter route registered first wins over a later literal of the same shape */
    found_t f = find("GET", "/api/v1/products/new");
    assert_ptr_equal(f.rt, &products[1]);
    assert_param(&f, 0, "new");

    /* the route table's columns come back with the route */
    f = find("PATCH", "/api/v1/products/1");
    assert_int_equal(f.rt->auth, MER_AUTH_STAFF);
    assert_int_equal(f.rt->flags, MER_ROUTE_JSON_BODY);
    assert_ptr_equal(f.rt->fn, h_b);
    assert_int_equal(find("DELETE", "/api/v1/products/1").rt->auth, MER_AUTH_ADMIN);
    assert_int_equal(find("GET", "/api/v1/products").rt->auth, MER_AUTH_PUBLIC);

    /* numbering across tables, in registration order */
    assert_int_equal(mer_router_count(), MER_ARRAY_LEN(products) + MER_ARRAY_LEN(carts));
    for (size_t i = 0; i < mer_router_count(); i++)
        assert_int_equal(mer_router_index(mer_router_at(i)), i);
    assert_ptr_equal(mer_router_at(MER_ARRAY_LEN(products)), &carts[0]);
    assert_null(mer_router_at(mer_router_count()));
    static const mer_route_t stray = {.method = "GET", .pattern = "/x", .fn = h_a};
    assert_int_equal(mer_router_index(&stray), SIZE_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_parameters),
        cmocka_unit_test(test_parameter_is_one_nonempty_segment),
        cmocka_unit_test(test_404_and_405),
        cmocka_unit_test(test_method_handling),
        cmocka_unit_test(test_registration_order_and_columns),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
