// SPDX-License-Identifier: Apache-2.0
/* Loads the datapath once and pins it, keeping compatible pinned maps. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"
#include "node.skel.h"
#include "pod.skel.h"

/* What became of the pinned maps before the load. */
struct pin_plan {
	bool abi_stale;
	char abi_why[24];
	bool info_new; /* sl_info must be (re)written after the load */
};

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static bool path_on_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
}

int dp_bpffs_ensure(const char *pin_dir)
{
	char root[PATH_MAX];
	char *slash;
	int empty;

	if (!pin_dir || pin_dir[0] != '/' || strlen(pin_dir) >= sizeof(root))
		return -EINVAL;
	if (path_on_bpffs(pin_dir))
		return 0;
	strcpy(root, pin_dir);
	while ((slash = strrchr(root, '/')) && slash != root && slash[1] == '\0')
		*slash = '\0'; /* trailing slashes */
	slash = strrchr(root, '/');
	if (slash == root)
		return -EINVAL; /* a bpffs mount point itself, e.g. /sys/fs/bpf, is not a pin dir */
	*slash = '\0';
	if (path_on_bpffs(root))
		return 0;
	/* Only the standard location is mounted; anywhere else a pin dir off
	 * bpffs is the caller's mistake, not a place to hide under a mount. */
	if (strcmp(root, "/sys/fs/bpf"))
		return -EMEDIUMTYPE;
	/* Never hide existing files under a new mount. */
	empty = dir_is_empty(root);
	if (empty < 0)
		return empty;
	if (!empty)
		return -ENOTEMPTY;
	if (mount("bpf", root, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int pin_dir_prepare(const char *pin_dir)
{
	bool made = true;

	if (mkdir(pin_dir, 0700) < 0) {
		if (errno != EEXIST)
			return -errno;
		made = false;
	}
	if (!path_on_bpffs(pin_dir)) {
		if (made)
			rmdir(pin_dir);
		return -EMEDIUMTYPE;
	}
	return 0;
}

/* 1 and why when the pinned map cannot serve as map, 0 when it can. */
static int map_incompatible(int fd, const struct bpf_map *map, char *why, size_t why_len)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	if (dp_fd_kind(fd) != DP_FD_MAP) {
		snprintf(why, why_len, "not a map");
		return 1;
	}
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
#define DIFFERS(field, want)                                                                       \
	if (info.field != (want)) {                                                                \
		snprintf(why, why_len, #field " %u!=%u", info.field, (unsigned int)(want));        \
		return 1;                                                                          \
	}
	DIFFERS(type, bpf_map__type(map));
	DIFFERS(key_size, bpf_map__key_size(map));
	DIFFERS(value_size, bpf_map__value_size(map));
	DIFFERS(max_entries, bpf_map__max_entries(map));
	DIFFERS(map_flags, bpf_map__map_flags(map));
#undef DIFFERS
	return 0;
}

/* Reads the pinned sl_info to learn whether every pin is of another ABI. */
static int plan_abi(const char *pin_dir, const struct bpf_map *info_map, struct pin_plan *plan)
{
	char path[PATH_MAX], why[32];
	struct sl_info_val val = {};
	_cleanup_close_ int fd = -1;
	int err;

	err = dp_pin_path(path, sizeof(path), pin_dir, SL_PIN_INFO);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	/* A wrong-shaped sl_info is replaced by the per-map check. */
	if (map_incompatible(fd, info_map, why, sizeof(why)) || dp_info_read(fd, &val) < 0)
		return 0;
	if (val.abi_version == 0) { /* a load died before writing it */
		plan->info_new = true;
		return 0;
	}
	if (val.abi_version != SL_ABI_VERSION) {
		plan->abi_stale = true;
		snprintf(plan->abi_why, sizeof(plan->abi_why), "abi %u!=%u", val.abi_version,
			 SL_ABI_VERSION);
	}
	return 0;
}

static void report_replaced(struct dp_pin_report *rep, const char *name, const char *why)
{
	int n = rep->maps_replaced++;
	char line[80];
	size_t len;

	if (n >= (int)(sizeof(rep->replaced) / sizeof(rep->replaced[0])))
		return;
	/* A long reason is cut short; the name comes first. */
	snprintf(line, sizeof(line), "%s: %s", name, why);
	len = strnlen(line, sizeof(rep->replaced[n]) - 1);
	memcpy(rep->replaced[n], line, len);
	rep->replaced[n][len] = '\0';
}

/* Unlinks the pins libbpf must not reuse; counts what it will reuse or create. */
static int pins_sort(struct bpf_object *obj, const struct bpf_map *info, struct pin_plan *plan,
		     struct dp_pin_report *rep)
{
	struct bpf_map *map;
	char why[32];
	int r;

	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);
		_cleanup_close_ int fd = -1;
		bool is_info = map == info;

		if (!path)
			continue; /* not pinned by name: .rodata and friends */
		fd = bpf_obj_get(path);
		if (fd == -ENOENT) {
			rep->maps_created++;
			plan->info_new |= is_info;
			continue;
		}
		if (fd < 0)
			return fd;
		if (plan->abi_stale) {
			snprintf(why, sizeof(why), "%s", plan->abi_why);
			r = 1;
		} else {
			r = map_incompatible(fd, map, why, sizeof(why));
			if (r < 0)
				return r;
		}
		if (!r) {
			rep->maps_reused++;
			continue;
		}
		if (unlink(path) < 0)
			return -errno;
		report_replaced(rep, bpf_map__name(map), why);
		plan->info_new |= is_info;
	}
	return 0;
}

static int info_write(int fd)
{
	struct sl_info_val val = {.abi_version = SL_ABI_VERSION};
	struct timespec ts;
	__u32 key = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	val.loaded_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	return bpf_map_update_elem(fd, &key, &val, BPF_ANY);
}

/* The uplink program (node.bpf.c), after the pod programs: it shares their
 * maps (now pinned and current) and adds its own (sl_nat4, sl_lbsrc4). */
static int node_load_and_pin(const char *pin_dir, bool dsr, struct dp_pin_report *rep)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct dp_pin_report shared = {};
	struct pin_plan plan = {};
	struct sl_node *skel;
	int err;

	skel = sl_node__open_opts(&opts);
	if (!skel)
		return -errno;
	/* sized as the pod object's, or the shared pins would look changed */
	err = dp_svcstat_size(skel->obj);
	if (!err)
		err = dp_map_sizes_apply(skel->obj);
	if (!err)
		err = pins_sort(skel->obj, NULL, &plan, &shared);
	if (err)
		goto out_destroy;
	rep->maps_created += shared.maps_created;
	for (int i = 0; i < shared.maps_replaced && i < 8; i++)
		report_replaced(rep, shared.replaced[i], "layout");
	skel->rodata->nodeport_dsr = dsr;
	err = sl_node__load(skel);
	if (err)
		goto out_destroy;
	err = dp_pin_swap(pin_dir, SL_PIN_FROM_NET, bpf_program__fd(skel->progs.sl_from_net));
out_destroy:
	sl_node__destroy(skel);
	return err;
}

