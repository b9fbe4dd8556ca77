// SPDX-License-Identifier: Apache-2.0
/* CNI CHECK: is everything ADD set up (per prevResult, and the request's hostPorts) still in
 * place? */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "attach.h"
#include "cmd.h"
#include "dp.h"
#include "hostports.h"
#include "netlink.h"
#include "netns.h"
#include "state.h"

struct check_job {
	const struct cni_ctx *ctx;
	const struct cni_iface *iface; /* the container interface in prevResult */
	int iface_idx;
	char host[16];
	struct cni_err *e;
};

static int drift(struct cni_err *e, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int drift(struct cni_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	e->code = CNI_ERR_DRIFT;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->details, sizeof(e->details), "%s", err ? strerror(-err) : "CHECK found drift");
	return err < 0 ? err : -ENOENT;
}

static bool ip_ours(const struct check_job *j, const struct cni_ip *ip)
{
	return ip->family == 4 && (ip->iface < 0 || ip->iface == j->iface_idx);
}

/* Runs inside the pod's namespace. */
static int pod_check(void *arg)
{
	struct check_job *j = arg;
	const char *ifname = j->ctx->env.ifname, *netns = j->ctx->env.netns;
	struct in_addr gw = {htonl(SL_POD_GATEWAY4)}, any = {0};
	const struct cni_result *prev = &j->ctx->conf.prev;
	_cleanup_netlink_ struct netlink *nl = NULL;
	struct link_info link;
	char mac[18];
	int r;

	r = netlink_open(&nl);
	if (r < 0)
		return drift(j->e, r, "netlink in %s unusable", netns);
	r = link_get(nl, ifname, &link);
	if (r < 0)
		return drift(j->e, r, "interface %s missing in %s", ifname, netns);
	mac_format(link.mac, mac);
	if (j->iface->mac[0] && strcasecmp(mac, j->iface->mac))
		return drift(j->e, 0, "interface %s in %s has MAC %s, prevResult says %s", ifname,
			     netns, mac, j->iface->mac);
	for (int i = 0; i < prev->n_ips; i++) {
		const struct cni_ip *ip = &prev->ips[i];

		if (!ip_ours(j, ip))
			continue;
		r = addr_has4(nl, link.ifindex, ip->addr, ip->prefix);
		if (r <= 0)
			return drift(j->e, r, "address %s missing on %s in %s", ip->address, ifname,
				     netns);
	}
	r = route_has4(nl, any, 0, &gw, link.ifindex);
	if (r <= 0)
		return drift(j->e, r, "default route via %s dev %s missing in %s",
			     SL_POD_GATEWAY4_STR, ifname, netns);
	return 0;
}

static int host_check(struct check_job *j)
{
	const struct cni_result *prev = &j->ctx->conf.prev;
	const struct conf *c = &j->ctx->conf;
	_cleanup_netlink_ struct netlink *nl = NULL;
	_cleanup_close_ int map = -1;
	struct link_info link;
	char why[256];
	int r;

	r = netlink_open(&nl);
	if (r < 0)
		return drift(j->e, r, "netlink on the host unusable");
	r = link_get(nl, j->host, &link);
	if (r < 0)
		return drift(j->e, r, "host interface %s missing", j->host);
	if (!link.up)
		return drift(j->e, 0, "host interface %s is down", j->host);
	for (int i = 0; i < prev->n_ips; i++) {
		if (!ip_ours(j, &prev->ips[i]))
			continue;
		r = route_has4(nl, prev->ips[i].addr, 32, NULL, link.ifindex);
		if (r <= 0)
			return drift(j->e, r, "route %s/32 dev %s missing on the host",
				     inet_ntoa(prev->ips[i].addr), j->host);
	}
	r = pod_progs_verify(link.ifindex, j->host, why, sizeof(why));
	if (r)
		return drift(j->e, r < 0 ? r : 0, "%s", why);
	map = dp_pin_open(c->pin_dir, SL_PIN_EP4);
	if (map < 0)
		return drift(j->e, map, "pinned map %s/%s missing", c->pin_dir, SL_PIN_EP4);
	for (int i = 0; i < prev->n_ips; i++) {
		struct sl_ep_val val;

		if (!ip_ours(j, &prev->ips[i]))
			continue;
		r = dp_ep_lookup(map, prev->ips[i].addr.s_addr, &val);
		if (r < 0)
			return drift(j->e, r == -ENOENT ? 0 : r, "%s entry for %s missing",
				     SL_PIN_EP4, inet_ntoa(prev->ips[i].addr));
		if ((int)val.ifindex != link.ifindex)
			return drift(j->e, 0, "%s entry for %s points at ifindex %u, not %s (%d)",
				     SL_PIN_EP4, inet_ntoa(prev->ips[i].addr), val.ifindex, j->host,
				     link.ifindex);
	}
	return 0;
}

/* The request's hostPorts still point at the pod (its first IPv4 address in prevResult). */
static int hostports_check(struct check_job *j)
{
	const struct conf *c = &j->ctx->conf;
	const struct cni_result *prev = &c->prev;
	char why[256] = "";
	int r;

	for (int i = 0; c->n_portmaps && i < prev->n_ips; i++) {
		if (!ip_ours(j, &prev->ips[i]))
			continue;
		r = hostports_verify(c->pin_dir, c->portmaps, c->n_portmaps, prev->ips[i].addr, why,
				     sizeof(why));
		return r ? drift(j->e, r < 0 ? r : 0, "%s", why) : 0;
	}
	return 0;
}

static int prev_iface_find(struct check_job *j, struct cni_err *e)
{
	const struct cni_result *prev = &j->ctx->conf.prev;

	if (!j->ctx->conf.has_prev)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "CHECK needs prevResult");
	for (int i = 0; i < prev->n_ifaces; i++) {
		if (!strcmp(prev->ifaces[i].name, j->ctx->env.ifname) &&
		    prev->ifaces[i].sandbox[0]) {
			j->iface = &prev->ifaces[i];
			j->iface_idx = i;
			return 0;
		}
	}
	return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
			   "prevResult has no container interface named %s", j->ctx->env.ifname);
}

int cni_cmd_check(struct cni_ctx *ctx, struct cni_err *e)
{
	struct check_job j = {.ctx = ctx, .e = e};
	_cleanup_close_ int ns_fd = -1;
	_cleanup_free_ char *out = NULL;
	struct ipam_call call;
	int r;

	r = prev_iface_find(&j, e);
	if (r < 0)
		return r;
	veth_host_name(ctx->env.containerid, ctx->env.ifname, j.host);
	ns_fd = netns_open(ctx->env.netns);
	if (ns_fd < 0)
		return drift(e, ns_fd, "network namespace %s missing", ctx->env.netns);
	r = netns_run(ns_fd, pod_check, &j);
	if (r < 0)
		return r;
	r = host_check(&j);
	if (r >= 0)
		r = hostports_check(&j);
	if (r < 0)
		return r;
	if (!ctx->conf.ipam_type[0])
		return 0;
	ipam_call_init(&call, ctx, "CHECK");
	return ipam_delegate(ctx, &call, &out, e);
}
