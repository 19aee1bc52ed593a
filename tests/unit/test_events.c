/*
 * Unit tests: the events module's subscriber table and the outbox's wake-up counters, and the wallet
 * webhook as a service without HTTP (signature check against catalog.db's secrets; applying an event to a
 * payment through order operations that the test provides in place of the order module). A real store in
 * a temporary directory; jobs run on the region's writer from the test thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <poll.h>
#include <unistd.h>

#include "core/json.h"
#include "core/sig.h"
#include "events/events.h"
#include "payment/payment.h"
#include "store/store.h"
#include "store/writer.h"

#define REGION "ut"

static char dir[64];

/* ---- subscribers the tests register ---------------------------------------------------------------------- */

static int napplied;
static char applied_id[48], applied_status[16];

static int ut_apply(mer_db_t *db, const mer_event_t *ev)
{
    (void)db;
    napplied++;
    snprintf(applied_id, sizeof(applied_id), "%s", ev->id);
    const char *st = json_string_value(json_object_get(ev->data, "status"));
    snprintf(applied_status, sizeof(applied_status), "%s", st ? st : "");
    return 0;
}

static int ut_fail(mer_db_t *db, const mer_event_t *ev)
{
    (void)db;
    (void)ev;
    return MER_E_CONFLICT;
}

static int ut_attempt(const mer_event_t *ev, char ref[MER_EVENT_REF_MAX], char *why, size_t cap)
{
    (void)ev;
    (void)ref;
    snprintf(why, cap, "not called by the fan-out");
    return -1;
}

static const mer_event_subscriber_t sub_apply = {.name = "ut_apply", .events = "order.*", .apply = ut_apply};
static const mer_event_subscriber_t sub_call = {
    .name = "ut_call", .events = "payment.refund_required", .attempt = ut_attempt};
static const mer_event_subscriber_t sub_fail = {.name = "ut_fail", .events = "fail.*", .apply = ut_fail};

/* ---- fixtures -------------------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mer-events-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (mer_store_init(dir) != 0 || mer_store_open_region(REGION) != 0 || mer_writer_start(REGION) != 0)
        return -1;
    mer_outbox_init();
    mer_events_subscribe(&sub_apply);
    mer_events_subscribe(&sub_call);
    mer_events_subscribe(&sub_fail);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mer_writer_stop_all();
    mer_store_shutdown();
    static const char *const files[] = {"catalog.db",           "catalog.db-wal",           "catalog.db-shm",
                                        "region-" REGION ".db", "region-" REGION ".db-wal", "region-" REGION ".db-shm"};
    char path[128];
    for (size_t i = 0; i < MER_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

/* Writes an event and fans it out to the table, in one writer job. */
typedef struct fan_arg {
    const char *type, *payload;
    int64_t seq; /* out */
    int err;     /* out: the fan-out's result */
} fan_arg_t;

static int fan_run(mer_db_t *db, void *arg)
{
    fan_arg_t *a = arg;
    if (mer_event_emit_raw(db, a->type, 0, a->payload, strlen(a->payload)) != 0 ||
        mer_db_query_int(db, &a->seq, "SELECT MAX(id) FROM outbox", NULL) != 0)
        return MER_E_INTERNAL;
    char id[48];
    mer_event_id(REGION, a->seq, id);
    mer_event_t ev = {.seq = a->seq, .id = id, .region = REGION, .type = a->type, .payload = a->payload};
    a->err = mer_events_fan_out_one(db, &ev, mer_now_unix_ms());
    return 0; /* commit what was written either way: the test looks at it */
}

static int64_t count_deliveries(int64_t seq, const char *subscriber)
{
    int64_t n = -1;
    mer_db_t *db = mer_store_write_begin(REGION);
    assert_int_equal(mer_db_query_int(db, &n, "SELECT COUNT(*) FROM event_delivery WHERE event = ? AND subscriber = ?",
                                      "is", seq, subscriber),
                     0);
    mer_store_write_end(REGION);
    return n;
}

/* ---- the subscriber table -------------------------------------------------------------------------------- */

static void test_in_process_subscriber_applies_what_it_takes(void **state)
{
    (void)state;
    napplied = 0;
    fan_arg_t a = {.type = "order.paid", .payload = "{\"status\":\"paid\",\"number\":\"N-1\"}"};
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &a), 0);
    assert_int_equal(a.err, 0);
    assert_int_equal(napplied, 1);
    char want[48];
    mer_event_id(REGION, a.seq, want);
    assert_string_equal(applied_id, want);
    assert_string_equal(applied_status, "paid");              /* the payload arrives parsed */
    assert_int_equal(count_deliveries(a.seq, "ut_apply"), 0); /* in-process: no delivery row */
    assert_int_equal(count_deliveries(a.seq, "ut_call"), 0);
}

