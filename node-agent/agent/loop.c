// SPDX-License-Identifier: Apache-2.0
/* The agent's API loop: reflectors and signalfd on one poll; conflist, routes, status follow. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "conflist.h"
#include "hcnp.h"
#include "healthz.h"
#include "http_server.h"
#include "loop.h"
#include "kube_sync.h"
#include "log.h"
#include "metrics_collect.h"
#include "names.h"
#include "ns_step.h"
#include "pin_step.h"
#include "pol_step.h"
#include "routes_step.h"
#include "status.h"
#include "svc_publish.h"

#define POLL_MAX_MS	       1000
#define STATUS_MIN_INTERVAL_MS 1000
#define SERVER_RETRY_MS	       2000 /* binding an HTTP server again */

/* One of the loop's HTTP servers (/healthz, /metrics). */
struct loop_server {
	struct http_server *h; /* NULL when disabled or not bound yet */
	const char *bind, *what;
	http_handler_fn fn;
	void *ctx;
	unsigned long long retry_ms; /* when to try binding again; 0: never tried */
};

struct agent {
	struct config *c;
	struct kube_config *kc;
	struct kube_sync ks;
	char flag_cidr[32]; /* --pod-cidr, checked against the Node's */
	bool cni_written;
	char waiting[600]; /* why the conflist is not written yet */
	bool cidr_mismatch_logged, node_gone_logged;
	bool synced_logged;
	bool node_eligible; /* kube-proxy's nodeEligible for /healthz */
	struct routes_step routes;
	bool status_dirty;
	unsigned long long status_next_ms, start_ms;
	struct svc_pub *svc; /* NULL when the service maps are not pinned */
	struct svc_dp svc_maps;
	unsigned long svc_ops; /* map writes + deletes last published in status */
	int epfd;	       /* the loop's epoll set, which the HTTP servers join */
	struct loop_server healthz, metrics;
	struct healthz_state hs;
	struct metrics_src msrc;
	struct metrics_hist publish; /* watch event to map write, seconds */
	struct hcnp *hcnp;	     /* NULL when it could not be set up */
	bool hc_dirty;		     /* Services or EndpointSlices changed */
	struct timespec svc_updated; /* CLOCK_REALTIME of the last complete service sync */
	unsigned long long svc_updated_ms;
	struct pol_step pol;
	struct ns_step ns;
	bool ks_ready; /* the API client was set up */
	struct pin_step pins;
};

static const char *mode_name(const struct config *c)
{
	static const char *const names[] = {[CONFIG_API_STANDALONE] = "standalone",
					    [CONFIG_API_KUBECONFIG] = "kubeconfig",
					    [CONFIG_API_IN_CLUSTER] = "in-cluster"};

	return names[c->api];
}

int agent_loop_config(const struct config *c, struct kube_config *kc)
{
	char err[512];
	int r;

	if (c->api == CONFIG_API_KUBECONFIG)
		r = kube_config_load(c->kubeconfig, kc, err, sizeof(err));
	else
		r = kube_config_in_cluster(c->sa_dir, kc, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "Failed to load the Kubernetes API configuration: %s",
				       err);
	return 0;
}

/* kube-proxy's SyncNode: the own Node is eligible for load-balancer traffic
 * unless it is being deleted or tainted ToBeDeletedByClusterAutoscaler; a
 * Node gone from the API (cur NULL) is deleted, so not eligible either. */
static void node_eligibility_sync(struct agent *a, const struct kube_obj *cur)
{
	const struct kube_node *n = cur ? &cur->u.node : NULL;
	bool eligible = n && !n->deleting && !n->to_be_deleted;

	if (eligible == a->node_eligible)
		return;
	a->node_eligible = eligible;
	if (eligible)
		log_info("Node '%s' is eligible for load-balancer traffic again; /healthz answers "
			 "200 when healthy",
			 a->c->node_name);
	else
		log_warn("Node '%s' is %s; /healthz answers 503 (nodeEligible false)",
			 a->c->node_name,
			 !n	       ? "deleted from the API"
			 : n->deleting ? "being deleted"
				       : "tainted ToBeDeletedByClusterAutoscaler");
}

