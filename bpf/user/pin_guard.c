// SPDX-License-Identifier: Apache-2.0
/* Keeps the agent's pins: holds every pinned object and pins again what was removed. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

#define GUARD_MAX 64 /* the datapath pins about 30 objects */

struct guard_pin {
	char name[NAME_MAX + 1];
	int fd;
	enum dp_fd_kind kind; /* map and program ids are separate number spaces */
	__u32 id;
	bool foreign; /* the name holds another object; counted once */
};

struct dp_pin_guard {
	char pin_dir[PATH_MAX];
	size_t n;
	struct guard_pin pins[GUARD_MAX];
};

/* Maps, programs and links all start their info with {type, id}. */
union obj_info {
	struct bpf_map_info map;
	struct bpf_prog_info prog;
	struct bpf_link_info link;
};

static int obj_id(int fd, __u32 *id)
{
	union obj_info info;
	int err;

	err = dp_obj_info_get(fd, &info, sizeof(info));
	if (err)
		return err;
	*id = info.map.id;
	return 0;
}

static int guard_add(struct dp_pin_guard *g, const char *name)
{
	struct guard_pin *p = &g->pins[g->n];
	int fd, err;

	if (g->n >= GUARD_MAX)
		return -E2BIG;
	fd = dp_pin_open(g->pin_dir, name);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* gone meanwhile */
	err = obj_id(fd, &p->id);
	if (err) {
		close(fd);
		return err;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->fd = fd;
	p->kind = dp_fd_kind(fd);
	p->foreign = false;
	g->n++;
	return 0;
}

static int guard_fill(struct dp_pin_guard *g)
{
	DIR *d = opendir(g->pin_dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (de = readdir(d)))
		if (de->d_type == DT_REG && !strstr(de->d_name, "-new")) /* dp_pin_swap's */
			err = guard_add(g, de->d_name);
	closedir(d);
	return err;
}

int dp_pin_guard_new(const char *pin_dir, struct dp_pin_guard **out)
{
	struct dp_pin_guard *g;
	int err;

	*out = NULL;
	if (!pin_dir || pin_dir[0] != '/')
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	snprintf(g->pin_dir, sizeof(g->pin_dir), "%s", pin_dir);
	err = guard_fill(g);
	if (err) {
		dp_pin_guard_free(g);
		return err;
	}
	*out = g;
	return 0;
}

void dp_pin_guard_free(struct dp_pin_guard *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		close(g->pins[i].fd);
	free(g);
}

size_t dp_pin_guard_held(const struct dp_pin_guard *g)
{
	return g ? g->n : 0;
}

/* 1 when p was pinned again, 0 when its pin is in place, -errno. */
static int pin_check(const struct dp_pin_guard *g, struct guard_pin *p, bool *foreign_new)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	__u32 id;
	int err;

	err = dp_pin_path(path, sizeof(path), g->pin_dir, p->name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd == -ENOENT) {
		err = bpf_obj_pin(p->fd, path);
		if (err)
			return err == -EEXIST ? 0 : err; /* pinned by someone meanwhile */
		p->foreign = false;
		return 1;
	}
	if (fd < 0)
		return fd;
	err = obj_id(fd, &id);
	if (err)
		return err;
	/* Another object under our name: a newer agent's load. Left alone. */
	if (id != p->id || dp_fd_kind(fd) != p->kind) {
		*foreign_new = !p->foreign;
		p->foreign = true;
	}
	return 0;
}

int dp_pin_guard_check(struct dp_pin_guard *g, struct dp_pin_guard_result *res)
{
	int err = 0;

	memset(res, 0, sizeof(*res));
	if (!g)
		return 0;
	if (mkdir(g->pin_dir, 0700) == 0)
		res->dir_made = true;
	else if (errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < g->n; i++) {
		bool foreign_new = false;
		int r = pin_check(g, &g->pins[i], &foreign_new);

		if (r < 0) {
			err = err ? err : r;
			continue;
		}
		if (r > 0 && res->restored++ == 0)
			snprintf(res->first, sizeof(res->first), "%s", g->pins[i].name);
		if (foreign_new && res->foreign++ == 0)
			snprintf(res->first_foreign, sizeof(res->first_foreign), "%s",
				 g->pins[i].name);
	}
	return err;
}
