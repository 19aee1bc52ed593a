/*
 * writer.h — group commit: every write to a region's database goes through that region's writer thread.
 *
 * Why: SQLite has one writer at a time, and a durable commit costs an fsync. Instead of each request
 * taking the write lock and paying its own fsync (and blocking its event loop meanwhile), requests
 * submit jobs; the writer thread takes every job that is waiting, runs them all in one transaction (each
 * inside its own savepoint, so one failing job does not undo the others), commits once, and only then
 * hands each job back to the worker thread that submitted it. A 2xx therefore always follows a durable
 * commit, and N concurrent writes cost one fsync.
 *
 *     job->run(db, job)   runs on the writer thread inside the batch transaction. Returns 0 or a
 *                         negative error; on error the job's savepoint is rolled back. The error of a
 *                         statement it deferred (mer_db_defer) may come after run returned 0
 *                         (at the savepoint's RELEASE, at the latest): the job then fails with it all
 *                         the same, its savepoint rolled back, and the other jobs of the batch are kept.
 *     job->done(job)      runs on the submitting worker's thread once the commit is durable (job->err is
 *                         0; a region writer syncs its log beside the next batch, see writer.c), or
 *                         after a failure (job->err < 0: run's error, or the commit's error, in which
 *                         case nothing of the batch was kept). done owns the job afterwards. Jobs are
 *                         answered in the order they ran.
 *
 * Jobs submitted from a thread that is not an event loop (timers, CLI) get done() on the writer's syncer
 * thread (or on the writer thread when no sync is pending).
 * run() must not block on anything but the database, and must not submit further jobs and wait.
 */
#ifndef MER_WRITER_H
#define MER_WRITER_H

#include "core/buf.h"
#include "core/exec.h"
#include "store/db.h"

typedef struct mer_wjob mer_wjob_t;

struct mer_wjob {
    int (*run)(mer_db_t *db, mer_wjob_t *job);
    void (*done)(mer_wjob_t *job);
    int err; /* result, set before done() */
    /* private */
    mer_job_t job; /* the submitting loop and the completion's message (core/exec.h) */
    mer_wjob_t *next;
};

/*
 * Runs after each batch commits (not after one whose BEGIN or COMMIT failed), on the writer thread, before
 * the jobs' done() callbacks are posted: the batch is visible to other connections then, though a region's
 * log may not be synced yet (writer.c). Modules use it to publish in-memory state that must follow
 * committed state (e.g. stock levels).
 */
void mer_writer_on_commit(void (*hook)(const char *region));

/* Starts the writer of a region whose database the store has opened (MER_STORE_CATALOG: catalog.db's
 * writer, for the catalogue's admin writes). Start-up only. The region argument of the functions below
 * takes MER_STORE_CATALOG too; commit hooks then receive it (NULL). */
int mer_writer_start(const char *region);
/* Queues a job. Returns 0, or MER_E_UNAVAILABLE (no writer for the region, or stopping) without queuing. */
int mer_writer_submit(const char *region, mer_wjob_t *job);
/* Drains every queue (jobs already submitted are run and answered), then stops the writers. */
void mer_writer_stop_all(void);

/*
 * Runs fn(db, arg) as a job on the region's writer and waits for its commit. For background threads
 * (event dispatcher, flash-sale processor) only, never on an event loop. Returns fn's result, the
 * commit's error, or MER_E_UNAVAILABLE.
 */
int mer_writer_run_sync(const char *region, int (*fn)(mer_db_t *db, void *arg), void *arg);

/*
 * Appends the writers' metrics (Prometheus text) for /metrics, per region: queue depth, queue wait, jobs
 * per batch and commit time (histograms), batches by result and jobs by result (the store module's metrics).
 * Only batches that changed rows count as committed and feed the batch-size and commit-time histograms:
 * a job that found nothing to do (a background sweep with nothing due) does not look like write load.
 */
void mer_writer_metrics(mer_buf_t *out);

#endif
