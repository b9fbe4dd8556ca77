// SPDX-License-Identifier: Apache-2.0
/* explain: the datapath's decisions for one packet, from the maps as they are.
 * Each step mirrors a helper of bpf/lib (named in its comment), in the order
 * sl_from_pod calls them (and sl_from_net's hostPort branch); bpf/tests/test_explain.c holds both
 * to the same answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "sluice/abi.h"

#include "dp.h"
#include "explain.h"
#include "names.h"
#include "routes.h"

#define POL_PENDING 0x100 /* as bpf/lib/policy.h */

/* The flow policy judges and forwarding uses, after any DNAT. */
struct flow {
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
};

struct walk {
	const struct inspect_maps *m;
	const struct names *names;
	const struct explain_q *q;
	struct explain *x;
	struct sl_ep_val src_ep;
	struct sl_ct_val ct; /* the entry the packet continues (ct4_lookup of its tuple) */
	bool has_ct;
};

__attribute__((format(printf, 2, 3))) static void step(struct explain *x, const char *fmt, ...)
{
	va_list ap;

	if (x->n_steps >= EXPLAIN_MAX_STEPS)
		return;
	va_start(ap, fmt);
	vsnprintf(x->steps[x->n_steps++], EXPLAIN_STEP_LEN, fmt, ap);
	va_end(ap);
}

/* "10.244.1.5:80 (default/web-1)" */
static const char *who(const struct walk *w, __be32 ip, __be16 port, char *buf, size_t len)
{
	char a[INSPECT_ADDR_MAX];
	const char *pod = names_pod(w->names, ip);

	snprintf(buf, len, "%s%s%s%s", inspect_addr(ip, port, a), pod ? " (" : "", pod ? pod : "",
		 pod ? ")" : "");
	return buf;
}