static void store_changed(void *ctx, enum kube_op op, const struct kube_obj *old,
			  const struct kube_obj *cur)
{
	struct agent *a = ctx;

	const struct kube_obj *o = old ? old : cur;
	int r;

	a->status_dirty = true;
	if (o->kind == KUBE_NODE)
		a->routes.nodes_dirty = true;
	if (o->kind == KUBE_NODE && !strcmp(o->name, a->c->node_name))
		node_eligibility_sync(a, cur);
	if (o->kind == KUBE_SERVICE || o->kind == KUBE_ENDPOINTSLICE)
		a->hc_dirty = true;
	pol_step_changed(&a->pol, &a->ks, old, cur);
	ns_step_changed(&a->ns, o);
	if (a->svc && (r = svc_pub_changed(a->svc, op, old, cur, mono_ms())) < 0)
		log_error_errno(r, "Failed to track %s '%s/%s' for the service maps",
				kube_kind_name(o->kind), o->ns, o->name);
}

static void svc_note(void *ctx, enum log_level level, const char *msg)
{
	log_msg(level, 0, "%s", msg);
}

/* Opens the service maps and rebuilds the published state from them. */
static void svc_start(struct agent *a)
{
	struct svc_stats st;
	int r;

	r = svc_dp_open(a->c->pin_dir, &a->svc_maps);
	if (r < 0) {
		log_error_errno(r,
				"Failed to open the service maps under '%s'; Services are not "
				"load-balanced",
				a->c->pin_dir);
		return;
	}
	r = svc_pub_new(&svc_dp_ops, &a->svc_maps, a->c->node_name, svc_note, a, &a->svc);
	if (r < 0) {
		log_error_errno(r, "Failed to set up the service publisher");
		svc_dp_close(&a->svc_maps);
		return;
	}
	r = svc_pub_restore(a->svc);
	if (r < 0) {
		log_error_errno(r, "Failed to read the service maps under '%s'", a->c->pin_dir);
		svc_pub_free(a->svc);
		a->svc = NULL;
		svc_dp_close(&a->svc_maps);
		return;
	}
	svc_pub_stats(a->svc, &st);
	if (st.restored_ports || st.restored_backends || st.restored_vips)
		log_info("Service maps hold %lu service ports, %lu backends, %lu ClusterIPs from "
			 "before; "
			 "ids are kept",
			 st.restored_ports, st.restored_backends, st.restored_vips);
}

/* Publishes changed Services once both stores had their first full list. */
static void svc_update(struct agent *a, unsigned long long now)
{
	bool synced = a->ks.slots[KUBE_SERVICE].ref.synced &&
		      a->ks.slots[KUBE_ENDPOINTSLICE].ref.synced && ns_step_ready(&a->ns);
	unsigned long writes, deletes;
	unsigned long long since = 0;
	struct timespec t0, t1;
	struct svc_stats st;
	bool first, pending;

	if (!a->svc)
		return;
	svc_pub_stats(a->svc, &st);
	first = synced && !st.gc_done;
	writes = st.writes;
	deletes = st.deletes;
	pending = svc_pub_pending(a->svc, &since);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* errors were reported through svc_note, once per Service */
	(void)svc_pub_sync(a->svc, kube_sync_store(&a->ks, KUBE_SERVICE),
			   kube_sync_store(&a->ks, KUBE_ENDPOINTSLICE), synced, now);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	svc_pub_stats(a->svc, &st);
	if (pending && since && (st.writes != writes || st.deletes != deletes))
		metrics_hist_observe(&a->publish, (double)(mono_ms() - since) / 1000.0);
	/* make bench reads this line: the time to program one change */
	if (st.writes != writes || st.deletes != deletes)
		log_debug("Service maps: %lu writes, %lu deletes in %lld us", st.writes - writes,
			  st.deletes - deletes,
			  (long long)(t1.tv_sec - t0.tv_sec) * 1000000 +
			      (t1.tv_nsec - t0.tv_nsec) / 1000);
	if (st.gc_done && !svc_pub_pending(a->svc, &(unsigned long long){0}) &&
	    (st.writes + st.deletes != a->svc_ops ||
	     now - a->svc_updated_ms >= HEALTHZ_STALE_MS / 2)) {
		clock_gettime(CLOCK_REALTIME, &a->svc_updated);
		a->svc_updated_ms = now;
	}
	if (first && st.gc_done)
		log_info(
		    "Published %lu services (%lu service ports, %lu backends) to the service maps",
		    st.services, st.ports, st.backends);
	if (st.writes + st.deletes != a->svc_ops) {
		a->svc_ops = st.writes + st.deletes;
		a->status_dirty = true;
	}
}

