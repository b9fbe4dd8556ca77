// SPDX-License-Identifier: Apache-2.0
/* CNI ADD: IPAM, veth pair, addresses and routes, tc program, endpoint entry, hostPorts. */
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
#include "netns.h"
#include "podcidr.h"
#include "result.h"
#include "state.h"
#include "test_kill.h"

#define ADD_FAILED "Failed to add the pod network"

struct add_job {
	struct cni_ctx *ctx;
	struct netlink *nl;	/* the host's (the node's) namespace */
	struct netlink *pod_nl; /* the pod's, opened once inside it */
	char host[16];
	int mtu;
	struct in_addr ips[CNI_MAX_IPS];
	int n_ips;
	struct link_info host_link;
	struct link_info pod_link;
	char step[128]; /* what pod_configure was doing when it failed */
};

/* Runs inside the pod's namespace. */
static int pod_netlink_open(void *arg)
{
	return netlink_open(arg);
}

/* The pod's side, through the socket opened in its namespace. */
static int pod_configure(struct add_job *j)
{
	struct in_addr gw = {htonl(SL_POD_GATEWAY4)}, any = {0};
	const char *ifname = j->ctx->env.ifname;
	int r;

	snprintf(j->step, sizeof(j->step), "find %s", ifname);
	r = link_get(j->pod_nl, ifname, &j->pod_link);
	if (r < 0)
		return r;
	snprintf(j->step, sizeof(j->step), "set %s up", ifname);
	r = link_set_up(j->pod_nl, j->pod_link.ifindex);
	for (int i = 0; r >= 0 && i < j->n_ips; i++) {
		snprintf(j->step, sizeof(j->step), "add address %s/32 to %s", inet_ntoa(j->ips[i]),
			 ifname);
		r = addr_add4(j->pod_nl, j->pod_link.ifindex, j->ips[i], 32);
	}
	if (r < 0)
		return r;
	snprintf(j->step, sizeof(j->step), "add route %s/32 dev %s scope link", SL_POD_GATEWAY4_STR,
		 ifname);
	r = route_add4(j->pod_nl, gw, 32, NULL, j->pod_link.ifindex);
	if (r < 0)
		return r;
	snprintf(j->step, sizeof(j->step), "add default route via %s dev %s", SL_POD_GATEWAY4_STR,
		 ifname);
	return route_add4(j->pod_nl, any, 0, &gw, j->pod_link.ifindex);
}

static int host_configure(struct add_job *j, struct cni_err *e)
{
	int idx = j->host_link.ifindex;
	int r;

	r = link_set_up(j->nl, idx);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "set host interface %s up",
				   j->host);
	for (int i = 0; i < j->n_ips; i++) {
		r = route_add4(j->nl, j->ips[i], 32, NULL, idx);
		if (r < 0)
			return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED,
					   "add route %s/32 dev %s on the host",
					   inet_ntoa(j->ips[i]), j->host);
		r = neigh_add4(j->nl, idx, j->ips[i], j->pod_link.mac);
		if (r < 0)
			return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED,
					   "add neighbour %s on %s", inet_ntoa(j->ips[i]), j->host);
	}
	return 0;
}

/* Opens the pinned endpoint maps into *m (the caller closes them, also to
 * undo) and writes the pod's entries. */
static int ep_write(struct add_job *j, struct dp_ep_maps *m, struct cni_err *e)
{
	struct sl_ep_val val = {
	    .ifindex = (__u32)j->host_link.ifindex,
	    .ep_id = (__u32)j->host_link.ifindex,
	    .flags = SL_EP_F_NONE,
	};
	struct in_addr failed;
	const char *pin;
	int r;

	r = dp_ep_maps_open(j->ctx->conf.pin_dir, m, &pin);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_TRY_AGAIN, ADD_FAILED, "open pinned map %s/%s",
				   j->ctx->conf.pin_dir, pin);
	memcpy(val.pod_mac, j->pod_link.mac, 6);
	memcpy(val.host_mac, j->host_link.mac, 6);
	r = ep_entries_write(m, j->ips, j->n_ips, &val, &failed);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "write %s entry for %s",
				   SL_PIN_EP4, inet_ntoa(failed));
	return 0;
}

static int ipam_ips(struct add_job *j, const struct cni_result *res, struct cni_err *e)
{
	for (int i = 0; i < res->n_ips; i++) {
		if (res->ips[i].family != 4)
			return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
					   "IPAM plugin %s returned %s: sluice supports IPv4 only",
					   j->ctx->conf.ipam_type, res->ips[i].address);
		j->ips[j->n_ips++] = res->ips[i].addr;
	}
	if (!j->n_ips)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "IPAM plugin %s returned no IPv4 address",
				   j->ctx->conf.ipam_type);
	return 0;
}

