// SPDX-License-Identifier: Apache-2.0
/* The datapath side of one attachment: pod programs on the host veth, endpoint entries. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"

/* The two tc hooks of a host veth and the program each one carries. */
static const struct pod_hook {
	const char *pin;
	const char *where;
	int (*attach)(int ifindex, int prog_fd, enum dp_attach_mode *mode);
	int (*query)(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode);
} pod_hooks[] = {
    {SL_PIN_FROM_POD, "ingress", dp_tc_attach, dp_tc_query},
    {SL_PIN_TO_POD, "egress", dp_tc_attach_egress, dp_tc_query_egress},
};

#define N_HOOKS (sizeof(pod_hooks) / sizeof(pod_hooks[0]))

int pod_progs_attach(const char *pin_dir, int ifindex, const char *host, enum dp_attach_mode *mode,
		     struct cni_err *e)
{
	int r = dp_tc_hooks_create(ifindex);

	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, "Failed to add the pod network",
				   "create the tc hooks of %s", host);
	for (size_t i = 0; i < N_HOOKS; i++) {
		const struct pod_hook *h = &pod_hooks[i];
		_cleanup_close_ int prog = dp_pin_open(pin_dir, h->pin);

		if (prog < 0)
			return cni_err_set(e, prog, CNI_ERR_TRY_AGAIN,
					   "Failed to add the pod network",
					   "open pinned program %s/%s", pin_dir, h->pin);
		r = h->attach(ifindex, prog, mode);
		if (r < 0)
			return cni_err_set(e, r, CNI_ERR_INTERNAL, "Failed to add the pod network",
					   "attach %s to tc %s of %s", h->pin, h->where, host);
	}
	return 0;
}

int pod_progs_verify(int ifindex, const char *host, char *why, size_t size)
{
	for (size_t i = 0; i < N_HOOKS; i++) {
		const struct pod_hook *h = &pod_hooks[i];
		enum dp_attach_mode mode;
		char name[16] = "";
		__u32 id;
		int r;

		r = h->query(ifindex, &id, name, &mode);
		if (r >= 0 && !strcmp(name, h->pin))
			continue;
		snprintf(why, size, "program %s not attached at tc %s of %s%s%s", h->pin, h->where,
			 host, name[0] ? ", found " : "", name);
		return r < 0 && r != -ENOENT ? r : 1;
	}
	return 0;
}

int ep_entries_write(const struct dp_ep_maps *m, const struct in_addr *ips, int n,
		     const struct sl_ep_val *val, struct in_addr *failed)
{
	for (int i = 0; i < n; i++) {
		int r = dp_ep_update(m, ips[i].s_addr, val);

		if (r < 0) {
			ep_entries_remove(m, ips, i, (int)val->ifindex);
			*failed = ips[i];
			return r;
		}
	}
	return 0;
}

int ep_entries_remove(const struct dp_ep_maps *m, const struct in_addr *ips, int n, int ifindex)
{
	int first = 0;

	for (int i = 0; i < n; i++) {
		struct sl_ep_val val;
		int r;

		if (dp_ep_lookup(m->ep, ips[i].s_addr, &val) < 0 || (int)val.ifindex != ifindex)
			continue;
		r = dp_ep_delete(m, ips[i].s_addr);
		if (r < 0 && r != -ENOENT && !first)
			first = r;
	}
	return first;
}
