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

/* -ENODEV if there is no such link. */
int link_get(const char *name, struct link_info *out);
int link_get_by_index(int ifindex, struct link_info *out);
/* Calls fn for every link; stops at and returns fn's first non-zero value. */
int link_foreach(int (*fn)(const struct link_info *link, void *ctx), void *ctx);
/* Creates host <-> peer, the peer directly inside the netns peer_ns_fd, both
 * with mtu; peer_mac may be NULL (kernel picks one). */
int veth_create(const char *host, const char *peer, int peer_ns_fd, int mtu,
		const unsigned char *peer_mac);
int link_set_up(int ifindex);
/* A missing link is success. */
int link_delete(const char *name);

int addr_add4(int ifindex, struct in_addr addr, int prefix);
/* 1 if present, 0 if not. */
int addr_has4(int ifindex, struct in_addr addr, int prefix);
/* Main table; gw NULL makes it a scope-link route. Replaces an existing one. */
int route_add4(struct in_addr dst, int prefix, const struct in_addr *gw, int ifindex);
/* 1 if a main-table route dst/prefix via gw (if given) dev ifindex exists. */
int route_has4(struct in_addr dst, int prefix, const struct in_addr *gw, int ifindex);
/* A permanent neighbour entry addr -> mac on ifindex (replaces). */
int neigh_add4(int ifindex, struct in_addr addr, const unsigned char mac[6]);
/* MTU of the device of the IPv4 default route; -ENOENT if there is none. */
int uplink_mtu(int *mtu);

#endif
