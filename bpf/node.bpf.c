// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The program on the node's uplink(s), tc ingress (sl_from_net): NodePorts, externalIPs and LB
 * IPs for clients outside the cluster, and the replies of its SNAT flows. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/dsr.h"
#include "lib/ep.h"
#include "lib/fwd.h"
#include "lib/hostport.h"
#include "lib/icmp.h"
#include "lib/l4.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nodeport.h"
#include "lib/parse.h"
#include "lib/pmtu.h"
#include "lib/policy.h"
#include "sluice/abi.h"

/*
 * What arrives here from outside the node:
 *  - a backend's reply to a SNAT port (sl_nat4 REV): back to the client from
 *    the frontend address, forwarded by the FIB (its source is a local
 *    address the stack would drop as a martian);
 *  - a packet to a frontend (sl_svc4 scope EXT): a flow already SNATed goes
 *    on to its backend; one to a local backend (conntrack, as ClusterIP
 *    flows) is DNATed and handed to the stack, which routes it into the
 *    pod's veth (the pod's replies are reverse-NATed by sl_from_pod); a new
 *    one is judged by NetworkPolicy here, as it opens (sl_to_pod judges it
 *    again by its reply entry when policy changes, lest it write a policy
 *    entry over that), and gets its backend by externalTrafficPolicy:
 *    local ones keep the client's address, remote ones are SNATed to the
 *    frontend's node address (snat_ip) and forwarded by the FIB, or in
 *    DSR mode DNATed only, with the frontend in an IPv4 option for the
 *    backend's node, which answers the client itself (lib/dsr.h);
 *  - a port no Service has on an external IP: rejected; on a node address:
 *    a pod's hostPort (lib/hostport.h) DNATed to the pod, else the node's
 *    own, passed;
 *  - an ICMP error about a SNAT flow (its backend's port unreachable, a
 *    router's fragmentation needed), to the node address: translated back
 *    for the client by the flow's REV entry, forwarded by the FIB; one about
 *    a north-south flow's reply (the client's port unreachable, a router's
 *    fragmentation needed), to the frontend: translated for the backend by
 *    the flow's FWD entry (SNAT) or its conntrack forward entry (a local
 *    backend), forwarded by the FIB;
 *  - a packet DNATed to a pod of this node that is too big for its veth
 *    (DF): answered with the node's fragmentation needed, translated for
 *    the client (lib/pmtu.h), as the stack's own would quote the backend;
 *  - an address without a marker in scope EXT (traffic to pods of this
 *    node, to the node while no Service is external): a hostPort's DNATed,
 *    the rest passed after that one lookup and the hostPort gate's read.
 */

/* Forwards a translated packet by the FIB (the stack would refuse a local source). */
static __always_inline int from_net_fib(struct __sk_buff *skb, int path, int *verdict)
{
	struct ethhdr *eth = pkt_eth(skb);
	struct iphdr *ip4 = pkt_ipv4(skb);
	int ret;

	if (!eth || !ip4)
		return -SL_DROP_SHORT;
	ret = fwd_fib4(skb, eth, ip4, verdict);
	return ret < 0 ? ret : path;
}

/* DNAT to a local backend, counted for the frontend svc_id (0, a hostPort:
 * not counted): the stack routes it to the pod. */
static __always_inline int from_net_dnat(struct __sk_buff *skb, struct l4_tuple *t,
					 const struct sl_be_val *be, __u32 svc_id, int path)
{
	struct l4_tuple to = *t;
	int ret;

	to.daddr = be->ip;
	to.dport = be->port;
	ret = nat4_rewrite(skb, t, &to);
	if (ret)
		return ret;
	if (svc_id)
		metrics_svc_count(svc_id, path == SL_PATH_NS_LOCAL, skb->len);
	return path;
}

/* Writes p, the entries of the new flow t to the local pod be, once
 * NetworkPolicy allows it (the tuple after DNAT, the client's source kept). */
static __always_inline int from_net_pair_commit(const struct l4_tuple *t,
						const struct sl_be_val *be, struct ct4_pair *p)
{
	struct l4_tuple f = *t;

	f.daddr = be->ip;
	f.dport = be->port;
	return pol4_check(NULL, ep4_lookup(be->ip), &f, NULL, p, false);
}

