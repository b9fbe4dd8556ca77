// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the in-process IPAM: ranges, allocation order, leases, GC, STATUS, races (no root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "ipam_pool.h"
#include "ipam_sluice.h"
#include "unit.h"

static char dir[] = "/tmp/sluice-test-ipam.XXXXXX";

static const char *ip_str(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int n;

	return inet_ntop(AF_INET, &a, buf[n++ & 3], INET_ADDRSTRLEN);
}

static const char *host_str(uint32_t h)
{
	return ip_str((struct in_addr){htonl(h)});
}

static void pool_init(struct pool *p, const char *net, const char *subnet, const char *start,
		      const char *end)
{
	char why[256] = "";

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "%s/%s", dir, net);
	p->n_sets = 1;
	p->sets[0].n = 1;
	CHECK_INT(
	    pool_range_parse(&p->sets[0].ranges[0], subnet, start, end, NULL, why, sizeof(why)), 0);
}

static const char *alloc(const struct pool *p, const char *cid, const char *want_s, int *err)
{
	const struct pool_range *r;
	struct in_addr want, got;

	if (want_s)
		inet_pton(AF_INET, want_s, &want);
	*err = pool_reserve(p, 0, cid, "eth0", want_s ? &want : NULL, &got, &r);
	return *err ? "" : ip_str(got);
}

static void file_write(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(body, f);
		fclose(f);
	}
}

static void file_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void test_ranges(void)
{
	static const struct {
		const char *subnet, *start, *end, *gw;
		int err;
		const char *want_start, *want_end, *want_gw;
	} cases[] = {
	    {"10.244.1.0/24", NULL, NULL, NULL, 0, "10.244.1.1", "10.244.1.254", "10.244.1.1"},
	    {"10.244.1.7/24", NULL, NULL, NULL, 0, "10.244.1.1", "10.244.1.254", "10.244.1.1"},
	    {"10.244.1.0/24", "10.244.1.10", "10.244.1.20", "10.244.1.254", 0, "10.244.1.10",
	     "10.244.1.20", "10.244.1.254"},
	    {"10.244.1.0/24", "10.244.1.0", "10.244.1.255", NULL, 0, "10.244.1.1", "10.244.1.254",
	     "10.244.1.1"},
	    {"10.244.1.0/30", NULL, NULL, NULL, 0, "10.244.1.1", "10.244.1.2", "10.244.1.1"},
	    {"10.244.300.0/24", NULL, NULL, NULL, -EINVAL},
	    {"10.244.1.0/31", NULL, NULL, NULL, -EINVAL},
	    {"fd00::/64", NULL, NULL, NULL, -EINVAL},
	    {"10.244.1.0", NULL, NULL, NULL, -EINVAL},
	    {NULL, NULL, NULL, NULL, -EINVAL},
	    {"10.244.1.0/24", "10.244.2.1", NULL, NULL, -EINVAL},
	    {"10.244.1.0/24", "10.244.1.20", "10.244.1.10", NULL, -EINVAL},
	    {"10.244.1.0/24", NULL, NULL, "10.9.9.9", -EINVAL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pool_range r;
		char why[256] = "";
		int err;

		UNIT_CASE(cases[i].subnet ? cases[i].subnet : "(no subnet)");
		err = pool_range_parse(&r, cases[i].subnet, cases[i].start, cases[i].end,
				       cases[i].gw, why, sizeof(why));
		CHECK_INT(err, cases[i].err);
		if (err) {
			CHECK(why[0] != '\0');
			continue;
		}
		CHECK_STR(host_str(r.start), cases[i].want_start);
		CHECK_STR(host_str(r.end), cases[i].want_end);
		CHECK_STR(host_str(r.gw), cases[i].want_gw);
	}
}

/* A /29: gateway .1, usable .2-.6; round robin, exhaustion, requests. */
static void test_allocation(void)
{
	static const struct {
		const char *what, *cid, *want, *release;
		int err;
		const char *got;
	} steps[] = {
	    {"first is the one after the gateway", "c1", NULL, NULL, 0, "10.1.0.2"},
	    {"then in order", "c2", NULL, NULL, 0, "10.1.0.3"},
	    {"a freed address is not reused at once", "c3", NULL, "c2", 0, "10.1.0.4"},
	    {"requested and free", "c5", "10.1.0.6", NULL, 0, "10.1.0.6"},
	    {"requested but taken", "c6", "10.1.0.6", NULL, -EADDRINUSE, ""},
	    {"requested outside the range", "c6", "10.1.1.6", NULL, -EADDRNOTAVAIL, ""},
	    {"requested broadcast", "c6", "10.1.0.7", NULL, -EADDRNOTAVAIL, ""},
	    {"requested gateway", "c6", "10.1.0.1", NULL, -EINVAL, ""},
	    {"round robin wraps past the gateway to a freed one", "c7", NULL, NULL, 0, "10.1.0.3"},
	    {"after the last request", "c8", NULL, NULL, 0, "10.1.0.5"},
	    {"exhausted", "c9", NULL, NULL, -ENOSPC, ""},
	    {"a release makes room", "c9", NULL, "c1", 0, "10.1.0.2"},
	};
	struct pool p;
	char path[4200], body[256];
	long cap;
	int err;

	pool_init(&p, "alloc", "10.1.0.0/29", NULL, NULL);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		UNIT_CASE(steps[i].what);
		if (steps[i].release)
			CHECK_INT(pool_release(&p, steps[i].release, "eth0"), 1);
		CHECK_STR(alloc(&p, steps[i].cid, steps[i].want, &err), steps[i].got);
		CHECK_INT(err, steps[i].err);
	}

	UNIT_CASE("lease file as host-local writes it, and the last reservation");
	snprintf(path, sizeof(path), "%s/10.1.0.2", p.dir);
	file_read(path, body, sizeof(body));
	CHECK_STR(body, "c9\r\neth0");
	snprintf(path, sizeof(path), "%s/last_reserved_ip.0", p.dir);
	file_read(path, body, sizeof(body));
	CHECK_STR(body, "10.1.0.2");

	UNIT_CASE("free count");
	CHECK_INT(pool_free(&p, 0, &cap), 0);
	CHECK_INT(cap, 5);
	CHECK_INT(pool_release(&p, "c9", "eth0"), 1);
	CHECK_INT(pool_free(&p, 0, &cap), 1);

	UNIT_CASE("release is by container and ifname, and idempotent");
	CHECK_INT(pool_release(&p, "c3", "eth1"), 0);
	CHECK_INT(pool_count(&p, "c3", "eth0"), 1);
	CHECK_INT(pool_release(&p, "c3", "eth0"), 1);
	CHECK_INT(pool_release(&p, "c3", "eth0"), 0);
	CHECK_INT(pool_count(&p, "c3", "eth0"), 0);

	UNIT_CASE("release by address touches only the owner's leases");
	{
		struct in_addr ips[2];
		const char *a = alloc(&p, "f1", NULL, &err), *b = alloc(&p, "f2", NULL, &err);

		inet_pton(AF_INET, a, &ips[0]);
		inet_pton(AF_INET, b, &ips[1]);
		CHECK_INT(pool_release_addrs(&p, "f1", "eth0", ips, 2), 1);
		CHECK_INT(pool_count(&p, "f1", "eth0"), 0);
		CHECK_INT(pool_count(&p, "f2", "eth0"), 1);
		CHECK_INT(pool_release_addrs(&p, "f1", "eth0", ips, 2), 0);
		CHECK_INT(pool_release(&p, "f2", "eth0"), 1);
	}

	UNIT_CASE("release of a pool never used");
	pool_init(&p, "never", "10.1.0.0/29", NULL, NULL);
	CHECK_INT(pool_release(&p, "c1", "eth0"), 0);
	CHECK_INT(pool_free(&p, 0, &cap), 5);
}

