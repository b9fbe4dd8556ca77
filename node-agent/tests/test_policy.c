// SPDX-License-Identifier: Apache-2.0
/* NetworkPolicy in the agent: label selectors, identities, and compilation of
 * policies into isolation, allow entries, ipBlock prefixes and the IP cache,
 * from trimmed API objects. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_intern.h"
#include "kube_fixture.h"
#include "kube_objects.h"
#include "kube_store.h"
#include "pol.h"
#include "unit.h"

#define EP_XA 7 /* x/a, local */
#define EP_XB 8 /* x/b, local */
#define EP_XC 9 /* x/c, local in test_incremental */
#define EP_XD 10

struct world {
	struct kube_store pods, nss, pols, nodes;
	struct pol_ids ids;
	struct pol_state st;  /* compiled last; every change marks what it affects */
	struct pol_ep eps[4]; /* the local endpoints, sorted by ip */
	size_t n_eps;
};

static void world_changed(void *ctx, enum kube_op op, const struct kube_obj *old,
			  const struct kube_obj *cur)
{
	struct world *w = ctx;

	pol_affect(&w->st, &w->nss, old, cur);
}

#define NS(n, extra)                                                                               \
	"{\"metadata\":{\"name\":\"" n "\",\"labels\":{\"kubernetes.io/metadata.name\":\"" n       \
	"\",\"ns\":\"" n "\"" extra "}}}"
#define POD(ns, name, ip, node, host)                                                              \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns                                 \
	"\",\"labels\":{\"pod\":\"" name "\"}},\"spec\":{\"nodeName\":\"" node                     \
	"\",\"hostNetwork\":" host                                                                 \
	",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"serve-80-tcp\","                  \
	"\"containerPort\":80},{\"name\":\"serve-81-udp\",\"containerPort\":81,\"protocol\":"      \
	"\"UDP\"}]}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"" ip "\"}}"

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	kube_store_init(&w->pods, KUBE_POD, world_changed, w);
	kube_store_init(&w->nss, KUBE_NAMESPACE, world_changed, w);
	kube_store_init(&w->pols, KUBE_NETPOL, world_changed, w);
	kube_store_init(&w->nodes, KUBE_NODE, world_changed, w);
	w->eps[0] = (struct pol_ep){.ip = inet_addr("10.244.1.10"), .ep_id = EP_XA};
	w->eps[1] = (struct pol_ep){.ip = inet_addr("10.244.1.11"), .ep_id = EP_XB};
	w->n_eps = 2;
	pol_ids_init(&w->ids, SL_ID_FIRST);
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("x", ""));
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("y", ",\"team\":\"blue\""));
	fixture_put(&w->pods, KUBE_POD, POD("x", "a", "10.244.1.10", "n1", "false"));
	fixture_put(&w->pods, KUBE_POD, POD("x", "b", "10.244.1.11", "n1", "false"));
	fixture_put(&w->pods, KUBE_POD, POD("y", "a", "10.244.2.10", "n2", "false"));
	fixture_put(&w->pods, KUBE_POD, POD("y", "h", "172.18.0.3", "n2", "true"));
	fixture_put(
	    &w->nodes, KUBE_NODE,
	    "{\"metadata\":{\"name\":\"n1\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
	    "\"address\":\"172.18.0.2\"}]}}");
}

static void world_fini(struct world *w)
{
	pol_state_free(&w->st);
	pol_ids_fini(&w->ids);
	kube_store_fini(&w->pods);
	kube_store_fini(&w->nss);
	kube_store_fini(&w->pols);
	kube_store_fini(&w->nodes);
}

