/* SPDX-License-Identifier: Apache-2.0 */
/* Private helpers of the datapath library: pin paths, telling a map fd from a
 * program fd, object info. Not for use outside bpf/user. */
#ifndef SLUICE_DP_UTIL_H
#define SLUICE_DP_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cleanup.h"
#include "dp.h"

enum dp_fd_kind { DP_FD_OTHER, DP_FD_MAP, DP_FD_PROG };

/* k with every padding byte zero: hash keys compare bytes. */
static inline struct sl_svc_key dp_svc_key(const struct sl_svc_key *k)
{
	struct sl_svc_key key;

	memset(&key, 0, sizeof(key));
	key.vip = k->vip;
	key.port = k->port;
	key.proto = k->proto;
	key.scope = k->scope;
	key.slot = k->slot;
	return key;
}

/* <pin_dir>/<name>; -EINVAL for an empty name or one with '/', -ENAMETOOLONG. */
static inline int dp_pin_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	int n;

	if (!pin_dir || !*pin_dir || !name || !*name || strchr(name, '/'))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%s", pin_dir, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* A BPF object fd is an anon inode named after its kind. */
static inline enum dp_fd_kind dp_fd_kind(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return DP_FD_OTHER;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:bpf-map"))
		return DP_FD_MAP;
	if (!strcmp(target, "anon_inode:bpf-prog"))
		return DP_FD_PROG;
	return DP_FD_OTHER;
}

/* The kernel's description of the map or program fd into info (a struct
 * bpf_map_info or bpf_prog_info of info_len bytes, zeroed first). */
static inline int dp_obj_info_get(int fd, void *info, __u32 info_len)
{
	memset(info, 0, info_len);
	if (fd < 0)
		return fd;
	return bpf_obj_get_info_by_fd(fd, info, &info_len);
}

/* Sums a per-CPU value made only of __u64 counters over every possible CPU
 * into sum (n counters); DP_PERCPU_SUM takes the value's struct instead. */
int dp_percpu_sum(int map_fd, const void *key, __u64 *sum, size_t n);
#define DP_PERCPU_SUM(fd, key, val)                                                                \
	({                                                                                         \
		_Static_assert(sizeof(*(val)) % sizeof(__u64) == 0, "only __u64 counters");        \
		dp_percpu_sum(fd, key, (__u64 *)(val), sizeof(*(val)) / sizeof(__u64));            \
	})

/* Pins fd as <pin_dir>/<name> by pinning under a temporary name and renaming
 * over the old pin: readers never find the name missing, and whatever the old
 * pin held loses that reference (pins.c). */
int dp_pin_swap(const char *pin_dir, const char *name, int fd);

/* One entry of a walk, as raw bytes; returns non-zero to stop the walk. */

/* Calls fn for each entry of a hash map. The next key is fetched before fn
 * runs, so fn may delete the entry it got. Bounded: deletions by others can
 * make the kernel restart the walk from the first key. */
static inline int dp_map_walk(int fd, size_t key_size, size_t val_size, __u32 max_entries,
			      dp_walk_fn fn, void *ctx)
{
	_Alignas(8) char cur[32], next[32], val[32];
	int err, ret;

	if (fd < 0 || key_size > sizeof(cur) || val_size > sizeof(val))
		return -EINVAL;
	err = bpf_map_get_next_key(fd, NULL, next);
	for (__u64 n = 0; !err && n < 4ull * max_entries; n++) {
		memcpy(cur, next, key_size);
		err = bpf_map_get_next_key(fd, cur, next);
		if (bpf_map_lookup_elem(fd, cur, val) < 0)
			continue; /* deleted meanwhile */
		ret = fn(cur, val, ctx);
		if (ret)
			return ret;
	}
	return err == -ENOENT ? 0 : err;
}

/* sl_svcstat costs max_entries x 24 bytes on every CPU: its size comes from
 * this budget, with a floor, and covers every service id where it can. */
#define DP_SVCSTAT_BUDGET (64ull << 20)
#define DP_SVCSTAT_FLOOR  4096

/* Sizes sl_svcstat in obj (opened, not loaded) for this machine: every object
 * sharing the pin sets the same size, or libbpf refuses to reuse it. */
static inline int dp_svcstat_size(struct bpf_object *obj)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, SL_PIN_SVCSTAT);
	int ncpu = libbpf_num_possible_cpus();
	__u64 n;

	if (!map)
		return -ENOENT;
	if (ncpu < 0)
		return ncpu;
	n = DP_SVCSTAT_BUDGET / ((__u64)ncpu * sizeof(struct sl_svcstat_val));
	n = n < DP_SVCSTAT_FLOOR ? DP_SVCSTAT_FLOOR : n > SL_SVC_IDS_MAX ? SL_SVC_IDS_MAX : n;
	return bpf_map__set_max_entries(map, (__u32)n);
}

/* The test hook SLUICE_TEST_MAP_MAX (map_sizes.c): shrinks maps of obj before
 * load; -EINVAL for a malformed value. */
int dp_map_sizes_apply(struct bpf_object *obj);

#endif
