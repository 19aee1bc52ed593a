#include "store/sqlite_walvfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include "core/common.h"
#include "core/banned.h"

#define VFS_NAME "meridian-wal"
#define BUF_CAP (1u << 20) /* a batch writes ~250 kB of frames; more is written as it comes */

/* An open WAL file: our methods first, then the buffer, then the wrapped VFS's file object. */
typedef struct wal_file {
    sqlite3_file base;
    sqlite3_file *real;  /* points just past this struct, inside the same allocation */
    unsigned char *buf;  /* BUF_CAP bytes, allocated on first write */
    sqlite3_int64 start; /* file offset of buf[0] */
    size_t len;          /* bytes gathered */
    int sync_fd;         /* the same file, for a sync on another thread (mer_sqlite_walvfs_defer_sync); or -1 */
    bool defer;          /* a sync writes the buffer but leaves the fdatasync to the caller's other thread */
    bool synced;         /* synced once for real: the unix VFS then synced the directory of a new log too */
    bool owed;           /* a deferred sync left out its fdatasync since the last mer_sqlite_walvfs_defer_sync */
} wal_file_t;

static sqlite3_vfs vfs;
static sqlite3_vfs *parent;

/* The unix VFS writes at most 128 KiB - 1 per call (it masks the length), so a flush goes in pieces. */
#define WRITE_MAX (128u * 1024 - 4096)

static int flush(wal_file_t *f)
{
    int rc = SQLITE_OK;
    for (size_t done = 0; done < f->len && rc == SQLITE_OK; done += WRITE_MAX)
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)MER_MIN(WRITE_MAX, f->len - done),
                                       f->start + (sqlite3_int64)done);
    f->len = 0;
    return rc;
}

static int w_close(sqlite3_file *file)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    if (f->sync_fd >= 0)
        close(f->sync_fd);
    f->sync_fd = -1;
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 off)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

static int w_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
    wal_file_t *f = (wal_file_t *)file;
    if (f->len && (off != f->start + (sqlite3_int64)f->len || f->len + (size_t)amt > BUF_CAP)) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((size_t)amt > WRITE_MAX) /* big writes go straight through */
        return f->real->pMethods->xWrite(f->real, data, amt, off);
    if (f->buf == NULL)
        f->buf = mer_xmalloc(BUF_CAP);
    if (f->len == 0)
        f->start = off;
    memcpy(f->buf + f->len, data, (size_t)amt);
    f->len += (size_t)amt;
    return SQLITE_OK;
}

static int w_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *file, int flags)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    if (f->defer && f->synced) {
        f->owed = true;
        return rc;
    }
    rc = f->real->pMethods->xSync(f->real, flags);
    f->synced = f->synced || rc == SQLITE_OK;
    return rc;
}

static int w_size(sqlite3_file *file, sqlite3_int64 *size)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *file, int level)
{
    wal_file_t *f = (wal_file_t *)file;
    return f->real->pMethods->xLock(f->real, level);
}

static int w_unlock(sqlite3_file *file, int level)
{
    wal_file_t *f = (wal_file_t *)file;
    return f->real->pMethods->xUnlock(f->real, level);
}