static void out_why(struct explain_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_why(struct explain_out *o, const char *fmt, ...)
{
	size_t n = strlen(o->why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->why + n, sizeof(o->why) - n, fmt, ap);
	va_end(ap);
}

/* --- policy (bpf/lib/policy.h) -------------------------------------------- */

static __u32 pol_ep_flags(const struct walk *w, const struct sl_ep_val *ep)
{
	struct sl_polcfg_val cfg = {};

	if (!ep)
		return 0;
	if (ep->identity != SL_ID_PENDING)
		return ep->flags & (SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT);
	if (!dp_polcfg_read(w->m->cfg, &cfg) && (cfg.flags & SL_POLCFG_F_ACTIVE))
		return SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT | POL_PENDING;
	return 0;
}

static __u32 pol_identity(const struct walk *w, __be32 ip)
{
	__u32 id;

	return dp_ipcache_lookup(w->m->ipc, ip, &id) ? SL_ID_WORLD : id;
}

/* pol_entry: the port's entry, else the protocol's every-port entry. */
static bool pol_entry(const struct walk *w, __u32 ep_id, __u8 dir, __u32 peer, const struct flow *f,
		      char *rule, size_t len)
{
	struct sl_pol_key k = {.ep_id = ep_id, .peer = peer, .proto = f->proto, .dir = dir};
	char p[8], peer_s[32], port_s[16] = "every port";

	k.dport = f->dport;
	if (dp_pol_lookup(w->m->pol, &k)) {
		k.dport = 0;
		if (dp_pol_lookup(w->m->pol, &k))
			return false;
	}
	if (peer == SL_ID_ANY)
		snprintf(peer_s, sizeof(peer_s), "any");
	else
		snprintf(peer_s, sizeof(peer_s), "%s %u",
			 peer >= SL_ID_CIDR_BASE ? "ipBlock set" : "identity", peer);
	if (k.dport)
		snprintf(port_s, sizeof(port_s), "port %u", ntohs(k.dport));
	snprintf(rule, len, "sl_pol {endpoint %u, %s, peer %s, %s %s}", ep_id,
		 dir == SL_POL_DIR_OUT ? "egress" : "ingress", peer_s,
		 inspect_proto_name(f->proto, p), port_s);
	return true;
}

/* pol_allows: any peer, the peer's identity, then its ipBlock set. */
static bool pol_allows(const struct walk *w, __u32 ep_id, __u8 dir, __be32 ip, __u32 id,
		       const struct flow *f, char *rule, size_t len)
{
	__u32 set;

	if (pol_entry(w, ep_id, dir, SL_ID_ANY, f, rule, len) ||
	    pol_entry(w, ep_id, dir, id, f, rule, len))
		return true;
	return !dp_polcidr_lookup(w->m->cidr, ep_id, dir, ip, &set) &&
	       pol_entry(w, ep_id, dir, set, f, rule, len);
}

/* pol_side: one end's isolation in one direction; 0 or the drop reason. */
static int pol_side(const struct walk *w, const struct sl_ep_val *ep, __u32 fl, __u8 dir,
		    const struct flow *f, struct explain_out *o)
{
	const char *d = dir == SL_POL_DIR_OUT ? "egress" : "ingress";
	__be32 peer = dir == SL_POL_DIR_OUT ? f->daddr : f->saddr;
	char rule[160];
	__u32 id;

	if (!(fl & (dir == SL_POL_DIR_OUT ? SL_EP_F_ISO_OUT : SL_EP_F_ISO_IN)))
		return 0;
	id = pol_identity(w, peer);
	if (id == SL_ID_HOST) {
		out_why(o, "%s of endpoint %u: the peer is this node, always allowed; ", d,
			ep->ep_id);
		return 0;
	}
	if (fl & POL_PENDING) {
		out_why(o,
			"%s of endpoint %u: its policy is not computed yet and policies exist: "
			"denied; ",
			d, ep->ep_id);
		return -SL_DROP_POLICY_PENDING;
	}
	if (pol_allows(w, ep->ep_id, dir, peer, id, f, rule, sizeof(rule))) {
		out_why(o, "%s of endpoint %u: allowed by %s; ", d, ep->ep_id, rule);
		return 0;
	}
	out_why(o, "%s of endpoint %u (isolated): no rule allows peer identity %u: denied; ", d,
		ep->ep_id, id);
	return dir == SL_POL_DIR_OUT ? -SL_DROP_POLICY_EGRESS : -SL_DROP_POLICY_INGRESS;
}

/* pol_judge on the flow as it was opened, for a reply ct of it that is to
 * be judged again: the server answered the client (or, tracked for policy
 * only, the tuple's destination). */
static int pol_judge_opened(const struct walk *w, const struct sl_ep_val *src,
			    const struct sl_ep_val *dst, const struct flow *f,
			    struct explain_out *o)
{
	struct flow r = {.saddr = w->ct.flags & SL_CT_F_POLICY ? f->daddr : w->ct.client_ip,
			 .daddr = f->saddr,
			 .sport = f->dport,
			 .dport = f->sport,
			 .proto = f->proto};
	int ret;

	out_why(o, "policy: a reply, judged as its flow was opened; ");
	ret = pol_side(w, dst, pol_ep_flags(w, dst), SL_POL_DIR_OUT, &r, o);
	if (!ret)
		ret = pol_side(w, src, pol_ep_flags(w, src), SL_POL_DIR_IN, &r, o);
	return ret;
}

/* pol4_check for flow f: a packet continuing a flow (w->has_ct) keeps the
 * verdict of its entry's policy generation, else is judged again in the
 * orientation its flow was opened; a new flow is judged as it goes. */
static int pol_check(const struct walk *w, const struct sl_ep_val *src, const struct sl_ep_val *dst,
		     const struct flow *f, struct explain_out *o)
{
	__u32 sfl = pol_ep_flags(w, src), dfl = pol_ep_flags(w, dst);
	__be32 lo = htonl(SL_SVC_LOOPBACK4);
	int ret;

	if (!(sfl | dfl)) {
		out_why(o, "policy: neither end is isolated; ");
		return 0;
	}
	if (f->saddr == f->daddr || f->saddr == lo || f->daddr == lo) {
		out_why(o, "policy: a pod reaching itself is always allowed; ");
		return 0;
	}
	if (w->has_ct) {
		struct sl_polcfg_val cfg = {};

		dp_polcfg_read(w->m->cfg, &cfg);
		if (w->ct.pol_gen == cfg.gen) {
			out_why(o,
				"policy: a flow allowed under the current policy generation %u; ",
				cfg.gen);
			return 0;
		}
		if (w->ct.flags & SL_CT_F_REPLY)
			return pol_judge_opened(w, src, dst, f, o);
	}
	ret = pol_side(w, src, sfl, SL_POL_DIR_OUT, f, o);
	if (!ret)
		ret = pol_side(w, dst, dfl, SL_POL_DIR_IN, f, o);
	return ret;
}

/* --- forwarding (bpf/lib/fwd.h) -------------------------------------------- */

/* bpf_fib_lookup refuses to forward when the ingress device does not. */
static bool forwarding_on(int ifindex)
{
	char name[IF_NAMESIZE], path[96];
	int on = 0;
	FILE *f;

	if (!if_indextoname(ifindex, name))
		return true; /* not in this namespace: cannot tell, assume the usual */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", name);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fscanf(f, "%d", &on) != 1)
		on = 1;
	fclose(f);
	return on != 0;
}

/* fwd_local4 or fwd_fib4 for the packet's destination after rewrites. */
static int fwd_decide(const struct walk *w, __be32 dst, struct explain_out *o)
{
	struct sl_ep_val ep;
	struct route_hit rh;
	char b[INSPECT_ADDR_MAX + 300];
	int r;

	if (!dp_ep_lookup(w->m->ep, dst, &ep)) {
		out_why(o, "redirected into the pod %s (peer of host veth ifindex %u)",
			who(w, dst, 0, b, sizeof(b)), ep.ifindex);
		o->fate = EXPLAIN_LOCAL;
		return SL_PATH_LOCAL;
	}
	r = routes_get(dst, &rh);
	if (r < 0 || rh.type != RTN_UNICAST || !forwarding_on(w->src_ep.ifindex)) {
		out_why(o, "passed to the node's stack (%s)",
			r < 0			 ? "no route"
			: rh.type == RTN_LOCAL	 ? "an address of this node"
			: rh.type != RTN_UNICAST ? "route unreachable/blackhole/prohibit"
						 : "forwarding disabled on the pod's veth");
		o->fate = EXPLAIN_STACK;
		return SL_PATH_STACK;
	}
	out_why(o, "forwarded by FIB lookup out of ifindex %d", rh.ifindex);
	if (rh.via)
		out_why(o, " via %s%s%s", inspect_addr(rh.via, 0, b),
			names_node(w->names, rh.via) ? " (node " : "",
			names_node(w->names, rh.via) ? names_node(w->names, rh.via) : "");
	if (rh.via && names_node(w->names, rh.via))
		out_why(o, ")");
	o->fate = EXPLAIN_FIB;
	return SL_PATH_FIB;
}

/* One outcome: policy on flow f, then forwarding; lb_path is the service
 * path the program returns instead of the forwarding one (0 none). */
static void outcome(const struct walk *w, const struct flow *f, __u32 be_id, int lb_path)
{
	struct explain_out *o = &w->x->out[w->x->n_out++];
	struct sl_ep_val dst_ep;
	bool dst_local = !dp_ep_lookup(w->m->ep, f->daddr, &dst_ep);
	int ret = 0;

	memset(o, 0, sizeof(*o));
	o->backend_id = be_id;
	o->dst = f->daddr;
	o->dport = f->dport;
	if (f->proto)
		ret = pol_check(w, w->x->src_local ? &w->src_ep : NULL, dst_local ? &dst_ep : NULL,
				f, o);
	if (ret) {
		o->ret = ret;
		o->fate = EXPLAIN_DROP;
		out_why(o, "dropped: %s", dp_metric_desc(-ret));
		return;
	}
	ret = fwd_decide(w, f->daddr, o);
	o->ret = lb_path ? lb_path : ret;
}

static void outcome_final(struct explain *x, __be32 dst, __be16 dport, int ret, int fate,
			  const char *why)
{
	struct explain_out *o = &x->out[x->n_out++];

	memset(o, 0, sizeof(*o));
	o->dst = dst;
	o->dport = dport;
	o->ret = ret;
	o->fate = fate;
	snprintf(o->why, sizeof(o->why), "%s", why);
}

/* --- load balancing (bpf/lib/lb.h) ------------------------------------------ */

static void be_step(const struct walk *w, __u32 id, const struct sl_be_val *be)
{
	char b[INSPECT_ADDR_MAX + 300];

	step(w->x, "  backend %u: %s, %s, %s%s", id, who(w, be->ip, be->port, b, sizeof(b)),
	     be->flags & SL_BE_F_TERMINATING ? "terminating (serving)" : "ready",
	     be->flags & SL_BE_F_LOCAL ? "on this node" : "on another node",
	     be->ip == w->q->src
		 ? "; the client itself: hairpin, source becomes " SL_SVC_LOOPBACK4_STR
		 : "");
}

/* The outcome of the flow f DNATed to backend id. */
static void be_outcome(const struct walk *w, const struct flow *f, __u32 id,
		       const struct sl_be_val *be, int lb_path)
{
	struct flow g = *f;

	g.daddr = be->ip;
	g.dport = be->port;
	outcome(w, &g, id, lb_path);
}

/* lb4_aff_backend: 1 with the outcome when a fresh affinity entry decides. */
static int svc_affinity(const struct walk *w, const struct flow *f, const struct sl_svc_val *svc)
{
	struct sl_aff_val aff;
	struct sl_be_val be;
	__u64 now = inspect_mono_ns(), age;

	if (dp_aff_lookup(w->m->aff, w->q->src, svc->id, &aff)) {
		step(w->x,
		     "sessionAffinity ClientIP (%us): no entry for SRC yet; a random slot is "
		     "picked and remembered",
		     svc->affinity_timeout);
		return 0;
	}
	age = now > aff.last_used_ns ? now - aff.last_used_ns : 0;
	if (age > (__u64)svc->affinity_timeout * 1000000000ull ||
	    dp_be_lookup(w->m->be, aff.backend_id, &be)) {
		step(w->x,
		     "sessionAffinity ClientIP (%us): the entry for SRC (backend %u, used %llus "
		     "ago) is %s; a random slot is picked",
		     svc->affinity_timeout, aff.backend_id,
		     (unsigned long long)(age / 1000000000ull),
		     age > (__u64)svc->affinity_timeout * 1000000000ull ? "expired" : "gone");
		return 0;
	}
	step(w->x, "sessionAffinity ClientIP (%us): SRC keeps backend %u (used %llus ago)",
	     svc->affinity_timeout, aff.backend_id, (unsigned long long)(age / 1000000000ull));
	be_step(w, aff.backend_id, &be);
	be_outcome(w, f, aff.backend_id, &be, SL_PATH_SVC_NEW);
	return 1;
}

/* lb4_backend_choose's random slot: every distinct backend the slots hold. */
static void svc_slots(const struct walk *w, const struct flow *f, const struct sl_svc_val *svc)
{
	struct sl_svc_key k = {.vip = w->q->dst, .port = w->q->dport, .proto = w->q->proto};
	int ready = 0, term = 0, missing = 0, more = 0;
	struct sl_svc_val slot;
	struct sl_be_val be;

	for (k.slot = 1; k.slot <= svc->count; k.slot++) {
		bool seen = false;

		if (dp_svc_lookup(w->m->svc, &k, &slot) || dp_be_lookup(w->m->be, slot.id, &be)) {
			missing++;
			continue;
		}
		for (int i = 0; i < w->x->n_out; i++)
			seen |= w->x->out[i].backend_id == slot.id;
		if (seen)
			continue;
		be.flags &SL_BE_F_TERMINATING ? term++ : ready++;
		if (w->x->n_out == EXPLAIN_MAX_OUT - 1) {
			more++;
			continue;
		}
		be_step(w, slot.id, &be);
		be_outcome(w, f, slot.id, &be, SL_PATH_SVC_NEW);
	}
	if (term && !ready)
		step(w->x,
		     "no ready endpoint: the terminating but serving ones are used (fallback)");
	if (svc->flags & SL_SVC_F_DROP_EMPTY)
		step(w->x, "traffic policy Local: only this node's endpoints are in the slots");
	if (more)
		step(w->x, "... and %d more backends", more);
	if (missing) {
		step(w->x, "%d slot(s) point to no backend: a packet picking one is dropped",
		     missing);
		outcome_final(w->x, w->q->dst, w->q->dport, -SL_DROP_BACKEND_MISSING, EXPLAIN_DROP,
			      "dropped: service slot points to no backend");
	}
}

/* lb4_service for a new flow: 0 when DST is no service port (no ClusterIP,
 * or a node address's port no NodePort uses), 1 with outcomes. */
static int svc_walk(const struct walk *w, const struct flow *f)
{
	struct sl_svc_key k = {.vip = w->q->dst};
	struct sl_svc_val svc;
	char a[INSPECT_ADDR_MAX], p[8];
	const char *name;
	__u16 marker_flags;

	if (dp_svc_lookup(w->m->svc, &k, &svc)) {
		step(w->x, "DST %s is no ClusterIP (no VIP marker in sl_svc4)",
		     inspect_addr(w->q->dst, 0, a));
		return 0;
	}
	marker_flags = svc.flags;
	k.port = w->q->dport;
	k.proto = w->q->proto;
	if (dp_svc_lookup(w->m->svc, &k, &svc)) {
		if (marker_flags & SL_SVC_F_NODEIP) {
			step(w->x,
			     "DST is a node address serving NodePorts, but no NodePort uses port "
			     "%u/%s: the node's own, no Service",
			     ntohs(w->q->dport), inspect_proto_name(w->q->proto, p));
			return 0;
		}
		step(w->x, "DST is a ClusterIP without port %u/%s", ntohs(w->q->dport),
		     inspect_proto_name(w->q->proto, p));
		outcome_final(w->x, w->q->dst, w->q->dport, SL_PATH_SVC_REJECT, EXPLAIN_REJECT,
			      "rejected with ICMP port unreachable: the Service has no such port");
		return 1;
	}
	w->x->svc_id = svc.id;
	name = names_svc(w->names, svc.id);
	step(w->x, "DST %s/%s is service port %u%s%s%s with %u backend slot(s)",
	     inspect_addr(w->q->dst, w->q->dport, a), inspect_proto_name(w->q->proto, p), svc.id,
	     name ? " (" : "", name ? name : "", name ? ")" : "", svc.count);
	if (!svc.count) {
		if (svc.flags & SL_SVC_F_DROP_EMPTY)
			outcome_final(w->x, w->q->dst, w->q->dport, -SL_DROP_NO_LOCAL_BACKEND,
				      EXPLAIN_DROP,
				      "dropped: traffic policy Local and no backend on this node");
		else
			outcome_final(w->x, w->q->dst, w->q->dport, SL_PATH_SVC_REJECT,
				      EXPLAIN_REJECT,
				      "rejected with ICMP port unreachable: no ready backend");
		return 1;
	}
	if ((svc.flags & SL_SVC_F_AFFINITY) && svc_affinity(w, f, &svc))
		return 1;
	svc_slots(w, f, &svc);
	return 1;
}

/* --- hostPorts (bpf/lib/hostport.h) ------------------------------------------ */

/* hp4_target for a new flow f that found no Service: 1 with the outcome
 * (DNAT to the pod, path) when DST:PORT is a hostPort of this node, else 0. */
static int hp_walk(const struct walk *w, const struct flow *f, int path)
{
	struct sl_hport_key k = {.ip = f->daddr, .port = f->dport, .proto = f->proto};
	char a[INSPECT_ADDR_MAX], b[INSPECT_ADDR_MAX + 300], p[8];
	struct sl_hport_val v;
	struct route_hit rh;
	struct flow g = *f;

	if (w->m->hport < 0 || w->m->hpgate < 0 ||
	    dp_hpgate_get(w->m->hpgate, k.port, k.proto) != 1)
		return 0; /* hp4_gated: no pod has this port */
	if (dp_hport_lookup(w->m->hport, &k, &v)) {
		k.ip = 0;
		if (dp_hport_lookup(w->m->hport, &k, &v)) {
			step(w->x, "port %u/%s is some pod's hostPort, but not on DST %s",
			     ntohs(f->dport), inspect_proto_name(f->proto, p),
			     inspect_addr(f->daddr, 0, a));
			return 0;
		}
		if (routes_get(f->daddr, &rh) < 0 || rh.type != RTN_LOCAL) {
			step(w->x,
			     "port %u/%s is a hostPort on every node address, but DST %s is none "
			     "(hp4_local: the FIB forwards it)",
			     ntohs(f->dport), inspect_proto_name(f->proto, p),
			     inspect_addr(f->daddr, 0, a));
			return 0;
		}
	}
	step(w->x,
	     "DST %s/%s is hostPort %u/%s on %s of the pod %s: DNAT only, the client's address "
	     "kept",
	     inspect_addr(f->daddr, f->dport, a), inspect_proto_name(f->proto, p), ntohs(f->dport),
	     inspect_proto_name(f->proto, p), k.ip ? "this address" : "every node address",
	     who(w, v.pod_ip, v.pod_port, b, sizeof(b)));
	if (v.pod_ip == f->saddr)
		step(w->x, "the client itself: hairpin, source becomes " SL_SVC_LOOPBACK4_STR);
	g.daddr = v.pod_ip;
	g.dport = v.pod_port;
	outcome(w, &g, 0, path);
	return 1;
}

/* lb4_ct_continues for a datagram: false, with the reason, when the pod or
 * the backend its entry names is gone (the packet is then judged as a new
 * flow). The backend looked up is left in *be. */
static bool ct_dgram_continues(struct walk *w, const struct flow *f, struct sl_be_val *be)
{
	char a[INSPECT_ADDR_MAX];
	struct sl_ep_val ep;

	if (f->proto != IPPROTO_UDP)
		return true;
	if ((w->ct.flags & SL_CT_F_HOSTPORT) && dp_ep_lookup(w->m->ep, w->ct.nat_ip, &ep)) {
		w->has_ct = false; /* a hostPort datagram needs its pod */
		step(w->x,
		     "conntrack names the hostPort pod %s, no endpoint any more: judged as "
		     "a new flow",
		     inspect_addr(w->ct.nat_ip, 0, a));
		return false;
	}
	if (!(w->ct.flags & SL_CT_F_HOSTPORT) &&
	    (dp_be_lookup(w->m->be, w->ct.backend_id, be) || be->ip != w->ct.nat_ip ||
	     be->port != w->ct.nat_port)) {
		w->has_ct = false; /* a datagram needs its backend */
		step(w->x,
		     "conntrack names backend %u, which is gone or now another address: judged "
		     "as a new flow",
		     w->ct.backend_id);
		return false;
	}
	return true;
}

/* The outcome of a flow its conntrack forward entry decides: the DNAT is the
 * entry's, whatever sl_be4 says now. */
static void ct_fwd_outcome(struct walk *w, const struct flow *f, struct sl_be_val *be)
{
	char a[INSPECT_ADDR_MAX];

	be->ip = w->ct.nat_ip;
	be->port = w->ct.nat_port;
	w->x->svc_id = w->ct.svc_id;
	if (w->ct.flags & SL_CT_F_HOSTPORT)
		step(w->x, "established hostPort flow (conntrack forward entry): DNAT to %s",
		     inspect_addr(be->ip, be->port, a));
	else
		step(w->x, "established flow (conntrack forward entry): it keeps backend %u",
		     w->ct.backend_id);
	if (!(w->ct.flags & SL_CT_F_HOSTPORT))
		be_step(w, w->ct.backend_id, be);
	be_outcome(w, f, w->ct.backend_id, be, SL_PATH_SVC_CT);
}

/* A packet of an established flow (SRC:PORT given, no SYN): the one
 * conntrack lookup of from_pod_lb4 on its tuple; 1 with the outcome when its
 * entry decided, 0 when the packet is judged as a new flow. */
static int ct_walk(struct walk *w, const struct flow *f)
{
	struct sl_ct_key k = {.saddr = f->saddr,
			      .daddr = f->daddr,
			      .sport = f->sport,
			      .dport = f->dport,
			      .proto = f->proto};
	struct sl_be_val be = {};
	char a[INSPECT_ADDR_MAX];

	if (dp_ct_lookup(w->m->ct, &k, &w->ct)) {
		step(w->x, "no conntrack entry for this flow: it is judged as a new one");
		return 0;
	}
	w->has_ct = true;
	if ((w->ct.flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)) == SL_CT_F_REPLY) {
		step(w->x,
		     "a reply of a load-balanced flow (conntrack reply entry): its source "
		     "becomes %s",
		     inspect_addr(w->ct.nat_ip, w->ct.nat_port, a));
		outcome(w, f, 0, SL_PATH_REVNAT);
		return 1;
	}
	if (w->ct.flags & SL_CT_F_POLICY) {
		step(w->x,
		     "a flow tracked for NetworkPolicy (conntrack %s entry): no Service "
		     "lookup",
		     w->ct.flags & SL_CT_F_REPLY ? "reply" : "forward");
		outcome(w, f, 0, 0);
		return 1;
	}
	if (!ct_dgram_continues(w, f, &be))
		return 0;
	ct_fwd_outcome(w, f, &be);
	return 1;
}