/* Cross-node routing sends a node's pod CIDR to that node: an address outside
 * it would be unreachable from other nodes. No CIDR published (no agent
 * status yet) checks nothing; an unreadable one refuses. */
static int ips_in_podcidr(const struct add_job *j, struct cni_err *e)
{
	const struct conf *c = &j->ctx->conf;
	struct podcidr pc;
	int r;

	r = podcidr_read(c->state_dir, &pc);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED,
				   "read the node's pod CIDR from %s/%s", c->state_dir,
				   PODCIDR_AGENT_FILE);
	for (int i = 0; i < j->n_ips; i++)
		if (!podcidr_contains(&pc, j->ips[i]))
			return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
					   "IPAM plugin %s returned %s, outside this node's pod "
					   "CIDR %s: other nodes could not route to it",
					   c->ipam_type, inet_ntoa(j->ips[i]), pc.text);
	return 0;
}

static void result_build(const struct add_job *j, const struct cni_result *ipam,
			 struct cni_result *r)
{
	const struct cni_env *env = &j->ctx->env;

	memset(r, 0, sizeof(*r));
	r->n_ifaces = 2;
	snprintf(r->ifaces[0].name, sizeof(r->ifaces[0].name), "%s", j->host);
	mac_format(j->host_link.mac, r->ifaces[0].mac);
	r->ifaces[0].mtu = j->mtu;
	snprintf(r->ifaces[1].name, sizeof(r->ifaces[1].name), "%s", env->ifname);
	mac_format(j->pod_link.mac, r->ifaces[1].mac);
	snprintf(r->ifaces[1].sandbox, sizeof(r->ifaces[1].sandbox), "%s", env->netns);
	r->ifaces[1].mtu = j->mtu;
	for (int i = 0; i < j->n_ips; i++) {
		struct cni_ip *ip = &r->ips[r->n_ips++];

		ip->family = 4;
		ip->addr = j->ips[i];
		ip->prefix = 32;
		snprintf(ip->address, sizeof(ip->address), "%s/32", inet_ntoa(j->ips[i]));
		snprintf(ip->gateway, sizeof(ip->gateway), "%s", SL_POD_GATEWAY4_STR);
		ip->iface = 1;
	}
	r->n_routes = 1;
	snprintf(r->routes[0].dst, sizeof(r->routes[0].dst), "0.0.0.0/0");
	snprintf(r->routes[0].gw, sizeof(r->routes[0].gw), "%s", SL_POD_GATEWAY4_STR);
	r->dns_json = ipam->dns_json; /* borrowed */
}

static void state_fill(const struct add_job *j, struct ep_state *s)
{
	const struct cni_env *env = &j->ctx->env;

	memset(s, 0, sizeof(*s));
	snprintf(s->containerid, sizeof(s->containerid), "%s", env->containerid);
	snprintf(s->ifname, sizeof(s->ifname), "%s", env->ifname);
	snprintf(s->netns, sizeof(s->netns), "%s", env->netns);
	snprintf(s->host_veth, sizeof(s->host_veth), "%s", j->host);
	s->host_ifindex = j->host_link.ifindex;
	mac_format(j->pod_link.mac, s->pod_mac);
	memcpy(s->ips, j->ips, sizeof(s->ips));
	s->n_ips = j->n_ips;
	memcpy(s->portmaps, j->ctx->conf.portmaps, sizeof(s->portmaps));
	s->n_portmaps = j->ctx->conf.n_portmaps;
}

/* The state file first, then the endpoint entries, so a DEL after a crash
 * between the two still finds the addresses to remove; on failure neither
 * is left. */
static int ep_record(struct add_job *j, struct dp_ep_maps *m, struct cni_err *e)
{
	const struct cni_env *env = &j->ctx->env;
	const struct conf *c = &j->ctx->conf;
	struct ep_state st;
	int r;

	state_fill(j, &st);
	r = state_write(c->state_dir, c->name, &st);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_IO, ADD_FAILED,
				   "write state file for %s-%s in %s/%s", env->containerid,
				   env->ifname, c->state_dir, c->name);
	test_kill_at("state");
	r = ep_write(j, m, e);
	if (r < 0) { /* ep_write left no entry */
		state_remove(c->state_dir, c->name, env->containerid, env->ifname);
		return r;
	}
	test_kill_at("ep");
	return 0;
}

