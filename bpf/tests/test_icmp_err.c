// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of ICMP errors about load-balanced flows: port unreachable from a local
 * backend, fragmentation needed from a router before a remote one, time exceeded, errors about
 * other flows left alone; every checksum verified. Root; runs in a private network namespace. */
#define _GNU_SOURCE
#include <linux/tcp.h>
#include <linux/udp.h>

#include "icmp_pkt.h"
#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_REMOTE   IP(10, 244, 2, 5) /* backend pod on another node */
#define IP_ROUTER   IP(10, 0, 0, 2)
#define VIP	    IP(10, 96, 0, 10) /* UDP 53 -> B:5353 (svc 1), TCP 80 -> REMOTE:8080 (svc 2) */
#define VIP_HAIRPIN IP(10, 96, 0, 30) /* UDP 53 -> A:5353 (svc 3), the client itself */
#define LOOPBACK    htonl(SL_SVC_LOOPBACK4)

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static void seed(const struct fds *f)
{
	struct sl_svc_key k = {.vip = VIP, .port = htons(53), .proto = IPPROTO_UDP};
	struct sl_svc_val v = {.id = 1, .count = 1};
	struct sl_be_val be = {.ip = IP_B, .port = htons(5353), .proto = IPPROTO_UDP};
	struct sl_revnat_val rn = {.vip = VIP, .port = htons(53)};

	pod_fixture_eps_put(&f->eps);
	CHECK_INT(dp_be_update(f->be, 1, &be), 0);
	CHECK_INT(dp_revnat_update(f->revnat, 1, &rn), 0);
	k.slot = 1;
	v.id = 1;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 1}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);

	be = (struct sl_be_val){.ip = IP_REMOTE, .port = htons(8080), .proto = IPPROTO_TCP};
	rn = (struct sl_revnat_val){.vip = VIP, .port = htons(80)};
	k = (struct sl_svc_key){.vip = VIP, .port = htons(80), .proto = IPPROTO_TCP, .slot = 1};
	CHECK_INT(dp_be_update(f->be, 2, &be), 0);
	CHECK_INT(dp_revnat_update(f->revnat, 2, &rn), 0);
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 2}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 2, .count = 1}), 0);
	k = (struct sl_svc_key){.vip = VIP};
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.flags = SL_SVC_F_VIP}), 0);

	be = (struct sl_be_val){.ip = IP_A, .port = htons(5353), .proto = IPPROTO_UDP};
	rn = (struct sl_revnat_val){.vip = VIP_HAIRPIN, .port = htons(53)};
	k = (struct sl_svc_key){
	    .vip = VIP_HAIRPIN, .port = htons(53), .proto = IPPROTO_UDP, .slot = 1};
	CHECK_INT(dp_be_update(f->be, 3, &be), 0);
	CHECK_INT(dp_revnat_update(f->revnat, 3, &rn), 0);
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 3}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 3, .count = 1}), 0);
	k = (struct sl_svc_key){.vip = VIP_HAIRPIN};
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.flags = SL_SVC_F_VIP}), 0);
}

static void test_port_unreachable(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP, 40000, 53, false);
	struct udp_pkt seen = udp_build(IP_A, IP_B, 40000, 5353, false);
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);
	struct icmp_err in, out;
	__u32 len;

	UNIT_CASE("the client's UDP flow to the VIP goes to the local backend B");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);

	UNIT_CASE("B's port unreachable reaches the client from VIP:53, quoting its own packet");
	in = err_build(mac_b, host_b, IP_B, IP_A, 3, 3, 0, &seen.ip, qlen);
	CHECK(err_csums_ok(&in, qlen));
	len = sizeof(out);
	expect_at(f->from_pod, f->metrics, &in, ERR_LEN(qlen), if_b, true, TC_ACT_REDIRECT,
		  SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK_INT(len, ERR_LEN(qlen));
	CHECK_INT(out.ip.saddr, VIP);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(out.icmp.type, 3);
	CHECK_INT(out.icmp.code, 3);
	/* the quote is now exactly the header the client sent, checksums included */
	CHECK(!memcmp(out.quote, &sent.ip, qlen));
	CHECK(err_csums_ok(&out, qlen));
	CHECK(!memcmp(out.eth.h_source, host_a, 6) && !memcmp(out.eth.h_dest, mac_a, 6));
}

