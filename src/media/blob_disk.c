/*
 * blob_disk.c — the blob store as files under a directory (see blob.h): dir/<key>, written to a
 * temporary file in the same directory, fsync'd, renamed into place, and the directory fsync'd.
 */
#include "media/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/banned.h"

typedef struct disk {
    char dir[512];
} disk_t;

bool mer_blob_key_ok(const char *key)
{
    size_t n = strlen(key), slashes = 0;
    if (n == 0 || n > 200 || key[0] == '/' || key[0] == '.' || key[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (c == '/') {
            if (++slashes > 1 || key[i + 1] == '.')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
            return false;
        }
    }
    return true;
}

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int disk_put(void *self, const char *key, const void *data, size_t len)
{
    disk_t *d = self;
    if (!mer_blob_key_ok(key))
        return MER_E_INTERNAL;
    char path[800], sub[800], tmp[820];
    snprintf(path, sizeof(path), "%s/%s", d->dir, key);
    snprintf(sub, sizeof(sub), "%s", path);
    *strrchr(sub, '/') = '\0';
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len)
        return 0; /* the same key holds the same bytes */
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
        mer_log_error("media: cannot create %s: %s", sub, strerror(errno));
        return MER_E_INTERNAL;
    }
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        mer_log_error("media: cannot create a file in %s: %s", sub, strerror(errno));
        return MER_E_INTERNAL;
    }
    int ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0 || sync_dir(sub) != 0) {
        mer_log_error("media: cannot write %s: %s", path, strerror(ok ? errno : saved));
        unlink(tmp);
        return MER_E_INTERNAL;
    }
    return 0;
}

static int disk_get(void *self, const char *key, char **out, size_t *len)
{
    disk_t *d = self;
    if (!mer_blob_key_ok(key))
        return MER_E_NOT_FOUND;
    char path[800];
    snprintf(path, sizeof(path), "%s/%s", d->dir, key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MER_E_NOT_FOUND : MER_E_INTERNAL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return MER_E_INTERNAL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = mer_xmalloc(n ? n : 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return MER_E_INTERNAL;
    }
    *out = buf;
    *len = n;
    return 0;
}

static const mer_blob_ops_t disk_ops = {"disk", disk_put, disk_get};

int mer_blob_disk_open(const char *dir, mer_blobstore_t *out)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    disk_t *d = mer_xcalloc(1, sizeof(*d));
    if ((size_t)snprintf(d->dir, sizeof(d->dir), "%s", dir) >= sizeof(d->dir)) {
        free(d);
        errno = ENAMETOOLONG;
        return -1;
    }
    out->ops = &disk_ops;
    out->self = d;
    return 0;
}

void mer_blob_disk_close(mer_blobstore_t *bs)
{
    free(bs->self);
    bs->self = NULL;
}
