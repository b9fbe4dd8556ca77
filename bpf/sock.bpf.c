// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup socket programs: ClusterIP load balancing for host-namespace clients. */
#include <stdbool.h>

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define SL_MAPS_SOCK /* this object owns sl_sock4 (lib/maps.h) */
#include "lib/consts.h"
#include "lib/events.h"
#include "lib/hostport.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "sluice/abi.h"

#define SOCK_PASS	  1 /* cgroup sock_addr verdicts */
#define SOCK_DENY	  0
#define SOCK_ECONNREFUSED 111

/*
 * A host-namespace socket never crosses a pod veth, so the tc datapath cannot
 * translate it: the address is rewritten where the application names it.
 * connect4 (TCP, connected UDP) and sendmsg4 (unconnected UDP) pick a backend
 * from the same sl_svc4/sl_be4 the tc datapath uses; recvmsg4 and getpeername4
 * undo the rewrite for the application through sl_sock4.
 *
 * No usable backend (count 0, or a port the ClusterIP does not have): the
 * call fails with ECONNREFUSED, as an ICMP port-unreachable makes it fail for
 * a pod client. A bare "return 0" would give EPERM; bpf_set_retval() sets the
 * error the syscall returns instead. internalTrafficPolicy=Local without a
 * local endpoint (SL_SVC_F_DROP_EMPTY, a drop for packets) is refused the same
 * way: letting the connect through would send it to the VIP unrewritten, to
 * whatever the node's routes say, and a socket has no "drop" to wait out.
 *
 * The cgroup (the root by default) holds pods' sockets too, and those are
 * translated by the tc datapath on their veth already: a socket outside the
 * agent's network namespace is left alone unless lb_pods asks for
 * socket-level LB for pods as well. Set by the loader; host_netns_cookie 0
 * (a kernel without SO_NETNS_COOKIE) filters nothing.
 */

const volatile __u64 host_netns_cookie = 0;
const volatile __u8 lb_pods = 0;

/* Whether this socket is the agent's to translate. */
static __always_inline bool sock4_ours(struct bpf_sock_addr *ctx)
{
	return lb_pods || !host_netns_cookie || bpf_get_netns_cookie(ctx) == host_netns_cookie;
}

static __always_inline int sock4_reject(void)
{
	bpf_set_retval(-SOCK_ECONNREFUSED);
	return SOCK_DENY;
}

/* The backend an unconnected UDP socket already sends this VIP to, while it
 * exists; NULL when a new choice is due. */
static __always_inline const struct sl_be_val *
sock4_backend_kept(__u64 cookie, const struct sl_svc_key *key, __u32 *id)
{
	struct sl_sock_key fkey = {
	    .cookie = cookie, .ip = key->vip, .port = key->port, .dir = SL_SOCK_FWD};
	const struct sl_sock_val *fwd;
	const struct sl_be_val *be;
	struct sl_be_key bkey = {};

	fwd = bpf_map_lookup_elem(&sl_sock4, &fkey);
	if (!fwd)
		return NULL;
	bkey.id = fwd->backend_id;
	be = bpf_map_lookup_elem(&sl_be4, &bkey);
	if (!be || be->ip != fwd->ip || be->port != fwd->port)
		return NULL;
	*id = bkey.id;
	return be;
}

/* Points ctx at be (backend id) instead of key's address, remembering both
 * ways in sl_sock4 for the socket (cookie). */
static __always_inline void sock4_rewrite(struct bpf_sock_addr *ctx, __u64 cookie,
					  const struct sl_svc_key *key, const struct sl_be_val *be,
					  __u32 id)
{
	struct sl_sock_key rkey = {};
	struct sl_sock_val rval = {};

	rkey.cookie = cookie;
	rkey.ip = be->ip;
	rkey.port = be->port;
	rkey.dir = SL_SOCK_REV;
	rval.ip = key->vip;
	rval.port = key->port;
	bpf_map_update_elem(&sl_sock4, &rkey, &rval, BPF_ANY);
	rkey.ip = key->vip;
	rkey.port = key->port;
	rkey.dir = SL_SOCK_FWD;
	rval.ip = be->ip;
	rval.port = be->port;
	rval.backend_id = id;
	bpf_map_update_elem(&sl_sock4, &rkey, &rval, BPF_ANY);
	ctx->user_ip4 = be->ip;
	ctx->user_port = (__u32)be->port;
}

