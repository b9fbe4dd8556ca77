/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Conntrack: one LRU entry per direction of a tracked flow, each keyed by the
 * tuple its packets carry, so a packet finds its flow with one lookup. */
#ifndef SL_LIB_CT_H
#define SL_LIB_CT_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/clock.h"
#include "lib/l4.h"
#include "lib/maps.h"

#define CT_TOUCH_NS 1000000000ull /* last_seen is refreshed at most this often */

/* The two entries of a new flow, written together once its verdict is known
 * (ct4_pair_commit). fwd.proto 0: none. */
struct ct4_pair {
	struct sl_ct_key fwd;
	struct sl_ct_key rep;
	struct sl_ct_val fv;
	struct sl_ct_val rv;
};

/* The conntrack key of a tuple, every byte set (hash keys compare bytes). */
static __always_inline struct sl_ct_key ct4_key(__be32 saddr, __be32 daddr, __be16 sport,
						__be16 dport, __u8 proto)
{
	struct sl_ct_key key = {};

	key.saddr = saddr;
	key.daddr = daddr;
	key.sport = sport;
	key.dport = dport;
	key.proto = proto;
	return key;
}

/* The key of the backend's reply to the flow t: backend -> reply_daddr (the
 * client, or the hairpin loopback address). */
static __always_inline struct sl_ct_key ct4_reply_key(const struct l4_tuple *t, __be32 be_ip,
						      __be16 be_port, __be32 reply_daddr)
{
	return ct4_key(be_ip, reply_daddr, be_port, t->sport, t->proto);
}

/* The entry of the flow the packet of tuple t belongs to, either direction. */
static __always_inline struct sl_ct_val *ct4_lookup(const struct l4_tuple *t)
{
	struct sl_ct_key key = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto);

	return bpf_map_lookup_elem(&sl_ct4, &key);
}

/* Whether the packet opens a new connection (TCP SYN without ACK): on a
 * known forward tuple it starts a new flow rather than continuing the old. */
static __always_inline bool ct4_opens(const struct l4_tuple *t)
{
	return (t->tcp_flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN;
}

/* The time conntrack keeps (last_seen_ns): CLOCK_MONOTONIC at tick
 * resolution (clock_stamp), plenty for a 1 s refresh. */
static __always_inline __u64 ct4_now(void)
{
	return clock_stamp();
}

/* Marks the entry used; writes only when something changed, so established
 * flows do not bounce the cache line on every packet. The cached clock says
 * whether a refresh may be due (no helper call on most packets); the real
 * one decides. */
static __always_inline void ct4_touch(struct sl_ct_val *ct, __u8 tcp_flags)
{
	__u64 now;

	if (clock_cached() - ct->last_seen_ns >= CT_TOUCH_NS) {
		now = ct4_now();
		if (now - ct->last_seen_ns >= CT_TOUCH_NS)
			ct->last_seen_ns = now;
	}
	if ((ct->tcp_flags | tcp_flags) != ct->tcp_flags)
		ct->tcp_flags |= tcp_flags; /* a lost race loses a flag bit, never a flow */
}

/* Writes both entries of p, allowed under policy generation gen.
 * -SL_DROP_CT_FULL when the map refuses one. */
static __always_inline int ct4_pair_commit(struct ct4_pair *p, __u32 gen)
{
	p->fv.pol_gen = gen;
	p->rv.pol_gen = gen;
	if (bpf_map_update_elem(&sl_ct4, &p->fwd, &p->fv, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	if (bpf_map_update_elem(&sl_ct4, &p->rep, &p->rv, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	return 0;
}

/* Deletes the reply entry of the flow t to a backend. */
static __always_inline void ct4_forget_reply(const struct l4_tuple *t, __be32 be_ip, __be16 be_port,
					     __be32 reply_daddr)
{
	struct sl_ct_key key = ct4_reply_key(t, be_ip, be_port, reply_daddr);

	bpf_map_delete_elem(&sl_ct4, &key);
}

#endif
