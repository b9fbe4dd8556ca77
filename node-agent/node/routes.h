/* SPDX-License-Identifier: Apache-2.0 */
/* Routes to other nodes' pod CIDRs in the node's netns, tagged with sluice's own protocol number.
 */
#ifndef SLUICE_AGENT_ROUTES_H
#define SLUICE_AGENT_ROUTES_H

#include <stddef.h>
#include <sys/types.h>

#include <linux/types.h>

#define SL_RTPROT 0x53 /* "sluice": we only ever touch routes with this protocol */

/* pod CIDR of another node via its InternalIP */
struct route_want {
	__be32 dst;
	__u8 prefix_len;
	__be32 via;
};

struct routes_report {
	int added, replaced, deleted, skipped;
	char why[8][96]; /* the first skipped routes, with the reason */
};

/* Makes the node netns's routes tagged with protocol SL_RTPROT equal to want:
 * adds missing, replaces changed, deletes stale; a next-hop not on-link (no
 * connected route covering via) is skipped and reported in rep (rep->why[i]
 * with the reason) so the caller logs it. */
int routes_sync(const struct route_want *want, size_t n, struct routes_report *rep);

struct route_have;
/* The routes of the node netns tagged SL_RTPROT, as the kernel has them now
 * (malloc'd; the caller frees *out). */
int routes_list(struct route_have **out, size_t *n);

/* What the node's routing table says about one destination (ip route get). */
struct route_hit {
	int type;   /* RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE, ... */
	__be32 via; /* 0: on-link */
	int ifindex;
};
int routes_get(__be32 dst, struct route_hit *out);

/* One IPv4 address of the node's netns and the interface holding it. */
struct node_addr {
	__be32 ip;
	int ifindex;
};

/* The node's own IPv4 addresses but loopback ones (the local table's /32
 * local routes), at most max, in out; how many, or -errno. The interfaces
 * holding them are the node's uplinks. */
int node_addrs_read(struct node_addr *out, size_t max);

/* --- the pure part of routes_sync, exposed for its unit tests -------------- */

/* One IPv4 route of the main table as the kernel has it. */
struct route_have {
	__be32 dst;
	__u8 prefix_len;
	__be32 via; /* 0: no gateway */
	int ifindex;
	__u32 priority;
};

enum route_op_kind { ROUTE_OP_ADD, ROUTE_OP_REPLACE, ROUTE_OP_DELETE, ROUTE_OP_SKIP };

struct route_op {
	enum route_op_kind kind;
	struct route_have r; /* ADD/REPLACE: the route to write; DELETE: ours to remove */
	char why[96];	     /* SKIP: the reason */
};

/* The kernel's view routes_plan works from: our routes (protocol SL_RTPROT),
 * the connected routes (scope link, no gateway, usable) and the node's own
 * addresses. */
struct routes_view {
	const struct route_have *ours, *connected;
	const __be32 *local;
	size_t n_ours, n_connected, n_local;
};

/* The operations that make ours equal to want: at most one per wanted route
 * (ADD, REPLACE or SKIP; none when already right) and one DELETE per route of
 * ours that is not wanted. ops must hold n + v->n_ours entries. Returns the
 * number of ops written (ADD/REPLACE/SKIP first, DELETEs last) or -ENOMEM. */
ssize_t routes_plan(const struct route_want *want, size_t n, const struct routes_view *v,
		    struct route_op *ops);

#endif
