// SPDX-License-Identifier: Apache-2.0
/* explain against the datapath: for a table of packets, what `sluice-agent
 * explain` says (node-agent/inspect/explain.c, from the maps) and what
 * sl_from_pod / sl_to_pod do with them (BPF_PROG_TEST_RUN, same maps) must
 * agree: the metric counted, the verdict, and the backend: exactly where the
 * choice is deterministic, one of explain's set otherwise. Root; runs in a
 * private network namespace. */
#define _GNU_SOURCE
#include <time.h>

#include "explain.h"
#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_REMOTE  IP(10, 244, 2, 5) /* a pod on another node */
#define IP_NODE	   IP(10, 0, 0, 1)   /* this node's address */
#define IP_NOROUTE IP(192, 168, 99, 1)
#define VIP1	   IP(10, 96, 0, 10) /* TCP 80: B only; TCP 443: B and REMOTE */
#define VIP_EMPTY  IP(10, 96, 0, 20) /* TCP 80: none (reject); TCP 81: Local, none (drop) */
#define VIP_AFF	   IP(10, 96, 0, 30) /* TCP 80: B and REMOTE, ClientIP affinity */
#define VIP_HAIR   IP(10, 96, 0, 40) /* TCP 80: A itself */
#define VIP_HOLE   IP(10, 96, 0, 50) /* TCP 80: a slot without its backend */
#define ID_A	   256
#define ID_B	   257
#define ID_REMOTE  258

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static void svc_put(const struct fds *f, __be32 vip, __u16 port, __u16 slot, __u32 id, __u16 count,
		    __u16 flags)
{
	struct sl_svc_key k = {
	    .vip = vip, .port = htons(port), .proto = port ? IPPROTO_TCP : 0, .slot = slot};
	struct sl_svc_val v = {.id = id, .count = count, .flags = flags, .affinity_timeout = 600};

	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);
}

/* A TCP service port: its frontend (slot 0: svc id, flags, n backends)
 * and backend slots 1..n. */
struct svc_port {
	__be32 vip;
	__u16 port;
	__u32 id;
	__u16 flags, n;
	__u32 be[2]; /* the backend ids of slots 1..n */
};

/* The slots, then the frontend that counts them, as the agent publishes. */
static void svc_port_put(const struct fds *f, const struct svc_port *p)
{
	for (__u16 slot = 1; slot <= p->n; slot++)
		svc_put(f, p->vip, p->port, slot, p->be[slot - 1], 0, 0);
	svc_put(f, p->vip, p->port, 0, p->id, p->n, p->flags);
}

static void be_put(const struct fds *f, __u32 id, __be32 ip, __u16 port, __u8 flags)
{
	struct sl_be_val v = {.ip = ip, .port = htons(port), .proto = IPPROTO_TCP, .flags = flags};

	CHECK_INT(dp_be_update(f->be, id, &v), 0);
}

static void ep_put(const struct fds *f, __be32 ip, int ifindex, const __u8 *mac, const __u8 *host,
		   __u32 identity)
{
	struct sl_ep_val v = {.ifindex = ifindex, .ep_id = ifindex, .identity = identity};

	memcpy(v.pod_mac, mac, 6);
	memcpy(v.host_mac, host, 6);
	CHECK_INT(dp_ep_update(&f->eps, ip, &v), 0);
}

