// SPDX-License-Identifier: Apache-2.0
/* CNI DEL: undoes an ADD as far as anything is left; idempotent. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "cmd.h"
#include "dp.h"
#include "hostports.h"
#include "log.h"
#include "netlink.h"
#include "state.h"

#define DEL_FAILED "Failed to delete the pod network"

/* Endpoint entries of ips that still point at ifindex (ours); others belong
 * to a newer owner of the address and stay. */
static void ep_release(const struct cni_ctx *ctx, const struct in_addr *ips, int n, int ifindex)
{
	_cleanup_ep_maps_ struct dp_ep_maps maps = DP_EP_MAPS_NONE;
	const char *pin;
	int r;

	if (!n || ifindex <= 0)
		return;
	r = dp_ep_maps_open(ctx->conf.pin_dir, &maps, &pin);
	if (r < 0) {
		log_warn_errno(r, "Failed to open pinned map '%s/%s', endpoint entries left to GC",
			       ctx->conf.pin_dir, pin);
		return;
	}
	r = ep_entries_remove(&maps, ips, n, ifindex);
	if (r < 0)
		log_warn_errno(r, "Failed to delete %s entries of ifindex %d, left to GC",
			       SL_PIN_EP4, ifindex);
}

static int ipam_release(struct cni_ctx *ctx, const struct teardown *t, struct cni_err *e)
{
	_cleanup_free_ char *out = NULL;
	struct ipam_call call;

	if (!ctx->conf.ipam_type[0])
		return 0;
	ipam_call_init(&call, ctx, "DEL");
	call.containerid = t->containerid;
	call.ifname = t->ifname;
	/* host-local never enters the netns but its skel wants CNI_NETNS set. */
	call.netns = t->netns && *t->netns ? t->netns : CNI_NETNS_PLACEHOLDER;
	if (t->ipam_input) {
		call.input = t->ipam_input;
		call.input_len = t->ipam_input_len;
	}
	return ipam_delegate(ctx, &call, &out, e);
}

int attachment_teardown(struct cni_ctx *ctx, const struct teardown *t, struct cni_err *e)
{
	const struct conf *c = &ctx->conf;
	struct in_addr ips[CNI_MAX_IPS];
	_cleanup_netlink_ struct netlink *nl = NULL;
	struct link_info link;
	const struct portmap *pm = c->portmaps;
	struct ep_state st;
	char host[16];
	int n_ips = 0, ifindex = 0, n_pm = c->n_portmaps, r;
	bool have_link;

	veth_host_name(t->containerid, t->ifname, host);
	r = netlink_open(&nl);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, DEL_FAILED, "open netlink");
	have_link = link_get(nl, host, &link) == 0;
	r = state_read(c->state_dir, c->name, t->containerid, t->ifname, &st);
	if (r == 0) {
		memcpy(ips, st.ips, sizeof(ips));
		n_ips = st.n_ips;
		ifindex = st.host_ifindex;
		pm = st.portmaps; /* what ADD wrote, whatever this request says */
		n_pm = st.n_portmaps;
	} else {
		if (r != -ENOENT)
			log_warn_errno(r,
				       "Failed to read the state of '%s/%s', going on without it",
				       t->containerid, t->ifname);
		for (int i = 0; t->use_prev && c->has_prev && i < c->prev.n_ips; i++)
			if (c->prev.ips[i].family == 4)
				ips[n_ips++] = c->prev.ips[i].addr;
		ifindex = have_link ? link.ifindex : 0;
	}

	r = hostports_remove(c->pin_dir, c->state_dir, pm, n_pm, ips, n_ips);
	if (r < 0) /* the state file stays, so a later DEL or GC retries */
		return cni_err_set(e, r, CNI_ERR_INTERNAL, DEL_FAILED,
				   "remove the hostPort entries of %s-%s from %s", t->containerid,
				   t->ifname, SL_PIN_HPORT4);
	ep_release(ctx, ips, n_ips, ifindex);
	if (have_link) {
		/* Routes, neighbours, the pod programs on its tc hooks and the
		 * peer in the pod go with the link. */
		r = link_delete(nl, host);
		if (r < 0)
			return cni_err_set(e, r, CNI_ERR_INTERNAL, DEL_FAILED,
					   "delete host interface %s", host);
	}
	r = ipam_release(ctx, t, e);
	if (r < 0)
		return r; /* the state file stays, so a later DEL or GC retries */
	r = state_remove(c->state_dir, c->name, t->containerid, t->ifname);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_IO, DEL_FAILED, "remove state file of %s-%s",
				   t->containerid, t->ifname);
	log_info("Deleted %s/%s: host veth %s%s, %d address(es) released", t->containerid,
		 t->ifname, host, have_link ? "" : " (already gone)", n_ips);
	return 0;
}

int cni_cmd_del(struct cni_ctx *ctx, struct cni_err *e)
{
	_cleanup_close_ int lock = -1;
	struct teardown t = {
	    .containerid = ctx->env.containerid,
	    .ifname = ctx->env.ifname,
	    .netns = ctx->env.netns,
	    .use_prev = true,
	};

	lock = state_lock(ctx->conf.state_dir, true, CNI_LOCK_TIMEOUT_MS);
	if (lock < 0)
		return cni_err_set(e, lock, CNI_ERR_TRY_AGAIN, DEL_FAILED, "lock %s/lock",
				   ctx->conf.state_dir);
	return attachment_teardown(ctx, &t, e);
}
