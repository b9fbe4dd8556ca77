// SPDX-License-Identifier: Apache-2.0
/* Netlink (libnl-route-3) for the CNI plugin: veth, addresses, routes, neighbours. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "netlink.h"
#include "nl_util.h"

/* One rtnetlink socket, bound for its life to the network namespace it was
 * opened in; every call below goes through it. */
struct netlink {
	struct nl_sock *sk;
};

int netlink_open(struct netlink **out)
{
	struct netlink *nl = calloc(1, sizeof(*nl));
	int r;

	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		free(nl);
		return -ENOMEM;
	}
	r = nl_connect(nl->sk, NETLINK_ROUTE);
	if (r < 0) {
		netlink_close(nl);
		return nl_errno(r);
	}
	*out = nl;
	return 0;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

static void link_fill(struct rtnl_link *link, struct link_info *out)
{
	struct nl_addr *a = rtnl_link_get_addr(link);
	const char *type = rtnl_link_get_type(link);

	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(link);
	snprintf(out->name, sizeof(out->name), "%s", rtnl_link_get_name(link) ?: "");
	if (a && nl_addr_get_len(a) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(a), 6);
	out->up = rtnl_link_get_flags(link) & IFF_UP;
	out->is_veth = type && !strcmp(type, "veth");
	out->mtu = (int)rtnl_link_get_mtu(link);
}

static int link_fetch(struct netlink *nl, int ifindex, const char *name, struct link_info *out)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r;

	r = nl_errno(rtnl_link_get_kernel(nl->sk, ifindex, name, &link));
	if (r == -ENOENT)
		return -ENODEV;
	if (r < 0)
		return r;
	link_fill(link, out);
	return 0;
}

int link_get(struct netlink *nl, const char *name, struct link_info *out)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -ENODEV;
	return link_fetch(nl, 0, name, out);
}

int link_get_by_index(struct netlink *nl, int ifindex, struct link_info *out)
{
	if (ifindex <= 0)
		return -ENODEV;
	return link_fetch(nl, ifindex, NULL, out);
}

int link_foreach(struct netlink *nl, int (*fn)(const struct link_info *link, void *ctx), void *ctx)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r;

	r = nl_errno(rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct link_info info;

		link_fill((struct rtnl_link *)o, &info);
		r = fn(&info, ctx);
		if (r)
			return r;
	}
	return 0;
}

int veth_create(struct netlink *nl, const char *host, const char *peer_name, int peer_ns_fd,
		int mtu, const unsigned char *peer_mac)
{
	_cleanup_addr_ struct nl_addr *mac = NULL;
	struct rtnl_link *link, *peer;
	int r;

	link = rtnl_link_veth_alloc();
	if (!link)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, host);
	rtnl_link_set_mtu(link, (unsigned int)mtu);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_mtu(peer, (unsigned int)mtu);
	/* One queue each way, which is what the kernel leaves enabled anyway when
	 * none is asked for; asked for explicitly, the kernel allocates no
	 * per-CPU queues only to disable them again at once, which waits for an
	 * RCU grace period per device (veth_init_queues). */
	rtnl_link_set_num_tx_queues(link, 1);
	rtnl_link_set_num_rx_queues(link, 1);
	rtnl_link_set_num_tx_queues(peer, 1);
	rtnl_link_set_num_rx_queues(peer, 1);
	rtnl_link_set_ns_fd(peer, peer_ns_fd);
	if (peer_mac) {
		mac = nl_addr_build(AF_LLC, peer_mac, 6);
		if (!mac) {
			r = -ENOMEM;
			goto out;
		}
		rtnl_link_set_addr(peer, mac);
	}
	r = nl_errno(rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL));
out:
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	return r;
}

int link_set_up(struct netlink *nl, int ifindex)
{
	_cleanup_link_ struct rtnl_link *orig = NULL, *change = NULL;

	orig = rtnl_link_alloc();
	change = rtnl_link_alloc();
	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_flags(change, IFF_UP);
	return nl_errno(rtnl_link_change(nl->sk, orig, change, 0));
}

int link_delete(struct netlink *nl, const char *name)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r;

	link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	r = nl_errno(rtnl_link_delete(nl->sk, link));
	return r == -ENOENT || r == -ENODEV ? 0 : r;
}

static struct nl_addr *addr4_build(struct in_addr a, int prefix)
{
	struct nl_addr *addr = nl_addr_build(AF_INET, &a, sizeof(a));

	if (addr)
		nl_addr_set_prefixlen(addr, prefix);
	return addr;
}

static bool addr4_equal(struct nl_addr *got, struct in_addr want, int prefix)
{
	if (!got || (int)nl_addr_get_prefixlen(got) != prefix)
		return false;
	if (prefix == 0)
		return true;
	return nl_addr_get_len(got) == 4 && !memcmp(nl_addr_get_binary_addr(got), &want, 4);
}

