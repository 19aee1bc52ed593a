/*
 * offload.h — run CPU-heavy work (argon2id password hashing, ~50 ms) off the event loops.
 *
 * A pool (core/exec.h) of two threads runs job->work(); job->done() then runs on the loop that submitted
 * it (or on the pool thread if the submitter was not a loop). The pool is bounded, so at most two hashes
 * (64 MiB each) are in memory at once.
 */
#ifndef MER_OFFLOAD_H
#define MER_OFFLOAD_H

#include "core/exec.h"
#include "module.h"

/* Queues job on the pool. Only while serving (between the module's init and its stop). */
void mer_offload_submit(mer_job_t *job);

/* The pool as a module: two threads from init; stops last (MER_STOP_POOLS), once no job can come. */
extern const mer_module_t mer_offload_module;

#endif
