/*
 * writer.c — group commit (see writer.h) and the write-ahead log's upkeep.
 *
 * Where an order's latency goes: its job waits in the queue for the batch in progress to commit, then
 * runs in the next batch, and is answered after that batch's COMMIT (WAL append + one fsync). A batch
 * takes a few milliseconds, so p99 should be a small multiple of that. What stretched it was the
 * checkpoint: SQLite copies the WAL back into the database file inside the COMMIT that grows the log
 * past wal_autocheckpoint pages (10,000 here, ~40 MB; a batch of ~28 orders writes ~59 pages, so ~20
 * times per 10 s of the order bench). That COMMIT writes thousands of pages into the database file and
 * fsyncs it while every order of the next batch — all 64 connections of the bench — waits behind it:
 * 10-25 ms on a quiet disk, 25-100 ms and more when the shared disk is busy (BENCHMARKS.md, before and
 * after in the same period). What is left after this change is the disk's own occasional fsync stall,
 * which no scheduling here can hide, and the time requests wait for a core.
 *
 * So the writer's connection never checkpoints in COMMIT (mer_db_wal_manual). Each writer has a
 * checkpointer thread with its own connection:
 *
 *     writer thread                              checkpointer thread (own connection)
 *     ─────────────                              ────────────────────────────────────
 *     batch, COMMIT → log has N pages
 *     N ≥ CKPT_PAGES more than after the    ──►  PASSIVE checkpoints (no lock taken: commits go on
 *     last upkeep: wake the checkpointer          meanwhile) until what is left is < TAIL_PAGES
 *     ...batches go on...                   ◄──  "copy the tail"
 *     between two batches: a PASSIVE checkpoint
 *     of the few pages committed meanwhile
 *     (no writer is active, so it catches up);
 *     the next BEGIN then restarts the log
 *     from its start (SQLite does that when
 *     every page was copied and no reader
 *     still reads the log)
 *
 * The bulk of the copy (and the database file's fsync) runs beside the writer; the writer itself only
 * copies the tail (at most a few hundred pages, usually far fewer) between two batches, which keeps the
 * log from growing without bound: a PASSIVE checkpoint beside a busy writer never reaches the log's end
 * on its own, and SQLite restarts the log only when it did. If a reader holds the log the restart is
 * missed and the next round retries; journal_size_limit trims the file once it restarts. Durability is
 * SQLite's own: synchronous=FULL on both connections, the log is synced before pages are copied and the
 * database file after, and the log restarts only once everything in it is in the synced database file.
 * Nothing about when a 2xx is sent changed: still after the batch's COMMIT returned.
 *
 * The log's sync beside the next batch. A region writer's COMMIT returns once the batch is in the log,
 * before the log's fdatasync (mer_db_commit_nosync); the writer hands the batch to its syncer thread and
 * starts the next batch at once, while the syncer syncs the log (one fdatasync for every batch committed
 * meanwhile) and only then answers the jobs, batch after batch in commit order:
 *
 *     writer thread      BEGIN  jobs  COMMIT │ BEGIN  jobs  COMMIT │ BEGIN ...
 *     syncer thread                          └ fdatasync, answer   └ fdatasync, answer
 *
 * The fsync (0.5-1 ms here) no longer stalls the writer: the order benchmark went from ~11,000 to
 * ~14,000-15,600 orders/s (BENCHMARKS.md). Still, no answer leaves before the log holding its batch is on
 * disk, and the log on disk is always a prefix of the commits (SQLite's checksums chain its frames), so a
 * job that depends on an earlier batch (an idempotent replay, a refused last unit, decided in the writer)
 * is never answered before that batch is durable either. What changed is that other connections see a
 * batch up to one sync (about a millisecond) before it is durable, as they would with SQLite's
 * synchronous=NORMAL: a read in that window (a listing, checkout's stock check before its write job, the
 * availability a commit hook published) can show what a power cut would still take back, and a refusal
 * may rest on it, but nothing acknowledged is ever lost. What leaves the process
 * on the strength of a commit goes through the writer and so waits for the sync: the event dispatcher
 * claims its deliveries with a writer job before it sends a webhook, the flash-sale processor stores its
 * decisions the same way. catalog.db's writer keeps the sync inside COMMIT, since region replicas pull
 * the catalogue's changes as they become visible. If an fdatasync fails, nothing is acknowledged any
 * more and the process stops (as PostgreSQL does): the kernel may have dropped the pages it could not
 * write, and the next start recovers from what reached the disk.
 */
