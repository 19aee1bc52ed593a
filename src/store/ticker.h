/*
 * ticker.h — a background thread that runs a function every period_ms, or at once when kicked.
 *
 * The order sweeper, the event dispatcher and the flash-sale processor are such threads. The tick runs
 * without the ticker's lock held, so it may block on the database or the network; kicks that arrive
 * while it runs make the next tick start right after it. On exit the thread releases its per-thread
 * database connections and ICU caches.
 *
 *     static mer_ticker_t sweeper = MER_TICKER_INIT;
 *     mer_ticker_start(&sweeper, sweep, NULL, 1000);
 *     mer_ticker_kick(&sweeper);   // from any thread
 *     mer_ticker_stop(&sweeper);   // waits for the tick under way, then joins
 */
#ifndef MER_TICKER_H
#define MER_TICKER_H

#include <pthread.h>
#include <stdbool.h>

typedef struct mer_ticker {
    /* private */
    void (*tick)(void *arg);
    void *arg;
    int period_ms;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, running, kicked;
} mer_ticker_t;

#define MER_TICKER_INIT                                                                                                \
    {                                                                                                                  \
        .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER                                                \
    }

/* Starts the thread. Returns 0, or -1 if it could not be created. */
int mer_ticker_start(mer_ticker_t *t, void (*tick)(void *arg), void *arg, int period_ms);
void mer_ticker_kick(mer_ticker_t *t);
/* Stops and joins the thread; does nothing if it is not running. */
void mer_ticker_stop(mer_ticker_t *t);

#endif
