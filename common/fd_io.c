// SPDX-License-Identifier: Apache-2.0
/* Writing a whole buffer to a file descriptor, EINTR and short writes included. */
#include <errno.h>
#include <unistd.h>

#include "fd_io.h"

int fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
