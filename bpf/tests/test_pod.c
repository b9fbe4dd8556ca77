// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of the pod program, plus load/pin and tc attach of
 * the datapath library. Root; runs in a private network namespace. */
#define _GNU_SOURCE
#include <dirent.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <linux/if_arp.h>
#include <linux/ipv6.h>

#include "pod_fixture.h"

static const __u8 mac_other[6] = {0x02, 0xcc, 0, 0, 0, 0x01};

#define IP_NODE	      IP(10, 0, 0, 1)
#define IP_ROUTED     IP(192, 0, 2, 7)	  /* via 10.0.0.2, neighbour known */
#define IP_UNRESOLVED IP(198, 51, 100, 7) /* via 10.0.0.3, no neighbour */
#define IP_NOWHERE    IP(203, 0, 113, 5)  /* no route */

/* The private namespace: two pod veths and an uplink with a router behind. */
static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 192.0.2.0/24 via 10.0.0.2 dev up0",
    "ip route add 198.51.100.0/24 via 10.0.0.3 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static char pin_dir[64];

struct arp_pkt {
	struct ethhdr eth;
	struct arphdr arp;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

struct icmp_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct icmphdr icmp;
	__u8 payload[8];
} __attribute__((packed));

static struct arp_pkt arp_build(const __u8 *src_mac, __u16 op, const __u8 *sha, __be32 spa,
				__be32 tpa)
{
	struct arp_pkt p = {};

	memset(p.eth.h_dest, 0xff, ETH_ALEN);
	memcpy(p.eth.h_source, src_mac, ETH_ALEN);
	p.eth.h_proto = htons(ETH_P_ARP);
	p.arp.ar_hrd = htons(ARPHRD_ETHER);
	p.arp.ar_pro = htons(ETH_P_IP);
	p.arp.ar_hln = ETH_ALEN;
	p.arp.ar_pln = 4;
	p.arp.ar_op = htons(op);
	memcpy(p.sha, sha, ETH_ALEN);
	p.spa = spa;
	p.tpa = tpa;
	return p;
}

static struct icmp_pkt icmp_build(const __u8 *src_mac, __be32 saddr, __be32 daddr, __u8 ttl)
{
	struct icmp_pkt p = {};

	memcpy(p.eth.h_dest, host_a, ETH_ALEN);
	memcpy(p.eth.h_source, src_mac, ETH_ALEN);
	p.eth.h_proto = htons(ETH_P_IP);
	p.ip.version = 4;
	p.ip.ihl = 5;
	p.ip.tot_len = htons(sizeof(p) - sizeof(p.eth));
	p.ip.id = htons(0x1234);
	p.ip.frag_off = htons(0x4000);
	p.ip.ttl = ttl;
	p.ip.protocol = IPPROTO_ICMP;
	p.ip.saddr = saddr;
	p.ip.daddr = daddr;
	p.ip.check = csum(&p.ip, sizeof(p.ip));
	p.icmp.type = ICMP_ECHO;
	p.icmp.un.echo.id = htons(7);
	p.icmp.un.echo.sequence = htons(1);
	memcpy(p.payload, "sluice!", 8);
	p.icmp.checksum = csum(&p.icmp, sizeof(p.icmp) + sizeof(p.payload));
	return p;
}

