// SPDX-License-Identifier: Apache-2.0
/* The agent loop's north-south step: node addresses for NodePorts, the uplink program attached,
 * loadBalancerSourceRanges published. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "log.h"
#include "ns_step.h"
#include "routes.h"
#include "svc_frontends.h"

#define NS_RESYNC_MS	10000 /* addresses move without telling the agent */
#define LBSRC_RESYNC_MS 10000

void ns_step_start(struct ns_step *s, const struct config *c)
{
	char err[256];

	memset(s, 0, sizeof(*s));
	s->prog_fd = dp_pin_open(c->pin_dir, SL_PIN_FROM_NET);
	s->lbsrc_fd = dp_pin_open(c->pin_dir, SL_PIN_LBSRC4);
	s->lbsrc_dirty = true;
	if (c->nodeport_addrs[0] && np_addrs_parse(c->nodeport_addrs, &s->np, err, sizeof(err)))
		log_error("Failed to use --nodeport-addresses: %s; serving every node address",
			  err); /* config_parse checked it already */
	if (s->prog_fd < 0)
		log_error_errno(
		    s->prog_fd,
		    "Failed to open the uplink program '%s/%s'; NodePorts, externalIPs, "
		    "LB IPs and hostPorts are not served to outside clients",
		    c->pin_dir, SL_PIN_FROM_NET);
}

void ns_step_stop(struct ns_step *s)
{
	if (s->prog_fd >= 0)
		close(s->prog_fd);
	if (s->lbsrc_fd >= 0)
		close(s->lbsrc_fd);
	s->prog_fd = s->lbsrc_fd = -1;
}

bool ns_step_ready(const struct ns_step *s)
{
	return s->prog_fd < 0 || s->addrs_done;
}

void ns_step_changed(struct ns_step *s, const struct kube_obj *o)
{
	if (o->kind == KUBE_NODE)
		s->next_ms = 0;
	else if (o->kind == KUBE_SERVICE)
		s->lbsrc_dirty = true;
}

/* The node's primary address: its Node's first IPv4 InternalIP, 0 when none. */
static __be32 node_primary(const struct kube_sync *ks, const struct config *c)
{
	const struct kube_obj *n = kube_store_get(kube_sync_store(ks, KUBE_NODE), "", c->node_name);
	__be32 ip = 0;

	for (int i = 0; n && i < n->u.node.n_internal_ips && !ip; i++)
		if (n->u.node.internal_ips[i].family == 4)
			memcpy(&ip, n->u.node.internal_ips[i].addr, 4);
	return ip;
}