#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/money.h"
#include "core/tz.h"
#include "store/store.h"
#include "core/banned.h"

#define MAX_BATCH 4096
/* The checkpointer starts when the log grew by this many pages (16 MB) since the last upkeep; hot pages
 * written by every batch are copied once per round, so rounds should not be too frequent either. */
#define CKPT_PAGES 4000
/* The checkpointer hands the rest to the writer once fewer pages than this are left to copy. */
#define TAIL_PAGES 256
#define TAIL_ROUNDS 4 /* passes the checkpointer makes at most before handing over */

/* Time in nanoseconds, 50 µs .. 5 s (queue wait, commit). */
static const uint64_t time_bounds[] = {50000,     100000,     250000,     500000,    1000000,   2500000,
                                       5000000,   10000000,   25000000,   50000000,  100000000, 250000000,
                                       500000000, 1000000000, 2500000000, 5000000000};
static const mer_hist_spec_t time_spec = MER_HIST_SPEC(time_bounds, 9);
static const uint64_t size_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
static const mer_hist_spec_t size_spec = MER_HIST_SPEC(size_bounds, 0);

enum { BATCH_COMMITTED, BATCH_IDLE, BATCH_FAILED, BATCH__COUNT };
enum { CKPT_BACKGROUND, CKPT_TAIL, CKPT__COUNT };
static const char *const ckpt_threads[CKPT__COUNT] = {"checkpointer", "writer"};
static const char *const batch_results[BATCH__COUNT] = {"committed", "idle", "failed"};

/* A batch that committed (or failed), waiting for the log's sync before its jobs are answered. */
typedef struct committed {
    mer_wjob_t *jobs;
    size_t n;
    int result;  /* BATCH_* */
    int sync_fd; /* the log to fdatasync first (mer_db_commit_nosync), or -1 */
    uint64_t t0; /* when the batch began */
    struct committed *next;
} committed_t;

typedef struct writer {
    char region[MER_REGION_NAME_MAX]; /* "" for catalog.db's writer */
    const char *db;                   /* the store's name of the database: region, or MER_STORE_CATALOG */
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mer_wjob_t *head, *tail; /* guarded by mu */
    bool stopping;           /* guarded by mu */
    bool running;
    /* metrics: written under mu (depth) or by the writer thread only (the rest); read by /metrics */
    _Atomic uint64_t depth; /* jobs queued and not yet taken */
    mer_hist_t wait_ns, commit_ns, batch_jobs;
    _Atomic uint64_t batches[BATCH__COUNT];
    _Atomic uint64_t jobs_ok, jobs_err;
    _Atomic uint64_t statements; /* run by the jobs of batches (mer_db_statements), whatever their result */
    /* WAL upkeep (see the top of this file) */
    pthread_t ckpt_tid;
    bool ckpt_running;
    pthread_cond_t ckpt_cv;          /* wakes the checkpointer */
    bool ckpt_wanted;                /* guarded by mu: the writer asks for a round */
    bool ckpt_busy;                  /* guarded by mu: a round is under way (wanted or running) */
    bool tail_wanted;                /* guarded by mu: the checkpointer asks the writer to copy the tail */
    bool ckpt_stopping;              /* guarded by mu */
    int64_t ckpt_from;               /* writer thread only: log pages after the last upkeep */
    char path[512];                  /* the database file, for the checkpointer's connection */
    mer_hist_t ckpt_ns[CKPT__COUNT]; /* checkpoint time, by thread (each written by its own thread) */
    /* the log's sync beside the next batch (see the top of this file) */
    pthread_t sync_tid;
    bool sync_running;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    committed_t *sync_head, *sync_tail; /* guarded by sync_mu: batches committed, not yet answered */
    bool sync_busy;                     /* guarded by sync_mu: the syncer is answering batches it took */
    bool sync_stopping;                 /* guarded by sync_mu */
    mer_hist_t sync_ns;                 /* time of the log's fdatasync (syncer thread) */
} writer_t;

static writer_t writers[MER_MAX_REGIONS + 1]; /* regions, and catalog.db */
static _Atomic size_t nwriters;               /* append-only; published after the entry is complete */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
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
        if (strcmp(writers[i].region, region ? region : "") == 0)
            return &writers[i];
    return NULL;
}

static void deliver(mer_job_t *job)
{
    mer_wjob_t *w = MER_CONTAINER_OF(job, mer_wjob_t, job);
    w->done(w);
}