/* Unlinks the pins of maps an older version had (SL_PINS_RETIRED): nothing
 * reads them any more, and only their pin keeps their memory. */
static int pins_retire(const char *pin_dir, struct dp_pin_report *rep)
{
	static const char *const retired[] = SL_PINS_RETIRED;
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < sizeof(retired) / sizeof(retired[0]); i++) {
		err = dp_pin_path(path, sizeof(path), pin_dir, retired[i]);
		if (err)
			return err;
		if (unlink(path) == 0)
			rep->maps_retired++;
		else if (errno != ENOENT)
			return -errno;
	}
	return 0;
}

int dp_load_and_pin(const char *pin_dir, struct dp_pin_report *rep)
{
	return dp_load_and_pin_mode(pin_dir, false, rep);
}

int dp_load_and_pin_mode(const char *pin_dir, bool dsr, struct dp_pin_report *rep)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct pin_plan plan = {};
	struct sl_pod *skel;
	int err;

	memset(rep, 0, sizeof(*rep));
	if (!pin_dir || pin_dir[0] != '/')
		return -EINVAL;
	err = pin_dir_prepare(pin_dir);
	if (err)
		return err;
	skel = sl_pod__open_opts(&opts);
	if (!skel)
		return -errno;
	err = dp_svcstat_size(skel->obj);
	if (!err)
		err = dp_map_sizes_apply(skel->obj);
	if (err)
		goto out_destroy;
	err = plan_abi(pin_dir, skel->maps.sl_info, &plan);
	if (err)
		goto out_destroy;
	err = pins_sort(skel->obj, skel->maps.sl_info, &plan, rep);
	if (err)
		goto out_destroy;
	skel->rodata->nodeport_dsr = dsr;
	err = sl_pod__load(skel);
	if (err)
		goto out_destroy;
	if (plan.info_new) {
		err = info_write(bpf_map__fd(skel->maps.sl_info));
		if (err)
			goto out_destroy;
	}
	err = dp_pin_swap(pin_dir, SL_PIN_TO_POD, bpf_program__fd(skel->progs.sl_to_pod));
	if (err)
		goto out_destroy;
	err = dp_pin_swap(pin_dir, SL_PIN_FROM_POD, bpf_program__fd(skel->progs.sl_from_pod));
	if (!err)
		err = node_load_and_pin(pin_dir, dsr, rep);
	if (!err)
		err = pins_retire(pin_dir, rep);
out_destroy:
	/* The pins keep the maps and the program alive. */
	sl_pod__destroy(skel);
	return err;
}