static void test_frag_needed(const struct fds *f)
{
	struct tcp_pkt sent = tcp_build(mac_a, host_a, IP_A, VIP, 41000, 80, 0x10);
	struct tcp_pkt seen = tcp_build(mac_a, host_a, IP_A, IP_REMOTE, 41000, 8080, 0x10);
	const size_t qlen = sizeof(sent) - sizeof(struct ethhdr); /* the whole segment */
	struct icmp_err in, out;
	__u32 len;

	UNIT_CASE("the client's TCP flow to the VIP goes to the remote backend");
	sent.tcp.syn = 1;
	sent.tcp.ack = 0;
	sent.tcp.check = 0;
	sent.tcp.check = csum_l4(IP_A, VIP, IPPROTO_TCP, &sent.tcp, sizeof(sent.tcp) + 4);
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	sent = tcp_build(mac_a, host_a, IP_A, VIP, 41000, 80, 0x10);

	UNIT_CASE("a router's fragmentation needed keeps its source, MTU; the quote is the "
		  "client's, TCP checksum too (sl_to_pod)");
	in = err_build(mac_uplink, host_a, IP_ROUTER, IP_A, 3, 4, 1400, &seen.ip, qlen);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, ERR_LEN(qlen), if_a, false, TC_ACT_OK,
		  SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK_INT(out.ip.saddr, IP_ROUTER);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(ntohs(out.icmp.un.frag.mtu), 1400);
	CHECK(!memcmp(out.quote, &sent.ip, qlen));
	CHECK(err_csums_ok(&out, qlen));

	UNIT_CASE("time exceeded quoting 8 bytes of TCP: quote rewritten, ICMP checksum right");
	in = err_build(mac_uplink, host_a, IP_ROUTER, IP_A, 11, 0, 0, &seen.ip,
		       sizeof(struct iphdr) + 8);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, ERR_LEN(sizeof(struct iphdr) + 8), if_a, false,
		  TC_ACT_OK, SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK(!memcmp(out.quote, &sent.ip, sizeof(struct iphdr) + 8));
	CHECK(err_csums_ok(&out, sizeof(struct iphdr) + 8));

	UNIT_CASE("the remote backend's own error also gets the VIP as its source");
	in = err_build(mac_uplink, host_a, IP_REMOTE, IP_A, 3, 3, 0, &seen.ip, qlen);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, ERR_LEN(qlen), if_a, false, TC_ACT_OK,
		  SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK_INT(out.ip.saddr, VIP);
	CHECK(!memcmp(out.quote, &sent.ip, qlen));
	CHECK(err_csums_ok(&out, qlen));
}

static void test_hairpin(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP_HAIRPIN, 40002, 53, false);
	struct udp_pkt seen = udp_build(LOOPBACK, IP_A, 40002, 5353, false);
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);
	struct icmp_err in, out;
	__u32 len;

	UNIT_CASE("a pod reaching itself through its Service: the error comes back as the VIP's");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	/* its own stack answers the loopback address it saw as the client */
	in = err_build(mac_a, host_a, IP_A, LOOPBACK, 3, 3, 0, &seen.ip, qlen);
	len = sizeof(out);
	expect_at(f->from_pod, f->metrics, &in, ERR_LEN(qlen), if_a, true, TC_ACT_REDIRECT,
		  SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK_INT(out.ip.saddr, VIP_HAIRPIN);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK(!memcmp(out.quote, &sent.ip, qlen));
	CHECK(err_csums_ok(&out, qlen));
}

static void test_not_ours(const struct fds *f)
{
	struct tcp_pkt other = tcp_build(mac_a, host_a, IP_A, IP_REMOTE, 41001, 8080, 0x10);
	const size_t qlen = sizeof(other) - sizeof(struct ethhdr);
	struct icmp_err in, out;
	__u32 len;

	UNIT_CASE("an error about a flow that is no service's passes untouched");
	in = err_build(mac_uplink, host_a, IP_ROUTER, IP_A, 3, 4, 1400, &other.ip, qlen);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, ERR_LEN(qlen), if_a, false, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(qlen)));

	UNIT_CASE("an error about a policed flow that is no service's (policy entries) passes "
		  "untouched");
	{
		struct sl_ct_key rk = {.saddr = IP_REMOTE,
				       .daddr = IP_A,
				       .sport = htons(8080),
				       .dport = htons(41001),
				       .proto = IPPROTO_TCP};
		struct sl_ct_val rv = {.flags = SL_CT_F_POLICY | SL_CT_F_REPLY};

		CHECK_INT(bpf_map_update_elem(f->ct, &rk, &rv, BPF_ANY), 0);
		len = sizeof(out);
		expect_at(f->to_pod, f->metrics, &in, ERR_LEN(qlen), if_a, false, TC_ACT_OK, 0,
			  &out, &len);
		CHECK(!memcmp(&in, &out, ERR_LEN(qlen)));
		bpf_map_delete_elem(f->ct, &rk);
	}

	UNIT_CASE("an echo request is no error: untouched");
	in = err_build(mac_uplink, host_a, IP_ROUTER, IP_A, 8, 0, 0, &other.ip, qlen);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, ERR_LEN(qlen), if_a, false, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(qlen)));
}

static void test_all(const struct fds *f)
{
	seed(f);
	test_port_unreachable(f);
	test_frag_needed(f);
	test_hairpin(f);
	test_not_ours(f);
}

int main(void)
{
	if (pod_fixture_run("bpf_test_icmp_err", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), test_all) < 0)
		return 1;
	return unit_done();
}
