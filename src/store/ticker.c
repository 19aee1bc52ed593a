#include "store/ticker.h"

#include <time.h>

#include "core/money.h"
#include "core/tz.h"
#include "store/store.h"
#include "core/banned.h"

static void *ticker_main(void *arg)
{
    mer_ticker_t *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        if (!t->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)t->period_ms * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        }
        if (t->stopping)
            break;
        t->kicked = false;
        pthread_mutex_unlock(&t->mu);
        t->tick(t->arg);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    mer_thread_exit();
    return NULL;
}

int mer_ticker_start(mer_ticker_t *t, void (*tick)(void *arg), void *arg, int period_ms)
{
    t->tick = tick;
    t->arg = arg;
    t->period_ms = period_ms;
    if (pthread_create(&t->tid, NULL, ticker_main, t) != 0)
        return -1;
    t->running = true;
    return 0;
}

void mer_ticker_kick(mer_ticker_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void mer_ticker_stop(mer_ticker_t *t)
{
    if (!t->running)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->tid, NULL);
    t->running = false;
}