static void reflector_note(void *ctx, const struct kube_reflector *r, enum log_level level,
			   const char *msg)
{
	struct agent *a = ctx;

	a->status_dirty = true;
	log_msg(level, 0, "%s", msg);
}

/* The Node's first IPv4 pod CIDR, canonical; -ENOENT when it has none. */
static int node_cidr4(const struct kube_obj *n, char *out, size_t len, char *err, size_t err_len)
{
	char addr[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN + 8];

	for (int i = 0; i < n->u.node.n_pod_cidrs; i++) {
		const struct kube_cidr *pc = &n->u.node.pod_cidrs[i];

		if (pc->ip.family != 4)
			continue;
		inet_ntop(AF_INET, pc->ip.addr, addr, sizeof(addr));
		snprintf(s, sizeof(s), "%s/%u", addr, pc->prefix);
		return cidr4_parse(s, out, len, err, err_len);
	}
	return -ENOENT;
}

static void waiting_set(struct agent *a, const char *why)
{
	if (!strcmp(a->waiting, why))
		return;
	snprintf(a->waiting, sizeof(a->waiting), "%s", why);
	a->status_dirty = true;
	if (why[0])
		log_info("Not writing the CNI config yet: %s", why);
}

/* Conflist once synced and the own Node has a pod CIDR; rewritten if it changes. */
static void cni_update(struct agent *a)
{
	struct config *c = a->c;
	const struct kube_obj *node;
	char cidr[32], err[256], why[sizeof(a->waiting)];
	int r;

	if (!kube_sync_synced(&a->ks)) {
		waiting_set(a, "waiting for the first list of every resource");
		return;
	}
	if (!a->synced_logged) {
		a->synced_logged = true;
		log_info("Synced every resource with the API in %llu ms", mono_ms() - a->start_ms);
		malloc_trim(0); /* the list pages' parse trees are gone: give their memory back */
	}
	node = kube_store_get(kube_sync_store(&a->ks, KUBE_NODE), "", c->node_name);
	if (!node) {
		if (a->cni_written && !a->node_gone_logged)
			log_warn("Node '%s' was deleted from the API; keeping pod CIDR %s",
				 c->node_name, c->pod_cidr);
		a->node_gone_logged = a->cni_written;
		snprintf(why, sizeof(why), "Node '%s' does not exist in the API", c->node_name);
		if (!a->cni_written)
			waiting_set(a, why);
		return;
	}
	a->node_gone_logged = false;
	r = node_cidr4(node, cidr, sizeof(cidr), err, sizeof(err));
	if (r < 0) {
		if (r == -ENOENT)
			snprintf(why, sizeof(why),
				 "Node '%s' has no IPv4 pod CIDR (spec.podCIDR) yet", c->node_name);
		else
			snprintf(why, sizeof(why), "Node '%s': %s", c->node_name, err);
		if (!a->cni_written)
			waiting_set(a, why);
		return;
	}
	if (a->flag_cidr[0] && strcmp(a->flag_cidr, cidr) && !a->cidr_mismatch_logged) {
		log_error("--pod-cidr %s does not match pod CIDR %s of Node '%s'; using the Node's",
			  a->flag_cidr, cidr, c->node_name);
		a->cidr_mismatch_logged = true;
	}
	if (a->cni_written && !strcmp(c->pod_cidr, cidr))
		return;
	if (a->cni_written)
		log_warn("Pod CIDR of Node '%s' changed from %s to %s; rewriting the CNI config",
			 c->node_name, c->pod_cidr, cidr);
	snprintf(c->pod_cidr, sizeof(c->pod_cidr), "%s", cidr);
	r = conflist_write(c);
	if (r < 0) {
		log_error_errno(r, "Failed to write CNI config '%s/%s'", c->cni_conf_dir,
				CONFLIST_NAME);
		waiting_set(a, "cannot write the CNI config");
		return;
	}
	a->cni_written = true;
	waiting_set(a, "");
	log_info("Wrote CNI config %s/%s with pod CIDR %s; node '%s' is ready", c->cni_conf_dir,
		 CONFLIST_NAME, cidr, c->node_name);
}

