/* SPDX-License-Identifier: Apache-2.0 */
/* A one-line reason written into the caller's buffer, for parsers that return -EINVAL. */
#ifndef SLUICE_AGENT_ERRBUF_H
#define SLUICE_AGENT_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Formats the reason into err[0..len) and returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int errbuf_set(char *err, size_t len, const char *fmt, ...);
__attribute__((format(printf, 3, 0))) int errbuf_vset(char *err, size_t len, const char *fmt,
						      va_list ap);

#endif