/* Whether f goes to a frontend's port (scope EXT: NodePort, externalIP, LB
 * IP), which wins over a hostPort on the uplink; its Service path is not
 * walked here. */
static bool ext_svc_port(const struct walk *w, const struct flow *f)
{
	struct sl_svc_key k = {
	    .vip = f->daddr, .port = f->dport, .proto = f->proto, .scope = SL_SVC_SCOPE_EXT};
	struct sl_svc_val v;

	if (dp_svc_lookup(w->m->svc, &k, &v))
		return false;
	step(w->x, "DST is a Service frontend (NodePort, externalIP or LB IP) on this port: "
		   "explain does not walk sl_from_net's Service path");
	return true;
}

/* SRC is no local endpoint: sl_to_pod of a local DST sees the packet, or the
 * hostPort path of a node address. */
static void explain_inbound(const struct walk *w, const struct flow *f)
{
	struct sl_ep_val dst_ep;
	char b[INSPECT_ADDR_MAX + 300];

	step(w->x, "SRC %s is no endpoint of this node: sl_from_pod does not see it here",
	     who(w, f->saddr, f->sport, b, sizeof(b)));
	if (dp_ep_lookup(w->m->ep, f->daddr, &dst_ep)) {
		if (f->proto && !ext_svc_port(w, f) && hp_walk(w, f, SL_PATH_HOSTPORT)) {
			step(w->x, "arriving from outside the node, sl_from_net on the uplink does "
				   "this; from a pod of another node, sl_from_pod there");
			return;
		}
		outcome_final(w->x, f->daddr, f->dport, 0, EXPLAIN_NOT_HERE,
			      "neither end is an endpoint of this node: run explain on SRC's node");
		return;
	}
	step(w->x, "DST is endpoint %u: sl_to_pod on its veth judges ingress policy", dst_ep.ep_id);
	outcome(w, f, 0, 0);
	if (w->x->out[0].fate == EXPLAIN_LOCAL)
		w->x->out[0].ret = 0; /* sl_to_pod passes it on; the stack delivers it */
}

