/*
 * blob_disk.c — the blob store as files under a directory (see blob.h): dir/<key>, written to a
 * temporary file in the same directory, fsync'd, renamed into place, and the directory fsync'd. A file's
 * mtime is when it was last put (a put of a key already there touches it): the sweep's clock.
 */
#include "media/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <dirent.h>
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
    if (stat(path, &st) == 0 && (size_t)st.st_size == len) {
        /* the same key holds the same bytes; touched, so the sweep's grace counts from this put */
        if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
            return 0;
    }
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

static int disk_del(void *self, const char *key)
{
    disk_t *d = self;
    if (!mer_blob_key_ok(key))
        return MER_E_INTERNAL;
    char path[800];
    snprintf(path, sizeof(path), "%s/%s", d->dir, key);
    if (unlink(path) != 0 && errno != ENOENT) {
        mer_log_error("media: cannot remove %s: %s", path, strerror(errno));
        return MER_E_INTERNAL;
    }
    return 0;
}

/* The store's two levels: dir/<sub>/<name>; temporary files (a '.' and random letters after the key's
 * own name) are not keys and are skipped. */
static int disk_each_older(void *self, int64_t before, int (*fn)(const char *key, void *arg), void *arg)
{
    disk_t *d = self;
    DIR *top = opendir(d->dir);
    if (top == NULL)
        return MER_E_INTERNAL;
    int stop = 0;
    struct dirent *s;
    while (!stop && (s = readdir(top)) != NULL) {
        if (s->d_name[0] == '.')
            continue;
        char sub[800];
        snprintf(sub, sizeof(sub), "%s/%s", d->dir, s->d_name);
        DIR *in = opendir(sub);
        if (in == NULL)
            continue;
        struct dirent *f;
        while (!stop && (f = readdir(in)) != NULL) {
            char key[300], path[1100];
            struct stat st;
            if ((size_t)snprintf(key, sizeof(key), "%s/%s", s->d_name, f->d_name) >= sizeof(key) ||
                !mer_blob_key_ok(key))
                continue;
            snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (int64_t)st.st_mtime <= before)
                stop = fn(key, arg);
        }
        closedir(in);
    }
    closedir(top);
    return 0;
}

static const mer_blob_ops_t disk_ops = {"disk", disk_put, disk_get, disk_del, disk_each_older};

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
