/*
 * Unit tests: the group-commit writer (src/store/writer.h) on a real SQLite region database in a
 * temporary directory: batching of concurrent submissions, a failing job rolled back to its savepoint
 * while its batch commits, commit hooks, and a failed COMMIT (injected through db.h's fault switch).
 *
 * Jobs are submitted from plain threads (not h2o workers), so their done() runs on the writer's syncer thread.
 * To put several jobs in one batch for certain, a "gate" job holds the writer inside its batch until
 * the others are queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/buf.h"
#include "store/db.h"
#include "store/store.h"
#include "store/writer.h"

#define REGION "ut"

static char dir[64];

/* ---- completion tracking -------------------------------------------------------------------------------- */

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static size_t ndone; /* guarded by done_mu */

typedef struct ins_job {
    mer_wjob_t w;
    int64_t id;   /* row to insert */
    int fail;     /* error to return after inserting (0 = none) */
    int err_seen; /* job->err as done() saw it */
    size_t ran;   /* place among the jobs run since reset_done (writer thread) */
    size_t seen;  /* place among the jobs answered since reset_done */
} ins_job_t;

static size_t nran; /* writer thread only; reset while it is idle */

static int ins_run(mer_db_t *db, mer_wjob_t *w)
{
    ins_job_t *j = (ins_job_t *)w;
    j->ran = nran++;
    int rc = mer_db_exec(db, "INSERT INTO ut_item (id) VALUES (?)", "i", j->id);
    if (rc < 0)
        return rc;
    return j->fail;
}