static void maps_seed(const struct fds *f)
{
	const __be32 vips[] = {VIP1, VIP_EMPTY, VIP_AFF, VIP_HAIR, VIP_HOLE};
	const struct svc_port ports[] = {
	    {VIP1, 80, 1, 0, 1, {1}},
	    {VIP1, 443, 2, 0, 2, {2, 3}},
	    {VIP_EMPTY, 80, 3, 0, 0, {}},
	    {VIP_EMPTY, 81, 4, SL_SVC_F_DROP_EMPTY, 0, {}},
	    {VIP_AFF, 80, 5, SL_SVC_F_AFFINITY, 2, {1, 3}},
	    {VIP_HAIR, 80, 6, 0, 1, {4}},
	    {VIP_HOLE, 80, 7, 0, 1, {99}}, /* backend 99 is never written */
	};

	ep_put(f, IP_A, if_a, mac_a, host_a, ID_A);
	ep_put(f, IP_B, if_b, mac_b, host_b, ID_B);
	CHECK_INT(dp_ipcache_update(f->ipc, IP_A, 32, ID_A), 0);
	CHECK_INT(dp_ipcache_update(f->ipc, IP_B, 32, ID_B), 0);
	CHECK_INT(dp_ipcache_update(f->ipc, IP_REMOTE, 32, ID_REMOTE), 0);
	be_put(f, 1, IP_B, 8080, SL_BE_F_LOCAL);
	be_put(f, 2, IP_B, 8443, SL_BE_F_LOCAL);
	be_put(f, 3, IP_REMOTE, 8443, SL_BE_F_TERMINATING);
	be_put(f, 4, IP_A, 8080, SL_BE_F_LOCAL);
	for (size_t i = 0; i < sizeof(vips) / sizeof(vips[0]); i++)
		svc_put(f, vips[i], 0, 0, 0, 0, SL_SVC_F_VIP);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		svc_port_put(f, &ports[i]);
}

/* The node's address serves NodePort 30080 (svc 8) -> B:8080; its marker. */
static void nodeip_seed(const struct fds *f)
{
	svc_put(f, IP_NODE, 0, 0, 0, 0, SL_SVC_F_NODEIP);
	svc_port_put(f, &(const struct svc_port){IP_NODE, 30080, 8, 0, 1, {1}});
}

/* hostPorts: 18080/tcp on the node's address and 18081/tcp on every node
 * address, both to B:8080. */
static void hostport_seed(const struct fds *f)
{
	struct sl_hport_key k = {.ip = IP_NODE, .port = htons(18080), .proto = IPPROTO_TCP};
	struct sl_hport_val v = {.pod_ip = IP_B, .pod_port = htons(8080)};

	CHECK_INT(dp_hport_insert(f->hport, &k, &v), 0);
	CHECK_INT(dp_hpgate_sync(f->hport, f->hpgate, k.port, k.proto), 0);
	k.ip = 0;
	k.port = htons(18081);
	CHECK_INT(dp_hport_insert(f->hport, &k, &v), 0);
	CHECK_INT(dp_hpgate_sync(f->hport, f->hpgate, k.port, k.proto), 0);
}

/* B accepts from A on TCP 8080 and from anyone on TCP 7070; A accepts
 * nothing (only replies of flows it opened); policies exist. */
static void policy_seed(const struct fds *f)
{
	struct sl_pol_key k = {.ep_id = if_b,
			       .peer = ID_A,
			       .dport = htons(8080),
			       .proto = IPPROTO_TCP,
			       .dir = SL_POL_DIR_IN};
	struct sl_polcfg_val cfg = {.flags = SL_POLCFG_F_ACTIVE, .gen = 1};

	CHECK_INT(dp_pol_update(f->pol, &k), 0);
	k.peer = SL_ID_ANY;
	k.dport = htons(7070);
	CHECK_INT(dp_pol_update(f->pol, &k), 0);
	CHECK_INT(dp_polcfg_write(f->cfg, &cfg), 0);
	CHECK_INT(dp_ep_policy_set(f->ep, IP_B, ID_B, SL_EP_F_ISO_IN), 0);
	CHECK_INT(dp_ep_policy_set(f->ep, IP_A, ID_A, SL_EP_F_ISO_IN), 0); /* admits nothing */
}

/* Pod A's affinity to REMOTE (backend 3) at VIP_AFF (svc 5), used just now. */
static void affinity_seed(const struct fds *f)
{
	struct sl_aff_key k = {.client = IP_A, .svc_id = 5};
	struct sl_aff_val v = {.backend_id = 3};
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.last_used_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	CHECK_INT(bpf_map_update_elem(f->aff, &k, &v, BPF_ANY), 0);
}

#define ANY_SET (-1)
#define ANY_ONE (-2)

