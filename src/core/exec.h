/*
 * exec.h — jobs that run off the event loops and report back to the loop that asked.
 *
 * An event loop (an HTTP worker) never waits: a database read or write, a password hash, anything that
 * can block runs as a job on another thread, and the job's completion is posted back to the loop that
 * submitted it, where the answer is written. This header is the one way to do that:
 *
 *   - the loop interface (mer_loop_ops_t): the http layer says once at start-up how to find the calling
 *     thread's loop and how to post a message to a loop; core knows nothing of h2o;
 *   - mer_job_t: work() runs on an executor's thread, then done() runs on the submitting loop (or on the
 *     executor's thread when the submitter was not a loop: a ticker, the command line);
 *   - mer_exec_t: a bounded pool of threads with one FIFO queue (the offload pool for CPU-heavy work,
 *     the store's read pool for database reads). The store's writers are executors of their own kind
 *     (group commit, store/writer.h) that complete their jobs through mer_job_complete();
 *   - the loop rule's check (mer_loop_forbid): code that may block calls it, and a debug build aborts
 *     when it runs on a loop thread, so a forgotten synchronous read fails the API tests.
 */
#ifndef MER_EXEC_H
#define MER_EXEC_H

#include "core/common.h"

/* A message for a loop: cb runs on the loop's thread. link is the loop's (h2o's linked list node). */
typedef struct mer_loop_msg mer_loop_msg_t;
struct mer_loop_msg {
    void *link[2];
    void (*cb)(mer_loop_msg_t *msg);
};

typedef struct mer_loop_ops {
    void *(*self)(void);                           /* the calling thread's loop, or NULL */
    void (*post)(void *loop, mer_loop_msg_t *msg); /* queue msg; msg->cb then runs on loop's thread */
} mer_loop_ops_t;

/* Installs the loop interface (the http server, at start-up, before any loop runs). ops: static storage. */
void mer_loop_set_ops(const mer_loop_ops_t *ops);
/* The calling thread's loop, or NULL when it is not an event loop (or no loops exist). */
void *mer_loop_self(void);

/*
 * The loop rule. Code that may block (storage) calls mer_loop_forbid(what, file, line) on entry: on an
 * event loop thread a debug build (MER_DEBUG_LOOPS, the ASan and TSan builds) prints what and where and
 * aborts; release builds do not check. MERIDIAN_LOOP_CHECK=log:PATH in the environment appends each breach
 * to PATH instead of aborting (to list every one in a single test run).
 */
void mer_loop_forbid(const char *what, const char *file, int line);

typedef struct mer_job mer_job_t;
struct mer_job {
    void (*work)(mer_job_t *job); /* on an executor thread */
    void (*done)(mer_job_t *job); /* on the submitting loop afterwards; owns the job from then on */
    int err;                      /* for the job's own use (work's result), 0 at submit */
    /* private */
    void *origin;
    mer_loop_msg_t msg;
    mer_job_t *next;
    uint64_t queued_ns; /* monotonic clock at submit */
};

/* For executors: records the submitting loop (call at submit), and later posts done() to it (or runs
 * done() right here when there is none). */
void mer_job_capture(mer_job_t *job);
void mer_job_complete(mer_job_t *job);

typedef struct mer_exec mer_exec_t;

/*
 * Starts a pool of threads named name (1 to 16). thread_exit, if not NULL, runs on each pool thread
 * before it exits (e.g. close that thread's read connections). Start-up only; caller stops it with
 * mer_exec_stop(), which frees it.
 */
mer_exec_t *mer_exec_start(const char *name, int threads, void (*thread_exit)(void));
/* Queues a job. Returns 0, or MER_E_UNAVAILABLE (the pool is stopping) without queuing. */
int mer_exec_submit(mer_exec_t *ex, mer_job_t *job);
/* Jobs waiting (not yet taken by a thread), for metrics. */
size_t mer_exec_queued(mer_exec_t *ex);
/* Runs every job already queued, refuses new ones, joins the threads and frees the pool. NULL: no-op. */
void mer_exec_stop(mer_exec_t *ex);

/*
 * Per-thread state (read connections, formatters, scratch buffers) is released by the thread that made it.
 * A module registers its release function once with mer_thread_on_exit() (start-up only; at most 16; the
 * module table's thread_exit column is registered here), and every thread this process starts (HTTP
 * workers, executor pools, writers, tickers, listeners) calls mer_thread_exit() last, which runs them all,
 * then core's own (money formatters, time-zone calendars). So a cache used on a thread nobody expected
 * is still freed.
 */
void mer_thread_on_exit(void (*fn)(void));
void mer_thread_exit(void);

#endif