static void count_done(void)
{
    pthread_mutex_lock(&done_mu);
    ndone++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static void ins_done(mer_wjob_t *w)
{
    ins_job_t *j = (ins_job_t *)w;
    j->err_seen = w->err;
    pthread_mutex_lock(&done_mu);
    j->seen = ndone++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static void wait_done(size_t n)
{
    pthread_mutex_lock(&done_mu);
    while (ndone < n)
        pthread_cond_wait(&done_cv, &done_mu);
    pthread_mutex_unlock(&done_mu);
}

static void reset_done(void)
{
    pthread_mutex_lock(&done_mu);
    ndone = 0;
    nran = 0;
    pthread_mutex_unlock(&done_mu);
}

/* ---- the gate: a job that holds the writer until released ----------------------------------------------- */

static struct {
    mer_wjob_t w;
    _Atomic int entered, open;
} gate;

static int gate_run(mer_db_t *db, mer_wjob_t *w)
{
    (void)db;
    (void)w;
    atomic_store(&gate.entered, 1);
    while (!atomic_load(&gate.open))
        usleep(1000);
    return 0;
}

static void gate_done(mer_wjob_t *w)
{
    (void)w;
    count_done();
}

/* Submits the gate and returns once the writer is inside it: what is submitted next queues up. */
static void gate_close(void)
{
    atomic_store(&gate.entered, 0);
    atomic_store(&gate.open, 0);
    gate.w.run = gate_run;
    gate.w.done = gate_done;
    assert_int_equal(mer_writer_submit(REGION, &gate.w), 0);
    while (!atomic_load(&gate.entered))
        usleep(1000);
}

static void gate_open(void)
{
    atomic_store(&gate.open, 1);
}

/* ---- helpers -------------------------------------------------------------------------------------------- */

/* A counter of mer_writer_metrics() for this region, e.g. ("batches", "committed"). */
static uint64_t metric(const char *family, const char *result)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_writer_metrics(&b);
    char key[160];
    snprintf(key, sizeof(key), "meridian_writer_%s_total{region=\"" REGION "\",result=\"%s\"} ", family, result);
    const char *p = strstr(mer_buf_str(&b), key);
    assert_non_null(p);
    uint64_t v = strtoull(p + strlen(key), NULL, 10);
    mer_buf_release(&b);
    return v;
}

static int count_run(mer_db_t *db, void *arg)
{
    return mer_db_query_int(db, arg, "SELECT COUNT(*) FROM ut_item", NULL);
}

static int64_t rows(void)
{
    int64_t n = -1;
    assert_int_equal(mer_writer_run_sync(REGION, count_run, &n), 0);
    return n;
}

static int has_run(mer_db_t *db, void *arg)
{
    int64_t *id = arg;
    return mer_db_query_int(db, id, "SELECT COUNT(*) FROM ut_item WHERE id = ?", "i", *id);
}

static bool has_row(int64_t id)
{
    int64_t v = id;
    assert_int_equal(mer_writer_run_sync(REGION, has_run, &v), 0);
    return v == 1;
}

static int clear_run(mer_db_t *db, void *arg)
{
    (void)arg;
    return mer_db_exec(db, "DELETE FROM ut_item", NULL) < 0 ? MER_E_INTERNAL : 0;
}

static void clear(void)
{
    assert_int_equal(mer_writer_run_sync(REGION, clear_run, NULL), 0);
}

/* ---- commit hook ---------------------------------------------------------------------------------------- */

static _Atomic uint64_t hook_calls;
static _Atomic int64_t hook_seen_rows = -1; /* rows another connection saw when the hook ran */
static _Atomic int hook_probe;              /* 1: the hook counts rows through its own connection */

static void hook(const char *region)
{
    if (strcmp(region, REGION) != 0)
        return;
    atomic_fetch_add(&hook_calls, 1);
    if (!atomic_load(&hook_probe))
        return;
    char path[128];
    snprintf(path, sizeof(path), "%s/region-" REGION ".db", dir);
    mer_db_t *db;
    int64_t n = -1;
    if (mer_db_open(path, MER_DB_READONLY, &db) == 0) {
        if (mer_db_query_int(db, &n, "SELECT COUNT(*) FROM ut_item", NULL) != 0)
            n = -1;
        mer_db_close(db);
    }
    atomic_store(&hook_seen_rows, n);
}

/* ---- setup ---------------------------------------------------------------------------------------------- */

static int create_run(mer_db_t *db, void *arg)
{
    (void)arg;
    return mer_db_exec(db, "CREATE TABLE IF NOT EXISTS ut_item (id INTEGER PRIMARY KEY)", NULL) < 0 ? MER_E_INTERNAL
                                                                                                    : 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mer-writer-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (mer_store_init(dir) != 0 || mer_store_open_region(REGION) != 0 || mer_writer_start(REGION) != 0)
        return -1;
    mer_writer_on_commit(hook);
    return mer_writer_run_sync(REGION, create_run, NULL);
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

/* ---- tests ---------------------------------------------------------------------------------------------- */

#define NTHREADS 4
#define PER_THREAD 250

typedef struct submitter {
    ins_job_t *jobs;
    size_t n;
} submitter_t;

static void *submit_all(void *arg)
{
    submitter_t *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (mer_writer_submit(REGION, &s->jobs[i].w) != 0)
            abort();
    return NULL;
}

static void submit_from_threads(ins_job_t *jobs, int64_t first_id)
{
    pthread_t tid[NTHREADS];
    submitter_t sub[NTHREADS];
    for (size_t i = 0; i < NTHREADS * PER_THREAD; i++)
        jobs[i] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = first_id + (int64_t)i, .err_seen = 1};
    for (int t = 0; t < NTHREADS; t++) {
        sub[t] = (submitter_t){.jobs = jobs + t * PER_THREAD, .n = PER_THREAD};
        assert_int_equal(pthread_create(&tid[t], NULL, submit_all, &sub[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(tid[t], NULL);
}

/* Jobs submitted from several threads while the writer is busy are committed together. */
static void test_concurrent_jobs_are_batched(void **state)
{
    (void)state;
    clear();
    reset_done();
    uint64_t committed0 = metric("batches", "committed"), ok0 = metric("jobs", "ok");
    static ins_job_t jobs[NTHREADS * PER_THREAD];
    gate_close();
    submit_from_threads(jobs, 1);
    gate_open();
    wait_done(1 + NTHREADS * PER_THREAD);
    for (size_t i = 0; i < MER_ARRAY_LEN(jobs); i++)
        assert_int_equal(jobs[i].err_seen, 0);
    assert_int_equal(rows(), NTHREADS * PER_THREAD);
    uint64_t batches = metric("batches", "committed") - committed0;
    assert_true(batches >= 1);
    /* 1000 queued jobs: one batch today (MAX_BATCH 4096); a smaller cap of at least 125 still passes */
    assert_true(batches <= 8);
    assert_int_equal(metric("jobs", "ok") - ok0, 1 + NTHREADS * PER_THREAD + 1); /* + gate, + rows() */
}

/* Jobs submitted from several threads at full speed, without a gate: all of them commit, each once, and
 * are answered in the order they ran, though a batch is answered only after the log's sync beside the
 * next one (the TSan build runs this one for the writer's queue, the syncer and hand-back). */
static void test_free_running_submitters(void **state)
{
    (void)state;
    clear();
    reset_done();
    uint64_t committed0 = metric("batches", "committed");
    static ins_job_t jobs[NTHREADS * PER_THREAD];
    submit_from_threads(jobs, 100000);
    wait_done(NTHREADS * PER_THREAD);
    for (size_t i = 0; i < MER_ARRAY_LEN(jobs); i++) {
        assert_int_equal(jobs[i].err_seen, 0);
        assert_int_equal(jobs[i].seen, jobs[i].ran);
    }
    assert_int_equal(rows(), NTHREADS * PER_THREAD);
    assert_true(metric("batches", "committed") - committed0 <= NTHREADS * PER_THREAD);
}

/* A job that fails rolls back its own savepoint only; the rest of its batch commits. */
static void test_failed_job_rolls_back_alone(void **state)
{
    (void)state;
    clear();
    reset_done();
    uint64_t committed0 = metric("batches", "committed"), err0 = metric("jobs", "error");
    static ins_job_t j[4];
    j[0] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 1, .err_seen = 1};
    j[1] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 2, .fail = MER_E_CONFLICT, .err_seen = 1};
    j[2] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 3, .err_seen = 1};
    j[3] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 1, .err_seen = 1}; /* duplicate key */
    gate_close();
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        assert_int_equal(mer_writer_submit(REGION, &j[i].w), 0);
    gate_open();
    wait_done(1 + MER_ARRAY_LEN(j));
    assert_int_equal(j[0].err_seen, 0);
    assert_int_equal(j[1].err_seen, MER_E_CONFLICT);
    assert_int_equal(j[2].err_seen, 0);
    assert_int_equal(j[3].err_seen, MER_E_ALREADY_EXISTS);
    assert_true(has_row(1));
    assert_false(has_row(2)); /* inserted, then rolled back to its savepoint */
    assert_true(has_row(3));
    assert_int_equal(rows(), 2);
    assert_int_equal(metric("batches", "committed") - committed0, 1);
    assert_int_equal(metric("jobs", "error") - err0, 2);
}

/* Commit hooks run after the data is durable and visible to other connections. */
static void test_commit_hook_runs_after_commit(void **state)
{
    (void)state;
    clear();
    reset_done();
    static ins_job_t j[3];
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        j[i] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 10 + (int64_t)i, .err_seen = 1};
    gate_close();
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        assert_int_equal(mer_writer_submit(REGION, &j[i].w), 0);
    uint64_t calls0 = atomic_load(&hook_calls);
    atomic_store(&hook_seen_rows, -1);
    atomic_store(&hook_probe, 1);
    gate_open();
    wait_done(1 + MER_ARRAY_LEN(j));
    atomic_store(&hook_probe, 0);
    assert_true(atomic_load(&hook_calls) > calls0);
    /* the gate's batch saw 0 rows; the batch of the three jobs saw all three, from another connection */
    assert_int_equal(atomic_load(&hook_seen_rows), 3);
}

