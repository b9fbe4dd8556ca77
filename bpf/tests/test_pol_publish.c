// SPDX-License-Identifier: Apache-2.0
/* The policy publisher on the real kernel's pinned maps: a change rewrites
 * only the entries it affects, counted by the publisher's write counters
 * and checked in the maps. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "kube_fixture.h"
#include "kube_objects.h"
#include "kube_store.h"
#include "log.h"
#include "pkt.h"
#include "pol_publish.h"
#include "unit.h"

#define EP_XA 7
#define EP_XB 8
#define EP_XC 9

static char pin_dir[64];

#define NS(n)                                                                                      \
	"{\"metadata\":{\"name\":\"" n "\",\"labels\":{\"kubernetes.io/metadata.name\":\"" n "\"}" \
	"}}"
#define POD(ns, name, role, ip, node)                                                              \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns                                 \
	"\",\"labels\":{\"pod\":\"" name "\",\"role\":\"" role                                     \
	"\"}},\"spec\":{\"nodeName\":\"" node                                                      \
	"\",\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"" ip  \
	"\"}}"
#define NP(name, spec)                                                                             \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"x\"},\"spec\":" spec "}"

struct world {
	struct kube_store pods, nss, pols, nodes;
	struct pol_pub *pub; /* told of every change, as the agent's loop does */
};

static void world_changed(void *ctx, enum kube_op op, const struct kube_obj *old,
			  const struct kube_obj *cur)
{
	struct world *w = ctx;

	if (w->pub)
		pol_pub_note(w->pub, &w->nss, old, cur);
}

