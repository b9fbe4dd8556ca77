/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* North-south SNAT (sl_nat4) to backends on other nodes, and loadBalancerSourceRanges (sl_lbsrc4).
 */
#ifndef SL_LIB_NODEPORT_H
#define SL_LIB_NODEPORT_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/icmp_err.h"
#include "lib/l4.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "sluice/abi.h"

/* SNAT state of north-south flows; written by node.bpf.c only. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_NAT_MAX);
	__type(key, struct sl_nat_key);
	__type(value, struct sl_nat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_nat4 SEC(".maps");

/* loadBalancerSourceRanges per LB frontend; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_LBSRC_MAX);
	__type(key, struct sl_lbsrc_key);
	__type(value, struct sl_lbsrc_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_lbsrc4 SEC(".maps");

/*
 * SNAT ports. A node socket gets its ephemeral port from
 * net.ipv4.ip_local_port_range (32768-60999 by default) and NodePorts sit in
 * 30000-32767: the SNAT range 10000-29999 lies below both, so the kernel
 * never hands one of its ports to a node's connection (a kubelet probe to a
 * pod, say). An entry is claimed by the whole reply tuple {backend, backend
 * port, node address, port}: a packet is taken for a SNAT reply only when it
 * comes from that very backend port to that port, which a node server
 * listening there would see only from a backend connecting out of its own
 * service port. The loader may move the range (const volatile).
 */
const volatile __u16 snat_port_min = 10000;
const volatile __u16 snat_port_max = 29999;

#define NAT_TRIES    128 /* ports probed for a free one (nat4_port_claim) */
#define NAT_TOUCH_NS 1000000000ull
/* Idle timeouts, as conntrack's (Cilium's for an unanswered SYN). */
#define NAT_TCP_IDLE_NS	  (7200ull * 1000000000ull) /* TCP the backend answered */
#define NAT_TCP_SYN_NS	  (60ull * 1000000000ull)   /* TCP it never answered */
#define NAT_TCP_CLOSE_NS  (10ull * 1000000000ull)   /* after a FIN or RST */
#define NAT_TCP_REUSE_NS  (1ull * 1000000000ull)    /* a closed flow's port, to a new SYN */
#define NAT_UDP_IDLE_NS	  (30ull * 1000000000ull)   /* UDP unanswered, or one exchange */
#define NAT_UDP_STREAM_NS (120ull * 1000000000ull)  /* UDP answered and going on */
#define NAT_OTHER_IDLE_NS (300ull * 1000000000ull)  /* SCTP */
#define TCP_FL_RST	  0x04

/* Whether port (network order) can be a SNAT port: replies to others skip sl_nat4. */
static __always_inline bool np4_snat_port(__be16 port)
{
	__u16 p = bpf_ntohs(port);

	return p >= snat_port_min && p <= snat_port_max;
}

/* How long a flow of proto with flags may idle before its port serves
 * another. Short for what conntrack ends soon: a closing TCP flow, a SYN
 * nobody answered, a UDP exchange (a DNS query and its answer), or
 * clients of one backend would hold the 20,000 ports for minutes each
 * (5 minutes for every UDP flow let one backend take 66 new clients a
 * second). */
static __always_inline __u64 nat4_idle_ns(__u8 flags, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		if (flags & (TCP_FL_FIN | TCP_FL_RST))
			return NAT_TCP_CLOSE_NS;
		return flags & SL_NAT_F_REPLIED ? NAT_TCP_IDLE_NS : NAT_TCP_SYN_NS;
	}
	if (proto == IPPROTO_UDP)
		return flags & SL_NAT_F_STREAM ? NAT_UDP_STREAM_NS : NAT_UDP_IDLE_NS;
	return NAT_OTHER_IDLE_NS;
}

/* Idle past its timeout: its port may serve another flow. */
static __always_inline bool nat4_expired(const struct sl_nat_val *v, __u8 proto, __u64 now)
{
	return now - v->last_seen_ns > nat4_idle_ns(v->tcp_flags, proto);
}

/* Whether the flow holding a SNAT port gives it to the new flow t: idle past
 * its timeout, or a TCP flow closed (FIN or RST) for NAT_TCP_REUSE_NS when t
 * opens a connection, as conntrack lets a SYN reopen a TIME_WAIT tuple: at
 * thousands of new connections a second the 10 s close timeout alone would
 * hold every port of the range. */