/* A failed COMMIT fails every job of its batch, keeps nothing, and runs no commit hook; the writer goes on. */
static void test_failed_commit_fails_the_batch(void **state)
{
    (void)state;
    clear();
    reset_done();
    uint64_t failed0 = metric("batches", "failed");
    static ins_job_t j[3];
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        j[i] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 20 + (int64_t)i, .err_seen = 1};
    gate_close();
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        assert_int_equal(mer_writer_submit(REGION, &j[i].w), 0);
    int64_t fired0 = mer_db_fault_fired();
    /* the gate's batch writes nothing, so the first commit that counts is the three jobs' */
    assert_int_equal(mer_db_fault_set("commit:1:region-" REGION), 0);
    uint64_t calls0 = atomic_load(&hook_calls);
    gate_open();
    wait_done(1 + MER_ARRAY_LEN(j));
    assert_int_equal(mer_db_fault_fired(), fired0 + 1);
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        assert_int_equal(j[i].err_seen, MER_E_INTERNAL);
    assert_int_equal(metric("batches", "failed") - failed0, 1);
    assert_int_equal(atomic_load(&hook_calls) - calls0, 1); /* the gate's (idle) batch only */
    assert_int_equal(rows(), 0);

    /* one-shot: the next batch commits */
    reset_done();
    j[0] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 20, .err_seen = 1};
    assert_int_equal(mer_writer_submit(REGION, &j[0].w), 0);
    wait_done(1);
    assert_int_equal(j[0].err_seen, 0);
    assert_int_equal(rows(), 1);
}