/* Whether the incremental compile (a) equals the whole one (b). */
static void state_check(const struct pol_state *a, const struct pol_state *b)
{
	CHECK_INT(a->active, b->active);
	CHECK_INT(a->n_eps, b->n_eps);
	for (size_t i = 0; i < a->n_eps && a->n_eps == b->n_eps; i++) {
		CHECK_INT(a->eps[i].identity, b->eps[i].identity);
		CHECK_INT(a->eps[i].flags, b->eps[i].flags);
		CHECK_INT(a->eps[i].n_entries, b->eps[i].n_entries);
		CHECK_INT(a->eps[i].n_pols, b->eps[i].n_pols);
		CHECK(a->eps[i].pod == b->eps[i].pod);
	}
	CHECK_INT(a->n_pol, b->n_pol);
	CHECK(a->n_pol != b->n_pol || !a->n_pol ||
	      !memcmp(a->pol, b->pol, a->n_pol * sizeof(*a->pol)));
	CHECK_INT(a->n_cidr, b->n_cidr);
	CHECK(a->n_cidr != b->n_cidr || !a->n_cidr ||
	      !memcmp(a->cidr, b->cidr, a->n_cidr * sizeof(*a->cidr)));
	CHECK_INT(a->n_ipc, b->n_ipc);
	CHECK(a->n_ipc != b->n_ipc || !a->n_ipc ||
	      !memcmp(a->ipc, b->ipc, a->n_ipc * sizeof(*a->ipc)));
}

/* Compiles w, reusing the endpoints no change since the last compile
 * affected, and checks the result against compiling everything; with
 * hints, the IP cache of an earlier compile (a restart: nothing reused). */
static void compile_hinted(struct world *w, const struct pol_ipc *hints, size_t n_hints)
{
	struct pol_input in = {
	    &w->pods, &w->nss, &w->pols, &w->nodes, "n1", w->eps, w->n_eps, hints, n_hints,
	};
	struct pol_state next, whole;

	in.prev = hints ? NULL : &w->st;
	CHECK_INT(pol_compile(&w->ids, &in, &next), 0);
	in.prev = NULL;
	CHECK_INT(pol_compile(&w->ids, &in, &whole), 0);
	state_check(&next, &whole);
	pol_state_free(&whole);
	pol_state_free(&w->st);
	w->st = next;
}

static void compile(struct world *w)
{
	compile_hinted(w, NULL, 0);
}

static __u32 ident_of(const struct world *w, const char *ip)
{
	for (size_t i = 0; i < w->st.n_ipc; i++)
		if (w->st.ipc[i].ip == inet_addr(ip))
			return w->st.ipc[i].id;
	return 0;
}

static const struct pol_ep *ep(const struct world *w, __u32 id)
{
	for (size_t i = 0; i < w->st.n_eps; i++)
		if (w->st.eps[i].ep_id == id)
			return &w->st.eps[i];
	return NULL;
}

static bool has(const struct world *w, __u32 ep_id, __u8 dir, __u32 peer, __u8 proto, __u16 port)
{
	struct sl_pol_key k = {
	    .ep_id = ep_id, .peer = peer, .dport = htons(port), .proto = proto, .dir = dir};

	return w->st.n_pol && bsearch(&k, w->st.pol, w->st.n_pol, sizeof(k), pol_key_cmp) != NULL;
}

/* Entries of ep_id in dir. */
static size_t count(const struct world *w, __u32 ep_id, __u8 dir)
{
	size_t n = 0;

	for (size_t i = 0; i < w->st.n_pol; i++)
		n += w->st.pol[i].ep_id == ep_id && w->st.pol[i].dir == dir;
	return n;
}

#define NP(name, spec)                                                                             \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"x\"},\"spec\":" spec "}"

