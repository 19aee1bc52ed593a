/*
 * Unit tests: the executor (src/core/exec.h). A fake event loop (the test's main thread, with its own
 * message queue) stands in for an h2o worker: jobs it submits run on pool threads and their done() comes
 * back to it, in the loop's thread; jobs submitted from elsewhere finish on the pool thread; stopping a
 * pool runs what was queued; the loop rule's check fires on the loop thread only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/exec.h"

/* ---- the fake loop ------------------------------------------------------------------------------------ */

typedef struct fake_loop {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mer_loop_msg_t *msgs[256];
    size_t n;
} fake_loop_t;

static fake_loop_t loop = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0};
static _Thread_local bool on_loop;

static void *fake_self(void)
{
    return on_loop ? &loop : NULL;
}

static void fake_post(void *l, mer_loop_msg_t *msg)
{
    fake_loop_t *fl = l;
    pthread_mutex_lock(&fl->mu);
    assert_true(fl->n < MER_ARRAY_LEN(fl->msgs));
    fl->msgs[fl->n++] = msg;
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
}

static const mer_loop_ops_t fake_ops = {fake_self, fake_post};

/* Runs the loop until `want` messages have been handled. */
static void run_loop(size_t want)
{
    size_t handled = 0;
    while (handled < want) {
        pthread_mutex_lock(&loop.mu);
        while (loop.n == 0)
            pthread_cond_wait(&loop.cv, &loop.mu);
        mer_loop_msg_t *msg = loop.msgs[--loop.n];
        pthread_mutex_unlock(&loop.mu);
        msg->cb(msg);
        handled++;
    }
}

/* ---- jobs ---------------------------------------------------------------------------------------------- */

typedef struct test_job {
    mer_job_t job;
    pthread_t work_thread, done_thread;
    int value, result;
} test_job_t;

static _Atomic int ndone;

static void square(mer_job_t *job)
{
    test_job_t *t = MER_CONTAINER_OF(job, test_job_t, job);
    t->work_thread = pthread_self();
    assert_null(mer_loop_self()); /* a pool thread is no loop */
    usleep(200);
    t->result = t->value * t->value;
}

static void finished(mer_job_t *job)
{
    test_job_t *t = MER_CONTAINER_OF(job, test_job_t, job);
    t->done_thread = pthread_self();
    atomic_fetch_add(&ndone, 1);
}

static void test_done_returns_to_the_loop(void **state)
{
    (void)state;
    mer_loop_set_ops(&fake_ops);
    mer_exec_t *ex = mer_exec_start("ut", 3, NULL);
    test_job_t jobs[40];
    atomic_store(&ndone, 0);
    on_loop = true;
    for (int i = 0; i < 40; i++) {
        jobs[i] = (test_job_t){.job = {.work = square, .done = finished}, .value = i};
        assert_int_equal(mer_exec_submit(ex, &jobs[i].job), 0);
    }
    run_loop(40);
    on_loop = false;
    assert_int_equal(atomic_load(&ndone), 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(jobs[i].result, i * i);
        assert_false(pthread_equal(jobs[i].work_thread, pthread_self()));
        assert_true(pthread_equal(jobs[i].done_thread, pthread_self())); /* back on the loop */
    }
    mer_exec_stop(ex);
}

static void test_without_loop_done_runs_on_the_pool(void **state)
{
    (void)state;
    mer_loop_set_ops(&fake_ops);
    mer_exec_t *ex = mer_exec_start("ut", 2, NULL);
    test_job_t jobs[8];
    atomic_store(&ndone, 0);
    for (int i = 0; i < 8; i++) {
        jobs[i] = (test_job_t){.job = {.work = square, .done = finished}, .value = i + 1};
        assert_int_equal(mer_exec_submit(ex, &jobs[i].job), 0);
    }
    mer_exec_stop(ex); /* runs everything queued before the threads exit */
    assert_int_equal(atomic_load(&ndone), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(jobs[i].result, (i + 1) * (i + 1));
        assert_true(pthread_equal(jobs[i].done_thread, jobs[i].work_thread));
    }
    pthread_mutex_lock(&loop.mu);
    assert_int_equal(loop.n, 0); /* nothing was posted to the loop */
    pthread_mutex_unlock(&loop.mu);
}

static _Atomic int exits;

static void count_exit(void)
{
    atomic_fetch_add(&exits, 1);
}

static void test_thread_exit_hook_runs_on_each_thread(void **state)
{
    (void)state;
    atomic_store(&exits, 0);
    mer_exec_t *ex = mer_exec_start("ut", 3, count_exit);
    mer_exec_stop(ex);
    assert_int_equal(atomic_load(&exits), 3);
}

#ifdef MER_DEBUG_LOOPS
static void test_loop_rule_fires_on_the_loop_only(void **state)
{
    (void)state;
    char path[] = "/tmp/mer-ut-loop-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char env[64];
    snprintf(env, sizeof(env), "log:%s", path);
    setenv("MERIDIAN_LOOP_CHECK", env, 1);
    mer_loop_set_ops(&fake_ops);
    mer_loop_forbid("a database read", "off.c", 1); /* not on a loop: nothing */
    on_loop = true;
    mer_loop_forbid("a database read", "on.c", 2);
    on_loop = false;
    unsetenv("MERIDIAN_LOOP_CHECK");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "on.c:2: a database read on an event loop thread\n");
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_returns_to_the_loop),
        cmocka_unit_test(test_without_loop_done_runs_on_the_pool),
        cmocka_unit_test(test_thread_exit_hook_runs_on_each_thread),
#ifdef MER_DEBUG_LOOPS
        cmocka_unit_test(test_loop_rule_fires_on_the_loop_only),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
