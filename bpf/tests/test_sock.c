// SPDX-License-Identifier: Apache-2.0
/* Socket-level load balancing for real: sock.bpf.c attached to a scratch
 * cgroup v2 from a private netns (the "host"), child processes in the cgroup
 * connect to a VIP from that netns and from another one (a "pod").
 * (BPF_PROG_TEST_RUN cannot run cgroup sock_addr programs.) Root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cleanup.h"
#include "dp.h"
#include "unit.h"

#define IP(a, b, c, d) htonl(((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP	       IP(10, 96, 0, 10)
#define VIP_EMPTY      IP(10, 96, 0, 11)
#define LOOP	       IP(127, 0, 0, 1)
#define PORT_TCP_A     18080
#define PORT_TCP_B     18081
#define PORT_UDP_A     15353
#define PORT_UDP_B     15354
#define HOST_ADDR      IP(192, 0, 2, 1)	   /* another address of the "node" (on lo) */
#define NOT_OURS       IP(198, 51, 100, 9) /* nobody's: no route either */
#define HP_ANY	       8090		   /* hostPort, TCP, every address -> 18080 */
#define HP_IP	       8091		   /* hostPort, TCP, hostIP HOST_ADDR -> 18081 */

static char pin_dir[64], cg_dir[PATH_MAX];

static int map_fd(const char *name)
{
	int fd = dp_pin_open(pin_dir, name);

	if (fd < 0)
		printf("FAIL: cannot open pinned %s: %s\n", name, strerror(-fd));
	return fd;
}

static int svc_put(int svc, __be32 vip, __u16 port, __u8 proto, __u16 slot, __u32 id, __u16 count,
		   __u16 flags)
{
	struct sl_svc_key k = {.vip = vip, .port = htons(port), .proto = proto, .slot = slot};
	struct sl_svc_val v = {.id = id, .count = count, .flags = flags};

	return bpf_map_update_elem(svc, &k, &v, BPF_ANY);
}

static int be_put(int be, __u32 id, __be32 ip, __u16 port, __u8 proto)
{
	struct sl_be_key k = {.id = id};
	struct sl_be_val v = {.ip = ip, .port = htons(port), .proto = proto};

	return bpf_map_update_elem(be, &k, &v, BPF_ANY);
}

/* VIP:80/TCP -> backends 1, 2 (loopback 18080, 18081); VIP:53/UDP ->
 * backends 3, 4; VIP_EMPTY:80/TCP with no backend; VIP markers for both. */