static void test_arp(int prog, int metrics)
{
	struct arp_pkt in, out;
	__u32 len = sizeof(out);

	UNIT_CASE("ARP request for the gateway is answered");
	in = arp_build(mac_a, ARPOP_REQUEST, mac_a, IP_A, htonl(SL_POD_GATEWAY4));
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_REDIRECT, SL_PATH_ARP_REPLY, &out,
	       &len);
	CHECK(!memcmp(out.eth.h_dest, mac_a, 6));
	CHECK(!memcmp(out.eth.h_source, host_a, 6));
	CHECK_INT(ntohs(out.eth.h_proto), ETH_P_ARP);
	CHECK_INT(ntohs(out.arp.ar_op), ARPOP_REPLY);
	CHECK(!memcmp(out.sha, host_a, 6));
	CHECK_INT(ntohl(out.spa), SL_POD_GATEWAY4);
	CHECK(!memcmp(out.tha, mac_a, 6));
	CHECK_INT(out.tpa, IP_A);

	UNIT_CASE("ARP from an IP that is no endpoint is dropped");
	in = arp_build(mac_a, ARPOP_REQUEST, mac_a, IP(10, 244, 1, 99), htonl(SL_POD_GATEWAY4));
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SPOOF_ARP, NULL, NULL);

	UNIT_CASE("ARP claiming another pod's IP is dropped");
	in = arp_build(mac_a, ARPOP_REPLY, mac_a, IP_B, IP(10, 244, 1, 1));
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SPOOF_ARP, NULL, NULL);

	UNIT_CASE("ARP with the pod's IP but another sender MAC is dropped");
	in = arp_build(mac_other, ARPOP_REQUEST, mac_other, IP_A, htonl(SL_POD_GATEWAY4));
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SPOOF_ARP, NULL, NULL);

	UNIT_CASE("ARP reply from the pod goes to the stack unchanged");
	in = arp_build(mac_a, ARPOP_REPLY, mac_a, IP_A, IP(10, 244, 1, 1));
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_OK, SL_PATH_ARP_PASS, &out, &len);
	CHECK(!memcmp(&in, &out, sizeof(in)));

	UNIT_CASE("ARP probe (sender 0.0.0.0) goes to the stack");
	in = arp_build(mac_a, ARPOP_REQUEST, mac_a, 0, IP_A);
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_OK, SL_PATH_ARP_PASS, NULL, NULL);

	UNIT_CASE("truncated ARP is dropped");
	expect(prog, metrics, &in, sizeof(in) - 4, if_a, TC_ACT_SHOT, SL_DROP_SHORT, NULL, NULL);
}

/* The output is the input forwarded one hop: MACs as given, TTL one less,
 * header checksum still valid, everything after the checksum untouched. */
static void check_forwarded(const struct icmp_pkt *in, const struct icmp_pkt *out, const __u8 *src,
			    const __u8 *dst)
{
	CHECK(!memcmp(out->eth.h_source, src, 6));
	CHECK(!memcmp(out->eth.h_dest, dst, 6));
	CHECK_INT(out->ip.ttl, in->ip.ttl - 1);
	CHECK_INT(csum(&out->ip, sizeof(out->ip)), 0);
	CHECK(!memcmp(&out->ip.saddr, &in->ip.saddr,
		      sizeof(*in) - offsetof(struct icmp_pkt, ip.saddr)));
}

/* What a test checks of the output packet: nothing (none asked for), that
 * it is the input unchanged, forwarded one hop (check_forwarded), or only
 * its TTL and header checksum (the neighbour layer writes the MACs). */
enum out_check { OUT_NONE, OUT_SAME, OUT_FORWARDED, OUT_TTL };

struct ip4_case {
	const char *name;
	const __u8 *mac; /* the sender's */
	__be32 saddr, daddr;
	__u8 ttl;
	int ifindex, verdict;
	unsigned int metric;
	enum out_check out;
	const __u8 *fwd_src, *fwd_dst; /* OUT_FORWARDED: the MACs it leaves with */
};

static void ip4_case_run(int prog, int metrics, const struct ip4_case *c)
{
	struct icmp_pkt in, out;
	__u32 len = sizeof(out);

	UNIT_CASE(c->name);
	in = icmp_build(c->mac, c->saddr, c->daddr, c->ttl);
	expect(prog, metrics, &in, sizeof(in), c->ifindex, c->verdict, c->metric,
	       c->out == OUT_NONE ? NULL : &out, c->out == OUT_NONE ? NULL : &len);
	switch (c->out) {
	case OUT_NONE:
		break;
	case OUT_SAME:
		CHECK(!memcmp(&in, &out, sizeof(in)));
		break;
	case OUT_FORWARDED:
		check_forwarded(&in, &out, c->fwd_src, c->fwd_dst);
		break;
	case OUT_TTL:
		CHECK_INT(out.ip.ttl, in.ip.ttl - 1);
		CHECK_INT(csum(&out.ip, sizeof(out.ip)), 0);
		break;
	}
}