static __always_inline bool nat4_reusable(const struct sl_nat_val *v, const struct l4_tuple *t,
					  __u64 now)
{
	if (nat4_expired(v, t->proto, now))
		return true;
	return t->proto == IPPROTO_TCP && v->tcp_flags & (TCP_FL_FIN | TCP_FL_RST) &&
	       ct4_opens(t) && now - v->last_seen_ns > NAT_TCP_REUSE_NS;
}

static __always_inline struct sl_nat_key nat4_key(__be32 saddr, __be32 daddr, __be16 sport,
						  __be16 dport, __u8 proto, __u8 dir)
{
	struct sl_nat_key key = {};

	key.saddr = saddr;
	key.daddr = daddr;
	key.sport = sport;
	key.dport = dport;
	key.proto = proto;
	key.dir = dir;
	return key;
}

/* The flow's entry v changed (its flags, or refreshed): the other
 * direction's entry learns it too, so that both age alike (the REV entry
 * holds the port, and a flow whose packets go one way only must keep it). */
static __always_inline void nat4_share(const struct sl_nat_val *v, __u8 proto, __u8 other_dir)
{
	/* the other direction's key: the rewritten tuple, reversed */
	struct sl_nat_key key = nat4_key(v->daddr, v->saddr, v->dport, v->sport, proto, other_dir);
	struct sl_nat_val *o = bpf_map_lookup_elem(&sl_nat4, &key);

	if (!o)
		return;
	o->tcp_flags = v->tcp_flags;
	o->last_seen_ns = v->last_seen_ns;
}

/* The live entry of t in direction dir, refreshed (at most once a
 * NAT_TOUCH_NS) with the flags t's packet adds; NULL when none or idle too
 * long. */
static __always_inline struct sl_nat_val *nat4_lookup(const struct l4_tuple *t, __u8 dir)
{
	struct sl_nat_key key = nat4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto, dir);
	struct sl_nat_val *v = bpf_map_lookup_elem(&sl_nat4, &key);
	__u8 flags;
	bool touch;
	__u64 now;

	if (!v)
		return NULL;
	now = bpf_ktime_get_ns();
	if (nat4_expired(v, t->proto, now))
		return NULL;
	flags = v->tcp_flags | (t->tcp_flags & (TCP_FL_FIN | TCP_FL_RST));
	if (dir == SL_NAT_DIR_REV)
		flags |= SL_NAT_F_REPLIED;
	touch = now - v->last_seen_ns >= NAT_TOUCH_NS;
	if (touch && (flags & SL_NAT_F_REPLIED))
		flags |= SL_NAT_F_STREAM; /* answered, and going on a second later */
	if ((t->tcp_flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN)
		flags = 0; /* a new connection on the tuple: open again */
	if (!touch && flags == v->tcp_flags)
		return v;
	if (touch)
		v->last_seen_ns = now;
	v->tcp_flags = flags;
	nat4_share(v, t->proto, dir == SL_NAT_DIR_FWD ? SL_NAT_DIR_REV : SL_NAT_DIR_FWD);
	return v;
}

/* Rewrites t's packet to the tuple v holds: SL_PATH_* path or -SL_DROP_NAT. */
static __always_inline int nat4_apply(struct __sk_buff *skb, struct l4_tuple *t,
				      const struct sl_nat_val *v, int path)
{
	struct l4_tuple to = *t;
	int ret;

	to.saddr = v->saddr;
	to.daddr = v->daddr;
	to.sport = v->sport;
	to.dport = v->dport;
	ret = nat4_rewrite(skb, t, &to);
	return ret ? ret : path;
}

/* A backend's reply to a SNAT port: back to the client, from the frontend.
 * 0 when t is none. */
static __always_inline int np4_rev_snat(struct __sk_buff *skb, struct l4_tuple *t)
{
	struct sl_nat_val *v = nat4_lookup(t, SL_NAT_DIR_REV);

	return v ? nat4_apply(skb, t, v, SL_PATH_NS_REVSNAT) : 0;
}

/* A packet of an established SNAT flow, while its backend exists, counted
 * for its frontend. 0 when none. */
