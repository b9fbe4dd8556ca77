// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of the monitor's events: sl_events is written only
 * while sl_evcfg holds a fresh lease naming the event's type, and carries
 * the drop reason or the backend chosen. Root; private network namespace. */
#define _GNU_SOURCE
#include <time.h>

#include "l4_pkt.h"
#include "pod_fixture.h"

#define VIP IP(10, 96, 0, 10) /* TCP 80 -> B:8080 */

static const char *const netns_setup[] = {POD_FIXTURE_LINKS};

struct seen {
	int n;
	struct sl_event last;
};

static int event_keep(const struct sl_event *ev, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->last = *ev;
	return 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void evcfg_set(int fd, __u32 types, __s64 until_from_now_ms)
{
	struct sl_evcfg_val v = {.types = types,
				 .until_ns = mono_ns() + until_from_now_ms * 1000000ll};

	CHECK_INT(bpf_map_update_elem(fd, &(__u32){0}, &v, BPF_ANY), 0);
}

static void seed(const struct fds *f)
{
	struct sl_svc_key k = {.vip = VIP};
	struct sl_svc_val v = {.flags = SL_SVC_F_VIP};
	struct sl_be_val be = {.ip = IP_B, .port = htons(8080), .proto = IPPROTO_TCP};

	pod_fixture_eps_put(&f->eps);
	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);
	k.port = htons(80);
	k.proto = IPPROTO_TCP;
	v = (struct sl_svc_val){.id = 7, .count = 1};
	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);
	k.slot = 1;
	v = (struct sl_svc_val){.id = 5};
	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);
	CHECK_INT(dp_be_update(f->be, 5, &be), 0);
}

/* A spoofed packet (B's address from A's veth): dropped. */
static void send_spoofed(const struct fds *f)
{
	struct tcp_pkt p = tcp_build(mac_a, host_a, IP_B, IP(10, 244, 1, 99), 1000, 80, 0x02);

	expect(f->from_pod, f->metrics, &p, sizeof(p), if_a, TC_ACT_SHOT, SL_DROP_SPOOF_IP, NULL,
	       NULL);
}

static void send_new_flow(const struct fds *f, __u16 sport)
{
	struct tcp_pkt p = tcp_build(mac_a, host_a, IP_A, VIP, sport, 80, 0x02);

	expect(f->from_pod, f->metrics, &p, sizeof(p), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, NULL,
	       NULL);
}

/* B accepts A (identity 256) on TCP 8080; policies exist. */
static void policy_seed(const struct fds *f)
{
	struct sl_pol_key k = {.ep_id = if_b,
			       .peer = 256,
			       .dport = htons(8080),
			       .proto = IPPROTO_TCP,
			       .dir = SL_POL_DIR_IN};
	struct sl_polcfg_val cfg = {.flags = SL_POLCFG_F_ACTIVE, .gen = 1};

	CHECK_INT(dp_ipcache_update(f->ipc, IP_A, 32, 256), 0);
	CHECK_INT(dp_ep_policy_set(f->ep, IP_A, 256, 0), 0);
	CHECK_INT(dp_ep_policy_set(f->ep, IP_B, 257, SL_EP_F_ISO_IN), 0);
	CHECK_INT(dp_pol_update(f->pol, &k), 0);
	CHECK_INT(dp_polcfg_write(f->cfg, &cfg), 0);
}

static void send_to_b(const struct fds *f, __u16 sport, __u8 flags)
{
	struct tcp_pkt p = tcp_build(mac_a, host_a, IP_A, IP_B, sport, 8080, flags);

	expect(f->from_pod, f->metrics, &p, sizeof(p), if_a, TC_ACT_REDIRECT, SL_PATH_LOCAL, NULL,
	       NULL);
}

static void run(const struct fds *f, int ring, int cfg)
{
	struct seen s = {};
	struct dp_events *ev = NULL;

	seed(f);
	CHECK_INT(dp_events_open(ring, event_keep, &s, &ev), 0);
	if (!ev)
		return;

	UNIT_CASE("nobody listens: a drop writes no event");
	send_spoofed(f);
	CHECK_INT(dp_events_poll(ev, 0), 0);

	UNIT_CASE("a fresh lease for drops: the drop arrives with its reason and addresses");
	evcfg_set(cfg, SL_EV_F(SL_EV_DROP), 3000);
	send_spoofed(f);
	CHECK_INT(dp_events_poll(ev, 100), 1);
	CHECK_INT(s.last.type, SL_EV_DROP);
	CHECK_INT(s.last.code, SL_DROP_SPOOF_IP);
	CHECK_INT(s.last.saddr, IP_B);
	CHECK_INT(ntohs(s.last.dport), 80);
	CHECK_INT(s.last.ifindex, if_a);

	UNIT_CASE("a lease for drops only: a new flow writes nothing");
	send_new_flow(f, 2000);
	CHECK_INT(dp_events_poll(ev, 0), 0);

	UNIT_CASE("a lease for flows: the new flow arrives with its service and backend");
	evcfg_set(cfg, SL_EV_F(SL_EV_FLOW), 3000);
	send_new_flow(f, 2001);
	CHECK_INT(dp_events_poll(ev, 100), 1);
	CHECK_INT(s.last.type, SL_EV_FLOW);
	CHECK_INT(s.last.svc_id, 7);
	CHECK_INT(s.last.backend_id, 5);
	CHECK_INT(s.last.be_ip, IP_B);
	CHECK_INT(ntohs(s.last.be_port), 8080);
	CHECK_INT(s.last.daddr, VIP);

	UNIT_CASE("an expired lease (a monitor killed without cleanup): nothing is written");
	evcfg_set(cfg, SL_EV_F(SL_EV_DROP) | SL_EV_F(SL_EV_FLOW), -1);
	send_spoofed(f);
	send_new_flow(f, 2002);
	CHECK_INT(dp_events_poll(ev, 0), 0);

	UNIT_CASE("a lease for policy: a new flow NetworkPolicy allowed arrives, once");
	policy_seed(f);
	evcfg_set(cfg, SL_EV_F(SL_EV_POLICY), 3000);
	send_to_b(f, 3000, 0x02);
	CHECK_INT(dp_events_poll(ev, 100), 1);
	CHECK_INT(s.last.type, SL_EV_POLICY);
	CHECK_INT(s.last.saddr, IP_A);
	CHECK_INT(s.last.daddr, IP_B);
	CHECK_INT(ntohs(s.last.dport), 8080);
	send_to_b(f, 3000, 0x10); /* the same flow's next packet: judged already */
	CHECK_INT(dp_events_poll(ev, 0), 0);

	UNIT_CASE("a cleared lease: nothing is written");
	evcfg_set(cfg, SL_EV_F(SL_EV_DROP), 3000);
	CHECK_INT(dp_evcfg_clear(cfg), 0);
	send_spoofed(f);
	CHECK_INT(dp_events_poll(ev, 0), 0);
	dp_events_free(ev);
}

int main(void)
{
	struct sl_pod *skel;
	struct fds f;

	if (pod_fixture_enter("bpf_test_events", netns_setup,
			      sizeof(netns_setup) / sizeof(netns_setup[0])) < 0)
		return 1;
	UNIT_CASE("skeleton loads");
	skel = pod_fixture_load(-1);
	if (skel) {
		f = fds_of(skel);
		run(&f, bpf_map__fd(skel->maps.sl_events), bpf_map__fd(skel->maps.sl_evcfg));
		sl_pod__destroy(skel);
	}
	return unit_done();
}
