/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The datapath's cached clock: CLOCK_MONOTONIC at tick resolution, kept in
 * sl_clock by a BPF timer, so a packet that only asks "is a stamp due?"
 * reads memory instead of calling a helper. */
#ifndef SL_LIB_CLOCK_H
#define SL_LIB_CLOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/maps.h"

#define CLOCK_TICK_NS	   100000000ull /* the timer's period */
#define CLOCK_FRESH_NS	   (2 * CLOCK_TICK_NS)
#define CLOCK_MONOTONIC_ID 1 /* <linux/time.h> CLOCK_MONOTONIC */

static int clock_tick(void *map, __u32 *key, struct sl_clock_val *c)
{
	c->now_ns = bpf_ktime_get_coarse_ns();
	bpf_timer_start(&c->timer, CLOCK_TICK_NS, 0);
	return 0;
}

static __always_inline struct sl_clock_val *clock_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_clock, &zero);
}

/* The cached time, no helper call: 0 before the first stamp; up to a tick
 * behind while the timer runs; frozen if the timer stopped (sl_clock lost
 * its last user reference). Only good for "may a stamp be due": a stale
 * value says yes (it is behind every stamp written since), never no. */
static __always_inline __u64 clock_cached(void)
{
	const struct sl_clock_val *c = clock_get();

	return c ? c->now_ns : 0;
}

/* CLOCK_MONOTONIC at tick resolution (one helper call), given as the cached
 * time when that is fresh, so a stamp never runs ahead of clock_cached while
 * the timer runs. When the cache is not fresh (the first stamp, or the timer
 * stopped: a user-space write to sl_clock frees it) the timer is armed
 * again, and the cache holds now meanwhile. */
static __always_inline __u64 clock_stamp(void)
{
	struct sl_clock_val *c = clock_get();
	__u64 now = bpf_ktime_get_coarse_ns();

	if (!c)
		return now;
	if (now - c->now_ns < CLOCK_FRESH_NS)
		return c->now_ns;
	if (!bpf_timer_init(&c->timer, &sl_clock, CLOCK_MONOTONIC_ID) &&
	    !bpf_timer_set_callback(&c->timer, clock_tick))
		bpf_timer_start(&c->timer, CLOCK_TICK_NS, 0); /* -EBUSY: it runs, only late */
	c->now_ns = now;
	return now;
}

#endif
