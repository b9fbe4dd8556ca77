/* SPDX-License-Identifier: Apache-2.0 */
/* The node the uplink-program tests (test_node.c, test_dsr.c, test_ns_icmp_err.c, test_hostport.c)
 * share: its addresses and routes, the uplink program loaded with its maps unpinned, its fds, its
 * remote backends, and the client's packets as they arrive from the router. */
#ifndef SLUICE_BPF_TESTS_NODE_FIXTURE_H
#define SLUICE_BPF_TESTS_NODE_FIXTURE_H

#include <stdbool.h>
#include <arpa/inet.h>

#include <bpf/libbpf.h>

#include "dp.h"
#include "l4_pkt.h"
#include "node.skel.h"
#include "unit.h"

#define NODE_IP	  IP(10, 0, 0, 1)   /* the node's address on up0 (POD_FIXTURE_LINKS) */
#define CLIENT	  IP(192, 0, 2, 50) /* outside, behind the router */
#define IP_REMOTE IP(10, 244, 2, 5) /* a backend pod on another node */
#define NP_REMOTE 30081		    /* TCP -> IP_REMOTE:8080 (backend 2), Cluster: SNAT */
#define NP_UDP	  30084		    /* UDP -> IP_REMOTE:5353 (backend 3), Cluster: SNAT */

/* The lines of netns_setup after POD_FIXTURE_LINKS every uplink test has: the other node's pods
 * and the clients behind the router, forwarding on. */
#define NODE_FIXTURE_ROUTES                                                                        \
	"ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",                                         \
	    "ip route add 192.0.2.0/24 via 10.0.0.2 dev up0",                                      \
	    "echo 1 > /proc/sys/net/ipv4/ip_forward"

/* Where a test's frontends and backends go: the node's sl_svc4 and sl_be4,
 * and the address its external frontends SNAT to. */
struct node_fixture_lb {
	int svc, be;
	__be32 snat_ip;
};

/* The external-scope entry {ip, port, proto, slot} -> {id, count, flags}
 * (slot 0: the frontend, count its backends; slot n: its n-th backend id). */
static inline void node_fixture_svc_ext(const struct node_fixture_lb *lb, __be32 ip, __u16 port,
					__u8 proto, __u16 slot, __u32 id, __u16 count, __u16 flags)
{
	struct sl_svc_key k = {.vip = ip, .port = htons(port), .proto = proto};
	struct sl_svc_val v = {.id = id, .count = count, .flags = flags, .snat_ip = lb->snat_ip};

	k.scope = SL_SVC_SCOPE_EXT;
	k.slot = slot;
	CHECK_INT(dp_svc_update(lb->svc, &k, &v), 0);
}

/* A frontend svc_id with the one backend be_id: its slot 1, then its slot 0 (count 1). */
static inline void node_fixture_svc_one(const struct node_fixture_lb *lb, __be32 ip, __u16 port,
					__u8 proto, __u32 svc_id, __u32 be_id, __u16 flags)
{
	node_fixture_svc_ext(lb, ip, port, proto, 1, be_id, 0, 0);
	node_fixture_svc_ext(lb, ip, port, proto, 0, svc_id, 1, flags);
}

/* Backend id -> {ip, port, proto, flags}. */
static inline void node_fixture_be_put(const struct node_fixture_lb *lb, __u32 id, __be32 ip,
				       __u16 port, __u8 proto, __u8 flags)
{
	struct sl_be_val v = {.ip = ip, .port = htons(port), .proto = proto, .flags = flags};

	CHECK_INT(dp_be_update(lb->be, id, &v), 0);
}

/* The remote backends of every uplink test and their frontends on the node's address: its
 * marker, NP_REMOTE (svc 2 -> backend 2) and NP_UDP (svc udp_id -> backend 3). */
static inline void node_fixture_seed_remote(const struct node_fixture_lb *lb, __u32 udp_id)
{
	node_fixture_be_put(lb, 2, IP_REMOTE, 8080, IPPROTO_TCP, 0);
	node_fixture_be_put(lb, 3, IP_REMOTE, 5353, IPPROTO_UDP, 0);
	node_fixture_svc_ext(lb, NODE_IP, 0, 0, 0, 0, 0, SL_SVC_F_NODEIP);
	node_fixture_svc_one(lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 2, 2, 0);
	node_fixture_svc_one(lb, NODE_IP, NP_UDP, IPPROTO_UDP, udp_id, 3, 0);
}