/* Writer thread, after a batch: wakes the checkpointer when the log grew by CKPT_PAGES since the last
 * upkeep (a log that restarted counts from 0). */
static void want_checkpoint(writer_t *w, int64_t wal_pages)
{
    if (wal_pages < w->ckpt_from)
        w->ckpt_from = 0;
    if (wal_pages < w->ckpt_from + CKPT_PAGES || !w->ckpt_running)
        return;
    pthread_mutex_lock(&w->mu);
    if (!w->ckpt_busy) {
        w->ckpt_busy = w->ckpt_wanted = true;
        pthread_cond_signal(&w->ckpt_cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Writer thread, between batches: copies what the checkpointer left, so that the next BEGIN can restart
 * the log. No writer runs meanwhile, so this catches up unless a reader holds the log. */
static void copy_tail(writer_t *w)
{
    uint64_t t0 = mer_now_mono_ns();
    int64_t pages = 0, copied = 0;
    mer_db_t *db = mer_store_write_begin(w->db);
    if (db) {
        mer_db_checkpoint(db, &pages, &copied);
        mer_store_write_end(w->db);
    }
    w->ckpt_from = pages;
    mer_hist_observe(&w->ckpt_ns[CKPT_TAIL], &time_spec, mer_now_mono_ns() - t0);
    pthread_mutex_lock(&w->mu);
    w->ckpt_busy = false;
    pthread_mutex_unlock(&w->mu);
}

static void *checkpointer_main(void *arg)
{
    writer_t *w = arg;
    mer_db_t *db = NULL;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->ckpt_wanted && !w->ckpt_stopping)
            pthread_cond_wait(&w->ckpt_cv, &w->mu);
        if (w->ckpt_stopping)
            break;
        w->ckpt_wanted = false;
        pthread_mutex_unlock(&w->mu);
        if (db == NULL && mer_db_open(w->path, 0, &db) != 0)
            db = NULL;
        for (int round = 0; db && round < TAIL_ROUNDS; round++) {
            uint64_t t0 = mer_now_mono_ns();
            int64_t pages = 0, copied = 0;
            int err = mer_db_checkpoint(db, &pages, &copied);
            mer_hist_observe(&w->ckpt_ns[CKPT_BACKGROUND], &time_spec, mer_now_mono_ns() - t0);
            if (err || pages - copied < TAIL_PAGES)
                break;
        }
        pthread_mutex_lock(&w->mu);
        w->tail_wanted = true; /* the writer clears ckpt_busy once it copied the tail */
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    mer_db_close(db);
    return NULL;
}

/*
 * A log whose fdatasync failed may have lost what it held while the commits stay visible: nothing can be
 * acknowledged any more, and the next sync would report success for pages the kernel dropped. Like
 * PostgreSQL, stop here; the next start recovers the database from what reached the disk.
 */
static void log_sync_failed(writer_t *w)
{
    mer_log_error("%s: fdatasync of the write-ahead log failed: %s; stopping (restart recovers the database)",
                  w->db ? w->db : "catalog", strerror(errno));
    abort();
}

/* After the batch's log sync: counts the batch and answers its jobs (syncer thread, or writer thread when
 * nothing is waiting for a sync). */
static void answer(writer_t *w, committed_t *c)
{
    mer_stat_add(&w->batches[c->result], 1);
    if (c->result == BATCH_COMMITTED) {
        mer_hist_observe(&w->commit_ns, &time_spec, mer_now_mono_ns() - c->t0);
        mer_hist_observe(&w->batch_jobs, &size_spec, c->n);
    }
    for (mer_wjob_t *j = c->jobs; j; j = j->next)
        mer_stat_add(j->err ? &w->jobs_err : &w->jobs_ok, 1);
    for (mer_wjob_t *j = c->jobs, *next; j; j = next) {
        next = j->next;
        j->job.done = deliver;
        mer_job_complete(&j->job);
    }
}

static void run_batch(writer_t *w, mer_wjob_t *batch)
{
    uint64_t t0 = mer_now_mono_ns();
    for (mer_wjob_t *j = batch; j; j = j->next)
        mer_hist_observe(&w->wait_ns, &time_spec, t0 > j->job.queued_ns ? t0 - j->job.queued_ns : 0);
    mer_db_t *db = mer_store_job_begin(w->db); /* a replica catalogue's jobs run at the hub (store.h) */
    int64_t changes = mer_db_total_changes(db), statements = mer_db_statements(db);
    int err = mer_db_begin(db);
    int result = err ? BATCH_FAILED : BATCH_COMMITTED;
    size_t n = 0;
    for (mer_wjob_t *j = batch; j; j = j->next, n++) {
        if (err) {
            j->err = err;
            continue;
        }
        int sperr = mer_db_savepoint(db);
        if (sperr != 0) { /* MER_E_UNAVAILABLE when the database server went away: 503, not 500 */
            j->err = sperr;
            continue;
        }
        j->err = j->run(db, j);
        if (j->err > 0)
            MER_BUG("writer job returned a positive value");
        /* RELEASE also reports the job's deferred statements (db.h): one that failed fails this job alone */
        if (j->err == 0)
            j->err = mer_db_release(db);
        if (j->err)
            mer_db_rollback_to(db);
    }
    int sync_fd = -1;
    if (err == 0) {
        bool wrote = mer_db_total_changes(db) != changes;
        /* catalog.db's commits stay synced in COMMIT: region replicas pull the catalogue's changes, which
         * must never show one that a power cut at the hub could still take back (top of this file) */
        int cerr = w->region[0] ? mer_db_commit_nosync(db, &sync_fd) : mer_db_commit(db);
        if (cerr) {
            mer_log_error("%s: commit of a batch of %zu failed; none acknowledged", w->db ? w->db : "catalog", n);
            for (mer_wjob_t *j = batch; j; j = j->next)
                j->err = cerr;
            result = BATCH_FAILED;
        } else if (!wrote) {
            result = BATCH_IDLE;
        }
    }
    int64_t wal_pages = mer_db_wal_pages(db);
    mer_stat_add(&w->statements, (uint64_t)(mer_db_statements(db) - statements));
    mer_store_write_end(w->db);
    want_checkpoint(w, wal_pages);
    /* hooks publish what a commit made visible: nothing to publish after a rollback */
    for (size_t i = 0, nh = result == BATCH_FAILED ? 0 : atomic_load_explicit(&ncommit_hooks, memory_order_acquire);
         i < nh; i++)
        commit_hooks[i](w->db);
    committed_t c = {.jobs = batch, .n = n, .result = result, .sync_fd = sync_fd, .t0 = t0};
    pthread_mutex_lock(&w->sync_mu);
    if (w->sync_running && (sync_fd >= 0 || w->sync_head || w->sync_busy)) { /* answered in commit order */
        committed_t *q = mer_xmalloc(sizeof(*q));
        *q = c;
        if (w->sync_tail)
            w->sync_tail->next = q;
        else
            w->sync_head = q;
        w->sync_tail = q;
        pthread_cond_signal(&w->sync_cv);
        pthread_mutex_unlock(&w->sync_mu);
        return;
    }
    pthread_mutex_unlock(&w->sync_mu);
    if (sync_fd >= 0 && fdatasync(sync_fd) != 0) /* no syncer (it failed to start): sync here */
        log_sync_failed(w);
    answer(w, &c);
}

/* Syncer thread: syncs the log once for every batch committed meanwhile, then answers them in order. */
static void *syncer_main(void *arg)
{
    writer_t *w = arg;
    pthread_mutex_lock(&w->sync_mu);
    for (;;) {
        while (w->sync_head == NULL && !w->sync_stopping)
            pthread_cond_wait(&w->sync_cv, &w->sync_mu);
        if (w->sync_head == NULL)
            break;
        committed_t *list = w->sync_head;
        w->sync_head = w->sync_tail = NULL;
        w->sync_busy = true;
        pthread_mutex_unlock(&w->sync_mu);
        int fd = -1;
        for (committed_t *c = list; c; c = c->next)
            fd = c->sync_fd >= 0 ? c->sync_fd : fd;
        if (fd >= 0) {
            uint64_t t0 = mer_now_mono_ns();
            if (fdatasync(fd) != 0)
                log_sync_failed(w);
            mer_hist_observe(&w->sync_ns, &time_spec, mer_now_mono_ns() - t0);
        }
        for (committed_t *c = list, *next; c; c = next) {
            next = c->next;
            answer(w, c);
            free(c);
        }
        pthread_mutex_lock(&w->sync_mu);
        w->sync_busy = false;
    }
    pthread_mutex_unlock(&w->sync_mu);
    mer_thread_exit();
    return NULL;
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stopping && !w->tail_wanted)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->tail_wanted) {
            w->tail_wanted = false;
            pthread_mutex_unlock(&w->mu);
            copy_tail(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
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
        MER_ASSERT(n <= MAX_BATCH && atomic_load_explicit(&w->depth, memory_order_relaxed) >= n);
        atomic_store_explicit(&w->depth, atomic_load_explicit(&w->depth, memory_order_relaxed) - n,
                              memory_order_relaxed);
        pthread_mutex_unlock(&w->mu);
        run_batch(w, batch);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    mer_thread_exit();
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
            snprintf(w->region, sizeof(w->region), "%s", region ? region : "");
            w->db = region ? w->region : MER_STORE_CATALOG;
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv, NULL);
            pthread_cond_init(&w->ckpt_cv, NULL);
            pthread_mutex_init(&w->sync_mu, NULL);
            pthread_cond_init(&w->sync_cv, NULL);
            mer_db_t *db = mer_store_write_begin(region);
            if (db) {
                snprintf(w->path, sizeof(w->path), "%s", mer_db_path(db));
                mer_db_wal_manual(db); /* the checkpointer below copies the log, not COMMIT */
                mer_store_write_end(region);
            }
            if (db == NULL || pthread_create(&w->ckpt_tid, NULL, checkpointer_main, w) != 0) {
                err = MER_E_INTERNAL;
            } else {
                w->ckpt_running = true;
                char name[16]; /* "writer-in", "wsync-in", "ckpt-in", "writer-catalog": top -H, perf,
                                * /proc/PID/task/TID/comm */
                snprintf(name, sizeof(name), "ckpt-%s", region ? region : "catalog");
                pthread_setname_np(w->ckpt_tid, name);
                if (pthread_create(&w->sync_tid, NULL, syncer_main, w) == 0) {
                    snprintf(name, sizeof(name), "wsync-%s", region ? region : "catalog");
                    pthread_setname_np(w->sync_tid, name);
                    w->sync_running = true; /* before the writer starts */
                }
                if (pthread_create(&w->tid, NULL, writer_main, w) != 0) {
                    err = MER_E_INTERNAL;
                } else {
                    snprintf(name, sizeof(name), "writer-%s", region ? region : "catalog");
                    pthread_setname_np(w->tid, name);
                    w->running = true;
                    atomic_fetch_add_explicit(&nwriters, 1, memory_order_release);
                }
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
    mer_job_capture(&job->job);
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
    atomic_store_explicit(&w->depth, atomic_load_explicit(&w->depth, memory_order_relaxed) + 1, memory_order_relaxed);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Stops a thread beside a writer (syncer, checkpointer): sets its flag under its lock, wakes it, joins it. */
static void stop_beside(pthread_mutex_t *mu, pthread_cond_t *cv, bool *stopping, bool *running, pthread_t tid)
{
    pthread_mutex_lock(mu);
    *stopping = true;
    pthread_cond_signal(cv);
    pthread_mutex_unlock(mu);
    if (*running)
        pthread_join(tid, NULL);
    *running = false;
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
    /* after the writers: every batch is queued (the syncer answers them), none asks for a checkpoint */
    for (size_t i = 0; i < nw; i++) {
        writer_t *w = &writers[i];
        stop_beside(&w->sync_mu, &w->sync_cv, &w->sync_stopping, &w->sync_running, w->sync_tid);
        stop_beside(&w->mu, &w->ckpt_cv, &w->ckpt_stopping, &w->ckpt_running, w->ckpt_tid);
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
    sync_job_t *j = MER_CONTAINER_OF(w, sync_job_t, w);
    return j->fn(db, j->arg);
}

static void sync_done(mer_wjob_t *w)
{
    sync_job_t *j = MER_CONTAINER_OF(w, sync_job_t, w);
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

/* The histograms of a writer, in the order of hist_families. */
static const mer_hist_t *writer_hist(const writer_t *w, size_t k)
{
    return k == 0 ? &w->wait_ns : k == 1 ? &w->batch_jobs : k == 2 ? &w->commit_ns : &w->sync_ns;
}

void mer_writer_metrics(mer_buf_t *out)
{
    static const struct {
        const char *name, *help;
        const mer_hist_spec_t *spec;
    } hist_families[] = {
        {"meridian_writer_queue_wait_seconds", "Time a write waited in the queue before its batch started.",
         &time_spec},
        {"meridian_writer_batch_jobs", "Writes per committed batch (batches that changed rows).", &size_spec},
        {"meridian_writer_commit_seconds",
         "Time from BEGIN until a batch that changed rows is durable (its COMMIT and the log's sync after it).",
         &time_spec},
        {"meridian_writer_sync_seconds",
         "Time of the write-ahead log's fdatasync beside the writer (one for every batch committed meanwhile).",
         &time_spec},
    };
    size_t nw = atomic_load_explicit(&nwriters, memory_order_acquire);
    mer_buf_t lb[MER_MAX_REGIONS + 1]; /* region="..." of each writer */
    for (size_t i = 0; i < nw; i++) {
        lb[i] = (mer_buf_t)MER_BUF_INIT;
        mer_prom_label(&lb[i], "region", writers[i].region[0] ? writers[i].region : "catalog");
    }
    mer_prom_family(out, "meridian_writer_queue_depth", "gauge", "Writes queued for a region's writer, not yet taken.");
    for (size_t i = 0; i < nw; i++)
        mer_buf_printf(out, "meridian_writer_queue_depth{%s} %llu\n", mer_buf_str(&lb[i]),
                       (unsigned long long)mer_stat_get(&writers[i].depth));
    for (size_t k = 0; k < MER_ARRAY_LEN(hist_families); k++) {
        mer_prom_family(out, hist_families[k].name, "histogram", hist_families[k].help);
        for (size_t i = 0; i < nw; i++) {
            mer_hist_snap_t snap = {0};
            mer_hist_snap_add(&snap, writer_hist(&writers[i], k), hist_families[k].spec);
            mer_prom_hist(out, hist_families[k].name, mer_buf_str(&lb[i]), hist_families[k].spec, &snap);
        }
    }
    mer_prom_family(out, "meridian_writer_checkpoint_seconds", "histogram",
                    "Time of WAL checkpoints: by the checkpointer thread beside the writer, or by the writer "
                    "between two batches (the tail).");
    for (size_t i = 0; i < nw; i++) {
        for (int k = 0; k < CKPT__COUNT; k++) {
            mer_buf_t l = MER_BUF_INIT;
            mer_buf_printf(&l, "%s,thread=\"%s\"", mer_buf_str(&lb[i]), ckpt_threads[k]);
            mer_hist_snap_t snap = {0};
            mer_hist_snap_add(&snap, &writers[i].ckpt_ns[k], &time_spec);
            mer_prom_hist(out, "meridian_writer_checkpoint_seconds", mer_buf_str(&l), &time_spec, &snap);
            mer_buf_release(&l);
        }
    }
    mer_prom_family(out, "meridian_writer_batches_total", "counter",
                    "Writer transactions: committed (changed rows), idle (changed nothing), failed (rolled back).");
    for (size_t i = 0; i < nw; i++)
        for (int k = 0; k < BATCH__COUNT; k++)
            mer_buf_printf(out, "meridian_writer_batches_total{%s,result=\"%s\"} %llu\n", mer_buf_str(&lb[i]),
                           batch_results[k], (unsigned long long)mer_stat_get(&writers[i].batches[k]));
    mer_prom_family(out, "meridian_writer_jobs_total", "counter",
                    "Writes run by the writers: ok (kept), error (the write or its commit failed).");
    for (size_t i = 0; i < nw; i++) {
        mer_buf_printf(out, "meridian_writer_jobs_total{%s,result=\"ok\"} %llu\n", mer_buf_str(&lb[i]),
                       (unsigned long long)mer_stat_get(&writers[i].jobs_ok));
        mer_buf_printf(out, "meridian_writer_jobs_total{%s,result=\"error\"} %llu\n", mer_buf_str(&lb[i]),
                       (unsigned long long)mer_stat_get(&writers[i].jobs_err));
    }
    mer_prom_family(out, "meridian_writer_statements_total", "counter",
                    "Statements the writers' jobs ran (BEGIN, COMMIT and savepoints not counted).");
    for (size_t i = 0; i < nw; i++)
        mer_buf_printf(out, "meridian_writer_statements_total{%s} %llu\n", mer_buf_str(&lb[i]),
                       (unsigned long long)mer_stat_get(&writers[i].statements));
    mer_prom_family(out, "meridian_db_round_trips_total", "counter",
                    "Round trips to database servers (PostgreSQL), all connections; 0 with SQLite files.");
    mer_buf_printf(out, "meridian_db_round_trips_total %lld\n", (long long)mer_db_round_trips());
    for (size_t i = 0; i < nw; i++)
        mer_buf_release(&lb[i]);
}