int addr_add4(struct netlink *nl, int ifindex, struct in_addr a, int prefix)
{
	_cleanup_rtaddr_ struct rtnl_addr *addr = NULL;
	_cleanup_addr_ struct nl_addr *local = NULL;
	int r;

	addr = rtnl_addr_alloc();
	local = addr4_build(a, prefix);
	if (!addr || !local)
		return -ENOMEM;
	rtnl_addr_set_ifindex(addr, ifindex);
	r = nl_errno(rtnl_addr_set_local(addr, local));
	if (r < 0)
		return r;
	r = nl_errno(rtnl_addr_add(nl->sk, addr, 0));
	return r == -EEXIST ? 0 : r;
}

int addr_has4(struct netlink *nl, int ifindex, struct in_addr a, int prefix)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r;

	r = nl_errno(rtnl_addr_alloc_cache(nl->sk, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *addr = (struct rtnl_addr *)o;

		if (rtnl_addr_get_ifindex(addr) == ifindex &&
		    rtnl_addr_get_family(addr) == AF_INET &&
		    addr4_equal(rtnl_addr_get_local(addr), a, prefix))
			return 1;
	}
	return 0;
}

int route_add4(struct netlink *nl, struct in_addr dst, int prefix, const struct in_addr *gw,
	       int ifindex)
{
	_cleanup_route_ struct rtnl_route *route = NULL;
	_cleanup_addr_ struct nl_addr *d = NULL, *g = NULL;
	struct rtnl_nexthop *nh;
	int r;

	route = rtnl_route_alloc();
	d = addr4_build(dst, prefix);
	nh = rtnl_route_nh_alloc();
	if (!route || !d || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return -ENOMEM;
	}
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	rtnl_route_set_type(route, RTN_UNICAST);
	rtnl_route_set_scope(route, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	r = nl_errno(rtnl_route_set_dst(route, d));
	if (r < 0) {
		rtnl_route_nh_free(nh);
		return r;
	}
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (gw) {
		g = addr4_build(*gw, 32);
		if (!g) {
			rtnl_route_nh_free(nh);
			return -ENOMEM;
		}
		rtnl_route_nh_set_gateway(nh, g);
	}
	rtnl_route_add_nexthop(route, nh); /* route owns nh from here */
	return nl_errno(rtnl_route_add(nl->sk, route, NLM_F_REPLACE));
}

/* Calls fn with the first next hop of each main-table route to dst/prefix
 * until fn returns non-zero; returns that value, 0 when none did. */
static int route4_each_hop(struct netlink *nl, struct in_addr dst, int prefix,
			   int (*fn)(struct rtnl_nexthop *nh, void *ctx), void *ctx)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	int r;

	r = nl_errno(rtnl_route_alloc_cache(nl->sk, AF_INET, 0, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *route = (struct rtnl_route *)o;

		if (rtnl_route_get_table(route) != RT_TABLE_MAIN ||
		    !addr4_equal(rtnl_route_get_dst(route), dst, prefix) ||
		    rtnl_route_get_nnexthops(route) < 1)
			continue;
		r = fn(rtnl_route_nexthop_n(route, 0), ctx);
		if (r)
			return r;
	}
	return 0;
}

struct hop_want {
	int ifindex;
	const struct in_addr *gw;
};

static int hop_matches(struct rtnl_nexthop *nh, void *ctx)
{
	const struct hop_want *w = ctx;

	if (rtnl_route_nh_get_ifindex(nh) != w->ifindex)
		return 0;
	return !w->gw || addr4_equal(rtnl_route_nh_get_gateway(nh), *w->gw, 32);
}

int route_has4(struct netlink *nl, struct in_addr dst, int prefix, const struct in_addr *gw,
	       int ifindex)
{
	struct hop_want w = {.ifindex = ifindex, .gw = gw};

	return route4_each_hop(nl, dst, prefix, hop_matches, &w);
}

int neigh_add4(struct netlink *nl, int ifindex, struct in_addr a, const unsigned char mac[6])
{
	_cleanup_neigh_ struct rtnl_neigh *neigh = NULL;
	_cleanup_addr_ struct nl_addr *dst = NULL, *ll = NULL;
	int r;

	neigh = rtnl_neigh_alloc();
	dst = addr4_build(a, 32);
	ll = nl_addr_build(AF_LLC, mac, 6);
	if (!neigh || !dst || !ll)
		return -ENOMEM;
	rtnl_neigh_set_ifindex(neigh, ifindex);
	r = nl_errno(rtnl_neigh_set_dst(neigh, dst));
	if (r < 0)
		return r;
	rtnl_neigh_set_lladdr(neigh, ll);
	rtnl_neigh_set_state(neigh, NUD_PERMANENT);
	return nl_errno(rtnl_neigh_add(nl->sk, neigh, NLM_F_CREATE | NLM_F_REPLACE));
}

static int hop_ifindex(struct rtnl_nexthop *nh, void *ctx)
{
	*(int *)ctx = rtnl_route_nh_get_ifindex(nh);
	return 1;
}

int uplink_mtu(struct netlink *nl, int *mtu)
{
	struct in_addr any = {0};
	struct link_info info;
	int ifindex = 0, r;

	r = route4_each_hop(nl, any, 0, hop_ifindex, &ifindex);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = link_get_by_index(nl, ifindex, &info);
	if (r < 0)
		return r;
	*mtu = info.mtu;
	return 0;
}