static void test_ipv4(int prog, int metrics)
{
	const struct ip4_case cases[] = {
	    {"IPv4 from an address that is no endpoint is dropped", mac_a, IP(10, 244, 1, 99), IP_B,
	     64, if_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP, OUT_NONE},
	    {"IPv4 with a pod's IP from another pod's veth is dropped", mac_a, IP_A, IP_B, 64, if_b,
	     TC_ACT_SHOT, SL_DROP_SPOOF_IP, OUT_NONE},
	    {"IPv4 with the pod's IP but another MAC is dropped", mac_other, IP_A, IP_B, 64, if_a,
	     TC_ACT_SHOT, SL_DROP_SPOOF_MAC, OUT_NONE},
	    {"IPv4 to a local pod is redirected into it", mac_a, IP_A, IP_B, 64, if_a,
	     TC_ACT_REDIRECT, SL_PATH_LOCAL, OUT_FORWARDED, host_b, mac_b},
	    {"IPv4 to a local pod with TTL 1 is dropped", mac_a, IP_A, IP_B, 1, if_a, TC_ACT_SHOT,
	     SL_DROP_TTL, OUT_NONE},
	    {"IPv4 to the node's own address goes to the stack unchanged", mac_a, IP_A, IP_NODE, 64,
	     if_a, TC_ACT_OK, SL_PATH_STACK, OUT_SAME},
	    {"IPv4 without a route goes to the stack", mac_a, IP_A, IP_NOWHERE, 64, if_a, TC_ACT_OK,
	     SL_PATH_STACK, OUT_NONE},
	    {"IPv4 routed by the FIB leaves by the uplink to the router's MAC", mac_a, IP_A,
	     IP_ROUTED, 64, if_a, TC_ACT_REDIRECT, SL_PATH_FIB, OUT_FORWARDED, mac_uplink,
	     mac_router},
	    {"IPv4 routed to an unresolved next hop goes to the neighbour layer", mac_a, IP_A,
	     IP_UNRESOLVED, 64, if_a, TC_ACT_REDIRECT, SL_PATH_FIB, OUT_TTL},
	    {"IPv4 routed by the FIB with TTL 1 is dropped", mac_a, IP_A, IP_ROUTED, 1, if_a,
	     TC_ACT_SHOT, SL_DROP_TTL, OUT_NONE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ip4_case_run(prog, metrics, &cases[i]);
}

/* The kernel's test_run refuses IPv4 and IPv6 frames shorter than their
 * fixed header, so truncation is tested through the header length. */
static void test_ipv4_short(int prog, int metrics)
{
	struct icmp_pkt in;

	UNIT_CASE("IPv4 whose options run past the packet is dropped");
	in = icmp_build(mac_a, IP_A, IP_B, 64);
	in.ip.ihl = 15;
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SHORT, NULL, NULL);

	UNIT_CASE("IPv4 with a header length below 20 is dropped");
	in.ip.ihl = 4;
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SHORT, NULL, NULL);

	UNIT_CASE("IPv4 with a total length below its header is dropped");
	in = icmp_build(mac_a, IP_A, IP_B, 64);
	in.ip.tot_len = htons(12);
	expect(prog, metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_SHORT, NULL, NULL);

	UNIT_CASE("an Ethernet header alone is dropped as short");
	in = icmp_build(mac_a, IP_A, IP_B, 64);
	in.eth.h_proto = htons(ETH_P_ARP);
	expect(prog, metrics, &in, ETH_HLEN, if_a, TC_ACT_SHOT, SL_DROP_SHORT, NULL, NULL);
}

static void test_other(int prog, int metrics)
{
	struct {
		struct ethhdr eth;
		struct ipv6hdr ip6;
		__u8 payload[8];
	} __attribute__((packed)) v6 = {};

	UNIT_CASE("IPv6 is dropped");
	memcpy(v6.eth.h_dest, host_a, 6);
	memcpy(v6.eth.h_source, mac_a, 6);
	v6.eth.h_proto = htons(ETH_P_IPV6);
	v6.ip6.version = 6;
	v6.ip6.payload_len = htons(sizeof(v6.payload));
	v6.ip6.nexthdr = IPPROTO_NONE;
	v6.ip6.hop_limit = 64;
	v6.ip6.saddr.s6_addr[0] = 0xfd;
	v6.ip6.daddr.s6_addr[0] = 0xfd;
	expect(prog, metrics, &v6, sizeof(v6), if_a, TC_ACT_SHOT, SL_DROP_L3_PROTO, NULL, NULL);

	UNIT_CASE("VLAN-tagged frames are dropped");
	v6.eth.h_proto = htons(ETH_P_8021Q);
	expect(prog, metrics, &v6, sizeof(v6), if_a, TC_ACT_SHOT, SL_DROP_L3_PROTO, NULL, NULL);
}

