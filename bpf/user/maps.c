// SPDX-License-Identifier: Apache-2.0
/* Typed operations on the datapath maps; keys are always zero-initialised. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"

static const struct {
	const char *name;
	const char *desc;
} metric_names[SL_METRICS_MAX] = {
#define METRIC_ENTRY(sym, value, text) [value] = {#sym, text},
    SL_DROP_REASONS(METRIC_ENTRY) SL_PATHS(METRIC_ENTRY)
#undef METRIC_ENTRY
};

int dp_ep_lookup(int map_fd, __be32 ip, struct sl_ep_val *val)
{
	struct sl_ep_key key = {};

	key.ip = ip;
	return bpf_map_lookup_elem(map_fd, &key, val);
}

/* The next key is fetched before fn runs, so fn may delete the entry it got. */
int dp_ep_foreach(int map_fd, int (*fn)(__be32 ip, const struct sl_ep_val *val, void *ctx),
		  void *ctx)
{
	struct sl_ep_key cur = {}, next = {};
	struct sl_ep_val val;
	int err, ret;

	err = bpf_map_get_next_key(map_fd, NULL, &next);
	/* Bounded: deletions by others can make the kernel restart the walk. */
	for (int n = 0; !err && n < 4 * SL_EP_MAX; n++) {
		cur = next;
		err = bpf_map_get_next_key(map_fd, &cur, &next);
		if (bpf_map_lookup_elem(map_fd, &cur, &val) < 0)
			continue; /* deleted meanwhile */
		ret = fn(cur.ip, &val, ctx);
		if (ret)
			return ret;
	}
	return err == -ENOENT ? 0 : err;
}

int dp_percpu_sum(int map_fd, const void *key, __u64 *sum, size_t n)
{
	_cleanup_free_ __u64 *percpu = NULL;
	int ncpu = libbpf_num_possible_cpus();
	int err;

	memset(sum, 0, n * sizeof(*sum));
	if (ncpu < 0)
		return ncpu;
	if (!(percpu = calloc((size_t)ncpu * n, sizeof(*percpu))))
		return -ENOMEM;
	err = bpf_map_lookup_elem(map_fd, key, percpu);
	if (err)
		return err;
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < n; i++)
			sum[i] += percpu[(size_t)c * n + i];
	return 0;
}

int dp_metrics_read(int map_fd, struct sl_metric_val *out)
{
	int err;

	memset(out, 0, SL_METRICS_MAX * sizeof(*out));
	for (__u32 i = 0; i < SL_METRICS_MAX; i++) {
		err = DP_PERCPU_SUM(map_fd, &i, &out[i]);
		if (err)
			return err;
	}
	return 0;
}

int dp_info_read(int map_fd, struct sl_info_val *val)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(map_fd, &key, val);
}

const char *dp_metric_name(unsigned int index)
{
	return index < SL_METRICS_MAX ? metric_names[index].name : NULL;
}

const char *dp_metric_desc(unsigned int index)
{
	return index < SL_METRICS_MAX ? metric_names[index].desc : NULL;
}