static void test_calling_subscriber_gets_a_delivery_row(void **state)
{
    (void)state;
    napplied = 0;
    fan_arg_t a = {.type = "payment.refund_required", .payload = "{\"amount\":100}"};
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &a), 0);
    assert_int_equal(a.err, 0);
    assert_int_equal(napplied, 0);
    assert_int_equal(count_deliveries(a.seq, "ut_call"), 1);
    /* a second fan-out of the same event (a retried pass) adds nothing */
    fan_arg_t again = a;
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &again), 0);
    assert_int_equal(count_deliveries(a.seq, "ut_call"), 1);
}

static void test_event_nobody_takes(void **state)
{
    (void)state;
    napplied = 0;
    fan_arg_t a = {.type = "stock.low", .payload = "{}"};
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &a), 0);
    assert_int_equal(a.err, 0);
    assert_int_equal(napplied, 0);
    assert_int_equal(count_deliveries(a.seq, "ut_call"), 0);
}

static void test_subscriber_error_fails_the_fan_out(void **state)
{
    (void)state;
    fan_arg_t a = {.type = "fail.now", .payload = "{}"};
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &a), 0);
    assert_int_equal(a.err, MER_E_CONFLICT);
}

static void test_table_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(mer_events_subscriber("ut_call"), &sub_call);
    assert_null(mer_events_subscriber("webhook:1"));
    assert_ptr_equal(mer_events_subscriber_at(0), &sub_apply);
    assert_null(mer_events_subscriber_at(3));
}

/* ---- the outbox's wake-up counters ----------------------------------------------------------------------- */

static int quiet_run(mer_db_t *db, void *arg)
{
    (void)arg;
    return mer_db_exec(db, "DELETE FROM webhook_seen WHERE provider = 'none'", NULL) < 0 ? MER_E_INTERNAL : 0;
}

static bool wake_fd_readable(void)
{
    struct pollfd p = {.fd = mer_outbox_wake_fd(), .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void test_commit_with_events_moves_the_counter(void **state)
{
    (void)state;
    assert_true(mer_outbox_wake_fd() >= 0);
    mer_outbox_wake_drain();
    uint64_t before = mer_outbox_wakes(REGION);
    assert_int_equal(mer_writer_run_sync(REGION, quiet_run, NULL), 0);
    assert_int_equal(mer_outbox_wakes(REGION), before); /* no events: no wake-up */
    assert_false(wake_fd_readable());
    fan_arg_t a = {.type = "stock.low", .payload = "{}"};
    assert_int_equal(mer_writer_run_sync(REGION, fan_run, &a), 0);
    assert_int_equal(mer_outbox_wakes(REGION), before + 1);
    assert_true(wake_fd_readable());
    mer_outbox_wake_drain();
    assert_false(wake_fd_readable());
    assert_int_equal(mer_outbox_wakes("nowhere"), 0);
}

/* ---- the wallet webhook as a service --------------------------------------------------------------------- */

static void test_wallet_signature(void **state)
{
    (void)state;
    char first[80], second[80], sig[128];
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    assert_int_equal(mer_payment_secret(db, "wallet", first), 0);
    mer_store_write_end(MER_STORE_CATALOG);
    const char *body = "{\"id\":\"whevt_1\",\"type\":\"payment.succeeded\"}";
    size_t len = strlen(body);
    int64_t now = mer_now_unix_ms();
    mer_db_t *cat = mer_store_reader(MER_STORE_CATALOG);

    mer_webhook_sign(first, now / 1000, body, len, sig);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len, now), 0);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len - 1, now), MER_E_INVALID_SIGNATURE);
    assert_int_equal(mer_wallet_webhook_verify(cat, NULL, 0, body, len, now), MER_E_INVALID_SIGNATURE);
    /* signed 10 minutes ago: stale */
    mer_webhook_sign(first, now / 1000 - 600, body, len, sig);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len, now), MER_E_STALE_WEBHOOK);

    /* a rotation: the new secret verifies, the old one too while its window lasts */
    db = mer_store_write_begin(MER_STORE_CATALOG);
    assert_int_equal(mer_payment_secret_rotate(db, "wallet", 60 * 1000, second), 0);
    mer_store_write_end(MER_STORE_CATALOG);
    mer_webhook_sign(second, now / 1000, body, len, sig);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len, now), 0);
    mer_webhook_sign(first, now / 1000, body, len, sig);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len, now), 0);
    /* after the window the old secret no longer verifies, even freshly signed */
    mer_webhook_sign(first, (now + 120 * 1000) / 1000, body, len, sig);
    assert_int_equal(mer_wallet_webhook_verify(cat, sig, strlen(sig), body, len, now + 120 * 1000),
                     MER_E_INVALID_SIGNATURE);
}

/* Order operations in place of the order module: payment must need nothing else of it. */
static int ncharged;
static int64_t charged_order, charged_payment, charged_amount;

