/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Datapath events for `sluice-agent monitor` (sl_events), written only while a
 * listener holds a fresh lease in sl_evcfg. */
#ifndef SL_LIB_EVENTS_H
#define SL_LIB_EVENTS_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/ct.h"
#include "lib/l4.h"
#include "lib/maps.h"
#include "sluice/abi.h"

/* The listener's config when it wants events of type now, else NULL. The
 * only cost of an event point when nobody listens: one array lookup. */
static __always_inline struct sl_evcfg_val *events_wanted(__u8 type)
{
	struct sl_evcfg_val *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_evcfg, &zero);
	if (!cfg || !(cfg->types & SL_EV_F(type)) || bpf_ktime_get_ns() >= cfg->until_ns)
		return NULL;
	return cfg;
}

/* Without a wakeup: waking the reader costs the packet microseconds; the
 * monitor collects what is there every 100 ms instead. */
static __always_inline void events_send(struct sl_evcfg_val *cfg, struct sl_event *ev)
{
	ev->ts_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&sl_events, ev, sizeof(*ev), BPF_RB_NO_WAKEUP) < 0)
		__sync_fetch_and_add(&cfg->lost, 1);
}

static __always_inline void events_tuple_set(struct sl_event *ev, const struct l4_tuple *t)
{
	ev->saddr = t->saddr;
	ev->daddr = t->daddr;
	ev->sport = t->sport;
	ev->dport = t->dport;
	ev->proto = t->proto;
}

/* A packet of skb dropped for reason (SL_DROP_*): its addresses and ports as
 * they are now, read by copy (packet pointers may be stale at the exit). */
static __always_inline void events_drop(struct __sk_buff *skb, __u32 reason)
{
	struct sl_evcfg_val *cfg = events_wanted(SL_EV_DROP);
	struct sl_event ev = {};
	struct iphdr ip4;
	__be16 ports[2];

	if (!cfg)
		return;
	ev.type = SL_EV_DROP;
	ev.code = reason;
	ev.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
	ev.eth_proto = skb->protocol;
	if (skb->protocol == bpf_htons(ETH_P_IP) &&
	    !bpf_skb_load_bytes(skb, ETH_HLEN, &ip4, sizeof(ip4))) {
		ev.saddr = ip4.saddr;
		ev.daddr = ip4.daddr;
		if (l4_supported(ip4.protocol) && !(ip4.frag_off & bpf_htons(0x1fff)) &&
		    !bpf_skb_load_bytes(skb, ETH_HLEN + ip4.ihl * 4, ports, sizeof(ports))) {
			ev.proto = ip4.protocol;
			ev.sport = ports[0];
			ev.dport = ports[1];
		}
	}
	events_send(cfg, &ev);
}

/* A new flow t (as the client sent it) to service svc_id balanced to be. */
static __always_inline void events_flow(const struct l4_tuple *t, __u32 svc_id, __u32 be_id,
					const struct sl_be_val *be)
{
	struct sl_evcfg_val *cfg = events_wanted(SL_EV_FLOW);
	struct sl_event ev = {};

	if (!cfg)
		return;
	ev.type = SL_EV_FLOW;
	ev.code = SL_PATH_SVC_NEW;
	events_tuple_set(&ev, t);
	ev.svc_id = svc_id;
	ev.backend_id = be_id;
	ev.be_ip = be->ip;
	ev.be_port = be->port;
	events_send(cfg, &ev);
}

/* A new Service flow, as its conntrack entries p were written: the client's
 * tuple is the forward key, the backend the forward entry's NAT address. */
static __always_inline void events_flow_pair(const struct ct4_pair *p)
{
	struct l4_tuple t = {.saddr = p->fwd.saddr,
			     .daddr = p->fwd.daddr,
			     .sport = p->fwd.sport,
			     .dport = p->fwd.dport,
			     .proto = p->fwd.proto};
	struct sl_be_val be = {.ip = p->fv.nat_ip, .port = p->fv.nat_port};

	events_flow(&t, p->fv.svc_id, p->fv.backend_id, &be);
}

/* A new flow f allowed by NetworkPolicy (f after DNAT, as policy judged it). */
static __always_inline void events_policy_allow(const struct l4_tuple *f)
{
	struct sl_evcfg_val *cfg = events_wanted(SL_EV_POLICY);
	struct sl_event ev = {};

	if (!cfg)
		return;
	ev.type = SL_EV_POLICY;
	events_tuple_set(&ev, f);
	events_send(cfg, &ev);
}

#endif
