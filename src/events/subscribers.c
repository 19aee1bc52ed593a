/*
 * subscribers.c — the table of subscribers built into the process, and the fan-out of one event to it.
 *
 * The table is filled at start-up by the domains that own the effects (order: logistics, notifications;
 * payment: refunds through the provider) and only read afterwards, by the dispatcher and the writers'
 * fan-out jobs, so it needs no lock: the dispatcher thread starts after every registration.
 */
#include <stdio.h>

#include "core/json.h"
#include "core/log.h"
#include "events/events.h"
#include "core/banned.h"

static const mer_event_subscriber_t *table[MER_EVENTS_MAX_BUILTIN];
static size_t ntable;

void mer_events_subscribe(const mer_event_subscriber_t *s)
{
    MER_ASSERT(s->name && s->name[0] && strlen(s->name) < 32 && strncmp(s->name, "webhook:", 8) != 0);
    MER_ASSERT(s->events && (s->apply != NULL) != (s->attempt != NULL));
    if (mer_events_subscriber(s->name))
        mer_die("event subscriber %s registered twice", s->name);
    if (ntable == MER_EVENTS_MAX_BUILTIN)
        mer_die("too many event subscribers (at most %d)", MER_EVENTS_MAX_BUILTIN);
    table[ntable++] = s;
}

const mer_event_subscriber_t *mer_events_subscriber(const char *name)
{
    for (size_t i = 0; i < ntable; i++)
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}

const mer_event_subscriber_t *mer_events_subscriber_at(size_t i)
{
    return i < ntable ? table[i] : NULL;
}

bool mer_event_str(const mer_event_t *ev, const char *key, char *out, size_t cap)
{
    return ev->payload && mer_json_text_str(ev->payload, strlen(ev->payload), key, out, cap);
}

bool mer_event_int(const mer_event_t *ev, const char *key, int64_t *out)
{
    return ev->payload && mer_json_text_int(ev->payload, strlen(ev->payload), key, out);
}

int mer_events_fan_out_one(mer_db_t *db, const mer_event_t *ev, int64_t now)
{
    mer_event_t e = *ev;
    json_t *parsed = NULL;
    int err = 0;
    for (size_t i = 0; i < ntable && err == 0; i++) {
        const mer_event_subscriber_t *s = table[i];
        if (!mer_events_wants(s->events, ev->type))
            continue;
        if (s->attempt) {
            /* a call outside the process: a delivery row to attempt and retry */
            if (mer_db_defer(db,
                             "INSERT INTO event_delivery (event, subscriber, next_attempt_at) VALUES (?, ?, ?) "
                             "ON CONFLICT DO NOTHING",
                             "isi", ev->seq, s->name, now) < 0)
                err = MER_E_INTERNAL;
            continue;
        }
        if (!s->raw && e.data == NULL && parsed == NULL)
            e.data = parsed = json_loads(ev->payload, 0, NULL);
        err = s->apply(db, &e);
    }
    json_decref(parsed);
    return err;
}
