// SPDX-License-Identifier: Apache-2.0
/* The observability maps: per service port counters (sl_svcstat) and the CNI
 * plugin's call counts and latency (sl_cnistat, shared memory). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"

int dp_svcstat_read(int map_fd, __u32 svc_id, struct sl_svcstat_val *sum)
{
	return DP_PERCPU_SUM(map_fd, &svc_id, sum);
}

int dp_svcstat_reset(int map_fd, __u32 svc_id)
{
	_cleanup_free_ struct sl_svcstat_val *zero = NULL;
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu < 0)
		return ncpu;
	if (!(zero = calloc(ncpu, sizeof(*zero))))
		return -ENOMEM;
	return bpf_map_update_elem(map_fd, &svc_id, zero, BPF_ANY);
}

static size_t cnistat_bucket(__u64 usec)
{
	static const __u64 bounds[SL_CNI_BUCKETS] = SL_CNI_BUCKETS_US;
	size_t i = 0;

	while (i < SL_CNI_BUCKETS && usec > bounds[i])
		i++;
	return i; /* SL_CNI_BUCKETS: above the last bound, counted by calls only */
}

int dp_cnistat_record(const char *pin_dir, unsigned int op, bool ok, __u64 usec)
{
	size_t len = SL_CNI_OP_MAX * sizeof(struct sl_cnistat_val);
	_cleanup_close_ int fd = -1;
	struct sl_cnistat_val *v;
	size_t b = cnistat_bucket(usec);
	void *mem;

	if (op >= SL_CNI_OP_MAX)
		return -EINVAL;
	fd = dp_pin_open(pin_dir, SL_PIN_CNISTAT);
	if (fd < 0)
		return fd;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	/* Plugins run concurrently, one process per pod: atomic adds only. */
	v = (struct sl_cnistat_val *)mem + op;
	__atomic_fetch_add(&v->sum_us, usec, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_fetch_add(&v->errors, 1, __ATOMIC_RELAXED);
	if (b < SL_CNI_BUCKETS)
		__atomic_fetch_add(&v->le[b], 1, __ATOMIC_RELAXED);
	/* last: a reader never sees more in the buckets than calls */
	__atomic_fetch_add(&v->calls, 1, __ATOMIC_RELEASE);
	munmap(mem, len);
	return 0;
}

int dp_cnistat_read(int map_fd, unsigned int op, struct sl_cnistat_val *val)
{
	__u32 key = op;

	return bpf_map_lookup_elem(map_fd, &key, val);
}