static void test_selectors(void)
{
	struct kube_label l[2] = {{intern_get("app"), intern_get("web")},
				  {intern_get("tier"), intern_get("fe")}};
	static const struct {
		const char *name, *sel;
		bool want;
	} cases[] = {
	    {"empty selector matches everything", "{}", true},
	    {"matchLabels equal", "{\"matchLabels\":{\"app\":\"web\"}}", true},
	    {"matchLabels differ", "{\"matchLabels\":{\"app\":\"db\"}}", false},
	    {"matchLabels and expressions are ANDed",
	     "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
	     "\"operator\":\"In\",\"values\":[\"be\"]}]}",
	     false},
	    {"In",
	     "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"x\","
	     "\"fe\"]}]}",
	     true},
	    {"NotIn is true when the key is absent",
	     "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]"
	     "}",
	     true},
	    {"NotIn false on a listed value",
	     "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\",\"values\":[\"web\"]}]"
	     "}",
	     false},
	    {"Exists", "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}", true},
	    {"DoesNotExist",
	     "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"DoesNotExist\"}]}", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[512], why[KUBE_WHY_MAX] = "";
		struct kube_obj *o;

		UNIT_CASE(cases[i].name);
		snprintf(json, sizeof(json), NP("s", "{\"podSelector\":%s}"), cases[i].sel);
		o = kube_obj_parse(KUBE_NETPOL, json, strlen(json), NULL, NULL, why, sizeof(why));
		CHECK(o != NULL);
		if (!o)
			continue;
		CHECK(o->u.np.sel_ok && !o->u.np.error);
		CHECK_INT(pol_sel_match(&o->u.np.pod_sel, l, 2), cases[i].want);
		kube_obj_free(o);
	}
	UNIT_CASE("an absent selector matches nothing");
	CHECK(!pol_sel_match(&(struct kube_selector){0}, l, 2));
	for (int i = 0; i < 2; i++) {
		intern_put(l[i].key);
		intern_put(l[i].value);
	}
}

static void test_identities(void)
{
	struct world w;

	world_init(&w);
	compile(&w);
	UNIT_CASE("one identity per (namespace, labels): same labels in two namespaces differ");
	CHECK(ident_of(&w, "10.244.1.10") >= SL_ID_FIRST);
	CHECK(ident_of(&w, "10.244.1.10") != ident_of(&w, "10.244.2.10"));
	CHECK(ident_of(&w, "10.244.1.10") != ident_of(&w, "10.244.1.11"));
	CHECK_INT(w.ids.count, 3);
	UNIT_CASE("hostNetwork pods are the node: not in the IP cache; this node's IP is HOST");
	CHECK_INT(ident_of(&w, "172.18.0.3"), 0);
	CHECK_INT(ident_of(&w, "172.18.0.2"), SL_ID_HOST);
	CHECK_INT(w.st.n_ipc, 4);
	UNIT_CASE("without policies nothing is isolated and nothing is allowed explicitly");
	CHECK(!w.st.active);
	CHECK_INT(ep(&w, EP_XA)->flags, 0);
	CHECK_INT(ep(&w, EP_XA)->identity, ident_of(&w, "10.244.1.10"));
	CHECK_INT(w.st.n_pol, 0);
	UNIT_CASE("identities stay stable across compiles; unused ones are freed");
	{
		__u32 ya = ident_of(&w, "10.244.2.10"), xa = ident_of(&w, "10.244.1.10");

		CHECK_INT(kube_store_delete(&w.pods, "y", "a"), 0);
		compile(&w);
		CHECK_INT(w.ids.count, 2);
		CHECK_INT(ident_of(&w, "10.244.1.10"), xa);
		fixture_put(&w.pods, KUBE_POD, POD("y", "a", "10.244.2.10", "n2", "false"));
		compile(&w);
		CHECK(ident_of(&w, "10.244.2.10") != ya); /* a new number, never reused */
	}
	UNIT_CASE("a restarted agent keeps each pod's number from the IP cache it finds");
	{
		size_t n = w.st.n_ipc;
		struct pol_ipc *old = malloc(n * sizeof(*old));
		__u32 xa = ident_of(&w, "10.244.1.10"), xb = ident_of(&w, "10.244.1.11");

		memcpy(old, w.st.ipc, n * sizeof(*old));
		pol_ids_fini(&w.ids);
		pol_ids_init(&w.ids, SL_ID_FIRST);
		compile_hinted(&w, old, n);
		CHECK_INT(ident_of(&w, "10.244.1.10"), xa);
		CHECK_INT(ident_of(&w, "10.244.1.11"), xb);
		UNIT_CASE(
		    "a number claimed by a label set already keeps it; the other gets a new one");
		old[0].id = old[1].id; /* both pods of x claim one number */
		pol_ids_fini(&w.ids);
		pol_ids_init(&w.ids, SL_ID_FIRST);
		compile_hinted(&w, old, n);
		CHECK(ident_of(&w, "10.244.1.10") != ident_of(&w, "10.244.1.11"));
		CHECK(ident_of(&w, "10.244.1.10") == old[1].id ||
		      ident_of(&w, "10.244.1.11") == old[1].id);
		free(old);
	}
	world_fini(&w);
}

/* Puts a NetworkPolicy (a new one, or one by the same name replaced) and
 * compiles. */
static void policy_put(struct world *w, const char *json)
{
	fixture_put(&w->pols, KUBE_NETPOL, json);
	compile(w);
}

/* The identities of x/a, x/b and y/a, as the first compile gave them. */
struct peers {
	__u32 xa, xb, ya;
};

/* Policies deny, then p (replaced in each case) on top of it. */
static void test_pod_peers(struct world *w, const struct peers *p)
{
	UNIT_CASE("default-deny-ingress isolates every pod of its namespace, allows nothing");
	policy_put(w, NP("deny", "{\"podSelector\":{}}"));
	CHECK(w->st.active);
	CHECK_INT(ep(w, EP_XA)->flags, SL_EP_F_ISO_IN);
	CHECK_INT(ep(w, EP_XB)->flags, SL_EP_F_ISO_IN);
	CHECK_INT(w->st.n_pol, 0);
	CHECK_INT(ep(w, EP_XA)->n_pols, 1);

	UNIT_CASE("podSelector peer: pods of the policy's namespace only, on the port given");
	policy_put(w, NP("p", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{"
			      "\"from\":[{\"podSelector\":{}}],\"ports\":[{\"port\":80}]}]}"));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, p->xa, IPPROTO_TCP, 80));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, p->xb, IPPROTO_TCP, 80));
	CHECK(!has(w, EP_XA, SL_POL_DIR_IN, p->ya, IPPROTO_TCP, 80));
	CHECK_INT(count(w, EP_XA, SL_POL_DIR_IN), 2);
	CHECK_INT(count(w, EP_XB, SL_POL_DIR_IN), 0);

	UNIT_CASE("namespaceSelector by the default name label, with a podSelector: ANDed");
	policy_put(w, NP("p", "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":{"
			      "\"matchLabels\":{\"kubernetes.io/metadata.name\":\"y\"}},"
			      "\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}}}]}]}"));
	CHECK(has(w, EP_XB, SL_POL_DIR_IN, p->ya, IPPROTO_TCP, 0));
	CHECK(has(w, EP_XB, SL_POL_DIR_IN, p->ya, IPPROTO_UDP, 0));
	CHECK(has(w, EP_XB, SL_POL_DIR_IN, p->ya, IPPROTO_SCTP, 0));
	CHECK_INT(count(w, EP_XB, SL_POL_DIR_IN), 3);
}

