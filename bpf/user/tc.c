// SPDX-License-Identifier: Apache-2.0
/* tc attachment of the pod programs, sl_from_pod at ingress and sl_to_pod at
 * egress, and of sl_from_net at the ingress of each uplink: tcx where libbpf and the kernel have
 * it, a clsact filter (handle 1, priority 1) otherwise. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"

#define TC_HANDLE 1
#define TC_PRIO	  1

#if LIBBPF_MAJOR_VERSION > 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION >= 3)
#define TC_HAVE_TCX 1
#else
#define TC_HAVE_TCX 0
#endif

static int prog_name(__u32 id, char name[16])
{
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);
	struct bpf_prog_info info;
	int err;

	err = dp_obj_info_get(fd, &info, sizeof(info));
	if (err)
		return err;
	snprintf(name, 16, "%s", info.name);
	return 0;
}

/* Where a program goes, and the name sluice's program has there. */
struct tc_point {
	bool egress;
	const char *name;
};

static const struct tc_point tc_ingress = {false, SL_PIN_FROM_POD};
static const struct tc_point tc_egress = {true, SL_PIN_TO_POD};
static const struct tc_point tc_uplink = {false, SL_PIN_FROM_NET};

#if TC_HAVE_TCX
/* The id of our program attached with tcx at pt, -ENOENT if none. */
static int tcx_ours(int ifindex, const struct tc_point *pt, __u32 *id)
{
	__u32 ids[16] = {};
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .count = 16);
	char name[16];
	int err;

	err = bpf_prog_query_opts(ifindex, pt->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, &q);
	if (err)
		return err;
	for (__u32 i = 0; i < q.count && i < 16; i++) {
		if (!prog_name(ids[i], name) && !strcmp(name, pt->name)) {
			*id = ids[i];
			return 0;
		}
	}
	return -ENOENT;
}

static int tcx_attach(int ifindex, const struct tc_point *pt, int prog_fd)
{
	LIBBPF_OPTS(bpf_prog_attach_opts, opts);
	_cleanup_close_ int old = -1;
	__u32 id;

	if (!tcx_ours(ifindex, pt, &id)) {
		old = bpf_prog_get_fd_by_id(id);
		opts.flags = BPF_F_REPLACE;
		opts.replace_prog_fd = old;
	}
	return bpf_prog_attach_opts(prog_fd, ifindex, pt->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS,
				    &opts);
}

static int tcx_detach(int ifindex, const struct tc_point *pt)
{
	_cleanup_close_ int fd = -1;
	__u32 id;
	int err;

	err = tcx_ours(ifindex, pt, &id);
	if (err)
		return err;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	return bpf_prog_detach_opts(fd, ifindex, pt->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS,
				    NULL);
}
#endif

/* Creates the clsact qdisc unless it is there. An existing one is the normal
 * case (the second hook of every veth), but the kernel refuses it with
 * "Exclusivity flag on, cannot modify", which libbpf prints as a warning: the
 * creation runs with libbpf's printing off, and its result is the error code. */
static int clsact_ensure(struct bpf_tc_hook *hook)
{
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int err = bpf_tc_hook_create(hook);

	libbpf_set_print(print);
	return err == -EEXIST ? 0 : err;
}

static int clsact_attach(int ifindex, const struct tc_point *pt, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = pt->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t print;
	int err;

	/* The qdisc is usually there already (dp_tc_hooks_create, or the other
	 * hook's attach): asking for it first would be one more round trip. A
	 * refusal for want of it is no news, so libbpf does not print it. */
	print = libbpf_set_print(NULL);
	err = bpf_tc_attach(&hook, &opts);
	libbpf_set_print(print);
	if (err != -EINVAL && err != -ENOENT)
		return err;
	err = clsact_ensure(&hook);
	if (err)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* The program id of sluice's clsact filter; -ENOENT when there is no filter
 * or no clsact qdisc at all (the kernel says -EINVAL then). */
static int clsact_query(int ifindex, const struct tc_point *pt, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = pt->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	int err;

	err = bpf_tc_query(&hook, &opts);
	if (err == -EINVAL)
		return -ENOENT;
	if (err)
		return err;
	*prog_id = opts.prog_id;
	return 0;
}

static int clsact_detach(int ifindex, const struct tc_point *pt)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = pt->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	__u32 id;
	int err;

	err = clsact_query(ifindex, pt, &id);
	if (err)
		return err;
	return bpf_tc_detach(&hook, &opts);
}