/* The same for a Service flow (svc_id) to its local backend be (be_id). */
static __always_inline int from_net_ct_commit(const struct l4_tuple *t, __u32 svc_id,
					      const struct sl_be_val *be, __u32 be_id)
{
	struct ct4_pair p;

	lb4_pair_fill(t, svc_id, be, be_id, false, &p);
	return from_net_pair_commit(t, be, &p);
}

/* A new flow to the frontend svc: a backend by the frontend's policy. */
static __always_inline int from_net_new(struct __sk_buff *skb, struct l4_tuple *t,
					const struct sl_svc_val *svc, int *verdict)
{
	const struct sl_be_val *be;
	struct sl_be_val copy;
	__u32 be_id = 0;
	int ret;

	if (svc->count == 0) {
		if (svc->flags & SL_SVC_F_DROP_EMPTY)
			return -SL_DROP_NO_LOCAL_BACKEND;
		return icmp4_reject(skb, verdict);
	}
	be = lb4_backend_choose(t->daddr, t->dport, t->proto, SL_SVC_SCOPE_EXT, svc, t->saddr,
				&be_id);
	if (!be)
		return -SL_DROP_BACKEND_MISSING;
	copy = *be;
	if (copy.flags & SL_BE_F_LOCAL || !svc->snat_ip) {
		ret = from_net_ct_commit(t, svc->id, &copy, be_id);
		return ret ? ret : from_net_dnat(skb, t, &copy, svc->id, SL_PATH_NS_LOCAL);
	}
	if (nodeport_dsr) /* the client's address kept, the frontend in the option */
		ret = dsr4_new(skb, t, &copy, be_id, svc->id);
	else
		ret = np4_snat_new(skb, t, &copy, be_id, svc->id, svc->snat_ip);
	return ret < 0 ? ret : from_net_fib(skb, ret, verdict);
}

/* A packet to a hostPort of a pod of this node (lib/hostport.h): an
 * established flow by its conntrack entry, a new one judged by NetworkPolicy
 * as it opens; DNAT only, the client's address kept. 0 when none. */
static __always_inline int from_net_hostport(struct __sk_buff *skb, struct l4_tuple *t)
{
	struct sl_be_val be = {};
	struct sl_ct_val *ct;
	struct ct4_pair p;
	int ret;

	if (!hp4_gated(t->dport, t->proto))
		return 0;
	ct = ct4_lookup(t);
	if (ct && (ct->flags & SL_CT_F_HOSTPORT) && lb4_ct_continues(t, ct)) {
		be.ip = ct->nat_ip;
		be.port = ct->nat_port;
		return from_net_dnat(skb, t, &be, 0, SL_PATH_HOSTPORT_CT);
	}
	if (!hp4_target(skb, t, &be))
		return 0;
	hp4_pair_fill(t, &be, false, &p);
	ret = from_net_pair_commit(t, &be, &p);
	return ret ? ret : from_net_dnat(skb, t, &be, 0, SL_PATH_HOSTPORT);
}

/* Forgets the forward entry ct of t's tuple that t does not continue (a
 * SYN on it, a UDP flow whose backend went): the new flow may go another
 * way (SNAT keeps no sl_ct4 entry), whose next packets the old entry would
 * otherwise take to the old backend (a local one, or DSR's after a mode
 * switch). */
static __always_inline void from_net_ct_forget(const struct l4_tuple *t, const struct sl_ct_val *ct)
{
	struct sl_ct_key key;

	if (!ct || (ct->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)))
		return;
	key = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto);
	bpf_map_delete_elem(&sl_ct4, &key);
}