/* Leases host-local wrote (both its formats) are respected and released. */
static void test_host_local_leases(void)
{
	struct pool p;
	char path[4200];
	int err;

	pool_init(&p, "migrate", "10.2.0.0/24", NULL, NULL);
	mkdir(p.dir, 0755);
	snprintf(path, sizeof(path), "%s/10.2.0.2", p.dir);
	file_write(path, "old-ctr\r\neth0");
	snprintf(path, sizeof(path), "%s/10.2.0.3", p.dir);
	file_write(path, "older-ctr\n"); /* host-local before ifnames were stored */
	snprintf(path, sizeof(path), "%s/last_reserved_ip.0", p.dir);
	file_write(path, "10.2.0.3");
	snprintf(path, sizeof(path), "%s/lock", p.dir);
	file_write(path, "");

	UNIT_CASE("allocation goes on after host-local's last reservation");
	CHECK_STR(alloc(&p, "new", NULL, &err), "10.2.0.4");
	UNIT_CASE("a host-local lease is taken");
	CHECK_STR(alloc(&p, "new2", "10.2.0.2", &err), "");
	CHECK_INT(err, -EADDRINUSE);
	UNIT_CASE("host-local's leases are released by their owner");
	CHECK_INT(pool_release(&p, "old-ctr", "eth0"), 1);
	CHECK_INT(pool_release(&p, "older-ctr", "eth0"), 1);
	snprintf(path, sizeof(path), "%s/10.2.0.3", p.dir);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/lock", p.dir);
	CHECK(access(path, F_OK) == 0);
}

