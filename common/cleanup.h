/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-bound cleanup for memory, fds and stdio files, shared by every user-space file.
 * (jansson values use jansson's own json_auto_t.) */
#ifndef SLUICE_CLEANUP_H
#define SLUICE_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_	 __attribute__((cleanup(freep)))
#define _cleanup_close_	 __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))

#endif
