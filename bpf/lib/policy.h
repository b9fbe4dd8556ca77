/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* NetworkPolicy: the verdict on a flow between endpoints, kept in conntrack. */
#ifndef SL_LIB_POLICY_H
#define SL_LIB_POLICY_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/ct.h"
#include "lib/events.h"
#include "lib/l4.h"
#include "lib/maps.h"
#include "sluice/abi.h"

#define POL_PENDING 0x100 /* internal flag: policy not computed yet, deny */

static __always_inline const struct sl_polcfg_val *pol_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_polcfg, &zero);
}

/* SL_EP_F_ISO_* of ep, or both with POL_PENDING while its policy is unknown
 * and policies exist; 0: the endpoint is not policed. */
static __always_inline __u32 pol_ep_flags(const struct sl_ep_val *ep)
{
	const struct sl_polcfg_val *cfg;

	if (!ep)
		return 0;
	if (ep->identity != SL_ID_PENDING)
		return ep->flags & (SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT);
	cfg = pol_cfg();
	if (cfg && (cfg->flags & SL_POLCFG_F_ACTIVE))
		return SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT | POL_PENDING;
	return 0;
}

static __always_inline __u32 pol_identity(__be32 ip)
{
	struct sl_ipcache_key key = {};
	const struct sl_ipcache_val *v;

	key.prefixlen = 32;
	key.ip = ip;
	v = bpf_map_lookup_elem(&sl_ipcache4, &key);
	return v ? v->identity : SL_ID_WORLD;
}

static __always_inline bool pol_entry(__u32 ep_id, __u8 dir, __u32 peer, __u8 proto, __be16 port)
{
	struct sl_pol_key key = {};

	key.ep_id = ep_id;
	key.peer = peer;
	key.proto = proto;
	key.dir = dir;
	key.dport = port;
	if (bpf_map_lookup_elem(&sl_pol, &key))
		return true;
	key.dport = 0;
	return bpf_map_lookup_elem(&sl_pol, &key) != NULL;
}

/* Whether a rule of endpoint ep_id in direction dir allows the peer at ip
 * (of identity id) on {proto, port}: any peer, its identity, its ipBlock set. */
static __always_inline bool pol_allows(__u32 ep_id, __u8 dir, __be32 ip, __u32 id, __u8 proto,
				       __be16 port)
{
	struct sl_polcidr_key key = {};
	const struct sl_polcidr_val *set;

	if (pol_entry(ep_id, dir, SL_ID_ANY, proto, port) || pol_entry(ep_id, dir, id, proto, port))
		return true;
	key.prefixlen = 64 + 32;
	key.ep_id = ep_id;
	key.dir = dir;
	key.ip = ip;
	set = bpf_map_lookup_elem(&sl_polcidr4, &key);
	return set && pol_entry(ep_id, dir, set->set_id, proto, port);
}

static __always_inline void pol_drop_count(__u32 ep_id, bool ingress)
{
	struct sl_poldrop_key key = {};
	struct sl_poldrop_val *v, init = {};

	key.ep_id = ep_id;
	v = bpf_map_lookup_elem(&sl_poldrop, &key);
	if (!v) {
		bpf_map_update_elem(&sl_poldrop, &key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&sl_poldrop, &key);
		if (!v)
			return;
	}
	if (ingress)
		v->ingress++;
	else
		v->egress++;
}

/* One side of flow f: the endpoint ep (flags fl) sends (dir OUT, peer =
 * destination) or receives (dir IN, peer = source). peer_host: the peer is
 * this node's own stack. 0 or the drop reason, counted for ep. */