/* A packet to a frontend address (marker's): its Service port's, if any. */
static __always_inline int from_net_lb(struct __sk_buff *skb, struct l4_tuple *t,
				       const struct sl_svc_val *marker, int *verdict)
{
	const struct sl_svc_val *svc;
	struct sl_ct_val *ct;
	struct sl_be_val be;
	int ret;

	/* Established flows first (local backends, then SNAT ones): a packet
	 * of a long flow pays the marker and one more lookup. */
	ct = ct4_lookup(t);
	if (lb4_ct_continues(t, ct)) {
		if (ct->flags & SL_CT_F_DSR) {
			ret = dsr4_fwd(skb, t, ct);
			return ret < 0 ? ret : from_net_fib(skb, ret, verdict);
		}
		be.ip = ct->nat_ip;
		be.port = ct->nat_port;
		return from_net_dnat(skb, t, &be, ct->svc_id, SL_PATH_NS_CT);
	}
	from_net_ct_forget(t, ct);
	ret = np4_nat_fwd(skb, t);
	if (ret)
		return ret < 0 ? ret : from_net_fib(skb, ret, verdict);
	svc = lb4_svc_lookup_scope(t->daddr, t->dport, t->proto, SL_SVC_SCOPE_EXT, 0);
	if (!svc) {
		if (marker->flags & SL_SVC_F_VIP)
			return icmp4_reject(skb, verdict); /* a port the external IP lacks */
		return from_net_hostport(skb, t);
	}
	/* checked when a flow starts, as kube-proxy's firewall chain */
	if ((svc->flags & SL_SVC_F_SRC_RANGES) && !np4_src_allowed(svc->id, t->saddr))
		return -SL_DROP_LB_SOURCE;
	return from_net_new(skb, t, svc, verdict);
}

/* A packet DNATed to a pod of this node (path) and too big for its veth:
 * the node's fragmentation needed instead, for the client (lib/pmtu.h). */
static __always_inline int from_net_pmtu(struct __sk_buff *skb, int path, int *verdict)
{
	const struct sl_ep_val *ep;
	struct iphdr *ip4;
	__u32 mtu;

	if (path != SL_PATH_NS_LOCAL && path != SL_PATH_NS_CT && path != SL_PATH_HOSTPORT &&
	    path != SL_PATH_HOSTPORT_CT)
		return path;
	if (!pmtu4_candidate(skb, true))
		return path;
	ip4 = pkt_ipv4(skb);
	ep = ip4 ? ep4_lookup(ip4->daddr) : NULL;
	mtu = ep ? pmtu4_exceeded(skb, ep->ifindex) : 0;
	return mtu ? pmtu4_answer(skb, mtu, verdict) : path;
}

/* >= 0: the SL_PATH_* taken (0: not ours, passed), with *verdict set; < 0: a -SL_DROP_* reason. */
static __always_inline int from_net(struct __sk_buff *skb, int *verdict)
{
	const struct sl_svc_val *marker;
	struct l4_tuple t;
	struct ethhdr *eth;
	struct iphdr *ip4;
	int ret;

	if (pkt_pull(skb, ETH_HLEN + sizeof(struct iphdr)))
		return 0;
	eth = pkt_eth(skb);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip4 = pkt_ipv4(skb);
	if (ip4 && ip4->protocol == IPPROTO_ICMP) { /* an error about a north-south flow? */
		ret = np4_icmp_err(skb);
		return ret <= 0 ? ret : from_net_fib(skb, ret, verdict);
	}
	if (!ip4 || !l4_supported(ip4->protocol))
		return 0;
	/* One lookup for everything else arriving (pods of other nodes): a
	 * frontend or node address has a marker in scope EXT. */
	marker = lb4_svc_lookup_scope(ip4->daddr, 0, 0, SL_SVC_SCOPE_EXT, 0);
	ret = l4_tuple_load(skb, ip4, &t);
	if (ret)
		return ret < 0 ? ret : 0;
	if (!marker) {
		ret = from_net_hostport(skb, &t);
		if (ret)
			return from_net_pmtu(skb, ret, verdict);
		if ((t.tcp_flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN)
			/* A new connection straight to a pod: an old NodePort flow
			 * from the same client port to it must not reverse-NAT
			 * its replies (sl_from_pod does the same for pods). */
			ct4_forget_reply(&t, t.daddr, t.dport, t.saddr);
		return 0;
	}
	if ((marker->flags & SL_SVC_F_NODEIP) && np4_snat_port(t.dport)) {
		ret = np4_rev_snat(skb, &t);
		if (ret)
			return ret < 0 ? ret : from_net_fib(skb, ret, verdict);
	}
	return from_net_pmtu(skb, from_net_lb(skb, &t, marker, verdict), verdict);
}

SEC("tc")
int sl_from_net(struct __sk_buff *skb)
{
	__u32 len = skb->len; /* a reject changes it */
	int verdict = TC_ACT_OK;
	int ret = from_net(skb, &verdict);

	if (ret)
		metrics_count(ret < 0 ? -ret : ret, len);
	return ret < 0 ? TC_ACT_SHOT : verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