/* Counts the entries whose ifindex matches what was seeded for their IP. */
static int ep_count(__be32 ip, const struct sl_ep_val *val, void *ctx)
{
	if ((ip == IP_A && val->ifindex == (__u32)if_a) ||
	    (ip == IP_B && val->ifindex == (__u32)if_b))
		(*(int *)ctx)++;
	return 0;
}

static int ep_stop(__be32 ip, const struct sl_ep_val *val, void *ctx)
{
	return 42;
}

static void test_maps(const struct dp_ep_maps *m)
{
	int ep_fd = m->ep;
	struct sl_ep_val val;
	int n = 0;

	UNIT_CASE("endpoint map operations");
	CHECK_INT(dp_ep_lookup(ep_fd, IP_B, &val), 0);
	CHECK_INT(val.ifindex, if_b);
	CHECK(!memcmp(val.host_mac, host_b, 6));
	CHECK_INT(dp_ep_lookup(ep_fd, IP(10, 1, 1, 1), &val), -ENOENT);
	CHECK_INT(dp_ep_foreach(ep_fd, ep_count, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(dp_ep_foreach(ep_fd, ep_stop, NULL), 42);
	CHECK_INT(dp_ep_delete(m, IP(10, 1, 1, 1)), -ENOENT);

	UNIT_CASE("metric and mode names");
	CHECK_STR(dp_metric_name(SL_DROP_SPOOF_IP), "SL_DROP_SPOOF_IP");
	CHECK_STR(dp_metric_name(SL_PATH_FIB), "SL_PATH_FIB");
	CHECK_STR(dp_metric_desc(SL_DROP_TTL), "TTL exceeded");
	CHECK(dp_metric_name(0) == NULL);
	CHECK(dp_metric_name(SL_METRICS_MAX) == NULL);
	CHECK_STR(dp_attach_mode_name(DP_ATTACH_CLSACT), "clsact");
	CHECK_STR(dp_attach_mode_name(DP_ATTACH_TCX), "tcx");
}

/* slots: the size of sl_epsrc4; 1 leaves the pods' veths beyond it, so
 * every check falls back to sl_ep4 (the anti-spoofing cases run both ways). */
static void test_run(__u32 slots)
{
	struct sl_pod *skel = sl_pod__open();
	struct dp_ep_maps m;
	struct bpf_map *map;
	int prog, metrics;

	UNIT_CASE(slots > 1 ? "skeleton loads" : "skeleton loads, sl_epsrc4 of one slot");
	CHECK(skel != NULL);
	if (!skel)
		return;
	bpf_object__for_each_map(map, skel->obj)
	    bpf_map__set_pin_path(map, NULL); /* private maps: nothing pinned */
	CHECK_INT(bpf_map__set_max_entries(skel->maps.sl_epsrc4, slots), 0);
	CHECK_INT(sl_pod__load(skel), 0);
	prog = bpf_program__fd(skel->progs.sl_from_pod);
	metrics = bpf_map__fd(skel->maps.sl_metrics);
	m = (struct dp_ep_maps){.ep = bpf_map__fd(skel->maps.sl_ep4),
				.src = bpf_map__fd(skel->maps.sl_epsrc4)};
	if (prog >= 0 && metrics >= 0 && m.ep >= 0 && m.src >= 0) {
		pod_fixture_eps_put(&m);
		test_arp(prog, metrics);
		test_ipv4(prog, metrics);
		test_ipv4_short(prog, metrics);
		test_other(prog, metrics);
		test_maps(&m);
	}
	sl_pod__destroy(skel);
}

static void pin_dir_remove(void)
{
	DIR *d;
	struct dirent *de;
	char path[512];

	if (!pin_dir[0] || !(d = opendir(pin_dir)))
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(pin_dir);
}

static int pinned_map_fd(const char *name)
{
	return dp_pin_open(pin_dir, name);
}

/* What the first load pinned: the maps' layouts and sizes, the programs. */
static void pins_check_fresh(__u32 *prog_id, __u64 *first_ns)
{
	struct dp_obj_info info;
	struct sl_info_val iv;
	int fd;

	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_EP4, &info), 0);
	CHECK_INT(info.value_size, sizeof(struct sl_ep_val));
	CHECK_INT(info.max_entries, SL_EP_MAX);
	CHECK_INT(info.entries, 0);
	CHECK_STR(info.name, SL_PIN_EP4);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_FROM_POD, &info), 0);
	CHECK_STR(info.name, SL_PIN_FROM_POD);
	CHECK_INT(info.type, BPF_PROG_TYPE_SCHED_CLS);
	*prog_id = info.id;
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_FROM_NET, &info), 0);
	CHECK_STR(info.name, SL_PIN_FROM_NET); /* the uplink program, pinned with them */
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_NAT4, &info), 0);
	CHECK_INT(info.max_entries, SL_NAT_MAX);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_METRICS, &info), 0);
	CHECK_INT(info.entries, SL_METRICS_MAX);
	/* sized for this machine's CPUs, the same for every loader (reused below) */
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_SVCSTAT, &info), 0);
	CHECK(info.max_entries >= 4096 && info.max_entries <= SL_SVC_IDS_MAX);
	fd = pinned_map_fd(SL_PIN_INFO);
	CHECK_INT(dp_info_read(fd, &iv), 0);
	CHECK_INT(iv.abi_version, SL_ABI_VERSION);
	CHECK(iv.loaded_ns > 0);
	*first_ns = iv.loaded_ns;
	close(fd);
}