int explain_run(const struct inspect_maps *m, const struct names *names, const struct explain_q *q,
		struct explain *x)
{
	struct walk w = {.m = m, .names = names, .q = q, .x = x};
	struct flow f = {q->src, q->dst, q->sport, q->dport, q->proto};
	char b[INSPECT_ADDR_MAX + 300];

	memset(x, 0, sizeof(*x));
	if (m->ep < 0 || m->svc < 0 || m->be < 0)
		return -ENOENT;
	x->src_local = !dp_ep_lookup(m->ep, q->src, &w.src_ep);
	if (!x->src_local) {
		explain_inbound(&w, &f);
	} else {
		step(x, "SRC %s is endpoint %u of this node (host veth ifindex %u, identity %u)",
		     who(&w, q->src, q->sport, b, sizeof(b)), w.src_ep.ep_id, w.src_ep.ifindex,
		     w.src_ep.identity);
		if (!q->proto)
			step(x, "not TCP/UDP/SCTP: no service or policy lookup");
		if (!q->proto)
			outcome(&w, &f, 0, 0);
		else if (!(q->sport && ct_walk(&w, &f)) && !svc_walk(&w, &f) &&
			 !hp_walk(&w, &f, SL_PATH_HOSTPORT))
			outcome(&w, &f, 0, 0);
	}
	x->deterministic = x->n_out == 1;
	return 0;
}

const char *explain_fate_name(int fate)
{
	static const char *const names[] = {
	    [EXPLAIN_LOCAL] = "local",	 [EXPLAIN_FIB] = "fib",	  [EXPLAIN_STACK] = "stack",
	    [EXPLAIN_REJECT] = "reject", [EXPLAIN_DROP] = "drop", [EXPLAIN_NOT_HERE] = "not-here"};

	return fate >= 0 && fate <= EXPLAIN_NOT_HERE ? names[fate] : "?";
}
