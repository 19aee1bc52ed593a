#include "store/writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/log.h"
#include "core/money.h"
#include "core/tz.h"
#include "region/country.h"
#include "store/store.h"
#include "core/banned.h"

#define MAX_BATCH 4096

typedef struct writer {
    char region[MER_REGION_NAME_MAX];
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mer_wjob_t *head, *tail; /* guarded by mu */
    bool stopping;           /* guarded by mu */
    bool running;
} writer_t;

static writer_t writers[MER_MAX_REGIONS];
static _Atomic size_t nwriters; /* append-only; published after the entry is complete */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t nbatches, njobs;
/* Hooks are registered at start-up, possibly after the writers started: the count is published last. */
static void (*commit_hooks[8])(const char *);
static _Atomic size_t ncommit_hooks;
static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;

void mer_writer_on_commit(void (*hook)(const char *region))
{
    pthread_mutex_lock(&hooks_mu);
    size_t n = atomic_load(&ncommit_hooks);
    if (n >= MER_ARRAY_LEN(commit_hooks))
        MER_BUG("too many commit hooks");
    commit_hooks[n] = hook;
    atomic_store_explicit(&ncommit_hooks, n + 1, memory_order_release);
    pthread_mutex_unlock(&hooks_mu);
}

static writer_t *find(const char *region)
{
    size_t n = atomic_load_explicit(&nwriters, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(writers[i].region, region) == 0)
            return &writers[i];
    return NULL;
}

static void deliver(mer_worker_msg_t *msg)
{
    mer_wjob_t *job = H2O_STRUCT_FROM_MEMBER(mer_wjob_t, msg, msg);
    job->done(job);
}

static void run_batch(writer_t *w, mer_wjob_t *batch)
{
    mer_db_t *db = mer_store_write_begin(w->region);
    int err = mer_db_begin(db);
    size_t n = 0;
    for (mer_wjob_t *j = batch; j; j = j->next, n++) {
        if (err) {
            j->err = err;
            continue;
        }
        if (mer_db_savepoint(db) != 0) {
            j->err = MER_E_INTERNAL;
            continue;
        }
        j->err = j->run(db, j);
        if (j->err > 0)
            MER_BUG("writer job returned a positive value");
        if (j->err)
            mer_db_rollback_to(db);
        else if (mer_db_release(db) != 0)
            j->err = MER_E_INTERNAL;
    }
    if (err == 0) {
        int cerr = mer_db_commit(db);
        if (cerr) {
            mer_log_error("region %s: commit of a batch of %zu failed; none acknowledged", w->region, n);
            for (mer_wjob_t *j = batch; j; j = j->next)
                j->err = cerr;
        }
    }
    mer_store_write_end(w->region);
    for (size_t i = 0, nh = atomic_load_explicit(&ncommit_hooks, memory_order_acquire); i < nh; i++)
        commit_hooks[i](w->region);
    atomic_fetch_add(&nbatches, 1);
    atomic_fetch_add(&njobs, n);
    for (mer_wjob_t *j = batch, *next; j; j = next) {
        next = j->next;
        if (j->origin) {
            j->msg.cb = deliver;
            mer_worker_post(j->origin, &j->msg);
        } else {
            j->done(j);
        }
    }
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->head == NULL && w->stopping)
            break;
        /* take up to MAX_BATCH jobs */
        mer_wjob_t *batch = w->head, *last = w->head;
        size_t n = 1;
        while (last->next && n < MAX_BATCH) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);
        run_batch(w, batch);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    mer_tz_thread_release();
    mer_money_thread_release();
    return NULL;
}

int mer_writer_start(const char *region)
{
    pthread_mutex_lock(&start_mu);
    int err = 0;
    size_t n = atomic_load(&nwriters);
    if (find(region) == NULL) {
        if (n >= MER_ARRAY_LEN(writers)) {
            err = MER_E_INTERNAL;
        } else {
            writer_t *w = &writers[n];
            snprintf(w->region, sizeof(w->region), "%s", region);
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv, NULL);
            if (pthread_create(&w->tid, NULL, writer_main, w) != 0) {
                err = MER_E_INTERNAL;
            } else {
                w->running = true;
                atomic_fetch_add_explicit(&nwriters, 1, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&start_mu);
    return err;
}

int mer_writer_submit(const char *region, mer_wjob_t *job)
{
    writer_t *w = find(region);
    if (w == NULL)
        return MER_E_UNAVAILABLE;
    job->origin = mer_worker_self();
    job->next = NULL;
    job->err = 0;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return MER_E_UNAVAILABLE;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void mer_writer_stop_all(void)
{
    size_t nw = atomic_load(&nwriters);
    for (size_t i = 0; i < nw; i++) {
        writer_t *w = &writers[i];
        pthread_mutex_lock(&w->mu);
        w->stopping = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    for (size_t i = 0; i < nw; i++) {
        if (writers[i].running)
            pthread_join(writers[i].tid, NULL);
        writers[i].running = false;
    }
}

typedef struct sync_job {
    mer_wjob_t w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int (*fn)(mer_db_t *, void *);
    void *arg;
} sync_job_t;

static int sync_run(mer_db_t *db, mer_wjob_t *w)
{
    sync_job_t *j = H2O_STRUCT_FROM_MEMBER(sync_job_t, w, w);
    return j->fn(db, j->arg);
}

static void sync_done(mer_wjob_t *w)
{
    sync_job_t *j = H2O_STRUCT_FROM_MEMBER(sync_job_t, w, w);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

int mer_writer_run_sync(const char *region, int (*fn)(mer_db_t *db, void *arg), void *arg)
{
    sync_job_t j;
    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    j.fn = fn;
    j.arg = arg;
    j.w.run = sync_run;
    j.w.done = sync_done;
    int err = mer_writer_submit(region, &j.w);
    if (err == 0) {
        pthread_mutex_lock(&j.mu);
        while (!j.done)
            pthread_cond_wait(&j.cv, &j.mu);
        pthread_mutex_unlock(&j.mu);
        err = j.w.err;
    }
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
    return err;
}

void mer_writer_metrics(mer_buf_t *out)
{
    mer_buf_printf(out,
                   "# HELP meridian_writer_batches_total Transactions committed by the region writers.\n"
                   "# TYPE meridian_writer_batches_total counter\nmeridian_writer_batches_total %llu\n"
                   "# HELP meridian_writer_jobs_total Writes (jobs) carried by those transactions.\n"
                   "# TYPE meridian_writer_jobs_total counter\nmeridian_writer_jobs_total %llu\n",
                   (unsigned long long)atomic_load(&nbatches), (unsigned long long)atomic_load(&njobs));
}
