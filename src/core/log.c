#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/tz.h"
#include "core/banned.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mer_format_utc_ms(int64_t unix_ms, char out[32])
{
    int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    int ms = (int)(unix_ms - secs * 1000);
    mer_format_civil(secs, out);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

void mer_log(mer_log_level_t level, const char *fmt, ...)
{
    char ts[32], msg[1024];
    va_list ap;
    if (level < MER_LOG_INFO)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mer_format_utc_ms(mer_now_unix_ms(), ts);
    mer_buf_t b = MER_BUF_INIT;
    mer_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
    mer_buf_add_json_str(&b, msg, strlen(msg));
    mer_buf_addstr(&b, "}\n");
    ssize_t w MER_UNUSED = write(2, b.data, b.len);
    mer_buf_release(&b);
}
