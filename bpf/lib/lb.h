/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ClusterIP load balancing: backend selection with conntrack and affinity,
 * DNAT to the backend, reverse NAT of its replies, reject of empty services. */
#ifndef SL_LIB_LB_H
#define SL_LIB_LB_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/ct.h"
#include "lib/icmp.h"
#include "lib/l4.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "sluice/abi.h"

#define NS_PER_SEC 1000000000ull

/* The sl_svc4 entry {vip, port, proto, scope, slot}. */
static __always_inline const struct sl_svc_val *
lb4_svc_lookup_scope(__be32 vip, __be16 port, __u8 proto, __u8 scope, __u16 slot)
{
	struct sl_svc_key key = {};

	key.vip = vip;
	key.port = port;
	key.proto = proto;
	key.scope = scope;
	key.slot = slot;
	return bpf_map_lookup_elem(&sl_svc4, &key);
}

/* The same in scope SL_SVC_SCOPE_INT: what pods and the node's sockets see. */
static __always_inline const struct sl_svc_val *lb4_svc_lookup(__be32 vip, __be16 port, __u8 proto,
							       __u16 slot)
{
	return lb4_svc_lookup_scope(vip, port, proto, SL_SVC_SCOPE_INT, slot);
}

static __always_inline const struct sl_be_val *lb4_be_lookup(__u32 id)
{
	struct sl_be_key key = {};

	key.id = id;
	return bpf_map_lookup_elem(&sl_be4, &key);
}

/* A reply of a load-balanced flow (ct, the entry of t's tuple, a Service
 * reply entry): its source becomes the service's VIP and port, and after a
 * hairpin its destination the real client again. 0 when t is no such reply,
 * SL_PATH_REVNAT once rewritten, -SL_DROP_* on failure. */
static __always_inline int lb4_rev_nat(struct __sk_buff *skb, struct l4_tuple *t,
				       struct sl_ct_val *ct)
{
	struct l4_tuple to = *t;
	int ret;

	if (!ct || (ct->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)) != SL_CT_F_REPLY)
		return 0;
	ct4_touch(ct, t->tcp_flags);
	to.saddr = ct->nat_ip;
	to.sport = ct->nat_port;
	if (ct->flags & SL_CT_F_HAIRPIN)
		to.daddr = ct->client_ip;
	ret = nat4_rewrite(skb, t, &to);
	return ret ? ret : SL_PATH_REVNAT;
}

/* Whether ct, the entry of t's tuple, is a Service flow's forward entry t
 * continues: not a TCP SYN opening a new connection on the old tuple (whose
 * reply entry is then forgotten, lest it revive the old flow), and for UDP
 * the backend still there. TCP and SCTP trust their entry: a connection to a
 * vanished backend fails and the client's next one is balanced anew; a UDP
 * flow has no such end, so a datagram checks its backend is still there at
 * the same address (one lookup). */
static __always_inline bool lb4_ct_continues(const struct l4_tuple *t, struct sl_ct_val *ct)
{
	if (!ct || (ct->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)))
		return false;
	if (ct4_opens(t)) {
		ct4_forget_reply(t, ct->nat_ip, ct->nat_port,
				 ct->flags & SL_CT_F_HAIRPIN ? bpf_htonl(SL_SVC_LOOPBACK4)
							     : t->saddr);
		return false;
	}
	if (t->proto == IPPROTO_UDP && (ct->flags & SL_CT_F_HOSTPORT)) {
		/* a hostPort flow: its pod still an endpoint of this node */
		struct sl_ep_key key = {.ip = ct->nat_ip};

		if (!bpf_map_lookup_elem(&sl_ep4, &key))
			return false;
	} else if (t->proto == IPPROTO_UDP) {
		/* gone, or its id now names another address (ids are reused) */
		const struct sl_be_val *be = lb4_be_lookup(ct->backend_id);

		if (!be || be->ip != ct->nat_ip || be->port != ct->nat_port)
			return false;
	}
	ct4_touch(ct, t->tcp_flags);
	return true;
}

/* The backend sessionAffinity keeps for client at svc, if still fresh and present. */
static __always_inline const struct sl_be_val *
lb4_aff_backend(__be32 client, const struct sl_svc_val *svc, __u32 *be_id)
{
	struct sl_aff_key key = {};
	const struct sl_aff_val *aff;
	const struct sl_be_val *be;

	key.client = client;
	key.svc_id = svc->id;
	aff = bpf_map_lookup_elem(&sl_aff4, &key);
	if (!aff || bpf_ktime_get_ns() - aff->last_used_ns > svc->affinity_timeout * NS_PER_SEC)
		return NULL;
	be = lb4_be_lookup(aff->backend_id);
	if (be)
		*be_id = aff->backend_id;
	return be;
}

static __always_inline void lb4_aff_update(__be32 client, __u32 svc_id, __u32 be_id)
{
	struct sl_aff_key key = {};
	struct sl_aff_val val = {};

	key.client = client;
	key.svc_id = svc_id;
	val.last_used_ns = bpf_ktime_get_ns();
	val.backend_id = be_id;
	bpf_map_update_elem(&sl_aff4, &key, &val, BPF_ANY);
}

/* The one backend choice of the datapath, for the tc programs (lb4_select)
 * and the socket programs (sock.bpf.c) alike: for a new flow of client to the
 * service port {vip, port, proto} with master svc (count > 0), the backend
 * sessionAffinity keeps while fresh, else a random slot's of the service
 * port's scope (SL_SVC_SCOPE_*); the affinity entry
 * is refreshed or recorded. NULL when the slot or its backend is missing. */
