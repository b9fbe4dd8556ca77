// SPDX-License-Identifier: Apache-2.0
/* Conntrack's clock (lib/clock.h): last_seen_ns is CLOCK_MONOTONIC at tick
 * resolution whether the cached clock's timer runs or was stopped, is
 * refreshed after 1 s and not before, and the timer keeps the cache fresh.
 * Root; runs in a private network namespace. */
#define _GNU_SOURCE
#include <time.h>

#include "l4_pkt.h"
#include "pod_fixture.h"

#define VIP	  IP(10, 96, 0, 10) /* TCP 80 -> B:8080 */
#define TICK_NS	  100000000ull	    /* lib/clock.h CLOCK_TICK_NS */
#define COARSE_NS 10000000ull	    /* the coarse clock's own lag: a tick of the kernel */
#define SEC_NS	  1000000000ull

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static void seed(const struct fds *f)
{
	struct sl_svc_key k = {.vip = VIP, .port = htons(80), .proto = IPPROTO_TCP},
			  marker = {.vip = VIP};
	struct sl_svc_val master = {.id = 1, .count = 1}, slot = {.id = 1},
			  vip = {.flags = SL_SVC_F_VIP};
	struct sl_be_val be = {.ip = IP_B, .port = htons(8080), .proto = IPPROTO_TCP};

	pod_fixture_eps_put(&f->eps);
	CHECK_INT(dp_be_update(f->be, 1, &be), 0);
	CHECK_INT(dp_svc_update(f->svc, &marker, &vip), 0);
	CHECK_INT(dp_svc_update(f->svc, &k, &master), 0);
	k.slot = 1;
	CHECK_INT(dp_svc_update(f->svc, &k, &slot), 0);
}

static struct sl_ct_key fwd_key(void)
{
	return (struct sl_ct_key){.saddr = IP_A,
				  .daddr = VIP,
				  .sport = htons(40000),
				  .dport = htons(80),
				  .proto = IPPROTO_TCP};
}

static __u64 seen_get(const struct fds *f)
{
	struct sl_ct_key k = fwd_key();
	struct sl_ct_val v = {};

	CHECK_INT(bpf_map_lookup_elem(f->ct, &k, &v), 0);
	return v.last_seen_ns;
}

static void seen_set(const struct fds *f, __u64 ns)
{
	struct sl_ct_key k = fwd_key();
	struct sl_ct_val v = {};

	CHECK_INT(bpf_map_lookup_elem(f->ct, &k, &v), 0);
	v.last_seen_ns = ns;
	CHECK_INT(bpf_map_update_elem(f->ct, &k, &v, BPF_EXIST), 0);
}

/* One packet of the flow A:40000 -> VIP:80 (flags: SYN opens it). */
static void packet(const struct fds *f, __u8 flags)
{
	struct tcp_pkt p = tcp_build(mac_a, host_a, IP_A, VIP, 40000, 80, flags);

	expect(f->from_pod, f->metrics, &p, sizeof(p), if_a, TC_ACT_REDIRECT,
	       flags == 0x02 ? SL_PATH_SVC_NEW : SL_PATH_SVC_CT, NULL, NULL);
}

/* A stamp taken between before and after: at most a fresh cache behind. */
static bool stamp_within(__u64 seen, __u64 before, __u64 after)
{
	return seen + 2 * TICK_NS + COARSE_NS >= before && seen <= after;
}

static __u64 cached_get(const struct fds *f)
{
	struct {
		__u64 timer[2]; /* struct bpf_timer, read back as zeros */
		__u64 now_ns;
	} v = {};

	CHECK_INT(bpf_map_lookup_elem(f->clock, &(__u32){0}, &v), 0);
	return v.now_ns;
}

static void run(const struct fds *f)
{
	__u64 before, after, seen;

	seed(f);
	UNIT_CASE("(clock) a new flow is stamped with CLOCK_MONOTONIC");
	before = mono_ns();
	packet(f, 0x02);
	after = mono_ns();
	CHECK(stamp_within(seen_get(f), before, after));

	UNIT_CASE("(clock) the first stamp armed the timer: the cache follows CLOCK_MONOTONIC");
	usleep(350 * 1000);
	before = mono_ns();
	CHECK(stamp_within(cached_get(f), before, before));

	UNIT_CASE("(clock) a packet within 1 s of the stamp leaves it");
	seen = cached_get(f) - SEC_NS / 2;
	seen_set(f, seen);
	packet(f, 0x10);
	CHECK(seen_get(f) == seen);

	UNIT_CASE("(clock) a packet over 1 s after the stamp stamps again");
	seen_set(f, mono_ns() - 5 * SEC_NS);
	before = mono_ns();
	packet(f, 0x10);
	after = mono_ns();
	CHECK(stamp_within(seen_get(f), before, after));

	UNIT_CASE("(clock) a stopped timer (sl_clock written) never makes a stale stamp");
	/* a user-space write frees the timer and leaves an old time cached */
	CHECK_INT(bpf_map_update_elem(f->clock, &(__u32){0}, &(__u64[3]){0, 0, 1000}, BPF_ANY), 0);
	CHECK(cached_get(f) == 1000);
	seen_set(f, mono_ns() - 5 * SEC_NS);
	before = mono_ns();
	packet(f, 0x10);
	after = mono_ns();
	CHECK(stamp_within(seen_get(f), before, after));

	UNIT_CASE("(clock) the stale cache armed the timer again: it follows CLOCK_MONOTONIC");
	usleep(350 * 1000);
	before = mono_ns();
	CHECK(stamp_within(cached_get(f), before, before));
}

int main(void)
{
	if (pod_fixture_run("bpf_test_ct_clock", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), run) < 0)
		return 1;
	return unit_done();
}
