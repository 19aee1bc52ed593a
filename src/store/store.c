#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/banned.h"

typedef struct store_db {
    char name[MER_REGION_NAME_MAX]; /* "" for catalog.db */
    char path[512];
    char label[32]; /* the file's name in --data ("region-in.db"), the database's label whatever the backend */
    mer_db_t *writer;
    mer_db_t *upstream; /* the catalogue of a region's replica: the hub's database, where its writer jobs run
                         * (mer_store_job_begin); NULL elsewhere. Under mu, as writer. */
    pthread_mutex_t mu;
} store_db_t;

static struct {
    char dir[400];
    store_db_t dbs[MER_MAX_REGIONS + 1]; /* [0] = catalog; append-only while serving */
    _Atomic size_t ndbs;                 /* published after the entry is complete */
} st;

typedef struct reader_set {
    mer_db_t *conn[MER_MAX_REGIONS + 1];
} reader_set_t;

static _Thread_local reader_set_t readers;

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;

static store_db_t *find(const char *region)
{
    size_t n = atomic_load_explicit(&st.ndbs, memory_order_acquire);
    if (region == NULL)
        return n ? &st.dbs[0] : NULL;
    for (size_t i = 1; i < n; i++)
        if (strcmp(st.dbs[i].name, region) == 0)
            return &st.dbs[i];
    return NULL;
}

/* mer_store_locate: database URLs, by name ("" = the catalogue) */
static struct {
    char name[MER_REGION_NAME_MAX];
    char url[512];
} located[MER_MAX_REGIONS + 1];
static size_t nlocated;
static char hub_url[512]; /* mer_store_locate_hub: "" = the catalogue is written where it is read */

int mer_store_locate(const char *catalog, const char *regions)
{
    size_t n = 0;
    if (catalog && *catalog) {
        if (!mer_db_is_url(catalog) || strlen(catalog) >= sizeof(located[0].url))
            return MER_E_VALIDATION;
        located[n].name[0] = '\0';
        snprintf(located[n++].url, sizeof(located[0].url), "%s", catalog);
    }
    for (const char *p = regions ? regions : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p || (size_t)(eq - p) >= MER_REGION_NAME_MAX || n >= MER_ARRAY_LEN(located))
            return MER_E_VALIDATION;
        size_t ulen = len - (size_t)(eq + 1 - p);
        if (ulen >= sizeof(located[0].url))
            return MER_E_VALIDATION;
        snprintf(located[n].name, sizeof(located[n].name), "%.*s", (int)(eq - p), p);
        snprintf(located[n].url, sizeof(located[n].url), "%.*s", (int)ulen, eq + 1);
        if (!mer_db_is_url(located[n].url))
            return MER_E_VALIDATION;
        n++;
        p = end ? end + 1 : p + len;
    }
    nlocated = n;
    return 0;
}

int mer_store_locate_hub(const char *url)
{
    if (url == NULL || *url == '\0') {
        hub_url[0] = '\0';
        return 0;
    }
    if (!mer_db_is_url(url) || strlen(url) >= sizeof(hub_url))
        return MER_E_VALIDATION;
    snprintf(hub_url, sizeof(hub_url), "%s", url);
    return 0;
}

bool mer_store_catalog_replica(void)
{
    return hub_url[0] != '\0';
}

static const char *located_url(const char *name)
{
    for (size_t i = 0; i < nlocated; i++)
        if (strcmp(located[i].name, name) == 0)
            return located[i].url;
    return NULL;
}

bool mer_store_catalog_remote(void)
{
    return located_url("") != NULL;
}

