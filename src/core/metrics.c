#include "core/metrics.h"

#include "core/banned.h"

void mer_hist_observe(mer_hist_t *h, const mer_hist_spec_t *spec, uint64_t v)
{
    size_t i = 0;
    while (i < spec->n && v > spec->bounds[i])
        i++;
    mer_stat_add(&h->bucket[i], 1);
    mer_stat_add(&h->sum, v);
}

void mer_hist_snap_add(mer_hist_snap_t *s, const mer_hist_t *h, const mer_hist_spec_t *spec)
{
    for (size_t i = 0; i <= spec->n; i++)
        s->bucket[i] += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    s->sum += atomic_load_explicit(&h->sum, memory_order_relaxed);
}

uint64_t mer_hist_snap_count(const mer_hist_snap_t *s, const mer_hist_spec_t *spec)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= spec->n; i++)
        n += s->bucket[i];
    return n;
}

void mer_prom_family(mer_buf_t *out, const char *name, const char *type, const char *help)
{
    mer_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void mer_prom_scaled(mer_buf_t *out, uint64_t v, int decimals)
{
    uint64_t div = 1;
    for (int i = 0; i < decimals; i++)
        div *= 10;
    mer_buf_printf(out, "%llu", (unsigned long long)(v / div));
    uint64_t frac = v % div;
    if (frac == 0)
        return;
    char digits[24];
    int n = decimals;
    while (frac % 10 == 0) { /* no trailing zeros */
        frac /= 10;
        n--;
    }
    for (int i = n - 1; i >= 0; i--, frac /= 10)
        digits[i] = (char)('0' + frac % 10);
    mer_buf_addch(out, '.');
    mer_buf_add(out, digits, (size_t)n);
}

void mer_prom_label(mer_buf_t *out, const char *key, const char *value)
{
    if (out->len)
        mer_buf_addch(out, ',');
    mer_buf_printf(out, "%s=\"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            mer_buf_addch(out, '\\'), mer_buf_addch(out, *p);
        else if (*p == '\n')
            mer_buf_addstr(out, "\\n");
        else
            mer_buf_addch(out, *p);
    }
    mer_buf_addch(out, '"');
}

void mer_prom_hist(mer_buf_t *out, const char *name, const char *labels, const mer_hist_spec_t *spec,
                   const mer_hist_snap_t *s)
{
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < spec->n; i++) {
        cum += s->bucket[i];
        mer_buf_printf(out, "%s_bucket{%s%sle=\"", name, labels, sep);
        mer_prom_scaled(out, spec->bounds[i], spec->decimals);
        mer_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
    }
    cum += s->bucket[spec->n];
    mer_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    mer_buf_printf(out, "%s_sum%s%s%s ", name, open, labels, close);
    mer_prom_scaled(out, s->sum, spec->decimals);
    mer_buf_printf(out, "\n%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)cum);
}