/* Named ports and ranges; p replaced in each case, deny still there. */
static void test_ports(struct world *w, const struct peers *p)
{
	UNIT_CASE("named ingress port resolves on the destination pod with its protocol");
	policy_put(w, NP("p", "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":\"serve-80-"
			      "tcp\"},{\"port\":\"serve-81-udp\",\"protocol\":\"UDP\"},{\"port\":"
			      "\"serve-80-tcp\",\"protocol\":\"SCTP\"}]}]}"));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_TCP, 80));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_UDP, 81));
	CHECK_INT(count(w, EP_XA, SL_POL_DIR_IN), 2); /* SCTP names no port: nothing */

	UNIT_CASE("endPort opens the inclusive range, protocol SCTP never TCP");
	policy_put(w, NP("p", "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":80,"
			      "\"endPort\":82,\"protocol\":\"SCTP\"}]}]}"));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_SCTP, 80));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_SCTP, 82));
	CHECK(!has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_TCP, 80));
	CHECK_INT(count(w, EP_XA, SL_POL_DIR_IN), 3);
	UNIT_CASE("endPort over every port is one entry");
	policy_put(w, NP("p", "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":1,"
			      "\"endPort\":65535}]}]}"));
	CHECK(has(w, EP_XA, SL_POL_DIR_IN, SL_ID_ANY, IPPROTO_TCP, 0));
	CHECK_INT(count(w, EP_XA, SL_POL_DIR_IN), 1);

	UNIT_CASE("egress named port without peers: per destination pod, under its identity");
	policy_put(w, NP("e", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"egress\":[{"
			      "\"ports\":[{\"port\":\"serve-80-tcp\"}]}]}"));
	CHECK_INT(ep(w, EP_XB)->flags, SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT); /* types defaulted */
	CHECK(has(w, EP_XB, SL_POL_DIR_OUT, p->ya, IPPROTO_TCP, 80));
	CHECK(has(w, EP_XB, SL_POL_DIR_OUT, p->xa, IPPROTO_TCP, 80));
	CHECK(!has(w, EP_XB, SL_POL_DIR_OUT, SL_ID_ANY, IPPROTO_TCP, 80));
}

