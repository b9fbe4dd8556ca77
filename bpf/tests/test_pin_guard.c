// SPDX-License-Identifier: Apache-2.0
/* The pin guard on the real datapath: removed pins come back with the same
 * objects, a removed pin dir too, a pin of another object is left alone. Root. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cleanup.h"
#include "dp.h"
#include "unit.h"

static char pin_dir[64];

static __u32 pin_id(const char *name)
{
	struct dp_obj_info info = {};

	return dp_pin_info(pin_dir, name, &info) < 0 ? 0 : info.id;
}

static int pin_unlink(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return unlink(path) < 0 ? -errno : 0;
}

static void checks_removed(struct dp_pin_guard *g)
{
	__u32 svc = pin_id(SL_PIN_SVC4), prog = pin_id(SL_PIN_FROM_POD),
	      slots = pin_id(SL_PIN_EPSRC4);
	struct dp_pin_guard_result res;
	char cmd[128];

	UNIT_CASE("nothing removed: nothing pinned again");
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK_INT(res.restored, 0);
	CHECK_INT(res.foreign, 0);
	CHECK(!res.dir_made);

	UNIT_CASE("a map and a program removed: the same ones pinned again");
	CHECK_INT(pin_unlink(SL_PIN_SVC4), 0);
	CHECK_INT(pin_unlink(SL_PIN_FROM_POD), 0);
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK_INT(res.restored, 2);
	CHECK_INT(pin_id(SL_PIN_SVC4), svc);
	CHECK_INT(pin_id(SL_PIN_FROM_POD), prog);

	UNIT_CASE("the anti-spoofing slots removed: the same map pinned again");
	CHECK(slots != 0);
	CHECK_INT(pin_unlink(SL_PIN_EPSRC4), 0);
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK_INT(res.restored, 1);
	CHECK_INT(pin_id(SL_PIN_EPSRC4), slots);

	UNIT_CASE("the pin dir removed: made again, everything pinned again");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pin_dir);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK(res.dir_made);
	CHECK_INT(res.restored, (unsigned int)dp_pin_guard_held(g));
	CHECK_INT(pin_id(SL_PIN_SVC4), svc);
	CHECK_INT(dp_ready(pin_dir, NULL, 0), 0);
}

static void checks_foreign(struct dp_pin_guard *g)
{
	__u32 be = pin_id(SL_PIN_BE4), other;
	struct dp_pin_guard_result res;
	char path[PATH_MAX];
	_cleanup_close_ int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "other", 4, 4, 1, NULL);

	UNIT_CASE("a name that holds another object is left alone, counted once");
	CHECK(fd >= 0);
	CHECK_INT(pin_unlink(SL_PIN_BE4), 0);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SL_PIN_BE4);
	CHECK_INT(bpf_obj_pin(fd, path), 0);
	other = pin_id(SL_PIN_BE4);
	CHECK(other != be);
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK_INT(res.foreign, 1);
	CHECK_STR(res.first_foreign, SL_PIN_BE4);
	CHECK_INT(res.restored, 0);
	CHECK_INT(pin_id(SL_PIN_BE4), other);
	CHECK_INT(dp_pin_guard_check(g, &res), 0);
	CHECK_INT(res.foreign, 0);
}

int main(void)
{
	struct dp_pin_report rep;
	struct dp_pin_guard *g = NULL;
	char cmd[128];
	int err;

	if (geteuid() != 0) {
		printf("test_pin_guard needs root\n");
		return 1;
	}
	UNIT_CASE("setup: the datapath loaded and pinned, the guard holds it");
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sluice-tguard-%d", getpid());
	CHECK_INT(dp_bpffs_ensure(pin_dir), 0);
	err = dp_load_and_pin(pin_dir, &rep);
	CHECK_INT(err, 0);
	if (err)
		return unit_done();
	CHECK_INT(dp_pin_guard_new("relative", &g), -EINVAL);
	CHECK_INT(dp_pin_guard_new(pin_dir, &g), 0);
	CHECK(dp_pin_guard_held(g) >= 20);

	checks_removed(g);
	checks_foreign(g);

	dp_pin_guard_free(g);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pin_dir);
	CHECK_INT(system(cmd), 0);
	return unit_done();
}
