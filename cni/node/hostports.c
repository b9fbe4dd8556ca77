// SPDX-License-Identifier: Apache-2.0
/* The hostPorts of one attachment in the datapath: conflict check, sl_hport4 writes and removal,
 * the port gate kept in step, all under the hostPort lock. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dp.h"
#include "hostports.h"
#include "state.h"

#define HOSTPORT_LOCK	    "hostport.lock"
#define HOSTPORT_LOCK_MS    60000
#define HOSTPORT_TAKEN	    "hostPort already in use"
#define HOSTPORT_ADD_FAILED "Failed to set up the pod's hostPorts"

struct hp_maps {
	int hport, gate, ep;
};

static void hp_maps_close(struct hp_maps *m)
{
	if (m->hport >= 0)
		close(m->hport);
	if (m->gate >= 0)
		close(m->gate);
	if (m->ep >= 0)
		close(m->ep);
}

/* The three maps; the first error (-ENOENT: not pinned) on failure. */
static int hp_maps_open(const char *pin_dir, struct hp_maps *m)
{
	m->hport = dp_pin_open(pin_dir, SL_PIN_HPORT4);
	m->gate = dp_pin_open(pin_dir, SL_PIN_HPGATE);
	m->ep = dp_pin_open(pin_dir, SL_PIN_EP4);
	if (m->hport < 0)
		return m->hport;
	if (m->gate < 0)
		return m->gate;
	return m->ep < 0 ? m->ep : 0;
}

static struct sl_hport_key hp_key(const struct portmap *pm)
{
	struct sl_hport_key key = {};

	key.ip = pm->host_ip;
	key.port = htons(pm->host_port);
	key.proto = pm->proto;
	return key;
}

/* The first entry of sl_hport4 that overlaps pm. */
struct holder {
	const struct portmap *pm;
	struct sl_hport_key key;
	struct sl_hport_val val;
};

static int holder_match(const void *key, const void *val, void *ctx)
{
	const struct sl_hport_key *k = key;
	struct holder *h = ctx;
	struct portmap other = {.host_ip = k->ip, .host_port = ntohs(k->port), .proto = k->proto};

	if (!portmap_overlaps(h->pm, &other))
		return 0;
	h->key = *k;
	h->val = *(const struct sl_hport_val *)val;
	return 1;
}

/* 1 with h filled when a live endpoint holds an overlapping entry, 0 when
 * none does (stale ones deleted on the way), else -errno. */
static int holder_find(const struct hp_maps *m, struct holder *h, __be32 self)
{
	struct sl_ep_val ep;
	int r;

	for (int i = 0; i < CNI_MAX_PORTMAPS + 1; i++) {
		r = dp_hport_foreach(m->hport, holder_match, h);
		if (r <= 0)
			return r;
		if (h->val.pod_ip != self && dp_ep_lookup(m->ep, h->val.pod_ip, &ep) == 0)
			return 1;
		r = dp_hport_delete(m->hport, &h->key);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return -ELOOP;
}

static int hostport_claim(const struct hp_maps *m, const struct portmap *pm, __be32 pod_ip,
			  struct cni_err *e)
{
	struct sl_hport_key key = hp_key(pm);
	struct sl_hport_val val = {.pod_ip = pod_ip, .pod_port = htons(pm->container_port)};
	struct holder h = {.pm = pm};
	char want[64], held[64], ip[INET_ADDRSTRLEN];
	struct portmap other;
	int r;

	portmap_describe(pm, want, sizeof(want));
	r = holder_find(m, &h, pod_ip);
	if (r > 0) {
		other = (struct portmap){
		    .host_ip = h.key.ip, .host_port = ntohs(h.key.port), .proto = h.key.proto};
		portmap_describe(&other, held, sizeof(held));
		inet_ntop(AF_INET, &h.val.pod_ip, ip, sizeof(ip));
		return cni_err_set(e, -EADDRINUSE, CNI_ERR_HOSTPORT_TAKEN, HOSTPORT_TAKEN,
				   "hostPort %s overlaps %s held by the pod at %s", want, held, ip);
	}
	if (r == 0)
		r = dp_hport_insert(m->hport, &key, &val);
	if (r == 0)
		r = dp_hpgate_sync(m->hport, m->gate, key.port, key.proto);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, HOSTPORT_ADD_FAILED,
				   "write %s entry for hostPort %s", SL_PIN_HPORT4, want);
	return 0;
}