static __always_inline int np4_nat_fwd(struct __sk_buff *skb, struct l4_tuple *t)
{
	struct sl_nat_val *v = nat4_lookup(t, SL_NAT_DIR_FWD);
	const struct sl_be_val *be;
	int ret;

	if (!v)
		return 0;
	be = lb4_be_lookup(v->backend_id);
	if (!be || be->ip != v->daddr || be->port != v->dport)
		return 0; /* the backend is gone: choose again */
	ret = nat4_apply(skb, t, v, SL_PATH_NS_NAT);
	if (ret > 0)
		metrics_svc_count(v->svc_id, false, skb->len);
	return ret;
}

/* The FWD entry of the flow that gave SNAT port port toward be_ip away,
 * deleted unless its client has opened a new flow on the tuple since. */
static __always_inline void nat4_fwd_release(const struct sl_nat_key *k, __be32 be_ip, __be16 port)
{
	struct sl_nat_val *v = bpf_map_lookup_elem(&sl_nat4, k);

	if (v && v->sport == port && v->daddr == be_ip)
		bpf_map_delete_elem(&sl_nat4, k);
}

/* A SNAT port search (nat4_port_claim): the new flow, the reply entry it
 * claims, and the outcome (the port in network order, or -SL_DROP_*). */
struct nat4_claim {
	struct l4_tuple t;
	struct sl_nat_val rev;
	__be32 be_ip;
	__be32 snat_ip;
	__be16 be_port;
	__u32 start;
	__u32 span;
	__u64 now;
	int ret;
};

/* bpf_loop's step i of the search c: 1 (stop) when port start + i is the
 * flow's, free or given away by its flow (whose FWD entry goes), or the
 * map refused it; 0 to try the next. */
static long nat4_claim_try(__u64 i, void *ctx)
{
	struct nat4_claim *c = ctx;
	__be16 port = bpf_htons((__u16)(snat_port_min + (c->start + (__u32)i) % c->span));
	struct sl_nat_key key, old_fwd;
	struct sl_nat_val *old;

	key = nat4_key(c->be_ip, c->snat_ip, c->be_port, port, c->t.proto, SL_NAT_DIR_REV);
	if (!bpf_map_update_elem(&sl_nat4, &key, &c->rev, BPF_NOEXIST)) {
		c->ret = port;
		return 1;
	}
	old = bpf_map_lookup_elem(&sl_nat4, &key);
	if (!old || !nat4_reusable(old, &c->t, c->now))
		return 0;
	old_fwd =
	    nat4_key(old->daddr, old->saddr, old->dport, old->sport, c->t.proto, SL_NAT_DIR_FWD);
	if (bpf_map_update_elem(&sl_nat4, &key, &c->rev, BPF_ANY)) {
		c->ret = -SL_DROP_NAT_FULL;
		return 1;
	}
	nat4_fwd_release(&old_fwd, c->be_ip, port);
	c->ret = port;
	return 1;
}

/* Claims the reply entry {be -> snat_ip:port} of the new flow t (rev) for
 * a port no live flow holds: the port (network order), or
 * -SL_DROP_SNAT_PORT when none of NAT_TRIES is. A random start, then the
 * ports after it, as Cilium and netfilter probe. The ports recent flows
 * hold are scattered, so the run's length is what counts: 16 (the search
 * before) missed about 1 SYN in 3,500 at 60 % held (0.6^16; 10,000 new
 * connections a second to one backend), each miss a 1 s SYN retransmit
 * for its client; 128 miss 1 in 700,000 at 90 % held. bpf_loop: the
 * verifier checks the step once, not NAT_TRIES times (128 inline steps
 * took it to 390,000 instructions). */
static __always_inline int nat4_port_claim(const struct l4_tuple *t, const struct sl_be_val *be,
					   __be32 snat_ip, const struct sl_nat_val *rev, __u64 now)
{
	struct nat4_claim c = {};

	c.t = *t;
	c.rev = *rev;
	c.be_ip = be->ip;
	c.be_port = be->port;
	c.snat_ip = snat_ip;
	c.span = (__u32)snat_port_max - snat_port_min + 1;
	c.start = bpf_get_prandom_u32() % c.span;
	c.now = now;
	c.ret = -SL_DROP_SNAT_PORT;
	if (bpf_loop(NAT_TRIES, nat4_claim_try, &c, 0) < 0)
		return -SL_DROP_SNAT_PORT;
	return c.ret;
}

/* Records both directions of the new flow t to the frontend svc_id on a
 * SNAT port of its own, then rewrites the packet. */