/* The first load, over a pinned sl_ep4 of another layout: returns the pinned
 * sl_from_pod's id and sl_info's load time, for the reload to compare. */
static void test_pin_first_load(__u32 *prog_id, __u64 *first_ns)
{
	struct dp_pin_report rep;
	char path[512], why[256];
	int fd;

	UNIT_CASE("bpffs is there or mounted");
	CHECK_INT(dp_bpffs_ensure(pin_dir), 0);
	CHECK_INT(dp_ready(pin_dir, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, SL_PIN_FROM_POD) != NULL);

	UNIT_CASE("an incompatible pinned map is replaced and reported");
	CHECK_INT(mkdir(pin_dir, 0700), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, SL_PIN_EP4, 4, 40, 16, NULL);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_PIN_EP4);
	CHECK_INT(bpf_obj_pin(fd, path), 0);
	close(fd);
	CHECK_INT(dp_ready(pin_dir, why, sizeof(why)), -ENOENT);
	CHECK_INT(dp_load_and_pin(pin_dir, &rep), 0);
	CHECK_INT(rep.maps_replaced, 1);
	CHECK_INT(rep.maps_created, 21); /* every map but sl_ep4, with the uplink's sl_nat4,
					  * sl_lbsrc4 and the hostPort maps */
	CHECK_INT(rep.maps_reused, 0);
	CHECK_STR(rep.replaced[0], "sl_ep4: value_size 40!=32");
	CHECK_INT(dp_ready(pin_dir, why, sizeof(why)), 0);
	CHECK_STR(why, "");
	pins_check_fresh(prog_id, first_ns);
}

/* A reload keeps the maps (and pod A's entry in sl_ep4); *iv is sl_info as
 * it then reads. */
static void test_pin_reload(__u32 prog_id, __u64 first_ns, struct sl_info_val *iv)
{
	struct dp_ep_maps m = DP_EP_MAPS_NONE;
	struct sl_ep_val ev = {.ifindex = 7}, got;
	struct dp_pin_report rep;
	struct dp_obj_info info;
	const char *pin;
	int fd, ep;

	UNIT_CASE("a second load reuses the maps and keeps their entries");
	CHECK_INT(dp_ep_maps_open(pin_dir, &m, &pin), 0);
	CHECK_INT(dp_ep_update(&m, IP_A, &ev), 0);
	dp_ep_maps_close(&m);
	CHECK_INT(dp_load_and_pin(pin_dir, &rep), 0);
	CHECK_INT(rep.maps_reused, 20);
	CHECK_INT(rep.maps_created, 0);
	CHECK_INT(rep.maps_replaced, 0);
	ep = pinned_map_fd(SL_PIN_EP4);
	CHECK_INT(dp_ep_lookup(ep, IP_A, &got), 0);
	CHECK_INT(got.ifindex, 7);
	close(ep);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_EP4, &info), 0);
	CHECK_INT(info.entries, 1);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_FROM_POD, &info), 0);
	CHECK(info.id != prog_id); /* the new program took the pin */
	fd = pinned_map_fd(SL_PIN_INFO);
	CHECK_INT(dp_info_read(fd, iv), 0);
	CHECK_INT(iv->loaded_ns, first_ns);
	close(fd);
}

