// SPDX-License-Identifier: Apache-2.0
/* The endpoint maps' one writer (sl_ep4 with the sl_epsrc4 slots) and the
 * anti-spoofing check by slot in sl_from_pod: what the slot admits alone,
 * what it never admits, and when sl_ep4 still decides. Root; runs in a
 * private network namespace. */
#define _GNU_SOURCE

#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_A2	IP(10, 244, 1, 20) /* a second address of pod A */
#define IP_C	IP(10, 244, 1, 30) /* in no sl_ep4 entry */
#define IP_NODE IP(10, 0, 0, 1)	   /* this node (up0) */
#define IF_FAR	(SL_EPSRC_MAX + 5) /* an ifindex beyond the array */

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static struct sl_ep_val ep_val(int ifindex, const __u8 *mac)
{
	struct sl_ep_val v = {.ifindex = ifindex, .ep_id = ifindex};

	memcpy(v.pod_mac, mac, 6);
	memcpy(v.host_mac, host_a, 6);
	return v;
}

static struct sl_epsrc_val slot_get(const struct fds *f, __u32 ifindex)
{
	struct sl_epsrc_val s = {};

	CHECK_INT(bpf_map_lookup_elem(f->eps.src, &ifindex, &s), 0);
	return s;
}

/* A slot as the writer never leaves it (a test of the program's check). */
static void slot_raw(const struct fds *f, __u32 key, __u32 ifindex, __be32 ip, const __u8 *mac)
{
	struct sl_epsrc_val s = {.ifindex = ifindex, .ip = ip};

	memcpy(s.pod_mac, mac, 6);
	CHECK_INT(bpf_map_update_elem(f->eps.src, &key, &s, BPF_ANY), 0);
}

static bool slot_is(const struct sl_epsrc_val *s, int ifindex, __be32 ip, const __u8 *mac)
{
	return s->ifindex == (__u32)ifindex && s->ip == ip && !memcmp(s->pod_mac, mac, 6);
}

static bool slot_empty(const struct sl_epsrc_val *s)
{
	static const struct sl_epsrc_val none;

	return !memcmp(s, &none, sizeof(none));
}

static bool ep_has(const struct fds *f, __be32 ip)
{
	struct sl_ep_val v;

	return dp_ep_lookup(f->ep, ip, &v) == 0;
}

static void test_writer(const struct fds *f)
{
	struct sl_ep_val a = ep_val(if_a, mac_a), far = ep_val(IF_FAR, mac_b);
	struct sl_epsrc_val s;

	UNIT_CASE("(writer) an entry and its veth's slot are written together");
	CHECK_INT(dp_ep_update(&f->eps, IP_A, &a), 0);
	CHECK(ep_has(f, IP_A));
	s = slot_get(f, if_a);
	CHECK(slot_is(&s, if_a, IP_A, mac_a));

	UNIT_CASE("(writer) a second address of the pod leaves the slot to the first");
	CHECK_INT(dp_ep_update(&f->eps, IP_A2, &a), 0);
	CHECK(ep_has(f, IP_A2));
	s = slot_get(f, if_a);
	CHECK(slot_is(&s, if_a, IP_A, mac_a));

	UNIT_CASE("(writer) deleting another address leaves the slot");
	CHECK_INT(dp_ep_delete(&f->eps, IP_A2), 0);
	CHECK(!ep_has(f, IP_A2));
	s = slot_get(f, if_a);
	CHECK(slot_is(&s, if_a, IP_A, mac_a));

	UNIT_CASE("(writer) deleting the slot's address empties the slot and the entry");
	CHECK_INT(dp_ep_delete(&f->eps, IP_A), 0);
	CHECK(!ep_has(f, IP_A));
	s = slot_get(f, if_a);
	CHECK(slot_empty(&s));
	CHECK_INT(dp_ep_delete(&f->eps, IP_A), -ENOENT);

	UNIT_CASE("(writer) a slot naming an address no entry backs is taken over");
	slot_raw(f, if_a, if_a, IP_C, mac_a);
	CHECK_INT(dp_ep_update(&f->eps, IP_A, &a), 0);
	s = slot_get(f, if_a);
	CHECK(slot_is(&s, if_a, IP_A, mac_a));

	UNIT_CASE("(writer) a veth beyond the array gets its entry and no slot");
	CHECK_INT(dp_ep_update(&f->eps, IP_B, &far), 0);
	CHECK(ep_has(f, IP_B));
	CHECK_INT(dp_ep_delete(&f->eps, IP_B), 0);
	CHECK(!ep_has(f, IP_B));
}

/* A read-only sl_epsrc4: the slot write fails. */
static void test_writer_fails(const struct fds *f)
{
	struct sl_ep_val b = ep_val(if_b, mac_b);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct dp_ep_maps ro = f->eps;
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, opts, .open_flags = BPF_F_RDONLY);

	UNIT_CASE("(writer) a slot that cannot be written leaves no entry either");
	CHECK_INT(bpf_obj_get_info_by_fd(f->eps.src, &info, &len), 0);
	ro.src = bpf_map_get_fd_by_id_opts(info.id, &opts);
	CHECK(ro.src >= 0);
	CHECK(dp_ep_update(&ro, IP_B, &b) < 0);
	CHECK(!ep_has(f, IP_B));
	if (ro.src >= 0)
		close(ro.src);
}

