/* SPDX-License-Identifier: Apache-2.0 */
/* Links, addresses, routes and neighbours in the caller's network namespace. */
#ifndef SLUICE_CNI_NETLINK_H
#define SLUICE_CNI_NETLINK_H

#include <stdbool.h>
#include <netinet/in.h>

struct link_info {
	int ifindex;
	char name[16];
	unsigned char mac[6];
	bool up;
	bool is_veth;
	int mtu;
};

/* An rtnetlink socket in the caller's current network namespace: every call
 * below takes one and acts in the namespace it was opened in, wherever the
 * caller is now (a socket opened once inside a pod's namespace configures
 * that pod without entering it again). */
struct netlink;
int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);
static inline void netlink_closep(struct netlink **nl)
{
	netlink_close(*nl);
}
#define _cleanup_netlink_ __attribute__((cleanup(netlink_closep)))

/* -ENODEV if there is no such link. */
int link_get(struct netlink *nl, const char *name, struct link_info *out);
int link_get_by_index(struct netlink *nl, int ifindex, struct link_info *out);
/* Calls fn for every link; stops at and returns fn's first non-zero value. */
int link_foreach(struct netlink *nl, int (*fn)(const struct link_info *link, void *ctx), void *ctx);
/* Creates host <-> peer, the peer directly inside the netns peer_ns_fd, both
 * with mtu; peer_mac may be NULL (kernel picks one). */
int veth_create(struct netlink *nl, const char *host, const char *peer, int peer_ns_fd, int mtu,
		const unsigned char *peer_mac);
int link_set_up(struct netlink *nl, int ifindex);
/* A missing link is success. */
int link_delete(struct netlink *nl, const char *name);

int addr_add4(struct netlink *nl, int ifindex, struct in_addr addr, int prefix);
/* 1 if present, 0 if not. */
int addr_has4(struct netlink *nl, int ifindex, struct in_addr addr, int prefix);
/* Main table; gw NULL makes it a scope-link route. Replaces an existing one. */
int route_add4(struct netlink *nl, struct in_addr dst, int prefix, const struct in_addr *gw,
	       int ifindex);
/* 1 if a main-table route dst/prefix via gw (if given) dev ifindex exists. */
int route_has4(struct netlink *nl, struct in_addr dst, int prefix, const struct in_addr *gw,
	       int ifindex);
/* A permanent neighbour entry addr -> mac on ifindex (replaces). */
int neigh_add4(struct netlink *nl, int ifindex, struct in_addr addr, const unsigned char mac[6]);
/* MTU of the device of the IPv4 default route; -ENOENT if there is none. */
int uplink_mtu(struct netlink *nl, int *mtu);

#endif