static void status_publish(struct agent *a, unsigned long long now)
{
	struct status_agent st = {
	    .mode = mode_name(a->c),
	    .server = a->kc->server,
	    .node = a->c->node_name,
	    .pod_cidr = a->cni_written ? a->c->pod_cidr : "",
	    .nodeport_mode = a->c->nodeport_mode,
	    .cni_ready = a->cni_written,
	    .waiting = a->waiting,
	    .n_resources = KUBE_KIND_MAX,
	    .n_routes = a->routes.n,
	    .routes = a->routes.strs,
	};
	struct svc_stats svc;
	struct pol_stats pol;
	char path[CONFIG_PATH_MAX + 32];
	int r;

	if (!a->status_dirty || now < a->status_next_ms)
		return;
	for (int k = 0; k < KUBE_KIND_MAX; k++) {
		const struct kube_reflector *ref = &a->ks.slots[k].ref;

		st.resources[k] = (struct status_resource){
		    ref->res->name, ref->synced, ref->rv,	ref->store.count,
		    ref->relists,   ref->errors, ref->malformed};
	}
	if (a->svc) {
		svc_pub_stats(a->svc, &svc);
		st.svc = &svc;
	}
	st.pol = pol_step_stats(&a->pol, &pol);
	st.netpols = kube_sync_store(&a->ks, KUBE_NETPOL);
	st.pins = a->pins.guard ? &a->pins.st : NULL;
	snprintf(path, sizeof(path), "%s/%s", a->c->cni_state_dir, STATUS_AGENT_FILE);
	r = status_agent_publish(path, &st);
	if (r < 0)
		log_warn_errno(r, "Failed to write agent status '%s'", path);
	snprintf(path, sizeof(path), "%s/%s", a->c->cni_state_dir, NAMES_FILE);
	r = names_publish(path, a->svc, kube_sync_store(&a->ks, KUBE_SERVICE),
			  kube_sync_store(&a->ks, KUBE_POD), kube_sync_store(&a->ks, KUBE_NODE));
	if (r < 0)
		log_warn_errno(r, "Failed to write the names of the maps' ids '%s'", path);
	a->status_dirty = false;
	a->status_next_ms = now + STATUS_MIN_INTERVAL_MS;
}

/* A server joins the loop's poll. Its port may be taken for a while: during
 * a migration kube-proxy still serves its own /healthz on 0.0.0.0:10256. Like
 * kube-proxy the agent runs without it (the datapath matters more than its
 * probes and metrics), and tries again every SERVER_RETRY_MS, so it serves the
 * probes soon after kube-proxy is gone instead of waiting for a liveness restart. */
static void server_start(struct agent *a, struct loop_server *s, unsigned long long now)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int r;

	if (s->h || !s->bind[0] || now < s->retry_ms)
		return;
	r = http_server_open(s->bind, s->fn, s->ctx, &s->h);
	ev.data.fd = r < 0 ? -1 : http_server_fd(s->h);
	if (r < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		if (!s->retry_ms)
			log_error_errno(r < 0 ? r : -errno,
					"Failed to serve %s on '%s'; running without it, trying "
					"again every %d s",
					s->what, s->bind, SERVER_RETRY_MS / 1000);
		http_server_close(s->h);
		s->h = NULL;
		s->retry_ms = mono_ms() + SERVER_RETRY_MS;
		return;
	}
	log_info("Serving %s on http://%s", s->what, s->bind);
}

static void server_serve(struct agent *a, struct loop_server *s, unsigned long long now)
{
	server_start(a, s, now);
	if (s->h)
		http_server_serve(s->h, now);
}

/* kube-proxy's IsHealthy(): unhealthy while changes have waited longer than
 * 2 x syncPeriod, or when the first sync has not been published in that time. */
