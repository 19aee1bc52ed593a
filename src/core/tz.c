#include "core/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "core/banned.h"

/*
 * Opening a UCalendar loads zone rules from ICU's data (tens of microseconds): keep a few per thread. Each
 * also remembers the offset it found last and the span between the zone's transitions around that instant,
 * in which the offset holds: the next instant in that span (the next order's timestamp, say) needs no
 * calendar arithmetic at all.
 */
typedef struct cal_slot {
    char tz[64];
    UCalendar *cal;
    bool known;       /* offset holds for [from, to) */
    int64_t from, to; /* Unix ms */
    int32_t offset;
} cal_slot_t;
static _Thread_local cal_slot_t cal_cache[8];
static _Thread_local unsigned cal_next;

static UCalendar *open_cal(const char *tz);

static cal_slot_t *cached_cal(const char *tz)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(cal_cache); i++)
        if (cal_cache[i].cal && strcmp(cal_cache[i].tz, tz) == 0)
            return &cal_cache[i];
    UCalendar *cal = open_cal(tz);
    if (cal == NULL)
        return NULL;
    cal_slot_t *slot = &cal_cache[cal_next++ % MER_ARRAY_LEN(cal_cache)];
    if (slot->cal)
        ucal_close(slot->cal);
    snprintf(slot->tz, sizeof(slot->tz), "%s", tz);
    slot->cal = cal;
    slot->known = false;
    return slot;
}

void mer_tz_thread_release(void)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(cal_cache); i++) {
        if (cal_cache[i].cal)
            ucal_close(cal_cache[i].cal);
        cal_cache[i].cal = NULL;
    }
}

static UCalendar *open_cal(const char *tz)
{
    UChar utz[64];
    UErrorCode st = U_ZERO_ERROR;
    if (strlen(tz) >= MER_ARRAY_LEN(utz))
        return NULL;
    u_uastrncpy(utz, tz, (int32_t)MER_ARRAY_LEN(utz));
    UCalendar *cal = ucal_open(utz, -1, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (cal)
            ucal_close(cal);
        return NULL;
    }
    return cal;
}

int mer_tz_offset_ms(const char *tz, int64_t unix_ms, int32_t *offset)
{
    UErrorCode st = U_ZERO_ERROR;
    cal_slot_t *slot = cached_cal(tz);
    if (slot == NULL)
        return -1;
    if (slot->known && unix_ms >= slot->from && unix_ms < slot->to) {
        *offset = slot->offset;
        return 0;
    }
    UCalendar *cal = slot->cal;
    ucal_setMillis(cal, (UDate)unix_ms, &st);
    int32_t zone = ucal_get(cal, UCAL_ZONE_OFFSET, &st);
    int32_t dst = ucal_get(cal, UCAL_DST_OFFSET, &st);
    if (U_FAILURE(st))
        return -1;
    *offset = zone + dst;
    /* the span it holds for: from the last transition at or before unix_ms to the next one after it (none:
     * unbounded) */
    UDate prev = 0, next = 0;
    bool has_prev = ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &prev, &st);
    bool has_next = ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_NEXT, &next, &st);
    slot->known = U_SUCCESS(st);
    slot->from = has_prev ? (int64_t)prev : INT64_MIN;
    slot->to = has_next ? (int64_t)next : INT64_MAX;
    slot->offset = *offset;
    return 0;
}

void mer_format_civil(int64_t secs, char out[20])
{
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400, rest = secs - days * 86400;
    /* the Gregorian date of a day number, counted in 400-year eras from 0000-03-01 */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* (not an instant Meridian stores) */
    int v[6] = {(int)y, (int)m, (int)d, (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60)};
    out[0] = (char)('0' + v[0] / 1000);
    out[1] = (char)('0' + v[0] / 100 % 10);
    char *p = out + 2;
    for (int i = 0; i < 6; i++) { /* the year's last two digits, then month .. second, each after its separator */
        int two = i == 0 ? v[0] % 100 : v[i];
        if (i > 0)
            *p++ = "--T::"[i - 1];
        *p++ = (char)('0' + two / 10);
        *p++ = (char)('0' + two % 10);
    }
    *p = '\0';
}

void mer_tz_format(int64_t unix_ms, const char *tz, char out[40])
{
    int32_t off = 0;
    if (mer_tz_offset_ms(tz, unix_ms, &off) != 0)
        off = 0;
    int64_t local = unix_ms + off;
    int64_t secs = local >= 0 ? local / 1000 : (local - 999) / 1000;
    int ms = (int)(local - secs * 1000), aoff = off < 0 ? -off : off, h = aoff / 3600000, mi = aoff / 60000 % 60;
    mer_format_civil(secs, out);
    char *p = out + 19;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = off < 0 ? '-' : '+';
    *p++ = (char)('0' + h / 10 % 10);
    *p++ = (char)('0' + h % 10);
    *p++ = ':';
    *p++ = (char)('0' + mi / 10);
    *p++ = (char)('0' + mi % 10);
    *p = '\0';
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int mer_tz_parse_local(const char *text, const char *tz, int64_t *unix_ms)
{
    size_t n = strlen(text);
    if (n < 16 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') || text[13] != ':')
        return -1;
    int y = digits(text, 4), mo = digits(text + 5, 2), d = digits(text + 8, 2), h = digits(text + 11, 2),
        mi = digits(text + 14, 2), s = 0;
    size_t pos = 16;
    if (n >= 19 && text[16] == ':') {
        s = digits(text + 17, 2);
        pos = 19;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
        return -1;
    const char *rest = text + pos;
    if (*rest == 'Z' || *rest == '+' || *rest == '-') {
        int off = 0;
        if (*rest != 'Z') {
            if (strlen(rest) != 6 || rest[3] != ':')
                return -1;
            int oh = digits(rest + 1, 2), om = digits(rest + 4, 2);
            if (oh < 0 || om < 0 || oh > 14 || om > 59)
                return -1;
            off = (oh * 60 + om) * 60000 * (*rest == '-' ? -1 : 1);
        } else if (rest[1] != '\0') {
            return -1;
        }
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
        *unix_ms = (int64_t)timegm(&tm) * 1000 - off;
        return 0;
    }
    if (*rest != '\0')
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = open_cal(tz);
    if (cal == NULL)
        return -1;
    ucal_setAttribute(cal, UCAL_LENIENT, 0);
    ucal_clear(cal);
    ucal_setDateTime(cal, y, mo - 1, d, h, mi, s, &st);
    UDate t = ucal_getMillis(cal, &st);
    ucal_close(cal);
    if (U_FAILURE(st))
        return -1;
    *unix_ms = (int64_t)t;
    return 0;
}