static int w_reserved(sqlite3_file *file, int *out)
{
    wal_file_t *f = (wal_file_t *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int w_fcntl(sqlite3_file *file, int op, void *arg)
{
    wal_file_t *f = (wal_file_t *)file;
    int rc = flush(f); /* whatever the control does (size hints, persist flags), it sees the file as written */
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int w_sector(sqlite3_file *file)
{
    wal_file_t *f = (wal_file_t *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int w_device(sqlite3_file *file)
{
    wal_file_t *f = (wal_file_t *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static const sqlite3_io_methods wal_methods = {
    .iVersion = 1, /* a WAL file has no shared memory and is never memory-mapped */
    .xClose = w_close,
    .xRead = w_read,
    .xWrite = w_write,
    .xTruncate = w_truncate,
    .xSync = w_sync,
    .xFileSize = w_size,
    .xLock = w_lock,
    .xUnlock = w_unlock,
    .xCheckReservedLock = w_reserved,
    .xFileControl = w_fcntl,
    .xSectorSize = w_sector,
    .xDeviceCharacteristics = w_device,
};

static int v_open(sqlite3_vfs *self, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)self;
    if (!(flags & SQLITE_OPEN_WAL)) /* the wrapped VFS's own object, in our (larger) allocation */
        return parent->xOpen(parent, name, file, flags, out_flags);
    wal_file_t *f = (wal_file_t *)file;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    f->sync_fd = -1;
    int rc = parent->xOpen(parent, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == NULL) {
        f->base.pMethods = NULL;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    f->base.pMethods = &wal_methods;
    if (name) /* without it, syncs are never deferred */
        f->sync_fd = open(name, O_RDONLY | O_CLOEXEC);
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *self, const char *name, int sync_dir)
{
    (void)self;
    return parent->xDelete(parent, name, sync_dir);
}

static int v_access(sqlite3_vfs *self, const char *name, int flags, int *out)
{
    (void)self;
    return parent->xAccess(parent, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *self, const char *name, int n, char *out)
{
    (void)self;
    return parent->xFullPathname(parent, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *self, const char *name)
{
    (void)self;
    return parent->xDlOpen(parent, name);
}

static void v_dlerror(sqlite3_vfs *self, int n, char *out)
{
    (void)self;
    parent->xDlError(parent, n, out);
}

static void (*v_dlsym(sqlite3_vfs *self, void *h, const char *sym))(void)
{
    (void)self;
    return parent->xDlSym(parent, h, sym);
}

static void v_dlclose(sqlite3_vfs *self, void *h)
{
    (void)self;
    parent->xDlClose(parent, h);
}

static int v_random(sqlite3_vfs *self, int n, char *out)
{
    (void)self;
    return parent->xRandomness(parent, n, out);
}

static int v_sleep(sqlite3_vfs *self, int us)
{
    (void)self;
    return parent->xSleep(parent, us);
}

static int v_time(sqlite3_vfs *self, double *out)
{
    (void)self;
    return parent->xCurrentTime(parent, out);
}

static int v_lasterr(sqlite3_vfs *self, int n, char *out)
{
    (void)self;
    return parent->xGetLastError ? parent->xGetLastError(parent, n, out) : 0;
}

static int v_time64(sqlite3_vfs *self, sqlite3_int64 *out)
{
    (void)self;
    return parent->xCurrentTimeInt64(parent, out);
}

static const char *registered;

static void register_once(void)
{
    parent = sqlite3_vfs_find(NULL);
    if (parent == NULL || parent->iVersion < 2)
        return;
    vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wal_file_t) + parent->szOsFile,
        .mxPathname = parent->mxPathname,
        .zName = VFS_NAME,
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_fullpath,
        .xDlOpen = v_dlopen,
        .xDlError = v_dlerror,
        .xDlSym = v_dlsym,
        .xDlClose = v_dlclose,
        .xRandomness = v_random,
        .xSleep = v_sleep,
        .xCurrentTime = v_time,
        .xGetLastError = v_lasterr,
        .xCurrentTimeInt64 = v_time64,
    };
    if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
        registered = VFS_NAME;
}

const char *mer_sqlite_walvfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
    return registered;
}

int mer_sqlite_walvfs_defer_sync(sqlite3 *conn, bool on)
{
    sqlite3_file *file = NULL;
    if (sqlite3_file_control(conn, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || file == NULL ||
        file->pMethods != &wal_methods)
        return -1;
    wal_file_t *f = (wal_file_t *)file;
    f->defer = on && f->sync_fd >= 0;
    bool owed = f->owed;
    f->owed = false;
    return on ? f->sync_fd : owed ? f->sync_fd : -1;
}