/* Deletes pm's entry if it points at one of ips, then sets the port's gate bit right. */
static int hostport_release(const struct hp_maps *m, const struct portmap *pm,
			    const struct in_addr *ips, int n_ips)
{
	struct sl_hport_key key = hp_key(pm);
	struct sl_hport_val val;
	int r;

	r = dp_hport_lookup(m->hport, &key, &val);
	for (int i = 0; r == 0 && i < n_ips; i++)
		if (val.pod_ip == ips[i].s_addr) {
			r = dp_hport_delete(m->hport, &key);
			break;
		}
	if (r < 0 && r != -ENOENT)
		return r;
	return dp_hpgate_sync(m->hport, m->gate, key.port, key.proto);
}

static int releases(const struct hp_maps *m, const struct portmap *pm, int n,
		    const struct in_addr *ips, int n_ips)
{
	int r, first = 0;

	for (int i = 0; i < n; i++) {
		r = hostport_release(m, &pm[i], ips, n_ips);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

int hostports_add(const char *pin_dir, const char *state_dir, const struct portmap *pm, int n,
		  struct in_addr pod_ip, struct cni_err *e)
{
	__attribute__((cleanup(hp_maps_close))) struct hp_maps m = {-1, -1, -1};
	_cleanup_close_ int lock = -1;
	int r;

	if (!n)
		return 0;
	r = hp_maps_open(pin_dir, &m);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_TRY_AGAIN, HOSTPORT_ADD_FAILED,
				   "open pinned maps %s, %s in %s", SL_PIN_HPORT4, SL_PIN_HPGATE,
				   pin_dir);
	lock = state_lock_file(state_dir, HOSTPORT_LOCK, false, HOSTPORT_LOCK_MS);
	if (lock < 0)
		return cni_err_set(e, lock, CNI_ERR_TRY_AGAIN, HOSTPORT_ADD_FAILED, "lock %s/%s",
				   state_dir, HOSTPORT_LOCK);
	for (int i = 0; i < n; i++) {
		r = hostport_claim(&m, &pm[i], pod_ip.s_addr, e);
		if (r < 0) {
			releases(&m, pm, i, &pod_ip, 1);
			return r;
		}
	}
	return 0;
}

int hostports_remove(const char *pin_dir, const char *state_dir, const struct portmap *pm, int n,
		     const struct in_addr *ips, int n_ips)
{
	__attribute__((cleanup(hp_maps_close))) struct hp_maps m = {-1, -1, -1};
	_cleanup_close_ int lock = -1;
	int r;

	if (!n || !n_ips)
		return 0;
	r = hp_maps_open(pin_dir, &m);
	if (m.hport == -ENOENT || m.gate == -ENOENT)
		return 0; /* no datapath: no entry either */
	if (r < 0 && r != -ENOENT)
		return r;
	lock = state_lock_file(state_dir, HOSTPORT_LOCK, false, HOSTPORT_LOCK_MS);
	if (lock < 0)
		return lock;
	return releases(&m, pm, n, ips, n_ips);
}

int hostports_verify(const char *pin_dir, const struct portmap *pm, int n, struct in_addr pod_ip,
		     char *why, size_t len)
{
	_cleanup_close_ int map = -1;
	char want[64], ip[INET_ADDRSTRLEN];
	struct sl_hport_key key;
	struct sl_hport_val val;
	int r;

	if (!n)
		return 0;
	map = dp_pin_open(pin_dir, SL_PIN_HPORT4);
	if (map < 0)
		return snprintf(why, len, "pinned map %s/%s missing", pin_dir, SL_PIN_HPORT4), map;
	for (int i = 0; i < n; i++) {
		key = hp_key(&pm[i]);
		portmap_describe(&pm[i], want, sizeof(want));
		r = dp_hport_lookup(map, &key, &val);
		if (r == -ENOENT)
			return snprintf(why, len, "%s entry for hostPort %s missing", SL_PIN_HPORT4,
					want),
			       1;
		if (r < 0)
			return snprintf(why, len, "%s entry for hostPort %s unreadable",
					SL_PIN_HPORT4, want),
			       r;
		if (val.pod_ip != pod_ip.s_addr || ntohs(val.pod_port) != pm[i].container_port) {
			inet_ntop(AF_INET, &val.pod_ip, ip, sizeof(ip));
			return snprintf(why, len, "hostPort %s points at %s:%u, not this pod", want,
					ip, ntohs(val.pod_port)),
			       1;
		}
	}
	return 0;
}
