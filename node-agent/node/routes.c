// SPDX-License-Identifier: Apache-2.0
/* Routes to other nodes' pod CIDRs, and the node's own addresses (libnl-route-3); only routes
 * tagged SL_RTPROT are touched. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>

#include "cleanup.h"
#include "nl_util.h"
#include "routes.h"

/* --- the plan (pure) ------------------------------------------------------ */

/* Defined for every len: over 32 (refused by the callers) reads as 32. */
static __be32 prefix_mask(__u8 len)
{
	return len ? htonl(~0u << (32 - (len < 32 ? len : 32))) : 0;
}

static bool prefix_covers(__be32 net, __u8 len, __be32 ip)
{
	return len <= 32 && ((ip ^ net) & prefix_mask(len)) == 0;
}

static void cidr_format(__be32 dst, __u8 len, char *out, size_t size)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	snprintf(out, size, "%s/%u", ip, len);
}

static void ip_format(__be32 a, char out[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* The connected route with the longest prefix covering ip, or NULL. */
static const struct route_have *connected_find(const struct routes_view *v, __be32 ip)
{
	const struct route_have *best = NULL;

	for (size_t i = 0; i < v->n_connected; i++) {
		const struct route_have *c = &v->connected[i];

		if (prefix_covers(c->dst, c->prefix_len, ip) &&
		    (!best || c->prefix_len > best->prefix_len))
			best = c;
	}
	return best;
}

static bool local_has(const struct routes_view *v, __be32 ip)
{
	for (size_t i = 0; i < v->n_local; i++)
		if (v->local[i] == ip)
			return true;
	return false;
}

/* Why want[i] cannot be installed (NULL if it can); sets *oif to the link of its next hop. */
static const char *want_check(const struct route_want *want, size_t i, const struct routes_view *v,
			      int *oif, char *why, size_t size)
{
	const struct route_want *w = &want[i];
	char cidr[INET_ADDRSTRLEN + 4], via[INET_ADDRSTRLEN];
	const struct route_have *c;
	__be32 dst = w->dst & prefix_mask(w->prefix_len);

	if (w->prefix_len > 32) {
		ip_format(w->dst, via);
		snprintf(why, size, "%s/%u: prefix length over 32", via, w->prefix_len);
		return why;
	}
	cidr_format(dst, w->prefix_len, cidr, sizeof(cidr));
	ip_format(w->via, via);
	for (size_t j = 0; j < i; j++) {
		if (want[j].prefix_len == w->prefix_len &&
		    (want[j].dst & prefix_mask(w->prefix_len)) == dst) {
			char first[INET_ADDRSTRLEN];

			ip_format(want[j].via, first);
			snprintf(why, size, "%s via %s: duplicate of the route via %s", cidr, via,
				 first);
			return why;
		}
	}
	if (!w->via) {
		snprintf(why, size, "%s: no next hop", cidr);
		return why;
	}
	if (local_has(v, w->via)) {
		snprintf(why, size, "%s: next hop %s is this node's own address", cidr, via);
		return why;
	}
	c = connected_find(v, w->via);
	if (!c) {
		snprintf(why, size, "%s: next hop %s is not on-link (no connected route covers it)",
			 cidr, via);
		return why;
	}
	*oif = c->ifindex;
	return NULL;
}

ssize_t routes_plan(const struct route_want *want, size_t n, const struct routes_view *v,
		    struct route_op *ops)
{
	_cleanup_free_ bool *used = calloc(v->n_ours ? v->n_ours : 1, sizeof(*used));
	size_t n_ops = 0;

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct route_op *op = &ops[n_ops];
		const struct route_have *have = NULL;
		int oif = 0;

		memset(op, 0, sizeof(*op));
		if (want_check(want, i, v, &oif, op->why, sizeof(op->why))) {
			op->kind = ROUTE_OP_SKIP;
			op->r.dst = want[i].dst;
			op->r.prefix_len = want[i].prefix_len;
			op->r.via = want[i].via;
			n_ops++;
			continue;
		}
		op->r = (struct route_have){.dst = want[i].dst & prefix_mask(want[i].prefix_len),
					    .prefix_len = want[i].prefix_len,
					    .via = want[i].via,
					    .ifindex = oif};
		for (size_t j = 0; j < v->n_ours && !have; j++) {
			const struct route_have *h = &v->ours[j];

			if (!used[j] && h->dst == op->r.dst && h->prefix_len == op->r.prefix_len &&
			    !h->priority) {
				used[j] = true;
				have = h;
			}
		}
		if (!have) {
			op->kind = ROUTE_OP_ADD;
			n_ops++;
		} else if (have->via != op->r.via || have->ifindex != op->r.ifindex) {
			op->kind = ROUTE_OP_REPLACE;
			n_ops++;
		}
	}
	for (size_t j = 0; j < v->n_ours; j++) {
		if (used[j])
			continue;
		memset(&ops[n_ops], 0, sizeof(ops[n_ops]));
		ops[n_ops].kind = ROUTE_OP_DELETE;
		ops[n_ops].r = v->ours[j];
		n_ops++;
	}
	return (ssize_t)n_ops;
}

/* --- the kernel (libnl) ----------------------------------------------------- */

/* A growable array of route_have / addresses. */
struct have_vec {
	struct route_have *v;
	size_t n, cap;
};
struct addr_vec {
	__be32 *v;
	size_t n, cap;
};

static int vec_grow(void **v, size_t *cap, size_t n, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(*v, *cap * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

static int have_push(struct have_vec *h, const struct route_have *r)
{
	int e = vec_grow((void **)&h->v, &h->cap, h->n, sizeof(*h->v));

	if (e < 0)
		return e;
	h->v[h->n++] = *r;
	return 0;
}

static int addr_push(struct addr_vec *a, __be32 ip)
{
	int e = vec_grow((void **)&a->v, &a->cap, a->n, sizeof(*a->v));

	if (e < 0)
		return e;
	a->v[a->n++] = ip;
	return 0;
}

/* An IPv4 nl_addr's address (0 for the default route's empty one). */
static bool addr4_get(struct nl_addr *a, __be32 *out)
{
	*out = 0;
	if (!a || nl_addr_get_family(a) != AF_INET)
		return false;
	if (nl_addr_get_len(a) == 4)
		memcpy(out, nl_addr_get_binary_addr(a), 4);
	return nl_addr_get_len(a) == 4 || nl_addr_get_len(a) == 0;
}

struct view_read {
	struct have_vec ours, connected;
	struct addr_vec local;
	int err;
};

static void view_read_free(struct view_read *vr)
{
	free(vr->ours.v);
	free(vr->connected.v);
	free(vr->local.v);
}

static void route_classify(struct nl_object *o, void *arg)
{
	struct rtnl_route *route = (struct rtnl_route *)o;
	struct view_read *vr = arg;
	struct route_have h = {};
	struct rtnl_nexthop *nh;
	__be32 gw = 0;

	if (vr->err || rtnl_route_get_family(route) != AF_INET ||
	    !addr4_get(rtnl_route_get_dst(route), &h.dst))
		return;
	h.prefix_len = nl_addr_get_prefixlen(rtnl_route_get_dst(route));
	h.priority = rtnl_route_get_priority(route);
	if (rtnl_route_get_table(route) == RT_TABLE_LOCAL &&
	    rtnl_route_get_type(route) == RTN_LOCAL) {
		if (h.prefix_len == 32)
			vr->err = addr_push(&vr->local, h.dst);
		return;
	}
	if (rtnl_route_get_table(route) != RT_TABLE_MAIN ||
	    rtnl_route_get_type(route) != RTN_UNICAST)
		return;
	nh = rtnl_route_get_nnexthops(route) == 1 ? rtnl_route_nexthop_n(route, 0) : NULL;
	if (nh) {
		h.ifindex = rtnl_route_nh_get_ifindex(nh);
		addr4_get(rtnl_route_nh_get_gateway(nh), &gw);
		h.via = gw;
	}
	if (rtnl_route_get_protocol(route) == SL_RTPROT) {
		vr->err = have_push(&vr->ours, &h);
		return;
	}
	if (nh && !gw && h.ifindex > 0 && rtnl_route_get_scope(route) == RT_SCOPE_LINK &&
	    !(rtnl_route_nh_get_flags(nh) & (RTNH_F_DEAD | RTNH_F_LINKDOWN)))
		vr->err = have_push(&vr->connected, &h);
}

static int route_build(const struct route_have *h, bool for_delete, struct rtnl_route **out)
{
	_cleanup_route_ struct rtnl_route *route = rtnl_route_alloc();
	_cleanup_addr_ struct nl_addr *dst = nl_addr_build(AF_INET, &h->dst, 4);
	_cleanup_addr_ struct nl_addr *gw = nl_addr_build(AF_INET, &h->via, 4);
	struct rtnl_nexthop *nh;
	int r;

	if (!route || !dst || !gw)
		return -ENOMEM;
	nl_addr_set_prefixlen(dst, h->prefix_len);
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, SL_RTPROT);
	rtnl_route_set_type(route, RTN_UNICAST);
	rtnl_route_set_priority(route, h->priority);
	r = nl_errno(rtnl_route_set_dst(route, dst));
	if (r < 0)
		return r;
	if (for_delete) {
		rtnl_route_set_scope(
		    route, RT_SCOPE_NOWHERE); /* any scope; protocol + dst + priority pick ours */
	} else {
		rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
		nh = rtnl_route_nh_alloc();
		if (!nh)
			return -ENOMEM;
		rtnl_route_nh_set_ifindex(nh, h->ifindex);
		rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(route, nh); /* route owns nh from here */
	}
	*out = route;
	route = NULL;
	return 0;
}

static void report_why(struct routes_report *rep, const char *why)
{
	if (rep->skipped < (int)(sizeof(rep->why) / sizeof(rep->why[0])))
		snprintf(rep->why[rep->skipped], sizeof(rep->why[0]), "%s", why);
	rep->skipped++;
}

/* Applies one op; a failure is reported as skipped with the kernel's reason. */
static void op_apply(struct nl_sock *sk, const struct route_op *op, struct routes_report *rep)
{
	static const struct {
		const char *verb;
		int flags;
	} how[] = {[ROUTE_OP_ADD] = {"add", NLM_F_EXCL},
		   [ROUTE_OP_REPLACE] = {"replace", NLM_F_REPLACE},
		   [ROUTE_OP_DELETE] = {"delete", 0}};
	_cleanup_route_ struct rtnl_route *route = NULL;
	char cidr[INET_ADDRSTRLEN + 4], via[INET_ADDRSTRLEN], why[96];
	int nlerr, r;

	if (op->kind == ROUTE_OP_SKIP) {
		report_why(rep, op->why);
		return;
	}
	cidr_format(op->r.dst, op->r.prefix_len, cidr, sizeof(cidr));
	ip_format(op->r.via, via);
	r = route_build(&op->r, op->kind == ROUTE_OP_DELETE, &route);
	if (r < 0) {
		snprintf(why, sizeof(why), "%s via %s: %s", cidr, via, strerror(-r));
		report_why(rep, why);
		return;
	}
	if (op->kind == ROUTE_OP_DELETE)
		nlerr = rtnl_route_delete(sk, route, 0);
	else
		nlerr = rtnl_route_add(sk, route, how[op->kind].flags);
	r = nl_errno(nlerr);
	if (r == -ENOENT && op->kind == ROUTE_OP_DELETE)
		return; /* already gone */
	if (r == -EEXIST && op->kind == ROUTE_OP_ADD) {
		snprintf(why, sizeof(why), "%s: a route sluice does not own is in the way", cidr);
		report_why(rep, why);
		return;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "%s via %s: failed to %s: %s", cidr, via,
			 how[op->kind].verb, nl_geterror(nlerr));
		report_why(rep, why);
		return;
	}
	if (op->kind == ROUTE_OP_ADD)
		rep->added++;
	else if (op->kind == ROUTE_OP_REPLACE)
		rep->replaced++;
	else
		rep->deleted++;
}

struct addrs_read {
	struct node_addr *out;
	size_t max, n;
};

static void addr_classify(struct nl_object *o, void *arg)
{
	struct rtnl_route *route = (struct rtnl_route *)o;
	struct addrs_read *ar = arg;
	struct rtnl_nexthop *nh;
	__be32 ip;

	if (rtnl_route_get_family(route) != AF_INET ||
	    rtnl_route_get_table(route) != RT_TABLE_LOCAL ||
	    rtnl_route_get_type(route) != RTN_LOCAL || !addr4_get(rtnl_route_get_dst(route), &ip) ||
	    nl_addr_get_prefixlen(rtnl_route_get_dst(route)) != 32 || (ntohl(ip) >> 24) == 127 ||
	    rtnl_route_get_nnexthops(route) != 1 || ar->n == ar->max)
		return;
	nh = rtnl_route_nexthop_n(route, 0);
	ar->out[ar->n++] = (struct node_addr){.ip = ip, .ifindex = rtnl_route_nh_get_ifindex(nh)};
}

/* Connects sk (NULL: allocation failed) and reads the netns' IPv4 routes, every table. */
static int route_cache_load(struct nl_sock *sk, struct nl_cache **cache)
{
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_errno(nl_connect(sk, NETLINK_ROUTE));
	if (r < 0)
		return r;
	return nl_errno(rtnl_route_alloc_cache(sk, AF_INET, 0, cache));
}

int node_addrs_read(struct node_addr *out, size_t max)
{
	_cleanup_sock_ struct nl_sock *sk = nl_socket_alloc();
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct addrs_read ar = {.out = out, .max = max};
	int r;

	r = route_cache_load(sk, &cache);
	if (r < 0)
		return r;
	nl_cache_foreach(cache, addr_classify, &ar);
	return (int)ar.n;
}

int routes_sync(const struct route_want *want, size_t n, struct routes_report *rep)
{
	_cleanup_sock_ struct nl_sock *sk = nl_socket_alloc();
	_cleanup_cache_ struct nl_cache *cache = NULL;
	_cleanup_free_ struct route_op *ops = NULL;
	struct view_read vr __attribute__((cleanup(view_read_free))) = {};
	struct routes_view v;
	ssize_t n_ops;
	int r;

	memset(rep, 0, sizeof(*rep));
	r = route_cache_load(sk, &cache);
	if (r < 0)
		return r;
	nl_cache_foreach(cache, route_classify, &vr);
	if (vr.err < 0)
		return vr.err;
	v = (struct routes_view){.ours = vr.ours.v,
				 .n_ours = vr.ours.n,
				 .connected = vr.connected.v,
				 .n_connected = vr.connected.n,
				 .local = vr.local.v,
				 .n_local = vr.local.n};
	ops = calloc(n + vr.ours.n + 1, sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	n_ops = routes_plan(want, n, &v, ops);
	if (n_ops < 0)
		return (int)n_ops;
	for (ssize_t i = 0; i < n_ops; i++)
		op_apply(sk, &ops[i], rep);
	return 0;
}

int routes_list(struct route_have **out, size_t *n)
{
	_cleanup_sock_ struct nl_sock *sk = nl_socket_alloc();
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct view_read vr __attribute__((cleanup(view_read_free))) = {};
	int r;

	r = route_cache_load(sk, &cache);
	if (r < 0)
		return r;
	nl_cache_foreach(cache, route_classify, &vr);
	if (vr.err < 0)
		return vr.err;
	*out = vr.ours.v;
	*n = vr.ours.n;
	vr.ours.v = NULL;
	return 0;
}

struct route_get_ctx {
	struct route_hit *out;
	bool got;
};

static int route_get_parse(struct nl_msg *msg, void *arg)
{
	struct route_get_ctx *c = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct rtmsg *rtm = nlmsg_data(nlh);
	struct nlattr *tb[RTA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL))
		return NL_SKIP;
	c->out->type = rtm->rtm_type;
	if (tb[RTA_GATEWAY] && nla_len(tb[RTA_GATEWAY]) == 4)
		memcpy(&c->out->via, nla_data(tb[RTA_GATEWAY]), 4);
	if (tb[RTA_OIF])
		c->out->ifindex = (int)nla_get_u32(tb[RTA_OIF]);
	c->got = true;
	return NL_OK;
}

int routes_get(__be32 dst, struct route_hit *out)
{
	_cleanup_sock_ struct nl_sock *sk = nl_socket_alloc();
	struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_dst_len = 32};
	struct route_get_ctx c = {.out = out};
	struct nl_msg *msg;
	int r;

	memset(out, 0, sizeof(*out));
	if (!sk)
		return -ENOMEM;
	r = nl_errno(nl_connect(sk, NETLINK_ROUTE));
	if (r < 0)
		return r;
	msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST);
	if (!msg)
		return -ENOMEM;
	r = nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
	if (!r)
		r = nla_put(msg, RTA_DST, 4, &dst);
	if (!r)
		r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, route_get_parse, &c);
	if (!r)
		r = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_recvmsgs_default(sk);
	r = r < 0 ? nl_errno(r) : 0;
	if (r == -ENETUNREACH || r == -EHOSTUNREACH) {
		out->type = RTN_UNREACHABLE;
		return 0;
	}
	return r < 0 ? r : c.got ? 0 : -ENOENT;
}