static bool proxy_healthy(struct agent *a, unsigned long long now)
{
	unsigned long long since = 0;
	struct svc_stats st;

	if (!a->svc)
		return false;
	svc_pub_stats(a->svc, &st);
	if (!st.gc_done)
		since = a->start_ms;
	else
		svc_pub_pending(a->svc, &since);
	return healthz_fresh(now, since);
}

static void healthz_update(struct agent *a, unsigned long long now)
{
	a->hs = (struct healthz_state){.last_updated = a->svc_updated,
				       .node_eligible = a->node_eligible,
				       .healthy = proxy_healthy(a, now)};
	server_serve(a, &a->healthz, now);
}

/* The health check node ports follow the Services and EndpointSlices once
 * both are listed; answered with the proxy's health. */
static void hcnp_update(struct agent *a, unsigned long long now)
{
	bool synced =
	    a->ks.slots[KUBE_SERVICE].ref.synced && a->ks.slots[KUBE_ENDPOINTSLICE].ref.synced;
	struct hcnp_want *wants = NULL;
	size_t n = 0;
	int r;

	if (!a->hcnp)
		return;
	/* kube-proxy listens on the NodePort addresses when they are limited (on
	 * every address when it cannot learn them: north-south off here) */
	if (a->c->nodeport_addrs[0] && ns_step_ready(&a->ns))
		hcnp_bind(a->hcnp, a->ns.prog_fd < 0 ? NULL : a->ns.ips, a->ns.n_ips);
	if (synced && (a->hc_dirty || hcnp_retry_due(a->hcnp, now))) {
		r = hcnp_wants(kube_sync_store(&a->ks, KUBE_SERVICE),
			       kube_sync_store(&a->ks, KUBE_ENDPOINTSLICE), a->c->node_name, &wants,
			       &n);
		if (r < 0)
			log_error_errno(r, "Failed to compute the health check node ports");
		/* bind failures were reported through svc_note, once per try */
		else if ((r = hcnp_sync(a->hcnp, wants, n, now)) == -ENOMEM)
			log_error_errno(r, "Failed to update the health check node ports");
		a->hc_dirty = r == -ENOMEM; /* a failed bind has its own retry time */
		free(wants);
	}
	hcnp_serve(a->hcnp, proxy_healthy(a, now), now);
}

/* Sets up the health check node port servers on the loop's poll. */
static void hcnp_start(struct agent *a, int epfd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int r = hcnp_new(svc_note, a, &a->hcnp);

	if (r >= 0 && a->c->nodeport_addrs[0])
		hcnp_bind(a->hcnp, a->ns.ips, 0); /* the NodePort addresses: none known yet */
	ev.data.fd = r < 0 ? -1 : hcnp_fd(a->hcnp);
	if (r < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		log_error_errno(r < 0 ? r : -errno,
				"Failed to set up the health check node port servers; running "
				"without them");
		hcnp_free(a->hcnp);
		a->hcnp = NULL;
	}
}

/* Whether fd is among the ready members of the epoll set epfd. */
static bool fd_ready(int epfd, int fd)
{
	struct epoll_event evs[4];
	int n = epoll_wait(epfd, evs, 4, 0);

	for (int i = 0; i < n; i++)
		if (evs[i].data.fd == fd)
			return true;
	return false;
}

static int signal_read(int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n = read(sfd, &si, sizeof(si));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	return n == sizeof(si) ? (int)si.ssi_signo : 0;
}

/* The loop's poll (signals and the HTTP servers behind one fd), its servers
 * and steps, and the API client. a->epfd is -1 when the poll failed (nothing
 * else was started); otherwise agent_stop undoes it, whatever the result. */
