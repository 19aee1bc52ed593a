/*
 * offload.h — run CPU-heavy work (argon2id password hashing, ~50 ms) off the event loops.
 *
 * A small pool of threads runs job->work(); job->done() then runs on the worker thread that submitted it
 * (or on the pool thread if the submitter was not a worker). The pool is bounded, so at most `threads`
 * hashes (64 MiB each) are in memory at once.
 */
#ifndef MER_OFFLOAD_H
#define MER_OFFLOAD_H

#include "http/server.h"
#include "module.h"

typedef struct mer_ojob mer_ojob_t;
struct mer_ojob {
    void (*work)(mer_ojob_t *job); /* on a pool thread */
    void (*done)(mer_ojob_t *job); /* on the submitting worker; owns the job afterwards */
    /* private */
    mer_worker_t *origin;
    mer_worker_msg_t msg;
    mer_ojob_t *next;
};

void mer_offload_start(int threads);
void mer_offload_submit(mer_ojob_t *job);
void mer_offload_stop(void);

/* The pool as a module: two threads from init; stops last (MER_STOP_POOLS), once no job can come. */
extern const mer_module_t mer_offload_module;

#endif
