/*
 * Unit tests: the flash-sale grab service (fs_grab, fs_reserve_check in src/flashsale/grab.c) without HTTP:
 * a sale built in memory, grabs and reservations as plain structs, refusals with their error, reason and
 * field, counted in the session's stats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>
#include <sodium.h>

#include "flashsale/flash_int.h"

static fs_sale_t *sale;
static fs_session_t *fcfs, *queue, *reserved;
static int64_t now;

static fs_session_t *session(fs_mode_t mode, int64_t units)
{
    fs_session_t *s = fs_session_new(sale);
    s->id = sale->nsessions + 1;
    s->mode = mode;
    s->starts_at = now - 1000;
    s->ends_at = now + 60000;
    s->token_ttl_ms = 60000;
    s->per_user_limit = 1;
    fs_item_t *it = &s->items[s->nitems++];
    it->sku_id = 7;
    it->price = 100;
    it->units = units;
    atomic_store(&it->left, units);
    snprintf(it->sku, sizeof(it->sku), "PHONE-1");
    sale->sessions[sale->nsessions++] = s;
    return s;
}

static fs_grab_in_t buyer(int64_t user)
{
    return (fs_grab_in_t){.user_id = user, .created_at = 0, .buyer = {user, 0, 0, 0, 0}, .sku = "PHONE-1", .now = now};
}

static void test_fcfs_win_then_limit_then_sold_out(void **state)
{
    (void)state;
    fs_grab_in_t in = buyer(1);
    fs_grab_t won, out;
    fs_refusal_t no;
    assert_int_equal(fs_grab(sale, fcfs, &in, &won, &no), 0);
    assert_non_null(won.token);
    assert_null(won.ticket);
    assert_int_equal(won.token->buyer.user_id, 1);
    assert_int_equal(won.token->expires_at, now + 60000);
    assert_int_equal(atomic_load(&fcfs->items[0].left), 1);

    /* the buyer's limit (1) before another unit */
    assert_int_equal(fs_grab(sale, fcfs, &in, &out, &no), MER_E_LIMIT_REACHED);
    assert_int_equal(no.reason, FS_R_LIMIT);
    assert_null(out.token);
    assert_int_equal(atomic_load(&fcfs->items[0].left), 1);

    fs_grab_in_t second = buyer(2), third = buyer(3);
    fs_grab_t last;
    assert_int_equal(fs_grab(sale, fcfs, &second, &last, &no), 0);
    assert_int_equal(atomic_load(&fcfs->items[0].left), 0);
    assert_int_equal(fs_grab(sale, fcfs, &third, &out, &no), MER_E_SOLD_OUT);
    assert_int_equal(no.reason, FS_R_SOLD_OUT);
    assert_string_equal(fs_reason_names[no.reason], "sold_out");
    assert_int_equal(atomic_load(&fcfs->refusals[FS_R_LIMIT]), 1);
    assert_int_equal(atomic_load(&fcfs->refusals[FS_R_SOLD_OUT]), 1);
    assert_int_equal(atomic_load(&fcfs->grabs), 4);

    /* a win that could not be recorded gives everything back: the unit and the buyer's count */
    fs_token_release(last.token);
    free(last.token);
    assert_int_equal(atomic_load(&fcfs->items[0].left), 1);
    assert_int_equal(fs_grab(sale, fcfs, &third, &last, &no), 0);
    fs_token_release(last.token);
    free(last.token);
    fs_token_release(won.token);
    free(won.token);
}

/* A malformed grab names its field and is not a refusal the stats count. */
static void test_unknown_sku_names_the_field(void **state)
{
    (void)state;
    fs_grab_in_t in = buyer(3);
    in.sku = "NOPE";
    fs_grab_t out;
    fs_refusal_t no;
    uint64_t before = 0;
    for (int i = 0; i < FS_R__COUNT; i++)
        before += atomic_load(&queue->refusals[i]);
    assert_int_equal(fs_grab(sale, queue, &in, &out, &no), MER_E_VALIDATION);
    assert_string_equal(no.field, "sku");
    assert_int_equal(no.reason, -1);
    uint64_t after = 0;
    for (int i = 0; i < FS_R__COUNT; i++)
        after += atomic_load(&queue->refusals[i]);
    assert_int_equal(after, before);
}

static void test_queue_gives_tickets_in_arrival_order(void **state)
{
    (void)state;
    fs_grab_t a, b;
    fs_refusal_t no;
    fs_grab_in_t in1 = buyer(11), in2 = buyer(12);
    assert_int_equal(fs_grab(sale, queue, &in1, &a, &no), 0);
    assert_int_equal(fs_grab(sale, queue, &in2, &b, &no), 0);
    assert_null(a.token);
    assert_non_null(a.ticket);
    assert_int_equal(b.ticket->seq, a.ticket->seq + 1);
    assert_int_equal(atomic_load(&queue->items[0].left), 5); /* units are decided by the processor, later */
    /* one ticket per buyer */
    fs_grab_t c;
    assert_int_equal(fs_grab(sale, queue, &in1, &c, &no), MER_E_LIMIT_REACHED);
    free(a.ticket);
    free(b.ticket);
}

static void test_ended_session_refuses(void **state)
{
    (void)state;
    fs_grab_in_t in = buyer(21);
    in.now = queue->ends_at;
    fs_grab_t out;
    fs_refusal_t no;
    assert_int_equal(fs_grab(sale, queue, &in, &out, &no), MER_E_SALE_ENDED);
    assert_int_equal(no.reason, FS_R_ENDED);
}

static void test_reservations(void **state)
{
    (void)state;
    fs_grab_in_t in = buyer(31);
    fs_refusal_t no;
    bool already = true;
    in.now = reserved->res_closes_at; /* the window is over */
    assert_int_equal(fs_reserve_check(sale, reserved, &in, &already, &no), MER_E_CONFLICT);
    assert_int_equal(no.reason, FS_R_WINDOW);
    in.now = now;
    assert_int_equal(fs_reserve_check(sale, reserved, &in, &already, &no), 0);
    assert_false(already);
    /* the grab of a customer who did not reserve is refused */
    fs_grab_t out;
    assert_int_equal(fs_grab(sale, reserved, &in, &out, &no), MER_E_NOT_RESERVED);
    mer_smap_set(&reserved->reservations, 31, 1); /* what the adapter does after the row committed */
    assert_int_equal(fs_reserve_check(sale, reserved, &in, &already, &no), 0);
    assert_true(already);
    assert_int_equal(fs_grab(sale, reserved, &in, &out, &no), 0);
    fs_token_release(out.token);
    free(out.token);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    now = mer_now_unix_ms();
    json_t *titles = json_pack("{s:s}", "en", "Test sale"), *rules = json_object();
    sale = fs_sale_build(1, "IN", "in", titles, rules);
    json_decref(titles);
    json_decref(rules);
    fcfs = session(FS_FCFS, 2);
    queue = session(FS_QUEUE, 5);
    reserved = session(FS_FCFS, 5);
    reserved->reservation_required = true;
    reserved->res_opens_at = now - 5000;
    reserved->res_closes_at = now + 5000;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fcfs_win_then_limit_then_sold_out),
        cmocka_unit_test(test_unknown_sku_names_the_field),
        cmocka_unit_test(test_queue_gives_tickets_in_arrival_order),
        cmocka_unit_test(test_ended_session_refuses),
        cmocka_unit_test(test_reservations),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