static int agent_start(struct agent *a, int sfd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = sfd};
	struct config *c = a->c;
	char err[512];
	int r;

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, sfd, &ev) < 0) {
		r = -errno;
		if (a->epfd >= 0)
			close(a->epfd);
		a->epfd = -1;
		return log_error_errno(r, "Failed to set up the event loop");
	}
	a->healthz = (struct loop_server){.bind = c->healthz_bind,
					  .what = "/healthz and /livez",
					  .fn = healthz_handle,
					  .ctx = &a->hs};
	server_start(a, &a->healthz, 0);
	pin_step_start(&a->pins, c->pin_dir);
	svc_start(a);
	hcnp_start(a, a->epfd);
	pol_step_start(&a->pol, c);
	ns_step_start(&a->ns, c);
	r = kube_sync_init(&a->ks, a->kc, c->node_name, store_changed, a, reflector_note, a, err,
			   sizeof(err));
	if (r < 0)
		return log_error_errno(r, "Failed to set up the API client: %s", err);
	a->ks_ready = true;
	a->msrc = (struct metrics_src){c->pin_dir, &a->ks, a->svc, &a->publish,
				       a->pins.guard ? &a->pins.st : NULL};
	a->metrics = (struct loop_server){
	    .bind = c->metrics_bind, .what = "/metrics", .fn = metrics_handle, .ctx = &a->msrc};
	server_start(a, &a->metrics, 0);
	return 0;
}

/* What follows the API's events, in order: pins, conflist, routes, NodePort
 * addresses, Services, policy, health and metrics servers, status. */
static void agent_steps(struct agent *a, unsigned long long now)
{
	struct config *c = a->c;

	a->status_dirty |= pin_step_update(&a->pins, now);
	cni_update(a);
	a->status_dirty |= routes_step_update(&a->routes, &a->ks, c->node_name, now);
	a->status_dirty |= ns_step_update(&a->ns, &a->ks, c, a->svc, now);
	svc_update(a, now);
	a->status_dirty |= pol_step_update(&a->pol, &a->ks, c, now);
	healthz_update(a, now);
	server_serve(a, &a->metrics, now);
	hcnp_update(a, now);
	status_publish(a, now);
}

static void agent_stop(struct agent *a)
{
	if (a->ks_ready) {
		a->status_next_ms = 0;
		status_publish(a, mono_ms());
		kube_sync_fini(&a->ks);
	}
	pol_step_stop(&a->pol);
	ns_step_stop(&a->ns);
	pin_step_stop(&a->pins);
	svc_pub_free(a->svc);
	if (a->svc)
		svc_dp_close(&a->svc_maps);
	http_server_close(a->healthz.h);
	http_server_close(a->metrics.h);
	hcnp_free(a->hcnp);
	if (a->epfd >= 0)
		close(a->epfd);
	routes_step_free(&a->routes);
}

int agent_loop_run(struct config *c, struct kube_config *kc, int sfd)
{
	static const double publish_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
						0.1,   0.25,   0.5,   1,    2.5,   5};
	struct agent a = {.c = c,
			  .kc = kc,
			  .status_dirty = true,
			  .node_eligible = true,
			  .start_ms = mono_ms(),
			  .publish = {publish_bounds, sizeof(publish_bounds) / sizeof(double)}};
	bool sig_ready;
	int r, sig = 0;

	snprintf(a.flag_cidr, sizeof(a.flag_cidr), "%s", c->pod_cidr);
	c->pod_cidr[0] = '\0';
	r = agent_start(&a, sfd);
	if (r < 0 && a.epfd < 0)
		return r;
	if (r == 0)
		log_info("Syncing with the Kubernetes API at %s (%s '%s'%s%s)", kc->server,
			 mode_name(c), kc->source, kc->context[0] ? ", context " : "", kc->context);
	while (r == 0 && !sig) {
		r = kube_sync_step(&a.ks, a.epfd, POLL_MAX_MS, &sig_ready);
		if (r < 0) {
			log_error_errno(r, "Failed to poll the API connections");
			break;
		}
		if (sig_ready && fd_ready(a.epfd, sfd) && (sig = signal_read(sfd)) < 0) {
			r = log_error_errno(sig, "Failed to read signals");
			break;
		}
		agent_steps(&a, mono_ms());
	}
	agent_stop(&a);
	return sig > 0 ? sig : r;
}

int agent_loop_publish_standalone(const struct config *c)
{
	struct status_agent st = {.mode = "standalone",
				  .node = c->node_name,
				  .pod_cidr = c->pod_cidr,
				  .nodeport_mode = c->nodeport_mode,
				  .cni_ready = true,
				  .waiting = ""};
	char path[CONFIG_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", c->cni_state_dir, STATUS_AGENT_FILE);
	return status_agent_publish(path, &st);
}
