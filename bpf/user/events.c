// SPDX-License-Identifier: Apache-2.0
/* The monitor's side of sl_events: the listener's lease in sl_evcfg and the
 * ring buffer's consumer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"

struct dp_events {
	struct ring_buffer *rb;
	dp_event_fn fn;
	void *ctx;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int dp_evcfg_read(int map_fd, struct sl_evcfg_val *val)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(map_fd, &key, val);
}

/* Another listener's live types are kept: two monitors share one lease. */
int dp_evcfg_lease(int map_fd, __u32 types, unsigned int lease_ms)
{
	struct sl_evcfg_val cur = {}, val = {};
	__u64 now = mono_ns();
	__u32 key = 0;
	int err;

	err = dp_evcfg_read(map_fd, &cur);
	if (err)
		return err;
	val.types = types | (cur.until_ns > now ? cur.types : 0);
	val.until_ns = now + (__u64)lease_ms * 1000000ull;
	val.lost = cur.lost;
	return bpf_map_update_elem(map_fd, &key, &val, BPF_ANY);
}

int dp_evcfg_clear(int map_fd)
{
	struct sl_evcfg_val val = {};
	__u32 key = 0;
	int err;

	err = dp_evcfg_read(map_fd, &val);
	if (err)
		return err;
	val.until_ns = 0;
	val.types = 0;
	return bpf_map_update_elem(map_fd, &key, &val, BPF_ANY);
}

static int events_sample(void *ctx, void *data, size_t size)
{
	struct dp_events *ev = ctx;
	struct sl_event e = {};

	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	return ev->fn(&e, ev->ctx);
}

int dp_events_open(int ring_fd, dp_event_fn fn, void *ctx, struct dp_events **out)
{
	struct dp_events *ev = calloc(1, sizeof(*ev));
	int err;

	if (!ev)
		return -ENOMEM;
	ev->fn = fn;
	ev->ctx = ctx;
	ev->rb = ring_buffer__new(ring_fd, events_sample, ev, NULL);
	if (!ev->rb) {
		err = -errno;
		free(ev);
		return err ? err : -EINVAL;
	}
	*out = ev;
	return 0;
}

/* The programs write without waking readers (bpf/lib/events.h): the wait
 * ends at the timeout, and what arrived meanwhile is consumed then. */
int dp_events_poll(struct dp_events *ev, int timeout_ms)
{
	int r = ring_buffer__poll(ev->rb, timeout_ms), c;

	if (r < 0)
		return r;
	c = ring_buffer__consume(ev->rb);
	return c < 0 ? c : r + c;
}

void dp_events_free(struct dp_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev);
}
