// SPDX-License-Identifier: Apache-2.0
/* Pinned datapath objects: readiness, opening by pin name, inspection. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

/* What the CNI plugin needs from the agent. */
static const struct {
	const char *name;
	enum dp_fd_kind kind;
} ready_pins[] = {
    {SL_PIN_FROM_POD, DP_FD_PROG}, {SL_PIN_TO_POD, DP_FD_PROG}, {SL_PIN_EP4, DP_FD_MAP},
    {SL_PIN_EPSRC4, DP_FD_MAP},	   {SL_PIN_METRICS, DP_FD_MAP},
};

int dp_pin_open(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = dp_pin_path(path, sizeof(path), pin_dir, name);
	if (err)
		return err;
	return bpf_obj_get(path);
}

/* sl_ep4 must have the layout this binary writes. */
static int ep_layout_check(const char *pin_dir, char *why, size_t why_len)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_EP4);
	struct bpf_map_info info;
	int err;

	err = dp_obj_info_get(fd, &info, sizeof(info));
	if (err)
		return err;
	if (info.key_size != sizeof(struct sl_ep_key) ||
	    info.value_size != sizeof(struct sl_ep_val)) {
		snprintf(why, why_len, "%s/%s has key/value size %u/%u, this build uses %zu/%zu",
			 pin_dir, SL_PIN_EP4, info.key_size, info.value_size,
			 sizeof(struct sl_ep_key), sizeof(struct sl_ep_val));
		return -EPROTO;
	}
	return 0;
}

int dp_ready(const char *pin_dir, char *why, size_t why_len)
{
	char dummy[1];
	int err;

	if (!why || !why_len) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	why[0] = '\0';
	for (size_t i = 0; i < sizeof(ready_pins) / sizeof(ready_pins[0]); i++) {
		_cleanup_close_ int fd = dp_pin_open(pin_dir, ready_pins[i].name);

		if (fd < 0) {
			snprintf(why, why_len, "%s/%s: %s", pin_dir ? pin_dir : "(null)",
				 ready_pins[i].name, strerror(-fd));
			return fd;
		}
		if (dp_fd_kind(fd) != ready_pins[i].kind) {
			snprintf(why, why_len, "%s/%s is not a %s", pin_dir, ready_pins[i].name,
				 ready_pins[i].kind == DP_FD_MAP ? "map" : "program");
			return -EINVAL;
		}
	}
	err = ep_layout_check(pin_dir, why, why_len);
	if (err && !why[0])
		snprintf(why, why_len, "%s/%s: %s", pin_dir, SL_PIN_EP4, strerror(-err));
	return err;
}

static bool map_type_is_hash(__u32 type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
		return true;
	default:
		return false;
	}
}

static bool map_type_is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* Counts keys by iteration, bounded by max_entries: entries deleted meanwhile
 * can make the kernel restart from the first key. */
static int map_count(int fd, __u32 key_size, __u32 max_entries, __u32 *count)
{
	_cleanup_free_ char *keys = calloc(2, key_size ? key_size : 1);
	char *cur, *next;
	__u32 n = 0;
	int err;

	if (!keys)
		return -ENOMEM;
	cur = keys;
	next = keys + key_size;
	for (err = bpf_map_get_next_key(fd, NULL, next); !err && n < max_entries;
	     err = bpf_map_get_next_key(fd, cur, next)) {
		n++;
		memcpy(cur, next, key_size);
	}
	if (err && err != -ENOENT)
		return err;
	*count = n;
	return 0;
}

/* What maps and programs share: name, id and type. */
static void obj_info_set(struct dp_obj_info *out, const char *name, __u32 id, __u32 type)
{
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->id = id;
	out->type = type;
}

static int map_info_fill(int fd, struct dp_obj_info *out)
{
	struct bpf_map_info info;
	int err;

	err = dp_obj_info_get(fd, &info, sizeof(info));
	if (err)
		return err;
	obj_info_set(out, info.name, info.id, info.type);
	out->key_size = info.key_size;
	out->value_size = info.value_size;
	out->max_entries = info.max_entries;
	if (map_type_is_array(info.type))
		out->entries = info.max_entries;
	else if (map_type_is_hash(info.type))
		return map_count(fd, info.key_size, info.max_entries, &out->entries);
	return 0;
}

static int prog_info_fill(int fd, struct dp_obj_info *out)
{
	struct bpf_prog_info info;
	int err;

	err = dp_obj_info_get(fd, &info, sizeof(info));
	if (err)
		return err;
	obj_info_set(out, info.name, info.id, info.type);
	return 0;
}

int dp_pin_info(const char *pin_dir, const char *name, struct dp_obj_info *info)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, name);

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return fd;
	switch (dp_fd_kind(fd)) {
	case DP_FD_MAP:
		return map_info_fill(fd, info);
	case DP_FD_PROG:
		return prog_info_fill(fd, info);
	default:
		return -EINVAL;
	}
}

int dp_pin_swap(const char *pin_dir, const char *name, int fd)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int err;

	err = dp_pin_path(path, sizeof(path), pin_dir, name);
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s-new", path); /* bpffs names cannot hold a dot */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	err = bpf_obj_pin(fd, tmp);
	if (err)
		return err;
	if (rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}