static void test_peers_and_ports(void)
{
	struct peers p;
	struct world w;

	world_init(&w);
	compile(&w);
	p = (struct peers){.xa = ident_of(&w, "10.244.1.10"),
			   .xb = ident_of(&w, "10.244.1.11"),
			   .ya = ident_of(&w, "10.244.2.10")};
	test_pod_peers(&w, &p);
	test_ports(&w, &p);
	world_fini(&w);
}

/* Policy b, egress of every pod of x to one ipBlock. */
static void test_ipblock(struct world *w)
{
	size_t n_cidr = 0;

	UNIT_CASE("ipBlock: cidr and except each a prefix; only the cidr's set allows");
	policy_put(
	    w, NP("b", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"],\"egress\":[{"
		       "\"to\":[{\"ipBlock\":{\"cidr\":\"10.244.0.0/16\",\"except\":["
		       "\"10.244.2.0/24\"]}}],\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}]}"));
	CHECK_INT(ep(w, EP_XA)->flags, SL_EP_F_ISO_OUT);
	for (size_t i = 0; i < w->st.n_cidr; i++) {
		const struct pol_cidr *c = &w->st.cidr[i];

		if (c->key.ep_id != EP_XA)
			continue;
		n_cidr++;
		CHECK_INT(c->key.dir, SL_POL_DIR_OUT);
		if (c->key.prefixlen == 64 + 16) {
			CHECK_INT(c->key.ip, inet_addr("10.244.0.0"));
			CHECK(has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_UDP, 53));
		} else {
			CHECK_INT(c->key.prefixlen, 64 + 24);
			CHECK(!has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_UDP, 53));
		}
	}
	CHECK_INT(n_cidr, 2);
}