/* A failing statement (injected I/O error) fails its job only. */
static void test_failed_statement_fails_its_job(void **state)
{
    (void)state;
    clear();
    reset_done();
    static ins_job_t j[3];
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        j[i] = (ins_job_t){.w = {.run = ins_run, .done = ins_done}, .id = 30 + (int64_t)i, .err_seen = 1};
    gate_close();
    for (size_t i = 0; i < MER_ARRAY_LEN(j); i++)
        assert_int_equal(mer_writer_submit(REGION, &j[i].w), 0);
    assert_int_equal(mer_db_fault_set("stmt:2:INSERT INTO ut_item"), 0);
    gate_open();
    wait_done(1 + MER_ARRAY_LEN(j));
    assert_int_equal(j[0].err_seen, 0);
    assert_int_equal(j[1].err_seen, MER_E_INTERNAL);
    assert_int_equal(j[2].err_seen, 0);
    assert_true(has_row(30));
    assert_false(has_row(31));
    assert_true(has_row(32));
}

static void test_fault_spec_is_checked(void **state)
{
    (void)state;
    assert_int_equal(mer_db_fault_set("stmt:0"), MER_E_VALIDATION);
    assert_int_equal(mer_db_fault_set("commit:x"), MER_E_VALIDATION);
    assert_int_equal(mer_db_fault_set("disk:1"), MER_E_VALIDATION);
    assert_int_equal(mer_db_fault_set(""), 0);
    assert_int_equal(mer_db_fault_set(NULL), 0);
}

/* Unknown regions and a stopped writer refuse jobs without queuing them. */
static void test_unavailable(void **state)
{
    (void)state;
    ins_job_t j = {.w = {.run = ins_run, .done = ins_done}, .id = 1};
    assert_int_equal(mer_writer_submit("nowhere", &j.w), MER_E_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_jobs_are_batched),   cmocka_unit_test(test_free_running_submitters),
        cmocka_unit_test(test_failed_job_rolls_back_alone),   cmocka_unit_test(test_commit_hook_runs_after_commit),
        cmocka_unit_test(test_failed_commit_fails_the_batch), cmocka_unit_test(test_failed_statement_fails_its_job),
        cmocka_unit_test(test_fault_spec_is_checked),         cmocka_unit_test(test_unavailable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
