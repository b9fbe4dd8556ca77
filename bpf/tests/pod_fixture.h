/* SPDX-License-Identifier: Apache-2.0 */
/* The node the pod-program tests (test_pod.c, test_svc.c, test_policy.c)
 * build: two pod veths ha/hb and an uplink up0 with a router behind, their
 * MACs and the pods' addresses, and the loaded skeleton's fds. */
#ifndef SLUICE_TESTS_POD_FIXTURE_H
#define SLUICE_TESTS_POD_FIXTURE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "log.h"
#include "pkt.h"
#include "pod.skel.h"
#include "unit.h"

static const __u8 mac_a[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const __u8 host_a[6] = {0x02, 0xbb, 0, 0, 0, 0x0a};
static const __u8 mac_b[6] = {0x02, 0xaa, 0, 0, 0, 0x0b};
static const __u8 host_b[6] = {0x02, 0xbb, 0, 0, 0, 0x0b};
static const __u8 mac_uplink[6] = {0x02, 0, 0, 0, 0x01, 0};
static const __u8 mac_router[6] = {0x02, 0, 0, 0, 0, 0x02};

#define IP_A IP(10, 244, 1, 10) /* pod behind ha */
#define IP_B IP(10, 244, 1, 11) /* pod behind hb */

/* The first lines of each test's netns_setup: links, the node's uplink
 * address and the router's neighbour entry; each test adds its routes. */
#define POD_FIXTURE_LINKS                                                                          \
	"ip link set lo up", "ip link add ha type veth peer name pa",                              \
	    "ip link add hb type veth peer name pb",                                               \
	    "ip link add up0 address 02:00:00:00:01:00 type veth peer name up1",                   \
	    "ip link set ha up && ip link set pa up && ip link set hb up && ip link set pb up",    \
	    "ip link set up0 up && ip link set up1 up", "ip addr add 10.0.0.1/24 dev up0",         \
	    "ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev up0 nud permanent"

/* The fixture's link indexes, set by pod_fixture_enter. */
static int if_a, if_b, if_up;

/* Enters the test's private namespace, built by the n lines of setup, and
 * finds its links ha, hb and up0; -1 (said on stderr) when it cannot. */
static inline int pod_fixture_enter(const char *test, const char *const *setup, size_t n)
{
	if (bpf_test_enter(test, setup, n) < 0)
		return -1;
	if_a = if_nametoindex("ha");
	if_b = if_nametoindex("hb");
	if_up = if_nametoindex("up0");
	if (!if_a || !if_b || !if_up) {
		fprintf(stderr, "netns setup failed: links missing\n");
		return -1;
	}
	return 0;
}

/* Pods A and B as this node's endpoints in the endpoint maps m (sl_ep4
 * and their sl_epsrc4 slots), each with its host veth's ifindex as ep_id;
 * checked. */
static inline void pod_fixture_eps_put(const struct dp_ep_maps *m)
{
	struct sl_ep_val a = {.ifindex = if_a, .ep_id = if_a}, b = {.ifindex = if_b, .ep_id = if_b};

	memcpy(a.pod_mac, mac_a, 6);
	memcpy(a.host_mac, host_a, 6);
	memcpy(b.pod_mac, mac_b, 6);
	memcpy(b.host_mac, host_b, 6);
	CHECK_INT(dp_ep_update(m, IP_A, &a), 0);
	CHECK_INT(dp_ep_update(m, IP_B, &b), 0);
}

/* The programs and maps of a loaded pod skeleton. */
struct fds {
	int from_pod, to_pod, metrics, ep, ipc, pol, cidr, cfg, drop, svc, be, ct, aff;
	int svcstat, hport, hpgate, clock;
	struct dp_ep_maps eps; /* sl_ep4 (ep) and sl_epsrc4 */
};

static inline struct fds fds_of(const struct sl_pod *skel)
{
	return (struct fds){
	    .from_pod = bpf_program__fd(skel->progs.sl_from_pod),
	    .to_pod = bpf_program__fd(skel->progs.sl_to_pod),
	    .metrics = bpf_map__fd(skel->maps.sl_metrics),
	    .svcstat = bpf_map__fd(skel->maps.sl_svcstat),
	    .clock = bpf_map__fd(skel->maps.sl_clock),
	    .ep = bpf_map__fd(skel->maps.sl_ep4),
	    .ipc = bpf_map__fd(skel->maps.sl_ipcache4),
	    .pol = bpf_map__fd(skel->maps.sl_pol),
	    .cidr = bpf_map__fd(skel->maps.sl_polcidr4),
	    .cfg = bpf_map__fd(skel->maps.sl_polcfg),
	    .drop = bpf_map__fd(skel->maps.sl_poldrop),
	    .svc = bpf_map__fd(skel->maps.sl_svc4),
	    .be = bpf_map__fd(skel->maps.sl_be4),
	    .ct = bpf_map__fd(skel->maps.sl_ct4),
	    .aff = bpf_map__fd(skel->maps.sl_aff4),
	    .hport = bpf_map__fd(skel->maps.sl_hport4),
	    .hpgate = bpf_map__fd(skel->maps.sl_hpgate),
	    .eps = {.ep = bpf_map__fd(skel->maps.sl_ep4), .src = bpf_map__fd(skel->maps.sl_epsrc4)},
	};
}

/* The skeleton with private maps (nothing pinned), in DSR mode when dsr
 * is set; ct_fd >= 0 replaces sl_ct4. */
static inline struct sl_pod *pod_fixture_load_mode(int ct_fd, bool dsr)
{
	struct sl_pod *skel = sl_pod__open();
	struct bpf_map *map;

	CHECK(skel != NULL);
	if (!skel)
		return NULL;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	if (ct_fd >= 0)
		CHECK_INT(bpf_map__reuse_fd(skel->maps.sl_ct4, ct_fd), 0);
	skel->rodata->nodeport_dsr = dsr;
	CHECK_INT(sl_pod__load(skel), 0);
	return skel;
}

static inline struct sl_pod *pod_fixture_load(int ct_fd)
{
	return pod_fixture_load_mode(ct_fd, false);
}

/* A test's run on a fresh unpinned skeleton: the namespace entered, the
 * skeleton loaded ("skeleton loads"), run on its fds when both programs
 * loaded. -1: no namespace; 1: no skeleton; 0: run. */
static inline int pod_fixture_run(const char *test, const char *const *setup, size_t n,
				  void (*run)(const struct fds *f))
{
	struct sl_pod *skel;
	struct fds f;

	if (pod_fixture_enter(test, setup, n) < 0)
		return -1;
	UNIT_CASE("skeleton loads");
	skel = pod_fixture_load(-1);
	if (!skel)
		return 1;
	f = fds_of(skel);
	if (f.from_pod >= 0 && f.to_pod >= 0)
		run(&f);
	sl_pod__destroy(skel);
	return 0;
}

#endif