static void test_pin_retired(void)
{
	struct dp_pin_report rep;
	char path[512];
	int fd;

	UNIT_CASE("the pin of a retired map (sl_revnat4) is removed at load");
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sl_revnat4", 4, 8, 16, NULL);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "%s/sl_revnat4", pin_dir);
	CHECK_INT(bpf_obj_pin(fd, path), 0);
	close(fd);
	CHECK_INT(dp_load_and_pin(pin_dir, &rep), 0);
	CHECK_INT(rep.maps_retired, 1);
	CHECK_INT(access(path, F_OK), -1);
	CHECK_INT(rep.maps_reused, 20);
	CHECK_INT(dp_load_and_pin(pin_dir, &rep), 0);
	CHECK_INT(rep.maps_retired, 0);
}

/* iv: sl_info as the reload read it; written back with the next ABI version.
 * The replaced sl_ep4 no longer holds pod A. */
static void test_pin_abi(struct sl_info_val iv)
{
	struct dp_pin_report rep;
	struct sl_ep_val got;
	char want[32];
	int fd, ep;

	UNIT_CASE("pins of another ABI version are all replaced");
	fd = pinned_map_fd(SL_PIN_INFO);
	iv.abi_version = SL_ABI_VERSION + 1;
	CHECK_INT(bpf_map_update_elem(fd, &(__u32){0}, &iv, BPF_ANY), 0);
	close(fd);
	CHECK_INT(dp_load_and_pin(pin_dir, &rep), 0);
	CHECK_INT(rep.maps_replaced, 20);
	CHECK_INT(rep.maps_reused, 0);
	snprintf(want, sizeof(want), ": abi %d!=%d", SL_ABI_VERSION + 1, SL_ABI_VERSION);
	CHECK(!strncmp(rep.replaced[0], "sl_", 3) && strstr(rep.replaced[0], want));
	ep = pinned_map_fd(SL_PIN_EP4);
	CHECK_INT(dp_ep_lookup(ep, IP_A, &got), -ENOENT);
	close(ep);
	fd = pinned_map_fd(SL_PIN_INFO);
	CHECK_INT(dp_info_read(fd, &iv), 0);
	CHECK_INT(iv.abi_version, SL_ABI_VERSION);
	close(fd);
}

static void test_tc_ingress(void)
{
	enum dp_attach_mode mode = DP_ATTACH_NONE;
	struct dp_obj_info info;
	char name[16] = "";
	__u32 id = 0;
	int fd;

	UNIT_CASE("the pinned program attaches to tc ingress");
	fd = dp_pin_open(pin_dir, SL_PIN_FROM_POD);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(dp_tc_query(if_b, &id, name, &mode), -ENOENT);
	CHECK_INT(dp_tc_attach(if_b, fd, &mode), 0);
	CHECK_INT(mode, DP_ATTACH_CLSACT);
	CHECK_INT(dp_tc_attach(if_b, fd, &mode), 0); /* replace */
	mode = DP_ATTACH_NONE;
	CHECK_INT(dp_tc_query(if_b, &id, name, &mode), 0);
	CHECK_STR(name, SL_PIN_FROM_POD);
	CHECK_INT(mode, DP_ATTACH_CLSACT);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_FROM_POD, &info), 0);
	CHECK_INT(id, info.id);
	CHECK_INT(dp_tc_detach(if_b), 0);
	CHECK_INT(dp_tc_query(if_b, &id, name, &mode), -ENOENT);
	CHECK_INT(dp_tc_detach(if_b), 0);  /* already gone */
	CHECK_INT(dp_tc_detach(if_a), 0);  /* never attached, no clsact */
	CHECK_INT(dp_tc_detach(99999), 0); /* no such link */
	CHECK_INT(dp_tc_attach(99999, fd, &mode), -ENODEV);
	close(fd);
}

