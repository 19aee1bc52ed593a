#include "http/offload.h"

#include <pthread.h>

#include "core/banned.h"

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mer_ojob_t *head, *tail;
    bool stopping;
    pthread_t tids[8];
    int n;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false, {0}, 0};

static void deliver(mer_worker_msg_t *msg)
{
    mer_ojob_t *job = H2O_STRUCT_FROM_MEMBER(mer_ojob_t, msg, msg);
    job->done(job);
}

static void *pool_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.head == NULL && !pool.stopping)
            pthread_cond_wait(&pool.cv, &pool.mu);
        if (pool.head == NULL)
            break;
        mer_ojob_t *job = pool.head;
        pool.head = job->next;
        if (pool.head == NULL)
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.mu);
        job->work(job);
        if (job->origin) {
            job->msg.cb = deliver;
            mer_worker_post(job->origin, &job->msg);
        } else {
            job->done(job);
        }
        pthread_mutex_lock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

void mer_offload_start(int threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > (int)MER_ARRAY_LEN(pool.tids))
        threads = (int)MER_ARRAY_LEN(pool.tids);
    for (int i = 0; i < threads; i++)
        pthread_create(&pool.tids[i], NULL, pool_main, NULL);
    pool.n = threads;
}

void mer_offload_submit(mer_ojob_t *job)
{
    job->origin = mer_worker_self();
    job->next = NULL;
    pthread_mutex_lock(&pool.mu);
    if (pool.tail)
        pool.tail->next = job;
    else
        pool.head = job;
    pool.tail = job;
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

void mer_offload_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.n; i++)
        pthread_join(pool.tids[i], NULL);
    pool.n = 0;
}

static int offload_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_offload_start(2);
    return 0;
}

const mer_module_t mer_offload_module = {
    .name = "offload",
    .init = offload_init,
    .stop_phase = MER_STOP_POOLS,
    .stop = mer_offload_stop,
};
