/*
 * web.c — serves the built storefront and console (see web.h): the files are read once at start-up and
 * answered from memory, each in the encoding the client takes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "core/log.h"
#include "http/req.h"
#include "web/web.h"
#include "core/banned.h"

#ifndef MER_WEB_DIR
#define MER_WEB_DIR "web/dist"
#endif

#define WEB_MAX_FILES 256
#define WEB_MAX_FILE (8u << 20) /* a built asset is far smaller; a bigger file is a mistake */

enum { ENC_IDENTITY = 0, ENC_GZIP, ENC_BR, ENC__COUNT };
static const char *const enc_suffix[ENC__COUNT] = {"", ".gz", ".br"};
static const char *const enc_name[ENC__COUNT] = {NULL, "gzip", "br"};

typedef struct web_file {
    char *name;             /* relative to the directory: "index.html", "assets/store-1a2b3c4d.js" */
    const char *type;       /* Content-Type */
    const char *cache;      /* Cache-Control */
    char etag[24];          /* W/"<16 hex>": the identity bytes' hash; weak, as every encoding shares it */
    char *body[ENC__COUNT]; /* the bytes in each encoding; NULL when the build wrote no such twin */
    size_t len[ENC__COUNT]; /* their lengths */
} web_file_t;

/* Written by init on the main thread before any worker runs, then only read. */
static struct {
    web_file_t files[WEB_MAX_FILES];
    size_t n;
    char dir[512];
} web;

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".woff2", "font/woff2"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < MER_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Reads a whole file into a new buffer; returns -1 (errno set) when it cannot or when it is too big. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > WEB_MAX_FILE) {
        fclose(f);
        errno = EFBIG;
        return -1;
    }
    char *buf = mer_xmalloc((size_t)st.st_size + 1);
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size) {
        free(buf);
        errno = EIO;
        return -1;
    }
    *out = buf;
    *len = got;
    return 0;
}

/* Loads one file (name relative to the directory) with the compressed twins the build wrote beside it. */
static void load_file(const char *name)
{
    if (web.n == WEB_MAX_FILES) {
        mer_log_warn("web: more than %d files in %s; %s and later ones are not served", WEB_MAX_FILES, web.dir, name);
        return;
    }
    web_file_t *f = &web.files[web.n];
    memset(f, 0, sizeof(*f));
    for (int e = 0; e < ENC__COUNT; e++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s%s", web.dir, name, enc_suffix[e]);
        if (read_file(path, &f->body[e], &f->len[e]) != 0) {
            if (e == ENC_IDENTITY) {
                mer_log_warn("web: cannot read %s: %s", path, strerror(errno));
                return;
            }
            f->body[e] = NULL;
        }
    }
    f->name = mer_xstrdup(name);
    f->type = content_type(name);
    f->cache = strncmp(name, "assets/", 7) == 0 ? "public, max-age=31536000, immutable" : "no-cache";
    snprintf(f->etag, sizeof(f->etag), "W/\"%016llx\"",
             (unsigned long long)mer_hash64(f->body[ENC_IDENTITY], f->len[ENC_IDENTITY]));
    web.n++;
}

/* Loads every file of dir/sub (sub "" = the directory itself), skipping the compressed twins. */
static void load_dir(const char *sub)
{
    char path[768];
    snprintf(path, sizeof(path), "%s%s%s", web.dir, *sub ? "/" : "", sub);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || ends_with(de->d_name, ".gz") || ends_with(de->d_name, ".br") ||
            ends_with(de->d_name, ".map"))
            continue;
        char name[512], full[1024];
        snprintf(name, sizeof(name), "%s%s%s", sub, *sub ? "/" : "", de->d_name);
        snprintf(full, sizeof(full), "%s/%s", web.dir, name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            load_file(name);
    }
    closedir(d);
}

static const web_file_t *find(const char *name, size_t len)
{
    for (size_t i = 0; i < web.n; i++)
        if (strlen(web.files[i].name) == len && memcmp(web.files[i].name, name, len) == 0)
            return &web.files[i];
    return NULL;
}

/*
 * Does Accept-Encoding take this coding? A token counts unless its q is 0 ("br;q=0"); "*" is not
 * honoured (a client that sends only "*" gets identity, which every client takes).
 */