/* Policy b replaced: the block now holds y/a, its except x/a and x/b. */
static void test_ipblock_named_ports(struct world *w)
{
	size_t n_cidr = 0;

	UNIT_CASE(
	    "egress named port to an ipBlock: resolved on each pod the block holds, as a /32");
	policy_put(w,
		   NP("b", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"],\"egress\":[{"
			   "\"to\":[{\"ipBlock\":{\"cidr\":\"10.244.0.0/16\",\"except\":["
			   "\"10.244.1.0/24\"]}}],\"ports\":[{\"port\":\"serve-80-tcp\"},{\"port\":"
			   "\"serve-81-udp\",\"protocol\":\"UDP\"},{\"port\":\"serve-80-tcp\","
			   "\"protocol\":\"SCTP\"},{\"port\":53,\"protocol\":\"UDP\"}]}]}"));
	for (size_t i = 0; i < w->st.n_cidr; i++) {
		const struct pol_cidr *c = &w->st.cidr[i];

		if (c->key.ep_id != EP_XA)
			continue;
		n_cidr++;
		if (c->key.prefixlen == 64 + 32) { /* y/a, the one pod in the block */
			CHECK_INT(c->key.ip, inet_addr("10.244.2.10"));
			CHECK(has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_TCP, 80));
			CHECK(has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_UDP, 81));
			CHECK(has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_UDP, 53));
			CHECK(!has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_SCTP, 80));
		} else if (c->key.prefixlen == 64 + 16) { /* other addresses: no name resolves */
			CHECK(has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_UDP, 53));
			CHECK(!has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_TCP, 80));
		} else { /* the except, where x/a and x/b live */
			CHECK_INT(c->key.prefixlen, 64 + 24);
			CHECK(!has(w, EP_XA, SL_POL_DIR_OUT, c->set_id, IPPROTO_TCP, 80));
		}
	}
	CHECK_INT(n_cidr, 3);
	CHECK_INT(count(w, EP_XA, SL_POL_DIR_OUT), 4);
}

/* Policy b replaced by ones that cannot be compiled, then x/a's Pod deleted. */
static void test_fail_closed(struct world *w)
{
	UNIT_CASE(
	    "a policy with an except outside its cidr isolates in its directions, allows nothing");
	policy_put(w, NP("b", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\"],\"ingress\":[{"
			      "\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":["
			      "\"192.168.0.0/16\"]}}]}]}"));
	CHECK(kube_store_get(&w->pols, "x", "b")->u.np.error != NULL);
	CHECK_INT(ep(w, EP_XA)->flags, SL_EP_F_ISO_IN);
	CHECK_INT(w->st.n_pol, 0);
	CHECK_INT(w->st.n_cidr, 0);

	UNIT_CASE("an unknown protocol or a bad CIDR fails closed the same way");
	policy_put(w, NP("b", "{\"podSelector\":{},\"egress\":[{\"ports\":[{\"protocol\":"
			      "\"ICMP\"}]}]}"));
	CHECK_INT(ep(w, EP_XA)->flags, SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT);
	CHECK_INT(w->st.n_pol, 0);
	policy_put(w, NP("b", "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
			      "\"10.0.0.0/33\"}}]}]}"));
	CHECK_INT(ep(w, EP_XA)->flags, SL_EP_F_ISO_IN);
	CHECK_INT(w->st.n_pol, 0);
	UNIT_CASE("an endpoint without a Pod stays pending");
	CHECK_INT(kube_store_delete(&w->pods, "x", "a"), 0);
	compile(w);
	CHECK_INT(ep(w, EP_XA)->identity, SL_ID_PENDING);
	CHECK_INT(ep(w, EP_XA)->flags, 0);
}

static void test_ipblock_and_errors(void)
{
	struct world w;

	world_init(&w);
	test_ipblock(&w);
	test_ipblock_named_ports(&w);
	test_fail_closed(&w);
	world_fini(&w);
}

/* A local pod of x on n1 with labels {"pod": name, ...extra}. */
#define XPOD(name, ip, extra)                                                                      \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"x\",\"labels\":{\"pod\":\"" name     \
	"\"" extra "}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]},"          \
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"" ip "\"}}"

/* Whether the endpoints (x/a, x/b, x/c, x/d) were compiled as often as want. */
static void compiles_check(const struct world *w, const unsigned long want[4])
{
	static const __u32 ids[4] = {EP_XA, EP_XB, EP_XC, EP_XD};

	for (int i = 0; i < 4; i++) {
		const struct pol_ep *e = ep(w, ids[i]);

		CHECK_INT(e ? e->compiles : 0, want[i]);
	}
}

/* Compiles and checks how often each endpoint (x/a, x/b, x/c, x/d) has been
 * compiled by now. */
static void compile_counted(struct world *w, const unsigned long want[4])
{
	compile(w);
	compiles_check(w, want);
}

/* Four local pods of x: a admits c; b admits namespaces of team blue; c
 * sends to x on 80; d: no policy. */
static void incremental_world_init(struct world *w)
{
	world_init(w);
	fixture_put(&w->pods, KUBE_POD, XPOD("c", "10.244.1.12", ""));
	fixture_put(&w->pods, KUBE_POD, XPOD("d", "10.244.1.13", ""));
	w->eps[2] = (struct pol_ep){.ip = inet_addr("10.244.1.12"), .ep_id = EP_XC};
	w->eps[3] = (struct pol_ep){.ip = inet_addr("10.244.1.13"), .ep_id = EP_XD};
	w->n_eps = 4;
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pa", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{"
			     "\"from\":[{\"podSelector\":{\"matchLabels\":{\"pod\":\"c\"}}}]}]}"));
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pb",
		       "{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{"
		       "\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"blue\"}}}"
		       "]}]}"));
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pc", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"c\"}},\"policyTypes\":["
			     "\"Egress\"],\"egress\":[{\"to\":[{\"podSelector\":{}}],\"ports\":[{"
			     "\"port\":80}]}]}"));
}

