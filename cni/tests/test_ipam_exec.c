// SPDX-License-Identifier: Apache-2.0
/* Unit tests of ipam_exec (cni/ipam/ipam.c) with real plugins (shell
 * scripts in a scratch CNI_PATH): an answer, and plugins that never answer
 * or never exit, killed at the call's deadline (no root). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "ipam.h"
#include "unit.h"

#define DEADLINE_MS 300

static char dir[] = "/tmp/sl-ipam-exec.XXXXXX";

/* Writes the plugin NAME: a shell script of BODY, which first records its pid in DIR/NAME.pid. */
static void plugin_put(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\necho $$ >%s/%s.pid\n%s\n", dir, name, body);
	fclose(f);
	CHECK_INT(chmod(path, 0755), 0);
}

/* The pid the plugin NAME recorded, 0 when none. */
static pid_t plugin_pid(const char *name)
{
	char path[256];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pid", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Runs the plugin NAME by ipam_exec with the test's deadline: its return,
 * *out and *e set, *took_ms how long the call took. */
static int run(const char *name, char **out, struct cni_err *e, long long *took_ms)
{
	struct ipam_call c = {.type = name,
			      .cni_path = dir,
			      .command = "ADD",
			      .input = "{}",
			      .input_len = 2,
			      .timeout_ms = DEADLINE_MS};
	long long t0 = ms_now();
	int r;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	r = ipam_exec(&c, out, e);
	*took_ms = ms_now() - t0;
	return r;
}

static void test_answers(void)
{
	_cleanup_free_ char *out = NULL;
	struct cni_err e;
	long long took;

	UNIT_CASE("a plugin that answers and exits: its stdout, well before the deadline");
	plugin_put("answers", "cat >/dev/null; echo '{\"cniVersion\":\"1.0.0\",\"ips\":[]}'");
	CHECK_INT(run("answers", &out, &e, &took), 0);
	CHECK_STR(out, "{\"cniVersion\":\"1.0.0\",\"ips\":[]}\n");
	CHECK(took < DEADLINE_MS);
}

/* The plugin NAME (BODY) is stopped at the deadline: a CNI error saying
 * so, the call back within a second of it, the plugin's process gone. */
static void expect_killed(const char *name, const char *body)
{
	_cleanup_free_ char *out = NULL;
	struct cni_err e;
	long long took;
	pid_t pid;

	plugin_put(name, body);
	CHECK_INT(run(name, &out, &e, &took), -ETIMEDOUT);
	CHECK_INT(e.code, CNI_ERR_IO);
	CHECK_STR(e.msg, "IPAM plugin timed out");
	CHECK(strstr(e.details, "did not answer and exit within 300 ms; killed") != NULL);
	CHECK(took >= DEADLINE_MS && took < DEADLINE_MS + 1000);
	pid = plugin_pid(name);
	CHECK(pid > 0);
	CHECK(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH);
}

static void test_deadline(void)
{
	UNIT_CASE("a plugin that never answers is killed at the deadline");
	expect_killed("silent", "exec sleep 30");

	UNIT_CASE("a plugin that closes its stdout and never exits is killed at the deadline");
	expect_killed("lingers", "exec >&-; exec sleep 30");
}

int main(void)
{
	char cmd[64];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_answers();
	test_deadline();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
