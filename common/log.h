/* SPDX-License-Identifier: Apache-2.0 */
/* Logging for every sluice binary: levels, printf checking, -errno helpers. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* path NULL or "" logs to stderr; a file that cannot be opened falls back to stderr. */
int log_open(const char *ident, const char *path, enum log_level level);
void log_close(void);
int log_level_parse(const char *s, enum log_level *out);
enum log_level log_level_get(void);

void log_msg(enum log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, 0, __VA_ARGS__)

/* Log with ": strerror(-err)" appended and return err (a negative errno). */
#define log_warn_errno(err, ...)                                                                   \
	({                                                                                         \
		int _e = (err);                                                                    \
		log_msg(LOG_LVL_WARN, _e, __VA_ARGS__);                                            \
		_e;                                                                                \
	})
#define log_error_errno(err, ...)                                                                  \
	({                                                                                         \
		int _e = (err);                                                                    \
		log_msg(LOG_LVL_ERROR, _e, __VA_ARGS__);                                           \
		_e;                                                                                \
	})

#endif
