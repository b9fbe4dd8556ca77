// SPDX-License-Identifier: Apache-2.0
/* Collects the state of a node's pinned datapath for `status`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "cleanup.h"
#include "status.h"

static const char *const map_names[STATUS_N_MAPS] = {SL_PIN_EP4, SL_PIN_METRICS, SL_PIN_INFO,
						     SL_PIN_SVC4, SL_PIN_BE4};

static const struct {
	__u32 type;
	const char *name;
} map_types[] = {
    {BPF_MAP_TYPE_HASH, "hash"},
    {BPF_MAP_TYPE_ARRAY, "array"},
    {BPF_MAP_TYPE_PROG_ARRAY, "prog_array"},
    {BPF_MAP_TYPE_PERCPU_HASH, "percpu_hash"},
    {BPF_MAP_TYPE_PERCPU_ARRAY, "percpu_array"},
    {BPF_MAP_TYPE_LRU_HASH, "lru_hash"},
    {BPF_MAP_TYPE_LRU_PERCPU_HASH, "lru_percpu_hash"},
    {BPF_MAP_TYPE_LPM_TRIE, "lpm_trie"},
    {BPF_MAP_TYPE_RINGBUF, "ringbuf"},
};

const char *map_type_name(__u32 type, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (map_types[i].type == type)
			return map_types[i].name;
	snprintf(buf, len, "type %u", type);
	return buf;
}

static int ep_count(__be32 ip, const struct sl_ep_val *val, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int endpoints_count(const char *pin_dir)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_EP4);
	int n = 0, r;

	if (fd < 0)
		return fd;
	r = dp_ep_foreach(fd, ep_count, &n);
	return r < 0 ? r : n;
}

static int slots_count(const char *pin_dir)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_EPSRC4);

	return fd < 0 ? fd : dp_ep_slots_count(fd);
}

static int metrics_read(const char *pin_dir, struct sl_metric_val *out)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_METRICS);

	if (fd < 0)
		return fd;
	return dp_metrics_read(fd, out);
}

static int abi_read(const char *pin_dir, __u32 *version)
{
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_INFO);
	struct sl_info_val info = {};
	int r;

	if (fd < 0)
		return fd;
	r = dp_info_read(fd, &info);
	if (r < 0)
		return r;
	*version = info.abi_version;
	return 0;
}

static void obj_collect(const char *pin_dir, const char *name, struct status_obj *o)
{
	o->name = name;
	o->err = dp_pin_info(pin_dir, name, &o->info);
	if (o->err > 0)
		o->err = 0;
}

int status_collect(const char *pin_dir, struct status *st)
{
	bool any;
	int r;

	memset(st, 0, sizeof(*st));
	st->pin_dir = pin_dir;
	obj_collect(pin_dir, SL_PIN_FROM_POD, &st->prog);
	any = !st->prog.err;
	for (int i = 0; i < STATUS_N_MAPS; i++) {
		obj_collect(pin_dir, map_names[i], &st->maps[i]);
		any |= !st->maps[i].err;
	}
	if (!any)
		return -ENOENT;

	r = dp_ready(pin_dir, st->reason, sizeof(st->reason));
	st->ready = r == 0;
	if (st->ready)
		st->reason[0] = '\0';
	else if (!st->reason[0])
		snprintf(st->reason, sizeof(st->reason), "%s", strerror(-r));
	st->abi_err = abi_read(pin_dir, &st->abi_version);
	st->endpoints = endpoints_count(pin_dir);
	st->slots = slots_count(pin_dir);
	r = metrics_read(pin_dir, st->metrics);
	st->metrics_err = r < 0 ? r : 0;
	return 0;
}
