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
#define POL_TRACK   1	  /* pol_judge: allowed, and an end is policed */

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
 * (of identity id) on {proto, port}: its identity (the common rule names its
 * pods: one lookup when allowed), any peer, its ipBlock set. */
static __always_inline bool pol_allows(__u32 ep_id, __u8 dir, __be32 ip, __u32 id, __u8 proto,
				       __be16 port)
{
	struct sl_polcidr_key key = {};
	const struct sl_polcidr_val *set;

	if (pol_entry(ep_id, dir, id, proto, port) || pol_entry(ep_id, dir, SL_ID_ANY, proto, port))
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
 * this node's own stack; peer_ep: the peer when it is a local endpoint
 * (its identity is in its entry: no IP cache lookup). 0 or the drop reason,
 * counted for ep. */
static __always_inline int pol_side(const struct sl_ep_val *ep, __u32 fl, __u8 dir,
				    const struct l4_tuple *f, bool peer_host,
				    const struct sl_ep_val *peer_ep)
{
	__be32 peer = dir == SL_POL_DIR_OUT ? f->daddr : f->saddr;
	__u32 id;
	int ret;

	if (!(fl & (dir == SL_POL_DIR_OUT ? SL_EP_F_ISO_OUT : SL_EP_F_ISO_IN)))
		return 0;
	if (peer_host)
		id = SL_ID_HOST;
	else if (peer_ep && peer_ep->identity != SL_ID_PENDING)
		id = peer_ep->identity;
	else
		id = pol_identity(peer);
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
 * (local endpoint or NULL): the source's egress and the destination's
 * ingress. 0: allowed with neither end policed (or a pod reaching itself,
 * hairpin included), POL_TRACK: allowed by policy, else the drop reason. */
static __always_inline int pol_judge(const struct sl_ep_val *src, const struct sl_ep_val *dst,
				     const struct l4_tuple *f, bool peer_host)
{
	int ret;

	if (!(pol_ep_flags(src) | pol_ep_flags(dst)))
		return 0;
	if (f->saddr == f->daddr || f->saddr == bpf_htonl(SL_SVC_LOOPBACK4) ||
	    f->daddr == bpf_htonl(SL_SVC_LOOPBACK4))
		return 0;
	ret = pol_side(src, pol_ep_flags(src), SL_POL_DIR_OUT, f, peer_host, dst);
	if (!ret)
		ret = pol_side(dst, pol_ep_flags(dst), SL_POL_DIR_IN, f, peer_host, src);
	return ret ? ret : POL_TRACK;
}

/* Both entries of a policed flow that is no Service flow: f as opened and
 * its reply, allowed under gen. */
static __always_inline int pol4_track(const struct l4_tuple *f, __u32 gen)
{
	struct ct4_pair p = {};

	p.fwd = ct4_key(f->saddr, f->daddr, f->sport, f->dport, f->proto);
	p.rep = ct4_key(f->daddr, f->saddr, f->dport, f->sport, f->proto);
	p.fv.last_seen_ns = ct4_now();
	p.fv.tcp_flags = f->tcp_flags;
	p.fv.flags = SL_CT_F_POLICY;
	p.rv = p.fv;
	p.rv.flags |= SL_CT_F_REPLY;
	return ct4_pair_commit(&p, gen);
}

/* A packet of the L4 tuple f leaving src and/or entering dst (local
 * endpoints, either NULL). ct: the conntrack entry of its flow when it
 * continues one (found by its own tuple; f is then the flow's tuple after
 * DNAT with the client's source, or the reply as the server sent it). Such
 * a packet passes when the entry was allowed under the current policy
 * generation, else the flow is judged again in the orientation it was opened.
 * Without ct the packet opens a flow both ends must allow; its entries (p,
 * a new Service flow's; else, when an end is policed, its own) are written
 * with the verdict's generation. 0 or a -SL_DROP_* reason. */
static __always_inline int pol4_check_gen(const struct sl_ep_val *src, const struct sl_ep_val *dst,
					  const struct l4_tuple *f, struct sl_ct_val *ct,
					  struct ct4_pair *p, bool peer_host, __u32 gen)
{
	struct l4_tuple r;
	int ret;

	if (ct) {
		if (ct->pol_gen == gen)
			return 0;
		r = *f;
		if (ct->flags & SL_CT_F_REPLY) { /* judged as it was opened */
			r.saddr = ct->flags & SL_CT_F_POLICY ? f->daddr : ct->client_ip;
			r.daddr = f->saddr;
			r.sport = f->dport;
			r.dport = f->sport;
			ret = pol_judge(dst, src, &r, peer_host);
		} else {
			ret = pol_judge(src, dst, &r, peer_host);
		}
		if (ret < 0)
			return ret;
		ct->pol_gen = gen;
		return 0;
	}
	ret = pol_judge(src, dst, f, peer_host);
	if (ret < 0)
		return ret;
	if (p && p->fwd.proto) {
		if (ct4_pair_commit(p, gen) < 0)
			return -SL_DROP_CT_FULL;
		events_flow_pair(p);
	} else if (ret == POL_TRACK && pol4_track(f, gen) < 0) {
		return -SL_DROP_CT_FULL;
	}
	if (ret == POL_TRACK)
		events_policy_allow(f);
	return 0;
}

/* The current policy generation. */
static __always_inline __u32 pol_gen(void)
{
	const struct sl_polcfg_val *cfg = pol_cfg();

	return cfg ? cfg->gen : 0;
}

/* Whether pol4_check_gen under gen reads its endpoints for a packet
 * continuing ct (NULL: one opening a flow): not for a flow allowed under gen. */
static __always_inline bool pol4_judges(const struct sl_ct_val *ct, __u32 gen)
{
	return !ct || ct->pol_gen != gen;
}

/* pol4_check_gen under the current generation. */
static __always_inline int pol4_check(const struct sl_ep_val *src, const struct sl_ep_val *dst,
				      const struct l4_tuple *f, struct sl_ct_val *ct,
				      struct ct4_pair *p, bool peer_host)
{
	return pol4_check_gen(src, dst, f, ct, p, peer_host, pol_gen());
}

#endif