struct xcase {
	const char *name;
	bool inbound; /* from another node to B: sl_to_pod on hb */
	__be32 src, dst;
	__u16 sport, dport; /* sport 0: a new flow (SYN) per run, from port 40000 + run */
	int runs;
	int fate; /* explain's fate of the only outcome (the table covers what it says);
		   * ANY_SET: several outcomes; ANY_ONE: one outcome, any fate */
};

/* The tc verdict a fate implies at the program that ran. */
static int verdict_of(int fate, bool inbound)
{
	if (fate == EXPLAIN_DROP)
		return TC_ACT_SHOT;
	if (inbound || fate == EXPLAIN_STACK)
		return TC_ACT_OK;
	return TC_ACT_REDIRECT;
}

/* The metric index one run moved, 0 when none, -1 when several. */
static int metric_moved(const struct sl_metric_val *a, const struct sl_metric_val *b)
{
	int moved = 0;

	for (int i = 1; i < SL_METRICS_MAX; i++)
		if (b[i].packets != a[i].packets)
			moved = moved ? -1 : i;
	return moved;
}

static const struct explain_out *outcome_find(const struct explain *x, const struct tcp_pkt *out)
{
	if (x->deterministic)
		return &x->out[0];
	for (int i = 0; i < x->n_out; i++)
		if (x->out[i].dst == out->ip.daddr && x->out[i].dport == out->tcp.dest)
			return &x->out[i];
	return NULL;
}

static void run_one(const struct fds *f, const struct xcase *c, const struct explain *x, int run)
{
	struct sl_metric_val before[SL_METRICS_MAX], after[SL_METRICS_MAX];
	bool from_b = c->src == IP_B; /* else from A, or from the uplink when inbound */
	struct tcp_pkt in =
	    tcp_build(c->inbound ? mac_uplink
		      : from_b	 ? mac_b
				 : mac_a,
		      from_b ? host_b : host_a, c->src, c->dst, c->sport ? c->sport : 40000 + run,
		      c->dport, c->sport ? 0x10 : 0x02);
	__u8 buf[256] = {};
	struct tcp_pkt out;
	struct __sk_buff ctx = {.ifindex = c->inbound || from_b ? if_b : if_a,
				.ingress_ifindex = c->inbound ? if_up
						   : from_b   ? if_b
							      : if_a};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &in, .data_size_in = sizeof(in),
		    .data_out = buf, .data_size_out = sizeof(buf), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	const struct explain_out *o;

	CHECK_INT(dp_metrics_read(f->metrics, before), 0);
	CHECK_INT(bpf_prog_test_run_opts(c->inbound ? f->to_pod : f->from_pod, &opts), 0);
	CHECK_INT(dp_metrics_read(f->metrics, after), 0);
	memcpy(&out, buf, sizeof(out));
	o = outcome_find(x, &out);
	CHECK(o != NULL);
	if (!o) {
		fprintf(stderr, "  run %d: went to %s:%u, not in explain's set\n", run,
			inet_ntoa((struct in_addr){out.ip.daddr}), ntohs(out.tcp.dest));
		return;
	}
	CHECK_INT(metric_moved(before, after), o->ret < 0 ? -o->ret : o->ret);
	CHECK_INT(opts.retval, verdict_of(o->fate, c->inbound));
	/* one check whichever outcome the random choice took: the suite's count stays put */
	CHECK(!o->backend_id || o->fate == EXPLAIN_DROP ||
	      (out.ip.daddr == o->dst && out.tcp.dest == o->dport));
}

static void case_run(const struct fds *f, const struct inspect_maps *m, const struct xcase *c)
{
	struct explain_q q = {.src = c->src,
			      .dst = c->dst,
			      .sport = htons(c->sport),
			      .dport = htons(c->dport),
			      .proto = IPPROTO_TCP};
	static struct explain x;

	UNIT_CASE(c->name);
	CHECK_INT(explain_run(m, NULL, &q, &x), 0);
	CHECK(x.n_out > 0);
	if (c->fate >= 0)
		CHECK_STR(explain_fate_name(x.out[0].fate), explain_fate_name(c->fate));
	CHECK_INT(x.deterministic, c->fate != ANY_SET);
	for (int i = 0; i < c->runs && x.n_out > 0; i++)
		run_one(f, c, &x, i);
}

