// SPDX-License-Identifier: Apache-2.0
/* Logging for every sluice binary: one line per message, to stderr or a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "sluice";
static FILE *log_file;
static enum log_level log_max = LOG_LVL_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_open(const char *ident, const char *path, enum log_level level)
{
	log_ident = ident;
	log_max = level;
	if (!path || !*path)
		return 0;
	log_file = fopen(path, "ae");
	if (!log_file)
		return -errno;
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 0;
}

void log_close(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum log_level log_level_get(void)
{
	return log_max;
}

void log_vmsg(enum log_level level, int err, const char *fmt, va_list ap)
{
	FILE *out = log_file ? log_file : stderr;
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (level > log_max)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "%s.%03ldZ %s[%d] %s: ", stamp, ts.tv_nsec / 1000000, log_ident, getpid(),
		level_names[level]);
	vfprintf(out, fmt, ap);
	if (err)
		fprintf(out, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', out);
}

void log_msg(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, err, fmt, ap);
	va_end(ap);
}
