/*
 * sqlite_ceiling — the same-run baseline for order placement: how many single-row INSERTs per second
 * SQLite can make durable when each is its own transaction (WAL, synchronous=FULL, as Meridian runs),
 * i.e. what a server that commits every request separately could acknowledge at most.
 *
 *   sqlite_ceiling DB_PATH SECONDS   -> prints "<inserts per second>"
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    if (argc != 3 || sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 2;
    double secs = strtod(argv[2], NULL);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER, note TEXT)",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO t (user_id, amount, note) VALUES (?, ?, 'order')", -1, &st, NULL);
    long n = 0;
    double start = now(), end = start + secs;
    while (now() < end) {
        sqlite3_bind_int64(st, 1, n % 64);
        sqlite3_bind_int64(st, 2, 1999900);
        if (sqlite3_step(st) != SQLITE_DONE)
            return 1;
        sqlite3_reset(st);
        n++;
    }
    printf("%.0f\n", (double)n / (now() - start));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}
