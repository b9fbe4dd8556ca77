// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the per-attachment state files and the lock (no root). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "unit.h"

struct seen {
	int files, bad;
	char cids[4][256];
};

static int collect(const struct ep_state *s, const char *file, int err, void *arg)
{
	struct seen *seen = arg;

	if (err < 0) {
		seen->bad++;
		return 0;
	}
	if (seen->files < 4)
		snprintf(seen->cids[seen->files], sizeof(seen->cids[0]), "%s", s->containerid);
	seen->files++;
	return 0;
}

/* A pod's attachment as ADD writes it: one address, no hostPorts yet. */
static void state_fill(struct ep_state *s)
{
	strcpy(s->containerid, "1d10eb964059");
	strcpy(s->ifname, "eth0");
	strcpy(s->netns, "/run/netns/p1");
	strcpy(s->host_veth, "sl9cb98730f29c");
	s->host_ifindex = 42;
	strcpy(s->pod_mac, "0a:58:0a:f4:00:05");
	inet_pton(AF_INET, "10.244.0.5", &s->ips[0]);
	s->n_ips = 1;
}

static void test_write_read(const char *dir, struct ep_state *s)
{
	struct ep_state got;
	char path[256];

	UNIT_CASE("write + read back");
	state_fill(s);
	CHECK_INT(state_write(dir, "net1", s), 0);
	CHECK_INT(state_read(dir, "net1", "1d10eb964059", "eth0", &got), 0);
	CHECK_STR(got.containerid, "1d10eb964059");
	CHECK_STR(got.ifname, "eth0");
	CHECK_STR(got.netns, "/run/netns/p1");
	CHECK_STR(got.host_veth, "sl9cb98730f29c");
	CHECK_INT(got.host_ifindex, 42);
	CHECK_STR(got.pod_mac, "0a:58:0a:f4:00:05");
	CHECK_INT(got.n_ips, 1);
	CHECK_INT(got.ips[0].s_addr, s->ips[0].s_addr);
	snprintf(path, sizeof(path), "%s/net1/1d10eb964059-eth0.json.tmp", dir);
	CHECK(access(path, F_OK) < 0); /* the temp file was renamed */

	UNIT_CASE("the hostPorts ADD wrote are read back for DEL");
	s->portmaps[0] = (struct portmap){.host_port = 8080, .container_port = 80, .proto = 6};
	s->portmaps[1] = (struct portmap){
	    .host_ip = htonl(0xac120002), .host_port = 5353, .container_port = 53, .proto = 17};
	s->n_portmaps = 2;
	CHECK_INT(state_write(dir, "net1", s), 0);
	CHECK_INT(state_read(dir, "net1", "1d10eb964059", "eth0", &got), 0);
	CHECK_INT(got.n_portmaps, 2);
	CHECK(!memcmp(got.portmaps, s->portmaps, 2 * sizeof(s->portmaps[0])));
	s->n_portmaps = 0;

	UNIT_CASE("absent");
	CHECK_INT(state_read(dir, "net1", "nope", "eth0", &got), -ENOENT);
	CHECK_INT(state_read(dir, "net2", "1d10eb964059", "eth0", &got), -ENOENT);
}

/* Leaves net1 with the files of 1d10eb964059 and c2 (the corrupt one is removed again). */
static void test_foreach(const char *dir, struct ep_state *s)
{
	struct seen seen = {};
	char path[256];
	FILE *f;

	UNIT_CASE("foreach, with a corrupt file reported, not fatal");
	strcpy(s->containerid, "c2");
	CHECK_INT(state_write(dir, "net1", s), 0);
	snprintf(path, sizeof(path), "%s/net1/broken-eth0.json", dir);
	f = fopen(path, "w");
	if (f) {
		fputs("{not json", f);
		fclose(f);
	}
	CHECK_INT(state_foreach(dir, "net1", collect, &seen), 0);
	CHECK_INT(seen.files, 2);
	CHECK_INT(seen.bad, 1);
	CHECK_INT(state_foreach(dir, "no-such-net", collect, &seen), 0);
	unlink(path);
}

static void test_remove(const char *dir)
{
	struct ep_state got;

	UNIT_CASE("remove is idempotent");
	CHECK_INT(state_remove(dir, "net1", "c2", "eth0"), 0);
	CHECK_INT(state_remove(dir, "net1", "c2", "eth0"), 0);
	CHECK_INT(state_read(dir, "net1", "c2", "eth0", &got), -ENOENT);
	CHECK_INT(state_remove(dir, "net1", "1d10eb964059", "eth0"), 0);
}

static void lock_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void test_locks(const char *dir)
{
	int lock, lock2;

	UNIT_CASE("the exclusive lock (GC) excludes everyone and times out");
	lock = state_lock(dir, false, 0);
	CHECK(lock >= 0);
	lock2 = state_lock(dir, false, 50);
	CHECK_INT(lock2, -ETIMEDOUT);
	lock2 = state_lock(dir, true, 50);
	CHECK_INT(lock2, -ETIMEDOUT);
	lock_close(lock);
	lock2 = state_lock(dir, false, 0);
	CHECK(lock2 >= 0);
	lock_close(lock2);

	UNIT_CASE("shared locks (ADD, DEL) do not wait for each other, GC waits for them");
	lock = state_lock(dir, true, 0);
	CHECK(lock >= 0);
	lock2 = state_lock(dir, true, 0);
	CHECK(lock2 >= 0);
	CHECK_INT(state_lock(dir, false, 50), -ETIMEDOUT);
	lock_close(lock);
	lock_close(lock2);

	UNIT_CASE("the hostPort lock is exclusive and apart from the shared lock");
	lock = state_lock(dir, true, 0);
	lock2 = state_lock_file(dir, "hostport.lock", false, 0);
	CHECK(lock >= 0 && lock2 >= 0);
	CHECK_INT(state_lock_file(dir, "hostport.lock", false, 50), -ETIMEDOUT);
	lock_close(lock);
	lock_close(lock2);
}

int main(void)
{
	char dir[] = "/tmp/sluice-test-state.XXXXXX", cmd[256];
	struct ep_state s = {};

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}

	test_write_read(dir, &s);
	test_foreach(dir, &s);
	test_remove(dir);
	test_locks(dir);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return unit_done();
}