static int fake_charge_succeeded(mer_db_t *db, int64_t order_id, int64_t payment_id, int64_t amount, const char *actor,
                                 const char *note, char current[20])
{
    (void)db;
    (void)actor;
    (void)note;
    ncharged++;
    charged_order = order_id;
    charged_payment = payment_id;
    charged_amount = amount;
    snprintf(current, 20, "paid");
    return 0;
}

static int fake_refunded(mer_db_t *db, int64_t order_id)
{
    (void)db;
    (void)order_id;
    return 0;
}

static int fake_number(mer_db_t *db, int64_t order_id, char out[MER_PAYMENT_ORDER_NUMBER_MAX])
{
    (void)db;
    snprintf(out, MER_PAYMENT_ORDER_NUMBER_MAX, "N-%lld", (long long)order_id);
    return 0;
}

static const mer_payment_order_ops_t fake_ops = {fake_charge_succeeded, fake_refunded, fake_number};

static mer_wallet_event_t wallet_event(const char *id, int64_t amount)
{
    mer_wallet_event_t ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.id, sizeof(ev.id), "%s", id);
    snprintf(ev.type, sizeof(ev.type), "payment.succeeded");
    snprintf(ev.intent, sizeof(ev.intent), "pi_" REGION "_abc");
    snprintf(ev.region, sizeof(ev.region), REGION);
    snprintf(ev.charge_id, sizeof(ev.charge_id), "ch_1");
    snprintf(ev.currency, sizeof(ev.currency), "INR");
    ev.amount = amount;
    return ev;
}

static void test_wallet_apply_through_order_ops(void **state)
{
    (void)state;
    mer_payment_set_order_ops(&fake_ops);
    mer_db_t *db = mer_store_write_begin(REGION);
    /* no orders table rows in this test: the payment stands alone */
    assert_true(mer_db_exec(db, "PRAGMA foreign_keys=OFF", NULL) >= 0);
    int64_t pay = 0;
    assert_int_equal(
        mer_db_query_int(db, &pay,
                         "INSERT INTO payment (order_id, provider, kind, amount, currency, status, intent, "
                         "created_at) VALUES (42, 'wallet', 'charge', 1000, 'INR', 'pending', ?, 0) "
                         "RETURNING id",
                         "s", "pi_" REGION "_abc"),
        0);
    mer_wallet_outcome_t out;
    mer_verr_t e = {0};

    mer_wallet_event_t ev = wallet_event("whevt_a", 1000);
    assert_int_equal(mer_wallet_webhook_apply(db, &ev, &out, &e), 0);
    assert_string_equal(out.result, "processed");
    assert_int_equal(ncharged, 1);
    assert_int_equal(charged_order, 42);
    assert_int_equal(charged_payment, pay);
    assert_int_equal(charged_amount, 1000);
    char status[16] = "", ref[16] = "";
    mer_rows_t *r = mer_db_query(db, "SELECT status, provider_ref FROM payment WHERE id = ?", "i", pay);
    assert_true(mer_rows_next(r));
    snprintf(status, sizeof(status), "%s", mer_rows_text(r, 0));
    snprintf(ref, sizeof(ref), "%s", mer_rows_text(r, 1));
    assert_int_equal(mer_rows_end(r), 0);
    assert_string_equal(status, "succeeded");
    assert_string_equal(ref, "ch_1");

    /* the same event again changes nothing */
    assert_int_equal(mer_wallet_webhook_apply(db, &ev, &out, &e), 0);
    assert_string_equal(out.result, "duplicate");
    assert_int_equal(ncharged, 1);

    /* an amount that is not the intent's names its field */
    ev = wallet_event("whevt_b", 999);
    assert_int_equal(mer_wallet_webhook_apply(db, &ev, &out, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "amount");

    /* an intent nobody opened is ignored */
    ev = wallet_event("whevt_c", 1000);
    snprintf(ev.intent, sizeof(ev.intent), "pi_" REGION "_nothing");
    assert_int_equal(mer_wallet_webhook_apply(db, &ev, &out, &e), 0);
    assert_string_equal(out.result, "ignored");
    assert_int_equal(ncharged, 1);
    assert_true(mer_db_exec(db, "PRAGMA foreign_keys=ON", NULL) >= 0);
    mer_store_write_end(REGION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_process_subscriber_applies_what_it_takes),
        cmocka_unit_test(test_calling_subscriber_gets_a_delivery_row),
        cmocka_unit_test(test_event_nobody_takes),
        cmocka_unit_test(test_subscriber_error_fails_the_fan_out),
        cmocka_unit_test(test_table_lookup),
        cmocka_unit_test(test_commit_with_events_moves_the_counter),
        cmocka_unit_test(test_wallet_signature),
        cmocka_unit_test(test_wallet_apply_through_order_ops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