static void world_init(struct world *w)
{
	static const char *const remote[] = {
	    POD("y", "d", "web", "10.244.2.13", "n2"), POD("y", "e", "web", "10.244.2.14", "n2"),
	    POD("y", "f", "db", "10.244.2.15", "n2"), POD("y", "g", "db", "10.244.2.16", "n2"),
	    POD("y", "h", "cache", "10.244.2.17", "n2")};

	w->pub = NULL;
	kube_store_init(&w->pods, KUBE_POD, world_changed, w);
	kube_store_init(&w->nss, KUBE_NAMESPACE, world_changed, w);
	kube_store_init(&w->pols, KUBE_NETPOL, world_changed, w);
	kube_store_init(&w->nodes, KUBE_NODE, world_changed, w);
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("x"));
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("y"));
	fixture_put(&w->pods, KUBE_POD, POD("x", "a", "api", "10.244.1.10", "n1"));
	fixture_put(&w->pods, KUBE_POD, POD("x", "b", "api", "10.244.1.11", "n1"));
	fixture_put(&w->pods, KUBE_POD, POD("x", "c", "api", "10.244.1.12", "n1"));
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		fixture_put(&w->pods, KUBE_POD, remote[i]);
	/* a takes db pods of any namespace; b web pods on 80 and 443; c
	 * sends only to 10.0.0.0/8 but not 10.1.0.0/16 */
	fixture_put(
	    &w->pols, KUBE_NETPOL,
	    NP("a", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{\"from\":[{"
		    "\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":{\"role\":\"db\"}}}]"
		    "}]}"));
	fixture_put(
	    &w->pols, KUBE_NETPOL,
	    NP("b",
	       "{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{\"from\":[{"
	       "\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":{\"role\":\"web\"}}}],"
	       "\"ports\":[{\"port\":80},{\"port\":443}]}]}"));
	fixture_put(
	    &w->pols, KUBE_NETPOL,
	    NP("c",
	       "{\"podSelector\":{\"matchLabels\":{\"pod\":\"c\"}},\"policyTypes\":[\"Egress\"],"
	       "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":["
	       "\"10.1.0.0/16\"]}}]}]}"));
}

static void world_fini(struct world *w)
{
	kube_store_fini(&w->pods);
	kube_store_fini(&w->nss);
	kube_store_fini(&w->pols);
	kube_store_fini(&w->nodes);
}

static void eps_seed(void)
{
	static const struct {
		const char *ip;
		__u32 id;
	} eps[] = {{"10.244.1.10", EP_XA}, {"10.244.1.11", EP_XB}, {"10.244.1.12", EP_XC}};
	_cleanup_ep_maps_ struct dp_ep_maps m = DP_EP_MAPS_NONE;
	const char *pin;
	int r = dp_ep_maps_open(pin_dir, &m, &pin);

	CHECK_INT(r, 0);
	for (size_t i = 0; !r && i < sizeof(eps) / sizeof(eps[0]); i++) {
		struct sl_ep_val v = {.ifindex = 100 + i, .ep_id = eps[i].id};

		CHECK_INT(dp_ep_update(&m, inet_addr(eps[i].ip), &v), 0);
	}
}

/* The identity sl_ipcache4 holds for ip, 0 when none. */
static __u32 ipc_get(const char *ip)
{
	struct sl_ipcache_key k = {.prefixlen = 32, .ip = inet_addr(ip)};
	struct sl_ipcache_val v = {};
	int fd = dp_pin_open(pin_dir, SL_PIN_IPCACHE4);

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &v))
		v.identity = 0;
	if (fd >= 0)
		close(fd);
	return v.identity;
}

static bool pol_has(__u32 ep, __u32 peer, __u16 port)
{
	struct sl_pol_key k = {.ep_id = ep,
			       .peer = peer,
			       .dport = htons(port),
			       .proto = IPPROTO_TCP,
			       .dir = SL_POL_DIR_IN};
	struct sl_pol_val v;
	int fd = dp_pin_open(pin_dir, SL_PIN_POL);
	bool ok = fd >= 0 && bpf_map_lookup_elem(fd, &k, &v) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Syncs and returns the writes and deletes it made, and the endpoints it
 * compiled (the others reused). */
static void sync_count(struct pol_pub *p, struct world *w, unsigned long *wr, unsigned long *del,
		       unsigned long *compiles)
{
	struct pol_input in = {&w->pods, &w->nss, &w->pols, &w->nodes, "n1"};
	struct pol_stats a, b;

	pol_pub_stats(p, &a);
	CHECK(pol_pub_sync(p, &in, true) >= 0);
	pol_pub_stats(p, &b);
	*wr = b.writes - a.writes;
	*del = b.deletes - a.deletes;
	*compiles = b.compiles - a.compiles;
}

/* How often endpoint ep_id was compiled. */
static unsigned long ep_compiles(struct pol_pub *p, __u32 ep_id)
{
	const struct pol_state *s = pol_pub_state(p);

	for (size_t i = 0; i < s->n_eps; i++)
		if (s->eps[i].ep_id == ep_id)
			return s->eps[i].compiles;
	return 0;
}

static void test_label_change(void)
{
	unsigned long wr, del, comp;
	struct pol_pub *p = NULL;
	struct world w;
	__u32 was;

	world_init(&w);
	eps_seed();
	CHECK_INT(pol_pub_open(pin_dir, &p), 0);
	if (!p)
		return;
	w.pub = p;

	UNIT_CASE("first publish writes everything: ipcache, allows, prefixes, 3 endpoints");
	sync_count(p, &w, &wr, &del, &comp);
	CHECK_INT(comp, 3);
	/* 8 pod IPs; a: f, g (every port, TCP/UDP/SCTP each) = 6; b: d, e x
	 * 80/443 (TCP, the default) = 4; c: one set for 10/8 x 3 protocols = 3
	 * allows and 2 prefixes; 3 endpoints */
	CHECK_INT(wr, 8 + 6 + 4 + 3 + 2 + 3);
	CHECK_INT(del, 0);

	UNIT_CASE("publishing again with nothing changed writes, deletes and compiles nothing");
	sync_count(p, &w, &wr, &del, &comp);
	CHECK_INT(wr, 0);
	CHECK_INT(del, 0);
	CHECK_INT(comp, 0);

	UNIT_CASE("a label change on one remote pod rewrites only the entries it affects");
	was = ipc_get("10.244.2.13");
	CHECK(pol_has(EP_XB, was, 80));
	fixture_put(&w.pods, KUBE_POD, POD("y", "d", "db", "10.244.2.13", "n2"));
	sync_count(p, &w, &wr, &del, &comp);
	/* a (db peers: its new labels) and b (web peers: its old ones) are
	 * compiled again; c (an ipBlock) is not */
	CHECK_INT(comp, 2);
	CHECK_INT(ep_compiles(p, EP_XA), 2);
	CHECK_INT(ep_compiles(p, EP_XB), 2);
	CHECK_INT(ep_compiles(p, EP_XC), 1);
	/* its IP's new identity, and a's 3 allows of it (TCP, UDP, SCTP) ... */
	CHECK_INT(wr, 1 + 3);
	/* ... and b's 2 ports of its old identity */
	CHECK_INT(del, 2);
	CHECK(ipc_get("10.244.2.13") != was);
	CHECK(!pol_has(EP_XB, was, 80));
	CHECK(pol_has(EP_XA, ipc_get("10.244.2.13"), 0));

	UNIT_CASE("a label change on a pod no policy names rewrites its IP cache entry only");
	fixture_put(&w.pods, KUBE_POD, POD("y", "h", "queue", "10.244.2.17", "n2"));
	sync_count(p, &w, &wr, &del, &comp);
	CHECK_INT(wr, 1);
	CHECK_INT(del, 0);
	CHECK_INT(comp, 0); /* no endpoint compiled again */

	UNIT_CASE("a policy change compiles again only the endpoints it selected or selects");
	fixture_put(
	    &w.pols, KUBE_NETPOL,
	    NP("b",
	       "{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{\"from\":[{"
	       "\"namespaceSelector\":{},\"podSelector\":{\"matchLabels\":{\"role\":\"web\"}}}],"
	       "\"ports\":[{\"port\":80}]}]}"));
	sync_count(p, &w, &wr, &del, &comp);
	CHECK_INT(comp, 1);
	CHECK_INT(ep_compiles(p, EP_XB), 3);
	CHECK_INT(wr, 0);
	CHECK_INT(del, 1); /* e on 443 */
	CHECK(!pol_has(EP_XB, ipc_get("10.244.2.14"), 443));
	CHECK(pol_has(EP_XB, ipc_get("10.244.2.14"), 80));

	pol_pub_free(p);
	world_fini(&w);
}

int main(void)
{
	struct dp_pin_report rep;
	int err;

	if (bpf_test_enter("bpf_test_pol_publish", NULL, 0) < 0)
		return 1;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sluice-tpolpub-%d", getpid());
	CHECK_INT(dp_bpffs_ensure(pin_dir), 0);
	err = dp_load_and_pin(pin_dir, &rep);
	CHECK_INT(err, 0);
	if (!err)
		test_label_change();
	UNIT_CASE("cleanup");
	CHECK_INT(system("rm -rf /sys/fs/bpf/sluice-tpolpub-*"), 0);
	return unit_done();
}
