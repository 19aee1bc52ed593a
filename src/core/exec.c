#include "core/exec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/err.h"
#include "core/money.h"
#include "core/tz.h"
#include "core/banned.h"

static const mer_loop_ops_t *loop_ops;

void mer_loop_set_ops(const mer_loop_ops_t *ops)
{
    loop_ops = ops;
}

void *mer_loop_self(void)
{
    return loop_ops ? loop_ops->self() : NULL;
}

void mer_loop_forbid(const char *what, const char *file, int line)
{
#ifdef MER_DEBUG_LOOPS
    if (mer_loop_self() == NULL)
        return;
    /* MERIDIAN_LOOP_CHECK=log:PATH appends the breaches to PATH instead (to list them all in one run) */
    const char *mode = getenv("MERIDIAN_LOOP_CHECK");
    FILE *f = mode && strncmp(mode, "log:", 4) == 0 ? fopen(mode + 4, "a") : NULL;
    if (f == NULL)
        mer_bug(file, line, "%s on an event loop thread: run it as a job (core/exec.h)", what);
    fprintf(f, "%s:%d: %s on an event loop thread\n", file, line, what);
    fclose(f);
#else
    (void)what, (void)file, (void)line;
#endif
}

/* ---- per-thread state ---- */

static void (*exit_fns[16])(void);
static atomic_int nexit_fns; /* registered at start-up while early pools already run: read at their exit */

void mer_thread_on_exit(void (*fn)(void))
{
    int n = atomic_load(&nexit_fns);
    if (n >= (int)MER_ARRAY_LEN(exit_fns))
        mer_die("too many per-thread release functions");
    exit_fns[n] = fn;
    atomic_store(&nexit_fns, n + 1);
}

void mer_thread_exit(void)
{
    int n = atomic_load(&nexit_fns);
    for (int i = 0; i < n; i++)
        exit_fns[i]();
    mer_money_thread_release();
    mer_tz_thread_release();
}

/* ---- jobs ---- */

static void deliver(mer_loop_msg_t *msg)
{
    mer_job_t *job = MER_CONTAINER_OF(msg, mer_job_t, msg);
    job->done(job);
}

void mer_job_capture(mer_job_t *job)
{
    job->origin = mer_loop_self();
    job->next = NULL;
    job->queued_ns = mer_now_mono_ns();
}

void mer_job_complete(mer_job_t *job)
{
    if (job->origin) {
        job->msg.cb = deliver;
        loop_ops->post(job->origin, &job->msg);
    } else {
        job->done(job);
    }
}

/* ---- pools ---- */

struct mer_exec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mer_job_t *head, *tail;
    size_t queued;
    bool stopping;
    void (*thread_exit)(void);
    char name[16];
    int n;
    pthread_t tids[16];
};

static void *pool_main(void *arg)
{
    mer_exec_t *ex = arg;
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        while (ex->head == NULL && !ex->stopping)
            pthread_cond_wait(&ex->cv, &ex->mu);
        if (ex->head == NULL)
            break;
        mer_job_t *job = ex->head;
        ex->head = job->next;
        if (ex->head == NULL)
            ex->tail = NULL;
        ex->queued--;
        pthread_mutex_unlock(&ex->mu);
        job->work(job);
        mer_job_complete(job);
        pthread_mutex_lock(&ex->mu);
    }
    pthread_mutex_unlock(&ex->mu);
    if (ex->thread_exit)
        ex->thread_exit();
    mer_thread_exit();
    return NULL;
}

mer_exec_t *mer_exec_start(const char *name, int threads, void (*thread_exit)(void))
{
    mer_exec_t *ex = mer_xcalloc(1, sizeof(*ex));
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv, NULL);
    ex->thread_exit = thread_exit;
    snprintf(ex->name, sizeof(ex->name), "%s", name);
    if (threads < 1)
        threads = 1;
    if (threads > (int)MER_ARRAY_LEN(ex->tids))
        threads = (int)MER_ARRAY_LEN(ex->tids);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&ex->tids[i], NULL, pool_main, ex) != 0)
            mer_die("cannot start the %s pool's threads", ex->name);
        pthread_setname_np(ex->tids[i], ex->name);
    }
    ex->n = threads;
    return ex;
}

int mer_exec_submit(mer_exec_t *ex, mer_job_t *job)
{
    mer_job_capture(job);
    pthread_mutex_lock(&ex->mu);
    if (ex->stopping) {
        pthread_mutex_unlock(&ex->mu);
        return MER_E_UNAVAILABLE;
    }
    if (ex->tail)
        ex->tail->next = job;
    else
        ex->head = job;
    ex->tail = job;
    ex->queued++;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

size_t mer_exec_queued(mer_exec_t *ex)
{
    pthread_mutex_lock(&ex->mu);
    size_t n = ex->queued;
    pthread_mutex_unlock(&ex->mu);
    return n;
}

void mer_exec_stop(mer_exec_t *ex)
{
    if (ex == NULL)
        return;
    pthread_mutex_lock(&ex->mu);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    for (int i = 0; i < ex->n; i++)
        pthread_join(ex->tids[i], NULL);
    pthread_cond_destroy(&ex->cv);
    pthread_mutex_destroy(&ex->mu);
    free(ex);
}