static __always_inline int np4_snat_new(struct __sk_buff *skb, struct l4_tuple *t,
					const struct sl_be_val *be, __u32 be_id, __u32 svc_id,
					__be32 snat_ip)
{
	struct sl_nat_val rev = {}, fwd = {};
	__u64 now = bpf_ktime_get_ns();
	struct sl_nat_key key;
	int port, ret;

	rev.last_seen_ns = fwd.last_seen_ns = now;
	rev.saddr = t->daddr;
	rev.sport = t->dport;
	rev.daddr = t->saddr;
	rev.dport = t->sport;
	port = nat4_port_claim(t, be, snat_ip, &rev, now);
	if (port < 0)
		return port;
	fwd.saddr = snat_ip;
	fwd.sport = (__be16)port;
	fwd.daddr = be->ip;
	fwd.dport = be->port;
	fwd.backend_id = be_id;
	fwd.svc_id = svc_id;
	key = nat4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto, SL_NAT_DIR_FWD);
	if (bpf_map_update_elem(&sl_nat4, &key, &fwd, BPF_ANY))
		return -SL_DROP_NAT_FULL;
	ret = nat4_apply(skb, t, &fwd, SL_PATH_NS_SNAT);
	if (ret > 0)
		metrics_svc_count(svc_id, true, skb->len);
	return ret;
}

/* The error h about a SNAT flow, rewritten by the flow's entry in direction
 * dir, whose key is the quote turned round; 0 when there is none (or it
 * has expired), else path.
 *  - SL_NAT_DIR_REV: about the flow's packet, from its backend or a router
 *    before it (port unreachable, fragmentation needed), to the node
 *    address: the quote is the packet as the backend saw it ({node address,
 *    SNAT port} -> backend). Rewritten for the client: the quote from the
 *    client to the frontend, the error to the client from the frontend.
 *  - SL_NAT_DIR_FWD: about the flow's reply, from its client or a router
 *    between, to the frontend: the quote is the reply as the client got it
 *    (frontend -> client). Rewritten for the backend: the quote from the
 *    backend to {SNAT address, SNAT port}, the error to the backend from
 *    the SNAT address.
 * Either way the entry's value is the rewritten flow, so the new quote is
 * that tuple turned round and the error goes from its source to its
 * destination. */
static __always_inline int np4_icmp_err_nat(struct __sk_buff *skb, struct icmp4_err_head *h,
					    __u8 dir, int path)
{
	struct icmp4_err_ids cur;
	struct sl_nat_key key;
	struct sl_nat_val *v;

	key = nat4_key(h->qip.daddr, h->qip.saddr, h->qdport, h->qsport, h->qip.protocol, dir);
	v = bpf_map_lookup_elem(&sl_nat4, &key);
	if (!v || nat4_expired(v, h->qip.protocol, bpf_ktime_get_ns()))
		return 0;
	cur.saddr = v->daddr;
	cur.daddr = v->saddr;
	cur.sport = v->dport;
	cur.dport = v->sport;
	return icmp4_err_write(skb, h, &cur, v->saddr, v->daddr, path);
}

/* An ICMP error arriving from outside about a north-south flow: about a
 * SNAT flow's packet (to the client), about a SNAT flow's reply (to the
 * backend), or about a reply of a flow DNATed to a local backend (to the
 * backend, by conntrack). SL_PATH_NS_ICMP or SL_PATH_ICMP_TO_BE for the
 * FIB to forward, 0 when it is no such error. */
static __always_inline int np4_icmp_err(struct __sk_buff *skb)
{
	struct icmp4_err_head h;
	int ret;

	if (!icmp4_err_load(skb, &h))
		return 0;
	if (np4_snat_port(h.qsport)) {
		ret = np4_icmp_err_nat(skb, &h, SL_NAT_DIR_REV, SL_PATH_NS_ICMP);
		if (ret)
			return ret;
	}
	ret = np4_icmp_err_nat(skb, &h, SL_NAT_DIR_FWD, SL_PATH_ICMP_TO_BE);
	if (ret)
		return ret;
	return icmp4_err_ct(skb, &h, ICMP_ERR_TO_BACKEND);
}

/* Whether client may reach the LB frontend svc_id (loadBalancerSourceRanges). */
static __always_inline bool np4_src_allowed(__u32 svc_id, __be32 client)
{
	struct sl_lbsrc_key key = {};

	key.prefixlen = 64;
	key.svc_id = svc_id;
	key.ip = client;
	return bpf_map_lookup_elem(&sl_lbsrc4, &key) != NULL;
}

#endif