static bool only_keep(const char *cid, const char *ifname, void *arg)
{
	return !strcmp(cid, arg) && (!ifname || !strcmp(ifname, "eth0"));
}

static void test_gc(void)
{
	struct pool p;
	char path[4200];
	int err, removed = -1;

	pool_init(&p, "gc", "10.3.0.0/24", NULL, NULL);
	alloc(&p, "keep", NULL, &err);
	alloc(&p, "gone1", NULL, &err);
	alloc(&p, "gone2", NULL, &err);
	snprintf(path, sizeof(path), "%s/10.3.0.9", p.dir);
	file_write(path, ""); /* a crash between the claim and the write */

	UNIT_CASE("GC releases what is not valid and what has no owner");
	CHECK_INT(pool_gc(&p, only_keep, "keep", &removed), 0);
	CHECK_INT(removed, 3);
	CHECK_INT(pool_count(&p, "keep", "eth0"), 1);
	CHECK_INT(pool_count(&p, "gone1", "eth0"), 0);
	CHECK(access(path, F_OK) < 0);
	UNIT_CASE("GC again removes nothing");
	CHECK_INT(pool_gc(&p, only_keep, "keep", &removed), 0);
	CHECK_INT(removed, 0);
}

/* Many processes at once, no lock: every address handed out once. */
static void test_concurrent(void)
{
	enum { PROCS = 16, EACH = 12 };
	int go[2], res[2], n = 0, dup = 0, failed = 0;
	uint32_t seen[PROCS * EACH];
	struct pool p;

	pool_init(&p, "race", "10.4.0.0/24", NULL, NULL);
	if (pipe(go) < 0 || pipe(res) < 0)
		return;
	for (int i = 0; i < PROCS; i++) {
		if (fork() == 0) {
			char cid[32], c;
			int err;

			close(go[1]);
			if (read(go[0], &c, 1) < 0) /* all start together */
				_exit(2);
			for (int k = 0; k < EACH; k++) {
				const struct pool_range *r;
				struct in_addr got;

				snprintf(cid, sizeof(cid), "p%d-%d", i, k);
				err = pool_reserve(&p, 0, cid, "eth0", NULL, &got, &r);
				if (err || write(res[1], &got.s_addr, 4) != 4)
					_exit(1);
			}
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* EOF releases every child at once */
	close(res[1]);
	while (n < PROCS * EACH && read(res[0], &seen[n], 4) == 4)
		n++;
	close(res[0]);
	for (int i = 0; i < PROCS; i++) {
		int st;

		wait(&st);
		failed += !WIFEXITED(st) || WEXITSTATUS(st);
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			dup += seen[i] == seen[j];
	UNIT_CASE("16 processes x 12 allocations at once");
	CHECK_INT(failed, 0);
	CHECK_INT(n, PROCS * EACH);
	CHECK_INT(dup, 0);
	for (int i = 0; i < PROCS; i++)
		for (int k = 0; k < EACH; k++) {
			char cid[32];

			snprintf(cid, sizeof(cid), "p%d-%d", i, k);
			CHECK_INT(pool_count(&p, cid, "eth0"), 1);
		}
}

/* The in-process plugin through the same call as a delegated one. */
static int call(const char *command, const char *cid, const char *input, char **out,
		struct cni_err *e)
{
	struct ipam_call c = {
	    .type = "sluice",
	    .command = command,
	    .containerid = cid,
	    .ifname = "eth0",
	    .input = input,
	    .input_len = strlen(input),
	};

	memset(e, 0, sizeof(*e));
	return ipam_sluice_exec(&c, out, e);
}

/* range: the JSON of one range object. */
static char *conf(const char *version, const char *range, const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"cniVersion\":\"%s\",\"name\":\"net\",\"type\":\"sluice\",%s\"ipam\":{"
		 "\"type\":\"sluice\",\"dataDir\":\"%s/plugin\",\"ranges\":[[%s]],"
		 "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}",
		 version, extra, dir, range);
	return buf;
}

#define RANGE_2	  "{\"subnet\":\"10.5.0.0/29\",\"rangeStart\":\"10.5.0.5\"}"
#define RANGE_24  "{\"subnet\":\"10.7.0.0/24\"}"
#define RANGE_BAD "{\"subnet\":\"10.244.300.0/24\"}"

static void test_plugin(void)
{
	static const struct {
		const char *what, *command, *cid, *args, *extra;
		int code;
		const char *address;
	} steps[] = {
	    {"ADD", "ADD", "a", "", "", 0, "10.5.0.5/29"},
	    {"ADD with CNI_ARGS IP= taken", "ADD", "b", "IgnoreUnknown=1;IP=10.5.0.5", "", 999,
	     NULL},
	    {"STATUS while one is free", "STATUS", NULL, "", "", 0, NULL},
	    {"ADD with runtimeConfig.ips", "ADD", "b", "",
	     "\"runtimeConfig\":{\"ips\":[\"10.5.0.1/29\"]},", 7, NULL},
	    {"ADD with CNI_ARGS IP= out of range", "ADD", "b", "IP=10.6.0.2", "", 7, NULL},
	    {"ADD takes the last one", "ADD", "b", "", "", 0, "10.5.0.6/29"},
	    {"ADD when exhausted", "ADD", "c", "", "", 999, NULL},
	    {"STATUS when exhausted", "STATUS", NULL, "", "", 50, NULL},
	    {"CHECK of a lease", "CHECK", "a", "", "", 0, NULL},
	    {"CHECK without a lease", "CHECK", "c", "", "", 100, NULL},
	    {"DEL with a prevResult naming another's address", "DEL", "a", "",
	     "\"prevResult\":{\"ips\":[{\"address\":\"10.5.0.6/32\"}]},", 0, NULL},
	    {"CHECK: DEL released a's lease, not b's", "CHECK", "b", "", "", 0, NULL},
	    {"CHECK: a's lease is gone", "CHECK", "a", "", "", 100, NULL},
	    {"DEL again", "DEL", "a", "", "", 0, NULL},
	    {"ADD with the requested IP freed by DEL", "ADD", "d", "IP=10.5.0.5", "", 0,
	     "10.5.0.5/29"},
	    {"GC keeps the valid", "GC", NULL, "",
	     "\"cni.dev/valid-attachments\":[{\"containerID\":\"d\",\"ifname\":\"eth0\"}],", 0,
	     NULL},
	    {"CHECK after GC, valid", "CHECK", "d", "", "", 0, NULL},
	    {"CHECK after GC, not valid", "CHECK", "b", "", "", 100, NULL},
	    {"GC without the list", "GC", NULL, "", "", 7, NULL},
	};
	_cleanup_free_ char *out = NULL;
	struct cni_err e;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int r;

		UNIT_CASE(steps[i].what);
		setenv("CNI_ARGS", steps[i].args, 1);
		free(out);
		out = NULL;
		r = call(steps[i].command, steps[i].cid, conf("1.1.0", RANGE_2, steps[i].extra),
			 &out, &e);
		CHECK_INT(r < 0 ? e.code : 0, steps[i].code);
		if (r < 0)
			printf("  (%s: %s: %s)\n", steps[i].what, e.msg, e.details);
		if (steps[i].address && out) {
			json_auto_t *root = json_loads(out, 0, NULL);
			json_t *ip = json_array_get(json_object_get(root, "ips"), 0);

			CHECK_STR(json_string_value(json_object_get(ip, "address")),
				  steps[i].address);
			CHECK_STR(json_string_value(json_object_get(ip, "gateway")), "10.5.0.1");
			CHECK_STR(json_string_value(json_object_get(root, "cniVersion")), "1.1.0");
			CHECK_STR(json_string_value(json_object_get(
				      json_array_get(json_object_get(root, "routes"), 0), "dst")),
				  "0.0.0.0/0");
		}
	}
	unsetenv("CNI_ARGS");
}

static void test_plugin_edges(void)
{
	_cleanup_free_ char *out = NULL;
	struct cni_err e;

	UNIT_CASE("result in the request's version (0.3.1 has ips[].version)");
	CHECK_INT(call("ADD", "v", conf("0.3.1", RANGE_24, ""), &out, &e), 0);
	CHECK(out && strstr(out, "\"version\":\"4\"") && strstr(out, "\"cniVersion\":\"0.3.1\""));

	UNIT_CASE("VERSION");
	free(out);
	out = NULL;
	CHECK_INT(call("VERSION", NULL, "{\"cniVersion\":\"1.0.0\"}", &out, &e), 0);
	CHECK(out && strstr(out, "\"1.1.0\"") && strstr(out, "\"cniVersion\":\"1.0.0\""));

	UNIT_CASE("a bad subnet is an invalid config naming it");
	free(out);
	out = NULL;
	CHECK_INT(call("ADD", "x", conf("1.0.0", RANGE_BAD, ""), &out, &e), -EINVAL);
	CHECK_INT(e.code, 7);
	CHECK(strstr(e.details, "10.244.300.0/24") != NULL);
	UNIT_CASE("DEL works whatever the ranges say");
	CHECK_INT(call("DEL", "x", conf("1.0.0", RANGE_BAD, ""), &out, &e), 0);
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_ranges();
	test_allocation();
	test_host_local_leases();
	test_gc();
	test_concurrent();
	test_plugin();
	test_plugin_edges();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return unit_done();
}