/* Checks that need nothing undone: datapath ready, netns usable, names free. */
static int add_precheck(struct add_job *j, int ns_fd, struct cni_err *e)
{
	struct conf *c = &j->ctx->conf;
	struct link_info info;
	char why[256] = "";
	int r;

	r = dp_ready(c->pin_dir, why, sizeof(why));
	if (r < 0)
		return cni_err_set(e, why[0] ? 0 : r, CNI_ERR_TRY_AGAIN,
				   "The sluice datapath is not ready, try again later", "%s",
				   why[0] ? why : c->pin_dir);
	if (!c->ipam_type[0])
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "missing required key \"ipam\" with a \"type\"");
	if (c->portmaps_bad[0])
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration", "%s",
				   c->portmaps_bad);
	r = netns_run(ns_fd, pod_netlink_open, &j->pod_nl);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "open netlink in %s",
				   j->ctx->env.netns);
	r = link_get(j->pod_nl, j->ctx->env.ifname, &info);
	if (r == 0)
		return cni_err_set(e, -EEXIST, CNI_ERR_INTERNAL, ADD_FAILED,
				   "container interface %s already exists in %s",
				   j->ctx->env.ifname, j->ctx->env.netns);
	if (r != -ENODEV)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "look up %s in %s",
				   j->ctx->env.ifname, j->ctx->env.netns);
	if (link_get(j->nl, j->host, &info) == 0)
		return cni_err_set(
		    e, -EEXIST, CNI_ERR_INTERNAL, ADD_FAILED,
		    "host interface %s of this attachment already exists (ADD without DEL?)",
		    j->host);
	return 0;
}

/* runtimeConfig.mac, else CNI_ARGS MAC=, else NULL (the kernel picks one). */
static const unsigned char *pod_mac_pick(const struct cni_ctx *ctx, unsigned char mac[6])
{
	const char *s = ctx->conf.mac[0] ? ctx->conf.mac : ctx->args.mac;

	return s[0] && mac_parse(s, mac) == 0 ? mac : NULL;
}

/* Undoes the IPAM ADD; a failure here is logged, the ADD's error is the one returned. */
static void ipam_rollback(struct cni_ctx *ctx)
{
	_cleanup_free_ char *out = NULL;
	struct ipam_call call;
	struct cni_err e;

	ipam_call_init(&call, ctx, "DEL");
	if (ipam_delegate(ctx, &call, &out, &e) < 0)
		log_warn(
		    "Failed to release the address with IPAM plugin '%s' while undoing ADD: %s",
		    ctx->conf.ipam_type, e.details);
}

/* IPAM ADD and what its answer must satisfy; on failure nothing stays allocated. */
static int ipam_allocate(struct add_job *j, struct cni_result *ipam, struct cni_err *e)
{
	_cleanup_free_ char *out = NULL;
	struct ipam_call call;
	int r;

	ipam_call_init(&call, j->ctx, "ADD");
	r = ipam_delegate(j->ctx, &call, &out, e);
	if (r < 0)
		return r;
	r = result_parse(out, ipam, e);
	if (r >= 0)
		r = ipam_ips(j, ipam, e);
	if (r >= 0)
		r = ips_in_podcidr(j, e);
	if (r < 0)
		ipam_rollback(j->ctx);
	return r;
}

/* The veth pair, configured on both sides, the pod programs on the host
 * side; on failure the veth (and with it what was attached) is gone. */
static int link_wire(struct add_job *j, int ns_fd, const unsigned char *pod_mac,
		     enum dp_attach_mode *mode, struct cni_err *e)
{
	const struct cni_env *env = &j->ctx->env;
	int r;

	r = veth_create(j->nl, j->host, env->ifname, ns_fd, j->mtu, pod_mac);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED,
				   "create veth %s <-> %s in %s", j->host, env->ifname, env->netns);
	test_kill_at("veth");
	r = link_get(j->nl, j->host, &j->host_link);
	if (r < 0) {
		cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "find the new host interface %s",
			    j->host);
		goto out_del_veth;
	}
	r = pod_configure(j);
	if (r < 0) {
		cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "%s in %s", j->step, env->netns);
		goto out_del_veth;
	}
	test_kill_at("pod-config");
	/* Before the host side goes up: no packet passes unfiltered, and the
	 * clsact qdisc grafted on a down device needs no RCU grace period. */
	r = pod_progs_attach(j->ctx->conf.pin_dir, j->host_link.ifindex, j->host, mode, e);
	if (r < 0)
		goto out_del_veth;
	test_kill_at("attach");
	r = host_configure(j, e);
	if (r < 0)
		goto out_del_veth;
	return 0;
