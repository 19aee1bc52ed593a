/*
 * notify.h — telling the other nodes on the same databases that something they keep in memory changed.
 *
 * Several `meridian serve` processes may share one set of PostgreSQL databases. Each keeps copies in memory:
 * the catalogue snapshot and the answers cached from it, the stock state and epochs, customer sessions, the
 * countries. A writer job that changes such a thing calls mer_notify_send() inside its transaction; the
 * database delivers the note to every node listening on it when, and only if, that transaction commits (a job
 * rolled back to its savepoint takes its note with it), so a node never drops a cache for a change that did
 * not happen, nor misses one that did. No polling.
 *
 * Listening: mer_notify_start() starts one thread per database of this node that can carry notes (PostgreSQL;
 * a SQLite file has one node, which invalidates its own caches through commit hooks), each with its own
 * connection. For a note from another node it calls the handlers registered for the note's topic, on that
 * thread: handlers may read the database (mer_store_reader), never block on anything else. A node ignores its
 * own notes (its commit hooks did the work). When a listener loses its connection it reconnects by itself, and
 * since it cannot know what it missed meanwhile, it then calls every handler with arg NULL: drop everything
 * (also once when it first listens: a change may have come between the caches' first load and then).
 *
 * A note is "<node> <topic> <arg>" on the channel "meridian"; topic is a word, arg a short string ("" allowed).
 */
#ifndef MER_NOTIFY_H
#define MER_NOTIFY_H

#include "store/db.h"

/* region: the database the note came through (MER_STORE_CATALOG = NULL for the catalogue); arg: the sender's,
 * or NULL after a reconnection (anything may have changed). */
typedef void (*mer_notify_fn)(const char *region, const char *arg);

/* Registers a handler for a topic. Start-up only (before mer_notify_start); at most 16. */
void mer_notify_on(const char *topic, mer_notify_fn fn);
/*
 * Inside a writer job (db is the writer's connection, in the job's transaction): the other nodes hear topic
 * and arg when the transaction commits. Returns 0 (also when the database has no other nodes: SQLite), or a
 * negative error (the job should fail: its change would stay unknown to the other nodes).
 */
int mer_notify_send(mer_db_t *db, const char *topic, const char *arg);
/* Same, arg an integer (a user or SKU id). */
int mer_notify_send_id(mer_db_t *db, const char *topic, int64_t id);
/* Starts the listeners (serve, once every module's init has registered its handlers). Returns 0 or a negative
 * error. */
int mer_notify_start(void);
/* Stops and joins the listeners. */
void mer_notify_stop(void);
/* This process's name among the nodes ("<pid in hex>.<hex>"), as its notes carry it and as it claims shared
 * work (event deliveries); the same for the process's whole life. Any thread. */
const char *mer_notify_node(void);
/* Notes from other nodes handled since start (for tests and /metrics). */
uint64_t mer_notify_received(void);

#endif