/* The first compiles, then changes from outside the node: a remote pod,
 * a namespace. */
static void test_incremental_remote(struct world *w)
{
	UNIT_CASE("the first compile computes every endpoint once");
	compile_counted(w, (unsigned long[]){1, 1, 1, 1});
	CHECK_INT(w->st.compiled, 4);
	UNIT_CASE("nothing changed: nothing compiled again");
	compile_counted(w, (unsigned long[]){1, 1, 1, 1});
	CHECK_INT(w->st.compiled, 0);
	UNIT_CASE("a remote pod's label change compiles the endpoints whose peers select it");
	fixture_put(&w->pods, KUBE_POD, POD("y", "a", "10.244.2.10", "n2", "false"));
	/* the same object again: no endpoint reads anything new */
	compile_counted(w, (unsigned long[]){1, 1, 1, 1});
	fixture_put(
	    &w->pods, KUBE_POD,
	    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"y\",\"labels\":{\"pod\":\"a\","
	    "\"v\":\"2\"}},\"spec\":{\"nodeName\":\"n2\",\"containers\":[{\"name\":\"c\"}]},"
	    "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.2.10\"}}");
	compile_counted(w, (unsigned long[]){1, 2, 1, 1});
	UNIT_CASE(
	    "a namespace label change compiles the endpoints whose namespaceSelector it moves");
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("y", ",\"team\":\"red\""));
	compile_counted(w, (unsigned long[]){1, 3, 1, 1});
	CHECK_INT(count(w, EP_XB, SL_POL_DIR_IN), 0);
}