static int tc_attach(int ifindex, const struct tc_point *pt, int prog_fd, enum dp_attach_mode *mode)
{
	int err;

	if (ifindex <= 0 || prog_fd < 0)
		return -EINVAL;
#if TC_HAVE_TCX
	if (!tcx_attach(ifindex, pt, prog_fd)) {
		clsact_detach(ifindex, pt); /* an attachment from before an upgrade */
		if (mode)
			*mode = DP_ATTACH_TCX;
		return 0;
	}
#endif
	err = clsact_attach(ifindex, pt, prog_fd);
	if (err)
		return err;
	if (mode)
		*mode = DP_ATTACH_CLSACT;
	return 0;
}

static bool detach_gone(int err)
{
	return !err || err == -ENOENT || err == -ENODEV;
}

static int tc_detach(int ifindex, const struct tc_point *pt)
{
	int err;

	if (ifindex <= 0)
		return -EINVAL;
#if TC_HAVE_TCX
	err = tcx_detach(ifindex, pt);
	if (!detach_gone(err) && err != -EINVAL)
		return err;
#endif
	err = clsact_detach(ifindex, pt);
	return detach_gone(err) ? 0 : err;
}

static int tc_query(int ifindex, const struct tc_point *pt, __u32 *prog_id, char name[16],
		    enum dp_attach_mode *mode)
{
	enum dp_attach_mode m = DP_ATTACH_CLSACT;
	int err;

	if (ifindex <= 0)
		return -EINVAL;
#if TC_HAVE_TCX
	err = tcx_ours(ifindex, pt, prog_id);
	if (!err)
		m = DP_ATTACH_TCX;
	else
#endif
		err = clsact_query(ifindex, pt, prog_id);
	if (err)
		return err;
	if (mode)
		*mode = m;
	if (name)
		return prog_name(*prog_id, name);
	return 0;
}

int dp_tc_hooks_create(int ifindex)
{
#if TC_HAVE_TCX
	return ifindex > 0 ? 0 : -EINVAL; /* tcx needs no qdisc */
#else
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);

	if (ifindex <= 0)
		return -EINVAL;
	return clsact_ensure(&hook);
#endif
}

int dp_tc_attach(int ifindex, int prog_fd, enum dp_attach_mode *mode)
{
	return tc_attach(ifindex, &tc_ingress, prog_fd, mode);
}

int dp_tc_attach_egress(int ifindex, int prog_fd, enum dp_attach_mode *mode)
{
	return tc_attach(ifindex, &tc_egress, prog_fd, mode);
}

int dp_tc_detach(int ifindex)
{
	return tc_detach(ifindex, &tc_ingress);
}

int dp_tc_detach_egress(int ifindex)
{
	return tc_detach(ifindex, &tc_egress);
}

int dp_tc_query(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode)
{
	return tc_query(ifindex, &tc_ingress, prog_id, name, mode);
}

int dp_tc_query_egress(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode)
{
	return tc_query(ifindex, &tc_egress, prog_id, name, mode);
}

int dp_tc_attach_uplink(int ifindex, int prog_fd, enum dp_attach_mode *mode)
{
	return tc_attach(ifindex, &tc_uplink, prog_fd, mode);
}

int dp_tc_detach_uplink(int ifindex)
{
	return tc_detach(ifindex, &tc_uplink);
}

int dp_tc_query_uplink(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode)
{
	return tc_query(ifindex, &tc_uplink, prog_id, name, mode);
}

const char *dp_attach_mode_name(enum dp_attach_mode mode)
{
	static const char *const names[] = {
	    [DP_ATTACH_NONE] = "none",
	    [DP_ATTACH_TCX] = "tcx",
	    [DP_ATTACH_CLSACT] = "clsact",
	};

	if ((unsigned int)mode >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[mode];
}