static int open_db(const char *name, const char *file, const mer_migration_t *m, size_t n)
{
    if (st.ndbs >= MER_ARRAY_LEN(st.dbs))
        return MER_E_INTERNAL;
    store_db_t *d = &st.dbs[st.ndbs];
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->label, sizeof(d->label), "%s", file);
    char path[sizeof(d->path)]; /* st.dir and d->path are both in st: GCC's -Wrestrict fears overlap */
    const char *url = located_url(name);
    if (url)
        snprintf(path, sizeof(path), "%s", url);
    else
        snprintf(path, sizeof(path), "%s/%s", st.dir, file);
    memcpy(d->path, path, sizeof(path));
    int err = mer_db_open(d->path, MER_DB_CREATE, &d->writer);
    if (err)
        return err;
    mer_db_set_label(d->writer, d->label);
    if ((err = mer_db_migrate(d->writer, m, n)) != 0) {
        mer_db_close(d->writer);
        return err;
    }
    d->upstream = NULL;
    /* a replica's writer jobs go to the hub, which may be down now: the connection is made when it answers */
    if (name[0] == '\0' && hub_url[0] && (err = mer_db_open(hub_url, MER_DB_LAZY, &d->upstream)) != 0) {
        mer_db_close(d->writer);
        return err;
    }
    if (d->upstream)
        mer_db_set_label(d->upstream, "hub");
    pthread_mutex_init(&d->mu, NULL);
    atomic_fetch_add_explicit(&st.ndbs, 1, memory_order_release);
    return 0;
}

int mer_store_exists(const char *dir)
{
    const char *url = located_url("");
    if (url == NULL) {
        char path[512];
        snprintf(path, sizeof(path), "%s/catalog.db", dir);
        return access(path, F_OK) == 0;
    }
    mer_db_t *db;
    int err = mer_db_open(url, MER_DB_READONLY, &db);
    if (err)
        return err;
    bool yes = mer_db_has_table(db, "schema_version");
    mer_db_close(db);
    return yes;
}

int mer_store_init(const char *dir)
{
    snprintf(st.dir, sizeof(st.dir), "%s", dir);
    return open_db("", "catalog.db", mer_schema_catalog, mer_schema_catalog_n);
}

int mer_store_open_region(const char *name)
{
    char file[64];
    pthread_mutex_lock(&open_mu);
    int err = 0;
    if (find(name) == NULL) {
        snprintf(file, sizeof(file), "region-%s.db", name);
        err = open_db(name, file, mer_schema_region, mer_schema_region_n);
    }
    pthread_mutex_unlock(&open_mu);
    return err;
}

const char *mer_store_region_at(size_t i)
{
    size_t n = atomic_load_explicit(&st.ndbs, memory_order_acquire);
    return i + 1 < n ? st.dbs[i + 1].name : NULL;
}

const char *mer_store_location(const char *region)
{
    store_db_t *d = find(region);
    return d ? d->path : NULL;
}

bool mer_store_remote(const char *region)
{
    const char *path = mer_store_location(region);
    return path && mer_db_is_url(path);
}

const char *mer_store_dir(void)
{
    return st.dir;
}

void mer_store_shutdown(void)
{
    mer_store_thread_release();
    size_t n = atomic_load(&st.ndbs);
    for (size_t i = 0; i < n; i++) {
        mer_db_close(st.dbs[i].writer);
        mer_db_close(st.dbs[i].upstream);
        st.dbs[i].upstream = NULL;
        pthread_mutex_destroy(&st.dbs[i].mu);
    }
    atomic_store(&st.ndbs, 0);
}

mer_db_t *mer_store_write_begin_at(const char *region, const char *file, int line)
{
    mer_loop_forbid("a database write", file, line);
    store_db_t *d = find(region);
    if (d == NULL)
        return NULL;
    pthread_mutex_lock(&d->mu);
    return d->writer;
}

mer_db_t *mer_store_job_begin_at(const char *region, const char *file, int line)
{
    mer_db_t *db = mer_store_write_begin_at(region, file, line);
    store_db_t *d = db ? find(region) : NULL;
    return d && d->upstream ? d->upstream : db;
}

void mer_store_write_end(const char *region)
{
    store_db_t *d = find(region);
    if (d)
        pthread_mutex_unlock(&d->mu);
}

mer_db_t *mer_store_reader_at(const char *region, const char *file, int line)
{
    mer_loop_forbid("a database read", file, line);
    store_db_t *d = find(region);
    if (d == NULL)
        return NULL;
    size_t i = (size_t)(d - st.dbs);
    if (readers.conn[i] == NULL) {
        if (mer_db_open(d->path, MER_DB_READONLY, &readers.conn[i]) != 0)
            return NULL;
        mer_db_set_label(readers.conn[i], d->label);
    }
    return readers.conn[i];
}

void mer_store_thread_release(void)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(readers.conn); i++) {
        mer_db_close(readers.conn[i]);
        readers.conn[i] = NULL;
    }
}
