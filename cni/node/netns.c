// SPDX-License-Identifier: Apache-2.0
/* Opens network namespaces by path and runs a function inside one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>
#include <linux/nsfs.h>

#include "cni.h"
#include "netns.h"

int netns_open(const char *path)
{
	struct statfs sfs;
	int fd, type;

	if (!path || !*path)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || (sfs.f_type != NSFS_MAGIC && sfs.f_type != PROC_SUPER_MAGIC)) {
		close(fd);
		return -EINVAL;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int netns_run(int ns_fd, int (*fn)(void *ctx), void *ctx)
{
	_cleanup_close_ int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	if (orig < 0)
		return -errno;
	if (setns(ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	r = fn(ctx);
	/* Going on in the container's namespace would act on the wrong node. */
	if (setns(orig, CLONE_NEWNET) < 0)
		abort();
	return r;
}
