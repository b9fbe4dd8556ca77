// SPDX-License-Identifier: Apache-2.0
/* A one-line reason written into the caller's buffer, for parsers that return -EINVAL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "errbuf.h"

int errbuf_vset(char *err, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(err, len, fmt, ap);
	return -EINVAL;
}

int errbuf_set(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errbuf_vset(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}