/* Policies, a local pod's labels and the Node change. */
static void test_incremental_local(struct world *w)
{
	UNIT_CASE("a policy change compiles the endpoints it selected and selects");
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pa", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{"
			     "\"from\":[{\"podSelector\":{\"matchLabels\":{\"pod\":\"d\"}}}]}]}"));
	compile_counted(w, (unsigned long[]){2, 3, 1, 1});
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pd", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"d\"}}}"));
	compile_counted(w, (unsigned long[]){2, 3, 1, 2});
	CHECK_INT(ep(w, EP_XD)->flags, SL_EP_F_ISO_IN);
	UNIT_CASE("a local pod's label change compiles it and the endpoints whose peers select it");
	fixture_put(&w->pods, KUBE_POD, XPOD("d", "10.244.1.13", ",\"v\":\"2\""));
	/* a admits d, c sends to every pod of x, d is itself */
	compile_counted(w, (unsigned long[]){3, 3, 2, 3});
	UNIT_CASE("a Node change compiles no endpoint");
	fixture_put(&w->nodes, KUBE_NODE,
		    "{\"metadata\":{\"name\":\"n1\"},\"status\":{\"addresses\":[{\"type\":"
		    "\"InternalIP\",\"address\":\"172.18.0.9\"}]}}");
	compile_counted(w, (unsigned long[]){3, 3, 2, 3});
	CHECK_INT(ident_of(w, "172.18.0.9"), SL_ID_HOST);
	UNIT_CASE("a deleted policy compiles the endpoints it selected");
	CHECK_INT(kube_store_delete(&w->pols, "x", "pd"), 0);
	compile_counted(w, (unsigned long[]){3, 3, 2, 4});
	CHECK_INT(ep(w, EP_XD)->flags, 0);
}

/* Objects deleted and created: a local Pod, a Namespace. */
static void test_incremental_recreate(struct world *w)
{
	UNIT_CASE("a local pod deleted and created again: its endpoint goes pending and back");
	CHECK_INT(kube_store_delete(&w->pods, "x", "c"), 0);
	/* c only: no other endpoint's peers select it any more */
	compile_counted(w, (unsigned long[]){3, 3, 3, 4});
	CHECK_INT(ep(w, EP_XC)->identity, SL_ID_PENDING);
	fixture_put(&w->pods, KUBE_POD, XPOD("c", "10.244.1.12", ""));
	compile_counted(w, (unsigned long[]){3, 3, 4, 4});
	CHECK(ep(w, EP_XC)->identity >= SL_ID_FIRST);
	CHECK_INT(count(w, EP_XC, SL_POL_DIR_OUT), 4); /* to every pod of x on 80 */
	UNIT_CASE("a Namespace created: endpoints whose namespaceSelector selects its absence too");
	fixture_put(&w->pols, KUBE_NETPOL,
		    NP("pb", "{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{"
			     "\"from\":[{\"namespaceSelector\":{\"matchExpressions\":[{\"key\":"
			     "\"team\",\"operator\":\"DoesNotExist\"}]}}]}]}"));
	fixture_put(&w->pods, KUBE_POD, POD("z", "a", "10.244.2.20", "n2", "false"));
	/* the policy, then a pod of z (no Namespace yet: no labels) */
	compile_counted(w, (unsigned long[]){3, 4, 4, 4});
	fixture_put(&w->nss, KUBE_NAMESPACE, NS("z", ",\"team\":\"green\""));
	compile_counted(w, (unsigned long[]){3, 5, 4, 4}); /* z/a is no longer admitted */
	CHECK_INT(count(w, EP_XB, SL_POL_DIR_IN), 4 * 3);  /* the pods of x only */
	CHECK_INT(kube_store_delete(&w->nss, "", "z"), 0);
	compile_counted(w, (unsigned long[]){3, 6, 4, 4});
	CHECK_INT(count(w, EP_XB, SL_POL_DIR_IN), 5 * 3); /* and z/a again */
}

/* One world through every kind of change: each chapter's counts go on from
 * the one before. */
static void test_incremental(void)
{
	struct world w;

	incremental_world_init(&w);
	test_incremental_remote(&w);
	test_incremental_local(&w);
	test_incremental_recreate(&w);
	world_fini(&w);
}

int main(void)
{
	size_t before = intern_count();

	test_selectors();
	test_identities();
	test_peers_and_ports();
	test_ipblock_and_errors();
	test_incremental();
	UNIT_CASE("every interned string is released");
	CHECK_INT(intern_count(), before);
	return unit_done();
}