static __always_inline const struct sl_be_val *lb4_backend_choose(__be32 vip, __be16 port,
								  __u8 proto, __u8 scope,
								  const struct sl_svc_val *svc,
								  __be32 client, __u32 *be_id)
{
	const struct sl_be_val *be = NULL;
	const struct sl_svc_val *slot;

	if (svc->flags & SL_SVC_F_AFFINITY)
		be = lb4_aff_backend(client, svc, be_id);
	if (!be) {
		slot = lb4_svc_lookup_scope(vip, port, proto, scope,
					    (bpf_get_prandom_u32() % svc->count) + 1);
		if (!slot)
			return NULL;
		be = lb4_be_lookup(slot->id);
		if (!be)
			return NULL;
		*be_id = slot->id;
	}
	if (svc->flags & SL_SVC_F_AFFINITY)
		lb4_aff_update(client, svc->id, *be_id);
	return be;
}

/* DNAT of t's packet (and t) to be, from the loopback address when the
 * backend is the client itself (hairpin): nat4_rewrite's result. */
static __always_inline int lb4_dnat(struct __sk_buff *skb, struct l4_tuple *t,
				    const struct sl_be_val *be, bool hairpin)
{
	struct l4_tuple to = *t;

	to.daddr = be->ip;
	to.dport = be->port;
	if (hairpin)
		to.saddr = bpf_htonl(SL_SVC_LOOPBACK4);
	return nat4_rewrite(skb, t, &to);
}

/* The two conntrack entries of the new flow t of service port svc_id to
 * backend out (be_id), for the caller to write once the flow is allowed:
 * the forward one keyed by t, the reply one by the backend's answer. */
static __always_inline void lb4_pair_fill(const struct l4_tuple *t, __u32 svc_id,
					  const struct sl_be_val *out, __u32 be_id, bool hairpin,
					  struct ct4_pair *p)
{
	p->fwd = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto);
	p->rep =
	    ct4_reply_key(t, out->ip, out->port, hairpin ? bpf_htonl(SL_SVC_LOOPBACK4) : t->saddr);
	p->fv.last_seen_ns = ct4_now();
	p->fv.backend_id = be_id;
	p->fv.svc_id = svc_id;
	p->fv.client_ip = t->saddr;
	p->fv.tcp_flags = t->tcp_flags;
	p->fv.flags = hairpin ? SL_CT_F_HAIRPIN : 0;
	p->rv = p->fv;
	p->fv.nat_ip = out->ip;
	p->fv.nat_port = out->port;
	p->rv.nat_ip = t->daddr;
	p->rv.nat_port = t->dport;
	p->rv.flags |= SL_CT_F_REPLY;
}

/* Picks a backend for a new flow to the service port svc (and records
 * affinity); the flow's two conntrack entries go to p, for the caller to
 * write once the flow is allowed. Says whether the flow hairpins. */
static __always_inline int lb4_select(struct l4_tuple *t, const struct sl_svc_val *svc,
				      struct sl_be_val *out, bool *hairpin, struct ct4_pair *p)
{
	const struct sl_be_val *be;
	__u32 be_id = 0;

	be = lb4_backend_choose(t->daddr, t->dport, t->proto, SL_SVC_SCOPE_INT, svc, t->saddr,
				&be_id);
	if (!be)
		return -SL_DROP_BACKEND_MISSING;
	*out = *be;
	*hairpin = be->ip == t->saddr;
	lb4_pair_fill(t, svc->id, out, be_id, *hairpin, p);
	return 0;
}

/* A packet from a pod to a service: DNAT to the flow's backend, from ct (the
 * entry of t's tuple, or NULL) when it continues a flow, else chosen anew
 * with the new flow's entries in p. 0 when t goes to no service,
 * SL_PATH_SVC_NEW/SVC_CT once rewritten, SL_PATH_SVC_REJECT with *verdict
 * set when answered by ICMP, -SL_DROP_* on failure. */
static __always_inline int lb4_service(struct __sk_buff *skb, struct l4_tuple *t,
				       struct sl_ct_val *ct, struct ct4_pair *p, int *verdict)
{
	const struct sl_svc_val *svc;
	struct sl_be_val be;
	__u16 marker_flags;
	bool hairpin;
	int path, ret;
	__u32 svc_id;

	if (lb4_ct_continues(t, ct)) {
		be.ip = ct->nat_ip;
		be.port = ct->nat_port;
		hairpin = ct->flags & SL_CT_F_HAIRPIN;
		svc_id = ct->svc_id;
		path = SL_PATH_SVC_CT;
	} else {
		/* The marker first: most pod traffic is to no Service, and
		 * pays one lookup here instead of two. */
		svc = lb4_svc_lookup(t->daddr, 0, 0, 0);
		if (!svc)
			return 0; /* not a ClusterIP, external IP or node address */
		marker_flags = svc->flags;
		svc = lb4_svc_lookup(t->daddr, t->dport, t->proto, 0);
		if (!svc && (marker_flags & SL_SVC_F_NODEIP))
			return 0; /* the node's other ports are the node's */
		if (!svc)
			return icmp4_reject(skb, verdict); /* a port the Service lacks */
		if (svc->count == 0) {
			if (svc->flags & SL_SVC_F_DROP_EMPTY)
				return -SL_DROP_NO_LOCAL_BACKEND;
			return icmp4_reject(skb, verdict);
		}
		ret = lb4_select(t, svc, &be, &hairpin, p);
		if (ret)
			return ret;
		svc_id = svc->id;
		path = SL_PATH_SVC_NEW;
	}
	ret = lb4_dnat(skb, t, &be, hairpin);
	if (ret)
		return ret;
	metrics_svc_count(svc_id, path == SL_PATH_SVC_NEW, skb->len);
	return path;
}

#endif