static void test_sync(const struct fds *f)
{
	struct sl_ep_key k = {.ip = IP_B};
	struct sl_ep_val b = ep_val(if_b, mac_b);
	struct sl_epsrc_val s;

	UNIT_CASE("(writer) sync empties slots no entry backs and claims slots for entries");
	/* as after a crash between the two maps, or a kept sl_epsrc4 */
	CHECK_INT(bpf_map_update_elem(f->ep, &k, &b, BPF_ANY), 0);
	slot_raw(f, if_b, if_b, IP_C, mac_b); /* IP_C has no entry */
	slot_raw(f, 1000, 0, IP_C, mac_b);    /* half written */
	CHECK_INT(dp_ep_slots_sync(&f->eps), 3);
	s = slot_get(f, if_b);
	CHECK(slot_is(&s, if_b, IP_B, mac_b));
	s = slot_get(f, 1000);
	CHECK(slot_empty(&s));
	s = slot_get(f, if_a);
	CHECK(slot_is(&s, if_a, IP_A, mac_a)); /* backed: kept */
	CHECK_INT(dp_ep_slots_sync(&f->eps), 0);
}

struct echo_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct icmphdr icmp;
} __attribute__((packed));

/* A packet to this node from ifindex with source ip and MAC mac: an ICMP
 * echo (no flow policy judges) or a TCP segment (one it does: no conntrack
 * entry holds a verdict for it). */
static void from_pod_run(const struct fds *f, bool tcp, int ifindex, __be32 ip, const __u8 *mac,
			 int verdict, unsigned int metric)
{
	struct tcp_pkt t = tcp_build(mac, host_a, ip, IP_NODE, 40000, 22, 0x10);
	struct echo_pkt e = {};

	ip_fill(&e, mac, host_a, ip, IP_NODE, IPPROTO_ICMP, sizeof(e.icmp));
	e.icmp.type = ICMP_ECHO;
	e.icmp.checksum = csum(&e.icmp, sizeof(e.icmp));
	if (tcp)
		expect(f->from_pod, f->metrics, &t, sizeof(t), ifindex, verdict, metric, NULL,
		       NULL);
	else
		expect(f->from_pod, f->metrics, &e, sizeof(e), ifindex, verdict, metric, NULL,
		       NULL);
}

static void test_check(const struct fds *f)
{
	UNIT_CASE("(datapath) a packet its veth's slot names passes on the slot alone");
	slot_raw(f, if_a, if_a, IP_C, mac_a); /* sl_ep4 has no IP_C */
	from_pod_run(f, false, if_a, IP_C, mac_a, TC_ACT_OK, SL_PATH_STACK);

	UNIT_CASE("(datapath) the slot's address with another MAC is dropped");
	from_pod_run(f, false, if_a, IP_C, mac_b, TC_ACT_SHOT, SL_DROP_SPOOF_IP);

	UNIT_CASE("(datapath) the slot's address from another veth is dropped");
	from_pod_run(f, false, if_b, IP_C, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);

	UNIT_CASE("(datapath) a slot being written (ifindex 0) admits nothing");
	slot_raw(f, if_a, 0, IP_C, mac_a);
	from_pod_run(f, false, if_a, IP_C, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);

	UNIT_CASE("(datapath) a slot holding another veth's ifindex admits nothing");
	slot_raw(f, if_a, if_b, IP_C, mac_a);
	from_pod_run(f, false, if_a, IP_C, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);

	UNIT_CASE("(datapath) a flow policy judges needs the sl_ep4 entry: the slot alone fails");
	slot_raw(f, if_a, if_a, IP_C, mac_a);
	from_pod_run(f, true, if_a, IP_C, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);

	UNIT_CASE("(datapath) the pod's own flow passes by slot and entry; spoofs of it do not");
	CHECK_INT(dp_ep_slots_sync(&f->eps), 2); /* back to what sl_ep4 says */
	from_pod_run(f, true, if_a, IP_A, mac_a, TC_ACT_OK, SL_PATH_STACK);
	from_pod_run(f, false, if_a, IP_A, mac_a, TC_ACT_OK, SL_PATH_STACK);
	from_pod_run(f, false, if_a, IP_A, mac_b, TC_ACT_SHOT, SL_DROP_SPOOF_MAC);
	from_pod_run(f, true, if_a, IP_A, mac_b, TC_ACT_SHOT, SL_DROP_SPOOF_MAC);
	from_pod_run(f, false, if_b, IP_A, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);
	from_pod_run(f, false, if_a, IP_B, mac_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP);
}

static void run(const struct fds *f)
{
	test_writer(f);
	test_writer_fails(f);
	test_sync(f);
	test_check(f);
}

int main(void)
{
	if (pod_fixture_run("bpf_test_ep_maps", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), run) < 0)
		return 1;
	return unit_done();
}
