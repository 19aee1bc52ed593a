/*
 * egress.c — where outgoing webhooks may connect to.
 *
 * A webhook URL is chosen by whoever holds an admin token, and the dispatcher POSTs to it from inside the
 * data centre: pointed at 127.0.0.1, 10.x or the cloud's metadata address (169.254.169.254) it would make
 * Meridian a proxy into the private network (SSRF). So the address actually connected to is checked, at
 * connect time, by the dispatcher's socket callback (mer_webhook_addr_check): a name that resolves to a
 * private address, or that changes its answer between creation and delivery (DNS rebinding), is refused
 * like a literal one. Creating a subscription with a literal private address, or a name that is loopback
 * by definition (localhost), is refused up front (mer_webhook_url_check) so the mistake is seen at once.
 *
 * Classes:
 *   loopback  127/8, 0/8 ("this host"), ::1, ::               allowed by serve --webhook-allow-loopback
 *   private   10/8, 172.16/12, 192.168/16, 100.64/10 (shared), 169.254/16 (link-local), 192.0.0/24,
 *             198.18/15, fc00::/7, fe80::/10, fec0::/10 (site-local), 64:ff9b:1::/48, and multicast/reserved
 *             (224/3, ff00::/8) allowed by serve --webhook-allow-private
 * An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::) is judged as the IPv4 address it carries.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>

#include "events/events.h"
#include "core/banned.h"

static const char *class_v4(uint32_t a, unsigned *need)
{
    static const struct {
        uint32_t net, mask;
        unsigned need;
        const char *name;
    } nets[] = {
        {0x7F000000u, 0xFF000000u, MER_EGRESS_LOOPBACK, "loopback"},
        {0x00000000u, 0xFF000000u, MER_EGRESS_LOOPBACK, "loopback (this host)"},
        {0x0A000000u, 0xFF000000u, MER_EGRESS_PRIVATE, "private"},
        {0xAC100000u, 0xFFF00000u, MER_EGRESS_PRIVATE, "private"},
        {0xC0A80000u, 0xFFFF0000u, MER_EGRESS_PRIVATE, "private"},
        {0x64400000u, 0xFFC00000u, MER_EGRESS_PRIVATE, "shared (carrier NAT)"},
        {0xA9FE0000u, 0xFFFF0000u, MER_EGRESS_PRIVATE, "link-local"},
        {0xC0000000u, 0xFFFFFF00u, MER_EGRESS_PRIVATE, "reserved (IETF protocol assignments)"},
        {0xC6120000u, 0xFFFE0000u, MER_EGRESS_PRIVATE, "private (benchmarking)"},
        {0xE0000000u, 0xE0000000u, MER_EGRESS_PRIVATE, "multicast or reserved"},
    };
    for (size_t i = 0; i < MER_ARRAY_LEN(nets); i++)
        if ((a & nets[i].mask) == nets[i].net) {
            *need = nets[i].need;
            return nets[i].name;
        }
    *need = 0;
    return NULL;
}

static uint32_t v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *class_v6(const unsigned char b[16], unsigned *need)
{
    static const unsigned char zero[16] = {0}, mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
                               nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    *need = MER_EGRESS_LOOPBACK;
    if (memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0))
        return b[15] ? "loopback" : "loopback (unspecified)";
    /* addresses that carry an IPv4 address reach it (mapped; IPv4-compatible ::a.b.c.d; NAT64 64:ff9b::/96,
     * which a DNS64/NAT64 network translates to the IPv4 address; 6to4 2002:aabb:ccdd::/48): judged by it */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return class_v4(v4_at(b + 12), need);
    if (b[0] == 0x20 && b[1] == 0x02)
        return class_v4(v4_at(b + 2), need);
    *need = MER_EGRESS_PRIVATE;
    if ((b[0] & 0xFE) == 0xFC)
        return "private (unique local)";
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
        return "link-local";
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)
        return "site-local";
    if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0 && b[5] == 1)
        return "private (local-use NAT64)"; /* 64:ff9b:1::/48 (RFC 8215) */
    if (b[0] == 0xFF)
        return "multicast";
    *need = 0;
    return NULL;
}

int mer_webhook_addr_check(const struct sockaddr *sa, unsigned allow, char *why, size_t cap)
{
    char text[INET6_ADDRSTRLEN] = "";
    unsigned need = 0;
    const char *cls;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
        cls = class_v4(ntohl(in->sin_addr.s_addr), &need);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        cls = class_v6(in6->sin6_addr.s6_addr, &need);
    } else {
        snprintf(why, cap, "refused: address family %d is not IP", sa->sa_family);
        return -1;
    }
    if (cls == NULL || (allow & need) == need)
        return 0;
    snprintf(why, cap, "refused: %s is a %s address (serve --webhook-allow-%s allows it)", text, cls,
             need == MER_EGRESS_LOOPBACK ? "loopback" : "private");
    return -1;
}

int mer_webhook_url_check(const char *url, unsigned allow, char *why, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(why, cap, "url is not a valid URL");
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(why, cap, "url must be http:// or https://");
        goto done;
    }
    /* curl gives IPv4 in dotted form (it normalises 2130706433 or 0x7f.1) and IPv6 in brackets */
    size_t hl = strlen(host);
    char lit[64];
    bool v6 = host[0] == '[' && hl >= 2 && hl - 2 < sizeof(lit);
    snprintf(lit, sizeof(lit), "%.*s", v6 ? (int)(hl - 2) : (int)hl, v6 ? host + 1 : host);
    char *zone = v6 ? strchr(lit, '%') : NULL;
    if (zone)
        *zone = '\0';
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (!v6 && inet_pton(AF_INET, lit, &in.sin_addr) == 1)
        rc = mer_webhook_addr_check((struct sockaddr *)&in, allow, why, cap);
    else if (v6 && inet_pton(AF_INET6, lit, &in6.sin6_addr) == 1)
        rc = mer_webhook_addr_check((struct sockaddr *)&in6, allow, why, cap);
    else {
        /* a name: checked when it is resolved; only "localhost" is loopback by definition (RFC 6761) */
        bool local = strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0 ||
                     (hl > 10 && strcasecmp(host + hl - 10, ".localhost") == 0);
        rc = 0;
        if (local && !(allow & MER_EGRESS_LOOPBACK)) {
            snprintf(why, cap, "refused: %s is a loopback name (serve --webhook-allow-loopback allows it)", host);
            rc = -1;
        }
    }
    if (rc != 0 && strncmp(why, "refused: ", 9) == 0)
        memmove(why, why + 9, strlen(why + 9) + 1); /* "url ..." reads better without the prefix */
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
