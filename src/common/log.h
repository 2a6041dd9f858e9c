/* log.h — diagnostics to stderr, one line each, with a level. */
#ifndef KVS_COMMON_LOG_H
#define KVS_COMMON_LOG_H

enum kvs_log_level { KVS_LOG_DEBUG, KVS_LOG_INFO, KVS_LOG_WARN, KVS_LOG_ERROR };

/* Lines below LEVEL are dropped. Default: KVS_LOG_INFO. */
void kvs_log_set_level(enum kvs_log_level level);

void kvs_log(enum kvs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define kvs_log_debug(...) kvs_log(KVS_LOG_DEBUG, __VA_ARGS__)
#define kvs_log_info(...) kvs_log(KVS_LOG_INFO, __VA_ARGS__)
#define kvs_log_warn(...) kvs_log(KVS_LOG_WARN, __VA_ARGS__)
#define kvs_log_error(...) kvs_log(KVS_LOG_ERROR, __VA_ARGS__)

#endif