out_del_veth:
	if (link_delete(j->nl, j->host) < 0)
		log_warn("Failed to delete host interface '%s' while undoing ADD", j->host);
	return r;
}

/* The MTU from the config, else the uplink's, else 1500. */
static int pod_mtu_pick(const struct add_job *j)
{
	int mtu = j->ctx->conf.mtu;

	if (!mtu && uplink_mtu(j->nl, &mtu) < 0)
		mtu = 1500;
	return mtu;
}

/* On top of the IPAM address: the veth wired, the endpoint recorded, its
 * hostPorts published and the result printed. On failure what it did is
 * undone in reverse order; the address is the caller's to release. */
static int endpoint_install(struct add_job *j, int ns_fd, const struct cni_result *ipam,
			    struct cni_err *e)
{
	const struct cni_env *env = &j->ctx->env;
	const struct conf *c = &j->ctx->conf;
	_cleanup_ep_maps_ struct dp_ep_maps maps = DP_EP_MAPS_NONE;
	struct cni_result res;
	unsigned char mac[6];
	enum dp_attach_mode mode;
	int r;

	r = link_wire(j, ns_fd, pod_mac_pick(j->ctx, mac), &mode, e);
	if (r < 0)
		return r;
	log_debug("Attached %s and %s to %s (%s)", SL_PIN_FROM_POD, SL_PIN_TO_POD, j->host,
		  dp_attach_mode_name(mode));
	test_kill_at("host-config");
	r = ep_record(j, &maps, e);
	if (r < 0)
		goto out_del_link;
	/* After the endpoint entry: a pod that holds a hostPort is an endpoint. */
	r = hostports_add(c->pin_dir, c->state_dir, c->portmaps, c->n_portmaps, j->ips[0], e);
	if (r < 0)
		goto out_del_record;
	result_build(j, ipam, &res);
	r = json_print_free(result_format(&res, c->cni_version));
	if (r < 0) {
		cni_err_set(e, r, CNI_ERR_IO, ADD_FAILED, "print the result");
		goto out_del_hostports;
	}
	test_kill_at("result");
	return 0;

out_del_hostports:
	hostports_remove(c->pin_dir, c->state_dir, c->portmaps, c->n_portmaps, j->ips, j->n_ips);
out_del_record:
	ep_entries_remove(&maps, j->ips, j->n_ips, j->host_link.ifindex);
	state_remove(c->state_dir, c->name, env->containerid, env->ifname);
out_del_link:
	/* The programs go with the link. */
	if (link_delete(j->nl, j->host) < 0)
		log_warn("Failed to delete host interface '%s' while undoing ADD", j->host);
	return r;
}

int cni_cmd_add(struct cni_ctx *ctx, struct cni_err *e)
{
	struct add_job j = {.ctx = ctx};
	const struct cni_env *env = &ctx->env;
	struct conf *c = &ctx->conf;
	_cleanup_close_ int ns_fd = -1, lock = -1;
	_cleanup_netlink_ struct netlink *nl = NULL;
	struct cni_result ipam = {};
	int r;

	veth_host_name(env->containerid, env->ifname, j.host);
	r = netlink_open(&nl);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, ADD_FAILED, "open netlink");
	j.nl = nl;
	ns_fd = netns_open(env->netns);
	if (ns_fd < 0)
		return cni_err_set(e, ns_fd, CNI_ERR_ENV, "Invalid CNI_NETNS",
				   "CNI_NETNS \"%s\" is not a network namespace", env->netns);
	r = add_precheck(&j, ns_fd, e);
	if (r < 0)
		goto out_free;
	j.mtu = pod_mtu_pick(&j);
	lock = state_lock(c->state_dir, true, CNI_LOCK_TIMEOUT_MS);
	if (lock < 0) {
		r = cni_err_set(e, lock, CNI_ERR_TRY_AGAIN, ADD_FAILED, "lock %s/lock",
				c->state_dir);
		goto out_free;
	}
	test_kill_at("lock");
	r = ipam_allocate(&j, &ipam, e);
	if (r < 0)
		goto out_free;
	test_kill_at("ipam");
	r = endpoint_install(&j, ns_fd, &ipam, e);
	if (r < 0)
		goto out_ipam_del;
	log_info("Added %s/%s: %s, host veth %s (ifindex %d), mtu %d", env->containerid,
		 env->ifname, inet_ntoa(j.ips[0]), j.host, j.host_link.ifindex, j.mtu);
	goto out_free;

out_ipam_del:
	ipam_rollback(ctx);
out_free:
	netlink_close(j.pod_nl);
	result_free(&ipam);
	return r;
}
