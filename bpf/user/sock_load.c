// SPDX-License-Identifier: Apache-2.0
/* Attaches the socket-level load balancer (sock.bpf.c) to a cgroup v2, pinned. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"
#include "sock.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int dp_cgroup2_root(char *buf, size_t len)
{
	struct mntent *m;
	FILE *f;
	int err = -ENOENT;

	f = setmntent("/proc/mounts", "re");
	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		err = (size_t)snprintf(buf, len, "%s", m->mnt_dir) >= len ? -ENAMETOOLONG : 0;
		break;
	}
	endmntent(f);
	return err;
}

static int cgroup_open(const char *cgroup_path)
{
	struct statfs sfs;
	int fd;

	fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	return fd;
}

int dp_cgroup_check(const char *cgroup_path)
{
	int fd;

	if (!cgroup_path || cgroup_path[0] != '/')
		return -EINVAL;
	fd = cgroup_open(cgroup_path);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* The cookie of the caller's network namespace, the one bpf_get_netns_cookie()
 * returns for its sockets. -ENOPROTOOPT before Linux 5.14. */
static int netns_cookie_self(__u64 *cookie)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(*cookie);

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		return -errno;
	return 0;
}

int dp_sock_attach(const char *pin_dir, const char *cgroup_path, bool lb_pods)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	_cleanup_close_ int cgfd = -1;
	struct sl_sock *skel;
	__u64 cookie = 0;
	int err;

	if (!pin_dir || pin_dir[0] != '/' || !cgroup_path || cgroup_path[0] != '/')
		return -EINVAL;
	cgfd = cgroup_open(cgroup_path);
	if (cgfd < 0)
		return cgfd;
	/* Without the cookie every socket is translated, as with lb_pods. */
	err = netns_cookie_self(&cookie);
	if (err && err != -ENOPROTOOPT)
		return err;
	skel = sl_sock__open_opts(&opts);
	if (!skel)
		return -errno;
	skel->rodata->host_netns_cookie = cookie;
	skel->rodata->lb_pods = lb_pods;
	err = dp_svcstat_size(skel->obj);
	if (!err)
		err = dp_map_sizes_apply(skel->obj);
	if (!err)
		err = sl_sock__load(skel);
	if (err)
		goto out_destroy;

	const struct {
		struct bpf_program *prog;
		const char *pin;
	} progs[] = {
	    {skel->progs.sl_sock_conn4, SL_PIN_LNK_CONN4},
	    {skel->progs.sl_sock_send4, SL_PIN_LNK_SEND4},
	    {skel->progs.sl_sock_recv4, SL_PIN_LNK_RECV4},
	    {skel->progs.sl_sock_peer4, SL_PIN_LNK_PEER4},
	};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link = bpf_program__attach_cgroup(progs[i].prog, cgfd);

		if (!link) {
			err = -errno;
			goto out_destroy;
		}
		err = dp_pin_swap(pin_dir, progs[i].pin, bpf_link__fd(link));
		/* Closing our fd leaves a pinned link attached; an unpinned one
		 * detaches here, as it must after a failure. */
		bpf_link__destroy(link);
		if (err)
			goto out_destroy;
	}
out_destroy:
	sl_sock__destroy(skel);
	return err;
}

int dp_sock_detach(const char *pin_dir)
{
	static const char *const pins[] = {SL_PIN_LNK_CONN4, SL_PIN_LNK_SEND4, SL_PIN_LNK_RECV4,
					   SL_PIN_LNK_PEER4};
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		err = dp_pin_path(path, sizeof(path), pin_dir, pins[i]);
		if (err)
			return err;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}