static bool has_int(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* The program on every interface holding a node address, off the others it was on. */
static bool uplinks_sync(struct ns_step *s, const struct node_addr *a, size_t n)
{
	int want[NS_ADDR_MAX];
	size_t n_want = 0;
	bool changed = false;
	int r;

	for (size_t i = 0; i < n; i++)
		if (!has_int(want, n_want, a[i].ifindex))
			want[n_want++] = a[i].ifindex;
	for (size_t i = 0; i < s->n_uplinks; i++) {
		if (has_int(want, n_want, s->uplinks[i]))
			continue;
		r = dp_tc_detach_uplink(s->uplinks[i]);
		if (r < 0)
			log_warn_errno(r, "Failed to detach the uplink program from ifindex %d",
				       s->uplinks[i]);
		else
			log_info("Uplink program detached from ifindex %d (no node address left)",
				 s->uplinks[i]);
		changed = true;
	}
	s->n_uplinks = 0;
	for (size_t i = 0; i < n_want; i++) {
		enum dp_attach_mode mode;

		r = dp_tc_attach_uplink(want[i], s->prog_fd, &mode);
		if (r < 0) {
			log_error_errno(r, "Failed to attach the uplink program to ifindex %d",
					want[i]);
			continue;
		}
		s->uplinks[s->n_uplinks++] = want[i];
	}
	return changed;
}

/* The addresses NodePorts are served on, published when they changed. */
static bool node_ips_sync(struct ns_step *s, const struct node_addr *a, size_t n, __be32 primary,
			  struct svc_pub *svc, unsigned long long now)
{
	__be32 ips[NS_ADDR_MAX];
	size_t k = 0;
	char buf[INET_ADDRSTRLEN];
	int r;

	if (!primary && n)
		primary = a[0].ip;
	if (primary && np_addrs_match(&s->np, primary, primary))
		ips[k++] = primary; /* first: external IPs SNAT to it */
	for (size_t i = 0; i < n; i++)
		if (a[i].ip != primary && np_addrs_match(&s->np, a[i].ip, primary) &&
		    k < NS_ADDR_MAX - 1)
			ips[k++] = a[i].ip;
	/* named by --nodeport-addresses: host sockets' 127.0.0.1:NodePort (only
	 * the socket programs see it; no route_localnet, nothing on the wire) */
	if (np_addrs_loopback(&s->np))
		ips[k++] = htonl(INADDR_LOOPBACK);
	if (k == s->n_ips && !memcmp(ips, s->ips, k * sizeof(ips[0])))
		return false;
	r = svc_pub_node_ips(svc, ips, k, now);
	if (r < 0) {
		log_error_errno(r, "Failed to publish the NodePort addresses");
		return false;
	}
	memcpy(s->ips, ips, k * sizeof(ips[0]));
	s->n_ips = k;
	inet_ntop(AF_INET, k ? &ips[0] : &primary, buf, sizeof(buf));
	log_info("NodePorts served on %zu node address%s%s%s", k, k == 1 ? "" : "es",
		 k ? ", first " : "", k ? buf : "");
	s->lbsrc_dirty = true;
	return true;
}

struct lbsrc_want {
	struct sl_lbsrc_key *keys;
	size_t n, cap;
	struct svc_pub *svc;
	const __be32 *ips;
	size_t n_ips;
	int fd, err, deleted;
};

static __u32 lbsrc_id_of(void *ctx, __u64 key)
{
	return svc_pub_port_id(ctx, key);
}

static int lbsrc_want_add(const struct kube_obj *o, void *ctx)
{
	struct lbsrc_want *w = ctx;
	size_t need = svc_lbsrc_max(&o->u.svc);

	if (w->n + need > w->cap) {
		size_t cap = (w->n + need) * 2;
		struct sl_lbsrc_key *k = realloc(w->keys, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		w->keys = k;
		w->cap = cap;
	}
	w->n += svc_lbsrc_build(&o->u.svc, w->ips, w->n_ips, lbsrc_id_of, w->svc, &w->keys[w->n]);
	return 0;
}

static int lbsrc_prune(const void *key, const void *val, void *ctx)
{
	struct lbsrc_want *w = ctx;

	(void)val;
	for (size_t i = 0; i < w->n; i++)
		if (!memcmp(&w->keys[i], key, sizeof(w->keys[i])))
			return 0;
	if (dp_lbsrc_delete(w->fd, key) < 0 && !w->err)
		w->err = -errno;
	w->deleted++;
	return 0;
}

/* sl_lbsrc4 made equal to what the Services want: added first, then pruned. */
static int lbsrc_sync(struct ns_step *s, const struct kube_sync *ks, struct svc_pub *svc)
{
	struct lbsrc_want w = {.svc = svc, .ips = s->ips, .n_ips = s->n_ips, .fd = s->lbsrc_fd};
	int r;

	r = kube_store_foreach(kube_sync_store(ks, KUBE_SERVICE), lbsrc_want_add, &w);
	for (size_t i = 0; !r && i < w.n; i++)
		r = dp_lbsrc_update(s->lbsrc_fd, &w.keys[i]);
	if (!r)
		r = dp_lbsrc_foreach(s->lbsrc_fd, lbsrc_prune, &w);
	free(w.keys);
	return r < 0 ? r : w.err;
}

bool ns_step_uplinks_update(struct ns_step *s, unsigned long long now)
{
	struct node_addr a[NS_ADDR_MAX];
	int n;

	if (s->prog_fd < 0 || now < s->next_ms)
		return false;
	s->next_ms = now + NS_RESYNC_MS;
	n = node_addrs_read(a, NS_ADDR_MAX);
	if (n < 0) {
		log_error_errno(n, "Failed to read the node's addresses");
		return false;
	}
	return uplinks_sync(s, a, (size_t)n);
}

bool ns_step_update(struct ns_step *s, const struct kube_sync *ks, const struct config *c,
		    struct svc_pub *svc, unsigned long long now)
{
	struct node_addr a[NS_ADDR_MAX];
	bool changed = false;
	int n, r;

	if (!svc || s->prog_fd < 0)
		return false;
	/* "primary" is the Node's address: known once the Nodes are listed */
	if (now >= s->next_ms && (!s->np.primary || ks->slots[KUBE_NODE].ref.synced)) {
		s->next_ms = now + NS_RESYNC_MS;
		n = node_addrs_read(a, NS_ADDR_MAX);
		if (n < 0) {
			log_error_errno(n, "Failed to read the node's addresses");
		} else {
			changed |= node_ips_sync(s, a, (size_t)n, node_primary(ks, c), svc, now);
			changed |= uplinks_sync(s, a, (size_t)n);
			s->addrs_done = true;
		}
	}
	if (s->lbsrc_fd >= 0 && ks->slots[KUBE_SERVICE].ref.synced &&
	    (s->lbsrc_dirty || now >= s->lbsrc_next_ms)) {
		s->lbsrc_dirty = false;
		s->lbsrc_next_ms = now + LBSRC_RESYNC_MS;
		r = lbsrc_sync(s, ks, svc);
		if (r < 0)
			log_error_errno(r, "Failed to publish loadBalancerSourceRanges to %s",
					SL_PIN_LBSRC4);
	}
	return changed;
}
