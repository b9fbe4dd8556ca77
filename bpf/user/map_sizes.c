// SPDX-License-Identifier: Apache-2.0
/* A test hook: SLUICE_TEST_MAP_MAX shrinks pinned maps before load, so the
 * fault suite can fill them. "sl_svc4=8,sl_be4=16"; unset, nothing changes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "dp_util.h"

/* One "name=count" item; -EINVAL for a bad count. An unknown name is no
 * error: the agent loads two objects and each holds only some maps. */
static int map_size_set(struct bpf_object *obj, char *item)
{
	char *eq = strchr(item, '='), *end;
	struct bpf_map *map;
	unsigned long n;

	if (!eq || eq == item)
		return -EINVAL;
	*eq = '\0';
	errno = 0;
	n = strtoul(eq + 1, &end, 10);
	if (errno || *end || end == eq + 1 || n == 0 || n > (1ul << 24))
		return -EINVAL;
	map = bpf_object__find_map_by_name(obj, item);
	if (!map)
		return 0;
	return bpf_map__set_max_entries(map, (__u32)n);
}

int dp_map_sizes_apply(struct bpf_object *obj)
{
	const char *env = getenv("SLUICE_TEST_MAP_MAX");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *item;
	int err;

	if (!env || !*env)
		return 0;
	copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		err = map_size_set(obj, item);
		if (err)
			return err;
	}
	return 0;
}