/* fd: the pinned sl_to_pod, ep: the pinned sl_from_pod. */
static void tc_egress_check(int fd, int ep)
{
	enum dp_attach_mode mode = DP_ATTACH_NONE;
	struct dp_obj_info info;
	char name[16] = "";
	__u32 id = 0;

	CHECK_INT(dp_tc_query_egress(if_b, &id, name, &mode), -ENOENT);
	CHECK_INT(dp_tc_attach(if_b, ep, &mode), 0);
	CHECK_INT(dp_tc_attach_egress(if_b, fd, &mode), 0);
	CHECK_INT(dp_tc_attach_egress(if_b, fd, &mode), 0); /* replace */
	CHECK_INT(dp_tc_query_egress(if_b, &id, name, &mode), 0);
	CHECK_STR(name, SL_PIN_TO_POD);
	CHECK_INT(dp_pin_info(pin_dir, SL_PIN_TO_POD, &info), 0);
	CHECK_INT(id, info.id);
	CHECK_INT(dp_tc_query(if_b, &id, name, &mode), 0);
	CHECK_STR(name, SL_PIN_FROM_POD);
	CHECK_INT(dp_tc_detach_egress(if_b), 0);
	CHECK_INT(dp_tc_query_egress(if_b, &id, name, &mode), -ENOENT);
	CHECK_INT(dp_tc_query(if_b, &id, name, &mode), 0); /* ingress stays */
	CHECK_INT(dp_tc_detach(if_b), 0);
	CHECK_INT(dp_tc_detach_egress(if_b), 0); /* already gone */
	CHECK_INT(dp_tc_detach_egress(99999), 0);
}

static void test_tc_egress(void)
{
	int fd, ep;

	UNIT_CASE("the pinned reply program attaches to tc egress, beside ingress");
	fd = dp_pin_open(pin_dir, SL_PIN_TO_POD);
	ep = dp_pin_open(pin_dir, SL_PIN_FROM_POD);
	CHECK(fd >= 0 && ep >= 0);
	if (fd >= 0 && ep >= 0)
		tc_egress_check(fd, ep);
	if (fd >= 0)
		close(fd);
	if (ep >= 0)
		close(ep);
}

/* Load, reload, retire, ABI change, then tc attach of what is pinned: each
 * chapter works on the pins the one before left in pin_dir. */
static void test_load_and_pin(void)
{
	struct dp_obj_info info;
	struct sl_info_val iv;
	__u64 first_ns;
	__u32 prog_id;

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sluice-test-%d", getpid());
	atexit(pin_dir_remove);
	test_pin_first_load(&prog_id, &first_ns);
	test_pin_reload(prog_id, first_ns, &iv);
	test_pin_retired();
	test_pin_abi(iv);
	test_tc_ingress();
	test_tc_egress();

	UNIT_CASE("pin names are checked");
	CHECK_INT(dp_pin_open(pin_dir, "../x"), -EINVAL);
	CHECK_INT(dp_pin_open(pin_dir, ""), -EINVAL);
	CHECK_INT(dp_pin_info(pin_dir, "nope", &info), -ENOENT);

	pin_dir_remove();
	UNIT_CASE("pin dir removed");
	CHECK(access(pin_dir, F_OK) < 0);
}

static void test_bpffs_guard(void)
{
	char dir[] = "/tmp/sluice-bpffs-XXXXXX", file[64], sub[64];

	UNIT_CASE("bpffs is mounted only at /sys/fs/bpf, never over other dirs");
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(file, sizeof(file), "%s/keep", dir);
	snprintf(sub, sizeof(sub), "%s/sluice", dir);
	CHECK_INT(dp_bpffs_ensure(sub), -EMEDIUMTYPE); /* empty parent: still not mounted */
	fclose(fopen(file, "w"));
	CHECK_INT(dp_bpffs_ensure(sub), -EMEDIUMTYPE);
	CHECK(access(file, F_OK) == 0);
	CHECK_INT(dp_bpffs_ensure("relative/dir"), -EINVAL);
	CHECK_INT(dp_load_and_pin(dir, &(struct dp_pin_report){}), -EMEDIUMTYPE);
	CHECK_INT(dp_load_and_pin(sub, &(struct dp_pin_report){}), -EMEDIUMTYPE);
	CHECK(access(sub, F_OK) < 0); /* not left behind */
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	if (pod_fixture_enter("bpf_test_pod", netns_setup,
			      sizeof(netns_setup) / sizeof(netns_setup[0])) < 0)
		return 1;
	test_run(SL_EPSRC_MAX);
	test_run(1);
	test_load_and_pin();
	test_bpffs_guard();
	return unit_done();
}
