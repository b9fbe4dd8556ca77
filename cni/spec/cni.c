// SPDX-License-Identifier: Apache-2.0
/* The helpers cni.h declares for every file of the plugin: errors, MAC text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cni.h"

int cni_err_set(struct cni_err *e, int err, int code, const char *msg, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
	n = strlen(e->details);
	if (err && n < sizeof(e->details))
		snprintf(e->details + n, sizeof(e->details) - n, ": %s",
			 strerror(err < 0 ? -err : err));
	return err < 0 ? err : -EINVAL;
}

int mac_parse(const char *s, unsigned char mac[6])
{
	unsigned int b[6];
	char tail;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	return 0;
}

void mac_format(const unsigned char mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}
