/*
 * banned.h — functions Meridian code must not call (after git's banned.h).
 *
 * Each is either unbounded (strcpy, sprintf, strcat, gets), easy to get the bound wrong (strncpy, strncat),
 * not thread-safe (strtok, gmtime, localtime, rand) or silently wrong on bad input (atoi). Include this last in every
 * .c file of src/: a call then fails to compile with a message naming the function. Use instead: mer_buf_* / snprintf /
 * memcpy with a length, strtok_r, gmtime_r, randombytes_*, mer_parse_int64().
 */
#ifndef MER_BANNED_H
#define MER_BANNED_H

#define MER_BANNED(func) sorry_##func##_is_banned_in_meridian

#undef strcpy
#define strcpy(x, y) MER_BANNED(strcpy)
#undef strcat
#define strcat(x, y) MER_BANNED(strcat)
#undef strncat
#define strncat(x, y, n) MER_BANNED(strncat)
#undef strncpy
#define strncpy(x, y, n) MER_BANNED(strncpy)
#undef sprintf
#define sprintf(...) MER_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MER_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) MER_BANNED(strtok)
#undef gmtime
#define gmtime(t) MER_BANNED(gmtime)
#undef localtime
#define localtime(t) MER_BANNED(localtime)
#undef atoi
#define atoi(x) MER_BANNED(atoi)
#undef atol
#define atol(x) MER_BANNED(atol)
#undef gets
#define gets(x) MER_BANNED(gets)

#endif