/* A hostPort of a pod of this node (lib/hostport.h): the socket talks to the
 * pod. A mapping without hostIP serves the node's addresses only: loopback,
 * or for connect4 one the socket can bind to (bpf_bind() fails with
 * EADDRNOTAVAIL for an address that is not the node's); an unconnected UDP
 * socket reaches it through loopback or the hostIP. */
static __always_inline int sock4_hostport(struct bpf_sock_addr *ctx, const struct sl_svc_key *key,
					  bool keep)
{
	const struct sl_hport_val *v;
	struct sl_be_val be = {};
	bool any = false;

	v = hp4_lookup(key->vip, key->port, key->proto, &any);
	if (!v)
		return SOCK_PASS;
	be.ip = v->pod_ip;
	be.port = v->pod_port;
	if (any && (bpf_ntohl(key->vip) >> 24) != 127) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = key->vip};

		if (keep || bpf_bind(ctx, (struct sockaddr *)&sa, sizeof(sa)))
			return SOCK_PASS;
	}
	sock4_rewrite(ctx, bpf_get_socket_cookie(ctx), key, &be, 0);
	return SOCK_PASS;
}

/* Rewrites the destination of ctx when it is a ClusterIP:port or a
 * hostPort. keep: reuse the socket's earlier choice (sendmsg4); connect4
 * always chooses anew. */
static __always_inline int sock4_xlate(struct bpf_sock_addr *ctx, bool keep)
{
	struct sl_svc_key key = {};
	const struct sl_svc_val *svc;
	const struct sl_be_val *be = NULL;
	__u64 cookie;
	__u32 id = 0;

	if (ctx->user_family != AF_INET || !sock4_ours(ctx))
		return SOCK_PASS;
	key.vip = ctx->user_ip4;
	key.port = (__be16)ctx->user_port;
	key.proto = (__u8)ctx->protocol;
	svc = bpf_map_lookup_elem(&sl_svc4, &key);
	if (!svc) {
		/* A ClusterIP on a port its Service does not have. */
		struct sl_svc_key vkey = {.vip = key.vip};

		svc = bpf_map_lookup_elem(&sl_svc4, &vkey);
		if (svc && (svc->flags & SL_SVC_F_VIP))
			return sock4_reject();
		return sock4_hostport(ctx, &key, keep);
	}
	if (svc->count == 0)
		return sock4_reject();
	cookie = bpf_get_socket_cookie(ctx);
	if (keep)
		be = sock4_backend_kept(cookie, &key, &id);
	/* Host clients are one client (the node) and have no source address
	 * yet at connect time: their affinity key is client 0, which no pod
	 * address can be. */
	if (!be) {
		struct l4_tuple t = {.daddr = key.vip, .dport = key.port, .proto = key.proto};

		be =
		    lb4_backend_choose(key.vip, key.port, key.proto, SL_SVC_SCOPE_INT, svc, 0, &id);
		if (be) /* a new flow of the node (source 0.0.0.0: not bound yet) */
			events_flow(&t, svc->id, id, be);
	}
	if (!be)
		return sock4_reject();
	sock4_rewrite(ctx, cookie, &key, be, id);
	return SOCK_PASS;
}

/* Shows the VIP instead of the backend the socket talks to. */
static __always_inline int sock4_unxlate(struct bpf_sock_addr *ctx)
{
	struct sl_sock_key rkey = {};
	const struct sl_sock_val *rval;

	if (ctx->user_family != AF_INET)
		return SOCK_PASS;
	rkey.cookie = bpf_get_socket_cookie(ctx);
	rkey.ip = ctx->user_ip4;
	rkey.port = (__be16)ctx->user_port;
	rkey.dir = SL_SOCK_REV;
	rval = bpf_map_lookup_elem(&sl_sock4, &rkey);
	if (!rval)
		return SOCK_PASS;
	ctx->user_ip4 = rval->ip;
	ctx->user_port = (__u32)rval->port;
	return SOCK_PASS;
}

SEC("cgroup/connect4")
int sl_sock_conn4(struct bpf_sock_addr *ctx)
{
	return sock4_xlate(ctx, false);
}

SEC("cgroup/sendmsg4")
int sl_sock_send4(struct bpf_sock_addr *ctx)
{
	return sock4_xlate(ctx, true);
}

SEC("cgroup/recvmsg4")
int sl_sock_recv4(struct bpf_sock_addr *ctx)
{
	return sock4_unxlate(ctx);
}

SEC("cgroup/getpeername4")
int sl_sock_peer4(struct bpf_sock_addr *ctx)
{
	return sock4_unxlate(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
