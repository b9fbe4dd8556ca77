/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Conntrack of load-balanced flows: one LRU entry per direction. */
#ifndef SL_LIB_CT_H
#define SL_LIB_CT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/l4.h"
#include "lib/maps.h"

#define CT_TOUCH_NS 1000000000ull /* last_seen is refreshed at most this often */

/* The conntrack key of a tuple, every byte set (hash keys compare bytes). */
static __always_inline struct sl_ct_key ct4_key(__be32 saddr, __be32 daddr, __be16 sport,
						__be16 dport, __u8 proto, __u8 dir)
{
	struct sl_ct_key key = {};

	key.saddr = saddr;
	key.daddr = daddr;
	key.sport = sport;
	key.dport = dport;
	key.proto = proto;
	key.dir = dir;
	return key;
}

/* The key of the backend's reply to the flow t: backend -> reply_daddr (the
 * client, or the hairpin loopback address). */
static __always_inline struct sl_ct_key ct4_reply_key(const struct l4_tuple *t, __be32 be_ip,
						      __be16 be_port, __be32 reply_daddr)
{
	return ct4_key(be_ip, reply_daddr, be_port, t->sport, t->proto, SL_CT_DIR_IN);
}

static __always_inline struct sl_ct_val *ct4_lookup(const struct l4_tuple *t, __u8 dir)
{
	struct sl_ct_key key = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto, dir);

	return bpf_map_lookup_elem(&sl_ct4, &key);
}

/* Marks the entry used; writes only when something changed, so established
 * flows do not bounce the cache line on every packet. */
static __always_inline void ct4_touch(struct sl_ct_val *ct, __u8 tcp_flags)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - ct->last_seen_ns >= CT_TOUCH_NS)
		ct->last_seen_ns = now;
	if ((ct->tcp_flags | tcp_flags) != ct->tcp_flags)
		ct->tcp_flags |= tcp_flags; /* a lost race loses a flag bit, never a flow */
}

/* Both directions of a new flow: OUT keyed by the client's tuple t (to the
 * VIP), IN by the backend's reply (ct4_reply_key). -SL_DROP_CT_FULL when the
 * map refuses an entry. */
static __always_inline int ct4_create(const struct l4_tuple *t, __be32 be_ip, __be16 be_port,
				      __be32 reply_daddr, const struct sl_ct_val *val)
{
	struct sl_ct_key key;

	key = ct4_key(t->saddr, t->daddr, t->sport, t->dport, t->proto, SL_CT_DIR_OUT);
	if (bpf_map_update_elem(&sl_ct4, &key, val, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	key = ct4_reply_key(t, be_ip, be_port, reply_daddr);
	if (bpf_map_update_elem(&sl_ct4, &key, val, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	return 0;
}

/* Deletes the reply (IN) entry of the flow t to a backend. */
static __always_inline void ct4_forget_reply(const struct l4_tuple *t, __be32 be_ip, __be16 be_port,
					     __be32 reply_daddr)
{
	struct sl_ct_key key = ct4_reply_key(t, be_ip, be_port, reply_daddr);

	bpf_map_delete_elem(&sl_ct4, &key);
}

#endif
