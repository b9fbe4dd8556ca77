/* SPDX-License-Identifier: Apache-2.0 */
/* For the fuzz targets whose parser reads a file: the input written to a private scratch file. */
#ifndef SLUICE_FUZZ_SCRATCH_H
#define SLUICE_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char scratch_dir[] = "/tmp/sluice-fuzz.XXXXXX";
static char scratch_path[sizeof(scratch_dir) + 16];

static void scratch_remove(void)
{
	unlink(scratch_path);
	rmdir(scratch_dir);
}

/* The file is <dir>/<name>; relative paths inside it resolve into the empty dir. */
static void scratch_init(const char *name)
{
	if (!mkdtemp(scratch_dir))
		abort();
	snprintf(scratch_path, sizeof(scratch_path), "%s/%s", scratch_dir, name);
	atexit(scratch_remove);
}

static int scratch_write(const void *data, size_t size)
{
	int fd = open(scratch_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n = fd < 0 ? -1 : write(fd, data, size);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)size ? 0 : -1;
}

#endif
