// SPDX-License-Identifier: Apache-2.0
/* Routes libbpf's own messages into log.h one level quieter; the one libbpf
 * setting every binary makes, kept apart so the CNI plugin links no loader. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "dp.h"
#include "log.h"

__attribute__((format(printf, 2, 0))) static int libbpf_log(enum libbpf_print_level level,
							    const char *fmt, va_list ap)
{
	enum log_level lvl;
	char buf[2048];
	size_t n;

	switch (level) {
	case LIBBPF_WARN:
		lvl = LOG_LVL_INFO;
		break;
	case LIBBPF_INFO:
		lvl = LOG_LVL_DEBUG;
		break;
	default:
		return 0; /* LIBBPF_DEBUG has no quieter level */
	}
	if (lvl > log_level_get())
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_msg(lvl, 0, "libbpf: %s", buf);
	return 0;
}

void dp_libbpf_log_setup(void)
{
	libbpf_set_print(libbpf_log);
}
