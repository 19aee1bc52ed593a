/*
 * notify.c — notes between nodes sharing databases (see notify.h): sending through the writer's
 * transaction, one listener thread per database that carries notes.
 */
#include "store/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

#define CHANNEL "meridian"
#define MAX_HANDLERS 16
#define WAIT_MS 200  /* a listener looks at its stop flag this often */
#define RETRY_MS 500 /* between attempts to reconnect */

static struct {
    char topic[24];
    mer_notify_fn fn;
} handlers[MAX_HANDLERS];
static _Atomic size_t nhandlers;

typedef struct listener {
    char region[MER_REGION_NAME_MAX]; /* "" = the catalogue */
    const char *url;                  /* the store's (mer_store_location) */
    pthread_t thread;
} listener_t;

static listener_t listeners[MER_MAX_REGIONS + 1];
static size_t nlisteners;
static _Atomic bool stopping;
static _Atomic uint64_t received;
static char node_id[24]; /* this process, as its notes name it */

void mer_notify_on(const char *topic, mer_notify_fn fn)
{
    size_t n = atomic_load(&nhandlers);
    if (n >= MAX_HANDLERS)
        MER_BUG("too many notify handlers");
    snprintf(handlers[n].topic, sizeof(handlers[n].topic), "%s", topic);
    handlers[n].fn = fn;
    atomic_store_explicit(&nhandlers, n + 1, memory_order_release);
}

static void make_node_id(void)
{
    snprintf(node_id, sizeof(node_id), "%s", mer_db_node());
}

static void ensure_node_id(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_node_id);
}

const char *mer_notify_node(void)
{
    ensure_node_id();
    return node_id;
}

int mer_notify_send(mer_db_t *db, const char *topic, const char *arg)
{
    if (!mer_db_can_notify(db))
        return 0;
    ensure_node_id();
    char payload[160];
    snprintf(payload, sizeof(payload), "%s %s %s", node_id, topic, arg ? arg : "");
    return mer_db_notify(db, CHANNEL, payload);
}

int mer_notify_send_id(mer_db_t *db, const char *topic, int64_t id)
{
    char arg[24];
    snprintf(arg, sizeof(arg), "%lld", (long long)id);
    return mer_notify_send(db, topic, arg);
}

uint64_t mer_notify_received(void)
{
    return atomic_load_explicit(&received, memory_order_relaxed);
}

static const char *region_of(const listener_t *l)
{
    return l->region[0] ? l->region : MER_STORE_CATALOG;
}

static void deliver(void *arg, const char *payload)
{
    const listener_t *l = arg;
    const char *topic = strchr(payload, ' ');
    if (topic == NULL)
        return;
    size_t idlen = (size_t)(topic - payload);
    if (idlen == strlen(node_id) && memcmp(payload, node_id, idlen) == 0)
        return; /* our own: the commit hooks of this node did the work */
    topic++;
    const char *end = strchr(topic, ' ');
    size_t tlen = end ? (size_t)(end - topic) : strlen(topic);
    const char *note_arg = end ? end + 1 : "";
    atomic_fetch_add_explicit(&received, 1, memory_order_relaxed);
    size_t n = atomic_load_explicit(&nhandlers, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strlen(handlers[i].topic) == tlen && memcmp(handlers[i].topic, topic, tlen) == 0)
            handlers[i].fn(region_of(l), note_arg);
}

/* After a reconnection: notes may have been missed, every handler drops everything it keeps. */
static void everything(const listener_t *l)
{
    size_t n = atomic_load_explicit(&nhandlers, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        handlers[i].fn(region_of(l), NULL);
}

static void pause_ms(int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&stopping); waited += 50)
        usleep(50 * 1000);
}

static void *listener_main(void *arg)
{
    listener_t *l = arg;
    mer_db_t *db = NULL;
    bool listening = false, ever = false;
    while (!atomic_load_explicit(&stopping, memory_order_acquire)) {
        if (db == NULL && mer_db_open(l->url, 0, &db) != 0) {
            db = NULL;
            pause_ms(RETRY_MS);
            continue;
        }
        if (!listening) {
            if (mer_db_listen(db, CHANNEL) != 0) {
                pause_ms(RETRY_MS);
                continue;
            }
            listening = true;
            /* what changed before (while the connection was down, or between the caches' first load and
             * now) is unknown: drop it all */
            if (ever)
                mer_log_info("db %s: listening again; what this node keeps of it is reloaded", mer_db_path(db));
            everything(l);
            ever = true;
        }
        if (mer_db_wait_notes(db, WAIT_MS, deliver, l) < 0)
            listening = false;
    }
    mer_db_close(db);
    mer_thread_exit(); /* handlers read through this thread's connections */
    return NULL;
}

int mer_notify_start(void)
{
    ensure_node_id();
    atomic_store(&stopping, false);
    const char *name;
    for (size_t i = 0; i <= MER_MAX_REGIONS; i++) {
        name = i == 0 ? MER_STORE_CATALOG : mer_store_region_at(i - 1);
        if (i > 0 && name == NULL)
            break;
        const char *url = mer_store_location(name);
        if (url == NULL || !mer_db_is_url(url))
            continue;
        listener_t *l = &listeners[nlisteners];
        snprintf(l->region, sizeof(l->region), "%s", name ? name : "");
        l->url = url;
        if (pthread_create(&l->thread, NULL, listener_main, l) != 0)
            return MER_E_INTERNAL;
        nlisteners++;
    }
    return 0;
}

void mer_notify_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_release);
    for (size_t i = 0; i < nlisteners; i++)
        pthread_join(listeners[i].thread, NULL);
    nlisteners = 0;
}