static int maps_seed(void)
{
	int svc = map_fd("sl_svc4"), be = map_fd("sl_be4"), err = 0;

	if (svc < 0 || be < 0)
		return -ENOENT;
	err |= be_put(be, 1, LOOP, PORT_TCP_A, IPPROTO_TCP);
	err |= be_put(be, 2, LOOP, PORT_TCP_B, IPPROTO_TCP);
	err |= be_put(be, 3, LOOP, PORT_UDP_A, IPPROTO_UDP);
	err |= be_put(be, 4, LOOP, PORT_UDP_B, IPPROTO_UDP);
	err |= svc_put(svc, VIP, 80, IPPROTO_TCP, 1, 1, 0, 0);
	err |= svc_put(svc, VIP, 80, IPPROTO_TCP, 2, 2, 0, 0);
	err |= svc_put(svc, VIP, 80, IPPROTO_TCP, 0, 10, 2, 0);
	err |= svc_put(svc, VIP, 53, IPPROTO_UDP, 1, 3, 0, 0);
	err |= svc_put(svc, VIP, 53, IPPROTO_UDP, 2, 4, 0, 0);
	err |= svc_put(svc, VIP, 53, IPPROTO_UDP, 0, 11, 2, 0);
	err |= svc_put(svc, VIP, 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	err |= svc_put(svc, VIP_EMPTY, 80, IPPROTO_TCP, 0, 12, 0, 0);
	err |= svc_put(svc, VIP_EMPTY, 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	close(svc);
	close(be);
	return err;
}

static int hp_put(int hp, int gate, __be32 ip, __u16 port, __u16 pod_port)
{
	struct sl_hport_key k = {.ip = ip, .port = htons(port), .proto = IPPROTO_TCP};
	struct sl_hport_val v = {.pod_ip = LOOP, .pod_port = htons(pod_port)};

	return dp_hport_insert(hp, &k, &v) ?: dp_hpgate_sync(hp, gate, k.port, IPPROTO_TCP);
}

/* hostPorts (sl_hport4) whose "pod" is a loopback listener. */
static int hostports_seed(void)
{
	_cleanup_close_ int hp = map_fd(SL_PIN_HPORT4), gate = map_fd(SL_PIN_HPGATE);

	if (hp < 0 || gate < 0)
		return -ENOENT;
	return hp_put(hp, gate, 0, HP_ANY, PORT_TCP_A)
		   ?: hp_put(hp, gate, HOST_ADDR, HP_IP, PORT_TCP_B);
}

static int listener(int type, __u16 port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = LOOP, .sin_port = htons(port)};
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    ((type & SOCK_STREAM) && listen(fd, 256) < 0)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* connect() to ip:port; the socket, or -errno. */
static int tcp_connect(__be32 ip, __u16 port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = ip, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void child_tcp(void)
{
	int la = listener(SOCK_STREAM | SOCK_NONBLOCK, PORT_TCP_A),
	    lb = listener(SOCK_STREAM | SOCK_NONBLOCK, PORT_TCP_B);
	struct sockaddr_in peer = {};
	socklen_t len = sizeof(peer);
	int fd, hits_a = 0, hits_b = 0;

	UNIT_CASE("TCP connect to a ClusterIP reaches a backend, getpeername shows the VIP");
	CHECK(la >= 0 && lb >= 0);
	fd = tcp_connect(VIP, 80);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_INT(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
		CHECK_INT(ntohl(peer.sin_addr.s_addr), ntohl(VIP));
		CHECK_INT(ntohs(peer.sin_port), 80);
		close(fd);
	}

	UNIT_CASE("TCP connects spread over both backends");
	for (int i = 0; i < 200; i++) {
		fd = tcp_connect(VIP, 80);
		if (fd < 0)
			break;
		close(fd);
		/* The listener with a connection queued is the backend chosen. */
		int c = accept4(la, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			hits_a++;
			close(c);
			continue;
		}
		c = accept4(lb, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			hits_b++;
			close(c);
		}
	}
	CHECK_INT(hits_a + hits_b, 200);
	CHECK(hits_a >= 60 && hits_b >= 60); /* 100 +- 40: p(fail) ~ 1e-8 */
	printf("# tcp spread: backend A %d, backend B %d\n", hits_a, hits_b);

	UNIT_CASE("a ClusterIP port the Service does not have is refused at once");
	CHECK_INT(tcp_connect(VIP, 81), -ECONNREFUSED);
	UNIT_CASE("a Service without endpoints is refused at once");
	CHECK_INT(tcp_connect(VIP_EMPTY, 80), -ECONNREFUSED);

	UNIT_CASE("other destinations are untouched");
	fd = tcp_connect(LOOP, PORT_TCP_A);
	CHECK(fd >= 0);
	if (fd >= 0) {
		len = sizeof(peer);
		getpeername(fd, (struct sockaddr *)&peer, &len);
		CHECK_INT(ntohl(peer.sin_addr.s_addr), ntohl(LOOP));
		CHECK_INT(ntohs(peer.sin_port), PORT_TCP_A);
		close(fd);
	}
	close(la);
	close(lb);
}

/* Whether a connection to ip:port lands on listener l, with getpeername showing ip:port. */
static bool hp_reaches(__be32 ip, __u16 port, int l)
{
	struct sockaddr_in peer = {};
	socklen_t len = sizeof(peer);
	int fd = tcp_connect(ip, port), c;
	bool ok;

	if (fd < 0)
		return false;
	ok = !getpeername(fd, (struct sockaddr *)&peer, &len) && peer.sin_addr.s_addr == ip &&
	     ntohs(peer.sin_port) == port;
	close(fd);
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return false;
	close(c);
	return ok;
}

static void child_hostport(void)
{
	int la = listener(SOCK_STREAM | SOCK_NONBLOCK, PORT_TCP_A),
	    lb = listener(SOCK_STREAM | SOCK_NONBLOCK, PORT_TCP_B);

	CHECK(la >= 0 && lb >= 0);
	UNIT_CASE("(hostport) a host socket reaches a hostPort without hostIP on loopback");
	CHECK(hp_reaches(IP(127, 0, 0, 2), HP_ANY, la));
	UNIT_CASE("(hostport) ... and on another address of the node");
	CHECK(hp_reaches(HOST_ADDR, HP_ANY, la));
	UNIT_CASE("(hostport) ... but not on an address that is not the node's");
	CHECK_INT(tcp_connect(NOT_OURS, HP_ANY), -ENETUNREACH);
	UNIT_CASE("(hostport) a hostPort with hostIP is reached on that address");
	CHECK(hp_reaches(HOST_ADDR, HP_IP, lb));
	UNIT_CASE("(hostport) ... and only there");
	CHECK_INT(tcp_connect(LOOP, HP_IP), -ECONNREFUSED);
	close(la);
	close(lb);
}

static void child_udp(void)
{
	int ua = listener(SOCK_DGRAM, PORT_UDP_A), ub = listener(SOCK_DGRAM, PORT_UDP_B);
	struct sockaddr_in vip = {
	    .sin_family = AF_INET, .sin_addr.s_addr = VIP, .sin_port = htons(53)};
	struct sockaddr_in from = {};
	socklen_t len = sizeof(from);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), got_a = 0, got_b = 0;
	char buf[16];
	struct timeval tv = {.tv_sec = 1};

	UNIT_CASE("unconnected UDP: every datagram of a socket goes to one backend");
	CHECK(ua >= 0 && ub >= 0 && fd >= 0);
	for (int i = 0; i < 20; i++)
		CHECK_INT(sendto(fd, "q", 1, 0, (struct sockaddr *)&vip, sizeof(vip)), 1);
	while (recv(ua, buf, sizeof(buf), MSG_DONTWAIT) == 1)
		got_a++;
	while (recv(ub, buf, sizeof(buf), MSG_DONTWAIT) == 1)
		got_b++;
	CHECK((got_a == 20 && got_b == 0) || (got_a == 0 && got_b == 20));
	printf("# udp: backend A %d, backend B %d\n", got_a, got_b);

	UNIT_CASE("a UDP reply appears to come from the VIP (recvmsg4)");
	{
		int srv = got_a ? ua : ub;
		struct sockaddr_in cli = {.sin_family = AF_INET, .sin_addr.s_addr = LOOP};
		struct sockaddr_in me = {};
		socklen_t ml = sizeof(me);

		getsockname(fd, (struct sockaddr *)&me, &ml);
		cli.sin_port = me.sin_port;
		CHECK_INT(sendto(srv, "r", 1, 0, (struct sockaddr *)&cli, sizeof(cli)), 1);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK_INT(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len), 1);
		CHECK_INT(ntohl(from.sin_addr.s_addr), ntohl(VIP));
		CHECK_INT(ntohs(from.sin_port), 53);
	}
	close(fd);
	close(ua);
	close(ub);
}

/* A client in a netns other than the agent's: translated only with lb_pods.
 * Untranslated, the VIP is unroutable in a netns with only lo. */
static void child_pod(bool lb_pods)
{
	int la = listener(SOCK_STREAM, PORT_TCP_A), lb = listener(SOCK_STREAM, PORT_TCP_B), fd;
	struct sockaddr_in peer = {};
	socklen_t len = sizeof(peer);

	if (lb_pods)
		UNIT_CASE("lb_pods: a client in another netns is translated");
	else
		UNIT_CASE("a client in another netns is left to the tc datapath");
	CHECK(la >= 0 && lb >= 0);
	fd = tcp_connect(VIP, 80);
	if (lb_pods) {
		CHECK(fd >= 0);
		if (fd >= 0) {
			CHECK_INT(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
			CHECK_INT(ntohl(peer.sin_addr.s_addr), ntohl(VIP));
			close(fd);
		}
	} else {
		CHECK_INT(fd, -ENETUNREACH);
		if (fd >= 0)
			close(fd);
	}
	CHECK_INT(tcp_connect(VIP_EMPTY, 80), lb_pods ? -ECONNREFUSED : -ENETUNREACH);
	CHECK_INT(tcp_connect(VIP, 81), lb_pods ? -ECONNREFUSED : -ENETUNREACH);
	close(la);
	close(lb);
}

/* In the child: join the cgroup; as a pod, also a private netns of its own;
 * run the socket checks. Writes "passed failed" to out. */
static void child_run(int out, int pod)
{
	char path[PATH_MAX + 16], line[32];
	int fd;

	alarm(30); /* a hang fails the child, and the parent still cleans up */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	UNIT_CASE("child joins the cgroup");
	CHECK(fd >= 0 && dprintf(fd, "%d\n", getpid()) > 0);
	if (fd >= 0)
		close(fd);
	if (pod < 0) {
		child_tcp();
		child_udp();
		child_hostport();
	} else {
		CHECK_INT(unshare(CLONE_NEWNET), 0);
		CHECK_INT(system("ip link set lo up"), 0);
		child_pod(pod);
	}
	snprintf(line, sizeof(line), "%d %d\n", unit_passed, unit_failed);
	CHECK(write(out, line, strlen(line)) > 0);
	fflush(stdout);
	_exit(0);
}

/* pod: -1 runs the host-client checks in the agent's netns; 0 or 1 the
 * client in another netns, expecting lb_pods off or on. */
static void child_checks(int pod)
{
	int p[2], passed = 0, failed = 0, status = 0;
	char line[32] = "";
	pid_t pid;

	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		unit_passed = unit_failed = 0;
		child_run(p[1], pod);
	}
	close(p[1]);
	UNIT_CASE("child ran");
	CHECK(pid > 0);
	if (pid > 0) {
		ssize_t n = read(p[0], line, sizeof(line) - 1);

		CHECK(n > 0 && sscanf(line, "%d %d", &passed, &failed) == 2);
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(p[0]);
	unit_passed += passed;
	unit_failed += failed;
}

/* Programs attached to the cgroup at one hook. An unpinned link detaches
 * from a workqueue: a count that must drop is polled for up to 2 s. */
static int cgroup_prog_count_now(enum bpf_attach_type type)
{
	_cleanup_close_ int fd = open(cg_dir, O_RDONLY | O_DIRECTORY);
	__u32 ids[8], cnt = 8;

	if (fd < 0 || bpf_prog_query(fd, type, 0, NULL, ids, &cnt) < 0)
		return -1;
	return (int)cnt;
}

static int cgroup_prog_count(enum bpf_attach_type type, int want)
{
	int n = cgroup_prog_count_now(type);

	for (int i = 0; i < 200 && n != want; i++) {
		usleep(10000);
		n = cgroup_prog_count_now(type);
	}
	return n;
}

int main(void)
{
	static const enum bpf_attach_type types[] = {
	    BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_UDP4_SENDMSG, BPF_CGROUP_UDP4_RECVMSG,
	    BPF_CGROUP_INET4_GETPEERNAME};
	struct dp_pin_report rep;
	char root[PATH_MAX - 64];
	int err;

	if (geteuid() != 0) {
		printf("test_sock needs root\n");
		return 1;
	}
	UNIT_CASE("setup: a private netns plays the host's");
	CHECK_INT(unshare(CLONE_NEWNET), 0);
	CHECK_INT(system("ip link set lo up && ip addr add 192.0.2.1/32 dev lo"), 0);
	CHECK_INT(dp_cgroup2_root(root, sizeof(root)), 0);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sluice-tsock-%d", getpid());
	snprintf(cg_dir, sizeof(cg_dir), "%s/sluice-tsock-%d", root, getpid());
	CHECK_INT(dp_bpffs_ensure(pin_dir), 0);
	CHECK_INT(mkdir(cg_dir, 0755), 0);
	err = dp_load_and_pin(pin_dir, &rep);
	CHECK_INT(err, 0);
	if (err)
		goto out_rmdir;

	UNIT_CASE("bad cgroup paths are refused and leave nothing attached");
	CHECK_INT(dp_sock_attach(pin_dir, "/tmp", false), -EMEDIUMTYPE);
	CHECK_INT(dp_sock_attach(pin_dir, "/nonexistent/cgroup", false), -ENOENT);
	CHECK_INT(dp_sock_attach(pin_dir, "relative", false), -EINVAL);
	CHECK_INT(dp_pin_open(pin_dir, SL_PIN_LNK_CONN4), -ENOENT);

	UNIT_CASE("attach, twice: one program per hook, links pinned");
	CHECK_INT(dp_sock_attach(pin_dir, cg_dir, true), 0);
	CHECK_INT(dp_sock_attach(pin_dir, cg_dir, false), 0);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		CHECK_INT(cgroup_prog_count(types[i], 1), 1);
	CHECK_INT(maps_seed(), 0);
	CHECK_INT(hostports_seed(), 0);

	child_checks(-1);
	child_checks(0);

	UNIT_CASE("reattach with lb_pods: replaces the programs, pods translated too");
	CHECK_INT(dp_sock_attach(pin_dir, cg_dir, true), 0);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		CHECK_INT(cgroup_prog_count(types[i], 1), 1);
	child_checks(1);
	child_checks(-1);

	UNIT_CASE("detach removes every hook");
	CHECK_INT(dp_sock_detach(pin_dir), 0);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		CHECK_INT(cgroup_prog_count(types[i], 0), 0);
	CHECK_INT(dp_sock_detach(pin_dir), 0);

	CHECK_INT(system("rm -rf /sys/fs/bpf/sluice-tsock-*"), 0);
out_rmdir:
	UNIT_CASE("cleanup");
	CHECK_INT(rmdir(cg_dir), 0);
	return unit_done();
}
