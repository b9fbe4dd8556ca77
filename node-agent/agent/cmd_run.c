// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent run`: pin the datapath, then publish the CNI config, then wait. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmd.h"
#include "config.h"
#include "conflist.h"
#include "dp.h"
#include "healthz.h"
#include "metrics.h"
#include "loop.h"
#include "log.h"
#include "ns_step.h"
#include "ep_restore.h"
#include "reattach.h"

#define IP_FORWARD_PATH	   "/proc/sys/net/ipv4/ip_forward"
#define STANDALONE_POLL_MS 10000

/* /proc/sys/net belongs to the writer's network namespace: this sets the
 * node's forwarding, not the machine's, when the agent runs in a node netns. */
static int sysctl_write(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static const char *cni_bin_missing(const struct config *c)
{
	static const char *const bins[] = {"sluice", "host-local", "portmap"};
	char path[CONFIG_PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
		if ((!c->portmap && !strcmp(bins[i], "portmap")) ||
		    (strcmp(c->ipam, "host-local") && !strcmp(bins[i], "host-local")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->cni_bin_dir, bins[i]);
		if (access(path, X_OK) < 0)
			return bins[i];
	}
	return NULL;
}

static int signalfd_open(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Blocks until SIGTERM or SIGINT, keeping the uplink program on the node's
 * uplinks meanwhile (addresses move without telling the agent); returns the
 * signal number. */
static int signal_wait(int sfd, struct ns_step *ns)
{
	struct pollfd p = {.fd = sfd, .events = POLLIN};
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		ns_step_uplinks_update(ns, mono_ms());
		p.revents = 0;
		if (poll(&p, 1, STANDALONE_POLL_MS) < 0 && errno != EINTR)
			return -errno;
		if (!(p.revents & POLLIN))
			continue;
		n = read(sfd, &si, sizeof(si));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == sizeof(si))
			return (int)si.ssi_signo;
	}
}

static void run_usage(FILE *f)
{
	fprintf(
	    f, "usage: sluice-agent run --node-name NAME [--kubeconfig FILE | --sa-dir DIR] "
	       "[--pod-cidr CIDR]\n"
	       "         [--pin-dir DIR] [--cni-conf-dir DIR] [--cni-bin-dir DIR] [--cni-state-dir "
	       "DIR]\n"
	       "         [--ipam sluice|host-local] [--ipam-data-dir DIR] [--mtu N] [--portmap]\n"
	       "         [--cni-log-file FILE] [--log-file FILE]\n"
	       "         [--log-level error|warn|info|debug] [--cgroup DIR] [--sock-lb-pods]\n"
	       "         [--healthz-bind-address IP:PORT] [--metrics-bind-address IP:PORT]\n"
	       "         [--nodeport-addresses CIDRS|primary] [--nodeport-mode snat|dsr]\n"
	       "         [--config FILE]\n"
	       "\n"
	       "The Kubernetes API is found through --kubeconfig, $KUBECONFIG, or in-cluster\n"
	       "(KUBERNETES_SERVICE_HOST/PORT and the service-account token in --sa-dir); the pod\n"
	       "CIDR then comes from this node's Node object. Without any API the agent runs\n"
	       "standalone from --pod-cidr (pods, hostPorts and the uplink program, no\n"
	       "Services). Host-namespace clients reach ClusterIPs through\n"
	       "socket programs attached to --cgroup (default: the cgroup2 root); pods' sockets\n"
	       "there are left to the tc datapath unless --sock-lb-pods. kube-proxy's\n"
	       "/healthz and /livez are served on --healthz-bind-address "
	       "(default " HEALTHZ_DEFAULT_BIND ";\n"
	       "\"\" or \"0\" turns them off), Prometheus /metrics on --metrics-bind-address\n"
	       "(default " METRICS_DEFAULT_BIND "; \"\" or \"0\" turns it off).\n"
	       "--nodeport-mode dsr answers outside clients of a remote backend from the\n"
	       "backend's node (Direct Server Return), keeping their address; every node must\n"
	       "run the same mode (README, north-south).\n");
}

static void pin_report_log(const char *pin_dir, const struct dp_pin_report *rep)
{
	int n = rep->maps_replaced;

	if (n > (int)(sizeof(rep->replaced) / sizeof(rep->replaced[0])))
		n = (int)(sizeof(rep->replaced) / sizeof(rep->replaced[0]));
	for (int i = 0; i < n; i++)
		log_warn("Replaced incompatible pin under %s (its contents are lost): %.32s",
			 pin_dir, rep->replaced[i]);
	log_info("Datapath pinned under %s: %d maps reused, %d created, %d replaced, %d retired",
		 pin_dir, rep->maps_reused, rep->maps_created, rep->maps_replaced,
		 rep->maps_retired);
}

/* Socket-level load balancing for the node's own clients. A --cgroup that
 * does not work is an error; the default root failing only costs host
 * clients their ClusterIPs, and says so. */
static int sock_lb_attach(const struct config *c)
{
	char root[CONFIG_PATH_MAX];
	const char *cg = c->cgroup;
	int r;

	if (!cg[0]) {
		r = dp_cgroup2_root(root, sizeof(root));
		if (r < 0) {
			log_warn_errno(
			    r,
			    "Failed to find the cgroup2 mount; host-network clients cannot reach "
			    "ClusterIPs");
			return 0;
		}
		cg = root;
	}
	r = dp_sock_attach(c->pin_dir, cg, c->sock_lb_pods);
	if (r == -EOPNOTSUPP) {
		log_warn("Socket-level load balancing is not built in; host-network clients cannot "
			 "reach ClusterIPs");
		return 0;
	}
	if (r < 0) {
		if (c->cgroup[0])
			return log_error_errno(
			    r, "Failed to attach socket-level load balancing to cgroup '%s'", cg);
		log_warn_errno(
		    r,
		    "Failed to attach socket-level load balancing to cgroup '%s'; host-network "
		    "clients cannot reach ClusterIPs",
		    cg);
		return 0;
	}
	log_info("Socket-level load balancing attached to cgroup '%s' (%s)", cg,
		 c->sock_lb_pods ? "every socket" : "host-network sockets only");
	return 0;
}

/* Says what the agent starts as; with an API, a bad kubeconfig fails here,
 * before anything is done to the node. */
static int run_announce(struct config *c, struct kube_config *kc)
{
	int r;

	if (c->api == CONFIG_API_STANDALONE) {
		log_warn("No Kubernetes API configured (--kubeconfig, KUBECONFIG or in-cluster): "
			 "running standalone "
			 "from --pod-cidr, without Services, routes or policies");
		log_info("Starting sluice-agent %s on node '%s', pod CIDR %s, pin dir %s",
			 SLUICE_VERSION, c->node_name, c->pod_cidr, c->pin_dir);
		return 0;
	}
	r = agent_loop_config(c, kc);
	if (r < 0)
		return r;
	log_info("Starting sluice-agent %s on node '%s', pin dir %s; pod CIDR from the "
		 "Node object",
		 SLUICE_VERSION, c->node_name, c->pin_dir);
	return 0;
}

/* The node around the datapath: a bad --cgroup fails before anything is done
 * to the node; forwarding and the CNI binaries only warn. */
static int node_prepare(const struct config *c)
{
	const char *missing;
	int r;

	if (c->cgroup[0]) {
		r = dp_cgroup_check(c->cgroup);
		if (r < 0)
			return log_error_errno(
			    r, "Failed to use cgroup '%s' for socket-level load balancing%s",
			    c->cgroup, r == -EMEDIUMTYPE ? ": not a cgroup v2 directory" : "");
	}
	r = sysctl_write(IP_FORWARD_PATH, "1");
	if (r < 0)
		log_warn_errno(r, "Failed to enable forwarding '%s'; pods cannot reach other nodes",
			       IP_FORWARD_PATH);
	missing = cni_bin_missing(c);
	if (missing)
		log_warn(
		    "CNI plugin '%s' not found in '%s'; pods cannot start until it is installed",
		    missing, c->cni_bin_dir);
	return 0;
}

/* Loads, pins and verifies the datapath, attaches the socket programs and
 * moves the pods from before a restart or upgrade onto the new program. */
static int datapath_setup(const struct config *c)
{
	struct dp_pin_report rep = {};
	struct reattach_stats moved;
	struct ep_restore_stats back;
	char err[512];
	int r;

	r = dp_bpffs_ensure(c->pin_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to mount bpffs for pin dir '%s'", c->pin_dir);
	r = dp_load_and_pin_mode(c->pin_dir, !strcmp(c->nodeport_mode, "dsr"), &rep);
	if (r < 0)
		return log_error_errno(r, "Failed to load and pin the datapath under '%s'",
				       c->pin_dir);
	pin_report_log(c->pin_dir, &rep);
	log_info("NodePort flows to remote backends: %s", c->nodeport_mode);
	r = dp_ready(c->pin_dir, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "Failed to verify the pinned datapath under '%s' (%s)",
				       c->pin_dir, err);
	r = sock_lb_attach(c);
	if (r < 0)
		return r;
	r = endpoints_restore(c->pin_dir, c->cni_state_dir, &back);
	if (r < 0)
		log_warn_errno(r, "Failed to restore endpoint entries from '%s'", c->cni_state_dir);
	else if (back.restored || back.failed || back.slots)
		log_info("Restored %d endpoint entries from the CNI state files (%d failed, %d "
			 "stale files skipped), %d anti-spoofing slots updated",
			 back.restored, back.failed, back.stale, back.slots);
	if (r >= 0 && (back.hport_restored || back.hport_failed))
		log_info("Restored %d hostPort entries from the CNI state files (%d failed)",
			 back.hport_restored, back.hport_failed);
	r = endpoints_reattach(c->pin_dir, &moved);
	if (r < 0)
		log_warn_errno(r, "Failed to re-attach existing pods to the new program");
	else if (moved.moved || moved.failed)
		log_info("Re-attached %d existing pods to the new program (%d failed, %d stale "
			 "entries skipped)",
			 moved.moved, moved.failed, moved.skipped);
	return 0;
}

/* With an API: the loop writes the conflist once synced with the API. */
static int run_with_api(struct config *c, struct kube_config *kc, int sfd)
{
	int sig = agent_loop_run(c, kc, sfd);

	kube_config_free(kc);
	if (sig < 0)
		return 1;
	log_info("Received %s, exiting; the pinned datapath, routes and CNI config stay in "
		 "place",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	log_close();
	return 0;
}

/* Standalone: the uplink program on the uplinks (outside clients reach
 * hostPorts; a Kubernetes-mode agent does this in its north-south step), the
 * conflist (only now may runtimes call the plugin), then wait for the signal. */
static int run_standalone(const struct config *c, int sfd)
{
	struct ns_step ns;
	int r, sig;

	ns_step_start(&ns, c);
	ns_step_uplinks_update(&ns, mono_ms());
	r = conflist_write(c);
	if (r < 0) {
		ns_step_stop(&ns);
		log_error_errno(r, "Failed to write CNI config '%s/%s'", c->cni_conf_dir,
				CONFLIST_NAME);
		return 1;
	}
	log_info("Wrote CNI config %s/%s; node '%s' is ready", c->cni_conf_dir, CONFLIST_NAME,
		 c->node_name);
	r = agent_loop_publish_standalone(c);
	if (r < 0)
		log_warn_errno(r, "Failed to write agent status under '%s'", c->cni_state_dir);
	sig = signal_wait(sfd, &ns);
	ns_step_stop(&ns);
	if (sig < 0) {
		log_error_errno(sig, "Failed to wait for signals");
		return 1;
	}
	log_info("Received %s, exiting; the pinned datapath and CNI config stay in place",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	log_close();
	return 0;
}

int agent_cmd_run(int argc, char **argv)
{
	_cleanup_close_ int sfd = -1;
	struct kube_config kc = {};
	struct config c;
	char err[512];
	int r;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			run_usage(stdout);
			return 0;
		}
	}
	r = config_parse(argc, argv, &c, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "sluice-agent run: %s\n", err);
		return EXIT_USAGE;
	}

	r = log_open("sluice-agent", c.log_file, c.log_level);
	if (r < 0)
		log_warn_errno(r, "Failed to open log file '%s', logging to stderr", c.log_file);
	dp_libbpf_log_setup();

	/* Blocked from the start: a SIGTERM during loading is taken once the
	 * node is consistent (pins and conflist written). */
	sfd = signalfd_open();
	if (sfd < 0) {
		log_error_errno(sfd, "Failed to set up signal handling");
		return 1;
	}
	if (run_announce(&c, &kc) < 0 || node_prepare(&c) < 0 || datapath_setup(&c) < 0)
		return 1;
	if (c.api != CONFIG_API_STANDALONE)
		return run_with_api(&c, &kc, sfd);
	return run_standalone(&c, sfd);
}