/* Conntrack forward entries written by hand, explain alone (no packet run:
 * the table above builds TCP packets): lb4_ct_continues keeps a TCP flow on
 * its entry's DNAT, while a datagram whose backend or hostPort pod is gone
 * is judged as a new flow. */
struct ct_xcase {
	const char *name;
	__u8 proto;
	__be32 dst;
	__u16 sport, dport;
	struct sl_ct_val ct;
	bool kept;	 /* the entry decides: SL_PATH_SVC_CT to its nat_ip:nat_port */
	const char *why; /* a step that says so */
};

static void ct_case_run(const struct fds *f, const struct inspect_maps *m, const struct ct_xcase *c)
{
	struct sl_ct_key k = {.saddr = IP_A,
			      .daddr = c->dst,
			      .sport = htons(c->sport),
			      .dport = htons(c->dport),
			      .proto = c->proto};
	struct explain_q q = {.src = IP_A,
			      .dst = c->dst,
			      .sport = htons(c->sport),
			      .dport = htons(c->dport),
			      .proto = c->proto};
	static struct explain x;
	bool said = false;

	UNIT_CASE(c->name);
	CHECK_INT(bpf_map_update_elem(f->ct, &k, &c->ct, BPF_ANY), 0);
	CHECK_INT(explain_run(m, NULL, &q, &x), 0);
	CHECK(x.n_out > 0);
	if (x.n_out <= 0)
		return;
	CHECK_INT(x.out[0].ret == SL_PATH_SVC_CT, c->kept);
	if (c->kept) {
		CHECK_INT(ntohl(x.out[0].dst), ntohl(c->ct.nat_ip));
		CHECK_INT(ntohs(x.out[0].dport), ntohs(c->ct.nat_port));
	}
	for (int i = 0; i < x.n_steps; i++)
		said |= strstr(x.steps[i], c->why) != NULL;
	CHECK(said);
	if (!said)
		for (int i = 0; i < x.n_steps; i++)
			fprintf(stderr, "  step: %s\n", x.steps[i]);
}