static __always_inline int pol_side(const struct sl_ep_val *ep, __u32 fl, __u8 dir,
				    const struct l4_tuple *f, bool peer_host)
{
	__be32 peer = dir == SL_POL_DIR_OUT ? f->daddr : f->saddr;
	__u32 id;
	int ret;

	if (!(fl & (dir == SL_POL_DIR_OUT ? SL_EP_F_ISO_OUT : SL_EP_F_ISO_IN)))
		return 0;
	id = peer_host ? SL_ID_HOST : pol_identity(peer);
	if (id == SL_ID_HOST)
		return 0; /* the pod's own node is always allowed */
	if (fl & POL_PENDING)
		ret = -SL_DROP_POLICY_PENDING;
	else if (pol_allows(ep->ep_id, dir, peer, id, f->proto, f->dport))
		return 0;
	else
		ret = dir == SL_POL_DIR_OUT ? -SL_DROP_POLICY_EGRESS : -SL_DROP_POLICY_INGRESS;
	pol_drop_count(ep->ep_id, dir == SL_POL_DIR_IN);
	return ret;
}

/* The verdict on flow f opened by src (local endpoint or NULL) towards dst
 * (local endpoint or NULL): the source's egress and the destination's ingress. */
static __always_inline int pol_judge(const struct sl_ep_val *src, const struct sl_ep_val *dst,
				     const struct l4_tuple *f, bool peer_host)
{
	int ret = pol_side(src, pol_ep_flags(src), SL_POL_DIR_OUT, f, peer_host);

	if (ret)
		return ret;
	return pol_side(dst, pol_ep_flags(dst), SL_POL_DIR_IN, f, peer_host);
}

static __always_inline void pol_reverse(const struct l4_tuple *f, struct l4_tuple *r)
{
	*r = *f;
	r->saddr = f->daddr;
	r->daddr = f->saddr;
	r->sport = f->dport;
	r->dport = f->sport;
}

/* A packet of the L4 tuple f leaving src and/or entering dst (local
 * endpoints, either NULL): passes when neither is policed, when it belongs
 * to a flow allowed under the current policy generation (either way), or
 * when it opens a flow both ends allow, which is then remembered. A flow of
 * an older generation is judged again, in the orientation it was opened.
 * 0 or a -SL_DROP_* reason. */
static __always_inline int pol4_check(const struct sl_ep_val *src, const struct sl_ep_val *dst,
				      const struct l4_tuple *f, bool peer_host)
{
	const struct sl_polcfg_val *cfg;
	struct sl_ct_val *ct, val = {};
	struct sl_ct_key key;
	struct l4_tuple r;
	__u32 gen;
	int ret;

	if (!(pol_ep_flags(src) | pol_ep_flags(dst)))
		return 0;
	if (f->saddr == f->daddr || f->saddr == bpf_htonl(SL_SVC_LOOPBACK4) ||
	    f->daddr == bpf_htonl(SL_SVC_LOOPBACK4))
		return 0; /* a pod cannot block itself (hairpin included) */
	cfg = pol_cfg();
	gen = cfg ? cfg->gen : 0;

	ct = ct4_lookup(f, SL_CT_DIR_POL);
	if (ct && (f->tcp_flags & (TCP_FL_SYN | TCP_FL_ACK)) != TCP_FL_SYN) {
		if (ct->backend_id == gen)
			return 0;
		ret = pol_judge(src, dst, f, peer_host);
		if (!ret)
			ct->backend_id = gen;
		return ret;
	}
	pol_reverse(f, &r);
	ct = ct ? NULL : ct4_lookup(&r, SL_CT_DIR_POL);
	if (ct) {
		if (ct->backend_id == gen)
			return 0;
		ret = pol_judge(dst, src, &r, peer_host); /* as it was opened */
		if (!ret)
			ct->backend_id = gen;
		return ret;
	}
	ret = pol_judge(src, dst, f, peer_host);
	if (ret)
		return ret;
	val.last_seen_ns = bpf_ktime_get_ns();
	val.backend_id = gen;
	val.tcp_flags = f->tcp_flags;
	val.flags = SL_CT_F_POLICY;
	key = ct4_key(f->saddr, f->daddr, f->sport, f->dport, f->proto, SL_CT_DIR_POL);
	if (bpf_map_update_elem(&sl_ct4, &key, &val, BPF_ANY) < 0)
		return -SL_DROP_CT_FULL;
	events_policy_allow(f);
	return 0;
}

#endif
