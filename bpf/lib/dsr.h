/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Direct Server Return of north-south flows to remote backends: the entry node's DNAT with the
 * frontend in an IPv4 option (node.bpf.c), and its record where the packet enters the pod
 * (pod.bpf.c), from which the pod's replies leave from the frontend straight to the client. */
#ifndef SL_LIB_DSR_H
#define SL_LIB_DSR_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/ct.h"
#include "lib/ep.h"
#include "lib/icmp.h"
#include "lib/l4.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "sluice/abi.h"

/* --nodeport-mode=dsr, set by the loader: the entry node sends remote
 * flows with the option instead of SNAT, and the pods' side honours it.
 * Off, a packet's options are never read. */
const volatile __u8 nodeport_dsr = 0;

/* Whether the packet of t carries the option: a TCP flow's SYN (the
 * backend's node keeps the frontend in conntrack from it), every datagram
 * of the others (nothing tells the backend's node their flow is new). */
static __always_inline bool dsr4_opt_wanted(const struct l4_tuple *t)
{
	return t->proto != IPPROTO_TCP || (t->tcp_flags & TCP_FL_SYN);
}

/* Whether the client's packet (not rewritten yet) has room for the option
 * within the uplink's MTU (a TCP SYN always has): 0 when it has, else it is
 * answered as a router would, as Cilium does (ENABLE_DSR_ICMP_ERRORS): ICMP
 * fragmentation needed with the MTU less the option, from the frontend,
 * quoting the packet, sent back to the client as a clone; the packet itself
 * is dropped, counted. */
static __always_inline int dsr4_room(struct __sk_buff *skb)
{
	struct icmp4_err err = {};
	struct ethhdr eth;
	__u32 mtu = 0;
	int ret;

	if (!bpf_check_mtu(skb, 0, &mtu, sizeof(struct sl_dsr_opt4), 0))
		return 0;
	ret = icmp4_err_prepare(skb, &eth, &err);
	if (!ret && mtu > sizeof(struct sl_dsr_opt4))
		ret = icmp4_err_emit(skb, &eth, &err, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED,
				     mtu - sizeof(struct sl_dsr_opt4));
	if (!ret)
		bpf_clone_redirect(skb, skb->ifindex, 0);
	return -SL_DROP_DSR_TOO_BIG;
}

/* Inserts the option {addr, port} after the 20-byte base header (the
 * room BPF_ADJ_ROOM_NET opens), with the header length, total length and
 * header checksum updated; the L4 checksum covers none of it. */
static __always_inline int dsr4_opt_push(struct __sk_buff *skb, __be32 addr, __be16 port)
{
	struct sl_dsr_opt4 opt = {};
	__be32 old_w0, new_w0;
	struct iphdr *ip4;
	__s64 diff;

	ip4 = pkt_at(skb, ETH_HLEN, sizeof(*ip4));
	if (!ip4 || ip4->ihl + sizeof(opt) / 4 > 15)
		return -SL_DROP_DSR_TOO_BIG; /* the header holds 40 bytes of options */
	if (bpf_skb_adjust_room(skb, sizeof(opt), BPF_ADJ_ROOM_NET, 0))
		return -SL_DROP_NAT;
	ip4 = pkt_at(skb, ETH_HLEN, sizeof(*ip4) + sizeof(opt));
	if (!ip4)
		return -SL_DROP_NAT;
	opt.type = SL_DSR_OPT_TYPE;
	opt.len = sizeof(opt);
	opt.port = port;
	opt.addr = addr;
	__builtin_memcpy(&old_w0, ip4, 4);
	ip4->ihl += sizeof(opt) / 4;
	ip4->tot_len = bpf_htons(bpf_ntohs(ip4->tot_len) + sizeof(opt));
	__builtin_memcpy(&new_w0, ip4, 4);
	__builtin_memcpy((__u8 *)ip4 + sizeof(*ip4), &opt, sizeof(opt));
	diff = bpf_csum_diff(&old_w0, 4, &new_w0, 4, 0);
	diff = bpf_csum_diff(NULL, 0, (__be32 *)&opt, sizeof(opt), diff);
	ip4->check = csum_apply(ip4->check, diff);
	return 0;
}

/* DNAT of t's packet to {be_ip, be_port}, the client's source kept, the
 * frontend (t's destination before) in the option when the packet wants
 * it; counted for svc_id. path for the caller to forward by the FIB. */
