/* SPDX-License-Identifier: Apache-2.0 */
/* Writing a whole buffer to a file descriptor, EINTR and short writes included. */
#ifndef SLUICE_FD_IO_H
#define SLUICE_FD_IO_H

#include <stddef.h>

/* Writes all len bytes of buf to fd: 0, or -errno (-EIO when a write
 * returns 0). */
int fd_write_all(int fd, const void *buf, size_t len);

#endif
