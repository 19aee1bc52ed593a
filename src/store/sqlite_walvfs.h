/*
 * sqlite_walvfs.h — a SQLite VFS that writes a commit's WAL frames with a few system calls, not two per page.
 *
 * Why: SQLite appends each page of a commit to the write-ahead log as two pwrite()s (a 24-byte frame
 * header, then the page), so a group-commit batch of ~60 pages costs ~120 system calls on the writer
 * thread, which profiles showed as 42 % of its time — the limit of the order path. This VFS wraps the
 * default one ("unix") and, for WAL files only, gathers consecutive appends in memory and writes them at
 * once (in pieces of under 128 KiB, the most the unix VFS writes per call: two or three per batch) when
 * SQLite syncs the log (every COMMIT, since the writers run with synchronous=FULL), or earlier
 * when anything needs the file as it is: a read, a size query, a truncate, a write elsewhere in the file,
 * a full buffer, close.
 *
 * Why it is safe: nothing a commit wrote is visible to another connection before SQLite has synced the
 * log (with synchronous=FULL the sync comes before the wal-index header that publishes the frames), and
 * the sync writes the buffer first; a crash before the sync loses only frames of a commit that had not
 * returned, exactly as a crash between SQLite's own write() calls would. Database files, journals and
 * shared memory pass straight to the wrapped VFS.
 *
 * Only for connections with synchronous=FULL (db_sqlite.c opens every read-write connection so).
 *
 * The sync apart (mer_sqlite_walvfs_defer_sync): the region writers commit a batch with the log's sync
 * deferred, so that a thread beside them fdatasync()s it while they run the next batch (store/writer.c).
 * Meanwhile the sync still writes the buffer, so the file holds every frame before the wal-index header
 * publishes them, and the log stays a prefix of commits on disk: SQLite's checksums chain the frames and
 * recovery stops at the first one that did not reach the disk (SQLite's own synchronous=NORMAL).
 * The first sync of a log file is always real: the unix VFS then syncs the directory of a new log.
 */
#ifndef MER_SQLITE_WALVFS_H
#define MER_SQLITE_WALVFS_H

#include <sqlite3.h>
#include <stdbool.h>

/* Registers the VFS (once; thread-safe) and returns its name for sqlite3_open_v2, or NULL if it could
 * not be registered (then the default VFS is used). */
const char *mer_sqlite_walvfs(void);

/* Defers (on) or restores (off) the syncs of conn's write-ahead log: while deferred, a sync writes what
 * was gathered but returns before the fdatasync, which the caller owes before anything of it is
 * acknowledged. Turned on, returns a descriptor of the log (to fdatasync() from any thread, valid while conn
 * is open), or -1 if conn's log is not this VFS's: nothing is deferred then. Turned off, returns that
 * descriptor if a sync was left out meanwhile, else -1 (a COMMIT that wrote nothing owes none). Same thread
 * as conn's other calls. */
int mer_sqlite_walvfs_defer_sync(sqlite3 *conn, bool on);

#endif