static __always_inline int dsr4_send(struct __sk_buff *skb, struct l4_tuple *t, __be32 be_ip,
				     __be16 be_port, __u32 svc_id, int path)
{
	bool opt = dsr4_opt_wanted(t);
	__be32 fe_ip = t->daddr;
	__be16 fe_port = t->dport;
	struct sl_be_val be = {.ip = be_ip, .port = be_port};
	int ret = opt ? dsr4_room(skb) : 0;

	if (!ret)
		ret = lb4_dnat(skb, t, &be, false);
	if (!ret && opt)
		ret = dsr4_opt_push(skb, fe_ip, fe_port);
	if (ret)
		return ret;
	metrics_svc_count(svc_id, path == SL_PATH_NS_DSR, skb->len);
	return path;
}

/* The entry node: a new flow t of the frontend svc_id to the remote
 * backend be (be_id). Its forward entry keeps the backend for the flow's
 * next packets; no reply entry: replies never come this way. */
static __always_inline int dsr4_new(struct __sk_buff *skb, struct l4_tuple *t,
				    const struct sl_be_val *be, __u32 be_id, __u32 svc_id)
{
	struct sl_ct_key key = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto);
	struct sl_ct_val v = {};

	v.last_seen_ns = ct4_now();
	v.backend_id = be_id;
	v.svc_id = svc_id;
	v.client_ip = t->saddr;
	v.nat_ip = be->ip;
	v.nat_port = be->port;
	v.tcp_flags = t->tcp_flags;
	v.flags = SL_CT_F_DSR;
	if (bpf_map_update_elem(&sl_ct4, &key, &v, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	return dsr4_send(skb, t, be->ip, be->port, svc_id, SL_PATH_NS_DSR);
}

/* The entry node: the next packet of a DSR flow (ct, its forward entry,
 * already found continuing by lb4_ct_continues). */
static __always_inline int dsr4_fwd(struct __sk_buff *skb, struct l4_tuple *t,
				    const struct sl_ct_val *ct)
{
	return dsr4_send(skb, t, ct->nat_ip, ct->nat_port, ct->svc_id, SL_PATH_NS_DSR_CT);
}

/* The option of a packet whose header has options (ihl > 5), if it is the
 * first one, as the entry node puts it: 1 with *opt set, 0 when the first
 * option is another, -SL_DROP_DSR_OPT when it is ours but broken (short,
 * a wrong length, no address or port). */
static __always_inline int dsr4_opt_read(struct __sk_buff *skb, const struct iphdr *ip4,
					 struct sl_dsr_opt4 *opt)
{
	__u8 type;

	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(*ip4), &type, 1) < 0)
		return -SL_DROP_DSR_OPT;
	if (type != SL_DSR_OPT_TYPE)
		return 0;
	if (ip4->ihl * 4 < sizeof(*ip4) + sizeof(*opt) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(*ip4), opt, sizeof(*opt)) < 0)
		return -SL_DROP_DSR_OPT;
	if (opt->len != sizeof(*opt) || !opt->addr || !opt->port)
		return -SL_DROP_DSR_OPT;
	return 1;
}

/* The backend's node, the packet t going into its pod: with the option,
 * the flow's pair is written as if this node had DNATed it from the
 * frontend (reply entry: the frontend as the source of the pod's replies,
 * which sl_from_pod rewrites and routes to the client), once the pod's
 * ingress policy allows the real client. SL_PATH_DSR_IN when written, 0
 * when there is nothing to write (no option, or the flow's reply entry
 * already holds this frontend: to_pod's usual path judges it), else the
 * drop reason. */
static __always_inline int dsr4_to_pod(struct __sk_buff *skb, const struct iphdr *ip4,
				       const struct l4_tuple *t)
{
	struct sl_dsr_opt4 opt;
	struct sl_ct_val *rep;
	struct sl_be_val be = {};
	struct l4_tuple f = *t;
	struct ct4_pair p;
	int ret;

	ret = dsr4_opt_read(skb, ip4, &opt);
	if (ret <= 0)
		return ret;
	f.saddr = t->daddr;
	f.daddr = t->saddr;
	f.sport = t->dport;
	f.dport = t->sport;
	rep = ct4_lookup(&f);
	if (rep && !ct4_opens(t) &&
	    (rep->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)) == SL_CT_F_REPLY &&
	    rep->nat_ip == opt.addr && rep->nat_port == opt.port)
		return 0;
	f = *t;
	f.daddr = opt.addr;
	f.dport = opt.port;
	be.ip = t->daddr;
	be.port = t->dport;
	be.proto = t->proto;
	lb4_pair_fill(&f, 0, &be, 0, false, &p);
	p.fv.flags |= SL_CT_F_DSR;
	p.rv.flags |= SL_CT_F_DSR;
	ret = pol4_check(NULL, ep4_lookup(t->daddr), t, NULL, &p, false);
	return ret ? ret : SL_PATH_DSR_IN;
}

#endif