static bool accepts(const char *ae, size_t len, const char *coding)
{
    size_t cl = strlen(coding), i = 0;
    while (i < len) {
        while (i < len && (ae[i] == ' ' || ae[i] == ','))
            i++;
        size_t start = i;
        while (i < len && ae[i] != ',' && ae[i] != ';' && ae[i] != ' ')
            i++;
        bool match = i - start == cl && mer_streq_nocase(ae + start, cl, coding);
        bool q0 = false;
        while (i < len && ae[i] != ',') { /* parameters: only q matters */
            if (ae[i] == 'q' && i + 1 < len && ae[i + 1] == '=') {
                size_t j = i + 2;
                q0 = j < len && ae[j] == '0';
                for (j++; q0 && j < len && ae[j] != ',' && ae[j] != ';' && ae[j] != ' '; j++)
                    if (ae[j] != '.' && ae[j] != '0')
                        q0 = false;
            }
            i++;
        }
        if (match && !q0)
            return true;
    }
    return false;
}

static void serve(mer_req_t *r, const web_file_t *f)
{
    int enc = ENC_IDENTITY;
    size_t ae_len = 0;
    const char *ae = mer_req_header(r, "accept-encoding", &ae_len);
    if (ae && f->body[ENC_BR] && f->len[ENC_BR] < f->len[enc] && accepts(ae, ae_len, "br"))
        enc = ENC_BR;
    else if (ae && f->body[ENC_GZIP] && f->len[ENC_GZIP] < f->len[enc] && accepts(ae, ae_len, "gzip"))
        enc = ENC_GZIP;
    mer_reply_vary(r, "Accept-Encoding");
    mer_reply_header(r, "etag", f->etag);
    mer_reply_header(r, "cache-control", f->cache);
    mer_reply_header(r, "x-content-type-options", "nosniff");
    if (strcmp(f->type, "text/html; charset=utf-8") == 0) {
        mer_reply_header(r, "content-security-policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                         "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
        mer_reply_header(r, "referrer-policy", "same-origin");
    }
    if (mer_req_etag_matches(r, f->etag)) {
        mer_reply_bytes(r, 304, f->type, "", 0);
        return;
    }
    if (enc != ENC_IDENTITY)
        mer_reply_header(r, "content-encoding", enc_name[enc]);
    mer_reply_bytes(r, 200, f->type, f->body[enc], f->len[enc]);
}

/* A page (index.html, admin.html), or, when the UI is not built, a page that says so. */
static void serve_page(mer_req_t *r, const char *name)
{
    const web_file_t *f = find(name, strlen(name));
    if (f) {
        serve(r, f);
        return;
    }
    static const char not_built[] =
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Meridian</title>"
        "<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem\">"
        "<h1>Meridian is running</h1><p>The storefront and the admin console are not built. Run "
        "<code>make</code> (or <code>make run</code>) to build them; the API answers at <code>/api/v1/</code>.</p>";
    mer_reply_header(r, "cache-control", "no-cache");
    mer_reply_bytes(r, 200, "text/html; charset=utf-8", not_built, sizeof(not_built) - 1);
}

static void h_store(mer_req_t *r)
{
    serve_page(r, "index.html");
}

static void h_admin(mer_req_t *r)
{
    serve_page(r, "admin.html");
}

static void h_asset(mer_req_t *r)
{
    char name[256];
    h2o_iovec_t p = r->params[0];
    int n = snprintf(name, sizeof(name), "assets/%.*s", (int)MER_MIN(p.len, 200), p.base);
    const web_file_t *f = p.len <= 200 ? find(name, (size_t)n) : NULL;
    if (f == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such asset");
        return;
    }
    serve(r, f);
}

static int web_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    const char *dir = getenv("MERIDIAN_WEB_DIR");
    snprintf(web.dir, sizeof(web.dir), "%s", dir && *dir ? dir : MER_WEB_DIR);
    load_dir("");
    load_dir("assets");
    if (find("index.html", 10))
        mer_log_info("web: storefront and console from %s (%zu files)", web.dir, web.n);
    else
        mer_log_info("web: no built storefront in %s (run make); serving the API only", web.dir);
    return 0;
}

static void web_release(void)
{
    for (size_t i = 0; i < web.n; i++) {
        for (int e = 0; e < ENC__COUNT; e++)
            free(web.files[i].body[e]);
        free(web.files[i].name);
    }
    web.n = 0;
}

static const mer_route_t routes[] = {
    {"GET", "/", h_store, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/admin/", h_admin, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/admin", h_admin, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/assets/{file}", h_asset, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};
static const mer_routes_t web_routes = {routes, MER_ARRAY_LEN(routes)};

const mer_module_t mer_web_module = {
    .name = "web",
    .init = web_init,
    .routes = MER_MODULE_ROUTES(&web_routes),
    .release = web_release,
};