/* The conntrack entry (in the map ct) of the flow saddr:sport -> daddr:dport into *v. */
static inline int node_fixture_ct_get(int ct, __be32 saddr, __be32 daddr, __u16 sport, __u16 dport,
				      __u8 proto, struct sl_ct_val *v)
{
	struct sl_ct_key k = {.saddr = saddr,
			      .daddr = daddr,
			      .sport = htons(sport),
			      .dport = htons(dport),
			      .proto = proto};

	return bpf_map_lookup_elem(ct, &k, v);
}

/* A TCP segment src:sport -> dst:dport as it arrives on the uplink from the router. */
static inline struct tcp_pkt node_fixture_tcp_in(__be32 src, __be32 dst, __u16 sport, __u16 dport,
						 __u8 flags)
{
	return tcp_build(mac_router, mac_uplink, src, dst, sport, dport, flags);
}

/* A UDP datagram src:sport -> dst:dport as it arrives on the uplink from the router. */
static inline struct udp_pkt node_fixture_udp_in(__be32 src, __be32 dst, __u16 sport, __u16 dport)
{
	struct udp_pkt p = udp_build(src, dst, sport, dport, false);

	memcpy(p.eth.h_source, mac_router, ETH_ALEN);
	memcpy(p.eth.h_dest, mac_uplink, ETH_ALEN);
	return p;
}

/* The uplink program and the maps of a loaded node skeleton; lb its frontends and backends. */
struct node_fds {
	int prog, metrics, ct, nat, lbsrc, svcstat;
	struct node_fixture_lb lb;
	struct dp_ep_maps eps; /* sl_ep4 and sl_epsrc4 */
};

static inline struct node_fds node_fds_of(const struct sl_node *skel)
{
	return (struct node_fds){
	    .prog = bpf_program__fd(skel->progs.sl_from_net),
	    .metrics = bpf_map__fd(skel->maps.sl_metrics),
	    .ct = bpf_map__fd(skel->maps.sl_ct4),
	    .nat = bpf_map__fd(skel->maps.sl_nat4),
	    .lbsrc = bpf_map__fd(skel->maps.sl_lbsrc4),
	    .svcstat = bpf_map__fd(skel->maps.sl_svcstat),
	    .lb = {.svc = bpf_map__fd(skel->maps.sl_svc4),
		   .be = bpf_map__fd(skel->maps.sl_be4),
		   .snat_ip = NODE_IP},
	    .eps = {.ep = bpf_map__fd(skel->maps.sl_ep4), .src = bpf_map__fd(skel->maps.sl_epsrc4)},
	};
}

/* The case what: the skeleton opened and loaded (checked), in DSR mode
 * when dsr is set; NULL when it cannot even be opened. */
static inline struct sl_node *node_fixture_load_mode(const char *what, bool dsr)
{
	struct sl_node *skel;
	struct bpf_map *map;

	UNIT_CASE(what);
	skel = sl_node__open();
	CHECK(skel != NULL);
	if (!skel)
		return NULL;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	skel->rodata->nodeport_dsr = dsr;
	CHECK_INT(sl_node__load(skel), 0);
	return skel;
}

static inline struct sl_node *node_fixture_load(const char *what)
{
	return node_fixture_load_mode(what, false);
}

/* A test's run on a fresh unpinned uplink skeleton (in DSR mode when dsr is set): the namespace
 * entered, the skeleton loaded (case what), run on its fds when the program loaded. -1: no
 * namespace; 1: no skeleton; 0: run. */
static inline int node_fixture_run(const char *test, const char *const *setup, size_t n,
				   const char *what, bool dsr,
				   void (*run)(const struct node_fds *nf))
{
	struct sl_node *skel;
	struct node_fds nf;

	if (pod_fixture_enter(test, setup, n) < 0)
		return -1;
	skel = node_fixture_load_mode(what, dsr);
	if (!skel)
		return 1;
	nf = node_fds_of(skel);
	if (nf.prog >= 0)
		run(&nf);
	sl_node__destroy(skel);
	return 0;
}

#endif
