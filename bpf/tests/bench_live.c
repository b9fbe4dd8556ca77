// SPDX-License-Identifier: Apache-2.0
/* ns per packet of the tc programs on real traffic: the kernel's run-time
 * statistics (BPF_ENABLE_STATS, held by an fd for the command's run only)
 * of sluice's programs at tc ingress in this network namespace, net of a
 * no-op program placed before each, which pays the same clock reads.
 * Root. Usage: bpf_bench_live -- COMMAND [ARGS...]; one JSON line on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "noop_prog.h"

#define MAX_PROGS 64

struct prog_stat {
	int fd;
	__u32 id;
	char name[BPF_OBJ_NAME_LEN];
	__u64 runs, ns; /* before the command, then the difference */
};

struct live {
	struct prog_stat progs[MAX_PROGS];
	int n_progs;
	int links[MAX_PROGS]; /* ifindexes holding the no-op */
	int n_links;
	struct prog_stat noop;
};

static int prog_read(struct prog_stat *p)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(p->fd, &info, &len);

	if (err)
		return err;
	p->id = info.id;
	p->runs = info.run_cnt;
	p->ns = info.run_time_ns;
	snprintf(p->name, sizeof(p->name), "%s", info.name);
	return 0;
}

static int prog_add(struct live *l, __u32 id)
{
	struct prog_stat *p;

	for (int i = 0; i < l->n_progs; i++)
		if (l->progs[i].id == id)
			return 0;
	if (id == l->noop.id)
		return 0;
	if (l->n_progs == MAX_PROGS)
		return -E2BIG;
	p = &l->progs[l->n_progs];
	p->fd = bpf_prog_get_fd_by_id(id);
	if (p->fd < 0)
		return -errno;
	p->id = id;
	l->n_progs++;
	return 0;
}

/* sluice's filter at an ingress hook (bpf/user/tc.c: handle 1, priority 1;
 * clsact, as the libbpf here has no tcx). */
#define SL_HANDLE   1
#define SL_PRIO	    1
#define NOOP_HANDLE 2 /* same priority: cls_bpf runs the newest filter first */

/* Every interface with sluice's program at tc ingress gets the no-op in
 * front of it; those programs are the ones measured. */
static int hooks_take(struct live *l)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int err = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; !err && i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = i->if_index,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = SL_HANDLE, .priority = SL_PRIO);
		LIBBPF_OPTS(bpf_tc_opts, noop, .handle = NOOP_HANDLE, .priority = SL_PRIO,
			    .prog_fd = l->noop.fd);

		if (bpf_tc_query(&hook, &q))
			continue;
		if (l->n_links == MAX_PROGS)
			return -E2BIG;
		err = prog_add(l, q.prog_id);
		if (!err)
			err = bpf_tc_attach(&hook, &noop);
		if (!err)
			l->links[l->n_links++] = i->if_index;
	}
	if_freenameindex(ifs);
	return err ? err : l->n_links ? 0 : -ENOENT;
}

static void hooks_release(struct live *l)
{
	for (int i = 0; i < l->n_links; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->links[i],
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, noop, .handle = NOOP_HANDLE, .priority = SL_PRIO);

		bpf_tc_detach(&hook, &noop);
	}
}

static int command_run(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -ECHILD;
}

static double per_run(const struct prog_stat *p)
{
	return p->runs ? (double)p->ns / p->runs : 0;
}

static void result_print(const struct live *l)
{
	double clock = per_run(&l->noop);

	printf("{\"noop_runs\":%llu,\"noop_ns\":%.1f,\"progs\":[", (unsigned long long)l->noop.runs,
	       clock);
	for (int i = 0; i < l->n_progs; i++) {
		const struct prog_stat *p = &l->progs[i];

		printf("%s{\"name\":\"%s\",\"runs\":%llu,\"ns\":%.1f,\"net_ns\":%.1f}",
		       i ? "," : "", p->name, (unsigned long long)p->runs, per_run(p),
		       per_run(p) - clock);
	}
	printf("]}\n");
}

static int live_measure(struct live *l, char **argv)
{
	struct prog_stat before[MAX_PROGS], noop;
	int stats, err = 0;

	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0)
		return stats;
	for (int i = 0; !err && i < l->n_progs; i++)
		err = prog_read(&l->progs[i]);
	if (!err)
		err = prog_read(&l->noop);
	memcpy(before, l->progs, sizeof(before));
	noop = l->noop;
	if (!err)
		err = command_run(argv);
	for (int i = 0; !err && i < l->n_progs; i++)
		err = prog_read(&l->progs[i]);
	if (!err)
		err = prog_read(&l->noop);
	close(stats);
	for (int i = 0; i < l->n_progs; i++) {
		l->progs[i].runs -= before[i].runs;
		l->progs[i].ns -= before[i].ns;
	}
	l->noop.runs -= noop.runs;
	l->noop.ns -= noop.ns;
	return err;
}

int main(int argc, char **argv)
{
	struct live l = {};
	int err;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: %s -- COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(NULL);			   /* a veth without clsact is no news */
	l.noop.fd = noop_prog_load(TC_ACT_UNSPEC); /* the next filter decides, as if absent */
	if (l.noop.fd < 0 || prog_read(&l.noop)) {
		fprintf(stderr, "bpf_bench_live: cannot load the no-op program: %s\n",
			strerror(errno));
		return 1;
	}
	err = hooks_take(&l);
	if (!err)
		err = live_measure(&l, argv + 2);
	hooks_release(&l);
	if (err) {
		fprintf(stderr, "bpf_bench_live: %s\n",
			err == -ECHILD ? "the command failed" : strerror(-err));
		return 1;
	}
	result_print(&l);
	return 0;
}