static void ct_cases_run(const struct fds *f, const struct inspect_maps *m)
{
	const struct sl_ct_val to_b = {
	    .backend_id = 1, .svc_id = 1, .nat_ip = IP_B, .nat_port = htons(8080)};
	const struct sl_ct_val moved = {/* backend 2 is B:8443 now */
					.backend_id = 2,
					.svc_id = 2,
					.nat_ip = IP_B,
					.nat_port = htons(9999)};
	const struct sl_ct_val hp_b = {
	    .nat_ip = IP_B, .nat_port = htons(8080), .flags = SL_CT_F_HOSTPORT};
	const struct sl_ct_val hp_gone = {
	    .nat_ip = IP(10, 244, 1, 99), .nat_port = htons(8080), .flags = SL_CT_F_HOSTPORT};
	const struct ct_xcase cases[] = {
	    {"an established datagram keeps its backend (conntrack)", IPPROTO_UDP, VIP1, 5000, 53,
	     to_b, true, "it keeps backend 1"},
	    {"a datagram whose backend is now another address is judged as a new flow", IPPROTO_UDP,
	     VIP1, 5001, 53, moved, false,
	     "conntrack names backend 2, which is gone or now another address"},
	    {"a TCP flow keeps its entry's DNAT whatever its backend is now", IPPROTO_TCP, VIP1,
	     5001, 53, moved, true, "it keeps backend 2"},
	    {"an established hostPort datagram: DNAT to its pod (conntrack)", IPPROTO_UDP, IP_NODE,
	     5002, 18090, hp_b, true, "established hostPort flow (conntrack forward entry)"},
	    {"a hostPort datagram whose pod is gone is judged as a new flow", IPPROTO_UDP, IP_NODE,
	     5003, 18090, hp_gone, false,
	     "conntrack names the hostPort pod 10.244.1.99, no endpoint any more"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ct_case_run(f, m, &cases[i]);
}

#define CASES_RUN(f, m, cases)                                                                     \
	do {                                                                                       \
		for (size_t i = 0; i < sizeof(cases) / sizeof((cases)[0]); i++)                    \
			case_run(f, m, &(cases)[i]);                                               \
	} while (0)

/* Services, pod to pod and pod to node, on the maps maps_seed and
 * affinity_seed wrote. */
static void test_services(const struct fds *f, const struct inspect_maps *m)
{
	const struct xcase cases[] = {
	    {"a Service with one backend: exact backend", false, IP_A, VIP1, 0, 80, 3,
	     EXPLAIN_LOCAL},
	    {"a Service with two backends: the one taken is in explain's set", false, IP_A, VIP1, 0,
	     443, 24, ANY_SET},
	    {"an established flow keeps its backend (conntrack)", false, IP_A, VIP1, 40001, 443, 2,
	     ANY_ONE},
	    {"a Service without endpoints rejects", false, IP_A, VIP_EMPTY, 0, 80, 1,
	     EXPLAIN_REJECT},
	    {"a port the Service lacks rejects", false, IP_A, VIP_EMPTY, 0, 99, 1, EXPLAIN_REJECT},
	    {"Local traffic policy without a local endpoint drops", false, IP_A, VIP_EMPTY, 0, 81,
	     1, EXPLAIN_DROP},
	    {"a slot without its backend drops", false, IP_A, VIP_HOLE, 0, 80, 1, EXPLAIN_DROP},
	    {"a fresh affinity entry decides: exact backend", false, IP_A, VIP_AFF, 0, 80, 4,
	     EXPLAIN_FIB},
	    {"without an affinity entry: one of the slots (hairpin included)", false, IP_B, VIP_AFF,
	     0, 80, 12, ANY_SET},
	    {"a pod reaching itself through its Service: hairpin", false, IP_A, VIP_HAIR, 0, 80, 2,
	     EXPLAIN_LOCAL},
	    {"pod to pod on this node: redirect", false, IP_A, IP_B, 0, 80, 1, EXPLAIN_LOCAL},
	    {"pod to a pod of another node: FIB", false, IP_A, IP_REMOTE, 0, 80, 1, EXPLAIN_FIB},
	    {"pod to the node's own address: the stack", false, IP_A, IP_NODE, 0, 22, 1,
	     EXPLAIN_STACK},
	    {"pod to an address without a route: the stack", false, IP_A, IP_NOROUTE, 0, 80, 1,
	     EXPLAIN_STACK},
	};

	CASES_RUN(f, m, cases);
}

/* A node address with NodePorts: its marker (SL_SVC_F_NODEIP) passes the
 * other ports to the node, as lb4_service does. */
static void test_nodeports(const struct fds *f, const struct inspect_maps *m)
{
	const struct xcase cases[] = {
	    {"a node address on a port no NodePort uses: the node's own (its marker passes it)",
	     false, IP_A, IP_NODE, 0, 22, 1, EXPLAIN_STACK},
	    {"a NodePort on the node's address, from a pod: its backend", false, IP_A, IP_NODE, 0,
	     30080, 2, EXPLAIN_LOCAL},
	};

	nodeip_seed(f);
	CASES_RUN(f, m, cases);
}

/* hostPorts, found after the Service lookup as hp4_from_pod does (runs 0:
 * sl_from_net's branch, which this test does not run, explain alone). */
static void test_hostports(const struct fds *f, const struct inspect_maps *m)
{
	const struct xcase cases[] = {
	    {"a hostPort on the node's address: DNAT to its pod", false, IP_A, IP_NODE, 0, 18080, 2,
	     EXPLAIN_LOCAL},
	    {"a hostPort on every node address, to the node's address: DNAT to its pod", false,
	     IP_A, IP_NODE, 0, 18081, 2, EXPLAIN_LOCAL},
	    {"a hostPort on every node address, to another host: not DNATed (FIB)", false, IP_A,
	     IP_REMOTE, 0, 18081, 1, EXPLAIN_FIB},
	    {"a pod reaching its own hostPort: hairpin", false, IP_B, IP_NODE, 0, 18080, 1,
	     EXPLAIN_LOCAL},
	    {"a port no pod maps: the node's own", false, IP_A, IP_NODE, 0, 18082, 1,
	     EXPLAIN_STACK},
	    {"from another node to a hostPort: DNAT to its pod (sl_from_net)", true, IP_REMOTE,
	     IP_NODE, 0, 18081, 0, EXPLAIN_LOCAL},
	};

	hostport_seed(f);
	CASES_RUN(f, m, cases);
}

/* Policy on top of the Services; the established flows and the reply are
 * those the cases before them opened (run 0: port 40000). */
static void test_policy(const struct fds *f, const struct inspect_maps *m)
{
	const struct xcase cases[] = {
	    {"policy allows A to B:8080", false, IP_A, IP_B, 0, 8080, 1, EXPLAIN_LOCAL},
	    {"policy allows A through the Service to B:8080", false, IP_A, VIP1, 0, 80, 2,
	     EXPLAIN_LOCAL},
	    {"a reply to A (reverse NAT, policy conntrack) passes A's isolation", false, IP_B, IP_A,
	     8080, 40000, 1, EXPLAIN_LOCAL},
	    {"an established A to B:8080 passes by its policy-only conntrack entry", false, IP_A,
	     IP_B, 40000, 8080, 1, EXPLAIN_LOCAL},
	    {"a new flow from B to A is denied (ingress of A)", false, IP_B, IP_A, 0, 22, 1,
	     EXPLAIN_DROP},
	    {"policy denies A to B:9090 (ingress of B)", false, IP_A, IP_B, 0, 9090, 1,
	     EXPLAIN_DROP},
	    {"policy: B:8443 denied, REMOTE:8443 allowed, either taken", false, IP_A, VIP1, 0, 443,
	     24, ANY_SET},
	    {"policy denies another node's pod to B:8080", true, IP_REMOTE, IP_B, 0, 8080, 1,
	     EXPLAIN_DROP},
	    {"policy allows anyone to B:7070", true, IP_REMOTE, IP_B, 0, 7070, 1, EXPLAIN_LOCAL},
	};

	policy_seed(f);
	CASES_RUN(f, m, cases);
}

/* After a policy change (generation 2) entries are judged again: the
 * reply as its flow was opened (A to B:8080, allowed), not as it goes
 * (B to A, which A's isolation would deny). */
static void test_policy_regen(const struct fds *f, const struct inspect_maps *m)
{
	const struct xcase cases[] = {
	    {"new generation: an established A to B:8080 is judged again", false, IP_A, IP_B, 40000,
	     8080, 1, EXPLAIN_LOCAL},
	    {"new generation: a reply to A is judged as its flow was opened", false, IP_B, IP_A,
	     8080, 40000, 1, EXPLAIN_LOCAL},
	};
	struct sl_polcfg_val cfg2 = {.flags = SL_POLCFG_F_ACTIVE, .gen = 2};

	CHECK_INT(dp_polcfg_write(f->cfg, &cfg2), 0);
	CASES_RUN(f, m, cases);
}

/* The chapters in order: each adds to the maps and conntrack the ones
 * before it left. */
static void run(const struct fds *f)
{
	const struct inspect_maps m = {.ep = f->ep,
				       .svc = f->svc,
				       .be = f->be,
				       .ct = f->ct,
				       .aff = f->aff,
				       .ipc = f->ipc,
				       .pol = f->pol,
				       .cidr = f->cidr,
				       .cfg = f->cfg,
				       .events = -1,
				       .evcfg = -1,
				       .hport = f->hport,
				       .hpgate = f->hpgate};

	maps_seed(f);
	affinity_seed(f);
	test_services(f, &m);
	test_nodeports(f, &m);
	test_hostports(f, &m);
	ct_cases_run(f, &m);
	test_policy(f, &m);
	test_policy_regen(f, &m);
}

int main(void)
{
	if (pod_fixture_run("bpf_test_explain", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), run) < 0)
		return 1;
	return unit_done();
}
