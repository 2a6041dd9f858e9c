/* log.c — one line per message on stderr, prefixed with the UTC time and level. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/clock.h"

static enum kvs_log_level min_level = KVS_LOG_INFO;

void kvs_log_set_level(enum kvs_log_level level)
{
    min_level = level;
}

void kvs_log(enum kvs_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < min_level)
        return;
    char when[KVS_ISO_LEN + 1];
    kvs_iso8601(kvs_now_ms(), when);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines from different threads whole (stdio locks the FILE). */
    fprintf(stderr, "%s %s %s\n", when, names[level], line);
}
